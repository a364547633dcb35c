//! Sigma rules compiled to SQL over the store, as rules of the catalog.
//!
//! A Sigma rule (parsed by `rsigma-parser`) names a log source and matches fields of single
//! events. The mapping data file (`sigma/mapping.toml`) says which table holds each log source
//! and what each field spelling means; the rule's detection becomes the `WHERE` clause of one
//! query over that table ([`detection`]), and a correlation rule (event_count, value_count,
//! temporal, temporal_ordered) becomes window functions over the events of the rules it
//! names ([`correlation`]). Both run on the same engine as the built-in rules, in the same
//! hunt. A rule that needs a log source the store does not hold, a field the mapping does not
//! know, or a feature not compiled is refused with the reason: it never matches nothing
//! silently.

mod correlation;
mod detection;
pub mod feed;
pub mod mapping;

use std::collections::{BTreeMap, BTreeSet};

use rsigma_parser::{CorrelationRule, Level, SigmaRule};

pub use mapping::{MAPPING, Mapping, Placeholders};

pub use crate::rule::Origin;
use crate::rule::{GroupBy, Rule, Severity};

/// Why a rule does not compile.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, thiserror::Error)]
pub enum Unsupported {
    #[error("the store holds no log source {0}")]
    LogSource(String),
    #[error("the mapping has no field {0:?} for this log source")]
    Field(String),
    #[error("the {0} modifier is not supported")]
    Modifier(String),
    #[error("{0}")]
    Feature(String),
    #[error("not a valid Sigma rule: {0}")]
    Invalid(String),
}

impl Unsupported {
    /// A short class of the reason, for tables of outcomes.
    pub fn class(&self) -> String {
        match self {
            Unsupported::LogSource(source) => format!("no data: {source}"),
            Unsupported::Field(_) => "unmapped field".into(),
            Unsupported::Modifier(m) => format!("modifier {m}"),
            Unsupported::Feature(f) if f.starts_with("placeholder") => "placeholder without values".into(),
            Unsupported::Feature(_) => "unsupported feature".into(),
            Unsupported::Invalid(_) => "invalid".into(),
        }
    }
}

/// What became of one Sigma document.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub file: String,
    pub title: String,
    /// `azure/signinlogs` ..., or `correlation`.
    pub logsource: String,
    pub result: Result<Rule, Unsupported>,
    /// A rule that only correlations use (their `generate` is false): not run alone.
    pub only_correlated: bool,
}

/// The Sigma documents of some files, compiled together (a correlation may name rules of
/// another file). `files` holds (origin, YAML text); the outcomes come in file order.
pub fn compile(files: &[(String, String)], mapping: &Mapping, placeholders: &Placeholders) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    let mut rules: Vec<(usize, SigmaRule)> = Vec::new();
    let mut correlations: Vec<(usize, CorrelationRule)> = Vec::new();
    for (file, text) in files {
        let failed = |title: String, reason: String| Outcome {
            file: file.clone(),
            title,
            logsource: "-".into(),
            result: Err(Unsupported::Invalid(reason)),
            only_correlated: false,
        };
        match rsigma_parser::parse_sigma_yaml(text) {
            Err(e) => outcomes.push(failed(file.clone(), e.to_string())),
            Ok(collection) => {
                for error in collection.errors {
                    outcomes.push(failed(file.clone(), error.lines().next().unwrap_or_default().to_string()));
                }
                for rule in collection.rules {
                    rules.push((outcomes.len(), rule));
                    outcomes.push(failed(String::new(), String::new()));
                }
                for correlation in collection.correlations {
                    correlations.push((outcomes.len(), correlation));
                    outcomes.push(failed(String::new(), String::new()));
                }
                if !collection.filters.is_empty() {
                    let reason = "Sigma filter documents are not supported".to_string();
                    outcomes.push(failed(file.clone(), reason));
                }
            }
        }
    }
    let mut ids = BTreeSet::new();
    let mut compiled: BTreeMap<usize, detection::Selection> = BTreeMap::new();
    for (slot, rule) in &rules {
        let file = outcomes[*slot].file.clone();
        let logsource = format!(
            "{}/{}",
            rule.logsource.product.as_deref().unwrap_or("-"),
            rule.logsource.service.as_deref().unwrap_or("-")
        );
        let result = detection::compile(rule, mapping, placeholders).and_then(|selection| {
            let id = unique_id(rule.id.as_deref(), rule.name.as_deref(), &rule.title, &mut ids)?;
            let converted = convert(&Meta::of_rule(rule), id, selection.query(), &file, &logsource, Vec::new());
            compiled.insert(*slot, selection);
            Ok(converted)
        });
        outcomes[*slot] = Outcome { file, title: rule.title.clone(), logsource, result, only_correlated: false };
    }
    let mut generated = BTreeSet::new();
    let mut correlated = BTreeSet::new();
    for (slot, correlation) in &correlations {
        let file = outcomes[*slot].file.clone();
        let result = (|| {
            let mut named = Vec::new();
            for reference in &correlation.rules {
                let found = rules.iter().find(|(_, r)| {
                    r.id.as_deref() == Some(reference.as_str()) || r.name.as_deref() == Some(reference.as_str())
                });
                let (rule_slot, _) = found.ok_or_else(|| {
                    Unsupported::Feature(format!("the correlation names rule {reference:?}, which is not loaded"))
                })?;
                let selection = compiled.get(rule_slot).ok_or_else(|| {
                    let why = outcomes[*rule_slot].result.as_ref().err().map(ToString::to_string).unwrap_or_default();
                    Unsupported::Feature(format!("its rule {reference:?} does not compile: {why}"))
                })?;
                let id = outcomes[*rule_slot].result.as_ref().map(|r| r.id.clone()).unwrap_or_default();
                named.push((reference.clone(), selection.clone(), *rule_slot, id));
            }
            let query = correlation::compile(correlation, &named)?;
            let id = unique_id(correlation.id.as_deref(), correlation.name.as_deref(), &correlation.title, &mut ids)?;
            let members: Vec<String> = named.iter().map(|(_, _, _, id)| id.clone()).collect();
            for (_, _, rule_slot, _) in &named {
                correlated.insert(*rule_slot);
                if correlation.generate {
                    generated.insert(*rule_slot);
                }
            }
            let mut rule = convert(&Meta::of_correlation(correlation), id, query, &file, "correlation", members);
            rule.group_by = correlation::group_by(correlation, &named);
            rule.explain = correlation::explain(correlation);
            Ok(rule)
        })();
        outcomes[*slot] = Outcome {
            file,
            title: correlation.title.clone(),
            logsource: "correlation".into(),
            result,
            only_correlated: false,
        };
    }
    for slot in correlated.difference(&generated) {
        outcomes[*slot].only_correlated = true;
    }
    outcomes
}

