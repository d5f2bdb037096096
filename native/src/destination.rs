//! Where a verified file lands in the download directory: at its sanitised path
//! ([`meshdrop_transfer::SafePath`]), in folders created as needed, without ever
//! replacing what is already there or following a symbolic link out of the directory.
//!
//! The engine has already made the peer's path safe as text (no `..`, no absolute
//! path, no drive letter). What the text cannot know is the directory itself: a
//! `photos` that is a file, or a symbolic link to `/etc`, gets a numbered sibling
//! instead, and an existing file is never overwritten.

use std::io;
use std::path::{Path, PathBuf};

use meshdrop_transfer::safe_path::numbered;
use meshdrop_transfer::SafePath;

/// A free path for `path` under `dir`, with its folders created: `dir/a/b.txt`, or a
/// numbered name (`b (1).txt`, `a (1)/b.txt`) where something is in the way.
pub async fn free_destination(dir: &Path, path: &SafePath) -> io::Result<PathBuf> {
    let mut folder = dir.to_owned();
    for name in path.folders() {
        folder = real_folder(&folder, name).await?;
    }
    Ok(free_file(&folder, path.file_name()).await)
}

/// `parent/name` if it is a real folder or can be made one, else the first numbered
/// `parent/name (n)` that is.
async fn real_folder(parent: &Path, name: &str) -> io::Result<PathBuf> {
    let mut n = 0;
    loop {
        let candidate = parent.join(numbered(name, n));
        match tokio::fs::symlink_metadata(&candidate).await {
            Ok(found) if found.is_dir() => return Ok(candidate),
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                match tokio::fs::create_dir(&candidate).await {
                    Ok(()) => return Ok(candidate),
                    // Made by someone else meanwhile: look again.
                    Err(error) if error.kind() == io::ErrorKind::AlreadyExists => continue,
                    Err(error) => return Err(error),
                }
            }
            Err(error) => return Err(error),
        }
        n += 1;
    }
}

/// `dir/name`, or `dir/name (1)`, `dir/name (2)`… so nothing already there, file or
/// link, is replaced.
async fn free_file(dir: &Path, name: &str) -> PathBuf {
    let mut n = 0;
    loop {
        let candidate = dir.join(numbered(name, n));
        if tokio::fs::symlink_metadata(&candidate).await.is_err() {
            return candidate;
        }
        n += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshdrop_protocol::frame::FileMeta;

    fn safe(path: &str) -> SafePath {
        let meta = FileMeta {
            name: String::new(),
            size: 0,
            mime: String::new(),
            path: Some(path.into()),
        };
        meshdrop_transfer::safe_paths(&[meta]).remove(0)
    }

    #[tokio::test]
    async fn folders_are_made_and_an_existing_file_is_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        let path = safe("a/b/c.txt");
        assert_eq!(
            free_destination(dir, &path).await.unwrap(),
            dir.join("a/b/c.txt")
        );
        assert!(dir.join("a/b").is_dir());
        std::fs::write(dir.join("a/b/c.txt"), b"x").unwrap();
        assert_eq!(
            free_destination(dir, &path).await.unwrap(),
            dir.join("a/b/c (1).txt")
        );
    }

    #[tokio::test]
    async fn a_file_in_the_way_of_a_folder_gets_a_numbered_folder() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        std::fs::write(dir.join("a"), b"x").unwrap();
        let got = free_destination(dir, &safe("a/c.txt")).await.unwrap();
        assert_eq!(got, dir.join("a (1)/c.txt"));
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn symbolic_links_are_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let dir = dir.path();
        std::os::unix::fs::symlink(outside.path(), dir.join("etc")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("x"), dir.join("x")).unwrap();
        let got = free_destination(dir, &safe("etc/passwd")).await.unwrap();
        assert_eq!(got, dir.join("etc (1)/passwd"));
        assert_eq!(
            free_destination(dir, &safe("x")).await.unwrap(),
            dir.join("x (1)")
        );
    }
}
