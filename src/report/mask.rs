//! Credentials hidden from excerpts: every human report masks, in every file it shows, the
//! values that look like credentials, whichever rule the finding is about.
//!
//! Values are found line by line, without a parser, so that a file that does not parse, or one
//! that is not a spec at all (a `.env` file, a service account key), is masked as well as a
//! spec. Masking replaces each character with `*`, byte for byte, so that spans stay valid.

use crate::credential::{self, NAMES_OF_SECRETS};
use crate::rules::plaintext_secret;
use crate::yaml::Span;

/// `text` with every value that [`credentials`] finds, and every span of `extra`, masked.
pub fn masked(text: &str, extra: impl IntoIterator<Item = Span>) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for span in credentials(text).into_iter().chain(extra) {
        mask(&mut bytes, span.offset, span.len);
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Masks a scalar that starts at `offset`: the rest of its first line, then the following lines
/// that belong to it (more indented than its key, or as indented as the first line of a block
/// scalar). Whitespace is kept so that the excerpt keeps its shape.
fn mask(text: &mut [u8], offset: usize, len: usize) {
    let start = offset.min(text.len());
    let span_end = (start + len).min(text.len());
    let line_start = text[..start].iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let indent_of = |t: &[u8], from: usize| t[from..].iter().take_while(|b| **b == b' ').count();
    let block = text[line_start..start].iter().all(|b| *b == b' ');
    let base = indent_of(text, line_start);
    let mut pos = start;
    let mut first = true;
    while pos < text.len() {
        let line_end = text[pos..].iter().position(|b| *b == b'\n').map_or(text.len(), |i| pos + i);
        if !first {
            let blank = text[pos..line_end].iter().all(|b| b.is_ascii_whitespace());
            let indent = indent_of(text, pos);
            let belongs = if block { indent >= base } else { indent > base };
            if !blank && (pos >= span_end.max(start + 1) || !belongs) {
                break;
            }
        }
        for b in &mut text[pos..line_end] {
            if !b.is_ascii_whitespace() {
                *b = b'*';
            }
        }
        first = false;
        pos = line_end + 1;
    }
}

/// The values of `text` that look like credentials, found without a parser: by the YAML
/// structure each line seems to have ([`by_structure`]), by the credentials inside each line's
/// text in any syntax (a `.env` line, a header, a command line, a comment), and the body of a
/// PEM block. Each span runs to the end of one line, and the opening quote or `|` stays visible.
pub fn credentials(text: &str) -> Vec<Span> {
    let mut spans = by_structure(text);
    for line in lines(text) {
        let found = credential::find(line.text);
        spans.extend(found.iter().filter_map(|f| line.span_from(f.start)));
    }
    spans.extend(pem_bodies(text));
    // Every span runs to the end of its line: the one that starts first covers the others.
    spans.sort_by_key(|s| (s.offset, s.len));
    spans.dedup_by_key(|s| s.line);
    spans
}

/// The lines after a `-----BEGIN` line, up to the `-----END` line or a line indented less: the
/// body of a PEM block in a file that is not YAML (a `.env` file), or in a value that does not
/// parse.
fn pem_bodies(text: &str) -> Vec<Span> {
    let mut begin: Option<usize> = None;
    let mut spans = Vec::new();
    for line in lines(text) {
        if begin.is_some_and(|indent| line.indent < indent && !line.is_blank()) {
            begin = None;
        }
        if begin.is_some() {
            spans.extend(line.span_from(line.indent));
        }
        if line.text.contains("-----END") {
            begin = None;
        } else if begin.is_none() && line.text.contains("-----BEGIN") {
            begin = Some(line.indent);
        }
    }
    spans
}

/// The values that look like credentials as YAML reads them. A value is judged by its key, by
/// the `name:` of its list item when its key is `value`, and by its shape; a block scalar or a
/// quote left open goes on over the lines indented deeper than its key.
fn by_structure(text: &str) -> Vec<Span> {
    let mut scopes = Scopes::default();
    let mut open: Option<Scalar> = None;
    let mut found = Vec::new();
    let mut spans = Vec::new();
    // A list item that is a flag without its value (`- --password`), and the item's column: the
    // next item of the list is that flag's value (`args: [--password, VALUE]`).
    let mut flag: Option<(usize, &str)> = None;
    for line in lines(text) {
        let inside = open.as_ref().is_some_and(|o| line.is_blank() || line.indent > o.column);
        if let Some(scalar) = open.as_mut().filter(|_| inside) {
            scalar.go_on(&line);
        } else {
            found.extend(open.take());
        }
        if line.is_blank() || line.text[line.indent..].starts_with('#') {
            continue;
        }

        // Every line is also read on its own: a block scalar's content may be a key or a token.
        let (key, at) = line.key().map_or((None, line.column), |(k, at)| (Some(k), at));
        let value = &line.text[at..];
        let item_name = scopes.enter(&line, key, value);
        let item = key.is_none() && line.column > line.indent;
        // The item after a lone flag is its value, unless it is the next flag.
        let next_flag = value.starts_with("--");
        let flag_before =
            flag.take().filter(|(column, _)| item && *column == line.column && !next_flag);
        if item && value.starts_with("--") {
            let (_, text, _) = first_line(value);
            flag = (!text.contains('=')).then_some((line.column, text));
        }
        if value.starts_with(['{', '[']) {
            spans.extend(flow_credential(&line, at, item_name));
            continue;
        }
        if value.is_empty() || value.starts_with('#') {
            continue;
        }
        let name = flag_before.map_or_else(|| judged_as(key, item_name), |(_, flag)| flag);
        let scalar = Scalar::on_line(&line, at, name);
        if scalar.goes_on && !inside {
            open = Some(scalar);
        } else {
            found.push(scalar);
        }
    }
    found.extend(open);
    spans.extend(found.into_iter().filter(Scalar::is_credential).flat_map(|s| s.spans));
    spans
}

/// The name a value is judged by: its key, or its list item's `name:` when the key is `value`.
/// An annotation or label key (`secretgate.io/rollout`) is judged by its name after the domain
/// prefix, which says who owns the key, not what its value holds.
fn judged_as<'a>(key: Option<&'a str>, item_name: Option<&'a str>) -> &'a str {
    match key {
        Some("value") => item_name.unwrap_or_default(),
        Some(k) if NAMES_OF_SECRETS.contains(&k) => "",
        Some(k) => credential::split_key(k).1,
        None => "",
    }
}

/// One line of the file, read as `[- ]key: value` or `[- ]value`.
struct Line<'a> {
    /// Where the line starts in the file.
    offset: usize,
    /// 1-based.
    number: usize,
    /// The line without its line break and trailing blanks.
    text: &'a str,
    indent: usize,
    /// Where the node starts, after the indentation and any `- ` markers.
    column: usize,
}

