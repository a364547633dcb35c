//! The incident report, shaped like seed 003 (a BEC write-up): affected user and incident
//! type, description, initial access with the actor's sign-ins one by one, what the actor did
//! with the mailbox and the mail it sent, persistence, who else is touched, root cause,
//! containment done (as the logs record it) and advised, corrective and preventive measures.
//!
//! Findings come from the questions, placed by their `stage`; the renderer reads only the
//! report's JSON, so a saved report gives the same document. Markdown, escaped as in
//! [`super::markdown`].

use std::fmt::Write;

use serde_json::Value;

use super::markdown::{e, escape, mitre, numbered, table};
use super::{field, list, text};

pub fn render(report: &Value) -> String {
    let mut md = String::new();
    let w = &mut md;
    let subject = &report["subject"];
    let timeline = list(report, "timeline");
    let actor: Vec<&Value> = timeline.iter().filter(|t| t["actor"].as_bool() == Some(true)).collect();
    let _ = writeln!(w, "# Incident report: {}\n", e(report, "title"));
    let _ = writeln!(w, "| | |\n|---|---|");
    let _ = writeln!(w, "| Affected user | {} |", e(subject, "user"));
    let _ = writeln!(w, "| Incident type | {} |", escape(&incident_type(report)));
    let _ = writeln!(
        w,
        "| Verdict | {} ({} confidence) · {} |",
        e(report, "verdict"),
        e(report, "confidence"),
        e(report, "escalation")
    );
    if let (Some(first), Some(last)) = (actor.first(), actor.last()) {
        let _ = writeln!(w, "| Actor active | {} to {} |", e(first, "time"), e(last, "last"));
    }
    let _ = writeln!(
        w,
        "| Investigated window | {} to {} ({}) |",
        e(subject, "start"),
        e(subject, "end"),
        e(subject, "window_from")
    );
    let _ = writeln!(w, "| Sleuth report | {} |\n", e(report, "id"));

    let _ = writeln!(w, "## Incident description\n\n{}\n", e(report, "summary"));
    let iocs = &report["iocs"];
    let recipients = list(iocs, "mail_recipients");
    if !recipients.is_empty() {
        let _ = writeln!(w, "Mail was sent from the account by the actor to {} recipient(s):\n", recipients.len());
        for r in recipients {
            let _ = writeln!(
                w,
                "- {}: {} message(s), first {}, subject(s) {}",
                e(r, "recipient"),
                e(r, "messages"),
                e(r, "first_seen"),
                e(r, "subjects")
            );
        }
        let _ = writeln!(w);
    }

    let _ = writeln!(w, "## Initial access\n");
    findings(w, report, "initial_access");
    let sign_ins = list(report, "actor_sign_ins");
    if !sign_ins.is_empty() {
        let shown = if sign_ins.len() >= super::ACTOR_SIGN_INS_SHOWN { " (the first ones)" } else { "" };
        let _ = writeln!(w, "The actor's sign-ins{shown}:\n");
        let _ = writeln!(
            w,
            "| Date (UTC) | User agent | Application | Resource | IP address | Location | Status | MFA result | Authentication requirement |\n|---|---|---|---|---|---|---|---|---|"
        );
        for s in sign_ins {
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                e(s, "time"),
                e(s, "user_agent"),
                e(s, "app"),
                e(s, "resource"),
                e(s, "ip"),
                e(s, "location"),
                e(s, "status"),
                e(s, "mfa_result"),
                e(s, "requirement")
            );
        }
        let _ = writeln!(w);
    }
    let ips = list(iocs, "ips");
    if !ips.is_empty() {
        let _ = writeln!(w, "Addresses the actor used:\n");
        for ip in ips {
            let place =
                [field(ip, "city"), field(ip, "country")].into_iter().filter(|p| !p.is_empty()).collect::<Vec<_>>();
            let _ = writeln!(
                w,
                "- {} ({}; AS{} {}; {}): {} sign-in(s), {} succeeded, {} to {}",
                e(ip, "ip"),
                escape(&place.join(", ")),
                e(ip, "asn"),
                e(ip, "provider"),
                e(ip, "class"),
                e(ip, "sign_ins"),
                e(ip, "successes"),
                e(ip, "first_seen"),
                e(ip, "last_seen")
            );
        }
        let _ = writeln!(w);
    }
    table(w, list(iocs, "user_agents"), "User agents", &["user_agent", "class", "sign_ins", "first_seen"]);

    let _ = writeln!(w, "## Reconnaissance and actions on the mailbox\n");
    findings(w, report, "actions");
    entries(w, &actor, "mailbox", "No mailbox activity from the actor is recorded.");
    let _ = writeln!(w, "### Mails sent and recipients\n");
    entries(w, &actor, "mail", "No mail from the actor's addresses is recorded.");
    table(w, recipients, "Recipients", &["recipient", "messages", "subjects", "first_seen"]);

    let _ = writeln!(w, "## Persistence\n");
    findings(w, report, "persistence");
    entries(w, &actor, "directory", "No directory change from the actor is recorded.");
    table(
        w,
        list(iocs, "inbox_rules"),
        "Inbox rules and forwarding",
        &["time", "operation", "rule_name", "rule_keywords", "move_to_folder", "forward_to", "client_ip"],
    );

    let _ = writeln!(w, "## Who else is touched\n");
    findings(w, report, "scope");

    let _ = writeln!(w, "## Root cause\n");
    findings(w, report, "root_cause");
    if !list(report, "sspr_history").is_empty() {
        super::markdown::table(
            w,
            list(report, "sspr_history"),
            "Self-service recovery against its history (seed 001, step 4)",
            super::markdown::SSPR_COLUMNS,
        );
    }
    numbered(w, "Why the verdict", list(report, "verdict_reasoning"));

    let _ = writeln!(w, "## Containment\n\n### Done, as the logs record it\n");
    let done: Vec<&Value> = answers(report, "containment")
        .filter(|q| q["supported"].as_bool() == Some(true))
        .flat_map(|q| list(q, "evidence"))
        .filter(|ev| field(ev, "stance") == "supporting")
        .collect();
    if done.is_empty() {
        let _ = writeln!(w, "No containment action on the account is recorded in the logs after the actor appeared.\n");
    } else {
        for ev in done {
            let _ = writeln!(w, "- {}", e(ev, "says"));
        }
        let _ = writeln!(w);
    }
    if !list(report, "containment").is_empty() {
        let _ = writeln!(w, "### Advised\n");
        super::markdown::containment(w, report, "####");
    }
    super::markdown::escalation(w, report);
    super::markdown::false_positives(w, report);

    let _ = writeln!(w, "## Corrective and preventive measures\n");
    for d in list(report, "detection_opportunities") {
        let _ =
            writeln!(w, "- Detect: {} ({}, {}). {}", e(d, "name"), e(d, "technique"), e(d, "tactic"), e(d, "context"));
    }
    for l in list(report, "lessons") {
        let _ = writeln!(w, "- {}", escape(&text(l)));
    }
    let _ = writeln!(w);
    mitre(w, report);
    let _ = writeln!(w, "## Change log\n\n| revision | source | note |\n|---|---|---|");
    let _ = writeln!(
        w,
        "| 1 | Sleuth report {} | Written from the investigation's evidence; every statement above cites records in the JSON report. |",
        e(report, "id")
    );
    md
}

