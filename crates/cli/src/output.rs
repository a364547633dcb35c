//! Presenting query results: tables for people, JSON and CSV for tools. Every string may come
//! from a log and is attacker-controlled: `sleuth_render::text` escapes control and bidi
//! characters for the terminal and CSV, and neutralises CSV cells a spreadsheet would run as
//! formulas. JSON stays exact.

use std::io::{self, Write};

use datafusion::arrow::array::Array;
use datafusion::arrow::record_batch::RecordBatch;
use serde_json::Value;
use sleuth_render::table;
use sleuth_store::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
    Csv,
}

/// Prints the batches on standard output in `format`.
pub fn print_batches(format: OutputFormat, batches: &[RecordBatch]) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    write_batches(format, batches, &mut out)?;
    out.flush()?;
    Ok(())
}

fn write_batches(format: OutputFormat, batches: &[RecordBatch], out: &mut impl Write) -> anyhow::Result<()> {
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
            rows.push(columns.iter().map(|c| c[i].clone().unwrap_or_default()).collect());
        }
    }
    table::grid(names, &rows, out)?;
    Ok(())
}

fn write_csv(names: &[String], batches: &[RecordBatch], out: &mut impl Write) -> anyhow::Result<()> {
    let header: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut csv = table::Csv::new(out, &header)?;
    for batch in batches {
        let textual: Vec<bool> = batch.columns().iter().map(|c| !c.data_type().is_numeric()).collect();
        let columns: Vec<Vec<Option<String>>> =
            batch.columns().iter().map(json::text_cells).collect::<Result<_, _>>()?;
        for i in 0..batch.num_rows() {
            let cells: Vec<(&str, bool)> =
                columns.iter().zip(&textual).map(|(c, text)| (c[i].as_deref().unwrap_or_default(), *text)).collect();
            csv.typed_row(&cells)?;
        }
    }
    csv.finish()?;
    Ok(())
}

fn write_json(names: &[String], batches: &[RecordBatch], out: &mut impl Write) -> anyhow::Result<()> {
    writeln!(out, "[")?;
    let mut first = true;
    for batch in batches {
        let columns: Vec<Vec<Value>> = batch.columns().iter().map(json_values).collect::<Result<_, _>>()?;
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

/// A column's values as JSON; KQL's `dynamic` columns (JSON text) as the JSON they hold.
fn json_values(column: &datafusion::arrow::array::ArrayRef) -> anyhow::Result<Vec<Value>> {
    let values = json::values(column)?;
    if !sleuth_kql::is_dynamic(column.data_type()) {
        return Ok(values);
    }
    Ok(values
        .into_iter()
        .map(|v| match v {
            Value::String(text) => serde_json::from_str(&text).unwrap_or(Value::String(text)),
            other => other,
        })
        .collect())
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
