//! The directory's users, as an analyst exports them to know who is who: Microsoft Graph
//! `user` objects (`GET /users?$select=...&$expand=manager`, or `Get-MgUser -All -Property ...
//! | ConvertTo-Json`), the Entra admin center's "Download users" CSV (columns `objectId`,
//! `userPrincipalName`, `jobTitle`, `department`, `physicalDeliveryOfficeName` ...,
//! <https://learn.microsoft.com/en-us/entra/identity/users/users-bulk-download>) and
//! `Get-MgUser | Export-Csv` (PascalCase columns). The investigation reads department, manager
//! and title for peer groups (docs/investigation.md).
//! (<https://learn.microsoft.com/en-us/graph/api/resources/user?view=graph-rest-1.0>)

use super::{Dialect, Origin, Outcome, require};
use crate::fields::Fields;
use crate::schema::{DirectoryUser, Record};
use crate::value::{Map, Value};

/// Fields only a user object has, beside its principal name: a sign-in or an audit event has
/// none of them.
const PROFILE: &[&str] = &[
    "department",
    "jobTitle",
    "officeLocation",
    "physicalDeliveryOfficeName",
    "givenName",
    "surname",
    "accountEnabled",
    "employeeId",
    "companyName",
];

/// Whether a record is a user object: a principal name, an object id and a profile field (even
/// an empty one: `Get-MgUser` writes the fields it was asked for, null or not), and nothing of a
/// sign-in or an audit event; or a Graph object typed as a user.
pub(super) fn looks_like(object: &Map) -> bool {
    let has = |name: &str| object.keys().any(|k| k.eq_ignore_ascii_case(name));
    let typed = object.get("@odata.type").and_then(Value::as_str) == Some("#microsoft.graph.user");
    let shaped = has("userPrincipalName")
        && (has("id") || has("objectId"))
        && PROFILE.iter().any(|name| has(name))
        && !["appId", "ipAddress", "activityDisplayName", "riskEventType", "operation"].iter().any(|name| has(name));
    typed || shaped
}

pub(super) fn normalise(f: Fields, dialect: Dialect, origin: &Origin) -> Outcome {
    let f = f.any_case();
    let record_id = f.text(&["id", "objectId"]);
    let manager = f.object(&["manager"]).map(Fields::any_case);
    let user = DirectoryUser {
        record_id: match require(record_id, "the user's object id (id / objectId)") {
            Ok(id) => Some(id),
            Err(e) => return Outcome::Invalid(e),
        },
        time: f.time(&["createdDateTime"]),
        user_principal_name: f.lower(&["userPrincipalName"]),
        display_name: f.text(&["displayName"]),
        user_type: f.text(&["userType"]),
        account_enabled: f.bool(&["accountEnabled"]),
        department: f.text(&["department"]),
        job_title: f.text(&["jobTitle"]),
        company_name: f.text(&["companyName"]),
        office_location: f.text(&["officeLocation", "physicalDeliveryOfficeName"]),
        city: f.text(&["city"]),
        country: f.text(&["country", "usageLocation"]),
        manager_id: manager.and_then(|m| m.text(&["id"])).or_else(|| f.text(&["managerId", "manager.id"])),
        manager_upn: manager
            .and_then(|m| m.lower(&["userPrincipalName", "mail"]))
            .or_else(|| f.lower(&["managerUserPrincipalName", "manager.userPrincipalName"])),
        dialect: Some(dialect.name().to_string()),
        source_file: Some(origin.source_file.to_string()),
        raw: Some(origin.raw.to_string()),
    };
    Outcome::Records(vec![Record::DirectoryUser(user)])
}
