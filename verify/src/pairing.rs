//! Pairing by code: SPAKE2 through the server, then a key confirmation on the link.
//!
//! Both devices know the [`PairingCode`]. Each sends one SPAKE2 message (symmetric
//! mode) as a [`Signal::Pake`] through the server; from the other's message each
//! derives a key that only a holder of the code's words can derive too. A passive
//! server learns nothing that lets it test guesses offline; an active one gets one
//! online guess, and the meeting place admits nobody after that.
//!
//! The key then confirms the link, which is why a man in the middle fails even with
//! the right code relayed: once the link is up each side sends a
//! [`ControlFrame::PairConfirm`] with two MACs under the key, one over both PAKE
//! messages (proves the code) and one over the link's two DTLS fingerprints as the
//! sender sees them (proves nobody else terminates the link). Each side checks the other's
//! against its own view; only then is the peer paired, and only then should the app
//! accept chat or files from it.
//!
//! Every MAC names its sender's message or fingerprint first, so a MAC reflected back to
//! its sender never checks out.

use std::collections::VecDeque;

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use meshdrop_protocol::frame::ControlFrame;
use meshdrop_protocol::signaling::Signal;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use sha2::Sha256;
use spake2::{Ed25519Group, Identity, Password, Spake2};

use crate::code::PairingCode;

type HmacSha256 = Hmac<Sha256>;

const IDENTITY_CONTEXT: &str = "meshdrop pair v1";
const KEY_INFO: &[u8] = b"meshdrop pair confirm v1";
const KEY_MAC_CONTEXT: &[u8] = b"key";
const LINK_MAC_CONTEXT: &[u8] = b"link";

/// Why a pairing failed. It does not go on after any of these: the code is spent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PairingError {
    #[error("wrong code: the other device used a different one")]
    WrongCode,
    #[error(
        "this connection is not authentic: someone between you and the other device \
         (perhaps the server) holds its keys"
    )]
    NotAuthentic,
    #[error("a pairing message was replayed or sent twice")]
    Replayed,
    #[error("a pairing message was malformed: {0}")]
    Malformed(&'static str),
}

/// Where a pairing stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairingState {
    /// Waiting for the other device's PAKE message, or for the link, or for its
    /// confirmation.
    Pairing,
    /// The other device proved the code and the link: it is who typed the code.
    Paired {
        /// Its DTLS fingerprint, to remember it by.
        fingerprint: String,
    },
    Failed(PairingError),
}

/// One device's side of a pairing.
pub struct Pairing {
    spake: Option<Spake2<Ed25519Group>>,
    own_message: Vec<u8>,
    peer_message: Option<Vec<u8>>,
    /// The MAC key, once the PAKE is done.
    key: Option<[u8; 32]>,
    /// (ours, the peer's) DTLS fingerprints of the link, once it is up.
    link: Option<(String, String)>,
    confirm_sent: bool,
    /// The peer's confirmation, kept until the key and the link are both known.
    peer_confirm: Option<(String, String)>,
    state: PairingState,
    signals: VecDeque<Signal>,
    frames: VecDeque<ControlFrame>,
}

impl Pairing {
    /// Starts pairing with `code`; `seed` is 32 bytes of the caller's CSPRNG. The PAKE
    /// message is the first signal to send.
    pub fn start(code: &PairingCode, seed: [u8; 32]) -> Self {
        let identity = format!("{IDENTITY_CONTEXT} {}", code.number());
        let (spake, message) = Spake2::<Ed25519Group>::start_symmetric_with_rng(
            &Password::new(code.secret()),
            &Identity::new(identity.as_bytes()),
            ChaCha20Rng::from_seed(seed),
        );
        let signal = Signal::Pake {
            message: hex::encode(&message),
        };
        Self {
            spake: Some(spake),
            own_message: message,
            peer_message: None,
            key: None,
            link: None,
            confirm_sent: false,
            peer_confirm: None,
            state: PairingState::Pairing,
            signals: VecDeque::from([signal]),
            frames: VecDeque::new(),
        }
    }

    pub fn state(&self) -> &PairingState {
        &self.state
    }

    /// The next signal to send to the other device through the server.
    pub fn poll_signal(&mut self) -> Option<Signal> {
        self.signals.pop_front()
    }

    /// The next frame to send on the link's control channel.
    pub fn poll_frame(&mut self) -> Option<ControlFrame> {
        self.frames.pop_front()
    }

