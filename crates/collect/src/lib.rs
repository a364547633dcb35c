//! Live collection from Microsoft Graph (`sleuth collect`): sign-ins of every kind, directory
//! audits, risk detections and risky users, written page by page as Graph returned them into a
//! folder that `sleuth ingest` reads like any export, with a manifest that makes the collection
//! resumable and incremental.
//!
//! - **Slices.** The asked window is cut into time slices (a day by default); each slice is
//!   paged with `@odata.nextLink` and written page by page. One failure costs one slice.
//! - **Resume.** The manifest (`manifest.json`) records each page's file, SHA-256 and record
//!   count, and each unfinished slice's next link. Running the same command again skips what
//!   is complete and continues each slice from its next link: no page is fetched twice.
//! - **Incremental.** A new run collects from the end of what the folder holds to now, and
//!   the last hours before once more (recheck slices, [`Source::latency`]) for records that
//!   reached the log late; the store keeps each record once.
//! - **Unified audit log.** Through the Purview audit search API: one search per slice,
//!   created, polled until it succeeds, its records paged; a run that stops while a search
//!   runs polls the same search next time ([`search`]).
//! - **Store.** With a [`Deliver`], pages go into a store as they arrive, in batches; the
//!   manifest marks what is in, so a killed run's pages go in on the next.
//! - **Throttling.** 429 with `Retry-After` waits exactly that; 429 without it and 5xx back off
//!   exponentially with jitter. A 401 for an expired token gets a new token once. Every request
//!   carries a `client-request-id`, and failures are reported with it.
//! - **Secrets** come from the environment; they are never written, logged or shown.
//!
//! API facts are Microsoft's: <https://learn.microsoft.com/en-us/graph/api/signin-list?view=graph-rest-beta>,
//! <https://learn.microsoft.com/en-us/graph/throttling>,
//! <https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow>.

mod auth;
mod client;
mod manifest;
mod search;
mod source;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};

pub use auth::{Certificate, Cloud, Credentials, Key, Secret};
pub use client::{Client, Pacing};
pub use manifest::{Manifest, PageEntry, Slice, SliceState};
pub use source::Source;

#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error("{0}")]
    Auth(String),
    #[error("{what}: HTTP {status}{}: {message} (client-request-id {request_id})", permission.as_deref().map(|p| format!("; the app needs the {p} application permission, granted by an administrator")).unwrap_or_default())]
    Http { what: String, status: u16, message: String, request_id: String, permission: Option<String> },
    #[error("{what}: {message} (client-request-id {request_id})")]
    Transport { what: String, message: String, request_id: String },
    #[error("{what}: gave up after {attempts} attempts: {last} (client-request-id {request_id})")]
    GaveUp { what: String, attempts: u32, last: String, request_id: String },
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("{0}")]
    Invalid(String),
    #[error("storing the collected pages: {0} (the pages are in the folder; the next run stores them)")]
    Deliver(String),
}

impl CollectError {
    fn io(path: &Path, e: impl std::fmt::Display) -> CollectError {
        CollectError::Io { path: path.display().to_string(), message: e.to_string() }
    }
}

/// What to collect, from where, into where.
pub struct Request {
    pub credentials: Credentials,
    pub sources: Vec<Source>,
    pub since: DateTime<Utc>,
    /// The end of the window; `None` is now.
    pub until: Option<DateTime<Utc>>,
    pub out: PathBuf,
    pub slice: Duration,
    pub pacing: Pacing,
    /// How much of a closed window an incremental run collects again; `None` is each
    /// source's [`Source::latency`].
    pub overlap: Option<Duration>,
}

/// Where pages go as they arrive, besides the folder: a store.
pub trait Deliver {
    /// Names the destination; pages delivered to another are delivered again.
    fn target(&self) -> String;
    /// Takes these page files (whole, on disk). An error stops the collection.
    fn deliver(&mut self, files: &[PathBuf]) -> Result<(), String>;
}

/// Pages are delivered once this many records wait, and at the end of each source.
pub const DELIVER_RECORDS: u64 = 100_000;

