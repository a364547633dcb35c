//! A Sigma rule's detection as the `WHERE` clause of one query over its log source's table.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use rsigma_parser::{
    ConditionExpr, Detection, DetectionItem, Modifier, Quantifier, SelectorPattern, SigmaRule, SigmaString, SigmaValue,
    SpecialChar, StringPart, detection_name_matches,
};

use super::Unsupported;
use super::mapping::{Field, Mapping, Placeholders, Source};

/// A rule's detection, compiled: the table to read and the condition on its rows.
#[derive(Debug, Clone)]
pub struct Selection<'m> {
    pub source: &'m Source,
    pub condition: String,
}

impl Selection<'_> {
    /// One row per matching record, with the columns every alert carries.
    pub fn query(&self) -> String {
        format!(
            "SELECT {user} AS user, {ip} AS ip, time AS first_seen, time AS last_seen, make_array(record_id) AS record_ids\n\
             FROM {table}\nWHERE {condition}",
            user = self.source.user,
            ip = self.source.ip(),
            table = self.source.table,
            condition = self.condition,
        )
    }

    /// A rule's field as a SQL expression over this selection's table (for correlations).
    pub fn expression(&self, field: &str) -> Result<String, Unsupported> {
        Ok(match self.source.field(field)? {
            Field::Column(column) => column.to_string(),
            Field::Raw(path) => raw_field(path),
            Field::Constant(value) => quote(value),
        })
    }
}

pub fn compile<'m>(
    rule: &SigmaRule,
    mapping: &'m Mapping,
    placeholders: &Placeholders,
) -> Result<Selection<'m>, Unsupported> {
    let source = mapping.source(rule.logsource.product.as_deref(), rule.logsource.service.as_deref())?;
    let table = sleuth_ingest::Table::from_name(&source.table).expect("checked by Mapping::parse");
    let compiler = Compiler { source, schema: sleuth_store::schema(table), placeholders };
    if rule.detection.timeframe.is_some() {
        return Err(Unsupported::Feature("timeframe (a Sigma 1 aggregation; write a correlation rule)".into()));
    }
    let named = &rule.detection.named;
    let conditions =
        rule.detection.conditions.iter().map(|c| compiler.condition(c, named)).collect::<Result<Vec<_>, _>>()?;
    let condition = match conditions.len() {
        0 => return Err(Unsupported::Feature("the rule has no condition".into())),
        1 => conditions.into_iter().next().expect("one"),
        _ => format!("({})", conditions.join(" OR ")),
    };
    Ok(Selection { source, condition })
}

struct Compiler<'a> {
    source: &'a Source,
    schema: SchemaRef,
    placeholders: &'a Placeholders,
}

/// How an item's field is read: as a typed column, or as text.
struct Target {
    /// The expression of the value as stored (a column), for typed comparisons.
    typed: String,
    data_type: DataType,
    /// The expression as text, for pattern matching.
    text: String,
}

const SUPPORTED: [Modifier; 25] = [
    Modifier::Contains,
    Modifier::StartsWith,
    Modifier::EndsWith,
    Modifier::All,
    Modifier::Base64,
    Modifier::Base64Offset,
    Modifier::WindAsh,
    Modifier::Re,
    Modifier::Cidr,
    Modifier::Cased,
    Modifier::Exists,
    Modifier::Expand,
    Modifier::FieldRef,
    Modifier::Gt,
    Modifier::Gte,
    Modifier::Lt,
    Modifier::Lte,
    Modifier::Neq,
    Modifier::IgnoreCase,
    Modifier::Multiline,
    Modifier::DotAll,
    Modifier::Minute,
    Modifier::Hour,
    Modifier::Day,
    Modifier::Month,
];

