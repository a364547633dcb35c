//! What the report tells the analyst to do: containment steps that name the exact objects to
//! act on, the escalation criteria in play, and the benign explanations checked (seed 001's
//! "Containment Playbook", "Escalation Criteria" and "False Positive Documentation"; seed 003's
//! corrective measures). The steps come from the questions answered yes, the criteria and
//! scenarios from the runbook's [`Response`](crate::runbook::Response); the objects from the
//! subject's tables, so a later command can act on them by id.

use std::collections::BTreeSet;

use datafusion::prelude::SessionContext;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::InvestigateError;
use crate::ask::Answer;
use crate::runbook::{Objects, Priority, Question, Runbook, Stance, Urgency};

/// One containment step and the objects it acts on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    pub stage: Urgency,
    pub step: String,
    /// The questions whose answers call for it.
    pub because: Vec<String>,
    /// What to act on: each with `kind`, `id` (what an API takes), `name` and `detail`.
    pub objects: Vec<Map<String, Value>>,
}

/// An escalation criterion in play: met, or with at least one of its facts found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Escalation {
    pub priority: Priority,
    pub condition: String,
    pub action: String,
    pub met: bool,
    /// The criterion's facts that the investigation found, and the ones it did not.
    pub found: Vec<String>,
    pub missing: Vec<String>,
}

/// A benign explanation and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FalsePositiveCheck {
    pub scenario: String,
    /// How it was checked, and by which question.
    pub check: String,
    pub question: String,
    pub outcome: Outcome,
    /// Why: the evidence that explains the activity, or why the explanation does not hold.
    pub how: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The benign explanation holds for at least part of the activity.
    Explains,
    RuledOut,
    /// The question that checks it was not asked (nothing called for it).
    NotChecked,
}

/// The containment steps of the questions answered yes, in order of urgency then of the
/// questions, each with its objects; a step with nothing to act on is left out.
pub async fn containment(
    ctx: &SessionContext,
    asked: &[&Question],
    ips: &[Map<String, Value>],
    subject: &str,
) -> Result<Vec<Action>, InvestigateError> {
    let mut actions: Vec<Action> = Vec::new();
    for q in asked {
        for step in &q.containment {
            let (stage, text, objects) = step.parts();
            if let Some(seen) = actions.iter_mut().find(|a| a.step == text) {
                seen.because.push(q.id.clone());
                continue;
            }
            let objects = objects_of(ctx, objects, ips, subject).await?;
            if objects.is_empty() {
                continue;
            }
            actions.push(Action { stage, step: text.to_owned(), because: vec![q.id.clone()], objects });
        }
    }
    actions.sort_by_key(|a| a.stage);
    Ok(actions)
}

/// The step of an investigation that found nothing to contain.
pub async fn nothing_to_contain(ctx: &SessionContext, subject: &str) -> Result<Action, InvestigateError> {
    Ok(Action {
        stage: Urgency::ShortTerm,
        step: "None needed; record the disposition and the evidence that explains the activity".into(),
        because: Vec::new(),
        objects: account(ctx, subject).await?,
    })
}

fn object(kind: &str, id: &str, name: &str, detail: &str) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert("kind".into(), kind.into());
    o.insert("id".into(), id.into());
    o.insert("name".into(), name.into());
    o.insert("detail".into(), detail.into());
    o
}

