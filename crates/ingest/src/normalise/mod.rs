//! Recognises what one source record is (which table, which dialect) from its fields, never
//! from the file name, and turns it into a normalised [`Record`].

mod audit;
mod azure_activity;
mod graph_activity;
mod mailbox;
mod message_trace;
mod pim;
mod risk;
mod signin;
mod users;
mod workload;

use crate::fields::{Fields, expand_json_strings};
use crate::schema::Record;
use crate::value::{Map, Value};

/// The export dialect a record was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dialect {
    /// Microsoft Graph JSON (v1.0 or beta): camelCase objects.
    Graph,
    /// Azure Monitor diagnostic-settings records: `category` and `properties`.
    AzureMonitor,
    /// Log Analytics / Sentinel export (CSV or JSON): PascalCase columns.
    LogAnalytics,
    /// CSV downloaded from the Entra admin portal.
    EntraPortal,
    /// Purview Unified Audit Log (CSV with `AuditData`, or the AuditData JSON itself).
    PurviewUal,
    /// Exchange Online message trace (Get-MessageTrace or historical search CSV).
    MessageTrace,
}

impl Dialect {
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Graph => "graph",
            Dialect::AzureMonitor => "azure_monitor",
            Dialect::LogAnalytics => "log_analytics",
            Dialect::EntraPortal => "entra_portal",
            Dialect::PurviewUal => "purview_ual",
            Dialect::MessageTrace => "message_trace",
        }
    }
}

/// What became of one source record.
#[derive(Debug)]
pub enum Outcome {
    /// Normalised (message trace rows with several recipients give several records).
    Records(Vec<Record>),
    /// Not a kind of record Sleuth reads; says what it looked like.
    Unrecognised(String),
    /// A record of a known kind that cannot be used, and why.
    Invalid(String),
}

/// Where a record came from, stamped on every row.
pub(crate) struct Origin<'a> {
    pub source_file: &'a str,
    pub raw: &'a str,
}

