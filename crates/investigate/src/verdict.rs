//! The verdict: read from the facts the questions concluded, by fixed rules, so that the same
//! answers always give the same verdict, and written out with the reasons that decided it.
//!
//! | facts | verdict |
//! |---|---|
//! | the analyst documented it as benign, and no actor got in | benign_true_positive |
//! | no history before the window, and no fact that needs none | inconclusive (low) |
//! | an actor (a source foreign to the account) got in or changed the account | true_positive |
//! | an actor tried, and controls blocked every attempt | true_positive_blocked |
//! | an actor tried, nothing succeeded, but no control is seen stopping it | inconclusive |
//! | the owner changed the account, travelled on a known device, or runs known automation | benign_true_positive |
//! | otherwise (mistyped passwords, a denied prompt, shared egress) | false_positive |
//!
//! Confidence is then capped by the history: below seven days of baseline it is at most high,
//! below three at most moderate, with none low (an analyst's note or an administrator's
//! confirmation is not capped).

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

/// How much of the account's own history the comparison had: the days and the number of
/// its successful sign-ins before the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct History {
    pub days: i64,
    pub successes: i64,
}

impl History {
    /// Days of baseline below which a verdict is not given at full confidence.
    pub const FULL_DAYS: i64 = 7;
    /// Days of baseline below which a verdict is given at moderate confidence at most.
    pub const SOME_DAYS: i64 = 3;

    /// The highest confidence this much history supports: "never seen before" means little
    /// after a day of history and nothing after none.
    pub fn cap(self) -> Confidence {
        match self.days {
            d if d <= 0 => Confidence::Low,
            d if d < Self::SOME_DAYS => Confidence::Moderate,
            d if d < Self::FULL_DAYS => Confidence::High,
            _ => Confidence::Confirmed,
        }
    }

    fn none(self) -> bool {
        self.successes <= 0
    }
}

/// Facts that hold whatever the account's history: a token replayed from another network, a
/// success from a Tor exit or by an offensive tool, an Identity Protection detection that does not
/// rest on the account's habits (or is high), or an
/// administrator who confirmed the account compromised. Without history only these can call
/// an unfamiliar source an attacker.
const HARD_FACTS: [&str; 5] =
    ["token_replayed", "graph_token_replayed", "hostile_success", "risk_hard", "confirmed_compromised"];

/// Decides from the facts; `history` is how much of the account's own successful sign-in
/// history came before the window (thin history lowers confidence, none withholds a
/// compromise verdict unless a fact that needs no history carries it).
pub fn decide(facts: &BTreeSet<String>, answers: &[Answer], history: History) -> Decision {
    let has = |f: &str| facts.contains(f);
    let hard = HARD_FACTS.iter().any(|f| has(f));
    // A token copied off its device and used through Graph is access obtained, whether or not
    // a sign-in of the actor's shows it.
    let succeeded = has("actor_succeeded") || has("graph_token_replayed");
    let thin = history.days < History::FULL_DAYS;
    let (verdict, confidence, rule) = if has("documented_benign") && !has("actor_succeeded") {
        (
            Verdict::BenignTruePositive,
            Confidence::High,
            "The analyst context documents this activity as benign and no foreign source obtained access.",
        )
    } else if history.none() && !hard && (succeeded || has("actor_attempted")) {
        (
            Verdict::Inconclusive,
            Confidence::Low,
            "Not enough history: the account has no successful sign-in before the window, so no source can be told apart from its owner; nothing that holds without history (a replayed token, Tor or an attack tool, an Identity Protection risk) was found.",
        )
    } else if succeeded {
        let acted = has("actor_changed") || has("mail_sent") || has("has_token") || has("mailbox_touched");
        let c = if acted || has("confirmed_compromised") { Confidence::Confirmed } else { Confidence::High };
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
    // An analyst's note or an administrator's confirmation does not depend on the baseline.
    let vouched = has("documented_benign") || has("confirmed_compromised");
    // Facts that need no history keep a verdict at high whatever the baseline.
    let cap = if hard { history.cap().max(Confidence::High) } else { history.cap() };
    let capped = if vouched { confidence } else { confidence.min(cap) };
    let mut reasoning = vec![rule.to_owned()];
    if thin && !vouched {
        let effect = if capped < confidence {
            format!("Confidence is lowered from {} to {}", confidence.name(), capped.name())
        } else {
            format!("Confidence is at most {}", cap.name())
        };
        reasoning.push(format!(
            "{effect}: the baseline holds only {} day(s) ({} successful sign-in(s)) before the window, and {} days make a full one.",
            history.days,
            history.successes,
            History::FULL_DAYS
        ));
    }
    for a in answers.iter().filter(|a| !a.evidence.is_empty()) {
        let side = if a.supported { Stance::Supporting } else { Stance::Conflicting };
        let best = a.evidence.iter().filter(|e| e.stance == side).max_by_key(|e| e.confidence);
        if let Some(e) = best {
            reasoning.push(format!("{}: {} ({}, {})", a.title, a.conclusion, e.says, e.confidence.name()));
        }
    }
    Decision { verdict, confidence: capped, reasoning }
}
