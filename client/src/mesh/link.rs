//! One WebRTC connection to one other peer, with its two data channels.
//!
//! A link is created either as the *offerer* or as the *answerer*, as the mesh rules
//! (`meshdrop-mesh`) decide; it reports its connection states to them, and the offerer
//! restarts ICE on it when they say so. Both data channels are pre-negotiated
//! with fixed stream ids (see [`meshdrop_protocol::frame`]), so they exist on both sides
//! from the start and no `datachannel` event has to be awaited or matched up.

use gloo_events::EventListener;
use js_sys::{Array, Reflect, JSON};
use meshdrop_mesh::path::{Candidate, CandidateKind, Path};
use meshdrop_mesh::{sdp, LinkState};
use meshdrop_protocol::frame::{
    ControlFrame, SwarmPiece, CHUNK_HEADER_LEN, CONTROL_CHANNEL, CONTROL_CHANNEL_ID, DATA_CHANNEL,
    DATA_CHANNEL_ID, SWARM_PIECE_MARK,
};
use meshdrop_protocol::signaling::{IceServer, Signal};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::tally::{self, Tally};
use crate::decode::DecodeError;
use web_sys::{
    MessageEvent, RtcCertificate, RtcConfiguration, RtcDataChannel, RtcDataChannelInit,
    RtcDataChannelState, RtcDataChannelType, RtcIceCandidateInit, RtcOfferOptions,
    RtcPeerConnection, RtcPeerConnectionIceEvent, RtcPeerConnectionState, RtcSdpType,
    RtcSessionDescriptionInit,
};

/// `RTCIceCandidate.usernameFragment`, which web-sys does not bind: it names the ICE
/// generation a candidate belongs to, so candidates survive an ICE restart unmixed.
const USERNAME_FRAGMENT: &str = "usernameFragment";

/// What a link reports to the mesh. The mesh knows which peer the link belongs to.
pub enum LinkEvent {
    /// Send this to the peer through the signaling server.
    Signal(Signal),
    /// The connection's state, for the mesh rules; `Connected` once the control
    /// channel is open too.
    State(LinkState),
    Control(ControlFrame),
    /// A swarm's control frame (`swarm_*`), as its JSON text: the page's swarm module
    /// reads it.
    SwarmFrame(String),
    /// A binary message from the data channel.
    Data(js_sys::ArrayBuffer),
    /// A swarm's piece of a block, from the data channel.
    SwarmPiece(js_sys::Uint8Array),
    /// The data channel's buffer drained below its low-water mark.
    DataDrained,
}

/// The data channel's `bufferedamountlow` threshold: a sender refills below this.
pub const DATA_LOW_WATER: u32 = 1 << 20;

pub struct PeerLink {
    connection: RtcPeerConnection,
    channels: Channels,
    _listeners: Vec<EventListener>,
}

/// The two data channels of a link, cheap to clone for whoever sends on them.
#[derive(Clone)]
pub struct Channels {
    connection: RtcPeerConnection,
    control: RtcDataChannel,
    data: RtcDataChannel,
}

