use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use sleuth_ingest::{FileReport, FileStatus, Table};
use sleuth_store::{IngestSummary, Store, StoreError};

use crate::output::terminal_safe;

/// Read exported logs into a store.
///
/// Every file under the given paths is read (folders recursively; gzip, zip, UTF-8 with or
/// without BOM and UTF-16 are handled). What each record is and which dialect it is written
/// in is recognised from its content. Records already in the store (same record id) are
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
}

pub fn run(args: IngestArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let files = sleuth_ingest::files(&args.paths).context("listing the input files")?;
    let bytes: u64 = files.iter().filter_map(|f| f.metadata().ok()).map(|m| m.len()).sum();
    let mut store = Store::open_or_create(&args.store)?;
    let mut ingest = store.begin_ingest()?;

    let bar = ProgressBar::new(bytes).with_style(
        ProgressStyle::with_template("{spinner} {bytes}/{total_bytes} {wide_bar} {eta} {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let mut reports: Vec<FileReport> = Vec::new();
    let mut failure: Option<StoreError> = None;
    for file in &files {
        bar.set_message(file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
        let mut pushed = 0u64;
        let file_reports = sleuth_ingest::read_path(file, &mut |record| {
            if failure.is_none() {
                if let Err(e) = ingest.push(&record) {
                    failure = Some(e);
                }
                pushed += 1;
                if pushed % 50_000 == 0 {
                    bar.tick();
                }
            }
        });
        if let Some(e) = failure.take() {
            bar.abandon();
            return Err(anyhow::Error::new(e).context(format!("writing records of {} to the store; nothing was committed", file.display())));
        }
        reports.extend(file_reports);
        bar.inc(file.metadata().map(|m| m.len()).unwrap_or(0));
    }
    bar.finish_and_clear();
    let summary = ingest.commit()?;
    print_summary(&args, &files, &reports, &summary, started.elapsed().as_secs_f64());
    let troubled = reports.iter().any(|r| {
        matches!(r.status(), FileStatus::Partial | FileStatus::Failed | FileStatus::Unreadable | FileStatus::Empty)
    });
    let nothing = reports.iter().all(|r| r.total() == 0);
    Ok(if troubled || nothing { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn print_summary(args: &IngestArgs, files: &[PathBuf], reports: &[FileReport], summary: &IngestSummary, seconds: f64) {
    let read: u64 = reports.iter().map(FileReport::total).sum();
    let added: u64 = summary.added.values().sum();
    println!(
        "Read {read} records from {} files; {added} new records committed to {} (generation {}) in {seconds:.1} s.",
        files.len(),
        args.store.display(),
        summary.generation
    );
    println!();
    println!("{:<18} {:>12} {:>12}", "table", "added", "duplicates");
    for table in Table::ALL {
        let a = summary.added.get(&table).copied().unwrap_or(0);
        let d = summary.duplicates.get(&table).copied().unwrap_or(0);
        println!("{:<18} {a:>12} {d:>12}", table.name());
    }
    println!();
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
        if let Some(reason) = &r.not_an_export {
            detail = reason.clone();
        }
        if !r.encoding.is_empty() {
            detail.push_str(&format!(" [{}]", r.encoding.join(", ")));
        }
        println!("{label:<13} {}  {}", terminal_safe(&r.name), terminal_safe(&detail));
        if let Some(e) = &r.error {
            println!("{:<13}   {}", "", terminal_safe(e));
        }
        for p in &r.problems {
            println!("{:<13}   {}: {}", "", p.position, terminal_safe(&p.reason));
        }
        let hidden = (r.invalid + r.unrecognised.min(1) + r.without_time.min(1)) as usize;
        if hidden > r.problems.len() {
            println!("{:<13}   ... and {} more problems", "", hidden - r.problems.len());
        }
        if r.without_time > 0 {
            println!("{:<13}   {} records kept without a timestamp", "", r.without_time);
        }
    }
    if args.quiet && shown < reports.len() {
        println!("{} files read completely.", reports.len() - shown);
    }
}
