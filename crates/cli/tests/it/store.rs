//! The store: idempotent re-ingest, and atomicity under crashes at every stage — simulated
//! at the commit's two critical points and with real SIGKILLs at random moments.

use std::path::Path;
use std::time::Duration;

use crate::support::*;

const TOTALS: &str = "SELECT (SELECT count(*) FROM signins) + (SELECT count(*) FROM audits) + (SELECT count(*) FROM risk_detections) \
                      + (SELECT count(*) FROM mailbox_activity) + (SELECT count(*) FROM message_trace) AS n";

fn parquet_files(store: &Path) -> usize {
    ["signins", "audits", "risk_detections", "mailbox_activity", "message_trace"]
        .iter()
        .filter_map(|t| std::fs::read_dir(store.join(t)).ok())
        .flat_map(|d| d.filter_map(Result::ok))
        .filter(|e| e.path().extension().is_some_and(|x| x == "parquet"))
        .count()
}

fn manifest_files(store: &Path) -> usize {
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(store.join("_sleuth/manifest.json")).unwrap()).unwrap();
    m["tables"].as_object().unwrap().values().map(|v| v.as_array().unwrap().len()).sum()
}

#[test]
fn ingesting_the_same_export_again_adds_nothing() {
    let demo = demo();
    let before = count(&demo.store, TOTALS);
    let t = temp();
    let store = t.path().join("s");
    let (code, first, _) = run(&["ingest", path(&demo.dir), "--store", path(&store)]);
    assert_eq!(code, 0);
    let (code, second, _) = run(&["ingest", path(&demo.dir), "--store", path(&store)]);
    assert_eq!(code, 0);
    assert!(first.contains(&format!("{before} new records")), "{first}");
    assert!(second.contains("; 0 new records"), "{second}");
    assert_eq!(count(&store, TOTALS), before);
}

#[test]
fn a_crash_before_the_commit_leaves_the_previous_state() {
    let demo = demo();
    for point in ["before-commit", "before-manifest-rename"] {
        let t = temp();
        let store = t.path().join("s");
        let (code, _, _) = run(&["ingest", path(&demo.dir.join("risk")), "--store", path(&store)]);
        assert_eq!(code, 0);
        let before = count(&store, TOTALS);
        let out = sleuth()
            .args(["ingest", path(&demo.dir), "--store", path(&store)])
            .env("SLEUTH_TEST_CRASH_AT", point)
            .output()
            .unwrap();
        assert!(!out.status.success(), "the crash hook did not fire at {point}");
        assert_eq!(count(&store, TOTALS), before, "state changed by a crash at {point}");
        assert!(
            parquet_files(&store) > manifest_files(&store),
            "the crashed ingest should have left orphans at {point}"
        );
        let (code, _, _) = run(&["ingest", path(&demo.dir), "--store", path(&store)]);
        assert_eq!(code, 0);
        assert_eq!(count(&store, TOTALS), count(&demo.store, TOTALS));
        assert_eq!(parquet_files(&store), manifest_files(&store), "orphans were not cleaned at {point}");
    }
}

#[test]
fn sigkill_at_any_moment_leaves_the_state_before_or_after() {
    let demo = demo();
    let after = count(&demo.store, TOTALS);
    let t = temp();
    let store = t.path().join("s");
    let (code, _, _) = run(&["ingest", path(&demo.dir.join("risk")), "--store", path(&store)]);
    assert_eq!(code, 0);
    let before = count(&store, TOTALS);
    let mut seen_after = false;
    for delay_ms in [30u64, 150, 400, 900, 1600, 2600, 4000] {
        let mut child = sleuth().args(["ingest", path(&demo.dir), "--store", path(&store)]).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL on Unix
        let _ = child.wait();
        let now = count(&store, TOTALS);
        assert!(
            now == before || now == after,
            "partial state after a kill at {delay_ms} ms: {now} (before {before}, after {after})"
        );
        seen_after |= now == after;
        if seen_after {
            break;
        }
    }
    let (code, _, _) = run(&["ingest", path(&demo.dir), "--store", path(&store)]);
    assert_eq!(code, 0);
    assert_eq!(count(&store, TOTALS), after);
    assert_eq!(parquet_files(&store), manifest_files(&store));
}

