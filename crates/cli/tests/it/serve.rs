//! `sleuth serve` over a real socket: the API, the case record across a restart, the same
//! verdicts as the CLI, and the guard (foreign Host, forms, tokens, read-only SQL).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use serde_json::{Value, json};

use crate::support::*;

/// A running `sleuth serve`, stopped when dropped.
struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(store: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
    let mut command = sleuth();
    command.args(["serve", "--store", path(store), "--bind", "127.0.0.1:0"]).args(extra);
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr =
        line.trim().strip_prefix("listening on http://").unwrap_or_else(|| panic!("first line: {line:?}")).to_string();
    Server { child, addr }
}

/// One HTTP/1.1 exchange: status, headers (lower-case names), body.
fn http(addr: &str, method: &str, target: &str, headers: &[(&str, &str)], body: Option<&str>) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    let mut request = format!("{method} {target} HTTP/1.1\r\nConnection: close\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        request.push_str(&format!("Host: {addr}\r\n"));
    }
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    let body = body.unwrap_or("");
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, rest) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    // Bodies come whole or chunked; a chunked one is put back together.
    let body =
        if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { unchunk(rest) } else { rest.to_string() };
    (status, head.to_ascii_lowercase(), body)
}

fn unchunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&tail[..n]);
        rest = &tail[n + 2..];
    }
    out
}

fn get(addr: &str, target: &str) -> (u16, Value) {
    let (status, _, body) = http(addr, "GET", target, &[], None);
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn post(addr: &str, target: &str, body: &Value) -> (u16, Value) {
    let (status, _, text) =
        http(addr, "POST", target, &[("Content-Type", "application/json")], Some(&body.to_string()));
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The demo store, copied: the workbench writes its case record beside the tables.
fn demo_store(dir: &Path) -> std::path::PathBuf {
    let to = dir.join("store");
    copy(&demo().store, &to);
    to
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy(&entry.path(), &target)
        } else {
            std::fs::copy(entry.path(), &target).map(|_| ()).unwrap()
        }
    }
}

fn cli_verdict(store: &Path, args: &[&str]) -> String {
    let mut all = vec!["investigate", "--store", path(store), "--format", "json"];
    all.extend(args);
    let (_, out, err) = run(&all);
    let report: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {err}"));
    report["verdict"].as_str().unwrap().to_string()
}

