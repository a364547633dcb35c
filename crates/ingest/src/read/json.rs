//! JSON in its shapes: a document (a Graph page `{"value": [...]}`, a diagnostic
//! `{"records": [...]}`, a Log Analytics query response `{"tables": [{"columns": [...],
//! "rows": [[...]]}]}`, a bare array or a single object), streamed element by element so that
//! memory stays bounded by the record limit whatever the file size; and JSON lines, read line
//! by line. Either way a bad record costs only itself: reading resynchronises at the next one.
//!
//! The query response is the Log Analytics query API's (`POST /v1/workspaces/{id}/query`, and
//! `az rest` or the SDKs returning it raw): each table lists its columns once and its rows as
//! arrays of values, dynamic columns as JSON text
//! (<https://learn.microsoft.com/en-us/rest/api/loganalytics/dataaccess/query/execute>). The
//! older API spelled it `Tables` / `Columns[].ColumnName` / `Rows`; both are read. Each row
//! becomes an object of its columns, as a CSV row does.

use std::borrow::Cow;
use std::fmt;
use std::io::{BufRead, Read};

use serde::de;

use crate::limits::{self, Limits};
use crate::value::{Map, Value};

/// Where a record sits in its file, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    Line(u64),
    Record(u64),
    /// A record of a page or array written on one (long) line.
    LineRecord(u64, u64),
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::Line(n) => write!(f, "line {n}"),
            Position::Record(n) => write!(f, "record {n}"),
            Position::LineRecord(line, n) => write!(f, "line {line} record {n}"),
        }
    }
}

/// What a reader hands on: a record's JSON text, a CSV row as an object, or something that
/// could not be read.
pub(crate) enum Item<'a> {
    Record(&'a str, Position),
    Row(Map<'a>, Position),
    Bad(String, Position),
}

impl Item<'_> {
    /// The item's record position made relative to line `line`.
    fn in_line(self, line: u64) -> Self {
        let at = |p: Position| match p {
            Position::Record(0) => Position::Line(line),
            Position::Record(n) => Position::LineRecord(line, n),
            other => other,
        };
        match self {
            Item::Record(text, p) => Item::Record(text, at(p)),
            Item::Row(row, p) => Item::Row(row, at(p)),
            Item::Bad(why, p) => Item::Bad(why, at(p)),
        }
    }
}

/// How much of the start of a file is looked at to tell JSON lines from a document.
const SAMPLE: usize = 1 << 20;

/// Reads every record of a JSON file. What is wrong with one record (or line) is reported with
/// it and costs only that record: reading resynchronises at the next one. Only a failure to
/// read the bytes themselves (a damaged gzip stream, a decompression limit) ends the file, and
/// is returned as the error text; what came before it is kept.
pub(crate) fn read(
    mut reader: Box<dyn BufRead + '_>,
    limits: &Limits,
    sink: &mut dyn FnMut(Item),
) -> Result<(), String> {
    let mut head = Vec::with_capacity(SAMPLE);
    // A file that fails within the sample (a cut gzip) is read up to where it failed.
    let failed = (&mut reader).take(SAMPLE as u64).read_to_end(&mut head).err();
    let whole_file = head.len() < SAMPLE || failed.is_some();
    let lines = looks_like_lines(&head, whole_file);
    let rest: Box<dyn BufRead + '_> = if failed.is_some() { Box::new(std::io::empty()) } else { reader };
    let reader = std::io::Cursor::new(head).chain(rest);
    let read = if lines { read_lines(reader, limits, sink) } else { read_document(reader, limits, sink) };
    match failed {
        Some(e) => Err(e.to_string()),
        None => read,
    }
}

/// JSON lines when the first line is a whole JSON object or array, or when at least half the
/// complete lines of the sample are: a broken or garbage first line does not turn a JSON-lines
/// file into one broken document. A pretty-printed document has almost no line that parses
/// on its own (elements end with commas).
fn looks_like_lines(head: &[u8], whole_file: bool) -> bool {
    let mut lines: Vec<&[u8]> = head.split(|&b| b == b'\n').collect();
    if !whole_file {
        lines.pop(); // cut by the sample
    }
    let lines: Vec<&[u8]> = lines.into_iter().map(<[u8]>::trim_ascii).filter(|l| !l.is_empty()).take(64).collect();
    let parses =
        |l: &&[u8]| matches!(l.first(), Some(b'{' | b'[')) && serde_json::from_slice::<de::IgnoredAny>(l).is_ok();
    let Some(first) = lines.first() else { return false };
    if parses(first) {
        return true;
    }
    let n = lines.iter().filter(|l| parses(l)).count();
    n >= 1 && n * 2 >= lines.len()
}

