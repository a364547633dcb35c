//! Every rule on its true-positive story and on its benign look-alike, each cut from the demo
//! tenant into a folder of real-format exports (tests/fixtures/stories, made by cut.py; the
//! stories of changes the demo does not make are written by tests/fixtures/sources/make.py): the
//! attack raises the rule at medium or above for the story's user, the look-alike raises
//! nothing above low, and both outputs are pinned as snapshots (tests/snapshots/rules).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use serde_json::{Value, json};

use crate::support::*;

/// (rule, the attack story it must find, the benign look-alike it must spare).
const CASES: &[(&str, &str, &str)] = &[
    ("account-lockout", "targeted-lockouts", "benign-old-password-phone"),
    ("aitm-residential-replay", "aitm-residential-replay", "benign-phone-new-carrier"),
    ("anonymous-infrastructure", "tor-mfa-fatigue-consent", "benign-service-account"),
    ("automation-user-agent", "token-theft-bec", "benign-service-account"),
    ("ca-block-burst", "sspr-takeover-blocked", "benign-mfa-denial"),
    ("country-hopping", "impossible-travel", "benign-corporate-proxy"),
    ("credential-stuffing", "credential-stuffing", "benign-typos"),
    ("device-code-phishing", "device-code-phishing", "benign-device-code-office"),
    ("graph-token-many-networks", "graph-token-replay", "benign-phone-roaming"),
    ("identity-protection-risk", "password-spray", "benign-traveller"),
    ("illicit-consent", "tor-mfa-fatigue-consent", "benign-new-authenticator"),
    ("impossible-travel", "impossible-travel", "benign-traveller"),
    ("legacy-protocol-success", "credential-stuffing", "benign-service-account"),
    ("low-and-slow-spray", "low-and-slow-spray", "benign-printer-retries"),
    ("mail-from-flagged-address", "token-theft-bec", "benign-inbox-rule"),
    ("mailbox-rules", "token-theft-bec", "benign-inbox-rule"),
    ("mfa-fatigue", "tor-mfa-fatigue-consent", "benign-mfa-denial"),
    ("new-country", "password-spray", "benign-traveller"),
    ("password-spray", "password-spray", "benign-corporate-proxy"),
    ("risky-countries", "sspr-takeover-blocked", "benign-traveller"),
    ("risky-sign-in", "tor-mfa-fatigue-consent", "benign-traveller"),
    ("rogue-authenticator", "token-theft-bec", "benign-new-authenticator"),
    ("sensitive-change", "privileged-takeover", "benign-admin-work"),
    ("smart-lockout-surge", "password-spray", "benign-typos"),
    ("sspr-abuse", "sspr-takeover-blocked", "benign-sspr"),
    ("takeover-chain", "token-theft-bec", "benign-new-authenticator"),
    ("token-replay", "token-theft-bec", "benign-traveller"),
    ("username-enumeration", "password-spray", "benign-typos"),
    ("vscode-client-graph-token", "vscode-graph-phishing", "benign-vscode-developer"),
    ("workload-identity-anomaly", "workload-credential-takeover", "benign-secret-rotation"),
];

fn story_dir(id: &str) -> PathBuf {
    fixture("stories").join(id)
}