/// The objects of one kind, from the subject's tables. The account is always there; sessions
/// and methods fall back to it (revoking all sessions and reviewing every method still apply
/// when the log names none); the other kinds are empty when the subject has none.
async fn objects_of(
    ctx: &SessionContext,
    kind: Objects,
    ips: &[Map<String, Value>],
    subject: &str,
) -> Result<Vec<Map<String, Value>>, InvestigateError> {
    let account = || account(ctx, subject);
    Ok(match kind {
        Objects::Account => account().await?,
        Objects::Sessions => {
            let mut all = account().await?;
            if has_column(ctx, "subject_signins", "session_id").await {
                all.extend(rows(ctx, SESSIONS).await?);
            }
            all
        }
        Objects::Methods => {
            let found = rows(ctx, METHODS).await?;
            if found.is_empty() { account().await? } else { found }
        }
        Objects::Addresses => ips
            .iter()
            .filter_map(|ip| {
                let address = ip.get("ip")?.as_str()?;
                let cidr = if address.contains(':') { format!("{address}/128") } else { format!("{address}/32") };
                let text = |k: &str| ip.get(k).and_then(Value::as_str).unwrap_or("?").to_owned();
                let n = |k: &str| ip.get(k).and_then(Value::as_u64).unwrap_or(0);
                let detail = format!(
                    "{}, {}: {} sign-in(s), {} successful",
                    text("provider"),
                    text("country"),
                    n("sign_ins"),
                    n("successes")
                );
                Some(object("address", &cidr, address, &detail))
            })
            .collect(),
        Objects::InboxRules if ctx.table_exist("subject_mailbox")? => {
            rows(ctx, &format!("{INBOX_RULES} {}", crate::report::ACTOR_RULES)).await?
        }
        Objects::Apps => rows(ctx, APPS).await?,
        Objects::OtherAccounts => rows(ctx, OTHER_ACCOUNTS).await?,
        Objects::Credentials if has_column(ctx, "subject_audits", "credential_change").await => {
            rows(ctx, CREDENTIALS).await?
        }
        Objects::Messages if ctx.table_exist("subject_mail")? => rows(ctx, MESSAGES).await?,
        Objects::InboxRules | Objects::Credentials | Objects::Messages => Vec::new(),
    })
}

/// The account: its object id when the sign-ins carry one (a person's user id, a workload's
/// service principal id), else its name.
async fn account(ctx: &SessionContext, subject: &str) -> Result<Vec<Map<String, Value>>, InvestigateError> {
    let sql = if has_column(ctx, "subject_signins", "user_id").await {
        "SELECT max(user_id) AS id FROM subject_signins WHERE coalesce(user_id, '') <> ''"
    } else if has_column(ctx, "subject_sp_signins", "service_principal_id").await {
        "SELECT max(service_principal_id) AS id FROM subject_sp_signins WHERE coalesce(service_principal_id, '') <> ''"
    } else {
        "SELECT CAST(NULL AS VARCHAR) AS id"
    };
    let found = rows(ctx, sql).await?;
    let id = found.first().and_then(|r| r.get("id")).and_then(Value::as_str).unwrap_or(subject);
    Ok(vec![object("account", id, subject, "")])
}

async fn has_column(ctx: &SessionContext, table: &str, column: &str) -> bool {
    match ctx.table(table).await {
        Ok(frame) => frame.schema().fields().iter().any(|f| f.name() == column),
        Err(_) => false,
    }
}

async fn rows(ctx: &SessionContext, sql: &str) -> Result<Vec<Map<String, Value>>, InvestigateError> {
    crate::ask::rows(ctx, "containment objects", sql).await
}

/// The sessions of the actor's successful sign-ins.
const SESSIONS: &str = "
SELECT 'session' AS kind, session_id AS id, max(app_display_name) AS name,
       concat(CAST(count(*) AS VARCHAR), ' successful sign-in(s) from ', array_to_string(array_sort(array_agg(DISTINCT ip_address)), ', '),
              ', ', CAST(min(time) AS VARCHAR), ' to ', CAST(max(time) AS VARCHAR)) AS detail
FROM subject_signins WHERE foreign AND succeeded AND coalesce(session_id, '') <> ''
GROUP BY session_id ORDER BY min(time), session_id";

