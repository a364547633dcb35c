//! The hunt kept beside the store. Running every rule over a large store takes tens of
//! seconds, and an investigation without a given time needs the hunt's most severe alert on
//! its account; the findings of the built-in rules are the same as long as the store, the
//! catalog, the intelligence databases and Sleuth itself are, so the first hunt keeps them in
//! the store's `_sleuth/hunts/` folder and later ones (`sleuth investigate`, the workbench)
//! read them back. A kept file that does not match (another store state, a damaged file) is
//! never used: the rules run again.
//!
//! Findings with a failed rule are not kept (a rule can fail for want of memory, which another
//! run may have). The folder holds at most [`KEEP`] files, one per catalog; the oldest go.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use sleuth_store::Store;

use crate::catalog::Catalog;
use crate::hunt::{Findings, find};

/// Raised whenever the kept form changes.
const FORMAT: u32 = 1;

/// The most kept files (one per catalog hunted with).
pub const KEEP: usize = 8;

#[derive(Serialize, Deserialize)]
struct Kept {
    format: u32,
    /// A digest of the store's manifest: which files, of what size, make up the store.
    store: String,
    findings: Findings,
}

/// The findings of `catalog` over `store`: the kept ones if they match, else the rules run
/// in `ctx` (a session of `store`) and their findings kept for next time.
pub async fn findings(store: &Store, ctx: &datafusion::prelude::SessionContext, catalog: &Catalog) -> Findings {
    match load(store, catalog) {
        Some(findings) => findings,
        None => renew(store, ctx, catalog).await,
    }
}

/// Runs every rule of `catalog` in `ctx` (a session of `store`) and keeps what they found:
/// `sleuth hunt`, and the workbench asked to hunt again.
pub async fn renew(store: &Store, ctx: &datafusion::prelude::SessionContext, catalog: &Catalog) -> Findings {
    let findings = find(ctx, catalog).await;
    keep(store, catalog, &findings);
    findings
}

/// The findings kept for this state of `store` and `catalog`, if any.
pub fn load(store: &Store, catalog: &Catalog) -> Option<Findings> {
    let path = path(store, catalog);
    let text = std::fs::read(&path).ok()?;
    match serde_json::from_slice::<Kept>(&text) {
        Ok(kept) if kept.format == FORMAT && kept.store == store_digest(store) => {
            tracing::debug!(path = %path.display(), "using the kept hunt");
            Some(kept.findings)
        }
        Ok(_) => None,
        Err(e) => {
            tracing::debug!(path = %path.display(), error = %e, "the kept hunt cannot be read; hunting again");
            None
        }
    }
}

/// Keeps `findings` beside `store`, unless a rule failed. A store folder that cannot be
/// written (a read-only copy of evidence) is warned of, and the hunt goes on.
pub fn keep(store: &Store, catalog: &Catalog, findings: &Findings) {
    if !findings.failures.is_empty() {
        return;
    }
    let path = path(store, catalog);
    let kept = Kept { format: FORMAT, store: store_digest(store), findings: findings.clone() };
    if let Err(e) = write(&path, &kept) {
        tracing::warn!("could not keep the hunt in {}: {e}; the next investigation hunts again", path.display());
    }
}

fn write(path: &std::path::Path, kept: &Kept) -> std::io::Result<()> {
    let dir = path.parent().expect("a kept file is in a folder");
    std::fs::create_dir_all(dir)?;
    // A name no other writer uses, in this process (the workbench's requests) or another.
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{}-{n}.tmp", std::process::id()));
    std::fs::write(&tmp, serde_json::to_vec(kept)?)?;
    std::fs::rename(&tmp, path)?;
    prune(dir, path);
    Ok(())
}

/// Re-keys the hunts kept for `before` (a digest from [`store_digest`]) to `store`'s present
/// state, whose records are the same in another order: what `sleuth compact` leaves. Kept
/// hunts of other states are left as they are; a file that cannot be read or written is
/// skipped (the next investigation hunts again). Returns how many were carried over.
pub fn carry_over(before: &str, store: &Store) -> usize {
    let dir = store.derived_path("hunts");
    let Ok(entries) = std::fs::read_dir(&dir) else { return 0 };
    let now = store_digest(store);
    let mut carried = 0;
    for path in entries.flatten().map(|e| e.path()) {
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let Ok(text) = std::fs::read(&path) else { continue };
        let Ok(mut kept) = serde_json::from_slice::<Kept>(&text) else { continue };
        if kept.format != FORMAT || kept.store != before {
            continue;
        }
        kept.store.clone_from(&now);
        match write(&path, &kept) {
            Ok(()) => carried += 1,
            Err(e) => tracing::warn!("could not carry the kept hunt {} over: {e}", path.display()),
        }
    }
    carried
}

