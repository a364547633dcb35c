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
    pub containment: Vec<Step>,
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

/// A containment step a question calls for when its answer is yes: when to take it, what to do,
/// and which objects it acts on, named in the report so that a later command can act on them.
/// A plain string is a short-term step on the account.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Step {
    Plain(String),
    Detailed {
        #[serde(default = "Urgency::short_term")]
        stage: Urgency,
        step: String,
        #[serde(default)]
        objects: Objects,
    },
}

impl Step {
    pub fn parts(&self) -> (Urgency, &str, Objects) {
        match self {
            Step::Plain(step) => (Urgency::ShortTerm, step, Objects::Account),
            Step::Detailed { stage, step, objects } => (*stage, step, *objects),
        }
    }
}

/// When a containment step is due, as seed 001's playbook orders them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    /// The first 30 minutes: stop the actor.
    Immediate,
    /// 30 minutes to 4 hours: remove what the actor left.
    ShortTerm,
    /// 4 to 24 hours: close the way in.
    Recovery,
}

impl Urgency {
    fn short_term() -> Urgency {
        Urgency::ShortTerm
    }

    pub fn title(self) -> &'static str {
        match self {
            Urgency::Immediate => "Immediate (0-30 minutes)",
            Urgency::ShortTerm => "Short term (30 minutes - 4 hours)",
            Urgency::Recovery => "Recovery (4-24 hours)",
        }
    }
}

/// The objects a containment step acts on; the report lists them from the subject's tables.
/// A step whose objects are none of the subject's is left out (nothing to act on).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Objects {
    /// The account itself (always present).
    #[default]
    Account,
    /// The sessions the actor's successful sign-ins belong to.
    Sessions,
    /// The foreign addresses, as CIDR blocks for a named location.
    Addresses,
    /// Inbox rules and mailbox forwarding the actor made.
    InboxRules,
    /// Authentication methods and devices the actor registered or used.
    Methods,
    /// Applications consented to or granted in the window.
    Apps,
    /// Secrets and certificates added to the identity's application in the window.
    Credentials,
    /// Messages the actor sent.
    Messages,
    /// The other accounts the foreign addresses tried.
    OtherAccounts,
}

