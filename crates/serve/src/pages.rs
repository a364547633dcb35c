//! The workbench's pages, rendered on the server. Every string from a log or an analyst goes
//! through the report stage's escaping (markup, control and bidi characters); the one script
//! is a static file (`/workbench.js`) that only sends JSON and writes text, never markup.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, Render, html};
use serde_json::Value;

use crate::Workbench;
use crate::api::{QueueQuery, SORTS, entity_records, error, pivot_kind, queue_rows};
use crate::cases::{Case, STATUSES, VERDICTS};
use chrono::{DateTime, Utc};
use sleuth_render::report::html::{Drawing, map as world_map, timeline_span, timeline_svg};

/// Text from a log or an analyst, escaped for HTML with hidden characters shown.
struct T<'a>(&'a str);

impl Render for T<'_> {
    fn render_to(&self, buffer: &mut String) {
        buffer.push_str(&sleuth_render::report::html::escape(self.0));
    }
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A value as one path segment: unreserved characters kept, every other byte %-encoded.
fn segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A link to everything the store holds on one user, address, ASN, device, app or agent.
fn pivot(kind: &str, value: &str) -> Markup {
    html! { a.pivot href={ "/entities/" (kind) "/" (segment(value)) } { (T(value)) } }
}

fn page(title: &str, body: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (T(title)) " · Sleuth" }
                link rel="stylesheet" href="/workbench.css";
                script src="/workbench.js" defer {}
            }
            body {
                header {
                    a href="/" { "Sleuth" }
                    " · " a href="/" { "Incidents" }
                    " · " a href="/query" { "Query" }
                    label.author { "You: " input #author type="text" placeholder="your name" maxlength="128"; }
                }
                main { (body) }
                p #status role="status" {}
            }
        }
    };
    let mut answer = markup.into_string().into_response();
    answer.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    answer
}

/// `/`: the incident queue (filtered and sorted as the query says), with boxes to investigate
/// any account or an exported alert.
pub async fn queue(State(wb): State<Arc<Workbench>>, Query(q): Query<QueueQuery>) -> Response {
    let rows = match queue_rows(&wb, &q, false).await {
        Ok(rows) => rows,
        Err(e) => return e.into_response(),
    };
    let investigations = wb.cases.report_ids();
    let chosen = |v: &Option<String>| v.clone().unwrap_or_default();
    page(
        "Incidents",
        html! {
            h1 { "Incidents" }
            p {
                (rows.len()) " incidents from the store's hunt. "
                button data-action="rehunt" { "Hunt again" }
            }
            form.inline #filters method="get" action="/" {
                label { "Severity at least " select name="severity" {
                    option value="" { "any" }
                    @for s in ["low", "medium", "high", "critical"] { option value=(s) selected[chosen(&q.severity) == s] { (s) } }
                } }
                label { " Status " select name="status" {
                    option value="" { "any" }
                    @for s in STATUSES { option value=(s) selected[chosen(&q.status) == s] { (s) } }
                } }
                label { " Account " input name="user" type="text" value=(chosen(&q.user)) placeholder="any"; }
                label { " Sort by " select name="sort" {
                    @for s in SORTS { option value=(s) selected[chosen(&q.sort) == s] { (s.replace('_', " ")) } }
                } }
                " " button type="submit" { "Show" }
            }
            form.inline data-action="investigate-user" {
                label { "Investigate an account: " input name="user" type="text" placeholder="user@contoso.com" required; }
                button type="submit" { "Investigate" }
            }
            form.inline data-action="investigate-alert" {
                label { "…or an exported alert (Defender XDR, Sentinel, Entra ID Protection JSON): " input name="alert" type="file" accept=".json,.jsonl,application/json" required; }
                button type="submit" { "Investigate the alert" }
            }
            table #queue {
                thead { tr { th { "Severity" } th { "Who" } th { "Rules" } th { "First seen" } th { "Last seen" } th { "Status" } th { "Assignee" } th {} } }
                tbody {
                    @for r in &rows {
                        tr data-incident=(text(&r["id"])) {
                            td class={"sev " (text(&r["severity"]))} { (T(&text(&r["severity"]))) }
                            td.who {
                                @if r["kind"] == "ip" {
                                    "from " (pivot("ip", &text(&r["key"]))) " · " (r["users"].as_array().map_or(0, Vec::len)) " accounts"
                                } @else {
                                    @for (i, u) in r["users"].as_array().map(Vec::as_slice).unwrap_or_default().iter().enumerate() {
                                        @if i > 0 { ", " }
                                        (pivot("user", &text(u)))
                                    }
                                }
                            }
                            td { (T(&r["rules"].as_array().map(|u| u.iter().map(text).collect::<Vec<_>>().join(", ")).unwrap_or_default())) }
                            td { (T(&text(&r["first_seen"]))) }
                            td { (T(&text(&r["last_seen"]))) }
                            td {
                                select data-action="incident-status" data-id=(text(&r["id"])) {
                                    @for s in STATUSES { option value=(s) selected[text(&r["status"]) == s] { (s) } }
                                }
                            }
                            td { (T(&text(&r["assignee"]))) }
                            td { button data-action="investigate-incident" data-id=(text(&r["id"])) { "Investigate" } }
                        }
                    }
                }
            }
            @if !investigations.is_empty() {
                h2 { "Investigations" }
                ul #investigations {
                    @for id in &investigations {
                        @if let Some(r) = wb.cases.report(id) {
                            li { a href={"/investigations/" (id)} { (T(&text(&r["subject"]["user"]))) } " · " (T(&text(&r["verdict"]))) }
                        }
                    }
                }
            }
        },
    )
}

