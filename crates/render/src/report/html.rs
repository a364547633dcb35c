//! One self-contained HTML page: no script, no external resource (a Content-Security-Policy
//! forbids both), the timeline and a world map drawn as inline SVG, and evidence tables whose
//! record links lead to the raw records at the foot of the page.
//!
//! The page is a maud template: every value written into it is escaped by construction (maud
//! escapes what it interpolates), and every value from the report is a [`Log`], which also
//! shows control and bidirectional characters as escapes (`crate::text::html`). Anchors are
//! numbered by the page, never taken from a log, so no log value reaches a URL.
//!
//! The map's land outline is Natural Earth's 1:110m land (public domain), from the npm package
//! world-atlas 2 (ISC licence), turned into one SVG path by `scripts/world-map.py`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, Render, html};
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

/// Text from the report (and so, often, from a log): escaped for HTML, with control and
/// bidirectional characters shown as escapes.
struct Log(String);

impl Render for Log {
    fn render_to(&self, buffer: &mut String) {
        buffer.push_str(&escape(&self.0));
    }
}

/// A field of a report object, as text.
fn e(value: &Value, key: &str) -> Log {
    Log(field(value, key))
}

/// A report value, as text.
fn t(value: &Value) -> Log {
    Log(text(value))
}

/// A line break between elements, as the page has always been laid out.
const NL: PreEscaped<&str> = PreEscaped("\n");

pub fn render(report: &Value) -> String {
    let anchors = Anchors::new(report);
    let verdict = field(report, "verdict");
    let class = if VERDICTS.contains(&verdict.as_str()) { verdict.as_str() } else { "inconclusive" };
    let tags = list(report, "tags");
    let subject = &report["subject"];
    let pivots = list(report, "key_pivots");
    let iocs = &report["iocs"];
    let m = &report["metrics"];
    let page = html! {
        (DOCTYPE) (NL)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (e(report, "title")) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                (NL)
                h1 { (e(report, "title")) } (NL)
                p { span class={ "badge " (class) } { (Log(verdict.clone())) } " confidence " b { (e(report, "confidence")) } " · escalation: " (e(report, "escalation")) } (NL)
                @if !tags.is_empty() {
                    p { "Tags: " @for (i, tag) in tags.iter().enumerate() { @if i > 0 { " " } code { (t(tag)) } } } (NL)
                }
                p { (e(report, "summary")) } (NL)
                p class="muted" { "Subject " b { (e(subject, "user")) } " · window " (e(subject, "start")) " to " (e(subject, "end")) " (" (e(subject, "window_from")) ") · report " (e(report, "id")) } (NL)
                (items("Verdict reasoning", list(report, "verdict_reasoning"), "ol"))
                h2 { "Timeline" } (NL)
                (timeline_drawing(report))
                (timeline_table(list(report, "timeline"), &anchors))
                h2 { "Where the sign-ins came from" } (NL)
                (map(list(report, "locations")))
                h2 { "The questions we asked" } (NL)
                @for (i, q) in list(report, "questions").iter().enumerate() {
                    (question(q, i + 1, &anchors))
                }
                @if !pivots.is_empty() {
                    h2 { "Key pivots" }
                    ul {
                        (NL)
                        @for p in pivots {
                            li { code { (e(p, "fact")) } " found by " (e(p, "found_by")) " led to " (e(p, "led_to")) } (NL)
                        }
                    } (NL)
                }
                h2 { "Indicators of compromise" } (NL)
                (table("Addresses", list(iocs, "ips"), &["ip", "country", "city", "asn", "provider", "class", "sign_ins", "successes", "accounts_tried", "first_seen", "last_seen"]))
                (table("User agents", list(iocs, "user_agents"), &["user_agent", "class", "sign_ins", "first_seen"]))
                (table("Devices", list(iocs, "devices"), &["device", "os", "browser", "sign_ins", "first_seen"]))
                (table("Mail recipients", list(iocs, "mail_recipients"), &["recipient", "messages", "subjects", "first_seen"]))
                (table("Inbox rules and forwarding", list(iocs, "inbox_rules"), &["time", "operation", "rule_name", "rule_keywords", "move_to_folder", "forward_to", "client_ip"]))
                @if !list(report, "sspr_history").is_empty() {
                    h2 { "Self-service recovery against its history" } (NL)
                    (table("Resets and unlocks (seed 001, step 4)", list(report, "sspr_history"), super::markdown::SSPR_COLUMNS))
                }
                h2 { "MITRE ATT&CK and detection opportunities" } (NL)
                (table("Techniques", list(report, "mitre"), &["id", "name", "tactic"]))
                (table("Detection opportunities", list(report, "detection_opportunities"), &["name", "technique", "tactic", "context"]))
                @if !list(report, "escalation_criteria").is_empty() {
                    h2 { "Escalation criteria" } (NL)
                    (table("In play (met first)", list(report, "escalation_criteria"), &["priority", "condition", "met", "found", "missing", "action"]))
                }
                @if !list(report, "false_positives").is_empty() {
                    h2 { "False positives checked" } (NL)
                    (table("Benign explanations", list(report, "false_positives"), &["scenario", "check", "question", "outcome", "how"]))
                }
                (items("Lessons", list(report, "lessons"), "ol"))
                (containment(list(report, "containment")))
                h2 { "Metrics" }
                ul {
                    (NL)
                    li { "Questions asked: " (e(m, "questions_asked")) } (NL)
                    li {
                        "Records analysed: " (e(m, "records_total"))
                        ul {
                            @if let Some(by) = m["records_analyzed"].as_object() {
                                @for (source, n) in by { li { (Log(source.clone())) ": " (t(n)) } }
                            }
                        }
                    }
                    li { "Investigation time: " (e(m, "duration_ms")) " ms" } (NL)
                    li { "Analyst time saved (estimate): ~" (e(m, "analyst_minutes_saved")) " minutes. " (e(m, "estimate_assumptions")) }
                } (NL)
                (records(list(report, "records")))
            }
        } (NL)
    };
    page.into_string()
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
    fn links(&self, ids: &[Value], shown: usize) -> Markup {
        html! {
            @for (i, id) in ids.iter().take(shown).enumerate() {
                @if i > 0 { " " }
                @match self.0.get(&text(id)) {
                    Some(n) => a href={ "#r" (n) } { "r" (n) },
                    None => span class="muted" { (t(id)) },
                }
            }
            @if ids.len() > shown {
                @if shown > 0 && !ids.is_empty() { " " }
                "+" (ids.len() - shown) " more"
            }
        }
    }
}

