//! Who is on the other end of each link: the safety number of every link and, in a
//! meeting place, the pairing by code that must succeed before the peer is let in.
//!
//! The decisions are `meshdrop-verify`'s (shared with the native peer); this module
//! feeds it the link's fingerprints, the frames and the PAKE signals, and sends what it
//! asks. Until a pairing has succeeded the mesh keeps the link closed to chat and files
//! ([`Verification::admits`]).

use std::collections::HashMap;

use meshdrop_mesh::LinkId;
use meshdrop_protocol::frame::ControlFrame;
use meshdrop_protocol::signaling::Signal;
use meshdrop_protocol::PeerId;
use meshdrop_verify::{Pairing, PairingCode, PairingState, SafetyCheck, SafetyNumber};

use crate::identity::random_bytes;

/// What verification has to tell the page.
pub enum VerificationEvent {
    /// The link to `peer` is up, to a device with this DTLS fingerprint.
    Fingerprint { peer: PeerId, fingerprint: String },
    /// Both ends of the link to `peer` agree on this number.
    SafetyNumber { peer: PeerId, number: SafetyNumber },
    /// The peer proved the code and the link.
    Paired { peer: PeerId, fingerprint: String },
    /// The pairing failed, for this reason; the code is spent.
    PairingFailed(String),
}

/// Everything to send or say after feeding verification something.
#[derive(Default)]
pub struct Effects {
    /// Frames for the peer's control channel.
    pub frames: Vec<ControlFrame>,
    /// A signal for the peer, through the server.
    pub signals: Vec<Signal>,
    pub events: Vec<VerificationEvent>,
}

/// The verification state of one page.
pub struct Verification {
    /// One safety-number exchange per peer, for one link of it.
    checks: HashMap<PeerId, (LinkId, SafetyCheck)>,
    /// Set when the page came to a meeting place with a code.
    pairing: Option<Pairing>,
    /// Whom our PAKE message went to: the first other device in the meeting place.
    pairing_with: Option<PeerId>,
}

impl Verification {
    pub fn new(code: Option<&PairingCode>) -> Self {
        Self {
            checks: HashMap::new(),
            pairing: code.map(|code| Pairing::start(code, seed())),
            pairing_with: None,
        }
    }

    /// Whether chat and files from and to `peer` may flow: always, unless this page
    /// pairs by code and the pairing has not succeeded (with this peer).
    pub fn admits(&self, peer: &PeerId) -> bool {
        match &self.pairing {
            None => true,
            Some(pairing) => {
                matches!(pairing.state(), PairingState::Paired { .. })
                    && self.pairing_with.as_ref() == Some(peer)
            }
        }
    }

    /// `peer` is in the room: in a meeting place, the one to pair with.
    pub fn on_peer_present(&mut self, peer: &PeerId) -> Effects {
        let mut effects = Effects::default();
        if let (Some(pairing), None) = (&mut self.pairing, &self.pairing_with) {
            self.pairing_with = Some(peer.clone());
            effects
                .signals
                .extend(std::iter::from_fn(|| pairing.poll_signal()));
        }
        effects
    }

    /// A PAKE message from `peer`.
    pub fn on_pake(&mut self, peer: &PeerId, message: &str) -> Effects {
        let mut effects = self.on_peer_present(peer);
        if self.pairing_with.as_ref() != Some(peer) {
            return effects;
        }
        if let Some(pairing) = &mut self.pairing {
            let result = pairing.handle_pake(message);
            self.pairing_outcome(peer, result, &mut effects);
        }
        effects
    }

    /// Link `link` to `peer` is up with these (ours, theirs) fingerprints.
    pub fn on_link_up(
        &mut self,
        peer: &PeerId,
        link: LinkId,
        fingerprints: &(String, String),
    ) -> Effects {
        let mut effects = Effects::default();
        self.check(peer, link, fingerprints, &mut effects);
        if self.pairing_with.as_ref() == Some(peer) {
            if let Some(pairing) = &mut self.pairing {
                let result = pairing.handle_link_up(&fingerprints.0, &fingerprints.1);
                self.pairing_outcome(peer, result, &mut effects);
            }
        }
        effects
    }

    /// A safety or pairing frame from `peer` on link `link`.
    pub fn on_frame(
        &mut self,
        peer: &PeerId,
        link: LinkId,
        fingerprints: Option<&(String, String)>,
        frame: &ControlFrame,
    ) -> Effects {
        let mut effects = Effects::default();
        match frame {
            ControlFrame::PairConfirm { key_mac, link_mac } => {
                if let (Some(pairing), true) =
                    (&mut self.pairing, self.pairing_with.as_ref() == Some(peer))
                {
                    let result = pairing.handle_confirm(key_mac, link_mac);
                    self.pairing_outcome(peer, result, &mut effects);
                }
            }
            _ => {
                // The peer's commitment may arrive before our own side saw the link up.
                if let Some(fingerprints) = fingerprints {
                    self.check(peer, link, fingerprints, &mut effects);
                }
                if let Some((_, check)) = self.checks.get_mut(peer).filter(|(at, _)| *at == link) {
                    let had_number = check.safety_number().is_some();
                    if let Err(error) = check.handle_frame(frame) {
                        web_sys::console::warn_1(
                            &format!("safety number with {peer}: {error}").into(),
                        );
                    }
                    effects
                        .frames
                        .extend(std::iter::from_fn(|| check.poll_frame()));
                    if let (false, Some(number)) = (had_number, check.safety_number()) {
                        effects.events.push(VerificationEvent::SafetyNumber {
                            peer: peer.clone(),
                            number: *number,
                        });
                    }
                }
            }
        }
        effects
    }

    /// Starts the safety-number exchange of `link`, unless it runs already (an ICE
    /// restart brings the same link up again).
    fn check(
        &mut self,
        peer: &PeerId,
        link: LinkId,
        (local, remote): &(String, String),
        effects: &mut Effects,
    ) {
        if self.checks.get(peer).is_some_and(|(at, _)| *at == link) {
            return;
        }
        let mut check = SafetyCheck::new(local, remote, seed());
        effects
            .frames
            .extend(std::iter::from_fn(|| check.poll_frame()));
        effects.events.push(VerificationEvent::Fingerprint {
            peer: peer.clone(),
            fingerprint: remote.clone(),
        });
        self.checks.insert(peer.clone(), (link, check));
    }

    fn pairing_outcome(
        &mut self,
        peer: &PeerId,
        result: Result<(), meshdrop_verify::PairingError>,
        effects: &mut Effects,
    ) {
        let Some(pairing) = &mut self.pairing else {
            return;
        };
        effects
            .frames
            .extend(std::iter::from_fn(|| pairing.poll_frame()));
        match (result, pairing.state()) {
            (Err(error), _) => effects
                .events
                .push(VerificationEvent::PairingFailed(error.to_string())),
            (Ok(()), PairingState::Paired { fingerprint }) => {
                effects.events.push(VerificationEvent::Paired {
                    peer: peer.clone(),
                    fingerprint: fingerprint.clone(),
                })
            }
            (Ok(()), _) => {}
        }
    }
}

/// 32 bytes of the browser's CSPRNG.
fn seed() -> [u8; 32] {
    let mut seed = [0u8; 32];
    seed.copy_from_slice(&random_bytes(32));
    seed
}
