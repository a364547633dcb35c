//! The normalised tables: one record type per table, each column documented with its meaning
//! and the source fields it is read from. The store turns these columns into Arrow/Parquet
//! columns; `sleuth tables` prints this documentation.

use chrono::{DateTime, Utc};

/// The tables of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Table {
    SignIns,
    Audits,
    RiskDetections,
    MailboxActivity,
    MessageTrace,
    ServicePrincipalSignIns,
    GraphActivity,
    AzureActivity,
    PimAlerts,
    DirectoryUsers,
}

impl Table {
    pub const ALL: [Table; 10] = [
        Table::SignIns,
        Table::Audits,
        Table::RiskDetections,
        Table::MailboxActivity,
        Table::MessageTrace,
        Table::ServicePrincipalSignIns,
        Table::GraphActivity,
        Table::AzureActivity,
        Table::PimAlerts,
        Table::DirectoryUsers,
    ];

    /// The SQL name of the table.
    pub fn name(self) -> &'static str {
        match self {
            Table::SignIns => "signins",
            Table::Audits => "audits",
            Table::RiskDetections => "risk_detections",
            Table::MailboxActivity => "mailbox_activity",
            Table::MessageTrace => "message_trace",
            Table::ServicePrincipalSignIns => "service_principal_signins",
            Table::GraphActivity => "graph_activity",
            Table::AzureActivity => "azure_activity",
            Table::PimAlerts => "pim_alerts",
            Table::DirectoryUsers => "directory_users",
        }
    }

    pub fn from_name(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name() == name)
    }

    pub fn description(self) -> &'static str {
        match self {
            Table::SignIns => {
                "Entra ID sign-ins, interactive and non-interactive (SigninLogs, AADNonInteractiveUserSignInLogs, Graph signIn)"
            }
            Table::Audits => "Entra ID directory audit events (AuditLogs, Graph directoryAudit)",
            Table::RiskDetections => {
                "Identity Protection risk detections and risky-user states (AADUserRiskEvents, AADRiskyUsers, Graph riskDetection / riskyUser)"
            }
            Table::MailboxActivity => {
                "Unified Audit Log records: Exchange mailbox and admin operations, consent, UserLoggedIn ... (Purview UAL, OfficeActivity)"
            }
            Table::MessageTrace => "Exchange Online message trace, one row per message and recipient",
            Table::ServicePrincipalSignIns => {
                "Workload identity sign-ins: service principals and managed identities signing in with their own credential (AADServicePrincipalSignInLogs, AADManagedIdentitySignInLogs, Graph signIn of signInEventTypes servicePrincipal / managedIdentity)"
            }
            Table::GraphActivity => {
                "Every Microsoft Graph request a token made, joinable to the sign-in that issued the token (MicrosoftGraphActivityLogs)"
            }
            Table::AzureActivity => {
                "Azure Resource Manager control-plane operations: role assignments, Key Vault, VM run command, diagnostic settings ... (Azure Activity log, AzureActivity)"
            }
            Table::PimAlerts => {
                "Privileged Identity Management security alerts for Entra roles and their incidents: roles activated without MFA, too many global admins, roles assigned outside PIM ... (Graph roleManagementAlerts)"
            }
            Table::DirectoryUsers => {
                "The directory's users: department, title, manager, office, for peer groups (Graph user, Get-MgUser, the admin center's Download users CSV)"
            }
        }
    }

    pub fn columns(self) -> &'static [Column] {
        match self {
            Table::SignIns => SignIn::COLUMNS,
            Table::Audits => Audit::COLUMNS,
            Table::RiskDetections => RiskDetection::COLUMNS,
            Table::MailboxActivity => MailboxActivity::COLUMNS,
            Table::MessageTrace => MessageTrace::COLUMNS,
            Table::ServicePrincipalSignIns => ServicePrincipalSignIn::COLUMNS,
            Table::GraphActivity => GraphActivity::COLUMNS,
            Table::AzureActivity => AzureActivity::COLUMNS,
            Table::PimAlerts => PimAlert::COLUMNS,
            Table::DirectoryUsers => DirectoryUser::COLUMNS,
        }
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The type of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Int,
    Float,
    Bool,
    /// UTC timestamp, microsecond precision.
    Time,
    /// A list of strings.
    List,
}

/// A column's documentation.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
    pub meaning: &'static str,
    /// The source fields, by dialect, that the column is read from.
    pub sources: &'static str,
}

/// One value of a record, borrowed, in column order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    Text(Option<&'a str>),
    Int(Option<i64>),
    Float(Option<f64>),
    Bool(Option<bool>),
    Time(Option<i64>),
    List(&'a [String]),
}

