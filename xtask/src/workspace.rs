//! Where things are in the workspace, and the versions it pins.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The workspace root: the parent of this crate.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the workspace")
}

/// Where npm-installed tools live (gitignored).
pub fn tools_dir() -> PathBuf {
    root().join(".tools")
}

/// The version of `package` that Cargo.lock resolved (the first, if there are several).
pub fn locked_version(package: &str) -> Result<String> {
    let lock = read("Cargo.lock")?;
    let name_line = format!("name = \"{package}\"");
    let mut lines = lock.lines();
    lines
        .find(|line| *line == name_line)
        .and_then(|_| lines.next())
        .and_then(|line| quoted_value(line, "version"))
        .ok_or_else(|| Error::Version(format!("Cargo.lock has no package {package}")))
}

/// The string value of `key = "..."` in Trunk.toml (keys are unique in our Trunk.toml).
pub fn trunk_setting(key: &str) -> Result<String> {
    read("Trunk.toml")?
        .lines()
        .find_map(|line| quoted_value(line, key))
        .ok_or_else(|| Error::Version(format!("Trunk.toml does not set {key}")))
}

fn read(file: &str) -> Result<String> {
    let path = root().join(file);
    std::fs::read_to_string(&path).map_err(|source| Error::Read {
        path: path.display().to_string(),
        source,
    })
}

/// `value` from a `key = "value"` line.
fn quoted_value(line: &str, key: &str) -> Option<String> {
    let (found_key, value) = line.split_once('=')?;
    (found_key.trim() == key).then(|| value.trim().trim_matches('"').to_owned())
}
