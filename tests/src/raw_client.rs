//! A signaling client of the test's own, on a raw WebSocket: for tests that must say to a
//! server (or to the man in the middle) what no app would, and read every reply.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long [`RawClient::next_of`] waits for a message.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// A raw signaling client. It panics on what a test cannot go on after: a socket that
/// does not open or ends, a reply that does not come.
pub struct RawClient(WebSocketStream<MaybeTlsStream<TcpStream>>);

impl RawClient {
    /// Connects to the WebSocket at `url` and joins `room` as `name`, with a session key
    /// made of `key`.
    pub async fn join(url: &str, room: &str, name: &str, key: u8) -> RawClient {
        let (socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("the WebSocket opens");
        let mut client = RawClient(socket);
        let join = json!({
            "type": "join", "version": 3, "room": room, "name": name,
            "session_key": format!("{key:02x}").repeat(16),
        });
        client.send(&join.to_string()).await;
        client
    }

    pub async fn send(&mut self, text: &str) {
        self.0.send(Message::text(text)).await.expect("sent");
    }

    /// The next message of `kind` (its `type`), skipping others.
    pub async fn next_of(&mut self, kind: &str) -> Value {
        let waiting = async {
            loop {
                match self.0.next().await {
                    Some(Ok(Message::Text(text))) => {
                        let message: Value = serde_json::from_str(&text).expect("JSON");
                        if message["type"] == kind {
                            return message;
                        }
                    }
                    Some(Ok(_)) => {}
                    other => panic!("the WebSocket ended waiting for {kind}: {other:?}"),
                }
            }
        };
        tokio::time::timeout(REPLY_TIMEOUT, waiting)
            .await
            .unwrap_or_else(|_| panic!("no {kind} within {REPLY_TIMEOUT:?}"))
    }
}
