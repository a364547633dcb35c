use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use sleuth_store::{Budget, CompactStep, Store};

/// Rewrite the sign-ins in account order, so that an investigation reads one account's rows
/// instead of every file.
///
/// Ingest keeps records in the order the exports hold them (by time), so reading one account
/// decodes the whole table. After `sleuth compact`, the table's files hold its rows sorted by
/// user_principal_name, then time, and Parquet's statistics let a query for one account skip
/// almost every row group: on 9.8 M sign-ins, an investigation reads about 128 K rows of
/// sign-ins instead of all of them (docs/performance.md). Run it after a large ingest; records
/// ingested later are in new files, out of that order, until the next compaction (which
/// rewrites the whole table). Nothing else changes: the same queries give the same answers,
/// and the same data the same hunt.
///
/// Memory is bounded by $SLEUTH_MEMORY_LIMIT (an eighth of it per bucket of rows sorted at a
/// time, at most 512 MiB), not by the table. Disk: spill files in STORE/_sleuth/compact (about
/// the table's size), then the new files beside the old until the commit. The compaction is
/// atomic, like an ingest: interrupted, the store keeps its previous state. It holds the
/// store's writer lock: an ingest started meanwhile is refused, as is a compaction during an
/// ingest. The replaced files are deleted after the commit: a workbench on the store reads the
/// new ones from its next request, and a query that was reading the old ones fails and can be
/// rerun.
#[derive(Debug, Args)]
pub struct CompactArgs {
    /// The store folder.
    #[arg(long, short)]
    store: PathBuf,
}

pub fn run(args: CompactArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let mut store = Store::open(&args.store)?;
    let budget = Budget::from_limit(sleuth_store::memory::limit()?);
    let before = sleuth_detect::kept::store_digest(&store);
    let bar = ProgressBar::hidden();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {human_pos}/{human_len} rows {wide_bar} {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let compaction = store
        .compact(budget, &mut |step| match step {
            CompactStep::Table { table, rows } => {
                bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                bar.set_position(0);
                bar.set_length(rows * 2);
                bar.set_message(table.to_string());
            }
            CompactStep::Rows(n) => bar.inc(n),
        })
        .inspect_err(|_| bar.abandon())
        .context("compacting the store; nothing was committed")?;
    bar.finish_and_clear();
    // The records are the same: the hunts kept for them still hold (investigations without
    // --at read them rather than hunting again).
    let rewritten = compaction.tables.iter().any(|t| !t.already);
    let carried = if rewritten { sleuth_detect::kept::carry_over(&before, &store) } else { 0 };
    let mut out = std::io::stdout().lock();
    for t in &compaction.tables {
        if t.already {
            writeln!(out, "{}: {} rows already in {} order; nothing to do.", t.table, t.rows, t.key)?;
        } else if t.source == t.table {
            writeln!(
                out,
                "{}: {} rows rewritten in {} order: {} files into {} (sorted in {} buckets).",
                t.table, t.rows, t.key, t.files_before, t.files_after, t.buckets
            )?;
        } else {
            writeln!(
                out,
                "{}: {} rows of {} written in {} order: {} files (sorted in {} buckets).",
                t.table, t.rows, t.source, t.key, t.files_after, t.buckets
            )?;
        }
    }
    if carried > 0 {
        writeln!(
            out,
            "The kept hunt{} still hold{} for the same records.",
            if carried > 1 { "s" } else { "" },
            if carried > 1 { "" } else { "s" }
        )?;
    }
    writeln!(
        out,
        "Store {} at generation {} ({:.1} s).",
        args.store.display(),
        compaction.generation,
        started.elapsed().as_secs_f64()
    )?;
    Ok(ExitCode::SUCCESS)
}