/// The kind of incident, from the tags the supported questions carry and the verdict.
fn incident_type(report: &Value) -> String {
    let tags: Vec<String> = list(report, "tags").iter().map(text).collect();
    let has = |t: &str| tags.iter().any(|x| x == t);
    let main = match field(report, "verdict").as_str() {
        "true_positive" if has("bec") => "Business Email Compromise (BEC)",
        "true_positive" => "Account compromise",
        "true_positive_blocked" => "Account takeover attempt, blocked",
        "inconclusive" => "Suspicious account activity, not settled",
        _ => "No incident: benign or the owner's own activity",
    };
    let via: Vec<&str> = [
        ("token-theft", "session token theft"),
        ("sspr-abuse", "self-service password reset abuse"),
        ("credential-theft", "stolen credentials"),
        ("campaign", "part of a campaign on several accounts"),
    ]
    .iter()
    .filter(|(tag, _)| has(tag))
    .map(|(_, what)| *what)
    .collect();
    if via.is_empty() || main.starts_with("No incident") {
        main.to_owned()
    } else {
        format!("{main}: {}", via.join(", "))
    }
}

fn answers<'r>(report: &'r Value, stage: &'r str) -> impl Iterator<Item = &'r Value> + 'r {
    list(report, "questions").iter().filter(move |q| field(q, "stage") == stage)
}

