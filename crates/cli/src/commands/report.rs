use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use serde_json::Value;

use sleuth_investigate::Report;

use super::investigate::Format;

/// Render a saved investigation report (`sleuth investigate --format json`) as Markdown, HTML
/// or an incident report, or re-print it as JSON. Log-derived text is escaped for the target
/// format.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The report's JSON file.
    report: PathBuf,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = Format::Md)]
    format: Format,
    /// Write here instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
}

pub fn run(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let name = args.report.display();
    let text = std::fs::read_to_string(&args.report).with_context(|| format!("reading {name}"))?;
    let report: Value = serde_json::from_str(&text).with_context(|| format!("{name} is not JSON"))?;
    match report.get("schema_version").and_then(Value::as_u64) {
        Some(v) if v == u64::from(sleuth_investigate::SCHEMA_VERSION) => {}
        Some(v) => bail!(
            "{name} has report schema version {v}; this sleuth reads version {} (run sleuth investigate again to write it)",
            sleuth_investigate::SCHEMA_VERSION
        ),
        None => bail!("{name} is not an investigation report (no schema_version)"),
    }
    if report.get("questions").and_then(Value::as_array).is_none() {
        bail!("{name} is not an investigation report (no questions)");
    }
    // Read as the typed report: a saved report that lost or mangled a field is refused, with
    // the field named, rather than rendered with holes.
    let report: Report =
        serde_json::from_value(report).with_context(|| format!("{name} is not a whole investigation report"))?;
    let out = args.format.render(&serde_json::to_value(&report)?)?;
    match &args.output {
        Some(path) => std::fs::write(path, out).with_context(|| format!("writing {}", path.display()))?,
        None => std::io::stdout().lock().write_all(out.as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}
