//! Sign-ins: Graph signIn (v1.0 and beta), diagnostic SignInLogs / NonInteractiveUserSignInLogs,
//! Log Analytics SigninLogs / AADNonInteractiveUserSignInLogs, and Entra portal CSV downloads.

use super::{Dialect, Origin, Outcome, derived_id, json_text, outcome};
use crate::fields::{Fields, check_coordinates, normalise_ip, pluck};
use crate::schema::{Record, SignIn};
use crate::value::Value;

const TOKEN_CLAIM: &str = "satisfied by claim in the token";

pub(super) fn normalise(f: Fields, dialect: Dialect, interactive: Option<bool>, origin: &Origin) -> Outcome {
    outcome(read(f, dialect, interactive, origin).map(Record::SignIn))
}

fn read(f: Fields, dialect: Dialect, interactive: Option<bool>, origin: &Origin) -> Result<SignIn, String> {
    let status = f.object(&["status", "Status"]);
    let result_type = status
        .and_then(|s| s.int(&["errorCode"]))
        .or_else(|| f.int(&["resultType", "ResultType", "Sign-in error code"]))
        // The portal's CSV says "Success"; some diagnostic exports put it in resultType or
        // resultSignature instead of the code.
        .or_else(|| {
            let said = |key: &str| f.text(&[key]).is_some_and(|s| s.eq_ignore_ascii_case("success"));
            ["Status", "resultType", "ResultType", "resultSignature", "ResultSignature"]
                .iter()
                .any(|k| said(k))
                .then_some(0)
        });
    let status_detail = status
        .and_then(|s| s.text(&["additionalDetails"]))
        .or_else(|| f.text(&["Multifactor authentication result", "Additional Details"]));

    let (country, state, city, latitude, longitude) = location(f);
    let (coordinates_valid, coordinates_issue) = check_coordinates(latitude, longitude);

    let device = f.object(&["deviceDetail", "DeviceDetail"]);
    let device_text = |key: &str, portal: &str| device.and_then(|d| d.text(&[key])).or_else(|| f.text(&[portal]));
    let device_bool = |key: &str, portal: &str| device.and_then(|d| d.bool(&[key])).or_else(|| f.bool(&[portal]));
    let mfa = f.object(&["mfaDetail", "MfaDetail"]);

    let steps = f.array(&["authenticationDetails", "AuthenticationDetails"]).unwrap_or_default();
    let mut authentication_methods = pluck(steps, &["authenticationMethod"]);
    if authentication_methods.is_empty() {
        authentication_methods = list(f.value(&["authenticationMethodsUsed", "AuthenticationMethodsUsed"]));
    }
    let authentication_step_results = pluck(steps, &["authenticationStepResultDetail"]);
    let mfa_satisfied_by_token = status_detail
        .iter()
        .chain(authentication_step_results.iter())
        .any(|s| s.to_ascii_lowercase().contains(TOKEN_CLAIM));

    let policies =
        f.array(&["appliedConditionalAccessPolicies", "conditionalAccessPolicies", "ConditionalAccessPolicies"]);
    let ca_policies_failed = policies
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_object)
        .map(Fields::nested)
        .filter(|p| p.text(&["result"]).is_some_and(|r| r.eq_ignore_ascii_case("failure")))
        .filter_map(|p| p.text(&["displayName"]))
        .collect();

    let is_interactive = interactive.or_else(|| f.bool(&["isInteractive", "IsInteractive"])).or_else(|| {
        f.array(&["signInEventTypes"]).map(|types| types.iter().any(|t| t.as_str() == Some("interactiveUser")))
    });

    Ok(SignIn {
        record_id: Some(f.text(&["id", "Id", "Request ID"]).unwrap_or_else(|| derived_id(origin.raw))),
        time: f.time(&["createdDateTime", "CreatedDateTime", "TimeGenerated", "Date (UTC)", "time"]),
        is_interactive,
        user_principal_name: f.lower(&["userPrincipalName", "UserPrincipalName", "Username"]),
        user_display_name: f.text(&["userDisplayName", "UserDisplayName", "User"]),
        user_id: f.text(&["userId", "UserId", "User ID"]),
        user_type: f.text(&["userType", "UserType", "User type"]),
        ip_address: f
            .text(&["ipAddress", "IPAddress", "IP address", "callerIpAddress"])
            .and_then(|ip| normalise_ip(&ip)),
        country,
        state,
        city,
        latitude,
        longitude,
        coordinates_valid: Some(coordinates_valid),
        coordinates_issue: coordinates_issue.map(str::to_string),
        asn: f.int(&[
            "autonomousSystemNumber",
            "AutonomousSystemNumber",
            "Autonomous system number",
            "Autonomous system  number",
        ]),
        app_display_name: f.text(&["appDisplayName", "AppDisplayName", "Application"]),
        app_id: f.text(&["appId", "AppId", "Application ID"]),
        resource_display_name: f.text(&["resourceDisplayName", "ResourceDisplayName", "Resource"]),
        resource_id: f.text(&["resourceId", "ResourceIdentity", "ResourceId ", "Resource ID"]),
        client_app_used: f.text(&["clientAppUsed", "ClientAppUsed", "Client app"]),
        user_agent: f.text(&["userAgent", "UserAgent", "User agent"]),
        result_type,
        failure_reason: status
            .and_then(|s| s.text(&["failureReason"]))
            .or_else(|| f.text(&["ResultDescription", "Failure reason"])),
        status_detail,
        authentication_requirement: f
            .text(&["authenticationRequirement", "AuthenticationRequirement", "Authentication requirement"])
            .map(|r| requirement(&r)),
        mfa_auth_method: mfa
            .and_then(|m| m.text(&["authMethod"]))
            .or_else(|| f.text(&["Multifactor authentication auth method"])),
        mfa_auth_detail: mfa
            .and_then(|m| m.text(&["authDetail"]))
            .or_else(|| f.text(&["Multifactor authentication auth detail"])),
        authentication_details: (!steps.is_empty()).then(|| json_text(steps)),
        authentication_methods,
        authentication_step_results,
        mfa_satisfied_by_token: Some(mfa_satisfied_by_token),
        conditional_access_status: f.text(&[
            "conditionalAccessStatus",
            "ConditionalAccessStatus",
            "Conditional Access",
        ]),
        ca_policies_failed,
        ca_policies: policies.map(json_text),
        device_id: device_text("deviceId", "Device ID"),
        device_name: device_text("displayName", "Device name"),
        device_os: device_text("operatingSystem", "Operating System"),
        device_browser: device_text("browser", "Browser"),
        device_is_compliant: device_bool("isCompliant", "Compliant"),
        device_is_managed: device_bool("isManaged", "Managed"),
        device_trust_type: device_text("trustType", "Join Type"),
        risk_level_during_signin: f.text(&["riskLevelDuringSignIn", "RiskLevelDuringSignIn"]),
        risk_level_aggregated: f.text(&["riskLevelAggregated", "RiskLevelAggregated"]),
        risk_state: f.text(&["riskState", "RiskState"]),
        risk_detail: f.text(&["riskDetail", "RiskDetail"]),
        risk_event_types: list(f.value(&[
            "riskEventTypes_v2",
            "RiskEventTypes_V2",
            "riskEventTypes",
            "RiskEventTypes",
        ])),
        correlation_id: f.text(&["correlationId", "CorrelationId", "Correlation ID"]),
        session_id: f.text(&["sessionId", "SessionId", "Session ID"]),
        unique_token_identifier: f.text(&["uniqueTokenIdentifier", "UniqueTokenIdentifier", "Unique token identifier"]),
        authentication_protocol: f.text(&[
            "authenticationProtocol",
            "AuthenticationProtocol",
            "Authentication Protocol",
        ]),
        incoming_token_type: f.text(&["incomingTokenType", "IncomingTokenType", "Incoming token type"]),
        token_issuer_type: f.text(&["tokenIssuerType", "TokenIssuerType", "Token issuer type"]),
        dialect: Some(dialect.name().to_string()),
        source_file: Some(origin.source_file.to_string()),
        raw: Some(origin.raw.to_string()),
    })
}

