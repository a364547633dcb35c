//! Bad input: every valid record is kept; every bad one is reported with file, position and
//! reason; unrecognised and empty files are said to be so.

use std::path::Path;

use crate::support::*;

fn signin_json(id: &str, ua: &str) -> String {
    serde_json::json!({
        "id": id, "createdDateTime": "2024-09-26T18:03:36Z", "userPrincipalName": "a@contoso.example",
        "appDisplayName": "Microsoft Graph", "ipAddress": "89.187.164.135", "userAgent": ua,
        "status": {"errorCode": 0},
    })
    .to_string()
}

fn ingest(dir: &Path) -> (i32, String, std::path::PathBuf) {
    let store = dir.join("store");
    let (code, out, err) = run(&["ingest", path(&dir.join("in")), "--store", path(&store)]);
    assert!(err.is_empty() || !err.contains("panicked"), "{err}");
    (code, out, store)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    let p = dir.join("in").join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

fn line_of<'a>(out: &'a str, name: &str) -> &'a str {
    out.lines().find(|l| l.contains(name)).unwrap_or_else(|| panic!("{name} not in:\n{out}"))
}

#[test]
fn truncated_json_keeps_the_records_before_the_cut() {
    let t = temp();
    let page =
        format!("{{\"value\":[\n{},\n{},\n{{\"id\":\"3\",\"createdDa", signin_json("1", "a"), signin_json("2", "b"));
    write(t.path(), "truncated.json", page.as_bytes());
    let (code, out, store) = ingest(t.path());
    assert_eq!(code, 1, "{out}");
    assert!(line_of(&out, "truncated.json").starts_with("PARTIAL"), "{out}");
    assert!(out.contains("record 3: the file ends inside this record"), "{out}");
    assert_eq!(count(&store, "SELECT count(*) FROM signins"), 2);
}

#[test]
fn a_bad_json_line_costs_only_that_line() {
    let t = temp();
    let mut text = Vec::new();
    text.extend(signin_json("1", "a").as_bytes());
    text.extend(b"\n{\"id\": \"2\", \"userAgent\": \"\xff\xfe broken\"}\n");
    text.extend(signin_json("3", "c").as_bytes());
    text.extend(b"\n{not json}\n");
    write(t.path(), "lines.jsonl", &text);
    let (code, out, store) = ingest(t.path());
    assert_eq!(code, 1);
    assert!(out.contains("line 2: invalid UTF-8"), "{out}");
    assert!(out.contains("line 4: invalid JSON"), "{out}");
    assert_eq!(count(&store, "SELECT count(*) FROM signins"), 2);
}

#[test]
fn utf16_csv_with_embedded_newlines_quotes_and_a_huge_field() {
    let t = temp();
    let huge = "x".repeat(3_000_000);
    let csv = format!(
        "Id,CreatedDateTime,UserPrincipalName,AppDisplayName,IPAddress,ResultType,UserAgent,UserDisplayName\r\n\
         1,2024-09-26T18:03:36Z,A@Contoso.example,Office,1.2.3.4,0,\"multi\nline \"\"quoted\"\", agent\",\"Doe, Jane\"\r\n\
         2,2024-09-26T18:04:36Z,b@contoso.example,Office,1.2.3.5,50126,{huge},Bob\r\n"
    );
    let utf16: Vec<u8> = [0xff, 0xfe].into_iter().chain(csv.encode_utf16().flat_map(u16::to_le_bytes)).collect();
    write(t.path(), "export.csv", &utf16);
    let (code, out, store) = ingest(t.path());
    assert_eq!(code, 0, "{out}");
    assert!(line_of(&out, "export.csv").contains("[UTF-16]"), "{out}");
    let rows =
        query(&store, "SELECT user_agent, user_display_name, length(user_agent) AS n FROM signins ORDER BY record_id");
    assert_eq!(rows[0]["user_agent"], "multi\nline \"quoted\", agent");
    assert_eq!(rows[0]["user_display_name"], "Doe, Jane");
    assert_eq!(rows[1]["n"], 3_000_000);
}

