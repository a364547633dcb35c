//! Reading files: finds the files under the paths given, opens archives, decodes text,
//! recognises JSON or CSV from the content, and hands every record to the normaliser. Each
//! file gets a [`FileReport`] that accounts for every record: normalised, invalid (with file,
//! position and reason) or unrecognised.

mod csv;
mod decode;
mod json;
mod parallel;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use json::Item;
pub use json::Position;

use crate::limits::{Inflated, Limits};
use crate::normalise::{Outcome, normalise};
use crate::schema::{Record, Table};
use crate::value::Value;

/// How many problems a report keeps in full; the counts are always complete.
pub const MAX_PROBLEMS: usize = 20;

/// The text format of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
}

/// A record that could not be used, and where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub position: Position,
    pub reason: String,
}

/// What came of one file (or one member of an archive).
#[derive(Debug, Clone, Default)]
pub struct FileReport {
    /// The file's path; archive members as `archive.zip!member`.
    pub name: String,
    pub format: Option<Format>,
    /// What was unwrapped to get at the text (gzip, UTF-16 ...).
    pub encoding: Vec<&'static str>,
    /// Normalised records per table.
    pub records: BTreeMap<Table, u64>,
    /// Records of a known kind that could not be used.
    pub invalid: u64,
    /// Records that are not of a kind Sleuth reads.
    pub unrecognised: u64,
    /// Records kept although they carry no readable time (they sort last and escape time
    /// windows, so the summary says so).
    pub without_time: u64,
    /// The first [`MAX_PROBLEMS`] invalid or unrecognised records.
    pub problems: Vec<Problem>,
    /// Set when the file could not be read, or could be read only up to some point.
    pub error: Option<String>,
    /// Set when the file as a whole is not an export (binary, prose ...), and why.
    pub not_an_export: Option<String>,
    /// The file is an answer that says it has no records (a Graph page or query response
    /// whose `value` or `records` is `[]`): a window in which nothing happened, not a mistake.
    pub empty_answer: bool,
}

/// The verdict on a file, for the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileStatus {
    /// Every record was read.
    Ok,
    /// Some records were read, some were not (see the problems and error).
    Partial,
    /// Nothing in the file is a record Sleuth reads.
    Unrecognised,
    /// The file holds records of known kinds, but none could be used.
    Failed,
    /// The file holds no records at all.
    Empty,
    /// The file could not be read.
    Unreadable,
}

impl FileReport {
    fn new(name: String) -> Self {
        FileReport { name, ..Default::default() }
    }

    pub fn total(&self) -> u64 {
        self.records.values().sum()
    }

    pub fn status(&self) -> FileStatus {
        if self.not_an_export.is_some() {
            return FileStatus::Unrecognised;
        }
        let bad = self.invalid + self.unrecognised;
        match (self.total(), bad, self.error.is_some()) {
            (0, 0, true) => FileStatus::Unreadable,
            (0, 0, false) if self.empty_answer => FileStatus::Ok,
            (0, 0, false) => FileStatus::Empty,
            (0, _, _) if self.invalid == 0 => FileStatus::Unrecognised,
            (0, _, _) => FileStatus::Failed,
            (_, 0, false) => FileStatus::Ok,
            _ => FileStatus::Partial,
        }
    }

    fn problem(&mut self, position: Position, reason: String) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(Problem { position, reason });
        }
    }

    /// Counts what became of one framed item, and hands its records on.
    fn count(&mut self, settled: Settled, sink: &mut dyn FnMut(Record)) {
        let Settled(outcome, at) = settled;
        match outcome {
            Outcome::Records(records) => {
                for record in records {
                    if record.time().is_none() {
                        self.without_time += 1;
                        if self.without_time == 1 {
                            self.problem(
                                at,
                                format!("kept without a time: no readable timestamp in this {} record", record.table()),
                            );
                        }
                    }
                    *self.records.entry(record.table()).or_default() += 1;
                    sink(record);
                }
            }
            Outcome::Invalid(reason) => {
                self.invalid += 1;
                self.problem(at, reason);
            }
            Outcome::Unrecognised(reason) => {
                self.unrecognised += 1;
                if self.unrecognised == 1 {
                    self.problem(at, reason);
                }
            }
        }
    }
}

