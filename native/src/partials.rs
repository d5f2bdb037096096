//! Partial incoming transfers saved beside their `.part` files, so that `meshdrop
//! receive`, killed and started again, goes on from the blocks it verified when the
//! same files are offered again.
//!
//! Each running incoming transfer has a manifest in the download directory,
//! `.meshdrop-<random>.resume.json`: the engine's [`Partial`] (the files offered and the
//! digest of every block verified) and the name of each file's `.part` file. It is
//! rewritten (to a temporary name, then renamed over, so a kill never leaves half of
//! one) at most once per [`SAVE_EVERY`] while blocks arrive, always after the `.part`
//! files were flushed, so every block it calls verified is in the file. A transfer that
//! ends removes it. A new peer's engine is given every manifest found
//! ([`meshdrop_transfer::Transfers::restore`]); the native peer's id changes from run to
//! run, so they are matched by the files offered alone, not by who offers them. The
//! engine that takes one up claims it by renaming it, so two peers offering the same
//! files cannot both write to its `.part` files.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use meshdrop_transfer::Partial;
use rand::RngCore;
use serde::{Deserialize, Serialize};

/// How often a running transfer's manifest is rewritten at most.
pub const SAVE_EVERY: Duration = Duration::from_millis(500);

const PREFIX: &str = ".meshdrop-";
const MANIFEST_SUFFIX: &str = ".resume.json";
const PART_SUFFIX: &str = ".part";

/// What a manifest holds.
#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub partial: Partial,
    /// Per file of the transfer: the file name of its `.part` file in the download
    /// directory, if any bytes of it were written and it is not saved yet.
    pub parts: Vec<Option<String>>,
}

/// A fresh name for a `.part` file.
pub fn new_part_name() -> String {
    format!("{PREFIX}{}{PART_SUFFIX}", random_hex())
}

/// A fresh path for a manifest in `dir`.
pub fn new_manifest_path(dir: &Path) -> PathBuf {
    dir.join(format!("{PREFIX}{}{MANIFEST_SUFFIX}", random_hex()))
}

fn random_hex() -> String {
    let mut random = [0u8; 8];
    rand::rng().fill_bytes(&mut random);
    hex::encode(random)
}

/// Whether `name` is one this module made: no folder, no way out of the directory.
fn is_ours(name: &str, suffix: &str) -> bool {
    name.strip_prefix(PREFIX)
        .and_then(|rest| rest.strip_suffix(suffix))
        .is_some_and(|hex| hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Every manifest in `dir`, by file name; one that cannot be read is skipped with a
/// warning (its `.part` files stay for the person to look at).
pub fn load_all(dir: &Path) -> Vec<(String, Manifest)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if !is_ours(&name, MANIFEST_SUFFIX) {
            continue;
        }
        match read(&dir.join(&name)) {
            Ok(manifest) => found.push((name, manifest)),
            Err(error) => tracing::warn!(%error, name, "partial transfer not restored"),
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

fn read(path: &Path) -> io::Result<Manifest> {
    let manifest: Manifest = serde_json::from_slice(&std::fs::read(path)?)?;
    if manifest.parts.len() != manifest.partial.files.len() {
        return Err(io::Error::other("one part name per file is needed"));
    }
    if let Some(bad) = manifest
        .parts
        .iter()
        .flatten()
        .find(|name| !is_ours(name, PART_SUFFIX))
    {
        return Err(io::Error::other(format!(
            "{bad:?} is not a part file's name"
        )));
    }
    Ok(manifest)
}

/// Takes up the manifest `name` of `dir` for a transfer that continues it: renames it
/// (so no other engine takes it too) and returns its new path and its contents.
pub async fn claim(dir: &Path, name: &str) -> io::Result<(PathBuf, Manifest)> {
    if !is_ours(name, MANIFEST_SUFFIX) {
        return Err(io::Error::other(format!(
            "{name:?} is not a manifest's name"
        )));
    }
    let path = new_manifest_path(dir);
    tokio::fs::rename(dir.join(name), &path).await?;
    let manifest = read(&path)?;
    Ok((path, manifest))
}

/// Writes `manifest` at `path`, whole or not at all.
pub async fn save(path: &Path, manifest: &Manifest) -> io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".new");
    let bytes = serde_json::to_vec(manifest)?;
    tokio::fs::write(&temporary, bytes).await?;
    tokio::fs::rename(&temporary, path).await
}
