//! The HTTP API. Every answer is JSON; every error is `{"error": {"code", "message"}}` with
//! its HTTP status. `/openapi.json` describes it all.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use datafusion::prelude::SessionContext;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sleuth_detect::{Catalog, Filter, Severity, kept};
use sleuth_investigate::subject::{Ask, resolve_in};
use sleuth_investigate::{Context, Span, SubjectKind, investigate as run_investigation};
use sleuth_store::Store;

use crate::Workbench;
use crate::cases::{self, MAX_NOTE_CHARS, MAX_REASON_CHARS, VERDICTS};
use crate::guard::SESSION_COOKIE;

type Wb = State<Arc<Workbench>>;
type Answer = Result<Response, ApiError>;

/// An error answer, of the one shape: `{"error": {"code", "message"}}` with its status.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({"error": {"code": self.code, "message": self.message}}))).into_response()
    }
}

pub fn error(status: StatusCode, code: &'static str, message: &str) -> ApiError {
    ApiError { status, code, message: message.to_string() }
}

fn bad(message: impl std::fmt::Display) -> ApiError {
    error(StatusCode::BAD_REQUEST, "bad_request", &message.to_string())
}

fn internal(message: impl std::fmt::Display) -> ApiError {
    tracing::warn!(%message, "request failed");
    error(StatusCode::INTERNAL_SERVER_ERROR, "internal", &message.to_string())
}

fn missing(what: &str) -> ApiError {
    error(StatusCode::NOT_FOUND, "not_found", &format!("no {what}"))
}

pub async fn not_found() -> Response {
    missing("such path (see /openapi.json)").into_response()
}

/// A JSON body, or the one-shape error saying what is wrong with it.
fn body<T: for<'de> Deserialize<'de>>(
    payload: Result<Json<T>, axum::extract::rejection::JsonRejection>,
) -> Result<T, ApiError> {
    payload.map(|Json(v)| v).map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => error(StatusCode::PAYLOAD_TOO_LARGE, "too_large", &e.body_text()),
        _ => bad(e.body_text()),
    })
}

/// A session over the store as it is now.
async fn session(wb: &Workbench) -> Result<SessionContext, ApiError> {
    Store::open(&wb.config.store).map_err(internal)?.session().await.map_err(internal)
}

async fn bounded<T>(wb: &Workbench, work: impl std::future::Future<Output = T>) -> Result<T, ApiError> {
    tokio::time::timeout(wb.config.query_timeout, work).await.map_err(|_| {
        error(
            StatusCode::GATEWAY_TIMEOUT,
            "timeout",
            &format!("stopped after {} s (the server's --query-timeout)", wb.config.query_timeout.as_secs()),
        )
    })
}

/// Hunts the store once at start, so that the queue is ready when the first analyst opens it
/// (a request meanwhile waits for this hunt rather than starting its own).
pub async fn warm(wb: Arc<Workbench>) {
    let started = std::time::Instant::now();
    match hunted(&wb, false).await {
        Ok(report) => tracing::info!(
            incidents = report.incidents.len(),
            seconds = started.elapsed().as_secs_f64(),
            "the store's hunt is ready"
        ),
        Err(e) => tracing::warn!(error = e.message, "the first hunt failed; the queue will try again"),
    }
}

/// The store's hunt at every severity, run again when the store changed or when asked.
async fn hunted(wb: &Workbench, again: bool) -> Result<Arc<sleuth_detect::Report>, ApiError> {
    // The manifest says whether the store changed; a session is made only to hunt again.
    let store = Store::open(&wb.config.store).map_err(internal)?;
    let generation = store.manifest().generation;
    let mut cached = wb.hunt.lock().await;
    if let Some((g, report)) = cached.as_ref()
        && *g == generation
        && !again
    {
        return Ok(report.clone());
    }
    let ctx = store.session().await.map_err(internal)?;
    let filter = Filter { min_severity: Severity::Informational, ..Filter::default() };
    let catalog = Catalog::builtin();
    // The hunt kept beside the store serves a restart; asked to hunt again, the rules run.
    let findings = if again {
        bounded(wb, kept::renew(&store, &ctx, &catalog)).await?
    } else {
        bounded(wb, kept::findings(&store, &ctx, &catalog)).await?
    };
    let report = Arc::new(findings.report(&catalog, &filter));
    *cached = Some((generation, report.clone()));
    Ok(report)
}

