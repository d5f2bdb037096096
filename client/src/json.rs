//! Parses JSON text into a [`serde_json::Value`], as `serde_json::from_str` does, for a
//! fraction of its wasm.
//!
//! serde_json's parser is its generic deserializer driven by the value's visitor, with its
//! own float parsing (and power-of-ten table) and error messages: about 6 KB of the app's
//! gzipped wasm. The app only ever parses whole values, so this is a plain recursive
//! descent over the bytes, with serde_json's rules: the same grammar, nesting at most 127
//! deep, integers as `u64` or `i64` where they fit (and `-0` as a float), strings with
//! paired surrogate escapes only. Floats are read by the browser's `parseFloat`, correctly
//! rounded (serde_json's own parsing is exact to within an ulp). The tests compare both on
//! valid and broken texts.

use serde_json::{Map, Number, Value};

/// Why a text is not JSON; what [`parse`] found, not where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not JSON: {0}")]
pub struct NotJson(&'static str);

/// The value `text` holds.
pub fn parse(text: &str) -> Result<Value, NotJson> {
    let mut parser = Parser {
        bytes: text.as_bytes(),
        at: 0,
        depth: 0,
    };
    let value = parser.value()?;
    parser.skip_whitespace();
    match parser.peek() {
        None => Ok(value),
        Some(_) => Err(NotJson("trailing characters")),
    }
}

/// serde_json refuses the 128th array or object inside another.
const MAX_DEPTH: usize = 127;

struct Parser<'a> {
    bytes: &'a [u8],
    at: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn next(&mut self) -> Result<u8, NotJson> {
        let byte = self.peek().ok_or(NotJson("unexpected end"))?;
        self.at += 1;
        Ok(byte)
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\t' | b'\r')) {
            self.at += 1;
        }
    }

    /// Consumes `word` (after its first byte, already read).
    fn rest_of(&mut self, word: &str) -> Result<(), NotJson> {
        match self.bytes[self.at..].starts_with(&word.as_bytes()[1..]) {
            true => {
                self.at += word.len() - 1;
                Ok(())
            }
            false => Err(NotJson("expected a value")),
        }
    }

    fn value(&mut self) -> Result<Value, NotJson> {
        self.skip_whitespace();
        Ok(match self.next()? {
            b'n' => self.rest_of("null").map(|()| Value::Null)?,
            b't' => self.rest_of("true").map(|()| Value::Bool(true))?,
            b'f' => self.rest_of("false").map(|()| Value::Bool(false))?,
            b'"' => Value::String(self.string()?),
            b'[' => {
                self.enter()?;
                let mut items = Vec::new();
                if !self.closes(b']') {
                    loop {
                        items.push(self.value()?);
                        if !self.separated(b']')? {
                            break;
                        }
                    }
                }
                self.depth -= 1;
                Value::Array(items)
            }
            b'{' => {
                self.enter()?;
                let mut object = Map::new();
                if !self.closes(b'}') {
                    loop {
                        self.skip_whitespace();
                        if self.next()? != b'"' {
                            return Err(NotJson("expected a key"));
                        }
                        let key = self.string()?;
                        self.skip_whitespace();
                        if self.next()? != b':' {
                            return Err(NotJson("expected `:`"));
                        }
                        let value = self.value()?;
                        object.insert(key, value);
                        if !self.separated(b'}')? {
                            break;
                        }
                    }
                }
                self.depth -= 1;
                Value::Object(object)
            }
            b'-' => self.number(false)?,
            b'0'..=b'9' => {
                self.at -= 1;
                self.number(true)?
            }
            _ => return Err(NotJson("expected a value")),
        })
    }

    fn enter(&mut self) -> Result<(), NotJson> {
        self.depth += 1;
        match self.depth > MAX_DEPTH {
            true => Err(NotJson("nested too deep")),
            false => Ok(()),
        }
    }

    /// Whether the array or object just opened ends at once (`]` or `}`, consumed).
    fn closes(&mut self, close: u8) -> bool {
        self.skip_whitespace();
        let closes = self.peek() == Some(close);
        if closes {
            self.at += 1;
        }
        closes
    }

    /// After an item: `true` for a comma (another item follows), `false` for `close`.
    fn separated(&mut self, close: u8) -> Result<bool, NotJson> {
        self.skip_whitespace();
        match self.next()? {
            b',' => Ok(true),
            byte if byte == close => Ok(false),
            _ => Err(NotJson("expected `,` or the end")),
        }
    }

    /// A string's contents, after its opening quote.
    fn string(&mut self) -> Result<String, NotJson> {
        let mut text = String::new();
        loop {
            let start = self.at;
            while matches!(self.peek(), Some(byte) if byte != b'"' && byte != b'\\' && byte >= b' ')
            {
                self.at += 1;
            }
            // Runs between quotes, escapes and control characters are whole characters
            // of the valid UTF-8 text.
            text.push_str(std::str::from_utf8(&self.bytes[start..self.at]).unwrap_or_default());
            match self.next()? {
                b'"' => return Ok(text),
                b'\\' => {}
                _ => return Err(NotJson("control character in a string")),
            }
            let escaped = match self.next()? {
                b'"' => '"',
                b'\\' => '\\',
                b'/' => '/',
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                b'u' => self.unicode_escape()?,
                _ => return Err(NotJson("invalid escape")),
            };
            text.push(escaped);
        }
    }

    /// `\uXXXX`, after its `u`: a character, or a surrogate pair as two escapes.
    fn unicode_escape(&mut self) -> Result<char, NotJson> {
        let high = self.hex4()?;
        let code = match high {
            0xD800..=0xDBFF => {
                if self.next()? != b'\\' || self.next()? != b'u' {
                    return Err(NotJson("unpaired surrogate"));
                }
                match self.hex4()? {
                    low @ 0xDC00..=0xDFFF => 0x1_0000 + ((high - 0xD800) << 10 | (low - 0xDC00)),
                    _ => return Err(NotJson("unpaired surrogate")),
                }
            }
            code => code,
        };
        char::from_u32(code).ok_or(NotJson("unpaired surrogate"))
    }

    fn hex4(&mut self) -> Result<u32, NotJson> {
        let mut code = 0;
        for _ in 0..4 {
            let digit = char::from(self.next()?).to_digit(16);
            code = code * 16 + digit.ok_or(NotJson("invalid \\u escape"))?;
        }
        Ok(code)
    }

    /// A number, after its `-` if `!positive`, as serde_json reads it.
    fn number(&mut self, positive: bool) -> Result<Value, NotJson> {
        let start = self.at - usize::from(!positive);
        let mut whole: Option<u64> = Some(0);
        match self.next()? {
            b'0' => {
                if matches!(self.peek(), Some(b'0'..=b'9')) {
                    return Err(NotJson("leading zero"));
                }
            }
            digit @ b'1'..=b'9' => {
                whole = Some(u64::from(digit - b'0'));
                while let Some(digit @ b'0'..=b'9') = self.peek() {
                    self.at += 1;
                    whole = whole
                        .and_then(|whole| whole.checked_mul(10))
                        .and_then(|whole| whole.checked_add(u64::from(digit - b'0')));
                }
            }
            _ => return Err(NotJson("invalid number")),
        }
        let mut float = whole.is_none();
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.digits()?;
            float = true;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            self.digits()?;
            float = true;
        }
        let number = match (float, whole) {
            (false, Some(whole)) if positive => Number::from(whole),
            (false, Some(whole)) => match (whole as i64).wrapping_neg() {
                // Below `i64::MIN`, or `-0`: a float, as serde_json has it.
                negated if negated >= 0 => float_number(-(whole as f64))?,
                negated => Number::from(negated),
            },
            _ => {
                let token = std::str::from_utf8(&self.bytes[start..self.at]).unwrap_or_default();
                float_number(parse_float(token))?
            }
        };
        Ok(Value::Number(number))
    }

    /// One or more digits.
    fn digits(&mut self) -> Result<(), NotJson> {
        if !matches!(self.peek(), Some(b'0'..=b'9')) {
            return Err(NotJson("invalid number"));
        }
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
        Ok(())
    }
}