/// What one framed item came to, and where it was.
pub(super) struct Settled(Outcome, Position);

/// Parses and normalises one framed item: the work that may run on any thread.
pub(super) fn settle(item: Item, source_file: &str) -> Settled {
    match item {
        Item::Record(text, at) => match crate::value::parse(text) {
            Ok(Value::Object(object)) => Settled(normalise(object, source_file, text), at),
            Ok(_) => Settled(Outcome::Invalid("a JSON value that is not an object".into()), at),
            Err(e) => Settled(Outcome::Invalid(format!("invalid JSON: {e}")), at),
        },
        Item::Row(object, at) => {
            let raw = serde_json::to_string(&object).unwrap_or_default();
            Settled(normalise(object, source_file, &raw), at)
        }
        Item::Bad(reason, at) => Settled(Outcome::Invalid(reason), at),
    }
}

/// Every file under `paths` (files as given, folders recursively), sorted, so that ingest
/// order and hence its results are deterministic. Hidden entries and Sleuth stores are skipped.
/// A folder reached twice (a symbolic link loop) is read once; a folder that cannot be listed
/// is returned as an entry of its own, which [`read_path`] reports as unreadable.
pub fn files(paths: &[PathBuf]) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        if meta.is_dir() {
            walk(path, &mut seen, &mut out);
        } else {
            out.push(path.clone());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, seen: &mut std::collections::HashSet<PathBuf>, out: &mut Vec<PathBuf>) {
    if dir.join("_sleuth").is_dir() {
        return; // a store, not an export
    }
    match std::fs::canonicalize(dir) {
        Ok(real) => {
            if !seen.insert(real) {
                return; // reached before, through a link
            }
        }
        Err(_) => return out.push(dir.to_path_buf()),
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(_) => return out.push(dir.to_path_buf()),
    };
    let mut entries: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
        .collect();
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            walk(&entry, seen, out);
        } else {
            out.push(entry);
        }
    }
}

/// Reads one file from disk, opening zip archives member by member, within `limits`.
pub fn read_path(path: &Path, limits: &Limits, sink: &mut dyn FnMut(Record)) -> Vec<FileReport> {
    let name = path.display().to_string();
    if path.is_dir() {
        let why = std::fs::read_dir(path).err().map_or("a folder reached twice".to_string(), |e| e.to_string());
        return vec![unreadable(name, format!("folder could not be listed: {why}"))];
    }
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) => return vec![unreadable(name, e.to_string())],
    };
    let mut magic = [0u8; 4];
    let is_zip = file.read_exact(&mut magic).is_ok() && magic == decode::ZIP_MAGIC;
    if let Err(e) = io::Seek::rewind(&mut file) {
        return vec![unreadable(name, e.to_string())];
    }
    if !is_zip {
        let helpers = helpers_for(file.metadata().map_or(0, |m| m.len()));
        return vec![read_stream_with(&name, file, limits, helpers, parallel::CHUNK_ITEMS, sink)];
    }
    let mut archive = match zip::ZipArchive::new(file) {
        Ok(a) => a,
        Err(e) => return vec![unreadable(name, format!("unreadable zip archive: {e}"))],
    };
    let mut reports = Vec::new();
    for i in 0..archive.len() {
        match archive.by_index(i) {
            Ok(member) if member.is_dir() => {}
            Ok(member) => {
                // The member's name is only a label: nothing is ever written from an archive.
                let member_name = format!("{name}!{}", member.name());
                let helpers = helpers_for(member.size());
                let compressed = std::rc::Rc::new(std::cell::Cell::new(member.compressed_size()));
                let member = Inflated::new(member, "zip member", compressed, *limits);
                reports.push(read_stream_with(&member_name, member, limits, helpers, parallel::CHUNK_ITEMS, sink));
            }
            Err(e) => reports.push(unreadable(format!("{name}!#{i}"), format!("unreadable zip member: {e}"))),
        }
    }
    reports
}

