//! Benchmark of IP enrichment: how long the databases take to load, and how many lookups per
//! second the SQL functions make over a one-million-row column, on one core.
//!
//! ```text
//! cargo run --release -p sleuth-store --example intel_bench [-- INTEL_DIR]
//! ```
//!
//! Two columns: uniformly random public IPv4 addresses (every lookup a cache miss, the worst
//! case) and a log-like column (20,000 distinct addresses, 10% IPv6, repeated as sign-in logs
//! repeat them). Results go in BENCHMARKS.md.

use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::StringArray;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};
use sleuth_intel::{Intel, SharedIntel, special_range};

const ROWS: usize = 1_000_000;
const BATCH: usize = 8192;

/// SplitMix64: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn public_v4(&mut self) -> String {
        loop {
            let ip = std::net::Ipv4Addr::from_bits(self.next() as u32);
            if special_range(ip.into()).is_none() {
                return ip.to_string();
            }
        }
    }

    fn public_v6(&mut self) -> String {
        // Global unicast 2000::/3.
        let bits = (u128::from(self.next()) << 64 | u128::from(self.next())) >> 3 | (1u128 << 125);
        std::net::Ipv6Addr::from_bits(bits).to_string()
    }
}

fn column(name: &str, values: Vec<String>) -> MemTable {
    let schema = Arc::new(Schema::new(vec![Field::new("ip", DataType::Utf8, false)]));
    let batches = values
        .chunks(BATCH)
        .map(|chunk| {
            let array = StringArray::from_iter_values(chunk);
            RecordBatch::try_new(schema.clone(), vec![Arc::new(array)]).expect("batch")
        })
        .collect();
    println!("column {name}: {} rows", values.len());
    MemTable::try_new(schema, vec![batches]).expect("table")
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> datafusion::error::Result<()> {
    let dir = std::env::args().nth(1).map(Into::into).unwrap_or_else(sleuth_intel::default_dir);
    let mut loads = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let intel = Intel::open(&dir).expect("databases load");
        loads.push(started.elapsed().as_secs_f64());
        assert!(intel.sources().is_some(), "nothing installed in {}: run `sleuth intel update`", dir.display());
    }
    loads.sort_by(f64::total_cmp);
    println!(
        "load {}: median {:.0} ms (min {:.0}, max {:.0})",
        dir.display(),
        loads[2] * 1e3,
        loads[0] * 1e3,
        loads[4] * 1e3
    );

    let mut rng = Rng(0x0005_1e07);
    let uniform: Vec<String> = (0..ROWS).map(|_| rng.public_v4()).collect();
    let distinct: Vec<String> =
        (0..20_000).map(|i| if i % 10 == 0 { rng.public_v6() } else { rng.public_v4() }).collect();
    let log_like: Vec<String> = (0..ROWS).map(|_| distinct[(rng.next() % 20_000) as usize].clone()).collect();

    // One partition: the figures are per core.
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(1));
    let intel = SharedIntel::for_dir(&dir);
    intel.get().expect("databases load");
    sleuth_store::register_functions(&ctx, &intel);
    ctx.register_table("uniform", Arc::new(column("uniform", uniform.clone())))?;
    ctx.register_table("log_like", Arc::new(column("log_like", log_like)))?;

    for table in ["uniform", "log_like"] {
        for function in ["ip_special_range", "ip_country", "ip_asn", "ip_class", "ip_city"] {
            let sql = format!("SELECT count({function}(ip)) AS n FROM {table}");
            let mut best = f64::MAX;
            for _ in 0..3 {
                let started = Instant::now();
                sleuth_store::read_only(&ctx, &sql).await?.collect().await?;
                best = best.min(started.elapsed().as_secs_f64());
            }
            println!(
                "{table:<9} {function:<17} {:>6.2} M lookups/s ({:.0} ms per million)",
                ROWS as f64 / best / 1e6,
                best * 1e3
            );
        }
    }

    // The library alone, for comparison: no SQL, no string parsing.
    let intel = intel.get().expect("loaded");
    let ips: Vec<std::net::IpAddr> = uniform.iter().map(|s| s.parse().expect("ip")).collect();
    let started = Instant::now();
    let found = ips.iter().filter(|&&ip| intel.place(ip).is_some()).count();
    let place = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let classes = ips.iter().filter(|&&ip| intel.class(ip) != sleuth_intel::IpClass::Unknown).count();
    let class = started.elapsed().as_secs_f64();
    println!("library   place            {:>6.2} M lookups/s ({found} located)", ROWS as f64 / place / 1e6);
    println!("library   class            {:>6.2} M lookups/s ({classes} classified)", ROWS as f64 / class / 1e6);
    Ok(())
}
