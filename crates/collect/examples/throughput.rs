//! Records per second and peak memory of a collection against the Graph test double, on this
//! machine: `cargo run --release -p sleuth-collect --example throughput -- 1000000`.
//! The double serves pages of 1,000 sign-ins from memory on the loopback interface; the pages
//! are streamed to disk one by one, so the collector's memory must not grow with the records.

#[path = "../tests/double/mod.rs"]
#[allow(dead_code, reason = "the faults and the log serve the tests")]
mod double;

use std::time::{Duration, Instant};

use sleuth_collect::{Credentials, Pacing, Request, Secret, Source, collect};

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let d = double::Double::start("bench-secret");
    // n sign-ins spread over 30 days.
    let start = chrono::DateTime::parse_from_rfc3339("2025-03-01T00:00:00Z").unwrap().with_timezone(&chrono::Utc);
    let step = 30 * 86_400_000 / n as i64;
    let times: Vec<String> = (0..n)
        .map(|i| {
            (start + chrono::Duration::milliseconds(step * i as i64)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        })
        .collect();
    d.add("/beta/auditLogs/signIns", "createdDateTime", &times.iter().map(String::as_str).collect::<Vec<_>>(), "b");
    d.state.lock().unwrap().page_size = 1000;
    let rss_before = peak_rss_kib();
    let out = tempfile::tempdir().unwrap();
    let request = Request {
        credentials: Credentials {
            tenant: "bench".into(),
            client_id: "bench".into(),
            key: sleuth_collect::Key::Secret(Secret::new("bench-secret".into())),
            login_url: d.url.clone(),
            graph_url: d.url.clone(),
        },
        sources: vec![Source::Signins],
        since: start,
        until: Some(start + chrono::Duration::days(30)),
        out: out.path().to_path_buf(),
        slice: Duration::from_secs(86_400),
        pacing: Pacing { min_interval: Duration::ZERO, ..Pacing::default() },
        overlap: None,
    };
    let began = Instant::now();
    let done = collect(&request, &mut (), None).unwrap();
    let took = began.elapsed().as_secs_f64();
    let records = done[0].records;
    println!(
        "{records} records in {} pages, {took:.1} s: {:.0} records/s; peak RSS {} MiB (the double's data included; {} MiB before collecting)",
        done[0].pages,
        records as f64 / took,
        peak_rss_kib() / 1024,
        rss_before / 1024
    );
}

/// The process's peak resident memory (Linux), in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}
