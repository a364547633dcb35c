//! Conformance: the real exports in `shared/samples/` (see `shared/samples/SOURCES.md` for
//! where each comes from) ingest with the expected counts and values.

use crate::support::*;

fn ingested() -> &'static (tempfile::TempDir, String) {
    static ONCE: std::sync::OnceLock<(tempfile::TempDir, String)> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| {
        let t = temp();
        let store = t.path().join("store");
        let samples = shared().join("samples");
        let (code, out, err) = run(&["ingest", path(&samples), "--store", path(&store)]);
        // Exit 1: the samples include files that are not exports (README, YAML) — listed,
        // not fatal — and Sentinel projections without timestamps, which are kept.
        assert!(code == 0 || code == 1, "{out}\n{err}");
        (t, out)
    })
}

fn store() -> std::path::PathBuf {
    ingested().0.path().join("store")
}

#[test]
fn every_sample_table_has_the_expected_rows() {
    let s = store();
    // sign-in_adelete.csv 56 + disable_accounts.csv 4 (Azure-Sentinel training lab, MIT)
    // + aad_logons.converted.jsonl (msticpy test data, MIT): 86 rows but 45 distinct sign-in
    // ids — 41 sign-ins appear twice, the copy with AuthenticationRequirement blank — so 41
    // duplicates are dropped.
    assert_eq!(count(&s, "SELECT count(*) FROM signins"), 105);
    // AuditLogs_Hunting.csv 5 + AADAuditEvents (OTRF Security-Datasets, MIT): 4 lines but one
    // audit id twice, so 3; the .Zip and the extracted copy hold the same lines. 5 duplicates.
    assert_eq!(count(&s, "SELECT count(*) FROM audits"), 8);
    // office_activity_inbox_rule.csv 2 + OfficeActivityEvents 1 (zip and extracted, deduplicated).
    assert_eq!(count(&s, "SELECT count(*) FROM mailbox_activity"), 3);
    let out = &ingested().1;
    assert!(out.contains(&format!("{:<26} {:>12} {:>12}", "signins", 105, 41)), "{out}");
    assert!(out.contains(&format!("{:<26} {:>12} {:>12}", "audits", 8, 5)), "{out}");
}

#[test]
fn files_that_are_not_exports_are_listed_not_dropped() {
    let out = &ingested().1;
    for name in
        ["SOURCES.md", "README.md", "signinLogs.csv", "WindowsEvents.json", "GoldenSAMLADFSMailAccess.metadata.yaml"]
    {
        let line = out.lines().find(|l| l.contains(name)).unwrap_or_else(|| panic!("{name} not listed:\n{out}"));
        assert!(line.starts_with("unrecognised"), "{line}");
    }
}

#[test]
fn locale_timestamps_dynamic_pairs_and_mixed_case_are_normalised() {
    // sign-in_adelete.csv: "4/28/2021, 2:08:45.221 PM", LocationDetails_dynamic, Status_dynamic.
    let rows = query(
        &store(),
        "SELECT time, user_principal_name, country, city, coordinates_valid, result_type, authentication_methods, dialect
         FROM signins WHERE record_id = 'cfb68155-70f5-4e28-b046-0a3a7086c401'",
    );
    let r = &rows[0];
    assert_eq!(r["time"], "2021-04-28T14:08:45.221Z");
    assert_eq!(r["user_principal_name"], "adelev@m365x816222.onmicrosoft.com");
    assert_eq!(r["country"], "IL");
    assert_eq!(r["city"], "Azor");
    assert_eq!(r["coordinates_valid"], true);
    assert_eq!(r["result_type"], 0);
    assert_eq!(r["authentication_methods"], serde_json::json!(["Previously satisfied"]));
    assert_eq!(r["dialect"], "log_analytics");
}

#[test]
fn swapped_coordinates_are_kept_and_flagged() {
    // disable_accounts.csv places 175.45.176.99 (North Korea) at latitude 125.16.
    let rows = query(
        &store(),
        "SELECT latitude, longitude, coordinates_valid, coordinates_issue, result_type FROM signins WHERE ip_address = '175.45.176.99' AND latitude > 90 LIMIT 1",
    );
    let r = &rows[0];
    assert_eq!(r["latitude"], 125.16241073608398);
    assert_eq!(r["coordinates_valid"], false);
    assert_eq!(r["coordinates_issue"], "swapped");
    assert_eq!(r["result_type"], 50057);
}

#[test]
fn unified_audit_log_inbox_rule_is_read_with_its_parameters() {
    // office_activity_inbox_rule.csv: New-InboxRule "rule2" moving "do not open" to Junk Email,
    // from a bracketed IPv6 address with a port, by a mixed-case UPN.
    let rows = query(
        &store(),
        "SELECT user_principal_name, client_ip, rule_name, move_to_folder, rule_keywords, rule_actions FROM mailbox_activity WHERE rule_name = 'rule2'",
    );
    let r = &rows[0];
    assert_eq!(r["user_principal_name"], "adelev@contoso.onmicrosoft.com");
    assert_eq!(r["client_ip"], "2a01:110:8068:7:9bf8:aa87:e00a:5f1f");
    assert_eq!(r["move_to_folder"], "Junk Email");
    assert_eq!(r["rule_keywords"], serde_json::json!(["do not open"]));
    assert_eq!(r["rule_actions"], serde_json::json!(["MoveToFolder", "StopProcessingRules"]));
}

#[test]
fn golden_saml_audit_and_mail_access_from_zip_members() {
    let s = store();
    let rows = query(
        &s,
        "SELECT activity, target_display_name, modified_property_names, source_file FROM audits WHERE record_id = 'Directory_10065ffb-8199-48bc-8ff5-912cb5b8295a_AUMVX_13992832'",
    );
    assert_eq!(rows[0]["target_display_name"], "SimuLandApp");
    assert_eq!(rows[0]["modified_property_names"][0], "KeyDescription");
    assert!(
        rows[0]["source_file"].as_str().unwrap().contains("AADAuditEvents.Zip!AADAuditEvents.json"),
        "{:?}",
        rows[0]
    );
    let mail = query(
        &s,
        "SELECT operation, item_count, client_ip FROM mailbox_activity WHERE operation = 'MailItemsAccessed'",
    );
    assert_eq!(mail[0]["item_count"], 7);
    assert_eq!(mail[0]["client_ip"], "1.2.3.4");
}
