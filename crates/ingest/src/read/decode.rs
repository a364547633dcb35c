//! Turns bytes into UTF-8 text: gzip is unwrapped, a UTF-8 byte-order mark is dropped and
//! UTF-16 (with a BOM, or without one when the NULs give it away) is transcoded. Invalid
//! UTF-8 is passed through, so that the record it sits in is reported rather than the file.

use std::io::{self, BufRead, BufReader, Read};

use encoding_rs_io::DecodeReaderBytesBuilder;

use crate::limits::{Counted, Inflated, Limits};

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
pub(crate) const ZIP_MAGIC: [u8; 4] = *b"PK\x03\x04";

/// Reads the first bytes without consuming them.
pub(crate) fn peek<R: BufRead>(reader: &mut R, n: usize) -> io::Result<Vec<u8>> {
    let buf = reader.fill_buf()?;
    Ok(buf[..buf.len().min(n)].to_vec())
}

/// Wraps `reader` so that it yields UTF-8 text, whatever compression and encoding it has.
/// Returns the text reader and a description of what was unwrapped. Decompression stops with
/// an error at the member size or inflation ratio limits, and a damaged gzip stream says so.
pub(crate) fn text<'a>(
    reader: impl Read + 'a,
    limits: &Limits,
) -> io::Result<(Box<dyn BufRead + 'a>, Vec<&'static str>)> {
    let mut notes = Vec::new();
    let mut reader: Box<dyn BufRead + 'a> = Box::new(BufReader::with_capacity(1 << 16, reader));
    if peek(&mut reader, 2)? == GZIP_MAGIC {
        notes.push("gzip");
        let (counted, compressed) = Counted::new(reader);
        let gzip = Damaged(flate2::bufread::MultiGzDecoder::new(counted));
        reader = Box::new(BufReader::with_capacity(1 << 16, Inflated::new(gzip, "gzip", compressed, *limits)));
    }
    let head = peek(&mut reader, 4)?;
    let encoding = if head.starts_with(&[0xff, 0xfe]) || head.starts_with(&[0xfe, 0xff]) {
        notes.push("UTF-16");
        None // the BOM tells the decoder which one
    } else if head.len() == 4 && head[0] != 0 && head[1] == 0 && head[2] != 0 && head[3] == 0 {
        notes.push("UTF-16LE without BOM");
        Some(encoding_rs::UTF_16LE)
    } else if head.len() == 4 && head[0] == 0 && head[1] != 0 && head[2] == 0 && head[3] != 0 {
        notes.push("UTF-16BE without BOM");
        Some(encoding_rs::UTF_16BE)
    } else {
        if head.starts_with(&[0xef, 0xbb, 0xbf]) {
            notes.push("UTF-8 BOM");
            reader.consume(3);
        }
        return Ok((reader, notes));
    };
    let decoded = DecodeReaderBytesBuilder::new().encoding(encoding).bom_sniffing(true).strip_bom(true).build(reader);
    Ok((Box::new(BufReader::with_capacity(1 << 16, decoded)), notes))
}

/// A gzip stream's errors, said as what they mean for the file.
struct Damaged<R>(R);

impl<R: Read> Read for Damaged<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("the gzip data is damaged or cut short ({e}); the rest of the file was not read"),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> String {
        let (mut r, _) = text(bytes, &Limits::default()).unwrap();
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        s
    }

    #[test]
    fn utf16_with_and_without_bom_and_utf8_bom() {
        let utf16le: Vec<u8> =
            [0xff, 0xfe].into_iter().chain("a,b\n".encode_utf16().flat_map(u16::to_le_bytes)).collect();
        assert_eq!(decode(&utf16le), "a,b\n");
        let utf16be: Vec<u8> =
            [0xfe, 0xff].into_iter().chain("a,b\n".encode_utf16().flat_map(u16::to_be_bytes)).collect();
        assert_eq!(decode(&utf16be), "a,b\n");
        let no_bom: Vec<u8> = "ab,c\n".encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert_eq!(decode(&no_bom), "ab,c\n");
        assert_eq!(decode(b"\xef\xbb\xbf{\"a\":1}"), "{\"a\":1}");
    }

    #[test]
    fn gzip_is_unwrapped() {
        use flate2::{Compression, write::GzEncoder};
        use std::io::Write;
        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
        enc.write_all("\u{feff}[1]".as_bytes()).unwrap();
        assert_eq!(decode(&enc.finish().unwrap()), "[1]");
    }
}