/// The span of the workbench's timeline: the whole when not given.
#[derive(serde::Deserialize, Default)]
pub struct Zoom {
    from: Option<String>,
    to: Option<String>,
}

impl Zoom {
    fn between(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let at = |v: &Option<String>| {
            v.as_deref().and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&Utc))
        };
        at(&self.from).zip(at(&self.to)).filter(|(from, to)| from < to)
    }
}

/// Links that zoom the timeline in and out and move it earlier and later.
fn zoom_links(id: &str, (from, to): (DateTime<Utc>, DateTime<Utc>)) -> Markup {
    let span = (to - from).max(chrono::Duration::minutes(2));
    let middle = from + span / 2;
    let link = |a: DateTime<Utc>, b: DateTime<Utc>| {
        let at = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        format!("/investigations/{}?from={}&to={}#timeline", segment(id), at(a), at(b))
    };
    html! {
        p.zoom {
            a href=(link(from - span / 2, to - span / 2)) { "← earlier" } " · "
            a #zoom-in href=(link(middle - span / 4, middle + span / 4)) { "zoom in" } " · "
            a #zoom-out href=(link(middle - span, middle + span)) { "zoom out" } " · "
            a href=(link(from + span / 2, to + span / 2)) { "later →" } " · "
            a href={ "/investigations/" (segment(id)) "#timeline" } { "whole" }
            span.meta { " " (from.format("%Y-%m-%d %H:%M").to_string()) " to " (to.format("%Y-%m-%d %H:%M").to_string()) " UTC" }
        }
    }
}