/// Normalises one source record (a JSON object, or a CSV row turned into one).
pub fn normalise(mut object: Map, source_file: &str, raw: &str) -> Outcome {
    expand_json_strings(&mut object);
    let origin = Origin { source_file, raw };

    // Azure Monitor diagnostic record: the envelope names the log in `category`.
    if let Some(Value::Object(properties)) = object.get("properties")
        && let Some(category) = object.get("category").and_then(Value::as_str)
    {
        let mut properties = properties.clone();
        expand_json_strings(&mut properties);
        let f = Fields::with_fallback(&properties, &object);
        let envelope = Fields::with_fallback(&object, &properties);
        let d = Dialect::AzureMonitor;
        return match category.to_ascii_lowercase().as_str() {
            "signinlogs" => signin::normalise(f, d, Some(true), &origin),
            "noninteractiveusersigninlogs" => signin::normalise(f, d, Some(false), &origin),
            "serviceprincipalsigninlogs" => workload::normalise(f, d, workload::SERVICE_PRINCIPAL, &origin),
            "managedidentitysigninlogs" => workload::normalise(f, d, workload::MANAGED_IDENTITY, &origin),
            "auditlogs" => audit::normalise(f, d, &origin),
            "userriskevents" | "riskdetections" => risk::detection(f, d, &origin),
            "riskyusers" => risk::risky_user(f, d, &origin),
            "microsoftgraphactivitylogs" => graph_activity::normalise(f, d, &origin),
            // The Activity log's export keeps its fields in the envelope, `properties` aside.
            activity if azure_activity::CATEGORIES.contains(&activity) && azure_activity::looks_like(envelope) => {
                azure_activity::normalise(envelope, d, &origin)
            }
            // Pipelines rewrite `category` (to the audit category, the risk event type ...):
            // what the record is, is told by its content.
            _ => by_content(f, d, &origin).unwrap_or_else(|| {
                Outcome::Unrecognised(format!(
                    "Azure Monitor record of category {category:?}, which Sleuth does not read, \
                     and its properties are no sign-in, audit, risk or activity record"
                ))
            }),
        };
    }

    // Purview UAL CSV row: the record is the AuditData JSON, the columns are a fallback.
    if let Some(audit_data) = object.get("AuditData") {
        let Value::Object(inner) = audit_data else {
            return Outcome::Invalid("AuditData column is not a JSON object".into());
        };
        let mut inner = inner.clone();
        expand_json_strings(&mut inner);
        return mailbox::normalise(Fields::with_fallback(&inner, &object), Dialect::PurviewUal, &origin);
    }

    // Purview audit record as Graph returns it (security/auditLog/queries/{id}/records): the
    // record's own AuditData is `auditData`, the Graph properties are a fallback
    // (https://learn.microsoft.com/en-us/graph/api/resources/security-auditlogrecord).
    // `auditData` may also come as JSON text, or not at all (a `$select` without it): the Graph
    // properties then stand alone.
    let graph_audit = object.contains_key("auditLogRecordType")
        || (object.contains_key("operation") && matches!(object.get("auditData"), Some(Value::Object(_))));
    if graph_audit {
        let mut inner = match object.get("auditData") {
            Some(Value::Object(inner)) => inner.clone(),
            Some(Value::String(text)) => crate::value::parse(text)
                .ok()
                .and_then(|v| match v {
                    Value::Object(map) => Some(map),
                    _ => None,
                })
                .unwrap_or_default(),
            _ => Map::new(),
        };
        expand_json_strings(&mut inner);
        // Graph's spelling of the inner record's names is not documented: they are matched
        // whatever their case.
        return mailbox::normalise(Fields::with_fallback(&inner, &object).any_case(), Dialect::Graph, &origin);
    }

    if pim::looks_like(&object) {
        return pim::normalise(&object, &origin);
    }

    let f = Fields::new(&object);
    let camel = [
        "createdDateTime",
        "activityDateTime",
        "detectedDateTime",
        "riskLastUpdatedDateTime",
        "userPrincipalName",
        "eventTimestamp",
        "requestUri",
    ]
    .iter()
    .any(|k| object.contains_key(k));
    let dialect = if camel { Dialect::Graph } else { Dialect::LogAnalytics };

    // A Log Analytics export names its table in `Type`.
    let kind = f.text(&["Type"]).unwrap_or_default();
    let by_type = match kind.as_str() {
        "AADServicePrincipalSignInLogs" => Some(workload::normalise(f, dialect, workload::SERVICE_PRINCIPAL, &origin)),
        "AADManagedIdentitySignInLogs" => Some(workload::normalise(f, dialect, workload::MANAGED_IDENTITY, &origin)),
        "MicrosoftGraphActivityLogs" => Some(graph_activity::normalise(f, dialect, &origin)),
        "AzureActivity" => Some(azure_activity::normalise(f, dialect, &origin)),
        _ => None,
    };
    if let Some(outcome) = by_type {
        return outcome;
    }
    if let Some(outcome) = by_content(f, dialect, &origin) {
        return outcome;
    }
    if f.has("Date (UTC)") {
        if f.value(&["Request ID", "Sign-in error code", "Application"]).is_some() {
            return signin::normalise(f, Dialect::EntraPortal, None, &origin);
        }
        if f.has("Activity") {
            return audit::normalise(f, Dialect::EntraPortal, &origin);
        }
    }
    if users::looks_like(&object) {
        // Get-MgUser's PascalCase is Graph's user object all the same.
        let d = if object.contains_key("objectId") { Dialect::EntraPortal } else { Dialect::Graph };
        return users::normalise(f, d, &origin);
    }
    if object.contains_key("sleuth_collect_manifest") {
        return Outcome::Unrecognised(
            "sleuth collect's manifest (what was fetched, page by page), not a log export".into(),
        );
    }
    if object.contains_key("sleuth_demo_manifest") {
        return Outcome::Unrecognised("the demo tenant's manifest (the stories' answers), not a log export".into());
    }
    Outcome::Unrecognised(describe(&object))
}