fn unreadable(name: String, error: String) -> FileReport {
    FileReport { error: Some(error), ..FileReport::new(name) }
}

/// Reads one stream of any supported format and encoding, within `limits`. `name` is used in
/// reports and stamped on every record as its source file.
pub fn read_stream(name: &str, reader: impl Read, limits: &Limits, sink: &mut dyn FnMut(Record)) -> FileReport {
    read_stream_with(name, reader, limits, 0, parallel::CHUNK_ITEMS, sink)
}

/// Files at least this large (on disk, or a zip member's size) are parsed and normalised on
/// helper threads besides their own: a Log Analytics export is often one large file.
const PARALLEL_BYTES: u64 = 32 << 20;

/// Helper threads for a file of `bytes`: one per core (the file's own thread mostly waits for
/// them), at most four, none for small files (their own thread is enough when files come in
/// numbers).
fn helpers_for(bytes: u64) -> usize {
    if bytes < PARALLEL_BYTES {
        return 0;
    }
    std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 4)
}

/// [`read_stream`] with `helpers` threads parsing and normalising what this one frames, in
/// chunks of `chunk_items`.
fn read_stream_with(
    name: &str,
    reader: impl Read,
    limits: &Limits,
    helpers: usize,
    chunk_items: usize,
    sink: &mut dyn FnMut(Record),
) -> FileReport {
    let mut report = FileReport::new(name.to_string());
    let (mut text, encoding) = match decode::text(reader, limits) {
        Ok(t) => t,
        Err(e) => return unreadable(name.to_string(), e.to_string()),
    };
    report.encoding = encoding;
    let head = match decode::peek(&mut text, 8192) {
        Ok(h) => h,
        Err(e) => return unreadable(name.to_string(), e.to_string()),
    };
    let Some(&first) = head.iter().find(|b| !b.is_ascii_whitespace()) else {
        return report; // empty
    };
    if looks_binary(&head) {
        report.not_an_export = Some("binary content, not a text export".into());
        return report;
    }
    let format = if first == b'{' || first == b'[' || garbage_before_json(&head) { Format::Json } else { Format::Csv };
    report.format = Some(format);
    let frame = |handle: &mut dyn FnMut(Item)| match format {
        Format::Json => json::read(text, limits, handle),
        Format::Csv => csv::read(text, limits, handle),
    };
    let mut count = |settled| report.count(settled, sink);
    let result = if helpers == 0 {
        frame(&mut |item| count(settle(item, name)))
    } else {
        parallel::run(helpers, chunk_items, name, frame, &mut count)
    };
    match result {
        Err(e) if e == csv::NOT_CSV => {
            report.format = None;
            report.not_an_export = Some(e);
        }
        Err(e) => report.error = Some(e),
        Ok(()) => {}
    }
    if format == Format::Json && report.total() == 0 && report.invalid + report.unrecognised == 0 {
        report.empty_answer = empty_answer(&head);
    }
    report
}

/// A whole document (it fits in the head) that is an object whose `value` or `records` is an
/// empty array.
fn empty_answer(head: &[u8]) -> bool {
    let Ok(Value::Object(document)) = serde_json::from_slice::<Value>(head) else { return false };
    ["value", "records"].iter().any(|k| document.get(k).and_then(Value::as_array).is_some_and(Vec::is_empty))
}

/// A first line that is no CSV header (no separator at all) followed by lines that open JSON
/// values: JSON lines behind a line of garbage, which the JSON reader reports and passes over.
fn garbage_before_json(head: &[u8]) -> bool {
    let mut lines = head.split(|&b| b == b'\n').map(<[u8]>::trim_ascii).filter(|l| !l.is_empty());
    let Some(first) = lines.next() else { return false };
    !first.iter().any(|b| matches!(b, b',' | b'\t' | b';')) && lines.any(|l| matches!(l.first(), Some(b'{' | b'[')))
}