#[test]
fn the_workbench_investigates_as_the_cli_does_and_keeps_its_case_record_across_a_restart() {
    let dir = temp();
    let store = demo_store(dir.path());
    let server = serve(&store, &[], &[]);
    let addr = server.addr.clone();

    let (status, spec) = get(&addr, "/openapi.json");
    assert_eq!(status, 200);
    for route in [
        "/api/incidents",
        "/api/investigations",
        "/api/investigations/{id}/notes",
        "/api/investigations/{id}/verdict",
        "/api/sql",
        "/api/entities/{kind}/{value}",
    ] {
        assert!(spec["paths"].get(route).is_some(), "{route} is not in the OpenAPI document");
    }

    let (status, queue) = get(&addr, "/api/incidents");
    assert_eq!(status, 200, "{queue}");
    let incidents = queue["incidents"].as_array().unwrap();
    let top = incidents.iter().find(|i| i["kind"] == "user").expect("an account incident");
    let id = top["id"].as_str().unwrap();
    let user = top["users"][0].as_str().unwrap();

    // An incident and an account, each with the CLI's verdict.
    let (status, by_incident) = post(&addr, "/api/investigations", &json!({"incident": id, "author": "ana"}));
    assert_eq!(status, 201, "{by_incident}");
    assert_eq!(by_incident["verdict"].as_str().unwrap(), cli_verdict(&store, &["--alert", id]));
    let (status, by_user) = post(&addr, "/api/investigations", &json!({"user": user}));
    assert_eq!(status, 201, "{by_user}");
    assert_eq!(by_user["verdict"].as_str().unwrap(), cli_verdict(&store, &["--user", user]));
    let report = by_incident["id"].as_str().unwrap().to_string();

    // A note, a verdict override with its reason, a status.
    let (status, _) = post(
        &addr,
        &format!("/api/investigations/{report}/notes"),
        &json!({"text": "Called the user: not them.", "author": "ana"}),
    );
    assert_eq!(status, 201);
    let (status, set) = post(
        &addr,
        &format!("/api/investigations/{report}/verdict"),
        &json!({"verdict": "true_positive", "reason": "confirmed by phone", "author": "ana"}),
    );
    assert_eq!(status, 200, "{set}");
    let (status, bad) =
        post(&addr, &format!("/api/investigations/{report}/verdict"), &json!({"verdict": "maybe", "reason": "x"}));
    assert_eq!(status, 400);
    assert!(bad["error"]["message"].as_str().unwrap().contains("true_positive"), "{bad}");
    let (status, _) =
        post(&addr, &format!("/api/incidents/{id}"), &json!({"status": "investigating", "assignee": "ana"}));
    assert_eq!(status, 200);
    drop(server);

    // Restarted: all of it is still there, with who did it.
    let server = serve(&store, &[], &[]);
    let addr = server.addr.clone();
    let (status, again) = get(&addr, &format!("/api/investigations/{report}"));
    assert_eq!(status, 200);
    assert_eq!(again["case"]["notes"][0]["text"], "Called the user: not them.");
    assert_eq!(again["case"]["notes"][0]["who"], "ana");
    assert_eq!(again["case"]["verdict_override"]["reason"], "confirmed by phone");
    assert_eq!(again["standing_verdict"], "true_positive");
    let actions: Vec<&str> = again["audit"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["investigated", "note", "verdict"]);
    let (_, queue) = get(&addr, "/api/incidents?status=investigating");
    assert_eq!(queue["incidents"][0]["id"], id);
    assert_eq!(queue["incidents"][0]["assignee"], "ana");
    // The report to take away carries the case record.
    let (status, _, md) = http(&addr, "GET", &format!("/api/investigations/{report}/report?format=md"), &[], None);
    assert_eq!(status, 200);
    assert!(md.contains("## Case record") && md.contains("Called the user: not them."), "{md}");
    // The page shows the account and the note.
    let (status, head, page) = http(&addr, "GET", &format!("/investigations/{report}"), &[], None);
    assert_eq!(status, 200);
    assert!(head.contains("content-security-policy: default-src 'none'; script-src 'self'"), "{head}");
    assert!(page.contains("Called the user: not them.") && page.contains(user), "{page}");

    // Pivots and SQL.
    let (status, pivot) = get(&addr, &format!("/api/entities/user/{user}"));
    assert_eq!(status, 200);
    assert!(
        pivot["found"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["table"] == "signins" && f["records"].as_i64().unwrap() > 0),
        "{pivot}"
    );
    let (status, rows) = post(&addr, "/api/sql", &json!({"sql": "SELECT count(*) AS n FROM signins"}));
    assert_eq!(status, 200, "{rows}");
    assert!(rows["rows"][0]["n"].as_i64().unwrap() > 0);
}

