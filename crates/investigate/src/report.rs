//! The report: the versioned JSON document (`schema/report.schema.json`) that is the source of
//! truth; Markdown and HTML render from it. Everything in it is derived from the subject
//! tables and the answers, in a fixed order, so the same store and subject give the same
//! report byte for byte, `metrics.duration_ms` aside.

use std::collections::{BTreeMap, BTreeSet};

use datafusion::prelude::SessionContext;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::InvestigateError;
use crate::ask::{Answer, Pivot};
use crate::gather::Counts;
use crate::response::{Action, Escalation, FalsePositiveCheck};
use crate::runbook::{Confidence, Runbook, Technique};
use crate::sql::{count, in_list, literal, texts};
use crate::subject::Subject;
use crate::time::stamp;
use crate::verdict::{Decision, Verdict};
pub use sleuth_render::report::ACTOR_SIGN_INS_SHOWN;

/// Version of the JSON report; raised whenever a field changes meaning or goes away.
pub const SCHEMA_VERSION: u32 = 2;

/// Minutes a Tier-2 analyst spends per question, and per hundred records read, in the estimate
/// of time saved. Stated in every report beside the estimate.
const MINUTES_PER_QUESTION: f64 = 8.0;
const MINUTES_PER_HUNDRED_RECORDS: f64 = 2.0;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub id: String,
    pub title: String,
    pub summary: String,
    pub tags: Vec<String>,
    pub subject: Subject,
    pub verdict: String,
    pub confidence: Confidence,
    /// What to do now: the highest met escalation criterion's action, else the verdict's.
    pub escalation: String,
    /// The escalation criteria in play: met, or with some of their facts found.
    pub escalation_criteria: Vec<Escalation>,
    /// The benign explanations the runbook checks, and what became of each.
    pub false_positives: Vec<FalsePositiveCheck>,
    pub verdict_reasoning: Vec<String>,
    pub questions: Vec<Answer>,
    pub key_pivots: Vec<Pivot>,
    pub timeline: Vec<Map<String, Value>>,
    pub iocs: Iocs,
    /// Where the account's sign-ins came from (the log's coordinates, else the IP database's),
    /// by place and by who: `baseline`, `owner` (window and after) or `actor` (foreign).
    pub locations: Vec<Map<String, Value>>,
    /// The actor's sign-ins one by one (the first [`ACTOR_SIGN_INS_SHOWN`]), as an incident
    /// report lists them: user agent, resource, address, place, status, MFA result.
    pub actor_sign_ins: Vec<Map<String, Value>>,
    /// Seed 001 step 4, when self-service recovery was used: the account's and the
    /// organisation's resets and unlocks in the window and in the 90 days before, with rates.
    pub sspr_history: Vec<Map<String, Value>>,
    pub mitre: Vec<Technique>,
    pub detection_opportunities: Vec<Opportunity>,
    /// Containment steps by urgency, each naming the objects to act on.
    pub containment: Vec<Action>,
    pub lessons: Vec<String>,
    pub metrics: Metrics,
    /// Every record that evidence or the timeline cites, as the export gave it: `record_id`,
    /// `table`, `time`, `source_file` and `raw` (the original record as JSON text).
    pub records: Vec<Map<String, Value>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Iocs {
    pub ips: Vec<Map<String, Value>>,
    pub user_agents: Vec<Map<String, Value>>,
    pub devices: Vec<Map<String, Value>>,
    pub mail_recipients: Vec<Map<String, Value>>,
    pub inbox_rules: Vec<Map<String, Value>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Opportunity {
    pub name: String,
    pub technique: String,
    pub tactic: String,
    pub context: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub questions_asked: usize,
    pub records_analyzed: BTreeMap<String, usize>,
    pub records_total: usize,
    /// Timing: the one field that differs between runs.
    pub duration_ms: u64,
    pub analyst_minutes_saved: f64,
    pub estimate_assumptions: String,
}

pub struct Parts<'a> {
    pub subject: Subject,
    pub counts: Counts,
    pub answers: Vec<Answer>,
    pub facts: BTreeSet<String>,
    pub decision: Decision,
    pub runbook: &'a Runbook,
    pub duration_ms: u64,
}