/// The metadata the two kinds of Sigma documents share.
struct Meta<'a> {
    title: &'a str,
    sigma_id: Option<&'a String>,
    description: Option<&'a String>,
    author: Option<&'a String>,
    status: Option<String>,
    level: Option<Level>,
    tags: &'a [String],
    falsepositives: &'a [String],
    references: &'a [String],
}

impl<'a> Meta<'a> {
    fn of_rule(r: &'a SigmaRule) -> Meta<'a> {
        Meta {
            title: &r.title,
            sigma_id: r.id.as_ref(),
            description: r.description.as_ref(),
            author: r.author.as_ref(),
            status: r.status.map(|s| format!("{s:?}").to_lowercase()),
            level: r.level,
            tags: &r.tags,
            falsepositives: &r.falsepositives,
            references: &r.references,
        }
    }

    fn of_correlation(r: &'a CorrelationRule) -> Meta<'a> {
        Meta {
            title: &r.title,
            sigma_id: r.id.as_ref(),
            description: r.description.as_ref(),
            author: r.author.as_ref(),
            status: r.status.map(|s| format!("{s:?}").to_lowercase()),
            level: r.level,
            tags: &r.tags,
            falsepositives: &r.falsepositives,
            references: &r.references,
        }
    }
}

fn convert(meta: &Meta, id: String, query: String, file: &str, logsource: &str, correlates: Vec<String>) -> Rule {
    let severity = match meta.level {
        Some(Level::Informational) => Severity::Informational,
        Some(Level::Low) => Severity::Low,
        None | Some(Level::Medium) => Severity::Medium,
        Some(Level::High) => Severity::High,
        Some(Level::Critical) => Severity::Critical,
    };
    let mitre: BTreeSet<String> = meta
        .tags
        .iter()
        .filter_map(|t| t.to_ascii_lowercase().strip_prefix("attack.t").map(|n| format!("T{n}")))
        .filter(|t| crate::rule::is_technique(t))
        .collect();
    Rule {
        id,
        title: meta.title.to_string(),
        description: meta.description.cloned().unwrap_or_else(|| meta.title.to_string()),
        severity,
        mitre: mitre.into_iter().collect(),
        group_by: GroupBy::User,
        parameters: BTreeMap::new(),
        tables: Vec::new(),
        language: crate::rule::Language::Sql,
        query,
        explain: format!("Sigma rule matched in {logsource}"),
        false_positives: meta.falsepositives.to_vec(),
        references: meta.references.to_vec(),
        sigma: Some(Origin {
            file: file.to_string(),
            sigma_id: meta.sigma_id.cloned(),
            author: meta.author.cloned(),
            status: meta.status.clone(),
            logsource: logsource.to_string(),
            correlates,
        }),
    }
}

/// A text as lower-case letters and digits, other runs of characters made one dash.
pub fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// The catalog id of a Sigma document: its id (a UUID), else its name, else its title, made
/// of lower-case letters, digits and dashes.
fn unique_id(
    sigma_id: Option<&str>,
    name: Option<&str>,
    title: &str,
    taken: &mut BTreeSet<String>,
) -> Result<String, Unsupported> {
    let id = slug(sigma_id.or(name).unwrap_or(title));
    if id.is_empty() {
        return Err(Unsupported::Invalid("the rule has no id, name or title to name it by".into()));
    }
    if !taken.insert(id.clone()) {
        return Err(Unsupported::Invalid(format!("another rule has the id {id}")));
    }
    Ok(id)
}

/// A finding of the Sigma linter (`rsigma`'s rules of the specification).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// error, warning, info or hint.
    pub severity: String,
    pub rule: String,
    pub message: String,
    /// Where in the document (`/detection/selection`).
    pub path: String,
}

/// Lints a Sigma YAML text against the specification.
pub fn lint(text: &str) -> Vec<Finding> {
    rsigma_parser::lint_yaml_str(text)
        .into_iter()
        .map(|w| Finding {
            severity: w.severity.to_string(),
            rule: w.rule.to_string(),
            message: w.message,
            path: w.path,
        })
        .collect()
}
