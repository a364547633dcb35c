//! The runbook: questions as data files (`questions/*.toml`), modelled on a SOC runbook
//! (seed 001): what to ask, the queries that answer it, what in their rows counts as evidence
//! for or against, the two opposite conclusions, and what follows when the answer is yes
//! (MITRE techniques, a detection opportunity, containment, a lesson).
//!
//! ```toml
//! id = "control-blocked"
//! order = 80                       # questions are considered in this order
//! title = "Did anything actually stop it?"
//! group = "pivot"                  # pivot | routine (routine checks are shown grouped)
//! stage = "root_cause"             # optional: the incident report's section for its findings
//!                                  # (initial_access | actions | persistence | scope |
//!                                  #  root_cause | containment)
//! when = ["actor_attempted"]       # facts that must hold before it is asked (pivots)
//! unless = []                      # facts that must not hold
//! supported = "Security Controls Blocked Violation"
//! refuted = "Security Controls Did Not Block"
//! establishes = "blocked"          # fact set when the supported conclusion is reached
//! otherwise = ""                   # fact set when the refuted one is
//!
//! [[queries]]                      # what was looked at; rows are counted per source
//! source = "signins"
//! asks = "What sign-in activity exists for this user?"
//! sql = "SELECT record_id FROM subject_signins WHERE phase <> 'baseline'"
//!
//! [[evidence]]                     # each row of `sql` is one evidence item
//! stance = "supporting"            # supporting | conflicting
//! confidence = "high"              # low | moderate | high | confirmed
//! sql = "SELECT count(*) AS n, array_agg(record_id) AS records FROM ... HAVING count(*) > 0"
//! says = "{n} attempts were blocked"   # {column} is replaced by the row's value
//! sets = "some_fact"               # optional: fact set when the item is found (a pivot)
//! resolution = "..."               # optional: how it is settled when the other side wins
//! decisive = false                 # optional: when found, its stance decides the conclusion
//! ```
//!
//! The supported conclusion is reached when the supporting items outweigh the conflicting ones
//! (weights by confidence: low 1, moderate 2, high 3, confirmed 5); a conflicting item that is
//! outweighed is reported as resolved, with `resolution` when the question gives one.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::InvestigateError;

/// The built-in questions, compiled into the binary.
const BUILT_IN: [(&str, &str); 17] = [
    ("triage.toml", include_str!("questions/triage.toml")),
    ("normal-work.toml", include_str!("questions/normal-work.toml")),
    ("ueba.toml", include_str!("questions/ueba.toml")),
    ("role-scope.toml", include_str!("questions/role-scope.toml")),
    ("user-error.toml", include_str!("questions/user-error.toml")),
    ("actor-attempts.toml", include_str!("questions/actor-attempts.toml")),
    ("actor-access.toml", include_str!("questions/actor-access.toml")),
    ("control-blocked.toml", include_str!("questions/control-blocked.toml")),
    ("credentials-held.toml", include_str!("questions/credentials-held.toml")),
    ("account-changes.toml", include_str!("questions/account-changes.toml")),
    ("sspr.toml", include_str!("questions/sspr.toml")),
    ("token-theft.toml", include_str!("questions/token-theft.toml")),
    ("graph-token.toml", include_str!("questions/graph-token.toml")),
    ("mailbox.toml", include_str!("questions/mailbox.toml")),
    ("mail-sent.toml", include_str!("questions/mail-sent.toml")),
    ("campaign.toml", include_str!("questions/campaign.toml")),
    ("containment-done.toml", include_str!("questions/containment-done.toml")),
];

/// The built-in questions about a workload identity (`investigate --service-principal`): the
/// analyst-context triage is shared, the rest weigh credentials, networks and what the identity
/// did.
const WORKLOAD: [(&str, &str); 5] = [
    ("triage.toml", include_str!("questions/triage.toml")),
    ("workload/habits.toml", include_str!("questions/workload/habits.toml")),
    ("workload/credential.toml", include_str!("questions/workload/credential.toml")),
    ("workload/access.toml", include_str!("questions/workload/access.toml")),
    ("workload/actions.toml", include_str!("questions/workload/actions.toml")),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    Low,
    Moderate,
    High,
    Confirmed,
}

