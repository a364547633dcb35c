//! The alert an analyst starts from, read from the file they exported: the accounts,
//! workload identities, addresses and times it names, whatever product wrote it.
//!
//! Read, by the names Microsoft documents for them:
//! - Defender XDR / Microsoft Graph security API incidents and alerts (`security/incidents`,
//!   `security/alerts_v2`): `userEvidence.userAccount` (`userPrincipalName`, `azureAdUserId`),
//!   `ipEvidence.ipAddress`, `oauthApplicationEvidence` (`appId`, `objectId`, `displayName`),
//!   `firstActivityDateTime` / `lastActivityDateTime`
//!   (<https://learn.microsoft.com/en-us/graph/api/resources/security-alert>,
//!   <https://learn.microsoft.com/en-us/graph/api/resources/security-useraccount>).
//! - Microsoft Sentinel incidents and their entities (REST `incidents`, `entities`: `kind`
//!   Account with `accountName` + `upnSuffix` or `aadUserId`, Ip with `address`,
//!   `firstActivityTimeUtc` / `lastActivityTimeUtc`) and `SecurityAlert` rows (Log Analytics,
//!   `Entities` as JSON text, `Type` account with `Name` + `UPNSuffix`, ip with `Address`,
//!   `StartTime` / `EndTime`), whole or as a query API response
//!   (<https://learn.microsoft.com/en-us/azure/sentinel/entities-reference>).
//! - Entra ID Protection records: `riskyUser` (`userPrincipalName`, `riskLastUpdatedDateTime`),
//!   `riskDetection` (`userPrincipalName`, `ipAddress`, `activityDateTime`), and the
//!   service-principal forms (`riskyServicePrincipal`, `servicePrincipalRiskDetection`).
//!
//! A file is one JSON document (an object, a list, or a Graph page with `value`) or JSON
//! lines. Text fields that hold JSON (`Entities`, `ExtendedProperties`) are opened.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::InvestigateError;

/// The largest alert file read: an incident with every alert and its evidence is a few MiB.
pub const MAX_ALERT_BYTES: u64 = 64 * 1024 * 1024;

/// How deep the walk goes into nested objects and lists.
const MAX_DEPTH: usize = 64;

/// What an alert names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entities {
    /// The alert's or incident's title, the first one found.
    pub title: Option<String>,
    /// User principal names, lower-cased.
    pub users: BTreeSet<String>,
    /// Entra object ids of users named without a UPN.
    pub user_ids: BTreeSet<String>,
    /// Workload identities: application ids, object ids or display names.
    pub service_principals: BTreeSet<String>,
    pub ips: BTreeSet<String>,
    /// The activity the alert covers; `first <= last` when both are known.
    pub first: Option<DateTime<Utc>>,
    pub last: Option<DateTime<Utc>>,
}

impl Entities {
    /// Nothing an investigation could start from.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.user_ids.is_empty() && self.service_principals.is_empty() && self.ips.is_empty()
    }
}

/// Reads `path` and returns what it names.
pub fn read(path: &Path) -> Result<Entities, InvestigateError> {
    let bad = |why: String| InvestigateError::Alert { path: path.display().to_string(), why };
    let size = std::fs::metadata(path).map_err(|e| bad(e.to_string()))?.len();
    if size > MAX_ALERT_BYTES {
        return Err(bad(format!("{size} bytes is more than an alert export holds (at most {MAX_ALERT_BYTES})")));
    }
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    from_text(&text).map_err(bad)
}

/// What an alert export's text names; an error when it is not JSON or names nothing.
pub fn from_text(text: &str) -> Result<Entities, String> {
    let entities = entities(&parse(text)?);
    if entities.is_empty() {
        return Err(
            "names no account, workload identity or address (no userPrincipalName, userAccount, Account or Ip entity, ipAddress, servicePrincipalId)".into(),
        );
    }
    Ok(entities)
}

