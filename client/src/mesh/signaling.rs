//! The WebSocket to the signaling server, kept open by reconnecting with backoff.
//!
//! The mesh only needs the server to find peers and to exchange SDP and ICE; once the
//! peer connections stand, losing the socket must not hurt them. So this module owns
//! nothing but the socket: it re-dials with jittered exponential backoff, sends the join message
//! (asked afresh from the mesh each time, since the display name may have changed),
//! keeps the connection alive with pings, and hands every server message up.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use gloo_events::EventListener;
use gloo_timers::callback::{Interval, Timeout};
use meshdrop_protocol::signaling::ServerMessage;
use wasm_bindgen::JsCast;
use web_sys::{MessageEvent, WebSocket};

/// First retry delay; doubled after each failed attempt up to [`MAX_BACKOFF_MS`].
const FIRST_BACKOFF_MS: u32 = 500;
/// A restarted server has every page back within about this long. Each page waits a
/// random half to whole of the delay, so a restart is not met by every page at once.
const MAX_BACKOFF_MS: u32 = 2_000;
/// Well inside the server's idle timeout.
const PING_INTERVAL_MS: u32 = 20_000;

/// What the socket tells its owner.
pub enum SignalingEvent {
    /// The socket is open; the owner should send its `join` now.
    Opened,
    Message(ServerMessage),
    /// The socket closed (or never opened); another attempt starts in `retry_in_ms`.
    Lost {
        retry_in_ms: u32,
    },
}

/// A self-healing signaling connection. Dropping it closes the socket for good.
pub struct Signaling {
    inner: Rc<RefCell<Inner>>,
}

struct Inner {
    url: String,
    on_event: Rc<dyn Fn(SignalingEvent)>,
    socket: Option<Connection>,
    backoff_ms: u32,
    retry: Option<Timeout>,
}

/// One open (or opening) socket with the listeners that live exactly as long as it.
struct Connection {
    socket: WebSocket,
    _listeners: [EventListener; 3],
    _keepalive: Interval,
}

impl Drop for Connection {
    fn drop(&mut self) {
        let _ = self.socket.close();
    }
}

impl Signaling {
    pub fn connect(url: String, on_event: impl Fn(SignalingEvent) + 'static) -> Self {
        let inner = Rc::new(RefCell::new(Inner {
            url,
            on_event: Rc::new(on_event),
            socket: None,
            backoff_ms: FIRST_BACKOFF_MS,
            retry: None,
        }));
        dial(&inner);
        Self { inner }
    }

    /// Send a message if the socket is open. Messages sent while it is down are dropped:
    /// everything the mesh says is re-derived after the next `join`.
    /// `message` is a `ClientMessage`'s JSON (see [`crate::encode`]).
    pub fn send(&self, message: &str) {
        let inner = self.inner.borrow();
        let Some(connection) = &inner.socket else {
            return;
        };
        if connection.socket.ready_state() == WebSocket::OPEN {
            let _ = connection.socket.send_with_str(message);
        }
    }

    /// The server accepted us: the next outage starts its backoff from the beginning.
    pub fn reset_backoff(&self) {
        self.inner.borrow_mut().backoff_ms = FIRST_BACKOFF_MS;
    }
}

fn dial(inner: &Rc<RefCell<Inner>>) {
    let url = inner.borrow().url.clone();
    let socket = match WebSocket::new(&url) {
        Ok(socket) => socket,
        Err(_) => return schedule_retry(inner),
    };
    let weak = Rc::downgrade(inner);
    let on_open = EventListener::new(&socket, "open", {
        let weak = weak.clone();
        move |_| emit(&weak, SignalingEvent::Opened)
    });
    let on_message = EventListener::new(&socket, "message", {
        let weak = weak.clone();
        move |event| {
            let Some(text) = event
                .dyn_ref::<MessageEvent>()
                .and_then(|message| message.data().as_string())
            else {
                return;
            };
            if let Ok(message) = crate::decode::server_message(&text) {
                emit(&weak, SignalingEvent::Message(message));
            }
        }
    });
    let on_close = EventListener::new(&socket, "close", move |_| {
        if let Some(inner) = weak.upgrade() {
            inner.borrow_mut().socket = None;
            schedule_retry(&inner);
        }
    });
    let keepalive = Interval::new(PING_INTERVAL_MS, {
        let socket = socket.clone();
        move || {
            if socket.ready_state() == WebSocket::OPEN {
                let _ = socket.send_with_str(crate::encode::PING);
            }
        }
    });
    inner.borrow_mut().socket = Some(Connection {
        socket,
        _listeners: [on_open, on_message, on_close],
        _keepalive: keepalive,
    });
}

fn schedule_retry(inner: &Rc<RefCell<Inner>>) {
    let delay = {
        let mut state = inner.borrow_mut();
        let backoff = state.backoff_ms;
        state.backoff_ms = (backoff * 2).min(MAX_BACKOFF_MS);
        let jitter = f64::from(backoff / 2) * js_sys::Math::random();
        backoff / 2 + jitter as u32
    };
    let weak = Rc::downgrade(inner);
    let retry = Timeout::new(delay, move || {
        if let Some(inner) = weak.upgrade() {
            dial(&inner);
        }
    });
    inner.borrow_mut().retry = Some(retry);
    emit(
        &Rc::downgrade(inner),
        SignalingEvent::Lost { retry_in_ms: delay },
    );
}

/// Call the owner without holding a borrow, so it may call back into `send`.
fn emit(weak: &Weak<RefCell<Inner>>, event: SignalingEvent) {
    let Some(inner) = weak.upgrade() else { return };
    let on_event = inner.borrow().on_event.clone();
    on_event(event);
}
