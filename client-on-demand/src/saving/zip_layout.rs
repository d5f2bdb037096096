//! The bytes of a store-only zip archive (no compression) around file contents written
//! elsewhere: local headers, central directory and end records, with zip64 fields for
//! files and archives past 4 GiB. It never sees file contents, only their sizes and
//! CRC-32s, so an archive of any size is built by streaming each file into place.
//!
//! Why not the `zip` crate: its writer wants a synchronous `Write + Seek` sink and
//! brings its compressors' code into the page; this is the small part of the format a
//! store-only archive needs (APPNOTE.TXT 6.3, sections 4.3 and 4.5.3).

/// The zip's CRC-32 (ISO-HDLC), one 1 KiB table: crc32fast's 16 KiB of slice-by-16
/// tables cost the page's download more than their speed gains on a disk-bound copy.
pub static CRC32: crc::Crc<u32, crc::Table<1>> =
    crc::Crc::<u32, crc::Table<1>>::new(&crc::CRC_32_ISO_HDLC);

/// Marks sizes and offsets that live in the zip64 extra field instead.
const FULL_32: u32 = u32::MAX;
const FULL_16: u16 = u16::MAX;
/// 4.5 (zip64); 2.0 otherwise.
const VERSION_ZIP64: u16 = 45;
const VERSION_PLAIN: u16 = 20;
/// General purpose flag bit 11: names are UTF-8.
const UTF8_NAMES: u16 = 1 << 11;
/// 1980-01-01 00:00 in MS-DOS form: the archive claims no modification times.
const DOS_TIME: u16 = 0;
const DOS_DATE: u16 = (1 << 5) | 1;

/// The entries of an archive being built, and where the next one goes.
#[derive(Debug, Default)]
pub struct ZipLayout {
    entries: Vec<Entry>,
    /// Bytes of local headers and contents so far: where the next header goes.
    end: u64,
}

#[derive(Debug)]
struct Entry {
    name: String,
    size: u64,
    crc: u32,
    offset: u64,
}

impl ZipLayout {
    /// Where the next entry's local header starts.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// How many bytes the local header of `name` (of `size` bytes) takes: the file's
    /// contents start that far after [`ZipLayout::end`].
    pub fn header_len(name: &str, size: u64) -> u64 {
        local_header(name, size, 0).len() as u64
    }

    /// Add the entry whose header starts at [`ZipLayout::end`] and whose `size` bytes
    /// with CRC-32 `crc` follow it; returns its local header.
    pub fn add(&mut self, name: &str, size: u64, crc: u32) -> Vec<u8> {
        let header = local_header(name, size, crc);
        self.entries.push(Entry {
            name: name.to_owned(),
            size,
            crc,
            offset: self.end,
        });
        self.end += header.len() as u64 + size;
        header
    }

    /// The central directory and end records, which go at [`ZipLayout::end`] and
    /// complete the archive.
    pub fn finish(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for entry in &self.entries {
            central_header(entry, &mut out);
        }
        let directory_size = out.len() as u64;
        let directory_offset = self.end;
        let count = self.entries.len() as u64;
        let needs_zip64 = count >= u64::from(FULL_16)
            || directory_size >= u64::from(FULL_32)
            || directory_offset >= u64::from(FULL_32);
        if needs_zip64 {
            let record_offset = directory_offset + directory_size;
            put32(&mut out, 0x0606_4b50);
            put64(&mut out, 44);
            put16(&mut out, VERSION_ZIP64);
            put16(&mut out, VERSION_ZIP64);
            put32(&mut out, 0);
            put32(&mut out, 0);
            put64(&mut out, count);
            put64(&mut out, count);
            put64(&mut out, directory_size);
            put64(&mut out, directory_offset);
            put32(&mut out, 0x0706_4b50);
            put32(&mut out, 0);
            put64(&mut out, record_offset);
            put32(&mut out, 1);
        }
        let count16 = u16::try_from(count).unwrap_or(FULL_16);
        put32(&mut out, 0x0605_4b50);
        put16(&mut out, 0);
        put16(&mut out, 0);
        put16(&mut out, count16);
        put16(&mut out, count16);
        put32(&mut out, clamp32(directory_size));
        put32(&mut out, clamp32(directory_offset));
        put16(&mut out, 0);
        out
    }
}

fn local_header(name: &str, size: u64, crc: u32) -> Vec<u8> {
    let zip64 = size >= u64::from(FULL_32);
    let mut out = Vec::with_capacity(30 + name.len() + 20);
    put32(&mut out, 0x0403_4b50);
    put16(&mut out, version(zip64));
    put16(&mut out, UTF8_NAMES);
    put16(&mut out, 0); // stored
    put16(&mut out, DOS_TIME);
    put16(&mut out, DOS_DATE);
    put32(&mut out, crc);
    put32(&mut out, clamp32(size)); // compressed
    put32(&mut out, clamp32(size)); // uncompressed
    put16(&mut out, name_len(name));
    put16(&mut out, if zip64 { 20 } else { 0 });
    out.extend_from_slice(name.as_bytes());
    if zip64 {
        put16(&mut out, 0x0001);
        put16(&mut out, 16);
        put64(&mut out, size);
        put64(&mut out, size);
    }
    out
}