pub async fn build(ctx: &SessionContext, parts: Parts<'_>) -> Result<Report, InvestigateError> {
    let Parts { subject, counts, answers, facts, decision, runbook, duration_ms } = parts;
    let asked: Vec<_> = answers
        .iter()
        .filter(|a| a.supported)
        .filter_map(|a| runbook.questions.iter().find(|q| q.id == a.id))
        .collect();
    let mut mitre: Vec<Technique> = asked.iter().flat_map(|q| q.mitre.iter().cloned()).collect();
    mitre.sort();
    mitre.dedup();
    let detection_opportunities = asked
        .iter()
        .filter_map(|q| q.detection.as_ref())
        .map(|d| Opportunity {
            name: d.name.clone(),
            technique: d.technique.clone(),
            tactic: mitre.iter().find(|t| t.id == d.technique).map(|t| t.tactic.clone()).unwrap_or_default(),
            context: d.context.clone(),
        })
        .collect();
    let mut lessons: Vec<String> = Vec::new();
    let mut tags: Vec<String> = Vec::new();
    let attack =
        matches!(decision.verdict, Verdict::TruePositive | Verdict::TruePositiveBlocked | Verdict::Inconclusive);
    for q in &asked {
        if attack && !q.lesson.is_empty() {
            lessons.push(q.lesson.clone());
        }
        for t in &q.tags {
            if !tags.contains(t) {
                tags.push(t.clone());
            }
        }
    }
    if !attack {
        tags.retain(|t| t == "benign");
    }
    let timeline = rows(ctx, TIMELINE).await?;
    let started = std::time::Instant::now();
    let records = cited_records(ctx, &answers, &timeline).await?;
    tracing::debug!(rows = records.len(), millis = started.elapsed().as_millis() as u64, "cited records");
    let iocs = Iocs {
        ips: rows(ctx, IOC_IPS).await?,
        user_agents: rows(ctx, IOC_AGENTS).await?,
        devices: rows(ctx, IOC_DEVICES).await?,
        mail_recipients: rows(ctx, IOC_RECIPIENTS).await?,
        inbox_rules: rows(
            ctx,
            &format!(
                "SELECT rule_name, operation, move_to_folder, forward_to, rule_keywords, client_ip, time {ACTOR_RULES}"
            ),
        )
        .await?,
    };
    let containment = if attack {
        crate::response::containment(ctx, &asked, &iocs.ips, &subject.user).await?
    } else {
        vec![crate::response::nothing_to_contain(ctx, &subject.user).await?]
    };
    let escalation_criteria = crate::response::escalation(runbook, &facts);
    let escalation = match escalation_criteria.iter().find(|c| c.met) {
        Some(top) if attack => top.action.clone(),
        _ => decision.verdict.escalation().to_owned(),
    };
    let false_positives = crate::response::false_positives(runbook, &answers, &facts);
    let sspr_history = if facts.contains("sspr_activity") { rows(ctx, SSPR_HISTORY).await? } else { Vec::new() };
    let locations = rows(ctx, LOCATIONS).await?;
    let actor_sign_ins = rows(ctx, &format!("{ACTOR_SIGN_INS} LIMIT {ACTOR_SIGN_INS_SHOWN}")).await?;
    let records_total = counts.values().sum();
    let questions_asked = answers.len();
    let minutes =
        questions_asked as f64 * MINUTES_PER_QUESTION + records_total as f64 / 100.0 * MINUTES_PER_HUNDRED_RECORDS;
    let metrics = Metrics {
        questions_asked,
        records_analyzed: counts,
        records_total,
        duration_ms,
        analyst_minutes_saved: minutes.round(),
        estimate_assumptions: format!(
            "A Tier-2 analyst spends about {MINUTES_PER_QUESTION} minutes per question (query, read, note) and \
             {MINUTES_PER_HUNDRED_RECORDS} minutes per hundred records read; the estimate is questions × minutes plus \
             records ÷ 100 × minutes, and varies with the analyst and the tooling."
        ),
    };
    let foreign = iocs.ips.len();
    let title = title(&decision, &facts, &subject);
    let summary = format!(
        "{} ({} confidence) for {}, {} to {} ({}). {} {} unfamiliar source address(es) involved; {} questions asked over {} records. {}",
        decision.verdict.title(),
        decision.confidence.name(),
        subject.user,
        stamp(subject.start),
        stamp(subject.end),
        subject.window_from,
        decision.reasoning[0],
        foreign,
        questions_asked,
        records_total,
        escalation,
    );
    let id = short_hash(&format!("{}|{}|{}", subject.user, stamp(subject.start), stamp(subject.end)));
    Ok(Report {
        schema_version: SCHEMA_VERSION,
        id,
        title,
        summary,
        tags,
        verdict: decision.verdict.name().to_owned(),
        confidence: decision.confidence,
        escalation,
        escalation_criteria,
        false_positives,
        verdict_reasoning: decision.reasoning,
        key_pivots: crate::ask::pivots(&answers),
        subject,
        questions: answers,
        timeline,
        iocs,
        locations,
        actor_sign_ins,
        sspr_history,
        mitre,
        detection_opportunities,
        containment,
        lessons,
        metrics,
        records,
    })
}

