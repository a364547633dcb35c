//! The workbench's pages, rendered on the server. Every string from a log or an analyst goes
//! through the report stage's escaping (markup, control and bidi characters); the one script
//! is a static file (`/workbench.js`) that only sends JSON and writes text, never markup.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, Render, html};
use serde_json::Value;

use crate::Workbench;
use crate::api::{QueueQuery, error, queue_rows};
use crate::cases::{Case, STATUSES, VERDICTS};

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

/// `/`: the incident queue, with a box to investigate any account.
pub async fn queue(State(wb): State<Arc<Workbench>>) -> Response {
    let rows = match queue_rows(&wb, &QueueQuery::default(), false).await {
        Ok(rows) => rows,
        Err(e) => return e.into_response(),
    };
    let investigations = wb.cases.report_ids();
    page(
        "Incidents",
        html! {
            h1 { "Incidents" }
            p {
                (rows.len()) " incidents from the store's hunt, most severe first. "
                button data-action="rehunt" { "Hunt again" }
            }
            form.inline data-action="investigate-user" {
                label { "Investigate an account: " input name="user" type="text" placeholder="user@contoso.com" required; }
                button type="submit" { "Investigate" }
            }
            table #queue {
                thead { tr { th { "Severity" } th { "Who" } th { "Rules" } th { "First seen" } th { "Last seen" } th { "Status" } th { "Assignee" } th {} } }
                tbody {
                    @for r in &rows {
                        tr data-incident=(text(&r["id"])) {
                            td class={"sev " (text(&r["severity"]))} { (T(&text(&r["severity"]))) }
                            td.who {
                                @if r["kind"] == "ip" {
                                    "from " (T(&text(&r["key"]))) " · " (r["users"].as_array().map_or(0, Vec::len)) " accounts"
                                } @else {
                                    (T(&r["users"].as_array().map(|u| u.iter().map(text).collect::<Vec<_>>().join(", ")).unwrap_or_default()))
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

/// `/investigations/{id}`: the case record beside the report.
pub async fn investigation(State(wb): State<Arc<Workbench>>, Path(id): Path<String>) -> Response {
    let Some(report) = wb.cases.report(&id) else {
        return error(StatusCode::NOT_FOUND, "not_found", &format!("no investigation {id}")).into_response();
    };
    let case = wb.cases.case(&id);
    let standing =
        case.verdict_override.as_ref().map(|o| o.verdict.clone()).unwrap_or_else(|| text(&report["verdict"]));
    let events = wb.cases.events(Some(&id));
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
            iframe.report src={"/api/investigations/" (id) "/report?format=html"} sandbox="" title="The report" {}
        },
    )
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
