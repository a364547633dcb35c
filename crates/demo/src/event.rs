//! The demo's events, built as Microsoft Graph objects (beta signIn, directoryAudit,
//! riskDetection, riskyUser), Unified Audit Log AuditData objects and message trace rows. The
//! writers turn them into the other dialects.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::tenant::{Device, Network, Place, User};

pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// An application (client) or resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct App {
    pub name: &'static str,
    pub id: &'static str,
}

pub const TEAMS: App = App { name: "Microsoft Teams", id: "1fec8e78-bce4-4aaf-ab1b-5451cc387264" };
pub const EXCHANGE: App = App { name: "Office 365 Exchange Online", id: "00000002-0000-0ff1-ce00-000000000000" };
pub const OFFICE: App = App { name: "Microsoft Office", id: "d3590ed6-52b3-4102-aeff-aad2292ab01c" };
pub const OFFICE_HOME: App = App { name: "OfficeHome", id: "4765445b-32c6-49b0-83e6-1d93765276ca" };
pub const SHAREPOINT: App = App { name: "Office 365 SharePoint Online", id: "00000003-0000-0ff1-ce00-000000000000" };
pub const BROKER: App = App { name: "Microsoft Authentication Broker", id: "29d9ed98-a469-4536-ade2-f981bc1d605e" };
pub const OUTLOOK_MOBILE: App = App { name: "Outlook Mobile", id: "27922004-5251-4030-b22d-91ecd9a37ea4" };
pub const AZURE_PORTAL: App = App { name: "Azure Portal", id: "c44b4083-3bb0-49c1-b47d-974e53cbdf3c" };
pub const MY_SIGNINS: App = App { name: "My Signins", id: "19db86c3-b2b9-44cc-b339-36da233a3be2" };
pub const GRAPH: App = App { name: "Microsoft Graph", id: "00000003-0000-0000-c000-000000000000" };
pub const EXCHANGE_MICROSERVICES: App =
    App { name: "Office 365 Exchange Microservices", id: "6448b2a7-2b0a-4e7b-8b32-a1b4a62a2f6e" };
pub const AUGMENTATION_LOOP: App = App { name: "Augmentation Loop", id: "4354e225-50c9-4423-9ece-2d5afd904870" };
pub const CX_PORTAL: App = App { name: "Northwind CX Portal", id: "5d6c2a61-8a3e-4b0e-9d3c-2f5e7b1a9c40" };
pub const REPORTING: App = App { name: "Northwind Reporting Connector", id: "8a1f3c2e-6b4d-4e9a-a7c5-1d2e3f4a5b6c" };

/// Conditional Access policies of the demo tenant.
pub const CA_MFA: (&str, &str) = ("1a2b3c4d-0001-4000-8000-000000000001", "Require MFA for all users");
pub const CA_LEGACY: (&str, &str) = ("1a2b3c4d-0002-4000-8000-000000000002", "Block legacy authentication");
pub const CA_RISK: (&str, &str) = ("1a2b3c4d-0003-4000-8000-000000000003", "Block high-risk sign-ins");
pub const CA_ADMIN_DEVICE: (&str, &str) =
    ("1a2b3c4d-0004-4000-8000-000000000004", "Require compliant device for admin portals");

pub const INVALID_PASSWORD: &str = "Error validating credentials due to invalid username or password.";

/// One authentication step.
#[derive(Debug, Clone)]
pub struct Step {
    pub method: &'static str,
    pub detail: Option<&'static str>,
    pub succeeded: bool,
    pub result: &'static str,
    pub requirement: &'static str,
}

pub fn password_step(succeeded: bool) -> Step {
    Step {
        method: "Password",
        detail: Some("Password in the cloud"),
        succeeded,
        result: if succeeded {
            "Correct password"
        } else {
            "Invalid username or password or Invalid on-premise username or password."
        },
        requirement: "Primary authentication",
    }
}

pub fn push_step(succeeded: bool, result: &'static str) -> Step {
    Step {
        method: "Mobile app notification",
        detail: None,
        succeeded,
        result,
        requirement: "Multi-factor authentication",
    }
}

pub fn token_step(requirement: &'static str) -> Step {
    Step {
        method: "Previously satisfied",
        detail: None,
        succeeded: true,
        result: if requirement == "Primary authentication" {
            "First factor requirement satisfied by claim in the token"
        } else {
            "MFA requirement satisfied by claim in the token"
        },
        requirement,
    }
}

