//! Who is on the other end of each link: the safety number of every link, the pairing by
//! code that must succeed before the peer is let in, and the devices remembered as
//! verified (`--remember`, `--require-verified`).
//!
//! Every rule is `meshdrop-verify`'s [`Verifier`], the web app's too: the room feeds it
//! the links' fingerprints, the safety and pairing frames and the PAKE signals, and
//! carries out what it asks. What is native is where randomness comes from (the
//! operating system) and where verified devices are kept: `verified_devices.json` in
//! the config directory, the web app's list format.

use std::path::{Path, PathBuf};

use meshdrop_protocol::PeerId;
use meshdrop_verify::{Admission, KnownDevices, PairingCode, Verifier};
use rand::rngs::OsRng;
use rand::TryRngCore;

use crate::error::{Error, Result};

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

/// The verification state of one run: the shared rules, keyed by peer and link
/// generation, and the devices remembered as verified.
pub struct Verification {
    pub verifier: Verifier<PeerId, u64>,
    known: KnownDevices,
    /// Where to remember paired devices, with `--remember`.
    store: Option<PathBuf>,
}

impl Verification {
    /// Reads the remembered devices from the config directory; a list that cannot be
    /// read is an error rather than an empty list, so `--require-verified` never
    /// silently forgets a device.
    pub fn new(options: VerifyOptions) -> Result<Self> {
        let path = options.config_dir.join(KNOWN_DEVICES_FILE);
        let known = load(&path)?;
        Ok(Self {
            verifier: Verifier::new(options.code.as_ref(), options.require_verified, random()),
            known,
            store: options.remember.then_some(path),
        })
    }

    /// Whether chat and files from and to `peer`, at the other end of a link with DTLS
    /// fingerprint `fingerprint`, may flow.
    pub fn admission(&self, peer: &PeerId, fingerprint: Option<&str>) -> Admission {
        let remembered = fingerprint.is_some_and(|fp| self.known.get(fp).is_some());
        self.verifier.admission(peer, remembered)
    }

    /// Remembers a device paired in this run, if `--remember` asked for it; returns
    /// where.
    pub fn remember(&mut self, name: &str, fingerprint: &str) -> Result<Option<&Path>> {
        let Some(path) = &self.store else {
            return Ok(None);
        };
        self.known.verify(name, fingerprint, true);
        let json = serde_json::to_string_pretty(&self.known).expect("plain data serializes");
        std::fs::write(path, json).map_err(|error| Error::KnownDevices {
            path: path.clone(),
            reason: format!("cannot write it: {error}"),
        })?;
        Ok(Some(path))
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

/// `N` bytes of the operating system's CSPRNG.
pub fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    OsRng
        .try_fill_bytes(&mut bytes)
        .expect("the operating system's random number generator works");
    bytes
}