/// Tells what a record is from its fields alone, and normalises it; `None` when it is none of
/// the kinds Sleuth reads.
fn by_content(f: Fields, dialect: Dialect, origin: &Origin) -> Option<Outcome> {
    let kind = f.text(&["Type"]).unwrap_or_default();
    if f.value(&["riskEventType", "RiskEventType"]).is_some() {
        return Some(risk::detection(f, dialect, origin));
    }
    if f.value(&["riskLastUpdatedDateTime", "RiskLastUpdatedDateTime"]).is_some() {
        return Some(risk::risky_user(f, dialect, origin));
    }
    if f.value(&["origin_timestamp_utc", "Received", "date_time_utc"]).is_some()
        && f.value(&["sender_address", "SenderAddress"]).is_some()
    {
        return Some(message_trace::normalise(f, origin));
    }
    if f.value(&["Operation", "Operations"]).is_some()
        && f.value(&["CreationTime", "CreationDate", "OfficeWorkload", "Workload", "RecordType"]).is_some()
    {
        let d = match dialect {
            Dialect::AzureMonitor => dialect,
            _ if f.has("OfficeWorkload") || kind == "OfficeActivity" => Dialect::LogAnalytics,
            _ => Dialect::PurviewUal,
        };
        return Some(mailbox::normalise(f, d, origin));
    }
    if f.value(&["activityDisplayName", "ActivityDisplayName"]).is_some()
        || (f.has("OperationName") && f.value(&["TargetResources", "InitiatedBy"]).is_some())
    {
        return Some(audit::normalise(f, dialect, origin));
    }
    if let Some(workload) = workload::event_type(f) {
        return Some(workload::normalise(f, dialect, workload, origin));
    }
    if workload::looks_like(f) {
        return Some(workload::normalise(f, dialect, workload::SERVICE_PRINCIPAL, origin));
    }
    if graph_activity::looks_like(f) {
        return Some(graph_activity::normalise(f, dialect, origin));
    }
    if azure_activity::looks_like(f) {
        return Some(azure_activity::normalise(f, dialect, origin));
    }
    let has_user = f.value(&["userPrincipalName", "UserPrincipalName", "userId", "UserId"]).is_some();
    let has_app = f.value(&["appDisplayName", "AppDisplayName", "appId", "AppId"]).is_some();
    let has_result =
        f.value(&["createdDateTime", "CreatedDateTime", "TimeGenerated", "ResultType", "status", "Status"]).is_some();
    if has_user && has_app && has_result {
        let hint = match kind.as_str() {
            "AADNonInteractiveUserSignInLogs" => Some(false),
            "SigninLogs" => Some(true),
            _ => None,
        };
        return Some(signin::normalise(f, dialect, hint, origin));
    }
    None
}

/// A short description of an unrecognised record, naming a few of its fields.
fn describe(object: &Map) -> String {
    let mut keys: Vec<&str> = object.keys().take(6).collect();
    if object.len() > keys.len() {
        keys.push("...");
    }
    format!(
        "not a sign-in, audit, risk, unified audit, message trace, Graph activity, Azure activity or PIM alert record (fields: {})",
        keys.join(", ")
    )
}

/// A stable id for records that carry none: 128 bits of FNV-1a over the raw record.
pub(crate) fn derived_id(raw: &str) -> String {
    let mut a: u64 = 0xcbf2_9ce4_8422_2325;
    let mut b: u64 = 0x6c62_272e_07bb_0142;
    for byte in raw.bytes() {
        a = (a ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
        b = (b ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3).rotate_left(5);
    }
    format!("derived:{a:016x}{b:016x}")
}

/// Compact JSON of an array read from the record, for the columns that keep a whole structure.
pub(crate) fn json_text(items: &[Value]) -> String {
    let mut out = Vec::with_capacity(1024); // most lists without regrowing the text
    match serde_json::to_writer(&mut out, items) {
        Ok(()) => String::from_utf8(out).unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// The normalisers' common failure: a record of a known kind without an id or a time.
pub(crate) fn require<T>(value: Option<T>, what: &str) -> Result<T, String> {
    value.ok_or_else(|| format!("missing or unreadable {what}"))
}

/// Wraps a normaliser's result.
pub(crate) fn outcome(result: Result<Record, String>) -> Outcome {
    match result {
        Ok(r) => Outcome::Records(vec![r]),
        Err(e) => Outcome::Invalid(e),
    }
}