/// The store's own rows for every record id that an evidence item or a timeline entry cites,
/// in time order. The subject tables say which table, account and time each id has; the raw
/// text is then read from the store's rows of those accounts at those times only.
async fn cited_records(
    ctx: &SessionContext,
    answers: &[Answer],
    timeline: &[Map<String, Value>],
) -> Result<Vec<Map<String, Value>>, InvestigateError> {
    let evidence = answers.iter().flat_map(|a| &a.evidence).flat_map(|e| e.records.iter().cloned());
    let listed = timeline
        .iter()
        .filter_map(|t| t.get("records").and_then(Value::as_array))
        .flatten()
        .filter_map(|id| id.as_str().map(str::to_owned));
    let ids: BTreeSet<String> = evidence.chain(listed).collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids = ids.iter().map(|id| literal(id)).collect::<Vec<_>>().join(", ");
    let mut parts = Vec::new();
    for (subject_table, table, key) in SOURCES {
        // A workload's investigation has tables a person's has not, and the other way round.
        if !ctx.table_exist(subject_table)? {
            continue;
        }
        let cited = format!("FROM {subject_table} WHERE record_id IN ({ids})");
        // The scan compares the cited rows' account (text with a dictionary: cheap), then their
        // times (a number), and decodes the ids, then `raw`, only for the rows these match:
        // each a list of literals taken from the cited rows themselves. Times alone matched
        // ten times the cited rows (sign-ins share seconds) across every row group.
        let mut filters = Vec::new();
        let keyed = ctx.table(subject_table).await?.schema().has_column_with_unqualified_name(key)
            && count(ctx, &format!("SELECT count(*) {cited} AND {key} IS NULL")).await? == 0;
        if keyed {
            let owners = in_list(ctx, &format!("SELECT DISTINCT {key} {cited} ORDER BY 1")).await?;
            filters.push(format!("{key} IN ({owners})"));
        }
        let times =
            texts(ctx, &format!("SELECT CAST(t AS VARCHAR) FROM (SELECT DISTINCT time AS t {cited}) ORDER BY t"))
                .await?;
        let times: Vec<String> = times.iter().map(|t| format!("TIMESTAMP {}", literal(t))).collect();
        let (Some(first), Some(last)) = (times.first(), times.last()) else { continue };
        filters.push(format!("time >= {first} AND time <= {last} AND time IN ({})", times.join(", ")));
        let listed = in_list(ctx, &format!("SELECT DISTINCT record_id {cited} ORDER BY 1")).await?;
        filters.push(format!("record_id IN ({listed})"));
        parts.push(format!(
            "SELECT record_id, '{table}' AS \"table\", time, source_file, raw FROM {table} WHERE {}",
            filters.join(" AND ")
        ));
    }
    if parts.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!("SELECT DISTINCT * FROM ({}) ORDER BY time, record_id, \"table\"", parts.join(" UNION ALL "));
    crate::ask::rows(ctx, "cited records", &sql).await
}

