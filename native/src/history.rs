//! The chat history `meshdrop chat --history` keeps: one JSON file per room,
//! `history/ROOM.json` in the config directory, holding the room's lines as
//! `meshdrop_chat::Line` writes them (at most the chat's limit, the newest).
//!
//! The file is rewritten whole after each change, by writing a temporary file beside it
//! and renaming it over the old one, so a run cut short leaves the old history or the
//! new one, never half of either. Nothing of it goes to the server.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use meshdrop_chat::Line;
use meshdrop_protocol::RoomId;

use crate::error::{Error, Result};

/// Where one room's history is kept.
#[derive(Debug, Clone)]
pub struct History {
    path: PathBuf,
}

impl History {
    /// The history of `room` under `config_dir`.
    pub fn of(config_dir: &Path, room: &RoomId) -> Self {
        Self {
            path: config_dir.join("history").join(format!("{room}.json")),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The kept lines, oldest first; none if nothing was kept yet.
    pub fn load(&self) -> Result<Vec<Line>> {
        match fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|error| self.error(error)),
            Err(error) if error.kind() == ErrorKind::NotFound => Ok(Vec::new()),
            Err(error) => Err(self.error(error)),
        }
    }

    /// Keeps `lines` in place of what was kept.
    pub fn save(&self, lines: &[Line]) -> Result<()> {
        let json = serde_json::to_vec(lines).map_err(|error| self.error(error))?;
        let dir = self.path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(|error| self.error(error))?;
        let temporary = self.path.with_extension("json.tmp");
        fs::write(&temporary, json).map_err(|error| self.error(error))?;
        fs::rename(&temporary, &self.path).map_err(|error| self.error(error))
    }

    fn error(&self, reason: impl ToString) -> Error {
        Error::History {
            path: self.path.clone(),
            reason: reason.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use meshdrop_protocol::PeerId;

    use super::*;

    #[test]
    fn lines_come_back_as_saved_and_a_broken_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let history = History::of(dir.path(), &RoomId::new("room").unwrap());
        assert!(history.load().unwrap().is_empty());
        let line = Line {
            id: "1-0".into(),
            from: PeerId::new("aaaa000000000001").unwrap(),
            name: "Ann".into(),
            mine: true,
            to: None,
            text: "kept".into(),
            sent_at_ms: 5,
            receipts: Vec::new(),
            earlier: false,
        };
        history.save(std::slice::from_ref(&line)).unwrap();
        assert_eq!(history.load().unwrap(), [line]);
        assert!(history.path().ends_with("history/room.json"));
        fs::write(history.path(), "not json").unwrap();
        assert!(matches!(history.load(), Err(Error::History { .. })));
    }
}
