//! A transfer's files seen as one ordered byte stream.
//!
//! Both ends walk the same stream: the sender as it reads its files, the receiver as
//! chunks arrive. The cursor says which file and offset the next bytes belong to, and
//! which files are complete.

use std::cmp::Ordering;
use std::ops::Range;

use meshdrop_protocol::frame::FileMeta;

/// Where the next bytes of the stream belong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Position {
    pub index: u32,
    pub offset: u64,
    /// Bytes the file at `index` still lacks; never zero.
    pub remaining: u64,
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

    /// Pass `len` bytes into the current file, then finish every file that is now
    /// complete, empty ones after it included; returns the indices of those. Bytes that
    /// would run past the end of the current file are refused whole: a chunk never spans
    /// two files.
    pub fn advance(&mut self, len: usize) -> Result<Range<u32>, PastEnd> {
        let room = self.position().map_or(0, |position| position.remaining);
        if len as u64 > room {
            return Err(PastEnd);
        }
        let bytes = len as u64;
        self.offset += bytes;
        self.bytes_done += bytes;
        Ok(self.finish_complete_files())
    }

    /// Finishes every file that is complete from the current position on (on a fresh
    /// cursor, the empty files at the front); returns their indices.
    pub fn finish_complete_files(&mut self) -> Range<u32> {
        let first = self.index;
        while self.sizes.get(self.index as usize) == Some(&self.offset) {
            self.index += 1;
            self.offset = 0;
        }
        first..self.index
    }

    /// Whether every byte of file `index` has passed.
    pub fn is_finished(&self, index: u32) -> bool {
        index < self.index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor(sizes: &[u64]) -> FileCursor {
        let files: Vec<FileMeta> = sizes
            .iter()
            .map(|&size| FileMeta {
                name: format!("{size}.bin"),
                size,
                mime: String::new(),
                path: None,
            })
            .collect();
        FileCursor::new(&files)
    }

    #[test]
    fn empty_files_finish_as_soon_as_the_cursor_reaches_them() {
        let mut cursor = cursor(&[0, 3, 0, 0]);
        assert_eq!(cursor.finish_complete_files(), 0..1);
        assert_eq!(
            cursor.position(),
            Some(Position {
                index: 1,
                offset: 0,
                remaining: 3
            })
        );
        assert_eq!(cursor.advance(2), Ok(1..1));
        assert!(!cursor.has_bytes(0), "empty files hold no bytes");
        assert!(cursor.has_bytes(1));
        assert!(!cursor.has_bytes(2));
        assert_eq!(cursor.advance(1), Ok(1..4));
        assert!(cursor.is_finished(3));
        assert_eq!(cursor.position(), None);
        assert_eq!((cursor.bytes_done(), cursor.bytes_total()), (3, 3));
    }

    #[test]
    fn bytes_spanning_two_files_are_refused_whole() {
        let mut cursor = cursor(&[2, 2]);
        assert_eq!(cursor.advance(3), Err(PastEnd));
        assert_eq!(cursor.bytes_done(), 0);
        assert_eq!(cursor.advance(2), Ok(0..1));
        assert!(cursor.is_finished(0) && !cursor.is_finished(1));
        assert_eq!(cursor.advance(2), Ok(1..2));
        assert_eq!(cursor.advance(1), Err(PastEnd));
        assert_eq!(cursor.advance(0), Ok(2..2));
    }
}
