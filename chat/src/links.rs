//! Links in a chat line: which parts of the text to show as links.
//!
//! Only `http://`, `https://` and `mailto:` addresses become links; anything else
//! (`javascript:`, `data:`, a bare `www.`) stays text. A link runs to the next white
//! space, less the punctuation that usually ends a sentence around it ("see
//! https://a.example/x." links `https://a.example/x`). The page shows every part as
//! text and sets a link's address as an attribute, never as markup.

/// A run of a chat line: text, or a link whose text is its address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment<'a> {
    Text(&'a str),
    Link(&'a str),
}

const SCHEMES: [&[u8]; 3] = [b"https://", b"http://", b"mailto:"];

/// `text` cut into text and links, in order; joined, the segments are `text`.
///
/// It works on bytes (every byte that matters here is ASCII, and a link never ends
/// inside a character): the web app carries this code, and `str`'s character
/// machinery would cost it more.
pub fn segments(text: &str) -> Vec<Segment<'_>> {
    let bytes = text.as_bytes();
    let mut segments = Vec::new();
    let mut text_from = 0;
    let mut at = 0;
    while at < bytes.len() {
        let starts_word = at == 0 || b" \t\r\n([<\"'".contains(&bytes[at - 1]);
        let link_len = if starts_word {
            link_at(&bytes[at..])
        } else {
            0
        };
        if link_len > 0 {
            if text_from < at {
                segments.push(Segment::Text(&text[text_from..at]));
            }
            segments.push(Segment::Link(&text[at..at + link_len]));
            at += link_len;
            text_from = at;
        } else {
            at += 1;
        }
    }
    if text_from < bytes.len() {
        segments.push(Segment::Text(&text[text_from..]));
    }
    segments
}

/// The length of the link `text` starts with, or 0. Always ends before an ASCII byte,
/// or at the end: on a character boundary.
fn link_at(text: &[u8]) -> usize {
    let Some(scheme) = SCHEMES.iter().find(|scheme| {
        text.len() >= scheme.len() && text[..scheme.len()].eq_ignore_ascii_case(scheme)
    }) else {
        return 0;
    };
    let mut end = text
        .iter()
        .position(|byte| byte.is_ascii_whitespace())
        .unwrap_or(text.len());
    let count = |byte: u8, end: usize| text[..end].iter().filter(|b| **b == byte).count();
    while end > scheme.len() {
        let last = text[end - 1];
        // A closing parenthesis belongs to the link only if the link opened it.
        let unbalanced = last == b')' && count(b')', end) > count(b'(', end);
        if b".,;:!?'\">]}".contains(&last) || unbalanced {
            end -= 1;
        } else {
            break;
        }
    }
    if end > scheme.len() {
        end
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::Segment::{Link, Text};
    use super::*;

    #[test]
    fn finds_web_and_mail_links_in_text() {
        assert_eq!(
            segments("see https://a.example/x?y=1#z, or mailto:me@b.example."),
            vec![
                Text("see "),
                Link("https://a.example/x?y=1#z"),
                Text(", or "),
                Link("mailto:me@b.example"),
                Text("."),
            ]
        );
        assert_eq!(segments("HTTP://A.EXAMPLE"), vec![Link("HTTP://A.EXAMPLE")]);
        assert_eq!(
            segments("(http://a.example/wiki/X_(y))"),
            vec![Text("("), Link("http://a.example/wiki/X_(y)"), Text(")")]
        );
    }

    #[test]
    fn leaves_every_other_scheme_as_text() {
        for text in [
            "javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "www.a.example",
            "file:///etc/passwd",
            "xhttps://a.example",
            "https://",
            "<img src=x onerror=alert(1)>",
        ] {
            assert_eq!(segments(text), vec![Text(text)], "{text}");
        }
    }

    #[test]
    fn segments_join_to_the_text() {
        for text in [
            "",
            "é https://a.example/é ü",
            "a\nhttp://b.example\n",
            "http://x",
        ] {
            let joined: String = segments(text)
                .iter()
                .map(|segment| match segment {
                    Text(text) | Link(text) => *text,
                })
                .collect();
            assert_eq!(joined, text);
        }
    }
}