    /// The other device's PAKE message (hex), as relayed by the server.
    pub fn handle_pake(&mut self, message: &str) -> Result<(), PairingError> {
        self.guard(|pairing| {
            let message = hex::decode(message).map_err(|_| PairingError::Malformed("not hex"))?;
            // A second message, or ours sent back to us.
            if pairing.peer_message.is_some() || message == pairing.own_message {
                return Err(PairingError::Replayed);
            }
            let spake = pairing.spake.take().ok_or(PairingError::Replayed)?;
            let shared = spake
                .finish(&message)
                .map_err(|_| PairingError::Malformed("not a SPAKE2 message"))?;
            let mut key = [0u8; 32];
            Hkdf::<Sha256>::new(None, &shared)
                .expand(KEY_INFO, &mut key)
                .expect("32 bytes is a valid HKDF-SHA-256 length");
            pairing.key = Some(key);
            pairing.peer_message = Some(message);
            pairing.advance()
        })
    }

    /// The link to the other device is up, with these DTLS fingerprints: `local` from
    /// our local description, `remote` from the remote one. For a link built again
    /// after pairing, the peer must still be the paired device.
    pub fn handle_link_up(&mut self, local: &str, remote: &str) -> Result<(), PairingError> {
        if let PairingState::Paired { fingerprint } = &self.state {
            if fingerprint != remote {
                self.state = PairingState::Failed(PairingError::NotAuthentic);
                return Err(PairingError::NotAuthentic);
            }
            return Ok(());
        }
        self.guard(|pairing| {
            pairing.link = Some((local.to_owned(), remote.to_owned()));
            pairing.advance()
        })
    }

    /// The other device's [`ControlFrame::PairConfirm`].
    pub fn handle_confirm(&mut self, key_mac: &str, link_mac: &str) -> Result<(), PairingError> {
        self.guard(|pairing| {
            if pairing.peer_confirm.is_some() {
                return Err(PairingError::Replayed);
            }
            pairing.peer_confirm = Some((key_mac.to_owned(), link_mac.to_owned()));
            pairing.advance()
        })
    }

    /// Runs a step unless the pairing already ended; a failed step ends it.
    fn guard(
        &mut self,
        step: impl FnOnce(&mut Self) -> Result<(), PairingError>,
    ) -> Result<(), PairingError> {
        match &self.state {
            PairingState::Failed(error) => return Err(error.clone()),
            PairingState::Paired { .. } => return Err(PairingError::Replayed),
            PairingState::Pairing => {}
        }
        let result = step(self);
        if let Err(error) = &result {
            self.state = PairingState::Failed(error.clone());
        }
        result
    }

    /// Sends our confirmation and checks the peer's, as soon as each can be done.
    fn advance(&mut self) -> Result<(), PairingError> {
        let (Some(key), Some((local, remote)), Some(peer_message)) =
            (self.key, &self.link, &self.peer_message)
        else {
            return Ok(());
        };
        if !self.confirm_sent {
            self.confirm_sent = true;
            self.frames.push_back(ControlFrame::PairConfirm {
                key_mac: hex::encode(mac(&key, KEY_MAC_CONTEXT, &self.own_message, peer_message)),
                link_mac: hex::encode(mac(
                    &key,
                    LINK_MAC_CONTEXT,
                    local.as_bytes(),
                    remote.as_bytes(),
                )),
            });
        }
        let Some((key_mac, link_mac)) = &self.peer_confirm else {
            return Ok(());
        };
        // The peer's MACs name the peer's side first.
        check(
            &key,
            KEY_MAC_CONTEXT,
            peer_message,
            &self.own_message,
            key_mac,
        )
        .map_err(|()| PairingError::WrongCode)?;
        check(
            &key,
            LINK_MAC_CONTEXT,
            remote.as_bytes(),
            local.as_bytes(),
            link_mac,
        )
        .map_err(|()| PairingError::NotAuthentic)?;
        self.state = PairingState::Paired {
            fingerprint: remote.clone(),
        };
        Ok(())
    }
}

fn keyed(key: &[u8; 32], context: &[u8], sender: &[u8], receiver: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(context);
    for part in [sender, receiver] {
        mac.update(&(part.len() as u32).to_be_bytes());
        mac.update(part);
    }
    mac
}

fn mac(key: &[u8; 32], context: &[u8], sender: &[u8], receiver: &[u8]) -> Vec<u8> {
    keyed(key, context, sender, receiver)
        .finalize()
        .into_bytes()
        .to_vec()
}

