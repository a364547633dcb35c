//! Hostile input, as an incident responder meets it: every case is built here from realistic
//! records, ingested by the real binary, and checked for what must hold (the error names the
//! file and the record, every valid record is kept, peak memory stays within the limits).
//! `cargo test -p sleuth-cli --test it hostile::matrix -- --nocapture` prints the matrix with
//! its figures.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::support::*;

fn signin(id: usize, upn: &str, time: &str, ua: &str) -> String {
    serde_json::json!({
        "id": format!("0000{id:04}-hostile"), "createdDateTime": time, "userPrincipalName": upn,
        "appDisplayName": "Office 365 Exchange Online", "ipAddress": "89.187.164.135", "userAgent": ua,
        "status": {"errorCode": 0}, "location": {"city": "Zurich", "countryOrRegion": "CH"},
    })
    .to_string()
}

fn signins(n: usize, upn: &str) -> Vec<String> {
    (0..n).map(|i| signin(i, upn, &format!("2026-03-1{}T10:{:02}:00Z", i % 9, i % 60), "Mozilla/5.0")).collect()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// What one ingest did: exit code, output, records kept, invalid records, peak memory (MiB).
struct Outcome {
    code: i32,
    out: String,
    err: String,
    kept: i64,
    invalid: u64,
    peak_mib: u64,
}

/// Runs `sleuth ingest` over `input` into a fresh store beside it, measuring the process's
/// peak resident memory (wait4's rusage, this child alone).
fn ingest(input: &Path, extra: &[&str]) -> Outcome {
    let store = input.parent().unwrap().join("store");
    let _ = std::fs::remove_dir_all(&store);
    let mut args = vec!["ingest", path(input), "--store", path(&store)];
    args.extend(extra);
    let (code, out, err, peak_mib) = measured(sleuth().args(&args));
    assert!(!err.contains("panicked"), "{err}");
    let kept = if store.join("_sleuth").exists() { count(&store, "SELECT count(*) FROM signins") } else { 0 };
    let invalid = out
        .lines()
        .filter_map(|l| l.split_once(" invalid").map(|(a, _)| a))
        .filter_map(|a| a.rsplit(|c: char| !c.is_ascii_digit()).next()?.parse::<u64>().ok())
        .sum();
    Outcome { code, out, err, kept, invalid, peak_mib }
}

/// Runs `command` and returns its exit code, output and peak resident memory in MiB.
#[allow(clippy::zombie_processes)] // reaped by wait4 below, which also reports its rusage
pub fn measured(command: &mut std::process::Command) -> (i32, String, String, u64) {
    use std::io::Read;
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("sleuth runs");
    let (mut stdout, mut stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let out = std::thread::spawn(move || {
        let mut s = Vec::new();
        stdout.read_to_end(&mut s).unwrap();
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = Vec::new();
        stderr.read_to_end(&mut s).unwrap();
        s
    });
    let mut status = 0;
    // SAFETY: `rusage` is plain data that wait4 fills in; the pid is our own child, reaped
    // here once (std's Child is not waited on afterwards).
    #[allow(unsafe_code)]
    let rusage = unsafe {
        let mut rusage: libc::rusage = std::mem::zeroed();
        let pid = libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut rusage);
        assert!(pid > 0, "wait4 failed");
        rusage
    };
    let code = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { -1 };
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    let peak = rusage.ru_maxrss as u64 / 1024; // kilobytes on Linux
    (code, String::from_utf8_lossy(&out).into_owned(), String::from_utf8_lossy(&err).into_owned(), peak)
}

struct Case {
    name: &'static str,
    /// Writes the case's files under the folder given; returns the valid records it holds.
    build: fn(&Path) -> usize,
    /// Text the ingest's output must contain (the file and the reason).
    says: &'static [&'static str],
    extra: &'static [&'static str],
}

