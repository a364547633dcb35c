//! Labelled single-event tests from a public detection set (tests/fixtures/single-events,
//! Panther's Azure rules' tests, Apache 2.0): each event alone in a fresh store, hunted with
//! every built-in rule. At least 80% of the events that should alert raise an alert, at most
//! 20% of the others raise one at medium or above, and every event is read into a table.

use std::path::Path;

use serde_json::Value;

use crate::support::*;

struct Outcome {
    label: String,
    expected: bool,
    read: i64,
    /// The highest severity raised, if any, and the rules that raised something.
    worst: Option<&'static str>,
    rules: Vec<String>,
}

const SEVERITIES: [&str; 5] = ["informational", "low", "medium", "high", "critical"];

fn hunt_one(dir: &Path, n: usize, event: &Value) -> Outcome {
    let file = dir.join(format!("event-{n}.json"));
    std::fs::write(&file, event["log"].to_string()).unwrap();
    let store = dir.join(format!("store-{n}"));
    let (code, out, err) = run(&["ingest", path(&file), "--store", path(&store), "--quiet"]);
    assert_eq!(code, 0, "{}: {out}\n{err}", event["name"]);
    let read = count(
        &store,
        "SELECT (SELECT count(*) FROM signins) + (SELECT count(*) FROM audits) + (SELECT count(*) FROM service_principal_signins)
              + (SELECT count(*) FROM risk_detections) + (SELECT count(*) FROM azure_activity) AS n",
    );
    let (code, out, err) =
        run(&["hunt", "--store", path(&store), "--format", "json", "--min-severity", "informational"]);
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let alerts: Vec<&Value> =
        report["incidents"].as_array().unwrap().iter().flat_map(|i| i["alerts"].as_array().unwrap()).collect();
    let worst =
        alerts.iter().filter_map(|a| SEVERITIES.iter().position(|s| a["severity"] == *s)).max().map(|i| SEVERITIES[i]);
    let mut rules: Vec<String> = alerts.iter().map(|a| a["rule"].as_str().unwrap().to_owned()).collect();
    rules.sort();
    rules.dedup();
    Outcome {
        label: format!("{} / {}", event["rule"].as_str().unwrap(), event["name"].as_str().unwrap()),
        expected: event["expected"].as_bool().unwrap(),
        read,
        worst,
        rules,
    }
}

#[test]
fn single_events_that_should_alert_do_and_the_others_stay_below_medium() {
    intel_dir();
    let text = std::fs::read_to_string(fixture("single-events/panther-azure.jsonl")).unwrap();
    let events: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(events.len(), 47);
    let dir = temp();
    // Two at a time: each event is a process pair of its own.
    let outcomes: Vec<Outcome> = std::thread::scope(|s| {
        let halves: Vec<_> = [0, 1]
            .map(|half| {
                let (events, dir) = (&events, dir.path());
                s.spawn(move || {
                    events
                        .iter()
                        .enumerate()
                        .filter(|(n, _)| n % 2 == half)
                        .map(|(n, e)| hunt_one(dir, n, e))
                        .collect::<Vec<_>>()
                })
            })
            .into_iter()
            .collect();
        halves.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let unread: Vec<&str> = outcomes.iter().filter(|o| o.read == 0).map(|o| o.label.as_str()).collect();
    assert!(unread.is_empty(), "events not read into any table: {unread:?}");
    let should: Vec<&Outcome> = outcomes.iter().filter(|o| o.expected).collect();
    let should_not: Vec<&Outcome> = outcomes.iter().filter(|o| !o.expected).collect();
    let missed: Vec<&str> = should.iter().filter(|o| o.worst.is_none()).map(|o| o.label.as_str()).collect();
    let noisy: Vec<String> = should_not
        .iter()
        .filter(|o| o.worst.is_some_and(|w| matches!(w, "medium" | "high" | "critical")))
        .map(|o| format!("{} ({}: {:?})", o.label, o.worst.unwrap(), o.rules))
        .collect();
    let recall = (should.len() - missed.len()) as f64 / should.len() as f64;
    let noise = noisy.len() as f64 / should_not.len() as f64;
    eprintln!(
        "single events: {:.0}% of {} alert, {:.0}% of {} others at medium+",
        recall * 100.0,
        should.len(),
        noise * 100.0,
        should_not.len()
    );
    assert!(recall >= 0.8, "{:.0}% raise an alert; missed: {missed:#?}", recall * 100.0);
    assert!(noise <= 0.2, "{:.0}% of the others raise medium or above: {noisy:#?}", noise * 100.0);
}
