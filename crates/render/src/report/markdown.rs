//! Markdown, laid out like seed 000: verdict, summary, the questions with their evidence and
//! conclusions (routine checks grouped), key pivots, timeline, IOCs, detection opportunities,
//! verdict reasoning, lessons, containment and metrics.

use std::fmt::Write;

use serde_json::Value;

use super::{field, list, text};

/// Escapes text for Markdown that may be turned into HTML (`crate::text::markdown`):
/// a log value cannot open a link, an image, raw HTML or a table cell.
pub fn escape(text: &str) -> String {
    crate::text::markdown(text)
}

/// A report field's text, escaped.
pub(crate) fn e(value: &Value, key: &str) -> String {
    escape(&field(value, key))
}

pub fn render(report: &Value) -> String {
    let mut md = String::new();
    let w = &mut md;
    let _ = writeln!(w, "# {}\n", e(report, "title"));
    let _ = writeln!(
        w,
        "**Verdict:** {} · **Confidence:** {} · **Escalation:** {}\n",
        e(report, "verdict"),
        e(report, "confidence"),
        e(report, "escalation")
    );
    let tags: Vec<String> = list(report, "tags").iter().map(|t| format!("`{}`", escape(&text(t)))).collect();
    if !tags.is_empty() {
        let _ = writeln!(w, "Tags: {}\n", tags.join(" "));
    }
    let _ = writeln!(w, "{}\n", e(report, "summary"));
    let subject = &report["subject"];
    let _ = writeln!(
        w,
        "Subject: {} · window {} to {} ({})\n",
        e(subject, "user"),
        e(subject, "start"),
        e(subject, "end"),
        e(subject, "window_from")
    );

    let _ = writeln!(w, "## The questions we asked\n");
    let questions = list(report, "questions");
    let mut i = 0;
    while i < questions.len() {
        let q = &questions[i];
        if field(q, "group") == "routine" {
            let mut j = i;
            while j < questions.len() && field(&questions[j], "group") == "routine" {
                j += 1;
            }
            if j - i > 1 {
                let _ = writeln!(w, "### Q{}-Q{}: {} checks, mostly ruling out the obvious\n", i + 1, j, j - i);
                for (k, q) in questions[i..j].iter().enumerate() {
                    question(w, q, i + k + 1, 4);
                }
                i = j;
                continue;
            }
        }
        question(w, q, i + 1, 3);
        i += 1;
    }

    let pivots = list(report, "key_pivots");
    if !pivots.is_empty() {
        let _ = writeln!(w, "## Key pivots\n");
        for p in pivots {
            let _ = writeln!(w, "- `{}` found by {} led to {}", e(p, "fact"), e(p, "found_by"), e(p, "led_to"));
        }
        let _ = writeln!(w);
    }

    let _ = writeln!(w, "## Timeline\n");
    let timeline = list(report, "timeline");
    if timeline.is_empty() {
        let _ = writeln!(w, "Nothing failed, changed or came from a foreign source in the window.\n");
    } else {
        let _ = writeln!(w, "| time (UTC) | kind | actor | what | address | country |\n|---|---|---|---|---|---|");
        for t in timeline {
            let actor = if t["actor"].as_bool() == Some(true) { "foreign" } else { "" };
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} | {} | {} |",
                e(t, "time"),
                e(t, "kind"),
                actor,
                e(t, "what"),
                e(t, "ip"),
                e(t, "country")
            );
        }
        let _ = writeln!(w);
    }

    let iocs = &report["iocs"];
    let _ = writeln!(w, "## Indicators of compromise\n");
    table(
        w,
        list(iocs, "ips"),
        "Addresses",
        &[
            "ip",
            "country",
            "city",
            "asn",
            "provider",
            "class",
            "sign_ins",
            "successes",
            "accounts_tried",
            "first_seen",
            "last_seen",
        ],
    );
    table(w, list(iocs, "user_agents"), "User agents", &["user_agent", "class", "sign_ins", "first_seen"]);
    table(w, list(iocs, "devices"), "Devices", &["device", "os", "browser", "sign_ins", "first_seen"]);
    table(w, list(iocs, "mail_recipients"), "Mail recipients", &["recipient", "messages", "subjects", "first_seen"]);
    table(
        w,
        list(iocs, "inbox_rules"),
        "Inbox rules and forwarding",
        &["time", "operation", "rule_name", "rule_keywords", "move_to_folder", "forward_to", "client_ip"],
    );

    sspr_history(w, report);

    let detections = list(report, "detection_opportunities");
    if !detections.is_empty() {
        let _ = writeln!(
            w,
            "## Detection opportunities\n\n| detection | technique | tactic | context |\n|---|---|---|---|"
        );
        for d in detections {
            let _ =
                writeln!(w, "| {} | {} | {} | {} |", e(d, "name"), e(d, "technique"), e(d, "tactic"), e(d, "context"));
        }
        let _ = writeln!(w);
    }
    mitre(w, report);
    numbered(w, "Verdict reasoning", list(report, "verdict_reasoning"));
    escalation(w, report);
    false_positives(w, report);
    numbered(w, "Lessons", list(report, "lessons"));
    let _ = writeln!(w, "## Containment\n");
    containment(w, report, "###");

    let m = &report["metrics"];
    let _ = writeln!(w, "## Metrics\n");
    let _ = writeln!(w, "- Questions asked: {}", e(m, "questions_asked"));
    let _ = writeln!(w, "- Records analysed: {}", e(m, "records_total"));
    if let Some(by) = m["records_analyzed"].as_object() {
        for (source, n) in by {
            let _ = writeln!(w, "  - {}: {}", escape(source), text(n));
        }
    }
    let _ = writeln!(w, "- Investigation time: {} ms", e(m, "duration_ms"));
    let _ = writeln!(
        w,
        "- Analyst time saved (estimate): ~{} minutes. {}",
        e(m, "analyst_minutes_saved"),
        e(m, "estimate_assumptions")
    );
    md
}