fn lines(text: &str) -> impl Iterator<Item = Line<'_>> {
    let mut offset = 0;
    text.split_inclusive('\n').enumerate().map(move |(i, raw)| {
        let line = Line::new(offset, i + 1, raw.trim_end());
        offset += raw.len();
        line
    })
}

impl<'a> Line<'a> {
    fn new(offset: usize, number: usize, text: &'a str) -> Self {
        let indent = text.len() - text.trim_start_matches([' ', '\t']).len();
        let mut column = indent;
        // `- ` and a `-` that ends the line are markers; `-x` (`--port`, `-----BEGIN`) is text.
        while let Some(rest) = text[column..].strip_prefix('-') {
            let after = rest.trim_start_matches([' ', '\t']);
            if after.len() == rest.len() && !rest.is_empty() {
                break;
            }
            column = text.len() - after.len();
        }
        Line { offset, number, text, indent, column }
    }

    fn is_blank(&self) -> bool {
        self.indent == self.text.len()
    }

    /// The key of a `key: value` line and where its value starts.
    fn key(&self) -> Option<(&'a str, usize)> {
        let body = &self.text[self.column..];
        let end = match body.as_bytes().first()? {
            b'"' | b'\'' => closing_quote(body)? + 1,
            b'{' | b'[' | b'|' | b'>' | b'#' => return None,
            _ => body.match_indices(':').map(|(i, _)| i).find(|&i| separates(&body[i..]))?,
        };
        if !separates(&body[end..]) {
            return None;
        }
        let key = body[..end].trim_end().trim_matches(['"', '\'']);
        let rest = &body[end + 1..];
        Some((key, self.column + end + 1 + rest.len() - rest.trim_start().len()))
    }

