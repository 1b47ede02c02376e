//! A span-aware YAML tree shared by the manifest and spec readers.
//!
//! Both files are read into the same generic [`Node`] tree first, so that every later step can
//! point a diagnostic at the exact key or value, report every problem instead of the first one,
//! and keep the fields of a Cloud Run spec that secretgate does not model.

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{DuplicateKeyPolicy, NonFiniteFloatPolicy, Spanned};
use std::fmt;

/// Largest file secretgate parses; larger inputs are refused before parsing starts.
pub const MAX_FILE_BYTES: usize = 8 * 1024 * 1024;

/// A location in one source file: byte range plus 1-based line and column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Span {
    pub offset: usize,
    pub len: usize,
    pub line: usize,
    pub column: usize,
}

/// A YAML node with the location of its first character.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub span: Span,
}

/// The value of a node. Mappings keep their key order and their duplicate keys.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// A YAML file that could not be read into a tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub message: String,
    pub span: Span,
}

impl Node {
    /// The string content of a scalar, if the node is a string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The text of a scalar of any type, as YAML would print it; `None` for collections and null.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Float(f) => Some(f.to_string()),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// The first entry of a mapping whose key is the string `key`.
    pub fn get_entry(&self, key: &str) -> Option<(&Node, &Node)> {
        self.as_map()?.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(k, v)| (k, v))
    }

    /// The value under the string key `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.get_entry(key).map(|(_, v)| v)
    }

    /// Follows a path of mapping keys.
    pub fn path(&self, keys: &[&str]) -> Option<&Node> {
        keys.iter().try_fold(self, |node, key| node.get(key))
    }

    /// A short name for the node's type, for "expected X, found Y" messages.
    pub fn kind_name(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// A new string node, with no source location.
    pub fn string(text: impl Into<String>) -> Node {
        Node { value: Value::Str(text.into()), span: Span::default() }
    }

    /// A new mapping node from string keys, with no source location.
    pub fn map(entries: Vec<(&str, Node)>) -> Node {
        let entries = entries.into_iter().map(|(k, v)| (Node::string(k), v)).collect();
        Node { value: Value::Map(entries), span: Span::default() }
    }

    /// The value under the string key `key` of a mapping, for changing it.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        match &mut self.value {
            Value::Map(entries) => {
                entries.iter_mut().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v)
            }
            _ => None,
        }
    }

    /// The value under `key`, inserted (at the end) as `default` when missing or null. `None`
    /// when the node is not a mapping, or when it is null and cannot become one.
    pub fn entry(&mut self, key: &str, default: Node) -> Option<&mut Node> {
        if self.value == Value::Null {
            self.value = Value::Map(Vec::new());
        }
        let Value::Map(entries) = &mut self.value else { return None };
        let index = match entries.iter().position(|(k, _)| k.as_str() == Some(key)) {
            Some(i) => i,
            None => {
                entries.push((Node::string(key), default.clone()));
                entries.len() - 1
            }
        };
        let slot = &mut entries[index].1;
        if slot.value == Value::Null {
            *slot = default;
        }
        Some(slot)
    }

    /// Sets `key` to `value`, keeping the key's place when it exists.
    pub fn set(&mut self, key: &str, value: Node) {
        if let Some(slot) = self.entry(key, Node::map(Vec::new())) {
            *slot = value;
        }
    }

    /// Removes `key` from a mapping.
    pub fn remove(&mut self, key: &str) {
        if let Value::Map(entries) = &mut self.value {
            entries.retain(|(k, _)| k.as_str() != Some(key));
        }
    }

    /// Follows a path of mapping keys, for changing the node found.
    pub fn path_mut(&mut self, keys: &[&str]) -> Option<&mut Node> {
        keys.iter().try_fold(self, |node, key| node.get_mut(key))
    }

    /// Builds a tree from JSON (spans are empty).
    pub fn from_json(json: &serde_json::Value) -> Node {
        use serde_json::Value as J;
        let value = match json {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or_default()),
            },
            J::String(s) => Value::Str(s.clone()),
            J::Array(items) => Value::Seq(items.iter().map(Node::from_json).collect()),
            J::Object(map) => {
                Value::Map(map.iter().map(|(k, v)| (Node::string(k), Node::from_json(v))).collect())
            }
        };
        Node { value, span: Span::default() }
    }

    /// The tree as YAML text. An error is passed on rather than written as nothing: an empty
    /// document would read as a spec with no fields at all.
    pub fn to_yaml(&self) -> Result<String, serde_saphyr::SerializeError> {
        let mut text = serde_saphyr::to_string(self)?;
        if !text.ends_with('\n') {
            text.push('\n');
        }
        Ok(text)
    }

    /// Converts the tree to JSON, for output formats and for sending a spec to an API.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.scalar_text().unwrap_or_default(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

