//! Where a received file may be written: a relative path, chosen by the peer, made safe
//! to create under the folder the person picked.
//!
//! A peer names its files, and a hostile one names them `../../.bashrc`, `/etc/passwd`,
//! `C:\Windows\x` or `a\nb`. [`safe_paths`] turns every file of an offer into a
//! [`SafePath`] that cannot leave the chosen folder on any platform the app runs on,
//! and that no other file of the same offer shares, so two files never overwrite each
//! other. The rules are in docs/protocol.md ("Paths"), which is their specification.

use std::collections::{HashMap, HashSet};
use std::fmt;

use meshdrop_protocol::frame::FileMeta;

/// Longest component, in UTF-8 bytes: what ext4, APFS and NTFS all accept.
pub const MAX_COMPONENT_BYTES: usize = 255;
/// Longest whole path, in UTF-8 bytes, `/` separators included; deeper folders are
/// dropped (from the innermost) until it fits. Leaves room under Linux's 4096-byte
/// `PATH_MAX` for the folder it is saved in.
pub const MAX_PATH_BYTES: usize = 1024;
/// The name of a file whose every component was unusable (`..`, `/`, empty).
pub const FALLBACK_NAME: &str = "file";

/// Names Windows reserves for devices, with any extension (`CON.txt` too).
const WINDOWS_DEVICES: [&str; 22] = [
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// A relative path of one or more plain components: no `.`, `..` or empty component,
/// no separator, drive letter, control character or Windows-reserved name inside one,
/// each at most [`MAX_COMPONENT_BYTES`] and all together at most [`MAX_PATH_BYTES`].
/// Its `Display` joins the components with `/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SafePath {
    /// Never empty; the last one is the file's name.
    components: Vec<String>,
}

impl SafePath {
    /// The folders, outermost first, then the file's name.
    pub fn components(&self) -> &[String] {
        &self.components
    }

    /// The folders the file sits in, outermost first; empty for a loose file.
    pub fn folders(&self) -> &[String] {
        &self.components[..self.components.len() - 1]
    }

    pub fn file_name(&self) -> &str {
        self.components.last().expect("a SafePath is never empty")
    }
}

impl fmt::Display for SafePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.components.join("/"))
    }
}

/// A safe path for every file of an offer, in the offer's order, no two the same
/// (compared ignoring case, as Windows and macOS file systems do), and no file where
/// another file needs a folder.
pub fn safe_paths(files: &[FileMeta]) -> Vec<SafePath> {
    let mut unique = UniquePaths::default();
    files
        .iter()
        .map(|file| unique.claim(sanitise(file)))
        .collect()
}

/// The file's path (or, for a loose file, the last component of its name) made safe,
/// without looking at the other files.
fn sanitise(file: &FileMeta) -> Vec<String> {
    let raw: Vec<&str> = match &file.path {
        Some(path) => path.split(is_separator).collect(),
        None => file.name.rsplit(is_separator).take(1).collect(),
    };
    let mut components: Vec<String> = raw.into_iter().filter_map(clean_component).collect();
    if let Some(first) = components.first() {
        // A dot-file at the top of the folder could be picked up as configuration
        // (`.bashrc` in a home folder); deeper ones (`.git/`) are kept as they are.
        // Cleaned again: without its dot, `.con` is a device name.
        match clean_component(first.trim_start_matches('.')) {
            Some(undotted) => components[0] = undotted,
            None => drop(components.remove(0)),
        }
    }
    while components.len() > 1 && joined_len(&components) > MAX_PATH_BYTES {
        components.remove(components.len() - 2);
    }
    if components.is_empty() {
        components.push(FALLBACK_NAME.to_owned());
    }
    components
}

/// `\` separates folders on Windows, so it never stays inside a component.
fn is_separator(c: char) -> bool {
    c == '/' || c == '\\'
}

