//! `sleuth collect` end to end against the Graph test double (crates/collect/tests/double):
//! the secret from the environment, the endpoints overridden, the pages ingested into a store,
//! the summary and exit status.

#[path = "../../../collect/tests/double/mod.rs"]
#[allow(dead_code, reason = "the faults and the log serve the collect crate's own tests")]
mod double;

use crate::support::*;

/// A table's records, and its distinct record ids: equal when every record is there once.
fn records_and_ids(store: &std::path::Path, table: &str) -> (i64, i64) {
    let rows = query(store, &format!("SELECT count(*) AS n, count(DISTINCT record_id) AS ids FROM {table}"));
    (rows[0]["n"].as_i64().unwrap(), rows[0]["ids"].as_i64().unwrap())
}

#[test]
fn collect_writes_pages_that_ingest_reads_and_says_what_it_got() {
    let secret = "collect-test-secret-value-42";
    let d = double::Double::start(secret);
    let times: Vec<String> = (0..7).map(|i| format!("2025-03-01T{:02}:00:00Z", 2 * i)).collect();
    d.add("/beta/auditLogs/signIns", "createdDateTime", &times.iter().map(String::as_str).collect::<Vec<_>>(), "5e1a");
    d.add_ual(&["2025-03-01T03:00:00Z", "2025-03-01T04:00:00Z", "2025-03-01T05:00:00Z"], "0a1e");
    d.state.lock().unwrap().search_polls = 1;
    let dir = temp();
    let out = dir.path().join("collected");
    let store = dir.path().join("store");
    let output = sleuth()
        .env("SLEUTH_TEST_SECRET", secret)
        .args(["collect", "--tenant", "contoso.onmicrosoft.com", "--client-id", "11111111-2222-3333-4444-555555555555"])
        .args(["--client-secret-env", "SLEUTH_TEST_SECRET", "--since", "2025-03-01", "--until", "2025-03-02T00:00:00Z"])
        .args([
            "--login-url",
            &d.url,
            "--graph-url",
            &d.url,
            "--sources",
            "signins,audits,ual",
            "--min-interval-ms",
            "0",
            "--quiet",
        ])
        .arg("--out")
        .arg(&out)
        .arg("--store")
        .arg(&store)
        .output()
        .unwrap();
    let (code, stdout, stderr) = decode(output);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("signins") && stdout.contains("note: Graph returned no audits records"), "{stdout}");
    assert!(!stdout.contains(secret) && !stderr.contains(secret));
    // The pages went into the store: every sign-in once.
    assert_eq!(records_and_ids(&store, "signins"), (7, 7));
    // The unified audit log came through the Purview search and reads as Purview's records.
    assert_eq!(count(&store, "SELECT count(*) AS n FROM mailbox_activity"), 3);
    assert!(stdout.contains("Stored 10 new records"), "{stdout}");

    // No secret on the command line: only the variable's name is taken, and an empty one is refused.
    let output = sleuth()
        .args([
            "collect",
            "--tenant",
            "t",
            "--client-id",
            "c",
            "--client-secret-env",
            "SLEUTH_NO_SUCH_VARIABLE",
            "--since",
            "1d",
        ])
        .arg("--out")
        .arg(dir.path().join("x"))
        .output()
        .unwrap();
    let (code, _, stderr) = decode(output);
    assert_eq!(code, 2);
    assert!(stderr.contains("SLEUTH_NO_SUCH_VARIABLE holds no client secret"), "{stderr}");
}