fn read_lines(mut reader: impl BufRead, limits: &Limits, sink: &mut dyn FnMut(Item)) -> Result<(), String> {
    let mut line = Vec::new();
    let mut number = 0u64;
    // Room for the record and its line ending.
    let hold = limits.max_record_bytes.saturating_add(2);
    loop {
        line.clear();
        number += 1;
        // A line over the record limit is no single record: it is split as a document of its
        // own (a page or an array written on one line), element by element.
        let mut long: Option<Splitter> = None;
        let mut length = 0usize;
        let mut in_line = |item: Item| sink(item.in_line(number));
        loop {
            let buf = reader.fill_buf().map_err(|e| e.to_string())?;
            if buf.is_empty() {
                break;
            }
            let (take, done) = memchr::memchr(b'\n', buf).map_or((buf.len(), false), |i| (i + 1, true));
            match &mut long {
                Some(splitter) => splitter.feed(&buf[..take], &mut in_line),
                None => {
                    line.extend_from_slice(&buf[..take]);
                    if line.len() > hold {
                        let mut splitter = Splitter::new(*limits);
                        splitter.feed(&line, &mut in_line);
                        line = Vec::new();
                        long = Some(splitter);
                    }
                }
            }
            length += take;
            reader.consume(take);
            if done {
                break;
            }
        }
        if length == 0 {
            return Ok(());
        }
        let at = Position::Line(number);
        if let Some(mut splitter) = long {
            if let Err(e) = splitter.finish(&mut in_line) {
                in_line(Item::Bad(e, Position::Record(0)));
            }
            continue;
        }
        match std::str::from_utf8(&line).map(str::trim) {
            Ok("") => {}
            Ok(text) => match serde_json::from_str::<Value>(text) {
                Ok(value) => match longest_string(&value) {
                    n if n > limits.max_field_bytes => sink(Item::Bad(over_field_limit(limits), at)),
                    _ => emit_value(value, text, at, sink),
                },
                Err(e) => sink(Item::Bad(format!("invalid JSON: {e}"), at)),
            },
            Err(_) if line.trim_ascii().is_empty() => {}
            Err(_) => sink(Item::Bad("invalid UTF-8".into(), at)),
        }
    }
}

/// The length of the longest string (key or value) in `value`.
fn longest_string(value: &Value) -> usize {
    match value {
        Value::String(s) => s.len(),
        Value::Array(items) => items.iter().map(longest_string).max().unwrap_or(0),
        Value::Object(map) => map.iter().map(|(k, v)| k.len().max(longest_string(v))).max().unwrap_or(0),
        _ => 0,
    }
}

pub(crate) fn over_field_limit(limits: &Limits) -> String {
    format!("a value over the field limit of {} (--max-field-bytes)", limits::bytes(limits.max_field_bytes as u64))
}

pub(crate) fn over_record_limit(limits: &Limits) -> String {
    format!("a record over the record limit of {} (--max-record-bytes)", limits::bytes(limits.max_record_bytes as u64))
}

/// A whole line: a record, or a page / records wrapper, or an array of records.
fn emit_value(value: Value, text: &str, at: Position, sink: &mut dyn FnMut(Item)) {
    let elements = match value {
        Value::Array(items) => items,
        Value::Object(mut map) => {
            if let Some(rows) = table_rows(&mut map) {
                for row in rows {
                    match row {
                        Ok(row) => sink(Item::Row(row, at)),
                        Err(why) => sink(Item::Bad(why, at)),
                    }
                }
                return;
            }
            match wrapped(&mut map) {
                Some(items) => items,
                None => return sink(Item::Record(text, at)),
            }
        }
        _ => return sink(Item::Bad("a JSON value that is not an object".into(), at)),
    };
    for element in elements {
        sink(Item::Record(&element.to_string(), at));
    }
}

/// The rows of a whole query response, taken out of `map`, each as an object of its table's
/// columns; `None` when `map` is no query response. Rows that do not fit their columns are
/// reported.
fn table_rows<'a>(map: &mut Map<'a>) -> Option<Vec<Result<Map<'a>, String>>> {
    let key = TABLES.iter().find(|k| map.get(k).is_some_and(Value::is_array))?;
    let Some(Value::Array(tables)) = map.remove(key) else { return None };
    let mut rows = Vec::new();
    for table in tables {
        let Value::Object(mut table) = table else { continue };
        let columns: Vec<String> = COLUMNS
            .iter()
            .find_map(|k| table.get(k))
            .and_then(Value::as_array)
            .map(|c| c.iter().filter_map(column_name).collect())
            .unwrap_or_default();
        let table_rows = ROWS.iter().find_map(|k| table.remove(k));
        if let Some(Value::Array(table_rows)) = table_rows {
            rows.extend(table_rows.into_iter().map(|row| row_object(&columns, row)));
        }
    }
    Some(rows)
}

/// The spellings of a query response's keys: the current API's and the 2017 draft's.
const TABLES: [&str; 2] = ["tables", "Tables"];
const COLUMNS: [&str; 2] = ["columns", "Columns"];
const ROWS: [&str; 2] = ["rows", "Rows"];