    /// The rest of the line from byte `at`, if anything is left there.
    fn span_from(&self, at: usize) -> Option<Span> {
        (at < self.text.len()).then(|| Span {
            offset: self.offset + at,
            len: self.text.len() - at,
            line: self.number,
            column: self.text[..at].chars().count() + 1,
        })
    }
}

/// `:` followed by a blank or the end of the line, which ends a key.
fn separates(rest: &str) -> bool {
    rest.strip_prefix(':').is_some_and(|r| r.is_empty() || r.starts_with([' ', '\t']))
}

/// Where the quote that opens `text` closes, skipping `\"` and `''` escapes.
fn closing_quote(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let quote = bytes[0];
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quote == b'"' => i += 2,
            b'\'' if quote == b'\'' && bytes.get(i + 1) == Some(&b'\'') => i += 2,
            b if b == quote => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// A value's text on its first line, where that text starts, and whether the value goes on
/// over the next lines: a block scalar (`|`, `>`) and a quote not closed on the line do.
fn first_line(value: &str) -> (usize, &str, bool) {
    match value.as_bytes().first() {
        Some(b'|' | b'>') => (value.len(), "", true),
        Some(b'"' | b'\'') => match closing_quote(value) {
            Some(end) => (1, &value[1..end], false),
            None => (1, &value[1..], true),
        },
        _ => (0, value.split(" #").next().unwrap_or_default().trim_end(), false),
    }
}

/// Where to mask the flow collection at byte `at` of `line`: from its first value that looks
/// like a credential, judged by its key or by the `name:` before it, to the end of the line.
fn flow_credential<'a>(line: &Line<'a>, at: usize, mut item_name: Option<&'a str>) -> Option<Span> {
    let mut flag: Option<&str> = None;
    for (key, value_at, text) in flow_entries(&line.text[at..]) {
        if key == Some("name") {
            item_name = Some(text);
        }
        let name = match (key, flag.take()) {
            (None, Some(flag)) if !text.starts_with("--") => flag,
            _ => judged_as(key, item_name),
        };
        if plaintext_secret::as_a_whole(name, text).is_some() {
            return line.span_from(at + value_at);
        }
        if key.is_none() && text.starts_with("--") && !text.contains('=') {
            flag = Some(text);
        }
    }
    None
}

/// The entries of a flow collection (`[{name: A, value: "B"}]`) as key, where the text starts
/// and its text. A `,` or bracket inside quotes splits too: at worst a little more or less of a
/// line that does not parse is masked.
fn flow_entries(flow: &str) -> Vec<(Option<&str>, usize, &str)> {
    let mut entries = Vec::new();
    let mut start = 0;
    for part in flow.split([',', '{', '}', '[', ']']) {
        let body_at = start + part.len() - part.trim_start().len();
        start += part.len() + 1;
        let body = part.trim();
        // JSON writes `"key":value`, with no blank after the colon.
        let colon = body
            .match_indices(':')
            .map(|(i, _)| i)
            .find(|&i| separates(&body[i..]) || body[..i].ends_with(['"', '\'']));
        let (key, rest) = match colon {
            Some(i) => (Some(body[..i].trim_end().trim_matches(['"', '\''])), &body[i + 1..]),
            None => (None, body),
        };
        let value = rest.trim_start();
        if !value.is_empty() {
            let (skip, text, _) = first_line(value);
            entries.push((key, body_at + body.len() - value.len() + skip, text));
        }
    }
    entries
}

