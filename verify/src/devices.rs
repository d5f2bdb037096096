//! The devices a person has verified, remembered by their DTLS fingerprints.
//!
//! A device's fingerprint stays the same across visits (each keeps one certificate), so
//! a fingerprint once verified, by comparing safety numbers or by pairing with a code,
//! is shown verified whenever it comes back. Names are not identities: anybody can call
//! a device "Sam's phone"; so when a name that belongs to a verified device shows up
//! with another fingerprint, that is worth saying plainly.
//!
//! The list is plain data that (de)serializes as JSON: the web app keeps it in
//! `localStorage`, the native peer in its config directory.

use serde::{Deserialize, Serialize};

/// One verified device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownDevice {
    pub fingerprint: String,
    /// The name it had when it was verified, or last seen with.
    pub name: String,
    /// Verified by pairing with a code (rather than by comparing safety numbers).
    #[serde(default)]
    pub paired: bool,
}

/// What to show for a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// Its fingerprint was verified before.
    Verified,
    /// Nothing is known about it.
    Unverified,
    /// Not verified, but it uses the name of a device that is, which has another
    /// fingerprint: perhaps a new browser of the same person, perhaps someone else.
    NameOfVerified,
}

/// Every device verified on this device.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KnownDevices(Vec<KnownDevice>);

impl KnownDevices {
    /// How to show a peer called `name` with DTLS fingerprint `fingerprint`.
    pub fn trust(&self, name: &str, fingerprint: &str) -> Trust {
        if self.get(fingerprint).is_some() {
            Trust::Verified
        } else if self.0.iter().any(|device| same_name(&device.name, name)) {
            Trust::NameOfVerified
        } else {
            Trust::Unverified
        }
    }

    pub fn get(&self, fingerprint: &str) -> Option<&KnownDevice> {
        self.0
            .iter()
            .find(|device| device.fingerprint == fingerprint)
    }

    /// Remembers `fingerprint` as verified, under `name`; a device verified again
    /// keeps one entry, with the newer name.
    pub fn verify(&mut self, name: &str, fingerprint: &str, paired: bool) {
        match self.0.iter_mut().find(|d| d.fingerprint == fingerprint) {
            Some(device) => {
                device.name = name.to_owned();
                device.paired |= paired;
            }
            None => self.0.push(KnownDevice {
                fingerprint: fingerprint.to_owned(),
                name: name.to_owned(),
                paired,
            }),
        }
    }

    /// Forgets a device; it shows unverified from then on.
    pub fn forget(&mut self, fingerprint: &str) {
        self.0.retain(|device| device.fingerprint != fingerprint);
    }

    pub fn iter(&self) -> impl Iterator<Item = &KnownDevice> {
        self.0.iter()
    }
}

/// The list as it was kept, for a reader other than serde's (the web app's).
impl From<Vec<KnownDevice>> for KnownDevices {
    fn from(devices: Vec<KnownDevice>) -> Self {
        Self(devices)
    }
}

/// Names as people read them: "Sam's phone" and "sam's phone " are the same name.
fn same_name(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verified_device_is_known_by_fingerprint_not_name() {
        let mut known = KnownDevices::default();
        assert_eq!(known.trust("Sam", "fp-1"), Trust::Unverified);
        known.verify("Sam", "fp-1", false);
        assert_eq!(known.trust("Sam", "fp-1"), Trust::Verified);
        // Renamed, still the same device.
        assert_eq!(known.trust("Sam's laptop", "fp-1"), Trust::Verified);
        // Its name on another device: said plainly.
        assert_eq!(known.trust(" sam ", "fp-2"), Trust::NameOfVerified);
        assert_eq!(known.trust("Ann", "fp-2"), Trust::Unverified);
        known.forget("fp-1");
        assert_eq!(known.trust("Sam", "fp-1"), Trust::Unverified);
    }

    #[test]
    fn verifying_again_keeps_one_entry_and_survives_json() {
        let mut known = KnownDevices::default();
        known.verify("Sam", "fp-1", true);
        known.verify("Sam's phone", "fp-1", false);
        assert_eq!(known.iter().count(), 1);
        let device = known.get("fp-1").unwrap();
        assert_eq!((device.name.as_str(), device.paired), ("Sam's phone", true));
        let json = serde_json::to_string(&known).unwrap();
        assert_eq!(serde_json::from_str::<KnownDevices>(&json).unwrap(), known);
    }
}
