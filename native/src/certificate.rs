//! This device's identity: one DTLS certificate, made on the first run and kept in the
//! config directory, used for every peer connection.
//!
//! A peer knows the device at the other end of a connection only by the fingerprint of
//! the certificate it presents in the DTLS handshake. webrtc-rs makes a new one for each
//! connection unless given one, so without a kept certificate the same machine would be
//! a stranger on every run and nothing could ever recognise or verify it. The file holds
//! the private key (ECDSA P-256) as PEM, readable by its owner only.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use meshdrop_mesh::sdp;
use webrtc::peer_connection::crypto::{default_provider, SignatureScheme};
use webrtc::peer_connection::RTCCertificate;

use crate::error::{Error, Result};

/// The certificate's file in the config directory.
const FILE_NAME: &str = "certificate.pem";

/// The certificate every connection of this run presents, with its fingerprint as the
/// peers see it in our SDP (`sha-256 AB:CD:…`).
#[derive(Clone)]
pub struct DeviceCertificate {
    pub certificate: RTCCertificate,
    pub fingerprint: String,
}

impl DeviceCertificate {
    /// The certificate kept in `dir`; on the first run (no file yet) a new one, stored
    /// there. A file that cannot be read or used is an error naming it: replacing it
    /// silently would change this device's identity behind its owner's back.
    pub fn load_or_create(dir: &Path) -> Result<Self> {
        let path = dir.join(FILE_NAME);
        let pem = match fs::read_to_string(&path) {
            Ok(pem) => pem,
            Err(error) if error.kind() == ErrorKind::NotFound => create(dir, &path)?,
            Err(error) => return Err(unusable(&path, error)),
        };
        let certificate = parse(&pem).map_err(|reason| unusable(&path, reason))?;
        if certificate.expires <= SystemTime::now() {
            return Err(unusable(
                &path,
                "the certificate has expired; delete the file to make a new one",
            ));
        }
        let fingerprint = fingerprint(&certificate).map_err(|reason| unusable(&path, reason))?;
        Ok(Self {
            certificate,
            fingerprint,
        })
    }
}

/// `$XDG_CONFIG_HOME/meshdrop`, else `~/.config/meshdrop`; `None` without either.
pub fn default_config_dir() -> Option<PathBuf> {
    let non_empty = |name| std::env::var_os(name).filter(|value| !value.is_empty());
    let base = non_empty("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| non_empty("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(base.join("meshdrop"))
}

/// Make a new certificate and store it at `path`; returns its PEM. Two first runs at
/// once agree on one: the file appears whole or not at all (a hard link of a finished
/// temporary file), and the loser reads the winner's.
fn create(dir: &Path, path: &Path) -> Result<String> {
    let certificate = generate().map_err(|reason| unusable(path, reason))?;
    let pem = certificate
        .serialize_pem()
        .map_err(|reason| unusable(path, reason))?;
    fs::create_dir_all(dir).map_err(|error| unusable(path, error))?;
    let temporary = dir.join(format!("{FILE_NAME}.{}.tmp", std::process::id()));
    write_private(&temporary, &pem).map_err(|error| unusable(&temporary, error))?;
    let linked = fs::hard_link(&temporary, path);
    let _ = fs::remove_file(&temporary);
    match linked {
        Ok(()) => Ok(pem),
        Err(error) if error.kind() == ErrorKind::AlreadyExists => {
            fs::read_to_string(path).map_err(|error| unusable(path, error))
        }
        Err(error) => Err(unusable(path, error)),
    }
}

/// Write `text` to a new file only its owner may read.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// A new self-signed ECDSA P-256 certificate, valid for as long as X.509 allows.
fn generate() -> std::result::Result<RTCCertificate, String> {
    let provider = default_provider().map_err(|error| error.to_string())?;
    // The name is not checked by anyone: WebRTC trusts the fingerprint, not the subject.
    let params =
        rcgen::CertificateParams::new(vec!["meshdrop".to_owned()]).map_err(|e| e.to_string())?;
    RTCCertificate::generate(provider.crypto(), SignatureScheme::EcdsaP256Sha256, params)
        .map_err(|error| error.to_string())
}

/// The certificate in `pem` (as [`RTCCertificate::serialize_pem`] writes it).
fn parse(pem: &str) -> std::result::Result<RTCCertificate, String> {
    // webrtc-rs reads the first block's first 8 bytes (the expiry) without checking
    // that there are 8: check first, so a damaged file is an error and not a panic.
    let expiry_is_whole = pem
        .split("\n\n")
        .next()
        .and_then(|block| block.trim().strip_prefix("-----BEGIN EXPIRES-----"))
        .and_then(|rest| rest.split("-----END EXPIRES-----").next())
        .is_some_and(|base64| base64.trim().len() >= 12);
    if !expiry_is_whole {
        return Err("not a meshdrop certificate file (no EXPIRES block first)".into());
    }
    let provider = default_provider().map_err(|error| error.to_string())?;
    RTCCertificate::from_pem(pem, provider.crypto()).map_err(|error| error.to_string())
}

/// What peers see as this certificate's fingerprint.
fn fingerprint(certificate: &RTCCertificate) -> std::result::Result<String, String> {
    let provider = default_provider().map_err(|error| error.to_string())?;
    let fingerprints = certificate
        .get_fingerprints(provider.crypto())
        .map_err(|error| error.to_string())?;
    fingerprints
        .first()
        .and_then(|first| sdp::normalized_fingerprint(&first.algorithm, &first.value))
        .ok_or_else(|| "the certificate has no fingerprint".into())
}

fn unusable(path: &Path, reason: impl ToString) -> Error {
    Error::Certificate {
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_certificate_is_the_same_on_every_load() {
        let dir = tempfile::tempdir().unwrap();
        let first = DeviceCertificate::load_or_create(dir.path()).unwrap();
        let again = DeviceCertificate::load_or_create(dir.path()).unwrap();
        assert_eq!(first.fingerprint, again.fingerprint);
        assert!(
            first.fingerprint.starts_with("sha-256 "),
            "{}",
            first.fingerprint
        );
        let other = tempfile::tempdir().unwrap();
        let other = DeviceCertificate::load_or_create(other.path()).unwrap();
        assert_ne!(first.fingerprint, other.fingerprint);
    }

    #[test]
    fn a_damaged_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        for damaged in [
            "",
            "hello",
            "-----BEGIN EXPIRES-----\nAA==\n-----END EXPIRES-----\n",
            "-----BEGIN EXPIRES-----\nAAAAAAAAAAA=\n-----END EXPIRES-----\n\n-----BEGIN PRIVATE_KEY-----\nAAAA\n-----END PRIVATE_KEY-----\n",
        ] {
            fs::write(&path, damaged).unwrap();
            let error = DeviceCertificate::load_or_create(dir.path())
                .err()
                .unwrap_or_else(|| panic!("{damaged:?} was accepted"));
            assert!(
                error.to_string().contains(&path.display().to_string()),
                "{error}"
            );
        }
    }
}
