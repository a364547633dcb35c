//! Writes the demo's events in the export dialects an analyst receives: Graph pages, JSON
//! lines and arrays, Azure Monitor diagnostic records (gzip), Log Analytics CSV (dynamic
//! columns as JSON text, locale timestamps), Purview UAL CSV (new and legacy headers) and a
//! UTF-16 message trace.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use flate2::{Compression, write::GzEncoder};
use serde_json::{Value, json};

use crate::event::{Trace, Ual};

/// Which dialects the demo writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Each log in the dialect analysts most often receive it in (the default).
    Mixed,
    /// Entra logs as Microsoft Graph pages.
    Graph,
    /// Entra logs as Azure Monitor diagnostic records.
    AzureMonitor,
    /// Entra logs as Log Analytics CSV exports.
    LogAnalytics,
    /// Entra logs as Log Analytics query API responses (`{"tables": [{"columns", "rows"}]}`).
    LogAnalyticsQuery,
}

impl Format {
    pub fn parse(text: &str) -> Option<Format> {
        match text {
            "mixed" => Some(Format::Mixed),
            "graph" => Some(Format::Graph),
            "azure-monitor" => Some(Format::AzureMonitor),
            "log-analytics" => Some(Format::LogAnalytics),
            "log-analytics-query" => Some(Format::LogAnalyticsQuery),
            _ => None,
        }
    }
}

trait Writer {
    fn write(&mut self, record: &Value) -> io::Result<()>;
    fn finish(&mut self) -> io::Result<()>;
}

/// Writers of interactive and non-interactive sign-ins, audits, risk detections, risky users.
type EntraWriters = (Box<dyn Writer>, Box<dyn Writer>, Box<dyn Writer>, Box<dyn Writer>, Box<dyn Writer>);

/// All the demo's outputs.
pub struct Output {
    interactive: Box<dyn Writer>,
    noninteractive: Box<dyn Writer>,
    reexport: Option<(DateTime<Utc>, Box<dyn Writer>)>,
    audits: Box<dyn Writer>,
    risks: Box<dyn Writer>,
    risky_users: Box<dyn Writer>,
    ual: csv::Writer<BufWriter<File>>,
    ual_legacy: csv::Writer<BufWriter<File>>,
    trace: csv::Writer<Utf16<BufWriter<File>>>,
    pub counts: BTreeMap<&'static str, u64>,
}

/// Records per Azure Monitor file (an hourly blob holds tens of thousands).
const PAGE: usize = 50_000;
/// Records per Graph page: the API returns at most 1,000 sign-ins or audits per page.
const GRAPH_PAGE: usize = 1_000;