/// The containment steps by urgency, each with the objects it acts on (kind, id, name, detail).
pub(crate) fn containment(w: &mut String, report: &Value, level: &str) {
    let steps = list(report, "containment");
    let mut n = 0;
    for stage in ["immediate", "short_term", "recovery"] {
        let here: Vec<&Value> = steps.iter().filter(|s| field(s, "stage") == stage).collect();
        if here.is_empty() {
            continue;
        }
        let _ = writeln!(w, "{level} {}\n", super::urgency(stage));
        for step in here {
            n += 1;
            let because: Vec<String> = list(step, "because").iter().map(|b| escape(&text(b))).collect();
            let _ = write!(w, "{n}. {}", e(step, "step"));
            if !because.is_empty() {
                let _ = write!(w, " _(from {})_", because.join(", "));
            }
            let _ = writeln!(w);
            for o in list(step, "objects") {
                let _ = write!(w, "   - {} **{}**", e(o, "kind"), e(o, "id"));
                if field(o, "name") != field(o, "id") && !field(o, "name").is_empty() {
                    let _ = write!(w, " {}", e(o, "name"));
                }
                if !field(o, "detail").is_empty() {
                    let _ = write!(w, ": {}", e(o, "detail"));
                }
                let _ = writeln!(w);
            }
        }
        let _ = writeln!(w);
    }
}

/// The escalation criteria in play: met ones first.
pub(crate) fn escalation(w: &mut String, report: &Value) {
    let criteria = list(report, "escalation_criteria");
    if criteria.is_empty() {
        return;
    }
    let _ = writeln!(
        w,
        "## Escalation criteria\n\n| priority | condition | met | facts found | facts missing | action |\n|---|---|---|---|---|---|"
    );
    for c in criteria {
        let met = if c["met"].as_bool() == Some(true) { "yes" } else { "no" };
        let _ = writeln!(
            w,
            "| {} | {} | {met} | {} | {} | {} |",
            e(c, "priority"),
            e(c, "condition"),
            e(c, "found"),
            e(c, "missing"),
            e(c, "action")
        );
    }
    let _ = writeln!(w);
}

/// The benign explanations checked, and how each was settled.
pub(crate) fn false_positives(w: &mut String, report: &Value) {
    let checks = list(report, "false_positives");
    if checks.is_empty() {
        return;
    }
    let _ = writeln!(
        w,
        "## False positives checked\n\n| scenario | how it was checked | outcome | why |\n|---|---|---|---|"
    );
    for c in checks {
        let how: Vec<String> = list(c, "how").iter().map(|h| escape(&text(h))).collect();
        let _ = writeln!(
            w,
            "| {} | {} ({}) | {} | {} |",
            e(c, "scenario"),
            e(c, "check"),
            e(c, "question"),
            super::outcome(&field(c, "outcome")),
            how.join("; ")
        );
    }
    let _ = writeln!(w);
}