/// The mappings open at each column, innermost last, with the `name:` each has shown so far.
#[derive(Default)]
struct Scopes<'a> {
    open: Vec<(usize, Option<&'a str>)>,
    /// The last `name:` of all: a stand-in when a `value:` cannot be placed in its item (a tab
    /// in its indentation, its `name:` after it), since masking too much is the safe side.
    last: Option<&'a str>,
}

impl<'a> Scopes<'a> {
    /// Enters the mapping that `line` belongs to (a `- ` marker starts a new one), notes its
    /// `name:`, and returns the name seen in it so far.
    fn enter(&mut self, line: &Line, key: Option<&str>, value: &'a str) -> Option<&'a str> {
        let floor = if line.column > line.indent { line.indent } else { line.column };
        while self.open.last().is_some_and(|(column, _)| *column > floor) {
            self.open.pop();
        }
        if self.open.last().is_none_or(|(column, _)| *column != line.column) {
            self.open.push((line.column, None));
        }
        let (_, name) = self.open.last_mut()?;
        if key == Some("name") {
            *name = Some(first_line(value).1);
            self.last = *name;
        }
        name.or(self.last)
    }
}

/// A value and the lines that continue it.
struct Scalar<'a> {
    /// The name it is judged by: its key, its list item's `name:`, or none.
    name: &'a str,
    text: String,
    spans: Vec<Span>,
    /// The column of its key: deeper lines continue it while it `goes_on`.
    column: usize,
    goes_on: bool,
}

impl<'a> Scalar<'a> {
    /// The value that starts at byte `at` of `line`.
    fn on_line(line: &Line, at: usize, name: &'a str) -> Self {
        let (skip, text, goes_on) = first_line(&line.text[at..]);
        let spans = line.span_from(at + skip).into_iter().collect();
        Scalar { name, text: text.to_string(), spans, column: line.column, goes_on }
    }

    fn go_on(&mut self, line: &Line) {
        let Some(span) = line.span_from(line.indent) else { return };
        self.text.push('\n');
        self.text.push_str(&line.text[line.indent..]);
        self.spans.push(span);
    }