/// Each subject table, the store table its rows come from, and the column that names whose
/// record it is (used to narrow the scan when every cited row has one).
const SOURCES: [(&str, &str, &str); 8] = [
    ("subject_signins", "signins", "user_principal_name"),
    ("subject_sp_signins", "service_principal_signins", "service_principal_id"),
    ("subject_graph", "graph_activity", "user_id"),
    ("subject_azure", "azure_activity", "caller"),
    ("subject_audits", "audits", "user_principal_name"),
    ("subject_mailbox", "mailbox_activity", "user_principal_name"),
    ("subject_mail", "message_trace", "sender_address"),
    ("subject_risk", "risk_detections", "user_principal_name"),
];

fn title(decision: &Decision, facts: &BTreeSet<String>, subject: &Subject) -> String {
    let has = |f: &str| facts.contains(f);
    let how = [
        ("device_code_phished", "device-code phishing"),
        ("aitm_residential", "adversary-in-the-middle, replayed through residential proxies"),
        ("credential_added", "credential added, then used from a new network"),
        ("sspr_abused", "self-service recovery abuse"),
        ("has_token", "session token replay"),
        ("mail_sent", "mail sent by the actor"),
        ("actor_changed", "account changed by the actor"),
        ("campaign", "part of a campaign on several accounts"),
        ("has_password", "password known to the actor"),
    ]
    .iter()
    .filter(|(f, _)| has(f))
    .map(|(_, what)| *what)
    .collect::<Vec<_>>();
    let workload = subject.kind == crate::SubjectKind::ServicePrincipal;
    let what = match decision.verdict {
        Verdict::TruePositive if workload => "Workload identity compromise",
        Verdict::TruePositive => "Account compromise",
        Verdict::TruePositiveBlocked => "Account takeover attempt blocked",
        Verdict::Inconclusive => "Suspicious activity, not settled",
        Verdict::BenignTruePositive => "Real but benign activity",
        Verdict::FalsePositive => "No compromise: the owner's own activity",
    };
    if how.is_empty() {
        format!("{what}: {}", subject.user)
    } else {
        format!("{what}: {} ({})", subject.user, how.join(", "))
    }
}

/// The rows of a report query, lists without nulls or duplicates and in a fixed order.
async fn rows(ctx: &SessionContext, sql: &str) -> Result<Vec<Map<String, Value>>, InvestigateError> {
    let mut rows = crate::ask::rows(ctx, "report", sql).await?;
    for value in rows.iter_mut().flat_map(|row| row.values_mut()) {
        if let Value::Array(items) = value {
            items.retain(|v| !v.is_null());
            items.sort_by_key(|v| v.to_string());
            items.dedup();
        }
    }
    Ok(rows)
}

