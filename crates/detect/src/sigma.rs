//! Sigma rules compiled to SQL over the store.
//!
//! A Sigma rule (parsed by `rsigma-parser`) names a log source and matches fields of single
//! events. The mapping data file (`sigma/mapping.toml`) says which table holds each log source
//! and which column each field spelling means; the rule's detection becomes the `WHERE` clause
//! of one query over that table, run by the same engine as the built-in rules. A rule that
//! uses a log source the store does not hold, a field the mapping does not know, or a feature
//! not compiled yet is refused with the reason: it never matches silently nothing.

use std::collections::BTreeMap;

use datafusion::arrow::datatypes::DataType;
use rsigma_parser::{
    ConditionExpr, Detection, DetectionItem, Modifier, Quantifier, SelectorPattern, SigmaRule, SigmaString, SigmaValue,
    SpecialChar, StringPart, detection_name_matches,
};
use serde::Deserialize;

/// The mapping shipped with Sleuth.
pub const MAPPING: &str = include_str!("../sigma/mapping.toml");

/// Log sources and field names mapped to the store's tables and columns.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    pub version: u32,
    pub sources: Vec<Source>,
}

/// One log source: the table that holds it and its field names.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub product: String,
    pub service: String,
    pub table: String,
    /// The columns an alert reports as its user and address.
    pub user: String,
    pub ip: String,
    /// Lower-cased field name, without a leading `properties.` → column.
    pub fields: BTreeMap<String, String>,
}

impl Mapping {
    pub fn parse(text: &str) -> Result<Mapping, String> {
        let mapping: Mapping = toml::from_str(text).map_err(|e| e.to_string())?;
        for source in &mapping.sources {
            let table = sleuth_ingest::Table::from_name(&source.table)
                .ok_or_else(|| format!("{}/{}: no table {:?}", source.product, source.service, source.table))?;
            let schema = sleuth_store::schema(table);
            let columns = source.fields.values().chain([&source.user, &source.ip]);
            if let Some(bad) = columns.into_iter().find(|c| schema.field_with_name(c).is_err()) {
                return Err(format!(
                    "{}/{}: table {} has no column {bad:?}",
                    source.product, source.service, source.table
                ));
            }
        }
        Ok(mapping)
    }

    /// The source of a rule's log source (product and service, case-insensitive).
    pub fn source(&self, rule: &SigmaRule) -> Result<&Source, Unsupported> {
        let (product, service) = (rule.logsource.product.as_deref(), rule.logsource.service.as_deref());
        let same = |a: &str, b: Option<&str>| b.is_some_and(|b| a.eq_ignore_ascii_case(b));
        self.sources
            .iter()
            .find(|s| same(&s.product, product) && same(&s.service, service))
            .ok_or_else(|| Unsupported::LogSource(format!("{}/{}", product.unwrap_or("-"), service.unwrap_or("-"))))
    }
}

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
}

/// A compiled rule: one query returning a row per matching record, with the columns every
/// alert carries (`user`, `ip`, `first_seen`, `last_seen`, `record_ids`).
pub fn compile(rule: &SigmaRule, mapping: &Mapping) -> Result<String, Unsupported> {
    let source = mapping.source(rule)?;
    let compiler = Compiler {
        source,
        schema: sleuth_store::schema(sleuth_ingest::Table::from_name(&source.table).expect("checked")),
    };
    let named = &rule.detection.named;
    let conditions =
        rule.detection.conditions.iter().map(|c| compiler.condition(c, named)).collect::<Result<Vec<_>, _>>()?;
    if rule.detection.timeframe.is_some() {
        return Err(Unsupported::Feature("timeframe (a Sigma 1 aggregation) is not supported".into()));
    }
    let condition = match conditions.len() {
        0 => return Err(Unsupported::Feature("the rule has no condition".into())),
        1 => conditions.into_iter().next().expect("one"),
        _ => format!("({})", conditions.join(" OR ")),
    };
    Ok(format!(
        "SELECT {user} AS user, {ip} AS ip, time AS first_seen, time AS last_seen, make_array(record_id) AS record_ids\n\
         FROM {table}\nWHERE {condition}",
        user = source.user,
        ip = source.ip,
        table = source.table,
    ))
}

