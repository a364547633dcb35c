use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use clap::{Args, Parser};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use sleuth_collect::{
    Certificate, Cloud, Credentials, Key, Pacing, Progress, Request, Secret, Source, SourceSummary, collect,
};

use sleuth_render::text::visible;

/// Collect logs live from Microsoft Graph into a folder that `sleuth ingest` reads.
///
/// Signs in as an application (client credentials: the secret is read from the environment
/// variable --client-secret-env names, never from the command line; or a certificate and its
/// private key, --certificate and --private-key) and pages each source
/// with @odata.nextLink: sign-ins of every kind (beta auditLogs/signIns, interactive,
/// non-interactive, service principal and managed identity), directory audits, Identity
/// Protection risk detections and risky users. The window is cut into time slices (a day by
/// default) so that one failure costs one slice. Each page is written as Graph returned it
/// under --out, with manifest.json recording every page's file, SHA-256 and records.
///
/// Run the same command again into the same --out: an interrupted collection resumes where it
/// stopped (no complete page is fetched again), and a complete one collects only what is newer
/// than what it holds. Throttling (429, with or without Retry-After), 5xx answers and expired
/// tokens are retried; a missing permission is named. docs/collect.md says which permissions
/// each source needs.
///
/// Exit status: 0 when every slice of every source is complete; 1 when some are not (they are
/// listed, and the next run resumes them); 2 on errors.
#[derive(Debug, Args)]
pub struct CollectArgs {
    /// The tenant: its id or a verified domain.
    #[arg(long)]
    tenant: String,
    /// The application (client) id of the app registration.
    #[arg(long)]
    client_id: String,
    /// The environment variable that holds the client secret.
    #[arg(long, value_name = "VAR", required_unless_present = "certificate", conflicts_with = "certificate")]
    client_secret_env: Option<String>,
    /// Sign in with a certificate registered on the app instead (PEM), with --private-key.
    #[arg(long, value_name = "CERT.pem", requires = "private_key")]
    certificate: Option<PathBuf>,
    /// The certificate's RSA private key (PEM, PKCS#8 or PKCS#1, unencrypted).
    #[arg(long, value_name = "KEY.pem", requires = "certificate")]
    private_key: Option<PathBuf>,
    /// Start of the window: RFC 3339 (2025-03-01T00:00:00Z), a date, or a time ago (7d, 12h).
    #[arg(long)]
    since: String,
    /// End of the window (same forms); default now.
    #[arg(long)]
    until: Option<String>,
    /// The folder the pages and the manifest go to (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Also ingest the folder into this store when the collection ends.
    #[arg(long)]
    store: Option<PathBuf>,
    /// Sources, comma-separated: signins, audits, risk (risk_detections, risky_users), all.
    #[arg(long, default_value = "all")]
    sources: String,
    /// The cloud: global, usgov, usgov-dod, china.
    #[arg(long, default_value = "global")]
    cloud: String,
    /// The sign-in endpoint, overriding --cloud's (a proxy, a test double).
    #[arg(long, value_name = "URL")]
    login_url: Option<String>,
    /// The Graph endpoint, overriding --cloud's.
    #[arg(long, value_name = "URL")]
    graph_url: Option<String>,
    /// Hours per time slice.
    #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u64).range(1..=24 * 31))]
    slice_hours: u64,
    /// The least milliseconds between two requests (the reports API allows a few requests per
    /// ten seconds per app).
    #[arg(long, default_value_t = 2000)]
    min_interval_ms: u64,
    /// No progress bars.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: CollectArgs) -> anyhow::Result<ExitCode> {
    let key = match (&args.client_secret_env, &args.certificate, &args.private_key) {
        (Some(var), _, _) => Key::Secret(Secret::new(
            std::env::var(var)
                .ok()
                .filter(|s| !s.is_empty())
                .with_context(|| format!("the environment variable {var} holds no client secret"))?,
        )),
        (None, Some(cert), Some(key)) => {
            let read = |p: &PathBuf| std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()));
            Key::Certificate(
                Certificate::from_pem(&read(cert)?, &read(key)?)
                    .map_err(anyhow::Error::msg)
                    .with_context(|| format!("{} and {}", cert.display(), key.display()))?,
            )
        }
        _ => bail!("say --client-secret-env VAR, or --certificate CERT.pem with --private-key KEY.pem"),
    };
    let cloud = Cloud::parse(&args.cloud)
        .with_context(|| format!("unknown cloud {:?}: say global, usgov, usgov-dod or china", args.cloud))?;
    let (login, graph) = cloud.endpoints();
    let sources = Source::parse_list(&args.sources).map_err(anyhow::Error::msg)?;
    let now = Utc::now();
    let since = when(&args.since, now).context("--since")?;
    let until = args.until.as_deref().map(|u| when(u, now)).transpose().context("--until")?;
    let request = Request {
        credentials: Credentials {
            tenant: args.tenant.clone(),
            client_id: args.client_id.clone(),
            key,
            login_url: args.login_url.clone().unwrap_or_else(|| login.to_string()),
            graph_url: args.graph_url.clone().unwrap_or_else(|| graph.to_string()),
        },
        sources,
        since,
        until,
        out: args.out.clone(),
        slice: Duration::from_secs(args.slice_hours * 3600),
        pacing: Pacing { min_interval: Duration::from_millis(args.min_interval_ms), ..Pacing::default() },
    };
    let mut bars = Bars::new(args.quiet);
    let summaries = collect(&request, &mut bars)?;
    bars.finish();
    print_summary(&summaries);
    let complete = summaries.iter().all(|s| s.gaps.is_empty());
    if let Some(store) = &args.store {
        #[derive(Parser)]
        struct Ingest {
            #[command(flatten)]
            args: super::ingest::IngestArgs,
        }
        let ingest = Ingest::try_parse_from([
            "ingest".as_ref(),
            args.out.as_os_str(),
            "--store".as_ref(),
            store.as_os_str(),
            "--quiet".as_ref(),
        ])?;
        super::ingest::run(ingest.args)?;
    }
    Ok(if complete { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// An absolute time (what ingest reads), or a time ago: `7d`, `12h`, `30m`.
fn when(text: &str, now: DateTime<Utc>) -> anyhow::Result<DateTime<Utc>> {
    let t = text.trim();
    if let Some((n, unit)) = t.char_indices().last().map(|(i, c)| (&t[..i], c))
        && let Ok(n) = n.parse::<i64>()
    {
        let ago = match unit {
            'd' => chrono::Duration::days(n),
            'h' => chrono::Duration::hours(n),
            'm' => chrono::Duration::minutes(n),
            _ => bail!("{t:?}: a time ago ends in d, h or m"),
        };
        return Ok(now - ago);
    }
    if let Ok(day) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(day.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    sleuth_ingest::time::parse(t).with_context(|| format!("{t:?} is not a time (2025-03-01T00:00:00Z, 2025-03-01, 7d)"))
}

struct Bars {
    multi: Option<MultiProgress>,
    bars: Vec<(Source, ProgressBar)>,
}

impl Bars {
    fn new(quiet: bool) -> Bars {
        Bars { multi: (!quiet).then(MultiProgress::new), bars: Vec::new() }
    }

    fn finish(&self) {
        for (_, bar) in &self.bars {
            bar.finish();
        }
    }
}

impl Progress for Bars {
    fn page(&mut self, source: Source, records: u64, pages: u64) {
        let Some(multi) = &self.multi else { return };
        let bar = match self.bars.iter().find(|(s, _)| *s == source) {
            Some((_, bar)) => bar.clone(),
            None => {
                let bar = multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {prefix:16} {msg} [{elapsed_precise}]")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_prefix(source.name());
                bar.enable_steady_tick(Duration::from_millis(200));
                self.bars.push((source, bar.clone()));
                bar
            }
        };
        bar.set_message(format!("{records} records, {pages} pages"));
    }
}

fn print_summary(summaries: &[SourceSummary]) {
    println!("{:<16} {:>9} {:>6} {:>8} {:>8}  covered", "source", "records", "pages", "retries", "slices");
    for s in summaries {
        let covered = match (s.first, s.last) {
            (Some(a), Some(b)) => format!("{} to {}", a.to_rfc3339(), b.to_rfc3339()),
            _ => "-".into(),
        };
        println!(
            "{:<16} {:>9} {:>6} {:>8} {:>8}  {covered}",
            s.source,
            s.records,
            s.pages,
            s.retries,
            format!("{}/{}", s.slices_complete, s.slices_total)
        );
    }
    for s in summaries {
        if let Some(empty) = &s.empty {
            println!("note: {}", visible(empty));
        }
        for gap in &s.gaps {
            println!("incomplete: {}: {} (the next run resumes it)", s.source, visible(gap));
        }
    }
}