/// What a run did, per source.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct SourceSummary {
    pub source: String,
    pub records: u64,
    pub pages: u64,
    pub retries: u64,
    pub slices_complete: usize,
    pub slices_total: usize,
    pub first: Option<DateTime<Utc>>,
    pub last: Option<DateTime<Utc>>,
    /// Slices whose collection failed, with why (the next run resumes them).
    pub gaps: Vec<String>,
    /// Why nothing came, when nothing did: the query that returned it.
    pub empty: Option<String>,
}

/// Progress as pages arrive: source, records so far in this run, pages so far.
pub trait Progress {
    fn page(&mut self, source: Source, records: u64, pages: u64);

    /// A Purview audit search is still at work (its status, and how long this run waited).
    fn waiting(&mut self, _source: Source, _status: &str, _waited: Duration) {}

    /// The source's slices: how many are done (complete or given up for this run) of all.
    fn slices(&mut self, _source: Source, _done: usize, _total: usize) {}
}

impl Progress for () {
    fn page(&mut self, _: Source, _: u64, _: u64) {}
}

/// Collects every asked source into `request.out`, resuming what an earlier run left, and
/// hands the pages to `deliver` as they arrive.
pub fn collect(
    request: &Request,
    progress: &mut dyn Progress,
    mut deliver: Option<&mut dyn Deliver>,
) -> Result<Vec<SourceSummary>, CollectError> {
    std::fs::create_dir_all(&request.out).map_err(|e| CollectError::io(&request.out, e))?;
    let mut manifest = Manifest::load_or_new(&request.out, &request.credentials)?;
    if let Some(d) = deliver.as_deref()
        && manifest.store.as_deref() != Some(d.target().as_str())
    {
        // Another store (or none before): every page goes in.
        manifest.store = Some(d.target());
        manifest.slices.iter_mut().flat_map(|s| s.pages.iter_mut()).for_each(|p| p.delivered = false);
    }
    let until = request.until.unwrap_or_else(Utc::now);
    if request.since >= until {
        return Err(CollectError::Invalid(format!("--since {} is not before --until {}", request.since, until)));
    }
    let mut client = Client::new(request.credentials.clone(), request.pacing.clone());
    let mut summaries = Vec::new();
    for &source in &request.sources {
        manifest.plan(source, request.since, until, request.slice, request.overlap.unwrap_or(source.latency()));
        manifest.save(&request.out)?;
        let mut summary = SourceSummary { source: source.name().into(), ..Default::default() };
        let retries_before = client.retries();
        let indices: Vec<usize> = manifest.slices_of(source);
        let total = indices.len();
        let mut done = indices.iter().filter(|&&i| manifest.slices[i].state == SliceState::Complete).count();
        progress.slices(source, done, total);
        for i in indices {
            if manifest.slices[i].state == SliceState::Complete {
                continue;
            }
            done += 1;
            if let Err(e) = collect_slice(&mut client, &mut manifest, i, &request.out, &mut summary, progress) {
                // A permission or licence error stops the source: every slice would fail alike.
                // So does a Graph without the audit search API (a national cloud): 404 on both versions.
                let stop = matches!(&e, CollectError::Http { status: 401 | 403, .. } | CollectError::Auth(_))
                    || (source == Source::Ual && matches!(&e, CollectError::Http { status: 404 | 400, .. }));
                let slice = &manifest.slices[i];
                summary.gaps.push(format!("{} to {}: {e}", slice.from.to_rfc3339(), slice.to.to_rfc3339()));
                manifest.errors.push(format!("{}: {e}", source.name()));
                manifest.save(&request.out)?;
                if stop {
                    break;
                }
            }
            if let Some(d) = deliver.as_deref_mut() {
                deliver_pages(&mut manifest, &request.out, d, DELIVER_RECORDS)?;
            }
            progress.slices(source, done, total);
        }
        if let Some(d) = deliver.as_deref_mut() {
            deliver_pages(&mut manifest, &request.out, d, 0)?;
        }
        summary.retries = client.retries() - retries_before;
        let slices: Vec<&Slice> = manifest.slices.iter().filter(|s| s.source == source).collect();
        summary.slices_total = slices.len();
        summary.slices_complete = slices.iter().filter(|s| s.state == SliceState::Complete).count();
        summary.first = slices.iter().filter_map(|s| s.first).min();
        summary.last = slices.iter().filter_map(|s| s.last).max();
        let held: u64 = slices.iter().map(|s| s.records()).sum();
        if held == 0 && summary.gaps.is_empty() {
            summary.empty = Some(format!(
                "Graph returned no {} records for {} to {} ({}): check the window and that the tenant's logs reach back that far{}",
                source.name(),
                request.since.to_rfc3339(),
                until.to_rfc3339(),
                source.query(request.since, until),
                source.licence_note()
            ));
        }
        summaries.push(summary);
    }
    manifest.save(&request.out)?;
    Ok(summaries)
}

