//! The unified audit log through the Purview audit search API: a search is created for the
//! slice's window, polled until it has succeeded, and its records are then paged like any
//! other source. The search's URL is in the manifest as soon as it exists, so a run that
//! stops while Purview works polls the same search next time instead of starting over.
//!
//! <https://learn.microsoft.com/en-us/graph/api/security-auditcoreroot-post-auditlogqueries>,
//! <https://learn.microsoft.com/en-us/graph/api/resources/security-auditlogquery> (status:
//! notStarted, running, succeeded, failed, cancelled),
//! <https://learn.microsoft.com/en-us/graph/api/security-auditlogquery-list-records>.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::source::ual_search;
use crate::{Client, CollectError, Manifest, Progress, Source};

/// The first page of the slice's records, once its search has succeeded.
pub(crate) fn records_url(
    client: &mut Client,
    manifest: &mut Manifest,
    i: usize,
    out: &Path,
    progress: &mut dyn Progress,
) -> Result<String, CollectError> {
    let search = match manifest.slices[i].search.clone() {
        Some(search) => search,
        None => {
            let search = create(client, &ual_search(manifest.slices[i].from, manifest.slices[i].to))?;
            manifest.slices[i].search = Some(search.clone());
            manifest.save(out)?;
            search
        }
    };
    let started = Instant::now();
    let mut wait = Duration::from_secs(1);
    loop {
        let body = client.get(&search, Source::Ual)?;
        let answer: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| CollectError::Invalid(format!("ual: the audit search's status is not JSON ({e})")))?;
        let status = answer["status"].as_str().unwrap_or("unknown").to_string();
        match status.as_str() {
            "succeeded" => return Ok(format!("{search}/records")),
            "failed" | "cancelled" => {
                // A search that ended badly is of no further use: the next run creates another.
                manifest.slices[i].search = None;
                manifest.save(out)?;
                return Err(CollectError::Invalid(format!(
                    "ual: the Purview audit search {search} {status}; the next run searches again"
                )));
            }
            _ => {}
        }
        let waited = started.elapsed();
        let limit = client.pacing().search_wait;
        if waited >= limit {
            return Err(CollectError::Invalid(format!(
                "ual: the Purview audit search {search} is still {status} after {} s; the next run polls it again",
                waited.as_secs()
            )));
        }
        progress.waiting(Source::Ual, &status, waited);
        std::thread::sleep(wait.min(limit - waited));
        wait = (wait * 2).min(client.pacing().poll_interval.max(Duration::from_millis(10)));
    }
}

/// Creates the search and returns its URL. Beta first, as the public collectors use it; a
/// Graph that does not take it there (404, 405, or 400 for an unknown segment) gets the same
/// search on v1.0, and v1.0's answer stands.
fn create(client: &mut Client, body: &serde_json::Value) -> Result<String, CollectError> {
    let mut versions = ["beta", "v1.0"].into_iter().peekable();
    while let Some(version) = versions.next() {
        let url = format!("{}/{version}/security/auditLog/queries", client.graph_url());
        match client.post(&url, body, Source::Ual) {
            Ok(answer) => {
                let answer: serde_json::Value = serde_json::from_slice(&answer).unwrap_or_default();
                let id = answer["id"].as_str().filter(|id| !id.is_empty()).ok_or_else(|| {
                    CollectError::Invalid("ual: Graph created the audit search without saying its id".into())
                })?;
                return Ok(format!("{url}/{}", crate::source::encode(id)));
            }
            Err(CollectError::Http { status: 400 | 404 | 405, .. }) if versions.peek().is_some() => continue,
            Err(e) => return Err(e),
        }
    }
    unreachable!("the last version returns")
}