fn question(w: &mut String, q: &Value, number: usize, level: usize) {
    let hashes = "#".repeat(level);
    let _ = writeln!(w, "{hashes} Q{number}: {}\n", e(q, "title"));
    let because = list(q, "asked_because");
    if !because.is_empty() {
        let facts: Vec<String> = because.iter().map(|f| format!("`{}`", escape(&text(f)))).collect();
        let _ = writeln!(w, "_Asked because of {}._\n", facts.join(", "));
    }
    for query in list(q, "queries") {
        let _ = writeln!(w, "- Query ({}): {} — {} records", e(query, "source"), e(query, "asks"), e(query, "records"));
    }
    for ev in list(q, "evidence") {
        let stance = match (field(ev, "stance").as_str(), ev.get("resolved").is_some_and(|r| !r.is_null())) {
            ("supporting", false) => "Supporting evidence",
            ("conflicting", false) => "Conflicting evidence",
            (_, true) => "Conflicting evidence resolved",
            _ => "Evidence",
        };
        let records = list(ev, "records").len();
        let _ = write!(w, "- **{stance}** ({}): {}", e(ev, "confidence"), e(ev, "says"));
        if records > 0 {
            let _ = write!(w, " [{records} record(s)]");
        }
        let _ = writeln!(w);
        if let Some(r) = ev.get("resolved").filter(|r| !r.is_null()) {
            let _ = writeln!(w, "  - Resolved: {}", escape(&text(r)));
        }
    }
    let _ = writeln!(w, "\n**Conclusion:** {} · _not_ {}\n", e(q, "conclusion"), e(q, "alternative"));
}

pub(crate) fn table(w: &mut String, rows: &[Value], title: &str, columns: &[&str]) {
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(w, "### {title}\n\n| {} |\n|{}", columns.join(" | "), "---|".repeat(columns.len()));
    for row in rows {
        let cells: Vec<String> = columns.iter().map(|c| e(row, c)).collect();
        let _ = writeln!(w, "| {} |", cells.join(" | "));
    }
    let _ = writeln!(w);
}

/// Seed 001 step 4: the account's and the organisation's self-service resets against the
/// 90 days before.
pub(crate) fn sspr_history(w: &mut String, report: &Value) {
    let rows = list(report, "sspr_history");
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(w, "## Self-service recovery against its history\n");
    table(w, rows, "Resets and unlocks (seed 001, step 4)", SSPR_COLUMNS);
}

/// The columns of the step-4 table, in every format.
pub(crate) const SSPR_COLUMNS: &[&str] = &[
    "who",
    "in_window",
    "window_days",
    "per_day_in_window",
    "before",
    "days_with_resets",
    "coverage_days",
    "per_day_before",
];

/// The report's MITRE ATT&CK techniques, one per line.
pub(crate) fn mitre(w: &mut String, report: &Value) {
    let techniques = list(report, "mitre");
    if techniques.is_empty() {
        return;
    }
    let _ = writeln!(w, "## MITRE ATT&CK\n");
    for t in techniques {
        let _ = writeln!(w, "- {} {} ({})", e(t, "id"), e(t, "name"), e(t, "tactic"));
    }
    let _ = writeln!(w);
}

pub(crate) fn numbered(w: &mut String, title: &str, items: &[Value]) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(w, "## {title}\n");
    for (i, item) in items.iter().enumerate() {
        let _ = writeln!(w, "{}. {}", i + 1, escape(&text(item)));
    }
    let _ = writeln!(w);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_cannot_open_markup() {
        let hostile = "<script>alert(1)</script> [x](javascript:alert(1)) | ![i](http://e/x.png)\n# head";
        let out = escape(hostile);
        assert!(!out.contains('<') && !out.contains('\n'));
        let chars: Vec<char> = out.chars().collect();
        let bare =
            (0..chars.len()).filter(|&i| matches!(chars[i], '[' | ']') && (i == 0 || chars[i - 1] != '\\')).count();
        assert_eq!(bare, 0, "every bracket is escaped: {out}");
        assert!(out.contains("\\|"));
    }

    #[test]
    fn log_values_in_every_section_are_escaped() {
        let evil = "<img src=x onerror=alert(1)>[click](javascript:alert(1))\n| cell";
        let report = serde_json::json!({
            "title": evil, "verdict": "true_positive", "summary": evil, "tags": [evil],
            "subject": {"user": evil},
            "questions": [{"title": "q", "group": "pivot", "queries": [], "conclusion": evil, "alternative": "b",
                           "evidence": [{"stance": "supporting", "confidence": "high", "says": evil, "records": []}]}],
            "timeline": [{"time": "t", "kind": "mail", "what": evil, "ip": evil, "actor": true}],
            "iocs": {"ips": [], "user_agents": [{"user_agent": evil}], "devices": [], "mail_recipients": [],
                     "inbox_rules": [{"rule_name": evil}]},
            "metrics": {"records_analyzed": {}}
        });
        let md = render(&report);
        assert!(md.matches("alert(1)").count() >= 8, "every value is rendered");
        assert!(!md.contains("<img") && !md.contains("[click](javascript"), "{md}");
        assert!(md.contains("\\[click\\](javascript"), "{md}");
        assert!(!md.contains("\n| cell"), "a value cannot start a new table row");
    }
}
