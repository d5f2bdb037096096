//! Verification of all of one device's links: which link runs which [`SafetyCheck`], who
//! the one device to [`Pairing`] with is, and whom to let in.
//!
//! The web app and the native peer both drive this, so both decide alike: a device
//! that came with a code pairs with the first other device of the meeting place and lets
//! nobody in but it, once paired; a device that requires verified peers lets in only
//! those it remembers (the app knows its [`crate::KnownDevices`]); every link gets a
//! safety number, started when the link is up or when the peer's commitment arrives
//! first, and started again only for a new link (an ICE restart keeps the link).
//!
//! `P` names a peer, `L` one link to it. Randomness comes from the caller's seed.

use meshdrop_protocol::frame::ControlFrame;
use meshdrop_protocol::signaling::Signal;
use meshdrop_sorted_map::SortedMap;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

use crate::code::PairingCode;
use crate::pairing::{Pairing, PairingError, PairingState};
use crate::safety::{SafetyCheck, SafetyError, SafetyNumber};

/// What verification has to tell the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifierEvent<P> {
    /// The link to `peer` is up, to a device with this DTLS fingerprint.
    Fingerprint { peer: P, fingerprint: String },
    /// Both ends of the link to `peer` agree on this number.
    SafetyNumber { peer: P, number: SafetyNumber },
    /// The safety-number exchange with `peer` broke: its link shows no number.
    SafetyFailed { peer: P, error: SafetyError },
    /// The peer proved the code and the link.
    Paired { peer: P, fingerprint: String },
    /// The pairing failed; the code is spent.
    PairingFailed(PairingError),
}

/// Everything to send or say after feeding verification something about one peer.
#[derive(Debug)]
pub struct Effects<P> {
    /// Frames for the peer's control channel.
    pub frames: Vec<ControlFrame>,
    /// Signals for the peer, through the server.
    pub signals: Vec<Signal>,
    pub events: Vec<VerifierEvent<P>>,
}

impl<P> Default for Effects<P> {
    fn default() -> Self {
        Self {
            frames: Vec::new(),
            signals: Vec::new(),
            events: Vec::new(),
        }
    }
}

/// Whether chat and files from and to a peer may flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Admitted,
    /// Not (yet): this device pairs by code, and not (yet) with this peer.
    Pairing,
    /// Never: verified peers are required, and this one is not.
    Refused,
}

/// The verification state of one device.
pub struct Verifier<P, L> {
    rng: ChaCha20Rng,
    /// One safety-number exchange per peer, for its latest link.
    checks: SortedMap<P, (L, SafetyCheck)>,
    /// Set when this device came with a code.
    pairing: Option<Pairing>,
    /// Whom the PAKE message went to: the first other device in the meeting place.
    pairing_with: Option<P>,
    require_verified: bool,
}

impl<P: Clone + Ord, L: Clone + PartialEq> Verifier<P, L> {
    /// Verification for a device that pairs with `code`, if any, and lets in only
    /// verified peers if `require_verified`; `seed` is 32 bytes of the caller's CSPRNG.
    pub fn new(code: Option<&PairingCode>, require_verified: bool, seed: [u8; 32]) -> Self {
        let mut rng = ChaCha20Rng::from_seed(seed);
        let pairing = code.map(|code| Pairing::start(code, random(&mut rng)));
        Self {
            rng,
            checks: SortedMap::new(),
            pairing,
            pairing_with: None,
            require_verified,
        }
    }

    /// Whether chat and files from and to `peer` may flow; `remembered`: the app
    /// remembers the device at the other end of its link as verified.
    pub fn admission(&self, peer: &P, remembered: bool) -> Admission {
        if let Some(pairing) = &self.pairing {
            let paired = matches!(pairing.state(), PairingState::Paired { .. });
            if paired && self.pairing_with.as_ref() == Some(peer) {
                return Admission::Admitted;
            }
            return Admission::Pairing;
        }
        if self.require_verified && !remembered {
            Admission::Refused
        } else {
            Admission::Admitted
        }
    }

