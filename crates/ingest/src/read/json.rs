//! JSON in its three shapes: a document (a Graph page `{"value": [...]}`, a diagnostic
//! `{"records": [...]}`, a bare array or a single object), streamed element by element so that
//! memory stays bounded whatever the file size; and JSON lines, read line by line so that a bad
//! line costs only itself.

use std::fmt;
use std::io::{BufRead, Read};

use serde::de;
use serde_json::{Map, Value};

/// Where a record sits in its file, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    Line(u64),
    Record(u64),
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::Line(n) => write!(f, "line {n}"),
            Position::Record(n) => write!(f, "record {n}"),
        }
    }
}

/// What a reader hands on: a record's JSON text, a CSV row as an object, or something that
/// could not be read.
pub(crate) enum Item<'a> {
    Record(&'a str, Position),
    Row(Map<String, Value>, Position),
    Bad(String, Position),
}

/// Lines longer than this are not taken as JSON lines; the file is streamed as a document.
const MAX_LINE: u64 = 64 << 20;

/// Reads every record of a JSON file. A syntax error in a document ends the file (what came
/// before it is kept) and is returned as the error text.
pub(crate) fn read(mut reader: Box<dyn BufRead + '_>, sink: &mut dyn FnMut(Item)) -> Result<(), String> {
    let mut first = Vec::new();
    (&mut reader).take(MAX_LINE).read_until(b'\n', &mut first).map_err(|e| e.to_string())?;
    let complete_line = first.ends_with(b"\n") || first.len() < MAX_LINE as usize;
    if complete_line && serde_json::from_slice::<de::IgnoredAny>(&first).is_ok() {
        read_lines(first, reader, sink)
    } else {
        read_document(std::io::BufReader::new(std::io::Cursor::new(first).chain(reader)), sink)
    }
}

fn read_lines(first: Vec<u8>, mut reader: Box<dyn BufRead + '_>, sink: &mut dyn FnMut(Item)) -> Result<(), String> {
    let mut line = first;
    let mut number = 1u64;
    loop {
        let at = Position::Line(number);
        match std::str::from_utf8(&line).map(str::trim) {
            Ok("") => {}
            Ok(text) => match serde_json::from_str::<Value>(text) {
                Ok(value) => emit_value(value, text, at, sink),
                Err(e) => sink(Item::Bad(format!("invalid JSON: {e}"), at)),
            },
            Err(_) if line.trim_ascii().is_empty() => {}
            Err(_) => sink(Item::Bad("invalid UTF-8".into(), at)),
        }
        line.clear();
        number += 1;
        if reader.read_until(b'\n', &mut line).map_err(|e| e.to_string())? == 0 {
            return Ok(());
        }
    }
}

/// A whole line: a record, or a page / records wrapper, or an array of records.
fn emit_value(value: Value, text: &str, at: Position, sink: &mut dyn FnMut(Item)) {
    let elements = match value {
        Value::Array(items) => items,
        Value::Object(mut map) => match wrapped(&mut map) {
            Some(items) => items,
            None => return sink(Item::Record(text, at)),
        },
        _ => return sink(Item::Bad("a JSON value that is not an object".into(), at)),
    };
    for element in elements {
        sink(Item::Record(&element.to_string(), at));
    }
}

fn wrapped(map: &mut Map<String, Value>) -> Option<Vec<Value>> {
    for key in ["value", "records"] {
        if let Some(Value::Array(_)) = map.get(key)
            && let Some(Value::Array(items)) = map.remove(key)
        {
            return Some(items);
        }
    }
    None
}

fn read_document(mut reader: impl BufRead, sink: &mut dyn FnMut(Item)) -> Result<(), String> {
    let mut splitter = Splitter::default();
    loop {
        let buf = reader.fill_buf().map_err(|e| e.to_string())?;
        if buf.is_empty() {
            return splitter.finish();
        }
        let n = buf.len();
        splitter.feed(buf, sink)?;
        reader.consume(n);
    }
}

/// The shape of the top-level value being read.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Top {
    #[default]
    None,
    Array,
    Object,
}

