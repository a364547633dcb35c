//! A detection rule: one TOML file holding what it finds and why, its MITRE techniques, its
//! parameters with defaults, the SQL that finds it, and how to explain a hit.
//!
//! The query returns one row per alert with these columns (others are kept as the alert's
//! facts and may be named in `explain`):
//!
//! | column | type | |
//! |---|---|---|
//! | `user` | text | the account, or NULL for an attack on many accounts |
//! | `ip` | text | the main address, or NULL |
//! | `first_seen`, `last_seen` | timestamp | the span of the evidence |
//! | `record_ids` | list of text | the records behind the alert |
//! | `score` | float, optional | 0–100; defaults to the severity's score |
//! | `severity` | text, optional | raises or lowers the rule's severity for this hit |
//! | `mitre` | list of text, or text with commas, optional | this hit's techniques, for a rule that finds several kinds of thing |
//!
//! Parameters appear in the query as `{{name}}` and are replaced by SQL literals. One more is
//! given to every rule: `{{hash_seed}}`, a number drawn at random once per process, the seed of
//! `keyed_hash` (a key carried as 8 bytes: an attacker who knew the seed could make a new
//! agent's digest equal a known one's).
//!
//! With `language = "kql"` the query is KQL over Sentinel's tables (`sleuth_kql`), returning
//! the same columns (`record_ids` a dynamic array, `make_list(Id)`); `now()` and `ago()` count
//! from the store's latest event. A KQL rule names its intermediate results with `let`, not
//! `tables`.
//!
//! A rule may prepare `tables` first: each is computed once, held in memory while the rule's
//! query runs, and dropped after. DataFusion inlines a common table expression at each place
//! it is named, so an intermediate result that a query names three times (the successes of
//! every account, say) is worth preparing: it is read from the store once, not three times.
//! A table marked `view = true` is not computed ahead: it names a query that later tables
//! build on, and is inlined where it is named (worth it for a large join that is only
//! aggregated, or only read for a few accounts).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] =
        [Severity::Informational, Severity::Low, Severity::Medium, Severity::High, Severity::Critical];

    pub fn name(self) -> &'static str {
        match self {
            Severity::Informational => "informational",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn from_name(name: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|s| s.name().eq_ignore_ascii_case(name.trim()))
    }

    /// The score of an alert that states none.
    pub fn base_score(self) -> f64 {
        match self {
            Severity::Informational => 10.0,
            Severity::Low => 25.0,
            Severity::Medium => 50.0,
            Severity::High => 75.0,
            Severity::Critical => 90.0,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a rule's alerts join others in an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    /// Per targeted account.
    #[default]
    User,
    /// Per attacking address (a spray over many accounts).
    Ip,
}

/// A parameter value: a number, text or a flag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Bool(bool),
    Integer(i64),
    Float(f64),
    Text(String),
    /// Numbers for `IN`: result codes, say.
    Numbers(Vec<i64>),
    List(Vec<String>),
}

impl Value {
    /// The value as a SQL literal: numbers as they are, text quoted (quotes doubled), lists
    /// as a parenthesised list (of quoted texts, or of numbers) for `IN`.
    pub fn to_sql(&self) -> String {
        let quote = |s: &str| format!("'{}'", s.replace('\'', "''"));
        match self {
            Value::Bool(b) => b.to_string(),
            Value::Integer(i) => i.to_string(),
            Value::Float(f) => format!("{f:?}"),
            Value::Text(s) => quote(s),
            Value::Numbers(items) if items.is_empty() => "(NULL)".to_string(),
            Value::Numbers(_) => format!("({self})"),
            Value::List(items) if items.is_empty() => "(NULL)".to_string(),
            Value::List(items) => format!("({})", items.iter().map(|s| quote(s)).collect::<Vec<_>>().join(", ")),
        }
    }