/// The hostile-input matrix. Each case writes its input, ingest runs over it, and the checks
/// are the same for all: no panic, every valid record kept, the problem named with its file
/// and reason, exit status 1 when something could not be read, memory within bounds.
const CASES: &[Case] = &[
    Case {
        name: "truncated gzip",
        build: |dir| {
            let text = signins(200, "gz@contoso.example").join("\n");
            let gz = gzip(text.as_bytes());
            std::fs::write(dir.join("signins.jsonl.gz"), &gz[..gz.len() * 3 / 4]).unwrap();
            0 // how many survive depends on where the cut falls; checked below
        },
        says: &["signins.jsonl.gz", "gzip data is damaged or cut short"],
        extra: &[],
    },
    Case {
        name: "zip bomb (1 GiB line in a 1 MiB zip) beside a good file",
        build: |dir| {
            let mut zip = zip::ZipWriter::new(std::fs::File::create(dir.join("bomb.zip")).unwrap());
            let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
            zip.start_file("signins.json", options).unwrap();
            zip.write_all(b"{\"value\": [{\"id\": \"").unwrap();
            let block = vec![b'a'; 1 << 20];
            for _ in 0..1024 {
                zip.write_all(&block).unwrap();
            }
            zip.finish().unwrap();
            std::fs::write(dir.join("good.jsonl"), signins(5, "bomb@contoso.example").join("\n")).unwrap();
            5
        },
        says: &["bomb.zip!signins.json", "decompression bomb", "--max-inflate-ratio"],
        extra: &[],
    },
    Case {
        name: "zip with ../ member names",
        build: |dir| {
            let mut zip = zip::ZipWriter::new(std::fs::File::create(dir.join("traversal.zip")).unwrap());
            let options = zip::write::SimpleFileOptions::default();
            zip.start_file("../../../escaped.jsonl", options).unwrap();
            zip.write_all(signins(4, "zip@contoso.example").join("\n").as_bytes()).unwrap();
            zip.finish().unwrap();
            4
        },
        says: &["traversal.zip!../../../escaped.jsonl"],
        extra: &[],
    },
    Case {
        name: "UTF-16LE without BOM, CRLF",
        build: |dir| {
            let text = signins(6, "utf16@contoso.example").join("\r\n");
            let bytes: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
            std::fs::write(dir.join("utf16.json"), bytes).unwrap();
            6
        },
        says: &["utf16.json", "UTF-16LE without BOM"],
        extra: &[],
    },
    Case {
        name: "invalid UTF-8 and NUL bytes in fields",
        build: |dir| {
            let mut lines = signins(5, "bytes@contoso.example");
            lines.insert(2, signin(90, "bytes@contoso.example", "2026-03-15T10:00:00Z", "bad\u{0}ua"));
            let mut text = lines.join("\n").into_bytes();
            text.extend(b"\n{\"id\": \"91\", \"userAgent\": \"\xff\xfe\"}\n");
            std::fs::write(dir.join("bytes.jsonl"), text).unwrap();
            6 // the NUL is a valid JSON escape (\u0000); the raw 0xff is not UTF-8
        },
        says: &["bytes.jsonl", "line 7: invalid UTF-8"],
        extra: &[],
    },
    Case {
        name: "a raw NUL byte inside the first record",
        build: |dir| {
            let mut lines = signins(5, "nul@contoso.example");
            lines[0] = lines[0].replace("Mozilla/5.0", "Mozilla\0/5.0");
            std::fs::write(dir.join("nul.jsonl"), lines.join("\n")).unwrap();
            4
        },
        says: &["nul.jsonl", "line 1: invalid JSON"],
        extra: &[],
    },
    Case {
        name: "a 100 MB line between good lines",
        build: |dir| {
            let mut file = std::io::BufWriter::new(std::fs::File::create(dir.join("long.jsonl")).unwrap());
            let good = signins(4, "long@contoso.example");
            writeln!(file, "{}\n{}", good[0], good[1]).unwrap();
            write!(file, "{{\"id\": \"huge\", \"userAgent\": \"").unwrap();
            let block = vec![b'x'; 1 << 20];
            for _ in 0..100 {
                file.write_all(&block).unwrap();
            }
            writeln!(file, "\"}}").unwrap();
            writeln!(file, "{}\n{}", good[2], good[3]).unwrap();
            4
        },
        says: &["long.jsonl", "line 3", "over the record limit of 16 MiB", "--max-record-bytes"],
        extra: &[],
    },
    Case {
        name: "CSV with ragged rows and an unterminated quote",
        build: |dir| {
            let mut csv =
                String::from("TimeGenerated [UTC],UserPrincipalName,IPAddress,ResultType,AppDisplayName,Id\n");
            for i in 0..6 {
                csv += &format!("3/1{i}/2026 10:00:00 AM,csv@contoso.example,89.187.164.135,0,Office,id-{i}\n");
                if i == 1 {
                    csv += "3/11/2026 10:00:00 AM,csv@contoso.example,89.187.164.135,0,Office,id-x,extra\n";
                }
                if i == 3 {
                    csv += "3/13/2026 10:00:00 AM,\"csv@contoso.example,89.187.164.135,0,Office,id-y\n";
                }
            }
            std::fs::write(dir.join("signins.csv"), csv).unwrap();
            6
        },
        says: &["signins.csv", "line 4: row has 7 fields", "line 7: a quoted field that is never closed"],
        extra: &[],
    },
    Case {
        name: "JSON with duplicate keys",
        build: |dir| {
            let record = signin(1, "dup@contoso.example", "2026-03-10T10:00:00Z", "Mozilla/5.0");
            let dup = record.replacen('{', "{\"userAgent\": \"first\", ", 1);
            std::fs::write(dir.join("dup.json"), format!("[{dup}]")).unwrap();
            1 // the last value wins, as in JavaScript and serde_json
        },
        says: &["dup.json"],
        extra: &[],
    },
    Case {
        name: "deep nesting (100,000 levels) in one element",
        build: |dir| {
            let good = signins(3, "deep@contoso.example");
            let deep = format!("{{\"id\": \"deep\", \"x\": {}{}}}", "[".repeat(100_000), "]".repeat(100_000));
            std::fs::write(dir.join("deep.json"), format!("[\n{},\n{deep},\n{},\n{}\n]", good[0], good[1], good[2]))
                .unwrap();
            3
        },
        says: &["deep.json", "record 2"],
        extra: &[],
    },
    Case {
        name: "malformed element in a pretty-printed Graph page",
        build: |dir| {
            let good = signins(4, "page@contoso.example");
            let broken = good[1].replacen("\"userAgent\":\"Mozilla/5.0\"", "\"userAgent\":\"Mozilla/5.0", 1);
            let page = format!(
                "{{\n  \"@odata.context\": \"https://graph.microsoft.com/v1.0/$metadata#auditLogs/signIns\",\n  \"value\": [\n    {},\n    {broken},\n    {},\n    {},\n    {}\n  ]\n}}\n",
                good[0], good[1], good[2], good[3]
            );
            std::fs::write(dir.join("page.json"), page).unwrap();
            4
        },
        says: &["page.json", "record 2", "inside a string"],
        extra: &[],
    },
    Case {
        name: "broken first line, then blank and garbage lines, BOM and CRLF",
        build: |dir| {
            let good = signins(10, "lines@contoso.example");
            let first = format!("\u{feff}{}\r\n", &good[0][..40]);
            std::fs::write(dir.join("a.jsonl"), first + &good[1..].join("\r\n")).unwrap();
            std::fs::write(dir.join("b.jsonl"), format!("\n%%%% not json %%%%\n{}", good[1..9].join("\n"))).unwrap();
            9
        },
        says: &["a.jsonl", "line 1: invalid JSON", "b.jsonl", "line 2: invalid JSON"],
        extra: &[],
    },
    Case {
        name: "timestamps out of range and locale dates",
        build: |dir| {
            let lines = [
                signin(1, "time@contoso.example", "99999-01-01T00:00:00Z", "a"),
                signin(2, "time@contoso.example", "0001-01-01T00:00:00", "b"),
                signin(3, "time@contoso.example", "3-15-2026, 12:00:00.000 PM", "c"),
                signin(4, "time@contoso.example", "15.03.2026 13:00:00", "d"),
            ];
            std::fs::write(dir.join("times.jsonl"), lines.join("\n")).unwrap();
            4
        },
        says: &["times.jsonl", "kept without a time"],
        extra: &[],
    },
    Case {
        name: "symlink loop and a dangling link",
        build: |dir| {
            std::fs::create_dir_all(dir.join("sub")).unwrap();
            std::fs::write(dir.join("sub/s.jsonl"), signins(3, "link@contoso.example").join("\n")).unwrap();
            std::os::unix::fs::symlink("..", dir.join("sub/loop")).unwrap();
            std::os::unix::fs::symlink("missing.json", dir.join("dangling.json")).unwrap();
            3
        },
        says: &["dangling.json", "No such file"],
        extra: &[],
    },
    Case {
        name: "a record over a raised limit is kept",
        build: |dir| {
            let big = signin(1, "big@contoso.example", "2026-03-10T10:00:00Z", &"u".repeat(6 << 20));
            std::fs::write(dir.join("big.jsonl"), big).unwrap();
            1
        },
        says: &["big.jsonl"],
        extra: &["--max-field-bytes", "8388608"],
    },
];