/// Each answered question of the stage: its conclusion, then the evidence that carried it.
fn findings(w: &mut String, report: &Value, stage: &str) {
    let mut any = false;
    for q in answers(report, stage) {
        any = true;
        let _ = writeln!(w, "**{}** {}\n", e(q, "title"), e(q, "conclusion"));
        let side = if q["supported"].as_bool() == Some(true) { "supporting" } else { "conflicting" };
        for ev in list(q, "evidence").iter().filter(|ev| field(ev, "stance") == side && ev.get("resolved").is_none()) {
            let records = list(ev, "records").len();
            let cited = if records > 0 { format!(" ({records} record(s))") } else { String::new() };
            let _ = writeln!(w, "- {}{cited}", e(ev, "says"));
        }
        let _ = writeln!(w);
    }
    if !any {
        let _ = writeln!(w, "Not examined: nothing in the evidence called for it.\n");
    }
}

/// The timeline entries of the actor of one kind, as a table.
fn entries(w: &mut String, actor: &[&Value], kind: &str, none: &str) {
    let rows: Vec<&&Value> = actor.iter().filter(|t| field(t, "kind") == kind).collect();
    if rows.is_empty() {
        let _ = writeln!(w, "{none}\n");
        return;
    }
    let _ = writeln!(w, "| time (UTC) | what | address |\n|---|---|---|");
    for t in rows {
        let _ = writeln!(w, "| {} | {} | {} |", e(t, "time"), e(t, "what"), e(t, "ip"));
    }
    let _ = writeln!(w);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_follow_their_stage_and_log_values_stay_text() {
        let evil = "<script>x</script>|[l](javascript:y)";
        let report = serde_json::json!({
            "title": "t", "verdict": "true_positive", "tags": ["bec", "token-theft"], "subject": {"user": evil},
            "questions": [
                {"title": "Did the actor get in?", "stage": "initial_access", "supported": true, "conclusion": "Actor Signed In",
                 "evidence": [{"stance": "supporting", "says": evil, "records": ["a"]},
                              {"stance": "conflicting", "says": "lost", "records": [], "resolved": "outweighed"}]},
                {"title": "Contained?", "stage": "containment", "supported": true, "conclusion": "Started",
                 "evidence": [{"stance": "supporting", "says": "Reset user password by admin", "records": ["b"]}]}],
            "timeline": [{"time": "2026-01-01T00:00:00Z", "last": "2026-01-01T00:00:00Z", "kind": "mail", "actor": true, "what": evil, "ip": "1.2.3.4"}],
            "iocs": {"ips": [], "user_agents": [], "devices": [], "mail_recipients": [{"recipient": evil, "messages": 1}], "inbox_rules": []}
        });
        let md = render(&report);
        assert!(md.contains("| Incident type | Business Email Compromise (BEC): session token theft |"), "{md}");
        let access = &md[md.find("## Initial access").unwrap()..md.find("## Reconnaissance").unwrap()];
        assert!(access.contains("**Did the actor get in?** Actor Signed In") && !access.contains("lost"), "{access}");
        let done = &md[md.find("### Done").unwrap()..];
        assert!(done.contains("- Reset user password by admin"));
        assert!(!md.contains("<script") && !md.contains("[l](javascript"), "{md}");
        assert!(md.contains("\\|\\[l\\](javascript:y)"));
        assert!(md.contains("Not examined"), "stages without questions say so");
    }
}
