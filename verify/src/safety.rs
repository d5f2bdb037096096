//! The safety number of one link: commit, then reveal, then hash.
//!
//! Each side picks a fresh 32-byte nonce and sends its SHA-256 ([`ControlFrame::SafetyCommit`]);
//! only once it holds the other side's commitment does it send the nonce itself
//! ([`ControlFrame::SafetyReveal`]), and it checks the nonce it gets against the
//! commitment it got. The number is a hash of the two (fingerprint, nonce) pairs, in
//! a canonical order, so both ends of an honest link compute the same one.
//!
//! Why the commitments: a man in the middle has one link to each side, each with his own
//! fingerprint, so the two numbers are hashes of different inputs. To make them match
//! anyway he would have to pick his nonces knowing the sides' nonces; but each side
//! reveals only after he committed to his, so he gets one 2^-42 chance, not a search.

use std::collections::VecDeque;
use std::fmt;

use meshdrop_protocol::frame::ControlFrame;
use sha2::{Digest, Sha256};

use crate::emoji;

/// Length of a nonce, in bytes.
const NONCE_LEN: usize = 32;
/// How many emoji a safety number shows; each stands for 6 bits.
const SYMBOLS: usize = 7;

const COMMIT_CONTEXT: &[u8] = b"meshdrop safety commitment v1";
const NUMBER_CONTEXT: &[u8] = b"meshdrop safety number v1";

/// Why a safety-number exchange failed. Any of these means the number cannot be trusted
/// (or was never agreed): the link should be shown unverified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SafetyError {
    #[error("the peer revealed its nonce before committing to it")]
    RevealBeforeCommit,
    #[error("the peer sent a second {0}")]
    Repeated(&'static str),
    #[error("the peer's nonce does not match its commitment")]
    CommitmentMismatch,
    #[error("the peer's {0} is not {1} bytes of hex")]
    Malformed(&'static str, usize),
}

/// The commit-reveal exchange of one link, from one side.
#[derive(Debug)]
pub struct SafetyCheck {
    local: String,
    remote: String,
    nonce: [u8; NONCE_LEN],
    peer_commitment: Option<[u8; 32]>,
    number: Option<SafetyNumber>,
    /// Set once the exchange broke; later frames are ignored.
    failed: Option<SafetyError>,
    to_send: VecDeque<ControlFrame>,
}

impl SafetyCheck {
    /// Starts the exchange on a link whose DTLS fingerprints are `local` (ours, from the
    /// local description) and `remote` (the peer's, from the remote description), with a
    /// fresh random `nonce`. The commitment is the first frame to send.
    pub fn new(local: &str, remote: &str, nonce: [u8; NONCE_LEN]) -> Self {
        let commitment = hex::encode(commitment(&nonce));
        Self {
            local: local.to_owned(),
            remote: remote.to_owned(),
            nonce,
            peer_commitment: None,
            number: None,
            failed: None,
            to_send: VecDeque::from([ControlFrame::SafetyCommit { commitment }]),
        }
    }

    /// The next frame to send on the control channel.
    pub fn poll_frame(&mut self) -> Option<ControlFrame> {
        self.to_send.pop_front()
    }

    /// Feeds a frame from the peer; frames of other kinds are ignored. An error ends
    /// the exchange: [`Self::safety_number`] stays `None`.
    pub fn handle_frame(&mut self, frame: &ControlFrame) -> Result<(), SafetyError> {
        if !is_safety_frame(frame) {
            return Ok(());
        }
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        let result = match frame {
            ControlFrame::SafetyCommit { commitment } => self.on_commit(commitment),
            ControlFrame::SafetyReveal { nonce } => self.on_reveal(nonce),
            _ => Ok(()),
        };
        if let Err(error) = &result {
            self.failed = Some(error.clone());
        }
        result
    }

    /// The agreed number, once both nonces are in and checked.
    pub fn safety_number(&self) -> Option<&SafetyNumber> {
        self.number.as_ref()
    }

    fn on_commit(&mut self, commitment: &str) -> Result<(), SafetyError> {
        if self.peer_commitment.is_some() {
            return Err(SafetyError::Repeated("commitment"));
        }
        self.peer_commitment = Some(decode(commitment, "commitment")?);
        let nonce = hex::encode(self.nonce);
        self.to_send.push_back(ControlFrame::SafetyReveal { nonce });
        Ok(())
    }

    fn on_reveal(&mut self, nonce: &str) -> Result<(), SafetyError> {
        if self.number.is_some() {
            return Err(SafetyError::Repeated("nonce"));
        }
        let Some(expected) = self.peer_commitment else {
            return Err(SafetyError::RevealBeforeCommit);
        };
        let peer_nonce: [u8; NONCE_LEN] = decode(nonce, "nonce")?;
        if commitment(&peer_nonce) != expected {
            return Err(SafetyError::CommitmentMismatch);
        }
        let ours = (self.local.as_bytes(), self.nonce);
        let theirs = (self.remote.as_bytes(), peer_nonce);
        // Both ends must hash the same sequence: order the pairs, not "ours first". (Two
        // compared by hand: a sort would bring the web app a sorting routine.)
        let sides = if ours <= theirs {
            [ours, theirs]
        } else {
            [theirs, ours]
        };
        let mut hash = Sha256::new();
        hash.update(NUMBER_CONTEXT);
        for (fingerprint, nonce) in sides {
            hash.update((fingerprint.len() as u32).to_be_bytes());
            hash.update(fingerprint);
            hash.update(nonce);
        }
        self.number = Some(SafetyNumber::from_digest(&hash.finalize()));
        Ok(())
    }
}

fn is_safety_frame(frame: &ControlFrame) -> bool {
    matches!(
        frame,
        ControlFrame::SafetyCommit { .. } | ControlFrame::SafetyReveal { .. }
    )
}

fn commitment(nonce: &[u8; NONCE_LEN]) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(COMMIT_CONTEXT);
    hash.update(nonce);
    hash.finalize().into()
}