struct Compiler<'a> {
    source: &'a Source,
    schema: datafusion::arrow::datatypes::SchemaRef,
}

impl Compiler<'_> {
    fn condition(
        &self,
        expr: &ConditionExpr,
        named: &std::collections::HashMap<String, Detection>,
    ) -> Result<String, Unsupported> {
        Ok(match expr {
            ConditionExpr::And(parts) => self.join(parts.iter().map(|p| self.condition(p, named)), "AND")?,
            ConditionExpr::Or(parts) => self.join(parts.iter().map(|p| self.condition(p, named)), "OR")?,
            ConditionExpr::Not(inner) => format!("NOT coalesce({}, false)", self.condition(inner, named)?),
            ConditionExpr::Identifier(name) => {
                let detection = named.get(name).ok_or_else(|| {
                    Unsupported::Feature(format!("the condition names {name:?}, which is not defined"))
                })?;
                self.detection(detection)?
            }
            ConditionExpr::Selector { quantifier, pattern } => {
                // Sorted, so that the same rule always compiles to the same text.
                let mut names: Vec<&String> = named
                    .keys()
                    .filter(|n| match pattern {
                        SelectorPattern::Them => !n.starts_with('_'),
                        SelectorPattern::Pattern(p) => detection_name_matches(p, n),
                    })
                    .collect();
                names.sort();
                if names.is_empty() {
                    return Err(Unsupported::Feature(format!("no detection matches {pattern}")));
                }
                let parts = names.iter().map(|n| self.detection(&named[*n])).collect::<Result<Vec<_>, _>>()?;
                match quantifier {
                    Quantifier::Any => format!("({})", parts.join(" OR ")),
                    Quantifier::All => format!("({})", parts.join(" AND ")),
                    Quantifier::Count(n) => {
                        let counts: Vec<String> =
                            parts.iter().map(|p| format!("CASE WHEN {p} THEN 1 ELSE 0 END")).collect();
                        format!("({} >= {n})", counts.join(" + "))
                    }
                }
            }
        })
    }

    fn join(&self, parts: impl Iterator<Item = Result<String, Unsupported>>, op: &str) -> Result<String, Unsupported> {
        let mut parts = parts.collect::<Result<Vec<_>, _>>()?;
        Ok(match parts.len() {
            1 => parts.remove(0),
            _ => format!("({})", parts.join(&format!(" {op} "))),
        })
    }

    fn detection(&self, detection: &Detection) -> Result<String, Unsupported> {
        match detection {
            Detection::AllOf(items) => self.join(items.iter().map(|i| self.item(i)), "AND"),
            Detection::AnyOf(list) => self.join(list.iter().map(|d| self.detection(d)), "OR"),
            Detection::And(list) => self.join(list.iter().map(|d| self.detection(d)), "AND"),
            Detection::Keywords(values) => {
                let parts = values.iter().map(|v| match v {
                    SigmaValue::String(s) => Ok(format!("raw ILIKE {}", quote(&like(s, true, true)))),
                    other => Ok(format!("raw ILIKE {}", quote(&format!("%{}%", escape_like(&other.to_string()))))),
                });
                self.join(parts, "OR")
            }
            Detection::ArrayMatch { .. } => Err(Unsupported::Feature("array matching is not supported".into())),
            Detection::Conditional { named, condition } => self.condition(condition, named),
        }
    }

    fn column(&self, field: &str) -> Result<(&str, DataType), Unsupported> {
        let key = field.to_ascii_lowercase();
        let key = key.strip_prefix("properties.").unwrap_or(&key);
        let column = self.source.fields.get(key).ok_or_else(|| Unsupported::Field(field.to_string()))?;
        let data_type = self.schema.field_with_name(column).expect("checked by Mapping::parse").data_type().clone();
        Ok((column, data_type))
    }

    fn item(&self, item: &DetectionItem) -> Result<String, Unsupported> {
        let Some(field) = &item.field.name else {
            return self.detection(&Detection::Keywords(item.values.clone()));
        };
        let (column, data_type) = self.column(field)?;
        let has = |m: Modifier| item.field.modifiers.contains(&m);
        for m in &item.field.modifiers {
            use Modifier::*;
            if !matches!(
                m,
                Contains
                    | StartsWith
                    | EndsWith
                    | All
                    | Re
                    | Cased
                    | Exists
                    | Gt
                    | Gte
                    | Lt
                    | Lte
                    | Neq
                    | IgnoreCase
                    | Multiline
                    | DotAll
            ) {
                return Err(Unsupported::Modifier(format!("{m:?}").to_lowercase()));
            }
        }
        let text = match data_type {
            DataType::List(_) | DataType::LargeList(_) => format!("array_to_string({column}, '\u{1f}')"),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => column.to_string(),
            _ => format!("CAST({column} AS VARCHAR)"),
        };
        let mut parts = Vec::new();
        for value in &item.values {
            parts.push(if has(Modifier::Exists) {
                let exists = matches!(value, SigmaValue::Bool(true));
                format!("({column} IS {}NULL)", if exists { "NOT " } else { "" })
            } else if let Some(op) =
                [(Modifier::Gt, ">"), (Modifier::Gte, ">="), (Modifier::Lt, "<"), (Modifier::Lte, "<=")]
                    .into_iter()
                    .find(|(m, _)| has(*m))
                    .map(|(_, op)| op)
            {
                let number = match value {
                    SigmaValue::Integer(i) => i.to_string(),
                    SigmaValue::Float(f) => f.to_string(),
                    other => return Err(Unsupported::Feature(format!("{op} compares numbers, not {other}"))),
                };
                format!("({column} {op} {number})")
            } else if has(Modifier::Re) {
                let SigmaValue::String(s) = value else {
                    return Err(Unsupported::Feature("re needs a text pattern".into()));
                };
                let flags: String = [(Modifier::IgnoreCase, 'i'), (Modifier::Multiline, 'm'), (Modifier::DotAll, 's')]
                    .into_iter()
                    .filter(|(m, _)| has(*m))
                    .map(|(_, f)| f)
                    .collect();
                let pattern = if flags.is_empty() { s.original.clone() } else { format!("(?{flags}){}", s.original) };
                format!("({text} ~ {})", quote(&pattern))
            } else {
                match value {
                    SigmaValue::Null => format!("({column} IS NULL OR {text} = '')"),
                    SigmaValue::Bool(b) if data_type == DataType::Boolean => format!("({column} = {b})"),
                    SigmaValue::Integer(i) if data_type.is_integer() => format!("({column} = {i})"),
                    SigmaValue::String(s) => {
                        let (contains, starts, ends) =
                            (has(Modifier::Contains), has(Modifier::StartsWith), has(Modifier::EndsWith));
                        let pattern = like(s, contains || ends, contains || starts);
                        let op = if has(Modifier::Cased) { "LIKE" } else { "ILIKE" };
                        format!("({text} {op} {})", quote(&pattern))
                    }
                    other => format!("({text} ILIKE {})", quote(&escape_like(&other.to_string()))),
                }
            });
        }
        let all = has(Modifier::All) || has(Modifier::Neq);
        let joined = self.join(parts.into_iter().map(Ok), if all { "AND" } else { "OR" })?;
        Ok(if has(Modifier::Neq) { format!("NOT coalesce({joined}, false)") } else { joined })
    }
}

