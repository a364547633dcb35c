//! `sleuth hunt` on the demo tenant: every attack story the built-in rules cover is found with
//! the story's user, time and addresses, ranked above the benign look-alikes, which raise
//! nothing above low; the output is deterministic; rules and configuration are documented
//! and checked.

use std::sync::OnceLock;

use serde_json::Value;

use crate::support::*;

/// The hunt's JSON report on the shared demo tenant (computed once).
fn report() -> &'static Value {
    static REPORT: OnceLock<Value> = OnceLock::new();
    REPORT.get_or_init(|| {
        intel_dir();
        let store = path(&demo().store);
        let (code, out, err) = run(&["hunt", "--store", store, "--format", "json", "--min-severity", "low"]);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
    })
}

fn incidents() -> &'static [Value] {
    report()["incidents"].as_array().unwrap()
}

fn alerts() -> impl Iterator<Item = &'static Value> {
    incidents().iter().flat_map(|i| i["alerts"].as_array().unwrap())
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// Which rule answers which signal of the demo manifest.
const RULE_FOR_SIGNAL: &[(&str, &str)] = &[
    ("credential_stuffing", "credential-stuffing"),
    ("password_spray", "password-spray"),
    ("smart_lockout_surge", "smart-lockout-surge"),
    ("username_enumeration", "username-enumeration"),
    ("impossible_travel", "impossible-travel"),
    ("countries_within_hour", "country-hopping"),
    ("risky_signins_five_countries", "risky-countries"),
    ("new_country", "new-country"),
    ("identity_protection_risk", "identity-protection-risk"),
    ("tor_signin", "anonymous-infrastructure"),
    ("bulletproof_hosting_signin", "anonymous-infrastructure"),
    ("hosting_signin", "anonymous-infrastructure"),
    ("vpn_admin_portal", "anonymous-infrastructure"),
    ("token_replay_from_hosting", "token-replay"),
    ("automation_user_agent", "automation-user-agent"),
    ("ca_block_burst", "ca-block-burst"),
    ("sspr_unlock_from_new_ip", "sspr-abuse"),
    ("sspr_reset_policy_failures", "sspr-abuse"),
    ("takeover_chain", "takeover-chain"),
    ("mfa_fatigue", "mfa-fatigue"),
    ("legacy_protocol_success", "legacy-protocol-success"),
    ("rogue_authenticator", "rogue-authenticator"),
    ("inbox_rule_finance_keywords", "mailbox-rules"),
    ("mailbox_forwarding_external", "mailbox-rules"),
    ("mail_sent_from_attacker_ip", "mail-from-flagged-address"),
    ("illicit_consent", "illicit-consent"),
];

/// Signals that describe a story but are no detection of their own: facts inside other
/// alerts (an unknown device), or conclusions only an investigation draws.
const NOT_A_DETECTION: &[&str] = &["unknown_device", "password_not_known"];

fn stories(kind: &str) -> Vec<&'static Value> {
    demo().manifest["stories"].as_array().unwrap().iter().filter(|s| s["kind"] == kind).collect()
}

#[test]
fn every_covered_attack_signal_is_found_on_the_right_user_time_and_addresses() {
    let mut checked = 0;
    for story in stories("attack") {
        let user = text(&story["user"]);
        let ips: Vec<&str> = story["ips"].as_array().unwrap().iter().map(text).collect();
        let (start, end) = (text(&story["start"]), text(&story["end"]));
        for signal in story["signals"].as_array().unwrap().iter().map(text) {
            let Some((_, rule)) = RULE_FOR_SIGNAL.iter().find(|(s, _)| *s == signal) else {
                assert!(NOT_A_DETECTION.contains(&signal), "story {}: no rule answers signal {signal}", story["id"]);
                continue;
            };
            let found = alerts().any(|a| {
                let on_user = a["user"] == user
                    || (a["user"].is_null() && a["facts"]["compromised_accounts"].to_string().contains(user));
                let in_time = text(&a["last_seen"]) >= start && text(&a["first_seen"]) <= end;
                let on_address = a["ip"].is_null() || ips.contains(&text(&a["ip"]));
                a["rule"] == *rule && on_user && in_time && on_address && a["severity"] != "low"
            });
            assert!(
                found,
                "story {} signal {signal}: no {rule} alert for {user} in {start}..{end} on {ips:?}",
                story["id"]
            );
            checked += 1;
        }
    }
    assert!(checked >= 30, "{checked} signals checked");
}

