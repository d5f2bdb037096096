//! One WebRTC connection to one other peer, with its two pre-negotiated data channels.
//!
//! A link is created either as the *offerer* or as the *answerer*, as the mesh rules
//! (`meshdrop-mesh`) decide; it reports its connection states to them, and restarts ICE
//! when they say so. Both channels are negotiated out of
//! band with the fixed stream ids of [`meshdrop_protocol::frame`], exactly like the web
//! client, so they exist on both sides from the start.
//!
//! webrtc-rs reports through two routes: connection-level callbacks (ICE candidates,
//! connection state) on its driver task, and a per-channel event stream that someone must
//! poll. The link turns both into [`LinkEvent`]s tagged with its [`LinkId`], so the mesh
//! can tell events of a replaced link from those of the current one.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use meshdrop_mesh::path::{Candidate, CandidateKind, Path};
use meshdrop_mesh::{sdp, LinkState};
use meshdrop_protocol::frame::{
    ControlFrame, CONTROL_CHANNEL, CONTROL_CHANNEL_ID, DATA_CHANNEL, DATA_CHANNEL_ID,
    MAX_MESSAGE_LEN,
};
use meshdrop_protocol::signaling::Signal;
use meshdrop_protocol::PeerId;
use rtc::peer_connection::configuration::setting_engine::SctpMaxMessageSize;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use webrtc::data_channel::{DataChannel, DataChannelEvent, RTCDataChannelInit};
use webrtc::error::Result;
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfiguration,
    RTCIceCandidateInit, RTCPeerConnectionIceEvent, RTCPeerConnectionState, RTCSessionDescription,
    SettingEngine, SettingEngineBuilder,
};

/// The data channel's low-water mark: a paused sender resumes once the buffer drains to
/// this (the web client uses the same value).
pub const DATA_LOW_WATER: u32 = 1 << 20;
/// A sender pauses once this many bytes are buffered and not yet acknowledged.
pub const DATA_HIGH_WATER: usize = 4 << 20;

/// How long an opened link waits for the peer's end before reporting itself open; see
/// `peer_ready`.
const OPEN_GRACE: Duration = Duration::from_millis(500);

/// Which link an event comes from: the peer, and which of the links we have had with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkId {
    pub peer: PeerId,
    pub generation: u64,
}

/// What a link reports to the mesh.
#[derive(Debug)]
pub enum LinkEvent {
    /// Send this to the peer through the signaling server.
    Signal(Signal),
    /// The connection's state, for the mesh rules; `Connected` once the control
    /// channel is open too.
    State(LinkState),
    Control(ControlFrame),
    /// A binary message from the data channel.
    Data(Bytes),
    /// The data channel's send buffer drained to [`DATA_LOW_WATER`].
    DataDrained,
}

/// Where links deliver their events.
///
/// Connection-level events are few and must never stall the webrtc-rs driver that
/// raises them, so they go through an unbounded queue. Data channel events go through a
/// bounded one: when the application falls behind writing files, the channel poller
/// waits, stops reading, and the SCTP receive window slows the sender down.
#[derive(Clone)]
pub struct EventSinks {
    pub control: mpsc::UnboundedSender<(LinkId, LinkEvent)>,
    pub data: mpsc::Sender<(LinkId, LinkEvent)>,
}

/// A live peer connection. Call [`PeerLink::close`] to end it; dropping it only stops
/// its event forwarding.
pub struct PeerLink {
    /// Which of the links to its peer this is.
    generation: u64,
    connection: Arc<dyn PeerConnection>,
    control: Arc<dyn DataChannel>,
    data: Arc<dyn DataChannel>,
    tasks: Vec<JoinHandle<()>>,
}

/// The connection's settings beyond the standard ones: it takes messages of
/// [`MAX_MESSAGE_LEN`], as browsers do, where webrtc-rs would advertise 64 KiB, so that
/// browsers send it large chunks too.
fn setting_engine() -> SettingEngine {
    let max = u32::try_from(MAX_MESSAGE_LEN).expect("the message size fits in 32 bits");
    SettingEngineBuilder::new()
        .with_sctp_max_message_size(SctpMaxMessageSize::Bounded(max))
        .build()
}

