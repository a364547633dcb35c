use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};
use sleuth_detect::hunt::stamp;
use sleuth_detect::{Filter, Report, Severity, kept};
use sleuth_store::Store;

use super::rule_source::RuleSource;
use sleuth_render::hunt as render;
use sleuth_render::table;

/// Run the detection rules over a store and print ranked incidents: alerts grouped per user
/// (and per attacking address for attacks on many users), each with rule, severity, score,
/// MITRE techniques, time range, addresses, and the ids of the records behind it.
///
/// Exit status: 0 when nothing at or above --fail-on was found (or --fail-on is not given),
/// 1 when something was, 2 on errors (including a rule that failed to run).
///
/// The JSON output (--format json) is versioned by its `schema_version` field; see
/// docs/hunt-json.md.
///
/// Every rule runs each time; what they found is kept in the store's _sleuth/hunts/ for
/// `sleuth investigate` and `sleuth serve`, which read it back while the store, the rules and
/// the databases are unchanged (docs/investigation.md).
#[derive(Debug, Args)]
pub struct HuntArgs {
    /// The store folder.
    #[arg(long, short)]
    store: PathBuf,
    /// Only alerts whose evidence ends at or after this time (RFC 3339 or a date).
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Only alerts whose evidence starts at or before this time.
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    #[command(flatten)]
    source: RuleSource,
    /// Leave out alerts below this severity (low shows the benign-looking ones too; the
    /// investigation of an incident looks at everything).
    #[arg(long, value_enum, default_value_t = Level::Medium)]
    min_severity: Level,
    /// Exit with status 1 when an incident at or above this severity is found.
    #[arg(long, value_enum)]
    fail_on: Option<Level>,
    /// Output format: table for people, json (versioned) or csv (one row per alert) for tools.
    #[arg(long, short, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Run on the Ballista cluster whose scheduler is at this address (`sleuth cluster`)
    /// instead of in this process. The executors must see the store at the same path.
    #[arg(long, value_name = "df://HOST:PORT")]
    cluster: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Level {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Level {
    fn severity(self) -> Severity {
        match self {
            Level::Informational => Severity::Informational,
            Level::Low => Severity::Low,
            Level::Medium => Severity::Medium,
            Level::High => Severity::High,
            Level::Critical => Severity::Critical,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Table,
    Json,
    Csv,
}

pub fn parse_time(text: &str, flag: &str) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    let date = || {
        let day = chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()?;
        Some(day.and_time(chrono::NaiveTime::MIN).and_utc())
    };
    sleuth_ingest::time::parse(text)
        .or_else(date)
        .with_context(|| format!("{flag} {text:?} is not a time (use RFC 3339 or YYYY-MM-DD)"))
}

pub fn run(args: HuntArgs) -> anyhow::Result<ExitCode> {
    let (catalog, sigma, _) = args.source.load()?;
    if !sigma.is_empty() {
        let refused = sigma.iter().filter(|o| o.result.is_err()).count();
        let compiled = sigma.len() - refused;
        let not = if refused == 0 {
            String::new()
        } else {
            format!(", {refused} did not and are not run (`sleuth rules import DIR` says why)")
        };
        eprintln!("note: {compiled} Sigma rules compiled{not}");
    }
    let filter = Filter {
        since: args.since.as_deref().map(|t| parse_time(t, "--since")).transpose()?,
        until: args.until.as_deref().map(|t| parse_time(t, "--until")).transpose()?,
        min_severity: args.min_severity.severity(),
    };
    let store = Store::open(&args.store)?;
    let report = super::runtime()?.block_on(async {
        let ctx = super::session(&store, args.cluster.as_deref()).await?;
        anyhow::Ok(kept::renew(&store, &ctx, &catalog).await.report(&catalog, &filter))
    })?;
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?,
        Format::Table => write_table(&report, &mut out)?,
        Format::Csv => write_csv(&report, &mut out)?,
    }
    out.flush()?;
    for failure in &report.failures {
        eprintln!("error: rule {} failed: {}", failure.rule, failure.error);
    }
    if !report.failures.is_empty() {
        return Ok(ExitCode::from(2));
    }
    let fail = args.fail_on.is_some_and(|level| report.incidents.iter().any(|i| i.severity >= level.severity()));
    Ok(if fail { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn write_table(report: &Report, out: &mut impl Write) -> anyhow::Result<()> {
    let shown: Vec<render::Incident> = report
        .incidents
        .iter()
        .map(|incident| render::Incident {
            kind: incident.kind,
            key: &incident.key,
            severity: incident.severity.name(),
            score: incident.score,
            first_seen: stamp(incident.first_seen),
            last_seen: stamp(incident.last_seen),
            rules: &incident.rules,
            mitre: &incident.mitre,
            ips: &incident.ips,
            alerts: incident
                .alerts
                .iter()
                .map(|alert| render::Alert {
                    severity: alert.severity.name(),
                    score: alert.score,
                    rule: &alert.rule,
                    first_seen: stamp(alert.first_seen),
                    explanation: &alert.explanation,
                })
                .collect(),
        })
        .collect();
    render::incidents(&shown, report.rules.len(), out)?;
    Ok(())
}

fn write_csv(report: &Report, out: &mut impl Write) -> anyhow::Result<()> {
    let mut csv = table::Csv::new(
        out,
        &[
            "rank",
            "incident",
            "incident_key",
            "alert",
            "rule",
            "severity",
            "score",
            "user",
            "ip",
            "first_seen",
            "last_seen",
            "mitre",
            "explanation",
            "record_ids",
        ],
    )?;
    for (rank, incident) in report.incidents.iter().enumerate() {
        for a in &incident.alerts {
            let cells = [
                (rank + 1).to_string(),
                incident.id.clone(),
                incident.key.clone(),
                a.id.clone(),
                a.rule.clone(),
                a.severity.name().to_string(),
                format!("{:.1}", a.score),
                a.user.clone().unwrap_or_default(),
                a.ip.clone().unwrap_or_default(),
                stamp(a.first_seen),
                stamp(a.last_seen),
                a.mitre.join(" "),
                a.explanation.clone(),
                a.record_ids.join(" "),
            ];
            csv.row(&cells)?;
        }
    }
    csv.finish()?;
    Ok(())
}
