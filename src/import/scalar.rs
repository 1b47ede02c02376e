//! Strings and comments written into YAML text so that they read back as they were: the
//! manifest `import` writes, and the lines `import --merge` adds to one kept by hand.

/// A string as a YAML scalar: plain when it reads back as the same string, otherwise double
/// quoted with YAML escapes, so that a number such as `2024`, a boolean or a name holding an
/// invisible character (a zero-width space pasted with it) is written so that the manifest
/// parses and shows what the spec held.
pub(super) fn yaml_scalar(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let plain = !text.is_empty()
        && text.chars().all(|c| c.is_ascii_alphanumeric() || "-_./@".contains(c))
        && !text.starts_with(['-', '.', '@'])
        && !text.starts_with(|c: char| c.is_ascii_digit())
        && !matches!(lower.as_str(), "true" | "false" | "null" | "yes" | "no" | "on" | "off");
    if plain { text.to_string() } else { format!("\"{}\"", escape(text, true)) }
}

/// `text` with every character that is not visible written as a YAML escape (`\t`, `\x07`,
/// `\u200B`); with `quoted`, `"` and `\` too, for the inside of a double-quoted scalar. A
/// comment needs the escapes as well: a control character is invalid anywhere in YAML, and a
/// line break would end the comment.
pub(super) fn escape(text: &str, quoted: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' | '\\' if quoted => {
                out.push('\\');
                out.push(c);
            }
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            _ if visible(c) => out.push(c),
            _ if u32::from(c) <= 0xFF => out.push_str(&format!("\\x{:02X}", u32::from(c))),
            _ if u32::from(c) <= 0xFFFF => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            _ => out.push_str(&format!("\\U{:08X}", u32::from(c))),
        }
    }
    out
}

/// Printable ASCII, and letters and digits of any script; everything else (controls, format
/// characters, separators, other symbols) is escaped, so nothing in the manifest is invisible.
fn visible(c: char) -> bool {
    c == ' ' || c.is_ascii_graphic() || (!c.is_ascii() && c.is_alphanumeric())
}

/// A `#` comment at `indent` spaces, with anything that could end it or is not visible escaped.
pub(super) fn comment(indent: usize, text: &str) -> String {
    format!("{}# {}\n", " ".repeat(indent), escape(text, false))
}

#[cfg(test)]
mod tests {
    use super::{comment, yaml_scalar};
    use crate::yaml::{self, Value};
    use proptest::prelude::*;

    /// Reads `key: SCALAR` back.
    fn read_back(scalar: &str) -> Value {
        let text = format!("key: {scalar}\n");
        let tree = yaml::parse(text.as_bytes())
            .unwrap_or_else(|e| panic!("`{text}` is not YAML: {}", e.message));
        tree.get("key").expect("the key").value.clone()
    }

    /// Regression: Rust's `{:?}` wrote a zero-width space as `\u{200b}`, which is no YAML
    /// escape, so the manifest did not parse.
    #[test]
    fn invisible_characters_are_yaml_escapes() {
        assert_eq!(yaml_scalar("api\u{200b}key"), "\"api\\u200Bkey\"");
        assert_eq!(yaml_scalar("bell\u{7}"), "\"bell\\x07\"");
        assert_eq!(yaml_scalar("x\u{1F600}"), "\"x\\U0001F600\"");
        assert_eq!(yaml_scalar("2024"), "\"2024\"");
        assert_eq!(yaml_scalar("déploiement"), "\"déploiement\"");
        assert_eq!(yaml_scalar("api-key"), "api-key");
    }

    proptest! {
        /// Any string, written as a scalar, reads back as the same string.
        #[test]
        fn every_string_reads_back(text in any::<String>()) {
            prop_assert_eq!(read_back(&yaml_scalar(&text)), Value::Str(text));
        }

        /// Any text in a comment leaves the document valid and the comment on one line.
        #[test]
        fn every_comment_stays_a_comment(text in any::<String>()) {
            let line = comment(2, &text);
            prop_assert_eq!(line.matches('\n').count(), 1);
            let document = format!("key: 1\n{line}other: 2\n");
            let tree = yaml::parse(document.as_bytes());
            prop_assert!(tree.is_ok(), "{:?}", document);
            let other = tree.unwrap().get("other").map(|n| n.value.clone());
            prop_assert_eq!(other, Some(Value::Int(2)));
        }
    }
}