impl Confidence {
    pub fn weight(self) -> u32 {
        match self {
            Confidence::Low => 1,
            Confidence::Moderate => 2,
            Confidence::High => 3,
            Confidence::Confirmed => 5,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Moderate => "moderate",
            Confidence::High => "high",
            Confidence::Confirmed => "confirmed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stance {
    Supporting,
    Conflicting,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Group {
    /// A question whose answer moves the investigation; shown on its own.
    Pivot,
    /// A check that mostly rules out the obvious; shown grouped with its neighbours.
    Routine,
}

/// The section of the incident report (seed 003's shape) a question's findings belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// How the actor got in: attempts and successes.
    InitialAccess,
    /// What the actor did with the access: mailbox, mail.
    Actions,
    /// What the actor changed to keep access.
    Persistence,
    /// Who else is touched.
    Scope,
    /// Why the controls let it happen: what the actor holds.
    RootCause,
    /// What has already been done about it.
    Containment,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    pub id: String,
    pub order: u32,
    pub title: String,
    pub group: Group,
    #[serde(default)]
    pub stage: Option<Stage>,
    #[serde(default)]
    pub when: Vec<String>,
    #[serde(default)]
    pub unless: Vec<String>,
    pub supported: String,
    pub refuted: String,
    #[serde(default)]
    pub establishes: String,
    #[serde(default)]
    pub otherwise: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub mitre: Vec<Technique>,
    #[serde(default)]
    pub detection: Option<Detection>,
    #[serde(default)]
    pub containment: Vec<String>,
    #[serde(default)]
    pub lesson: String,
    #[serde(default)]
    pub queries: Vec<Query>,
    #[serde(default)]
    pub evidence: Vec<EvidenceRule>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Technique {
    pub id: String,
    pub name: String,
    pub tactic: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Detection {
    pub name: String,
    pub technique: String,
    pub context: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Query {
    pub source: String,
    pub asks: String,
    pub sql: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceRule {
    pub stance: Stance,
    pub confidence: Confidence,
    pub sql: String,
    pub says: String,
    #[serde(default)]
    pub sets: String,
    #[serde(default)]
    pub resolution: String,
    /// When found, the conclusion follows this item's stance whatever the weights say (one
    /// successful sign-in refutes "every attempt was blocked").
    #[serde(default)]
    pub decisive: bool,
}

/// The questions, in the order they are considered.
#[derive(Debug, Clone)]
pub struct Runbook {
    pub questions: Vec<Question>,
}

impl Runbook {
    pub fn built_in() -> Runbook {
        Runbook::compiled(&BUILT_IN)
    }

    /// The built-in questions about a service principal or managed identity.
    pub fn workload() -> Runbook {
        Runbook::compiled(&WORKLOAD)
    }

    /// The built-in questions for `kind`, plus every `*.toml` in `dir` when given; a file whose
    /// `id` is built in replaces that question.
    pub fn for_kind(kind: crate::SubjectKind, dir: Option<&std::path::Path>) -> Result<Runbook, InvestigateError> {
        let built_in: &[(&str, &str)] = match kind {
            crate::SubjectKind::User => &BUILT_IN,
            crate::SubjectKind::ServicePrincipal => &WORKLOAD,
        };
        match dir {
            Some(dir) => Runbook::with_dir_over(built_in, dir),
            None => Ok(Runbook::compiled(built_in)),
        }
    }

    fn compiled(files: &[(&str, &str)]) -> Runbook {
        Runbook::from_texts(files.iter().map(|(name, text)| (name.to_string(), text.to_string())))
            .expect("the built-in questions are valid (tested)")
    }

    /// The built-in questions plus every `*.toml` in `dir`; a file whose `id` is built in
    /// replaces that question.
    pub fn with_dir(dir: &std::path::Path) -> Result<Runbook, InvestigateError> {
        Runbook::with_dir_over(&BUILT_IN, dir)
    }

    fn with_dir_over(built_in: &[(&str, &str)], dir: &std::path::Path) -> Result<Runbook, InvestigateError> {
        let bad = |why: String| InvestigateError::Runbook { file: dir.display().to_string(), why };
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| bad(e.to_string()))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        let mut texts: Vec<(String, String)> =
            built_in.iter().map(|(name, text)| (name.to_string(), text.to_string())).collect();
        for file in files {
            let text = std::fs::read_to_string(&file).map_err(|e| bad(e.to_string()))?;
            texts.push((file.display().to_string(), text));
        }
        Runbook::from_texts(texts.into_iter())
    }

    fn from_texts(texts: impl Iterator<Item = (String, String)>) -> Result<Runbook, InvestigateError> {
        let mut questions: Vec<Question> = Vec::new();
        for (file, text) in texts {
            let question: Question = toml::from_str(&text)
                .map_err(|e| InvestigateError::Runbook { file: file.clone(), why: e.to_string() })?;
            validate(&question).map_err(|why| InvestigateError::Runbook { file, why })?;
            questions.retain(|q| q.id != question.id);
            questions.push(question);
        }
        questions.sort_by(|a, b| (a.order, &a.id).cmp(&(b.order, &b.id)));
        Ok(Runbook { questions })
    }

    /// Every fact a question or evidence item can set.
    pub fn facts(&self) -> BTreeSet<&str> {
        let mut facts = BTreeSet::new();
        for q in &self.questions {
            facts.extend([q.establishes.as_str(), q.otherwise.as_str()]);
            facts.extend(q.evidence.iter().map(|e| e.sets.as_str()));
        }
        facts.remove("");
        facts
    }
}

fn validate(q: &Question) -> Result<(), String> {
    let named = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !named(&q.id) {
        return Err(format!("question id {:?} must be lower-case letters, digits and dashes", q.id));
    }
    if q.supported.trim().is_empty() || q.refuted.trim().is_empty() {
        return Err(format!("question {}: both conclusions must be named", q.id));
    }
    if q.evidence.is_empty() {
        return Err(format!("question {}: no evidence rules; a question must be able to find something", q.id));
    }
    for e in &q.evidence {
        if e.says.trim().is_empty() {
            return Err(format!("question {}: an evidence rule says nothing", q.id));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_questions_parse_and_pivot_only_on_facts_that_something_sets() {
        for (runbook, files) in [(Runbook::built_in(), BUILT_IN.len()), (Runbook::workload(), WORKLOAD.len())] {
            assert_eq!(runbook.questions.len(), files);
            let facts = runbook.facts();
            for q in &runbook.questions {
                for fact in q.when.iter().chain(&q.unless) {
                    assert!(facts.contains(fact.as_str()), "question {} waits for {fact}, which nothing sets", q.id);
                }
            }
        }
    }

    #[test]
    fn a_question_without_evidence_is_refused_with_its_file() {
        let text = "id = \"x\"\norder = 1\ntitle = \"t\"\ngroup = \"pivot\"\nsupported = \"a\"\nrefuted = \"b\"";
        let err = Runbook::from_texts([("mine.toml".to_string(), text.to_string())].into_iter()).unwrap_err();
        assert!(err.to_string().contains("mine.toml") && err.to_string().contains("no evidence"), "{err}");
    }
}