impl PeerLink {
    /// Create the connection and both channels; `on_event` receives everything that
    /// happens on them. Returns an error only if the browser refuses the configuration.
    /// The connection presents `certificate`, this device's (see `certificate`), or
    /// without one a certificate of its own.
    pub fn new(
        ice_servers: &[IceServer],
        certificate: Option<&RtcCertificate>,
        on_event: impl Fn(LinkEvent) + Clone + 'static,
    ) -> Result<Self, JsValue> {
        let config = RtcConfiguration::new();
        let servers = crate::encode::ice_servers(ice_servers);
        config.set_ice_servers(&JSON::parse(&servers)?);
        if let Some(certificate) = certificate {
            config.set_certificates(&Array::of1(certificate));
        }
        let connection = RtcPeerConnection::new_with_configuration(&config)?;
        let control = negotiated_channel(&connection, CONTROL_CHANNEL, CONTROL_CHANNEL_ID);
        let data = negotiated_channel(&connection, DATA_CHANNEL, DATA_CHANNEL_ID);
        data.set_binary_type(RtcDataChannelType::Arraybuffer);
        data.set_buffered_amount_low_threshold(DATA_LOW_WATER);

        let listeners = vec![
            EventListener::new(&connection, "icecandidate", {
                let on_event = on_event.clone();
                move |event| {
                    let Some(candidate) = event
                        .dyn_ref::<RtcPeerConnectionIceEvent>()
                        .and_then(RtcPeerConnectionIceEvent::candidate)
                    else {
                        return;
                    };
                    on_event(LinkEvent::Signal(Signal::Candidate {
                        candidate: candidate.candidate(),
                        sdp_mid: candidate.sdp_mid(),
                        sdp_m_line_index: candidate.sdp_m_line_index(),
                        username_fragment: Reflect::get(&candidate, &USERNAME_FRAGMENT.into())
                            .ok()
                            .and_then(|fragment| fragment.as_string()),
                    }));
                }
            }),
            EventListener::new(&connection, "connectionstatechange", {
                let on_event = on_event.clone();
                let connection = connection.clone();
                let control = control.clone();
                move |_| {
                    let state = match connection.connection_state() {
                        RtcPeerConnectionState::Connected
                            if control.ready_state() == RtcDataChannelState::Open =>
                        {
                            LinkState::Connected
                        }
                        RtcPeerConnectionState::Disconnected => LinkState::Disconnected,
                        RtcPeerConnectionState::Failed => LinkState::Failed,
                        RtcPeerConnectionState::Closed => LinkState::Closed,
                        _ => LinkState::Connecting,
                    };
                    on_event(LinkEvent::State(state));
                }
            }),
            EventListener::new(&control, "open", {
                let on_event = on_event.clone();
                move |_| on_event(LinkEvent::State(LinkState::Connected))
            }),
            EventListener::new(&control, "close", {
                let on_event = on_event.clone();
                move |_| on_event(LinkEvent::State(LinkState::Closed))
            }),
            EventListener::new(&control, "message", {
                let on_event = on_event.clone();
                move |event| {
                    let text = event
                        .dyn_ref::<MessageEvent>()
                        .and_then(|message| message.data().as_string());
                    let Some(text) = text else { return };
                    match crate::decode::control_frame(&text) {
                        Ok(frame) => on_event(LinkEvent::Control(frame)),
                        Err(DecodeError::UnknownType(kind)) if kind.starts_with("swarm_") => {
                            on_event(LinkEvent::SwarmFrame(text))
                        }
                        Err(_) => {}
                    }
                }
            }),
            EventListener::new(&data, "message", {
                let on_event = on_event.clone();
                move |event| {
                    if let Some(buffer) = event
                        .dyn_ref::<MessageEvent>()
                        .and_then(|message| message.data().dyn_into::<js_sys::ArrayBuffer>().ok())
                    {
                        tally::add(Tally::BytesReceived, payload_len(buffer.byte_length()));
                        let bytes = js_sys::Uint8Array::new(&buffer);
                        let mut mark = [0; SWARM_PIECE_MARK.len()];
                        if bytes.length() >= mark.len() as u32 {
                            bytes.subarray(0, mark.len() as u32).copy_to(&mut mark);
                        }
                        on_event(match SwarmPiece::is_piece(&mark) {
                            true => LinkEvent::SwarmPiece(bytes),
                            false => LinkEvent::Data(buffer),
                        });
                    }
                }
            }),
            EventListener::new(&data, "bufferedamountlow", move |_| {
                on_event(LinkEvent::DataDrained)
            }),
        ];
        Ok(Self {
            channels: Channels {
                connection: connection.clone(),
                control,
                data,
            },
            connection,
            _listeners: listeners,
        })
    }

    /// Start negotiation as the offerer: the offer comes back as a [`LinkEvent::Signal`]
    /// through `on_event`.
    pub fn start_offer(&self, on_event: impl Fn(LinkEvent) + 'static) {
        let connection = self.connection.clone();
        wasm_bindgen_futures::spawn_local(async move {
            match create_local_description(&connection, RtcSdpType::Offer, false).await {
                Ok(sdp) => on_event(LinkEvent::Signal(Signal::Offer { sdp })),
                Err(_) => on_event(LinkEvent::State(LinkState::Failed)),
            }
        });
    }

