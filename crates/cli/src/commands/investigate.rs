use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use sleuth_detect::{Filter, Severity};
use sleuth_investigate::subject::{Ask, builtin_hunt, from_hunt, resolve};
use sleuth_investigate::{Context, Focus, Report, Request, Runbook, Span, SubjectKind, investigate};
use sleuth_store::Store;

use super::hunt::parse_time;

/// Investigate an account the way a Tier-2 analyst would: gather its records and baseline, ask
/// the runbook's questions (pivoting on what each finds), weigh supporting and conflicting
/// evidence, reach a verdict with a confidence, and write the report: timeline, IOCs, key
/// pivots, MITRE techniques, detection opportunities, containment, metrics.
///
/// Verdicts: true_positive, true_positive_blocked, benign_true_positive, false_positive,
/// inconclusive. Without --at or --alert the window is the span of the hunt's most severe
/// alert on the account (medium or above), else the account's most unusual day, found from its
/// records; the baseline always ends where the window starts. The JSON report is versioned (schema_version; schema in
/// crates/investigate/schema/report.schema.json); `sleuth report` renders a saved one.
///
/// Exit status: 0 when the verdict (every verdict, with --all) is benign, false positive or
/// inconclusive, 1 when one is true_positive or true_positive_blocked, 2 on errors.
#[derive(Debug, Args)]
pub struct InvestigateArgs {
    /// The store folder.
    #[arg(long, short)]
    store: PathBuf,
    /// The account (user principal name; case does not matter).
    #[arg(long, short, required_unless_present_any = ["alert", "all", "service_principal"])]
    user: Option<String>,
    /// A workload identity instead of a user: a service principal or managed identity, by
    /// display name, application (client) id or object id. Its sign-ins are weighed against its
    /// own habits (networks, credentials), and the credentials added to it against the habits
    /// of whoever added them.
    #[arg(long, value_name = "NAME_OR_ID", conflicts_with_all = ["user", "all"])]
    service_principal: Option<String>,
    /// The moment of interest (an alert's time), RFC 3339 or a date; the window reaches
    /// --reach-hours either side.
    #[arg(long, value_name = "TIME", conflicts_with = "alert")]
    at: Option<String>,
    /// Start from an alert: an alert or incident id from `sleuth hunt`, or a file exported
    /// from Defender XDR or the Graph security API (security/incidents, security/alerts_v2),
    /// Microsoft Sentinel (an incident with its entities, SecurityAlert rows) or Entra ID
    /// Protection (riskyUsers, riskDetections, and their service-principal forms), as JSON or
    /// JSON lines. Every account and workload identity it names is investigated over its
    /// span; an alert that names only addresses leads to the accounts that signed in from them.
    #[arg(long, value_name = "ID_OR_FILE", conflicts_with = "all")]
    alert: Option<String>,
    /// Investigate every account incident the hunt raises at medium severity or above.
    #[arg(long, conflicts_with_all = ["user", "at"])]
    all: bool,
    /// Analyst context (TOML): known networks, travel notices, triage notes. See
    /// docs/investigation.md.
    #[arg(long, value_name = "FILE")]
    context: Option<PathBuf>,
    /// A folder of extra runbook questions (*.toml); one with a built-in id replaces it. A
    /// response.toml (response-workload.toml) there replaces the escalation criteria and
    /// false-positive scenarios for people (workload identities); see docs/investigation.md.
    #[arg(long, value_name = "DIR")]
    questions: Option<PathBuf>,
    /// Hours either side of the moment of interest that the window covers (0 to 8760).
    #[arg(long, default_value_t = 24, value_name = "HOURS",
          value_parser = clap::value_parser!(i64).range(0..=sleuth_investigate::MAX_REACH_HOURS))]
    reach_hours: i64,
    /// Days before the window that make the account's baseline (0 to 3650).
    #[arg(long, default_value_t = 30, value_name = "DAYS",
          value_parser = clap::value_parser!(i64).range(0..=sleuth_investigate::MAX_BASELINE_DAYS))]
    baseline_days: i64,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = Format::Md)]
    format: Format,
    /// Write the report here instead of standard output (with --all, or an alert that names
    /// several accounts: a folder, one file per account).
    #[arg(long, short, value_name = "PATH")]
    output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The versioned report (crates/investigate/schema/report.schema.json).
    Json,
    /// Markdown for a ticket, laid out like seed 000.
    Md,
    /// One self-contained page: timeline and map drawn, evidence linked to the raw records.
    Html,
    /// An incident report in Markdown, shaped like seed 003.
    Incident,
    /// The timeline as CSV, one row per event (time, kind, actor or owner, what, address,
    /// country, address class, provider, user agent, account, record ids), for Timeline
    /// Explorer or a spreadsheet; text neutralised.
    Csv,
}