/// Authentication methods and devices registered or changed from foreign sources, and the
/// devices the actor's successful sign-ins presented.
const METHODS: &str = "
SELECT kind, id, name, detail FROM (
  SELECT CASE WHEN lower(coalesce(target_type, '')) = 'device' OR lower(activity) LIKE '%device%' THEN 'device' ELSE 'authentication_method' END AS kind,
         coalesce(target_id, '') AS id, coalesce(nullif(result_reason, ''), target_display_name, target_upn, '') AS name,
         concat(activity, ' on ', coalesce(target_display_name, target_upn, '?'), ' at ', CAST(time AS VARCHAR), ' from ',
                coalesce(initiated_by_ip, 'no recorded address')) AS detail, time
  FROM subject_audits
  WHERE phase <> 'baseline' AND foreign AND (lower(activity) LIKE '%security info%' OR lower(activity) LIKE '%authentication method%'
        OR lower(activity) LIKE '%register%device%' OR lower(activity) LIKE '%device%registered%' OR lower(activity) LIKE 'add device%'
        OR array_has(modified_property_names, 'StrongAuthenticationMethod') OR array_has(modified_property_names, 'StrongAuthenticationPhoneAppDetail'))
  UNION ALL
  SELECT 'device', device_id, max(coalesce(device_name, '')),
         concat('presented by ', CAST(count(*) AS VARCHAR), ' successful foreign sign-in(s) (', max(coalesce(device_os, '?')), ')'), min(time)
  FROM subject_signins WHERE foreign AND succeeded AND coalesce(device_id, '') <> '' GROUP BY device_id
) ORDER BY time, kind, id";

/// Inbox rules and forwarding the actor made (the IOCs' rules, `report::ACTOR_RULES`): the
/// rule's identity as the unified audit log names it (`ObjectId`, mailbox\rule), its name, and
/// what it does.
const INBOX_RULES: &str = "
SELECT CASE WHEN rule_name IS NULL THEN 'mailbox_forwarding' ELSE 'inbox_rule' END AS kind,
       coalesce(nullif(object_id, ''), rule_name, mailbox_owner_upn, user_principal_name) AS id,
       coalesce(rule_name, forward_to) AS name,
       concat(operation, ' at ', CAST(time AS VARCHAR), ' from ', coalesce(nullif(client_ip, ''), 'no recorded address'),
              CASE WHEN forward_to IS NOT NULL THEN concat('; forwards to ', forward_to) ELSE '' END,
              CASE WHEN move_to_folder IS NOT NULL THEN concat('; moves to ', move_to_folder) ELSE '' END) AS detail";

/// The other accounts the foreign addresses tried, with what each got.
const OTHER_ACCOUNTS: &str = "
SELECT 'account' AS kind, who AS id, who AS name,
       concat('tried from ', array_to_string(array_sort(array_agg(DISTINCT ip_address)), ', '),
              CASE WHEN bool_or(signed_in) THEN '; signed in successfully' ELSE '; no success' END) AS detail
FROM (SELECT ip_address, unnest(other_users) AS who, false AS signed_in FROM subject_ip_users
      WHERE ip_address IN (SELECT k FROM subject_foreign_ips)
      UNION ALL
      SELECT ip_address, unnest(others_signed_in), true FROM subject_ip_users
      WHERE ip_address IN (SELECT k FROM subject_foreign_ips))
WHERE who IS NOT NULL GROUP BY who ORDER BY bool_or(signed_in) DESC, who";

/// Consents and grants in the window that the owner did not make from a familiar address.
const APPS: &str = "
SELECT 'application' AS kind, coalesce(target_id, '') AS id, coalesce(target_display_name, '') AS name,
       concat(activity, ' at ', CAST(time AS VARCHAR), ' from ', coalesce(initiated_by_ip, 'no recorded address')) AS detail
FROM subject_audits
WHERE phase <> 'baseline' AND (foreign OR coalesce(initiated_by_ip, '') = '')
  AND (lower(activity) LIKE 'consent to application%' OR lower(activity) LIKE '%permission grant%' OR lower(activity) LIKE '%app role assignment%')