/// The hunt's report (every rule, down to low) on one story's fixture, computed once.
fn hunt(id: &str) -> Value {
    static REPORTS: OnceLock<Mutex<BTreeMap<String, Value>>> = OnceLock::new();
    let reports = REPORTS.get_or_init(Default::default);
    if let Some(report) = reports.lock().unwrap().get(id) {
        return report.clone();
    }
    intel_dir();
    let dir = temp();
    let store = dir.path().join("store");
    let (code, out, err) = run(&["ingest", path(&story_dir(id)), "--store", path(&store), "--quiet"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) = run(&["hunt", "--store", path(&store), "--format", "json", "--min-severity", "low"]);
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    reports.lock().unwrap().insert(id.to_string(), report.clone());
    report
}

fn alerts_of(report: &Value, rule: &str) -> Vec<Value> {
    report["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| i["alerts"].as_array().unwrap())
        .filter(|a| a["rule"] == rule)
        .cloned()
        .collect()
}

fn story(id: &str) -> Value {
    let text = std::fs::read_to_string(story_dir(id).join("story.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn names(alert: &Value, user: &str) -> bool {
    alert["user"] == user || alert["facts"]["compromised_accounts"].to_string().contains(user)
}

#[test]
fn every_rule_has_an_attack_and_a_look_alike() {
    let (code, out, err) = run(&["rules"]);
    assert_eq!(code, 0, "{err}");
    let listed: Vec<&str> =
        out.lines().filter_map(|l| l.split_whitespace().next()).filter(|w| w.contains('-')).collect();
    let covered: Vec<&str> = CASES.iter().map(|(rule, ..)| *rule).collect();
    assert_eq!(listed, covered, "`sleuth rules` and the cases differ");
    for (rule, attack, benign) in CASES {
        assert_eq!(story(attack)["kind"], "attack", "{rule}");
        assert_eq!(story(benign)["kind"], "benign", "{rule}");
    }
}

#[test]
fn each_rule_finds_its_attack_and_spares_its_look_alike() {
    for (rule, attack, benign) in CASES {
        let (attack_story, benign_story) = (story(attack), story(benign));
        let found = alerts_of(&hunt(attack), rule);
        let user = attack_story["user"].as_str().unwrap();
        assert!(
            found.iter().any(|a| names(a, user) && a["severity"] != "low"),
            "{rule} raised nothing above low for {user} on {attack}: {found:#?}"
        );
        let spared = alerts_of(&hunt(benign), rule);
        for alert in &spared {
            assert_eq!(alert["severity"], "low", "{rule} on the look-alike {benign}: {alert:#}");
        }
        let snapshot = json!({
            "rule": rule,
            "attack": {"story": attack, "user": user, "alerts": found},
            "benign": {"story": benign, "user": benign_story["user"], "alerts": spared},
        });
        insta::with_settings!({
            snapshot_path => "../snapshots/rules",
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!(*rule, serde_json::to_string_pretty(&snapshot).unwrap());
        });
    }
}

/// sensitive-change reads each change in its actor's context: routine from the usual network
/// (low), no history to compare with (low, said), a network the actor never used or an
/// application adding a credential (medium), after a sign-in from a Tor exit (high; critical
/// for a privileged role), and a routine update is no sensitive change at all.
#[test]
fn sensitive_changes_take_their_severity_from_the_actor_context() {
    intel_dir();
    let t = temp();
    let store = t.path().join("store");
    let sources = fixture("sources");
    let files = [
        sources.join("sensitive_changes.signins.graph.json"),
        sources.join("sensitive_changes.audits.graph.json"),
        sources.join("azure_activity.az_cli.json"),
    ];
    let mut args = vec!["ingest"];
    args.extend(files.iter().map(|f| path(f)));
    args.extend(["--store", path(&store), "--quiet"]);
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) =
        run(&["hunt", "--store", path(&store), "--format", "json", "--min-severity", "informational"]);
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let mut by_record = BTreeMap::new();
    for alert in alerts_of(&report, "sensitive-change") {
        for id in alert["record_ids"].as_array().unwrap() {
            by_record.insert(id.as_str().unwrap().to_string(), alert.clone());
        }
    }
    let expected = [
        ("Directory_c0000001", "low", "from an address the actor signed in from before"),
        ("Directory_c0000002", "low", "no history"),
        ("Directory_c0000003", "medium", "never signed in from"),
        ("Directory_c0000004", "high", "MFA weakened"),
        ("Directory_c0000005", "high", "credential added to an application"),
        ("Directory_c0000006", "critical", "privileged role granted"),
        ("Directory_c0000007", "medium", "initiated by an application"),
        // Through the company VPN that egresses from a cloud: hosting, but the actor's own.
        ("Directory_c0000012", "low", "from an address the actor signed in from before"),
        // The Azure role assignment; the VM command and the failed Key Vault change beside it
        // are no sensitive change.
        ("1b2c3d4e-5f60-4718-293a-4b5c6d7e8f90", "high", "Azure role assigned"),
    ];
    for (record, severity, says) in expected {
        let alert = by_record.get(record).unwrap_or_else(|| panic!("{record} raised nothing: {by_record:#?}"));
        assert_eq!(alert["severity"], severity, "{record}: {alert:#}");
        assert!(alert["explanation"].as_str().unwrap().contains(says), "{record}: {alert:#}");
    }
    assert_eq!(
        by_record.len(),
        expected.len(),
        "a routine update, a VM command and a failed change raise nothing: {by_record:#?}"
    );
    assert_eq!(by_record["Directory_c0000006"]["mitre"], json!(["T1098.003"]));
    assert_eq!(by_record["Directory_c0000003"]["mitre"], json!(["T1556.009"]));
}
