//! The Azure Activity log: Azure Resource Manager control-plane events. Three shapes:
//! - the REST API's event data, as `az monitor activity-log list` and
//!   `Get-AzActivityLog | ConvertTo-Json` write it: `operationName`, `category`, `status` ... as
//!   `{value, localizedValue}` objects, `eventDataId`, `eventTimestamp`, `httpRequest`, `claims`
//!   (<https://learn.microsoft.com/en-us/rest/api/monitor/activity-logs/list#eventdata>);
//! - the diagnostic export (storage account, event hub): `time`, `operationName` text,
//!   `category` text, `resultType`, `callerIpAddress`, `identity.claims`
//!   (<https://learn.microsoft.com/en-us/azure/azure-monitor/platform/activity-log-schema>);
//! - Log Analytics `AzureActivity`: `OperationNameValue`, `CategoryValue`,
//!   `ActivityStatusValue`, `Caller`, `CallerIpAddress`
//!   (<https://learn.microsoft.com/en-us/azure/azure-monitor/reference/tables/azureactivity>).

use super::{Dialect, Origin, Outcome, derived_id, outcome};
use crate::fields::{Fields, as_text, normalise_ip};
use crate::schema::{AzureActivity, Record};
use crate::value::Value;

/// The Activity log's categories, which its diagnostic export writes in `category`.
pub(super) const CATEGORIES: [&str; 8] =
    ["administrative", "security", "servicehealth", "alert", "recommendation", "policy", "autoscale", "resourcehealth"];

/// Claims that name the caller, in order of preference.
const CALLER_CLAIMS: [&str; 4] = [
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
    "unique_name",
    "http://schemas.microsoft.com/identity/claims/objectidentifier",
];

/// Whether a record is an Activity log event: an event data id, Log Analytics' operation
/// value, or a resource provider operation (`Microsoft.X/.../action`) on an Azure resource.
pub(super) fn looks_like(f: Fields) -> bool {
    if f.has_any(&["eventDataId", "EventDataId", "OperationNameValue"]) {
        return true;
    }
    let operation = value_text(f, &["operationName", "OperationName"]);
    let resource = f.text(&["resourceId", "ResourceId", "_ResourceId"]);
    operation.is_some_and(|o| o.contains('/'))
        && resource.is_some_and(|r| {
            let r = r.to_ascii_lowercase();
            r.starts_with("/subscriptions/") || r.starts_with("/providers/")
        })
}

pub(super) fn normalise(f: Fields, dialect: Dialect, origin: &Origin) -> Outcome {
    // The Az PowerShell module writes the REST API's names in PascalCase (`EventTimestamp`,
    // `OperationName.Value`); the records are small, so names are matched whatever their case.
    outcome(read(f.any_case(), dialect, origin).map(Record::AzureActivity))
}

