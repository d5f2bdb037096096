//! Who is on the other end of each link: the safety number of every link, the pairing by
//! code that must succeed before the peer is let in, and the devices remembered as
//! verified (`--remember`, `--require-verified`).
//!
//! Every rule is `meshdrop-verify`'s, shared with the web app: this module feeds it the
//! links' fingerprints, the safety and pairing frames and the PAKE signals, and says
//! what to send where. [`Verification::admission`] tells the room whether a peer's chat
//! and files may flow.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use meshdrop_protocol::frame::ControlFrame;
use meshdrop_protocol::signaling::Signal;
use meshdrop_protocol::PeerId;
use meshdrop_verify::{
    KnownDevices, Pairing, PairingCode, PairingError, PairingState, SafetyCheck, SafetyNumber,
};
use rand::rngs::OsRng;
use rand::TryRngCore;

use crate::error::{Error, Result};
use crate::link::PeerLink;

/// The file in the config directory that lists the verified devices.
const KNOWN_DEVICES_FILE: &str = "verified_devices.json";

/// How verification is to be done in this run.
pub struct VerifyOptions {
    /// Pair with the one other device of the code's meeting place before anything flows.
    pub code: Option<PairingCode>,
    /// Let in only peers paired in this run or remembered as verified.
    pub require_verified: bool,
    /// Remember a device paired in this run.
    pub remember: bool,
    /// Where this device keeps its certificate and its verified devices.
    pub config_dir: PathBuf,
}

/// Whether a peer's chat and files may flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Admitted,
    /// Not yet: the pairing with it has not succeeded.
    Pairing,
    /// Never in this run: `--require-verified`, and it is not verified.
    Refused,
}

/// What verification has to tell the room.
pub enum VerificationEvent {
    /// Both ends of the link to `peer` agree on this number.
    SafetyNumber { peer: PeerId, number: SafetyNumber },
    /// The peer proved the code and the link.
    Paired { peer: PeerId, fingerprint: String },
    /// The pairing failed; the code is spent.
    PairingFailed(PairingError),
}

/// Everything to send or say after feeding verification something.
#[derive(Default)]
pub struct Effects {
    /// Frames for a peer's control channel, on the link they belong to.
    pub frames: Vec<(Arc<PeerLink>, ControlFrame)>,
    /// Signals for a peer, through the server.
    pub signals: Vec<(PeerId, Signal)>,
    pub events: Vec<VerificationEvent>,
}

/// The verification state of one run.
pub struct Verification {
    /// One safety-number exchange per peer, for its latest link.
    checks: HashMap<PeerId, (Arc<PeerLink>, SafetyCheck)>,
    /// Set when this run pairs by code.
    pairing: Option<Pairing>,
    /// Whom the PAKE message went to: the first other device in the meeting place.
    pairing_with: Option<PeerId>,
    /// The link to it, once up.
    pairing_link: Option<Arc<PeerLink>>,
    known: KnownDevices,
    /// Where to remember paired devices, with `--remember`.
    store: Option<PathBuf>,
    require_verified: bool,
}

impl Verification {
    /// Reads the remembered devices from the config directory; a list that cannot be
    /// read is an error rather than an empty list, so `--require-verified` never
    /// silently forgets a device.
    pub fn new(options: VerifyOptions) -> Result<Self> {
        let path = options.config_dir.join(KNOWN_DEVICES_FILE);
        let known = load(&path)?;
        Ok(Self {
            checks: HashMap::new(),
            pairing: options
                .code
                .as_ref()
                .map(|code| Pairing::start(code, seed())),
            pairing_with: None,
            pairing_link: None,
            known,
            store: options.remember.then_some(path),
            require_verified: options.require_verified,
        })
    }

    /// Whether chat and files from and to `peer`, whose link has DTLS fingerprint
    /// `fingerprint`, may flow.
    pub fn admission(&self, peer: &PeerId, fingerprint: Option<&str>) -> Admission {
        if let Some(pairing) = &self.pairing {
            let paired = matches!(pairing.state(), PairingState::Paired { .. });
            return if paired && self.pairing_with.as_ref() == Some(peer) {
                Admission::Admitted
            } else {
                Admission::Pairing
            };
        }
        let known = fingerprint.is_some_and(|fp| self.known.get(fp).is_some());
        if self.require_verified && !known {
            Admission::Refused
        } else {
            Admission::Admitted
        }
    }