    /// `peer` is in the room: in a meeting place, the one to pair with.
    pub fn on_peer_present(&mut self, peer: &P) -> Effects<P> {
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
    pub fn on_pake(&mut self, peer: &P, message: &str) -> Effects<P> {
        let mut effects = self.on_peer_present(peer);
        if self.pairing_with.as_ref() == Some(peer) {
            if let Some(pairing) = &mut self.pairing {
                let result = pairing.handle_pake(message);
                self.pairing_outcome(peer, result, &mut effects);
            }
        }
        effects
    }

    /// `link` to `peer` is up with these (ours, theirs) DTLS fingerprints.
    pub fn on_link_up(&mut self, peer: &P, link: L, fingerprints: &(String, String)) -> Effects<P> {
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

    /// A safety or pairing frame from `peer` on `link`, whose fingerprints are these
    /// if its descriptions are both set.
    pub fn on_frame(
        &mut self,
        peer: &P,
        link: L,
        fingerprints: Option<&(String, String)>,
        frame: &ControlFrame,
    ) -> Effects<P> {
        let mut effects = Effects::default();
        if let ControlFrame::PairConfirm { key_mac, link_mac } = frame {
            if self.pairing_with.as_ref() == Some(peer) {
                if let Some(pairing) = &mut self.pairing {
                    let result = pairing.handle_confirm(key_mac, link_mac);
                    self.pairing_outcome(peer, result, &mut effects);
                }
            }
            return effects;
        }
        // The peer's commitment may arrive before our side saw the link up.
        if let Some(fingerprints) = fingerprints {
            self.check(peer, link.clone(), fingerprints, &mut effects);
        }
        let Some((_, check)) = self.checks.get_mut(peer).filter(|(at, _)| *at == link) else {
            return effects;
        };
        let had_number = check.safety_number().is_some();
        if let Err(error) = check.handle_frame(frame) {
            effects.events.push(VerifierEvent::SafetyFailed {
                peer: peer.clone(),
                error,
            });
        }
        effects
            .frames
            .extend(std::iter::from_fn(|| check.poll_frame()));
        if let (false, Some(number)) = (had_number, check.safety_number()) {
            effects.events.push(VerifierEvent::SafetyNumber {
                peer: peer.clone(),
                number: *number,
            });
        }
        effects
    }

    /// Starts the safety-number exchange of `link`, unless it runs already.
    fn check(
        &mut self,
        peer: &P,
        link: L,
        (local, remote): &(String, String),
        effects: &mut Effects<P>,
    ) {
        if self.checks.get(peer).is_some_and(|(at, _)| *at == link) {
            return;
        }
        let mut check = SafetyCheck::new(local, remote, random(&mut self.rng));
        effects
            .frames
            .extend(std::iter::from_fn(|| check.poll_frame()));
        effects.events.push(VerifierEvent::Fingerprint {
            peer: peer.clone(),
            fingerprint: remote.clone(),
        });
        self.checks.insert(peer.clone(), (link, check));
    }

    fn pairing_outcome(
        &mut self,
        peer: &P,
        result: Result<(), PairingError>,
        effects: &mut Effects<P>,
    ) {
        let Some(pairing) = &mut self.pairing else {
            return;
        };
        effects
            .frames
            .extend(std::iter::from_fn(|| pairing.poll_frame()));
        match (result, pairing.state()) {
            (Err(error), _) => effects.events.push(VerifierEvent::PairingFailed(error)),
            (Ok(()), PairingState::Paired { fingerprint }) => {
                effects.events.push(VerifierEvent::Paired {
                    peer: peer.clone(),
                    fingerprint: fingerprint.clone(),
                });
            }
            (Ok(()), _) => {}
        }
    }
}

fn random(rng: &mut ChaCha20Rng) -> [u8; 32] {
    let mut bytes = [0u8; 32];
    rng.fill_bytes(&mut bytes);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANN: &str = "sha-256 AA:01";
    const BOB: &str = "sha-256 BB:02";

    type Device = Verifier<&'static str, u32>;

    fn code(text: &str) -> PairingCode {
        PairingCode::parse(text).unwrap()
    }

    fn sees(local: &str, remote: &str) -> (String, String) {
        (local.to_owned(), remote.to_owned())
    }

    /// What one side says to the other, and what it tells its app.
    #[derive(Default)]
    struct Said {
        frames: Vec<ControlFrame>,
        signals: Vec<Signal>,
        events: Vec<VerifierEvent<&'static str>>,
    }

    impl Said {
        fn take(&mut self, effects: Effects<&'static str>) {
            self.frames.extend(effects.frames);
            self.signals.extend(effects.signals);
            self.events.extend(effects.events);
        }
    }

    /// Ann and Bob, each present to the other, with link 1 up between them, deliver
    /// everything until neither has more to say; returns what each told its app.
    fn run(
        mut ann: Device,
        mut bob: Device,
        ann_sees: (String, String),
        bob_sees: (String, String),
    ) -> (Device, Device, Said, Said) {
        let (mut to_bob, mut to_ann) = (Said::default(), Said::default());
        let (mut ann_app, mut bob_app) = (Said::default(), Said::default());
        to_bob.take(ann.on_peer_present(&"bob"));
        to_ann.take(bob.on_peer_present(&"ann"));
        to_bob.take(ann.on_link_up(&"bob", 1, &ann_sees));
        to_ann.take(bob.on_link_up(&"ann", 1, &bob_sees));
        loop {
            let (for_bob, for_ann) = (std::mem::take(&mut to_bob), std::mem::take(&mut to_ann));
            ann_app.events.extend(for_bob.events);
            bob_app.events.extend(for_ann.events);
            if for_bob.frames.is_empty()
                && for_bob.signals.is_empty()
                && for_ann.frames.is_empty()
                && for_ann.signals.is_empty()
            {
                return (ann, bob, ann_app, bob_app);
            }
            for signal in for_bob.signals {
                let Signal::Pake { message } = signal else {
                    panic!("{signal:?}")
                };
                to_ann.take(bob.on_pake(&"ann", &message));
            }
            for frame in for_bob.frames {
                to_ann.take(bob.on_frame(&"ann", 1, Some(&bob_sees), &frame));
            }
            for signal in for_ann.signals {
                let Signal::Pake { message } = signal else {
                    panic!("{signal:?}")
                };
                to_bob.take(ann.on_pake(&"bob", &message));
            }
            for frame in for_ann.frames {
                to_bob.take(ann.on_frame(&"bob", 1, Some(&ann_sees), &frame));
            }
        }
    }

    fn number(events: &[VerifierEvent<&'static str>]) -> Option<SafetyNumber> {
        events.iter().find_map(|event| match event {
            VerifierEvent::SafetyNumber { number, .. } => Some(*number),
            _ => None,
        })
    }

    #[test]
    fn two_devices_with_one_code_pair_and_only_then_let_each_other_in() {
        let ann = Device::new(Some(&code("4172-pupil-brave")), false, [1; 32]);
        let bob = Device::new(Some(&code("4172-pupil-brave")), false, [2; 32]);
        assert_eq!(ann.admission(&"bob", true), Admission::Pairing);
        let (ann, bob, ann_app, bob_app) = run(ann, bob, sees(ANN, BOB), sees(BOB, ANN));
        assert!(ann_app.events.contains(&VerifierEvent::Paired {
            peer: "bob",
            fingerprint: BOB.into()
        }));
        assert!(bob_app.events.contains(&VerifierEvent::Paired {
            peer: "ann",
            fingerprint: ANN.into()
        }));
        assert!(number(&ann_app.events).is_some());
        assert_eq!(number(&ann_app.events), number(&bob_app.events));
        assert_eq!(ann.admission(&"bob", false), Admission::Admitted);
        assert_eq!(bob.admission(&"ann", false), Admission::Admitted);
        // Anyone else in the meeting place is never let in.
        assert_eq!(ann.admission(&"carol", true), Admission::Pairing);
    }

    #[test]
    fn a_wrong_code_is_told_on_both_sides_and_lets_nobody_in() {
        let ann = Device::new(Some(&code("4172-pupil-brave")), false, [1; 32]);
        let bob = Device::new(Some(&code("4172-pupil-bread")), false, [2; 32]);
        let (ann, _, ann_app, bob_app) = run(ann, bob, sees(ANN, BOB), sees(BOB, ANN));
        for events in [&ann_app.events, &bob_app.events] {
            assert!(
                events.contains(&VerifierEvent::PairingFailed(PairingError::WrongCode)),
                "{events:?}"
            );
        }
        assert_eq!(ann.admission(&"bob", false), Admission::Pairing);
    }

    #[test]
    fn requiring_verified_peers_lets_in_only_remembered_ones() {
        let strict = Device::new(None, true, [1; 32]);
        assert_eq!(strict.admission(&"bob", false), Admission::Refused);
        assert_eq!(strict.admission(&"bob", true), Admission::Admitted);
        let open = Device::new(None, false, [1; 32]);
        assert_eq!(open.admission(&"bob", false), Admission::Admitted);
    }

    #[test]
    fn every_link_gets_a_safety_number_once_and_a_new_link_a_new_one() {
        let (ann, bob) = (
            Device::new(None, false, [1; 32]),
            Device::new(None, false, [2; 32]),
        );
        let (mut ann, mut bob, ann_app, bob_app) = run(ann, bob, sees(ANN, BOB), sees(BOB, ANN));
        let first = number(&ann_app.events).unwrap();
        assert_eq!(Some(first), number(&bob_app.events));
        // The same link up again (an ICE restart): nothing to say.
        assert!(ann.on_link_up(&"bob", 1, &sees(ANN, BOB)).frames.is_empty());
        // A new link: a new exchange, started by the peer's commitment if it comes first.
        let bob_commit = bob.on_link_up(&"ann", 2, &sees(BOB, ANN)).frames;
        let answer = ann.on_frame(&"bob", 2, Some(&sees(ANN, BOB)), &bob_commit[0]);
        assert!(
            matches!(
                answer.frames[..],
                [
                    ControlFrame::SafetyCommit { .. },
                    ControlFrame::SafetyReveal { .. }
                ]
            ),
            "{:?}",
            answer.frames
        );
        // A frame of the old link is not mixed into the new exchange.
        assert!(ann
            .on_frame(&"bob", 1, None, &bob_commit[0])
            .events
            .is_empty());
    }
}