fn incident_target(id: &str) -> String {
    format!("incident/{id}")
}

/// The queue's filters and order; an empty value is no filter (as a page's form sends it).
#[derive(Deserialize, Default)]
pub struct QueueQuery {
    pub severity: Option<String>,
    pub status: Option<String>,
    pub user: Option<String>,
    /// `severity` (the hunt's rank, the default), `last_seen` or `first_seen` (latest first),
    /// `user` or `status`.
    pub sort: Option<String>,
}

/// The orders the queue takes.
pub const SORTS: [&str; 5] = ["severity", "last_seen", "first_seen", "user", "status"];

fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// The queue: the hunt's incidents, ranked, with their workflow state.
pub async fn incidents(State(wb): Wb, Query(q): Query<QueueQuery>) -> Answer {
    queue(&wb, q, false).await
}

pub async fn rehunt(State(wb): Wb) -> Answer {
    queue(&wb, QueueQuery::default(), true).await
}

pub(crate) async fn queue_rows(wb: &Workbench, q: &QueueQuery, again: bool) -> Result<Vec<Value>, ApiError> {
    let report = hunted(wb, again).await?;
    let sort = given(&q.sort).unwrap_or("severity");
    if !SORTS.contains(&sort) {
        return Err(bad(format!("sort {sort:?}: say one of {}", SORTS.join(", "))));
    }
    if let Some(status) = given(&q.status)
        && !cases::STATUSES.contains(&status)
    {
        return Err(bad(format!("status {status:?}: say one of {}", cases::STATUSES.join(", "))));
    }
    let floor = match given(&q.severity) {
        Some(name) => Some(Severity::from_name(name).ok_or_else(|| bad(format!("unknown severity {name:?}")))?),
        None => None,
    };
    let mut rows = Vec::new();
    for incident in &report.incidents {
        if floor.is_some_and(|f| incident.severity < f) {
            continue;
        }
        if given(&q.user).is_some_and(|u| !incident.users.iter().any(|x| x.eq_ignore_ascii_case(u))) {
            continue;
        }
        let case = wb.cases.case(&incident_target(&incident.id));
        if given(&q.status).is_some_and(|s| s != case.status) {
            continue;
        }
        rows.push(json!({
            "id": incident.id, "kind": incident.kind, "key": incident.key,
            "severity": incident.severity.name(), "score": incident.score,
            "first_seen": incident.first_seen.to_rfc3339(), "last_seen": incident.last_seen.to_rfc3339(),
            "rules": incident.rules, "mitre": incident.mitre, "users": incident.users, "ips": incident.ips,
            "alerts": incident.alerts.len(), "status": case.status, "assignee": case.assignee,
        }));
    }
    // Stable sorts over the hunt's rank, so ties keep it.
    let key = |row: &Value, name: &str| match name {
        "user" => row["users"][0].as_str().or(row["key"].as_str()).unwrap_or_default().to_lowercase(),
        other => row[other].as_str().unwrap_or_default().to_string(),
    };
    match sort {
        "last_seen" | "first_seen" => rows.sort_by_key(|row| std::cmp::Reverse(key(row, sort))),
        "user" | "status" => rows.sort_by_key(|row| key(row, sort)),
        _ => {}
    }
    Ok(rows)
}