#[test]
fn matrix() {
    let t = temp();
    let mut rows = Vec::new();
    for (i, case) in CASES.iter().enumerate() {
        let input = t.path().join(format!("case{i}/in"));
        std::fs::create_dir_all(&input).unwrap();
        let valid = (case.build)(&input);
        let o = ingest(&input, case.extra);
        let shown = format!("{}\n{}\n{}", case.name, o.out, o.err);
        for says in case.says {
            assert!(o.out.contains(says), "{shown}\nmissing {says:?}");
        }
        assert!(o.kept as usize >= valid, "{shown}\nkept {} of {valid}", o.kept);
        // No limit depends on the input's size: 16 MiB records, a few per thread.
        assert!(o.peak_mib < 400, "{shown}\npeak {} MiB", o.peak_mib);
        let clean = o.invalid == 0 && !o.out.contains("PARTIAL") && !o.out.contains("UNREADABLE");
        assert_eq!(o.code, if clean { 0 } else { 1 }, "{shown}");
        let problem = o
            .out
            .lines()
            .find(|l| {
                l.trim_start().starts_with("line")
                    || l.trim_start().starts_with("record")
                    || l.contains("gzip")
                    || l.contains("bomb")
            })
            .unwrap_or("")
            .trim()
            .chars()
            .take(110)
            .collect::<String>();
        rows.push(format!(
            "| {} | {} | {} | {} | {} | {} |",
            case.name, o.code, o.kept, o.invalid, o.peak_mib, problem
        ));
    }
    println!("| case | exit | kept | invalid | peak MiB | first problem reported |\n|---|---|---|---|---|---|");
    for row in rows {
        println!("{row}");
    }
    // The zip's member never escapes: nothing was written beside the temporary folder.
    assert!(!t.path().join("escaped.jsonl").exists() && !Path::new("/escaped.jsonl").exists());
}