/// A column's name: `{"name": ..., "type": ...}`, or the draft's `{"ColumnName": ...}`.
fn column_name(column: &Value) -> Option<String> {
    let column = column.as_object()?;
    ["name", "ColumnName"].iter().find_map(|k| column.get(k)).and_then(Value::as_str).map(String::from)
}

/// One row of a query response as an object of its columns.
fn row_object<'a>(columns: &[String], row: Value<'a>) -> Result<Map<'a>, String> {
    let Value::Array(values) = row else { return Err("a table row that is not an array of values".into()) };
    if columns.is_empty() {
        return Err("a table row before (or without) the table's columns".into());
    }
    if values.len() != columns.len() {
        return Err(format!("a table row of {} values for {} columns", values.len(), columns.len()));
    }
    Ok(Map::from_entries(columns.iter().map(|c| Cow::Owned(c.clone())).zip(values).collect()))
}

fn wrapped<'a>(map: &mut Map<'a>) -> Option<Vec<Value<'a>>> {
    for key in ["value", "records"] {
        if let Some(Value::Array(_)) = map.get(key)
            && let Some(Value::Array(items)) = map.remove(key)
        {
            return Some(items);
        }
    }
    None
}

fn read_document(mut reader: impl BufRead, limits: &Limits, sink: &mut dyn FnMut(Item)) -> Result<(), String> {
    let mut splitter = Splitter::new(*limits);
    loop {
        let buf = reader.fill_buf().map_err(|e| e.to_string())?;
        if buf.is_empty() {
            return splitter.finish(sink);
        }
        let n = buf.len();
        splitter.feed(buf, sink);
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

/// Nesting deeper than this is refused while splitting (serde_json refuses 128 anyway).
const MAX_NESTING: usize = 1024;

/// Keys longer than this are not remembered (only `value`, `records`, `tables`, `columns`
/// and `rows` matter).
const MAX_KEY: usize = 64;

/// Finds the records in a JSON document without parsing it: tracks strings, escapes and
/// nesting over the raw bytes, and hands each record's bytes on whole, to be parsed on its own.
/// Records are the elements of a top-level array, of a top-level object's `value` or
/// `records` array, the rows of the tables of a query response (`tables[].rows[]`, made
/// objects with the table's `columns`), or top-level objects without such an array (one, or a
/// stream of them).
/// Memory is bounded by the record limit, whatever the file size.
///
/// A record that is broken in a way that hides where it ends (a missing quote or bracket, a
/// raw line break inside a string, a bracket of the wrong kind) is reported, and reading
/// resynchronises: the bytes from just after the broken record's start are scanned again for
/// the start of the next record, an `{` at the start of a line or after a comma that opens
/// with the same first key as the broken record (sibling records in an export do).
struct Splitter {
    limits: Limits,
    /// The open brackets.
    stack: Vec<u8>,
    in_string: bool,
    escape: bool,
    string_len: usize,
    lines: u64,
    top: Top,
    /// Inside the top-level object, a key is expected next.
    expecting_key: bool,
    key: Vec<u8>,
    collecting_key: bool,
    current_key: Vec<u8>,
    /// The depth at which records sit, while inside the records array.
    records_depth: Option<usize>,
    /// Inside a query response's `tables` array.
    tables: bool,
    /// What the elements at `records_depth` are.
    section: Section,
    /// The current table's columns, for its rows.
    columns: Vec<String>,
    element: Vec<u8>,
    in_element: bool,
    /// The element passed a limit: its end is still tracked, its bytes are not kept.
    skipping: bool,
    /// The whole top-level object, kept while it may turn out to be a single record.
    whole: Option<Vec<u8>>,
    /// Why the top-level object, dropped, is no record: the limit it passed.
    whole_over: Option<String>,
    count: u64,
    /// Resynchronising: bytes are passed over until a record starts.
    lost: Option<Signature>,
    /// The last byte outside strings that is not white space.
    previous: u8,
}

/// What the elements being read are: records, or a query response's column descriptions or
/// rows.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Section {
    #[default]
    Records,
    Columns,
    Rows,
}

/// What the next record's start must look like: its first key, quoted, when known.
#[derive(Default)]
struct Signature(Vec<u8>);

/// Where in the current chunk the bytes not yet copied into the element (or the whole
/// object) begin.
struct Runs {
    element: usize,
    whole: usize,
}

impl Splitter {
    fn new(limits: Limits) -> Self {
        Splitter {
            limits,
            stack: Vec::new(),
            in_string: false,
            escape: false,
            string_len: 0,
            lines: 0,
            top: Top::None,
            expecting_key: false,
            key: Vec::new(),
            collecting_key: false,
            current_key: Vec::new(),
            records_depth: None,
            tables: false,
            section: Section::Records,
            columns: Vec::new(),
            element: Vec::new(),
            in_element: false,
            skipping: false,
            whole: None,
            whole_over: None,
            count: 0,
            lost: None,
            previous: b'\n',
        }
    }

    fn depth(&self) -> usize {
        self.stack.len()
    }

    /// Whether the object being read has its keys tracked: the top-level object, and the
    /// table objects of a query response.
    fn keyed(&self) -> bool {
        match self.depth() {
            1 => self.top == Top::Object,
            3 => self.tables && self.stack.last() == Some(&b'{'),
            _ => false,
        }
    }

    fn key_is(&self, names: &[&str]) -> bool {
        names.iter().any(|n| self.current_key == n.as_bytes())
    }

    /// Feeds one chunk of the file. A broken record makes the splitter scan part of it again,
    /// from a buffer of its own.
    fn feed(&mut self, chunk: &[u8], sink: &mut dyn FnMut(Item)) {
        self.lines += memchr::memchr_iter(b'\n', chunk).count() as u64;
        let mut again = match self.scan(chunk, sink) {
            Ok(()) => return,
            Err(rescan) => rescan,
        };
        while let Err(rescan) = self.scan(&again, sink) {
            again = rescan;
        }
    }

    /// Scans `bytes`; on a broken record, reports it and returns the bytes to scan again.
    fn scan(&mut self, bytes: &[u8], sink: &mut dyn FnMut(Item)) -> Result<(), Vec<u8>> {
        let mut runs = Runs { element: 0, whole: 0 };
        let mut i = 0;
        while i < bytes.len() {
            if let Some(signature) = &self.lost {
                let arrays = self.depth() == 0 || self.section == Section::Rows;
                match find_start(bytes, i, self.previous, &signature.0, arrays) {
                    Some(at) => {
                        self.lost = None;
                        i = at;
                        self.previous = b'\n';
                    }
                    None => {
                        self.previous = last_significant(bytes).unwrap_or(self.previous);
                        return Ok(());
                    }
                }
            }
            if self.in_string {
                const BROKEN: &str = "a line break or control character inside a string";
                if self.escape {
                    // The one byte after a backslash belongs to the escape, whatever it is.
                    self.escape = false;
                    if bytes[i] < 0x20 {
                        return self.broken(BROKEN, bytes, i, &runs, sink);
                    }
                    self.string_bytes(&bytes[i..=i]);
                    i += 1;
                    continue;
                }
                let end = memchr::memchr2(b'"', b'\\', &bytes[i..]).map_or(bytes.len(), |offset| i + offset);
                if let Some(control) = first_control(&bytes[i..end]) {
                    return self.broken(BROKEN, bytes, i + control, &runs, sink);
                }
                self.string_bytes(&bytes[i..end]);
                if end == bytes.len() {
                    break;
                }
                i = end;
                if bytes[i] == b'\\' {
                    self.escape = true;
                    self.string_bytes(b"\\");
                } else {
                    self.in_string = false;
                    self.collecting_key = false;
                }
                if self.string_len > self.limits.max_field_bytes {
                    self.over_limit(over_field_limit(&self.limits), sink);
                }
                i += 1;
                continue;
            }
            let b = bytes[i];
            match b {
                b'"' => {
                    if self.depth() == 0 {
                        return self.broken("content outside any JSON value", bytes, i, &runs, sink);
                    }
                    self.start_element(i, &mut runs);
                    self.in_string = true;
                    self.string_len = 0;
                    self.collecting_key = self.keyed() && self.expecting_key;
                    if self.collecting_key {
                        self.key.clear();
                    }
                }
                b'{' | b'[' => {
                    if self.depth() == 0 {
                        self.begin_document(b, i, &mut runs);
                    } else if self.depth() == 1 && self.top == Top::Object && b == b'[' {
                        if self.key_is(&["value", "records"]) {
                            self.records_depth = Some(2);
                            self.whole = None;
                            self.whole_over = None;
                        } else if self.key_is(&TABLES) {
                            self.tables = true;
                            self.whole = None;
                            self.whole_over = None;
                        }
                    } else if self.tables && self.depth() == 2 && b == b'{' {
                        self.columns.clear();
                    } else if self.keyed() && self.depth() == 3 && b == b'[' {
                        if self.key_is(&COLUMNS) {
                            self.records_depth = Some(4);
                            self.section = Section::Columns;
                        } else if self.key_is(&ROWS) {
                            self.records_depth = Some(4);
                            self.section = Section::Rows;
                        }
                    }
                    self.start_element(i, &mut runs);
                    if self.depth() >= MAX_NESTING {
                        return self.broken("nesting too deep", bytes, i, &runs, sink);
                    }
                    self.stack.push(b);
                    if self.keyed() {
                        self.expecting_key = true;
                    }
                }
                b'}' | b']' => {
                    let open = if b == b'}' { b'{' } else { b'[' };
                    if self.stack.last() != Some(&open) {
                        return self.broken("a closing bracket that closes nothing open", bytes, i, &runs, sink);
                    }
                    if self.in_element && Some(self.depth()) == self.records_depth {
                        // A scalar element ends at the array's close.
                        self.end_element(bytes, i, &mut runs, sink);
                    }
                    self.stack.pop();
                    if self.in_element && Some(self.depth()) == self.records_depth {
                        self.end_element(bytes, i + 1, &mut runs, sink);
                    } else if self.records_depth.is_some_and(|d| self.depth() + 1 == d) {
                        self.records_depth = None; // the records array is closed
                        self.section = Section::Records;
                    } else if self.tables && self.depth() == 1 {
                        self.tables = false;
                    }
                    if self.depth() == 0 {
                        self.end_document(bytes, i, &runs, sink);
                    }
                }
                b',' => {
                    if self.in_element && Some(self.depth()) == self.records_depth {
                        self.end_element(bytes, i, &mut runs, sink);
                    }
                    if self.keyed() {
                        self.expecting_key = true;
                    }
                }
                b':' => {
                    if self.keyed() {
                        self.current_key = std::mem::take(&mut self.key);
                        self.expecting_key = false;
                    }
                }
                b' ' | b'\t' | b'\r' | b'\n' => {}
                _ => {
                    if self.depth() == 0 {
                        return self.broken("content outside any JSON value", bytes, i, &runs, sink);
                    }
                    self.start_element(i, &mut runs);
                }
            }
            if !b.is_ascii_whitespace() {
                self.previous = b;
            } else if b == b'\n' {
                self.previous = b'\n';
            }
            i += 1;
        }
        self.carry(bytes, &runs, sink);
        Ok(())
    }

    /// Carries what the chunk holds of the open element (or object) over to the next chunk.
    fn carry(&mut self, bytes: &[u8], runs: &Runs, sink: &mut dyn FnMut(Item)) {
        if self.in_element && !self.skipping {
            self.element.extend_from_slice(&bytes[runs.element..]);
            if self.element.len() > self.limits.max_record_bytes {
                self.over_limit(over_record_limit(&self.limits), sink);
            }
        }
        if let Some(whole) = &mut self.whole {
            whole.extend_from_slice(&bytes[runs.whole..]);
            if whole.len() > self.limits.max_record_bytes {
                self.whole = None;
                self.whole_over = Some(over_record_limit(&self.limits));
            }
        }
    }

    fn string_bytes(&mut self, bytes: &[u8]) {
        self.string_len += bytes.len();
        if self.collecting_key && self.key.len() < MAX_KEY {
            let room = MAX_KEY - self.key.len();
            self.key.extend_from_slice(&bytes[..bytes.len().min(room)]);
        }
    }

    /// The current record passed a limit but its structure is intact: it is reported, its
    /// end is still found, its bytes are dropped.
    fn over_limit(&mut self, reason: String, sink: &mut dyn FnMut(Item)) {
        if self.in_element && !self.skipping {
            self.skipping = true;
            self.element = Vec::new();
            self.count += 1;
            sink(Item::Bad(reason, Position::Record(self.count)));
        } else if self.whole.is_some() {
            self.whole = None;
            self.whole_over = Some(reason);
        }
    }

    /// The record being read is broken at `bytes[at]`: reports it, forgets it, and returns the
    /// bytes to scan again for the next record (from just after the broken record's start).
    fn broken(
        &mut self,
        what: &str,
        bytes: &[u8],
        at: usize,
        runs: &Runs,
        sink: &mut dyn FnMut(Item),
    ) -> Result<(), Vec<u8>> {
        let held = if self.in_element && !self.skipping {
            let mut held = std::mem::take(&mut self.element);
            held.extend_from_slice(bytes.get(runs.element..).unwrap_or_default());
            Some(held)
        } else if let Some(mut whole) = self.whole.take() {
            whole.extend_from_slice(bytes.get(runs.whole..).unwrap_or_default());
            Some(whole)
        } else {
            None
        };
        // An element over the limit was reported when it passed it.
        if !(self.in_element && self.skipping) {
            let a_record = self.in_element || self.top == Top::Object && self.records_depth.is_none();
            self.count += u64::from(a_record);
            let at = Position::Record(self.count + u64::from(!a_record));
            sink(Item::Bad(format!("{what}; the record is skipped and reading resumes at the next one"), at));
        }
        // Back to where records start: inside the records array, or outside any value.
        let keep = match self.records_depth {
            Some(d) if self.depth() >= d => d,
            _ => 0,
        };
        self.stack.truncate(keep);
        if keep == 0 {
            self.top = Top::None;
            self.records_depth = None;
            self.tables = false;
            self.section = Section::Records;
        }
        self.in_element = false;
        self.skipping = false;
        self.in_string = false;
        self.escape = false;
        self.collecting_key = false;
        self.whole_over = None;
        self.element.clear();
        match held {
            Some(held) if !held.is_empty() => {
                self.lost = Some(Signature(first_key(&held)));
                self.previous = held[0];
                Err(held[1..].to_vec())
            }
            _ => {
                self.lost = Some(Signature::default());
                Err(bytes.get(at + 1..).unwrap_or_default().to_vec())
            }
        }
    }

    fn begin_document(&mut self, b: u8, at: usize, runs: &mut Runs) {
        if b == b'[' {
            self.top = Top::Array;
            self.records_depth = Some(1);
        } else {
            self.top = Top::Object;
            self.whole = Some(Vec::new());
            self.whole_over = None;
            runs.whole = at;
            self.current_key.clear();
        }
    }

    fn end_document(&mut self, bytes: &[u8], at: usize, runs: &Runs, sink: &mut dyn FnMut(Item)) {
        if let Some(mut whole) = self.whole.take() {
            whole.extend_from_slice(&bytes[runs.whole..=at]);
            if whole.len() > self.limits.max_record_bytes {
                self.whole_over = Some(over_record_limit(&self.limits));
            } else {
                self.element = whole;
                self.emit(sink);
            }
        }
        if let Some(reason) = self.whole_over.take() {
            self.count += 1;
            sink(Item::Bad(reason, Position::Record(self.count)));
        }
        self.top = Top::None;
        self.records_depth = None;
        self.tables = false;
        self.section = Section::Records;
    }

    /// A value starting where records sit: objects are records; scalars are reported as
    /// records too, so that they are counted (and found not to be objects).
    fn start_element(&mut self, at: usize, runs: &mut Runs) {
        if Some(self.depth()) == self.records_depth && !self.in_element {
            self.in_element = true;
            self.skipping = false;
            self.element.clear();
            runs.element = at;
        }
    }

    /// The element ends just before `end` in this chunk.
    fn end_element(&mut self, bytes: &[u8], end: usize, runs: &mut Runs, sink: &mut dyn FnMut(Item)) {
        if self.skipping {
            self.in_element = false;
            self.skipping = false;
            return;
        }
        self.element.extend_from_slice(&bytes[runs.element..end]);
        if self.element.len() > self.limits.max_record_bytes {
            self.element = Vec::new();
            self.in_element = false;
            self.count += 1;
            return sink(Item::Bad(over_record_limit(&self.limits), Position::Record(self.count)));
        }
        self.emit(sink);
    }

    fn emit(&mut self, sink: &mut dyn FnMut(Item)) {
        self.in_element = false;
        if self.section == Section::Columns {
            let column = serde_json::from_slice::<Value>(&self.element).ok();
            self.columns.push(column.as_ref().and_then(column_name).unwrap_or_default());
            self.element.clear();
            return;
        }
        self.count += 1;
        let at = Position::Record(self.count);
        match std::str::from_utf8(&self.element) {
            Ok(text) if self.section == Section::Rows => match serde_json::from_str::<Value>(text) {
                Ok(row) => match row_object(&self.columns, row) {
                    Ok(object) => sink(Item::Row(object, at)),
                    Err(why) => sink(Item::Bad(why, at)),
                },
                Err(e) => sink(Item::Bad(format!("invalid JSON: {e}"), at)),
            },
            Ok(text) => sink(Item::Record(text.trim(), at)),
            Err(_) => sink(Item::Bad("invalid UTF-8".into(), at)),
        }
        self.element.clear();
    }

    /// At the end of the file: a record still open is broken (scanned again for records
    /// after its start); a document still open was cut short.
    fn finish(&mut self, sink: &mut dyn FnMut(Item)) -> Result<(), String> {
        loop {
            let open = self.in_string || self.in_element || self.whole.is_some() || self.whole_over.is_some();
            if self.lost.is_some() || !open {
                break;
            }
            let mut again =
                match self.broken("the file ends inside this record", &[], 0, &Runs { element: 0, whole: 0 }, sink) {
                    Ok(()) => break,
                    Err(rescan) => rescan,
                };
            while let Err(rescan) = self.scan(&again, sink) {
                again = rescan;
            }
        }
        if self.depth() > 0 && self.lost.is_none() {
            return Err(format!(
                "the file ends inside the JSON document, after record {} (near line {}): it was cut short",
                self.count,
                self.lines + 1
            ));
        }
        Ok(())
    }
}

/// Where the first control character (a raw line break, tab, NUL ...) is, which JSON strings
/// may not hold. The check without an early exit is the fast one: strings are almost never
/// broken.
fn first_control(bytes: &[u8]) -> Option<usize> {
    if !bytes.iter().fold(false, |found, &b| found | (b < 0x20)) {
        return None;
    }
    bytes.iter().position(|&b| b < 0x20)
}

/// The first key of a record's text, quoted: `"id"` for `{ "id": ...`.
fn first_key(record: &[u8]) -> Vec<u8> {
    let rest = record.strip_prefix(b"{").unwrap_or(&[]).trim_ascii_start();
    let Some(body) = rest.strip_prefix(b"\"") else { return Vec::new() };
    match memchr::memchr2(b'"', b'\\', body) {
        Some(end) if end <= MAX_KEY && body[end] == b'"' => rest[..end + 2].to_vec(),
        _ => Vec::new(),
    }
}

/// Where the next record starts in `bytes[from..]`: an `{` (or, at the top level and among a
/// table's rows, `[`) at the
/// start of a line or after a comma or an opening bracket, followed by `signature` when one
/// is known (and the chunk holds enough to tell).
fn find_start(bytes: &[u8], from: usize, mut previous: u8, signature: &[u8], arrays: bool) -> Option<usize> {
    for (i, &b) in bytes.iter().enumerate().skip(from) {
        let opens = b == b'{' || arrays && b == b'[';
        if opens && matches!(previous, b'\n' | b',' | b'[') {
            let after = bytes[i + 1..].trim_ascii_start();
            let fits = after.len() >= signature.len();
            if signature.is_empty() || !fits || after.starts_with(signature) {
                return Some(i);
            }
        }
        if b == b'\n' || !b.is_ascii_whitespace() {
            previous = b;
        }
    }
    None
}

fn last_significant(bytes: &[u8]) -> Option<u8> {
    bytes.iter().rev().find(|b| !matches!(b, b' ' | b'\t' | b'\r')).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &str) -> (Vec<String>, Vec<String>, Result<(), String>) {
        records_with(text, &Limits::default())
    }

    fn records_with(text: &str, limits: &Limits) -> (Vec<String>, Vec<String>, Result<(), String>) {
        let mut ok = Vec::new();
        let mut bad = Vec::new();
        // Small chunks, so that records straddle them.
        let reader: Box<dyn BufRead> =
            Box::new(std::io::BufReader::with_capacity(7, text.as_bytes().to_vec().leak() as &[u8]));
        let result = read(reader, limits, &mut |item| match item {
            Item::Record(r, _) => match serde_json::from_str::<Value>(r) {
                Ok(v) => ok.push(v["id"].to_string()),
                Err(e) => bad.push(format!("unparsable {r:?}: {e}")),
            },
            Item::Bad(e, at) => bad.push(format!("{at}: {e}")),
            Item::Row(row, _) => ok.push(row["id"].to_string()),
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
        let (ok, bad, result) = records("{\"value\": [\n{\"id\":1},\n{\"id\":2},\n{\"id\":");
        assert_eq!(ok, ["1", "2"]);
        assert_eq!(bad.len(), 1, "{bad:?}");
        assert!(bad[0].contains("ends inside this record"), "{bad:?}");
        let (ok, _, result2) = records("{\"value\": [\n{\"id\":1},\n{\"id\":2},");
        assert_eq!(ok, ["1", "2"]);
        assert!(result2.unwrap_err().contains("after record 2"));
        assert!(result.is_ok());
    }

    #[test]
    fn a_broken_first_line_does_not_hide_the_lines_after_it() {
        let good: String = (1..=9).map(|i| format!("{{\"id\":{i}}}\n")).collect();
        let (ok, bad, _) = records(&format!("{{\"id\": 0, \"x\": \n{good}"));
        assert_eq!(ok.len(), 9, "{bad:?}");
        assert_eq!(bad.len(), 1);
        let (ok, bad, _) = records(&format!("\r\n%%garbage%%\r\n{}", good.replace('\n', "\r\n")));
        assert_eq!(ok.len(), 9, "{bad:?}");
        assert!(bad[0].starts_with("line 2"), "{bad:?}");
    }

    /// Every way an element can break in an array or a page, pretty-printed or compact: only
    /// the broken element is lost.
    #[test]
    fn a_broken_element_costs_only_itself() {
        // The stray bracket comes after a whole record 2, which is kept.
        let broken = [
            (r#"{"id": 2, "x": "unterminated}"#, &["1", "3", "4"][..]),
            (r#"{"id": 2, "x": {"y": 1}"#, &["1", "3", "4"]),
            (r#"{"id": 2, "x": 1}}"#, &["1", "2", "3", "4"]),
            (r#"{"id": 2, "x": ]"#, &["1", "3", "4"]),
            (r#"{"id": 2, "x": tru}"#, &["1", "3", "4"]),
        ];
        for (element, kept) in broken {
            for pretty in [false, true] {
                let sep = if pretty { ",\n  " } else { "," };
                let elements = [r#"{"id": 1}"#, element, r#"{"id": 3}"#, r#"{"id": 4}"#].join(sep);
                for doc in [format!("[{elements}]"), format!("{{\"@odata.context\": \"x\", \"value\": [{elements}]}}")]
                {
                    let doc = if pretty { doc.replace('[', "[\n  ") } else { doc };
                    let (ok, bad, _) = records(&doc);
                    assert_eq!(ok, kept, "{doc}\n{bad:?}");
                    assert_eq!(bad.len(), 1, "{doc}\n{bad:?}");
                }
            }
        }
    }

    #[test]
    fn records_over_the_limits_are_refused_and_reading_goes_on() {
        let limits = Limits { max_record_bytes: 100, max_field_bytes: 40, ..Limits::default() };
        let long = vec!["1"; 100].join(",");
        let field = "y".repeat(60);
        let doc =
            format!("[{{\"id\":1}}, {{\"id\":2, \"x\": [{long}]}}, {{\"id\":3,\"f\":\"{field}\"}}, {{\"id\":4}}]");
        let (ok, bad, _) = records_with(&doc, &limits);
        assert_eq!(ok, ["1", "4"], "{bad:?}");
        assert_eq!(bad.len(), 2, "{bad:?}");
        assert!(bad[0].contains("record limit") && bad[1].contains("field limit"), "{bad:?}");
        let lines = format!("{{\"id\":1}}\n{{\"id\":2,\"x\":[{long}]}}\n{{\"id\":3}}\n");
        let (ok, bad, _) = records_with(&lines, &limits);
        assert_eq!(ok, ["1", "3"]);
        // A long line whose value passes the field limit first is refused for that.
        let lines = format!("{{\"id\":1}}\n{{\"id\":2,\"f\":\"{field}\",\"x\":[{long}]}}\n{{\"id\":3}}\n");
        let (ok, field_bad, _) = records_with(&lines, &limits);
        assert_eq!(ok, ["1", "3"]);
        assert!(field_bad.len() == 1 && field_bad[0].contains("field limit"), "{field_bad:?}");
        assert!(bad[0].starts_with("line 2") && bad[0].contains("record limit"), "{bad:?}");
    }

    #[test]
    fn escapes_in_strings_do_not_end_them() {
        let record = r#"{"id": 1, "x": "a\nb\u00e9\/c\\", "y": "\"q\"", "z": "\\"}"#;
        for doc in [format!("[{record}, {{\"id\": 2}}]"), format!("[\n  {record},\n  {{\"id\": 2}}\n]\n")] {
            let (ok, bad, result) = records(&doc);
            assert_eq!(ok, ["1", "2"], "{doc}\n{bad:?}");
            assert!(bad.is_empty() && result.is_ok(), "{bad:?}");
        }
    }

    #[test]
    fn garbage_between_documents_is_passed_over() {
        let (ok, bad, result) = records("{\n \"id\": 1\n}\nnot json at all\n{\n \"id\": 2\n}\n");
        assert_eq!(ok, ["1", "2"], "{bad:?}");
        assert_eq!(bad.len(), 1);
        assert!(result.is_ok());
    }

    /// A Log Analytics query response: rows become objects of the table's columns, in both
    /// spellings of the API, pretty or compact, in chunks that cut through everything.
    #[test]
    fn query_responses_yield_their_rows_as_objects() {
        let current = r#"{"tables":[{"name":"PrimaryResult","columns":[{"name":"id","type":"string"},{"name":"x","type":"dynamic"}],
            "rows":[["a","{\"k\":[1]}"],["b",null]]},{"name":"Second","columns":[{"name":"x","type":"long"},{"name":"id","type":"string"}],"rows":[[7,"c"]]}]}"#;
        let (ok, bad, result) = records(current);
        assert_eq!(ok, [r#""a""#, r#""b""#, r#""c""#], "{bad:?}");
        assert!(bad.is_empty() && result.is_ok());
        let pretty = current.replace(",", ",\n   ").replace("[[", "[\n  [");
        assert_eq!(records(&pretty).0, [r#""a""#, r#""b""#, r#""c""#]);
        let draft = r#"{"Tables":[{"TableName":"Table_0","Columns":[{"ColumnName":"id","DataType":"String","ColumnType":"string"}],"Rows":[["d"],["e"]]}]}"#;
        assert_eq!(records(draft).0, [r#""d""#, r#""e""#]);
        // The same response on one line of a JSON-lines file.
        let lines = format!("{}\n{}\n", current.replace('\n', ""), draft);
        assert_eq!(records(&lines).0, [r#""a""#, r#""b""#, r#""c""#, r#""d""#, r#""e""#]);
    }

    #[test]
    fn a_bad_row_costs_only_itself() {
        let doc = "{\"tables\":[{\"name\":\"PrimaryResult\",\"columns\":[{\"name\":\"id\",\"type\":\"string\"},{\"name\":\"n\",\"type\":\"long\"}],\"rows\":[\n\
            [\"a\",1],\n[\"b\"],\n[\"c\",\"unterminated],\n[\"d\",4]\n]}]}";
        let (ok, bad, result) = records(doc);
        assert_eq!(ok, [r#""a""#, r#""d""#], "{bad:?}");
        assert_eq!(bad.len(), 2, "{bad:?}");
        assert!(bad[0].contains("record 2") && bad[0].contains("1 values for 2 columns"), "{bad:?}");
        assert!(bad[1].contains("record 3"), "{bad:?}");
        assert!(result.is_ok());
        // Streamed, rows must come after their columns (as the API writes them); a whole
        // response on one line is read in any order.
        let rows_first = "{\n\"tables\": [{\"rows\": [[\"a\"]],\n\"columns\": [{\"name\": \"id\"}]}]\n}";
        let (ok, bad, _) = records(rows_first);
        assert!(ok.is_empty() && bad[0].contains("before (or without) the table's columns"), "{bad:?}");
        assert_eq!(records(&rows_first.replace('\n', "")).0, [r#""a""#]);
    }
}
