//! CSV exports (Log Analytics, Entra portal, Purview UAL, message trace): every row becomes a
//! JSON object keyed by the trimmed header, so that one normaliser serves CSV and JSON alike.
//! Quoted fields may hold commas, quotes and newlines.
//!
//! Rows are found before they are parsed: physical lines are joined while a quoted field is
//! open (an odd number of quotes so far), up to the record limit. A quote that is never closed
//! would otherwise swallow the rest of the file, so such a row is reported on its first line
//! and reading resumes with the line after it; a row whose field count is wrong is reported
//! alone. Memory is bounded by the record limit, whatever the file.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::io::BufRead;

use super::json::{Item, Position, over_field_limit, over_record_limit};
use crate::limits::{self, Limits};
use crate::value::{Map, Value};

/// The error for text that is neither JSON nor a CSV table.
pub(crate) const NOT_CSV: &str = "neither JSON nor a CSV table (the first line has no separators)";

/// One physical line: its number, its bytes (at most the record limit) and its full length.
struct Line {
    number: u64,
    bytes: Vec<u8>,
    length: usize,
    quotes: usize,
}

/// Physical lines, with those taken back after a broken row read again first.
struct Lines<'a> {
    reader: Box<dyn BufRead + 'a>,
    again: VecDeque<Line>,
    next_number: u64,
    hold: usize,
}

impl Lines<'_> {
    fn next(&mut self) -> Result<Option<Line>, String> {
        if let Some(line) = self.again.pop_front() {
            return Ok(Some(line));
        }
        let mut bytes = Vec::new();
        let length = limits::read_line(&mut self.reader, &mut bytes, self.hold).map_err(|e| e.to_string())?;
        if length == 0 {
            return Ok(None);
        }
        self.next_number += 1;
        let quotes = memchr::memchr_iter(b'"', &bytes).count();
        Ok(Some(Line { number: self.next_number, bytes, length, quotes }))
    }
}

/// A row's fields, parsed from its bytes with the CSV state machine.
struct Parser {
    core: csv_core::Reader,
    output: Vec<u8>,
    ends: Vec<usize>,
}

impl Parser {
    fn new() -> Self {
        Parser { core: csv_core::Reader::new(), output: vec![0; 4096], ends: vec![0; 64] }
    }

    /// The fields of one row (which ends with a line break, or the file).
    fn fields<'p>(&'p mut self, row: &[u8]) -> Vec<&'p [u8]> {
        use csv_core::ReadRecordResult as R;
        self.core.reset();
        let (mut input, mut out, mut end) = (row, 0, 0);
        loop {
            let (result, nin, nout, nend) =
                self.core.read_record(input, &mut self.output[out..], &mut self.ends[end..]);
            input = &input[nin..];
            out += nout;
            end += nend;
            match result {
                R::OutputFull => self.output.resize(self.output.len() * 2, 0),
                R::OutputEndsFull => self.ends.resize(self.ends.len() * 2, 0),
                // An empty input tells the parser the row is over.
                R::InputEmpty => {}
                R::Record | R::End => break,
            }
        }
        let mut start = 0;
        self.ends[..end]
            .iter()
            .map(|&e| {
                let field = &self.output[start..e];
                start = e;
                field
            })
            .collect()
    }
}

/// One row: its first line's number, its bytes and whether its quotes are balanced.
struct Row {
    number: u64,
    bytes: Vec<u8>,
    lines: Vec<Line>,
    closed: bool,
}

fn next_row(lines: &mut Lines, limits: &Limits, sink: &mut dyn FnMut(Item)) -> Result<Option<Row>, String> {
    loop {
        let Some(first) = lines.next()? else { return Ok(None) };
        if first.length > first.bytes.len() {
            sink(Item::Bad(over_record_limit(limits), Position::Line(first.number)));
            continue;
        }
        // The first line's bytes move into the row; the lines after it (rare) are kept too, to
        // be read again if the row turns out broken.
        let mut quotes = first.quotes;
        let first_line = Line { number: first.number, bytes: Vec::new(), length: first.length, quotes: first.quotes };
        let mut row = Row { number: first.number, bytes: first.bytes, closed: true, lines: vec![first_line] };
        while quotes % 2 == 1 {
            let Some(line) = lines.next()? else { break };
            if line.length > line.bytes.len() || row.bytes.len() + line.bytes.len() > limits.max_record_bytes {
                lines.again.push_back(line);
                break;
            }
            quotes += line.quotes;
            row.bytes.extend_from_slice(&line.bytes);
            row.lines.push(line);
        }
        row.closed = quotes.is_multiple_of(2);
        return Ok(Some(row));
    }
}