/// Finds the records in a JSON document without parsing it: tracks strings, escapes and
/// nesting over the raw bytes, and hands each record's bytes on whole, to be parsed on its own.
/// Records are the elements of a top-level array, of a top-level object's `value` or
/// `records` array, or a top-level object without such an array. Memory is bounded by the
/// largest record, whatever the file size; a syntax error inside a record costs that record.
#[derive(Default)]
struct Splitter {
    depth: usize,
    in_string: bool,
    escape: bool,
    /// Newlines in the chunks already fed, and the bytes since the last one (for errors).
    lines: u64,
    column: u64,
    top: Top,
    /// Inside the top-level object, a key is expected next.
    expecting_key: bool,
    key: Vec<u8>,
    collecting_key: bool,
    current_key: Vec<u8>,
    /// The depth at which records sit, while inside the records array.
    records_depth: Option<usize>,
    element: Vec<u8>,
    in_element: bool,
    /// The whole top-level object, kept while it may turn out to be a single record.
    whole: Option<Vec<u8>>,
    count: u64,
}

/// Where in the current chunk the bytes not yet copied into the element (or the whole
/// object) begin.
struct Runs {
    element: usize,
    whole: usize,
}

impl Splitter {
    fn feed(&mut self, bytes: &[u8], sink: &mut dyn FnMut(Item)) -> Result<(), String> {
        let mut runs = Runs { element: 0, whole: 0 };
        let mut i = 0;
        while i < bytes.len() {
            if self.in_string {
                if self.escape {
                    self.escape = false;
                    if self.collecting_key {
                        self.key.push(bytes[i]);
                    }
                    i += 1;
                    continue;
                }
                let Some(offset) = memchr::memchr2(b'"', b'\\', &bytes[i..]) else {
                    if self.collecting_key {
                        self.key.extend_from_slice(&bytes[i..]);
                    }
                    break;
                };
                if self.collecting_key {
                    self.key.extend_from_slice(&bytes[i..i + offset]);
                }
                i += offset;
                if bytes[i] == b'\\' {
                    self.escape = true;
                    if self.collecting_key {
                        self.key.push(b'\\');
                    }
                } else {
                    self.in_string = false;
                    self.collecting_key = false;
                }
                i += 1;
                continue;
            }
            let b = bytes[i];
            match b {
                b'"' => {
                    self.start_element(i, &mut runs);
                    self.in_string = true;
                    self.collecting_key = self.depth == 1 && self.top == Top::Object && self.expecting_key;
                    if self.collecting_key {
                        self.key.clear();
                    }
                }
                b'{' | b'[' => {
                    if self.depth == 0 {
                        self.begin_document(b, i, &mut runs);
                    } else if self.depth == 1
                        && self.top == Top::Object
                        && b == b'['
                        && (self.current_key == b"value" || self.current_key == b"records")
                    {
                        self.records_depth = Some(2);
                        self.whole = None;
                    }
                    self.start_element(i, &mut runs);
                    self.depth += 1;
                    if self.depth == 1 && self.top == Top::Object {
                        self.expecting_key = true;
                    }
                }
                b'}' | b']' => {
                    if self.depth == 0 {
                        return Err(self.error("unexpected closing bracket", bytes, i));
                    }
                    if self.in_element && Some(self.depth) == self.records_depth {
                        // A scalar element ends at the array's close.
                        self.end_element(bytes, i, &mut runs, sink);
                    }
                    self.depth -= 1;
                    if self.in_element && Some(self.depth) == self.records_depth {
                        self.end_element(bytes, i + 1, &mut runs, sink);
                    } else if self.records_depth.is_some_and(|d| self.depth + 1 == d) {
                        self.records_depth = None; // the records array is closed
                    }
                    if self.depth == 0 {
                        if let Some(mut whole) = self.whole.take() {
                            whole.extend_from_slice(&bytes[runs.whole..=i]);
                            self.element = whole;
                            self.emit(sink);
                        }
                        self.top = Top::None;
                    }
                }
                b',' => {
                    if self.in_element && Some(self.depth) == self.records_depth {
                        self.end_element(bytes, i, &mut runs, sink);
                    }
                    if self.depth == 1 && self.top == Top::Object {
                        self.expecting_key = true;
                    }
                }
                b':' => {
                    if self.depth == 1 && self.top == Top::Object {
                        self.current_key = std::mem::take(&mut self.key);
                        self.expecting_key = false;
                    }
                }
                b' ' | b'\t' | b'\r' | b'\n' => {}
                _ => {
                    if self.depth == 0 {
                        return Err(self.error("unexpected content after the JSON document", bytes, i));
                    }
                    self.start_element(i, &mut runs);
                }
            }
            i += 1;
        }
        // Carry what the chunk holds of the open element (or object) over to the next chunk.
        if self.in_element {
            self.element.extend_from_slice(&bytes[runs.element..]);
        }
        if let Some(whole) = &mut self.whole {
            whole.extend_from_slice(&bytes[runs.whole..]);
        }
        self.count_lines(bytes);
        Ok(())
    }

