//! Which blocks of an incoming transfer are verified, kept in the private file system
//! beside the transfer's files, so that a reloaded page goes on from them.
//!
//! Each incoming transfer has a journal: a text file in the folder of its files
//! ([`meshdrop_opfs`]), written by the same worker. The worker takes its messages in
//! order, so a block's record lands after the block's bytes: whatever a journal calls
//! verified is in the file. One JSON value per line:
//! - first the header, `{"files":[…],"stored_names":[…]}`: the files as offered, and
//!   each one's name in the private folder;
//! - `[file, block, "sha-256 in hex"]` for each block verified, as soon as it is;
//! - `[file]` once file `file` was verified whole and handed to the person.
//!
//! Appending a line per block costs some 80 bytes where rewriting the whole map would
//! cost 66 bytes per block of the transfer each time. A line cut short (the page went
//! away mid-write) is ignored, and the next record overwrites it.
//!
//! Names start with this page's peer id and the sender's, as the files' do, so a
//! reloaded page (same tab, same peer id) finds its own. A page that starts deletes
//! whatever none of its journals names ([`clear_leftovers`]): what closed tabs and
//! ended transfers left; files another tab is writing are locked and survive.

use meshdrop_protocol::frame::{FileMeta, TransferId};
use meshdrop_protocol::PeerId;
use meshdrop_transfer::{BlockDigest, Partial};
use wasm_bindgen::JsValue;

use meshdrop_opfs::{self as opfs, PrivateFile};

const SUFFIX: &str = ".blocks";

/// The first line of a journal.
#[derive(Debug)]
// Written and read by `crate::encode` and `crate::decode`; the tests compare with serde.
#[cfg_attr(test, derive(serde::Serialize))]
struct Header {
    files: Vec<FileMeta>,
    stored_names: Vec<Option<String>>,
}

impl crate::decode::FromJson for Header {
    fn from_json(value: serde_json::Value) -> Result<Self, &'static str> {
        let mut fields = crate::decode::Fields::of(value)?;
        Ok(Self {
            files: fields.get("files")?,
            stored_names: fields.get("stored_names")?,
        })
    }
}

/// An incoming transfer as its journal has it.
#[derive(Debug, PartialEq)]
pub struct Kept {
    pub partial: Partial,
    /// Per file: its name in the private folder; `None` once it was verified and
    /// handed to the person.
    pub stored_names: Vec<Option<String>>,
    /// How many blocks it records verified.
    pub blocks: u64,
    /// Where the next record goes: after the last whole line.
    len: u64,
}

/// An open journal, appended to.
pub struct Journal {
    file: PrivateFile,
    len: u64,
    /// Blocks recorded verified, with those from before a reload.
    blocks: u64,
    /// Of them, those from before the page was reloaded.
    restored: u64,
}

/// The prefix of the names of what this page (`me`) keeps of transfers from `peer`:
/// see the module documentation.
fn prefix(me: &PeerId, peer: &PeerId) -> String {
    format!("{me}-{peer}-")
}

/// The name, in the private folder, of file `index` of incoming transfer `id` from
/// `peer`: its journal's name with the index for suffix, which [`clear_leftovers`]
/// goes by.
pub fn stored_name(me: &PeerId, peer: &PeerId, id: TransferId, index: u32) -> String {
    format!("{}{id}-{index}", prefix(me, peer))
}

impl Journal {
    /// A new journal for incoming transfer `id` from `peer` of `files`, stored under
    /// `stored_names`.
    pub async fn create(
        me: &PeerId,
        peer: &PeerId,
        id: TransferId,
        files: &[FileMeta],
        stored_names: Vec<Option<String>>,
    ) -> Result<Self, JsValue> {
        // Its files are named after it ([`stored_name`]).
        let name = format!("{}{id}{SUFFIX}", prefix(me, peer));
        // A `Header`.
        let names = stored_names.iter().map(Option::as_deref);
        let line = crate::encode::files_record(files, "stored_names", names);
        let mut journal = Self {
            file: PrivateFile::create(name).await?,
            len: 0,
            blocks: 0,
            restored: 0,
        };
        journal.append(&line);
        Ok(journal)
    }

    /// Block `block` of file `index` is verified, its bytes handed to the writer.
    pub fn record_block(&mut self, index: u32, block: u64, digest: &BlockDigest) {
        self.append(&format!("[{index},{block},\"{}\"]", hex::encode(digest)));
        self.blocks += 1;
    }

    /// File `index` was verified whole and handed to the person.
    pub fn record_file_done(&mut self, index: u32) {
        self.append(&format!("[{index}]"));
    }

    /// Its name in the private folder.
    pub fn name(&self) -> &str {
        self.file.stored_name()
    }

    /// Blocks recorded verified, with those from before a reload.
    pub fn blocks(&self) -> u64 {
        self.blocks
    }

    /// Blocks recorded verified before the page was reloaded.
    pub fn restored(&self) -> u64 {
        self.restored
    }

    /// The transfer ended: delete the journal.
    pub async fn discard(self) {
        self.file.discard().await
    }

    fn append(&mut self, line: &str) {
        let line = format!("{line}\n");
        self.file.write_at(self.len, line.as_bytes());
        self.len += line.len() as u64;
    }
}

