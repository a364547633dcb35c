//! Unified Audit Log records: Purview CSV (`AuditData` column), the AuditData JSON itself (as
//! collection tools write it), and Log Analytics OfficeActivity.

use serde_json::Value;

use super::{Dialect, Origin, Outcome, derived_id, outcome};
use crate::fields::{Fields, normalise_ip, pair_value};
use crate::schema::{MailboxActivity, Record};

/// Inbox-rule parameters that act on a message.
const RULE_ACTIONS: [&str; 10] = [
    "MoveToFolder",
    "CopyToFolder",
    "DeleteMessage",
    "SoftDeleteMessage",
    "ForwardTo",
    "ForwardAsAttachmentTo",
    "RedirectTo",
    "MarkAsRead",
    "MarkImportance",
    "StopProcessingRules",
];
const RULE_KEYWORDS: [&str; 4] =
    ["SubjectContainsWords", "SubjectOrBodyContainsWords", "BodyContainsWords", "FromAddressContainsWords"];
const FORWARDING: [&str; 5] =
    ["ForwardTo", "ForwardAsAttachmentTo", "RedirectTo", "ForwardingSmtpAddress", "ForwardingAddress"];

pub(super) fn normalise(f: Fields, dialect: Dialect, origin: &Origin) -> Outcome {
    outcome(read(f, dialect, origin).map(Record::MailboxActivity))
}

fn read(f: Fields, dialect: Dialect, origin: &Origin) -> Result<MailboxActivity, String> {
    let params = f.array(&["Parameters"]).unwrap_or_default();
    let properties = f.array(&["OperationProperties"]).unwrap_or_default();
    let extended = f.array(&["ExtendedProperties"]).unwrap_or_default();
    let context = f.object(&["AppAccessContext"]);
    let operation = f.text(&["Operation", "Operations"]);
    let is_rule = operation.as_deref().is_some_and(|o| o.to_ascii_lowercase().contains("inboxrule"));

    let enabled = |name: &str| pair_value(params, name).filter(|v| !v.eq_ignore_ascii_case("false"));
    let rule_actions: Vec<String> =
        RULE_ACTIONS.iter().filter(|a| enabled(a).is_some()).map(|a| a.to_string()).collect();
    let rule_keywords = RULE_KEYWORDS
        .iter()
        .filter_map(|k| pair_value(params, k))
        .flat_map(|v| {
            v.split([';', ',']).map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect::<Vec<_>>()
        })
        .collect();
    let forward_to: Vec<String> = FORWARDING
        .iter()
        .filter_map(|k| pair_value(params, k))
        .map(|v| v.trim_start_matches("smtp:").trim_start_matches("SMTP:").to_lowercase())
        .collect();

    let item_count = f.int(&["OperationCount"]).or_else(|| {
        f.array(&["Folders"]).map(|folders| {
            folders
                .iter()
                .filter_map(|folder| folder.get("FolderItems").and_then(Value::as_array))
                .map(|items| items.len() as i64)
                .sum()
        })
    });

    Ok(MailboxActivity {
        record_id: Some(f.text(&["Id", "OfficeId", "RecordId", "Identity"]).unwrap_or_else(|| derived_id(origin.raw))),
        time: f.time(&["CreationTime", "TimeGenerated", "CreationDate"]),
        workload: f.text(&["Workload", "OfficeWorkload"]),
        record_type: f.text(&["RecordType"]),
        operation,
        result_status: f.text(&["ResultStatus"]),
        user_principal_name: f.lower(&["UserId", "UserIds"]),
        client_ip: f
            .text(&["ClientIP", "ClientIPAddress", "ClientIp", "Client_IPAddress", "ActorIpAddress"])
            .and_then(|ip| normalise_ip(&ip)),
        user_agent: f.text(&["ClientInfoString", "UserAgent"]).or_else(|| pair_value(extended, "UserAgent")),
        logon_type: f.text(&["LogonType", "Logon_Type"]),
        mailbox_owner_upn: f.lower(&["MailboxOwnerUPN"]),
        session_id: f.text(&["SessionId"]).or_else(|| context.and_then(|c| c.text(&["AADSessionId"]))),
        app_id: f.text(&["AppId"]).or_else(|| context.and_then(|c| c.text(&["ClientAppId"]))),
        object_id: f.text(&["ObjectId", "OfficeObjectId"]),
        parameters: (!params.is_empty()).then(|| Value::Array(params.to_vec()).to_string()),
        rule_name: if is_rule {
            pair_value(params, "Name").or_else(|| pair_value(properties, "RuleName"))
        } else {
            None
        },
        rule_actions,
        rule_keywords,
        move_to_folder: pair_value(params, "MoveToFolder"),
        forward_to: (!forward_to.is_empty()).then(|| forward_to.join(";")),
        subject: f.object(&["Item"]).and_then(|i| i.text(&["Subject"])),
        item_count,
        dialect: Some(dialect.name().to_string()),
        source_file: Some(origin.source_file.to_string()),
        raw: Some(origin.raw.to_string()),
    })
}