/// A sign-in, interactive or not.
#[derive(Debug, Clone)]
pub struct SignIn {
    pub id: String,
    pub time: DateTime<Utc>,
    pub user_id: String,
    pub upn: String,
    pub display_name: String,
    pub interactive: bool,
    pub ip: String,
    pub place: Place,
    pub asn: i64,
    pub app: App,
    pub resource: App,
    pub client_app: &'static str,
    pub user_agent: String,
    pub error_code: i64,
    pub failure_reason: Option<&'static str>,
    pub additional: Option<&'static str>,
    pub multifactor: bool,
    pub steps: Vec<Step>,
    pub mfa: Option<(&'static str, String)>,
    /// Policies and their result (success, failure, notApplied, reportOnlyFailure ...).
    pub policies: Vec<((&'static str, &'static str), &'static str)>,
    pub device: Option<Device>,
    pub compliant: bool,
    pub risk: Option<(&'static str, &'static str, Vec<&'static str>)>,
    pub correlation_id: String,
    pub session_id: String,
    pub token_type: &'static str,
}

impl SignIn {
    /// A successful sign-in of `user` at a place, with every field at its everyday value.
    pub fn new(id: String, user: &User, time: DateTime<Utc>, ip: String, place: Place, network: &Network) -> SignIn {
        SignIn {
            correlation_id: id.clone(),
            session_id: String::new(),
            id,
            time,
            user_id: user.id.clone(),
            upn: user.upn.clone(),
            display_name: user.display_name.clone(),
            interactive: true,
            ip,
            place,
            asn: network.asn,
            app: OFFICE_HOME,
            resource: OFFICE_HOME,
            client_app: "Browser",
            user_agent: user.laptop.user_agent.to_string(),
            error_code: 0,
            failure_reason: None,
            additional: None,
            multifactor: true,
            steps: vec![token_step("Primary authentication"), token_step("Multi-factor authentication")],
            mfa: None,
            policies: vec![
                (CA_MFA, "success"),
                (CA_LEGACY, "notApplied"),
                (CA_RISK, "notApplied"),
                (CA_ADMIN_DEVICE, "notApplied"),
            ],
            device: Some(user.laptop.clone()),
            compliant: true,
            risk: None,
            token_type: "primaryRefreshToken",
        }
    }

    /// The sign-in failed on the password (50126).
    pub fn wrong_password(mut self) -> SignIn {
        self.steps = vec![password_step(false)];
        self.fail(50126, INVALID_PASSWORD)
    }

    pub fn fail(mut self, code: i64, reason: &'static str) -> SignIn {
        self.error_code = code;
        self.failure_reason = Some(reason);
        self
    }

    pub fn graph(&self) -> Value {
        let ca_status = if self.policies.iter().any(|(_, r)| *r == "failure") {
            "failure"
        } else if self.policies.iter().any(|(_, r)| *r == "success") {
            "success"
        } else {
            "notApplied"
        };
        let (risk_level, risk_state, risk_types) = match &self.risk {
            Some((level, state, types)) => (*level, *state, types.clone()),
            None => ("none", "none", Vec::new()),
        };
        let device = self.device.as_ref();
        json!({
            "id": self.id,
            "createdDateTime": iso(self.time),
            "userDisplayName": self.display_name,
            "userPrincipalName": self.upn,
            "userId": self.user_id,
            "userType": "member",
            "appId": self.app.id,
            "appDisplayName": self.app.name,
            "ipAddress": self.ip,
            "autonomousSystemNumber": self.asn,
            "clientAppUsed": self.client_app,
            "userAgent": self.user_agent,
            "correlationId": self.correlation_id,
            "sessionId": self.session_id,
            "uniqueTokenIdentifier": format!("{}-utk", &self.id[..8]),
            "conditionalAccessStatus": ca_status,
            "isInteractive": self.interactive,
            "signInEventTypes": [if self.interactive { "interactiveUser" } else { "nonInteractiveUser" }],
            "authenticationProtocol": "none",
            "incomingTokenType": if self.interactive { "none" } else { self.token_type },
            "tokenIssuerType": "AzureAD",
            "riskDetail": "none",
            "riskLevelAggregated": risk_level,
            "riskLevelDuringSignIn": risk_level,
            "riskState": risk_state,
            "riskEventTypes_v2": risk_types,
            "resourceDisplayName": self.resource.name,
            "resourceId": self.resource.id,
            "authenticationRequirement": if self.multifactor { "multiFactorAuthentication" } else { "singleFactorAuthentication" },
            "status": {
                "errorCode": self.error_code,
                "failureReason": self.failure_reason.unwrap_or(if self.error_code == 0 { "Other." } else { "" }),
                "additionalDetails": self.additional,
            },
            "deviceDetail": {
                "deviceId": device.map_or(String::new(), |d| d.id.clone()),
                "displayName": device.map_or(String::new(), |d| d.name.clone()),
                "operatingSystem": device.map_or("", |d| d.os),
                "browser": device.map_or("", |d| d.browser),
                "isCompliant": device.is_some() && self.compliant && device.is_some_and(|d| d.managed),
                "isManaged": device.is_some_and(|d| d.managed),
                "trustType": device.map_or("", |d| d.trust_type),
            },
            "location": {
                "city": self.place.city,
                "state": self.place.state,
                "countryOrRegion": self.place.country,
                "geoCoordinates": { "altitude": null, "latitude": self.place.latitude, "longitude": self.place.longitude },
            },
            "mfaDetail": self.mfa.as_ref().map(|(m, d)| json!({"authMethod": m, "authDetail": d})),
            "appliedConditionalAccessPolicies": self.policies.iter().map(|((id, name), result)| json!({
                "id": id, "displayName": name, "enforcedGrantControls": [], "enforcedSessionControls": [], "result": result,
            })).collect::<Vec<_>>(),
            "authenticationDetails": self.steps.iter().enumerate().map(|(i, s)| json!({
                "authenticationStepDateTime": iso(self.time + chrono::Duration::seconds(i as i64)),
                "authenticationMethod": s.method,
                "authenticationMethodDetail": s.detail,
                "succeeded": s.succeeded,
                "authenticationStepResultDetail": s.result,
                "authenticationStepRequirement": s.requirement,
            })).collect::<Vec<_>>(),
        })
    }
}

/// Who initiated an audited activity.
#[derive(Debug, Clone)]
pub enum Initiator {
    User {
        id: String,
        upn: String,
        ip: Option<String>,
    },
    /// A service principal acting for the directory (device registration, directory sync).
    App {
        id: &'static str,
        name: &'static str,
    },
}

/// A target of an audited activity, with its modified properties (name, old, new).
#[derive(Debug, Clone)]
pub struct Target {
    pub id: String,
    pub display_name: String,
    pub kind: &'static str,
    pub upn: Option<String>,
    pub properties: Vec<(&'static str, String, String)>,
}

impl Target {
    pub fn user(user: &User) -> Target {
        Target {
            id: user.id.clone(),
            display_name: user.display_name.clone(),
            kind: "User",
            upn: Some(user.upn.clone()),
            properties: Vec::new(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Audit {
    pub id: String,
    pub time: DateTime<Utc>,
    pub category: &'static str,
    pub activity: &'static str,
    pub service: &'static str,
    pub operation_type: &'static str,
    pub success: bool,
    pub reason: String,
    pub correlation_id: String,
    pub initiator: Initiator,
    pub targets: Vec<Target>,
    pub details: Vec<(&'static str, String)>,
}

impl Audit {
    /// A successful Core Directory update of `targets`; set other fields with `..`.
    pub fn update(
        time: DateTime<Utc>,
        category: &'static str,
        activity: &'static str,
        initiator: Initiator,
        targets: Vec<Target>,
    ) -> Audit {
        Audit {
            id: String::new(),
            time,
            category,
            activity,
            service: "Core Directory",
            operation_type: "Update",
            success: true,
            reason: String::new(),
            correlation_id: String::new(),
            initiator,
            targets,
            details: Vec::new(),
        }
    }

    pub fn graph(&self) -> Value {
        let initiated = match &self.initiator {
            Initiator::User { id, upn, ip } => json!({
                "app": null,
                "user": { "id": id, "displayName": null, "userPrincipalName": upn, "ipAddress": ip },
            }),
            Initiator::App { id, name } => json!({
                "app": { "appId": id, "displayName": name, "servicePrincipalId": null, "servicePrincipalName": null },
                "user": null,
            }),
        };
        json!({
            "id": self.id,
            "category": self.category,
            "correlationId": self.correlation_id,
            "result": if self.success { "success" } else { "failure" },
            "resultReason": self.reason,
            "activityDisplayName": self.activity,
            "activityDateTime": iso(self.time),
            "loggedByService": self.service,
            "operationType": self.operation_type,
            "initiatedBy": initiated,
            "targetResources": self.targets.iter().map(|t| json!({
                "id": t.id,
                "displayName": t.display_name,
                "type": t.kind,
                "userPrincipalName": t.upn,
                "groupType": null,
                "modifiedProperties": t.properties.iter().map(|(n, old, new)| json!({
                    "displayName": n, "oldValue": old, "newValue": new,
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "additionalDetails": self.details.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>(),
        })
    }
}

/// An Identity Protection risk detection.
#[derive(Debug, Clone)]
pub struct Risk {
    pub id: String,
    pub request_id: String,
    pub time: DateTime<Utc>,
    pub event_type: &'static str,
    pub level: &'static str,
    pub state: &'static str,
    pub timing: &'static str,
    pub ip: String,
    pub place: Place,
    pub user_id: String,
    pub upn: String,
    pub display_name: String,
}

impl Risk {
    pub fn graph(&self) -> Value {
        json!({
            "id": self.id,
            "requestId": self.request_id,
            "correlationId": self.request_id,
            "riskType": self.event_type,
            "riskEventType": self.event_type,
            "riskState": self.state,
            "riskLevel": self.level,
            "riskDetail": "none",
            "source": "IdentityProtection",
            "detectionTimingType": self.timing,
            "activity": "signin",
            "tokenIssuerType": "AzureAD",
            "ipAddress": self.ip,
            "activityDateTime": iso(self.time),
            "detectedDateTime": iso(self.time),
            "lastUpdatedDateTime": iso(self.time),
            "userId": self.user_id,
            "userDisplayName": self.display_name,
            "userPrincipalName": self.upn,
            "additionalInfo": "[{\"Key\":\"userAgent\",\"Value\":\"\"}]",
            "location": {
                "city": self.place.city,
                "state": self.place.state,
                "countryOrRegion": self.place.country,
                "geoCoordinates": { "latitude": self.place.latitude, "longitude": self.place.longitude },
            },
        })
    }
}

pub fn risky_user(user: &User, time: DateTime<Utc>, level: &str, state: &str, detail: &str) -> Value {
    json!({
        "id": user.id,
        "isDeleted": false,
        "isProcessing": false,
        "riskLastUpdatedDateTime": iso(time),
        "riskLevel": level,
        "riskState": state,
        "riskDetail": detail,
        "userDisplayName": user.display_name,
        "userPrincipalName": user.upn,
    })
}

/// Unified Audit Log: the AuditData of an Exchange or Entra operation.
pub struct Ual {
    pub id: String,
    pub time: DateTime<Utc>,
    pub record_type: i64,
    pub operation: &'static str,
    pub upn: String,
    pub client_ip: String,
    pub client_info: &'static str,
    pub session_id: String,
    pub extra: Value,
}

impl Ual {
    pub fn audit_data(&self) -> Value {
        let workload = if self.record_type == 15 { "AzureActiveDirectory" } else { "Exchange" };
        let mut v = json!({
            "CreationTime": self.time.format("%Y-%m-%dT%H:%M:%S").to_string(),
            "Id": self.id,
            "Operation": self.operation,
            "OrganizationId": "3c1e5a7d-9b2f-4d8e-a6c4-0f1e2d3c4b5a",
            "RecordType": self.record_type,
            "ResultStatus": if self.record_type == 1 { "True" } else { "Succeeded" },
            "UserKey": format!("1003{}", &self.id[..8].to_uppercase()),
            "UserType": 0,
            "Version": 1,
            "Workload": workload,
            "ClientIP": self.client_ip,
            "UserId": self.upn,
            "ClientInfoString": self.client_info,
            "SessionId": self.session_id,
        });
        if let (Value::Object(base), Value::Object(extra)) = (&mut v, &self.extra) {
            base.extend(extra.clone());
        }
        v
    }

    pub fn record_type_name(&self) -> &'static str {
        match self.record_type {
            1 => "ExchangeAdmin",
            2 => "ExchangeItem",
            15 => "AzureActiveDirectoryStsLogon",
            50 => "ExchangeItemAggregated",
            _ => "Unknown",
        }
    }
}

/// A message trace row in the historical search layout (seed 003).
pub struct Trace {
    pub time: DateTime<Utc>,
    pub sender: String,
    pub recipients: Vec<String>,
    pub subject: String,
    pub bytes: i64,
    pub message_id: String,
    pub network_message_id: String,
    pub client_ip: String,
}