impl Output {
    pub fn create(dir: &Path, format: Format, reexport_after: DateTime<Utc>) -> io::Result<Output> {
        let sub = |name: &str| -> io::Result<PathBuf> {
            let p = dir.join(name);
            fs::create_dir_all(&p)?;
            Ok(p)
        };
        let signins = sub("signins")?;
        let audits = sub("audits")?;
        let risk = sub("risk")?;
        let (interactive, noninteractive, audit, risks, risky): EntraWriters = match format {
            Format::Mixed => (
                Box::new(GraphPages::new(&signins, "interactive-signins-beta", "beta/$metadata#auditLogs/signIns")),
                Box::new(LaCsv::create(
                    &signins.join("AADNonInteractiveUserSignInLogs.csv"),
                    SIGNIN_COLUMNS,
                    "AADNonInteractiveUserSignInLogs",
                )?),
                Box::new(Diagnostic::new(&audits, "AuditLogs")),
                Box::new(JsonLines::create(&risk.join("riskDetections-v1.0.jsonl"))?),
                Box::new(JsonArray::create(&risk.join("riskyUsers.json"))?),
            ),
            Format::Graph => (
                Box::new(GraphPages::new(&signins, "interactive", "beta/$metadata#auditLogs/signIns")),
                Box::new(GraphPages::new(&signins, "noninteractive", "beta/$metadata#auditLogs/signIns")),
                Box::new(GraphPages::new(&audits, "directoryAudits", "v1.0/$metadata#auditLogs/directoryAudits")),
                Box::new(GraphPages::new(&risk, "riskDetections", "v1.0/$metadata#identityProtection/riskDetections")),
                Box::new(GraphPages::new(&risk, "riskyUsers", "v1.0/$metadata#identityProtection/riskyUsers")),
            ),
            Format::AzureMonitor => (
                Box::new(Diagnostic::new(&signins, "SignInLogs")),
                Box::new(Diagnostic::new(&signins, "NonInteractiveUserSignInLogs")),
                Box::new(Diagnostic::new(&audits, "AuditLogs")),
                Box::new(Diagnostic::new(&risk, "UserRiskEvents")),
                Box::new(Diagnostic::new(&risk, "RiskyUsers")),
            ),
            Format::LogAnalytics => log_analytics(&signins, &audits, &risk, |dir, table, columns| {
                Ok(Box::new(LaCsv::create(&dir.join(format!("{table}.csv")), columns, table)?))
            })?,
            Format::LogAnalyticsQuery => log_analytics(&signins, &audits, &risk, |dir, table, columns| {
                Ok(Box::new(LaQuery::create(&dir.join(format!("{table}-query.json")), columns, table)?))
            })?,
        };
        let reexport: Option<(DateTime<Utc>, Box<dyn Writer>)> = (format == Format::Mixed).then(|| {
            let w: Box<dyn Writer> =
                Box::new(GraphPages::new(&signins, "reexport-last-day", "beta/$metadata#auditLogs/signIns"));
            (reexport_after, w)
        });

        let ual_dir = sub("ual")?;
        let mut ual_file = BufWriter::new(File::create(ual_dir.join("AuditLog_export.csv"))?);
        ual_file.write_all(b"\xef\xbb\xbf")?;
        let mut ual = csv::Writer::from_writer(ual_file);
        ual.write_record([
            "RecordId",
            "CreationDate",
            "RecordType",
            "Operation",
            "UserId",
            "AuditData",
            "AssociatedAdminUnits",
            "AssociatedAdminUnitsNames",
        ])?;
        let mut ual_legacy =
            csv::Writer::from_writer(BufWriter::new(File::create(ual_dir.join("AuditLog_admin_legacy.csv"))?));
        ual_legacy.write_record(["CreationDate", "UserIds", "Operations", "AuditData"])?;

        let trace_dir = sub("messagetrace")?;
        let mut trace_file = BufWriter::new(File::create(trace_dir.join("MTSummary_Report.csv"))?);
        trace_file.write_all(&[0xff, 0xfe])?;
        let mut trace = csv::Writer::from_writer(Utf16 { inner: trace_file, pending: Vec::new() });
        trace.write_record([
            "origin_timestamp_utc",
            "sender_address",
            "recipient_status",
            "message_subject",
            "total_bytes",
            "message_id",
            "network_message_id",
            "original_client_ip",
            "directionality",
            "connector_id",
            "delivery_priority",
        ])?;
        Ok(Output {
            interactive,
            noninteractive,
            reexport,
            audits: audit,
            risks,
            risky_users: risky,
            ual,
            ual_legacy,
            trace,
            counts: BTreeMap::new(),
        })
    }

    fn count(&mut self, what: &'static str, n: u64) {
        *self.counts.entry(what).or_default() += n;
    }

    pub fn signin(&mut self, graph: &Value, interactive: bool, time: DateTime<Utc>) -> io::Result<()> {
        self.count("signins", 1);
        if interactive {
            self.interactive.write(graph)?;
            if let Some((after, w)) = &mut self.reexport
                && time >= *after
            {
                w.write(graph)?;
            }
            Ok(())
        } else {
            self.noninteractive.write(graph)
        }
    }