    /// Offer fresh ICE credentials on this connection (`createOffer({iceRestart})`);
    /// the offer comes back as a [`LinkEvent::Signal`]. The data channels stay open.
    pub fn restart_ice(&self, on_event: impl Fn(LinkEvent) + 'static) {
        let connection = self.connection.clone();
        wasm_bindgen_futures::spawn_local(async move {
            match create_local_description(&connection, RtcSdpType::Offer, true).await {
                Ok(sdp) => on_event(LinkEvent::Signal(Signal::Offer { sdp })),
                Err(_) => on_event(LinkEvent::State(LinkState::Failed)),
            }
        });
    }

    /// Apply a signal from the peer. An offer (the first, or one restarting ICE) is
    /// answered through `on_event`.
    ///
    /// The browser's calls are started synchronously, in arrival order, so the
    /// connection's own operations chain keeps candidates behind the description
    /// they belong to.
    pub fn apply_signal(&self, signal: Signal, on_event: impl Fn(LinkEvent) + 'static) {
        match signal {
            Signal::Offer { sdp } => {
                let applied = self.set_remote(RtcSdpType::Offer, &sdp);
                let connection = self.connection.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    let answer = async {
                        JsFuture::from(applied).await?;
                        create_local_description(&connection, RtcSdpType::Answer, false).await
                    };
                    match answer.await {
                        Ok(sdp) => on_event(LinkEvent::Signal(Signal::Answer { sdp })),
                        Err(_) => on_event(LinkEvent::State(LinkState::Failed)),
                    }
                });
            }
            Signal::Answer { sdp } => {
                let applied = self.set_remote(RtcSdpType::Answer, &sdp);
                wasm_bindgen_futures::spawn_local(async move {
                    if JsFuture::from(applied).await.is_err() {
                        on_event(LinkEvent::State(LinkState::Failed));
                    }
                });
            }
            Signal::Candidate {
                candidate,
                sdp_mid,
                sdp_m_line_index,
                username_fragment,
            } => {
                let init = RtcIceCandidateInit::new(&candidate);
                init.set_sdp_mid(sdp_mid.as_deref());
                init.set_sdp_m_line_index(sdp_m_line_index);
                if let Some(fragment) = username_fragment {
                    let _ = Reflect::set(&init, &USERNAME_FRAGMENT.into(), &fragment.into());
                }
                // A candidate the browser rejects only costs that one path.
                let _ = self
                    .connection
                    .add_ice_candidate_with_opt_rtc_ice_candidate_init(Some(&init));
            }
            // The mesh rules never pass a pairing message to a link.
            Signal::Pake { .. } => {}
        }
    }

    fn set_remote(&self, kind: RtcSdpType, sdp: &str) -> js_sys::Promise {
        let description = RtcSessionDescriptionInit::new(kind);
        description.set_sdp(sdp);
        self.connection.set_remote_description(&description)
    }

    /// This connection's DTLS fingerprints as `(ours, the peer's)`, read from its current
    /// local and remote descriptions (see [`sdp::fingerprint`]); `None` until both are
    /// set. The DTLS handshake holds each side to the fingerprint in its description, so
    /// once connected these are the two certificates really in use.
    pub fn fingerprints(&self) -> Option<(String, String)> {
        let local = self.connection.current_local_description()?;
        let remote = self.connection.current_remote_description()?;
        Some((
            sdp::fingerprint(&local.sdp())?,
            sdp::fingerprint(&remote.sdp())?,
        ))
    }

    pub fn channels(&self) -> &Channels {
        &self.channels
    }

    /// How this connection reaches the peer, from the candidate pair ICE selected
    /// (`getStats`); `None` before one is selected.
    pub fn path(&self) -> impl std::future::Future<Output = Option<Path>> + 'static {
        let stats = self.connection.get_stats();
        async move { selected_path(JsFuture::from(stats).await.ok()?) }
    }
}