    fn same_kind(&self, other: &Value) -> bool {
        matches!(
            (self, other),
            (Value::Bool(_), Value::Bool(_))
                | (Value::Integer(_), Value::Integer(_))
                | (Value::Float(_) | Value::Integer(_), Value::Float(_) | Value::Integer(_))
                | (Value::Text(_), Value::Text(_))
                | (Value::Numbers(_), Value::Numbers(_))
                | (Value::List(_), Value::List(_))
        )
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Text(s) => f.write_str(s),
            Value::List(items) => f.write_str(&items.join(", ")),
            Value::Numbers(items) => f.write_str(&items.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")),
            other => f.write_str(&other.to_sql()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parameter {
    pub default: Value,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub id: String,
    pub title: String,
    pub description: String,
    pub severity: Severity,
    /// MITRE ATT&CK technique ids.
    pub mitre: Vec<String>,
    #[serde(default)]
    pub group_by: GroupBy,
    #[serde(default)]
    pub parameters: BTreeMap<String, Parameter>,
    /// Tables computed before the query, in order; each may use the ones before it.
    #[serde(default)]
    pub tables: Vec<PreparedTable>,
    /// The query language of `query` (SQL unless it says `kql`).
    #[serde(default, skip_serializing_if = "Language::is_sql")]
    pub language: Language,
    /// The SQL (or KQL); see the module documentation for the columns it returns.
    pub query: String,
    /// One line for the analyst, naming result columns in braces: `{failures} failures ...`.
    pub explain: String,
    #[serde(default)]
    pub false_positives: Vec<String>,
    #[serde(default)]
    pub references: Vec<String>,
    /// Where a rule compiled from Sigma came from; None for a rule file.
    #[serde(skip)]
    pub sigma: Option<Origin>,
}

/// The language a rule's query is written in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    Sql,
    Kql,
}

impl Language {
    pub fn is_sql(&self) -> bool {
        *self == Language::Sql
    }
}

/// Where a rule compiled from Sigma came from (its own home, so that the rule does not
/// depend on the Sigma compiler that depends on it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The file (or feed item) it was read from.
    pub file: String,
    pub sigma_id: Option<String>,
    pub author: Option<String>,
    pub status: Option<String>,
    /// `azure/signinlogs` ..., or `correlation`.
    pub logsource: String,
    /// The rules of a correlation, by their catalog ids.
    pub correlates: Vec<String>,
}

/// An intermediate result a rule's query names, computed once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreparedTable {
    /// A lower-case SQL name; a hunt refuses one that would hide a table of the store.
    pub name: String,
    pub query: String,
    /// Inlined where it is named instead of computed ahead.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub view: bool,
}

/// A rule's SQL with its parameters filled in: the tables to prepare, then the query.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSql {
    pub tables: Vec<PreparedTable>,
    pub query: String,
    pub language: Language,
}

impl RuleSql {
    /// The same as one statement, the prepared tables as common table expressions in front:
    /// what `sleuth sql` can run (slower, since each is computed wherever it is named).
    pub fn single_statement(&self) -> String {
        if self.tables.is_empty() {
            return self.query.trim().to_string();
        }
        let tables: Vec<String> =
            self.tables.iter().map(|t| format!("{} AS (\n{}\n)", t.name, t.query.trim())).collect();
        let query = self.query.trim();
        // A query of its own common table expressions joins them to the tables' list; its
        // opening comments stay in front of them.
        let (comments, body) = query.split_at(first_word(query));
        let with = body.get(..4).is_some_and(|w| w.eq_ignore_ascii_case("with"))
            && body[4..].starts_with(|c: char| c.is_ascii_whitespace());
        match with {
            true => format!("WITH {},\n{comments}{}", tables.join(",\n"), body[4..].trim_start()),
            false => format!("WITH {}\n{query}", tables.join(",\n")),
        }
    }
}

