//! Dialect equivalence: the same events written as Graph pages, Azure Monitor records, Log
//! Analytics CSV and Log Analytics query API responses give identical rows (apart from the
//! provenance columns).

use std::path::Path;

use crate::support::*;

const ENTRA_TABLES: [&str; 3] = ["signins", "audits", "risk_detections"];

fn ingest_format(root: &Path, format: &str) -> std::path::PathBuf {
    let dir = root.join(format);
    let store = root.join(format!("{format}-store"));
    let (code, _, err) = run(&["demo", path(&dir), "--users", "60", "--days", "7", "--seed", "11", "--format", format]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(&["ingest", path(&dir), "--store", path(&store)]);
    assert_eq!(code, 0, "{out}\n{err}");
    store
}

fn rows(store: &Path, table: &str) -> Vec<serde_json::Value> {
    query(store, &format!("SELECT * EXCLUDE (dialect, source_file, raw) FROM {table} ORDER BY record_id"))
}

#[test]
fn graph_azure_monitor_and_log_analytics_give_identical_rows() {
    let t = temp();
    let graph = ingest_format(t.path(), "graph");
    let monitor = ingest_format(t.path(), "azure-monitor");
    let analytics = ingest_format(t.path(), "log-analytics");
    let query_api = ingest_format(t.path(), "log-analytics-query");
    for table in ENTRA_TABLES {
        let expected = rows(&graph, table);
        assert!(!expected.is_empty(), "{table} is empty");
        for (name, store) in
            [("azure-monitor", &monitor), ("log-analytics", &analytics), ("log-analytics-query", &query_api)]
        {
            let got = rows(store, table);
            assert_eq!(got.len(), expected.len(), "{table} row count, {name}");
            for (g, e) in got.iter().zip(&expected) {
                assert_eq!(g, e, "{table} row differs between graph and {name}");
            }
        }
        let dialects = query(&analytics, &format!("SELECT DISTINCT dialect FROM {table}"));
        assert_eq!(dialects, vec![serde_json::json!({"dialect": "log_analytics"})]);
    }
}

#[test]
fn entra_portal_csv_agrees_with_graph_on_the_columns_it_carries() {
    // The same two sign-ins of seed 003, as the portal's CSV download and as Graph JSON.
    let t = temp();
    let store = t.path().join("s");
    let (code, out, err) = run(&["ingest", path(&fixture("portal_signins.csv")), "--store", path(&store)]);
    assert_eq!(code, 0, "{out}\n{err}");
    let graph_store = t.path().join("g");
    let (code, out, err) = run(&["ingest", path(&fixture("graph_signins.json")), "--store", path(&graph_store)]);
    assert_eq!(code, 0, "{out}\n{err}");
    let columns = "record_id, time, user_principal_name, user_display_name, ip_address, city, state, country, asn, \
                   app_display_name, resource_display_name, user_agent, result_type, status_detail, \
                   authentication_requirement, mfa_satisfied_by_token, correlation_id, client_app_used";
    let sql = format!("SELECT {columns} FROM signins ORDER BY record_id");
    let portal = query(&store, &sql);
    assert_eq!(portal.len(), 2);
    assert_eq!(portal, query(&graph_store, &sql));
    assert_eq!(portal[0]["mfa_satisfied_by_token"], true);
    assert_eq!(portal[0]["city"], "Dallas");
    assert_eq!(query(&store, "SELECT DISTINCT dialect FROM signins")[0]["dialect"], "entra_portal");
}
