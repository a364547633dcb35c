//! Directory audits: Graph directoryAudit, diagnostic AuditLogs, Log Analytics AuditLogs and the
//! Entra portal's audit CSV (flattened `Actor*` / `Target1*` columns).

use super::{Dialect, Origin, Outcome, derived_id, json_text, outcome};
use crate::fields::{Fields, normalise_ip, pair_value};
use crate::schema::{Audit, Record};
use crate::value::{Map, Value};

pub(super) fn normalise(f: Fields, dialect: Dialect, origin: &Origin) -> Outcome {
    outcome(read(f, dialect, origin).map(Record::Audit))
}

fn read(f: Fields, dialect: Dialect, origin: &Origin) -> Result<Audit, String> {
    let initiator = f.object(&["initiatedBy", "InitiatedBy"]);
    let user = initiator.and_then(|i| i.object(&["user"]));
    let app = initiator.and_then(|i| i.object(&["app"]));
    let targets = match f.array(&["targetResources", "TargetResources"]) {
        Some(t) => t.to_vec(),
        None => portal_targets(f),
    };
    let target_fields: Vec<Fields> = targets.iter().filter_map(Value::as_object).map(Fields::nested).collect();
    let first = target_fields.first();
    let target_upn = target_fields.iter().find_map(|t| t.lower(&["userPrincipalName"]));

    let mut modified = Vec::new();
    let mut modified_property_names = Vec::new();
    for target in &target_fields {
        let owner = target.text(&["userPrincipalName", "displayName", "id"]);
        for property in target.array(&["modifiedProperties"]).unwrap_or_default() {
            let Some(p) = property.as_object().map(Fields::nested) else { continue };
            let name = p.text(&["displayName"]);
            modified_property_names.extend(name.clone());
            modified.push(object([
                ("target", owner.clone().into()),
                ("displayName", name.into()),
                ("oldValue", p.text(&["oldValue"]).into()),
                ("newValue", p.text(&["newValue"]).into()),
            ]));
        }
    }
    let additional = f.array(&["additionalDetails", "AdditionalDetails"]).unwrap_or_default();
    let initiated_by_upn =
        user.and_then(|u| u.lower(&["userPrincipalName"])).or_else(|| f.lower(&["ActorUserPrincipalName"]));

    Ok(Audit {
        record_id: Some(f.text(&["id", "Id", "ID", "ActivityId"]).unwrap_or_else(|| derived_id(origin.raw))),
        time: f.time(&["activityDateTime", "ActivityDateTime", "TimeGenerated", "Date (UTC)", "time"]),
        activity: f.text(&["activityDisplayName", "ActivityDisplayName", "OperationName", "operationName", "Activity"]),
        category: f.text(&["category", "Category"]),
        operation_type: f.text(&["operationType", "AADOperationType"]),
        result: f.lower(&["result", "Result"]),
        result_reason: f.text(&["resultReason", "ResultReason", "ResultDescription"]),
        logged_by_service: f.text(&["loggedByService", "LoggedByService", "Service"]),
        correlation_id: f.text(&["correlationId", "CorrelationId"]),
        user_principal_name: target_upn.clone().or_else(|| initiated_by_upn.clone()),
        initiated_by_upn,
        initiated_by_user_id: user.and_then(|u| u.text(&["id"])).or_else(|| f.text(&["ActorObjectId"])),
        initiated_by_ip: user
            .and_then(|u| u.text(&["ipAddress"]))
            .or_else(|| f.text(&["IPAddress", "InitiatingIpAddress"]))
            .and_then(|ip| normalise_ip(&ip)),
        initiated_by_app: app.and_then(|a| a.text(&["displayName", "servicePrincipalName"])).or_else(|| {
            (f.text(&["ActorType"]).as_deref() == Some("Application")).then(|| f.text(&["ActorDisplayName"])).flatten()
        }),
        target_upn,
        target_display_name: first.and_then(|t| t.text(&["displayName"])),
        target_id: first.and_then(|t| t.text(&["id"])),
        target_type: first.and_then(|t| t.text(&["type"])),
        modified_property_names,
        modified_properties: (!modified.is_empty()).then(|| Value::Array(modified).to_string()),
        targets: (!targets.is_empty()).then(|| json_text(&targets)),
        additional_details: (!additional.is_empty()).then(|| json_text(additional)),
        user_agent: pair_value(additional, "User-Agent").or_else(|| f.text(&["UserAgent"])),
        dialect: Some(dialect.name().to_string()),
        source_file: Some(origin.source_file.to_string()),
        raw: Some(origin.raw.to_string()),
    })
}

/// The portal CSV flattens targets into `Target1Type`, `Target1DisplayName`,
/// `Target1ModifiedProperty1Name` ... columns; rebuild Graph-shaped targets from them.
fn portal_targets(f: Fields) -> Vec<Value<'static>> {
    let mut targets = Vec::new();
    for t in 1..=10 {
        let col = |suffix: &str| f.text(&[&format!("Target{t}{suffix}")]);
        if col("Type").is_none() && col("DisplayName").is_none() && col("ObjectId").is_none() {
            break;
        }
        let mut properties = Vec::new();
        for p in 1..=50 {
            let Some(name) = col(&format!("ModifiedProperty{p}Name")) else { break };
            properties.push(object([
                ("displayName", Value::text(name)),
                ("oldValue", col(&format!("ModifiedProperty{p}OldValue")).into()),
                ("newValue", col(&format!("ModifiedProperty{p}NewValue")).into()),
            ]));
        }
        targets.push(object([
            ("type", col("Type").into()),
            ("displayName", col("DisplayName").into()),
            ("id", col("ObjectId").into()),
            ("userPrincipalName", col("UserPrincipalName").into()),
            ("modifiedProperties", Value::Array(properties)),
        ]));
    }
    targets
}

/// An object of these members, in this order.
fn object<const N: usize>(members: [(&'static str, Value<'static>); N]) -> Value<'static> {
    Value::Object(Map::from_entries(members.into_iter().map(|(k, v)| (k.into(), v)).collect()))
}
