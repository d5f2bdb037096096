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

const SCHEMES: [&str; 3] = ["https://", "http://", "mailto:"];

/// `text` cut into text and links, in order; joined, the segments are `text`.
pub fn segments(text: &str) -> Vec<Segment<'_>> {
    let mut segments = Vec::new();
    let mut text_from = 0;
    let mut at = 0;
    while at < text.len() {
        let starts_word =
            at == 0 || text[..at].ends_with(|c: char| c.is_whitespace() || "([<\"'".contains(c));
        let link_len = if starts_word { link_at(&text[at..]) } else { 0 };
        if link_len > 0 {
            if text_from < at {
                segments.push(Segment::Text(&text[text_from..at]));
            }
            segments.push(Segment::Link(&text[at..at + link_len]));
            at += link_len;
            text_from = at;
        } else {
            at += text[at..].chars().next().map_or(1, char::len_utf8);
        }
    }
    if text_from < text.len() {
        segments.push(Segment::Text(&text[text_from..]));
    }
    segments
}

/// The length of the link `text` starts with, or 0.
fn link_at(text: &str) -> usize {
    let Some(scheme) = SCHEMES.iter().find(|scheme| {
        text.get(..scheme.len())
            .is_some_and(|start| start.eq_ignore_ascii_case(scheme))
    }) else {
        return 0;
    };
    let word = text.find(char::is_whitespace).unwrap_or(text.len());
    let mut link = &text[..word];
    loop {
        let trimmed =
            link.trim_end_matches(['.', ',', ';', ':', '!', '?', '\'', '"', '>', ']', '}']);
        // A closing parenthesis belongs to the link only if the link opened it.
        let unbalanced = trimmed.matches(')').count() > trimmed.matches('(').count();
        let trimmed = match trimmed.strip_suffix(')') {
            Some(shorter) if unbalanced => shorter,
            _ => trimmed,
        };
        if trimmed.len() == link.len() {
            break;
        }
        link = trimmed;
    }
    if link.len() > scheme.len() {
        link.len()
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