/// One JSON document, or JSON lines (each line a document), as one value.
fn parse(text: &str) -> Result<Value, String> {
    let text = text.trim_start_matches('\u{feff}');
    match serde_json::from_str(text) {
        Ok(value) => Ok(value),
        Err(whole) => {
            let mut lines = Vec::new();
            for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
                let value = serde_json::from_str(line).map_err(|e| {
                    if n == 0 { format!("not JSON: {whole}") } else { format!("line {}: not JSON: {e}", n + 1) }
                })?;
                lines.push(value);
            }
            Ok(Value::Array(lines))
        }
    }
}

/// What `value` names, wherever in it.
pub fn entities(value: &Value) -> Entities {
    let mut found = Found::default();
    visit(value, &mut found, 0);
    let first = found.starts.iter().min().or(found.seen.iter().min()).copied();
    let last = found.ends.iter().max().or(found.seen.iter().max()).copied().or(first);
    let first = match (first, last) {
        (Some(f), Some(l)) => Some(f.min(l)),
        (f, _) => f,
    };
    Entities {
        title: found.title,
        users: found.users,
        user_ids: found.user_ids,
        service_principals: found.service_principals,
        ips: found.ips,
        first,
        last,
    }
}

#[derive(Default)]
struct Found {
    title: Option<String>,
    users: BTreeSet<String>,
    user_ids: BTreeSet<String>,
    service_principals: BTreeSet<String>,
    ips: BTreeSet<String>,
    starts: Vec<DateTime<Utc>>,
    ends: Vec<DateTime<Utc>>,
    seen: Vec<DateTime<Utc>>,
}

fn visit(value: &Value, found: &mut Found, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match value {
        Value::Array(items) => items.iter().for_each(|v| visit(v, found, depth + 1)),
        Value::Object(object) => {
            if let Some(rows) = query_rows(object) {
                rows.iter().for_each(|row| visit(row, found, depth + 1));
                return;
            }
            read_object(object, found);
            // A Sentinel entity keeps its fields under `properties`, its kind beside them.
            let kind = object.get("kind").and_then(Value::as_str);
            for (key, v) in object {
                match v {
                    Value::Object(inner) if key == "properties" && kind.is_some() && !inner.contains_key("kind") => {
                        let mut typed = inner.clone();
                        typed.insert("kind".into(), Value::from(kind.unwrap_or_default()));
                        visit(&Value::Object(typed), found, depth + 1);
                    }
                    // Sentinel keeps entities and extended properties as JSON text.
                    Value::String(text) if JSON_TEXT.contains(&key.to_lowercase().as_str()) => {
                        if let Ok(inner) = serde_json::from_str::<Value>(text) {
                            visit(&inner, found, depth + 1);
                        }
                    }
                    _ => visit(v, found, depth + 1),
                }
            }
        }
        _ => {}
    }
}

/// Fields whose text is JSON to open.
const JSON_TEXT: [&str; 3] = ["entities", "extendedproperties", "additionaldata"];

/// The rows of a Log Analytics query API response (`tables[].columns` / `rows`), as objects.
fn query_rows(object: &Map<String, Value>) -> Option<Vec<Value>> {
    let tables = object.get("tables").or_else(|| object.get("Tables"))?.as_array()?;
    let mut out = Vec::new();
    for table in tables {
        let columns = table.get("columns").or_else(|| table.get("Columns"))?.as_array()?;
        let names: Vec<&str> = columns
            .iter()
            .map(|c| c.get("name").or_else(|| c.get("ColumnName")).and_then(Value::as_str).unwrap_or(""))
            .collect();
        for row in table.get("rows").or_else(|| table.get("Rows"))?.as_array()? {
            let cells = row.as_array()?;
            out.push(Value::Object(names.iter().map(|n| n.to_string()).zip(cells.iter().cloned()).collect()));
        }
    }
    Some(out)
}