#[test]
fn a_truncated_gzip_keeps_what_came_before_the_cut() {
    let t = temp();
    let input = t.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    let text = signins(2000, "gz@contoso.example").join("\n");
    let gz = gzip(text.as_bytes());
    std::fs::write(input.join("cut.jsonl.gz"), &gz[..gz.len() / 2]).unwrap();
    let o = ingest(&input, &[]);
    assert_eq!(o.code, 1);
    assert!(o.kept > 500 && o.kept < 2000, "{}", o.kept);
}

/// A full disk, simulated with a file-size limit (it binds root too): the ingest fails with a
/// clear error and the store keeps its previous state.
#[test]
fn a_full_disk_leaves_the_store_as_it_was() {
    let t = temp();
    let (first, second) = (t.path().join("first"), t.path().join("second"));
    std::fs::create_dir_all(&first).unwrap();
    std::fs::create_dir_all(&second).unwrap();
    std::fs::write(first.join("a.jsonl"), signins(10, "disk@contoso.example").join("\n")).unwrap();
    let many: Vec<String> = (0..40_000)
        .map(|i| signin(1000 + i, &format!("u{i}@contoso.example"), "2026-03-10T10:00:00Z", &"x".repeat(200)))
        .collect();
    std::fs::write(second.join("b.jsonl"), many.join("\n")).unwrap();
    let store = t.path().join("store");
    let (code, _, err) = run(&["ingest", path(&first), "--store", path(&store)]);
    assert_eq!(code, 0, "{err}");
    // SIGXFSZ ignored (inherited across exec), so the write fails with EFBIG instead.
    let script = format!("trap '' XFSZ; ulimit -f 512; exec \"$0\" ingest {} --store {}", path(&second), path(&store));
    let out = std::process::Command::new("sh").args(["-c", &script, env!("CARGO_BIN_EXE_sleuth")]).output().unwrap();
    let (code, out, err) = decode(out);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(err.contains("File too large") || err.contains("No space"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(count(&store, "SELECT count(*) FROM signins"), 10);
}

fn store_with(records: &[String]) -> (tempfile::TempDir, PathBuf) {
    let t = temp();
    std::fs::create_dir_all(t.path().join("in")).unwrap();
    std::fs::write(t.path().join("in/s.jsonl"), records.join("\n")).unwrap();
    let store = t.path().join("store");
    let (code, out, err) = run(&["ingest", path(&t.path().join("in")), "--store", path(&store)]);
    assert!(code <= 1, "{out}{err}");
    (t, store)
}

#[test]
fn sql_is_read_only_and_names_what_it_refused() {
    let (t, store) = store_with(&signins(3, "sql@contoso.example"));
    let manifest = std::fs::read(store.join("_sleuth/manifest.json")).unwrap();
    let target = t.path().join("written.csv");
    let refused = [
        (format!("COPY (SELECT * FROM signins) TO '{}'", path(&target)), "COPY"),
        (format!("COPY (SELECT 1) TO '{}' STORED AS CSV", path(&store.join("_sleuth/manifest.json"))), "COPY"),
        ("CREATE EXTERNAL TABLE p (line VARCHAR) STORED AS CSV LOCATION '/etc/passwd'".into(), "CreateExternalTable"),
        ("CREATE TABLE t AS SELECT * FROM signins".into(), "definition"),
        ("CREATE VIEW v AS SELECT 1".into(), "definition"),
        ("DROP TABLE signins".into(), "definition"),
        ("INSERT INTO signins SELECT * FROM signins".into(), "write"),
        ("SET datafusion.execution.batch_size = 1".into(), "statement"),
        (format!("EXPLAIN COPY (SELECT 1) TO '{}'", path(&target)), "COPY"),
    ];
    for (sql, what) in &refused {
        let (code, out, err) = run(&["sql", "--store", path(&store), sql]);
        assert_eq!(code, 2, "{sql} was not refused: {out}");
        assert!(err.contains("not allowed") && err.contains(what), "{sql}: {err}");
    }
    assert!(!target.exists());
    assert_eq!(std::fs::read(store.join("_sleuth/manifest.json")).unwrap(), manifest);
    // Nesting deep enough to overflow a naive parser is an error, not a crash.
    let deep = format!("SELECT {}1{}", "(".repeat(5000), ")".repeat(5000));
    let (code, _, err) = run(&["sql", "--store", path(&store), &deep]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("recursion") || err.contains("nest"), "{err}");
    assert_eq!(count(&store, "SELECT count(*) FROM signins"), 3);
}

#[test]
fn a_rule_pack_cannot_write_files() {
    let (t, store) = store_with(&signins(3, "rule@contoso.example"));
    let rules = t.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    let target = t.path().join("exfil.csv");
    let rule = format!(
        r#"id = "exfil"
title = "Writes a file"
description = "A hostile rule pack"
severity = "high"
mitre = []
explain = "wrote a file"
query = "SELECT user_principal_name AS user, ip_address AS ip, min(time) AS first_seen, max(time) AS last_seen, 1 AS score FROM signins GROUP BY 1, 2"
[[tables]]
name = "leak"
query = "COPY (SELECT * FROM signins) TO '{}'"
"#,
        path(&target)
    );
    std::fs::write(rules.join("exfil.toml"), rule).unwrap();
    let (_, out, err) = run(&["hunt", "--store", path(&store), "--rules", path(&rules), "--format", "json"]);
    assert!(!target.exists(), "{out}\n{err}");
    assert!(format!("{out}{err}").contains("not allowed"), "{out}\n{err}");
}

/// ESC sequences, an OSC 8 hyperlink, BEL, backspace and a right-to-left override in a user
/// agent reach no human-facing output raw; JSON keeps them exact.
#[test]
fn control_and_bidi_characters_reach_no_output_raw() {
    let ua = "Mozilla\u{1b}[2J\u{1b}]8;;http://evil.example\u{7}click\u{1b}]8;;\u{7}\u{8}\u{202e}gnp.exe";
    let upn = "ctl@contoso.example";
    let mut records = signins(6, upn);
    records.push(signin(99, upn, "2026-03-15T11:00:00Z", ua));
    let (t, store) = store_with(&records);
    let hidden = |s: &str| s.chars().any(|c| (c.is_control() && c != '\n') || ('\u{202a}'..='\u{202e}').contains(&c));
    let sql = "SELECT user_agent FROM signins ORDER BY user_agent";
    for format in ["table", "csv"] {
        let (code, out, _) = run(&["sql", "--store", path(&store), "--format", format, sql]);
        assert_eq!(code, 0);
        assert!(!hidden(&out), "{format}: {out:?}");
        assert!(out.contains("\\u{1b}[2J"), "{format}: {out}");
    }
    let (_, csv, _) = run(&["sql", "--store", path(&store), "--format", "csv", sql]);
    assert!(csv.contains("\\u{202e}gnp.exe") && csv.contains("\\u{7}click"), "{csv}");
    let (_, json, _) = run(&["sql", "--store", path(&store), "--format", "json", sql]);
    assert!(json.contains("\\u001b[2J") && json.contains('\u{202e}'), "JSON stays exact: {json}");
    for format in ["md", "html", "incident"] {
        let report = t.path().join(format!("report.{format}"));
        let (code, _, err) = run(&[
            "investigate",
            "--store",
            path(&store),
            "--user",
            upn,
            "--at",
            "2026-03-15T11:00:00Z",
            "--format",
            format,
            "-o",
            path(&report),
        ]);
        assert!(code <= 1, "{err}");
        let text = std::fs::read_to_string(&report).unwrap();
        assert!(!hidden(&text.replace('\r', "")), "{format} has raw control or bidi characters");
    }
}

#[test]
fn investigation_arguments_and_timeless_records_give_errors_not_panics() {
    let upn = "notime@contoso.example";
    let records: Vec<String> = (0..3).map(|i| signin(i, upn, "not a time", "a")).collect();
    let (_keep, store) = store_with(&records);
    let (code, _, err) = run(&["investigate", "--store", path(&store), "--user", upn]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("readable time") && err.contains("--at") && !err.contains("panicked"), "{err}");
    for (flag, value) in [("--reach-hours", "99999999999"), ("--baseline-days", "-1"), ("--baseline-days", "9999999")] {
        let (code, _, err) = run(&["investigate", "--store", path(&store), "--user", upn, &format!("{flag}={value}")]);
        assert_eq!(code, 2, "{flag} {value}: {err}");
        assert!(err.contains(flag) && !err.contains("panicked"), "{err}");
    }
    let (code, _, err) = run(&[
        "investigate",
        "--store",
        path(&store),
        "--user",
        upn,
        "--at",
        "2026-03-15T11:00:00Z",
        "--reach-hours",
        "8760",
    ]);
    assert!(code <= 1 && !err.contains("panicked"), "{err}");
}