#[test]
fn the_guard_refuses_foreign_hosts_forms_writes_and_requests_without_the_token() {
    let dir = temp();
    let store = demo_store(dir.path());
    let server = serve(&store, &[], &[]);
    let addr = server.addr.clone();
    // DNS rebinding: a page of another site that resolves to this address.
    let (status, _, body) = http(&addr, "GET", "/api/incidents", &[("Host", "evil.example:8750")], None);
    assert_eq!(status, 421, "{body}");
    assert!(body.contains("\"code\":\"wrong_host\""), "{body}");
    // A cross-site form cannot post JSON; the server wants nothing else.
    let (status, _, body) = http(
        &addr,
        "POST",
        "/api/sql",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        Some("sql=SELECT%201"),
    );
    assert_eq!(status, 415, "{body}");
    // SQL is read-only.
    for statement in [
        "DROP TABLE signins",
        "COPY (SELECT 1) TO '/tmp/x.csv'",
        "CREATE EXTERNAL TABLE x STORED AS CSV LOCATION '/etc/passwd'",
    ] {
        let (status, answer) = post(&addr, "/api/sql", &json!({"sql": statement}));
        assert_eq!(status, 400, "{statement}: {answer}");
        assert!(answer["error"]["message"].as_str().unwrap().contains("not allowed"), "{answer}");
    }
    let (status, answer) = get(&addr, "/no/such/thing");
    assert_eq!((status, answer["error"]["code"].as_str()), (404, Some("not_found")));
    drop(server);

    // Anywhere but loopback needs a token.
    let (code, _, err) = run(&["serve", "--store", path(&store), "--bind", "0.0.0.0:0"]);
    assert_eq!(code, 2);
    assert!(err.contains("needs a token"), "{err}");

    // With a token: 401 without it, in with it, and a browser signs in for a cookie.
    let token = "a-long-workbench-token-0123456789";
    let server = serve(&store, &["--token-env", "SLEUTH_TEST_TOKEN"], &[("SLEUTH_TEST_TOKEN", token)]);
    let addr = server.addr.clone();
    let (status, head, _) = http(&addr, "GET", "/api/incidents", &[], None);
    assert_eq!(status, 401);
    assert!(head.contains("www-authenticate: bearer"), "{head}");
    let (status, _, _) =
        http(&addr, "GET", "/api/incidents", &[("Authorization", "Bearer wrong-token-of-some-length")], None);
    assert_eq!(status, 401);
    let bearer = format!("Bearer {token}");
    let (status, _, _) = http(&addr, "GET", "/api/incidents", &[("Authorization", &bearer)], None);
    assert_eq!(status, 200);
    let (status, head, _) = http(
        &addr,
        "POST",
        "/api/session",
        &[("Content-Type", "application/json")],
        Some(&json!({"token": token}).to_string()),
    );
    assert_eq!(status, 200);
    assert!(
        head.contains("set-cookie: sleuth_session=") && head.contains("httponly") && head.contains("samesite=strict"),
        "{head}"
    );
    let cookie = format!("sleuth_session={token}");
    let (status, _, _) = http(&addr, "GET", "/", &[("Cookie", &cookie)], None);
    assert_eq!(status, 200);
}

/// The pages in a real browser (Debian's headless Chromium): the queue shows the top
/// incident's account, and an investigation page whose note and case fields carry script
/// payloads runs none of them (the DOM after scripts ran has no trace of them) while showing
/// them as text.
#[test]
fn the_pages_render_in_chromium_and_log_or_analyst_text_runs_nothing() {
    use crate::report_html::browse_url;
    let dir = temp();
    let store = demo_store(dir.path());
    let server = serve(&store, &[], &[]);
    let addr = server.addr.clone();
    let profile = dir.path().join("profile");
    let (_, queue) = get(&addr, "/api/incidents");
    let top = queue["incidents"].as_array().unwrap().iter().find(|i| i["kind"] == "user").unwrap().clone();
    let user = top["users"][0].as_str().unwrap();
    let dom = browse_url(&format!("http://{addr}/"), &profile, &["--dump-dom", "--virtual-time-budget=3000"]);
    assert!(dom.contains(user), "the queue shows {user}");

    let (_, report) = post(&addr, "/api/investigations", &json!({"incident": top["id"]}));
    let id = report["id"].as_str().unwrap();
    let script = "<script>document.title='PWNED'</script>";
    let handler = "<img src=x onerror=document.body.setAttribute('data-pwned','1')>";
    post(
        &addr,
        &format!("/api/investigations/{id}/notes"),
        &json!({"text": format!("{script} {handler} \u{202e}gnp.exe")}),
    );
    post(&addr, &format!("/api/investigations/{id}/case"), &json!({"tags": [handler], "assignee": script}));
    let dom = browse_url(
        &format!("http://{addr}/investigations/{id}"),
        &profile,
        &["--dump-dom", "--virtual-time-budget=3000"],
    );
    // Had a payload run, the title would be PWNED or the body would carry data-pwned="1"; had
    // markup become elements, an <img src="x"> would be in the DOM.
    assert!(!dom.contains("<title>PWNED") && !dom.contains("data-pwned=\"1\""), "a payload ran: {dom}");
    assert!(!dom.contains("<img src=\"x\""), "markup from a note became an element");
    assert!(dom.contains("&lt;script&gt;document.title='PWNED'&lt;/script&gt;"), "the note is shown as text");
    assert!(dom.contains("\\u{202e}") && !dom.contains('\u{202e}'), "a bidi override is shown, not obeyed");
    assert!(dom.contains(user));
}