fn question(q: &Value, number: usize, anchors: &Anchors) -> Markup {
    let routine = field(q, "group") == "routine";
    let because = list(q, "asked_because");
    let evidence = list(q, "evidence");
    html! {
        details open[!routine] {
            summary { b { "Q" (number) ": " (e(q, "title")) } " — " (e(q, "conclusion")) @if routine { " " span class="muted" { "(routine check)" } } } (NL)
            @if !because.is_empty() {
                p class="muted" { "Asked because of " @for (i, f) in because.iter().enumerate() { @if i > 0 { ", " } code { (t(f)) } } "." } (NL)
            }
            table {
                tr { th { "query source" } th { "asks" } th { "records" } } (NL)
                @for query in list(q, "queries") {
                    tr { td { (e(query, "source")) } td { (e(query, "asks")) } td { (e(query, "records")) } } (NL)
                }
            } (NL)
            @if !evidence.is_empty() {
                table {
                    tr { th { "evidence" } th { "confidence" } th { "says" } th { "records" } } (NL)
                    @for ev in evidence {
                        @let resolved = ev.get("resolved").filter(|r| !r.is_null());
                        @let stance = field(ev, "stance");
                        @let (class, label) = match (stance.as_str(), resolved.is_some()) {
                            (_, true) => ("resolved", "conflicting, resolved"),
                            ("supporting", _) => ("supporting", "supporting"),
                            _ => ("conflicting", "conflicting"),
                        };
                        tr {
                            td class=(class) { (label) }
                            td { (e(ev, "confidence")) }
                            td { (e(ev, "says")) @if let Some(r) = resolved { br; i { "Resolved: " (t(r)) } } }
                            td { (anchors.links(list(ev, "records"), 12)) }
                        } (NL)
                    }
                } (NL)
            }
            p { b { "Conclusion:" } " " (e(q, "conclusion")) " · " i { "not" } " " (e(q, "alternative")) }
        } (NL)
    }
}

fn timeline_table(entries: &[Value], anchors: &Anchors) -> Markup {
    html! {
        @if entries.is_empty() {
            p { "Nothing failed, changed or came from a foreign source in the window." } (NL)
        } @else {
            table {
                tr { th { "#" } th { "time (UTC)" } th { "kind" } th { "who" } th { "what" } th { "address" } th { "country" } th { "records" } } (NL)
                @for (i, entry) in entries.iter().enumerate() {
                    tr id={ "t" (i + 1) } {
                        td { (i + 1) }
                        td { (e(entry, "time")) }
                        td { (e(entry, "kind")) }
                        td { @if entry["actor"].as_bool() == Some(true) { b class="conflicting" { "actor" } } @else { "owner" } }
                        td { (e(entry, "what")) }
                        td { (e(entry, "ip")) }
                        td { (e(entry, "country")) }
                        td { (anchors.links(list(entry, "records"), 6)) }
                    } (NL)
                }
            } (NL)
        }
    }
}

