//! The HTML report in a real browser (Debian's headless Chromium): log values written to
//! attack the page (script tags, event handlers, `javascript:` links in user agents, display
//! names, device names and inbox-rule names) stay text, and a real report is photographed.
//!
//! Chromium is found as `$SLEUTH_CHROMIUM`, else `chromium` on the PATH; `scripts/test`
//! installs Debian's package when it is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::*;

/// Each payload, if it ran, would mark the page in a way `--dump-dom` shows. They hold no
/// double quote, so they go into CSV and JSON exports unescaped.
const SCRIPT: &str = "<script>document.title='PWNED'</script>";
const HANDLER: &str = "<img src=x onerror=document.body.setAttribute('data-pwned','1')>";
const LINK: &str = "<a href=javascript:document.title='PWNED'>open</a>";

pub(crate) fn chromium() -> PathBuf {
    installed("SLEUTH_CHROMIUM", "chromium", "chromium")
}

/// Headless Chromium on a local file, as this machine allows it (no sandbox as root, no
/// network, a fresh profile).
fn browse(page: &Path, profile: &Path, what: &[&str]) -> String {
    browse_url(&format!("file://{}", page.display()), profile, what)
}

/// Headless Chromium on any address (a file, or the workbench on loopback).
pub(crate) fn browse_url(url: &str, profile: &Path, what: &[&str]) -> String {
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(what)
        .arg(url)
        .output()
        .expect("chromium runs");
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A copy of the test tenant's export whose token-theft story carries the payloads: in the
/// actor's user agents, the display names and device names of its sign-ins, and the names
/// of every inbox rule.
pub(crate) fn hostile_export(dir: &Path, user: &str, ips: &[&str]) {
    copy_dir(&demo().dir, dir);
    let mut poisoned = 0;
    for page in std::fs::read_dir(dir.join("signins")).unwrap().map(|e| e.unwrap().path()) {
        if page.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&page).unwrap()).unwrap();
        for s in doc["value"].as_array_mut().unwrap() {
            let actor = s["userPrincipalName"].as_str().is_some_and(|u| u.eq_ignore_ascii_case(user))
                && s["ipAddress"].as_str().is_some_and(|ip| ips.contains(&ip));
            if actor {
                let agent = format!("{} {SCRIPT}{HANDLER}{LINK}", s["userAgent"].as_str().unwrap_or(""));
                s["userAgent"] = Value::from(agent);
                s["userDisplayName"] = Value::from(format!("Eve {SCRIPT}"));
                s["deviceDetail"]["displayName"] = Value::from(format!("PC {HANDLER}"));
                poisoned += 1;
            }
        }
        std::fs::write(&page, serde_json::to_string(&doc).unwrap()).unwrap();
    }
    assert!(poisoned > 0, "the story's sign-ins are in the Graph pages");
    let ual = dir.join("ual/AuditLog_admin_legacy.csv");
    let text = std::fs::read_to_string(&ual).unwrap();
    let rule = replace_between(&text, r##"{""Name"":""Name"",""Value"":"""##, "\"\"}", &format!("Rule {SCRIPT}{LINK}"));
    assert_ne!(rule, text, "inbox rules named in the unified audit log");
    std::fs::write(&ual, rule).unwrap();
}

/// Replaces every value between `open` and the next `close`.
fn replace_between(text: &str, open: &str, close: &str, with: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(open) {
        let value = at + open.len();
        let Some(end) = rest[value..].find(close) else { break };
        out.push_str(&rest[..value]);
        out.push_str(with);
        rest = &rest[value + end..];
    }
    out.push_str(rest);
    out
}

#[test]
fn hostile_log_values_stay_text_in_a_real_browser() {
    intel_dir();
    let dir = temp();
    let s = story("token-theft-bec");
    let user = s["user"].as_str().unwrap();
    let ips: Vec<&str> = s["ips"].as_array().unwrap().iter().map(|i| i.as_str().unwrap()).collect();
    let export = dir.path().join("export");
    hostile_export(&export, user, &ips);
    let store = dir.path().join("store");
    let (code, out, err) = run(&["ingest", path(&export), "--store", path(&store), "--quiet"]);
    assert_eq!(code, 0, "{out}{err}");
    let page = dir.path().join("report.html");
    let at = s["start"].as_str().unwrap();
    let (code, _, err) =
        run(&["investigate", "--store", path(&store), "--user", user, "--at", at, "-f", "html", "-o", path(&page)]);
    assert_eq!(code, 1, "{err}");
    let html = std::fs::read_to_string(&page).unwrap();
    // The payloads reached the report (as text) in the IOC tables, the timeline and the raw records.
    for payload in [SCRIPT, HANDLER, LINK] {
        let shown = html.matches(&sleuth_escape(payload)).count();
        assert!(shown >= 2, "{payload} shown {shown} times, escaped");
    }
    assert!(html.contains("Rule &lt;script&gt;"), "the inbox rule's name is shown");

    let dom = browse(&page, &dir.path().join("profile"), &["--dump-dom"]);
    assert!(dom.contains("<h2>Raw records</h2>"), "the page loaded: {}", &dom[..dom.len().min(400)]);
    assert!(!dom.contains("data-pwned=\"1\""), "an event handler ran");
    let title = &dom[dom.find("<title>").unwrap()..dom.find("</title>").unwrap()];
    assert!(!title.contains("PWNED"), "a script ran: {title}");
    for element in ["<script", "<img", "href=\"javascript"] {
        assert!(!dom.contains(element), "{element} became an element of the page");
    }
    assert!(dom.contains("&lt;script&gt;document.title='PWNED'&lt;/script&gt;"), "the payload is text in the DOM");
}

fn sleuth_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

#[test]
fn a_real_report_is_drawn_and_photographed() {
    intel_dir();
    let dir = temp();
    let s = story("token-theft-bec");
    let page = dir.path().join("report.html");
    let store = path(&demo().store);
    let user = s["user"].as_str().unwrap();
    let (code, _, err) = run(&[
        "investigate",
        "--store",
        store,
        "--user",
        user,
        "--at",
        s["start"].as_str().unwrap(),
        "-f",
        "html",
        "-o",
        path(&page),
    ]);
    assert_eq!(code, 1, "{err}");
    let html = std::fs::read_to_string(&page).unwrap();
    for external in ["src=\"http", "href=\"http", "url(", "@import"] {
        assert!(!html.contains(external), "self-contained: {external} found");
    }
    assert!(
        html.contains("aria-label=\"timeline\"") && html.contains("<rect class=\"actor\""),
        "the timeline is drawn"
    );
    assert!(html.contains("aria-label=\"map\"") && html.contains("<circle class=\"actor\""), "the actor is on the map");
    let first_link = html.find("<a href=\"#r").expect("evidence links to raw records");
    let target = &html[first_link + 10..html[first_link..].find("\">").unwrap() + first_link];
    assert!(html.contains(&format!("<details id=\"{target}\">")), "link #{target} has its record");

    let shot_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&shot_dir).unwrap();
    let shot = shot_dir.join("investigation-report.png");
    let _ = std::fs::remove_file(&shot);
    browse(
        &page,
        &dir.path().join("profile"),
        &["--window-size=1280,2400", &format!("--screenshot={}", shot.display())],
    );
    let png = std::fs::read(&shot).expect("the screenshot was written");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((width, height), (1280, 2400));
    assert!(png.len() > 50_000, "a drawn page, not a blank one ({} bytes)", png.len());
}