/// The queue sorts and filters as asked (and says so when it cannot); an uploaded alert must
/// name something, and a body past the limit is refused with 413 in the one error shape.
#[test]
fn the_queue_sorts_and_filters_and_an_alert_must_name_someone() {
    let dir = temp();
    let store = demo_store(dir.path());
    let server = serve(&store, &[], &[]);
    let addr = server.addr.clone();

    let (_, ranked) = get(&addr, "/api/incidents");
    let (status, latest) = get(&addr, "/api/incidents?sort=last_seen");
    assert_eq!(status, 200);
    let seen: Vec<&str> =
        latest["incidents"].as_array().unwrap().iter().map(|i| i["last_seen"].as_str().unwrap()).collect();
    assert!(seen.windows(2).all(|w| w[0] >= w[1]), "latest first");
    assert_eq!(seen.len(), ranked["incidents"].as_array().unwrap().len(), "sorting keeps every incident");
    let (_, high) = get(&addr, "/api/incidents?severity=high&status=&user=&sort=");
    let high = high["incidents"].as_array().unwrap();
    assert!(!high.is_empty() && high.iter().all(|i| ["high", "critical"].contains(&i["severity"].as_str().unwrap())));
    let (status, refused) = get(&addr, "/api/incidents?sort=colour");
    assert_eq!(status, 400);
    assert!(refused["error"]["message"].as_str().unwrap().contains("last_seen"), "{refused}");

    let (status, nobody) = post(&addr, "/api/investigations", &json!({"alert": {"title": "Suspicious thing"}}));
    assert_eq!(status, 400);
    assert!(nobody["error"]["message"].as_str().unwrap().contains("names no account"), "{nobody}");
    let (status, absent) = post(
        &addr,
        "/api/investigations",
        &json!({"alert": {"userPrincipalName": "nobody@elsewhere.example", "activityDateTime": "2026-01-01T00:00:00Z"}}),
    );
    assert_eq!(status, 404, "{absent}");
    assert!(absent["error"]["message"].as_str().unwrap().contains("nobody@elsewhere.example"), "{absent}");
    let (status, both) = post(&addr, "/api/investigations", &json!({"user": "a@b.c", "alert": {}}));
    assert_eq!(status, 400, "{both}");

    let huge = json!({"text": "x".repeat(300 * 1024)}).to_string();
    let (status, _, body) =
        http(&addr, "POST", "/api/investigations/none/notes", &[("Content-Type", "application/json")], Some(&huge));
    assert_eq!(status, 413, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["error"]["code"], "too_large");
}

/// Whether anything written into the logs or the case record ran or became markup: a script
/// payload would retitle the page, a handler would mark the body, markup would add elements.
const PWNED: &str = "return document.title.includes('PWNED') || document.body.hasAttribute('data-pwned') \
    || document.querySelectorAll('img[src=x], script:not([src=\"/workbench.js\"]), a[href^=\"javascript\"]').length > 0";

