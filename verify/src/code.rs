//! Pairing codes: a number and two words, like `4172-pupil-brave`.
//!
//! The number names the meeting place on the server (`_pair-4172`) and is no secret.
//! The two words are the secret that goes into the PAKE and never leaves the device:
//! each is one of the 2048 words of the BIP-39 English list (`words.txt`, from
//! bitcoin/bips `bip-0039/english.txt`), so the code carries 22 bits a guesser has to
//! find, online, in the one attempt the meeting place allows. That list is made to be
//! typed: its words are told apart by their first four letters, which is all
//! [`PairingCode::parse`] needs. It is kept as one string, which costs the web app a
//! third of what an array of 2048 strings does, and front-coded at compile time: each
//! word as how many letters it shares with the one before and the letters after those
//! (`0abandon2ility3e…`), which gzips to 1.7 KB less than the list itself.

use std::fmt;
use std::str::FromStr;

use meshdrop_protocol::signaling::MEETING_PLACE_PREFIX;
use meshdrop_protocol::RoomId;

/// The meeting-place numbers handed out: short to say, and plenty for the pairings
/// that wait on one server at the same time.
const NUMBERS: u16 = 9999;
/// How many letters tell two words of the list apart.
const DISTINCT_PREFIX: usize = 4;
/// The word list, one word a line, in BIP-39 order.
const WORDS: &str = include_str!("words.txt");
/// [`WORDS`] front-coded: for each word, an ASCII digit (the letters it shares with the
/// word before) and its other letters. Only this is in the program; see [`front_code`].
const FRONT_CODED: [u8; front_coded_len(WORDS.as_bytes())] = front_code(WORDS.as_bytes());
/// How many words the list has: 2^11.
const WORD_COUNT: u16 = 2048;

/// Why a typed code was refused, in words for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("a code is a number and two words, like 4172-pupil-brave")]
    Shape,
    #[error("a code starts with a number from 1 to {NUMBERS}")]
    Number,
    #[error("\"{0}\" is not one of the code words: check its spelling")]
    UnknownWord(String),
}

/// A pairing code.
#[derive(Clone, PartialEq, Eq)]
pub struct PairingCode {
    number: u16,
    words: [u16; 2],
}

impl PairingCode {
    /// Secret bits of a code: what an attacker must guess.
    pub const SECRET_BITS: u32 = 22;

    /// A fresh code from 8 random bytes of the caller's CSPRNG.
    pub fn generate(entropy: [u8; 8]) -> Self {
        let half = |at: usize| u16::from_be_bytes([entropy[at], entropy[at + 1]]);
        Self {
            number: 1 + half(0) % NUMBERS,
            // 2048 divides 65536: every word is equally likely.
            words: [half(2) % WORD_COUNT, half(4) % WORD_COUNT],
        }
    }

    /// Reads a code as a person typed it: any case, words apart by `-` or spaces,
    /// each word by its first four letters or more.
    pub fn parse(text: &str) -> Result<Self, CodeError> {
        let lower = text.trim().to_ascii_lowercase();
        let parts: Vec<&str> = lower
            .split(|c: char| c == '-' || c.is_whitespace())
            .filter(|part| !part.is_empty())
            .collect();
        let [number, first, second] = parts[..] else {
            return Err(CodeError::Shape);
        };
        let number = number
            .parse::<u16>()
            .ok()
            .filter(|n| (1..=NUMBERS).contains(n))
            .ok_or(CodeError::Number)?;
        Ok(Self {
            number,
            words: [word_index(first)?, word_index(second)?],
        })
    }

    /// The room on the server where the two devices meet.
    pub fn meeting_place(&self) -> RoomId {
        RoomId::new(format!("{MEETING_PLACE_PREFIX}{}", self.number))
            .expect("a prefix and digits make a valid room name")
    }

    /// The PAKE password: the two words, and only they.
    pub(crate) fn secret(&self) -> String {
        format!("{} {}", word(self.words[0]), word(self.words[1]))
    }

    pub(crate) fn number(&self) -> u16 {
        self.number
    }
}

fn word(index: u16) -> String {
    let mut word = String::new();
    find_word(|at, candidate| {
        let found = at == index;
        if found {
            candidate.clone_into(&mut word);
        }
        found
    });
    word
}

/// The list's word that `typed` spells out, whole or by its first four letters or more.
fn word_index(typed: &str) -> Result<u16, CodeError> {
    find_word(|_, word| word == typed || typed.len() >= DISTINCT_PREFIX && word.starts_with(typed))
        .ok_or_else(|| CodeError::UnknownWord(typed.to_owned()))
}

/// Unpacks the list's words in order, each with its index, until `found` says so; that
/// word's index.
fn find_word(mut found: impl FnMut(u16, &str) -> bool) -> Option<u16> {
    let mut word = String::new();
    let mut rest = &FRONT_CODED[..];
    let mut index = 0;
    while let [shared, tail @ ..] = rest {
        let end = tail
            .iter()
            .position(u8::is_ascii_digit)
            .unwrap_or(tail.len());
        word.truncate(usize::from(shared - b'0'));
        // The list is lowercase ASCII letters: every byte is a char.
        word.extend(tail[..end].iter().map(|&letter| char::from(letter)));
        if found(index, &word) {
            return Some(index);
        }
        rest = &tail[end..];
        index += 1;
    }
    None
}

/// How many letters `word` shares with `before`, at most nine (one digit).
const fn shared_prefix(before: &[u8], word: &[u8]) -> usize {
    let mut shared = 0;
    while shared < before.len()
        && shared < word.len()
        && shared < 9
        && before[shared] == word[shared]
    {
        shared += 1;
    }
    shared
}

