//! The collection's manifest (`manifest.json` in the output folder): what was asked, each
//! slice's pages (file, SHA-256, records), next link and state, the errors met. It is written
//! after every page, atomically (a temporary file renamed over it), so a kill at any moment
//! leaves a manifest that names only pages already on disk. It holds no secret.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{CollectError, Credentials, Source};

pub const MANIFEST: &str = "manifest.json";
const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Marks the file for `sleuth ingest`, which passes over it.
    pub sleuth_collect_manifest: u32,
    pub version: u32,
    pub tenant: String,
    pub client_id: String,
    pub graph_url: String,
    pub slices: Vec<Slice>,
    pub errors: Vec<String>,
    /// The store the pages marked `delivered` went into (`--store`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SliceState {
    Pending,
    Complete,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Slice {
    pub source: Source,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub state: SliceState,
    /// Where the slice continues: Graph's `@odata.nextLink` after the last page on disk.
    pub next_link: Option<String>,
    pub pages: Vec<PageEntry>,
    /// The oldest and newest record times the slice's pages hold.
    pub first: Option<DateTime<Utc>>,
    pub last: Option<DateTime<Utc>>,
    /// The unified audit log's Purview search for this slice (its URL), once created: a run
    /// that stops while the search runs polls the same search next time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<String>,
    /// A second look at the end of an earlier window, for records that reached the log late.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub recheck: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageEntry {
    pub file: String,
    pub sha256: String,
    pub records: u64,
    /// Whether the page is in the manifest's store.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub delivered: bool,
}

impl Slice {
    pub fn records(&self) -> u64 {
        self.pages.iter().map(|p| p.records).sum()
    }

    /// The page's file, relative to the output folder.
    pub fn page_file(&self, n: usize) -> String {
        let t = |d: DateTime<Utc>| d.format("%Y%m%dT%H%M%SZ").to_string();
        let recheck = if self.recheck { "-recheck" } else { "" };
        format!("{}/{}-{}{recheck}/page-{n:05}.json", self.source.name(), t(self.from), t(self.to))
    }
}

impl Manifest {
    /// The folder's manifest, or a new one. A manifest of another tenant or app is refused:
    /// one folder holds one collection.
    pub fn load_or_new(out: &Path, credentials: &Credentials) -> Result<Manifest, CollectError> {
        let path = out.join(MANIFEST);
        if !path.exists() {
            return Ok(Manifest {
                sleuth_collect_manifest: 1,
                version: VERSION,
                tenant: credentials.tenant.clone(),
                client_id: credentials.client_id.clone(),
                graph_url: credentials.graph_url.clone(),
                slices: Vec::new(),
                errors: Vec::new(),
                store: None,
            });
        }
        let text = std::fs::read_to_string(&path).map_err(|e| CollectError::io(&path, e))?;
        let manifest: Manifest = serde_json::from_str(&text)
            .map_err(|e| CollectError::io(&path, format!("not a collection manifest ({e})")))?;
        if manifest.version != VERSION {
            return Err(CollectError::io(
                &path,
                format!("manifest version {} (this sleuth writes {VERSION})", manifest.version),
            ));
        }
        if manifest.tenant != credentials.tenant || manifest.graph_url != credentials.graph_url {
            return Err(CollectError::io(
                &path,
                format!(
                    "this folder holds a collection of tenant {} from {}: use another --out",
                    manifest.tenant, manifest.graph_url
                ),
            ));
        }
        Ok(manifest)
    }

    pub fn save(&self, out: &Path) -> Result<(), CollectError> {
        let text = serde_json::to_vec_pretty(self).map_err(|e| CollectError::Invalid(e.to_string()))?;
        write_atomic(&out.join(MANIFEST), &text)
    }

    pub fn slices_of(&self, source: Source) -> Vec<usize> {
        (0..self.slices.len()).filter(|&i| self.slices[i].source == source).collect()
    }