fn central_header(entry: &Entry, out: &mut Vec<u8>) {
    let big_size = entry.size >= u64::from(FULL_32);
    let big_offset = entry.offset >= u64::from(FULL_32);
    // The zip64 extra field holds, in this order, only the values that overflowed.
    let mut extra = Vec::new();
    if big_size {
        put64(&mut extra, entry.size);
        put64(&mut extra, entry.size);
    }
    if big_offset {
        put64(&mut extra, entry.offset);
    }
    put32(out, 0x0201_4b50);
    put16(out, version(big_size || big_offset));
    put16(out, version(big_size || big_offset));
    put16(out, UTF8_NAMES);
    put16(out, 0);
    put16(out, DOS_TIME);
    put16(out, DOS_DATE);
    put32(out, entry.crc);
    put32(out, clamp32(entry.size));
    put32(out, clamp32(entry.size));
    put16(out, name_len(&entry.name));
    put16(
        out,
        if extra.is_empty() {
            0
        } else {
            4 + extra.len() as u16
        },
    );
    put16(out, 0); // comment
    put16(out, 0); // disk
    put16(out, 0); // internal attributes
    put32(out, 0); // external attributes
    put32(out, clamp32(entry.offset));
    out.extend_from_slice(entry.name.as_bytes());
    if !extra.is_empty() {
        put16(out, 0x0001);
        put16(out, extra.len() as u16);
        out.extend_from_slice(&extra);
    }
}

fn version(zip64: bool) -> u16 {
    if zip64 {
        VERSION_ZIP64
    } else {
        VERSION_PLAIN
    }
}

/// Safe paths are at most 1,024 bytes, far below the field's limit.
fn name_len(name: &str) -> u16 {
    u16::try_from(name.len()).expect("entry names are short")
}

fn clamp32(value: u64) -> u32 {
    u32::try_from(value).unwrap_or(FULL_32)
}

fn put16(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(&value.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Seek, SeekFrom, Write};

    use super::*;

    /// An archive of `files` built the way the page builds one: header, contents,
    /// header again with the CRC, then the directory.
    fn archive(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut layout = ZipLayout::default();
        let mut out = Vec::new();
        for (name, bytes) in files {
            assert_eq!(layout.end(), out.len() as u64);
            out.extend(vec![
                0;
                ZipLayout::header_len(name, bytes.len() as u64) as usize
            ]);
            out.extend_from_slice(bytes);
            let at = layout.end() as usize;
            let header = layout.add(name, bytes.len() as u64, CRC32.checksum(bytes));
            out[at..at + header.len()].copy_from_slice(&header);
        }
        out.extend(layout.finish());
        out
    }

    #[test]
    fn a_zip_reader_finds_every_file_with_its_path_and_bytes() {
        let files: [(&str, &[u8]); 3] = [
            ("album/2024/a.bin", b"some bytes"),
            ("album/empty.txt", b""),
            ("album/Grüße 日本語.txt", b"unicode"),
        ];
        let bytes = archive(&files);
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        assert_eq!(zip.len(), files.len());
        for (name, contents) in files {
            let mut entry = zip.by_name(name).unwrap();
            let mut read = Vec::new();
            // Reading to the end checks the CRC-32.
            entry.read_to_end(&mut read).unwrap();
            assert_eq!(read, contents, "{name}");
        }
    }

    #[test]
    fn an_archive_of_70_000_files_uses_zip64_end_records() {
        let names: Vec<String> = (0..70_000).map(|i| format!("f/{i}")).collect();
        let files: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
        let zip = zip::ZipArchive::new(std::io::Cursor::new(archive(&files))).unwrap();
        assert_eq!(zip.len(), 70_000);
    }

    #[test]
    fn a_file_past_4_gib_uses_zip64_fields() {
        const BIG: u64 = 5 << 30;
        let mut file = tempfile::tempfile().unwrap();
        let mut layout = ZipLayout::default();
        // A sparse 5 GiB of zeros, then a small file whose offset needs zip64 too. The
        // big one's contents are never read back, so its CRC is not checked.
        let header = layout.add("big.bin", BIG, 0);
        file.write_all(&header).unwrap();
        file.set_len(header.len() as u64 + BIG).unwrap();
        file.seek(SeekFrom::End(0)).unwrap();
        let small_at = layout.end();
        file.write_all(&layout.add("small.txt", 2, CRC32.checksum(b"hi")))
            .unwrap();
        file.write_all(b"hi").unwrap();
        file.write_all(&layout.finish()).unwrap();

        let mut zip = zip::ZipArchive::new(file).unwrap();
        assert_eq!(zip.by_name("big.bin").unwrap().size(), BIG);
        let mut small = zip.by_name("small.txt").unwrap();
        assert_eq!(small.header_start(), small_at);
        let mut read = String::new();
        small.read_to_string(&mut read).unwrap();
        assert_eq!(read, "hi");
    }
}