impl Compiler<'_> {
    fn condition(&self, expr: &ConditionExpr, named: &HashMap<String, Detection>) -> Result<String, Unsupported> {
        Ok(match expr {
            ConditionExpr::And(parts) => join(parts.iter().map(|p| self.condition(p, named)), "AND")?,
            ConditionExpr::Or(parts) => join(parts.iter().map(|p| self.condition(p, named)), "OR")?,
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

    fn detection(&self, detection: &Detection) -> Result<String, Unsupported> {
        match detection {
            Detection::AllOf(items) => join(items.iter().map(|i| self.item(i)), "AND"),
            Detection::AnyOf(list) => join(list.iter().map(|d| self.detection(d)), "OR"),
            Detection::And(list) => join(list.iter().map(|d| self.detection(d)), "AND"),
            Detection::Keywords(values) => {
                let raw = Target { typed: "raw".into(), data_type: DataType::Utf8, text: "raw".into() };
                let parts = values.iter().map(|v| Ok(self.compare(&raw, v, &[Modifier::Contains])));
                join(parts, "OR")
            }
            Detection::ArrayMatch { .. } | Detection::Conditional { .. } => {
                Err(Unsupported::Feature("array matching (`field[any]:`) is not supported".into()))
            }
        }
    }

    fn target(&self, field: &str) -> Result<Option<Target>, Unsupported> {
        Ok(Some(match self.source.field(field)? {
            Field::Column(column) => {
                let data_type =
                    self.schema.field_with_name(column).expect("checked by Mapping::parse").data_type().clone();
                let text = match data_type {
                    DataType::List(_) | DataType::LargeList(_) => format!("array_to_string({column}, '\n')"),
                    DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => column.to_string(),
                    _ => format!("CAST({column} AS VARCHAR)"),
                };
                Target { typed: column.to_string(), data_type, text }
            }
            Field::Raw(path) => {
                let text = raw_field(path);
                Target { typed: text.clone(), data_type: DataType::Utf8, text }
            }
            Field::Constant(_) => return Ok(None),
        }))
    }

    fn item(&self, item: &DetectionItem) -> Result<String, Unsupported> {
        let Some(field) = &item.field.name else {
            return self.detection(&Detection::Keywords(item.values.clone()));
        };
        let modifiers = &item.field.modifiers;
        if let Some(m) = modifiers.iter().find(|m| !SUPPORTED.contains(m)) {
            return Err(Unsupported::Modifier(format!("{m:?}").to_lowercase()));
        }
        let has = |m: Modifier| modifiers.contains(&m);
        if let Field::Constant(constant) = self.source.field(field)? {
            return self.constant(field, constant, item);
        }
        let target = self.target(field)?.expect("not a constant");
        let mut parts = Vec::new();
        for value in &item.values {
            let alternatives = self.alternatives(field, value, modifiers)?;
            let compared: Vec<String> =
                alternatives.iter().map(|v| self.compare_checked(&target, v, modifiers)).collect::<Result<_, _>>()?;
            parts.push(join(compared.into_iter().map(Ok), "OR")?);
        }
        let all = has(Modifier::All) || has(Modifier::Neq);
        let joined = join(parts.into_iter().map(Ok), if all { "AND" } else { "OR" })?;
        Ok(if has(Modifier::Neq) { format!("NOT coalesce({joined}, false)") } else { joined })
    }

    /// A field that has one value for the whole source: the item is true or false already.
    fn constant(&self, field: &str, constant: &str, item: &DetectionItem) -> Result<String, Unsupported> {
        if !item.field.modifiers.is_empty() {
            return Err(Unsupported::Feature(format!("modifiers on {field}, a constant of the log source")));
        }
        let matches = item.values.iter().any(|v| match v {
            SigmaValue::String(s) => like_matches(&s.parts, constant),
            other => other.to_string().eq_ignore_ascii_case(constant),
        });
        Ok(matches.to_string().to_uppercase())
    }

    /// The values an item's value stands for: placeholders expanded, encodings applied,
    /// Windows dashes varied, and the mapping's translations of the logs' spelling.
    fn alternatives(
        &self,
        field: &str,
        value: &SigmaValue,
        modifiers: &[Modifier],
    ) -> Result<Vec<SigmaValue>, Unsupported> {
        let has = |m: Modifier| modifiers.contains(&m);
        let SigmaValue::String(s) = value else { return Ok(vec![value.clone()]) };
        let mut texts: Vec<SigmaString> = if has(Modifier::Expand) {
            let name = s.original.trim_matches('%');
            let values = self.placeholders.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v);
            let values = values.ok_or_else(|| {
                Unsupported::Feature(format!(
                    "placeholder %{name}% has no values; set them under [sigma.placeholders] in the --config file"
                ))
            })?;
            values.iter().map(|v| SigmaString::new(v)).collect()
        } else {
            vec![s.clone()]
        };
        if has(Modifier::WindAsh) {
            texts = texts.iter().flat_map(windash).collect();
        }
        if has(Modifier::Base64) || has(Modifier::Base64Offset) {
            let plain = |s: &SigmaString| {
                s.as_plain().ok_or_else(|| Unsupported::Feature("base64 of a value with wildcards".into()))
            };
            let mut encoded = Vec::new();
            for text in &texts {
                let text = plain(text)?;
                if has(Modifier::Base64Offset) {
                    encoded.extend(base64_offsets(text.as_bytes()));
                } else {
                    encoded.push(STANDARD.encode(text.as_bytes()));
                }
            }
            texts = encoded.iter().map(|e| SigmaString::from_raw(e)).collect();
        }
        Ok(texts
            .into_iter()
            .map(|s| match s.as_plain() {
                Some(plain) => SigmaValue::String(SigmaString::from_raw(self.source.value(field, &plain))),
                None => SigmaValue::String(s),
            })
            .collect())
    }

    fn compare_checked(
        &self,
        target: &Target,
        value: &SigmaValue,
        modifiers: &[Modifier],
    ) -> Result<String, Unsupported> {
        let has = |m: Modifier| modifiers.contains(&m);
        let column = &target.typed;
        if has(Modifier::Exists) {
            let exists = matches!(value, SigmaValue::Bool(true));
            return Ok(format!("({column} IS {}NULL)", if exists { "NOT " } else { "" }));
        }
        if let Some(part) =
            [(Modifier::Minute, "minute"), (Modifier::Hour, "hour"), (Modifier::Day, "day"), (Modifier::Month, "month")]
                .into_iter()
                .find(|(m, _)| has(*m))
                .map(|(_, p)| p)
        {
            let SigmaValue::Integer(n) = value else {
                return Err(Unsupported::Feature(format!("the {part} of a time compares with a number")));
            };
            if !matches!(target.data_type, DataType::Timestamp(..)) {
                return Err(Unsupported::Feature(format!("{part} applies to a time, and {column} is not one")));
            }
            return Ok(format!("(date_part('{part}', {column}) = {n})"));
        }
        if let Some(op) = [(Modifier::Gt, ">"), (Modifier::Gte, ">="), (Modifier::Lt, "<"), (Modifier::Lte, "<=")]
            .into_iter()
            .find(|(m, _)| has(*m))
            .map(|(_, op)| op)
        {
            let number = match value {
                SigmaValue::Integer(i) => i.to_string(),
                SigmaValue::Float(f) => f.to_string(),
                other => return Err(Unsupported::Feature(format!("{op} compares numbers, not {other}"))),
            };
            let numeric =
                if target.data_type.is_numeric() { column.clone() } else { format!("TRY_CAST({column} AS DOUBLE)") };
            return Ok(format!("({numeric} {op} {number})"));
        }
        if has(Modifier::Re) {
            let SigmaValue::String(s) = value else {
                return Err(Unsupported::Feature("re needs a text pattern".into()));
            };
            let flags: String = [(Modifier::IgnoreCase, 'i'), (Modifier::Multiline, 'm'), (Modifier::DotAll, 's')]
                .into_iter()
                .filter(|(m, _)| has(*m))
                .map(|(_, f)| f)
                .collect();
            let pattern = if flags.is_empty() { s.original.clone() } else { format!("(?{flags}){}", s.original) };
            regex_syntax::Parser::new()
                .parse(&pattern)
                .map_err(|e| Unsupported::Feature(format!("the regular expression {pattern:?} does not parse: {e}")))?;
            return Ok(format!("({} ~ {})", target.text, quote(&pattern)));
        }
        if has(Modifier::Cidr) {
            let SigmaValue::String(s) = value else {
                return Err(Unsupported::Feature("cidr needs a network as text".into()));
            };
            return Ok(format!("coalesce(ip_in_cidr({}, {}), false)", target.text, quote(&s.original)));
        }
        if has(Modifier::FieldRef) {
            let SigmaValue::String(s) = value else {
                return Err(Unsupported::Feature("fieldref names a field".into()));
            };
            let other = self.target(&s.original)?.ok_or_else(|| {
                Unsupported::Feature(format!("fieldref to {}, a constant of the log source", s.original))
            })?;
            let (a, b) = (format!("lower({})", target.text), format!("lower({})", other.text));
            return Ok(if has(Modifier::Contains) {
                format!("(strpos({a}, {b}) > 0)")
            } else if has(Modifier::StartsWith) {
                format!("starts_with({a}, {b})")
            } else if has(Modifier::EndsWith) {
                format!("ends_with({a}, {b})")
            } else {
                format!("({a} = {b})")
            });
        }
        Ok(self.compare(target, value, modifiers))
    }

    /// Equality, or a pattern with `contains`, `startswith`, `endswith`: case-insensitive
    /// unless `cased`. An empty or null value matches a missing field too.
    fn compare(&self, target: &Target, value: &SigmaValue, modifiers: &[Modifier]) -> String {
        let has = |m: Modifier| modifiers.contains(&m);
        let (column, text) = (&target.typed, &target.text);
        match value {
            SigmaValue::Null => format!("({column} IS NULL OR {text} = '')"),
            SigmaValue::Bool(b) if target.data_type == DataType::Boolean => format!("({column} = {b})"),
            SigmaValue::Integer(i) if target.data_type.is_integer() => format!("({column} = {i})"),
            SigmaValue::String(s) if s.original.is_empty() && !has(Modifier::Contains) => {
                format!("({column} IS NULL OR {text} = '')")
            }
            SigmaValue::String(s) => {
                let (contains, starts, ends) =
                    (has(Modifier::Contains), has(Modifier::StartsWith), has(Modifier::EndsWith));
                let pattern = like(s, contains || ends, contains || starts);
                let encoded = has(Modifier::Base64) || has(Modifier::Base64Offset);
                let op = if has(Modifier::Cased) || encoded { "LIKE" } else { "ILIKE" };
                format!("({text} {op} {})", quote(&pattern))
            }
            other => format!("({text} ILIKE {})", quote(&escape_like(&other.to_string()))),
        }
    }
}

/// A field of the original record. Parsing the JSON of every record is slow (100 s over ten
/// million sign-ins), so only the records whose text names the field are parsed.
fn raw_field(path: &str) -> String {
    let name = path.rsplit('.').next().unwrap_or(path);
    format!(
        "CASE WHEN raw ILIKE {} THEN json_field(raw, {}) END",
        quote(&format!("%{}%", escape_like(name))),
        quote(path)
    )
}

fn join(parts: impl Iterator<Item = Result<String, Unsupported>>, op: &str) -> Result<String, Unsupported> {
    let mut parts = parts.collect::<Result<Vec<_>, _>>()?;
    Ok(match parts.len() {
        1 => parts.remove(0),
        _ => format!("({})", parts.join(&format!(" {op} "))),
    })
}

/// Whether a Sigma string (with wildcards) matches a text, case-insensitively.
fn like_matches(parts: &[StringPart], text: &str) -> bool {
    match parts.split_first() {
        None => text.is_empty(),
        Some((StringPart::Plain(p), rest)) => {
            text.len() >= p.len()
                && text.is_char_boundary(p.len())
                && text[..p.len()].eq_ignore_ascii_case(p)
                && like_matches(rest, &text[p.len()..])
        }
        Some((StringPart::Special(SpecialChar::WildcardSingle), rest)) => {
            text.chars().next().is_some_and(|c| like_matches(rest, &text[c.len_utf8()..]))
        }
        Some((StringPart::Special(SpecialChar::WildcardMulti), rest)) => {
            text.char_indices().map(|(i, _)| i).chain([text.len()]).any(|i| like_matches(rest, &text[i..]))
        }
    }
}

/// The three base64 encodings of `text` at each offset in a longer encoded text, without the
/// characters that depend on the neighbours (the `base64offset` modifier).
fn base64_offsets(text: &[u8]) -> Vec<String> {
    const START: [usize; 3] = [0, 2, 3];
    const END: [usize; 3] = [0, 3, 2];
    (0..3)
        .map(|i| {
            let mut padded = vec![b' '; i];
            padded.extend_from_slice(text);
            let encoded = STANDARD.encode(&padded);
            let end = encoded.len() - END[(text.len() + i) % 3];
            encoded[START[i]..end.max(START[i])].to_string()
        })
        .collect()
}

/// The variants of a command line's options, each dash at the start of a word written as
/// any of the characters Windows accepts for it (the `windash` modifier).
fn windash(s: &SigmaString) -> Vec<SigmaString> {
    const DASHES: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];
    DASHES
        .iter()
        .map(|dash| {
            let parts = s
                .parts
                .iter()
                .map(|p| match p {
                    StringPart::Plain(text) => {
                        let mut out = String::new();
                        let mut previous = ' ';
                        for c in text.chars() {
                            out.push(if (c == '-' || c == '/') && previous.is_whitespace() { *dash } else { c });
                            previous = c;
                        }
                        StringPart::Plain(out)
                    }
                    other => other.clone(),
                })
                .collect();
            SigmaString { parts, original: s.original.clone() }
        })
        .collect()
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
pub fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sigma::mapping::MAPPING;

    fn rule(yaml: &str) -> SigmaRule {
        let collection = rsigma_parser::parse_sigma_yaml(yaml).unwrap();
        collection.rules.into_iter().next().unwrap()
    }

    fn sql(detection: &str) -> Result<String, Unsupported> {
        sql_with(detection, &Placeholders::new())
    }

    fn sql_with(detection: &str, placeholders: &Placeholders) -> Result<String, Unsupported> {
        let mapping = Mapping::parse(MAPPING).unwrap();
        let yaml = format!("title: t\nlogsource:\n  product: azure\n  service: signinlogs\ndetection:\n{detection}");
        compile(&rule(&yaml), &mapping, placeholders).map(|s| s.condition)
    }

    #[test]
    fn fields_of_any_spelling_become_columns_and_conditions_become_sql() {
        let condition = sql(
            "  selection:\n    properties.ResultType: 50126\n    userAgent|contains: 'python'\n  filter:\n    resultDescription|startswith:\n      - 'Invalid*pass'\n      - \"it's\"\n  condition: selection and not filter\n",
        )
        .unwrap();
        assert_eq!(
            condition,
            "(((result_type = 50126) AND (user_agent ILIKE '%python%')) AND NOT coalesce(((failure_reason ILIKE 'Invalid%pass%') OR (failure_reason ILIKE 'it''s%')), false))"
        );
    }

    #[test]
    fn modifiers_compile_to_their_sql() {
        let cases: &[(&str, &str)] = &[
            ("UserAgent|contains|all: [a, b]", "((user_agent ILIKE '%a%') AND (user_agent ILIKE '%b%'))"),
            ("UserAgent|endswith|cased: 'x_y'", "(user_agent LIKE '%x\\_y')"),
            ("UserAgent|re|i: '^curl/'", "(user_agent ~ '(?i)^curl/')"),
            ("IPAddress|cidr: 10.0.0.0/8", "coalesce(ip_in_cidr(ip_address, '10.0.0.0/8'), false)"),
            ("ResultType|gte: 50000", "(result_type >= 50000)"),
            ("ResultType|neq: 0", "NOT coalesce((result_type = 0), false)"),
            ("DeviceDetail.deviceId|exists: false", "(device_id IS NULL)"),
            ("DeviceDetail.deviceId: ''", "(device_id IS NULL OR device_id = '')"),
            (
                "UserPrincipalName|fieldref|contains: UserDisplayName",
                "(strpos(lower(user_principal_name), lower(user_display_name)) > 0)",
            ),
            ("UserAgent|base64: 'ab'", "(user_agent LIKE 'YWI=')"),
            (
                "UserAgent|base64offset|contains: 'ab'",
                "((user_agent LIKE '%YW%') OR (user_agent LIKE '%Fi%') OR (user_agent LIKE '%hY%'))",
            ),
            ("CreatedDateTime|hour: 3", "(date_part('hour', time) = 3)"),
            (
                "HomeTenantId: t1",
                "(CASE WHEN raw ILIKE '%homeTenantId%' THEN json_field(raw, 'homeTenantId') END ILIKE 't1')",
            ),
            ("ActivityDetails: Sign-ins", "TRUE"),
            ("ActivityDetails: Audit", "FALSE"),
            ("message: Device Code", "(authentication_protocol ILIKE 'deviceCode')"),
        ];
        for (item, expected) in cases {
            let condition =
                sql(&format!("  s:\n    {item}\n  condition: s\n")).unwrap_or_else(|e| panic!("{item}: {e}"));
            assert_eq!(&condition, expected, "{item}");
        }
    }

    #[test]
    fn base64_offsets_are_those_of_the_reference_implementation() {
        // pySigma's slices of the encodings of 'ab', ' ab' and '  ab'.
        assert_eq!(base64_offsets(b"ab"), ["YW", "Fi", "hY"]);
        for prefix in ["", "x", "xy", "xyz"] {
            let encoded = STANDARD.encode(format!("{prefix}ab, more"));
            assert!(base64_offsets(b"ab").iter().any(|o| encoded.contains(o.as_str())), "{prefix}");
        }
        let variants: Vec<String> =
            windash(&SigmaString::new(" -f x-y")).iter().map(|s| s.as_plain().unwrap()).collect();
        assert_eq!(variants[..2], [" -f x-y".to_string(), " /f x-y".to_string()]);
    }

    #[test]
    fn placeholders_expand_from_the_configuration_or_say_they_are_missing() {
        let detection = "  s:\n    IpAddress|expand: '%TrustedIps%'\n  condition: s\n";
        let err = sql(detection).unwrap_err().to_string();
        assert!(err.contains("%TrustedIps% has no values") && err.contains("[sigma.placeholders]"), "{err}");
        let placeholders = Placeholders::from([("trustedips".to_string(), vec!["1.2.3.4".into(), "5.6.7.8".into()])]);
        assert_eq!(
            sql_with(detection, &placeholders).unwrap(),
            "((ip_address ILIKE '1.2.3.4') OR (ip_address ILIKE '5.6.7.8'))"
        );
    }

    #[test]
    fn selectors_count_and_quantify_the_named_detections() {
        let condition = sql(
            "  sel_a:\n    ResultType: 1\n  sel_b:\n    ResultType: 2\n  _hidden:\n    ResultType: 3\n  condition: 2 of sel_* or all of them\n",
        )
        .unwrap();
        assert_eq!(
            condition,
            "((CASE WHEN (result_type = 1) THEN 1 ELSE 0 END + CASE WHEN (result_type = 2) THEN 1 ELSE 0 END >= 2) OR ((result_type = 1) AND (result_type = 2)))"
        );
        let undefined = sql("  s:\n    ResultType: 1\n  condition: s and missing\n").unwrap_err();
        assert_eq!(undefined, Unsupported::Feature("the condition names \"missing\", which is not defined".into()));
        assert_eq!(sql("  keywords:\n    - 'evil'\n  condition: keywords\n").unwrap(), "(raw ILIKE '%evil%')");
    }

    #[test]
    fn what_cannot_be_compiled_says_why() {
        let mapping = Mapping::parse(MAPPING).unwrap();
        let provisioning = rule(
            "title: t\nlogsource:\n  product: azure\n  service: provisioninglogs\ndetection:\n  s:\n    jobId: x\n  condition: s\n",
        );
        let err = compile(&provisioning, &mapping, &Placeholders::new()).unwrap_err();
        assert_eq!(err, Unsupported::LogSource("azure/provisioninglogs".into()));
        assert_eq!(sql("  s:\n    Nope: x\n  condition: s\n").unwrap_err(), Unsupported::Field("Nope".into()));
        assert_eq!(
            sql("  s:\n    UserAgent|wide: x\n  condition: s\n").unwrap_err(),
            Unsupported::Modifier("wide".into())
        );
        let bad = sql("  s:\n    UserAgent|re: '(unclosed'\n  condition: s\n").unwrap_err().to_string();
        assert!(bad.contains("does not parse"), "{bad}");
    }
}
