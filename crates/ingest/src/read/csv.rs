//! CSV exports (Log Analytics, Entra portal, Purview UAL, message trace): every row becomes a
//! JSON object keyed by the trimmed header, so that one normaliser serves CSV and JSON alike.
//! Quoted fields may hold commas, quotes and newlines.

use std::io::BufRead;

use serde_json::{Map, Value};

use super::json::{Item, Position};

/// The error for text that is neither JSON nor a CSV table.
pub(crate) const NOT_CSV: &str = "neither JSON nor a CSV table (the first line has no separators)";

pub(crate) fn read(reader: Box<dyn BufRead + '_>, sink: &mut dyn FnMut(Item)) -> Result<(), String> {
    let mut csv = csv::ReaderBuilder::new().flexible(true).has_headers(false).from_reader(reader);
    let mut record = csv::ByteRecord::new();
    let header: Vec<String> = match csv.read_byte_record(&mut record) {
        Ok(true) => {
            record.iter().map(|h| String::from_utf8_lossy(h).trim().trim_matches('\u{feff}').to_string()).collect()
        }
        Ok(false) => return Ok(()),
        Err(e) => return Err(format!("unreadable CSV header: {e}")),
    };
    if header.len() < 2 {
        return Err(NOT_CSV.into());
    }
    loop {
        let line = csv.position().line();
        match csv.read_byte_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => {}
            Err(e) => {
                sink(Item::Bad(format!("unreadable CSV row: {e}"), Position::Line(line)));
                continue;
            }
        }
        let at = Position::Line(record.position().map_or(line, |p| p.line()));
        if record.len() == 1 && record.get(0).is_some_and(|f| f.iter().all(u8::is_ascii_whitespace)) {
            continue; // blank line
        }
        if record.len() != header.len() {
            sink(Item::Bad(format!("row has {} fields, the header has {}", record.len(), header.len()), at));
            continue;
        }
        let mut object = Map::with_capacity(header.len());
        let mut invalid_utf8 = false;
        for (name, field) in header.iter().zip(record.iter()) {
            let text = match std::str::from_utf8(field) {
                Ok(t) => t.to_string(),
                Err(_) => {
                    invalid_utf8 = true;
                    String::from_utf8_lossy(field).into_owned()
                }
            };
            object.insert(name.clone(), Value::String(text));
        }
        if invalid_utf8 {
            sink(Item::Bad("invalid UTF-8 in the row".into(), at));
            continue;
        }
        sink(Item::Row(object, at));
    }
}
