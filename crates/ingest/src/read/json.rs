//! JSON in its three shapes: a document (a Graph page `{"value": [...]}`, a diagnostic
//! `{"records": [...]}`, a bare array or a single object), streamed element by element so that
//! memory stays bounded whatever the file size; and JSON lines, read line by line so that a bad
//! line costs only itself.

use std::fmt;
use std::io::{BufRead, Read};

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
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
        read_document(std::io::Cursor::new(first).chain(reader), sink)
    }
}

fn read_lines(first: Vec<u8>, mut reader: Box<dyn BufRead + '_>, sink: &mut dyn FnMut(Item)) -> Result<(), String> {
    let mut line = first;
    let mut number = 1u64;
    loop {
        let text = String::from_utf8_lossy(&line);
        let trimmed = text.trim();
        if !trimmed.is_empty() {
            let at = Position::Line(number);
            if text.contains('\u{fffd}') && std::str::from_utf8(&line).is_err() {
                sink(Item::Bad("invalid UTF-8".into(), at));
            } else {
                match serde_json::from_str::<Value>(trimmed) {
                    Ok(value) => emit_value(value, trimmed, at, sink),
                    Err(e) => sink(Item::Bad(format!("invalid JSON: {e}"), at)),
                }
            }
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

fn read_document(reader: impl Read, sink: &mut dyn FnMut(Item)) -> Result<(), String> {
    let mut count = 0u64;
    let mut de = serde_json::Deserializer::from_reader(reader);
    let result = Document { sink, count: &mut count }.deserialize(&mut de).and_then(|()| de.end());
    result.map_err(|e| {
        let what = if e.is_eof() { "the file ends in the middle of a JSON value" } else { "JSON syntax error" };
        format!(
            "{what} at line {} column {} (after record {count}): {e}; the rest of the file could not be read",
            e.line(),
            e.column()
        )
    })
}

/// The top-level value of a document.
struct Document<'s> {
    sink: &'s mut dyn FnMut(Item),
    count: &'s mut u64,
}

impl<'de> DeserializeSeed<'de> for Document<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Document<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object or array of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        stream(seq, self.sink, self.count)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut fields: Vec<(String, Box<RawValue>)> = Vec::new();
        let mut streamed = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == "value" || key == "records" {
                let seed = Elements { sink: &mut *self.sink, count: &mut *self.count };
                match map.next_value_seed(seed)? {
                    None => streamed = true,
                    Some(v) => fields.push((key, serde_json::value::to_raw_value(&v).map_err(de::Error::custom)?)),
                }
            } else {
                fields.push((key, map.next_value()?));
            }
        }
        if !streamed {
            // A single record, not a wrapper: put it back together.
            let body: Vec<String> =
                fields.iter().map(|(k, v)| format!("{}:{}", Value::String(k.clone()), v.get())).collect();
            *self.count += 1;
            let record = format!("{{{}}}", body.join(","));
            (self.sink)(Item::Record(&record, Position::Record(*self.count)));
        }
        Ok(())
    }
}

fn stream<'de, A: SeqAccess<'de>>(mut seq: A, sink: &mut dyn FnMut(Item), count: &mut u64) -> Result<(), A::Error> {
    while let Some(raw) = seq.next_element::<Box<RawValue>>()? {
        *count += 1;
        sink(Item::Record(raw.get(), Position::Record(*count)));
    }
    Ok(())
}

/// The value of a `value` / `records` key: streamed when it is an array (returns `None`),
/// kept as an ordinary field otherwise.
struct Elements<'s> {
    sink: &'s mut dyn FnMut(Item),
    count: &'s mut u64,
}

impl<'de> DeserializeSeed<'de> for Elements<'_> {
    type Value = Option<Value>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<Value>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Elements<'_> {
    type Value = Option<Value>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Option<Value>, A::Error> {
        stream(seq, self.sink, self.count).map(|()| None)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Option<Value>, A::Error> {
        serde::Deserialize::deserialize(de::value::MapAccessDeserializer::new(map)).map(Some)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<Value>, E> {
        Ok(Some(Value::String(v.to_string())))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Option<Value>, E> {
        Ok(Some(Value::Bool(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<Value>, E> {
        Ok(Some(Value::from(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<Value>, E> {
        Ok(Some(Value::from(v)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Option<Value>, E> {
        Ok(Some(Value::from(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Option<Value>, E> {
        Ok(Some(Value::Null))
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
