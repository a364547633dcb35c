//! Renderings of an investigation report's JSON: Markdown for a ticket, HTML for a browser,
//! the incident report (seed 003's shape) in Markdown, and the timeline as CSV. They read the JSON value, not the
//! Rust type, so a saved report renders the same as a fresh one. Every string that came from a
//! log is attacker-controlled and is escaped for the target format.

pub mod html;
pub mod incident;
pub mod markdown;
pub mod timeline_csv;

/// How many of the actor's sign-ins a report lists one by one; the IOCs count them all.
pub const ACTOR_SIGN_INS_SHOWN: usize = 200;

use serde_json::Value;

/// The text of a JSON value as a person reads it.
pub(crate) fn text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

pub(crate) fn list<'v>(value: &'v Value, key: &str) -> &'v [Value] {
    value.get(key).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

pub(crate) fn field(value: &Value, key: &str) -> String {
    value.get(key).map(text).unwrap_or_default()
}

/// The title of a containment step's urgency.
pub(crate) fn urgency(stage: &str) -> &'static str {
    match stage {
        "immediate" => "Immediate (0-30 minutes)",
        "short_term" => "Short term (30 minutes - 4 hours)",
        "recovery" => "Recovery (4-24 hours)",
        _ => "Other",
    }
}

/// How a false-positive check ended, as a person reads it.
pub(crate) fn outcome(outcome: &str) -> &'static str {
    match outcome {
        "explains" => "explains some of the activity",
        "ruled_out" => "ruled out",
        _ => "not checked",
    }
}
