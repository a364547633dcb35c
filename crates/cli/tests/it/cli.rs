//! What a user sees: help, table documentation, output formats, pipes.

use std::io::Read;
use std::process::Stdio;

use crate::support::*;

#[test]
fn tables_documents_every_column_with_its_sources() {
    let (code, out, _) = run(&["tables"]);
    assert_eq!(code, 0);
    for table in ["signins", "audits", "risk_detections", "mailbox_activity", "message_trace"] {
        assert!(out.contains(&format!("{table} — ")), "{table} missing");
    }
    let documented = out.lines().filter(|l| l.trim_start().starts_with("from:") || l.contains("from: ")).count();
    let described = out.lines().filter(|l| l.starts_with("  ") && !l.contains("from: ")).count();
    assert_eq!(documented, described, "every column has its sources");
    assert!(out.contains("mfa_satisfied_by_token"));
}

#[test]
fn tables_with_a_store_gives_counts_and_time_ranges() {
    let demo = demo();
    let (code, out, _) = run(&["tables", "--store", path(&demo.store), "--table", "audits"]);
    assert_eq!(code, 0);
    let n = count(&demo.store, "SELECT count(*) FROM audits");
    assert!(out.contains(&format!("  {n} rows in 1 files; ")), "{out}");
    assert!(out.contains(" UTC"), "{out}");
    let (code, _, err) = run(&["tables", "--table", "nope"]);
    assert_eq!(code, 2);
    assert!(err.contains("the tables are signins, audits"), "{err}");
}

#[test]
fn json_output_keeps_types_and_column_order() {
    let demo = demo();
    let rows = query(&demo.store, "SELECT 'x' AS b, 1 AS a, true AS c, 2.5 AS d, make_array('p', 'q') AS e, NULL AS f");
    assert_eq!(serde_json::to_string(&rows[0]).unwrap(), r#"{"b":"x","a":1,"c":true,"d":2.5,"e":["p","q"],"f":null}"#);
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    let demo = demo();
    let store = path(&demo.store);
    let dir = path(&demo.dir);
    let t = temp();
    let fresh = t.path().join("s");
    let commands: [Vec<&str>; 3] = [
        vec!["sql", "--store", store, "--format", "csv", "SELECT * FROM signins"],
        vec!["tables", "--store", store],
        vec!["ingest", dir, "--store", path(&fresh)],
    ];
    for args in commands {
        let mut child = sleuth().args(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut first = [0u8; 16];
        stdout.read_exact(&mut first).unwrap();
        drop(stdout);
        let status = child.wait().unwrap();
        let mut err = String::new();
        child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        assert!(status.code() == Some(0), "{args:?}: exit {status:?}: {err}");
        assert!(err.is_empty(), "{args:?}: {err}");
    }
}

#[test]
fn help_explains_each_command() {
    for cmd in ["demo", "ingest", "sql", "tables"] {
        let (code, out, _) = run(&[cmd, "--help"]);
        assert_eq!(code, 0);
        assert!(out.len() > 300, "{cmd} --help is too thin:\n{out}");
    }
    let (_, out, _) = run(&["ingest", "--help"]);
    assert!(out.contains("Exit status"), "{out}");
}