#[test]
fn a_folder_with_other_content_is_not_taken_for_a_store() {
    let t = temp();
    std::fs::write(t.path().join("notes.txt"), "mine").unwrap();
    let (code, _, err) = run(&["ingest", path(&fixture("graph_signins.json")), "--store", path(t.path())]);
    assert_eq!(code, 2);
    assert!(err.contains("is not empty and is not a Sleuth store"), "{err}");
    let (code, _, err) = run(&["sql", "--store", path(&t.path().join("nope")), "SELECT 1"]);
    assert_eq!(code, 2);
    assert!(err.contains("is not a Sleuth store"), "{err}");
}

#[test]
fn another_engine_can_read_the_committed_files() {
    // The layout is plain Parquet; the manifest names the files. Read one back with the
    // parquet reader directly, as DuckDB or Spark would.
    let demo = demo();
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(demo.store.join("_sleuth/manifest.json")).unwrap()).unwrap();
    let file = m["tables"]["signins"][0]["path"].as_str().unwrap();
    let rows = m["tables"]["signins"][0]["rows"].as_u64().unwrap();
    let reader = datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(demo.store.join(file)).unwrap(),
    )
    .unwrap();
    let columns: Vec<String> = reader.schema().fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(columns[..3], ["record_id", "time", "is_interactive"]);
    let read: usize = reader.build().unwrap().map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(read as u64, rows);
}

#[test]
fn the_same_exports_give_byte_identical_stores() {
    // Files are read in parallel but written in file order: the store does not depend on
    // thread timing.
    let demo = demo();
    let t = temp();
    let stores: Vec<std::path::PathBuf> = (0..2).map(|i| t.path().join(format!("s{i}"))).collect();
    for s in &stores {
        let (code, _, err) = run(&["ingest", path(&demo.dir), "--store", path(s)]);
        assert_eq!(code, 0, "{err}");
    }
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(stores[0].join("_sleuth/manifest.json")).unwrap()).unwrap();
    for files in m["tables"].as_object().unwrap().values() {
        for f in files.as_array().unwrap() {
            let rel = f["path"].as_str().unwrap();
            assert!(
                std::fs::read(stores[0].join(rel)).unwrap() == std::fs::read(stores[1].join(rel)).unwrap(),
                "{rel} differs"
            );
        }
    }
}

/// Runs `sql --format json` with `SLEUTH_MEMORY_LIMIT` set; returns (exit code, stdout, stderr).
fn sql_within(limit: &str, store: &Path, sql: &str) -> (i32, String, String) {
    let out = sleuth()
        .env("SLEUTH_MEMORY_LIMIT", limit)
        .args(["sql", "--store", path(store), "--format", "json", sql])
        .output()
        .expect("sleuth runs");
    decode(out)
}

#[test]
fn queries_spill_beyond_the_memory_limit_and_name_it_when_they_cannot() {
    let demo = demo();
    // A sort of some 30 MB: every sign-in's agent, fifty times over.
    let sorted = "SELECT sum(n * length(record_id)) AS s FROM (
                    SELECT record_id, row_number() OVER (ORDER BY user_agent, record_id, k) AS n
                    FROM signins CROSS JOIN (SELECT value AS k FROM unnest(range(50)) AS t(value)))";
    let (code, free, err) = sql_within("none", &demo.store, sorted);
    assert_eq!(code, 0, "{err}");
    let (code, bounded, err) = sql_within("64MiB", &demo.store, sorted);
    assert_eq!(code, 0, "{err}");
    assert_eq!(bounded, free, "the same answer within the limit");
    let (code, plan, err) = sql_within("64MiB", &demo.store, &format!("EXPLAIN ANALYZE {sorted}"));
    assert_eq!(code, 0, "{err}");
    let spills: Vec<u64> = plan
        .split("spill_count=")
        .skip(1)
        .filter_map(|s| s.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .collect();
    assert!(spills.iter().any(|&n| n > 0), "the sort spilled to disk: {spills:?}");
    let (_, plan, _) = sql_within("none", &demo.store, &format!("EXPLAIN ANALYZE {sorted}"));
    assert!(plan.contains("spill_count=0") && !plan.contains("spill_count=1"), "and does not without a limit");

    // A join's held side cannot spill: the error says which setting to raise.
    let joined = "SELECT count(*) AS n FROM signins a JOIN signins b ON a.raw = b.raw";
    let (code, _, err) = sql_within("2MiB", &demo.store, joined);
    assert_eq!(code, 2);
    assert!(err.contains("Resources exhausted") && err.contains("SLEUTH_MEMORY_LIMIT"), "{err}");
    let (code, _, err) = sql_within("lots", &demo.store, "SELECT 1");
    assert_eq!(code, 2);
    assert!(err.contains("SLEUTH_MEMORY_LIMIT=\"lots\" is not an amount of memory"), "{err}");
    // KQL without a store (datatable, range, print) draws from the same limit.
    let out = sleuth().env("SLEUTH_MEMORY_LIMIT", "lots").args(["kql", "print x = 1"]).output().unwrap();
    let (code, _, err) = decode(out);
    assert_eq!(code, 2);
    assert!(err.contains("SLEUTH_MEMORY_LIMIT=\"lots\""), "{err}");
}

