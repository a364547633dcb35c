//! Sigma rules: the SigmaHQ Azure / M365 set compiled and run on the demo tenant (the table of
//! docs/sigma.md, kept true here), the compiled SQL of representative rules pinned
//! (tests/snapshots/sigma), correlations, lint, and threat feeds.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use crate::support::*;

fn sigmahq() -> std::path::PathBuf {
    shared().join("rules/sigma")
}

fn examples() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sigma")
}

fn import_json(paths: &[&Path]) -> Vec<Value> {
    let mut args = vec!["rules", "import", "--format", "json"];
    args.extend(paths.iter().map(|p| path(p)));
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str::<Vec<Value>>(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// The hunt of the demo tenant with the Sigma folders, every severity.
fn hunt_with(rules: &[&Path]) -> Value {
    intel_dir();
    let demo = demo();
    let mut args = vec!["hunt", "--store", path(&demo.store), "--min-severity", "informational", "--format", "json"];
    for dir in rules {
        args.extend(["--rules", path(dir)]);
    }
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("Sigma rules compiled"), "the hunt says what it left out: {err}");
    serde_json::from_str(&out).unwrap()
}

fn fired(report: &Value) -> BTreeSet<String> {
    let alerts = report["incidents"].as_array().unwrap().iter().flat_map(|i| i["alerts"].as_array().unwrap());
    alerts.map(|a| a["rule"].as_str().unwrap().to_string()).collect()
}

/// SigmaHQ rules and the demo stories they find.
const STORIES: &[(&str, &str)] = &[
    ("2b7d6fc0-71ac-4cf7-8ed1-b5788ee5257a", "password spray: Account Lockout"),
    ("28ecba0a-c743-4690-ad29-9a8f6f25a6f9", "password spray: Identity Protection's Password Spray Activity"),
    ("adf9f4d2-559e-4f5c-95be-c28dff0b1476", "password spray: the fallen account's New Country"),
    ("9a60e676-26ac-44c3-814b-0c2a8b977adf", "SSPR takeover: access blocked by Conditional Access"),
    ("5496ff55-42ec-4369-81cb-00f417029e25", "MFA fatigue: Multifactor Authentication Interrupted"),
    ("4d78a000-ab52-4564-88a5-7ab5242b20c7", "token theft: Change to Authentication Method"),
    ("d3577be1-42c9-44a7-b56e-2e8de97349d3", "BEC: Inbox Rules Creation"),
];

const IN_THE_STORE: [&str; 9] = [
    "azure/pim",
    "azure/signinlogs",
    "azure/auditlogs",
    "azure/riskdetection",
    "azure/activitylogs",
    "m365/audit",
    "m365/exchange",
    "m365/threat_management",
    "m365/threat_detection",
];

#[test]
fn sigmahq_coverage_is_as_documented_and_the_stories_fire() {
    let outcomes = import_json(&[&sigmahq()]);
    assert!(outcomes.len() >= 160, "{}", outcomes.len());
    let report = hunt_with(&[&sigmahq()]);
    assert_eq!(report["failures"], Value::Array(vec![]), "every compiled rule runs");
    let fired = fired(&report);

    // Every rule of the active set whose log source the store holds compiles.
    for o in &outcomes {
        let active = o["file"].as_str().unwrap().contains("/rules/cloud/");
        if active && IN_THE_STORE.contains(&o["logsource"].as_str().unwrap()) {
            assert_eq!(o["status"], "compiled", "{o}");
        }
        if o["status"] == "unsupported" && IN_THE_STORE.contains(&o["logsource"].as_str().unwrap()) {
            let class = o["class"].as_str().unwrap();
            assert!(class == "placeholder without values" || class == "unmapped field", "{o}");
        }
    }
    // The seed stories SigmaHQ covers must fire: the spray's lockouts (seed 002) and Identity
    // Protection's detections of it, the blocked takeover, the MFA fatigue.
    for (id, story) in STORIES {
        assert!(fired.contains(*id), "{story}: {id} does not fire; fired: {fired:?}");
    }

    // The documented table.
    let doc_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/sigma.md");
    let doc = std::fs::read_to_string(&doc_path).unwrap();
    let table = coverage_table(&outcomes, &fired);
    let (begin, end) = ("<!-- coverage -->\n", "<!-- /coverage -->");
    let start = doc.find(begin).expect("docs/sigma.md has a coverage section") + begin.len();
    let stop = doc.find(end).unwrap();
    if std::env::var_os("SLEUTH_BLESS").is_some() {
        std::fs::write(&doc_path, format!("{}{table}{}", &doc[..start], &doc[stop..])).unwrap();
    } else {
        assert_eq!(&doc[start..stop], table, "docs/sigma.md is out of date: rerun with SLEUTH_BLESS=1");
    }
}

/// The coverage table: per folder and log source, what compiled, what fired on the demo tenant
/// and why the rest did not compile; then the rules that fired.
fn coverage_table(outcomes: &[Value], fired: &BTreeSet<String>) -> String {
    #[derive(Default)]
    struct Row {
        total: usize,
        compiled: usize,
        fire: usize,
        why: BTreeMap<String, usize>,
    }
    let mut rows: BTreeMap<(String, String), Row> = BTreeMap::new();
    let mut firing = Vec::new();
    for o in outcomes {
        let file = o["file"].as_str().unwrap();
        let folder = file.split("rules/sigma/").nth(1).and_then(|f| f.split('/').next()).unwrap_or("-").to_string();
        let row = rows.entry((folder, o["logsource"].as_str().unwrap().to_string())).or_default();
        row.total += 1;
        match o["status"].as_str().unwrap() {
            "compiled" => {
                row.compiled += 1;
                let id = o["id"].as_str().unwrap();
                if fired.contains(id) {
                    row.fire += 1;
                    firing.push(format!(
                        "- {} (`{id}`, {})",
                        o["title"].as_str().unwrap(),
                        o["logsource"].as_str().unwrap()
                    ));
                }
            }
            _ => *row.why.entry(o["class"].as_str().unwrap().to_string()).or_default() += 1,
        }
    }
    let mut out = String::from(
        "| folder | log source | rules | compile | fire on the demo | not compiled, why |\n|---|---|---:|---:|---:|---|\n",
    );
    for ((folder, source), row) in &rows {
        let why: Vec<String> = row.why.iter().map(|(k, n)| format!("{n} {k}")).collect();
        out.push_str(&format!(
            "| {folder} | {source} | {} | {} | {} | {} |\n",
            row.total,
            row.compiled,
            row.fire,
            why.join(", ")
        ));
    }
    let total: usize = rows.values().map(|r| r.total).sum();
    let compiled: usize = rows.values().map(|r| r.compiled).sum();
    out.push_str(&format!("| all | | {total} | {compiled} | {} | |\n\nFiring on the demo tenant:\n\n", firing.len()));
    firing.sort();
    out.push_str(&firing.join("\n"));
    out.push('\n');
    out
}

#[test]
fn correlations_fire_on_the_spray_and_are_grouped_per_address() {
    let report = hunt_with(&[&examples()]);
    let spray = "7c1e9d4a-2f3b-4a6c-8e5d-1b9f0a2c3d02";
    let incidents = report["incidents"].as_array().unwrap();
    let alerts: Vec<&Value> =
        incidents.iter().flat_map(|i| i["alerts"].as_array().unwrap()).filter(|a| a["rule"] == spray).collect();
    assert!(!alerts.is_empty(), "the value_count correlation finds the spray");
    let sprayers: BTreeSet<&str> =
        story("password-spray")["ips"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    for alert in &alerts {
        assert_eq!(alert["user"], Value::Null, "many accounts: no single user");
        let ip = alert["ip"].as_str().unwrap();
        assert!(sprayers.contains(ip), "{ip} is not a spray address: {sprayers:?}");
        assert!(alert["facts"]["measure"].as_i64().unwrap() >= 5, "{alert}");
        assert!(alert["record_ids"].as_array().unwrap().len() >= 5);
    }
    // The base rule runs only inside its correlation (generate: false).
    assert!(!fired(&report).contains("0f6a3c2e-5b1d-4c8e-9a7f-2d4b6e8c1a01"));
}

#[test]
fn compiled_rules_are_pinned() {
    // One rule per construct: a value list, modifiers, a value the mapping translates, a
    // raw-record field, negated filters, an m365 source; and the two correlations of the examples.
    let cases = [
        (sigmahq(), "2b7d6fc0-71ac-4cf7-8ed1-b5788ee5257a"),
        (sigmahq(), "ea1a07f0-3dac-47a2-aeb4-86f5379ba2b4"),
        (sigmahq(), "248649b7-d64f-46f0-9fb2-a52774166fb5"),
        (sigmahq(), "c726e007-2cd0-4a55-abfb-79730fbedee5"),
        (sigmahq(), "4f77e1d7-3982-4ee0-8489-abf2d6b75284"),
        (examples(), "7c1e9d4a-2f3b-4a6c-8e5d-1b9f0a2c3d02"),
        (examples(), "5cad7e9f-1a2b-4c3d-8e4f-5a6b7c8d9e05"),
    ];
    for (dir, id) in cases {
        let (code, sql, err) = run(&["rules", "show", id, "--compiled", "--rules", path(&dir)]);
        assert_eq!(code, 0, "{id}: {err}");
        insta::with_settings!({snapshot_path => "../snapshots/sigma", prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!(id, sql);
        });
    }
    let (code, out, _) = run(&["rules", "show", "2b7d6fc0-71ac-4cf7-8ed1-b5788ee5257a", "--rules", path(&sigmahq())]);
    assert_eq!(code, 0);
    assert!(out.contains("Sigma azure/signinlogs from") && out.contains("author: AlertIQ"), "{out}");
}

#[test]
fn device_code_rule_reads_the_authentication_protocol_column() {
    // Seed 003's two sign-ins, one of them through the device code flow: the SigmaHQ rule
    // (`properties.message: Device Code`) finds that one, from the column ingest fills.
    intel_dir();
    let t = temp();
    let mut page: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("graph_signins.json")).unwrap()).unwrap();
    let records = page["value"].as_array_mut().unwrap();
    assert_eq!(records.len(), 2);
    records[0]["authenticationProtocol"] = "deviceCode".into();
    records[1]["authenticationProtocol"] = "none".into();
    let device_code = records[0]["id"].as_str().unwrap().to_string();
    let export = t.path().join("signins.json");
    std::fs::write(&export, page.to_string()).unwrap();
    let store = t.path().join("store");
    let (code, _, err) = run(&["ingest", path(&export), "--store", path(&store)]);
    assert_eq!(code, 0, "{err}");
    let rule = sigmahq().join("rules/cloud/azure/signin_logs/azure_app_device_code_authentication.yml");
    let args =
        ["hunt", "--store", path(&store), "--rules", path(&rule), "--min-severity", "informational", "-f", "json"];
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let alerts: Vec<&Value> = report["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| i["alerts"].as_array().unwrap())
        .filter(|a| a["rule"] == "248649b7-d64f-46f0-9fb2-a52774166fb5")
        .collect();
    assert_eq!(alerts.len(), 1, "{out}");
    assert_eq!(alerts[0]["record_ids"], serde_json::json!([device_code]));
}

#[test]
fn lint_names_the_file_and_fails_on_errors() {
    let broken = fixture("sigma/broken.yml");
    let (code, out, _) = run(&["rules", "lint", path(&broken)]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("broken.yml: error[sleuth]") && out.contains("not a valid Sigma rule"), "{out}");
    let good = fixture("sigma/lockout-rule.yml");
    let (code, out, _) = run(&["rules", "lint", path(&good)]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("1 files: 0 errors"), "{out}");
}

#[test]
fn feeds_list_advisories_and_import_their_rules() {
    // Seed 002's feed: two advisories, no rule in them.
    let seed = std::fs::read_dir(shared().join("seeds"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("002"))
        .unwrap();
    let (code, out, err) = run(&["feed", "import", path(&seed)]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("2 advisories") && out.contains("Entra ID Excessive Account Lockouts Detected"), "{out}");
    assert_eq!(out.matches("no Sigma rule embedded or attached").count(), 2, "{out}");

    let dir = temp();
    let into = dir.path().join("rules");
    let (code, out, err) = run(&["feed", "import", path(&fixture("sigma/feed.json")), "--into", path(&into)]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("linked rule, not fetched (offline): https://feed.example/rules/other.yml"), "{out}");
    assert!(out.contains("compiled") && out.contains("Entra ID Excessive Account Lockouts Detected"), "{out}");
    assert!(out.contains("invalid"), "the broken attachment is reported: {out}");
    assert!(out.contains("linked rule unreadable") && out.contains("missing.yml"), "{out}");
    let written: Vec<_> = std::fs::read_dir(&into).unwrap().collect();
    assert_eq!(written.len(), 1, "only the rule that compiled is written");

    // The imported rule runs in a hunt: the spray's lockouts.
    let report = hunt_with(&[&into]);
    assert!(fired(&report).contains("1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"));
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"version\": \"https://jsonfeed.org/version/1.1\", \"title\": 3}").unwrap();
    let (code, _, err) = run(&["feed", "import", path(&bad)]);
    assert_eq!(code, 2);
    assert!(err.contains("bad.json") && err.contains("not a JSON Feed"), "{err}");
}

#[test]
fn placeholders_come_from_the_configuration() {
    let dir = temp();
    let config = dir.path().join("sleuth.toml");
    std::fs::write(&config, "[sigma.placeholders]\nHomeTenantID = [\"00000000-0000-0000-0000-000000000000\"]\n")
        .unwrap();
    let rule = sigmahq()
        .join("rules-placeholder/cloud/azure/signin_logs/azure_users_authenticating_to_other_azure_ad_tenants.yml");
    let without = import_json(&[&rule]);
    assert_eq!(without[0]["class"], "placeholder without values");
    let (code, out, err) = run(&["rules", "import", "--format", "json", "--config", path(&config), path(&rule)]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"status\": \"compiled\""), "{out}");
}
