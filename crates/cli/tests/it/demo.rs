//! The demo tenant: deterministic, of the promised size, and holding every story of the
//! manifest in its records (the manifest is the answer sheet later stages are tested on).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::support::*;

fn digest(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().filter_map(Result::ok) {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                files.insert(
                    e.path().strip_prefix(dir).unwrap().display().to_string(),
                    std::fs::read(e.path()).unwrap(),
                );
            }
        }
    }
    files
}

#[test]
fn the_same_seed_gives_the_same_bytes() {
    let t = temp();
    let generate = |name: &str, seed: &str| {
        let dir = t.path().join(name);
        let (code, _, err) = run(&["demo", path(&dir), "--users", "60", "--days", "7", "--seed", seed]);
        assert_eq!(code, 0, "{err}");
        digest(&dir)
    };
    let a = generate("a", "5");
    let b = generate("b", "5");
    let c = generate("c", "6");
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (name, bytes) in &a {
        assert!(bytes == &b[name], "{name} differs between two runs with the same seed");
    }
    assert_ne!(
        a["signins/interactive-signins-beta-page-0001.json"],
        c["signins/interactive-signins-beta-page-0001.json"]
    );
}

#[test]
fn the_default_tenant_is_a_month_of_a_realistic_organisation() {
    let t = temp();
    let dir = t.path().join("d");
    let (code, out, err) = run(&["demo", path(&dir)]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("240 users, 30 days"), "{out}");
    let m: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    assert!(m["records"]["signins"].as_u64().unwrap() > 50_000, "{}", m["records"]);
    assert!(m["records"]["mailbox_activity"].as_u64().unwrap() > 5_000);
    assert!(m["records"]["message_trace"].as_u64().unwrap() > 5_000);
    let stories = m["stories"].as_array().unwrap();
    let ids: Vec<&str> = stories.iter().map(|s| s["id"].as_str().unwrap()).collect();
    for id in [
        "sspr-takeover-blocked",
        "token-theft-bec",
        "credential-stuffing",
        "impossible-travel",
        "tor-mfa-fatigue-consent",
        "password-spray",
    ] {
        assert!(ids.contains(&id), "{id} missing");
    }
    let users: std::collections::HashSet<&str> = stories.iter().map(|s| s["user"].as_str().unwrap()).collect();
    assert_eq!(users.len(), stories.len(), "each story has its own user");
    assert!(stories.iter().filter(|s| s["kind"] == "benign").count() >= 6);
}

fn story<'a>(m: &'a Value, id: &str) -> &'a Value {
    m["stories"].as_array().unwrap().iter().find(|s| s["id"] == id).unwrap_or_else(|| panic!("no story {id}"))
}

fn in_list(values: &Value) -> String {
    values.as_array().unwrap().iter().map(|v| format!("'{}'", v.as_str().unwrap())).collect::<Vec<_>>().join(",")
}

#[test]
fn every_story_is_in_the_records_at_its_time_from_its_ips() {
    let demo = demo();
    for s in demo.manifest["stories"].as_array().unwrap() {
        let sql = format!(
            "SELECT (SELECT count(*) FROM signins WHERE user_principal_name = '{u}' AND time BETWEEN '{a}' AND '{b}' AND ip_address IN ({ips}))
                  + (SELECT count(*) FROM audits WHERE user_principal_name = '{u}' AND time BETWEEN '{a}' AND '{b}' AND initiated_by_ip IN ({ips}))
                  + (SELECT count(*) FROM mailbox_activity WHERE user_principal_name = '{u}' AND time BETWEEN '{a}' AND '{b}')",
            u = s["user"].as_str().unwrap(),
            a = s["start"].as_str().unwrap(),
            b = s["end"].as_str().unwrap(),
            ips = in_list(&s["ips"]),
        );
        assert!(count(&demo.store, &sql) > 0, "story {} has no records for its user, window and IPs", s["id"]);
    }
}

