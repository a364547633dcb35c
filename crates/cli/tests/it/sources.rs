//! The sources beyond the five core logs, each in the dialects an investigator receives it
//! in: workload identity sign-ins, Microsoft Graph activity, the Azure Activity log, Purview
//! records through Graph, Log Analytics query API responses, and diagnostic records whose
//! category a pipeline rewrote. The fixtures (tests/fixtures/sources, written by its make.py
//! from Microsoft's documentation, cited there) hold the same events in every dialect: each
//! dialect must give the same rows.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::*;

fn source(name: &str) -> PathBuf {
    fixture(&format!("sources/{name}"))
}

/// Ingests `files` into a new store under `root`; returns the store and the ingest summary.
fn ingest(root: &Path, name: &str, files: &[PathBuf]) -> (PathBuf, String) {
    let store = root.join(name);
    let mut args = vec!["ingest"];
    args.extend(files.iter().map(|f| path(f)));
    args.extend(["--store", path(&store)]);
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "{out}\n{err}");
    (store, format!("{out}{err}"))
}

/// Every row of `table` without the provenance columns and `skip`, by record id.
fn rows(store: &Path, table: &str, skip: &[&str]) -> Vec<Value> {
    let mut excluded = vec!["dialect", "source_file", "raw"];
    excluded.extend(skip);
    query(store, &format!("SELECT * EXCLUDE ({}) FROM {table} ORDER BY time, record_id", excluded.join(", ")))
}

/// `dialects` (file, columns the dialect does not carry) give the rows of the first.
fn same_rows(table: &str, dialects: &[(&str, &[&str])], expected_rows: usize) {
    let t = temp();
    let (reference, _) = ingest(t.path(), "reference", &[source(dialects[0].0)]);
    for (file, missing) in &dialects[1..] {
        let (store, _) = ingest(t.path(), file, &[source(file)]);
        let expected = rows(&reference, table, missing);
        assert_eq!(expected.len(), expected_rows, "{table} from {}", dialects[0].0);
        let got = rows(&store, table, missing);
        assert_eq!(got.len(), expected.len(), "{table} row count from {file}");
        for (g, e) in got.iter().zip(&expected) {
            assert_eq!(g, e, "{table}: {file} differs from {}", dialects[0].0);
        }
    }
}

#[test]
fn workload_sign_ins_from_graph_azure_monitor_and_the_log_analytics_query_api() {
    // Log Analytics has no credential type, app name, managed identity details or risk columns
    // (learn.microsoft.com/azure/azure-monitor/reference/tables/aadserviceprincipalsigninlogs).
    let la_lacks: &[&str] = &[
        "app_display_name",
        "credential_type",
        "managed_identity_type",
        "managed_identity_resource_id",
        "risk_level_during_signin",
        "risk_level_aggregated",
        "risk_state",
        "risk_detail",
    ];
    same_rows(
        "service_principal_signins",
        &[
            ("workload_signins.graph.json", &[]),
            ("workload_signins.azure_monitor.json", &["app_display_name"]),
            ("workload_signins.log_analytics_query.json", la_lacks),
        ],
        4,
    );
    // The user's sign-in in the same Graph page stays a user sign-in; the workloads are told
    // apart and keep what tells an added credential from the usual one.
    let t = temp();
    let (store, _) = ingest(t.path(), "s", &[source("workload_signins.graph.json")]);
    assert_eq!(
        count(&store, "SELECT count(*) FROM signins WHERE user_principal_name = 'payroll.admin@contoso.example'"),
        1
    );
    let kinds = query(
        &store,
        "SELECT identity_type, count(DISTINCT credential_key_id) AS keys, count(*) AS n FROM service_principal_signins GROUP BY 1 ORDER BY 1",
    );
    assert_eq!(
        kinds,
        vec![
            serde_json::json!({"identity_type": "managedIdentity", "keys": 0, "n": 1}),
            serde_json::json!({"identity_type": "servicePrincipal", "keys": 2, "n": 3}),
        ]
    );
    let failed = query(&store, "SELECT result_type, ip_address FROM service_principal_signins WHERE result_type <> 0");
    assert_eq!(failed, vec![serde_json::json!({"result_type": 7000215, "ip_address": "185.220.101.4"})]);
}