/// A Sigma string as a LIKE pattern: `*` and `?` become `%` and `_`, the rest is literal.
fn like(s: &SigmaString, leading: bool, trailing: bool) -> String {
    let mut out = String::from(if leading { "%" } else { "" });
    for part in &s.parts {
        match part {
            StringPart::Plain(text) => out.push_str(&escape_like(text)),
            StringPart::Special(SpecialChar::WildcardMulti) => out.push('%'),
            StringPart::Special(SpecialChar::WildcardSingle) => out.push('_'),
        }
    }
    if trailing {
        out.push('%');
    }
    out
}

fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// A SQL string literal.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(yaml: &str) -> SigmaRule {
        let collection = rsigma_parser::parse_sigma_yaml(yaml).unwrap();
        collection.rules.into_iter().next().unwrap()
    }

    #[test]
    fn the_shipped_mapping_names_real_columns() {
        let mapping = Mapping::parse(MAPPING).unwrap();
        assert!(mapping.sources.iter().any(|s| s.service == "signinlogs" && s.table == "signins"));
        let bad = MAPPING.replacen("\"result_type\"", "\"resultcode\"", 1);
        assert!(Mapping::parse(&bad).unwrap_err().contains("no column \"resultcode\""));
    }

    #[test]
    fn fields_of_any_spelling_become_columns_and_conditions_become_sql() {
        let mapping = Mapping::parse(MAPPING).unwrap();
        let r = rule(
            "title: t\nlogsource:\n  product: azure\n  service: signinlogs\ndetection:\n  selection:\n    properties.ResultType: 50126\n    userAgent|contains: 'python'\n  filter:\n    resultDescription|startswith:\n      - 'Invalid*pass'\n      - \"it's\"\n  condition: selection and not filter\n",
        );
        let sql = compile(&r, &mapping).unwrap();
        assert!(sql.contains("FROM signins"), "{sql}");
        assert!(sql.contains("((result_type = 50126) AND (user_agent ILIKE '%python%'))"), "{sql}");
        assert!(
            sql.contains(
                "NOT coalesce(((failure_reason ILIKE 'Invalid%pass%') OR (failure_reason ILIKE 'it''s%')), false)"
            ),
            "{sql}"
        );
    }

    #[test]
    fn what_cannot_be_compiled_says_why() {
        let mapping = Mapping::parse(MAPPING).unwrap();
        let activity = rule(
            "title: t\nlogsource:\n  product: azure\n  service: activitylogs\ndetection:\n  s:\n    operationName: x\n  condition: s\n",
        );
        assert_eq!(compile(&activity, &mapping), Err(Unsupported::LogSource("azure/activitylogs".into())));
        let field = rule(
            "title: t\nlogsource:\n  product: azure\n  service: signinlogs\ndetection:\n  s:\n    Nope: x\n  condition: s\n",
        );
        assert_eq!(compile(&field, &mapping), Err(Unsupported::Field("Nope".into())));
    }
}

