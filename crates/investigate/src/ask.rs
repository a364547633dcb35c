//! Asking: the runbook's questions put to the subject tables, each when the facts it waits for
//! have been found (pivots), until no question is left that the evidence calls for. Each
//! answer keeps the queries it ran, the evidence its rows gave, how conflicts were resolved,
//! and its conclusion.

use std::collections::{BTreeMap, BTreeSet};

use datafusion::prelude::SessionContext;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::InvestigateError;
use crate::runbook::{Confidence, EvidenceRule, Group, Question, Runbook, Stage, Stance};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryRun {
    pub source: String,
    pub asks: String,
    pub records: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub stance: Stance,
    pub confidence: Confidence,
    pub says: String,
    /// Ids of the records behind it, sorted.
    pub records: Vec<String>,
    /// How a conflict was settled, for the items that lost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved: Option<String>,
    /// The fact this item established, when it sets one (what a false-positive check cites).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sets: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    pub id: String,
    pub title: String,
    pub group: Group,
    /// The incident report's section for its findings, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<Stage>,
    /// The facts this question waited for (empty: asked in every investigation).
    pub asked_because: Vec<String>,
    pub queries: Vec<QueryRun>,
    pub evidence: Vec<Evidence>,
    /// The conclusion reached, and the opposite one it was weighed against.
    pub conclusion: String,
    pub alternative: String,
    pub supported: bool,
    /// Facts found by this question (its conclusion's and its evidence's).
    pub found: Vec<String>,
}

/// Asks every question the evidence calls for; returns the answers in the order asked and
/// the facts found.
pub async fn ask_all(
    ctx: &SessionContext,
    runbook: &Runbook,
) -> Result<(Vec<Answer>, BTreeSet<String>), InvestigateError> {
    let mut facts = BTreeSet::new();
    let mut answers: Vec<Answer> = Vec::new();
    let mut asked = BTreeSet::new();
    while let Some(q) = runbook.questions.iter().find(|q| {
        !asked.contains(&q.id)
            && q.when.iter().all(|f| facts.contains(f))
            && !q.unless.iter().any(|f| facts.contains(f))
    }) {
        asked.insert(q.id.clone());
        let started = std::time::Instant::now();
        let answer = ask(ctx, q).await?;
        tracing::debug!(question = %q.id, millis = started.elapsed().as_millis() as u64, "asked");
        facts.extend(answer.found.iter().cloned());
        answers.push(answer);
    }
    Ok((answers, facts))
}

async fn ask(ctx: &SessionContext, q: &Question) -> Result<Answer, InvestigateError> {
    let mut queries = Vec::new();
    for query in &q.queries {
        let rows = rows(ctx, &format!("question {}", q.id), &query.sql).await?;
        queries.push(QueryRun { source: query.source.clone(), asks: query.asks.clone(), records: rows.len() });
    }
    let mut found = BTreeSet::new();
    let mut evidence = Vec::new();
    let mut resolutions = Vec::new();
    let mut decisive: Option<Stance> = None;
    for rule in &q.evidence {
        for row in rows(ctx, &format!("question {}", q.id), &rule.sql).await? {
            evidence.push(item(rule, &row));
            resolutions.push(fill(&rule.resolution, &row));
            if !rule.sets.is_empty() {
                found.insert(rule.sets.clone());
            }
            if rule.decisive && decisive.is_none() {
                decisive = Some(rule.stance);
            }
        }
    }
    let weight = |stance| evidence.iter().filter(|e| e.stance == stance).map(|e| e.confidence.weight()).sum::<u32>();
    let (support, against) = (weight(Stance::Supporting), weight(Stance::Conflicting));
    let supported = match decisive {
        Some(stance) => stance == Stance::Supporting,
        None => support > against,
    };
    let winner = if supported { Stance::Supporting } else { Stance::Conflicting };
    for (e, resolution) in evidence.iter_mut().zip(resolutions).filter(|(e, _)| e.stance != winner) {
        e.resolved = Some(match (resolution.is_empty(), decisive) {
            (false, _) => resolution,
            (true, Some(_)) => "Settled by decisive evidence on the other side".to_owned(),
            (true, None) => {
                format!("Outweighed: {support} supporting against {against} conflicting, by confidence weight")
            }
        });
    }
    let (conclusion, alternative, fact) =
        if supported { (&q.supported, &q.refuted, &q.establishes) } else { (&q.refuted, &q.supported, &q.otherwise) };
    if !fact.is_empty() {
        found.insert(fact.clone());
    }
    Ok(Answer {
        id: q.id.clone(),
        title: q.title.clone(),
        group: q.group,
        stage: q.stage,
        asked_because: q.when.clone(),
        queries,
        evidence,
        conclusion: conclusion.clone(),
        alternative: alternative.clone(),
        supported,
        found: found.into_iter().collect(),
    })
}