impl Format {
    fn extension(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Md => "md",
            Format::Html => "html",
            Format::Incident => "incident.md",
            Format::Csv => "timeline.csv",
        }
    }

    /// The report (as its JSON value) in this format.
    pub fn render(self, report: &serde_json::Value) -> anyhow::Result<String> {
        use sleuth_render::report::{html, incident, markdown, timeline_csv};
        Ok(match self {
            Format::Json => serde_json::to_string_pretty(report)? + "\n",
            Format::Md => markdown::render(report),
            Format::Html => html::render(report),
            Format::Incident => incident::render(report),
            Format::Csv => timeline_csv::render(report),
        })
    }
}

pub fn run(args: InvestigateArgs) -> anyhow::Result<ExitCode> {
    let context = match &args.context {
        Some(path) => Context::load(path)?,
        None => Context::default(),
    };
    let people = Runbook::for_kind(SubjectKind::User, args.questions.as_deref())?;
    let workloads = Runbook::for_kind(SubjectKind::ServicePrincipal, args.questions.as_deref())?;
    let span = Span { baseline_days: args.baseline_days, follow_days: 14, reach_hours: args.reach_hours };
    let store = Store::open(&args.store)?;
    let reports = super::runtime()?.block_on(async {
        let ctx = store.session().await?;
        let subjects = subjects(&store, &ctx, &args).await?;
        let mut reports = Vec::new();
        for (user, focus, kind) in subjects {
            let runbook = match kind {
                SubjectKind::User => &people,
                SubjectKind::ServicePrincipal => &workloads,
            };
            let request = Request { user: &user, kind, focus, span, context: &context, runbook };
            reports.push(investigate(&ctx, &request).await.with_context(|| format!("investigating {user}"))?);
        }
        anyhow::Ok(reports)
    })?;
    if args.all || reports.len() > 1 {
        write_all(&reports, args.format, args.output.as_deref())?;
    } else {
        let text = render(&reports[0], args.format)?;
        match &args.output {
            Some(path) => std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?,
            None => std::io::stdout().lock().write_all(text.as_bytes())?,
        }
    }
    let attack = reports.iter().any(|r| r.verdict.starts_with("true_positive"));
    Ok(if attack { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// The accounts, their kinds and windows to investigate.
async fn subjects(
    store: &Store,
    ctx: &datafusion::prelude::SessionContext,
    args: &InvestigateArgs,
) -> anyhow::Result<Vec<(String, Focus, SubjectKind)>> {
    let at = args.at.as_deref().map(|at| parse_time(at, "--at")).transpose()?;
    let ask = match (&args.user, &args.service_principal, &args.alert) {
        (Some(user), _, _) => Some(Ask::User { user, at }),
        (None, Some(name), _) => Some(Ask::ServicePrincipal { name, at }),
        (None, None, Some(alert)) if !Path::new(alert).is_file() => Some(Ask::Incident(alert)),
        _ => None,
    };
    if let Some(ask) = ask {
        return Ok(vec![resolve(store, ctx, ask).await?]);
    }
    if let Some(file) = args.alert.as_deref().map(Path::new).filter(|p| p.is_file()) {
        return from_alert_file(store, ctx, file, args.reach_hours).await;
    }
    let report = builtin_hunt(store, ctx, &Filter { min_severity: Severity::Medium, ..Filter::default() }).await;
    Ok(from_hunt::every_account(&report))
}

/// The accounts an exported alert names, each over the alert's span (or, when it gives no
/// time, the window the hunt or the records point at).
async fn from_alert_file(
    store: &Store,
    ctx: &datafusion::prelude::SessionContext,
    file: &Path,
    reach_hours: i64,
) -> anyhow::Result<Vec<(String, Focus, SubjectKind)>> {
    let entities = sleuth_investigate::alert::read(file)?;
    let source =
        format!("alert file {}", file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
    match sleuth_investigate::alert::asked(store, ctx, &entities, reach_hours, &source).await {
        Ok(asked) => Ok(asked),
        Err(sleuth_investigate::InvestigateError::Alert { why, .. }) => {
            anyhow::bail!("alert file {}: {why}", file.display())
        }
        Err(e) => Err(e.into()),
    }
}

fn render(report: &Report, format: Format) -> anyhow::Result<String> {
    format.render(&serde_json::to_value(report)?)
}

fn write_all(reports: &[Report], format: Format, dir: Option<&Path>) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    writeln!(out, "{:<24} {:<12} {:<44} report", "verdict", "confidence", "account")?;
    for report in reports {
        let file = match dir {
            Some(dir) => {
                let name = format!("{}-{}.{}", report.id, safe_name(&report.subject.user), format.extension());
                let path = dir.join(name);
                std::fs::write(&path, render(report, format)?)
                    .with_context(|| format!("writing {}", path.display()))?;
                path.display().to_string()
            }
            None => String::new(),
        };
        let confidence = serde_json::to_value(report.confidence)?;
        writeln!(
            out,
            "{:<24} {:<12} {:<44} {file}",
            report.verdict,
            confidence.as_str().unwrap_or(""),
            sleuth_render::text::visible(&report.subject.user)
        )?;
    }
    Ok(())
}

/// A file-name-safe form of an account name.
fn safe_name(text: &str) -> String {
    text.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' }).collect()
}