/// Where the word of `list` (one a line) that begins at `start` ends.
const fn next_word(list: &[u8], start: usize) -> usize {
    let mut end = start;
    while end < list.len() && list[end] != b'\n' {
        end += 1;
    }
    end
}

/// The length of `list` front-coded (see [`front_code`]).
const fn front_coded_len(list: &[u8]) -> usize {
    front_code_into(list, &mut [])
}

/// `list` front-coded: each word as a digit, how many of its first letters are those
/// of the word before, and its remaining letters.
const fn front_code<const N: usize>(list: &[u8]) -> [u8; N] {
    let mut coded = [0; N];
    front_code_into(list, &mut coded);
    coded
}

/// Front-codes `list` into `coded`, as far as it holds (nothing, to measure), and
/// returns the length of the whole.
const fn front_code_into(list: &[u8], coded: &mut [u8]) -> usize {
    let mut at = 0;
    let (mut before_start, mut before_end, mut start) = (0, 0, 0);
    while start < list.len() {
        let end = next_word(list, start);
        let (before, word) = (
            list.split_at(before_end).0.split_at(before_start).1,
            list.split_at(end).0.split_at(start).1,
        );
        let shared = shared_prefix(before, word);
        at = put(coded, at, b'0' + shared as u8);
        let mut letter = shared;
        while letter < word.len() {
            at = put(coded, at, word[letter]);
            letter += 1;
        }
        (before_start, before_end, start) = (start, end, end + 1);
    }
    at
}

/// Writes `byte` at `at` if `coded` reaches that far; where the next byte goes.
const fn put(coded: &mut [u8], at: usize, byte: u8) -> usize {
    if at < coded.len() {
        coded[at] = byte;
    }
    at + 1
}

/// `4172-pupil-brave`
impl fmt::Display for PairingCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [first, second] = self.words;
        write!(f, "{}-{}-{}", self.number, word(first), word(second))
    }
}

/// Never prints the secret words, so a code cannot leak through a log line.
impl fmt::Debug for PairingCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PairingCode({}-…)", self.number)
    }
}

impl FromStr for PairingCode {
    type Err = CodeError;

    fn from_str(text: &str) -> Result<Self, CodeError> {
        Self::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_reads_back_as_it_prints() {
        for seed in 0..200u8 {
            let code = PairingCode::generate([seed, seed ^ 0x5a, seed, 7, seed, 1, 2, seed]);
            assert_eq!(PairingCode::parse(&code.to_string()), Ok(code.clone()));
            assert!((1..=NUMBERS).contains(&code.number));
        }
    }

    #[test]
    fn people_may_type_it_loosely() {
        let code = PairingCode::parse("4172-pupil-brave").unwrap();
        assert_eq!(
            PairingCode::parse("4172-pupils-brave"),
            Err(CodeError::UnknownWord("pupils".into()))
        );
        for typed in [
            "4172 pupil brave",
            "  4172-PUPIL-Brave ",
            "4172 pupi brav",
            "4172--pupil  brave",
        ] {
            assert_eq!(PairingCode::parse(typed), Ok(code.clone()), "{typed}");
        }
        // Short words of the list are typed whole.
        assert!(PairingCode::parse("7-act-add").is_ok());
    }

    #[test]
    fn a_bad_code_says_what_is_wrong() {
        assert_eq!(PairingCode::parse("4172-pupil"), Err(CodeError::Shape));
        assert_eq!(PairingCode::parse(""), Err(CodeError::Shape));
        assert_eq!(
            PairingCode::parse("four-pupil-brave"),
            Err(CodeError::Number)
        );
        assert_eq!(PairingCode::parse("0-pupil-brave"), Err(CodeError::Number));
        assert_eq!(
            PairingCode::parse("12-pupil-bravx"),
            Err(CodeError::UnknownWord("bravx".into()))
        );
        assert_eq!(
            PairingCode::parse("12-pupil-ac"),
            Err(CodeError::UnknownWord("ac".into()))
        );
        assert_eq!(
            PairingCode::parse("12-pupil-ünïcode"),
            Err(CodeError::UnknownWord("ünïcode".into()))
        );
    }

    #[test]
    fn only_the_number_names_the_meeting_place() {
        let code = PairingCode::parse("4172-pupil-brave").unwrap();
        assert_eq!(code.meeting_place().as_str(), "_pair-4172");
        assert!(code.meeting_place().is_meeting_place());
        assert_eq!(code.secret(), "pupil brave");
        assert!(!format!("{code:?}").contains("pupil"));
    }

    #[test]
    fn the_words_carry_the_bits_claimed() {
        let words: Vec<&str> = WORDS.lines().collect();
        assert_eq!(words.len(), usize::from(WORD_COUNT));
        // The front-coded list the program keeps is the list.
        let mut unpacked = Vec::new();
        assert_eq!(
            find_word(|_, word| {
                unpacked.push(word.to_owned());
                false
            }),
            None
        );
        assert_eq!(unpacked, words);
        assert_eq!(word(0), "abandon");
        assert_eq!(word(WORD_COUNT - 1), "zoo");
        assert_eq!(word_index("zoo"), Ok(WORD_COUNT - 1));
        assert_eq!(1 << PairingCode::SECRET_BITS, words.len() * words.len());
        // Every word is told apart from the others by its first four letters.
        let mut prefixes: Vec<&str> = words.iter().map(|w| &w[..w.len().min(4)]).collect();
        prefixes.dedup();
        assert_eq!(prefixes.len(), words.len());
    }
}
