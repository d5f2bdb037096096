//! The man in the middle's WebRTC side: one connection to each client, posing as the
//! other, with both pre-negotiated data channels, and the relay between them.

use std::sync::Arc;
use std::time::Duration;

use meshdrop_protocol::frame::{
    CONTROL_CHANNEL, CONTROL_CHANNEL_ID, DATA_CHANNEL, DATA_CHANNEL_ID,
};
use meshdrop_protocol::signaling::{ServerMessage, Signal};
use meshdrop_protocol::PeerId;
use tokio::sync::{mpsc, watch};
use webrtc::data_channel::{DataChannel, DataChannelEvent, RTCDataChannelInit};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder,
    RTCIceCandidateInit, RTCPeerConnectionIceEvent, RTCSessionDescription,
};

use super::{Mitm, ShownFingerprint};

/// How long after a channel opens the man in the middle waits before relaying into it,
/// unless the client speaks first: webrtc-rs peers drop what reaches them earlier (see
/// "Opening" in docs/protocol.md).
const OPEN_GRACE: Duration = Duration::from_millis(500);

/// Bytes queued on one channel before relaying into it waits: a slow side slows the other
/// down instead of filling memory.
const SEND_BUFFER: usize = 16 << 20;

/// A client, and its negotiation queued for the man in the middle's connection with it.
pub(super) type Negotiating = (PeerId, mpsc::UnboundedReceiver<Signal>);

/// Opens a connection to each client, posing as the other, starts relaying between them,
/// and offers to `first`, who waits for an offer from `second`.
pub(super) async fn stand_between(
    mitm: &Arc<Mitm>,
    first: Negotiating,
    second: Negotiating,
) -> webrtc::error::Result<()> {
    let (first, first_signals) = first;
    let (second, second_signals) = second;
    let toward_first = Leg::open(mitm, first.clone(), second.clone(), first_signals).await?;
    let toward_second = Leg::open(mitm, second, first, second_signals).await?;
    for (from, to) in [
        (&toward_first, &toward_second),
        (&toward_second, &toward_first),
    ] {
        for index in 0..2 {
            tokio::spawn(relay(
                Arc::clone(mitm),
                from.channels[index].clone(),
                to.channels[index].clone(),
                index == 0,
            ));
        }
    }
    toward_first.offer().await
}

/// The man in the middle's WebRTC connection with one client.
struct Leg {
    connection: Arc<dyn PeerConnection>,
    /// The control channel, then the data channel.
    channels: [RelayedChannel; 2],
    /// Our descriptions for the client, sent ahead of the candidates.
    descriptions: mpsc::UnboundedSender<Signal>,
    client: PeerId,
    mitm: Arc<Mitm>,
}

/// One of a leg's data channels, and whether it may be relayed into yet.
#[derive(Clone)]
struct RelayedChannel {
    channel: Arc<dyn DataChannel>,
    /// Set once the channel is open and the client has spoken on it or [`OPEN_GRACE`]
    /// has passed.
    ready: Arc<watch::Sender<bool>>,
}

impl Leg {
    /// A connection to `client`, whose signals appear to come from `posing_as`, and which
    /// applies the client's `signals` in order.
    async fn open(
        mitm: &Arc<Mitm>,
        client: PeerId,
        posing_as: PeerId,
        signals: mpsc::UnboundedReceiver<Signal>,
    ) -> webrtc::error::Result<Arc<Leg>> {
        let (candidates, candidates_rx) = mpsc::unbounded_channel();
        let connection: Arc<dyn PeerConnection> = Arc::new(
            PeerConnectionBuilder::new()
                .with_configuration(RTCConfigurationBuilder::new().build())
                .with_handler(Arc::new(Candidates(candidates)))
                .with_udp_addrs(vec!["0.0.0.0:0"])
                .with_data_channel_send_buffer_limit(SEND_BUFFER)
                .build()
                .await?,
        );
        let mut channels = Vec::new();
        for (label, id) in [
            (CONTROL_CHANNEL, CONTROL_CHANNEL_ID),
            (DATA_CHANNEL, DATA_CHANNEL_ID),
        ] {
            let init = RTCDataChannelInit {
                ordered: true,
                negotiated: Some(id),
                ..Default::default()
            };
            channels.push(RelayedChannel {
                channel: connection.create_data_channel(label, Some(init)).await?,
                ready: Arc::new(watch::channel(false).0),
            });
        }
        let (descriptions, descriptions_rx) = mpsc::unbounded_channel();
        let leg = Arc::new(Leg {
            connection,
            channels: [channels.remove(0), channels.remove(0)],
            descriptions,
            client: client.clone(),
            mitm: Arc::clone(mitm),
        });
        tokio::spawn(send_signals(
            Arc::clone(mitm),
            client,
            posing_as,
            descriptions_rx,
            candidates_rx,
        ));
        tokio::spawn(Arc::clone(&leg).apply_signals(signals));
        Ok(leg)
    }

    async fn apply_signals(self: Arc<Self>, mut signals: mpsc::UnboundedReceiver<Signal>) {
        while let Some(signal) = signals.recv().await {
            if let Err(error) = self.apply_one(signal).await {
                eprintln!(
                    "the man in the middle could not apply a signal of {}: {error}",
                    self.client
                );
            }
        }
    }

