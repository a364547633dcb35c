//! Presenting query results: tables for people, JSON and CSV for tools. Every string may come
//! from a log and is attacker-controlled: `sleuth_render::text` escapes control and bidi
//! characters for the terminal and CSV, and neutralises CSV cells a spreadsheet would run as
//! formulas. JSON stays exact.

use std::io::{self, Write};

use datafusion::arrow::array::Array;
use datafusion::arrow::record_batch::RecordBatch;
use serde_json::Value;
use sleuth_render::text::{csv_cell, visible};
use sleuth_store::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
    Csv,
}

/// Longest cell shown in a table; the rest is elided (use json or csv for everything).
const MAX_CELL: usize = 60;

pub fn write_batches(format: OutputFormat, batches: &[RecordBatch], out: &mut impl Write) -> anyhow::Result<()> {
    let Some(first) = batches.first() else {
        if format == OutputFormat::Json {
            writeln!(out, "[]")?;
        } else {
            writeln!(out, "(no rows)")?;
        }
        return Ok(());
    };
    let names: Vec<String> = first.schema().fields().iter().map(|f| f.name().clone()).collect();
    match format {
        OutputFormat::Table => write_table(&names, batches, out),
        OutputFormat::Csv => write_csv(&names, batches, out),
        OutputFormat::Json => write_json(&names, batches, out),
    }
}

fn write_table(names: &[String], batches: &[RecordBatch], out: &mut impl Write) -> anyhow::Result<()> {
    let mut rows: Vec<Vec<String>> = Vec::new();
    for batch in batches {
        let columns: Vec<Vec<Option<String>>> =
            batch.columns().iter().map(json::text_cells).collect::<Result<_, _>>()?;
        for i in 0..batch.num_rows() {
            rows.push(columns.iter().map(|c| shorten(&visible(c[i].as_deref().unwrap_or("")))).collect());
        }
    }
    let header: Vec<String> = names.iter().map(|n| visible(n)).collect();
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
    writeln!(out, "({} rows)", rows.len())?;
    Ok(())
}

fn shorten(s: &str) -> String {
    if s.chars().count() <= MAX_CELL {
        return s.to_string();
    }
    let mut t: String = s.chars().take(MAX_CELL - 1).collect();
    t.push('…');
    t
}

fn write_csv(names: &[String], batches: &[RecordBatch], out: &mut impl Write) -> anyhow::Result<()> {
    let mut csv = csv::Writer::from_writer(out);
    csv.write_record(names.iter().map(|n| csv_cell(n)))?;
    for batch in batches {
        let textual: Vec<bool> = batch.columns().iter().map(|c| !c.data_type().is_numeric()).collect();
        let columns: Vec<Vec<Option<String>>> =
            batch.columns().iter().map(json::text_cells).collect::<Result<_, _>>()?;
        for i in 0..batch.num_rows() {
            let record = columns.iter().zip(&textual).map(|(c, text)| {
                let v = c[i].as_deref().unwrap_or_default();
                if *text { csv_cell(v) } else { v.to_string() }
            });
            csv.write_record(record)?;
        }
    }
    csv.flush()?;
    Ok(())
}

fn write_json(names: &[String], batches: &[RecordBatch], out: &mut impl Write) -> anyhow::Result<()> {
    writeln!(out, "[")?;
    let mut first = true;
    for batch in batches {
        let columns: Vec<Vec<Value>> = batch.columns().iter().map(json::values).collect::<Result<_, _>>()?;
        for i in 0..batch.num_rows() {
            let object: serde_json::Map<String, Value> =
                names.iter().cloned().zip(columns.iter().map(|c| c[i].clone())).collect();
            if !first {
                writeln!(out, ",")?;
            }
            first = false;
            serde_json::to_writer(&mut *out, &object)?;
        }
    }
    writeln!(out, "\n]")?;
    Ok(())
}

/// `sleuth sql ... | head` closes the pipe early: that is not an error.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| cause.downcast_ref::<io::Error>().is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe))
        || e.chain().any(|cause| {
            cause
                .downcast_ref::<csv::Error>()
                .is_some_and(|c| matches!(c.kind(), csv::ErrorKind::Io(io) if io.kind() == io::ErrorKind::BrokenPipe))
        })
}