/// The workbench as an analyst uses it, in a real browser driven by WebDriver, on a store
/// whose attacker wrote script into user agents, display names, device names and inbox-rule
/// names: the queue filtered to the account, an incident opened, the timeline zoomed and a
/// mark followed to its raw record, a pivot on the actor's address, a note that survives a
/// reload, and an exported alert uploaded with the CLI's verdict. Nothing from the logs runs.
/// With `SLEUTH_SCREENSHOTS=DIR` the pages are photographed into DIR (the docs' images).
#[test]
fn an_analyst_works_an_incident_in_a_real_browser_and_nothing_from_the_logs_runs() {
    use crate::webdriver::Browser;
    let dir = temp();
    let s = story("token-theft-bec");
    let user = s["user"].as_str().unwrap();
    let ips: Vec<&str> = s["ips"].as_array().unwrap().iter().map(|i| i.as_str().unwrap()).collect();
    let export = dir.path().join("export");
    crate::report_html::hostile_export(&export, user, &ips);
    let store = dir.path().join("store");
    let (code, out, err) = run(&["ingest", path(&export), "--store", path(&store), "--quiet"]);
    assert_eq!(code, 0, "{out}{err}");
    let server = serve(&store, &[], &[]);
    let base = format!("http://{}", server.addr);
    let shots = std::env::var_os("SLEUTH_SCREENSHOTS").map_or_else(|| dir.path().join("shots"), PathBuf::from);
    std::fs::create_dir_all(&shots).unwrap();
    let photograph = |browser: &Browser, name: &str| {
        let png = browser.screenshot();
        assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "{name}: a real picture");
        std::fs::write(shots.join(name), png).unwrap();
    };
    let browser = Browser::start(&dir.path().join("profile"));

    // The queue, filtered to the account by its form.
    browser.goto(&format!("{base}/"));
    browser.wait(120, "the queue", "return document.querySelector('#queue') !== null");
    photograph(&browser, "serve-queue.png");
    browser.type_into("#filters input[name=user]", user);
    browser.click("#filters button[type=submit]");
    let rows = browser.wait(
        60,
        "the filtered queue",
        "return location.search.includes('user=') && [...document.querySelectorAll('#queue tbody tr')].map(r => r.textContent)",
    );
    let rows = rows.as_array().unwrap();
    assert!(!rows.is_empty(), "the account has incidents");
    assert!(rows.iter().all(|r| r.as_str().unwrap().contains(user)), "only the account's incidents: {rows:?}");
    assert_eq!(browser.run(PWNED, json!([])), false, "nothing ran on the queue");

    // An incident opened: the investigation's verdict, timeline, map and pivots.
    browser.click("#queue tbody tr:first-child button[data-action=investigate-incident]");
    browser.wait(
        300,
        "the investigation",
        "return location.pathname.startsWith('/investigations/') && document.querySelector('#verdict')",
    );
    let id = browser.url().rsplit('/').next().unwrap().to_string();
    let (_, kept) = get(&server.addr, &format!("/api/investigations/{id}"));
    assert_eq!(browser.text("#verdict"), kept["verdict"].as_str().unwrap());
    assert_eq!(browser.text("#subject"), user);
    let marks = browser.run("return document.querySelectorAll('#timeline svg a').length", json!([]));
    assert!(marks.as_u64().unwrap() > 0, "the timeline has marks");
    let places = browser.run("return document.querySelectorAll('#map svg circle').length", json!([]));
    assert!(places.as_u64().unwrap() > 0, "the map has places");
    let agents = browser.text("#pivots");
    assert!(agents.contains("<script>document.title='PWNED'</script>"), "the actor's agent is shown as text: {agents}");
    assert_eq!(browser.run(PWNED, json!([])), false, "nothing ran on the investigation");
    photograph(&browser, "serve-investigation.png");

    // Zoomed in, then a mark followed to the raw record behind it, in the report's frame.
    browser.click("#zoom-in");
    browser.wait(
        60,
        "the zoomed timeline",
        "return location.search.includes('from=') && document.querySelector('#timeline svg')",
    );
    browser.goto(&format!("{base}/investigations/{id}"));
    browser.wait(60, "the investigation", "return document.querySelector('#timeline svg a')");
    let record = browser.run(
        "const a = document.querySelector('#timeline svg a:last-of-type'); return a.getAttribute('href')",
        json!([]),
    );
    let anchor = record.as_str().unwrap().rsplit('#').next().unwrap().to_string();
    // The last mark: it is drawn over any it touches.
    browser.click("#timeline svg a:last-of-type rect");
    browser.frame(Some("iframe.report"));
    let shown = browser.wait(
        60,
        "the record in the report",
        &format!("return location.hash === '#{anchor}' && document.querySelector(':target') && document.querySelector(':target').textContent"),
    );
    let n: usize = anchor.trim_start_matches('r').parse().expect("the mark leads to a record");
    let record_id = kept["records"][n - 1]["record_id"].as_str().unwrap();
    assert!(shown.as_str().unwrap().contains(record_id), "the record {record_id} is shown: {shown}");
    assert_eq!(browser.run(PWNED, json!([])), false, "nothing ran in the report");
    browser.frame(None);

    // A pivot on the actor's address: every record the store holds of it.
    let ip = browser.run(
        &format!("return [...document.querySelectorAll('#pivots a.pivot')].map(a => a.textContent).find(t => {ips:?}.includes(t))"),
        json!([]),
    );
    let ip = ip.as_str().expect("the actor's address is a pivot").to_string();
    browser.click(&format!("#pivots a.pivot[href='/entities/ip/{ip}']"));
    browser.wait(60, "the address's page", "return document.querySelector('#entity')");
    assert_eq!(browser.text("#entity"), ip);
    let held = browser.run("return document.querySelectorAll('table.records tbody tr').length", json!([]));
    assert!(held.as_u64().unwrap() > 0, "the store's records of {ip}");
    assert!(browser.text("main").contains("PWNED"), "the poisoned agents are listed, as text");
    assert_eq!(browser.run(PWNED, json!([])), false, "nothing ran on the address's page");
    photograph(&browser, "serve-entity.png");

    // A note, kept across a reload; its markup stays text.
    browser.goto(&format!("{base}/investigations/{id}"));
    browser.wait(60, "the investigation", "return document.querySelector('form[data-action=note] textarea')");
    let note = "Reset the password; <img src=x onerror=document.body.setAttribute('data-pwned','1')> was in the agent";
    browser.type_into("form[data-action=note] textarea", note);
    browser.click("form[data-action=note] button[type=submit]");
    browser.wait(60, "the note", "return document.querySelector('#notes') && document.querySelector('#notes').textContent.includes('Reset the password')");
    browser.refresh();
    browser.wait(60, "the note after a reload", "return document.querySelector('#notes li')");
    assert!(browser.text("#notes").contains(note), "the note, whole, as text");
    assert_eq!(browser.run(PWNED, json!([])), false, "the note's markup did nothing");

    // An exported alert uploaded from the queue reaches the CLI's verdict for the same file.
    let mut alert: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("alerts/graph-alert-v2.json")).unwrap()).unwrap();
    alert["evidence"][0]["userAccount"]["userPrincipalName"] = json!(user);
    alert["evidence"][0]["userAccount"]["azureAdUserId"] = Value::Null;
    alert["evidence"][1]["ipAddress"] = json!(ips[0]);
    alert["firstActivityDateTime"] = s["start"].clone();
    alert["lastActivityDateTime"] = s["start"].clone();
    let file = dir.path().join("alert.json");
    std::fs::write(&file, alert.to_string()).unwrap();
    browser.goto(&format!("{base}/"));
    browser.wait(60, "the queue", "return document.querySelector('form[data-action=investigate-alert]')");
    browser.type_into("form[data-action=investigate-alert] input[type=file]", path(&file));
    browser.click("form[data-action=investigate-alert] button[type=submit]");
    browser.wait(
        300,
        "the alert's investigation",
        "return location.pathname.startsWith('/investigations/') && document.querySelector('#verdict')",
    );
    assert_eq!(browser.text("#subject"), user);
    assert_eq!(browser.text("#verdict"), cli_verdict(&store, &["--alert", path(&file)]));
}