/// The path of the selected pair in an `RTCStatsReport` (a maplike, read as a `Map`):
/// Chromium names the pair in its `transport` entry, Firefox marks the pair `selected`.
fn selected_path(report: JsValue) -> Option<Path> {
    let report: js_sys::Map = report.unchecked_into();
    let text = |stats: &JsValue, key: &str| Reflect::get(stats, &key.into()).ok()?.as_string();
    let mut pair = JsValue::UNDEFINED;
    report.for_each(&mut |stats, _| {
        if let Some(id) = text(&stats, "selectedCandidatePairId") {
            pair = report.get(&id.into());
        } else if Reflect::get(&stats, &"selected".into()).ok() == Some(JsValue::TRUE) {
            pair = stats;
        }
    });
    let end = |key: &str| {
        let candidate = report.get(&text(&pair, key)?.into());
        let kind = CandidateKind::parse(&text(&candidate, "candidateType")?)?;
        Some((kind, text(&candidate, "address").unwrap_or_default()))
    };
    let (local, remote) = (end("localCandidateId")?, end("remoteCandidateId")?);
    Some(Path::of_pair(
        Candidate {
            kind: local.0,
            address: &local.1,
        },
        Candidate {
            kind: remote.0,
            address: &remote.1,
        },
    ))
}

impl Channels {
    /// Whether the control channel is open, which is what "connected" means here.
    pub fn is_open(&self) -> bool {
        self.control.ready_state() == RtcDataChannelState::Open
    }

    /// Send a control frame; dropped if the channel is not open.
    pub fn send_control(&self, frame: &ControlFrame) {
        if self.is_open() {
            let _ = self
                .control
                .send_with_str(&crate::encode::control_frame(frame));
        }
    }

    /// Send one binary message on the data channel; false if the channel refused it.
    /// The channel copies the message before this returns.
    pub fn send_data(&self, message: &js_sys::Uint8Array) -> bool {
        let sent = self.data.send_with_array_buffer_view(message).is_ok();
        if sent {
            tally::add(Tally::BytesSent, payload_len(message.length()));
        }
        sent
    }

    /// The control channel and the data channel, for the swarm module, which sends on
    /// them itself.
    pub fn both(&self) -> (&RtcDataChannel, &RtcDataChannel) {
        (&self.control, &self.data)
    }

    /// Bytes queued on the data channel but not yet sent.
    pub fn buffered_amount(&self) -> u32 {
        self.data.buffered_amount()
    }

    /// The largest message this connection can carry, as negotiated in the SDP
    /// (`RTCPeerConnection.sctp.maxMessageSize`, which web-sys does not bind).
    pub fn max_message_size(&self) -> Option<f64> {
        let sctp = Reflect::get(&self.connection, &"sctp".into()).ok()?;
        Reflect::get(&sctp, &"maxMessageSize".into())
            .ok()?
            .as_f64()
            .filter(|size| size.is_finite() && *size > 0.0)
    }
}

/// File bytes in a data-channel message: all of it but the chunk header.
fn payload_len(message_len: u32) -> u64 {
    u64::from(message_len).saturating_sub(CHUNK_HEADER_LEN as u64)
}

impl Drop for PeerLink {
    fn drop(&mut self) {
        // What is still queued never leaves: the transfers send it again on a new link.
        // (Its chunk headers are counted too: 4 bytes per 64 KiB.)
        tally::take_back(Tally::BytesSent, u64::from(self.channels.buffered_amount()));
        self.connection.close();
    }
}

fn negotiated_channel(connection: &RtcPeerConnection, label: &str, id: u16) -> RtcDataChannel {
    let init = RtcDataChannelInit::new();
    init.set_negotiated(true);
    init.set_id(id);
    init.set_ordered(true);
    connection.create_data_channel_with_data_channel_dict(label, &init)
}

/// Create an offer (restarting ICE if `ice_restart`) or an answer, apply it locally and
/// return its SDP.
async fn create_local_description(
    connection: &RtcPeerConnection,
    kind: RtcSdpType,
    ice_restart: bool,
) -> Result<String, JsValue> {
    let created = match kind {
        RtcSdpType::Offer => {
            let options = RtcOfferOptions::new();
            options.set_ice_restart(ice_restart);
            connection.create_offer_with_rtc_offer_options(&options)
        }
        _ => connection.create_answer(),
    };
    let created = JsFuture::from(created).await?;
    let sdp = Reflect::get(&created, &"sdp".into())?
        .as_string()
        .ok_or_else(|| JsValue::from_str("description without sdp"))?;
    let description = RtcSessionDescriptionInit::new(kind);
    description.set_sdp(&sdp);
    JsFuture::from(connection.set_local_description(&description)).await?;
    Ok(sdp)
}