    /// `peer` is in the room: in a meeting place, the one to pair with.
    pub fn on_peer_present(&mut self, peer: &PeerId) -> Effects {
        let mut effects = Effects::default();
        if let (Some(pairing), None) = (&mut self.pairing, &self.pairing_with) {
            self.pairing_with = Some(peer.clone());
            while let Some(signal) = pairing.poll_signal() {
                effects.signals.push((peer.clone(), signal));
            }
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

    /// `link` to `peer` is up, with these (ours, theirs) fingerprints.
    pub fn on_link_up(
        &mut self,
        peer: &PeerId,
        link: &Arc<PeerLink>,
        fingerprints: &(String, String),
    ) -> Effects {
        let mut effects = Effects::default();
        self.check(peer, link, fingerprints, &mut effects);
        if self.pairing_with.as_ref() == Some(peer) {
            if let Some(pairing) = &mut self.pairing {
                self.pairing_link = Some(link.clone());
                let result = pairing.handle_link_up(&fingerprints.0, &fingerprints.1);
                self.pairing_outcome(peer, result, &mut effects);
            }
        }
        effects
    }

    /// A safety or pairing frame from `peer` on `link`, whose fingerprints are these.
    pub fn on_frame(
        &mut self,
        peer: &PeerId,
        link: &Arc<PeerLink>,
        fingerprints: Option<&(String, String)>,
        frame: &ControlFrame,
    ) -> Effects {
        let mut effects = Effects::default();
        if let ControlFrame::PairConfirm { key_mac, link_mac } = frame {
            if let (Some(pairing), true) =
                (&mut self.pairing, self.pairing_with.as_ref() == Some(peer))
            {
                let result = pairing.handle_confirm(key_mac, link_mac);
                self.pairing_outcome(peer, result, &mut effects);
            }
            return effects;
        }
        // The peer's commitment may arrive before the mesh told us the link is up.
        if let Some(fingerprints) = fingerprints {
            self.check(peer, link, fingerprints, &mut effects);
        }
        let Some((at, check)) = self.checks.get_mut(peer) else {
            return effects;
        };
        if !Arc::ptr_eq(at, link) {
            return effects;
        }
        let had_number = check.safety_number().is_some();
        if let Err(error) = check.handle_frame(frame) {
            tracing::warn!(%peer, %error, "safety number exchange failed");
        }
        while let Some(frame) = check.poll_frame() {
            effects.frames.push((link.clone(), frame));
        }
        if let (false, Some(number)) = (had_number, check.safety_number()) {
            effects.events.push(VerificationEvent::SafetyNumber {
                peer: peer.clone(),
                number: *number,
            });
        }
        effects
    }

    /// Remembers a device paired in this run, if `--remember` asked for it.
    pub fn remember(&mut self, name: &str, fingerprint: &str) -> Result<Option<&Path>> {
        let Some(path) = &self.store else {
            return Ok(None);
        };
        self.known.verify(name, fingerprint, true);
        let json = serde_json::to_string_pretty(&self.known).expect("plain data serializes");
        std::fs::write(path, json).map_err(|error| Error::KnownDevices {
            path: path.clone(),
            reason: format!("cannot write the verified devices: {error}"),
        })?;
        Ok(Some(path))
    }

    /// Starts the safety-number exchange of `link`, unless it runs already (an ICE
    /// restart brings the same link up again).
    fn check(
        &mut self,
        peer: &PeerId,
        link: &Arc<PeerLink>,
        (local, remote): &(String, String),
        effects: &mut Effects,
    ) {
        if self
            .checks
            .get(peer)
            .is_some_and(|(at, _)| Arc::ptr_eq(at, link))
        {
            return;
        }
        let mut check = SafetyCheck::new(local, remote, seed());
        while let Some(frame) = check.poll_frame() {
            effects.frames.push((link.clone(), frame));
        }
        self.checks.insert(peer.clone(), (link.clone(), check));
    }

    fn pairing_outcome(
        &mut self,
        peer: &PeerId,
        result: std::result::Result<(), PairingError>,
        effects: &mut Effects,
    ) {
        let Some(pairing) = &mut self.pairing else {
            return;
        };
        if let Some(link) = &self.pairing_link {
            while let Some(frame) = pairing.poll_frame() {
                effects.frames.push((link.clone(), frame));
            }
        }
        match (result, pairing.state()) {
            (Err(error), _) => effects.events.push(VerificationEvent::PairingFailed(error)),
            (Ok(()), PairingState::Paired { fingerprint }) => {
                effects.events.push(VerificationEvent::Paired {
                    peer: peer.clone(),
                    fingerprint: fingerprint.clone(),
                });
            }
            (Ok(()), _) => {}
        }
    }
}

fn load(path: &Path) -> Result<KnownDevices> {
    let unusable = |reason: String| Error::KnownDevices {
        path: path.to_owned(),
        reason,
    };
    match std::fs::read_to_string(path) {
        Ok(json) => serde_json::from_str(&json)
            .map_err(|error| unusable(format!("not a list of verified devices: {error}"))),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(KnownDevices::default()),
        Err(error) => Err(unusable(error.to_string())),
    }
}

/// 32 bytes of the operating system's CSPRNG.
fn seed() -> [u8; 32] {
    random()
}

/// `N` bytes of the operating system's CSPRNG.
pub fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    OsRng
        .try_fill_bytes(&mut bytes)
        .expect("the operating system's random number generator works");
    bytes
}