    pub fn audit(&mut self, graph: &Value) -> io::Result<()> {
        self.count("audits", 1);
        self.audits.write(graph)
    }

    pub fn risk(&mut self, graph: &Value) -> io::Result<()> {
        self.count("risk_detections", 1);
        self.risks.write(graph)
    }

    pub fn risky_user(&mut self, graph: &Value) -> io::Result<()> {
        self.count("risk_detections", 1);
        self.risky_users.write(graph)
    }

    pub fn ual(&mut self, record: &Ual) -> io::Result<()> {
        self.count("mailbox_activity", 1);
        let data = record.audit_data().to_string();
        if record.record_type == 1 {
            // Admin cmdlets come from an older export with the legacy header and a US
            // locale date with a trailing space.
            let date = format!("{} ", record.time.format("%-m/%-d/%Y %-I:%M:%S %p"));
            self.ual_legacy.write_record([date.as_str(), &record.upn, record.operation, &data])?;
        } else {
            let date = seven_digit(record.time);
            self.ual.write_record([
                &record.id,
                &date,
                record.record_type_name(),
                record.operation,
                &record.upn,
                &data,
                "",
                "",
            ])?;
        }
        Ok(())
    }

    pub fn trace(&mut self, t: &Trace) -> io::Result<()> {
        self.count("message_trace", t.recipients.len() as u64);
        let recipients: Vec<String> = t.recipients.iter().map(|r| format!("{r}##Receive, Deliver")).collect();
        self.trace.write_record([
            seven_digit(t.time),
            t.sender.clone(),
            recipients.join(";"),
            t.subject.clone(),
            t.bytes.to_string(),
            t.message_id.clone(),
            t.network_message_id.clone(),
            t.client_ip.clone(),
            "Originating".into(),
            String::new(),
            "Normal".into(),
        ])?;
        Ok(())
    }

    pub fn finish(mut self) -> io::Result<BTreeMap<&'static str, u64>> {
        self.interactive.finish()?;
        self.noninteractive.finish()?;
        if let Some((_, w)) = &mut self.reexport {
            w.finish()?;
        }
        self.audits.finish()?;
        self.risks.finish()?;
        self.risky_users.finish()?;
        self.ual.flush()?;
        self.ual_legacy.flush()?;
        self.trace.flush()?;
        Ok(self.counts)
    }
}

