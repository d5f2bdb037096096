//! What `meshdrop send` offers: the files named on the command line, and every file
//! inside the folders named there, each with the path it has in its folder.
//!
//! A folder `photos` holding `2024/a.jpg` is offered as a file `a.jpg` with the path
//! `photos/2024/a.jpg` (`/`-separated, whatever the platform), so the receiver rebuilds
//! the folder. Loose files carry no path. Files are listed in name order, so the same
//! folder always makes the same offer. Symbolic links to folders are not followed: a
//! link back up the tree would never end.

use std::path::{Path, PathBuf};

use meshdrop_protocol::frame::FileMeta;

use crate::error::{Error, Result};

/// One file to offer: where to read it, and what the offer says about it.
#[derive(Debug, Clone)]
pub struct OutgoingFile {
    pub source: PathBuf,
    pub meta: FileMeta,
}

/// Every file `inputs` name, folders walked recursively, in order.
pub fn collect(inputs: &[PathBuf]) -> Result<Vec<OutgoingFile>> {
    let mut files = Vec::new();
    for input in inputs {
        let metadata = std::fs::metadata(input).map_err(read_error(input))?;
        if metadata.is_dir() {
            let folder = file_name(input)?;
            walk(input, &folder, &mut files)?;
        } else {
            let name = file_name(input)?;
            files.push(outgoing(input, name, None, &metadata)?);
        }
    }
    Ok(files)
}

/// Replace the offered paths with `raw` ones, one per file, exactly as given: for
/// testing how receivers treat hostile paths (`../../x`, a NUL), which a real folder
/// cannot hold.
pub fn with_raw_paths(mut files: Vec<OutgoingFile>, raw: &[String]) -> Result<Vec<OutgoingFile>> {
    if raw.len() != files.len() {
        return Err(Error::Usage(format!(
            "{} raw paths for {} files",
            raw.len(),
            files.len()
        )));
    }
    for (file, path) in files.iter_mut().zip(raw) {
        file.meta.path = Some(path.clone());
    }
    Ok(files)
}

/// Add the files under `dir`, whose path in the offer is `prefix`.
fn walk(dir: &Path, prefix: &str, files: &mut Vec<OutgoingFile>) -> Result<()> {
    let mut entries = std::fs::read_dir(dir)
        .and_then(|entries| entries.collect::<std::io::Result<Vec<_>>>())
        .map_err(read_error(dir))?;
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let source = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = format!("{prefix}/{name}");
        let kind = entry.file_type().map_err(read_error(&source))?;
        if kind.is_dir() {
            walk(&source, &path, files)?;
            continue;
        }
        // A link to a file is sent as that file; one to a folder is skipped.
        let metadata = std::fs::metadata(&source).map_err(read_error(&source))?;
        if metadata.is_file() {
            files.push(outgoing(&source, name, Some(path), &metadata)?);
        }
    }
    Ok(())
}

fn outgoing(
    source: &Path,
    name: String,
    path: Option<String>,
    metadata: &std::fs::Metadata,
) -> Result<OutgoingFile> {
    if !metadata.is_file() {
        return Err(Error::Usage(format!("{} is not a file", source.display())));
    }
    // Unreadable files are refused before anyone is bothered with an offer.
    std::fs::File::open(source).map_err(read_error(source))?;
    Ok(OutgoingFile {
        source: source.to_owned(),
        meta: FileMeta {
            name,
            size: metadata.len(),
            mime: String::new(),
            path,
        },
    })
}

fn file_name(path: &Path) -> Result<String> {
    // `.` and `dir/..` have no name of their own; their canonical form does.
    let path = std::fs::canonicalize(path).map_err(read_error(path))?;
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .ok_or_else(|| Error::Usage(format!("{} has no name", path.display())))
}

fn read_error(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::ReadInput {
        path: path.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_is_offered_file_by_file_with_paths() {
        let work = tempfile::tempdir().unwrap();
        let folder = work.path().join("photos");
        std::fs::create_dir_all(folder.join("2024/empty-folder")).unwrap();
        std::fs::write(folder.join("2024/a.jpg"), b"abc").unwrap();
        std::fs::write(folder.join("b.txt"), b"").unwrap();
        std::fs::write(work.path().join("loose.txt"), b"x").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(&folder, folder.join("loop")).unwrap();

        let files = collect(&[folder, work.path().join("loose.txt")]).unwrap();
        let offered: Vec<(&str, Option<&str>, u64)> = files
            .iter()
            .map(|file| (&*file.meta.name, file.meta.path.as_deref(), file.meta.size))
            .collect();
        assert_eq!(
            offered,
            [
                ("a.jpg", Some("photos/2024/a.jpg"), 3),
                ("b.txt", Some("photos/b.txt"), 0),
                ("loose.txt", None, 1),
            ]
        );
    }

    #[test]
    fn a_missing_input_is_a_read_error() {
        let missing = Path::new("/nonexistent/meshdrop");
        assert!(matches!(
            collect(&[missing.into()]),
            Err(Error::ReadInput { .. })
        ));
    }
}