impl PeerLink {
    /// Open a link as the offerer; the offer goes out as a [`LinkEvent::Signal`].
    pub async fn offer(
        id: LinkId,
        configuration: RTCConfiguration,
        sinks: &EventSinks,
    ) -> Result<Self> {
        let (link, description) = Self::build(id, configuration, sinks).await?;
        let offer = link.connection.create_offer(None).await?;
        let sdp = offer.sdp.clone();
        link.connection.set_local_description(offer).await?;
        let _ = description.send(Signal::Offer { sdp });
        Ok(link)
    }

    /// Open a link as the answerer of `offer_sdp`; the answer goes out as a
    /// [`LinkEvent::Signal`].
    pub async fn answer(
        id: LinkId,
        configuration: RTCConfiguration,
        sinks: &EventSinks,
        offer_sdp: String,
    ) -> Result<Self> {
        let (link, description) = Self::build(id, configuration, sinks).await?;
        link.connection
            .set_remote_description(RTCSessionDescription::offer(offer_sdp)?)
            .await?;
        let answer = link.connection.create_answer(None).await?;
        let sdp = answer.sdp.clone();
        link.connection.set_local_description(answer).await?;
        let _ = description.send(Signal::Answer { sdp });
        Ok(link)
    }

    /// The connection with both channels and every forwarding task running. Returns the
    /// slot for the local description, which must reach the peer before any candidate.
    async fn build(
        id: LinkId,
        configuration: RTCConfiguration,
        sinks: &EventSinks,
    ) -> Result<(Self, oneshot::Sender<Signal>)> {
        let generation = id.generation;
        let (candidates_tx, candidates_rx) = mpsc::unbounded_channel();
        let opened = Arc::new(AtomicBool::new(false));
        let handler = Handler {
            candidates: candidates_tx,
            events: sinks.control.clone(),
            id: id.clone(),
            opened: opened.clone(),
        };
        let connection: Arc<dyn PeerConnection> = Arc::new(
            PeerConnectionBuilder::new()
                .with_configuration(configuration)
                .with_setting_engine(setting_engine())
                .with_handler(Arc::new(handler))
                // Every non-loopback interface: host candidates only, unless the ICE
                // servers add reflexive or relayed ones.
                .with_udp_addrs(vec!["0.0.0.0:0"])
                .build()
                .await?,
        );
        let control = negotiated_channel(&*connection, CONTROL_CHANNEL, CONTROL_CHANNEL_ID).await?;
        let data = negotiated_channel(&*connection, DATA_CHANNEL, DATA_CHANNEL_ID).await?;
        data.set_buffered_amount_low_threshold(DATA_LOW_WATER)
            .await?;

        let (description_tx, description_rx) = oneshot::channel();
        let tasks = vec![
            tokio::spawn(forward_signals(
                id.clone(),
                description_rx,
                candidates_rx,
                sinks.control.clone(),
            )),
            tokio::spawn(forward_control(
                id.clone(),
                control.clone(),
                sinks.control.clone(),
                opened,
            )),
            tokio::spawn(forward_data(id, data.clone(), sinks.data.clone())),
        ];
        let link = Self {
            generation,
            connection,
            control,
            data,
            tasks,
        };
        Ok((link, description_tx))
    }

    /// Which of the links to its peer this is: a new link has a new one, a link after
    /// an ICE restart the same.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The largest message the peer takes, as negotiated (`max-message-size` in its SDP,
    /// or 64 KiB without); `None` before the SCTP transport started.
    pub async fn max_message_size(&self) -> Option<usize> {
        let sctp = self.connection.sctp().await?;
        let max = sctp.max_message_size().await.ok()?;
        Some(max as usize)
    }

    /// This connection's DTLS fingerprints as `(ours, the peer's)`, read from its current
    /// local and remote descriptions (see [`meshdrop_mesh::sdp::fingerprint`]); `None`
    /// until both are set. The DTLS handshake holds each side to the fingerprint in its
    /// description, so once connected these are the two certificates really in use.
    pub async fn fingerprints(&self) -> Option<(String, String)> {
        let local = self.connection.current_local_description().await?;
        let remote = self.connection.current_remote_description().await?;
        Some((
            sdp::fingerprint(&local.sdp)?,
            sdp::fingerprint(&remote.sdp)?,
        ))
    }