fn read(f: Fields, dialect: Dialect, origin: &Origin) -> Result<AzureActivity, String> {
    let identity = f.object(&["identity", "Identity"]);
    let claims = f.object(&["claims", "Claims", "Claims_d"]).or_else(|| identity.and_then(|i| i.object(&["claims"])));
    // The Az module nests the claims one level down.
    let claims = claims.map(|c| c.object(&["Content"]).unwrap_or(c));
    let authorization = f
        .object(&["authorization", "Authorization", "Authorization_d"])
        .or_else(|| identity.and_then(|i| i.object(&["authorization"])));
    let http = f.object(&["httpRequest", "HTTPRequest"]);
    // Log Analytics keeps the operation's value in OperationNameValue and its display name in
    // OperationName; the REST API keeps both in one object; the diagnostic export has text.
    let (operation_name, operation_display_name) = match f.text(&["OperationNameValue"]) {
        Some(value) => (Some(value), f.text(&["OperationName"])),
        None => (value_text(f, &["operationName"]), localized(f, &["operationName"])),
    };
    let properties = f.value(&["properties", "Properties_d", "Properties"]).filter(|p| p.is_object());
    let resource_id = f.text(&["resourceId", "ResourceId", "_ResourceId"]).map(|r| r.to_lowercase());
    let operation_name = operation_name.map(|o| o.to_uppercase());
    // The diagnostic export names no provider, group or subscription: they are in the
    // resource id (/subscriptions/{id}/resourceGroups/{group}/providers/{provider}/...).
    let segment = |name: &str| {
        let id = resource_id.as_deref()?;
        let mut parts = id.split('/');
        parts.find(|p| p.eq_ignore_ascii_case(name))?;
        parts.next().filter(|p| !p.is_empty()).map(str::to_lowercase)
    };
    Ok(AzureActivity {
        record_id: Some(f.text(&["eventDataId", "EventDataId"]).unwrap_or_else(|| derived_id(origin.raw))),
        time: f.time(&["eventTimestamp", "TimeGenerated", "time"]),
        resource_provider: f
            .text(&["ResourceProviderValue"])
            .or_else(|| value_text(f, &["resourceProviderName", "ResourceProvider"]))
            .or_else(|| operation_name.as_deref().and_then(|o| o.split('/').next()).map(String::from))
            .map(|p| p.to_uppercase()),
        resource_group: f
            .text(&["resourceGroupName", "ResourceGroup"])
            .map(|g| g.to_lowercase())
            .or_else(|| segment("resourcegroups")),
        subscription_id: f
            .text(&["subscriptionId", "SubscriptionId"])
            .map(|s| s.to_lowercase())
            .or_else(|| segment("subscriptions")),
        operation_name,
        operation_display_name,
        category: f.text(&["CategoryValue"]).or_else(|| value_text(f, &["category", "Category"])),
        status: f
            .text(&["ActivityStatusValue"])
            .or_else(|| value_text(f, &["status", "resultType", "ActivityStatus"]))
            .map(|s| status(&s)),
        sub_status: f
            .text(&["ActivitySubstatusValue"])
            .or_else(|| value_text(f, &["subStatus", "ActivitySubstatus"]))
            .or_else(|| f.text(&["resultSignature"]).and_then(|s| Some(s.split_once('.')?.1.to_string())))
            .filter(|s| !s.is_empty() && !s.eq_ignore_ascii_case("none")),
        caller: f
            .text(&["caller", "Caller"])
            .or_else(|| claims.and_then(|c| c.text(&CALLER_CLAIMS)))
            .map(|c| c.to_lowercase()),
        caller_ip: http
            .and_then(|h| h.text(&["clientIpAddress"]))
            .or_else(|| f.text(&["CallerIpAddress", "callerIpAddress"]))
            .and_then(|ip| normalise_ip(&ip)),
        caller_app_id: claims.and_then(|c| c.text(&["appid", "azp"])),
        resource_id,
        correlation_id: f.text(&["correlationId", "CorrelationId"]),
        level: f.text(&["level", "Level"]).map(|l| if l == "Information" { "Informational".into() } else { l }),
        authorization_action: authorization.and_then(|a| a.text(&["action"])),
        authorization_scope: authorization.and_then(|a| a.text(&["scope"])),
        properties: properties.map(Value::to_string),
        dialect: Some(dialect.name().to_string()),
        source_file: Some(origin.source_file.to_string()),
        raw: Some(origin.raw.to_string()),
    })
}

/// The REST API's status words (Started, Accepted, Succeeded, Failed, Canceled) for the
/// words Log Analytics and the diagnostic export write (Start, Accept, Success, Failure,
/// Cancel).
fn status(text: &str) -> String {
    match text.to_ascii_lowercase().as_str() {
        "start" | "started" => "Started".into(),
        "accept" | "accepted" => "Accepted".into(),
        "success" | "succeeded" => "Succeeded".into(),
        "failure" | "failed" => "Failed".into(),
        "cancel" | "canceled" | "cancelled" => "Canceled".into(),
        _ => text.to_string(),
    }
}

/// A field written either as text or as a `{value, localizedValue}` object: its value.
fn value_text(f: Fields, names: &[&str]) -> Option<String> {
    match f.value(names)? {
        Value::Object(o) => Fields::nested(o).text(&["value"]),
        other => as_text(other),
    }
}

/// The `localizedValue` of a `{value, localizedValue}` field.
fn localized(f: Fields, names: &[&str]) -> Option<String> {
    f.object(names).and_then(|o| o.text(&["localizedValue"]))
}