    fn count_lines(&mut self, bytes: &[u8]) {
        match memchr::memrchr(b'\n', bytes) {
            Some(last) => {
                self.lines += memchr::memchr_iter(b'\n', bytes).count() as u64;
                self.column = (bytes.len() - last - 1) as u64;
            }
            None => self.column += bytes.len() as u64,
        }
    }

    fn begin_document(&mut self, b: u8, at: usize, runs: &mut Runs) {
        if b == b'[' {
            self.top = Top::Array;
            self.records_depth = Some(1);
        } else {
            self.top = Top::Object;
            self.whole = Some(Vec::new());
            runs.whole = at;
            self.current_key.clear();
        }
    }

    /// A value starting where records sit: objects are records; scalars are reported as
    /// records too, so that they are counted (and found not to be objects).
    fn start_element(&mut self, at: usize, runs: &mut Runs) {
        if Some(self.depth) == self.records_depth && !self.in_element {
            self.in_element = true;
            self.element.clear();
            runs.element = at;
        }
    }

    /// The element ends just before `end` in this chunk.
    fn end_element(&mut self, bytes: &[u8], end: usize, runs: &mut Runs, sink: &mut dyn FnMut(Item)) {
        self.element.extend_from_slice(&bytes[runs.element..end]);
        self.emit(sink);
    }

    fn emit(&mut self, sink: &mut dyn FnMut(Item)) {
        self.in_element = false;
        self.count += 1;
        let at = Position::Record(self.count);
        match std::str::from_utf8(&self.element) {
            Ok(text) => sink(Item::Record(text.trim(), at)),
            Err(_) => sink(Item::Bad("invalid UTF-8".into(), at)),
        }
        self.element.clear();
    }

    fn error(&self, what: &str, bytes: &[u8], at: usize) -> String {
        let before = &bytes[..at.min(bytes.len())];
        let (line, column) = match memchr::memrchr(b'\n', before) {
            Some(last) => (self.lines + memchr::memchr_iter(b'\n', before).count() as u64, (at - last) as u64),
            None => (self.lines, self.column + at as u64 + 1),
        };
        format!(
            "{what} at line {} column {column} (after record {}); the rest of the file could not be read",
            line + 1,
            self.count
        )
    }

    fn finish(&self) -> Result<(), String> {
        if self.depth > 0 || self.in_string {
            return Err(self.error("the file ends in the middle of a JSON value", &[], 0));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &str) -> (Vec<String>, Vec<String>, Result<(), String>) {
        let mut ok = Vec::new();
        let mut bad = Vec::new();
        let reader: Box<dyn BufRead> = Box::new(std::io::BufReader::new(text.as_bytes().to_vec().leak() as &[u8]));
        let result = read(reader, &mut |item| match item {
            Item::Record(r, _) => ok.push(serde_json::from_str::<Value>(r).unwrap()["id"].to_string()),
            Item::Bad(e, at) => bad.push(format!("{at}: {e}")),
            Item::Row(..) => unreachable!("JSON gives no rows"),
        });
        (ok, bad, result)
    }

    #[test]
    fn every_shape_yields_its_records() {
        let page =
            "{\n \"@odata.context\": \"x\",\n \"value\": [ {\"id\": 1}, {\"id\": 2} ],\n \"@odata.nextLink\": \"y\"\n}";
        assert_eq!(records(page).0, ["1", "2"]);
        assert_eq!(records("{\"records\":[{\"id\":3}]}").0, ["3"]);
        assert_eq!(records("[\n{\"id\":4},\n{\"id\":5}\n]").0, ["4", "5"]);
        assert_eq!(records("{\"id\":6}\n{\"id\":7}\n").0, ["6", "7"]);
        assert_eq!(records("{\n  \"id\": 8,\n  \"value\": \"scalar\"\n}").0, ["8"]);
    }

    #[test]
    fn a_bad_line_costs_only_itself() {
        let (ok, bad, result) = records("{\"id\":1}\n{\"id\":\n{\"id\":3}\n");
        assert_eq!(ok, ["1", "3"]);
        assert_eq!(bad.len(), 1);
        assert!(bad[0].starts_with("line 2"), "{bad:?}");
        assert!(result.is_ok());
    }

    #[test]
    fn a_truncated_document_keeps_what_came_before() {
        let (ok, _, result) = records("{\"value\": [\n{\"id\":1},\n{\"id\":2},\n{\"id\":");
        assert_eq!(ok, ["1", "2"]);
        let err = result.unwrap_err();
        assert!(err.contains("after record 2"), "{err}");
    }
}