/// One component made safe, or `None` if nothing usable is left (`.`, `..`, empty).
fn clean_component(raw: &str) -> Option<String> {
    let replaced: String = raw
        .chars()
        .map(|c| if is_unsafe_char(c) { '_' } else { c })
        .collect();
    // Windows drops trailing dots and spaces, so `a.` would be `a` and `.. ` would be
    // `..`; leading spaces only mislead.
    let trimmed = replaced
        .trim_end_matches(['.', ' '])
        .trim_start_matches(char::is_whitespace);
    if trimmed.is_empty() {
        return None;
    }
    let named = if is_windows_device(trimmed) {
        format!("_{trimmed}")
    } else {
        trimmed.to_owned()
    };
    Some(truncate_keeping_extension(&named, MAX_COMPONENT_BYTES))
}

/// Control characters (NUL, newline, DEL, C1), the characters Windows forbids in names
/// (`:` makes drive letters and alternate streams), and the invisible bidirectional
/// controls that make `gpj.exe` look like `exe.jpg`.
fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*')
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn is_windows_device(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or(name).trim_end();
    WINDOWS_DEVICES
        .iter()
        .any(|device| device.eq_ignore_ascii_case(stem))
}

/// `name` cut to at most `max` bytes on a character boundary, keeping a short
/// extension so the file still opens with the right program.
fn truncate_keeping_extension(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_owned();
    }
    let (stem, extension) = split_extension(name);
    let extension = if extension.len() <= 16 { extension } else { "" };
    let mut end = max - extension.len();
    while !stem.is_char_boundary(end) {
        end -= 1;
    }
    // Cut where it may, the name must still not end in a dot or space.
    format!("{}{extension}", stem[..end].trim_end_matches(['.', ' ']))
}

/// `("photo", ".jpg")`; a leading dot does not start an extension (`.profile`).
fn split_extension(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(at) if at > 0 => name.split_at(at),
        _ => (name, ""),
    }
}

fn joined_len(components: &[String]) -> usize {
    components.iter().map(|c| c.len() + 1).sum::<usize>() - 1
}

/// The paths handed out so far in one offer, to keep every file's path its own.
#[derive(Default)]
struct UniquePaths {
    /// Files taken, by case-folded path.
    files: HashSet<String>,
    /// Folders taken, by case-folded path.
    folders: HashSet<String>,
    /// The folder each sanitised folder path was given, so that its files stay together
    /// when it had to be renamed (a file already had its name).
    renamed: HashMap<String, String>,
}

impl UniquePaths {
    fn claim(&mut self, components: Vec<String>) -> SafePath {
        let (name, folders) = components
            .split_last()
            .expect("sanitise never returns empty");
        let mut parent = String::new();
        let mut asked = String::new();
        for folder in folders {
            asked = join(&asked, folder);
            parent = match self.renamed.get(&fold(&asked)) {
                Some(given) => given.clone(),
                None => {
                    let given = self.free(&parent, folder, |taken, key| taken.files.contains(key));
                    self.folders.insert(fold(&given));
                    self.renamed.insert(fold(&asked), given.clone());
                    given
                }
            };
        }
        let path = self.free(&parent, name, |taken, key| {
            taken.files.contains(key) || taken.folders.contains(key)
        });
        self.files.insert(fold(&path));
        SafePath {
            components: path.split('/').map(str::to_owned).collect(),
        }
    }

    /// `parent/name`, or `parent/name (2)`, `(3)`… the first one `taken` says is free.
    fn free(&self, parent: &str, name: &str, taken: impl Fn(&Self, &str) -> bool) -> String {
        let mut candidate = join(parent, name);
        let mut n = 2;
        while taken(self, &fold(&candidate)) {
            candidate = join(parent, &numbered(name, n));
            n += 1;
        }
        candidate
    }
}

/// `name` itself for 0, else `photo (n).jpg`, still within [`MAX_COMPONENT_BYTES`]: the
/// name to try when `name` is taken, here within an offer and by receivers in the
/// folder they save to.
pub fn numbered(name: &str, n: u32) -> String {
    if n == 0 {
        return name.to_owned();
    }
    let (stem, extension) = split_extension(name);
    let suffix = format!(" ({n}){extension}");
    let mut end = stem
        .len()
        .min(MAX_COMPONENT_BYTES.saturating_sub(suffix.len()));
    while !stem.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{suffix}", &stem[..end])
}

fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_owned()
    } else {
        format!("{parent}/{name}")
    }
}

/// The key two paths collide on: Windows and macOS ignore case. Unicode's full lowercase
/// mapping (with the final sigma rule).
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
fn fold(path: &str) -> String {
    path.to_lowercase()
}

/// The key two paths collide on: Windows and macOS ignore case. In the browser the same
/// mapping as Rust's `str::to_lowercase` (Unicode's full lowercase, with the final sigma
/// rule), JavaScript's `toLowerCase`, which the page has anyway: Rust's case tables cost
/// the web app about 8 KB of gzipped wasm.
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
fn fold(path: &str) -> String {
    js_sys::JsString::from(path).to_lower_case().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_folder(path: &str) -> FileMeta {
        FileMeta {
            name: path.rsplit('/').next().unwrap().into(),
            size: 0,
            mime: String::new(),
            path: Some(path.into()),
        }
    }

    fn loose(name: &str) -> FileMeta {
        FileMeta {
            name: name.into(),
            size: 0,
            mime: String::new(),
            path: None,
        }
    }

    fn paths(files: &[FileMeta]) -> Vec<String> {
        safe_paths(files).iter().map(ToString::to_string).collect()
    }

    fn path(path: &str) -> String {
        paths(&[in_folder(path)]).remove(0)
    }

    /// What every safe path must be, whatever went in.
    fn assert_safe(path: &SafePath) {
        assert!(!path.components().is_empty());
        assert!(path.to_string().len() <= MAX_PATH_BYTES, "{path}");
        for component in path.components() {
            assert!(!component.is_empty() && component != "." && component != "..");
            assert!(component.len() <= MAX_COMPONENT_BYTES);
            assert!(!component
                .chars()
                .any(|c| is_separator(c) || is_unsafe_char(c)));
            assert!(!component.ends_with(['.', ' ']), "{component:?}");
            assert!(!is_windows_device(component), "{component:?}");
        }
        assert!(!path.components()[0].starts_with('.'));
    }

    #[test]
    fn ordinary_paths_are_kept() {
        assert_eq!(path("photos/2024/a.jpg"), "photos/2024/a.jpg");
        assert_eq!(
            path("Grüße/日本語 ファイル.txt"),
            "Grüße/日本語 ファイル.txt"
        );
        assert_eq!(path("repo/.git/config"), "repo/.git/config");
        assert_eq!(paths(&[loose("report.pdf")]), ["report.pdf"]);
    }

    #[test]
    fn climbing_out_is_impossible() {
        assert_eq!(path("../../x"), "x");
        assert_eq!(path("a/../../b/./c"), "a/b/c");
        assert_eq!(path("..\\..\\x"), "x");
        assert_eq!(path("a/.. /b"), "a/b");
        assert_eq!(path("a/.../b"), "a/b");
        assert_eq!(paths(&[loose("../../etc/passwd")]), ["passwd"]);
    }

    #[test]
    fn absolute_paths_become_relative() {
        assert_eq!(path("/etc/x"), "etc/x");
        assert_eq!(path("//server/share/x"), "server/share/x");
        assert_eq!(path("C:\\x"), "C_/x");
        assert_eq!(path("C:/Windows/x"), "C_/Windows/x");
        assert_eq!(path("\\\\?\\C:\\x"), "_/C_/x");
        assert_eq!(path("a/b:stream"), "a/b_stream");
    }

    #[test]
    fn control_characters_are_replaced() {
        assert_eq!(path("a\0b/c\nd\r.txt"), "a_b/c_d_.txt");
        assert_eq!(path("x\u{7f}\u{85}y"), "x__y");
        assert_eq!(path("invoice\u{202e}gpj.exe"), "invoice_gpj.exe");
        assert_eq!(paths(&[loose("a\nb")]), ["a_b"]);
    }

    #[test]
    fn windows_traps_are_defused() {
        assert_eq!(path("con"), "_con");
        assert_eq!(path("a/LPT1.txt/com9"), "a/_LPT1.txt/_com9");
        assert_eq!(path("a/console"), "a/console");
        assert_eq!(path("a/name. . "), "a/name");
        assert_eq!(path("a/b?*<>|\"c"), "a/b______c");
    }

    #[test]
    fn a_dot_file_at_the_top_loses_its_dot() {
        assert_eq!(paths(&[loose(".bashrc")]), ["bashrc"]);
        assert_eq!(path(".ssh/authorized_keys"), "ssh/authorized_keys");
        assert_eq!(paths(&[loose(".con")]), ["_con"]);
        assert_eq!(path(".../x"), "x");
    }

    #[test]
    fn nothing_usable_becomes_the_fallback_name() {
        for hostile in ["", "/", "..", "../..", ".", "\\", " ", "..."] {
            assert_eq!(path(hostile), FALLBACK_NAME, "{hostile:?}");
        }
        assert_eq!(paths(&[loose("a/")]), [FALLBACK_NAME]);
    }

    #[test]
    fn long_names_are_cut_keeping_the_extension() {
        let long = format!("{}.jpg", "é".repeat(300));
        let cut = path(&long);
        assert!(cut.len() <= MAX_COMPONENT_BYTES);
        assert!(cut.ends_with("é.jpg"), "{cut}");
    }

    #[test]
    fn deep_paths_lose_inner_folders_until_they_fit() {
        let deep = format!("{}name.txt", "folder/".repeat(400));
        let cut = path(&deep);
        assert!(cut.len() <= MAX_PATH_BYTES);
        assert!(cut.starts_with("folder/folder/") && cut.ends_with("/name.txt"));
    }

    #[test]
    fn two_files_never_share_a_path() {
        let files = [
            in_folder("d/a.txt"),
            in_folder("./d/a.txt"),
            in_folder("D/A.TXT"),
            in_folder("d/a.txt\n"),
            loose("a.txt"),
            loose("../a.txt"),
        ];
        assert_eq!(
            paths(&files),
            [
                "d/a.txt",
                "d/a (2).txt",
                "d/A (3).TXT",
                "d/a.txt_",
                "a.txt",
                "a (2).txt"
            ]
        );
    }

    #[test]
    fn a_file_and_a_folder_never_share_a_path() {
        let file_first = [in_folder("a"), in_folder("a/b"), in_folder("a/c")];
        assert_eq!(paths(&file_first), ["a", "a (2)/b", "a (2)/c"]);
        let folder_first = [in_folder("a/b"), in_folder("a")];
        assert_eq!(paths(&folder_first), ["a/b", "a (2)"]);
    }

    #[test]
    fn numbered_names_stay_within_bounds() {
        let long = "x".repeat(MAX_COMPONENT_BYTES);
        let got = safe_paths(&[in_folder(&long), in_folder(&long)]);
        assert_eq!(got[0].file_name(), long);
        assert!(got[1].file_name().ends_with(" (2)"));
        assert_eq!(got[1].file_name().len(), MAX_COMPONENT_BYTES);
        assert_eq!(numbered("a.tar", 0), "a.tar");
        assert_eq!(numbered("a.tar", 1), "a (1).tar");
        assert_eq!(numbered(".profile", 3), ".profile (3)");
    }

    #[test]
    fn hostile_offers_only_give_safe_distinct_paths() {
        let hostile = [
            "../../x",
            "/etc/x",
            "C:\\x",
            "a\0b",
            "a\nb",
            "..",
            "con.txt",
            "a/./b",
            "a//b",
            "\\\\host\\share",
            "é/../../é",
            ".",
            " / ",
            "a:b/c",
            "x/..\\..\\y",
        ];
        let files: Vec<FileMeta> = hostile
            .iter()
            .map(|p| in_folder(p))
            .chain(hostile.iter().map(|p| loose(p)))
            .collect();
        let got = safe_paths(&files);
        let distinct: HashSet<String> = got.iter().map(|p| fold(&p.to_string())).collect();
        assert_eq!(distinct.len(), files.len());
        got.iter().for_each(assert_safe);
    }
}