impl<'a> From<&'a Option<String>> for Cell<'a> {
    fn from(v: &'a Option<String>) -> Self {
        Cell::Text(v.as_deref())
    }
}
impl From<&Option<i64>> for Cell<'_> {
    fn from(v: &Option<i64>) -> Self {
        Cell::Int(*v)
    }
}
impl From<&Option<f64>> for Cell<'_> {
    fn from(v: &Option<f64>) -> Self {
        Cell::Float(*v)
    }
}
impl From<&Option<bool>> for Cell<'_> {
    fn from(v: &Option<bool>) -> Self {
        Cell::Bool(*v)
    }
}
impl From<&Option<DateTime<Utc>>> for Cell<'_> {
    fn from(v: &Option<DateTime<Utc>>) -> Self {
        Cell::Time(v.map(|t| t.timestamp_micros()))
    }
}
impl<'a> From<&'a Vec<String>> for Cell<'a> {
    fn from(v: &'a Vec<String>) -> Self {
        Cell::List(v)
    }
}

/// Declares a record type: its fields, their column types and their documentation, once.
macro_rules! table {
    (
        $(#[$doc:meta])*
        $name:ident {
            $( $field:ident : $kind:ident, $meaning:literal, $sources:literal; )*
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct $name {
            $( #[doc = $meaning] pub $field: table!(@type $kind), )*
        }

        impl $name {
            pub const COLUMNS: &'static [Column] = &[
                $( Column { name: stringify!($field), kind: Kind::$kind, meaning: $meaning, sources: $sources }, )*
            ];

            /// The record's values in column order.
            pub fn cells(&self) -> Vec<Cell<'_>> {
                vec![ $( Cell::from(&self.$field), )* ]
            }
        }
    };
    (@type Text) => { Option<String> };
    (@type Int) => { Option<i64> };
    (@type Float) => { Option<f64> };
    (@type Bool) => { Option<bool> };
    (@type Time) => { Option<DateTime<Utc>> };
    (@type List) => { Vec<String> };
}

table! {
    /// A sign-in (interactive or non-interactive).
    SignIn {
        record_id: Text, "Unique id of the sign-in request; the dedupe key", "Graph/diagnostic: id; Log Analytics: Id; portal CSV: Request ID";
        time: Time, "When the sign-in happened (UTC)", "Graph: createdDateTime; diagnostic: properties.createdDateTime or time; Log Analytics: CreatedDateTime, TimeGenerated; portal CSV: Date (UTC)";
        is_interactive: Bool, "True for interactive sign-ins, false for non-interactive (token refresh, background)", "isInteractive / IsInteractive; diagnostic category NonInteractiveUserSignInLogs; Log Analytics Type AADNonInteractiveUserSignInLogs; signInEventTypes";
        user_principal_name: Text, "User principal name, lower-cased so that comparisons are case-insensitive", "userPrincipalName / UserPrincipalName / Username";
        user_display_name: Text, "Display name of the user (attacker-controlled text)", "userDisplayName / UserDisplayName / User";
        user_id: Text, "Object id of the user", "userId / UserId / User ID";
        user_type: Text, "member or guest", "userType / UserType / User type";
        ip_address: Text, "Client IP address as Entra saw it", "ipAddress / IPAddress / IP address";
        country: Text, "Two-letter country or region code of the IP, as Entra reported it", "location.countryOrRegion / LocationDetails.countryOrRegion / Location";
        state: Text, "State or province, as Entra reported it", "location.state / LocationDetails.state";
        city: Text, "City, as Entra reported it", "location.city / LocationDetails.city";
        latitude: Float, "Latitude as reported (not trusted unless coordinates_valid)", "location.geoCoordinates.latitude / LocationDetails.geoCoordinates.latitude";
        longitude: Float, "Longitude as reported (not trusted unless coordinates_valid)", "location.geoCoordinates.longitude / LocationDetails.geoCoordinates.longitude";
        coordinates_valid: Bool, "True when latitude/longitude are present and plausible; false when missing, out of range, swapped or (0,0)", "derived from the coordinates";
        coordinates_issue: Text, "Why the coordinates are not trusted: missing, swapped, out_of_range, null_island", "derived from the coordinates";
        asn: Int, "Autonomous system number of the IP, as Entra reported it", "autonomousSystemNumber / AutonomousSystemNumber / Autonomous system number";
        app_display_name: Text, "Application signed in to", "appDisplayName / AppDisplayName / Application";
        app_id: Text, "Application (client) id", "appId / AppId / Application ID";
        resource_display_name: Text, "Resource the token is for", "resourceDisplayName / ResourceDisplayName / Resource";
        resource_id: Text, "Resource id", "resourceId / ResourceIdentity / Resource ID";
        client_app_used: Text, "Client app / protocol (Browser, Mobile Apps and Desktop clients, Exchange ActiveSync, Authenticated SMTP, IMAP4 ...)", "clientAppUsed / ClientAppUsed / Client app";
        user_agent: Text, "User agent string (attacker-controlled text)", "userAgent / UserAgent / User agent";
        authentication_protocol: Text, "Protocol or grant of the sign-in (none, oAuth2, ropc, wsFederation, saml20, deviceCode)", "authenticationProtocol / AuthenticationProtocol / Authentication Protocol";
        result_type: Int, "Sign-in error code: 0 is success, anything else a failure or interrupt (50126 bad password, 50053 locked, 53003 blocked by Conditional Access ...)", "status.errorCode / ResultType / Status.errorCode / Sign-in error code";
        failure_reason: Text, "Failure reason text", "status.failureReason / ResultDescription / Failure reason";
        status_detail: Text, "Additional status detail, such as 'MFA requirement satisfied by claim in the token'", "status.additionalDetails / Status.additionalDetails / Multifactor authentication result";
        authentication_requirement: Text, "singleFactorAuthentication or multiFactorAuthentication", "authenticationRequirement / AuthenticationRequirement / Authentication requirement";
        mfa_auth_method: Text, "MFA method used", "mfaDetail.authMethod / MfaDetail.authMethod / Multifactor authentication auth method";
        mfa_auth_detail: Text, "MFA method detail (e.g. masked phone number)", "mfaDetail.authDetail / MfaDetail.authDetail / Multifactor authentication auth detail";
        authentication_methods: List, "Authentication methods of the steps (Password, Text message, Previously satisfied ...)", "authenticationDetails[].authenticationMethod / AuthenticationDetails / AuthenticationMethodsUsed";
        authentication_step_results: List, "Result detail of each authentication step (Correct password, MFA successfully completed ...)", "authenticationDetails[].authenticationStepResultDetail";
        authentication_details: Text, "All authentication steps, as JSON", "authenticationDetails / AuthenticationDetails";
        mfa_satisfied_by_token: Bool, "True when MFA was satisfied by a claim in an existing token rather than performed", "status.additionalDetails, authenticationDetails[].authenticationStepResultDetail";
        conditional_access_status: Text, "success, failure, notApplied", "conditionalAccessStatus / ConditionalAccessStatus / Conditional Access";
        ca_policies_failed: List, "Display names of Conditional Access policies whose result was failure", "appliedConditionalAccessPolicies / ConditionalAccessPolicies";
        ca_policies: Text, "All Conditional Access policies and their results, as JSON", "appliedConditionalAccessPolicies / ConditionalAccessPolicies";
        device_id: Text, "Entra device id (empty for unregistered devices)", "deviceDetail.deviceId / DeviceDetail.deviceId / Device ID";
        device_name: Text, "Device display name", "deviceDetail.displayName / DeviceDetail.displayName";
        device_os: Text, "Operating system", "deviceDetail.operatingSystem / DeviceDetail.operatingSystem / Operating System";
        device_browser: Text, "Browser", "deviceDetail.browser / DeviceDetail.browser / Browser";
        device_is_compliant: Bool, "Device compliant with Intune policy", "deviceDetail.isCompliant / DeviceDetail.isCompliant / Compliant";
        device_is_managed: Bool, "Device managed", "deviceDetail.isManaged / DeviceDetail.isManaged / Managed";
        device_trust_type: Text, "Join type (Azure AD joined, registered, hybrid)", "deviceDetail.trustType / DeviceDetail.trustType / Join Type";
        risk_level_during_signin: Text, "Risk level of the sign-in (none, low, medium, high, hidden)", "riskLevelDuringSignIn / RiskLevelDuringSignIn";
        risk_level_aggregated: Text, "Aggregated risk level", "riskLevelAggregated / RiskLevelAggregated";
        risk_state: Text, "Risk state (none, atRisk, confirmedCompromised, remediated, dismissed ...)", "riskState / RiskState";
        risk_detail: Text, "Risk detail", "riskDetail / RiskDetail";
        risk_event_types: List, "Risk event types raised on this sign-in", "riskEventTypes_v2 / RiskEventTypes_V2 / riskEventTypes / RiskEventTypes";
        correlation_id: Text, "Correlation id", "correlationId / CorrelationId / Correlation ID";
        session_id: Text, "Session id shared by the sign-ins of one session", "sessionId / SessionId / Session ID";
        unique_token_identifier: Text, "Unique token identifier", "uniqueTokenIdentifier / UniqueTokenIdentifier / Unique token identifier";
        incoming_token_type: Text, "Incoming token type (primaryRefreshToken, refreshToken ...)", "incomingTokenType / IncomingTokenType / Incoming token type";
        token_issuer_type: Text, "Token issuer type (AzureAD, ADFederationServices ...)", "tokenIssuerType / TokenIssuerType / Token issuer type";
        dialect: Text, "Export dialect the row was read from", "detected from content";
        source_file: Text, "File (and archive member) the row was read from", "ingest";
        raw: Text, "The original record as JSON (CSV rows as an object of their columns)", "the source record";
    }
}

table! {
    /// A directory audit event.
    Audit {
        record_id: Text, "Unique id of the audit event; the dedupe key", "id / Id / ID";
        time: Time, "When the activity happened (UTC)", "activityDateTime / ActivityDateTime / TimeGenerated / Date (UTC)";
        activity: Text, "Activity name (Reset password (self-service), Update user, Consent to application ...)", "activityDisplayName / ActivityDisplayName / OperationName / Activity";
        category: Text, "Audit category (UserManagement, ApplicationManagement, RoleManagement ...)", "category / Category";
        operation_type: Text, "Add, Update, Delete, Assign ...", "operationType / AADOperationType";
        result: Text, "success, failure, timeout", "result / Result";
        result_reason: Text, "Reason for the result (e.g. password policy violation)", "resultReason / ResultReason / ResultDescription";
        logged_by_service: Text, "Service that logged the event (Core Directory, Self-service Password Management ...)", "loggedByService / LoggedByService / Service";
        correlation_id: Text, "Correlation id", "correlationId / CorrelationId";
        user_principal_name: Text, "The user the event is about: the first target user, else the initiating user (lower-cased)", "derived from targetResources and initiatedBy";
        initiated_by_upn: Text, "Initiating user's UPN, lower-cased", "initiatedBy.user.userPrincipalName / InitiatedBy / Actor UPN";
        initiated_by_user_id: Text, "Initiating user's object id", "initiatedBy.user.id";
        initiated_by_ip: Text, "Initiating client IP address", "initiatedBy.user.ipAddress / InitiatedBy / IP address";
        initiated_by_app: Text, "Initiating application or service principal", "initiatedBy.app.displayName";
        target_upn: Text, "First target's UPN, lower-cased", "targetResources[].userPrincipalName";
        target_display_name: Text, "First target's display name (attacker-controlled text)", "targetResources[0].displayName";
        target_id: Text, "First target's id", "targetResources[0].id";
        target_type: Text, "First target's type (User, Application, Device ...)", "targetResources[0].type";
        modified_property_names: List, "Names of the modified properties of all targets", "targetResources[].modifiedProperties[].displayName";
        modified_properties: Text, "Modified properties with old and new values, as JSON", "targetResources[].modifiedProperties";
        targets: Text, "All targets, as JSON", "targetResources / TargetResources";
        additional_details: Text, "Additional details (key/value pairs), as JSON", "additionalDetails / AdditionalDetails";
        user_agent: Text, "User agent of the initiator when logged", "additionalDetails[User-Agent] / UserAgent";
        dialect: Text, "Export dialect the row was read from", "detected from content";
        source_file: Text, "File (and archive member) the row was read from", "ingest";
        raw: Text, "The original record as JSON", "the source record";
    }
}

table! {
    /// An Identity Protection risk detection, or a risky-user state.
    RiskDetection {
        record_id: Text, "Unique id of the detection (risky users: user id and update time); the dedupe key", "id / Id";
        time: Time, "When the risk was detected (risky users: last update)", "detectedDateTime / DetectedDateTime / riskLastUpdatedDateTime / TimeGenerated";
        record_kind: Text, "riskDetection or riskyUser", "detected from content";
        activity_time: Time, "When the risky activity happened", "activityDateTime / ActivityDateTime";
        user_principal_name: Text, "User principal name, lower-cased", "userPrincipalName / UserPrincipalName";
        user_id: Text, "User object id", "userId / UserId / id (risky users)";
        user_display_name: Text, "User display name", "userDisplayName / UserDisplayName";
        risk_event_type: Text, "Risk event type (unfamiliarFeatures, anonymizedIPAddress, newCountry, leakedCredentials ...)", "riskEventType / RiskEventType";
        risk_level: Text, "low, medium, high", "riskLevel / RiskLevel";
        risk_state: Text, "atRisk, confirmedCompromised, remediated, dismissed ...", "riskState / RiskState";
        risk_detail: Text, "Risk detail", "riskDetail / RiskDetail";
        detection_timing_type: Text, "realtime or offline", "detectionTimingType / DetectionTimingType";
        source: Text, "Detection source (IdentityProtection, MicrosoftCloudAppSecurity ...)", "source / Source";
        activity: Text, "signin or user", "activity / Activity";
        ip_address: Text, "IP address of the risky activity", "ipAddress / IpAddress";
        country: Text, "Country or region code", "location.countryOrRegion / Location.countryOrRegion";
        state: Text, "State", "location.state";
        city: Text, "City", "location.city";
        latitude: Float, "Latitude as reported (not trusted unless coordinates_valid)", "location.geoCoordinates.latitude";
        longitude: Float, "Longitude as reported (not trusted unless coordinates_valid)", "location.geoCoordinates.longitude";
        coordinates_valid: Bool, "True when latitude/longitude are present and plausible", "derived";
        request_id: Text, "Id of the sign-in request the detection is about", "requestId / RequestId";
        correlation_id: Text, "Correlation id of the sign-in", "correlationId / CorrelationId";
        additional_info: Text, "Additional information, as JSON", "additionalInfo / AdditionalInfo";
        dialect: Text, "Export dialect the row was read from", "detected from content";
        source_file: Text, "File (and archive member) the row was read from", "ingest";
        raw: Text, "The original record as JSON", "the source record";
    }
}

table! {
    /// A Unified Audit Log record (Exchange, Entra and other workloads).
    MailboxActivity {
        record_id: Text, "Unique id of the audit record; the dedupe key", "AuditData.Id / Id / OfficeId / RecordId";
        time: Time, "When the operation happened (UTC)", "CreationTime / CreationDate / TimeGenerated";
        workload: Text, "Workload (Exchange, AzureActiveDirectory, SharePoint ...)", "Workload / OfficeWorkload";
        record_type: Text, "Record type, number or name", "RecordType";
        operation: Text, "Operation (New-InboxRule, Set-Mailbox, Send, MailItemsAccessed, UserLoggedIn, Consent to application ...)", "Operation / Operations";
        result_status: Text, "Result status", "ResultStatus";
        user_principal_name: Text, "Acting user, lower-cased (Microsoft 365 alerts: the user the alert is about)", "UserId / UserIds; alerts: Data.f3u / Data.eid";
        client_ip: Text, "Client IP address without port or brackets", "ClientIP / ClientIPAddress / Client_IPAddress / ActorIpAddress";
        user_agent: Text, "Client info or user agent (attacker-controlled text)", "ClientInfoString / UserAgent / ExtendedProperties[UserAgent]";
        logon_type: Text, "Mailbox logon type (Owner, Delegate, Admin)", "LogonType / Logon_Type";
        mailbox_owner_upn: Text, "Owner of the mailbox acted on, lower-cased", "MailboxOwnerUPN";
        session_id: Text, "Session id", "SessionId / AppAccessContext.AADSessionId";
        app_id: Text, "Application id", "AppId / AppAccessContext.ClientAppId";
        object_id: Text, "Object acted on (e.g. mailbox\\rule name)", "ObjectId / OfficeObjectId";
        parameters: Text, "Cmdlet parameters, as JSON", "Parameters";
        rule_name: Text, "Inbox rule name (attacker-controlled text)", "Parameters[Name] / OperationProperties[RuleName]";
        rule_actions: List, "Inbox rule actions present (MoveToFolder, DeleteMessage, ForwardTo, RedirectTo, ...)", "Parameters / OperationProperties[RuleActions]";
        rule_keywords: List, "Words the rule matches in subject or body", "Parameters[SubjectContainsWords, SubjectOrBodyContainsWords, BodyContainsWords]";
        move_to_folder: Text, "Folder the rule moves messages to", "Parameters[MoveToFolder]";
        forward_to: Text, "Forwarding / redirect destination(s), lower-cased", "Parameters[ForwardTo, ForwardAsAttachmentTo, RedirectTo, ForwardingSmtpAddress, ForwardingAddress]";
        subject: Text, "Subject of the item (Send and similar operations; attacker-controlled text)", "Item.Subject";
        item_count: Int, "Number of items touched (MailItemsAccessed)", "OperationCount / Folders[].FolderItems";
        dialect: Text, "Export dialect the row was read from", "detected from content";
        source_file: Text, "File (and archive member) the row was read from", "ingest";
        raw: Text, "The original record as JSON", "the source record";
    }
}

table! {
    /// A message trace entry: one message to one recipient.
    MessageTrace {
        record_id: Text, "Message trace id or network message id, with the recipient; the dedupe key", "MessageTraceId / network_message_id / message_id, and the recipient";
        time: Time, "When the message was received by Exchange (UTC)", "Received / origin_timestamp_utc";
        sender_address: Text, "Sender address, lower-cased", "SenderAddress / sender_address";
        recipient_address: Text, "Recipient address, lower-cased", "RecipientAddress / recipient_status (before ##)";
        status: Text, "Delivery status", "Status / recipient_status (after ##)";
        subject: Text, "Subject (attacker-controlled text)", "Subject / message_subject";
        message_id: Text, "Internet message id", "MessageId / message_id";
        network_message_id: Text, "Exchange network message id", "network_message_id";
        original_client_ip: Text, "IP of the client that submitted the message", "FromIP / original_client_ip";
        to_ip: Text, "IP the message was delivered to", "ToIP";
        directionality: Text, "Originating or Incoming", "directionality";
        size_bytes: Int, "Message size in bytes", "Size / total_bytes";
        connector_id: Text, "Connector", "connector_id";
        dialect: Text, "Export dialect the row was read from", "detected from content";
        source_file: Text, "File (and archive member) the row was read from", "ingest";
        raw: Text, "The original record as JSON", "the source record";
    }
}

table! {
    /// A sign-in by a workload identity: a service principal or a managed identity.
    ServicePrincipalSignIn {
        record_id: Text, "Unique id of the sign-in request; the dedupe key", "id / Id";
        time: Time, "When the sign-in happened (UTC)", "createdDateTime / CreatedDateTime / TimeGenerated / time";
        identity_type: Text, "servicePrincipal or managedIdentity", "signInEventTypes; diagnostic category ServicePrincipalSignInLogs / ManagedIdentitySignInLogs; Log Analytics Type AADServicePrincipalSignInLogs / AADManagedIdentitySignInLogs";
        service_principal_id: Text, "Object id of the service principal that signed in", "servicePrincipalId / ServicePrincipalId";
        service_principal_name: Text, "Name of the service principal (attacker-controlled text: app names are chosen by their owner)", "servicePrincipalName / ServicePrincipalName";
        app_id: Text, "Application (client) id", "appId / AppId";
        app_display_name: Text, "Application name, when logged", "appDisplayName / AppDisplayName";
        credential_type: Text, "How the workload proved itself: clientSecret, clientAssertion (certificate), federatedIdentityCredential, managedIdentity ...", "clientCredentialType / ClientCredentialType";
        credential_key_id: Text, "Key id of the secret or certificate used: tells a newly added credential from the usual one", "servicePrincipalCredentialKeyId / ServicePrincipalCredentialKeyId";
        credential_thumbprint: Text, "Thumbprint of the certificate used", "servicePrincipalCredentialThumbprint / ServicePrincipalCredentialThumbprint";
        federated_credential_id: Text, "Federated identity credential used, if any", "federatedCredentialId / FederatedCredentialId";
        managed_identity_type: Text, "systemAssigned or userAssigned (managed identities)", "managedServiceIdentity.msiType";
        managed_identity_resource_id: Text, "Azure resource the managed identity belongs to", "managedServiceIdentity.associatedResourceId";
        resource_display_name: Text, "Resource the token is for", "resourceDisplayName / ResourceDisplayName";
        resource_id: Text, "Resource id (app id of the resource)", "resourceId / ResourceIdentity";
        resource_service_principal_id: Text, "Object id of the resource's service principal", "resourceServicePrincipalId / ResourceServicePrincipalId";
        ip_address: Text, "Client IP address (managed identities sign in from inside Azure and often have none)", "ipAddress / IPAddress";
        country: Text, "Two-letter country or region code of the IP, as Entra reported it", "location.countryOrRegion / LocationDetails.countryOrRegion";
        state: Text, "State or province, as Entra reported it", "location.state / LocationDetails.state";
        city: Text, "City, as Entra reported it", "location.city / LocationDetails.city";
        latitude: Float, "Latitude as reported (not trusted unless coordinates_valid)", "location.geoCoordinates.latitude";
        longitude: Float, "Longitude as reported (not trusted unless coordinates_valid)", "location.geoCoordinates.longitude";
        coordinates_valid: Bool, "True when latitude/longitude are present and plausible", "derived from the coordinates";
        result_type: Int, "Error code: 0 is success (7000215 invalid secret, 7000222 expired secret, 700016 unknown app ...)", "status.errorCode / ResultType";
        failure_reason: Text, "Failure reason text", "status.failureReason / ResultDescription";
        conditional_access_status: Text, "success, failure, notApplied", "conditionalAccessStatus / ConditionalAccessStatus";
        correlation_id: Text, "Correlation id", "correlationId / CorrelationId";
        unique_token_identifier: Text, "Unique token identifier: joins the token to graph_activity.sign_in_activity_id", "uniqueTokenIdentifier / UniqueTokenIdentifier";
        risk_level_during_signin: Text, "Workload identity risk of the sign-in (none, low, medium, high)", "riskLevelDuringSignIn / RiskLevelDuringSignIn";
        risk_level_aggregated: Text, "Aggregated workload identity risk level", "riskLevelAggregated / RiskLevelAggregated";
        risk_state: Text, "Risk state (none, atRisk, confirmedCompromised, remediated, dismissed ...)", "riskState / RiskState";
        risk_detail: Text, "Risk detail", "riskDetail / RiskDetail";
        dialect: Text, "Export dialect the row was read from", "detected from content";
        source_file: Text, "File (and archive member) the row was read from", "ingest";
        raw: Text, "The original record as JSON", "the source record";
    }
}

table! {
    /// One request to Microsoft Graph, as the Graph activity log records it.
    GraphActivity {
        record_id: Text, "Request id; the dedupe key", "requestId / RequestId";
        time: Time, "When the request was received (UTC)", "TimeGenerated / timeGenerated / time";
        user_id: Text, "Object id of the user, for delegated requests (the log carries no user principal name)", "userId / UserId";
        service_principal_id: Text, "Object id of the service principal, for app-only requests", "servicePrincipalId / ServicePrincipalId";
        app_id: Text, "Application (client) id of the caller", "appId / AppId";
        ip_address: Text, "Client IP address", "ipAddress / IPAddress / callerIpAddress";
        user_agent: Text, "User agent (attacker-controlled text)", "userAgent / UserAgent";
        request_method: Text, "HTTP method (GET, POST, PATCH, DELETE ...)", "requestMethod / RequestMethod";
        request_uri: Text, "Requested URI (attacker-controlled text)", "requestUri / RequestUri";
        response_status_code: Int, "HTTP status of the response", "responseStatusCode / ResponseStatusCode / resultSignature";
        response_size_bytes: Int, "Size of the response in bytes", "responseSizeBytes / ResponseSizeBytes";
        duration_ms: Int, "Duration of the request in milliseconds", "durationMs / DurationMs";
        api_version: Text, "v1.0 or beta", "apiVersion / ApiVersion / operationVersion";
        sign_in_activity_id: Text, "The token's sign-in: equals signins.unique_token_identifier (or service_principal_signins') of the sign-in that issued it", "signInActivityId / SignInActivityId";
        session_id: Text, "Session id of the token", "sessionId / SessionId";
        device_id: Text, "Device id of the token", "deviceId / DeviceId";
        scopes: Text, "Delegated scopes in the token", "scopes / Scopes";
        roles: Text, "Application roles in the token", "roles / Roles";
        wids: Text, "Directory role template ids of the caller", "wids / Wids";
        token_issued_at: Time, "When the token was issued", "tokenIssuedAt / TokenIssuedAt";
        client_auth_method: Int, "How the client authenticated: 0 public client, 1 secret, 2 certificate", "clientAuthMethod / ClientAuthMethod";
        identity_provider: Text, "Identity provider that authenticated the token's subject", "identityProvider / IdentityProvider";
        operation_id: Text, "Batch id (the same for every request of a $batch)", "operationId / OperationId";
        location: Text, "Region that served the request", "location / Location";
        dialect: Text, "Export dialect the row was read from", "detected from content";
        source_file: Text, "File (and archive member) the row was read from", "ingest";
        raw: Text, "The original record as JSON", "the source record";
    }
}

table! {
    /// An Azure Resource Manager control-plane event from the Azure Activity log.
    AzureActivity {
        record_id: Text, "Event data id; the dedupe key", "eventDataId / EventDataId; else derived from the record";
        time: Time, "When the event happened (UTC)", "eventTimestamp / TimeGenerated / time";
        operation_name: Text, "Operation, as the resource provider names it, upper-cased as Log Analytics writes it (MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/WRITE ...): operation names are case-insensitive", "operationName.value / OperationNameValue / operationName";
        operation_display_name: Text, "Operation's localised name (Create role assignment ...)", "operationName.localizedValue / OperationName";
        category: Text, "Administrative, Security, Policy, ServiceHealth, ResourceHealth, Alert, Recommendation, Autoscale", "category.value / CategoryValue / category";
        status: Text, "Started, Accepted, Succeeded, Failed, Canceled (the REST API's words; Log Analytics' Start, Success, Failure ... are translated)", "status.value / ActivityStatusValue / resultType";
        sub_status: Text, "HTTP status text (Created, OK, Forbidden ...; the diagnostic export's Succeeded.Created gives Created)", "subStatus.value / ActivitySubstatusValue / resultSignature";
        caller: Text, "Who did it: a user principal name (lower-cased) or an object id", "caller / Caller / identity.claims";
        caller_ip: Text, "Caller's IP address", "httpRequest.clientIpAddress / CallerIpAddress / callerIpAddress";
        caller_app_id: Text, "Application id of the caller's token", "claims.appid / Claims.appid / identity.claims.appid";
        resource_id: Text, "Azure resource acted on (/subscriptions/.../providers/...), lower-cased: resource ids are case-insensitive and each dialect writes another case", "resourceId / ResourceId / _ResourceId";
        resource_provider: Text, "Resource provider, upper-cased (MICROSOFT.AUTHORIZATION, MICROSOFT.KEYVAULT ...)", "resourceProviderName.value / ResourceProviderValue; else the operation name's first part";
        resource_group: Text, "Resource group, lower-cased", "resourceGroupName / ResourceGroup; else the resource id";
        subscription_id: Text, "Subscription id", "subscriptionId / SubscriptionId; else the resource id";
        correlation_id: Text, "Correlation id shared by the events of one operation", "correlationId / CorrelationId";
        level: Text, "Informational, Warning, Error, Critical (the export's Information is Informational)", "level / Level";
        authorization_action: Text, "RBAC action that was authorised", "authorization.action / Authorization.action";
        authorization_scope: Text, "Scope of the authorisation", "authorization.scope / Authorization.scope";
        properties: Text, "Event properties (the role assignment's principal and role, the command run ...), as JSON", "properties / Properties / Properties_d";
        dialect: Text, "Export dialect the row was read from", "detected from content";
        source_file: Text, "File (and archive member) the row was read from", "ingest";
        raw: Text, "The original record as JSON", "the source record";
    }
}

table! {
    /// A PIM security alert, or one of its incidents.
    PimAlert {
        record_id: Text, "Alert id, with the incident id after a slash for an incident; the dedupe key", "id (alert) / id (incident)";
        time: Time, "When the alert last changed (incidents listed alone: the latest date they carry)", "lastModifiedDateTime / lastScannedDateTime; incidents: sequenceEndDateTime / lastActivationDateTime / lastSignInDateTime / assignmentCreatedDateTime";
        record_kind: Text, "incident, or alert for an alert with no incident listed", "detected from content";
        incident_type: Text, "The incident's type: noMfaOnRoleActivationAlertIncident, staleSignInAlertIncident, tooManyGlobalAdminsAssignedToTenantAlertIncident, rolesAssignedOutsidePrivilegedIdentityManagementAlertIncident ...", "alertIncidents[].@odata.type without its namespace";
        alert_id: Text, "Id of the alert", "id";
        alert_definition_id: Text, "Which alert (DirectoryRole_{tenant}_NoMfaOnRoleActivationAlert ...)", "alertDefinitionId";
        scope_id: Text, "Scope of the alert (/ for the tenant)", "scopeId";
        scope_type: Text, "DirectoryRole", "scopeType";
        is_active: Bool, "Whether the alert is active", "isActive";
        incident_count: Int, "How many incidents the alert has", "incidentCount";
        user_principal_name: Text, "The assignee the incident is about, lower-cased", "assigneeUserPrincipalName";
        assignee_id: Text, "Object id of the assignee", "assigneeId";
        assignee_display_name: Text, "Display name of the assignee", "assigneeDisplayName";
        role_display_name: Text, "The directory role", "roleDisplayName";
        role_template_id: Text, "The directory role's template id", "roleTemplateId";
        details: Text, "The incident as JSON (its own fields: activation count, last sign-in ...)", "alertIncidents[]";
        dialect: Text, "Export dialect the row was read from", "detected from content";
        source_file: Text, "File (and archive member) the row was read from", "ingest";
        raw: Text, "The original record as JSON", "the source record";
    }
}

table! {
    /// A user of the directory, as a directory export lists it.
    DirectoryUser {
        record_id: Text, "Object id of the user; the dedupe key (the first export of a user is kept)", "id / objectId / Id";
        time: Time, "When the account was created (empty when the export does not say)", "createdDateTime";
        user_principal_name: Text, "User principal name, lower-cased", "userPrincipalName";
        display_name: Text, "Display name (attacker-controlled text)", "displayName";
        user_type: Text, "Member or Guest", "userType";
        account_enabled: Bool, "Whether the account can sign in", "accountEnabled";
        department: Text, "Department", "department";
        job_title: Text, "Job title", "jobTitle";
        company_name: Text, "Company", "companyName";
        office_location: Text, "Office", "officeLocation / physicalDeliveryOfficeName";
        city: Text, "City", "city";
        country: Text, "Country, else the usage location", "country / usageLocation";
        manager_id: Text, "Object id of the manager", "manager.id (with $expand=manager)";
        manager_upn: Text, "Manager's user principal name, lower-cased", "manager.userPrincipalName";
        dialect: Text, "Export dialect the row was read from", "detected from content";
        source_file: Text, "File (and archive member) the row was read from", "ingest";
        raw: Text, "The original record as JSON", "the source record";
    }
}

/// A normalised record of any table.
#[derive(Debug, Clone, PartialEq)]
#[expect(clippy::large_enum_variant, reason = "sign-ins are most records; boxing them would cost an allocation each")]
pub enum Record {
    SignIn(SignIn),
    Audit(Audit),
    RiskDetection(RiskDetection),
    MailboxActivity(MailboxActivity),
    MessageTrace(MessageTrace),
    ServicePrincipalSignIn(ServicePrincipalSignIn),
    GraphActivity(GraphActivity),
    AzureActivity(AzureActivity),
    PimAlert(PimAlert),
    DirectoryUser(DirectoryUser),
}

/// Applies `$body` to the record inside any variant.
macro_rules! each {
    ($record:expr, $r:ident => $body:expr) => {
        match $record {
            Record::SignIn($r) => $body,
            Record::Audit($r) => $body,
            Record::RiskDetection($r) => $body,
            Record::MailboxActivity($r) => $body,
            Record::MessageTrace($r) => $body,
            Record::ServicePrincipalSignIn($r) => $body,
            Record::GraphActivity($r) => $body,
            Record::AzureActivity($r) => $body,
            Record::PimAlert($r) => $body,
            Record::DirectoryUser($r) => $body,
        }
    };
}

impl Record {
    pub fn table(&self) -> Table {
        match self {
            Record::SignIn(_) => Table::SignIns,
            Record::Audit(_) => Table::Audits,
            Record::RiskDetection(_) => Table::RiskDetections,
            Record::MailboxActivity(_) => Table::MailboxActivity,
            Record::MessageTrace(_) => Table::MessageTrace,
            Record::ServicePrincipalSignIn(_) => Table::ServicePrincipalSignIns,
            Record::GraphActivity(_) => Table::GraphActivity,
            Record::AzureActivity(_) => Table::AzureActivity,
            Record::PimAlert(_) => Table::PimAlerts,
            Record::DirectoryUser(_) => Table::DirectoryUsers,
        }
    }

    pub fn cells(&self) -> Vec<Cell<'_>> {
        each!(self, r => r.cells())
    }

    /// The dedupe key. Every normaliser sets it; records without one are rejected.
    pub fn record_id(&self) -> &str {
        each!(self, r => r.record_id.as_deref().unwrap_or_default())
    }

    pub fn time(&self) -> Option<DateTime<Utc>> {
        each!(self, r => r.time)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_starts_with_record_id_and_time_and_ends_with_provenance() {
        for table in Table::ALL {
            let names: Vec<_> = table.columns().iter().map(|c| c.name).collect();
            assert_eq!(&names[..2], ["record_id", "time"], "{table}");
            assert_eq!(&names[names.len() - 3..], ["dialect", "source_file", "raw"], "{table}");
            assert!(table.columns().iter().all(|c| !c.meaning.is_empty() && !c.sources.is_empty()));
        }
    }

    #[test]
    fn cells_follow_column_order() {
        let s = SignIn { record_id: Some("x".into()), result_type: Some(50126), ..Default::default() };
        let cells = s.cells();
        assert_eq!(cells.len(), SignIn::COLUMNS.len());
        let i = SignIn::COLUMNS.iter().position(|c| c.name == "result_type").unwrap();
        assert_eq!(cells[i], Cell::Int(Some(50126)));
    }
}
