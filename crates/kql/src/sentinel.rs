//! Sentinel's tables as views over the store, with Sentinel's column names and types, so that
//! the queries a SOC already has run unchanged. Each view is a read-only query over one of the
//! store's tables; `dynamic` columns are built from the normalised columns (not from the raw
//! record, whose shape depends on the export dialect), so they look the same whichever export
//! the rows came from. Schemas: <https://learn.microsoft.com/en-us/azure/azure-monitor/reference/tables/signinlogs>,
//! `aadnoninteractiveusersigninlogs`, `aadserviceprincipalsigninlogs`,
//! `aadmanagedidentitysigninlogs`, `auditlogs`, `aaduserriskevents`, `aadriskyusers`,
//! `officeactivity` (same place).
//!
//! The store's own tables are there too, by their names (`signins`, `audits` ...).

use std::collections::HashMap;

use datafusion::error::DataFusionError;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;

const SIGNIN_COLUMNS: &str = r#"
  time AS "TimeGenerated", time AS "CreatedDateTime", record_id AS "Id", 'Sign-in activity' AS "OperationName",
  CASE WHEN coalesce(is_interactive, true) THEN 'SignInLogs' ELSE 'NonInteractiveUserSignInLogs' END AS "Category",
  CASE WHEN coalesce(is_interactive, true) THEN 'SigninLogs' ELSE 'AADNonInteractiveUserSignInLogs' END AS "Type",
  user_display_name AS "Identity",
  user_principal_name AS "AlternateSignInName", user_principal_name AS "UserPrincipalName", user_display_name AS "UserDisplayName", user_id AS "UserId",
  user_type AS "UserType", ip_address AS "IPAddress", country AS "Location",
  kql_object('city', city, 'state', state, 'countryOrRegion', country,
             'geoCoordinates', kql_object('latitude', latitude, 'longitude', longitude)) AS "LocationDetails",
  CAST(asn AS INT) AS "AutonomousSystemNumber", app_display_name AS "AppDisplayName", app_id AS "AppId",
  resource_display_name AS "ResourceDisplayName", resource_id AS "ResourceIdentity",
  client_app_used AS "ClientAppUsed", user_agent AS "UserAgent", authentication_protocol AS "AuthenticationProtocol",
  CAST(result_type AS VARCHAR) AS "ResultType", failure_reason AS "ResultDescription",
  kql_object('errorCode', result_type, 'failureReason', failure_reason, 'additionalDetails', status_detail) AS "Status",
  authentication_requirement AS "AuthenticationRequirement",
  kql_object('authMethod', mfa_auth_method, 'authDetail', mfa_auth_detail) AS "MfaDetail",
  coalesce(authentication_details, '[]') AS "AuthenticationDetails",
  conditional_access_status AS "ConditionalAccessStatus",
  arrow_cast(coalesce(ca_policies, '[]'), 'LargeUtf8') AS "ConditionalAccessPolicies",
  kql_object('deviceId', device_id, 'displayName', device_name, 'operatingSystem', device_os,
             'browser', device_browser, 'isCompliant', device_is_compliant, 'isManaged', device_is_managed,
             'trustType', device_trust_type) AS "DeviceDetail",
  risk_level_during_signin AS "RiskLevelDuringSignIn", risk_level_aggregated AS "RiskLevelAggregated",
  risk_state AS "RiskState", risk_detail AS "RiskDetail",
  CAST(kql_json(risk_event_types) AS VARCHAR) AS "RiskEventTypes_V2",
  correlation_id AS "CorrelationId", session_id AS "SessionId", unique_token_identifier AS "UniqueTokenIdentifier",
  incoming_token_type AS "IncomingTokenType", token_issuer_type AS "TokenIssuerType",
  coalesce(is_interactive, true) AS "IsInteractive", '[]' AS "NetworkLocationDetails", 'Azure AD' AS "SourceSystem",
  CAST(NULL AS VARCHAR) AS "TenantId", CAST(NULL AS VARCHAR) AS "AADTenantId""#;

const WORKLOAD_COLUMNS: &str = r#"
  time AS "TimeGenerated", time AS "CreatedDateTime", record_id AS "Id",
  service_principal_id AS "ServicePrincipalId", service_principal_name AS "ServicePrincipalName",
  app_id AS "AppId", ip_address AS "IPAddress", country AS "Location",
  kql_object('city', city, 'state', state, 'countryOrRegion', country,
             'geoCoordinates', kql_object('latitude', latitude, 'longitude', longitude)) AS "LocationDetails",
  resource_display_name AS "ResourceDisplayName", resource_id AS "ResourceIdentity",
  resource_service_principal_id AS "ResourceServicePrincipalId",
  CAST(result_type AS VARCHAR) AS "ResultType", failure_reason AS "ResultDescription",
  credential_key_id AS "ServicePrincipalCredentialKeyId", credential_thumbprint AS "ServicePrincipalCredentialThumbprint",
  federated_credential_id AS "FederatedCredentialId", managed_identity_type AS "ManagedIdentityType",
  conditional_access_status AS "ConditionalAccessStatus", correlation_id AS "CorrelationId",
  unique_token_identifier AS "UniqueTokenIdentifier", risk_level_during_signin AS "RiskLevelDuringSignIn",
  risk_state AS "RiskState", risk_detail AS "RiskDetail""#;