/// What happened, in order: the window's and the following days' sign-ins that failed or came
/// from a foreign source (grouped by hour, address, app and outcome), changes to the account
/// and the mailbox, mail sent from foreign addresses, and risk detections.
const TIMELINE: &str = "
SELECT * FROM (
  SELECT min(time) AS time, max(time) AS last, 'sign-in' AS kind, bool_or(foreign) AS actor,
         concat(count(*), ' sign-in(s) to ', coalesce(app_display_name, '?'), ': ', outcome,
                CASE WHEN max(result_type) <> 0 THEN concat(' (', CAST(max(result_type) AS VARCHAR), ')') ELSE '' END,
                CASE WHEN bool_or(mfa_satisfied_by_token) THEN ', MFA by token claim' ELSE '' END) AS what,
         ip_address AS ip, max(country) AS country, max(user_agent) AS user_agent, array_agg(record_id) AS records
  FROM subject_signins
  WHERE phase <> 'baseline' AND (foreign OR NOT succeeded)
  GROUP BY date_trunc('hour', time), ip_address, app_display_name, outcome, foreign
  UNION ALL
  SELECT time AS time, time AS last, 'directory' AS kind, foreign AS actor, concat(activity, ': ', result, CASE WHEN coalesce(result_reason, '') <> '' THEN concat(' (', result_reason, ')') ELSE '' END),
         initiated_by_ip AS ip, NULL AS country, user_agent AS user_agent, [record_id] AS records
  FROM subject_audits WHERE phase <> 'baseline'
  UNION ALL
  SELECT min(time), max(time), 'mailbox', bool_or(foreign),
         concat(operation, CASE WHEN count(*) > 1 THEN concat(' ×', CAST(count(*) AS VARCHAR)) ELSE '' END,
                CASE WHEN max(rule_name) IS NOT NULL THEN concat(' rule \"', max(rule_name), '\"') ELSE '' END,
                CASE WHEN max(move_to_folder) IS NOT NULL THEN concat(' → ', max(move_to_folder)) ELSE '' END,
                CASE WHEN max(forward_to) IS NOT NULL THEN concat(' forwards to ', max(forward_to)) ELSE '' END),
         client_ip, NULL, max(user_agent), array_agg(record_id)
  FROM subject_mailbox WHERE phase <> 'baseline' AND (foreign OR operation <> 'MailItemsAccessed')
    AND (foreign OR operation <> 'Send')
  GROUP BY date_trunc('hour', time), operation, client_ip, foreign
  UNION ALL
  SELECT min(time), max(time), 'mail', true, concat('Mail \"', max(subject), '\" to ', CAST(count(DISTINCT recipient_address) AS VARCHAR), ' recipient(s)'),
         original_client_ip, NULL, NULL, array_agg(record_id)
  FROM subject_mail WHERE phase <> 'baseline' AND foreign
  GROUP BY date_trunc('minute', time), original_client_ip, subject
  UNION ALL
  SELECT time AS time, time AS last, 'risk' AS kind, foreign AS actor, concat('Identity Protection: ', CASE WHEN record_kind <> 'riskyUser' THEN risk_event_type
    WHEN coalesce(lower(risk_detail), 'none') = 'none' THEN 'user risk' ELSE concat('user risk, ', risk_detail) END, ' (', coalesce(risk_level, '?'), ', ', coalesce(risk_state, '?'), ')'),
         ip_address AS ip, country AS country, NULL AS user_agent, [record_id] AS records
  FROM subject_risk WHERE phase <> 'baseline'
) ORDER BY time, kind, what, ip";

/// Seed 001 step 4's comparison, a row for the account and one for the organisation.
const SSPR_HISTORY: &str = "
SELECT who, in_window, window_days, before, days_with_resets, coverage_days,
       round(CAST(before AS DOUBLE) / greatest(coverage_days, 1), 3) AS per_day_before,
       round(CAST(in_window AS DOUBLE) / greatest(window_days, 0.1), 3) AS per_day_in_window
FROM (SELECT 'the account' AS who, 1 AS n, user_window AS in_window, window_days, user_prior AS before,
             user_prior_days AS days_with_resets, coverage_days FROM subject_sspr_history
      UNION ALL
      SELECT 'the organisation', 2, org_window, window_days, org_prior, CAST(NULL AS BIGINT), coverage_days FROM subject_sspr_history)
ORDER BY n";