/// A JSON output without the fields that time the run.
fn untimed(json: &str) -> serde_json::Value {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(map) => {
                map.remove("millis");
                map.remove("metrics");
                map.values_mut().for_each(strip);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v: serde_json::Value = serde_json::from_str(json).unwrap();
    strip(&mut v);
    v
}

#[test]
fn a_compaction_changes_no_answer_and_a_crash_in_it_loses_nothing() {
    let demo = demo();
    let t = temp();
    let store = t.path().join("s");
    copy_dir(&demo.store, &store);
    let s = path(&store);
    let hunt = || {
        let (code, out, err) = run(&["hunt", "--store", s, "--min-severity", "low", "--format", "json"]);
        assert!(code == 0 || code == 1, "{err}");
        untimed(&out)
    };
    let investigate = |user: &str| {
        let (code, out, err) = run(&["investigate", "--store", s, "--user", user, "--format", "json"]);
        assert!(code == 0 || code == 1, "{err}");
        untimed(&out)
    };
    let users = ["david.vargas@northwind.example", "kira.ekstrom@northwind.example"];
    let (hunted, investigated) = (hunt(), users.map(investigate));
    let totals = count(&store, TOTALS);

    let out =
        sleuth().args(["compact", "--store", s]).env("SLEUTH_TEST_CRASH_AT", "compact-before-commit").output().unwrap();
    assert!(!out.status.success(), "the crash hook did not fire");
    assert_eq!(count(&store, TOTALS), totals);
    assert!(parquet_files(&store) > manifest_files(&store), "the crashed compaction wrote no files");

    // A small memory limit: the sign-ins are sorted in several buckets.
    let out = sleuth().args(["compact", "--store", s]).env("SLEUTH_MEMORY_LIMIT", "128MiB").output().unwrap();
    let (code, out, err) = decode(out);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("rows rewritten in user_principal_name order"), "{out}");
    assert!(
        out.contains("signins_by_address: ") && out.contains("rows of signins written in ip_address order"),
        "{out}"
    );
    // The demo store keeps a hunt per catalog that other tests hunted it with: one or more.
    assert!(out.contains("The kept hunt") && out.contains("for the same records"), "{out}");
    // The crashed run's files and the replaced ones are gone; the index is beside the tables.
    assert_eq!(parquet_files(&store) + count_files(&store, "signins_by_address"), manifest_files(&store));
    let (_, tables, _) = run(&["tables", "--store", s, "--table", "signins"]);
    assert!(tables.contains("files, in user_principal_name order"), "{tables}");

    assert_eq!(count(&store, TOTALS), totals);
    assert_eq!(users.map(investigate), investigated, "an investigation changed with the order of the rows");
    assert_eq!(hunt(), hunted, "the hunt changed with the order of the rows");

    let (code, again, _) = run(&["compact", "--store", s]);
    assert_eq!(code, 0);
    assert!(again.contains("already in user_principal_name order; nothing to do"), "{again}");
}

fn count_files(store: &Path, table: &str) -> usize {
    std::fs::read_dir(store.join(table)).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn a_damaged_data_file_is_named_by_the_ingest_and_the_compaction_that_read_it() {
    let demo = demo();
    let t = temp();
    let store = t.path().join("s");
    copy_dir(&demo.store, &store);
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(store.join("_sleuth/manifest.json")).unwrap()).unwrap();
    let relative = m["tables"]["signins"][0]["path"].as_str().unwrap().to_string();
    let damaged = store.join(&relative);
    // Half a file: its footer (and the metadata in it) is gone.
    let bytes = std::fs::read(&damaged).unwrap();
    std::fs::write(&damaged, &bytes[..bytes.len() / 2]).unwrap();
    for args in [
        vec!["ingest", path(&demo.dir.join("risk")), "--store", path(&store)],
        vec!["compact", "--store", path(&store)],
    ] {
        let (code, _, err) = run(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(&relative) && err.contains("damaged"), "{args:?}: {err}");
    }
}
