//! A transfer's files seen as one ordered byte stream, hashed as it passes.
//!
//! Both ends walk the same stream: the sender as it reads its files, the receiver as
//! chunks arrive. Neither ever holds a whole file: each byte goes through a running
//! SHA-256 once, and a file's digest is ready the moment its last byte has passed.

use std::cmp::Ordering;

use meshdrop_protocol::frame::FileMeta;
use sha2::{Digest, Sha256};

/// Where the next bytes of the stream belong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Position {
    pub index: u32,
    pub offset: u64,
    /// Bytes the file at `index` still lacks; never zero.
    pub remaining: u64,
}

/// A file whose last byte has passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FinishedFile {
    pub index: u32,
    /// Lowercase hex, as in [`meshdrop_protocol::frame::ControlFrame::FileEnd`].
    pub sha256: String,
}

/// More bytes than the files hold from the current position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PastEnd;

#[derive(Debug, Clone)]
pub(crate) struct FileCursor {
    sizes: Vec<u64>,
    index: u32,
    offset: u64,
    bytes_done: u64,
    bytes_total: u64,
    hasher: Sha256,
}

impl FileCursor {
    /// A cursor at the start of `files`. Callers have checked that their indices fit a
    /// `u32`, as the wire's do.
    pub fn new(files: &[FileMeta]) -> Self {
        let sizes: Vec<u64> = files.iter().map(|file| file.size).collect();
        Self {
            bytes_total: sizes
                .iter()
                .fold(0, |total, &size| total.saturating_add(size)),
            sizes,
            index: 0,
            offset: 0,
            bytes_done: 0,
            hasher: Sha256::new(),
        }
    }

    /// Where the next byte goes, or `None` once every file is complete.
    ///
    /// Empty files never show up here: [`Self::advance`] finishes them as soon as the
    /// cursor reaches them.
    pub fn position(&self) -> Option<Position> {
        let size = *self.sizes.get(self.index as usize)?;
        Some(Position {
            index: self.index,
            offset: self.offset,
            remaining: size - self.offset,
        })
    }

    /// Whether any byte of file `index` has passed.
    pub fn has_bytes(&self, index: u32) -> bool {
        match index.cmp(&self.index) {
            Ordering::Less => self.sizes.get(index as usize) > Some(&0),
            Ordering::Equal => self.offset > 0,
            Ordering::Greater => false,
        }
    }

    pub fn bytes_done(&self) -> u64 {
        self.bytes_done
    }

    pub fn bytes_total(&self) -> u64 {
        self.bytes_total
    }

    /// Pass `bytes` into the current file, then finish every file that is now complete,
    /// empty ones after it included. Bytes that would run past the end of the current
    /// file are refused whole: a chunk never spans two files.
    ///
    pub fn advance(&mut self, bytes: &[u8]) -> Result<Vec<FinishedFile>, PastEnd> {
        let room = self.position().map_or(0, |position| position.remaining);
        if bytes.len() as u64 > room {
            return Err(PastEnd);
        }
        self.hasher.update(bytes);
        self.offset += bytes.len() as u64;
        self.bytes_done += bytes.len() as u64;
        Ok(self.finish_complete_files())
    }

    /// Finishes every file that is complete from the current position on: on a fresh
    /// cursor, the empty files at the front.
    pub fn finish_complete_files(&mut self) -> Vec<FinishedFile> {
        let mut finished = Vec::new();
        while self.sizes.get(self.index as usize) == Some(&self.offset) {
            finished.push(FinishedFile {
                index: self.index,
                sha256: hex::encode(self.hasher.finalize_reset()),
            });
            self.index += 1;
            self.offset = 0;
        }
        finished
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const ABC_SHA256: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    fn cursor(sizes: &[u64]) -> FileCursor {
        let files: Vec<FileMeta> = sizes
            .iter()
            .map(|&size| FileMeta {
                name: format!("{size}.bin"),
                size,
                mime: String::new(),
            })
            .collect();
        FileCursor::new(&files)
    }

    fn finished(index: u32, sha256: &str) -> FinishedFile {
        FinishedFile {
            index,
            sha256: sha256.into(),
        }
    }

    #[test]
    fn empty_files_finish_as_soon_as_the_cursor_reaches_them() {
        let mut cursor = cursor(&[0, 3, 0, 0]);
        assert_eq!(
            cursor.finish_complete_files(),
            vec![finished(0, EMPTY_SHA256)]
        );
        assert_eq!(
            cursor.position(),
            Some(Position {
                index: 1,
                offset: 0,
                remaining: 3
            })
        );
        assert_eq!(cursor.advance(b"ab"), Ok(vec![]));
        assert!(!cursor.has_bytes(0), "empty files hold no bytes");
        assert!(cursor.has_bytes(1));
        assert!(!cursor.has_bytes(2));
        assert_eq!(
            cursor.advance(b"c"),
            Ok(vec![
                finished(1, ABC_SHA256),
                finished(2, EMPTY_SHA256),
                finished(3, EMPTY_SHA256)
            ])
        );
        assert_eq!(cursor.position(), None);
        assert_eq!((cursor.bytes_done(), cursor.bytes_total()), (3, 3));
    }

    #[test]
    fn bytes_spanning_two_files_are_refused_whole() {
        let mut cursor = cursor(&[2, 2]);
        assert_eq!(cursor.advance(b"abc"), Err(PastEnd));
        assert_eq!(cursor.bytes_done(), 0);
        assert_eq!(cursor.advance(b"ab").map(|files| files.len()), Ok(1));
        assert_eq!(cursor.advance(b"cd").map(|files| files.len()), Ok(1));
        assert_eq!(cursor.advance(b"e"), Err(PastEnd));
        assert_eq!(cursor.advance(b""), Ok(vec![]));
    }

    #[test]
    fn each_file_gets_its_own_digest() {
        let mut cursor = cursor(&[3, 3]);
        cursor.advance(b"xyz").unwrap();
        assert_eq!(cursor.advance(b"abc"), Ok(vec![finished(1, ABC_SHA256)]));
    }
}
