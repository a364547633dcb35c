use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use clap::builder::TypedValueParser as _;
use indicatif::{ProgressBar, ProgressStyle};
use sleuth_ingest::{FileReport, FileStatus, Limits, Table};
use sleuth_store::{IngestSummary, Loaded, Step, Store, StoreError};

use sleuth_render::text::visible;

/// Read exported logs into a store.
///
/// Every file under the given paths is read (folders recursively; gzip, zip, UTF-8 with or
/// without BOM and UTF-16 are handled). What each record is and which dialect it is written
/// in is recognised from its content: Microsoft Graph pages (and the Graph PowerShell SDK's
/// objects), Azure Monitor diagnostic exports, Log Analytics CSV, JSON and query API
/// responses, Entra portal CSV, Purview audit CSV, JSON and Graph records, message trace, the
/// Azure Activity log; docs/dialects.md lists them all. Records already in the store (same record id) are
/// skipped, so the same or overlapping exports can be ingested again safely. The ingest is
/// atomic: if it is interrupted, the store keeps its previous state.
///
/// Exit status: 0 when every recognised record was ingested; 1 when records or files could not
/// be read (they are listed with file, line or record number and the reason); 2 on errors.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Files or folders to read.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// The store folder (created if missing).
    #[arg(long, short)]
    store: PathBuf,
    /// Only print the summary table, not each file.
    #[arg(long, short)]
    quiet: bool,
    #[command(flatten)]
    limits: LimitArgs,
}

/// Limits on what one record or file may cost (docs/security.md). What passes a limit is
/// reported with its file and position, and reading goes on with the next record or file.
#[derive(Debug, Args)]
pub struct LimitArgs {
    /// The largest record (a JSON line or element, a CSV row), in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_record_bytes,
          value_parser = clap::value_parser!(u64).range(1024..=(1 << 32)).map(|v| v as usize))]
    max_record_bytes: usize,
    /// The largest single value in a record, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_field_bytes,
          value_parser = clap::value_parser!(u64).range(64..=(1 << 32)).map(|v| v as usize))]
    max_field_bytes: usize,
    /// The most one file or archive member may decompress to, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_member_bytes,
          value_parser = clap::value_parser!(u64).range(1024..))]
    max_member_bytes: u64,
    /// The most compressed data may expand (decompressed bytes per compressed byte), past the
    /// first 64 MiB.
    #[arg(long, value_name = "RATIO", default_value_t = Limits::default().max_inflate_ratio,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_inflate_ratio: u64,
}

impl LimitArgs {
    fn limits(&self) -> Limits {
        Limits {
            max_record_bytes: self.max_record_bytes,
            max_field_bytes: self.max_field_bytes,
            max_member_bytes: self.max_member_bytes,
            max_inflate_ratio: self.max_inflate_ratio,
        }
    }
}