/// Parses one YAML document into a tree.
///
/// Input that is not UTF-8, larger than [`MAX_FILE_BYTES`], nested too deep, or that expands
/// aliases beyond the parser's budget is refused with a located [`SyntaxError`]; this
/// function never panics on any input.
pub fn parse(bytes: &[u8]) -> Result<Node, SyntaxError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(SyntaxError {
            // Input files are read only up to one byte past the limit, so the size is unknown.
            message: format!(
                "file is larger than {} MiB; secretgate reads YAML files of at most \
                 {MAX_FILE_BYTES} bytes",
                MAX_FILE_BYTES / (1024 * 1024)
            ),
            span: Span { line: 1, column: 1, ..Span::default() },
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|e| utf8_error(bytes, &e))?;
    if text.trim().is_empty() {
        return Ok(Node {
            value: Value::Null,
            span: Span { line: 1, column: 1, ..Span::default() },
        });
    }
    let options = serde_saphyr::options! {
        duplicate_keys: DuplicateKeyPolicy::PassThrough,
        leading_zero_numbers_as_strings: true,
        underscored_numbers_as_strings: true,
        strict_booleans: true,
        // `.inf` and `.nan` are numbers like any other: the rule that reads the value says what
        // is wrong with it, instead of the whole file being refused.
        non_finite_float_policy: NonFiniteFloatPolicy::PassThrough,
    };
    serde_saphyr::from_str_with_options::<Node>(text, options).map_err(|e| syntax_error(text, &e))
}

fn utf8_error(bytes: &[u8], err: &std::str::Utf8Error) -> SyntaxError {
    let valid = &bytes[..err.valid_up_to()];
    let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
    let line_start = valid.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&valid[line_start..]).chars().count() + 1;
    SyntaxError {
        message: "file is not UTF-8 text (is it a binary file?)".to_string(),
        span: Span { offset: err.valid_up_to(), len: 1, line, column },
    }
}

fn syntax_error(text: &str, err: &serde_saphyr::Error) -> SyntaxError {
    let inner = err.without_snippet();
    let message = match inner {
        // Deep nesting is a budget breach too, but no alias bomb: say what it is.
        serde_saphyr::Error::Budget {
            breach: serde_saphyr::budget::BudgetBreach::Depth { depth },
            ..
        } => format!(
            "collections are nested more than {} levels deep, past the parser's safety limit",
            depth.saturating_sub(1)
        ),
        _ => first_line(&inner.to_string()),
    };
    let span = inner
        .location()
        .filter(|loc| loc.line() > 0)
        .map_or(Span { line: 1, column: 1, ..Span::default() }, |loc| {
            span_at(text, loc.line() as usize, loc.column() as usize, 1)
        });
    SyntaxError { message, span }
}

/// Keeps the parser's own message but drops its trailing location, which we report separately.
fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or("invalid YAML").trim();
    if line.contains("from_str_multiple") || line.contains("multiple documents") {
        return "the file holds several YAML documents (`---`); secretgate reads one per file"
            .to_string();
    }
    if line.starts_with("budget breached") {
        return format!("document exceeds the parser's safety budget ({line}); alias bomb?")
            .replace(" at line", " near line");
    }
    match line.find(" at line ") {
        Some(i) => line[..i].to_string(),
        None => line.to_string(),
    }
}

/// Builds a span from a 1-based line and character column, clamped to the text.
pub fn span_at(text: &str, line: usize, column: usize, len: usize) -> Span {
    let mut offset = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            let col_bytes: usize =
                l.chars().take(column.saturating_sub(1)).map(char::len_utf8).sum();
            offset += col_bytes;
            break;
        }
        offset += l.len();
    }
    let offset = offset.min(text.len());
    let len = text[offset..].chars().take(len).map(char::len_utf8).sum();
    Span { offset, len, line: line.max(1), column: column.max(1) }
}

fn span_of(loc: &serde_saphyr::Location) -> Span {
    let span = loc.span();
    Span {
        offset: span.byte_offset().unwrap_or(0) as usize,
        len: span.byte_len().unwrap_or(0) as usize,
        line: loc.line() as usize,
        column: loc.column() as usize,
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<ValueWrapper>::deserialize(deserializer)?;
        Ok(Node { value: spanned.value.0, span: span_of(&spanned.referenced) })
    }
}

/// Carries the untyped visitor through `Spanned`, which needs a `Deserialize` type.
struct ValueWrapper(Value);

impl<'de> Deserialize<'de> for ValueWrapper {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor).map(ValueWrapper)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Str(v.to_string()), Value::Int))
    }

    fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
        Ok(Value::Str(v.to_string()))
    }

    fn visit_u128<E>(self, v: u128) -> Result<Value, E> {
        Ok(Value::Str(v.to_string()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }

    fn visit_bytes<E>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Str(String::from_utf8_lossy(v).into_owned()))
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Value::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Node>()? {
            let value = map.next_value::<Node>()?;
            entries.push((key, value));
        }
        Ok(Value::Map(entries))
    }
}

impl serde::Serialize for Node {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match &self.value {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Int(i) => serializer.serialize_i64(*i),
            Value::Float(f) => serializer.serialize_f64(*f),
            Value::Str(s) => serializer.serialize_str(s),
            Value::Seq(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Map(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_yaml_reads_back_as_the_same_tree() {
        let text = "a: [1, two, {b: null}]\nc: 'x: y'\nd: \"007\"\n";
        let tree = parse(text.as_bytes()).expect("the example parses");
        let written = tree.to_yaml().expect("the tree is written");
        assert!(written.ends_with('\n'), "{written}");
        let again = parse(written.as_bytes()).expect("the written text parses");
        assert_eq!(again.to_json(), tree.to_json(), "{written}");
    }
}