/// Sentinel's table names and the SQL of each view.
pub const VIEWS: &[(&str, &str)] = &[
    ("SigninLogs", r#"SELECT {SIGNIN} FROM signins WHERE coalesce(is_interactive, true)"#),
    ("AADNonInteractiveUserSignInLogs", r#"SELECT {SIGNIN} FROM signins WHERE NOT coalesce(is_interactive, true)"#),
    // The name older queries (seed 004) use for both.
    ("AADSignInLogs", r#"SELECT {SIGNIN} FROM signins"#),
    (
        "AADServicePrincipalSignInLogs",
        r#"SELECT {WORKLOAD} FROM service_principal_signins WHERE identity_type = 'servicePrincipal'"#,
    ),
    (
        "AADManagedIdentitySignInLogs",
        r#"SELECT {WORKLOAD} FROM service_principal_signins WHERE identity_type = 'managedIdentity'"#,
    ),
    (
        "AuditLogs",
        r#"SELECT time AS "TimeGenerated", time AS "ActivityDateTime", record_id AS "Id", activity AS "OperationName",
           'AuditLogs' AS "Type", coalesce(initiated_by_upn, initiated_by_app) AS "Identity",
           'Azure AD' AS "SourceSystem", CAST(NULL AS VARCHAR) AS "TenantId", CAST(NULL AS VARCHAR) AS "AADTenantId",
           activity AS "ActivityDisplayName", category AS "Category", operation_type AS "AADOperationType",
           result AS "Result", result_reason AS "ResultReason", result_reason AS "ResultDescription",
           logged_by_service AS "LoggedByService", correlation_id AS "CorrelationId",
           kql_object(
             'user', CASE WHEN initiated_by_upn IS NOT NULL OR initiated_by_user_id IS NOT NULL OR initiated_by_ip IS NOT NULL
                          THEN kql_object('userPrincipalName', initiated_by_upn, 'id', initiated_by_user_id, 'ipAddress', initiated_by_ip) END,
             'app', CASE WHEN initiated_by_app IS NOT NULL THEN kql_object('displayName', initiated_by_app) END) AS "InitiatedBy",
           arrow_cast(coalesce(targets, '[]'), 'LargeUtf8') AS "TargetResources",
           arrow_cast(coalesce(additional_details, '[]'), 'LargeUtf8') AS "AdditionalDetails"
         FROM audits"#,
    ),
    (
        "AADUserRiskEvents",
        r#"SELECT time AS "TimeGenerated", coalesce(activity_time, time) AS "ActivityDateTime", time AS "DetectedDateTime",
           record_id AS "Id", user_principal_name AS "UserPrincipalName", user_id AS "UserId",
           user_display_name AS "UserDisplayName", risk_event_type AS "RiskEventType", risk_level AS "RiskLevel",
           risk_state AS "RiskState", risk_detail AS "RiskDetail", detection_timing_type AS "DetectionTimingType",
           source AS "Source", activity AS "Activity", ip_address AS "IpAddress",
           kql_object('city', city, 'state', state, 'countryOrRegion', country,
                      'geoCoordinates', kql_object('latitude', latitude, 'longitude', longitude)) AS "Location",
           request_id AS "RequestId", correlation_id AS "CorrelationId",
           arrow_cast(coalesce(additional_info, '[]'), 'LargeUtf8') AS "AdditionalInfo"
         FROM risk_detections WHERE record_kind = 'riskDetection'"#,
    ),
    (
        "AADRiskyUsers",
        r#"SELECT time AS "TimeGenerated", time AS "RiskLastUpdatedDateTime", user_id AS "Id",
           user_principal_name AS "UserPrincipalName", user_display_name AS "UserDisplayName",
           risk_level AS "RiskLevel", risk_state AS "RiskState", risk_detail AS "RiskDetail"
         FROM risk_detections WHERE record_kind = 'riskyUser'"#,
    ),
    (
        "AzureActivity",
        r#"SELECT time AS "TimeGenerated", operation_name AS "OperationNameValue",
           coalesce(operation_display_name, operation_name) AS "OperationName", category AS "CategoryValue",
           status AS "ActivityStatusValue", sub_status AS "ActivitySubstatusValue", caller AS "Caller",
           caller_ip AS "CallerIpAddress", caller_app_id AS "Claims_d", resource_id AS "_ResourceId",
           resource_id AS "ResourceId", resource_provider AS "ResourceProviderValue", resource_group AS "ResourceGroup",
           subscription_id AS "SubscriptionId", correlation_id AS "CorrelationId", level AS "Level",
           kql_object('action', authorization_action, 'scope', authorization_scope) AS "Authorization_d",
           arrow_cast(coalesce(properties, '{}'), 'LargeUtf8') AS "Properties_d", 'AzureActivity' AS "Type"
         FROM azure_activity"#,
    ),
    (
        "OfficeActivity",
        r#"SELECT time AS "TimeGenerated", 'OfficeActivity' AS "Type", record_id AS "OfficeId", workload AS "OfficeWorkload", record_type AS "RecordType",
           operation AS "Operation", result_status AS "ResultStatus", user_principal_name AS "UserId",
           client_ip AS "ClientIP", client_ip AS "Client_IPAddress", user_agent AS "UserAgent", logon_type AS "LogonType",
           mailbox_owner_upn AS "MailboxOwnerUPN", session_id AS "SessionId", app_id AS "AppId",
           object_id AS "OfficeObjectId", parameters AS "Parameters", subject AS "Subject", item_count AS "ItemCount",
           kql_tostring(kql_raw_field(raw, 'UserType')) AS "UserType",
           kql_tostring(kql_raw_field(raw, 'UserKey')) AS "UserKey",
           kql_tostring(kql_raw_field(raw, 'ClientInfoString')) AS "ClientInfoString",
           kql_tostring(kql_raw_field(raw, 'Logon_Type', 'LogonType')) AS "Logon_Type",
           kql_tostring(kql_raw_field(raw, 'ExternalAccess')) AS "ExternalAccess",
           kql_tostring(kql_raw_field(raw, 'OrganizationName')) AS "OrganizationName",
           kql_tostring(kql_raw_field(raw, 'OriginatingServer')) AS "OriginatingServer",
           kql_tostring(kql_raw_field(raw, 'Site_Url', 'SiteUrl')) AS "Site_Url",
           kql_tostring(kql_raw_field(raw, 'SourceRelativeUrl')) AS "SourceRelativeUrl",
           kql_tostring(kql_raw_field(raw, 'SourceFileName')) AS "SourceFileName",
           kql_tostring(kql_raw_field(raw, 'SourceFileExtension')) AS "SourceFileExtension",
           kql_tostring(kql_raw_field(raw, 'TeamName')) AS "TeamName",
           kql_tostring(kql_raw_field(raw, 'ChannelName')) AS "ChannelName",
           kql_tostring(kql_raw_field(raw, 'AddonName', 'AddOnName')) AS "AddonName",
           kql_tostring(kql_raw_field(raw, 'TargetUserOrGroupName')) AS "TargetUserOrGroupName",
           kql_tostring(kql_raw_field(raw, 'TargetUserOrGroupType')) AS "TargetUserOrGroupType",
           kql_tostring(kql_raw_field(raw, 'ClientProcessName')) AS "ClientProcessName",
           kql_raw_field(raw, 'Members') AS "Members",
           kql_raw_field(raw, 'Folders') AS "Folders",
           kql_raw_field(raw, 'Item') AS "Item",
           kql_raw_field(raw, 'AffectedItems') AS "AffectedItems",
           kql_raw_field(raw, 'ModifiedProperties') AS "ModifiedProperties",
           kql_raw_field(raw, 'ExtendedProperties') AS "ExtendedProperties",
           kql_tostring(kql_raw_field(raw, 'MailboxGuid')) AS "MailboxGuid",
           kql_tostring(kql_raw_field(raw, 'TeamGuid')) AS "TeamGuid",
           time AS "Start_Time", 'Office 365' AS "SourceSystem", CAST(NULL AS VARCHAR) AS "TenantId"
         FROM mailbox_activity"#,
    ),
];

/// The plans of the Sentinel views and of the store's tables, by name.
pub async fn tables(ctx: &SessionContext) -> Result<HashMap<String, LogicalPlan>, DataFusionError> {
    crate::udf::register(ctx);
    let mut tables = HashMap::new();
    let mut names =
        ctx.catalog("datafusion").and_then(|c| c.schema("public")).map(|s| s.table_names()).unwrap_or_default();
    names.sort();
    for table in names {
        let frame = ctx.table(table.as_str()).await?;
        tables.insert(table, frame.into_unoptimized_plan());
    }
    for (name, sql) in VIEWS {
        // A session without the store's tables (a `datatable` query) has no views.
        let base = sql.split(" FROM ").nth(1).and_then(|rest| rest.split_whitespace().next()).unwrap_or_default();
        if !tables.contains_key(base) {
            continue;
        }
        let sql = sql.replace("{SIGNIN}", SIGNIN_COLUMNS).replace("{WORKLOAD}", WORKLOAD_COLUMNS);
        let frame = sleuth_store::read_only(ctx, &sql).await?;
        tables.insert(name.to_string(), frame.into_unoptimized_plan());
    }
    Ok(tables)
}