fn time(value: &Value, key: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value.get(key)?.as_str()?).ok().map(|t| t.with_timezone(&Utc))
}

const LANES: [&str; 5] = ["sign-in", "directory", "mailbox", "mail", "risk"];

/// A coordinate as the drawings write it: one decimal.
fn d1(v: f64) -> String {
    format!("{v:.1}")
}

/// The span a drawn timeline shows, and where its marks lead.
pub struct Drawing<'a> {
    /// The span shown; `None` fits every entry and the investigation window.
    pub between: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// The address entry `i` (from 0) of the timeline links to.
    pub link: &'a dyn Fn(usize, &Value) -> String,
    /// The frame the links open in; `None` this page.
    pub target: Option<&'a str>,
}

/// The first and last moment of the report's timeline and investigation window.
pub fn timeline_span(report: &Value) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let subject = &report["subject"];
    let mut times: Vec<DateTime<Utc>> =
        list(report, "timeline").iter().flat_map(|t| [time(t, "time"), time(t, "last")]).flatten().collect();
    times.extend([time(subject, "start"), time(subject, "end")].into_iter().flatten());
    Some((*times.iter().min()?, *times.iter().max()?))
}

/// The timeline drawn: one lane per kind of record, the window shaded, each entry a mark
/// (red: the actor, blue: the owner) that links to its row in the table.
fn timeline_drawing(report: &Value) -> Markup {
    timeline_svg(report, &Drawing { between: None, link: &|i, _| format!("#t{}", i + 1), target: None })
}

/// The timeline drawn over `drawing.between` (entries outside it left out, entries across
/// its edges cut at them), each mark linking where `drawing.link` says.
pub fn timeline_svg(report: &Value, drawing: &Drawing) -> Markup {
    let entries = list(report, "timeline");
    let subject = &report["subject"];
    let Some((first, last)) = drawing.between.or_else(|| timeline_span(report)) else { return html! {} };
    // A fitted drawing spans an hour at least; a zoomed one, a minute.
    let least = if drawing.between.is_some() { 60 } else { 3600 };
    let span = (last - first).num_seconds().max(least) as f64;
    let (left, width, lane_height) = (90.0, 880.0, 26.0);
    let x = |t: DateTime<Utc>| left + ((t - first).num_seconds() as f64 / span).clamp(0.0, 1.0) * width;
    let height = 30.0 + LANES.len() as f64 * lane_height + 20.0;
    let axis = 20.0 + LANES.len() as f64 * lane_height;
    let window = time(subject, "start").zip(time(subject, "end")).filter(|(s, e)| *s <= last && *e >= first);
    let shown = |from: DateTime<Utc>, to: DateTime<Utc>| from <= last && to >= first;
    let ticks = (0..=5).map(|k| {
        let t = first + chrono::Duration::seconds((span * f64::from(k) / 5.0) as i64);
        let anchor = match k {
            0 => "start",
            5 => "end",
            _ => "middle",
        };
        (t, anchor)
    });
    html! {
        svg viewBox={ "0 0 1000 " (height) } role="img" aria-label="timeline" xmlns="http://www.w3.org/2000/svg" {
            (NL)
            @if let Some((start, end)) = window {
                rect class="window" x=(d1(x(start))) y="20" width=(d1((x(end) - x(start)).max(1.0))) height=(LANES.len() as f64 * lane_height) { title { "investigation window" } } (NL)
            }
            @for (i, lane) in LANES.iter().enumerate() {
                @let y = 20.0 + (i as f64 + 0.5) * lane_height;
                line class="lane" x1=(left) x2=(left + width) y1=(y) y2=(y) {}
                text x="4" y=(d1(y + 4.0)) { (lane) } (NL)
            }
            line class="axis" x1=(left) x2=(left + width) y1=(axis) y2=(axis) {} (NL)
            @for (t, anchor) in ticks {
                text x=(d1(x(t))) y=(axis + 14.0) text-anchor=(anchor) { (t.format("%m-%d %H:%M").to_string()) } (NL)
            }
            @for (i, entry) in entries.iter().enumerate() {
                @if let (Some(from), Some(to), Some(lane)) = (time(entry, "time"), time(entry, "last"), LANES.iter().position(|l| *l == field(entry, "kind"))) {
                    @if shown(from, to) {
                        @let y = 20.0 + (lane as f64 + 0.5) * lane_height;
                        @let class = if entry["actor"].as_bool() == Some(true) { "actor" } else { "owner" };
                        a href=((drawing.link)(i, entry)) target=[drawing.target] {
                            rect class=(class) x=(d1(x(from) - 3.0)) y=(d1(y - 6.0)) width=(d1((x(to) - x(from)).max(0.0) + 6.0)) height="12" rx="3" {
                                title { (e(entry, "time")) " " (e(entry, "what")) " " (e(entry, "ip")) }
                            }
                        } (NL)
                    }
                }
            }
        } (NL)
    }
}