    async fn apply_one(&self, signal: Signal) -> webrtc::error::Result<()> {
        match signal {
            Signal::Offer { sdp } => {
                self.connection
                    .set_remote_description(RTCSessionDescription::offer(sdp)?)
                    .await?;
                let answer = self.connection.create_answer(None).await?;
                let sdp = answer.sdp.clone();
                self.connection.set_local_description(answer).await?;
                self.describe(Signal::Answer { sdp });
            }
            Signal::Answer { sdp } => {
                self.connection
                    .set_remote_description(RTCSessionDescription::answer(sdp)?)
                    .await?;
            }
            // An empty candidate only marks the end of the client's gathering.
            Signal::Candidate { candidate, .. } if candidate.is_empty() => {}
            Signal::Candidate {
                candidate,
                sdp_mid,
                sdp_m_line_index,
                username_fragment,
            } => {
                self.connection
                    .add_ice_candidate(RTCIceCandidateInit {
                        candidate,
                        sdp_mid,
                        sdp_mline_index: sdp_m_line_index,
                        username_fragment,
                        ..Default::default()
                    })
                    .await?;
            }
            // Passed on verbatim before it gets here (see `is_negotiation`).
            Signal::Pake { .. } => {}
        }
        Ok(())
    }

    async fn offer(&self) -> webrtc::error::Result<()> {
        let offer = self.connection.create_offer(None).await?;
        let sdp = offer.sdp.clone();
        self.connection.set_local_description(offer).await?;
        self.describe(Signal::Offer { sdp });
        Ok(())
    }

    /// Sends our offer or answer, and records the fingerprint it shows the client.
    fn describe(&self, description: Signal) {
        let (Signal::Offer { sdp } | Signal::Answer { sdp }) = &description else {
            unreachable!("a description is an offer or an answer");
        };
        let fingerprint = sdp
            .lines()
            .find_map(|line| line.strip_prefix("a=fingerprint:"))
            .map(str::to_owned);
        let mut record = self.mitm.record.lock().unwrap();
        if let Some(fingerprint) = fingerprint {
            let shown = ShownFingerprint {
                client: self.client.to_string(),
                fingerprint,
            };
            if !record.fingerprints.contains(&shown) {
                record.fingerprints.push(shown);
            }
        }
        let _ = self.descriptions.send(description);
    }
}

/// Sends a leg's signals to its client as coming from `posing_as`: its first description
/// before any candidate, since the client cannot use a candidate before it.
async fn send_signals(
    mitm: Arc<Mitm>,
    client: PeerId,
    posing_as: PeerId,
    mut descriptions: mpsc::UnboundedReceiver<Signal>,
    mut candidates: mpsc::UnboundedReceiver<Signal>,
) {
    let send = |signal: Signal| {
        mitm.send(
            &client,
            ServerMessage::Signal {
                from: posing_as.clone(),
                signal: signal.into(),
            },
        );
    };
    let Some(first) = descriptions.recv().await else {
        return;
    };
    send(first);
    loop {
        tokio::select! {
            Some(description) = descriptions.recv() => send(description),
            Some(candidate) = candidates.recv() => send(candidate),
            else => return,
        }
    }
}

/// Relays every message of `from` into `to`, as it came: text as text, binary as binary.
/// Control messages are recorded when `control`.
async fn relay(mitm: Arc<Mitm>, from: RelayedChannel, to: RelayedChannel, control: bool) {
    let mut to_ready = to.ready.subscribe();
    while let Some(event) = from.channel.poll().await {
        let message = match event {
            DataChannelEvent::OnOpen => {
                let ready = Arc::clone(&from.ready);
                tokio::spawn(async move {
                    tokio::time::sleep(OPEN_GRACE).await;
                    ready.send_replace(true);
                });
                continue;
            }
            DataChannelEvent::OnMessage(message) => message,
            _ => continue,
        };
        from.ready.send_replace(true);
        if to_ready.wait_for(|ready| *ready).await.is_err() {
            return;
        }
        let sent = if message.is_string {
            let Ok(text) = std::str::from_utf8(&message.data) else {
                eprintln!("the man in the middle dropped a text message that was not UTF-8");
                continue;
            };
            if control {
                mitm.record
                    .lock()
                    .unwrap()
                    .relayed_control
                    .push(text.to_owned());
            }
            to.channel.send_text(text).await
        } else {
            to.channel.send(message.data).await
        };
        if let Err(error) = sent {
            eprintln!("the man in the middle could not relay a message: {error}");
        }
    }
}

/// Passes a leg's ICE candidates on; runs on the webrtc-rs driver, so it only queues.
struct Candidates(mpsc::UnboundedSender<Signal>);

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Candidates {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        let Ok(init) = event.candidate.to_json() else {
            return;
        };
        // One m-line; browsers refuse webrtc-rs's own sdp_mid of "" (as the native peer).
        let _ = self.0.send(Signal::Candidate {
            candidate: init.candidate,
            sdp_mid: None,
            sdp_m_line_index: Some(0),
            username_fragment: init.username_fragment,
        });
    }
}