#[test]
fn benign_look_alikes_raise_nothing_above_low_and_rank_below_every_attack() {
    let rank_of = |user: &str| incidents().iter().position(|i| i["kind"] == "user" && i["key"] == user);
    let worst_attack =
        stories("attack").iter().filter_map(|s| rank_of(text(&s["user"]))).max().expect("attack incidents");
    for story in stories("benign") {
        let user = text(&story["user"]);
        for alert in alerts().filter(|a| a["user"] == user) {
            assert_eq!(alert["severity"], "low", "benign story {}: {alert:#}", story["id"]);
        }
        if let Some(rank) = rank_of(user) {
            assert!(rank > worst_attack, "benign story {} ranks {rank}, above an attack ({worst_attack})", story["id"]);
        }
    }
}

#[test]
fn alerts_carry_what_an_analyst_needs() {
    assert_eq!(report()["schema_version"], 1);
    let mut ids = std::collections::BTreeSet::new();
    for alert in alerts() {
        for field in ["id", "rule", "title", "severity", "first_seen", "last_seen", "explanation"] {
            assert!(!text(&alert[field]).is_empty(), "{field} missing: {alert:#}");
        }
        assert!(ids.insert(text(&alert["id"]).to_string()), "duplicate alert id {}", alert["id"]);
        assert!(!alert["mitre"].as_array().unwrap().is_empty());
        assert!(!alert["record_ids"].as_array().unwrap().is_empty());
        assert!(!text(&alert["explanation"]).contains('{'), "unfilled explanation: {}", alert["explanation"]);
        assert!(text(&alert["first_seen"]) <= text(&alert["last_seen"]));
    }
    // The record ids lead back to the store.
    let stuffing = alerts().find(|a| a["rule"] == "credential-stuffing" && a["severity"] == "high").unwrap();
    let first = text(&stuffing["record_ids"][0]);
    let n = count(&demo().store, &format!("SELECT count(*) FROM signins WHERE record_id = '{first}'"));
    assert_eq!(n, 1);
    // Incidents are ranked by score.
    let scores: Vec<f64> = incidents().iter().map(|i| i["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
}

#[test]
fn the_same_store_gives_the_same_report() {
    let strip = |mut v: Value| {
        for run in v["rules"].as_array_mut().unwrap() {
            run["millis"] = Value::Null;
        }
        v
    };
    let (code, out, err) = run(&["hunt", "--store", path(&demo().store), "--format", "json", "--min-severity", "low"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(strip(serde_json::from_str(&out).unwrap()), strip(report().clone()));
}

#[test]
fn a_rule_printed_with_sql_finds_what_the_hunt_finds() {
    let store = path(&demo().store);
    let (code, out, err) = run(&["hunt", "--store", store, "--format", "json", "--min-severity", "informational"]);
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    // Rules with prepared tables, whose single statement is put together by `rule --sql`.
    for rule in ["new-country", "password-spray", "credential-stuffing", "impossible-travel"] {
        let (code, sql, _) = run(&["rule", rule, "--sql"]);
        assert_eq!(code, 0);
        let found = count(&demo().store, &format!("SELECT count(*) AS n FROM ({sql}) t"));
        let run = report["rules"].as_array().unwrap().iter().find(|r| r["rule"] == rule).unwrap();
        assert!(found > 0, "{rule} finds nothing in the demo tenant");
        assert_eq!(found, run["alerts"].as_i64().unwrap(), "{rule}");
    }
}

#[test]
fn configuration_windows_and_exit_codes() {
    let store = path(&demo().store);
    let dir = temp();
    let config = dir.path().join("sleuth.toml");
    std::fs::write(
        &config,
        "[rules.credential-stuffing]\nmin_failures = 50\n\n[rules.password-spray]\nenabled = false\n",
    )
    .unwrap();
    let (code, out, err) = run(&["hunt", "--store", store, "--config", path(&config), "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let rules: Vec<&str> = report["rules"].as_array().unwrap().iter().map(|r| text(&r["rule"])).collect();
    assert!(!rules.contains(&"password-spray"), "{rules:?}");
    let stuffing = report["incidents"].to_string().contains("\"rule\":\"credential-stuffing\"");
    assert!(!stuffing, "50 failures are more than any story has");

    // No recovery window: every failure counts, and the spray is still found.
    std::fs::write(&config, "[rules.password-spray]\nrecovery_minutes = 0\n").unwrap();
    let (code, out, err) = run(&["hunt", "--store", store, "--config", path(&config), "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let incidents = serde_json::from_str::<Value>(&out).unwrap()["incidents"].to_string();
    assert!(incidents.contains("\"rule\":\"password-spray\""), "{incidents}");

    // A window after every story leaves nothing; --fail-on turns findings into exit 1.
    let end = text(&demo().manifest["end"]);
    let (code, out, _) = run(&["hunt", "--store", store, "--since", end]);
    let rules_ran = self::report()["rules"].as_array().unwrap().len();
    assert_eq!((code, out.trim()), (0, format!("No incidents ({rules_ran} rules ran).").as_str()));
    let (code, _, _) = run(&["hunt", "--store", store, "--since", end, "--fail-on", "low"]);
    let (high, csv, _) = run(&["hunt", "--store", store, "--fail-on", "high", "--format", "csv"]);
    assert_eq!((code, high), (0, 1));
    assert!(csv.starts_with("rank,incident,incident_key,alert,rule,severity,score,user,ip,"), "{csv}");

    // Mistakes in the configuration name the file and the problem.
    std::fs::write(&config, "[rules.credential-stuffing]\nmin_failures = \"many\"\n").unwrap();
    let (code, _, err) = run(&["hunt", "--store", store, "--config", path(&config)]);
    assert_eq!(code, 2);
    assert!(err.contains("sleuth.toml") && err.contains("takes a value like 5"), "{err}");
}

#[test]
fn rules_document_themselves() {
    let (code, out, err) = run(&["rules"]);
    assert_eq!(code, 0, "{err}");
    for rule in [
        "credential-stuffing",
        "password-spray",
        "impossible-travel",
        "anonymous-infrastructure",
        "token-replay",
        "ca-block-burst",
    ] {
        assert!(out.lines().any(|l| l.starts_with(rule)), "{rule} missing from:\n{out}");
    }
    let (code, out, _) = run(&["rule", "credential-stuffing"]);
    assert_eq!(code, 0);
    for part in [
        "severity high, MITRE T1110.004",
        "min_failures = 5",
        "False positives:",
        "References:",
        "Table failed (prepared once, before the query):\nSELECT record_id",
        "Query:\nWITH hits AS (",
    ] {
        assert!(out.contains(part), "{part:?} missing from:\n{out}");
    }
    // The query as one statement for `sleuth sql`: prepared tables in front, parameters filled.
    let (code, out, _) = run(&["rule", "credential-stuffing", "--sql"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("WITH failed AS (\nSELECT record_id") && out.contains("),\nok AS (\n"), "{out}");
    assert!(out.contains("HAVING count(*) >= 5") && !out.contains("{{"), "{out}");
    let (code, _, err) = run(&["rule", "no-such-rule"]);
    assert_eq!(code, 2);
    assert!(
        err.contains(
            "no rule \"no-such-rule\"; the rules are account-lockout, aitm-residential-replay, anonymous-infrastructure"
        ),
        "{err}"
    );

    // A user's own rule runs beside the built-in ones.
    let dir = temp();
    std::fs::write(
        dir.path().join("legacy.toml"),
        r#"id = "smtp-auth-success"
title = "Successful legacy-protocol sign-in"
description = "Single-factor protocols (SMTP, IMAP, POP) that succeed."
severity = "medium"
mitre = ["T1078.004"]
explain = "{n} successful {client} sign-ins"
query = '''
SELECT lower(user_principal_name) AS user, ip_address AS ip, min(time) AS first_seen, max(time) AS last_seen,
       array_agg(record_id) AS record_ids, count(*) AS n, max(client_app_used) AS client
FROM signins WHERE result_type = 0 AND client_app_used IN ('Authenticated SMTP', 'IMAP4', 'POP3')
GROUP BY 1, 2
'''
"#,
    )
    .unwrap();
    let (code, out, err) =
        run(&["hunt", "--store", path(&demo().store), "--rules", path(dir.path()), "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let legacy = report["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| i["alerts"].as_array().unwrap())
        .find(|a| a["rule"] == "smtp-auth-success")
        .expect("the user's rule fired");
    assert_eq!(legacy["user"], story("credential-stuffing")["user"]);
}

#[test]
fn a_prepared_table_cannot_hide_the_stores_tables() {
    let dir = temp();
    std::fs::write(
        dir.path().join("shadow.toml"),
        r#"id = "shadow"
title = "Shadows the sign-ins"
description = "A prepared table named like a table of the store."
severity = "low"
mitre = ["T1078"]
explain = "{user}"
query = "SELECT user AS user, NULL AS ip, now() AS first_seen, now() AS last_seen, make_array('x') AS record_ids FROM signins"

[[tables]]
name = "signins"
query = "SELECT 'nobody' AS user"
"#,
    )
    .unwrap();
    let (code, out, err) =
        run(&["hunt", "--store", path(&demo().store), "--rules", path(dir.path()), "--format", "json"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("rule shadow failed: the prepared table `signins` would hide a table"), "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["failures"].as_array().unwrap().len(), 1, "{err}");
    // The rules after it still read the store's sign-ins.
    let spray = report["rules"].as_array().unwrap().iter().find(|r| r["rule"] == "smart-lockout-surge").unwrap();
    assert!(spray["alerts"].as_u64().unwrap() > 0, "{spray}");
}
