//! What a first visit downloads: the built app's wasm, JavaScript and CSS in `dist/`,
//! each file gzipped as the server sends it to a browser that accepts gzip. The module
//! the page loads on demand (swarms, Save all, dropped folders) is not part of a first
//! visit: it is weighed apart.

use std::io::Write;
use std::path::Path;

use flate2::write::GzEncoder;
use flate2::Compression;

use crate::error::{Error, Result};
use crate::server::DIST;

/// The extensions that count: the code and styles a page needs to run.
const COUNTED: &[&str] = &["wasm", "js", "css"];

/// How the files of the module loaded on demand start (web/index.html).
const ON_DEMAND: &str = "meshdrop-on-demand";

/// The sizes of counted files in `dist/`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Weight {
    pub files: usize,
    pub bytes: u64,
    pub gzipped_bytes: u64,
}

/// The first visit's files, and the module loaded on demand.
#[derive(Debug, Clone, Copy)]
pub struct PageWeight {
    pub first_visit: Weight,
    pub on_demand: Weight,
}

/// Measures the built app in `dist/` (run Trunk first).
pub fn measure() -> Result<PageWeight> {
    let dist = Path::new(DIST);
    let entries = std::fs::read_dir(dist).map_err(Error::io("list dist/ (is the app built?)"))?;
    let mut weight = PageWeight {
        first_visit: Weight::default(),
        on_demand: Weight::default(),
    };
    for entry in entries {
        let path = entry.map_err(Error::io("list dist/"))?.path();
        let counted = path
            .extension()
            .and_then(|extension| extension.to_str())
            .is_some_and(|extension| COUNTED.contains(&extension));
        if !counted {
            continue;
        }
        let bytes = std::fs::read(&path).map_err(Error::io("read a file of dist/"))?;
        let name = path
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or_default();
        let part = match name.starts_with(ON_DEMAND) {
            true => &mut weight.on_demand,
            false => &mut weight.first_visit,
        };
        part.files += 1;
        part.bytes += bytes.len() as u64;
        part.gzipped_bytes += gzipped_len(&bytes)?;
    }
    Ok(weight)
}

fn gzipped_len(bytes: &[u8]) -> Result<u64> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder
        .write_all(bytes)
        .map_err(Error::io("gzip a file of dist/"))?;
    let gzipped = encoder
        .finish()
        .map_err(Error::io("gzip a file of dist/"))?;
    Ok(gzipped.len() as u64)
}