pub(crate) fn read(reader: Box<dyn BufRead + '_>, limits: &Limits, sink: &mut dyn FnMut(Item)) -> Result<(), String> {
    let mut lines =
        Lines { reader, again: VecDeque::new(), next_number: 0, hold: limits.max_record_bytes.saturating_add(2) };
    let mut parser = Parser::new();
    let header: Vec<String> = loop {
        let Some(row) = next_row(&mut lines, limits, &mut |_| {})? else { return Ok(()) };
        if row.bytes.trim_ascii().is_empty() {
            continue;
        }
        if !row.closed {
            return Err("unreadable CSV header: a quote that is never closed".into());
        }
        break parser
            .fields(&row.bytes)
            .iter()
            .map(|h| String::from_utf8_lossy(h).trim().trim_matches('\u{feff}').to_string())
            .collect();
    };
    if header.len() < 2 {
        return Err(NOT_CSV.into());
    }
    while let Some(mut row) = next_row(&mut lines, limits, sink)? {
        let at = Position::Line(row.number);
        if row.bytes.trim_ascii().is_empty() {
            continue; // blank line
        }
        if !row.closed {
            // A quote never closed: the first line is the broken row; the others are read again.
            sink(Item::Bad(
                "a quoted field that is never closed (the row is skipped, reading resumes on the next line)".into(),
                at,
            ));
            take_back(&mut lines, &mut row);
            continue;
        }
        let fields = parser.fields(&row.bytes);
        if fields.len() != header.len() {
            let count = fields.len();
            // A stray quote that a later line happened to close: the row's first line alone is
            // broken when the line after it is a whole row of its own.
            if row.lines.len() > 1
                && row.lines[1].quotes.is_multiple_of(2)
                && parser.fields(&row.lines[1].bytes).len() == header.len()
            {
                sink(Item::Bad(
                    "a quoted field that is never closed (the row is skipped, reading resumes on the next line)".into(),
                    at,
                ));
                take_back(&mut lines, &mut row);
                continue;
            }
            sink(Item::Bad(format!("row has {count} fields, the header has {}", header.len()), at));
            continue;
        }
        if fields.iter().any(|f| f.len() > limits.max_field_bytes) {
            sink(Item::Bad(over_field_limit(limits), at));
            continue;
        }
        let mut members = Vec::with_capacity(header.len());
        let mut invalid_utf8 = false;
        for (name, field) in header.iter().zip(fields) {
            let Ok(text) = std::str::from_utf8(field) else {
                invalid_utf8 = true;
                break;
            };
            members.push((Cow::Borrowed(name.as_str()), Value::String(Cow::Borrowed(text))));
        }
        if invalid_utf8 {
            sink(Item::Bad("invalid UTF-8 in the row".into(), at));
            continue;
        }
        let object = Map::from_entries(members);
        sink(Item::Row(object, at));
    }
    Ok(())
}

/// Puts a broken row's lines after its first back in front of the lines still to read.
fn take_back(lines: &mut Lines, row: &mut Row) {
    for line in row.lines.drain(1..).rev() {
        lines.again.push_front(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str) -> (Vec<String>, Vec<String>) {
        rows_with(text, &Limits::default())
    }

    fn rows_with(text: &str, limits: &Limits) -> (Vec<String>, Vec<String>) {
        let mut ok = Vec::new();
        let mut bad = Vec::new();
        let reader: Box<dyn BufRead> = Box::new(std::io::BufReader::with_capacity(5, text.as_bytes()));
        read(reader, limits, &mut |item| match item {
            Item::Row(row, _) => ok.push(row["id"].as_str().unwrap().to_string()),
            Item::Bad(why, at) => bad.push(format!("{at}: {why}")),
            Item::Record(..) => unreachable!(),
        })
        .unwrap();
        (ok, bad)
    }

    #[test]
    fn quoted_fields_hold_separators_quotes_and_line_breaks() {
        let (ok, bad) = rows("id,text\r\n1,\"a, \"\"b\"\"\nc\"\r\n2,plain\r\n\r\n3,\"\"\n");
        assert_eq!(ok, ["1", "2", "3"], "{bad:?}");
        assert!(bad.is_empty());
    }

    #[test]
    fn a_quote_never_closed_costs_only_its_row() {
        let (ok, bad) = rows("id,text,n\n1,\"open,1\n2,b,2\n3,c,3\n4,\"q\",4\n");
        assert_eq!(ok, ["2", "3", "4"], "{bad:?}");
        assert_eq!(bad.len(), 1);
        assert!(bad[0].starts_with("line 2: a quoted field"), "{bad:?}");
    }

    #[test]
    fn ragged_and_oversized_rows_are_reported_alone() {
        let limits = Limits { max_record_bytes: 50, max_field_bytes: 20, ..Limits::default() };
        let long = "x".repeat(200);
        let field = "y".repeat(30);
        let (ok, bad) = rows_with(&format!("id,text\n1,a\n2,b,extra\n3,{long}\n4,{field}\n5,e\n"), &limits);
        assert_eq!(ok, ["1", "5"], "{bad:?}");
        assert_eq!(bad.len(), 3, "{bad:?}");
        assert!(bad[0].starts_with("line 3: row has 3 fields"));
        assert!(bad[1].starts_with("line 4") && bad[1].contains("record limit"));
        assert!(bad[2].starts_with("line 5") && bad[2].contains("field limit"));
    }
}
