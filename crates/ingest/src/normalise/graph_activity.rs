//! Microsoft Graph activity logs: one record per Graph request, from Log Analytics
//! (`MicrosoftGraphActivityLogs`, PascalCase) or a diagnostic export (category
//! `MicrosoftGraphActivityLogs`, camelCase `properties`)
//! (<https://learn.microsoft.com/en-us/azure/azure-monitor/reference/tables/microsoftgraphactivitylogs>,
//! <https://learn.microsoft.com/en-us/graph/microsoft-graph-activity-logs-overview>).

use super::{Dialect, Origin, Outcome, derived_id, outcome};
use crate::fields::{Fields, normalise_ip};
use crate::schema::{GraphActivity, Record};

pub(super) fn looks_like(f: Fields) -> bool {
    f.has_any(&["requestUri", "RequestUri"]) && f.has_any(&["requestMethod", "RequestMethod"])
}

pub(super) fn normalise(f: Fields, dialect: Dialect, origin: &Origin) -> Outcome {
    outcome(read(f, dialect, origin).map(Record::GraphActivity))
}

fn read(f: Fields, dialect: Dialect, origin: &Origin) -> Result<GraphActivity, String> {
    Ok(GraphActivity {
        record_id: Some(f.text(&["requestId", "RequestId"]).unwrap_or_else(|| derived_id(origin.raw))),
        time: f.time(&["timeGenerated", "TimeGenerated", "time"]),
        user_id: f.text(&["userId", "UserId"]),
        service_principal_id: f.text(&["servicePrincipalId", "ServicePrincipalId"]),
        app_id: f.text(&["appId", "AppId"]),
        ip_address: f.text(&["ipAddress", "IPAddress", "callerIpAddress"]).and_then(|ip| normalise_ip(&ip)),
        user_agent: f.text(&["userAgent", "UserAgent"]),
        request_method: f.text(&["requestMethod", "RequestMethod"]).map(|m| m.to_ascii_uppercase()),
        request_uri: f.text(&["requestUri", "RequestUri"]),
        response_status_code: f.int(&["responseStatusCode", "ResponseStatusCode", "resultSignature"]),
        response_size_bytes: f.int(&["responseSizeBytes", "ResponseSizeBytes"]),
        duration_ms: f.int(&["durationMs", "DurationMs"]),
        api_version: f.text(&["apiVersion", "ApiVersion", "operationVersion"]),
        sign_in_activity_id: f.text(&["signInActivityId", "SignInActivityId"]),
        session_id: f.text(&["sessionId", "SessionId"]),
        device_id: f.text(&["deviceId", "DeviceId"]),
        scopes: f.text(&["scopes", "Scopes"]),
        roles: f.text(&["roles", "Roles"]),
        wids: f.text(&["wids", "Wids"]),
        token_issued_at: f.time(&["tokenIssuedAt", "TokenIssuedAt"]),
        client_auth_method: f.int(&["clientAuthMethod", "ClientAuthMethod"]),
        identity_provider: f.text(&["identityProvider", "IdentityProvider"]),
        operation_id: f.text(&["operationId", "OperationId"]),
        location: f.text(&["location", "Location"]),
        dialect: Some(dialect.name().to_string()),
        source_file: Some(origin.source_file.to_string()),
        raw: Some(origin.raw.to_string()),
    })
}