fn float_number(float: f64) -> Result<Number, NotJson> {
    Number::from_f64(float).ok_or(NotJson("number out of range"))
}

/// A JSON number token as the nearest `f64` (the browser's parser, in the app).
#[cfg(target_arch = "wasm32")]
fn parse_float(token: &str) -> f64 {
    js_sys::parse_float(token)
}

/// A JSON number token as the nearest `f64` (Rust's parser, in host tests: both round
/// correctly).
#[cfg(not(target_arch = "wasm32"))]
fn parse_float(token: &str) -> f64 {
    token.parse().unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_as_serde_json_does() {
        let deep_ok = format!("{}{}", "[".repeat(127), "]".repeat(127));
        let deep = format!("{}{}", "[".repeat(128), "]".repeat(128));
        let texts = [
            "null",
            " true ",
            "false",
            "0",
            "-0",
            "7",
            "-7",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775808",
            "-9223372036854775809",
            "1.5",
            "-1.25e3",
            "1795983180621.7",
            "1E+2",
            "2e-3",
            "1e400",
            "-1e400",
            "1e-400",
            "01",
            "-",
            "1.",
            ".5",
            "1e",
            "+1",
            "\"\"",
            r#""a\"b\\c\/d\b\f\n\r\t""#,
            r#""\u00e9\u20AC\ud83d\ude00""#,
            r#""\ud83d""#,
            r#""\ud83dx""#,
            r#""\ude00""#,
            r#""\ud83d\u0041""#,
            r#""\u12""#,
            r#""\x""#,
            "\"tab\tinside\"",
            "\"é😀\"",
            "\"unterminated",
            "[]",
            "[ 1 , [2, {}] ]",
            "[1,]",
            "[1 2]",
            "{}",
            r#"{"a":1,"b":{"c":[true,null]},"a":2}"#,
            r#"{"a" : 1 }"#,
            r#"{"a":1,}"#,
            r#"{a:1}"#,
            r#"{"a"}"#,
            r#"{"a":}"#,
            "nul",
            "truex",
            "1 2",
            "",
            "   ",
            &deep_ok,
            &deep,
        ];
        for text in texts {
            let serde = serde_json::from_str::<Value>(text).ok();
            assert_eq!(parse(text).ok(), serde, "{text}");
        }
    }
}