/// Whether `tag` (hex) is the MAC of the parts; compared in constant time.
fn check(
    key: &[u8; 32],
    context: &[u8],
    sender: &[u8],
    receiver: &[u8],
    tag: &str,
) -> Result<(), ()> {
    let tag = hex::decode(tag).map_err(|_| ())?;
    keyed(key, context, sender, receiver)
        .verify_slice(&tag)
        .map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANN: &str = "sha-256 AA:01";
    const BOB: &str = "sha-256 BB:02";

    fn code(text: &str) -> PairingCode {
        PairingCode::parse(text).unwrap()
    }

    fn pake(pairing: &mut Pairing) -> String {
        match pairing.poll_signal() {
            Some(Signal::Pake { message }) => message,
            other => panic!("expected a PAKE message, got {other:?}"),
        }
    }

    fn confirm(pairing: &mut Pairing) -> (String, String) {
        match pairing.poll_frame() {
            Some(ControlFrame::PairConfirm { key_mac, link_mac }) => (key_mac, link_mac),
            other => panic!("expected a confirmation, got {other:?}"),
        }
    }

    /// Two devices pair over a link on which `ann_sees` and `bob_sees` are the
    /// (local, remote) fingerprints; returns both outcomes.
    fn pair(
        ann_code: &str,
        bob_code: &str,
        ann_sees: (&str, &str),
        bob_sees: (&str, &str),
    ) -> (Result<(), PairingError>, Result<(), PairingError>) {
        let mut ann = Pairing::start(&code(ann_code), [1; 32]);
        let mut bob = Pairing::start(&code(bob_code), [2; 32]);
        let (to_bob, to_ann) = (pake(&mut ann), pake(&mut bob));
        ann.handle_pake(&to_ann).unwrap();
        bob.handle_pake(&to_bob).unwrap();
        ann.handle_link_up(ann_sees.0, ann_sees.1).unwrap();
        bob.handle_link_up(bob_sees.0, bob_sees.1).unwrap();
        let (from_ann, from_bob) = (confirm(&mut ann), confirm(&mut bob));
        (
            ann.handle_confirm(&from_bob.0, &from_bob.1),
            bob.handle_confirm(&from_ann.0, &from_ann.1),
        )
    }

    #[test]
    fn the_same_code_on_a_direct_link_pairs() {
        let mut ann = Pairing::start(&code("4172-pupil-brave"), [1; 32]);
        let mut bob = Pairing::start(&code("4172 PUPI brav"), [2; 32]);
        let (to_bob, to_ann) = (pake(&mut ann), pake(&mut bob));
        // The link may come up before the PAKE is done, and a confirmation may arrive
        // before our own key is known: both wait.
        ann.handle_link_up(ANN, BOB).unwrap();
        assert_eq!(ann.poll_frame(), None);
        bob.handle_link_up(BOB, ANN).unwrap();
        bob.handle_pake(&to_bob).unwrap();
        let from_bob = confirm(&mut bob);
        ann.handle_confirm(&from_bob.0, &from_bob.1).unwrap();
        assert_eq!(ann.state(), &PairingState::Pairing);
        ann.handle_pake(&to_ann).unwrap();
        let from_ann = confirm(&mut ann);
        bob.handle_confirm(&from_ann.0, &from_ann.1).unwrap();
        assert_eq!(
            ann.state(),
            &PairingState::Paired {
                fingerprint: BOB.into()
            }
        );
        assert_eq!(
            bob.state(),
            &PairingState::Paired {
                fingerprint: ANN.into()
            }
        );
    }

    #[test]
    fn a_wrong_code_fails_on_both_sides() {
        let outcome = pair(
            "4172-pupil-brave",
            "4172-pupil-bread",
            (ANN, BOB),
            (BOB, ANN),
        );
        assert_eq!(
            outcome,
            (Err(PairingError::WrongCode), Err(PairingError::WrongCode))
        );
    }

    #[test]
    fn a_man_in_the_middle_fails_the_link_confirmation_on_both_sides() {
        // He relays the PAKE messages (he cannot do better without the code), but
        // terminates the link to each side with a certificate of his own.
        let outcome = pair(
            "4172-pupil-brave",
            "4172-pupil-brave",
            (ANN, "sha-256 CC:03"),
            (BOB, "sha-256 DD:04"),
        );
        assert_eq!(
            outcome,
            (
                Err(PairingError::NotAuthentic),
                Err(PairingError::NotAuthentic)
            )
        );
    }

    #[test]
    fn a_replayed_pake_message_is_refused() {
        // From an earlier pairing with the very same code.
        let mut earlier = Pairing::start(&code("4172-pupil-brave"), [7; 32]);
        let recorded = pake(&mut earlier);

        let mut bob = Pairing::start(&code("4172-pupil-brave"), [2; 32]);
        bob.handle_pake(&recorded).unwrap();
        bob.handle_link_up(BOB, "sha-256 EE:05").unwrap();
        // Whoever replays it lacks the secret behind it, so cannot make the key: its
        // best is a confirmation under a key of its own.
        let mut replayer = Pairing::start(&code("4172-pupil-brave"), [9; 32]);
        replayer.handle_pake(&pake(&mut bob)).unwrap();
        replayer.handle_link_up("sha-256 EE:05", BOB).unwrap();
        let forged = confirm(&mut replayer);
        assert_eq!(
            bob.handle_confirm(&forged.0, &forged.1),
            Err(PairingError::WrongCode)
        );

        // Sent twice, or our own sent back: refused outright.
        let mut ann = Pairing::start(&code("4172-pupil-brave"), [1; 32]);
        let mut bob = Pairing::start(&code("4172-pupil-brave"), [2; 32]);
        let to_ann = pake(&mut bob);
        ann.handle_pake(&to_ann).unwrap();
        assert_eq!(ann.handle_pake(&to_ann), Err(PairingError::Replayed));
        let mut ann = Pairing::start(&code("4172-pupil-brave"), [1; 32]);
        let own = pake(&mut ann);
        assert_eq!(ann.handle_pake(&own), Err(PairingError::Replayed));
    }

    #[test]
    fn a_reflected_confirmation_is_refused() {
        let mut ann = Pairing::start(&code("4172-pupil-brave"), [1; 32]);
        let mut bob = Pairing::start(&code("4172-pupil-brave"), [2; 32]);
        ann.handle_pake(&pake(&mut bob)).unwrap();
        ann.handle_link_up(ANN, BOB).unwrap();
        let own = confirm(&mut ann);
        assert_eq!(
            ann.handle_confirm(&own.0, &own.1),
            Err(PairingError::WrongCode)
        );
    }

    #[test]
    fn garbage_fails_with_a_clear_error_and_ends_the_pairing() {
        let mut ann = Pairing::start(&code("4172-pupil-brave"), [1; 32]);
        assert_eq!(
            ann.handle_pake("zz"),
            Err(PairingError::Malformed("not hex"))
        );
        assert!(matches!(ann.state(), PairingState::Failed(_)));
        let mut ann = Pairing::start(&code("4172-pupil-brave"), [1; 32]);
        assert_eq!(
            ann.handle_pake("00ff"),
            Err(PairingError::Malformed("not a SPAKE2 message"))
        );
        let mut ann = Pairing::start(&code("4172-pupil-brave"), [1; 32]);
        let mut bob = Pairing::start(&code("4172-pupil-brave"), [2; 32]);
        ann.handle_pake(&pake(&mut bob)).unwrap();
        ann.handle_link_up(ANN, BOB).unwrap();
        assert_eq!(
            ann.handle_confirm("not hex", "00"),
            Err(PairingError::WrongCode)
        );
    }

    #[test]
    fn a_rebuilt_link_must_lead_to_the_paired_device() {
        let mut ann = Pairing::start(&code("4172-pupil-brave"), [1; 32]);
        let mut bob = Pairing::start(&code("4172-pupil-brave"), [2; 32]);
        let (to_bob, to_ann) = (pake(&mut ann), pake(&mut bob));
        ann.handle_pake(&to_ann).unwrap();
        bob.handle_pake(&to_bob).unwrap();
        ann.handle_link_up(ANN, BOB).unwrap();
        bob.handle_link_up(BOB, ANN).unwrap();
        let (from_ann, from_bob) = (confirm(&mut ann), confirm(&mut bob));
        ann.handle_confirm(&from_bob.0, &from_bob.1).unwrap();
        ann.handle_link_up(ANN, BOB).unwrap();
        assert_eq!(
            ann.handle_link_up(ANN, "sha-256 CC:03"),
            Err(PairingError::NotAuthentic)
        );
        let _ = from_ann;
    }

    #[test]
    fn the_pake_messages_do_not_contain_the_code() {
        let mut ann = Pairing::start(&code("4172-pupil-brave"), [1; 32]);
        let message = pake(&mut ann);
        let bytes = hex::decode(&message).unwrap();
        assert_eq!(bytes.len(), 33);
        for secret in ["pupil", "brave"] {
            assert!(!message.contains(secret));
            assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()));
        }
    }
}