/// The fields of one object: who, where, when.
fn read_object(object: &Map<String, Value>, found: &mut Found) {
    let get = |name: &str| object.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v);
    let text = |name: &str| get(name).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
    let kind = text("@odata.type").or(text("kind")).or(text("Type")).unwrap_or("").to_lowercase();
    if found.title.is_none() {
        found.title = ["title", "displayName", "AlertName", "alertDisplayName"]
            .iter()
            .find_map(|k| text(k))
            .filter(|_| !kind.contains("account") && !kind.contains("evidence"))
            .map(str::to_owned);
    }
    // Users: a UPN, a Sentinel account's name and UPN suffix, or an object id alone.
    for key in ["userPrincipalName", "accountUpn", "CompromisedEntity"] {
        if let Some(upn) = text(key).filter(|t| looks_like_upn(t)) {
            found.users.insert(upn.to_lowercase());
        }
    }
    let account = kind.contains("account") || kind.contains("user");
    if account && let (Some(name), Some(suffix)) = (text("Name").or(text("accountName")), text("UPNSuffix")) {
        found.users.insert(format!("{name}@{suffix}").to_lowercase());
    }
    if (account || get("userPrincipalName").is_some()) && text("userPrincipalName").is_none() {
        for key in ["azureAdUserId", "AadUserId"] {
            if let Some(id) = text(key) {
                found.user_ids.insert(id.to_lowercase());
            }
        }
    }
    // Workload identities.
    let workload = kind.contains("oauthapplication") || kind.contains("serviceprincipal");
    for key in ["servicePrincipalId", "servicePrincipalDisplayName"] {
        if let Some(sp) = text(key) {
            found.service_principals.insert(sp.to_lowercase());
        }
    }
    if workload && let Some(id) = text("appId") {
        found.service_principals.insert(id.to_lowercase());
    }
    // Addresses.
    for key in ["ipAddress", "Address", "clientIp", "ClientIPAddress"] {
        if let Some(ip) = text(key).and_then(address) {
            found.ips.insert(ip);
        }
    }
    // Times.
    for (keys, into) in [(&START[..], &mut found.starts), (&END[..], &mut found.ends), (&SEEN[..], &mut found.seen)] {
        into.extend(keys.iter().filter_map(|k| text(k)).filter_map(time));
    }
}

const START: [&str; 6] = [
    "firstActivityDateTime",
    "firstActivityTimeUtc",
    "StartTime",
    "startTimeUtc",
    "activityDateTime",
    "detectedDateTime",
];
const END: [&str; 4] = ["lastActivityDateTime", "lastActivityTimeUtc", "EndTime", "endTimeUtc"];
const SEEN: [&str; 4] = ["createdDateTime", "TimeGenerated", "riskLastUpdatedDateTime", "createdTimeUtc"];

fn looks_like_upn(text: &str) -> bool {
    let mut parts = text.split('@');
    matches!((parts.next(), parts.next(), parts.next()), (Some(a), Some(b), None) if !a.is_empty() && b.contains('.'))
        && !text.chars().any(char::is_whitespace)
}

/// An address, without the port some products append.
fn address(text: &str) -> Option<String> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip.to_string());
    }
    let (host, _) = text.rsplit_once(':')?;
    host.trim_matches(['[', ']']).parse::<IpAddr>().ok().map(|ip| ip.to_string())
}

/// A time as the exports write it, read as ingest reads every log's times (RFC 3339 with any
/// number of fractional digits, the space-separated and locale forms).
fn time(text: &str) -> Option<DateTime<Utc>> {
    sleuth_ingest::time::parse(text)
}

