use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use clap::Args;
use sleuth_demo::{DemoConfig, Format};

/// Write a realistic demo tenant export into DIR.
///
/// A few hundred users over a month of working days, in mixed export dialects, with the
/// attack stories of the seed documents and their benign look-alikes. `DIR/manifest.json`
/// lists every story with its user, time, IPs and the verdict an analyst would reach.
/// The same seed always gives the same files.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Folder to write into (created if missing).
    dir: PathBuf,
    /// Random seed: the same seed gives byte-identical files.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Number of users (at least 60).
    #[arg(long, default_value_t = 240)]
    users: usize,
    /// Number of days of activity (at least 7).
    #[arg(long, default_value_t = 30)]
    days: i64,
    /// The last day of activity ends at midnight UTC of this date.
    #[arg(long, default_value = "2026-03-24")]
    end: NaiveDate,
    /// Replace an earlier demo tenant in DIR (other files in DIR are left alone).
    #[arg(long)]
    force: bool,
    /// Export dialects: mixed (as analysts receive them), graph, azure-monitor, log-analytics (portal
    /// CSV) or log-analytics-query (query API responses).
    #[arg(long, default_value = "mixed", value_parser = parse_format)]
    format: Format,
}

fn parse_format(text: &str) -> Result<Format, String> {
    Format::parse(text).ok_or_else(|| {
        format!("{text:?} is not one of mixed, graph, azure-monitor, log-analytics, log-analytics-query")
    })
}

/// What the demo writes into DIR.
const OUTPUTS: [&str; 6] = ["signins", "audits", "risk", "ual", "messagetrace", "manifest.json"];

/// Refuses to mix a new tenant with files already in DIR, unless asked to replace a demo.
fn prepare(dir: &Path, force: bool) -> anyhow::Result<()> {
    let occupied = std::fs::read_dir(dir).map(|mut d| d.next().is_some()).unwrap_or(false);
    if occupied && !force {
        anyhow::bail!(
            "{} is not empty; choose a new folder, or pass --force to replace a demo tenant written there",
            dir.display()
        );
    }
    for name in OUTPUTS {
        let p = dir.join(name);
        if p.is_dir() {
            std::fs::remove_dir_all(&p).with_context(|| format!("removing {}", p.display()))?;
        } else if p.exists() {
            std::fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))?;
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
}

pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let end: DateTime<Utc> = args.end.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc();
    let config = DemoConfig { seed: args.seed, users: args.users, days: args.days, end, format: args.format };
    prepare(&args.dir, args.force)?;
    let manifest = sleuth_demo::generate(&config, &args.dir)?;
    let total: u64 = manifest.records.values().sum();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "Wrote the demo tenant '{}' to {}: {} users, {} days ({} .. {}), {total} records.",
        manifest.tenant,
        args.dir.display(),
        manifest.users,
        manifest.days,
        manifest.start,
        manifest.end
    )?;
    for (table, n) in &manifest.records {
        writeln!(out, "  {table:<18} {n:>10}")?;
    }
    writeln!(
        out,
        "Stories ({} attacks, {} benign look-alikes) are listed in {}.",
        manifest.stories.iter().filter(|s| s.kind == "attack").count(),
        manifest.stories.iter().filter(|s| s.kind == "benign").count(),
        args.dir.join("manifest.json").display()
    )?;
    Ok(ExitCode::SUCCESS)
}
