//! Rows of text as a terminal grid or as CSV. Callers decide which columns and rows (a query's
//! result, a hunt's alerts); the layout and the neutralisation of every cell are done here.

use std::io::{self, Write};

use crate::text::{csv_cell, visible};

/// Longest cell shown in a grid; the rest is elided (JSON and CSV carry everything).
pub const MAX_CELL: usize = 60;

/// A grid for the terminal: `| a | b |`, a rule under the header, cells made visible and cut
/// at [`MAX_CELL`] characters, and the row count.
pub fn grid(header: &[String], rows: &[Vec<String>], out: &mut dyn Write) -> io::Result<()> {
    let header: Vec<String> = header.iter().map(|h| visible(h)).collect();
    let rows: Vec<Vec<String>> = rows.iter().map(|r| r.iter().map(|c| shorten(&visible(c))).collect()).collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).chain([header[c].chars().count()]).max().unwrap_or(0))
        .collect();
    let line = |out: &mut dyn Write, cells: &[String]| -> io::Result<()> {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        writeln!(out, "| {} |", padded.join(" | "))
    };
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    line(out, &header)?;
    writeln!(out, "|-{}-|", rule.join("-+-"))?;
    for row in &rows {
        line(out, row)?;
    }
    writeln!(out, "({} rows)", rows.len())
}

fn shorten(s: &str) -> String {
    if s.chars().count() <= MAX_CELL {
        return s.to_string();
    }
    let mut t: String = s.chars().take(MAX_CELL - 1).collect();
    t.push('…');
    t
}

/// CSV whose text cells are neutralised ([`csv_cell`]); cells a caller marks as numbers are
/// written as they are.
pub struct Csv<W: Write> {
    writer: csv::Writer<W>,
}

impl<W: Write> Csv<W> {
    /// Starts the file with its header (neutralised too: column names can come from a query).
    pub fn new(out: W, header: &[&str]) -> csv::Result<Self> {
        let mut writer = csv::Writer::from_writer(out);
        writer.write_record(header.iter().map(|h| csv_cell(h)))?;
        Ok(Csv { writer })
    }

    /// One row of text cells.
    pub fn row<S: AsRef<str>>(&mut self, cells: &[S]) -> csv::Result<()> {
        self.writer.write_record(cells.iter().map(|c| csv_cell(c.as_ref())))
    }

    /// One row whose cells say whether they hold text (`true`) or a number.
    pub fn typed_row<S: AsRef<str>>(&mut self, cells: &[(S, bool)]) -> csv::Result<()> {
        let cells = cells.iter().map(|(c, text)| if *text { csv_cell(c.as_ref()) } else { c.as_ref().to_string() });
        self.writer.write_record(cells)
    }

    pub fn finish(mut self) -> io::Result<()> {
        self.writer.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_is_aligned_visible_and_cut() {
        let mut out = Vec::new();
        let rows = vec![vec!["a\u{1b}[2J".to_string(), "x".repeat(80)]];
        grid(&["one".into(), "two".into()], &rows, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("| one        | two "), "{text}");
        assert!(text.contains("a\\u{1b}[2J") && text.contains('…') && text.ends_with("(1 rows)\n"), "{text}");
    }

    #[test]
    fn csv_neutralises_text_and_leaves_numbers() {
        let mut out = Vec::new();
        let mut csv = Csv::new(&mut out, &["=h", "n"]).unwrap();
        csv.typed_row(&[("=cmd|' /C calc'!A0", true), ("-3", false)]).unwrap();
        csv.row(&["\u{202e}gnp.exe", "@x"]).unwrap();
        csv.finish().unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text, "'=h,n\n'=cmd|' /C calc'!A0,-3\n\\u{202e}gnp.exe,'@x\n");
    }
}