/// The portal writes "Multifactor authentication" where Graph writes multiFactorAuthentication.
fn requirement(text: &str) -> String {
    match text.to_ascii_lowercase().replace(['-', ' '], "").as_str() {
        "multifactorauthentication" => "multiFactorAuthentication".into(),
        "singlefactorauthentication" => "singleFactorAuthentication".into(),
        _ => text.to_string(),
    }
}

type Location = (Option<String>, Option<String>, Option<String>, Option<f64>, Option<f64>);

/// Location from the `location` / `LocationDetails` object, or from the portal's
/// "City, State, CC" text, or from Log Analytics' country-only `Location` column.
pub(super) fn location(f: Fields) -> Location {
    // The Graph PowerShell SDK writes the object as `Location`, where Log Analytics has the
    // country code.
    if let Some(loc) = f.object(&["location", "LocationDetails"]).or_else(|| f.object(&["Location"])) {
        let geo = loc.object(&["geoCoordinates"]);
        return (
            loc.text(&["countryOrRegion"]).map(|c| c.to_ascii_uppercase()),
            loc.text(&["state"]),
            loc.text(&["city"]),
            geo.and_then(|g| g.float(&["latitude"])),
            geo.and_then(|g| g.float(&["longitude"])),
        );
    }
    match f.text(&["Location", "location"]) {
        Some(text) if text.contains(',') => {
            let parts: Vec<&str> = text.split(',').map(str::trim).collect();
            let country = parts.last().map(|c| c.to_ascii_uppercase());
            let city = parts.first().map(|c| c.to_string());
            let state = (parts.len() > 2).then(|| parts[1].to_string());
            (country, state, city, None, None)
        }
        Some(code) => (Some(code.to_ascii_uppercase()), None, None, None, None),
        None => (None, None, None, None, None),
    }
}

/// A list of strings from an array, or from comma-separated text.
pub(super) fn list(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items.iter().filter_map(crate::fields::as_text).collect(),
        Some(Value::String(s)) => {
            s.split([',', ';']).map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect()
        }
        _ => Vec::new(),
    }
}
