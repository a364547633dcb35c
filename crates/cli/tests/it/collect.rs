//! `sleuth collect` end to end against the Graph test double (crates/collect/tests/double):
//! the secret from the environment, the endpoints overridden, the pages ingested into a store,
//! the summary and exit status.

#[path = "../../../collect/tests/double/mod.rs"]
#[allow(dead_code, reason = "the faults and the log serve the collect crate's own tests")]
mod double;

use crate::support::*;

#[test]
fn collect_writes_pages_that_ingest_reads_and_says_what_it_got() {
    let secret = "collect-test-secret-value-42";
    let d = double::Double::start(secret);
    let times: Vec<String> = (0..7).map(|i| format!("2025-03-01T{:02}:00:00Z", 2 * i)).collect();
    d.add("/beta/auditLogs/signIns", "createdDateTime", &times.iter().map(String::as_str).collect::<Vec<_>>(), "5e1a");
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
            "signins,audits",
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
    let (code, rows, err) = run(&[
        "sql",
        "--store",
        path(&store),
        "--format",
        "json",
        "SELECT count(*) AS n, count(DISTINCT record_id) AS ids FROM signins",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(rows.contains("\"n\":7") && rows.contains("\"ids\":7"), "{rows}");

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