#[test]
fn seed_000_story_holds_what_the_seed_describes() {
    let demo = demo();
    let s = story(&demo.manifest, "sspr-takeover-blocked");
    let u = s["user"].as_str().unwrap();
    let blocked = query(
        &demo.store,
        &format!(
            "SELECT DISTINCT country FROM signins WHERE user_principal_name = '{u}' AND result_type IN (53003, 53004) AND risk_state = 'atRisk' ORDER BY country"
        ),
    );
    let countries: Vec<&str> = blocked.iter().map(|r| r["country"].as_str().unwrap()).collect();
    assert_eq!(countries, ["BD", "ES", "MX", "MY", "PH"]);
    assert_eq!(
        count(
            &demo.store,
            &format!(
                "SELECT count(*) FROM signins WHERE user_principal_name = '{u}' AND result_type IN (53003, 53004) AND array_has(authentication_step_results, 'Correct password')"
            )
        ),
        0
    );
    assert_eq!(
        count(
            &demo.store,
            &format!(
                "SELECT count(*) FROM audits WHERE user_principal_name = '{u}' AND activity = 'Unlock user account (self-service)' AND result = 'success'"
            )
        ),
        2
    );
    let resets = query(
        &demo.store,
        &format!(
            "SELECT result_reason FROM audits WHERE user_principal_name = '{u}' AND activity = 'Reset password (self-service)' AND result = 'failure' ORDER BY time"
        ),
    );
    assert_eq!(resets.len(), 4);
    assert!(resets.iter().all(|r| r["result_reason"].as_str().unwrap().ends_with("PolicyViolation")));
}

#[test]
fn seed_003_story_holds_what_the_seed_describes() {
    let demo = demo();
    let s = story(&demo.manifest, "token-theft-bec");
    let u = s["user"].as_str().unwrap();
    assert!(
        count(
            &demo.store,
            &format!(
                "SELECT count(*) FROM signins WHERE user_principal_name = '{u}' AND mfa_satisfied_by_token AND user_agent LIKE 'node-fetch/%' AND ip_address LIKE '89.187.164.%'"
            )
        ) >= 4
    );
    let rogue = query(
        &demo.store,
        &format!(
            "SELECT modified_properties, initiated_by_ip FROM audits WHERE user_principal_name = '{u}' AND array_has(modified_property_names, 'StrongAuthenticationPhoneAppDetail')"
        ),
    );
    assert_eq!(rogue.len(), 1);
    assert!(rogue[0]["modified_properties"].as_str().unwrap().contains("Infinix"));
    assert_eq!(rogue[0]["initiated_by_ip"], "89.187.164.82");
    let rule = query(
        &demo.store,
        &format!(
            "SELECT move_to_folder, client_ip FROM mailbox_activity WHERE user_principal_name = '{u}' AND operation = 'New-InboxRule'"
        ),
    );
    assert_eq!(rule[0]["move_to_folder"], "RSS Subscriptions");
    assert_eq!(rule[0]["client_ip"], "89.187.164.82");
    let recipients = query(
        &demo.store,
        &format!(
            "SELECT DISTINCT recipient_address FROM message_trace WHERE sender_address = '{u}' AND original_client_ip IN ({}) ORDER BY 1",
            in_list(&s["ips"])
        ),
    );
    let got: Vec<&str> = recipients.iter().map(|r| r["recipient_address"].as_str().unwrap()).collect();
    let mut expected: Vec<&str> = s["related_users"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    expected.sort();
    assert_eq!(got, expected);
}

#[test]
fn seed_002_spray_touches_many_users_with_lockouts_and_enumeration() {
    let demo = demo();
    let s = story(&demo.manifest, "password-spray");
    let ips = in_list(&s["ips"]);
    let rows = query(&demo.store, &format!(
        "SELECT count(DISTINCT user_principal_name) AS users, sum(CASE WHEN result_type = 50053 THEN 1 ELSE 0 END) AS locked,
                sum(CASE WHEN result_type = 50034 THEN 1 ELSE 0 END) AS unknown FROM signins WHERE ip_address IN ({ips})"));
    assert!(rows[0]["users"].as_i64().unwrap() >= 40, "{:?}", rows[0]);
    assert!(rows[0]["locked"].as_i64().unwrap() >= 10);
    assert!(rows[0]["unknown"].as_i64().unwrap() >= 20);
    assert_eq!(
        count(
            &demo.store,
            &format!(
                "SELECT count(*) FROM risk_detections WHERE user_principal_name = '{}' AND risk_event_type = 'newCountry'",
                s["user"].as_str().unwrap()
            )
        ),
        1
    );
}

#[test]
fn the_demo_ingests_cleanly() {
    let out = &demo().ingest_stdout;
    assert!(!out.contains("PARTIAL") && !out.contains("FAILED") && !out.contains("EMPTY"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("unrecognised") && l.contains("manifest.json")), "{out}");
    assert!(out.contains("[UTF-16]") && out.contains("[gzip]") && out.contains("[UTF-8 BOM]"), "{out}");
}
