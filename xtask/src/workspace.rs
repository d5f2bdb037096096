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
    version_in_lock(&read("Cargo.lock")?, package)
        .ok_or_else(|| Error::Version(format!("Cargo.lock has no package {package}")))
}

/// The string value of `key = "..."` in Trunk.toml (keys are unique in our Trunk.toml).
pub fn trunk_setting(key: &str) -> Result<String> {
    setting(&read("Trunk.toml")?, key)
        .ok_or_else(|| Error::Version(format!("Trunk.toml does not set {key}")))
}

fn read(file: &str) -> Result<String> {
    let path = root().join(file);
    std::fs::read_to_string(&path).map_err(|source| Error::Read {
        path: path.display().to_string(),
        source,
    })
}

/// In a Cargo.lock, the version line right after `name = "<package>"`.
fn version_in_lock(lock: &str, package: &str) -> Option<String> {
    let name_line = format!("name = \"{package}\"");
    let mut lines = lock.lines();
    lines.find(|line| *line == name_line)?;
    quoted_value(lines.next()?, "version")
}

/// The value of the first `key = "value"` line in a TOML file.
fn setting(toml: &str, key: &str) -> Option<String> {
    toml.lines().find_map(|line| quoted_value(line, key))
}

/// `value` from a `key = "value"` line.
fn quoted_value(line: &str, key: &str) -> Option<String> {
    let (found_key, value) = line.split_once('=')?;
    (found_key.trim() == key).then(|| value.trim().trim_matches('"').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &str = r#"
[[package]]
name = "wasm-bindgen-macro"
version = "0.2.999"

[[package]]
name = "wasm-bindgen"
version = "0.2.130"
source = "registry+https://github.com/rust-lang/crates.io-index"
"#;

    #[test]
    fn finds_the_version_of_exactly_the_named_package() {
        assert_eq!(
            version_in_lock(LOCK, "wasm-bindgen").as_deref(),
            Some("0.2.130")
        );
        assert_eq!(version_in_lock(LOCK, "wasm"), None);
    }

    #[test]
    fn reads_settings_by_whole_key() {
        let toml = "wasm_opt_extra = \"no\"\nwasm_opt = \"version_132\"\n";
        assert_eq!(setting(toml, "wasm_opt").as_deref(), Some("version_132"));
        assert_eq!(setting(toml, "sass"), None);
    }
}