const IOC_IPS: &str = "
SELECT s.ip_address AS ip, max(s.country) AS country, max(s.city) AS city, max(s.asn) AS asn, max(s.provider) AS provider,
       max(s.ip_class) AS class, min(s.time) AS first_seen, max(s.time) AS last_seen, count(*) AS sign_ins,
       sum(CASE WHEN s.succeeded THEN 1 ELSE 0 END) AS successes,
       coalesce(max(CASE WHEN s.coordinates_valid THEN s.latitude END), max(ip_latitude(s.ip_address))) AS latitude,
       coalesce(max(CASE WHEN s.coordinates_valid THEN s.longitude END), max(ip_longitude(s.ip_address))) AS longitude,
       max(n.users) AS accounts_tried
FROM subject_signins s LEFT JOIN subject_ip_users n ON n.ip_address = s.ip_address
WHERE s.foreign GROUP BY s.ip_address
UNION ALL
SELECT ip, max(ip_country(ip)), max(ip_city(ip)), max(ip_asn(ip)), max(ip_provider(ip)), max(ip_class(ip)), min(time), max(time), 0, 0,
       max(ip_latitude(ip)), max(ip_longitude(ip)), NULL
FROM (SELECT initiated_by_ip AS ip, time FROM subject_audits WHERE foreign
      UNION ALL SELECT client_ip, time FROM subject_mailbox WHERE foreign
      UNION ALL SELECT original_client_ip, time FROM subject_mail WHERE foreign)
WHERE ip NOT IN (SELECT ip_address FROM subject_signins WHERE foreign)
GROUP BY ip
ORDER BY first_seen, ip";

const LOCATIONS: &str = "
SELECT round(lat, 1) AS latitude, round(lon, 1) AS longitude, max(country) AS country, max(city) AS city, who,
       count(*) AS sign_ins, sum(CASE WHEN succeeded THEN 1 ELSE 0 END) AS successes,
       count(DISTINCT ip_address) AS addresses
FROM (SELECT coalesce(CASE WHEN coordinates_valid THEN latitude END, ip_latitude(ip_address)) AS lat,
             coalesce(CASE WHEN coordinates_valid THEN longitude END, ip_longitude(ip_address)) AS lon,
             country, city, succeeded, ip_address,
             CASE WHEN foreign THEN 'actor' WHEN phase = 'baseline' THEN 'baseline' ELSE 'owner' END AS who
      FROM subject_signins)
WHERE lat IS NOT NULL AND lon IS NOT NULL
GROUP BY round(lat, 1), round(lon, 1), who
ORDER BY who, latitude, longitude";

const ACTOR_SIGN_INS: &str = "
SELECT time, user_agent, app_display_name AS app, resource_display_name AS resource, ip_address AS ip,
       concat_ws(', ', nullif(city, ''), nullif(state, ''), nullif(country, '')) AS location, outcome AS status, result_type,
       CASE WHEN mfa_satisfied_by_token THEN 'MFA requirement satisfied by claim in the token'
            ELSE coalesce(nullif(mfa_auth_method, ''), nullif(mfa_auth_detail, '')) END AS mfa_result,
       authentication_requirement AS requirement, record_id
FROM subject_signins WHERE foreign ORDER BY time, record_id";

const IOC_AGENTS: &str = "
SELECT user_agent, max(agent_class) AS class, count(*) AS sign_ins, min(time) AS first_seen
FROM subject_signins WHERE foreign AND coalesce(user_agent, '') <> '' GROUP BY user_agent ORDER BY first_seen, user_agent";

const IOC_DEVICES: &str = "
SELECT coalesce(nullif(device_name, ''), '(unregistered)') AS device, device_os AS os, device_browser AS browser,
       count(*) AS sign_ins, min(time) AS first_seen
FROM subject_signins WHERE foreign GROUP BY 1, 2, 3 ORDER BY first_seen, device, os, browser";

const IOC_RECIPIENTS: &str = "
SELECT recipient_address AS recipient, count(*) AS messages, array_agg(DISTINCT subject) AS subjects, min(time) AS first_seen
FROM subject_mail WHERE foreign GROUP BY recipient_address ORDER BY first_seen, recipient";