/// Hands the pages not yet delivered to `deliver` when at least `min_records` wait, then
/// marks them in the manifest. A kill between the two delivers them again: the store keeps
/// each record once.
fn deliver_pages(
    manifest: &mut Manifest,
    out: &Path,
    deliver: &mut dyn Deliver,
    min_records: u64,
) -> Result<(), CollectError> {
    let waiting: Vec<&PageEntry> =
        manifest.slices.iter().flat_map(|s| s.pages.iter()).filter(|p| !p.delivered).collect();
    let records: u64 = waiting.iter().map(|p| p.records).sum();
    if waiting.is_empty() || records < min_records {
        return Ok(());
    }
    // Pages of no records (an empty window's one page) have nothing to store.
    let files: Vec<PathBuf> = waiting.iter().filter(|p| p.records > 0).map(|p| out.join(&p.file)).collect();
    if !files.is_empty() {
        deliver.deliver(&files).map_err(CollectError::Deliver)?;
    }
    manifest.slices.iter_mut().flat_map(|s| s.pages.iter_mut()).for_each(|p| p.delivered = true);
    manifest.save(out)
}

/// One slice: from its next link (resume) or its first query, page by page until Graph gives
/// no next link. Each page is on disk before the manifest says so.
fn collect_slice(
    client: &mut Client,
    manifest: &mut Manifest,
    i: usize,
    out: &Path,
    summary: &mut SourceSummary,
    progress: &mut dyn Progress,
) -> Result<(), CollectError> {
    let source = manifest.slices[i].source;
    let mut url = match &manifest.slices[i].next_link {
        Some(link) => link.clone(),
        None if source == Source::Ual => search::records_url(client, manifest, i, out, progress)?,
        None => format!("{}{}", client.graph_url(), source.query(manifest.slices[i].from, manifest.slices[i].to)),
    };
    loop {
        let body = client.get(&url, source)?;
        let page: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| CollectError::Invalid(format!("{}: Graph's answer is not JSON ({e})", source.name())))?;
        let records = page.get("value").and_then(serde_json::Value::as_array).map_or(0, Vec::len) as u64;
        let times = page
            .get("value")
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|r| r.get(source.time_field()).and_then(serde_json::Value::as_str))
            .filter_map(|t| DateTime::parse_from_rfc3339(t).ok().map(|t| t.with_timezone(&Utc)));
        let (first, last) = times.fold((None, None), |(lo, hi): (Option<DateTime<Utc>>, Option<DateTime<Utc>>), t| {
            (Some(lo.map_or(t, |l| l.min(t))), Some(hi.map_or(t, |h| h.max(t))))
        });
        let next = page.get("@odata.nextLink").and_then(serde_json::Value::as_str).map(str::to_owned);
        let slice = &mut manifest.slices[i];
        let file = slice.page_file(slice.pages.len() + 1);
        manifest::write_atomic(&out.join(&file), &body)?;
        let slice = &mut manifest.slices[i];
        slice.pages.push(PageEntry { file, sha256: manifest::sha256(&body), records, delivered: false });
        slice.first = match (slice.first, first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        slice.last = match (slice.last, last) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        slice.next_link = next.clone();
        if next.is_none() {
            slice.state = SliceState::Complete;
        }
        manifest.save(out)?;
        summary.records += records;
        summary.pages += 1;
        progress.page(source, summary.records, summary.pages);
        match next {
            Some(link) => url = link,
            None => return Ok(()),
        }
    }
}