    /// How this connection reaches the peer, from the candidate pair ICE selected;
    /// `None` before one is selected.
    pub async fn path(&self) -> Option<Path> {
        let ice = self.connection.sctp().await?.transport().ice_transport();
        let pair = ice.get_selected_candidate_pair().await.ok()??;
        let (local, remote) = (pair.local(), pair.remote());
        Some(Path::of_pair(
            Candidate {
                kind: CandidateKind::parse(&local.typ.to_string())?,
                address: &local.address,
            },
            Candidate {
                kind: CandidateKind::parse(&remote.typ.to_string())?,
                address: &remote.address,
            },
        ))
    }

    /// Offer fresh ICE credentials on this connection; returns the offer to send. The
    /// data channels stay open.
    pub async fn restart_ice(&self) -> Result<Signal> {
        self.connection.restart_ice().await?;
        let offer = self.connection.create_offer(None).await?;
        let sdp = offer.sdp.clone();
        self.connection.set_local_description(offer).await?;
        Ok(Signal::Offer { sdp })
    }

    /// Apply the peer's answer, one of its ICE candidates, or its offer renegotiating
    /// this connection (an ICE restart), whose answer is returned to send back.
    pub async fn apply_signal(&self, signal: Signal) -> Result<Option<Signal>> {
        match signal {
            Signal::Offer { sdp } => {
                self.connection
                    .set_remote_description(RTCSessionDescription::offer(sdp)?)
                    .await?;
                let answer = self.connection.create_answer(None).await?;
                let sdp = answer.sdp.clone();
                self.connection.set_local_description(answer).await?;
                Ok(Some(Signal::Answer { sdp }))
            }
            Signal::Answer { sdp } => {
                self.connection
                    .set_remote_description(RTCSessionDescription::answer(sdp)?)
                    .await?;
                Ok(None)
            }
            Signal::Candidate {
                candidate,
                sdp_mid,
                sdp_m_line_index,
                username_fragment,
            } => {
                // An empty candidate only marks the end of the peer's gathering.
                if candidate.is_empty() {
                    return Ok(None);
                }
                self.connection
                    .add_ice_candidate(RTCIceCandidateInit {
                        candidate,
                        sdp_mid,
                        sdp_mline_index: sdp_m_line_index,
                        username_fragment,
                        ..Default::default()
                    })
                    .await?;
                Ok(None)
            }
            // The mesh rules never pass a pairing message to a link.
            Signal::Pake { .. } => Ok(None),
        }
    }

    pub async fn send_control(&self, frame: &ControlFrame) -> Result<()> {
        let text = serde_json::to_string(frame).expect("control frames always serialize");
        self.control.send_text(&text).await
    }

    /// Queue one binary message on the data channel. Returns whether the send buffer is
    /// still below [`DATA_HIGH_WATER`]; once it is not, wait for
    /// [`LinkEvent::DataDrained`] before sending more.
    pub async fn send_data(&self, message: BytesMut) -> Result<bool> {
        self.data.send(message).await?;
        Ok(self.data.outstanding_bytes().await? < DATA_HIGH_WATER)
    }

    /// Bytes queued on the data channel and not yet acknowledged; a channel that cannot
    /// tell counts as full.
    pub async fn data_buffered(&self) -> usize {
        self.data.outstanding_bytes().await.unwrap_or(usize::MAX)
    }

    /// Whether the control channel's queued messages have all been acknowledged, so
    /// closing now loses nothing we sent.
    pub async fn control_flushed(&self) -> bool {
        self.control
            .outstanding_bytes()
            .await
            .map_or(true, |bytes| bytes == 0)
    }

    pub async fn close(&self) {
        // Closing an already failed connection can only fail in ways nobody can act on.
        let _ = self.connection.close().await;
    }
}

