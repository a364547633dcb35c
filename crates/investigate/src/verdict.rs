//! The verdict: read from the facts the questions concluded, by fixed rules, so that the same
//! answers always give the same verdict, and written out with the reasons that decided it.
//!
//! | facts | verdict |
//! |---|---|
//! | the analyst documented it as benign, and no actor got in | benign_true_positive |
//! | an actor (a source foreign to the account) got in or changed the account | true_positive |
//! | an actor tried, and controls blocked every attempt | true_positive_blocked |
//! | an actor tried, nothing succeeded, but no control is seen stopping it | inconclusive |
//! | the owner changed the account, travelled on a known device, or runs known automation | benign_true_positive |
//! | otherwise (mistyped passwords, a denied prompt, shared egress) | false_positive |

use std::collections::BTreeSet;

use serde::Serialize;

use crate::ask::Answer;
use crate::runbook::{Confidence, Stance};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    TruePositive,
    TruePositiveBlocked,
    BenignTruePositive,
    FalsePositive,
    Inconclusive,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::TruePositive => "true_positive",
            Verdict::TruePositiveBlocked => "true_positive_blocked",
            Verdict::BenignTruePositive => "benign_true_positive",
            Verdict::FalsePositive => "false_positive",
            Verdict::Inconclusive => "inconclusive",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Verdict::TruePositive => "True Positive",
            Verdict::TruePositiveBlocked => "True Positive - Blocked",
            Verdict::BenignTruePositive => "Benign True Positive",
            Verdict::FalsePositive => "False Positive",
            Verdict::Inconclusive => "Inconclusive",
        }
    }

    /// Who should act, and how fast.
    pub fn escalation(self) -> &'static str {
        match self {
            Verdict::TruePositive => "Escalate to incident response now (Tier 3); contain the account first",
            Verdict::TruePositiveBlocked => "Escalate to Tier 2 for hardening; the account needs recovery hygiene",
            Verdict::Inconclusive => "Tier 2 review: gather what the logs lack (user contact, device state)",
            Verdict::BenignTruePositive | Verdict::FalsePositive => "No escalation; record the disposition",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub verdict: Verdict,
    pub confidence: Confidence,
    /// Why: the rule that decided, then the evidence that carried it.
    pub reasoning: Vec<String>,
}

/// Decides from the facts; `baseline_days` is how many days of the account's own successful
/// sign-ins the comparison had (a thin baseline lowers confidence in "normal").
pub fn decide(facts: &BTreeSet<String>, answers: &[Answer], baseline_days: i64) -> Decision {
    let has = |f: &str| facts.contains(f);
    let thin = baseline_days < 7;
    let (verdict, confidence, rule) = if has("documented_benign") && !has("actor_succeeded") {
        (
            Verdict::BenignTruePositive,
            Confidence::High,
            "The analyst context documents this activity as benign and no foreign source obtained access.",
        )
    } else if has("actor_succeeded") {
        let acted = has("actor_changed") || has("mail_sent") || has("has_token") || has("mailbox_touched");
        let c = if acted { Confidence::Confirmed } else { Confidence::High };
        (Verdict::TruePositive, c, "A source foreign to the account obtained access, so the account is compromised.")
    } else if has("actor_attempted") && has("blocked") {
        let c = if has("deviates") && !thin { Confidence::High } else { Confidence::Moderate };
        (
            Verdict::TruePositiveBlocked,
            c,
            "A foreign source attacked the account and the controls stopped every attempt.",
        )
    } else if has("actor_attempted") {
        (
            Verdict::Inconclusive,
            Confidence::Low,
            "A foreign source tried the account; nothing succeeded, but no control is seen stopping it.",
        )
    } else if has("owner_changed") || has("known_device_travel") || has("known_automation") {
        let c = if thin { Confidence::Moderate } else { Confidence::High };
        (
            Verdict::BenignTruePositive,
            c,
            "The activity is real but comes from the account's own networks, devices or established automation.",
        )
    } else {
        let c = if thin { Confidence::Moderate } else { Confidence::High };
        (
            Verdict::FalsePositive,
            c,
            "Nothing foreign to the account happened: what looked suspicious is the owner's own activity.",
        )
    };
    let mut reasoning = vec![rule.to_owned()];
    if thin {
        reasoning.push(format!(
            "Confidence is limited: the baseline holds only {baseline_days} day(s) of successful sign-ins before the window."
        ));
    }
    for a in answers.iter().filter(|a| !a.evidence.is_empty()) {
        let side = if a.supported { Stance::Supporting } else { Stance::Conflicting };
        let best = a.evidence.iter().filter(|e| e.stance == side).max_by_key(|e| e.confidence);
        if let Some(e) = best {
            reasoning.push(format!("{}: {} ({}, {})", a.title, a.conclusion, e.says, e.confidence.name()));
        }
    }
    Decision { verdict, confidence, reasoning }
}
