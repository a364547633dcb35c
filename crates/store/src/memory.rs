//! How much memory a query may hold: `SLEUTH_MEMORY_LIMIT` (`512MiB`, `2GiB`, `1.5G`, `none`),
//! half the machine's physical memory when unset (at least 1 GiB). Sorts, aggregations and the window of an account's history spill to files
//! in the temporary folder (`TMPDIR`) beyond it; a join's held side cannot, and a query whose
//! held side does not fit fails with an error naming the setting, rather than the machine
//! running out of memory. Each session (one command, one request of the workbench) has its own.
//!
//! The limit covers what DataFusion's operators account for: the process also holds the
//! Parquet pages being decoded, the intelligence databases and the output. Over 9.8 M
//! sign-ins the whole hunt peaks at 1.4-1.6 GB resident with a 1 GiB limit against 4.9 GB with
//! none (BENCHMARKS.md "Hunt"). The default is not 1 GiB: a hash aggregation spills in pieces
//! no smaller than a batch's groups, and a query that ran in 9.5 GB (seed 004's question in
//! SQL over 9.8 M sign-ins) fails within 1 GiB rather than spilling.

use std::sync::Arc;

use datafusion::execution::memory_pool::{FairSpillPool, MemoryPool, TrackConsumersPool};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};

use crate::StoreError;

pub const VARIABLE: &str = "SLEUTH_MEMORY_LIMIT";
/// The least default, and the default where the machine's memory is unknown.
const FLOOR: usize = 1 << 30;

/// The limit the environment sets: `None` for no limit.
pub fn limit() -> Result<Option<usize>, StoreError> {
    match std::env::var(VARIABLE) {
        Ok(text) => parse(&text).ok_or_else(|| {
            StoreError::Setting(format!(
                "{VARIABLE}={text:?} is not an amount of memory (512MiB, 2GiB, 1.5G) or `none`"
            ))
        }),
        Err(std::env::VarError::NotPresent) => Ok(Some(default())),
        Err(std::env::VarError::NotUnicode(_)) => Err(StoreError::Setting(format!("{VARIABLE} is not text"))),
    }
}

/// Half the physical memory (Linux's `MemTotal`), at least [`FLOOR`].
pub fn default() -> usize {
    let total = std::fs::read_to_string("/proc/meminfo").ok().and_then(|text| mem_total(&text));
    total.map_or(FLOOR, |bytes| (bytes / 2).max(FLOOR))
}

/// `MemTotal:       24570940 kB` in bytes.
fn mem_total(meminfo: &str) -> Option<usize> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: usize = line.trim_start_matches("MemTotal:").trim().trim_end_matches("kB").trim().parse().ok()?;
    kib.checked_mul(1024)
}

/// `512MiB`, `2 GiB`, `1.5G`, `800M`, `1073741824` (bytes) or `none`; units are powers of
/// 1024 with or without the `i`.
fn parse(text: &str) -> Option<Option<usize>> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("none") || text.eq_ignore_ascii_case("unlimited") {
        return Some(None);
    }
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale: f64 = match unit.trim().to_ascii_lowercase().trim_end_matches('b').trim_end_matches('i') {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let bytes = number * scale;
    // Less than a mebibyte would fail every query; it is a typo.
    (bytes.is_finite() && bytes >= (1 << 20) as f64).then_some(Some(bytes as usize))
}

/// A session's runtime: the pool of the environment's limit, spills in the temporary folder.
pub fn runtime() -> Result<Arc<RuntimeEnv>, StoreError> {
    let mut runtime = RuntimeEnvBuilder::new();
    if let Some(limit) = limit()? {
        runtime = runtime.with_memory_pool(pool(limit));
    }
    Ok(runtime.build_arc()?)
}

/// The pool a session draws from: shared fairly among the operators that can spill, and
/// naming the largest consumers when it is exhausted.
fn pool(limit: usize) -> Arc<dyn MemoryPool> {
    let top = std::num::NonZeroUsize::new(3).expect("nonzero");
    Arc::new(TrackConsumersPool::new(FairSpillPool::new(limit), top))
}

/// `error` with advice when it is the memory limit's doing.
pub fn explain(error: &str) -> String {
    if error.contains("Resources exhausted") {
        format!(
            "{error}\n(a query may hold {VARIABLE} in memory, half the machine's memory unless set, and spills \
             what it can beyond that; raise it for a store this size, e.g. {VARIABLE}=16GiB)"
        )
    } else {
        error.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_read_in_binary_units() {
        assert_eq!(parse("512MiB"), Some(Some(512 << 20)));
        assert_eq!(parse("2 GiB"), Some(Some(2 << 30)));
        assert_eq!(parse("1.5G"), Some(Some(3 << 29)));
        assert_eq!(parse("800m"), Some(Some(800 << 20)));
        assert_eq!(parse("1073741824"), Some(Some(1 << 30)));
        assert_eq!(parse("none"), Some(None));
        assert_eq!(parse("12"), None, "twelve bytes is a typo");
        assert_eq!(parse("lots"), None);
        assert_eq!(parse("5 parsecs"), None);
        assert_eq!(parse(""), None);
    }

    #[test]
    fn the_default_is_half_the_machine_and_at_least_a_gibibyte() {
        assert_eq!(mem_total("MemTotal:       24570940 kB\nMemFree: 1 kB\n"), Some(24570940 * 1024));
        assert_eq!(mem_total("nothing"), None);
        assert!(default() >= FLOOR);
    }

    #[test]
    fn exhaustion_names_the_setting() {
        let advice = explain("Resources exhausted: Failed to allocate additional 12.0 MB for HashJoinInput");
        assert!(advice.contains(VARIABLE), "{advice}");
        assert_eq!(explain("table not found"), "table not found");
    }
}
