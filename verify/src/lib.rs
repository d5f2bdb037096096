//! Who is on the other end of a link, without I/O: safety numbers, pairing by code and
//! the devices a person has verified.
//!
//! The signaling server sees every SDP, so whoever runs it could swap the DTLS
//! fingerprints in them and sit in the middle of every "direct" link. What is here lets
//! two people notice, without accounts; `docs/security.md` has the threat model.
//!
//! * [`SafetyCheck`]: on every link, both sides commit to a nonce, then reveal it; the
//!   [`SafetyNumber`] (42 bits, seven emoji) is a hash of both DTLS fingerprints as each
//!   side sees them and both nonces. Through a man in the middle the two sides see
//!   different fingerprints, and the commitments keep him from choosing nonces that make
//!   the numbers match anyway.
//! * [`Pairing`]: a [`PairingCode`] names a one-off meeting place on the server; the
//!   secret part of it goes into SPAKE2, whose messages the server relays and learns
//!   nothing from. Both sides then prove the key, and the fingerprints they see, with
//!   MACs on the link: a wrong code and a link through someone else both fail, and are
//!   told apart.
//! * [`KnownDevices`]: the fingerprints a person has verified, with the names they had,
//!   so a verified device is shown verified next time, and a stranger using its name is
//!   shown as such.
//! * [`Verifier`]: all of a device's links: which runs which check, whom to pair with,
//!   whom to let in; driven by the web app and the native peer alike.
//!
//! Like the mesh rules, every machine here is fed what arrived and drained of what to
//! send; randomness is passed in, so tests run two peers in memory, deterministically.
//! Fingerprints are the normalized `a=fingerprint` values of the SDPs (`sha-256 AB:CD:…`).

mod code;
mod devices;
mod emoji;
mod pairing;
mod safety;
mod verifier;

pub use code::{CodeError, PairingCode};
pub use devices::{KnownDevice, KnownDevices, Trust};
pub use pairing::{Pairing, PairingError, PairingState};
pub use safety::{SafetyCheck, SafetyError, SafetyNumber};
pub use verifier::{Admission, Effects, Verifier, VerifierEvent};