/// The store's accounts and workload identities the alert points at: its users that the store
/// has records of (object ids resolved through the sign-ins), the workload identities it has
/// sign-ins of, and,
/// when it names only addresses, the accounts that signed in successfully from them within
/// `reach_hours` of its span (at most [`MAX_ACCOUNTS_FROM_ADDRESSES`], busiest first).
pub async fn subjects(
    ctx: &datafusion::prelude::SessionContext,
    entities: &Entities,
    reach_hours: i64,
) -> Result<Vec<(String, crate::SubjectKind)>, InvestigateError> {
    use crate::SubjectKind;
    use crate::sql::{literal, texts, ts};
    let list = |items: &BTreeSet<String>| items.iter().map(|i| literal(i)).collect::<Vec<_>>().join(", ");
    let mut users = entities.users.clone();
    if !entities.user_ids.is_empty() {
        let sql = format!(
            "SELECT DISTINCT lower(user_principal_name) FROM signins WHERE lower(user_id) IN ({}) AND user_principal_name IS NOT NULL ORDER BY 1",
            list(&entities.user_ids)
        );
        users.extend(texts(ctx, &sql).await?);
    }
    // Only the accounts the store has records of: an alert often names more than the export.
    let mut out: Vec<(String, SubjectKind)> = Vec::new();
    if !users.is_empty() {
        let names = list(&users);
        let sql = format!(
            "SELECT DISTINCT u FROM (
               SELECT lower(user_principal_name) AS u FROM signins WHERE lower(user_principal_name) IN ({names})
               UNION ALL SELECT lower(user_principal_name) FROM audits WHERE lower(user_principal_name) IN ({names})
               UNION ALL SELECT lower(target_upn) FROM audits WHERE lower(target_upn) IN ({names})
               UNION ALL SELECT lower(user_principal_name) FROM mailbox_activity WHERE lower(user_principal_name) IN ({names}))
             ORDER BY u"
        );
        out.extend(texts(ctx, &sql).await?.into_iter().map(|u| (u, SubjectKind::User)));
    }
    if !entities.service_principals.is_empty() {
        let names = list(&entities.service_principals);
        let sql = format!(
            "SELECT DISTINCT lower(coalesce(service_principal_name, app_display_name, app_id)) FROM service_principal_signins
             WHERE lower(service_principal_id) IN ({names}) OR lower(app_id) IN ({names}) OR lower(service_principal_name) IN ({names})
             ORDER BY 1"
        );
        out.extend(texts(ctx, &sql).await?.into_iter().map(|sp| (sp, SubjectKind::ServicePrincipal)));
    }
    if out.is_empty() && !entities.ips.is_empty() {
        let reach = chrono::Duration::hours(reach_hours);
        let span = match (entities.first, entities.last) {
            (Some(first), Some(last)) => format!(
                "AND time >= {} AND time <= {}",
                ts(crate::time::shift(first, -reach)),
                ts(crate::time::shift(last, reach))
            ),
            _ => String::new(),
        };
        let by_address = crate::gather::signins_by_address(ctx)?;
        let sql = format!(
            "SELECT lower(user_principal_name) FROM {by_address} WHERE ip_address IN ({}) AND result_type = 0 AND user_principal_name IS NOT NULL {span}
             GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT {MAX_ACCOUNTS_FROM_ADDRESSES}",
            list(&entities.ips)
        );
        out.extend(texts(ctx, &sql).await?.into_iter().map(|u| (u, SubjectKind::User)));
    }
    Ok(out)
}

/// What an alert leads to: each of the store's accounts it names ([`subjects`]) with the window
/// to investigate, the alert's span when it gives one, else the one the hunt (medium or above)
/// or the account's records point at. `source` says where the alert came from, for the
/// report. An error when nothing it names is in the store.
pub async fn asked(
    store: &sleuth_store::Store,
    ctx: &datafusion::prelude::SessionContext,
    entities: &Entities,
    reach_hours: i64,
    source: &str,
) -> Result<Vec<(String, crate::Focus, crate::SubjectKind)>, InvestigateError> {
    use crate::Focus;
    use crate::subject::from_hunt;
    use sleuth_detect::{Filter, Severity};
    let subjects = subjects(ctx, entities, reach_hours).await?;
    if subjects.is_empty() {
        let named: Vec<&String> = entities
            .users
            .iter()
            .chain(&entities.user_ids)
            .chain(&entities.service_principals)
            .chain(&entities.ips)
            .collect();
        return Err(InvestigateError::Alert {
            path: source.to_string(),
            why: format!(
                "none of what it names is in the store ({})",
                named.iter().map(|n| sleuth_render::text::visible(n)).collect::<Vec<_>>().join(", ")
            ),
        });
    }
    let what = format!("{source} ({})", entities.title.as_deref().unwrap_or("untitled"));
    let report = match (entities.first, entities.last) {
        (Some(_), Some(_)) => None,
        _ => {
            let medium = Filter { min_severity: Severity::Medium, ..Filter::default() };
            Some(crate::subject::builtin_hunt(store, ctx, &medium).await)
        }
    };
    Ok(subjects
        .into_iter()
        .map(|(name, kind)| {
            let focus = match (entities.first, entities.last, &report) {
                (Some(first), Some(last), _) => Focus::Span { first, last, what: what.clone() },
                (_, _, Some(report)) => from_hunt::for_user(report, &name).unwrap_or(Focus::MostSuspicious),
                _ => Focus::MostSuspicious,
            };
            (name, focus, kind)
        })
        .collect())
}

