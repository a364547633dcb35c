//! One self-contained HTML page: no script, no external resource (a Content-Security-Policy
//! forbids both), the timeline and a world map drawn as inline SVG, and evidence tables whose
//! record links lead to the raw records at the foot of the page.
//!
//! Every value is escaped for HTML text and attributes. Anchors are numbered by the page, never
//! taken from a log, so no log value reaches a URL.
//!
//! The map's land outline is Natural Earth's 1:110m land (public domain), from the npm package
//! world-atlas 2 (ISC licence), turned into one SVG path by `scripts/world-map.py`.

use std::collections::BTreeMap;
use std::fmt::Write;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{field, list, text};

const LAND: &str = include_str!("land-110m.svgpath");

const STYLE: &str = "
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:16px 24px;color:#1d232a}
h1{font-size:22px;margin:8px 0}h2{font-size:18px;border-bottom:1px solid #d0d7de;padding-bottom:4px;margin-top:28px}
h3{font-size:15px;margin:16px 0 6px}table{border-collapse:collapse;width:100%;margin:6px 0 12px}
th,td{border:1px solid #d0d7de;padding:3px 6px;text-align:left;vertical-align:top;overflow-wrap:break-word}
th{background:#f3f5f7}.badge{display:inline-block;padding:2px 10px;border-radius:10px;color:#fff;font-weight:600}
.true_positive{background:#b42318}.true_positive_blocked{background:#c4320a}.inconclusive{background:#8a6d00}
.benign_true_positive{background:#2e7d32}.false_positive{background:#4a5560}.muted{color:#57606a}
.supporting{color:#1a7f37}.conflicting{color:#b42318}.resolved{color:#57606a;text-decoration:line-through}
details{border:1px solid #d0d7de;border-radius:4px;margin:4px 0;padding:2px 8px}summary{cursor:pointer}
pre{white-space:pre-wrap;word-break:break-all;background:#f6f8fa;padding:8px;font-size:12px}
:target{outline:2px solid #0969da}svg{width:100%;height:auto;background:#fbfcfd;border:1px solid #d0d7de}
.actor{fill:#d1242f}.owner{fill:#0969da}.baseline{fill:#8c959f}circle.owner{fill:none;stroke:#0969da;stroke-width:.7}.window{fill:#fff4d6}
.land{fill:#e6e9ec;stroke:#c4cbd3;stroke-width:.15}.grid{stroke:#e3e7eb;stroke-width:.2}
.axis{stroke:#8c959f;stroke-width:1}.lane{stroke:#eef1f4}svg text{font:11px system-ui,sans-serif;fill:#57606a}";

/// Escapes text for an HTML text node or a double-quoted attribute value
/// (`crate::text::html`).
pub fn escape(text: &str) -> String {
    crate::text::html(text)
}

fn e(value: &Value, key: &str) -> String {
    escape(&field(value, key))
}

pub fn render(report: &Value) -> String {
    let anchors = Anchors::new(report);
    let mut page = String::new();
    let w = &mut page;
    let _ = write!(
        w,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>\n",
        e(report, "title")
    );
    let verdict = field(report, "verdict");
    let class = if VERDICTS.contains(&verdict.as_str()) { verdict.as_str() } else { "inconclusive" };
    let _ = writeln!(w, "<h1>{}</h1>", e(report, "title"));
    let _ = writeln!(
        w,
        "<p><span class=\"badge {class}\">{}</span> confidence <b>{}</b> · escalation: {}</p>",
        escape(&verdict),
        e(report, "confidence"),
        e(report, "escalation")
    );
    let tags: Vec<String> = list(report, "tags").iter().map(|t| format!("<code>{}</code>", escape(&text(t)))).collect();
    if !tags.is_empty() {
        let _ = writeln!(w, "<p>Tags: {}</p>", tags.join(" "));
    }
    let _ = writeln!(w, "<p>{}</p>", e(report, "summary"));
    let subject = &report["subject"];
    let _ = writeln!(
        w,
        "<p class=\"muted\">Subject <b>{}</b> · window {} to {} ({}) · report {}</p>",
        e(subject, "user"),
        e(subject, "start"),
        e(subject, "end"),
        e(subject, "window_from"),
        e(report, "id")
    );
    items(w, "Verdict reasoning", list(report, "verdict_reasoning"), "ol");

    let _ = writeln!(w, "<h2>Timeline</h2>");
    timeline_drawing(w, report);
    timeline_table(w, list(report, "timeline"), &anchors);

    let _ = writeln!(w, "<h2>Where the sign-ins came from</h2>");
    map(w, list(report, "locations"));

    let _ = writeln!(w, "<h2>The questions we asked</h2>");
    for (i, q) in list(report, "questions").iter().enumerate() {
        question(w, q, i + 1, &anchors);
    }
    let pivots = list(report, "key_pivots");
    if !pivots.is_empty() {
        let _ = writeln!(w, "<h2>Key pivots</h2><ul>");
        for p in pivots {
            let _ = writeln!(
                w,
                "<li><code>{}</code> found by {} led to {}</li>",
                e(p, "fact"),
                e(p, "found_by"),
                e(p, "led_to")
            );
        }
        let _ = writeln!(w, "</ul>");
    }

    let iocs = &report["iocs"];
    let _ = writeln!(w, "<h2>Indicators of compromise</h2>");
    table(
        w,
        "Addresses",
        list(iocs, "ips"),
        &[
            "ip",
            "country",
            "city",
            "asn",
            "provider",
            "class",
            "sign_ins",
            "successes",
            "accounts_tried",
            "first_seen",
            "last_seen",
        ],
    );
    table(w, "User agents", list(iocs, "user_agents"), &["user_agent", "class", "sign_ins", "first_seen"]);
    table(w, "Devices", list(iocs, "devices"), &["device", "os", "browser", "sign_ins", "first_seen"]);
    table(w, "Mail recipients", list(iocs, "mail_recipients"), &["recipient", "messages", "subjects", "first_seen"]);
    table(
        w,
        "Inbox rules and forwarding",
        list(iocs, "inbox_rules"),
        &["time", "operation", "rule_name", "rule_keywords", "move_to_folder", "forward_to", "client_ip"],
    );
    let _ = writeln!(w, "<h2>MITRE ATT&amp;CK and detection opportunities</h2>");
    table(w, "Techniques", list(report, "mitre"), &["id", "name", "tactic"]);
    table(
        w,
        "Detection opportunities",
        list(report, "detection_opportunities"),
        &["name", "technique", "tactic", "context"],
    );
    items(w, "Lessons", list(report, "lessons"), "ol");
    items(w, "Containment", list(report, "containment"), "ol");

    let m = &report["metrics"];
    let _ = writeln!(w, "<h2>Metrics</h2><ul>");
    let _ = writeln!(w, "<li>Questions asked: {}</li>", e(m, "questions_asked"));
    let _ = write!(w, "<li>Records analysed: {}<ul>", e(m, "records_total"));
    if let Some(by) = m["records_analyzed"].as_object() {
        for (source, n) in by {
            let _ = write!(w, "<li>{}: {}</li>", escape(source), escape(&text(n)));
        }
    }
    let _ = writeln!(w, "</ul></li><li>Investigation time: {} ms</li>", e(m, "duration_ms"));
    let _ = writeln!(
        w,
        "<li>Analyst time saved (estimate): ~{} minutes. {}</li></ul>",
        e(m, "analyst_minutes_saved"),
        e(m, "estimate_assumptions")
    );
    records(w, list(report, "records"));
    let _ = writeln!(w, "</body></html>");
    page
}

const VERDICTS: [&str; 5] =
    ["true_positive", "true_positive_blocked", "benign_true_positive", "false_positive", "inconclusive"];

/// Page anchors of the raw records (`r1`, `r2` ...) by record id.
struct Anchors(BTreeMap<String, usize>);

impl Anchors {
    fn new(report: &Value) -> Anchors {
        Anchors(list(report, "records").iter().enumerate().map(|(i, r)| (field(r, "record_id"), i + 1)).collect())
    }

    /// Links to the records of `ids`, the first `shown` of them, then how many more.
    fn links(&self, ids: &[Value], shown: usize) -> String {
        let mut out = Vec::new();
        for id in ids.iter().take(shown) {
            match self.0.get(&text(id)) {
                Some(n) => out.push(format!("<a href=\"#r{n}\">r{n}</a>")),
                None => out.push(format!("<span class=\"muted\">{}</span>", escape(&text(id)))),
            }
        }
        if ids.len() > shown {
            out.push(format!("+{} more", ids.len() - shown));
        }
        out.join(" ")
    }
}

fn question(w: &mut String, q: &Value, number: usize, anchors: &Anchors) {
    let routine = field(q, "group") == "routine";
    let _ = writeln!(
        w,
        "<details{}><summary><b>Q{number}: {}</b> — {}{}</summary>",
        if routine { "" } else { " open" },
        e(q, "title"),
        e(q, "conclusion"),
        if routine { " <span class=\"muted\">(routine check)</span>" } else { "" }
    );
    let because = list(q, "asked_because");
    if !because.is_empty() {
        let facts: Vec<String> = because.iter().map(|f| format!("<code>{}</code>", escape(&text(f)))).collect();
        let _ = writeln!(w, "<p class=\"muted\">Asked because of {}.</p>", facts.join(", "));
    }
    let _ = writeln!(w, "<table><tr><th>query source</th><th>asks</th><th>records</th></tr>");
    for query in list(q, "queries") {
        let _ = writeln!(
            w,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            e(query, "source"),
            e(query, "asks"),
            e(query, "records")
        );
    }
    let _ = writeln!(w, "</table>");
    let evidence = list(q, "evidence");
    if !evidence.is_empty() {
        let _ = writeln!(w, "<table><tr><th>evidence</th><th>confidence</th><th>says</th><th>records</th></tr>");
        for ev in evidence {
            let resolved = ev.get("resolved").filter(|r| !r.is_null());
            let stance = field(ev, "stance");
            let (class, label) = match (stance.as_str(), resolved.is_some()) {
                (_, true) => ("resolved", "conflicting, resolved"),
                ("supporting", _) => ("supporting", "supporting"),
                _ => ("conflicting", "conflicting"),
            };
            let _ = write!(
                w,
                "<tr><td class=\"{class}\">{label}</td><td>{}</td><td>{}",
                e(ev, "confidence"),
                e(ev, "says")
            );
            if let Some(r) = resolved {
                let _ = write!(w, "<br><i>Resolved: {}</i>", escape(&text(r)));
            }
            let _ = writeln!(w, "</td><td>{}</td></tr>", anchors.links(list(ev, "records"), 12));
        }
        let _ = writeln!(w, "</table>");
    }
    let _ =
        writeln!(w, "<p><b>Conclusion:</b> {} · <i>not</i> {}</p></details>", e(q, "conclusion"), e(q, "alternative"));
}

fn timeline_table(w: &mut String, entries: &[Value], anchors: &Anchors) {
    if entries.is_empty() {
        let _ = writeln!(w, "<p>Nothing failed, changed or came from a foreign source in the window.</p>");
        return;
    }
    let _ = writeln!(
        w,
        "<table><tr><th>#</th><th>time (UTC)</th><th>kind</th><th>who</th><th>what</th><th>address</th><th>country</th><th>records</th></tr>"
    );
    for (i, t) in entries.iter().enumerate() {
        let who = if t["actor"].as_bool() == Some(true) { "<b class=\"conflicting\">actor</b>" } else { "owner" };
        let _ = writeln!(
            w,
            "<tr id=\"t{}\"><td>{}</td><td>{}</td><td>{}</td><td>{who}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            i + 1,
            i + 1,
            e(t, "time"),
            e(t, "kind"),
            e(t, "what"),
            e(t, "ip"),
            e(t, "country"),
            anchors.links(list(t, "records"), 6)
        );
    }
    let _ = writeln!(w, "</table>");
}

fn time(value: &Value, key: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value.get(key)?.as_str()?).ok().map(|t| t.with_timezone(&Utc))
}

const LANES: [&str; 5] = ["sign-in", "directory", "mailbox", "mail", "risk"];

/// The timeline drawn: one lane per kind of record, the window shaded, each entry a mark
/// (red: the actor, blue: the owner) that links to its row in the table.
fn timeline_drawing(w: &mut String, report: &Value) {
    let entries = list(report, "timeline");
    let subject = &report["subject"];
    let mut times: Vec<DateTime<Utc>> =
        entries.iter().flat_map(|t| [time(t, "time"), time(t, "last")]).flatten().collect();
    times.extend([time(subject, "start"), time(subject, "end")].into_iter().flatten());
    let (Some(&first), Some(&last)) = (times.iter().min(), times.iter().max()) else { return };
    let span = (last - first).num_seconds().max(3600) as f64;
    let (left, width, lane_height) = (90.0, 880.0, 26.0);
    let x = |t: DateTime<Utc>| left + (t - first).num_seconds() as f64 / span * width;
    let height = 30.0 + LANES.len() as f64 * lane_height + 20.0;
    let _ = writeln!(
        w,
        "<svg viewBox=\"0 0 1000 {height}\" role=\"img\" aria-label=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\">"
    );
    if let (Some(start), Some(end)) = (time(subject, "start"), time(subject, "end")) {
        let _ = writeln!(
            w,
            "<rect class=\"window\" x=\"{:.1}\" y=\"20\" width=\"{:.1}\" height=\"{}\"><title>investigation window</title></rect>",
            x(start),
            (x(end) - x(start)).max(1.0),
            LANES.len() as f64 * lane_height
        );
    }
    for (i, lane) in LANES.iter().enumerate() {
        let y = 20.0 + (i as f64 + 0.5) * lane_height;
        let _ = writeln!(
            w,
            "<line class=\"lane\" x1=\"{left}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\"/><text x=\"4\" y=\"{:.1}\">{lane}</text>",
            left + width,
            y + 4.0
        );
    }
    let axis = 20.0 + LANES.len() as f64 * lane_height;
    let _ = writeln!(w, "<line class=\"axis\" x1=\"{left}\" x2=\"{}\" y1=\"{axis}\" y2=\"{axis}\"/>", left + width);
    for k in 0..=5 {
        let t = first + chrono::Duration::seconds((span * f64::from(k) / 5.0) as i64);
        let anchor = match k {
            0 => "start",
            5 => "end",
            _ => "middle",
        };
        let _ = writeln!(
            w,
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"{anchor}\">{}</text>",
            x(t),
            axis + 14.0,
            t.format("%m-%d %H:%M")
        );
    }
    for (i, t) in entries.iter().enumerate() {
        let (Some(from), Some(to)) = (time(t, "time"), time(t, "last")) else { continue };
        let Some(lane) = LANES.iter().position(|l| *l == field(t, "kind")) else { continue };
        let y = 20.0 + (lane as f64 + 0.5) * lane_height;
        let class = if t["actor"].as_bool() == Some(true) { "actor" } else { "owner" };
        let _ = writeln!(
            w,
            "<a href=\"#t{}\"><rect class=\"{class}\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"12\" rx=\"3\"><title>{} {} {}</title></rect></a>",
            i + 1,
            x(from) - 3.0,
            y - 6.0,
            (x(to) - x(from)).max(0.0) + 6.0,
            e(t, "time"),
            e(t, "what"),
            e(t, "ip")
        );
    }
    let _ = writeln!(w, "</svg>");
}

/// The world (equirectangular, 360 × 180, cut at 84° N and 66° S) with the sign-in places:
/// grey dots the baseline, blue rings the owner's later sign-ins, red dots the actor's, each
/// sized by its sign-ins.
fn map(w: &mut String, locations: &[Value]) {
    if locations.is_empty() {
        let _ = writeln!(w, "<p>No sign-in of the account carries a location.</p>");
        return;
    }
    let _ = writeln!(
        w,
        "<svg viewBox=\"0 6 360 150\" role=\"img\" aria-label=\"map\" xmlns=\"http://www.w3.org/2000/svg\"><path class=\"land\" d=\"{}\"/>",
        LAND.trim()
    );
    for lon in (30..360).step_by(30) {
        let _ = write!(w, "<line class=\"grid\" x1=\"{lon}\" x2=\"{lon}\" y1=\"0\" y2=\"180\"/>");
    }
    for lat in (30..180).step_by(30) {
        let _ = write!(w, "<line class=\"grid\" x1=\"0\" x2=\"360\" y1=\"{lat}\" y2=\"{lat}\"/>");
    }
    let _ = writeln!(w);
    for who in ["baseline", "owner", "actor"] {
        for l in locations.iter().filter(|l| field(l, "who") == who) {
            let (Some(lat), Some(lon)) = (l["latitude"].as_f64(), l["longitude"].as_f64()) else { continue };
            let n = l["sign_ins"].as_f64().unwrap_or(1.0);
            let _ = writeln!(
                w,
                "<circle class=\"{who}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"{:.2}\" fill-opacity=\"0.75\"><title>{who}: {}, {} · {} sign-in(s), {} succeeded, {} address(es)</title></circle>",
                lon.clamp(-180.0, 180.0) + 180.0,
                90.0 - lat.clamp(-90.0, 90.0),
                (1.0 + n.sqrt() * 0.3).min(4.0),
                e(l, "city"),
                e(l, "country"),
                e(l, "sign_ins"),
                e(l, "successes"),
                e(l, "addresses")
            );
        }
    }
    let _ = writeln!(w, "</svg>");
    let _ = writeln!(
        w,
        "<p class=\"muted\">Grey: before the window (baseline) · blue: the account's own sign-ins in and after the window · red: the actor's.</p>"
    );
    table(
        w,
        "Places",
        locations,
        &["who", "country", "city", "sign_ins", "successes", "addresses", "latitude", "longitude"],
    );
}

fn table(w: &mut String, title: &str, rows: &[Value], columns: &[&str]) {
    if rows.is_empty() {
        return;
    }
    let _ = write!(w, "<h3>{}</h3><table><tr>", escape(title));
    for c in columns {
        let _ = write!(w, "<th>{}</th>", escape(c));
    }
    let _ = writeln!(w, "</tr>");
    for row in rows {
        let _ = write!(w, "<tr>");
        for c in columns {
            let _ = write!(w, "<td>{}</td>", e(row, c));
        }
        let _ = writeln!(w, "</tr>");
    }
    let _ = writeln!(w, "</table>");
}

fn items(w: &mut String, title: &str, items: &[Value], tag: &str) {
    if items.is_empty() {
        return;
    }
    let _ = write!(w, "<h2>{}</h2><{tag}>", escape(title));
    for item in items {
        let _ = write!(w, "<li>{}</li>", escape(&text(item)));
    }
    let _ = writeln!(w, "</{tag}>");
}

/// The raw records, each as the export gave it, pretty-printed when it is JSON.
fn records(w: &mut String, records: &[Value]) {
    if records.is_empty() {
        return;
    }
    let _ = writeln!(w, "<h2>Raw records</h2><p class=\"muted\">Every record the evidence and the timeline cite.</p>");
    for (i, r) in records.iter().enumerate() {
        let raw = field(r, "raw");
        let pretty =
            serde_json::from_str::<Value>(&raw).ok().and_then(|v| serde_json::to_string_pretty(&v).ok()).unwrap_or(raw);
        let _ = writeln!(
            w,
            "<details id=\"r{n}\"><summary>r{n} · {} · {} · {} <span class=\"muted\">{}</span></summary><pre>{}</pre></details>",
            e(r, "time"),
            e(r, "table"),
            e(r, "record_id"),
            e(r, "source_file"),
            escape(&pretty),
            n = i + 1
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_text_and_attribute_breakers() {
        assert_eq!(escape("<img src=x onerror=\"a()\">'&"), "&lt;img src=x onerror=&quot;a()&quot;&gt;&#39;&amp;");
    }

    #[test]
    fn hostile_values_never_become_markup_and_anchors_are_the_page_own() {
        let evil = "<script>alert(1)</script><img src=x onerror=alert(2)>\"><a href=\"javascript:alert(3)\">x</a>";
        let report = serde_json::json!({
            "title": evil, "verdict": evil, "summary": evil, "tags": [evil],
            "subject": {"user": evil, "start": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z"},
            "questions": [{"title": evil, "group": "pivot", "queries": [{"source": evil, "asks": evil, "records": 1}],
                           "conclusion": evil, "alternative": evil,
                           "evidence": [{"stance": "supporting", "confidence": "high", "says": evil, "records": [evil, "b"]}]}],
            "timeline": [{"time": "2026-01-01T00:10:00Z", "last": "2026-01-01T00:20:00Z", "kind": "mailbox", "what": evil, "ip": evil, "actor": true, "records": [evil]}],
            "locations": [{"latitude": 10.0, "longitude": 20.0, "who": "actor", "city": evil, "country": evil, "sign_ins": 3}],
            "iocs": {"ips": [], "user_agents": [{"user_agent": evil}], "devices": [], "mail_recipients": [],
                     "inbox_rules": [{"rule_name": evil}]},
            "metrics": {"records_analyzed": {}},
            "records": [{"record_id": evil, "table": "mailbox_activity", "time": "2026-01-01T00:10:00Z", "raw": format!("{{\"Name\": {}}}", serde_json::to_string(evil).unwrap())}]
        });
        let html = render(&report);
        assert!(html.matches("alert(1)").count() >= 12, "every value is rendered");
        for tag in ["<script", "<img", "href=\"javascript", "<a href=\"javascript"] {
            assert!(!html.contains(tag), "{tag} reached the page");
        }
        assert!(html.contains("<a href=\"#r1\">r1</a>"), "the evidence links to the record by the page's number");
        assert!(html.contains("<span class=\"muted\">b</span>"), "an id without a record is not a link");
        assert!(html.contains("class=\"badge inconclusive\""), "an unknown verdict is not used as a class");
        assert!(html.contains("<circle class=\"actor\" cx=\"200.0\" cy=\"80.0\""));
    }
}