/// Leaves `written` and the newest other kept files of `dir`, [`KEEP`] in all, and no
/// temporary file older than an hour (a writer that was killed).
fn prune(dir: &std::path::Path, written: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let now = std::time::SystemTime::now();
    let mut kept = Vec::new();
    for entry in entries.flatten() {
        let Some(modified) = entry.metadata().ok().and_then(|m| m.modified().ok()) else { continue };
        let path = entry.path();
        match path.extension().and_then(|x| x.to_str()) {
            Some("json") if path != written => kept.push((modified, path)),
            Some("tmp") if now.duration_since(modified).is_ok_and(|age| age.as_secs() > 3600) => {
                let _ = std::fs::remove_file(path);
            }
            _ => {}
        }
    }
    kept.sort_by(|a, b| b.cmp(a));
    for (_, old) in kept.into_iter().skip(KEEP - 1) {
        let _ = std::fs::remove_file(old);
    }
}

/// The file for `catalog`: named by a digest of what the findings depend on besides the
/// store's data: this Sleuth, the rules as configured, and the installed intelligence
/// databases (their `sources.json`, which names each database's release).
fn path(store: &Store, catalog: &Catalog) -> PathBuf {
    let sources = std::fs::read(sleuth_intel::default_dir().join("sources.json")).unwrap_or_default();
    let mut text = format!("{}|{}|{catalog:?}|", env!("CARGO_PKG_VERSION"), crate::SCHEMA_VERSION).into_bytes();
    text.extend_from_slice(&sources);
    store.derived_path("hunts").join(format!("{}.json", digest(&text)))
}

/// A digest of `store`'s committed state, as the kept hunts record it.
pub fn store_digest(store: &Store) -> String {
    digest(&serde_json::to_vec(store.manifest()).expect("a manifest serialises"))
}

fn digest(bytes: &[u8]) -> String {
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hunt::{RuleFailure, RuleFindings};

    fn findings(millis: u64) -> Findings {
        Findings { rules: vec![RuleFindings { rule: "r".into(), millis, alerts: Vec::new() }], failures: Vec::new() }
    }

    #[test]
    fn findings_are_kept_per_catalog_not_when_a_rule_failed_and_at_most_keep_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_or_create(dir.path()).unwrap();
        let builtin = Catalog::builtin();
        assert_eq!(load(&store, &builtin), None);
        keep(&store, &builtin, &findings(1));
        assert_eq!(load(&store, &builtin), Some(findings(1)));
        // A failed rule: the earlier findings stay, the new ones are not kept.
        let failed =
            Findings { failures: vec![RuleFailure { rule: "r".into(), error: "memory".into() }], ..findings(2) };
        keep(&store, &builtin, &failed);
        assert_eq!(load(&store, &builtin), Some(findings(1)));
        // Another configuration of the rules is another catalog, kept beside.
        let ids: Vec<String> = builtin.rules().iter().map(|r| r.id.clone()).collect();
        for (n, id) in ids.iter().take(KEEP + 2).enumerate() {
            let mut catalog = Catalog::builtin();
            catalog.configure(&format!("[rules.{id}]\nenabled = false\n"), "test").unwrap();
            assert_eq!(load(&store, &catalog), None, "{id} disabled is not the built-in catalog");
            keep(&store, &catalog, &findings(10 + n as u64));
            assert_eq!(load(&store, &catalog), Some(findings(10 + n as u64)));
        }
        let files = std::fs::read_dir(store.derived_path("hunts")).unwrap().count();
        assert_eq!(files, KEEP, "the oldest kept files go, and no temporary file is left");
        // A damaged file is not used.
        let mut catalog = Catalog::builtin();
        catalog.configure(&format!("[rules.{}]\nenabled = false\n", ids[KEEP + 1]), "test").unwrap();
        std::fs::write(path(&store, &catalog), "{\"format\": 1, \"store\": ").unwrap();
        assert_eq!(load(&store, &catalog), None);
    }
}