async fn queue(wb: &Workbench, q: QueueQuery, again: bool) -> Answer {
    let rows = queue_rows(wb, &q, again).await?;
    Ok(Json(json!({"incidents": rows})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseUpdate {
    status: Option<String>,
    #[serde(default, deserialize_with = "present")]
    assignee: Option<Option<String>>,
    tags: Option<Vec<String>>,
    author: Option<String>,
}

/// A field given as `null` is `Some(None)`; an absent one `None`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

fn author(given: Option<&str>) -> Result<String, ApiError> {
    let who = given.map(str::trim).filter(|w| !w.is_empty()).unwrap_or("analyst");
    if who.chars().count() > cases::MAX_NAME_CHARS {
        return Err(bad(format!("an author is at most {} characters", cases::MAX_NAME_CHARS)));
    }
    Ok(who.to_string())
}

fn update(wb: &Workbench, target: &str, u: CaseUpdate) -> Answer {
    let who = author(u.author.as_deref())?;
    let change = cases::case_change(u.status.as_deref(), u.assignee.as_ref().map(Option::as_deref), u.tags.as_deref())
        .map_err(bad)?;
    wb.cases.record(&who, "case", target, change).map_err(internal)?;
    Ok(Json(json!({"case": wb.cases.case(target)})).into_response())
}

pub async fn incident_update(
    State(wb): Wb,
    Path(id): Path<String>,
    payload: Result<Json<CaseUpdate>, axum::extract::rejection::JsonRejection>,
) -> Answer {
    let u = body(payload)?;
    let report = hunted(&wb, false).await?;
    if !report.incidents.iter().any(|i| i.id == id) {
        return Err(missing(&format!("incident {id} in this store's hunt")));
    }
    update(&wb, &incident_target(&id), u)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Investigate {
    user: Option<String>,
    service_principal: Option<String>,
    incident: Option<String>,
    /// An alert or incident as Defender XDR, Sentinel or Entra ID Protection export it.
    alert: Option<Value>,
    /// The moment of interest, RFC 3339.
    at: Option<String>,
    author: Option<String>,
}

/// The most accounts one uploaded alert is investigated for; it names more only rarely.
pub const MAX_ALERT_SUBJECTS: usize = 10;

/// Runs an investigation exactly as `sleuth investigate` does with its defaults, keeps the
/// report, and answers it with its case record. An uploaded alert is investigated for each
/// account of the store it names (at most [`MAX_ALERT_SUBJECTS`]); the answer is the first
/// report, with the others' ids under `also`.
pub async fn investigate(
    State(wb): Wb,
    payload: Result<Json<Investigate>, axum::extract::rejection::JsonRejection>,
) -> Answer {
    let asked = body(payload)?;
    let who = author(asked.author.as_deref())?;
    let at = match asked.at.as_deref() {
        Some(at) => Some(
            chrono::DateTime::parse_from_rfc3339(at)
                .map_err(|e| bad(format!("at {at:?}: {e}")))?
                .with_timezone(&chrono::Utc),
        ),
        None => None,
    };
    let not_found = |e: sleuth_investigate::InvestigateError| error(StatusCode::NOT_FOUND, "not_found", &e.to_string());
    let store = Store::open(&wb.config.store).map_err(internal)?;
    let ctx = store.session().await.map_err(internal)?;
    let subjects = match (&asked.user, &asked.service_principal, &asked.incident, &asked.alert) {
        (None, None, None, Some(alert)) => {
            let entities = sleuth_investigate::alert::entities(alert);
            if entities.is_empty() {
                return Err(bad(
                    "the alert names no account, workload identity or address (no userPrincipalName, userAccount, \
                     Account or Ip entity, ipAddress, servicePrincipalId)",
                ));
            }
            let reach = Span::default().reach_hours;
            let mut subjects =
                bounded(&wb, sleuth_investigate::alert::asked(&store, &ctx, &entities, reach, "uploaded alert"))
                    .await?
                    .map_err(not_found)?;
            subjects.truncate(MAX_ALERT_SUBJECTS);
            subjects
        }
        (user, name, incident, None) => {
            let ask = match (user, name, incident) {
                (Some(user), None, None) => Ask::User { user, at },
                (None, Some(name), None) => Ask::ServicePrincipal { name, at },
                (None, None, Some(id)) => Ask::Incident(id),
                _ => return Err(bad("say one of user, service_principal, incident or alert")),
            };
            // The kept hunt (every severity) answers what a new one would: the server does not
            // hunt again for each investigation.
            let hunted = hunted(&wb, false).await?;
            vec![resolve_in(Some(&hunted), ask).map_err(not_found)?]
        }
        _ => return Err(bad("say one of user, service_principal, incident or alert")),
    };
    let mut reports = Vec::new();
    for (name, focus, kind) in subjects {
        reports.push(investigated(&wb, &ctx, &who, &name, focus, kind).await?);
    }
    let mut first = reports.remove(0);
    if !reports.is_empty() {
        first["also"] = reports
            .iter()
            .map(|r| json!({"id": r["id"], "subject": r["subject"]["user"], "verdict": r["verdict"]}))
            .collect();
    }
    Ok((StatusCode::CREATED, Json(first)).into_response())
}

/// One investigation run, kept and written to the audit trail: its report with its case.
async fn investigated(
    wb: &Workbench,
    ctx: &SessionContext,
    who: &str,
    name: &str,
    focus: sleuth_investigate::Focus,
    kind: SubjectKind,
) -> Result<Value, ApiError> {
    let runbook = match kind {
        SubjectKind::User => &wb.people,
        SubjectKind::ServicePrincipal => &wb.workloads,
    };
    let context = Context::default();
    let request =
        sleuth_investigate::Request { user: name, kind, focus, span: Span::default(), context: &context, runbook };
    let report = bounded(wb, run_investigation(ctx, &request))
        .await?
        .map_err(|e| error(StatusCode::NOT_FOUND, "not_found", &e.to_string()))?;
    let value = serde_json::to_value(&report).map_err(internal)?;
    wb.cases.keep_report(&report.id, &value).map_err(internal)?;
    let kind = match report.subject.kind {
        SubjectKind::User => "user",
        SubjectKind::ServicePrincipal => "service_principal",
    };
    wb.cases
        .record(
            who,
            "investigated",
            &report.id,
            json!({"subject": report.subject.user, "kind": kind, "verdict": report.verdict, "confidence": report.confidence}),
        )
        .map_err(internal)?;
    Ok(with_case(wb, value))
}

/// A report with its case record and the verdict that stands (the analyst's, when given).
fn with_case(wb: &Workbench, mut report: Value) -> Value {
    let id = report["id"].as_str().unwrap_or_default().to_string();
    let case = wb.cases.case(&id);
    let standing = case.verdict_override.as_ref().map(|o| o.verdict.clone());
    if let Some(object) = report.as_object_mut() {
        object.insert("case".into(), serde_json::to_value(&case).unwrap_or_default());
        let verdict = object.get("verdict").cloned().unwrap_or_default();
        object.insert("standing_verdict".into(), standing.map(Value::from).unwrap_or(verdict));
    }
    report
}

fn kept(wb: &Workbench, id: &str) -> Result<Value, ApiError> {
    wb.cases.report(id).ok_or_else(|| missing(&format!("investigation {id}")))
}

pub async fn investigations(State(wb): Wb) -> Answer {
    let rows: Vec<Value> = wb
        .cases
        .report_ids()
        .iter()
        .filter_map(|id| wb.cases.report(id))
        .map(|r| {
            let r = with_case(&wb, r);
            json!({"id": r["id"], "title": r["title"], "subject": r["subject"], "verdict": r["verdict"],
                   "standing_verdict": r["standing_verdict"], "confidence": r["confidence"], "case": r["case"]})
        })
        .collect();
    Ok(Json(json!({"investigations": rows})).into_response())
}

pub async fn investigation(State(wb): Wb, Path(id): Path<String>) -> Answer {
    let mut report = with_case(&wb, kept(&wb, &id)?);
    report["audit"] = serde_json::to_value(wb.cases.events(Some(&id))).unwrap_or_default();
    Ok(Json(report).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    text: String,
    author: Option<String>,
}

pub async fn note(
    State(wb): Wb,
    Path(id): Path<String>,
    payload: Result<Json<NoteBody>, axum::extract::rejection::JsonRejection>,
) -> Answer {
    let n = body(payload)?;
    kept(&wb, &id)?;
    let text = n.text.trim();
    if text.is_empty() || text.chars().count() > MAX_NOTE_CHARS {
        return Err(bad(format!("a note is 1 to {MAX_NOTE_CHARS} characters")));
    }
    let who = author(n.author.as_deref())?;
    wb.cases.record(&who, "note", &id, json!({"text": text})).map_err(internal)?;
    Ok((StatusCode::CREATED, Json(json!({"case": wb.cases.case(&id)}))).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerdictBody {
    verdict: String,
    reason: String,
    author: Option<String>,
}

pub async fn verdict(
    State(wb): Wb,
    Path(id): Path<String>,
    payload: Result<Json<VerdictBody>, axum::extract::rejection::JsonRejection>,
) -> Answer {
    let v = body(payload)?;
    let report = kept(&wb, &id)?;
    if !VERDICTS.contains(&v.verdict.as_str()) {
        return Err(bad(format!("verdict {:?}: say one of {}", v.verdict, VERDICTS.join(", "))));
    }
    let reason = v.reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
        return Err(bad(format!("a verdict override needs a reason of 1 to {MAX_REASON_CHARS} characters")));
    }
    let who = author(v.author.as_deref())?;
    let before = wb
        .cases
        .case(&id)
        .verdict_override
        .map(|o| o.verdict)
        .unwrap_or_else(|| report["verdict"].as_str().unwrap_or("").into());
    wb.cases
        .record(&who, "verdict", &id, json!({"verdict": v.verdict, "reason": reason, "before": before}))
        .map_err(internal)?;
    Ok(Json(json!({"case": wb.cases.case(&id), "standing_verdict": v.verdict})).into_response())
}

pub async fn case_update(
    State(wb): Wb,
    Path(id): Path<String>,
    payload: Result<Json<CaseUpdate>, axum::extract::rejection::JsonRejection>,
) -> Answer {
    let u = body(payload)?;
    kept(&wb, &id)?;
    update(&wb, &id, u)
}

#[derive(Deserialize)]
pub struct ReportQuery {
    format: Option<String>,
}

/// The report to take away, with the case record: JSON, Markdown or the HTML page.
pub async fn report(State(wb): Wb, Path(id): Path<String>, Query(q): Query<ReportQuery>) -> Answer {
    let report = kept(&wb, &id)?;
    let case = wb.cases.case(&id);
    let (text, kind) = match q.format.as_deref().unwrap_or("json") {
        "json" => (serde_json::to_string_pretty(&with_case(&wb, report)).unwrap_or_default(), "application/json"),
        "md" => (
            sleuth_render::report::markdown::render(&report) + &crate::pages::case_markdown(&case),
            "text/markdown; charset=utf-8",
        ),
        "html" => (crate::pages::report_html(&report, &case), "text/html; charset=utf-8"),
        other => return Err(bad(format!("format {other:?}: say json, md or html"))),
    };
    let mut answer = text.into_response();
    answer.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    if kind.starts_with("text/html") {
        // The report page styles itself inline and runs nothing; the workbench frames it.
        answer.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'",
            ),
        );
        answer.headers_mut().insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("SAMEORIGIN"));
    }
    Ok(answer)
}

pub async fn audit(State(wb): Wb) -> Answer {
    Ok(Json(json!({"events": wb.cases.events(None)})).into_response())
}

/// The columns an entity of each kind is found in.
const PIVOTS: [(&str, &[&str]); 6] = [
    ("user", &["user_principal_name"]),
    ("ip", &["ip_address", "client_ip", "caller_ip_address"]),
    ("asn", &["asn"]),
    ("device", &["device_id"]),
    ("app", &["app_display_name", "app_id"]),
    ("user_agent", &["user_agent"]),
];
const PIVOT_ROWS: usize = 50;

/// Everything the store holds on one user, address, ASN, device, app or user agent: per table
/// and column, how many records, their span, and the latest of them.
pub async fn entity(State(wb): Wb, Path((kind, value)): Path<(String, String)>) -> Answer {
    Ok(Json(entity_records(&wb, &kind, &value).await?).into_response())
}

/// The kinds of entity pivoted on, and the columns that hold each.
pub fn pivot_kind(column: &str) -> Option<&'static str> {
    PIVOTS.iter().find(|(_, columns)| columns.contains(&column)).map(|(kind, _)| *kind)
}

/// What [`entity`] answers: `{"kind", "value", "found": [{"table", "column", "records",
/// "first", "last", "latest"}]}`.
pub(crate) async fn entity_records(wb: &Workbench, kind: &str, value: &str) -> Result<Value, ApiError> {
    let Some((_, columns)) = PIVOTS.iter().find(|(k, _)| *k == kind) else {
        return Err(bad(format!("kind {kind:?}: say {}", PIVOTS.iter().map(|p| p.0).collect::<Vec<_>>().join(", "))));
    };
    let literal = if kind == "asn" {
        value
            .trim()
            .trim_start_matches("AS")
            .parse::<i64>()
            .map_err(|_| bad(format!("{value:?} is not an ASN")))?
            .to_string()
    } else {
        let v = if kind == "user" { value.trim().to_lowercase() } else { value.trim().to_string() };
        format!("'{}'", v.replace('\'', "''"))
    };
    let ctx = session(wb).await?;
    let mut found = Vec::new();
    for table in sleuth_ingest::Table::ALL {
        for column in table.columns().iter().filter(|c| columns.contains(&c.name)) {
            let t = table.name();
            let c = column.name;
            let sql =
                format!("SELECT * FROM {t} WHERE {c} = {literal} ORDER BY time DESC NULLS LAST LIMIT {PIVOT_ROWS}");
            let counted =
                format!("SELECT count(*) AS n, min(time) AS first, max(time) AS last FROM {t} WHERE {c} = {literal}");
            let summary = rows(wb, &ctx, &counted, 1).await?;
            let n = summary.0.first().and_then(|r| r.get("n")).and_then(Value::as_i64).unwrap_or(0);
            if n == 0 {
                continue;
            }
            let (records, _) = rows(wb, &ctx, &sql, PIVOT_ROWS).await?;
            found.push(json!({"table": t, "column": c, "records": n,
                "first": summary.0[0].get("first"), "last": summary.0[0].get("last"), "latest": records}));
        }
    }
    Ok(json!({"kind": kind, "value": value, "found": found}))
}

/// The rows of a read-only query as JSON objects, at most `max`; whether there were more.
async fn rows(wb: &Workbench, ctx: &SessionContext, sql: &str, max: usize) -> Result<(Vec<Value>, bool), ApiError> {
    let batches = bounded(wb, async {
        let df = sleuth_store::read_only(ctx, sql).await?;
        df.limit(0, Some(max + 1))?.collect().await
    })
    .await?
    .map_err(bad)?;
    let mut out = Vec::new();
    for batch in &batches {
        let names: Vec<String> = batch.schema().fields().iter().map(|f| f.name().clone()).collect();
        let columns: Vec<Vec<Value>> =
            batch.columns().iter().map(sleuth_store::json::values).collect::<Result<_, _>>().map_err(internal)?;
        for row in 0..batch.num_rows() {
            let object: Map<String, Value> =
                names.iter().zip(&columns).map(|(n, c)| (n.clone(), c[row].clone())).collect();
            out.push(Value::Object(object));
        }
    }
    let more = out.len() > max;
    out.truncate(max);
    Ok((out, more))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlBody {
    sql: String,
}

/// Read-only SQL over the store's tables: `sleuth sql`'s door, bounded in rows and time.
pub async fn sql(State(wb): Wb, payload: Result<Json<SqlBody>, axum::extract::rejection::JsonRejection>) -> Answer {
    let q = body(payload)?;
    let ctx = session(&wb).await?;
    let (rows, truncated) = rows(&wb, &ctx, &q.sql, wb.config.max_rows).await?;
    Ok(Json(json!({"rows": rows, "truncated": truncated, "max_rows": wb.config.max_rows})).into_response())
}

/// The tables and their columns' meaning, for the query box.
pub async fn tables() -> Answer {
    let tables: Vec<Value> = sleuth_ingest::Table::ALL
        .iter()
        .map(|t| {
            let columns: Vec<Value> = t
                .columns()
                .iter()
                .map(|c| json!({"name": c.name, "meaning": c.meaning, "sources": c.sources}))
                .collect();
            json!({"name": t.name(), "columns": columns})
        })
        .collect();
    Ok(Json(json!({"tables": tables})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionBody {
    token: String,
}

/// A browser's sign-in: the token, checked, becomes an HttpOnly, SameSite=Strict cookie.
pub async fn session_start(
    State(wb): Wb,
    payload: Result<Json<SessionBody>, axum::extract::rejection::JsonRejection>,
) -> Answer {
    let s = body(payload)?;
    let Some(token) = &wb.config.token else {
        return Ok(Json(json!({"signed_in": true})).into_response());
    };
    if !token.matches(s.token.trim()) {
        return Err(error(StatusCode::UNAUTHORIZED, "unauthorised", "not this server's token"));
    }
    let mut answer = Json(json!({"signed_in": true})).into_response();
    let cookie = format!("{SESSION_COOKIE}={}; HttpOnly; SameSite=Strict; Path=/", s.token.trim());
    answer.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_str(&cookie).map_err(internal)?);
    Ok(answer)
}

pub async fn openapi() -> Response {
    let mut answer = include_str!("openapi.json").into_response();
    answer.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    answer
}