/// `N` bytes from hex, or [`SafetyError::Malformed`] naming `what`.
fn decode<const N: usize>(text: &str, what: &'static str) -> Result<[u8; N], SafetyError> {
    let mut bytes = [0u8; N];
    hex::decode_to_slice(text, &mut bytes).map_err(|_| SafetyError::Malformed(what, N))?;
    Ok(bytes)
}

/// The number both sides of a link compare: 42 bits, shown as seven emoji with names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SafetyNumber([u8; SYMBOLS]);

impl SafetyNumber {
    /// Bits of the number (what a man in the middle has to guess).
    pub const BITS: u32 = 6 * SYMBOLS as u32;

    fn from_digest(digest: &[u8]) -> Self {
        let bits = u64::from_be_bytes(digest[..8].try_into().expect("a SHA-256 has 8 bytes"));
        Self(std::array::from_fn(|i| {
            ((bits >> (58 - 6 * i)) & 0x3f) as u8
        }))
    }

    /// The emoji, in order.
    pub fn symbols(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.0.iter().map(|&index| emoji::symbol(index).0)
    }

    /// The emoji's names, in order, as people read them out: "dog", "key", ….
    pub fn words(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.0.iter().map(|&index| emoji::symbol(index).1)
    }
}

/// "🐶 dog · 🔑 key · …"
impl fmt::Display for SafetyNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (symbol, word)) in self.symbols().zip(self.words()).enumerate() {
            if i > 0 {
                f.write_str(" · ")?;
            }
            write!(f, "{symbol} {word}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANN: &str = "sha-256 AA:01";
    const BOB: &str = "sha-256 BB:02";

    /// Runs the exchange between two checks in memory, delivering in rounds.
    fn exchange(a: &mut SafetyCheck, b: &mut SafetyCheck) -> Result<(), SafetyError> {
        loop {
            let (to_b, to_a): (Vec<_>, Vec<_>) = (
                std::iter::from_fn(|| a.poll_frame()).collect(),
                std::iter::from_fn(|| b.poll_frame()).collect(),
            );
            if to_a.is_empty() && to_b.is_empty() {
                return Ok(());
            }
            for frame in &to_b {
                b.handle_frame(frame)?;
            }
            for frame in &to_a {
                a.handle_frame(frame)?;
            }
        }
    }

    #[test]
    fn both_ends_of_a_link_agree() {
        let mut ann = SafetyCheck::new(ANN, BOB, [1; 32]);
        let mut bob = SafetyCheck::new(BOB, ANN, [2; 32]);
        exchange(&mut ann, &mut bob).unwrap();
        let number = ann.safety_number().copied().unwrap();
        assert_eq!(Some(&number), bob.safety_number());
        assert_eq!(number.symbols().count(), 7);
        const { assert!(SafetyNumber::BITS >= 40) };
    }

    #[test]
    fn a_man_in_the_middle_gets_two_different_numbers() {
        // He has a link of his own to each side, with his own fingerprints.
        let (mallory_1, mallory_2) = ("sha-256 CC:03", "sha-256 DD:04");
        let mut ann = SafetyCheck::new(ANN, mallory_1, [1; 32]);
        let mut to_ann = SafetyCheck::new(mallory_1, ANN, [3; 32]);
        let mut bob = SafetyCheck::new(BOB, mallory_2, [2; 32]);
        let mut to_bob = SafetyCheck::new(mallory_2, BOB, [3; 32]);
        exchange(&mut ann, &mut to_ann).unwrap();
        exchange(&mut bob, &mut to_bob).unwrap();
        assert_ne!(ann.safety_number(), bob.safety_number());
    }

    #[test]
    fn the_nonce_is_sent_only_after_the_peer_committed() {
        let mut ann = SafetyCheck::new(ANN, BOB, [1; 32]);
        assert!(matches!(
            ann.poll_frame(),
            Some(ControlFrame::SafetyCommit { .. })
        ));
        assert_eq!(ann.poll_frame(), None);
        let mut bob = SafetyCheck::new(BOB, ANN, [2; 32]);
        let commit = bob.poll_frame().unwrap();
        ann.handle_frame(&commit).unwrap();
        assert!(matches!(
            ann.poll_frame(),
            Some(ControlFrame::SafetyReveal { .. })
        ));
    }

    #[test]
    fn a_nonce_that_is_not_the_committed_one_is_refused() {
        let mut ann = SafetyCheck::new(ANN, BOB, [1; 32]);
        let mut bob = SafetyCheck::new(BOB, ANN, [2; 32]);
        ann.handle_frame(&bob.poll_frame().unwrap()).unwrap();
        let swapped = ControlFrame::SafetyReveal {
            nonce: hex::encode([9u8; 32]),
        };
        assert_eq!(
            ann.handle_frame(&swapped),
            Err(SafetyError::CommitmentMismatch)
        );
        assert_eq!(ann.safety_number(), None);
        // Broken for good: the right nonce does not mend it.
        let right = ControlFrame::SafetyReveal {
            nonce: hex::encode([2u8; 32]),
        };
        assert!(ann.handle_frame(&right).is_err());
        assert_eq!(ann.safety_number(), None);
    }

    #[test]
    fn out_of_order_repeated_and_malformed_frames_are_refused() {
        let reveal = ControlFrame::SafetyReveal {
            nonce: hex::encode([2u8; 32]),
        };
        let mut ann = SafetyCheck::new(ANN, BOB, [1; 32]);
        assert_eq!(
            ann.handle_frame(&reveal),
            Err(SafetyError::RevealBeforeCommit)
        );

        let mut ann = SafetyCheck::new(ANN, BOB, [1; 32]);
        let commit = SafetyCheck::new(BOB, ANN, [2; 32]).poll_frame().unwrap();
        ann.handle_frame(&commit).unwrap();
        assert_eq!(
            ann.handle_frame(&commit),
            Err(SafetyError::Repeated("commitment"))
        );

        let mut ann = SafetyCheck::new(ANN, BOB, [1; 32]);
        let short = ControlFrame::SafetyCommit {
            commitment: "abcd".into(),
        };
        assert_eq!(
            ann.handle_frame(&short),
            Err(SafetyError::Malformed("commitment", 32))
        );

        // Other frames pass by untouched.
        let mut ann = SafetyCheck::new(ANN, BOB, [1; 32]);
        let chat = ControlFrame::ChatAck { id: "1".into() };
        assert_eq!(ann.handle_frame(&chat), Ok(()));
    }

    #[test]
    fn two_tabs_of_one_browser_share_a_fingerprint_and_still_agree() {
        let mut left = SafetyCheck::new(ANN, ANN, [1; 32]);
        let mut right = SafetyCheck::new(ANN, ANN, [2; 32]);
        exchange(&mut left, &mut right).unwrap();
        assert!(left.safety_number().is_some());
        assert_eq!(left.safety_number(), right.safety_number());
    }

    #[test]
    fn the_number_reads_as_emoji_and_words() {
        let number = SafetyNumber::from_digest(&[0u8; 32]);
        assert_eq!(number.words().count(), 7);
        let shown = number.to_string();
        assert_eq!(shown.matches(" · ").count(), 6);
    }
}