/// Who and what the report points at, each a link to everything the store holds on it.
fn pivots(report: &Value) -> Markup {
    let rows = |key: &str| report["iocs"][key].as_array().cloned().unwrap_or_default();
    let ips = rows("ips");
    let agents = rows("user_agents");
    let mut asns: Vec<String> = ips.iter().filter_map(|i| i["asn"].as_i64()).map(|a| a.to_string()).collect();
    asns.sort();
    asns.dedup();
    html! {
        section #pivots {
            h2 { "Pivots" }
            ul {
                li { "Account: " (pivot("user", &text(&report["subject"]["user"]))) }
                @if !ips.is_empty() {
                    li { "Addresses: " @for (i, ip) in ips.iter().enumerate() {
                        @if i > 0 { ", " }
                        (pivot("ip", &text(&ip["ip"]))) span.meta { " " (T(&text(&ip["country"]))) " " (T(&text(&ip["provider"]))) }
                    } }
                }
                @if !asns.is_empty() {
                    li { "Networks (ASN): " @for (i, asn) in asns.iter().enumerate() { @if i > 0 { ", " } (pivot("asn", asn)) } }
                }
                @if !agents.is_empty() {
                    li { "User agents: " ul { @for a in &agents { li { (pivot("user_agent", &text(&a["user_agent"]))) } } } }
                }
            }
            @let found = report["key_pivots"].as_array().cloned().unwrap_or_default();
            @if !found.is_empty() {
                h3 { "What led where" }
                ul { @for p in &found { li { (T(&text(&p["fact"]))) span.meta { " (found by " (T(&text(&p["found_by"]))) ")" } } } }
            }
        }
    }
}

/// `/investigations/{id}`: the case record beside the report.
pub async fn investigation(
    State(wb): State<Arc<Workbench>>,
    Path(id): Path<String>,
    Query(zoom): Query<Zoom>,
) -> Response {
    let Some(report) = wb.cases.report(&id) else {
        return error(StatusCode::NOT_FOUND, "not_found", &format!("no investigation {id}")).into_response();
    };
    let case = wb.cases.case(&id);
    let standing =
        case.verdict_override.as_ref().map(|o| o.verdict.clone()).unwrap_or_else(|| text(&report["verdict"]));
    let events = wb.cases.events(Some(&id));
    // Each mark of the timeline opens the first raw record behind it in the report's frame.
    let report_url = format!("/api/investigations/{}/report?format=html", segment(&id));
    let anchors: std::collections::HashMap<String, usize> = report["records"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, r)| (text(&r["record_id"]), i + 1))
        .collect();
    let link = |i: usize, entry: &Value| {
        let first = entry["records"].as_array().and_then(|r| r.iter().find_map(|id| anchors.get(&text(id))));
        match first {
            Some(n) => format!("{report_url}#r{n}"),
            None => format!("{report_url}#t{}", i + 1),
        }
    };
    let between = zoom.between().or_else(|| timeline_span(&report));
    let drawing = Drawing { between, link: &link, target: Some("report") };
    let locations = report["locations"].as_array().cloned().unwrap_or_default();
    page(
        &text(&report["title"]),
        html! {
            h1 #subject { (T(&text(&report["subject"]["user"]))) }
            p.verdict {
                "Verdict: " strong #verdict { (T(&standing)) }
                " (" (T(&text(&report["confidence"]))) " confidence"
                @if case.verdict_override.is_some() { "; Sleuth said " (T(&text(&report["verdict"]))) }
                ")"
            }
            p { (T(&text(&report["summary"]))) }
            section.case data-id=(id) {
                h2 { "Case" }
                form.inline data-action="case" {
                    label { "Status " select name="status" { @for s in STATUSES { option value=(s) selected[case.status == s] { (s) } } } }
                    label { " Assignee " input name="assignee" type="text" maxlength="128" value=(case.assignee.clone().unwrap_or_default()); }
                    label { " Tags " input name="tags" type="text" value=(case.tags.join(", ")); }
                    button type="submit" { "Save" }
                }
                form.inline data-action="verdict" {
                    label { "Override the verdict " select name="verdict" { @for v in VERDICTS { option value=(v) selected[standing == v] { (v) } } } }
                    label { " because " input name="reason" type="text" required maxlength="5000"; }
                    button type="submit" { "Set" }
                }
                h3 { "Notes" }
                ol #notes {
                    @for n in &case.notes {
                        li { span.meta { (T(&n.at)) " · " (T(&n.who)) } " " span.note { (T(&n.text)) } }
                    }
                }
                form data-action="note" {
                    textarea name="text" rows="3" required maxlength="20000" placeholder="What you found, did or decided" {}
                    button type="submit" { "Add note" }
                }
                p.exports {
                    "Take away: "
                    a href={"/api/investigations/" (id) "/report?format=json"} { "JSON" } " · "
                    a href={"/api/investigations/" (id) "/report?format=md"} { "Markdown" } " · "
                    a href={"/api/investigations/" (id) "/report?format=html"} { "HTML" }
                }
                details {
                    summary { "Audit trail (" (events.len()) ")" }
                    ol { @for e in &events { li { (T(&e.at)) " · " (T(&e.who)) " · " (T(&e.action)) " " (T(&e.change.to_string())) } } }
                }
            }
            section #timeline {
                h2 { "Timeline" }
                @if let Some(between) = between { (zoom_links(&id, between)) }
                (timeline_svg(&report, &drawing))
                p.meta { "Red: the actor · blue: the account's owner · shaded: the investigation window. A mark opens its first raw record in the report below." }
            }
            section #map {
                h2 { "Where" }
                (world_map(&locations))
            }
            (pivots(&report))
            h2 { "The report" }
            iframe.report name="report" src=(report_url) sandbox="" title="The report" {}
        },
    )
}