#[test]
fn graph_activity_from_azure_monitor_the_query_api_and_az_cli() {
    same_rows(
        "graph_activity",
        &[
            ("graph_activity.log_analytics_query.json", &[]),
            ("graph_activity.azure_monitor.jsonl", &[]),
            ("graph_activity.az_cli.json", &[]),
        ],
        3,
    );
    // What the stolen token did joins to the sign-in that issued it.
    let t = temp();
    let (store, _) =
        ingest(t.path(), "s", &[source("graph_activity.azure_monitor.jsonl"), source("workload_signins.graph.json")]);
    let joined = query(
        &store,
        "SELECT g.request_method, s.service_principal_name, s.credential_key_id FROM graph_activity g \
         JOIN service_principal_signins s ON g.sign_in_activity_id = s.unique_token_identifier",
    );
    assert_eq!(
        joined,
        vec![serde_json::json!({"request_method": "GET", "service_principal_name": "Payroll Export Connector",
                                "credential_key_id": "d41d8cd9-8f00-4b20-9e98-00998ecf8427"})]
    );
}

#[test]
fn azure_activity_from_az_cli_the_diagnostic_export_the_query_api_and_az_powershell() {
    // The diagnostic export carries no event data id (its rows get a derived one), no
    // localised operation name, and other properties.
    let export_lacks: &[&str] = &["record_id", "operation_display_name", "properties"];
    same_rows(
        "azure_activity",
        &[
            ("azure_activity.az_cli.json", &["properties"]),
            ("azure_activity.azure_monitor.json", export_lacks),
            ("azure_activity.log_analytics_query.json", &["properties"]),
            ("azure_activity.az_powershell.json", &["properties"]),
        ],
        3,
    );
    let t = temp();
    let (store, _) = ingest(t.path(), "s", &[source("azure_activity.azure_monitor.json")]);
    let grant = query(
        &store,
        "SELECT operation_name, status, sub_status, caller, caller_ip, resource_group, subscription_id, resource_provider \
         FROM azure_activity WHERE operation_name LIKE '%ROLEASSIGNMENTS/WRITE'",
    );
    assert_eq!(
        grant,
        vec![
            serde_json::json!({"operation_name": "MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/WRITE", "status": "Succeeded",
            "sub_status": "Created", "caller": "payroll.admin@contoso.example", "caller_ip": "185.220.101.4",
            "resource_group": "rg-payroll", "subscription_id": "8f2d1c3b-4a5e-4f60-9b7a-6c5d4e3f2a10",
            "resource_provider": "MICROSOFT.AUTHORIZATION"})
        ]
    );
}

#[test]
fn purview_records_through_graph_read_as_the_portal_csv() {
    same_rows("mailbox_activity", &[("purview.portal.csv", &[]), ("purview.graph_records.json", &[])], 2);
    let t = temp();
    let (store, _) = ingest(t.path(), "s", &[source("purview.graph_records.json")]);
    let rule = query(
        &store,
        "SELECT rule_name, move_to_folder, client_ip, dialect FROM mailbox_activity WHERE rule_name IS NOT NULL",
    );
    assert_eq!(
        rule,
        vec![
            serde_json::json!({"rule_name": ".", "move_to_folder": "RSS Feeds", "client_ip": "185.220.101.4", "dialect": "graph"})
        ]
    );
}

#[test]
fn a_rewritten_category_is_read_by_content_and_what_is_none_is_said() {
    let t = temp();
    let store = t.path().join("s");
    let file = source("rewritten_categories.azure_monitor.json");
    let (code, out, err) = run(&["ingest", path(&file), "--store", path(&store)]);
    // A file with a record Sleuth does not read is read partly: the exit status says so.
    assert_eq!(code, 1, "{out}\n{err}");
    let summary = format!("{out}{err}");
    assert_eq!(count(&store, "SELECT count(*) FROM audits WHERE activity = 'Add member to role'"), 1);
    assert_eq!(count(&store, "SELECT count(*) FROM risk_detections WHERE risk_event_type = 'anonymizedIPAddress'"), 1);
    assert!(summary.contains("record 3") && summary.contains("\"ProvisioningLogs\""), "{summary}");
}

