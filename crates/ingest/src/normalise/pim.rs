//! Privileged Identity Management security alerts for Microsoft Entra roles, as Graph returns
//! them: `identityGovernance/roleManagementAlerts/alerts` (a `unifiedRoleManagementAlert`,
//! with its `alertIncidents` when expanded) and `.../alerts/{id}/alertIncidents` (the incidents
//! alone, each typed by `@odata.type`: `noMfaOnRoleActivationAlertIncident`,
//! `staleSignInAlertIncident` ...)
//! (<https://learn.microsoft.com/en-us/graph/api/resources/unifiedrolemanagementalert?view=graph-rest-beta>,
//! <https://learn.microsoft.com/en-us/graph/api/resources/unifiedrolemanagementalertincident?view=graph-rest-beta>).
//! An alert gives one row per incident, or one row of its own when it has none listed.

use super::{Dialect, Origin, Outcome, require};
use crate::fields::Fields;
use crate::schema::{PimAlert, Record};
use crate::value::{Map, Value};

const GRAPH_NAMESPACE: &str = "#microsoft.graph.";

/// The incident type of an `@odata.type`, when it is one of PIM's alert incidents (Graph's
/// documentation lists one configuration type among them, which SigmaHQ's rules test too).
fn incident_type<'a>(object: &'a Map<'_>) -> Option<&'a str> {
    let kind = object.get("@odata.type")?.as_str()?;
    let kind = kind.strip_prefix(GRAPH_NAMESPACE).unwrap_or(kind);
    (kind.ends_with("AlertIncident") || kind.ends_with("AlertConfiguration")).then_some(kind)
}

/// Whether a record is a PIM alert, or one of its incidents.
pub(super) fn looks_like(object: &Map<'_>) -> bool {
    let alert = object.contains_key("alertDefinitionId")
        && object.contains_key("scopeType")
        && (object.contains_key("incidentCount") || object.contains_key("alertIncidents"));
    alert || incident_type(object).is_some_and(|t| t.ends_with("AlertIncident"))
}

pub(super) fn normalise(object: &Map, origin: &Origin) -> Outcome {
    let incidents: Vec<&Map> = match object.get("alertIncidents") {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_object).collect(),
        _ => Vec::new(),
    };
    let is_alert = object.contains_key("alertDefinitionId");
    let rows = if !is_alert {
        vec![row(None, Some(object), origin)]
    } else if incidents.is_empty() {
        vec![row(Some(object), None, origin)]
    } else {
        incidents.into_iter().map(|incident| row(Some(object), Some(incident), origin)).collect()
    };
    match rows.into_iter().collect::<Result<Vec<PimAlert>, String>>() {
        Ok(rows) => Outcome::Records(rows.into_iter().map(Record::PimAlert).collect()),
        Err(e) => Outcome::Invalid(e),
    }
}

fn row(alert: Option<&Map>, incident: Option<&Map>, origin: &Origin) -> Result<PimAlert, String> {
    let a = alert.map(Fields::new);
    let i = incident.map(Fields::new);
    let alert_id = a.and_then(|a| a.text(&["id"]));
    let incident_id = i.and_then(|i| i.text(&["id"]));
    let record_id = match (&alert_id, &incident_id) {
        (Some(a), Some(i)) => Some(format!("{a}/{i}")),
        (a, i) => a.clone().or_else(|| i.clone()),
    };
    // An alert changes when PIM scans and finds it; a bare incident carries only the dates of
    // what it is about.
    let time = a.and_then(|a| a.time(&["lastModifiedDateTime", "lastScannedDateTime"])).or_else(|| {
        i.and_then(|i| {
            i.time(&[
                "sequenceEndDateTime",
                "lastActivationDateTime",
                "lastSignInDateTime",
                "assignmentCreatedDateTime",
            ])
        })
    });
    let text = |name: &str| i.and_then(|i| i.text(&[name]));
    Ok(PimAlert {
        record_id: Some(require(record_id, "alert or incident id")?),
        time,
        record_kind: Some(if incident.is_some() { "incident" } else { "alert" }.to_string()),
        incident_type: incident.and_then(incident_type).map(str::to_string),
        alert_id,
        alert_definition_id: a.and_then(|a| a.text(&["alertDefinitionId"])),
        scope_id: a.and_then(|a| a.text(&["scopeId"])),
        scope_type: a.and_then(|a| a.text(&["scopeType"])),
        is_active: a.and_then(|a| a.bool(&["isActive"])),
        incident_count: a.and_then(|a| a.int(&["incidentCount"])),
        user_principal_name: i.and_then(|i| i.lower(&["assigneeUserPrincipalName"])),
        assignee_id: text("assigneeId"),
        assignee_display_name: text("assigneeDisplayName"),
        role_display_name: text("roleDisplayName"),
        role_template_id: text("roleTemplateId"),
        details: incident.map(|i| Value::Object(i.clone()).to_string()),
        dialect: Some(Dialect::Graph.name().to_string()),
        source_file: Some(origin.source_file.to_string()),
        raw: Some(origin.raw.to_string()),
    })
}