#[cfg(test)]
mod coverage {
    use super::*;

    #[test]
    fn sigmahq_coverage() {
        let mapping = Mapping::parse(MAPPING).unwrap();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/rules/sigma");
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let store =
            sleuth_store::Store::open(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../demo/store"))
                .unwrap();
        let ctx = runtime.block_on(store.session()).unwrap();
        let mut outcomes: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut stack = vec![root];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                if path.extension().is_none_or(|e| e != "yml") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                let key = match rsigma_parser::parse_sigma_yaml(&text) {
                    Err(e) => format!("parse error: {e}"),
                    Ok(c) if c.rules.is_empty() => {
                        format!("no rule ({} correlations, errors {:?})", c.correlations.len(), c.errors)
                    }
                    Ok(c) => match compile(&c.rules[0], &mapping) {
                        Ok(sql) => {
                            let count = format!("SELECT count(*) AS n FROM ({sql})");
                            let n = runtime.block_on(async { ctx.sql(&count).await?.collect().await });
                            match n {
                                Ok(b) => format!(
                                    "compiled, {} on the demo tenant",
                                    if b[0]
                                        .column(0)
                                        .as_any()
                                        .downcast_ref::<datafusion::arrow::array::Int64Array>()
                                        .unwrap()
                                        .value(0)
                                        > 0
                                    {
                                        "fires"
                                    } else {
                                        "silent"
                                    }
                                ),
                                Err(e) => format!("compiled, fails to run: {e}"),
                            }
                        }
                        Err(e) => e.to_string(),
                    },
                };
                outcomes.entry(key).or_default().push(path.file_name().unwrap().to_string_lossy().into());
            }
        }
        for (k, v) in &outcomes {
            println!("{:4} {k}   e.g. {}", v.len(), v[0]);
            if k.contains("fires") {
                println!("      {}", v.join(", "));
            }
        }
    }
}