/// The most accounts an alert that names only addresses leads to.
pub const MAX_ACCOUNTS_FROM_ADDRESSES: usize = 20;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_graph_alert_names_its_user_address_and_span() {
        let alert = json!({
            "id": "da637", "title": "Suspicious inbox forwarding", "createdDateTime": "2025-03-12T10:05:00Z",
            "firstActivityDateTime": "2025-03-12T09:10:00.1234567Z", "lastActivityDateTime": "2025-03-12T09:45:00Z",
            "evidence": [
                {"@odata.type": "#microsoft.graph.security.userEvidence",
                 "userAccount": {"accountName": "liv.hansen", "domainName": "contoso.example", "userPrincipalName": "Liv.Hansen@contoso.example",
                                 "azureAdUserId": "4b3a2918-0716-4f5e-8d7c-00000000b006"}},
                {"@odata.type": "#microsoft.graph.security.ipEvidence", "ipAddress": "159.89.214.31"}
            ]
        });
        let e = entities(&alert);
        assert_eq!(e.title.as_deref(), Some("Suspicious inbox forwarding"));
        assert_eq!(e.users.iter().collect::<Vec<_>>(), ["liv.hansen@contoso.example"]);
        assert!(e.user_ids.is_empty(), "the UPN is enough");
        assert_eq!(e.ips.iter().collect::<Vec<_>>(), ["159.89.214.31"]);
        assert_eq!(e.first, time("2025-03-12T09:10:00.1234567Z"));
        assert_eq!(e.last, time("2025-03-12T09:45:00Z"));
    }

    #[test]
    fn a_sentinel_alert_row_opens_its_entities_text() {
        let row = json!({
            "AlertName": "Anomalous sign-in", "StartTime": "2025-03-12 09:00:00.000", "EndTime": "2025-03-12T09:30:00Z",
            "Entities": "[{\"$id\":\"2\",\"Type\":\"account\",\"Name\":\"tom.reyes\",\"UPNSuffix\":\"contoso.example\"},{\"$id\":\"3\",\"Type\":\"ip\",\"Address\":\"159.89.214.31:443\"}]"
        });
        let e = entities(&row);
        assert_eq!(e.first, time("2025-03-12T09:00:00Z"), "the space-separated start is read");
        assert_eq!(e.users.iter().collect::<Vec<_>>(), ["tom.reyes@contoso.example"]);
        assert_eq!(e.ips.iter().collect::<Vec<_>>(), ["159.89.214.31"]);
        assert_eq!(e.title.as_deref(), Some("Anomalous sign-in"));
    }

    #[test]
    fn a_sentinel_entity_reads_its_properties_with_its_kind() {
        let entities_response = json!({"entities": [
            {"id": "e1", "kind": "Account", "properties": {"accountName": "ada.obi", "upnSuffix": "contoso.example", "aadUserId": "0b3"}},
            {"id": "e2", "kind": "Ip", "properties": {"address": "105.112.45.10"}}
        ]});
        let e = entities(&entities_response);
        assert_eq!(e.users.iter().collect::<Vec<_>>(), ["ada.obi@contoso.example"]);
        assert_eq!(e.ips.iter().collect::<Vec<_>>(), ["105.112.45.10"]);
    }

    #[test]
    fn json_lines_and_bad_files_are_told_apart() {
        let lines = "{\"userPrincipalName\":\"a@b.example\"}\n{\"ipAddress\":\"10.0.0.1\"}\n";
        let e = entities(&parse(lines).unwrap());
        assert!(e.users.contains("a@b.example") && e.ips.contains("10.0.0.1"));
        assert!(parse("{\"a\":1}\nnot json").unwrap_err().contains("line 2"));
        assert!(!looks_like_upn("not an upn") && !looks_like_upn("a@b") && looks_like_upn("a@b.c"));
    }
}