/// The transfers from `peer` that this page (`me`) kept before it was reloaded, each
/// with its journal open to go on with. Journals that do not parse are deleted.
pub async fn kept(me: &PeerId, peer: &PeerId) -> Vec<(Kept, Journal)> {
    let prefix = prefix(me, peer);
    let mut found = Vec::new();
    for name in opfs::names().await {
        if !(name.starts_with(&prefix) && name.ends_with(SUFFIX)) {
            continue;
        }
        let Some(kept) = opfs::read_text(&name).await.as_deref().and_then(parse) else {
            opfs::remove(&name).await;
            continue;
        };
        if let Ok(file) = PrivateFile::create(name).await {
            let journal = Journal {
                file,
                len: kept.len,
                blocks: kept.blocks,
                restored: kept.blocks,
            };
            found.push((kept, journal));
        }
    }
    found
}

/// Delete what earlier pages left behind in the private folder: everything but the
/// transfers this page (`me`) kept before it was reloaded, their journals and files.
/// It goes by names alone (a transfer's files are named after its journal), so it
/// never depends on reading a journal the page may have open already. Files another
/// tab is writing are locked by the browser and survive.
pub async fn clear_leftovers(me: PeerId) {
    let names = opfs::names().await;
    let prefix = format!("{me}-");
    // A few transfers at most: a list is enough.
    let journals: Vec<&str> = names
        .iter()
        .filter_map(|name| name.strip_suffix(SUFFIX))
        .filter(|stem| stem.starts_with(&prefix))
        .collect();
    for name in &names {
        let stem = match name.strip_suffix(SUFFIX) {
            Some(stem) => Some(stem),
            None => name.rsplit_once('-').map(|(stem, _index)| stem),
        };
        if !stem.is_some_and(|stem| journals.contains(&stem)) {
            opfs::remove(name).await;
        }
    }
}

/// A journal's text as the transfer it keeps; `None` if its header is damaged or a
/// record does not fit it. A last line without its line feed was cut short and is
/// left out.
pub fn parse(text: &str) -> Option<Kept> {
    let whole = text.rfind('\n').map_or(0, |end| end + 1);
    let mut lines = text[..whole].lines();
    let header: Header = crate::decode::record(lines.next()?).ok()?;
    if header.stored_names.len() != header.files.len() {
        return None;
    }
    let mut kept = Kept {
        partial: Partial::empty(header.files),
        stored_names: header.stored_names,
        blocks: 0,
        len: whole as u64,
    };
    for line in lines {
        let record = crate::json::parse(line).ok()?;
        let record = record.as_array()?;
        let index = usize::try_from(record.first()?.as_u64()?).ok()?;
        let held = kept.partial.held.get_mut(index)?;
        match record.as_slice() {
            [_] => {
                held.verified = true;
                *kept.stored_names.get_mut(index)? = None;
            }
            [_, block, digest] => {
                let block = usize::try_from(block.as_u64()?).ok()?;
                let digest = digest.as_str()?;
                let is_digest = digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit());
                let slot = held.blocks.get_mut(block)?;
                if !is_digest {
                    return None;
                }
                if slot.replace(digest.to_owned()).is_none() {
                    kept.blocks += 1;
                }
            }
            _ => return None,
        }
    }
    Some(kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshdrop_transfer::{PartialFile, DIGEST_BLOCK_LEN};

    fn file(name: &str, size: u64) -> FileMeta {
        FileMeta {
            name: name.into(),
            size,
            mime: String::new(),
            path: None,
        }
    }

    fn header() -> String {
        let header = Header {
            files: vec![file("a.bin", 2 * DIGEST_BLOCK_LEN + 1), file("b.txt", 5)],
            stored_names: vec![Some("me-peer-0-0".into()), Some("me-peer-0-1".into())],
        };
        serde_json::to_string(&header).unwrap()
    }

    #[test]
    fn the_header_is_written_as_serde_writes_it() {
        let files = [file("a.bin", 7), file("b\"\n.txt", 5)];
        for stored_names in [vec![Some("me-peer-0-0"), None], vec![]] {
            let header = Header {
                files: files[..stored_names.len()].to_vec(),
                stored_names: stored_names
                    .iter()
                    .map(|name| name.map(String::from))
                    .collect(),
            };
            let written = crate::encode::files_record(&header.files, "stored_names", stored_names);
            assert_eq!(written, serde_json::to_string(&header).unwrap());
        }
    }

    #[test]
    fn records_rebuild_the_partial_and_a_cut_line_is_left_out() {
        let a = "a".repeat(64);
        let c = "c".repeat(64);
        let complete = format!("{}\n[0,2,\"{a}\"]\n[1,0,\"{c}\"]\n[1]\n", header());
        let text = format!("{complete}[0,0,\"ab");
        let kept = parse(&text).unwrap();
        assert_eq!(
            kept.len,
            complete.len() as u64,
            "the next record overwrites the cut one"
        );
        assert_eq!(kept.blocks, 2);
        assert_eq!(kept.stored_names, [Some("me-peer-0-0".into()), None]);
        assert_eq!(
            kept.partial.held,
            [
                PartialFile {
                    verified: false,
                    blocks: vec![None, None, Some(a)],
                },
                PartialFile {
                    verified: true,
                    blocks: vec![Some(c)],
                },
            ]
        );
    }

    #[test]
    fn a_record_that_does_not_fit_the_header_refuses_the_journal() {
        let good = "b".repeat(64);
        for record in [
            format!("[0,3,\"{good}\"]"),
            format!("[2,0,\"{good}\"]"),
            "[0,0,\"not hex\"]".to_owned(),
            "[0,0]".to_owned(),
            "{}".to_owned(),
        ] {
            assert_eq!(
                parse(&format!("{}\n{record}\n", header())),
                None,
                "{record}"
            );
        }
        assert_eq!(parse("not json\n"), None);
        assert_eq!(parse(""), None, "no header");
    }
}
