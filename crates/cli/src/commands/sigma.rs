//! `sleuth rules import` and `sleuth rules lint`: Sigma rules, and the compile step that
//! `sleuth feed import` (feed.rs) shares.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use serde_json::json;
use sleuth_detect::Outcome;
use sleuth_detect::sigma;

use super::rule_source::{ListFormat, RuleSource};
use sleuth_render::text::visible;

/// Compile Sigma rules (files, or folders searched for *.yml and *.yaml) for this store and
/// report, for each, whether it compiled, and why not: a log source the store does not hold,
/// a field the mapping does not know, a feature not supported, a placeholder without values.
///
/// With --into, the files whose rules compiled are copied (unchanged, attribution and licence
/// kept) into a rules folder, for `sleuth hunt --rules DIR`. A hunt given the Sigma folder
/// directly runs the same rules.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Sigma YAML files or folders.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Copy the files whose rules compiled into this folder (created if needed).
    #[arg(long, value_name = "DIR")]
    into: Option<PathBuf>,
    /// table for people, json for tools (one object per Sigma document).
    #[arg(long, short, value_enum, default_value_t = ListFormat::Table)]
    format: ListFormat,
    #[command(flatten)]
    source: RuleSource,
}

pub fn run_import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let files = read_sigma(&args.paths)?;
    let outcomes = compile(&args.source, &files)?;
    let mut out = std::io::stdout().lock();
    match args.format {
        ListFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&outcomes_json(&outcomes))?)?,
        ListFormat::Table => write_outcomes(&outcomes, &mut out)?,
    }
    if let Some(into) = &args.into {
        let copied = copy_compiled(&files, &outcomes, into)?;
        eprintln!("{copied} files copied into {}; hunt with --rules {}", into.display(), into.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Check Sigma rules against the specification (the rsigma linter) and against this store
/// (does each compile, and if not why). Exit status 1 when a rule has an error.
#[derive(Debug, Args)]
pub struct LintArgs {
    /// Sigma YAML files or folders.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    source: RuleSource,
}

pub fn run_lint(args: LintArgs) -> anyhow::Result<ExitCode> {
    let files = read_sigma(&args.paths)?;
    let outcomes = compile(&args.source, &files)?;
    let mut out = std::io::stdout().lock();
    let mut errors = 0;
    let mut warnings = 0;
    for (file, text) in &files {
        for finding in sigma::lint(text) {
            match finding.severity.as_str() {
                "error" => errors += 1,
                "warning" => warnings += 1,
                _ => {}
            }
            writeln!(
                out,
                "{}: {}[{}]: {} (at {})",
                visible(file),
                finding.severity,
                finding.rule,
                visible(&finding.message),
                visible(&finding.path)
            )?;
        }
        for outcome in outcomes.iter().filter(|o| &o.file == file) {
            if let Err(reason) = &outcome.result {
                let severity = if matches!(reason, sigma::Unsupported::Invalid(_)) { "error" } else { "warning" };
                if severity == "error" {
                    errors += 1;
                } else {
                    warnings += 1;
                }
                writeln!(
                    out,
                    "{}: {severity}[sleuth]: {:?} does not compile here: {}",
                    visible(file),
                    visible(&outcome.title),
                    visible(&reason.to_string())
                )?;
            }
        }
    }
    writeln!(out, "{} files: {errors} errors, {warnings} warnings.", files.len())?;
    Ok(if errors > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// Sigma files compiled beside the catalog the options configure (so an id already taken
/// is reported, and the configuration's placeholders apply).
pub(super) fn compile(source: &RuleSource, files: &[(String, String)]) -> anyhow::Result<Vec<Outcome>> {
    let (mut catalog, _, placeholders) = source.load()?;
    Ok(catalog.add_sigma_files(files, &placeholders))
}

/// The Sigma files of the paths: files as given, folders searched for *.yml and *.yaml; in
/// path order.
fn read_sigma(paths: &[PathBuf]) -> anyhow::Result<Vec<(String, String)>> {
    let mut found = Vec::new();
    for path in paths {
        let inside = sleuth_detect::catalog::files_under(path, &["yml", "yaml"])
            .with_context(|| format!("reading {}", path.display()))?;
        found.extend(inside);
    }
    found
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
            Ok((p.display().to_string(), text))
        })
        .collect()
}

fn status(outcome: &Outcome) -> &'static str {
    match (&outcome.result, outcome.only_correlated) {
        (Ok(_), false) => "compiled",
        (Ok(_), true) => "correlated",
        (Err(sigma::Unsupported::Invalid(_)), _) => "invalid",
        (Err(_), _) => "unsupported",
    }
}

fn outcomes_json(outcomes: &[Outcome]) -> serde_json::Value {
    let rows: Vec<serde_json::Value> = outcomes
        .iter()
        .map(|o| {
            let rule = o.result.as_ref().ok();
            json!({
                "file": o.file,
                "title": o.title,
                "logsource": o.logsource,
                "status": status(o),
                "id": rule.map(|r| r.id.clone()),
                "severity": rule.map(|r| r.severity.name()),
                "reason": o.result.as_ref().err().map(ToString::to_string),
                "class": o.result.as_ref().err().map(|e| e.class()),
            })
        })
        .collect();
    serde_json::Value::Array(rows)
}

pub(super) fn write_outcomes(outcomes: &[Outcome], out: &mut impl Write) -> anyhow::Result<()> {
    let mut classes: BTreeMap<String, usize> = BTreeMap::new();
    for o in outcomes {
        let (id, severity) = match &o.result {
            Ok(rule) => (rule.id.as_str(), rule.severity.name()),
            Err(_) => ("", "-"),
        };
        writeln!(
            out,
            "{:<11} {:<13} {:<24} {:<36} {}",
            status(o),
            severity,
            visible(&o.logsource),
            id,
            visible(&o.title)
        )?;
        if let Err(reason) = &o.result {
            writeln!(out, "{:<11} {}  ({})", "", visible(&reason.to_string()), visible(&o.file))?;
            *classes.entry(reason.class()).or_default() += 1;
        }
    }
    let compiled = outcomes.iter().filter(|o| o.result.is_ok()).count();
    let correlated = outcomes.iter().filter(|o| o.result.is_ok() && o.only_correlated).count();
    writeln!(
        out,
        "\n{} Sigma documents: {compiled} compiled ({correlated} run only in correlations), {} not:",
        outcomes.len(),
        outcomes.len() - compiled
    )?;
    for (class, n) in classes {
        writeln!(out, "  {n:>4}  {}", visible(&class))?;
    }
    Ok(())
}

/// Copies the files with a compiled rule into `into`; returns how many.
fn copy_compiled(files: &[(String, String)], outcomes: &[Outcome], into: &Path) -> anyhow::Result<usize> {
    std::fs::create_dir_all(into).with_context(|| format!("creating {}", into.display()))?;
    let mut copied = 0;
    for (file, text) in files {
        if !outcomes.iter().any(|o| &o.file == file && o.result.is_ok()) {
            continue;
        }
        let name = Path::new(file).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let target = into.join(&name);
        if target.exists() && std::fs::read_to_string(&target).ok().as_deref() != Some(text.as_str()) {
            anyhow::bail!("{} exists with other content; {file} not copied", target.display());
        }
        std::fs::write(&target, text).with_context(|| format!("writing {}", target.display()))?;
        copied += 1;
    }
    Ok(copied)
}
