//! Workload identity sign-ins: a service principal or a managed identity signing in with its
//! own credential. Graph `signIn` of `signInEventTypes` `servicePrincipal` / `managedIdentity`
//! (<https://learn.microsoft.com/en-us/graph/api/resources/signin?view=graph-rest-beta>),
//! the diagnostic categories `ServicePrincipalSignInLogs` / `ManagedIdentitySignInLogs`, and
//! Log Analytics `AADServicePrincipalSignInLogs` / `AADManagedIdentitySignInLogs`
//! (<https://learn.microsoft.com/en-us/azure/azure-monitor/reference/tables/aadserviceprincipalsigninlogs>).

use super::{Dialect, Origin, Outcome, derived_id, outcome};
use crate::fields::{Fields, check_coordinates, normalise_ip};
use crate::schema::{Record, ServicePrincipalSignIn};
use crate::value::Value;

pub(super) const SERVICE_PRINCIPAL: &str = "servicePrincipal";
pub(super) const MANAGED_IDENTITY: &str = "managedIdentity";

/// The workload kind a Graph sign-in's `signInEventTypes` name, if any.
pub(super) fn event_type(f: Fields) -> Option<&'static str> {
    let types = f.array(&["signInEventTypes", "SignInEventTypes"])?;
    let has = |name: &str| types.iter().any(|t| t.as_str().is_some_and(|t| t.eq_ignore_ascii_case(name)));
    if has(MANAGED_IDENTITY) {
        Some(MANAGED_IDENTITY)
    } else if has(SERVICE_PRINCIPAL) {
        Some(SERVICE_PRINCIPAL)
    } else {
        None
    }
}

pub(super) fn normalise(f: Fields, dialect: Dialect, kind: &'static str, origin: &Origin) -> Outcome {
    outcome(read(f, dialect, kind, origin).map(Record::ServicePrincipalSignIn))
}

fn read(f: Fields, dialect: Dialect, kind: &'static str, origin: &Origin) -> Result<ServicePrincipalSignIn, String> {
    let status = f.object(&["status", "Status"]);
    let (country, state, city, latitude, longitude) = super::signin::location(f);
    let msi = f.object(&["managedServiceIdentity", "ManagedServiceIdentity"]);
    Ok(ServicePrincipalSignIn {
        record_id: Some(f.text(&["id", "Id"]).unwrap_or_else(|| derived_id(origin.raw))),
        time: f.time(&["createdDateTime", "CreatedDateTime", "TimeGenerated", "time"]),
        identity_type: Some(kind.to_string()),
        service_principal_id: f.text(&["servicePrincipalId", "ServicePrincipalId"]),
        service_principal_name: f.text(&["servicePrincipalName", "ServicePrincipalName"]),
        app_id: f.text(&["appId", "AppId"]),
        app_display_name: f.text(&["appDisplayName", "AppDisplayName"]),
        credential_type: f.text(&["clientCredentialType", "ClientCredentialType"]),
        credential_key_id: f.text(&["servicePrincipalCredentialKeyId", "ServicePrincipalCredentialKeyId"]),
        credential_thumbprint: f
            .text(&["servicePrincipalCredentialThumbprint", "ServicePrincipalCredentialThumbprint"]),
        federated_credential_id: f.text(&["federatedCredentialId", "FederatedCredentialId"]),
        managed_identity_type: msi.and_then(|m| m.text(&["msiType"])).filter(|t| t != "none"),
        managed_identity_resource_id: msi.and_then(|m| m.text(&["associatedResourceId"])),
        resource_display_name: f.text(&["resourceDisplayName", "ResourceDisplayName"]),
        resource_id: f.text(&["resourceId", "ResourceIdentity", "resourceIdentity"]),
        resource_service_principal_id: f.text(&["resourceServicePrincipalId", "ResourceServicePrincipalId"]),
        ip_address: f.text(&["ipAddress", "IPAddress", "callerIpAddress"]).and_then(|ip| normalise_ip(&ip)),
        country,
        state,
        city,
        latitude,
        longitude,
        coordinates_valid: Some(check_coordinates(latitude, longitude).0),
        result_type: status.and_then(|s| s.int(&["errorCode"])).or_else(|| f.int(&["resultType", "ResultType"])),
        failure_reason: status
            .and_then(|s| s.text(&["failureReason"]))
            .or_else(|| f.text(&["resultDescription", "ResultDescription"])),
        conditional_access_status: f.text(&["conditionalAccessStatus", "ConditionalAccessStatus"]),
        correlation_id: f.text(&["correlationId", "CorrelationId"]),
        unique_token_identifier: f.text(&["uniqueTokenIdentifier", "UniqueTokenIdentifier"]),
        risk_level_during_signin: f.text(&["riskLevelDuringSignIn", "RiskLevelDuringSignIn"]),
        risk_level_aggregated: f.text(&["riskLevelAggregated", "RiskLevelAggregated"]),
        risk_state: f.text(&["riskState", "RiskState"]),
        risk_detail: f.text(&["riskDetail", "RiskDetail"]),
        dialect: Some(dialect.name().to_string()),
        source_file: Some(origin.source_file.to_string()),
        raw: Some(origin.raw.to_string()),
    })
}

/// Whether a record without a user but with a service principal is a workload sign-in.
pub(super) fn looks_like(f: Fields) -> bool {
    let user = f.value(&["userPrincipalName", "UserPrincipalName", "userId", "UserId"]).is_some();
    let principal = f.value(&["servicePrincipalId", "ServicePrincipalId"]).is_some();
    let result = f.value(&["status", "Status", "ResultType", "resultType"]).is_some();
    !user && principal && result && !matches!(f.value(&["requestUri", "RequestUri"]), Some(Value::String(_)))
}
