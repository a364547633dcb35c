use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::Args;
use sleuth_ingest::{Kind, Table};
use sleuth_store::Store;

/// Describe the tables: every column with its meaning and the source fields it is read from,
/// and, with --store, each table's row count and time range.
#[derive(Debug, Args)]
pub struct TablesArgs {
    /// The store folder; without it, only the schema is described.
    #[arg(long, short)]
    store: Option<PathBuf>,
    /// Describe only this table.
    #[arg(long, short)]
    table: Option<String>,
}

pub fn run(args: TablesArgs) -> anyhow::Result<ExitCode> {
    let store = args.store.as_deref().map(Store::open).transpose()?;
    let mut out = std::io::stdout().lock();
    let tables: Vec<Table> = match &args.table {
        Some(name) => vec![Table::from_name(name).ok_or_else(|| {
            anyhow::anyhow!("no table {name:?}; the tables are {}", Table::ALL.map(|t| t.name()).join(", "))
        })?],
        None => Table::ALL.to_vec(),
    };
    for table in tables {
        writeln!(out, "{} — {}", table.name(), table.description())?;
        if let Some(store) = &store {
            let files = store.manifest().files(table.name());
            let rows: u64 = files.iter().map(|f| f.rows).sum();
            let min = files.iter().filter_map(|f| f.min_time).min();
            let max = files.iter().filter_map(|f| f.max_time).max();
            let range = match (
                min.and_then(DateTime::<Utc>::from_timestamp_micros),
                max.and_then(DateTime::<Utc>::from_timestamp_micros),
            ) {
                (Some(a), Some(b)) => {
                    format!("{} .. {} UTC", a.format("%Y-%m-%d %H:%M:%S"), b.format("%Y-%m-%d %H:%M:%S"))
                }
                _ => "no timestamps".into(),
            };
            match rows {
                0 => writeln!(out, "  empty: none of the exports ingested hold this log")?,
                _ => {
                    let order = match files[0].sorted_by.as_deref() {
                        Some(key) if files.iter().all(|f| f.sorted_by.as_deref() == Some(key)) => {
                            format!(", in {key} order")
                        }
                        _ => String::new(),
                    };
                    writeln!(out, "  {rows} rows in {} files{order}; {range}", files.len())?
                }
            }
        }
        for c in table.columns() {
            let kind = match c.kind {
                Kind::Text => "text",
                Kind::Int => "int",
                Kind::Float => "float",
                Kind::Bool => "bool",
                Kind::Time => "timestamp",
                Kind::List => "list<text>",
            };
            writeln!(out, "  {:<28} {:<10} {}", c.name, kind, c.meaning)?;
            writeln!(out, "  {:<28} {:<10} from: {}", "", "", c.sources)?;
        }
        writeln!(out)?;
    }
    Ok(ExitCode::SUCCESS)
}