impl Drop for PeerLink {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

async fn negotiated_channel(
    connection: &dyn PeerConnection,
    label: &str,
    id: u16,
) -> Result<Arc<dyn DataChannel>> {
    let init = RTCDataChannelInit {
        ordered: true,
        negotiated: Some(id),
        ..Default::default()
    };
    connection.create_data_channel(label, Some(init)).await
}

/// Connection-level callbacks, run on the webrtc-rs driver task: they only queue.
struct Handler {
    candidates: mpsc::UnboundedSender<Signal>,
    events: mpsc::UnboundedSender<(LinkId, LinkEvent)>,
    id: LinkId,
    /// Whether the control channel has opened: only then is a connection "connected".
    opened: Arc<AtomicBool>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        let Ok(init) = event.candidate.to_json() else {
            return;
        };
        // Our SDP has a single m-line; naming it by index works for every peer, while
        // webrtc-rs's own sdp_mid ("") is one browsers reject.
        let _ = self.candidates.send(Signal::Candidate {
            candidate: init.candidate,
            sdp_mid: None,
            sdp_m_line_index: Some(0),
            username_fragment: init.username_fragment,
        });
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let state = match state {
            RTCPeerConnectionState::Connected if self.opened.load(Ordering::Acquire) => {
                LinkState::Connected
            }
            RTCPeerConnectionState::Disconnected => LinkState::Disconnected,
            RTCPeerConnectionState::Failed => LinkState::Failed,
            RTCPeerConnectionState::Closed => LinkState::Closed,
            _ => LinkState::Connecting,
        };
        let _ = self.events.send((self.id.clone(), LinkEvent::State(state)));
    }
}

/// Send the local description first, then every candidate: the peer cannot use a
/// candidate before it has the description, and webrtc-rs may gather one before
/// `set_local_description` has even returned.
async fn forward_signals(
    id: LinkId,
    description: oneshot::Receiver<Signal>,
    mut candidates: mpsc::UnboundedReceiver<Signal>,
    events: mpsc::UnboundedSender<(LinkId, LinkEvent)>,
) {
    let Ok(description) = description.await else {
        return;
    };
    let _ = events.send((id.clone(), LinkEvent::Signal(description)));
    while let Some(candidate) = candidates.recv().await {
        if events
            .send((id.clone(), LinkEvent::Signal(candidate)))
            .is_err()
        {
            return;
        }
    }
}

async fn forward_control(
    id: LinkId,
    channel: Arc<dyn DataChannel>,
    events: mpsc::UnboundedSender<(LinkId, LinkEvent)>,
    opened: Arc<AtomicBool>,
) {
    // An event that arrived while the opening was held back, still to be forwarded.
    let mut early = None;
    loop {
        let event = match early.take() {
            Some(event) => event,
            None => match channel.poll().await {
                Some(event) => event,
                None => return,
            },
        };
        let event = match event {
            DataChannelEvent::OnOpen => {
                early = peer_ready(&*channel).await;
                opened.store(true, Ordering::Release);
                LinkEvent::State(LinkState::Connected)
            }
            DataChannelEvent::OnClose => LinkEvent::State(LinkState::Closed),
            DataChannelEvent::OnMessage(message) => {
                // A frame we cannot parse is the peer's bug; dropping it keeps us alive.
                match serde_json::from_slice::<ControlFrame>(&message.data) {
                    Ok(frame) => LinkEvent::Control(frame),
                    Err(error) => {
                        tracing::warn!(peer = %id.peer, %error, "unreadable control frame");
                        continue;
                    }
                }
            }
            _ => continue,
        };
        if events.send((id.clone(), event)).is_err() {
            return;
        }
    }
}

/// Hold the opening back until the peer's end is surely open too: until it says
/// something, or [`OPEN_GRACE`] passes. Returns what it said, if anything.
///
/// One end of the SCTP association is established a flight before the other, and
/// webrtc-rs 0.21 drops a message on a pre-negotiated channel that reaches the other end
/// before that end has set the channel up ("data channel not existed"). A peer
/// that sends the moment its channel opens (an offer, a held chat line) would lose its
/// first frame to another webrtc-rs peer.
async fn peer_ready(channel: &dyn DataChannel) -> Option<DataChannelEvent> {
    tokio::time::timeout(OPEN_GRACE, channel.poll())
        .await
        .ok()
        .flatten()
}

async fn forward_data(
    id: LinkId,
    channel: Arc<dyn DataChannel>,
    events: mpsc::Sender<(LinkId, LinkEvent)>,
) {
    while let Some(event) = channel.poll().await {
        let event = match event {
            DataChannelEvent::OnMessage(message) => LinkEvent::Data(message.data.freeze()),
            DataChannelEvent::OnBufferedAmountLow => LinkEvent::DataDrained,
            _ => continue,
        };
        if events.send((id.clone(), event)).await.is_err() {
            return;
        }
    }
}