/// What follows from an investigation beyond its questions: when to escalate and which benign
/// explanations to check (seed 001's "Escalation Criteria" and "False Positive Documentation").
/// Built in per kind of subject (`response/*.toml`); a `response.toml` (people) or
/// `response-workload.toml` (workload identities) in a runbook folder replaces it.
///
/// ```toml
/// [[escalation]]
/// when = ["sspr_abused", "actor_changed"]   # facts that must all hold
/// priority = "P1"                            # P1 | P2 | P3
/// condition = "Self-service reset by the actor, then an authentication method changed"
/// action = "P1 incident: full account takeover"
///
/// [[false_positive]]
/// scenario = "The owner forgot the password"
/// question = "sspr"                 # the question that checks it
/// explains = "sspr_owner"           # the fact that means the explanation holds
/// check = "The reset came from the owner's places and nothing foreign followed"
/// ruled_out = "The reset or what followed came from sources foreign to the account"
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Response {
    #[serde(default)]
    pub escalation: Vec<Criterion>,
    #[serde(default)]
    pub false_positive: Vec<Scenario>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Criterion {
    pub when: Vec<String>,
    pub priority: Priority,
    pub condition: String,
    pub action: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Priority {
    P1,
    P2,
    P3,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub scenario: String,
    pub question: String,
    pub explains: String,
    pub check: String,
    pub ruled_out: String,
}

const USER_RESPONSE: &str = include_str!("response/user.toml");
const WORKLOAD_RESPONSE: &str = include_str!("response/workload.toml");

/// The questions, in the order they are considered, and what follows from their answers.
#[derive(Debug, Clone)]
pub struct Runbook {
    pub questions: Vec<Question>,
    pub response: Response,
}

impl Runbook {
    pub fn built_in() -> Runbook {
        Runbook::compiled(&BUILT_IN, USER_RESPONSE)
    }

    /// The built-in questions about a service principal or managed identity.
    pub fn workload() -> Runbook {
        Runbook::compiled(&WORKLOAD, WORKLOAD_RESPONSE)
    }

    /// The built-in questions for `kind`, plus every `*.toml` in `dir` when given; a file whose
    /// `id` is built in replaces that question.
    pub fn for_kind(kind: crate::SubjectKind, dir: Option<&std::path::Path>) -> Result<Runbook, InvestigateError> {
        let (built_in, response, file): (&[(&str, &str)], &str, &str) = match kind {
            crate::SubjectKind::User => (&BUILT_IN, USER_RESPONSE, RESPONSE_FILE),
            crate::SubjectKind::ServicePrincipal => (&WORKLOAD, WORKLOAD_RESPONSE, WORKLOAD_RESPONSE_FILE),
        };
        match dir {
            Some(dir) => Runbook::with_dir_over(built_in, (response, file), dir),
            None => Ok(Runbook::compiled(built_in, response)),
        }
    }

    fn compiled(files: &[(&str, &str)], response: &str) -> Runbook {
        let mut runbook = Runbook::from_texts(files.iter().map(|(name, text)| (name.to_string(), text.to_string())))
            .expect("the built-in questions are valid (tested)");
        runbook.response =
            parse_response("built-in response", response).expect("the built-in response is valid (tested)");
        runbook
    }

    /// The built-in questions plus every `*.toml` in `dir`; a file whose `id` is built in
    /// replaces that question.
    pub fn with_dir(dir: &std::path::Path) -> Result<Runbook, InvestigateError> {
        Runbook::with_dir_over(&BUILT_IN, (USER_RESPONSE, RESPONSE_FILE), dir)
    }

    fn with_dir_over(
        built_in: &[(&str, &str)],
        (response, response_file): (&str, &str),
        dir: &std::path::Path,
    ) -> Result<Runbook, InvestigateError> {
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
        let mut response = parse_response("built-in response", response)?;
        for file in files {
            let text = std::fs::read_to_string(&file).map_err(|e| bad(e.to_string()))?;
            let name = file.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if name == response_file {
                response = parse_response(&file.display().to_string(), &text)?;
            } else if name == RESPONSE_FILE || name == WORKLOAD_RESPONSE_FILE {
                // The other kind of subject's response.
            } else {
                texts.push((file.display().to_string(), text));
            }
        }
        let mut runbook = Runbook::from_texts(texts.into_iter())?;
        runbook.response = response;
        runbook
            .check_response()
            .map_err(|why| InvestigateError::Runbook { file: dir.join(response_file).display().to_string(), why })?;
        Ok(runbook)
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
        Ok(Runbook { questions, response: Response::default() })
    }

    /// Every fact the response names is one a question sets, and every question it names exists.
    fn check_response(&self) -> Result<(), String> {
        let facts = self.facts();
        for c in &self.response.escalation {
            if let Some(fact) = c.when.iter().find(|f| !facts.contains(f.as_str())) {
                return Err(format!("escalation {:?} waits for {fact}, which no question sets", c.condition));
            }
        }
        for s in &self.response.false_positive {
            if !self.questions.iter().any(|q| q.id == s.question) {
                return Err(format!("false positive {:?}: no question {}", s.scenario, s.question));
            }
            if !facts.contains(s.explains.as_str()) {
                return Err(format!("false positive {:?}: no question sets {}", s.scenario, s.explains));
            }
        }
        Ok(())
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

/// The name of a runbook folder's file that replaces the built-in [`Response`] for people.
pub const RESPONSE_FILE: &str = "response.toml";
/// The same for workload identities.
pub const WORKLOAD_RESPONSE_FILE: &str = "response-workload.toml";

fn parse_response(file: &str, text: &str) -> Result<Response, InvestigateError> {
    let bad = |why: String| InvestigateError::Runbook { file: file.to_owned(), why };
    let response: Response = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
    for c in &response.escalation {
        if c.when.is_empty() || c.condition.trim().is_empty() || c.action.trim().is_empty() {
            return Err(bad(format!("escalation {:?}: needs facts (when), a condition and an action", c.condition)));
        }
    }
    for s in &response.false_positive {
        if [&s.scenario, &s.question, &s.explains, &s.check, &s.ruled_out].iter().any(|f| f.trim().is_empty()) {
            return Err(bad(format!(
                "false positive {:?}: needs scenario, question, explains, check and ruled_out",
                s.scenario
            )));
        }
    }
    Ok(response)
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
    fn escalation_and_false_positives_name_facts_and_questions_that_exist() {
        for runbook in [Runbook::built_in(), Runbook::workload()] {
            assert!(!runbook.response.escalation.is_empty() && !runbook.response.false_positive.is_empty());
            runbook.check_response().unwrap();
        }
    }

    #[test]
    fn a_folders_response_file_replaces_the_built_in_one_and_a_bad_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let mine = "[[escalation]]\nwhen = [\"mail_sent\"]\npriority = \"P2\"\ncondition = \"mail\"\naction = \"call finance\"\n";
        std::fs::write(dir.path().join(RESPONSE_FILE), mine).unwrap();
        let runbook = Runbook::with_dir(dir.path()).unwrap();
        assert_eq!(runbook.response.escalation.len(), 1);
        assert_eq!(runbook.response.escalation[0].action, "call finance");
        assert_eq!(runbook.questions.len(), BUILT_IN.len(), "response.toml is not read as a question");
        std::fs::write(dir.path().join(RESPONSE_FILE), "[[escalation]]\nwhen = []\npriority = \"P9\"\n").unwrap();
        let err = Runbook::with_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains(RESPONSE_FILE), "{err}");
        std::fs::write(dir.path().join(RESPONSE_FILE), mine.replace("mail_sent", "mail_snet")).unwrap();
        let err = Runbook::with_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains(RESPONSE_FILE) && err.contains("mail_snet"), "{err}");
    }

    #[test]
    fn a_plain_containment_string_is_a_short_term_step_on_the_account() {
        let step: Step =
            toml::from_str::<toml::Table>("s = \"Call the owner\"").unwrap()["s"].clone().try_into().unwrap();
        assert_eq!(step.parts(), (Urgency::ShortTerm, "Call the owner", Objects::Account));
    }

    #[test]
    fn a_question_without_evidence_is_refused_with_its_file() {
        let text = "id = \"x\"\norder = 1\ntitle = \"t\"\ngroup = \"pivot\"\nsupported = \"a\"\nrefuted = \"b\"";
        let err = Runbook::from_texts([("mine.toml".to_string(), text.to_string())].into_iter()).unwrap_err();
        assert!(err.to_string().contains("mine.toml") && err.to_string().contains("no evidence"), "{err}");
    }
}
