//! The built-in STUN server over real UDP sockets, checked with a STUN implementation
//! we did not write (`rtc-stun`, the one webrtc-rs uses), and announced in `welcome`.

mod common;

use std::net::SocketAddr;

use common::{http_get, metric, TestServer, PATIENCE, QUIET};
use meshdrop_protocol::signaling::ServerMessage;
use meshdrop_signaling_server::Config;
use rtc_stun::addr::MappedAddress;
use rtc_stun::error_code::ErrorCodeAttribute;
use rtc_stun::fingerprint::FINGERPRINT;
use rtc_stun::message::{
    Getter, Message, Setter, TransactionId, BINDING_ERROR, BINDING_REQUEST, BINDING_SUCCESS,
};
use rtc_stun::xoraddr::XorMappedAddress;
use tokio::net::UdpSocket;

/// A UDP socket on `ip` that talks to the server's STUN port.
async fn stun_client(server: &TestServer, ip: &str) -> UdpSocket {
    let socket = UdpSocket::bind((ip, 0)).await.unwrap();
    socket.connect(server.stun.unwrap()).await.unwrap();
    socket
}

fn binding_request() -> Message {
    let mut request = Message::new();
    request
        .build(&[Box::new(BINDING_REQUEST), Box::new(TransactionId::new())])
        .unwrap();
    request
}

/// Send `request` and decode the reply with rtc-stun.
async fn exchange(socket: &UdpSocket, request: &Message) -> Message {
    socket.send(&request.raw).await.unwrap();
    let mut buffer = [0u8; 1500];
    let length = tokio::time::timeout(PATIENCE, socket.recv(&mut buffer))
        .await
        .expect("a STUN reply")
        .unwrap();
    let mut reply = Message::new();
    reply.unmarshal_binary(&buffer[..length]).unwrap();
    assert_eq!(reply.transaction_id, request.transaction_id);
    reply
}

fn mapped_addresses(reply: &Message) -> (SocketAddr, SocketAddr) {
    let mut xor = XorMappedAddress::default();
    xor.get_from(reply).unwrap();
    let mut plain = MappedAddress::default();
    plain.get_from(reply).unwrap();
    (
        SocketAddr::new(xor.ip, xor.port),
        SocketAddr::new(plain.ip, plain.port),
    )
}

async fn assert_binding_maps_to_the_client(ip: &str) {
    let server = TestServer::start_with_stun(Config::default(), ip).await;
    let socket = stun_client(&server, ip).await;
    let mut request = binding_request();
    // A comprehension-optional attribute must not get in the way.
    FINGERPRINT.add_to(&mut request).unwrap();
    let reply = exchange(&socket, &request).await;
    assert_eq!(reply.typ, BINDING_SUCCESS);
    let own = socket.local_addr().unwrap();
    assert_eq!(mapped_addresses(&reply), (own, own));
    server.stop().await;
}

#[tokio::test]
async fn a_binding_request_learns_its_ipv4_address() {
    assert_binding_maps_to_the_client("127.0.0.1").await;
}

#[tokio::test]
async fn a_binding_request_learns_its_ipv6_address() {
    assert_binding_maps_to_the_client("::1").await;
}

#[tokio::test]
async fn junk_gets_no_answer_and_the_server_carries_on() {
    let server = TestServer::start_with_stun(Config::default(), "127.0.0.1").await;
    let socket = stun_client(&server, "127.0.0.1").await;
    for junk in [
        &b""[..],
        b"hello",
        &[0xff; 100],
        &binding_request().raw[..19],
    ] {
        socket.send(junk).await.unwrap();
    }
    let mut buffer = [0u8; 1500];
    assert!(
        tokio::time::timeout(QUIET, socket.recv(&mut buffer))
            .await
            .is_err(),
        "junk was answered"
    );
    let reply = exchange(&socket, &binding_request()).await;
    assert_eq!(reply.typ, BINDING_SUCCESS);
    let metrics = http_get(server.addr, "/metrics", &[]).await.body;
    assert_eq!(metric(&metrics, "meshdrop_stun_requests_total"), Some(1));
}

#[tokio::test]
async fn an_unknown_required_attribute_is_refused_with_420() {
    let server = TestServer::start_with_stun(Config::default(), "127.0.0.1").await;
    let socket = stun_client(&server, "127.0.0.1").await;
    let mut request = binding_request();
    // CHANGE-REQUEST (RFC 5780), which this server does not implement.
    request.add(rtc_stun::attributes::AttrType(0x0003), &[0, 0, 0, 6]);
    request.write_length();
    let reply = exchange(&socket, &request).await;
    assert_eq!(reply.typ, BINDING_ERROR);
    let mut error = ErrorCodeAttribute::default();
    error.get_from(&reply).unwrap();
    assert_eq!(error.code.0, 420);
}

#[tokio::test]
async fn welcome_names_the_stun_server_at_the_host_the_client_used() {
    let server = TestServer::start_with_stun(Config::default(), "127.0.0.1").await;
    let mut client = server.connect().await;
    client.send_join("room", "Ann", 'a').await;
    let ServerMessage::Welcome { ice_servers, .. } = client.recv().await else {
        panic!("expected welcome");
    };
    let port = server.stun.unwrap().port();
    assert_eq!(ice_servers.len(), 1);
    assert_eq!(ice_servers[0].urls, [format!("stun:127.0.0.1:{port}")]);
    assert_eq!(ice_servers[0].username, None);
    server.stop().await;
}