ORDER BY time, record_id";

/// Secrets and certificates added to the workload's application in the window.
const CREDENTIALS: &str = "
SELECT 'credential' AS kind, coalesce(target_id, '') AS id, coalesce(target_display_name, '') AS name,
       concat(activity, ' at ', CAST(time AS VARCHAR), ' by ', coalesce(initiated_by_upn, initiated_by_app, '?'),
              ' from ', coalesce(initiated_by_ip, 'no recorded address')) AS detail
FROM subject_audits WHERE phase <> 'baseline' AND credential_change AND foreign ORDER BY time, record_id";

/// The actor's messages, one per recipient: the internet message id a purge takes.
const MESSAGES: &str = "
SELECT 'message' AS kind, coalesce(message_id, record_id) AS id, coalesce(subject, '') AS name,
       concat('to ', recipient_address, ' at ', CAST(time AS VARCHAR)) AS detail
FROM subject_mail WHERE foreign ORDER BY time, recipient_address, record_id";

/// The criteria in play, met first and by priority; the highest met is the report's escalation.
pub fn escalation(runbook: &Runbook, facts: &BTreeSet<String>) -> Vec<Escalation> {
    let mut criteria: Vec<Escalation> = runbook
        .response
        .escalation
        .iter()
        .filter_map(|c| {
            let (found, missing): (Vec<String>, Vec<String>) = c.when.iter().cloned().partition(|f| facts.contains(f));
            (!found.is_empty()).then(|| Escalation {
                priority: c.priority,
                condition: c.condition.clone(),
                action: c.action.clone(),
                met: missing.is_empty(),
                found,
                missing,
            })
        })
        .collect();
    criteria.sort_by_key(|c| (!c.met, c.priority));
    criteria
}

/// Each benign explanation of the runbook, and whether its question found it to hold.
pub fn false_positives(runbook: &Runbook, answers: &[Answer], facts: &BTreeSet<String>) -> Vec<FalsePositiveCheck> {
    runbook
        .response
        .false_positive
        .iter()
        .map(|s| {
            let answer = answers.iter().find(|a| a.id == s.question);
            let (outcome, how) = match answer {
                None => (Outcome::NotChecked, vec!["Nothing in the evidence called for this check".to_owned()]),
                Some(a) if facts.contains(&s.explains) => (Outcome::Explains, explaining(a, &s.explains)),
                Some(a) => {
                    // When the explanation is the question's own benign conclusion, the evidence
                    // that carried the other conclusion is why it does not hold.
                    let mut how = vec![s.ruled_out.clone()];
                    if runbook.questions.iter().any(|q| q.id == a.id && q.otherwise == s.explains) {
                        how.extend(carried(a).into_iter().take(3));
                    }
                    (Outcome::RuledOut, how)
                }
            };
            FalsePositiveCheck {
                scenario: s.scenario.clone(),
                check: s.check.clone(),
                question: answer.map_or_else(|| s.question.clone(), |a| a.title.clone()),
                outcome,
                how,
            }
        })
        .collect()
}

/// The evidence that set `fact`; when the fact is the question's conclusion, the evidence
/// that carried it.
fn explaining(answer: &Answer, fact: &str) -> Vec<String> {
    let set: Vec<String> = answer.evidence.iter().filter(|e| e.sets == fact).map(|e| e.says.clone()).collect();
    if set.is_empty() {
        let mut how = vec![answer.conclusion.clone()];
        how.extend(carried(answer).into_iter().take(3));
        how
    } else {
        set
    }
}

/// The evidence on the side the answer came down on.
fn carried(answer: &Answer) -> Vec<String> {
    let side = if answer.supported { Stance::Supporting } else { Stance::Conflicting };
    answer.evidence.iter().filter(|e| e.stance == side).map(|e| e.says.clone()).collect()
}