/// Real Log Analytics rows (shared/samples: msticpy's SigninLogs, OTRF's AuditLogs and
/// OfficeActivity) turned into the query API's response, as the API would return the same
/// rows: columns once, each row an array, dynamic values as JSON text. Both read the same.
#[test]
fn real_log_analytics_rows_read_the_same_as_a_query_api_response() {
    let samples = shared().join("samples");
    let lines_files = [
        samples.join("msticpy/aad_logons.converted.jsonl"),
        samples.join("otrf_security_datasets/GoldenSAMLADFSMailAccess/extracted/AADAuditEvents.json"),
        samples.join("otrf_security_datasets/GoldenSAMLADFSMailAccess/extracted/OfficeActivityEvents.json"),
    ];
    let t = temp();
    let mut responses = Vec::new();
    for (i, file) in lines_files.iter().enumerate() {
        let text = std::fs::read_to_string(file).unwrap();
        let objects: Vec<serde_json::Map<String, Value>> =
            text.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect();
        let mut columns: Vec<String> = Vec::new();
        for o in &objects {
            for k in o.keys() {
                if !columns.contains(k) {
                    columns.push(k.clone());
                }
            }
        }
        let cell = |v: Option<&Value>| match v {
            Some(v @ (Value::Object(_) | Value::Array(_))) => Value::String(v.to_string()),
            Some(v) => v.clone(),
            None => Value::Null,
        };
        let rows: Vec<Value> = objects.iter().map(|o| columns.iter().map(|c| cell(o.get(c))).collect()).collect();
        let described: Vec<Value> = columns.iter().map(|c| serde_json::json!({"name": c, "type": "string"})).collect();
        let response = serde_json::json!({"tables": [{"name": "PrimaryResult", "columns": described, "rows": rows}]});
        let out = t.path().join(format!("response-{i}.json"));
        std::fs::write(&out, serde_json::to_string_pretty(&response).unwrap()).unwrap();
        responses.push(out);
    }
    let (lines, _) = ingest(t.path(), "lines", &lines_files);
    let (api, summary) = ingest(t.path(), "api", &responses);
    for (table, n) in [("signins", 45), ("audits", 3), ("mailbox_activity", 1)] {
        let expected = rows(&lines, table, &[]);
        assert_eq!(expected.len(), n, "{table}");
        assert_eq!(rows(&api, table, &[]), expected, "{table}\n{summary}");
    }
}

/// Microsoft-Extractor-Suite output written by Windows PowerShell 5.1 (the Graph PowerShell
/// SDK's objects through ConvertTo-Json: PascalCase at every level, \/Date()\/ times, a BOM,
/// CRLF) reads as the same events from Graph: kept as a regression fixture.
#[test]
fn extractor_suite_output_of_windows_powershell_5_1_reads_as_graph() {
    let t = temp();
    let (graph, _) = ingest(t.path(), "graph", &[fixture("graph_signins.json"), source("directory_audit.graph.json")]);
    let (ps, summary) = ingest(
        t.path(),
        "ps",
        &[source("extractor_suite_ps51.SignInLogsGraph.json"), source("extractor_suite_ps51.AuditLogsGraph.json")],
    );
    assert!(summary.contains("[UTF-8 BOM]"), "{summary}");
    // The columns that keep a whole structure as JSON keep the source's spelling of it.
    for (table, n, json) in [("signins", 2, "authentication_details"), ("audits", 1, "targets")] {
        let expected = rows(&graph, table, &[json]);
        assert_eq!(expected.len(), n, "{table}");
        assert_eq!(rows(&ps, table, &[json]), expected, "{table}");
    }
    // Nested PascalCase (Status.ErrorCode, Location.CountryOrRegion) is read, not lost.
    let r = &query(&ps, "SELECT result_type, country, mfa_satisfied_by_token FROM signins ORDER BY time LIMIT 1")[0];
    assert_eq!(r["result_type"], 0);
    assert_eq!(r["country"], "US");
    assert_eq!(r["mfa_satisfied_by_token"], true);
}