    /// Adds the slices `[since, until)` needs beyond those already planned: before the earliest
    /// planned one, and after the latest (the incremental part), each at most `slice` long.
    /// With an incremental part, the last `overlap` of what was planned before is collected
    /// once more (recheck slices): records reach the logs minutes to hours after they happen,
    /// and a window closed earlier may have gained some. The store keeps each record once.
    pub fn plan(
        &mut self,
        source: Source,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        slice: Duration,
        overlap: Duration,
    ) {
        let planned: Vec<&Slice> = self.slices.iter().filter(|s| s.source == source && !s.recheck).collect();
        let gaps = match (planned.iter().map(|s| s.from).min(), planned.iter().map(|s| s.to).max()) {
            (Some(first), Some(last)) => {
                let mut gaps = vec![(since, first.min(until), false), (last.max(since), until, false)];
                let overlap = chrono::Duration::from_std(overlap).unwrap_or_default();
                if last < until && overlap > chrono::Duration::zero() {
                    gaps.push(((last - overlap).max(first).max(since), last, true));
                }
                gaps
            }
            _ => vec![(since, until, false)],
        };
        let step =
            chrono::Duration::from_std(slice).unwrap_or(chrono::Duration::days(1)).max(chrono::Duration::minutes(1));
        for (from, to, recheck) in gaps {
            let mut at = from;
            while at < to {
                let end = (at + step).min(to);
                self.slices.push(Slice {
                    source,
                    from: at,
                    to: end,
                    state: SliceState::Pending,
                    next_link: None,
                    pages: Vec::new(),
                    first: None,
                    last: None,
                    search: None,
                    recheck,
                });
                at = end;
            }
        }
        // Newest first, as Graph pages: an interrupted run has the latest data.
        self.slices.sort_by_key(|s| (s.source, std::cmp::Reverse(s.to), s.recheck));
    }
}

/// Writes `bytes` to `path` through a temporary file renamed over it.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CollectError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| CollectError::io(dir, e))?;
    }
    // A hidden name: `sleuth ingest` skips it if a kill leaves it behind.
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.partial"));
    std::fs::write(&tmp, bytes).map_err(|e| CollectError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| CollectError::io(path, e))
}

pub(crate) fn sha256(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn planning_covers_the_window_once_and_grows_at_either_end() {
        let mut m = Manifest {
            sleuth_collect_manifest: 1,
            version: VERSION,
            tenant: "t".into(),
            client_id: "c".into(),
            graph_url: "g".into(),
            slices: Vec::new(),
            errors: Vec::new(),
            store: None,
        };
        let day = Duration::from_secs(86_400);
        let none = Duration::ZERO;
        m.plan(Source::Audits, t("2025-03-02T00:00:00Z"), t("2025-03-03T12:00:00Z"), day, none);
        let spans = |m: &Manifest| m.slices.iter().map(|s| (s.from, s.to)).collect::<Vec<_>>();
        // Newest first; the last slice is cut at the window's end.
        assert_eq!(
            spans(&m),
            [
                (t("2025-03-03T00:00:00Z"), t("2025-03-03T12:00:00Z")),
                (t("2025-03-02T00:00:00Z"), t("2025-03-03T00:00:00Z"))
            ]
        );
        // The same window again plans nothing; a wider one only what is new at either end.
        m.plan(Source::Audits, t("2025-03-02T00:00:00Z"), t("2025-03-03T12:00:00Z"), day, day);
        assert_eq!(m.slices.len(), 2);
        m.plan(Source::Audits, t("2025-03-01T12:00:00Z"), t("2025-03-04T00:00:00Z"), day, none);
        let all = spans(&m);
        assert_eq!(all.len(), 4, "{all:?}");
        assert!(all.contains(&(t("2025-03-03T12:00:00Z"), t("2025-03-04T00:00:00Z"))));
        assert!(all.contains(&(t("2025-03-01T12:00:00Z"), t("2025-03-02T00:00:00Z"))));
        // Each instant of the window is in exactly one slice.
        let mut sorted = all.clone();
        sorted.sort();
        assert!(sorted.windows(2).all(|w| w[0].1 == w[1].0), "{sorted:?}");

        // Later, with an overlap: the new part, and the last two hours before it once more,
        // in a folder of their own.
        m.plan(Source::Audits, t("2025-03-01T12:00:00Z"), t("2025-03-04T06:00:00Z"), day, Duration::from_secs(7200));
        let rechecks: Vec<&Slice> = m.slices.iter().filter(|s| s.recheck).collect();
        assert_eq!(rechecks.len(), 1);
        assert_eq!((rechecks[0].from, rechecks[0].to), (t("2025-03-03T22:00:00Z"), t("2025-03-04T00:00:00Z")));
        assert!(rechecks[0].page_file(1).ends_with("20250303T220000Z-20250304T000000Z-recheck/page-00001.json"));
        assert_eq!(m.slices.iter().filter(|s| !s.recheck).count(), 5);
        assert!(m.slices.iter().any(|s| (s.from, s.to) == (t("2025-03-04T00:00:00Z"), t("2025-03-04T06:00:00Z"))));
    }
}
