//! A real server on a real socket, and a WebSocket client that speaks the protocol,
//! shared by the integration tests.

#![allow(dead_code)] // Each test binary uses its own share of these helpers.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use meshdrop_protocol::signaling::{
    ErrorCode, IceServer, PeerInfo, ServerMessage, Signal, SignalObject,
};
use meshdrop_protocol::PeerId;
use meshdrop_signaling_server::{
    serve, serve_with_relay, serve_with_stun, Config, Relay, RelayConfig, RelayTls, Tls,
};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

pub mod process;
pub mod redis;

/// Longest wait for something that should happen.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// How long to listen to be sure something does not happen.
pub const QUIET: Duration = Duration::from_millis(300);

pub struct TestServer {
    pub addr: SocketAddr,
    /// Where the built-in STUN server listens, if it runs.
    pub stun: Option<SocketAddr>,
    /// Where the built-in TURN relay listens, if it runs.
    pub relay: Option<SocketAddr>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl TestServer {
    pub async fn start(config: Config) -> Self {
        Self::spawn(config, None).await
    }

    /// A server with its STUN responder on `stun_ip`, any free port.
    pub async fn start_with_stun(config: Config, stun_ip: &str) -> Self {
        Self::spawn(config, Some(UdpSocket::bind((stun_ip, 0)).await.unwrap())).await
    }

    /// A server with the built-in TURN relay listening on `relay.relay_ip`, any free
    /// port, over UDP and TCP (and TLS on another port, with `tls`), and no STUN socket
    /// of its own (the relay answers STUN).
    pub async fn start_with_relay(config: Config, relay: RelayConfig, tls: Option<Tls>) -> Self {
        let socket = UdpSocket::bind((relay.relay_ip, 0)).await.unwrap();
        let tcp = TcpListener::bind(socket.local_addr().unwrap())
            .await
            .unwrap();
        let tls = match tls {
            Some(tls) => Some(RelayTls {
                listener: TcpListener::bind((relay.relay_ip, 0)).await.unwrap(),
                tls,
            }),
            None => None,
        };
        let relay = Relay {
            socket,
            tcp: Some(tcp),
            tls,
            config: relay,
        };
        Self::spawn_with(config, None, Some(relay)).await
    }

    async fn spawn(config: Config, stun: Option<UdpSocket>) -> Self {
        Self::spawn_with(config, stun, None).await
    }

    async fn spawn_with(config: Config, stun: Option<UdpSocket>, relay: Option<Relay>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stun_addr = stun.as_ref().map(|socket| socket.local_addr().unwrap());
        let relay_addr = relay
            .as_ref()
            .map(|relay| relay.socket.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async {
            let _ = stopped.await;
        };
        let task = match (stun, relay) {
            (stun, Some(relay)) => {
                tokio::spawn(serve_with_relay(listener, stun, relay, config, shutdown))
            }
            (Some(stun), None) => tokio::spawn(serve_with_stun(listener, stun, config, shutdown)),
            (None, None) => tokio::spawn(serve(listener, config, shutdown)),
        };
        Self {
            addr,
            stun: stun_addr,
            relay: relay_addr,
            stop: Some(stop),
            task,
        }
    }

    pub async fn with_defaults() -> Self {
        Self::start(Config::default()).await
    }

    /// Ask the server to stop and wait until `serve` has returned.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(PATIENCE, &mut self.task)
            .await
            .expect("serve returns promptly after shutdown")
            .unwrap()
            .unwrap();
    }

    pub async fn connect(&self) -> Client {
        Client::connect(self.addr).await
    }

    /// Connect and join `room` with the session key made from `seed`.
    pub async fn join(&self, room: &str, name: &str, seed: char) -> Joined {
        join(self.addr, room, name, seed).await
    }
}

/// Connect to the server at `addr` and join `room` with the session key made from `seed`.
pub async fn join(addr: SocketAddr, room: &str, name: &str, seed: char) -> Joined {
    let mut client = Client::connect(addr).await;
    client.send_join(room, name, seed).await;
    match client.recv().await {
        ServerMessage::Welcome {
            peer_id,
            peers,
            ice_servers,
            ..
        } => Joined {
            client,
            id: peer_id,
            peers,
            ice_servers,
        },
        other => panic!("expected welcome, got {other:?}"),
    }
}

/// An HTTP response as the tests look at it.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    /// Header lines as sent, names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(header, _)| header == name)
            .map(|(_, value)| value.as_str())
    }
}