/// Killed mid-collection (SIGKILL, at whatever page it is), then run again: the folder,
/// ingested, holds every record exactly once, and no page that was on disk was asked again
/// (only the one in flight at the kill may be).
#[test]
fn a_killed_collection_resumes_and_holds_every_record_once() {
    let secret = "kill-test-secret";
    let d = double::Double::start(secret);
    let times: Vec<String> =
        (0..60).map(|i| format!("2025-03-0{}T{:02}:{:02}:00Z", 1 + i / 30, (i % 30) / 2, (i % 2) * 30)).collect();
    d.add("/beta/auditLogs/signIns", "createdDateTime", &times.iter().map(String::as_str).collect::<Vec<_>>(), "6a11");
    let ual: Vec<String> = (0..9).map(|i| format!("2025-03-02T{:02}:15:00Z", 2 * i)).collect();
    d.add_ual(&ual.iter().map(String::as_str).collect::<Vec<_>>(), "0ae1");
    d.state.lock().unwrap().page_size = 2;
    let dir = temp();
    let out = dir.path().join("collected");
    let command = || {
        let mut c = sleuth();
        c.env("SLEUTH_TEST_SECRET", secret)
            .args([
                "collect",
                "--tenant",
                "contoso.onmicrosoft.com",
                "--client-id",
                "c",
                "--client-secret-env",
                "SLEUTH_TEST_SECRET",
            ])
            .args(["--since", "2025-03-01", "--until", "2025-03-03", "--sources", "signins,ual", "--quiet"])
            .args(["--login-url", &d.url, "--graph-url", &d.url, "--min-interval-ms", "60"])
            .arg("--out")
            .arg(&out)
            .arg("--store")
            .arg(dir.path().join("live"));
        c
    };
    let mut child = command().stdout(std::process::Stdio::null()).spawn().unwrap();
    // Kill it once some pages are on disk, well before the 30 pages are.
    let started = std::time::Instant::now();
    while d.log().iter().filter(|l| l.method == "GET").count() < 8
        && started.elapsed() < std::time::Duration::from_secs(20)
    {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = d.log().iter().filter(|l| l.method == "GET" && l.status == 200).count();
    assert!((8..30).contains(&before), "killed after {before} pages");
    let (code, stdout, stderr) = decode(command().output().unwrap());
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    // Asked twice: at most the page in flight when the process died (an audit search's
    // status is asked until it is done, by design).
    let targets: Vec<String> = d
        .log()
        .into_iter()
        .filter(|l| l.method == "GET" && l.status == 200)
        .map(|l| l.target)
        .filter(|t| !t.contains("/security/auditLog/queries/") || t.contains("/records"))
        .collect();
    let unique: std::collections::BTreeSet<&String> = targets.iter().collect();
    assert!(targets.len() - unique.len() <= 1, "{} pages asked again", targets.len() - unique.len());
    // The store the pages went into as they arrived holds every record once, and so does
    // the folder, ingested.
    let live = dir.path().join("live");
    assert_eq!(records_and_ids(&live, "signins"), (60, 60));
    assert_eq!(records_and_ids(&live, "mailbox_activity"), (9, 9));
    let store = dir.path().join("store");
    let (code, said, err) = run(&["ingest", path(&out), "--store", path(&store), "--quiet"]);
    assert_eq!(code, 0, "{said}\n{err}");
    assert!(said.contains("sleuth collect's manifest"), "the manifest is named for what it is: {said}");
    assert_eq!(records_and_ids(&store, "signins"), (60, 60));
}

#[test]
fn collect_signs_in_with_a_certificate() {
    let d = double::Double::start("unused");
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../collect/tests/fixtures");
    d.state.lock().unwrap().public_key = Some(std::fs::read(fixtures.join("test-public.der")).unwrap());
    d.add("/v1.0/auditLogs/directoryAudits", "activityDateTime", &["2025-03-01T10:00:00Z"], "a0d1");
    let dir = temp();
    let output = sleuth()
        .args([
            "collect",
            "--tenant",
            "contoso.onmicrosoft.com",
            "--client-id",
            "c",
            "--since",
            "2025-03-01",
            "--until",
            "2025-03-02",
        ])
        .args([
            "--sources",
            "audits",
            "--login-url",
            &d.url,
            "--graph-url",
            &d.url,
            "--min-interval-ms",
            "0",
            "--quiet",
        ])
        .arg("--certificate")
        .arg(fixtures.join("test-cert.pem"))
        .arg("--private-key")
        .arg(fixtures.join("test-key.pem"))
        .arg("--out")
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    let (code, stdout, stderr) = decode(output);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(d.state.lock().unwrap().assertions.len(), 1, "signed in with the certificate's assertion");
    assert!(stdout.lines().any(|l| l.starts_with("audits") && l.contains(" 1 ")), "{stdout}");
}
