//! Files for transfer tests and benchmarks, made on disk where a browser can pick them.
//!
//! A test picks these files in one browser and checks what another browser received
//! against [`TestFile::sha256`], so random content is what makes the check meaningful:
//! a lost, repeated or reordered chunk changes the digest.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tempfile::TempDir;

use crate::error::{Error, Result};

/// A fresh directory for test files, deleted on drop.
pub fn scratch_dir() -> Result<TempDir> {
    tempfile::Builder::new()
        .prefix("meshdrop-e2e-files-")
        .tempdir()
        .map_err(Error::io("create a directory for test files"))
}

/// A file on disk, known by name and size.
#[derive(Debug, Clone)]
pub struct TestFile {
    path: PathBuf,
    name: String,
    size: u64,
}

impl TestFile {
    /// `size` random bytes (from `/dev/urandom`) in `dir/name`.
    pub fn random(dir: &Path, name: &str, size: u64) -> Result<TestFile> {
        let file = TestFile::at(dir, name, size);
        let action = format!("write {size} random bytes to {}", file.path.display());
        let mut source = File::open("/dev/urandom")
            .map_err(Error::io(&action))?
            .take(size);
        let mut target = BufWriter::new(File::create(&file.path).map_err(Error::io(&action))?);
        io::copy(&mut source, &mut target).map_err(Error::io(&action))?;
        target.flush().map_err(Error::io(&action))?;
        Ok(file)
    }

    /// `size` zero bytes in `dir/name`, as a sparse file: for benchmarks, which need big
    /// files but neither their content nor the disk space.
    pub fn sparse(dir: &Path, name: &str, size: u64) -> Result<TestFile> {
        let file = TestFile::at(dir, name, size);
        let action = format!(
            "make a sparse file of {size} bytes at {}",
            file.path.display()
        );
        File::create(&file.path)
            .and_then(|created| created.set_len(size))
            .map_err(Error::io(action))?;
        Ok(file)
    }

    fn at(dir: &Path, name: &str, size: u64) -> TestFile {
        TestFile {
            path: dir.join(name),
            name: name.to_owned(),
            size,
        }
    }

    /// The absolute path, which is what a browser's file input takes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The SHA-256 of `len` bytes at `offset`, in lowercase hex.
    pub fn slice_sha256(&self, offset: u64, len: u64) -> Result<String> {
        let action = format!("hash part of {}", self.path.display());
        let mut file = File::open(&self.path).map_err(Error::io(&action))?;
        file.seek(SeekFrom::Start(offset))
            .map_err(Error::io(&action))?;
        let mut hasher = Sha256::new();
        io::copy(&mut file.take(len), &mut hasher).map_err(Error::io(action))?;
        Ok(hex::encode(hasher.finalize()))
    }

    /// The SHA-256 of the file's content, in lowercase hex.
    pub fn sha256(&self) -> Result<String> {
        sha256_of(&self.path)
    }
}

/// The SHA-256 of the file at `path`, in lowercase hex.
pub fn sha256_of(path: &Path) -> Result<String> {
    let action = format!("hash {}", path.display());
    let mut reader = BufReader::new(File::open(path).map_err(Error::io(&action))?);
    let mut hasher = Sha256::new();
    io::copy(&mut reader, &mut hasher).map_err(Error::io(action))?;
    Ok(hex::encode(hasher.finalize()))
}