    fn is_credential(&self) -> bool {
        plaintext_secret::as_a_whole(self.name, &self.text).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::credentials;

    /// The text under each span of [`credentials`].
    fn masked(text: &str) -> Vec<&str> {
        credentials(text).iter().map(|s| &text[s.offset..s.offset + s.len]).collect()
    }

    #[test]
    fn value_of_an_item_named_like_a_credential_with_an_open_quote() {
        let text =
            "env:\n- name: DB_PASSWORD\n  value: \"XYZZYhunter2\n- name: OTHER\n  value: x\n";
        assert_eq!(masked(text), ["XYZZYhunter2"]);
    }

    #[test]
    fn keys_named_like_credentials_but_not_names_of_secrets() {
        let text = "DB_PASSWORD: hunter2\nTOKEN_TTL: 3600\nJWT_SECRET_KEY:\n  secret: jwt-key\n  \
            secretName: jwt-key\nname: API_TOKEN\n";
        assert_eq!(masked(text), ["hunter2"]);
    }

    /// Regression: the plan masked secretgate's own rollout stamp, whose key holds "secret" in
    /// its domain, and the `<redacted>` left of a credential already hidden.
    #[test]
    fn annotation_keys_are_judged_by_their_name_and_redacted_values_stay() {
        let text = "secretgate.io/rollout: \"2026-12-03T19:10:38Z\"\n\
            example.com/secret-note: 2026-12-03\nvault.example/db-password: hunter2\n\
            - name: DB_PASSWORD\n  value: <redacted>\n";
        assert_eq!(masked(text), ["2026-12-03", "hunter2"]);
    }

    /// The item after a flag that names a credential is its value; one after `--port`, or
    /// after a flag that holds its value, is not.
    #[test]
    fn the_value_after_a_credential_flag_in_a_list() {
        let text = "args:\n- --password\n- cnry18hunter2XYZ\n- --port\n- '5432'\n\
            - --api-token=\n- plain\ncommand: [\"run\", \"--db-password\", \"hunter3\"]\n\
            other: [--port, 80]\n";
        assert_eq!(masked(text), ["cnry18hunter2XYZ", "hunter3\"]"]);
        // Regression: the next flag was taken for the value, and a value starting with `#`
        // for a comment.
        let text = "args:\n- --password\n- --port=8080\n- --token=#x1\n\
            command: [\"--db-password\", \"--port=9\"]\n";
        assert_eq!(masked(text), ["#x1"]);
    }

    #[test]
    fn credential_shapes_under_any_key_and_in_lists() {
        let text = "setting: sk_live_51HXYZZY0123456789abcdef\nargs:\n- --port=5432\n- \
            'ghp_XYZZY0123456789012345678901234567890'\nurl: postgres://app:pw@db/app # x\n";
        assert_eq!(
            masked(text),
            [
                "sk_live_51HXYZZY0123456789abcdef",
                "ghp_XYZZY0123456789012345678901234567890'",
                "postgres://app:pw@db/app # x",
            ]
        );
    }

    #[test]
    fn block_scalar_under_an_innocent_name_keeps_its_indicator() {
        let text = "- name: CERT\n  value: |\n    -----BEGIN PRIVATE KEY-----\n\n    MIIEvXYZZY\n  \
            \n- name: LOG_LEVEL\n  value: debug\n";
        assert_eq!(masked(text), ["-----BEGIN PRIVATE KEY-----", "MIIEvXYZZY"]);
    }

    #[test]
    fn open_quote_goes_on_over_deeper_lines() {
        let text = "API_KEY: \"abc\n    def\n      ghi\"\nnext: 1\n";
        assert_eq!(masked(text), ["abc", "def", "ghi\""]);
    }

    #[test]
    fn name_of_another_item_or_of_a_nested_mapping_does_not_count() {
        let text = "- name: DB_PASSWORD\n  valueFrom:\n    secretKeyRef:\n      name: db-password\n\
            - name: DB_HOST\n  value: 10.0.0.1\n";
        assert!(masked(text).is_empty());
    }

    #[test]
    fn value_indented_with_a_tab_is_judged_by_the_last_name() {
        let text = "- name: API_TOKEN\n\tvalue: XYZZY\n";
        assert_eq!(masked(text), ["XYZZY"]);
    }

    #[test]
    fn flow_mappings_on_one_line() {
        let text = "env: [{name: DB_PASSWORD, value: XYZZY}, {name: HOST, value: db}\n\
            args: [\"--verbose\", \"ghp_XYZZY0123456789012345678901234567890\"]\n";
        assert_eq!(
            masked(text),
            ["XYZZY}, {name: HOST, value: db}", "ghp_XYZZY0123456789012345678901234567890\"]"]
        );
    }

    #[test]
    fn quoted_keys_of_json() {
        let text = r#"[
  {
    "name": "DB_PASSWORD",
    "value": "hunter2"
  },
  {
    "name": "PORT_NAME",
    "value": "http1"
  }
]
"#;
        assert_eq!(masked(text), ["hunter2\""]);
    }

    /// Regression: a `.env` line was one plain value for the structure, and no credential.
    #[test]
    fn env_file_lines_keep_their_names() {
        let text = "# GITHUB_TOKEN=ghp_XYZZY0123456789012345678901234567890\nDB_PASSWORD=XYZZY\n\
            TOKEN_TTL=3600\nHOOK=https://x.example.com/?key=XYZZY42\n";
        assert_eq!(masked(text), ["ghp_XYZZY0123456789012345678901234567890", "XYZZY", "XYZZY42"]);
    }

    /// The first line is one plain value that holds a PEM marker, masked whole; the body
    /// follows up to the END line.
    #[test]
    fn pem_body_outside_yaml_up_to_its_end() {
        let text =
            "KEY=\"-----BEGIN PRIVATE KEY-----\nMIIEvXYZZY\n-----END PRIVATE KEY-----\"\nA=b\n";
        assert_eq!(
            masked(text),
            ["KEY=\"-----BEGIN PRIVATE KEY-----", "MIIEvXYZZY", "-----END PRIVATE KEY-----\""]
        );
    }
}