fn item(rule: &EvidenceRule, row: &Map<String, Value>) -> Evidence {
    let mut records: Vec<String> = match row.get("records") {
        Some(Value::Array(ids)) => ids.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
        Some(Value::String(id)) => vec![id.clone()],
        _ => Vec::new(),
    };
    records.sort();
    records.dedup();
    Evidence {
        stance: rule.stance,
        confidence: rule.confidence,
        says: fill(&rule.says, row),
        records,
        resolved: None,
        sets: rule.sets.clone(),
    }
}

/// `template` with each `{column}` replaced by the row's value. Lists are sorted, without
/// duplicates or nulls, and cut after twelve items; numbers are written without a fraction
/// when whole.
pub fn fill(template: &str, row: &Map<String, Value>) -> String {
    sleuth_render::template::fill(template, |name| row.get(name).map(show))
}

fn show(value: &Value) -> String {
    match value {
        Value::Null => "none".to_owned(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.to_owned(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 => format!("{f:.0}"),
            Some(f) if n.is_f64() => format!("{f:.1}"),
            _ => n.to_string(),
        },
        Value::Array(items) => {
            let mut texts: Vec<String> =
                items.iter().filter(|v| !v.is_null()).map(show).filter(|s| !s.is_empty()).collect();
            texts.sort();
            texts.dedup();
            let all = texts.len();
            if all > 12 {
                texts.truncate(12);
                texts.push(format!("… ({all} in all)"));
            }
            if texts.is_empty() { "none".to_owned() } else { texts.join(", ") }
        }
        Value::Object(_) => value.to_string(),
    }
}

/// The rows of `sql` as JSON objects; errors name `what` asked.
pub(crate) async fn rows(
    ctx: &SessionContext,
    what: &str,
    sql: &str,
) -> Result<Vec<Map<String, Value>>, InvestigateError> {
    let fail = |e| InvestigateError::query(what, e);
    let batches = sleuth_store::read_only(ctx, sql).await.map_err(fail)?.collect().await.map_err(fail)?;
    sleuth_store::json::rows(&batches).map_err(fail)
}

/// Facts found, keyed by the question that found each first: the key pivots.
pub fn pivots(answers: &[Answer]) -> Vec<Pivot> {
    let mut first: BTreeMap<&str, &str> = BTreeMap::new();
    for a in answers {
        for f in &a.found {
            first.entry(f.as_str()).or_insert(a.id.as_str());
        }
    }
    let mut pivots: Vec<Pivot> = Vec::new();
    for a in answers {
        for fact in &a.asked_because {
            let Some(from) = first.get(fact.as_str()) else { continue };
            match pivots.iter_mut().find(|p| p.fact == *fact) {
                Some(p) => p.led_to.push(a.id.clone()),
                None => {
                    pivots.push(Pivot { fact: fact.clone(), found_by: from.to_string(), led_to: vec![a.id.clone()] })
                }
            }
        }
    }
    pivots
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pivot {
    pub fact: String,
    pub found_by: String,
    pub led_to: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn templates_fill_known_columns_and_leave_the_rest() {
        let row = json!({"n": 3, "countries": ["MY", "BD", null, "BD"], "km": 2703.0, "x": "a {b}"});
        let row = row.as_object().unwrap();
        assert_eq!(
            fill("{n} from {countries}, {km} km, {missing}, {x}", row),
            "3 from BD, MY, 2703 km, {missing}, a {b}"
        );
    }
}
