//! `sleuth feed import`: the threat feeds that carry Sigma rules (JSON Feed 1.1), listed and
//! their rules compiled with sigma.rs's step.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use sleuth_detect::sigma::{self, feed};
use sleuth_render::text::visible;

use super::rule_source::RuleSource;
use super::sigma::{compile, write_outcomes};

/// Threat feeds.
#[derive(Debug, Args)]
pub struct FeedArgs {
    #[command(subcommand)]
    action: FeedAction,
}

#[derive(Debug, Subcommand)]
enum FeedAction {
    Import(FeedImportArgs),
}

/// Read a JSON Feed 1.1 file of advisories (as seed 002's): list each advisory, and compile
/// the Sigma rules embedded in the items (YAML blocks of their content) or attached to them
/// as local files. Sleuth works offline: an attachment on the web is listed with its
/// address, to download and `sleuth rules import`.
#[derive(Debug, Args)]
pub struct FeedImportArgs {
    /// The feed file.
    feed: PathBuf,
    /// Write the rules that compiled into this folder (one file each), for
    /// `sleuth hunt --rules DIR`.
    #[arg(long, value_name = "DIR")]
    into: Option<PathBuf>,
    #[command(flatten)]
    source: RuleSource,
}

pub fn run_feed(args: FeedArgs) -> anyhow::Result<ExitCode> {
    let FeedAction::Import(args) = args.action;
    let name = args.feed.display().to_string();
    let text = std::fs::read_to_string(&args.feed).with_context(|| format!("reading {name}"))?;
    let parsed = feed::parse(&text).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    let base = args.feed.parent().unwrap_or(Path::new("."));
    let mut out = std::io::stdout().lock();
    writeln!(out, "{} — {} advisories", visible(&parsed.title), parsed.items.len())?;
    let mut files = Vec::new();
    for (i, item) in parsed.items.iter().enumerate() {
        let title = item.title.clone().unwrap_or_else(|| format!("item {}", i + 1));
        let date = item.date_published.as_deref().and_then(|d| d.get(..10)).unwrap_or("          ");
        writeln!(out, "\n{date}  {}", visible(&title))?;
        if let Some(url) = &item.url {
            writeln!(out, "            {}", visible(url))?;
        }
        if let Some(summary) = &item.summary {
            writeln!(out, "            {}", visible(&feed::decode_entities(summary)))?;
        }
        let origin = |n: usize| format!("{name} item {} rule {n}", i + 1);
        let mut found = 0;
        for rule in item.embedded_rules() {
            found += 1;
            files.push((origin(found), rule));
        }
        for attachment in item.linked_rules() {
            let url = &attachment.url;
            if url.contains("://") && !url.starts_with("file://") {
                writeln!(out, "            linked rule, not fetched (offline): {}", visible(url))?;
                continue;
            }
            let path = base.join(url.trim_start_matches("file://"));
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    found += 1;
                    files.push((origin(found), text));
                }
                // The item's other rules, and the other items, still count.
                Err(e) => {
                    let path = visible(&path.display().to_string());
                    writeln!(out, "            linked rule unreadable: {path}: {e}")?;
                }
            }
        }
        if found == 0 {
            writeln!(out, "            no Sigma rule embedded or attached")?;
        } else {
            writeln!(out, "            {found} Sigma rules")?;
        }
    }
    let outcomes = compile(&args.source, &files)?;
    if !outcomes.is_empty() {
        writeln!(out)?;
        write_outcomes(&outcomes, &mut out)?;
    }
    if let Some(into) = &args.into {
        std::fs::create_dir_all(into).with_context(|| format!("creating {}", into.display()))?;
        let mut written = 0;
        for (origin, text) in &files {
            let compiled = outcomes.iter().any(|o| &o.file == origin && o.result.is_ok());
            if !compiled {
                continue;
            }
            let file_name = format!("{}.yml", sigma::slug(origin));
            let header = format!("# From {}: {}\n", visible(&parsed.title), visible(origin));
            let target = into.join(file_name);
            std::fs::write(&target, format!("{header}{text}"))
                .with_context(|| format!("writing {}", target.display()))?;
            written += 1;
        }
        eprintln!("{written} rules written into {}", into.display());
    }
    Ok(ExitCode::SUCCESS)
}