/// Many NUL bytes, or mostly invalid UTF-8: not text. A few bad bytes in a text export (a
/// stray NUL in one record) are the records' problem, reported per record, so that one
/// damaged record near the start does not cost the file. (UTF-16 was decoded before this.)
fn looks_binary(head: &[u8]) -> bool {
    let nuls = memchr::memchr_iter(0, head).count();
    if nuls * 100 > head.len() {
        return true;
    }
    let text = String::from_utf8_lossy(head);
    let bad = text.matches('\u{fffd}').count();
    bad * 10 > text.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_graph_page_is_an_answer_and_an_empty_file_is_not() {
        let page = br#"{"@odata.context":"https://graph.microsoft.com/beta/$metadata#auditLogs/signIns","value":[]}"#;
        let report = read_stream("page.json", page.as_slice(), &Limits::default(), &mut |_| {});
        assert_eq!(report.status(), FileStatus::Ok);
        assert!(report.empty_answer);
        for nothing in [&b"   "[..], b"{}", b"[]", br#"{"value": 3}"#] {
            let report = read_stream("x.json", nothing, &Limits::default(), &mut |_| {});
            assert_ne!(report.status(), FileStatus::Ok, "{}", String::from_utf8_lossy(nothing));
        }
    }

    /// A file read with helper threads gives the records and the report one thread gives, in
    /// the same order: every fuzz seed (JSON pages, JSON lines, query responses, CSV, UAL) whole
    /// and with damaged bytes, in chunks of one, two and five items so that many are in flight.
    #[test]
    fn helpers_change_nothing_but_the_threads() {
        let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds");
        let mut names: Vec<PathBuf> = std::fs::read_dir(&seeds).unwrap().map(|e| e.unwrap().path()).collect();
        names.sort();
        let limits = Limits { max_record_bytes: 4096, max_field_bytes: 1024, ..Limits::default() };
        let read = |bytes: &[u8], helpers: usize, chunk: usize| {
            let mut records = Vec::new();
            let report = read_stream_with("seed", bytes, &limits, helpers, chunk, &mut |r| records.push(r));
            (format!("{report:?}"), records)
        };
        let mut compared = 0;
        for path in names {
            let bytes = std::fs::read(&path).unwrap();
            let mut inputs = vec![bytes.clone()];
            for at in (0..bytes.len()).step_by(bytes.len() / 7 + 1) {
                let mut damaged = bytes.clone();
                damaged[at] = b'}';
                inputs.push(damaged);
            }
            for input in inputs {
                let alone = read(&input, 0, 256);
                compared += alone.1.len();
                for (helpers, chunk) in [(1, 1), (2, 2), (3, 5)] {
                    assert!(read(&input, helpers, chunk) == alone, "{} with {helpers} helpers", path.display());
                }
            }
        }
        assert!(compared > 100, "the seeds hold records: {compared}");
    }

    /// Every cut and every damaged byte of real-format exports (the fuzz seeds): no panic,
    /// every record accounted for, and a cut file never yields more than the whole one. A
    /// deterministic complement to the fuzz targets, which CI runs without coverage.
    #[test]
    fn damaged_exports_never_panic_and_account_for_every_record() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let limits = Limits { max_record_bytes: 4096, max_field_bytes: 1024, ..Limits::default() };
        for name in ["fuzz/seeds/graph_signins.json", "crates/cli/tests/fixtures/portal_signins.csv"] {
            let bytes = std::fs::read(root.join(name)).unwrap();
            let whole = read_stream(name, bytes.as_slice(), &Limits::default(), &mut |_| {}).total();
            assert!(whole > 0, "{name}");
            for cut in (0..bytes.len()).step_by(53) {
                let mut seen = 0;
                let report = read_stream(name, &bytes[..cut], &limits, &mut |_| seen += 1);
                assert_eq!(report.total(), seen);
                assert!(report.total() <= whole);
            }
            for at in (0..bytes.len()).step_by(37) {
                for byte in [b'"', b'{', b'}', b'\n', b',', 0xff] {
                    let mut damaged = bytes.clone();
                    damaged[at] = byte;
                    let mut seen = 0;
                    let report = read_stream(name, damaged.as_slice(), &limits, &mut |_| seen += 1);
                    assert_eq!(report.total(), seen);
                }
            }
        }
    }
}