/// A plain HTTP/1.1 GET with extra header lines (like `"Origin: x"`).
pub async fn http_get(addr: SocketAddr, path: &str, headers: &[&str]) -> HttpResponse {
    http_get_over(TcpStream::connect(addr).await.unwrap(), path, headers).await
}

/// [`http_get`] over a stream already connected, such as a TLS session.
pub async fn http_get_over(
    mut stream: impl AsyncRead + AsyncWrite + Unpin,
    path: &str,
    headers: &[&str],
) -> HttpResponse {
    let extra: String = headers.iter().map(|line| format!("{line}\r\n")).collect();
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n{extra}\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(PATIENCE, stream.read_to_string(&mut response))
        .await
        .unwrap()
        .unwrap();
    parse_http_response(&response)
}

pub fn parse_http_response(response: &str) -> HttpResponse {
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|line| line.split_once(": "))
        .map(|(name, value)| (name.to_ascii_lowercase(), value.to_owned()))
        .collect();
    HttpResponse {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// A self-signed certificate for `localhost`, written as PEM files.
pub struct Certificate {
    dir: tempfile::TempDir,
    der: CertificateDer<'static>,
}

impl Certificate {
    pub fn generate() -> Self {
        let generated = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cert.pem"), generated.cert.pem()).unwrap();
        let key = generated.signing_key.serialize_pem();
        std::fs::write(dir.path().join("key.pem"), key).unwrap();
        Self {
            der: generated.cert.der().clone(),
            dir,
        }
    }

    pub fn cert(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    pub fn key(&self) -> PathBuf {
        self.dir.path().join("key.pem")
    }

    pub fn tls(&self) -> Tls {
        Tls::from_pem_files(&self.cert(), &self.key()).unwrap()
    }

    /// A TLS connection to `addr` that trusts only this certificate.
    pub async fn connect(&self, addr: SocketAddr) -> TlsStream<TcpStream> {
        let mut roots = RootCertStore::empty();
        roots.add(self.der.clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let tcp = TcpStream::connect(addr).await.unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .unwrap()
    }
}

/// The value of one unlabelled or labelled series in a `/metrics` exposition.
pub fn metric(exposition: &str, series: &str) -> Option<u64> {
    exposition
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| value.parse().unwrap())
}

/// A joined client with what its welcome said.
pub struct Joined {
    pub client: Client,
    pub id: PeerId,
    pub peers: Vec<PeerInfo>,
    pub ice_servers: Vec<IceServer>,
}

/// A valid session key: 32 copies of a hex digit.
pub fn session_key(seed: char) -> String {
    assert!(seed.is_ascii_hexdigit());
    seed.to_string().repeat(32)
}

pub fn offer(sdp: &str) -> SignalObject {
    Signal::Offer { sdp: sdp.into() }.into()
}

pub struct Client {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Self {
        Self::connect_with_headers(addr, &[]).await
    }

    /// [`Client::connect`], with extra `(name, value)` headers on the upgrade request.
    pub async fn connect_with_headers(addr: SocketAddr, headers: &[(&str, &str)]) -> Self {
        let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
        for (name, value) in headers {
            let name = HeaderName::from_bytes(name.as_bytes()).unwrap();
            request
                .headers_mut()
                .append(name, HeaderValue::from_str(value).unwrap());
        }
        let (socket, _) = connect_async(request).await.unwrap();
        Self { socket }
    }

    pub async fn send_text(&mut self, text: impl Into<String>) {
        self.socket.send(Message::text(text.into())).await.unwrap();
    }

    pub async fn send_json(&mut self, value: Value) {
        self.send_text(value.to_string()).await;
    }

    pub async fn send_binary(&mut self, bytes: Vec<u8>) {
        self.socket.send(Message::binary(bytes)).await.unwrap();
    }

    pub async fn send_join(&mut self, room: &str, name: &str, seed: char) {
        self.send_json(json!({
            "type": "join", "version": 3, "room": room, "name": name,
            "session_key": session_key(seed),
        }))
        .await;
    }

    pub async fn send_signal(&mut self, to: &PeerId, signal: &SignalObject) {
        self.send_json(json!({"type": "signal", "to": to, "signal": signal}))
            .await;
    }

    /// Queue many text messages and flush once, to send them as fast as possible.
    /// Stops quietly if the server closes the connection part way.
    pub async fn blast(&mut self, text: &str, count: usize) {
        for _ in 0..count {
            if self.socket.feed(Message::text(text)).await.is_err() {
                return;
            }
        }
        let _ = self.socket.flush().await;
    }

    /// The next protocol message; fails on close, on garbage or after [`PATIENCE`].
    pub async fn recv(&mut self) -> ServerMessage {
        match self.recv_or_close().await {
            Ok(message) => message,
            Err(close) => panic!("expected a message, got close {close:?}"),
        }
    }

    /// The next protocol message, or the code and reason of the server's close frame.
    pub async fn recv_or_close(&mut self) -> Result<ServerMessage, (u16, String)> {
        match self.next_event(PATIENCE).await {
            Some(Event::Text(text)) => Ok(parse(&text)),
            Some(Event::Close(code, reason)) => Err((code, reason)),
            None => panic!("nothing arrived within {PATIENCE:?}"),
        }
    }

    /// The next protocol message if one arrives within `wait`; fails on close.
    pub async fn recv_within(&mut self, wait: Duration) -> Option<ServerMessage> {
        match self.next_event(wait).await? {
            Event::Text(text) => Some(parse(&text)),
            Event::Close(code, reason) => panic!("expected a message, got close {code} {reason}"),
        }
    }

    pub async fn expect_error(&mut self, expected: ErrorCode) {
        match self.recv().await {
            ServerMessage::Error { code, .. } if code == expected => {}
            other => panic!("expected error {expected:?}, got {other:?}"),
        }
    }

    /// Assert that nothing arrives for a while.
    pub async fn expect_silence(&mut self) {
        if let Some(event) = self.next_event(QUIET).await {
            panic!("expected silence, got {event:?}");
        }
    }

    /// The server's close frame; fails if a message arrives first.
    pub async fn expect_close(&mut self) -> (u16, String) {
        match self.recv_or_close().await {
            Err(close) => close,
            Ok(message) => panic!("expected a close frame, got {message:?}"),
        }
    }

    /// After a close: the stream ends.
    pub async fn expect_end(&mut self) {
        let next = tokio::time::timeout(PATIENCE, self.socket.next())
            .await
            .expect("the stream ends within the patience");
        assert!(
            matches!(next, None | Some(Err(_))),
            "expected the end, got {next:?}"
        );
    }

    /// Close cleanly: send a close frame and wait for the server's answer, skipping
    /// whatever the server sent before it saw ours.
    pub async fn close(mut self) {
        self.socket.close(None).await.unwrap();
        loop {
            let next = tokio::time::timeout(PATIENCE, self.socket.next())
                .await
                .expect("the server answers a close frame");
            match next {
                Some(Ok(Message::Close(_))) => return,
                Some(Ok(Message::Text(_))) => {}
                other => panic!("expected the server's close frame, got {other:?}"),
            }
        }
    }

    /// The next text message or close frame within `wait`; fails if the stream ends
    /// or breaks without a close frame.
    async fn next_event(&mut self, wait: Duration) -> Option<Event> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .ok()?;
            match frame {
                Some(Ok(Message::Text(text))) => return Some(Event::Text(text.to_string())),
                Some(Ok(Message::Close(Some(frame)))) => {
                    return Some(Event::Close(
                        u16::from(frame.code),
                        frame.reason.to_string(),
                    ))
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                other => panic!("expected a text message or close frame, got {other:?}"),
            }
        }
    }
}

fn parse(text: &str) -> ServerMessage {
    serde_json::from_str(text).unwrap_or_else(|error| panic!("server sent {text:?}: {error}"))
}

#[derive(Debug)]
enum Event {
    Text(String),
    Close(u16, String),
}

/// `from` sends a signal to `to`, which receives it stamped with `from`'s id.
pub async fn assert_forwarding_works(from: &mut Joined, to: &mut Joined) {
    let signal = offer("v=0 still-forwarding");
    from.client.send_signal(&to.id, &signal).await;
    assert_eq!(
        to.client.recv().await,
        ServerMessage::Signal {
            from: from.id.clone(),
            signal
        }
    );
}