/// The world (equirectangular, 360 × 180, cut at 84° N and 66° S) with the sign-in places:
/// grey dots the baseline, blue rings the owner's later sign-ins, red dots the actor's, each
/// sized by its sign-ins.
pub fn map(locations: &[Value]) -> Markup {
    if locations.is_empty() {
        return html! { p { "No sign-in of the account carries a location." } (NL) };
    }
    html! {
        svg viewBox="0 6 360 150" role="img" aria-label="map" xmlns="http://www.w3.org/2000/svg" {
            path class="land" d=(LAND.trim()) {}
            (NL)
            @for lon in (30..360).step_by(30) { line class="grid" x1=(lon) x2=(lon) y1="0" y2="180" {} }
            @for lat in (30..180).step_by(30) { line class="grid" x1="0" x2="360" y1=(lat) y2=(lat) {} }
            (NL)
            @for who in ["baseline", "owner", "actor"] {
                @for l in locations.iter().filter(|l| field(l, "who") == who) {
                    @if let (Some(lat), Some(lon)) = (l["latitude"].as_f64(), l["longitude"].as_f64()) {
                        @let n = l["sign_ins"].as_f64().unwrap_or(1.0);
                        circle class=(who) cx=(d1(lon.clamp(-180.0, 180.0) + 180.0)) cy=(d1(90.0 - lat.clamp(-90.0, 90.0))) r=(format!("{:.2}", (1.0 + n.sqrt() * 0.3).min(4.0))) fill-opacity="0.75" {
                            title { (who) ": " (e(l, "city")) ", " (e(l, "country")) " · " (e(l, "sign_ins")) " sign-in(s), " (e(l, "successes")) " succeeded, " (e(l, "addresses")) " address(es)" }
                        } (NL)
                    }
                }
            }
        } (NL)
        p class="muted" { "Grey: before the window (baseline) · blue: the account's own sign-ins in and after the window · red: the actor's." } (NL)
        (table("Places", locations, &["who", "country", "city", "sign_ins", "successes", "addresses", "latitude", "longitude"]))
    }
}

fn table(title: &str, rows: &[Value], columns: &[&str]) -> Markup {
    html! {
        @if !rows.is_empty() {
            h3 { (title) }
            table {
                tr { @for c in columns { th { (c) } } } (NL)
                @for row in rows {
                    tr { @for c in columns { td { (e(row, c)) } } } (NL)
                }
            } (NL)
        }
    }
}

/// The containment steps by urgency, each with the objects to act on.
fn containment(steps: &[Value]) -> Markup {
    html! {
        @if !steps.is_empty() {
            h2 { "Containment" } (NL)
            @for stage in ["immediate", "short_term", "recovery"] {
                @let here: Vec<&Value> = steps.iter().filter(|s| field(s, "stage") == stage).collect();
                @if !here.is_empty() {
                    h3 { (super::urgency(stage)) }
                    ol {
                        @for step in here {
                            li {
                                (e(step, "step"))
                                @if !list(step, "because").is_empty() { span class="muted" { " (from " (e(step, "because")) ")" } }
                                table {
                                    tr { th { "kind" } th { "id" } th { "name" } th { "detail" } }
                                    @for o in list(step, "objects") {
                                        tr { td { (e(o, "kind")) } td { code { (e(o, "id")) } } td { (e(o, "name")) } td { (e(o, "detail")) } }
                                    }
                                }
                            } (NL)
                        }
                    } (NL)
                }
            }
        }
    }
}

fn items(title: &str, items: &[Value], tag: &str) -> Markup {
    let entries = html! { @for item in items { li { (t(item)) } } };
    html! {
        @if !items.is_empty() {
            h2 { (title) }
            @if tag == "ol" { ol { (entries) } } @else { ul { (entries) } }
            (NL)
        }
    }
}

/// The raw records, each as the export gave it, pretty-printed when it is JSON.
fn records(records: &[Value]) -> Markup {
    html! {
        @if !records.is_empty() {
            h2 { "Raw records" } p class="muted" { "Every record the evidence and the timeline cite." } (NL)
            @for (i, r) in records.iter().enumerate() {
                @let raw = field(r, "raw");
                @let pretty = serde_json::from_str::<Value>(&raw).ok().and_then(|v| serde_json::to_string_pretty(&v).ok()).unwrap_or(raw);
                details id={ "r" (i + 1) } {
                    summary { "r" (i + 1) " · " (e(r, "time")) " · " (e(r, "table")) " · " (e(r, "record_id")) " " span class="muted" { (e(r, "source_file")) } }
                    pre { (Log(pretty)) }
                } (NL)
            }
        }
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