/// The five Entra logs as Log Analytics tables, each written by `create(folder, table, columns)`.
fn log_analytics(
    signins: &Path,
    audits: &Path,
    risk: &Path,
    create: impl Fn(&Path, &'static str, Columns) -> io::Result<Box<dyn Writer>>,
) -> io::Result<EntraWriters> {
    Ok((
        create(signins, "SigninLogs", SIGNIN_COLUMNS)?,
        create(signins, "AADNonInteractiveUserSignInLogs", SIGNIN_COLUMNS)?,
        create(audits, "AuditLogs", AUDIT_COLUMNS)?,
        create(risk, "AADUserRiskEvents", RISK_COLUMNS)?,
        create(risk, "AADRiskyUsers", RISKY_USER_COLUMNS)?,
    ))
}

/// `2024-09-26T19:27:01.6755005Z`: the seven fractional digits Exchange and Purview write.
fn seven_digit(t: DateTime<Utc>) -> String {
    use chrono::Timelike;
    format!("{}.{:07}Z", t.format("%Y-%m-%dT%H:%M:%S"), t.nanosecond() / 100)
}

/// Graph API response pages, one file each, as a collection script saves them.
struct GraphPages {
    dir: PathBuf,
    name: &'static str,
    context: &'static str,
    file: Option<BufWriter<File>>,
    in_file: usize,
    files: usize,
}

impl GraphPages {
    fn new(dir: &Path, name: &'static str, context: &'static str) -> Self {
        GraphPages { dir: dir.to_path_buf(), name, context, file: None, in_file: 0, files: 0 }
    }
}

impl Writer for GraphPages {
    fn write(&mut self, record: &Value) -> io::Result<()> {
        if self.file.is_none() {
            self.files += 1;
            let mut f =
                BufWriter::new(File::create(self.dir.join(format!("{}-page-{:04}.json", self.name, self.files)))?);
            writeln!(f, "{{\"@odata.context\":\"https://graph.microsoft.com/{}\",\"value\":[", self.context)?;
            self.file = Some(f);
            self.in_file = 0;
        }
        let f = self.file.as_mut().expect("opened above");
        if self.in_file > 0 {
            f.write_all(b",\n")?;
        }
        serde_json::to_writer(&mut *f, record)?;
        self.in_file += 1;
        if self.in_file >= GRAPH_PAGE {
            self.finish()?;
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        if let Some(mut f) = self.file.take() {
            let next = format!(
                "https://graph.microsoft.com/{}?$skiptoken={}",
                self.context.split('$').next().unwrap_or(""),
                self.files
            );
            write!(f, "\n],\"@odata.nextLink\":{}}}\n", Value::String(next))?;
            f.flush()?;
        }
        Ok(())
    }
}

struct JsonLines(BufWriter<File>);

impl JsonLines {
    fn create(path: &Path) -> io::Result<Self> {
        Ok(JsonLines(BufWriter::new(File::create(path)?)))
    }
}

impl Writer for JsonLines {
    fn write(&mut self, record: &Value) -> io::Result<()> {
        serde_json::to_writer(&mut self.0, record)?;
        self.0.write_all(b"\n")
    }
    fn finish(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// A bare JSON array, pretty-printed as PowerShell's ConvertTo-Json writes it.
struct JsonArray {
    file: BufWriter<File>,
    count: usize,
}

impl JsonArray {
    fn create(path: &Path) -> io::Result<Self> {
        let mut file = BufWriter::new(File::create(path)?);
        file.write_all(b"[\n")?;
        Ok(JsonArray { file, count: 0 })
    }
}

impl Writer for JsonArray {
    fn write(&mut self, record: &Value) -> io::Result<()> {
        if self.count > 0 {
            self.file.write_all(b",\n")?;
        }
        serde_json::to_writer_pretty(&mut self.file, record)?;
        self.count += 1;
        Ok(())
    }
    fn finish(&mut self) -> io::Result<()> {
        self.file.write_all(b"\n]\n")?;
        self.file.flush()
    }
}

/// Azure Monitor diagnostic-settings records, gzip-compressed, as a storage account holds them.
struct Diagnostic {
    dir: PathBuf,
    category: &'static str,
    file: Option<GzEncoder<BufWriter<File>>>,
    in_file: usize,
    files: usize,
}

impl Diagnostic {
    fn new(dir: &Path, category: &'static str) -> Self {
        Diagnostic { dir: dir.to_path_buf(), category, file: None, in_file: 0, files: 0 }
    }

    fn envelope(&self, p: &Value) -> Value {
        let text = |ptr: &str| p.pointer(ptr).cloned().unwrap_or(Value::Null);
        let (time, operation) = match self.category {
            "SignInLogs" | "NonInteractiveUserSignInLogs" => (text("/createdDateTime"), json!("Sign-in activity")),
            "AuditLogs" => (text("/activityDateTime"), text("/activityDisplayName")),
            "UserRiskEvents" => (text("/detectedDateTime"), json!("User Risk Detection")),
            _ => (text("/riskLastUpdatedDateTime"), json!("Risky user")),
        };
        json!({
            "time": time,
            "resourceId": "/tenants/3c1e5a7d-9b2f-4d8e-a6c4-0f1e2d3c4b5a/providers/Microsoft.aadiam",
            "operationName": operation,
            "operationVersion": "1.0",
            "category": self.category,
            "tenantId": "3c1e5a7d-9b2f-4d8e-a6c4-0f1e2d3c4b5a",
            "resultType": p.pointer("/status/errorCode").map(|c| c.to_string()),
            "resultSignature": "None",
            "durationMs": 0,
            "callerIpAddress": text("/ipAddress"),
            "correlationId": text("/correlationId"),
            "identity": text("/userDisplayName"),
            "Level": 4,
            "location": text("/location/countryOrRegion"),
            "properties": p,
        })
    }
}

impl Writer for Diagnostic {
    fn write(&mut self, record: &Value) -> io::Result<()> {
        if self.file.is_none() {
            self.files += 1;
            let f = File::create(self.dir.join(format!("{}-PT1H-{:04}.json.gz", self.category, self.files)))?;
            let mut gz = GzEncoder::new(BufWriter::new(f), Compression::fast());
            gz.write_all(b"{\"records\":[\n")?;
            self.file = Some(gz);
            self.in_file = 0;
        }
        let envelope = self.envelope(record);
        let f = self.file.as_mut().expect("opened above");
        if self.in_file > 0 {
            f.write_all(b",\n")?;
        }
        serde_json::to_writer(&mut *f, &envelope)?;
        self.in_file += 1;
        if self.in_file >= PAGE {
            self.finish()?;
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        if let Some(mut gz) = self.file.take() {
            gz.write_all(b"\n]}\n")?;
            gz.finish()?.flush()?;
        }
        Ok(())
    }
}

/// Where a Log Analytics column takes its value from in the Graph object.
#[derive(Clone, Copy)]
enum Src {
    Text(&'static str),
    Json(&'static str),
    Time(&'static str),
    Type,
}

type Columns = &'static [(&'static str, Src)];

const SIGNIN_COLUMNS: Columns = &[
    ("TimeGenerated [UTC]", Src::Time("/createdDateTime")),
    ("Id", Src::Text("/id")),
    ("CreatedDateTime [UTC]", Src::Time("/createdDateTime")),
    ("OperationName", Src::Type),
    ("UserPrincipalName", Src::Text("/userPrincipalName")),
    ("UserDisplayName", Src::Text("/userDisplayName")),
    ("UserId", Src::Text("/userId")),
    ("UserType", Src::Text("/userType")),
    ("IPAddress", Src::Text("/ipAddress")),
    ("Location", Src::Text("/location/countryOrRegion")),
    ("LocationDetails", Src::Json("/location")),
    ("AutonomousSystemNumber", Src::Text("/autonomousSystemNumber")),
    ("AppDisplayName", Src::Text("/appDisplayName")),
    ("AppId", Src::Text("/appId")),
    ("ResourceDisplayName", Src::Text("/resourceDisplayName")),
    ("ResourceIdentity", Src::Text("/resourceId")),
    ("ClientAppUsed", Src::Text("/clientAppUsed")),
    ("UserAgent", Src::Text("/userAgent")),
    ("ResultType", Src::Text("/status/errorCode")),
    ("ResultDescription", Src::Text("/status/failureReason")),
    ("Status", Src::Json("/status")),
    ("AuthenticationRequirement", Src::Text("/authenticationRequirement")),
    ("MfaDetail", Src::Json("/mfaDetail")),
    ("AuthenticationDetails", Src::Json("/authenticationDetails")),
    ("ConditionalAccessStatus", Src::Text("/conditionalAccessStatus")),
    ("ConditionalAccessPolicies", Src::Json("/appliedConditionalAccessPolicies")),
    ("DeviceDetail", Src::Json("/deviceDetail")),
    ("IsInteractive", Src::Text("/isInteractive")),
    ("RiskLevelDuringSignIn", Src::Text("/riskLevelDuringSignIn")),
    ("RiskLevelAggregated", Src::Text("/riskLevelAggregated")),
    ("RiskState", Src::Text("/riskState")),
    ("RiskDetail", Src::Text("/riskDetail")),
    ("RiskEventTypes_V2", Src::Json("/riskEventTypes_v2")),
    ("CorrelationId", Src::Text("/correlationId")),
    ("SessionId", Src::Text("/sessionId")),
    ("UniqueTokenIdentifier", Src::Text("/uniqueTokenIdentifier")),
    ("AuthenticationProtocol", Src::Text("/authenticationProtocol")),
    ("IncomingTokenType", Src::Text("/incomingTokenType")),
    ("TokenIssuerType", Src::Text("/tokenIssuerType")),
    ("Type", Src::Type),
];

const AUDIT_COLUMNS: Columns = &[
    ("TimeGenerated [UTC]", Src::Time("/activityDateTime")),
    ("Id", Src::Text("/id")),
    ("OperationName", Src::Text("/activityDisplayName")),
    ("Category", Src::Text("/category")),
    ("AADOperationType", Src::Text("/operationType")),
    ("Result", Src::Text("/result")),
    ("ResultReason", Src::Text("/resultReason")),
    ("LoggedByService", Src::Text("/loggedByService")),
    ("CorrelationId", Src::Text("/correlationId")),
    ("InitiatedBy", Src::Json("/initiatedBy")),
    ("TargetResources", Src::Json("/targetResources")),
    ("AdditionalDetails", Src::Json("/additionalDetails")),
    ("ActivityDisplayName", Src::Text("/activityDisplayName")),
    ("ActivityDateTime [UTC]", Src::Time("/activityDateTime")),
    ("Type", Src::Type),
];

const RISK_COLUMNS: Columns = &[
    ("TimeGenerated [UTC]", Src::Time("/detectedDateTime")),
    ("Id", Src::Text("/id")),
    ("RequestId", Src::Text("/requestId")),
    ("CorrelationId", Src::Text("/correlationId")),
    ("RiskEventType", Src::Text("/riskEventType")),
    ("RiskState", Src::Text("/riskState")),
    ("RiskLevel", Src::Text("/riskLevel")),
    ("RiskDetail", Src::Text("/riskDetail")),
    ("Source", Src::Text("/source")),
    ("DetectionTimingType", Src::Text("/detectionTimingType")),
    ("Activity", Src::Text("/activity")),
    ("IpAddress", Src::Text("/ipAddress")),
    ("Location", Src::Json("/location")),
    ("ActivityDateTime [UTC]", Src::Time("/activityDateTime")),
    ("DetectedDateTime [UTC]", Src::Time("/detectedDateTime")),
    ("UserId", Src::Text("/userId")),
    ("UserDisplayName", Src::Text("/userDisplayName")),
    ("UserPrincipalName", Src::Text("/userPrincipalName")),
    ("AdditionalInfo", Src::Text("/additionalInfo")),
    ("TokenIssuerType", Src::Text("/tokenIssuerType")),
    ("Type", Src::Type),
];

const RISKY_USER_COLUMNS: Columns = &[
    ("TimeGenerated [UTC]", Src::Time("/riskLastUpdatedDateTime")),
    ("Id", Src::Text("/id")),
    ("UserPrincipalName", Src::Text("/userPrincipalName")),
    ("UserDisplayName", Src::Text("/userDisplayName")),
    ("RiskLevel", Src::Text("/riskLevel")),
    ("RiskState", Src::Text("/riskState")),
    ("RiskDetail", Src::Text("/riskDetail")),
    ("RiskLastUpdatedDateTime [UTC]", Src::Time("/riskLastUpdatedDateTime")),
    ("IsDeleted", Src::Text("/isDeleted")),
    ("Type", Src::Type),
];

/// A Log Analytics portal export: PascalCase columns, dynamic columns as JSON text, and
/// timestamps in the portal's US locale format.
struct LaCsv {
    csv: csv::Writer<BufWriter<File>>,
    columns: Columns,
    kind: &'static str,
}

impl LaCsv {
    fn create(path: &Path, columns: Columns, kind: &'static str) -> io::Result<Self> {
        let mut csv = csv::Writer::from_writer(BufWriter::new(File::create(path)?));
        csv.write_record(columns.iter().map(|(name, _)| *name))?;
        Ok(LaCsv { csv, columns, kind })
    }
}

impl Writer for LaCsv {
    fn write(&mut self, record: &Value) -> io::Result<()> {
        let row = self.columns.iter().map(|(name, src)| match src {
            Src::Type if *name == "OperationName" => "Sign-in activity".to_string(),
            Src::Type => self.kind.to_string(),
            Src::Text(p) => match record.pointer(p) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(v) => v.to_string(),
            },
            Src::Json(p) => record.pointer(p).filter(|v| !v.is_null()).map(Value::to_string).unwrap_or_default(),
            Src::Time(p) => record
                .pointer(p)
                .and_then(Value::as_str)
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.format("%-m/%-d/%Y, %-I:%M:%S%.3f %p").to_string())
                .unwrap_or_default(),
        });
        self.csv.write_record(row.collect::<Vec<_>>())?;
        Ok(())
    }
    fn finish(&mut self) -> io::Result<()> {
        self.csv.flush()
    }
}

/// A Log Analytics query API response, as `POST /v1/workspaces/{id}/query` returns it
/// (https://learn.microsoft.com/en-us/rest/api/loganalytics/dataaccess/query/execute): the
/// columns once with their types, then each row as an array of values; dynamic columns as
/// JSON text, datetimes as ISO 8601 with seven fractional digits.
struct LaQuery {
    file: BufWriter<File>,
    columns: Columns,
    kind: &'static str,
    rows: usize,
}

impl LaQuery {
    fn create(path: &Path, columns: Columns, kind: &'static str) -> io::Result<Self> {
        let mut file = BufWriter::new(File::create(path)?);
        let described: Vec<Value> = columns
            .iter()
            .map(|(name, src)| {
                let kind = match src {
                    Src::Json(_) => "dynamic",
                    Src::Time(_) => "datetime",
                    _ => "string",
                };
                json!({"name": name.trim_end_matches(" [UTC]"), "type": kind})
            })
            .collect();
        write!(file, "{{\"tables\":[{{\"name\":\"PrimaryResult\",\"columns\":{},\"rows\":[", Value::Array(described))?;
        Ok(LaQuery { file, columns, kind, rows: 0 })
    }
}

impl Writer for LaQuery {
    fn write(&mut self, record: &Value) -> io::Result<()> {
        let row: Vec<Value> = self
            .columns
            .iter()
            .map(|(name, src)| match src {
                Src::Type if *name == "OperationName" => json!("Sign-in activity"),
                Src::Type => json!(self.kind),
                Src::Text(p) => record.pointer(p).cloned().unwrap_or(Value::Null),
                Src::Json(p) => {
                    record.pointer(p).filter(|v| !v.is_null()).map_or(Value::Null, |v| json!(v.to_string()))
                }
                Src::Time(p) => record
                    .pointer(p)
                    .and_then(Value::as_str)
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map_or(Value::Null, |t| json!(seven_digit(t.with_timezone(&Utc)))),
            })
            .collect();
        self.file.write_all(if self.rows == 0 { b"\n" } else { b",\n" })?;
        serde_json::to_writer(&mut self.file, &row)?;
        self.rows += 1;
        Ok(())
    }
    fn finish(&mut self) -> io::Result<()> {
        self.file.write_all(b"\n]}]}\n")?;
        self.file.flush()
    }
}

/// Encodes UTF-8 text as UTF-16LE, as Windows PowerShell's `Export-Csv -Encoding Unicode`
/// writes it. Holds back a UTF-8 sequence split across writes.
struct Utf16<W: Write> {
    inner: W,
    pending: Vec<u8>,
}

impl<W: Write> Write for Utf16<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        let valid = match std::str::from_utf8(&self.pending) {
            Ok(s) => s.len(),
            Err(e) => e.valid_up_to(),
        };
        let text = std::str::from_utf8(&self.pending[..valid]).expect("checked above");
        let bytes: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        self.inner.write_all(&bytes)?;
        self.pending.drain(..valid);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
