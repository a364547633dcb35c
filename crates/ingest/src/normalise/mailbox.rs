//! Unified Audit Log records: Purview CSV (`AuditData` column), the AuditData JSON itself (as
//! collection tools write it), and Log Analytics OfficeActivity.

use super::{Dialect, Origin, Outcome, derived_id, json_text, outcome};
use crate::fields::{Fields, normalise_ip, pair_value};
use crate::schema::{MailboxActivity, Record};
use crate::value::Value;

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
    let operation = f.text(&["Operation", "Operations", "operation"]);
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
                .filter_map(|folder| folder.as_object().and_then(|f| f.get("FolderItems")).and_then(Value::as_array))
                .map(|items| items.len() as i64)
                .sum()
        })
    });

    Ok(MailboxActivity {
        record_id: Some(
            f.text(&["Id", "OfficeId", "RecordId", "Identity", "id"]).unwrap_or_else(|| derived_id(origin.raw)),
        ),
        time: f.time(&["CreationTime", "TimeGenerated", "CreationDate", "createdDateTime"]),
        workload: f.text(&["Workload", "OfficeWorkload", "service"]),
        record_type: f.text(&["RecordType", "auditLogRecordType"]),
        operation,
        result_status: f.text(&["ResultStatus"]),
        user_principal_name: alert_user(f).or_else(|| f.lower(&["UserId", "UserIds", "userPrincipalName", "userId"])),
        client_ip: f
            .text(&["ClientIP", "ClientIPAddress", "ClientIp", "Client_IPAddress", "ActorIpAddress", "clientIp"])
            .and_then(|ip| normalise_ip(&ip)),
        user_agent: f.text(&["ClientInfoString", "UserAgent"]).or_else(|| pair_value(extended, "UserAgent")),
        logon_type: f.text(&["LogonType", "Logon_Type"]),
        mailbox_owner_upn: f.lower(&["MailboxOwnerUPN"]),
        session_id: f.text(&["SessionId"]).or_else(|| context.and_then(|c| c.text(&["AADSessionId"]))),
        app_id: f.text(&["AppId"]).or_else(|| context.and_then(|c| c.text(&["ClientAppId"]))),
        object_id: f.text(&["ObjectId", "OfficeObjectId", "objectId"]),
        parameters: (!params.is_empty()).then(|| json_text(params)),
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

/// A Microsoft 365 alert names `SecurityComplianceAlerts` as its user; the user it is about is
/// in its `Data` (`f3u`, or `eid` when the entity is a user).
fn alert_user(f: Fields) -> Option<String> {
    let user = f.text(&["UserId", "userId"])?;
    if !user.eq_ignore_ascii_case("SecurityComplianceAlerts") {
        return None;
    }
    let data = f.object(&["Data"])?;
    let entity_is_user = data.text(&["etype"]).is_some_and(|t| t.eq_ignore_ascii_case("User"));
    data.lower(&["f3u"]).or_else(|| entity_is_user.then(|| data.lower(&["eid"])).flatten())
}

#[cfg(test)]
mod tests {
    use crate::normalise::{Outcome, normalise};
    use crate::schema::Record;

    fn read(json: &str) -> crate::schema::MailboxActivity {
        let object = serde_json::from_str(json).unwrap();
        match normalise(object, "test", json) {
            Outcome::Records(mut r) => match r.remove(0) {
                Record::MailboxActivity(m) => m,
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn entra_workload_records_in_the_unified_audit_log() {
        // UserLoggedIn (RecordType 15, AzureActiveDirectoryStsLogon): the agent is in
        // ExtendedProperties, the IP has no port.
        let login = read(
            r#"{"CreationTime":"2024-09-26T18:03:36","Id":"8f0c0d3e-1a2b-4c5d-9e8f-000000000001","Operation":"UserLoggedIn",
                "OrganizationId":"o","RecordType":15,"ResultStatus":"Success","UserKey":"k","UserType":0,"Version":1,
                "Workload":"AzureActiveDirectory","ClientIP":"89.187.164.135","ObjectId":"00000003-0000-0000-c000-000000000000",
                "UserId":"Jac@Contoso.example","AzureActiveDirectoryEventType":1,
                "ExtendedProperties":[{"Name":"ResultStatusDetail","Value":"Success"},
                                      {"Name":"UserAgent","Value":"node-fetch/1.0 (+https://github.com/bitinn/node-fetch)"},
                                      {"Name":"RequestType","Value":"OAuth2:Token"}]}"#,
        );
        assert_eq!(login.operation.as_deref(), Some("UserLoggedIn"));
        assert_eq!(login.user_principal_name.as_deref(), Some("jac@contoso.example"));
        assert_eq!(login.client_ip.as_deref(), Some("89.187.164.135"));
        assert_eq!(login.user_agent.as_deref(), Some("node-fetch/1.0 (+https://github.com/bitinn/node-fetch)"));
        assert_eq!(login.time.unwrap().to_rfc3339(), "2024-09-26T18:03:36+00:00");
        assert_eq!(login.rule_name, None);

        // Consent to application, and mailbox forwarding set by Set-Mailbox.
        let consent = read(
            r#"{"CreationTime":"2024-10-03T16:30:00","Id":"c1","Operation":"Consent to application.","RecordType":8,
                "Workload":"AzureActiveDirectory","UserId":"jac@contoso.example","ObjectId":"Mail Sync Pro",
                "ModifiedProperties":[{"Name":"ConsentAction.Permissions","NewValue":"Scope: Mail.Read offline_access","OldValue":""}]}"#,
        );
        assert_eq!(consent.operation.as_deref(), Some("Consent to application."));
        assert_eq!(consent.object_id.as_deref(), Some("Mail Sync Pro"));
        let forwarding = read(
            r#"{"CreationTime":"2024-10-03T16:31:00","Id":"f1","Operation":"Set-Mailbox","RecordType":1,"Workload":"Exchange",
                "UserId":"jac@contoso.example","ClientIP":"[2001:db8::7]:4432",
                "Parameters":[{"Name":"Identity","Value":"jac@contoso.example"},
                              {"Name":"ForwardingSmtpAddress","Value":"smtp:Payments@Evil.example"},
                              {"Name":"DeliverToMailboxAndForward","Value":"True"}]}"#,
        );
        assert_eq!(forwarding.forward_to.as_deref(), Some("payments@evil.example"));
        assert_eq!(forwarding.client_ip.as_deref(), Some("2001:db8::7"));
        assert!(forwarding.rule_actions.is_empty());
    }

    #[test]
    fn graph_audit_records_read_with_their_audit_data_as_text_or_without_it() {
        let text = read(
            r#"{"id":"a1","createdDateTime":"2025-03-01T04:00:00Z","auditLogRecordType":"exchangeItem","operation":"MailItemsAccessed",
                "service":"Exchange","userPrincipalName":"Jo@Contoso.example","clientIp":"81.2.69.142",
                "auditData":"{\"Id\":\"a1\",\"CreationTime\":\"2025-03-01T04:00:00\",\"Operation\":\"MailItemsAccessed\",\"ClientIPAddress\":\"81.2.69.142\",\"LogonType\":0}"}"#,
        );
        assert_eq!(text.record_id.as_deref(), Some("a1"));
        assert_eq!(text.logon_type.as_deref(), Some("0"), "read from the auditData text");
        let bare = read(
            r#"{"id":"b2","createdDateTime":"2025-03-01T05:00:00Z","auditLogRecordType":"exchangeAdmin","operation":"New-InboxRule",
                "service":"Exchange","userPrincipalName":"Jo@Contoso.example","clientIp":"81.2.69.142"}"#,
        );
        assert_eq!(bare.record_id.as_deref(), Some("b2"));
        assert_eq!(bare.operation.as_deref(), Some("New-InboxRule"));
        assert_eq!(bare.user_principal_name.as_deref(), Some("jo@contoso.example"));
        assert_eq!(bare.client_ip.as_deref(), Some("81.2.69.142"));
        assert_eq!(bare.time.unwrap().to_rfc3339(), "2025-03-01T05:00:00+00:00");
        assert_eq!(bare.workload.as_deref(), Some("Exchange"));
    }
}
