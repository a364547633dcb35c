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
//! - **Incremental.** Once every slice of a source is complete, a new run collects from the
//!   source's watermark (the newest record it holds) to now.
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
}

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
}

impl Progress for () {
    fn page(&mut self, _: Source, _: u64, _: u64) {}
}

/// Collects every asked source into `request.out`, resuming what an earlier run left.
pub fn collect(request: &Request, progress: &mut dyn Progress) -> Result<Vec<SourceSummary>, CollectError> {
    std::fs::create_dir_all(&request.out).map_err(|e| CollectError::io(&request.out, e))?;
    let mut manifest = Manifest::load_or_new(&request.out, &request.credentials)?;
    let until = request.until.unwrap_or_else(Utc::now);
    if request.since >= until {
        return Err(CollectError::Invalid(format!("--since {} is not before --until {}", request.since, until)));
    }
    let mut client = Client::new(request.credentials.clone(), request.pacing.clone());
    let mut summaries = Vec::new();
    for &source in &request.sources {
        manifest.plan(source, request.since, until, request.slice);
        manifest.save(&request.out)?;
        let mut summary = SourceSummary { source: source.name().into(), ..Default::default() };
        let retries_before = client.retries();
        let indices: Vec<usize> = manifest.slices_of(source);
        for i in indices {
            if manifest.slices[i].state == SliceState::Complete {
                continue;
            }
            if let Err(e) = collect_slice(&mut client, &mut manifest, i, &request.out, &mut summary, progress) {
                // A permission or licence error stops the source: every slice would fail alike.
                let stop = matches!(&e, CollectError::Http { status: 401 | 403, .. } | CollectError::Auth(_));
                let slice = &manifest.slices[i];
                summary.gaps.push(format!("{} to {}: {e}", slice.from.to_rfc3339(), slice.to.to_rfc3339()));
                manifest.errors.push(format!("{}: {e}", source.name()));
                manifest.save(&request.out)?;
                if stop {
                    break;
                }
            }
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
        slice.pages.push(PageEntry { file, sha256: manifest::sha256(&body), records });
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