/// Inbox rules and forwarding the actor made: from a foreign address, or from none the log
/// recorded (then unattributed, and kept: a missed malicious rule costs more than a listed
/// one). The IOCs and the containment objects both list these.
pub(crate) const ACTOR_RULES: &str = "
FROM subject_mailbox WHERE phase <> 'baseline' AND (rule_name IS NOT NULL OR forward_to IS NOT NULL)
  AND (foreign OR coalesce(client_ip, '') = '') ORDER BY time, record_id";

fn short_hash(text: &str) -> String {
    // FNV-1a: stable across runs and platforms, enough to name a report.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{StringArray, TimestampMicrosecondArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    use datafusion::arrow::record_batch::RecordBatch;
    use serde_json::json;

    use super::*;

    /// Mailbox records as the store holds them: id, time, account (NULL where the export
    /// named none), source file and raw text.
    fn mailbox(rows: &[(&str, i64, Option<&str>)]) -> RecordBatch {
        let schema = Schema::new(vec![
            Field::new("record_id", DataType::Utf8, false),
            Field::new("time", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), true),
            Field::new("user_principal_name", DataType::Utf8, true),
            Field::new("source_file", DataType::Utf8, true),
            Field::new("raw", DataType::Utf8, true),
        ]);
        let ids = StringArray::from_iter_values(rows.iter().map(|r| r.0));
        let times = TimestampMicrosecondArray::from_iter_values(rows.iter().map(|r| r.1)).with_timezone("UTC");
        let owners: StringArray = rows.iter().map(|r| r.2).collect();
        let files = StringArray::from_iter_values(rows.iter().map(|_| "ual.csv"));
        let raw = StringArray::from_iter_values(rows.iter().map(|r| format!("{{\"Id\":\"{}\"}}", r.0)));
        let columns = vec![
            Arc::new(ids) as _,
            Arc::new(times) as _,
            Arc::new(owners) as _,
            Arc::new(files) as _,
            Arc::new(raw) as _,
        ];
        RecordBatch::try_new(Arc::new(schema), columns).unwrap()
    }

    /// The ids `cited_records` returns when the subject table holds `subject` and the timeline
    /// cites them all.
    async fn cited(subject: &[(&str, i64, Option<&str>)]) -> Vec<String> {
        const SECOND: i64 = 1_000_000;
        let t = 1_773_000_000 * SECOND;
        // Three records in the same second (another account's among them), one a second later.
        let store =
            [("r1", t, Some("ann@x")), ("r2", t, None), ("r3", t, Some("bob@x")), ("r4", t + SECOND, Some("ann@x"))];
        let ctx = SessionContext::new();
        ctx.register_batch("mailbox_activity", mailbox(&store)).unwrap();
        ctx.register_batch("subject_mailbox", mailbox(subject)).unwrap();
        let ids: Vec<&str> = subject.iter().map(|r| r.0).collect();
        let timeline = json!({ "records": ids });
        let records = cited_records(&ctx, &[], &[timeline.as_object().unwrap().clone()]).await.unwrap();
        for r in &records {
            assert_eq!(r["raw"], json!(format!("{{\"Id\":\"{}\"}}", r["record_id"].as_str().unwrap())), "{r:?}");
        }
        records.iter().map(|r| r["record_id"].as_str().unwrap().to_owned()).collect()
    }

    #[tokio::test]
    async fn cited_records_are_read_by_account_and_none_is_lost_for_want_of_one() {
        let t = 1_773_000_000_000_000;
        // Every cited record names its account: the scan narrows by it.
        assert_eq!(cited(&[("r1", t, Some("ann@x")), ("r4", t + 1_000_000, Some("ann@x"))]).await, ["r1", "r4"]);
        // One names none: it is found all the same, and nothing that was not cited is.
        assert_eq!(cited(&[("r1", t, Some("ann@x")), ("r2", t, None)]).await, ["r1", "r2"]);
    }
}