/// Hunts `store` with SigmaHQ's active rules (every severity; every compiled rule must run) and
/// returns what each rule, by id or title, matched: the record ids (an alert may sit in more
/// than one incident).
fn sigmahq_matches(store: &Path) -> impl Fn(&str) -> std::collections::BTreeSet<String> {
    intel_dir();
    let sigma = shared().join("rules/sigma/rules");
    let (code, out, err) = run(&[
        "hunt",
        "--store",
        path(store),
        "--rules",
        path(&sigma),
        "--min-severity",
        "informational",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["failures"], Value::Array(vec![]), "every compiled rule runs");
    let alerts: Vec<Value> = report["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| i["alerts"].as_array().unwrap().iter().cloned())
        .collect();
    // Every alert id names one alert (the same alert may sit in several incidents).
    let mut ids = std::collections::BTreeMap::new();
    for a in &alerts {
        let records = ids.entry(a["id"].to_string()).or_insert_with(|| a["record_ids"].clone());
        assert_eq!(*records, a["record_ids"], "alert id {} names two alerts", a["id"]);
    }
    move |rule: &str| {
        let of_rule = alerts.iter().filter(|a| a["rule"] == rule || a["title"] == rule);
        of_rule.flat_map(|a| a["record_ids"].as_array().unwrap().iter().map(|r| r.to_string())).collect()
    }
}

/// SigmaHQ's rules for the new sources run on them: a role assignment in the Azure Activity
/// log, Microsoft 365 alerts in the unified audit log.
#[test]
fn sigmahq_rules_of_the_new_sources_fire_on_them() {
    let t = temp();
    let files = [
        source("azure_activity.azure_monitor.json"),
        source("azure_activity.az_cli.json"),
        source("m365_alerts.purview.csv"),
        source("workload_signins.graph.json"),
    ];
    let (store, _) = ingest(t.path(), "s", &files);
    let matched = sigmahq_matches(&store);
    // Granting Of Permissions To An Account (keywords: the role assignment operation): the
    // diagnostic export carries no event id, so its copy of the event is a row of its own
    // beside the az CLI's; the rule finds both.
    assert_eq!(matched("a622fcd2-4b5a-436a-b8a2-a4171161833c").len(), 2);
    // Suspicious Inbox Forwarding and the PST export alert, one alert record each.
    assert_eq!(matched("6c220477-0b5b-4b25-bb90-66183b4089e8").len(), 1);
    assert_eq!(matched("PST Export Alert Using New-ComplianceSearchAction").len(), 1);
    // The alert is about the user its data names, not the `SecurityComplianceAlerts` account.
    let users = query(
        &store,
        "SELECT DISTINCT user_principal_name FROM mailbox_activity WHERE workload = 'SecurityComplianceCenter'",
    );
    assert_eq!(users, vec![serde_json::json!({"user_principal_name": "payroll.admin@contoso.example"})]);
}

/// PIM security alerts from Graph: an alert gives a row per incident (or its own when it has
/// none); incidents listed alone read as the same incidents; SigmaHQ's azure/pim rules run.
#[test]
fn pim_alerts_and_their_incidents() {
    let t = temp();
    let (alerts, _) = ingest(t.path(), "alerts", &[source("pim_alerts.graph.json")]);
    let kinds = query(&alerts, "SELECT record_kind, count(*) AS n FROM pim_alerts GROUP BY 1 ORDER BY 1");
    assert_eq!(
        kinds,
        vec![
            serde_json::json!({"record_kind": "alert", "n": 1}),
            serde_json::json!({"record_kind": "incident", "n": 3})
        ]
    );
    let (alone, _) = ingest(t.path(), "alone", &[source("pim_alert_incidents.graph.json")]);
    let incident = "SELECT incident_type, user_principal_name, assignee_id, role_display_name, role_template_id, details \
                    FROM pim_alerts WHERE user_principal_name IS NOT NULL";
    let expanded = query(&alerts, incident);
    assert_eq!(expanded.len(), 1);
    assert_eq!(query(&alone, incident), expanded);
    assert_eq!(expanded[0]["user_principal_name"], "payroll.admin@contoso.example");

    let matched = sigmahq_matches(&alerts);
    // Roles Activation Doesn't Require MFA: both roles; Roles Assigned Outside PIM: the one.
    assert_eq!(matched("94a66f46-5b64-46ce-80b2-75dcbe627cc0").len(), 2);
    assert_eq!(matched("b1bc08d1-8224-4758-a0e6-fbcfc98c73bb").len(), 1);
}

/// The directory's users from Graph, the admin center's Download users CSV and Get-MgUser's
/// Export-Csv: the same people with the same department, title and office; the manager from
/// Graph's `$expand=manager`; the creation time in each form, the PowerShell culture's too.
#[test]
fn directory_users_in_three_dialects_agree() {
    let t = temp();
    let people =
        "SELECT record_id, user_principal_name, department, job_title, office_location, account_enabled, user_type
                  FROM directory_users ORDER BY user_principal_name";
    let mut seen = Vec::new();
    for (name, file) in [("graph", "users.graph.json"), ("portal", "users.portal.csv"), ("mguser", "users.mguser.csv")]
    {
        let (store, _) = ingest(t.path(), name, &[source(file)]);
        let rows = query(&store, people);
        assert_eq!(rows.len(), 3, "{file}: {rows:?}");
        assert_eq!(rows[0]["department"], "Finance", "{file}");
        assert_eq!(rows[1]["job_title"], "Accounts Payable Clerk", "{file}");
        assert_eq!(rows[1]["account_enabled"], true, "{file}");
        seen.push((name, store, rows));
    }
    assert_eq!(seen[0].2, seen[1].2, "Graph and the portal CSV");
    assert_eq!(seen[0].2, seen[2].2, "Graph and Get-MgUser");
    let managers = query(
        &seen[0].1,
        "SELECT user_principal_name, manager_upn, manager_id FROM directory_users WHERE manager_upn IS NOT NULL ORDER BY 1",
    );
    assert_eq!(managers.len(), 2);
    assert_eq!(managers[0]["manager_upn"], "maria.costa@contoso.example");
    let created = "SELECT CAST(time AS VARCHAR) AS t FROM directory_users WHERE user_principal_name = 'priya.nair@contoso.example'";
    assert_eq!(query(&seen[0].1, created), query(&seen[2].1, created), "the culture's date is the same moment");
    assert!(query(&seen[0].1, created)[0]["t"].as_str().unwrap().starts_with("2021-04-12T09:00:00"));
}