#[test]
fn missing_unknown_and_short_fields() {
    let t = temp();
    let csv = "Id,CreatedDateTime,UserPrincipalName,AppDisplayName,IPAddress,ResultType,SomethingNew\n\
               1,2024-09-26T18:03:36Z,a@contoso.example,Office,1.2.3.4,0,whatever\n\
               2,not a time,a@contoso.example,Office,1.2.3.4,0,x\n\
               3,2024-09-26T18:03:36Z,a@contoso.example\n\
               ,2024-09-26T18:05:36Z,a@contoso.example,Office,1.2.3.4,0,x\n";
    write(t.path(), "fields.csv", csv.as_bytes());
    let (code, out, store) = ingest(t.path());
    assert_eq!(code, 1, "{out}");
    // The short row is reported with its line; the row without a time is kept and flagged;
    // the row without an id gets a stable derived id.
    assert!(out.contains("line 4: row has 3 fields, the header has 7"), "{out}");
    assert!(out.contains("line 3: kept without a time"), "{out}");
    assert_eq!(count(&store, "SELECT count(*) FROM signins"), 3);
    assert_eq!(count(&store, "SELECT count(*) FROM signins WHERE record_id LIKE 'derived:%'"), 1);
}

#[test]
fn empty_binary_and_foreign_files_are_called_what_they_are() {
    let t = temp();
    write(t.path(), "empty.json", b"");
    write(t.path(), "blank.csv", b"\n\n");
    write(t.path(), "picture.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0");
    write(t.path(), "other.json", br#"[{"EventID": 4624, "Computer": "dc01"}]"#);
    write(t.path(), "good.json", signin_json("1", "a").as_bytes());
    let (code, out, _) = ingest(t.path());
    assert_eq!(code, 1, "{out}");
    assert!(line_of(&out, "empty.json").starts_with("EMPTY"), "{out}");
    assert!(line_of(&out, "empty.json").contains("no records at all"), "{out}");
    assert!(line_of(&out, "blank.csv").starts_with("EMPTY"), "{out}");
    assert!(line_of(&out, "picture.png").starts_with("unrecognised"), "{out}");
    assert!(line_of(&out, "other.json").starts_with("unrecognised"), "{out}");
    assert!(line_of(&out, "good.json").starts_with("ok"), "{out}");
}

#[test]
fn duplicated_records_within_and_across_files_are_stored_once() {
    let t = temp();
    let one = signin_json("same-id", "a");
    write(t.path(), "a.json", format!("[{one},{one}]").as_bytes());
    write(t.path(), "b.jsonl", format!("{one}\n{}\n", signin_json("other", "b")).as_bytes());
    let (code, out, store) = ingest(t.path());
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("{:<26} {:>12} {:>12}", "signins", 2, 2)), "{out}");
    assert_eq!(count(&store, "SELECT count(*) FROM signins"), 2);
}

#[test]
fn hostile_text_is_stored_verbatim_and_printed_safely() {
    let t = temp();
    write(t.path(), "evil.json", signin_json("1", "=cmd|'/c calc'!A1 \u{1b}[2J<script>alert(1)</script>").as_bytes());
    let (_, _, store) = ingest(t.path());
    let (_, table, _) = run(&["sql", "--store", path(&store), "SELECT user_agent FROM signins"]);
    assert!(!table.contains('\u{1b}'), "escape reached the terminal: {table:?}");
    assert!(table.contains("\\u{1b}[2J"), "{table}");
    let (_, csv, _) = run(&["sql", "--store", path(&store), "--format", "csv", "SELECT user_agent FROM signins"]);
    assert!(csv.lines().nth(1).unwrap().starts_with("'=cmd"), "{csv}");
    let json = query(&store, "SELECT user_agent FROM signins");
    assert_eq!(json[0]["user_agent"], "=cmd|'/c calc'!A1 \u{1b}[2J<script>alert(1)</script>");
}
