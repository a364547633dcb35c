use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use clap::Args;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use sleuth_collect::{
    Certificate, Cloud, Credentials, Deliver, Key, Pacing, Progress, Request, Secret, Source, SourceSummary, collect,
};
use sleuth_ingest::{FileStatus, Limits};
use sleuth_store::Store;

use sleuth_render::text::visible;

/// Collect logs live from Microsoft Graph into a folder that `sleuth ingest` reads.
///
/// Signs in as an application (client credentials: the secret is read from the environment
/// variable --client-secret-env names, never from the command line; or a certificate and its
/// private key, --certificate and --private-key), or as a person with a device code
/// (--device-code), and pages each source
/// with @odata.nextLink: sign-ins of every kind (beta auditLogs/signIns, interactive,
/// non-interactive, service principal and managed identity), directory audits, Identity
/// Protection risk detections and risky users, and the unified audit log through a Purview
/// audit search (created per slice, polled until it succeeds, its records paged). The window
/// is cut into time slices (a day by default) so that one failure costs one slice. Each page
/// is written as Graph returned it under --out, with manifest.json recording every page's
/// file, SHA-256 and records. With --store, pages are ingested as they arrive.
///
/// Run the same command again into the same --out: an interrupted collection resumes where it
/// stopped (no complete page is fetched again, a running audit search is polled again), and a
/// complete one collects what is newer than what it holds, plus the last hours before once
/// more for records that reached the log late (--overlap-hours). Throttling (429, with or
/// without Retry-After), 5xx answers and expired tokens are retried; a missing permission is
/// named. docs/collect.md says which permissions each source needs.
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
    #[arg(long, value_name = "VAR", required_unless_present_any = ["certificate", "device_code"],
          conflicts_with_all = ["certificate", "device_code"])]
    client_secret_env: Option<String>,
    /// Sign in with a certificate registered on the app instead (PEM), with --private-key.
    #[arg(long, value_name = "CERT.pem", requires = "private_key")]
    certificate: Option<PathBuf>,
    /// The certificate's RSA private key (PEM, PKCS#8 or PKCS#1, unencrypted).
    #[arg(long, value_name = "KEY.pem", requires = "certificate")]
    private_key: Option<PathBuf>,
    /// Sign in as a person instead, in a browser on any device with the code shown on
    /// stderr (the app must allow public client flows; Graph then returns what the person's
    /// roles allow). The tokens stay in memory: an interrupted run signs in again.
    #[arg(long, conflicts_with = "certificate")]
    device_code: bool,
    /// Start of the window: RFC 3339 (2025-03-01T00:00:00Z), a date, or a time ago (7d, 12h).
    #[arg(long)]
    since: String,
    /// End of the window (same forms); default now.
    #[arg(long)]
    until: Option<String>,
    /// The folder the pages and the manifest go to (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Also ingest the pages into this store as they arrive (created if missing).
    #[arg(long)]
    store: Option<PathBuf>,
    /// Sources, comma-separated: signins, audits, risk (risk_detections, risky_users), ual
    /// (the unified audit log, through Purview's audit search), all.
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
    /// Hours before the end of what the folder holds that an incremental run collects again,
    /// for records that reached the log late. Default per source: sign-ins and audits 2,
    /// risk 48, ual 24.
    #[arg(long, value_name = "HOURS")]
    overlap_hours: Option<u64>,
    /// Minutes one run waits for a Purview audit search to finish (the next run polls the
    /// same search again).
    #[arg(long, value_name = "MINUTES", default_value_t = 120)]
    search_wait_minutes: u64,
    /// No progress bars.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: CollectArgs) -> anyhow::Result<ExitCode> {
    let key = match (&args.client_secret_env, &args.certificate, &args.private_key) {
        _ if args.device_code => Key::DeviceCode(|message| eprintln!("{}", visible(message))),
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
        _ => bail!("say --client-secret-env VAR, --certificate CERT.pem with --private-key KEY.pem, or --device-code"),
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
        pacing: Pacing {
            min_interval: Duration::from_millis(args.min_interval_ms),
            search_wait: Duration::from_secs(args.search_wait_minutes * 60),
            ..Pacing::default()
        },
        overlap: args.overlap_hours.map(|h| Duration::from_secs(h * 3600)),
    };
    let mut bars = Bars::new(args.quiet);
    let mut store = args.store.as_ref().map(|path| ToStore::new(path)).transpose()?;
    let summaries = collect(&request, &mut bars, store.as_mut().map(|s| s as &mut dyn Deliver))?;
    bars.finish();
    print_summary(&summaries);
    let mut complete = summaries.iter().all(|s| s.gaps.is_empty());
    if let Some(store) = &store {
        complete &= store.report();
    }
    Ok(if complete { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// The store pages go into as they arrive: one atomic ingest per batch.
struct ToStore {
    path: PathBuf,
    target: String,
    added: u64,
    duplicates: u64,
    batches: u64,
    /// Pages with records that could not be read, with why.
    problems: Vec<String>,
}

impl ToStore {
    fn new(path: &Path) -> anyhow::Result<ToStore> {
        let store = Store::open_or_create(path).with_context(|| format!("opening the store {}", path.display()))?;
        let target = store.root().canonicalize().unwrap_or_else(|_| store.root().to_path_buf()).display().to_string();
        Ok(ToStore { path: path.to_path_buf(), target, added: 0, duplicates: 0, batches: 0, problems: Vec::new() })
    }

    /// Says what went in; false when some page had records that could not be read.
    fn report(&self) -> bool {
        println!(
            "Stored {} new records in {} ({} already there) in {} ingests.",
            self.added,
            self.path.display(),
            self.duplicates,
            self.batches
        );
        for p in &self.problems {
            println!("not stored: {}", visible(p));
        }
        self.problems.is_empty()
    }
}

impl Deliver for ToStore {
    fn target(&self) -> String {
        self.target.clone()
    }

    fn deliver(&mut self, files: &[PathBuf]) -> Result<(), String> {
        let mut store = Store::open_or_create(&self.path).map_err(|e| e.to_string())?;
        let ingest = store.begin_ingest().map_err(|e| e.to_string())?;
        let loaded = sleuth_store::load(files, &Limits::default(), ingest, &mut |_| {}).map_err(|e| e.to_string())?;
        self.added += loaded.summary.added.values().sum::<u64>();
        self.duplicates += loaded.summary.duplicates.values().sum::<u64>();
        self.batches += 1;
        for r in &loaded.reports {
            // An empty last page is no problem; records not read or not known are.
            if matches!(r.status(), FileStatus::Partial | FileStatus::Failed | FileStatus::Unreadable)
                || r.unrecognised > 0
            {
                let first = r.problems.first().map(|p| format!("{}: {}", p.position, p.reason));
                self.problems.push(format!(
                    "{}: {} invalid, {} unrecognised{}",
                    r.name,
                    r.invalid,
                    r.unrecognised,
                    first.map(|f| format!(" ({f})")).unwrap_or_default()
                ));
            }
        }
        Ok(())
    }
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

impl Bars {
    /// The source's spinner, made on first use; none when quiet.
    fn bar(&mut self, source: Source) -> Option<ProgressBar> {
        let multi = self.multi.as_ref()?;
        if let Some((_, bar)) = self.bars.iter().find(|(s, _)| *s == source) {
            return Some(bar.clone());
        }
        // Length and position count the source's time slices: the ETA is per slice.
        let bar = multi.add(ProgressBar::new(0));
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {prefix:16} [{bar:20}] {pos}/{len} slices, {msg} [{elapsed_precise}, ETA {eta}]",
            )
            .unwrap_or_else(|_| ProgressStyle::default_spinner())
            .progress_chars("=> "),
        );
        bar.set_prefix(source.name());
        bar.enable_steady_tick(Duration::from_millis(200));
        self.bars.push((source, bar.clone()));
        Some(bar)
    }
}

impl Progress for Bars {
    fn page(&mut self, source: Source, records: u64, pages: u64) {
        if let Some(bar) = self.bar(source) {
            bar.set_message(format!("{records} records, {pages} pages"));
        }
    }

    fn slices(&mut self, source: Source, done: usize, total: usize) {
        if let Some(bar) = self.bar(source) {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        }
    }

    fn waiting(&mut self, source: Source, status: &str, waited: Duration) {
        if let Some(bar) = self.bar(source) {
            bar.set_message(format!("Purview audit search {status}, waited {} s", waited.as_secs()));
        }
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