/// Where a query's first word starts, past blank space and `--` comment lines.
fn first_word(query: &str) -> usize {
    let mut rest = query;
    loop {
        let trimmed = rest.trim_start();
        match trimmed.strip_prefix("--") {
            Some(comment) => rest = comment.split_once('\n').map_or("", |(_, after)| after),
            None => return query.len() - trimmed.len(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
}

impl Rule {
    /// Parses and checks a rule file; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Rule, RuleError> {
        let invalid = |message: String| RuleError::Invalid { origin: origin.to_string(), message };
        let rule: Rule = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let id_ok =
            !rule.id.is_empty() && rule.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !id_ok {
            return Err(invalid(format!("id {:?}: use lower-case letters, digits and dashes", rule.id)));
        }
        for table in &rule.tables {
            let name_ok = table.name.starts_with(|c: char| c.is_ascii_lowercase())
                && table.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !name_ok {
                return Err(invalid(format!("table {:?}: use lower-case letters, digits and underscores", table.name)));
            }
        }
        let texts = rule.tables.iter().map(|t| &t.query).chain([&rule.query]);
        for name in texts.flat_map(|q| placeholders(q)) {
            if !rule.parameters.contains_key(&name) && name != HASH_SEED {
                return Err(invalid(format!("the query uses {{{{{name}}}}}, which is not a parameter")));
            }
        }
        if rule.language == Language::Kql {
            if !rule.tables.is_empty() {
                return Err(invalid("a KQL rule names its intermediate results with `let`, not [[tables]]".into()));
            }
            let filled = rule.query_with(&BTreeMap::new()).map_err(|e| invalid(e.to_string()))?;
            sleuth_kql::check_syntax(&filled.query)
                .map_err(|e| invalid(format!("in the KQL, {}", e.show(&filled.query))))?;
        }
        if let Some(bad) = rule.mitre.iter().find(|t| !is_technique(t)) {
            return Err(invalid(format!("{bad:?} is not a MITRE ATT&CK technique id (T1234 or T1234.001)")));
        }
        Ok(rule)
    }

    /// The query with every `{{name}}` replaced by the parameter's value: `overrides` first,
    /// then the default. An override of the wrong kind (text for a number ...) is an error.
    pub fn query_with(&self, overrides: &BTreeMap<String, Value>) -> Result<RuleSql, RuleError> {
        for (name, value) in overrides {
            let Some(parameter) = self.parameters.get(name) else {
                let known = self.parameters.keys().cloned().collect::<Vec<_>>().join(", ");
                return Err(RuleError::Invalid {
                    origin: self.id.clone(),
                    message: format!("no parameter {name:?} (parameters: {known})"),
                });
            };
            if !parameter.default.same_kind(value) {
                return Err(RuleError::Invalid {
                    origin: self.id.clone(),
                    message: format!("parameter {name} takes a value like {}, not {value}", parameter.default),
                });
            }
        }
        let fill = |text: &str| {
            let mut text = text.to_string();
            for (name, parameter) in &self.parameters {
                let value = overrides.get(name).unwrap_or(&parameter.default);
                text = text.replace(&format!("{{{{{name}}}}}"), &value.to_sql());
            }
            text.replace(&format!("{{{{{HASH_SEED}}}}}"), &hash_seed().to_string())
        };
        Ok(RuleSql {
            tables: self.tables.iter().map(|t| PreparedTable { query: fill(&t.query), ..t.clone() }).collect(),
            query: fill(&self.query),
            language: self.language,
        })
    }
}

/// The placeholder every rule may use for `keyed_hash`'s seed.
const HASH_SEED: &str = "hash_seed";

/// A seed drawn once per process from the standard library's random hasher keys. It reaches
/// a cluster's executors as a literal in the plan, so every one of them hashes alike. Results
/// do not depend on it: digests are compared for equality only, and two texts of one account
/// share a digest with a chance of about 2^-64 per pair.
fn hash_seed() -> i64 {
    use std::hash::{BuildHasher, Hasher};
    static SEED: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *SEED.get_or_init(|| {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(0x5eed);
        // Non-negative: written as a plain literal, never as `-9223372036854775808`.
        (hasher.finish() >> 1) as i64
    })
}

fn placeholders(query: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = query;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        names.push(after[..end].trim().to_string());
        rest = &after[end + 2..];
    }
    names
}

pub(crate) fn is_technique(id: &str) -> bool {
    let Some(rest) = id.strip_prefix('T') else { return false };
    let (main, sub) = rest.split_once('.').unwrap_or((rest, ""));
    main.len() == 4
        && main.bytes().all(|b| b.is_ascii_digit())
        && (sub.is_empty() || (sub.len() == 3 && sub.bytes().all(|b| b.is_ascii_digit())))
}

/// Fills `{column}` in an explanation from an alert's facts; unknown names stay as written.
pub fn explain(template: &str, facts: &serde_json::Map<String, serde_json::Value>) -> String {
    sleuth_render::template::fill(template, |name| facts.get(name).map(fact_text))
}

fn fact_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(items) => items.iter().map(fact_text).collect::<Vec<_>>().join(", "),
        serde_json::Value::Null => "unknown".to_string(),
        serde_json::Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => format!("{f:.0}"),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: &str = r#"
id = "many-failures"
title = "Many failures"
description = "Failures above a threshold."
severity = "medium"
mitre = ["T1110", "T1110.003"]
explain = "{failures} failures for {user}"
query = """
SELECT user_principal_name AS user, count(*) AS failures FROM signins
WHERE result_type <> 0 AND app_display_name NOT IN {{ignored_apps}} GROUP BY 1 HAVING count(*) >= {{min_failures}}
"""

[parameters]
min_failures = { default = 5, description = "failures that make an alert" }
ignored_apps = { default = ["Bob's app"], description = "apps whose failures do not count" }
"#;

    #[test]
    fn parameters_become_literals_and_overrides_are_checked() {
        let rule = Rule::parse(RULE, "test.toml").unwrap();
        assert_eq!(rule.severity, Severity::Medium);
        let query = rule.query_with(&BTreeMap::new()).unwrap().query;
        assert!(query.contains("NOT IN ('Bob''s app')") && query.contains(">= 5"), "{query}");
        let more = BTreeMap::from([("min_failures".to_string(), Value::Integer(8))]);
        assert!(rule.query_with(&more).unwrap().query.contains(">= 8"));
        let wrong = BTreeMap::from([("min_failures".to_string(), Value::Text("x".into()))]);
        assert!(rule.query_with(&wrong).unwrap_err().to_string().contains("takes a value like 5"));
        let unknown = BTreeMap::from([("nope".to_string(), Value::Integer(1))]);
        assert!(rule.query_with(&unknown).unwrap_err().to_string().contains("no parameter \"nope\""));
    }

    #[test]
    fn bad_rules_say_what_is_wrong() {
        let cases = [
            (RULE.replace("many-failures", "Many Failures"), "use lower-case"),
            (RULE.replace("T1110.003", "1110"), "not a MITRE"),
            (RULE.replace("{{min_failures}}", "{{max}}"), "{{max}}, which is not a parameter"),
            (RULE.replace("severity = \"medium\"", "severity = \"urgent\""), "unknown variant"),
            (RULE.replace("title", "titel"), "unknown field"),
        ];
        for (text, message) in cases {
            let err = Rule::parse(&text, "bad.toml").unwrap_err().to_string();
            assert!(err.starts_with("bad.toml: ") && err.contains(message), "{err}");
        }
    }

    const PREPARED: &str = r#"
id = "busy"
title = "Busy"
description = "A rule with a prepared table."
severity = "low"
mitre = ["T1110"]
explain = "{user}"
query = "SELECT user AS user FROM busy_users"

[[tables]]
name = "busy_users"
query = "SELECT user_principal_name AS user FROM signins WHERE result_type >= {{min_failures}}"

[parameters]
min_failures = { default = 5, description = "d" }
"#;

    #[test]
    fn prepared_tables_are_filled_in_and_fold_into_one_statement() {
        let rule = Rule::parse(PREPARED, "t.toml").unwrap();
        let sql = rule.query_with(&BTreeMap::new()).unwrap();
        let table = "SELECT user_principal_name AS user FROM signins WHERE result_type >= 5";
        let prepared = PreparedTable { name: "busy_users".into(), query: table.into(), view: false };
        assert_eq!(sql.tables, vec![prepared]);
        assert_eq!(
            sql.single_statement(),
            format!("WITH busy_users AS (\n{table}\n)\nSELECT user AS user FROM busy_users")
        );
        let with = RuleSql {
            tables: sql.tables.clone(),
            query: "WITH a AS (SELECT 1) SELECT * FROM a".into(),
            language: Language::Sql,
        };
        assert_eq!(
            with.single_statement(),
            format!("WITH busy_users AS (\n{table}\n),\na AS (SELECT 1) SELECT * FROM a")
        );
        let commented = RuleSql { query: format!("-- first a, then b\n--\n{}", with.query), ..with.clone() };
        assert_eq!(
            commented.single_statement(),
            format!("WITH busy_users AS (\n{table}\n),\n-- first a, then b\n--\na AS (SELECT 1) SELECT * FROM a")
        );
        let within = RuleSql { query: "-- no WITH here\nSELECT 'with x' FROM busy_users".into(), ..with.clone() };
        assert_eq!(within.single_statement(), format!("WITH busy_users AS (\n{table}\n)\n{}", within.query));
        let bad = PREPARED.replace("name = \"busy_users\"", "name = \"Busy Users\"");
        assert!(Rule::parse(&bad, "t.toml").unwrap_err().to_string().contains("table \"Busy Users\""));
        let unknown = PREPARED.replace("{{min_failures}}", "{{nope}}");
        assert!(Rule::parse(&unknown, "t.toml").unwrap_err().to_string().contains("{{nope}}"));
        let view = PREPARED.replace("name = \"busy_users\"", "name = \"busy_users\"\nview = true");
        let view = Rule::parse(&view, "t.toml").unwrap().query_with(&BTreeMap::new()).unwrap();
        assert!(view.tables[0].view && !sql.tables[0].view);
        assert_eq!(view.single_statement(), sql.single_statement());
    }

    #[test]
    fn every_rule_may_name_the_hash_seed_and_gets_one_number_per_process() {
        let text = PREPARED
            .replace("result_type >= {{min_failures}}", "keyed_hash({{hash_seed}}, user_agent) <> {{hash_seed}}");
        let rule = Rule::parse(&text, "t.toml").unwrap();
        let first = rule.query_with(&BTreeMap::new()).unwrap().tables[0].query.clone();
        let seed = first.split_once("keyed_hash(").unwrap().1.split_once(',').unwrap().0;
        assert!(seed.parse::<i64>().is_ok_and(|n| n >= 0), "{first}");
        assert_eq!(
            first,
            format!("SELECT user_principal_name AS user FROM signins WHERE keyed_hash({seed}, user_agent) <> {seed}")
        );
        assert_eq!(rule.query_with(&BTreeMap::new()).unwrap().tables[0].query, first, "one seed per process");
        // It is not a parameter: nothing overrides it.
        let set = BTreeMap::from([("hash_seed".to_string(), Value::Integer(1))]);
        assert!(rule.query_with(&set).is_err());
    }

    #[test]
    fn explanations_name_the_facts() {
        let facts = serde_json::json!({"failures": 7, "user": "a@b.c", "ips": ["1.2.3.4", "5.6.7.8"], "km": 4981.7})
            .as_object()
            .unwrap()
            .clone();
        assert_eq!(
            explain("{failures} failures for {user} from {ips}", &facts),
            "7 failures for a@b.c from 1.2.3.4, 5.6.7.8"
        );
        assert_eq!(explain("{km} km, {missing} and {", &facts), "4982 km, {missing} and {");
    }
}
