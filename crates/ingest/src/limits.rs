//! The one place that bounds what reading an export may cost. Exports are attacker-controlled:
//! a single line may be gigabytes long, a small zip may inflate to terabytes, a record may nest
//! thousands of levels deep. Every reader checks these limits as it goes, so that the memory an
//! ingest takes depends on them and never on the input: what exceeds a limit is refused with
//! its file, position and the limit's name, and reading goes on with the next record (or, for
//! an archive member or a decompressed stream, the next file).
//!
//! The defaults are far above what Microsoft's exports produce (the largest records seen, UAL
//! `AuditData` with every parameter, are tens of kilobytes) and far below what would exhaust a
//! workstation. Nesting needs no limit of its own: serde_json refuses records nested deeper
//! than 128 levels (an invalid record), and the document splitter holds one byte per level. `sleuth ingest --max-record-bytes ... --max-field-bytes ...
//! --max-member-bytes ... --max-inflate-ratio ...` raise them.

use std::io::{self, BufRead, Read};

/// Limits on one ingest's input. See the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest record: a JSON line, a JSON document's element, a CSV row (bytes of text).
    /// Peak memory per reading thread is a small multiple of it.
    pub max_record_bytes: usize,
    /// The largest single value (a string in a JSON record, a CSV cell).
    pub max_field_bytes: usize,
    /// The most text one file or archive member may decompress to.
    pub max_member_bytes: u64,
    /// The most a compressed stream may expand, decompressed bytes per compressed byte, once
    /// past [`INFLATE_GRACE`]: deflate manages about 1,032 at most; log exports compress 10 to
    /// 40 times.
    pub max_inflate_ratio: u64,
}

/// Decompressed bytes that are never held against the ratio, so that small, very repetitive
/// files are read whatever their ratio.
pub const INFLATE_GRACE: u64 = 64 << 20;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_record_bytes: 16 << 20,
            max_field_bytes: 4 << 20,
            max_member_bytes: 64 << 30,
            max_inflate_ratio: 200,
        }
    }
}

/// The text of a limit that was reached, for reports.
pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    match UNITS.iter().find(|(size, _)| n >= *size) {
        Some((size, unit)) if n.is_multiple_of(*size) => format!("{} {unit}", n / size),
        Some((size, unit)) => format!("{:.1} {unit}", n as f64 / *size as f64),
        None => format!("{n} bytes"),
    }
}

/// Counts the bytes read through it (the compressed side of a decompressor).
pub(crate) struct Counted<R> {
    inner: R,
    count: std::rc::Rc<std::cell::Cell<u64>>,
}

impl<R> Counted<R> {
    pub(crate) fn new(inner: R) -> (Self, std::rc::Rc<std::cell::Cell<u64>>) {
        let count = std::rc::Rc::new(std::cell::Cell::new(0));
        (Counted { inner, count: count.clone() }, count)
    }
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counted<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        self.count.set(self.count.get() + amt as u64);
        self.inner.consume(amt);
    }
}

/// The decompressed side: fails with a clear error once the stream passes the member limit or,
/// past the grace, the ratio limit against the compressed bytes read so far.
pub(crate) struct Inflated<R> {
    inner: R,
    what: &'static str,
    out: u64,
    compressed: std::rc::Rc<std::cell::Cell<u64>>,
    limits: Limits,
}

impl<R> Inflated<R> {
    pub(crate) fn new(
        inner: R,
        what: &'static str,
        compressed: std::rc::Rc<std::cell::Cell<u64>>,
        limits: Limits,
    ) -> Self {
        Inflated { inner, what, out: 0, compressed, limits }
    }
}

impl<R: Read> Read for Inflated<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.out += n as u64;
        let limits = &self.limits;
        if self.out > limits.max_member_bytes {
            return Err(io::Error::other(format!(
                "{} data decompresses past {}, the limit for one file (--max-member-bytes); the rest of the file was not read",
                self.what,
                bytes(limits.max_member_bytes)
            )));
        }
        let compressed = self.compressed.get().max(1);
        if self.out > INFLATE_GRACE && self.out / compressed > limits.max_inflate_ratio {
            return Err(io::Error::other(format!(
                "{} data expands more than {} times ({} from {}): a decompression bomb, or raise --max-inflate-ratio; the rest of the file was not read",
                self.what,
                limits.max_inflate_ratio,
                bytes(self.out),
                bytes(compressed)
            )));
        }
        Ok(n)
    }
}

/// Reads one line (up to and including `\n`) into `line`, holding at most `max` bytes of it.
/// Returns the line's full length (0 at the end of input); a longer line is read to its end
/// without being held, and `line` then holds only its first `max` bytes.
pub(crate) fn read_line(reader: &mut dyn BufRead, line: &mut Vec<u8>, max: usize) -> io::Result<usize> {
    line.clear();
    let mut total = 0;
    loop {
        let buf = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok(total);
        }
        let (take, done) = match memchr::memchr(b'\n', buf) {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        let room = max.saturating_sub(line.len());
        line.extend_from_slice(&buf[..take.min(room)]);
        total += take;
        reader.consume(take);
        if done {
            return Ok(total);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_line_is_measured_not_held() {
        let text = format!("{}\nnext\n", "x".repeat(10_000));
        let mut reader = io::BufReader::with_capacity(64, text.as_bytes());
        let mut line = Vec::new();
        assert_eq!(read_line(&mut reader, &mut line, 100).unwrap(), 10_001);
        assert_eq!(line.len(), 100);
        assert_eq!(read_line(&mut reader, &mut line, 100).unwrap(), 5);
        assert_eq!(line, b"next\n");
        assert_eq!(read_line(&mut reader, &mut line, 100).unwrap(), 0);
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(bytes(16 << 20), "16 MiB");
        assert_eq!(bytes(3 << 29), "1.5 GiB");
        assert_eq!(bytes(512), "512 bytes");
    }
}
