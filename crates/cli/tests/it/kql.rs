//! `sleuth kql`: the seeds' KQL, run offline. Seed 001's datatable tests give their expected
//! row; its runbook steps and seed 004's detection run on the demo store, and their answers
//! agree with the same questions asked in SQL.

use serde_json::Value;

use crate::support::*;

/// The ```kql blocks of a seed, in order.
fn kql_blocks(seed_prefix: &str) -> Vec<String> {
    let seed = std::fs::read_dir(shared().join("seeds"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(seed_prefix))
        .unwrap();
    let text = std::fs::read_to_string(seed).unwrap();
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match (&mut current, line.trim_start()) {
            (None, l) if l.starts_with("```kql") => current = Some(String::new()),
            (Some(_), l) if l.starts_with("```") => blocks.push(current.take().unwrap()),
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            _ => {}
        }
    }
    blocks
}

fn kql(args: &[&str]) -> Vec<Value> {
    let mut all = vec!["kql", "--format", "json"];
    all.extend(args);
    let (code, out, err) = run(&all);
    assert_eq!(code, 0, "sleuth kql failed: {err}\n{}", args.last().unwrap());
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

#[test]
fn seed_001_datatable_tests_give_their_expected_row() {
    let tests: Vec<String> = kql_blocks("001").into_iter().filter(|b| b.contains("datatable(")).collect();
    assert_eq!(tests.len(), 4, "the seed's appendix holds four datatable tests");
    let rows: Vec<Vec<Value>> = tests.iter().map(|t| kql(&[t])).collect();
    for (k, r) in rows.iter().enumerate() {
        assert_eq!(r.len(), 1, "test {} expects one row: {r:?}", k + 1);
    }
    // Test 1: two SSPR events for alice from her reset address; the admin reset of bob is out.
    assert_eq!(rows[0][0]["EventCount"], 2);
    assert_eq!(rows[0][0]["ActorIP"], "198.51.100.50");
    let operations = rows[0][0]["Operations"].as_array().unwrap();
    assert_eq!(operations.len(), 2, "{operations:?}");
    // Test 2: the MFA registration 15 minutes after the reset.
    assert_eq!(rows[1][0]["MinutesSinceReset"], 15);
    assert_eq!(rows[1][0]["OperationName"], "Register security info");
    // Test 3: a new address in a new country.
    assert_eq!(rows[2][0]["IsNewIP"], true);
    assert_eq!(rows[2][0]["IsNewCountry"], true);
    // Test 4: the hosting ASN that reset three accounts.
    assert_eq!(rows[3][0]["AutonomousSystemNumber"], 14061);
    assert_eq!(rows[3][0]["TargetedAccounts"], 3);
    assert_eq!(rows[3][0]["ResetCount"], 3);
}

#[test]
fn a_datatable_test_that_should_fail_does() {
    // The same test 1 with alice's events from another address: its last `where` removes the row.
    let test = kql_blocks("001").into_iter().find(|b| b.contains("TEST 1")).unwrap();
    let changed = test.replace(
        "\"alice@contoso.com\",\"ipAddress\":\"198.51.100.50\"",
        "\"alice@contoso.com\",\"ipAddress\":\"203.0.113.9\"",
    );
    assert_ne!(changed, test);
    assert!(kql(&[&changed]).is_empty());
}

#[test]
fn errors_point_at_the_query_text() {
    let (code, _, err) = run(&["kql", "datatable(a: long)[1] | where b > 1"]);
    assert_ne!(code, 0);
    assert!(err.contains("line 1, column 31") && err.contains("`b` is not a column"), "{err}");
    assert!(err.contains("^"), "{err}");
    let (code, _, err) = run(&["kql", "datatable(a: long)[1]\n| summarise count()"]);
    assert_ne!(code, 0);
    assert!(err.contains("line 2, column 3") && err.contains("`summarise` is not a tabular operator"), "{err}");
    let (code, _, err) = run(&["kql", "print x = 'unclosed"]);
    assert_ne!(code, 0);
    assert!(err.contains("line 1, column 11") && err.contains("not closed"), "{err}");
}

#[test]
fn kql_and_sql_agree_on_the_demo_store() {
    let store = &demo().store;
    let s = path(store);
    // Failures per account, the KQL way and the SQL way.
    let by_kql = kql(&[
        "--store",
        s,
        "SigninLogs | where ResultType != '0' | summarize Failures = count(), Addresses = dcount(IPAddress) by UserPrincipalName | sort by Failures desc, UserPrincipalName asc | take 5",
    ]);
    let by_sql = query(
        store,
        "SELECT user_principal_name, count(*) AS failures, count(DISTINCT ip_address) AS addresses FROM signins
         WHERE coalesce(is_interactive, true) AND result_type <> 0
         GROUP BY 1 ORDER BY 2 DESC, 1 ASC LIMIT 5",
    );
    assert_eq!(by_kql.len(), by_sql.len());
    assert!(!by_kql.is_empty());
    for (k, s) in by_kql.iter().zip(&by_sql) {
        assert_eq!(k["UserPrincipalName"], s["user_principal_name"]);
        assert_eq!(k["Failures"], s["failures"]);
        assert_eq!(k["Addresses"], s["addresses"]);
    }
    // Dynamic columns: countries from LocationDetails agree with the country column.
    let by_kql = kql(&[
        "--store",
        s,
        "AADSignInLogs | extend Country = tostring(LocationDetails.countryOrRegion) | where isnotempty(Country) | summarize n = count() by Country | sort by n desc, Country asc | take 3",
    ]);
    let by_sql = query(
        store,
        "SELECT country, count(*) AS n FROM signins WHERE country IS NOT NULL AND country <> '' GROUP BY 1 ORDER BY 2 DESC, 1 ASC LIMIT 3",
    );
    let kql_pairs: Vec<(Value, Value)> = by_kql.iter().map(|r| (r["Country"].clone(), r["n"].clone())).collect();
    let sql_pairs: Vec<(Value, Value)> = by_sql.iter().map(|r| (r["country"].clone(), r["n"].clone())).collect();
    assert_eq!(kql_pairs, sql_pairs);
    // InitiatedBy and TargetResources of the audit log, against the normalised columns.
    let by_kql = kql(&[
        "--store",
        s,
        "AuditLogs | where isnotempty(tostring(InitiatedBy.user.ipAddress)) | summarize n = count(), targets = dcount(tostring(TargetResources[0].userPrincipalName))",
    ]);
    let n = count(store, "SELECT count(*) FROM audits WHERE initiated_by_ip IS NOT NULL AND initiated_by_ip <> ''");
    assert_eq!(by_kql[0]["n"], n);
    assert!(by_kql[0]["targets"].as_i64().unwrap() > 0, "{by_kql:?}");
}

#[test]
fn seed_004_runs_on_the_demo_store_and_its_first_signal_matches_sql() {
    let store = &demo().store;
    let query_text = kql_blocks("004").into_iter().next().unwrap_or_else(|| {
        // Seed 004 is not in fenced blocks: the query runs from `let timeWindow` to the sort.
        let seed = std::fs::read_dir(shared().join("seeds"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("004"))
            .unwrap();
        let text = std::fs::read_to_string(seed).unwrap();
        let start = text.find("let timeWindow").unwrap();
        let end = text[start..].find("TimeGenerated desc").unwrap() + start + "TimeGenerated desc".len();
        text[start..end].to_string()
    });
    // The whole demo window, not the last day only.
    let query_text = query_text.replace("let timeWindow = 24h;", "let timeWindow = 30d;");
    let rows = kql(&["--store", path(store), &query_text]);
    assert!(!rows.is_empty(), "the demo tenant holds credential stuffing and travel");
    for row in &rows {
        let kind = row["DetectionType"].as_str().unwrap();
        assert!(["CredentialStuffing", "ImpossibleTravel", "SuspiciousHostingASN"].contains(&kind), "{row}");
    }
    // Signal 1 in SQL: accounts with 5+ failures (other than 50053 and 50076) and a success.
    let stuffing: Vec<String> = rows
        .iter()
        .filter(|r| r["DetectionType"] == "CredentialStuffing")
        .map(|r| r["UserPrincipalName"].as_str().unwrap().to_string())
        .collect();
    let expected: Vec<String> = query(
        store,
        "SELECT user_principal_name FROM signins
         WHERE result_type NOT IN (50053, 50076)
         GROUP BY 1 HAVING count(*) FILTER (WHERE result_type <> 0) >= 5 AND count(*) FILTER (WHERE result_type = 0) >= 1",
    )
    .iter()
    .map(|r| r["user_principal_name"].as_str().unwrap().to_string())
    .collect();
    let mut a = stuffing.clone();
    let mut b = expected.clone();
    a.sort();
    b.sort();
    assert_eq!(a, b);
    assert!(!a.is_empty());
}

#[test]
fn the_runbook_steps_of_seed_001_run_on_the_demo_store() {
    let store = &demo().store;
    let story = story("sspr-takeover-blocked");
    let user = story["user"].as_str().expect("the story's user");
    // The alert at the end of the story: the runbook looks back from it.
    let first = story["end"].as_str().expect("the story's end");
    let steps: Vec<String> = kql_blocks("001")
        .into_iter()
        .filter(|b| b.contains("// Step"))
        .map(|b| {
            b.replace("user@company.com", user)
                .replace("user@contoso.com", user)
                .replace("2026-02-22T14:30:00Z", first)
                .replace("2026-02-22T07:00:00Z", first)
        })
        .collect();
    assert!(steps.len() >= 7, "the runbook has seven steps, found {}", steps.len());
    let mut answered = 0;
    for step in &steps {
        let (code, out, err) = run(&["kql", "--store", path(store), "--format", "json", step]);
        assert_eq!(code, 0, "{err}\n{step}");
        let rows: Vec<Value> = serde_json::from_str(&out).unwrap();
        if !rows.is_empty() {
            answered += 1;
        }
    }
    // Step 1 finds the story's self-service resets.
    let rows = kql(&["--store", path(store), &steps[0]]);
    assert!(
        rows.iter().any(|r| r["OperationName"].as_str().unwrap_or("").contains("Self-service password reset")),
        "{rows:?}"
    );
    assert!(answered >= 3, "only {answered} steps found anything");
}

/// The tables the Sentinel views provide.
const SENTINEL_TABLES: &[&str] = &[
    "SigninLogs",
    "AADNonInteractiveUserSignInLogs",
    "AADServicePrincipalSignInLogs",
    "AADManagedIdentitySignInLogs",
    "AuditLogs",
    "AADUserRiskEvents",
    "AADRiskyUsers",
    "OfficeActivity",
];

#[derive(Debug)]
enum Outcome {
    Ran(usize),
    Parse(String),
    Plan(String),
    Run(String),
}

/// Sentinel's analytics and hunting queries over the tables above (every data type a rule
/// requires is one of them): how many parse, plan and run on the demo store. The report
/// (`SLEUTH_KQL_REPORT=FILE` writes it as Markdown) lists the reason for each that does not.
#[test]
fn sentinel_identity_queries_parse_plan_and_run() {
    let store = sleuth_store::Store::open(&demo().store).unwrap();
    let mut rules: Vec<(String, String)> = Vec::new();
    let mut stack = vec![shared().join("rules/sentinel")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let Ok(doc) = yaml_serde::from_str::<Value>(&std::fs::read_to_string(&path).unwrap()) else { continue };
            let Some(query) = doc["query"].as_str() else { continue };
            let types: Vec<String> = doc["requiredDataConnectors"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|c| c["dataTypes"].as_array().cloned().unwrap_or_default())
                .filter_map(|t| t.as_str().map(|t| t.split(" (").next().unwrap().trim().to_string()))
                .collect();
            if types.is_empty() || !types.iter().all(|t| SENTINEL_TABLES.contains(&t.as_str())) {
                continue;
            }
            let name = path.strip_prefix(shared().join("rules/sentinel")).unwrap().display().to_string();
            rules.push((name, query.to_string()));
        }
    }
    rules.sort();
    assert!(rules.len() >= 40, "{} identity queries found", rules.len());
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let outcomes: Vec<Outcome> = runtime.block_on(async {
        let ctx = store.session().await.unwrap();
        let tables = sleuth_kql::sentinel::tables(&ctx).await.unwrap();
        let options = sleuth_kql::Options::at_micros(sleuth_kql::latest_event(&ctx).await.unwrap().unwrap());
        let mut outcomes = Vec::new();
        for (_, query) in &rules {
            let outcome = match sleuth_kql::plan(&ctx, &tables, query, &options) {
                Err(e @ sleuth_kql::KqlError::Syntax { .. }) => Outcome::Parse(e.to_string()),
                Err(e) => Outcome::Plan(e.to_string()),
                Ok(plan) => match ctx.execute_logical_plan(plan).await {
                    Err(e) => Outcome::Run(e.to_string()),
                    Ok(frame) => match frame.collect().await {
                        Ok(batches) => Outcome::Ran(batches.iter().map(|b| b.num_rows()).sum()),
                        Err(e) => Outcome::Run(e.to_string()),
                    },
                },
            };
            outcomes.push(outcome);
        }
        outcomes
    });
    let total = rules.len();
    let parsed = outcomes.iter().filter(|o| !matches!(o, Outcome::Parse(_))).count();
    let planned = outcomes.iter().filter(|o| matches!(o, Outcome::Ran(_) | Outcome::Run(_))).count();
    let ran = outcomes.iter().filter(|o| matches!(o, Outcome::Ran(_))).count();
    let mut report = format!(
        "# Sentinel identity queries on the demo store\n\n{total} queries of `shared/rules/sentinel` whose data types are all \
         Sentinel views Sleuth provides: **{parsed} parse, {planned} plan, {ran} run** ({}%).\n\n\
         | query | outcome |\n|---|---|\n",
        ran * 100 / total
    );
    for ((name, _), outcome) in rules.iter().zip(&outcomes) {
        let text = match outcome {
            Outcome::Ran(rows) => format!("runs, {rows} rows"),
            Outcome::Parse(e) => format!("parse: {e}"),
            Outcome::Plan(e) => format!("plan: {e}"),
            Outcome::Run(e) => format!("run: {e}"),
        };
        let text: String = text.chars().take(300).collect::<String>().replace('|', "\\|").replace('\n', " ");
        report.push_str(&format!("| {} | {text} |\n", name.replace('|', "\\|")));
    }
    println!("{report}");
    if let Some(file) = std::env::var_os("SLEUTH_KQL_REPORT") {
        std::fs::write(file, &report).unwrap();
    }
    assert!(ran * 100 >= total * 80, "{ran} of {total} run: below 80%\n{report}");
}

/// A rule file in KQL hunts like its SQL twin: the same accounts, spans and records.
#[test]
fn a_kql_rule_hunts_like_its_sql_twin() {
    let dir = temp();
    let rule = |id: &str, language: &str, query: &str| {
        format!(
            r#"id = "{id}"
title = "Legacy protocol success"
description = "Single-factor protocols (SMTP, IMAP, POP) that succeed."
severity = "medium"
mitre = ["T1078.004"]
explain = "{{n}} successful sign-ins"
language = "{language}"
query = '''
{query}
'''
[parameters]
clients = {{ default = ["Authenticated SMTP", "IMAP4", "POP3"], description = "legacy clients" }}
"#
        )
    };
    std::fs::write(
        dir.path().join("sql.toml"),
        rule(
            "legacy-sql",
            "sql",
            "SELECT lower(user_principal_name) AS user, ip_address AS ip, min(time) AS first_seen, max(time) AS last_seen,
                    array_agg(record_id) AS record_ids, count(*) AS n
             FROM signins WHERE result_type = 0 AND client_app_used IN {{clients}} GROUP BY 1, 2",
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("kql.toml"),
        rule(
            "legacy-kql",
            "kql",
            "AADSignInLogs
| where ResultType == '0' and ClientAppUsed in {{clients}}
| summarize first_seen = min(TimeGenerated), last_seen = max(TimeGenerated), record_ids = make_list(Id), n = count()
    by user = tolower(UserPrincipalName), ip = IPAddress",
        ),
    )
    .unwrap();
    let (code, out, err) = run(&[
        "hunt",
        "--store",
        path(&demo().store),
        "--rules",
        path(dir.path()),
        "--format",
        "json",
        "--min-severity",
        "low",
    ]);
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let hits = |rule: &str| {
        let mut found: Vec<(Value, Value, Value, Value, Value)> = report["incidents"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|i| i["alerts"].as_array().unwrap())
            .filter(|a| a["rule"] == rule)
            .map(|a| {
                (
                    a["user"].clone(),
                    a["ip"].clone(),
                    a["first_seen"].clone(),
                    a["last_seen"].clone(),
                    a["record_ids"].clone(),
                )
            })
            .collect();
        found.sort_by_key(|f| format!("{f:?}"));
        found
    };
    let (sql, kql) = (hits("legacy-sql"), hits("legacy-kql"));
    assert!(!sql.is_empty(), "the demo tenant signs in over SMTP");
    assert_eq!(sql, kql);

    // A KQL rule that does not parse is refused when the rules are read, with the place.
    std::fs::write(dir.path().join("bad.toml"), rule("bad-kql", "kql", "AADSignInLogs | where ResultType == "))
        .unwrap();
    let (code, _, err) = run(&["hunt", "--store", path(&demo().store), "--rules", path(dir.path())]);
    assert_ne!(code, 0);
    assert!(err.contains("bad.toml") && err.contains("in the KQL, line"), "{err}");
}