/// Columns an entity page leaves out of its record tables (the raw record has its own cell).
const QUIET: [&str; 4] = ["raw", "record_id", "source_file", "time"];

/// The most columns an entity page shows of one table's records.
const SHOWN_COLUMNS: usize = 10;

/// `/entities/{kind}/{value}`: everything the store holds on one user, address, ASN, device,
/// app or user agent: per table and column, how many records and the latest of them, each
/// pivotable value a link on, and the record as the export gave it one click away.
pub async fn entity(State(wb): State<Arc<Workbench>>, Path((kind, value)): Path<(String, String)>) -> Response {
    let answer = match entity_records(&wb, &kind, &value).await {
        Ok(answer) => answer,
        Err(e) => return e.into_response(),
    };
    let found = answer["found"].as_array().cloned().unwrap_or_default();
    page(
        &format!("{kind} {value}"),
        html! {
            h1 { (kind.replace('_', " ")) " " span #entity { (T(&value)) } }
            @if found.is_empty() { p { "The store holds no record of it." } }
            @for f in &found {
                @let latest = f["latest"].as_array().cloned().unwrap_or_default();
                @let columns = shown_columns(&latest);
                section.found {
                    h2 { (T(&text(&f["table"]))) " · " code { (T(&text(&f["column"]))) } }
                    p.meta { (text(&f["records"])) " records, " (T(&text(&f["first"]))) " to " (T(&text(&f["last"]))) "; the latest " (latest.len()) ":" }
                    table.records {
                        thead { tr { th { "time" } @for c in &columns { th { (c) } } th { "record" } } }
                        tbody {
                            @for r in &latest {
                                tr {
                                    td { (T(&text(&r["time"]))) }
                                    @for c in &columns {
                                        td {
                                            @match (pivot_kind(c), &r[c.as_str()]) {
                                                (Some(k), Value::String(v)) if !v.is_empty() => (pivot(k, v)),
                                                (Some(k), Value::Number(n)) => (pivot(k, &n.to_string())),
                                                (_, v) => (T(&text(v))),
                                            }
                                        }
                                    }
                                    td {
                                        details {
                                            summary { (T(&text(&r["record_id"]))) }
                                            pre { (T(&raw(&r["raw"]))) }
                                            p.meta { (T(&text(&r["source_file"]))) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// The columns worth a column: those with a value in any of `rows`, in the table's order, at
/// most [`SHOWN_COLUMNS`].
fn shown_columns(rows: &[Value]) -> Vec<String> {
    let Some(first) = rows.first().and_then(Value::as_object) else { return Vec::new() };
    first
        .keys()
        .filter(|c| !QUIET.contains(&c.as_str()))
        .filter(|c| rows.iter().any(|r| !matches!(&r[c.as_str()], Value::Null) && r[c.as_str()] != ""))
        .take(SHOWN_COLUMNS)
        .cloned()
        .collect()
}

/// A raw record pretty-printed when it is JSON.
fn raw(value: &Value) -> String {
    let text = text(value);
    serde_json::from_str::<Value>(&text).ok().and_then(|v| serde_json::to_string_pretty(&v).ok()).unwrap_or(text)
}

/// `/query`: read-only SQL with the tables' documentation beside it.
pub async fn query() -> Response {
    page(
        "Query",
        html! {
            h1 { "Query" }
            form data-action="sql" {
                textarea name="sql" rows="6" spellcheck="false" { "SELECT user_principal_name, count(*) AS sign_ins\nFROM signins GROUP BY 1 ORDER BY 2 DESC LIMIT 20" }
                button type="submit" { "Run (read-only)" }
            }
            div #results {}
            h2 { "Tables" }
            @for t in sleuth_ingest::Table::ALL {
                details {
                    summary { (t.name()) }
                    table { @for c in t.columns() { tr { td { code { (c.name) } } td { (c.meaning) } } } }
                }
            }
        },
    )
}

/// `/login`: the token, for a server that needs one.
pub async fn login() -> Response {
    page(
        "Sign in",
        html! {
            h1 { "Sign in" }
            form data-action="login" {
                label { "This server's token " input name="token" type="password" required autocomplete="off"; }
                button type="submit" { "Sign in" }
            }
        },
    )
}

pub async fn script() -> Response {
    let mut answer = include_str!("workbench.js").into_response();
    answer.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"));
    answer
}

pub async fn style() -> Response {
    let mut answer = include_str!("workbench.css").into_response();
    answer.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"));
    answer
}

/// The case record as Markdown, after the report's own.
pub fn case_markdown(case: &Case) -> String {
    use sleuth_render::text::markdown as md;
    let mut out = String::from("\n## Case record\n\n");
    out.push_str(&format!("- Status: {}\n", md(&case.status)));
    if let Some(a) = &case.assignee {
        out.push_str(&format!("- Assignee: {}\n", md(a)));
    }
    if !case.tags.is_empty() {
        out.push_str(&format!("- Tags: {}\n", case.tags.iter().map(|t| md(t)).collect::<Vec<_>>().join(", ")));
    }
    if let Some(o) = &case.verdict_override {
        out.push_str(&format!(
            "- Verdict set by {} at {}: **{}**, because {}\n",
            md(&o.who),
            md(&o.at),
            md(&o.verdict),
            md(&o.reason)
        ));
    }
    if !case.notes.is_empty() {
        out.push_str("\n### Notes\n\n");
        for n in &case.notes {
            out.push_str(&format!("- {} ({}): {}\n", md(&n.at), md(&n.who), md(&n.text)));
        }
    }
    out
}

/// The report's HTML page with the case record before its end.
pub fn report_html(report: &Value, case: &Case) -> String {
    let page = sleuth_render::report::html::render(report);
    let section = html! {
        section #case-record {
            h2 { "Case record" }
            p { "Status: " (T(&case.status)) @if let Some(a) = &case.assignee { "; assignee: " (T(a)) } }
            @if let Some(o) = &case.verdict_override {
                p { "Verdict set by " (T(&o.who)) " at " (T(&o.at)) ": " strong { (T(&o.verdict)) } ", because " (T(&o.reason)) }
            }
            @if !case.notes.is_empty() {
                h3 { "Notes" }
                ul { @for n in &case.notes { li { (T(&n.at)) " (" (T(&n.who)) "): " (T(&n.text)) } } }
            }
        }
    }
    .into_string();
    match page.rfind("</body>") {
        Some(at) => format!("{}{section}{}", &page[..at], &page[at..]),
        None => page + &section,
    }
}
