//! Who is on the other end of each link: the safety number of every link and, in a
//! meeting place, the pairing by code that must succeed before the peer is let in.
//!
//! The rules are `meshdrop-verify`'s [`Verifier`], the native peer's too; the mesh feeds
//! it the links' fingerprints, the frames and the PAKE signals, sends what it asks, and
//! keeps a link closed to chat and files until [`admits`] says so. Randomness comes from
//! the browser's CSPRNG.

use meshdrop_mesh::LinkId;
use meshdrop_protocol::PeerId;
use meshdrop_verify::{Admission, PairingCode, Verifier};

use crate::identity::random_bytes;

/// What verification has to tell the page.
pub type VerificationEvent = meshdrop_verify::VerifierEvent<PeerId>;
/// Everything to send or say after feeding verification something about one peer.
pub type Effects = meshdrop_verify::Effects<PeerId>;
/// The verification state of one page.
pub type Verification = Verifier<PeerId, LinkId>;

/// Verification for a page that came to a meeting place with `code`, if any. The web
/// app lets in peers it has not verified (it shows them as such), so it requires none.
pub fn new(code: Option<&PairingCode>) -> Verification {
    let mut seed = [0u8; 32];
    seed.copy_from_slice(&random_bytes(32));
    Verifier::new(code, false, seed)
}

/// Whether chat and files from and to `peer` may flow: always, unless this page pairs
/// by code and the pairing has not succeeded (with this peer).
pub fn admits(verification: &Verification, peer: &PeerId) -> bool {
    verification.admission(peer, false) == Admission::Admitted
}