pub fn run(args: IngestArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let files = sleuth_ingest::files(&args.paths).context("listing the input files")?;
    let bytes: u64 = files.iter().filter_map(|f| f.metadata().ok()).map(|m| m.len()).sum();
    let mut store = Store::open_or_create(&args.store)?;
    let ingest = store.begin_ingest()?;
    let bar = ProgressBar::new(bytes).with_style(
        ProgressStyle::with_template("{spinner} {bytes}/{total_bytes} {wide_bar} {eta} {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let loaded = sleuth_store::load(&files, &args.limits.limits(), ingest, &mut |step| match step {
        Step::Reading(file) => {
            bar.set_message(file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())
        }
        Step::Read(_, bytes) => bar.inc(bytes),
    })
    .map_err(|e| write_error(e, &bar))?;
    let Loaded { reports, summary } = loaded;
    bar.finish_and_clear();
    let mut out = std::io::stdout().lock();
    print_summary(&mut out, &args, &files, &reports, &summary, started.elapsed().as_secs_f64())?;
    suggest_compaction(&mut out, &store, &args)?;
    let troubled = reports.iter().any(|r| {
        matches!(r.status(), FileStatus::Partial | FileStatus::Failed | FileStatus::Unreadable | FileStatus::Empty)
    });
    let nothing = reports.iter().all(|r| r.total() == 0);
    Ok(if troubled || nothing { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// Rows out of their table's sort order from which `sleuth compact` is suggested: below it,
/// reading a whole table takes a fraction of a second anyway.
const SUGGEST_COMPACT_ROWS: u64 = 1 << 20;

fn suggest_compaction(out: &mut impl Write, store: &Store, args: &IngestArgs) -> std::io::Result<()> {
    for layout in sleuth_store::LAYOUTS.iter().filter(|l| !l.derived()) {
        let (table, key) = (layout.name, layout.key());
        let files = store.manifest().files(table);
        let unsorted: u64 = files.iter().filter(|f| f.sorted_by.as_deref() != Some(key)).map(|f| f.rows).sum();
        if unsorted >= SUGGEST_COMPACT_ROWS {
            writeln!(
                out,
                "{unsorted} rows of {table} are not in {key} order: `sleuth compact --store {}` lets an \
                 investigation read only its account's rows.",
                visible(&args.store.display().to_string())
            )?;
        }
    }
    Ok(())
}

fn write_error(e: StoreError, bar: &ProgressBar) -> anyhow::Error {
    bar.abandon();
    anyhow::Error::new(e).context("writing to the store; nothing was committed")
}

fn print_summary(
    out: &mut impl Write,
    args: &IngestArgs,
    files: &[PathBuf],
    reports: &[FileReport],
    summary: &IngestSummary,
    seconds: f64,
) -> std::io::Result<()> {
    let read: u64 = reports.iter().map(FileReport::total).sum();
    let added: u64 = summary.added.values().sum();
    writeln!(
        out,
        "Read {read} records from {} files; {added} new records committed to {} (generation {}) in {seconds:.1} s.",
        files.len(),
        args.store.display(),
        summary.generation
    )?;
    writeln!(out)?;
    writeln!(out, "{:<26} {:>12} {:>12}", "table", "added", "duplicates")?;
    for table in Table::ALL {
        let a = summary.added.get(&table).copied().unwrap_or(0);
        let d = summary.duplicates.get(&table).copied().unwrap_or(0);
        writeln!(out, "{:<26} {a:>12} {d:>12}", table.name())?;
    }
    writeln!(out)?;
    let mut shown = 0;
    for r in reports {
        let status = r.status();
        if args.quiet && status == FileStatus::Ok && r.without_time == 0 {
            continue;
        }
        shown += 1;
        let label = match status {
            FileStatus::Ok => "ok",
            FileStatus::Partial => "PARTIAL",
            FileStatus::Unrecognised => "unrecognised",
            FileStatus::Failed => "FAILED",
            FileStatus::Empty => "EMPTY",
            FileStatus::Unreadable => "UNREADABLE",
        };
        let counts: Vec<String> = r.records.iter().map(|(t, n)| format!("{n} {t}")).collect();
        let mut detail = counts.join(", ");
        if r.invalid > 0 {
            detail.push_str(&format!("{}{} invalid", if detail.is_empty() { "" } else { ", " }, r.invalid));
        }
        if r.unrecognised > 0 {
            detail.push_str(&format!("{}{} unrecognised", if detail.is_empty() { "" } else { ", " }, r.unrecognised));
        }
        if status == FileStatus::Empty {
            detail = "no records at all: is this the export you meant?".into();
        }
        if r.empty_answer {
            detail = "an answer of no records (the query matched nothing)".into();
        }
        if let Some(reason) = &r.not_an_export {
            detail = reason.clone();
        }
        if !r.encoding.is_empty() {
            detail.push_str(&format!(" [{}]", r.encoding.join(", ")));
        }
        writeln!(out, "{label:<13} {}  {}", visible(&r.name), visible(&detail))?;
        if let Some(e) = &r.error {
            writeln!(out, "{:<13}   {}", "", visible(e))?;
        }
        for p in &r.problems {
            writeln!(out, "{:<13}   {}: {}", "", p.position, visible(&p.reason))?;
        }
        let hidden = (r.invalid + r.unrecognised.min(1) + r.without_time.min(1)) as usize;
        if hidden > r.problems.len() {
            writeln!(out, "{:<13}   ... and {} more problems", "", hidden - r.problems.len())?;
        }
        if r.without_time > 0 {
            writeln!(out, "{:<13}   {} records kept without a timestamp", "", r.without_time)?;
        }
    }
    if args.quiet && shown < reports.len() {
        writeln!(out, "{} files read completely.", reports.len() - shown)?;
    }
    Ok(())
}
