//! The hunt: every enabled rule's query over the store, each row an alert, alerts grouped
//! into incidents and ranked. The same store and rules give the same report, byte for byte,
//! except the per-rule timings.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use chrono::{DateTime, Utc};
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::catalog::Catalog;
use crate::rule::{GroupBy, Language, PreparedTable, Rule, RuleSql, Severity, explain};

/// Version of the JSON report; raised whenever a field changes meaning or goes away.
pub const SCHEMA_VERSION: u32 = 1;

/// Columns of a rule's result that are not facts.
const RESERVED: [&str; 8] = ["user", "ip", "first_seen", "last_seen", "record_ids", "score", "severity", "mitre"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub id: String,
    pub rule: String,
    pub title: String,
    pub severity: Severity,
    pub score: f64,
    pub mitre: Vec<String>,
    pub user: Option<String>,
    pub ip: Option<String>,
    #[serde(serialize_with = "rfc3339", deserialize_with = "from_rfc3339")]
    pub first_seen: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339", deserialize_with = "from_rfc3339")]
    pub last_seen: DateTime<Utc>,
    pub explanation: String,
    pub record_ids: Vec<String>,
    /// The rule's other result columns.
    pub facts: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Incident {
    pub id: String,
    /// `user` or `ip`: what the alerts have in common.
    pub kind: &'static str,
    pub key: String,
    pub severity: Severity,
    pub score: f64,
    #[serde(serialize_with = "rfc3339")]
    pub first_seen: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339")]
    pub last_seen: DateTime<Utc>,
    pub rules: Vec<String>,
    pub mitre: Vec<String>,
    pub users: Vec<String>,
    pub ips: Vec<String>,
    pub alerts: Vec<Alert>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleRun {
    pub rule: String,
    pub alerts: usize,
    /// Timing: the one field that differs between runs.
    pub millis: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleFailure {
    pub rule: String,
    pub error: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub schema_version: u32,
    #[serde(serialize_with = "optional_rfc3339")]
    pub since: Option<DateTime<Utc>>,
    #[serde(serialize_with = "optional_rfc3339")]
    pub until: Option<DateTime<Utc>>,
    pub min_severity: Severity,
    pub rules: Vec<RuleRun>,
    pub failures: Vec<RuleFailure>,
    pub incidents: Vec<Incident>,
}

impl Report {
    pub fn alerts(&self) -> impl Iterator<Item = &Alert> {
        self.incidents.iter().flat_map(|i| &i.alerts)
    }
}

/// Which alerts a hunt reports: those whose evidence overlaps `since`..`until`, at or above
/// `min_severity`. Incidents are built from the reported alerts only.
#[derive(Debug, Clone)]
pub struct Filter {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub min_severity: Severity,
}

impl Default for Filter {
    fn default() -> Self {
        Filter { since: None, until: None, min_severity: Severity::Low }
    }
}

impl Filter {
    fn admits(&self, alert: &Alert) -> bool {
        alert.severity >= self.min_severity
            && self.since.is_none_or(|s| alert.last_seen >= s)
            && self.until.is_none_or(|u| alert.first_seen <= u)
    }
}

/// Runs every enabled rule of `catalog` in `ctx` (a store session) and reports what `filter`
/// admits: [`find`], then [`Findings::report`].
pub async fn hunt(ctx: &SessionContext, catalog: &Catalog, filter: &Filter) -> Report {
    find(ctx, catalog).await.report(catalog, filter)
}

/// What every enabled rule found, before any filter: the part of a hunt that reads the store,
/// and what [`crate::kept`] keeps beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Findings {
    pub rules: Vec<RuleFindings>,
    pub failures: Vec<RuleFailure>,
}

/// One rule's alerts, in the order the rule gave them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleFindings {
    pub rule: String,
    /// Timing: the one field that differs between runs.
    pub millis: u64,
    #[serde(with = "kept_alerts")]
    pub alerts: Vec<Alert>,
}

impl Findings {
    /// The report of the alerts `filter` admits, grouped into incidents and ranked.
    pub fn report(&self, catalog: &Catalog, filter: &Filter) -> Report {
        let mut runs = Vec::new();
        let mut alerts = Vec::new();
        for found in &self.rules {
            let admitted: Vec<Alert> = found.alerts.iter().filter(|a| filter.admits(a)).cloned().collect();
            runs.push(RuleRun { rule: found.rule.clone(), alerts: admitted.len(), millis: found.millis });
            alerts.extend(admitted);
        }
        Report {
            schema_version: SCHEMA_VERSION,
            since: filter.since,
            until: filter.until,
            min_severity: filter.min_severity,
            rules: runs,
            failures: self.failures.clone(),
            incidents: group(alerts, catalog),
        }
    }
}

/// Runs every enabled rule of `catalog` in `ctx`.
///
/// Joins run in the order the rules write them, the left side held in memory: DataFusion's
/// reordering guesses the sizes from file statistics, and on a large tenant it guessed the
/// millions of sign-ins smaller than a rule's few thousand failures. The session's setting is
/// restored afterwards.
pub async fn find(ctx: &SessionContext, catalog: &Catalog) -> Findings {
    let reordering = set_join_reordering(ctx, false);
    let findings = find_in_order(ctx, catalog).await;
    set_join_reordering(ctx, reordering);
    findings
}

/// Sets the session's join reordering, returning what it was.
fn set_join_reordering(ctx: &SessionContext, on: bool) -> bool {
    let state = ctx.state_ref();
    let mut state = state.write();
    std::mem::replace(&mut state.config_mut().options_mut().optimizer.join_reordering, on)
}

async fn find_in_order(ctx: &SessionContext, catalog: &Catalog) -> Findings {
    let mut rules = Vec::new();
    let mut failures = Vec::new();
    for (rule, query) in catalog.enabled() {
        let started = Instant::now();
        match run_rule(ctx, rule, &query).await {
            Ok(alerts) => {
                rules.push(RuleFindings { rule: rule.id.clone(), millis: started.elapsed().as_millis() as u64, alerts })
            }
            Err(error) => {
                failures.push(RuleFailure { rule: rule.id.clone(), error: sleuth_store::memory::explain(&error) })
            }
        }
    }
    Findings { rules, failures }
}

async fn run_rule(ctx: &SessionContext, rule: &Rule, sql: &RuleSql) -> Result<Vec<Alert>, String> {
    for name in sql.tables.iter().map(|t| &t.name) {
        if ctx.table_exist(name.as_str()).map_err(|e| e.to_string())? {
            return Err(format!("the prepared table `{name}` would hide a table of the same name"));
        }
    }
    let batches = query(ctx, sql).await;
    for name in sql.tables.iter().map(|t| &t.name) {
        ctx.deregister_table(name.as_str()).map_err(|e| e.to_string())?;
    }
    let batches = batches?;
    let mut alerts = Vec::new();
    for batch in &batches {
        let (first, last) = (times(batch, "first_seen")?, times(batch, "last_seen")?);
        let mut rows = sleuth_store::json::rows(std::slice::from_ref(batch)).map_err(|e| e.to_string())?;
        // KQL's dynamic columns (a KQL rule's `record_ids`) hold JSON text.
        for field in batch.schema().fields().iter().filter(|f| sleuth_kql::is_dynamic(f.data_type())) {
            for row in &mut rows {
                if let Some(Value::String(text)) = row.get(field.name())
                    && let Ok(value) = serde_json::from_str::<Value>(text)
                {
                    row.insert(field.name().clone(), value);
                }
            }
        }
        for (i, row) in rows.into_iter().enumerate() {
            alerts.push(alert(rule, row, first[i], last[i])?);
        }
    }
    distinct_ids(&mut alerts);
    alerts.sort_by(|a, b| {
        (a.first_seen, &a.user, &a.ip, &a.id, &a.record_ids).cmp(&(b.first_seen, &b.user, &b.ip, &b.id, &b.record_ids))
    });
    Ok(alerts)
}

/// An alert's id comes from its rule, user, address and times; two hits that share all of
/// them but not their records (one event exported twice without an event id, two changes in
/// the same second) get ids that also name their records, so that every id names one alert.
/// Alerts whose id was already unique keep it.
fn distinct_ids(alerts: &mut [Alert]) {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for alert in alerts.iter() {
        *seen.entry(alert.id.clone()).or_default() += 1;
    }
    for alert in alerts.iter_mut().filter(|a| seen[&a.id] > 1) {
        alert.id = short_hash(&format!("{}|{}", alert.id, alert.record_ids.join(",")));
    }
}

/// Prepares the rule's tables (in memory, each once; the caller drops them), then runs its
/// query.
async fn query(ctx: &SessionContext, sql: &RuleSql) -> Result<Vec<RecordBatch>, String> {
    for PreparedTable { name, query, view } in &sql.tables {
        if tracing::enabled!(tracing::Level::TRACE) && !view {
            trace_plan(ctx, name, query).await;
        }
        let started = Instant::now();
        let table = async {
            let frame = sleuth_store::read_only(ctx, query).await?;
            if *view { Ok(frame) } else { frame.cache().await }
        };
        let table = table.await.map_err(|e| format!("in table `{name}`: {e}"))?;
        ctx.register_table(name.as_str(), table.into_view()).map_err(|e| e.to_string())?;
        tracing::debug!(table = name.as_str(), millis = started.elapsed().as_millis() as u64, "prepared");
    }
    if tracing::enabled!(tracing::Level::TRACE) {
        trace_plan(ctx, "query", &sql.query).await;
    }
    let started = Instant::now();
    let batches = match sql.language {
        Language::Sql => {
            async { sleuth_store::read_only(ctx, &sql.query).await?.collect().await }.await.map_err(|e| e.to_string())
        }
        Language::Kql => kql(ctx, &sql.query).await,
    };
    tracing::debug!(millis = started.elapsed().as_millis() as u64, "query");
    batches
}

/// A KQL rule's query over Sentinel's views, `now()` at the store's latest event.
async fn kql(ctx: &SessionContext, query: &str) -> Result<Vec<RecordBatch>, String> {
    let tables = sleuth_kql::sentinel::tables(ctx).await.map_err(|e| e.to_string())?;
    let now = sleuth_kql::latest_event(ctx).await.map_err(|e| e.to_string())?.unwrap_or(0);
    let plan =
        sleuth_kql::plan(ctx, &tables, query, &sleuth_kql::Options::at_micros(now)).map_err(|e| e.show(query))?;
    async { ctx.execute_logical_plan(plan).await?.collect().await }.await.map_err(|e| e.to_string())
}

/// Runs the query once more under EXPLAIN ANALYZE and logs the plan with its metrics, for rule
/// authors (`SLEUTH_LOG=sleuth_detect=trace`).
async fn trace_plan(ctx: &SessionContext, name: &str, query: &str) {
    let plan = async {
        let batches = sleuth_store::read_only(ctx, query).await?.explain(false, true)?.collect().await?;
        let plans = batches.iter().filter_map(|b| b.column_by_name("plan")?.as_string_opt::<i32>());
        Ok::<_, datafusion::error::DataFusionError>(plans.flatten().flatten().collect::<Vec<_>>().join("\n"))
    };
    match plan.await {
        Ok(plan) => tracing::trace!(table = name, "plan\n{plan}"),
        Err(e) => tracing::trace!(table = name, "no plan: {e}"),
    }
}

/// A timestamp column as UTC instants.
fn times(batch: &RecordBatch, name: &str) -> Result<Vec<DateTime<Utc>>, String> {
    let column = batch.column_by_name(name).ok_or_else(|| format!("the query returns no `{name}` column"))?;
    let micros = cast(column, &DataType::Timestamp(TimeUnit::Microsecond, None))
        .and_then(|c| cast(&c, &DataType::Int64))
        .map_err(|e| format!("`{name}` is not a timestamp: {e}"))?;
    let micros = micros.as_primitive::<Int64Type>();
    (0..micros.len())
        .map(|i| {
            let valid = micros.is_valid(i).then(|| DateTime::from_timestamp_micros(micros.value(i))).flatten();
            valid.ok_or_else(|| format!("`{name}` is NULL in a result row"))
        })
        .collect()
}

fn alert(
    rule: &Rule,
    mut row: Map<String, Value>,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
) -> Result<Alert, String> {
    // SQL's array_agg and KQL's make_list/make_set gather in whatever order the engine met the
    // rows, which changes with threads and memory: the lists are put in order, so that the
    // same data gives the same alerts (no rule's list has an order of its own).
    for value in row.values_mut() {
        if let Value::Array(items) = value {
            items.sort_by(order_values);
        }
    }
    let text = |row: &Map<String, Value>, name: &str| row.get(name).and_then(Value::as_str).map(str::to_string);
    let user = text(&row, "user").map(|u| u.to_lowercase());
    let ip = text(&row, "ip");
    let record_ids: Vec<String> = match row.get("record_ids") {
        Some(Value::Array(ids)) => {
            let ids: BTreeSet<String> = ids.iter().filter_map(Value::as_str).map(str::to_string).collect();
            ids.into_iter().collect()
        }
        _ => return Err("the query returns no `record_ids` list".to_string()),
    };
    let severity = match text(&row, "severity") {
        Some(name) => Severity::from_name(&name).ok_or_else(|| format!("severity {name:?} is not a severity"))?,
        None => rule.severity,
    };
    let score = row.get("score").and_then(Value::as_f64).unwrap_or(severity.base_score()).clamp(0.0, 100.0);
    // A rule that finds several kinds of thing names each hit's techniques.
    let mitre = match row.get("mitre") {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        Some(Value::String(list)) => {
            list.split(',').map(str::trim).filter(|t| !t.is_empty()).map(String::from).collect()
        }
        _ => rule.mitre.clone(),
    };
    row.insert("first_seen".to_string(), Value::String(stamp(first_seen)));
    row.insert("last_seen".to_string(), Value::String(stamp(last_seen)));
    let explanation = explain(&rule.explain, &row);
    let facts: Map<String, Value> = row.into_iter().filter(|(k, _)| !RESERVED.contains(&k.as_str())).collect();
    let key = format!(
        "{}|{}|{}|{}|{}",
        rule.id,
        user.as_deref().unwrap_or(""),
        ip.as_deref().unwrap_or(""),
        first_seen.timestamp_micros(),
        last_seen.timestamp_micros()
    );
    Ok(Alert {
        id: short_hash(&key),
        rule: rule.id.clone(),
        title: rule.title.clone(),
        severity,
        score: (score * 10.0).round() / 10.0,
        mitre,
        user,
        ip,
        first_seen,
        last_seen,
        explanation,
        record_ids,
        facts,
    })
}

/// An order of JSON values: numbers by value, text as text, NULLs first, other kinds by their
/// text.
fn order_values(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x.as_f64().unwrap_or(f64::NAN).total_cmp(&y.as_f64().unwrap_or(f64::NAN))
        }
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Null, Value::Null) => std::cmp::Ordering::Equal,
        (Value::Null, _) => std::cmp::Ordering::Less,
        (_, Value::Null) => std::cmp::Ordering::Greater,
        _ => a.to_string().cmp(&b.to_string()),
    }
}

fn rfc3339<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&stamp(*t))
}

fn optional_rfc3339<S: serde::Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&stamp(*t)),
        None => s.serialize_none(),
    }
}

fn from_rfc3339<'de, D: serde::Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
    DateTime::parse_from_rfc3339(&text).map(|t| t.to_utc()).map_err(serde::de::Error::custom)
}

/// Alerts as kept: each with its times in microseconds beside it, since the report's times
/// are whole seconds and an investigation's window needs the exact ones.
mod kept_alerts {
    use super::Alert;
    use chrono::DateTime;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(alerts: &[Alert], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(alerts.iter().map(|a| (a, a.first_seen.timestamp_micros(), a.last_seen.timestamp_micros())))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Alert>, D::Error> {
        let kept = Vec::<(Alert, i64, i64)>::deserialize(d)?;
        kept.into_iter()
            .map(|(mut alert, first, last)| {
                let time = |micros| {
                    DateTime::from_timestamp_micros(micros).ok_or_else(|| serde::de::Error::custom("time out of range"))
                };
                alert.first_seen = time(first)?;
                alert.last_seen = time(last)?;
                Ok(alert)
            })
            .collect()
    }
}

/// A time as the reports write it: RFC 3339, UTC, whole seconds.
pub fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn short_hash(text: &str) -> String {
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(text.as_bytes()))
}

/// Points an incident gains for each further rule that fired on it.
const CORROBORATION: f64 = 5.0;

fn group(alerts: Vec<Alert>, catalog: &Catalog) -> Vec<Incident> {
    let mut groups: BTreeMap<(&'static str, String), Vec<Alert>> = BTreeMap::new();
    for alert in alerts {
        let by_ip = catalog.rule(&alert.rule).is_some_and(|r| r.group_by == GroupBy::Ip) || alert.user.is_none();
        let key = match (&alert.user, &alert.ip) {
            (_, Some(ip)) if by_ip => ("ip", ip.clone()),
            (Some(user), _) => ("user", user.clone()),
            (None, ip) => ("ip", ip.clone().unwrap_or_default()),
        };
        groups.entry(key).or_default().push(alert);
    }
    let mut incidents: Vec<Incident> = groups
        .into_iter()
        .map(|((kind, key), mut alerts)| {
            alerts.sort_by(|a, b| (a.first_seen, &a.rule, &a.id).cmp(&(b.first_seen, &b.rule, &b.id)));
            let rules: BTreeSet<String> = alerts.iter().map(|a| a.rule.clone()).collect();
            let best = alerts.iter().map(|a| a.score).fold(0.0, f64::max);
            let score = (best + CORROBORATION * (rules.len() as f64 - 1.0)).min(100.0);
            Incident {
                id: short_hash(&format!("{kind}|{key}")),
                kind,
                severity: alerts.iter().map(|a| a.severity).max().unwrap_or(Severity::Informational),
                score: (score * 10.0).round() / 10.0,
                first_seen: alerts.iter().map(|a| a.first_seen).min().unwrap_or_default(),
                last_seen: alerts.iter().map(|a| a.last_seen).max().unwrap_or_default(),
                mitre: alerts.iter().flat_map(|a| a.mitre.clone()).collect::<BTreeSet<_>>().into_iter().collect(),
                users: alerts.iter().filter_map(|a| a.user.clone()).collect::<BTreeSet<_>>().into_iter().collect(),
                ips: alerts.iter().filter_map(|a| a.ip.clone()).collect::<BTreeSet<_>>().into_iter().collect(),
                rules: rules.into_iter().collect(),
                key,
                alerts,
            }
        })
        .collect();
    incidents.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(b.severity.cmp(&a.severity))
            .then(a.first_seen.cmp(&b.first_seen))
            .then(a.key.cmp(&b.key))
    });
    incidents
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_keep_times_to_the_microsecond_and_report_as_before() {
        let at = |micros| DateTime::from_timestamp_micros(micros).unwrap();
        let alert = Alert {
            id: "a".into(),
            rule: "r".into(),
            title: "t".into(),
            severity: Severity::High,
            score: 70.5,
            mitre: vec!["T1078".into()],
            user: Some("u@example.com".into()),
            ip: None,
            first_seen: at(1_771_812_015_123_456),
            last_seen: at(1_771_812_016_999_999),
            explanation: "e".into(),
            record_ids: vec!["x".into()],
            facts: Map::from_iter([("n".to_string(), serde_json::json!(3))]),
        };
        let findings = Findings {
            rules: vec![RuleFindings { rule: "r".into(), millis: 5, alerts: vec![alert.clone()] }],
            failures: Vec::new(),
        };
        let text = serde_json::to_string(&findings).unwrap();
        let back: Findings = serde_json::from_str(&text).unwrap();
        assert_eq!(back, findings);
        assert_eq!(back.rules[0].alerts[0].first_seen.timestamp_subsec_micros(), 123_456);
        // The report's own JSON keeps whole seconds.
        assert_eq!(serde_json::to_value(&alert).unwrap()["first_seen"], "2026-02-23T02:00:15Z");
        // A filter narrows what is reported, not what is kept.
        let catalog = Catalog::from_rules(Vec::new()).unwrap();
        let critical = Filter { min_severity: Severity::Critical, ..Filter::default() };
        assert_eq!(back.report(&catalog, &critical).rules[0].alerts, 0);
        assert_eq!(back.report(&catalog, &Filter::default()).incidents[0].alerts[0], alert);
    }

    #[test]
    fn lists_are_put_in_one_order_whatever_order_the_engine_gathered_them_in() {
        let gathered =
            [serde_json::json!(["MY", "PH", "BD", null, "ES"]), serde_json::json!(["PH", null, "ES", "BD", "MY"])];
        let sorted: Vec<Vec<Value>> = gathered
            .iter()
            .map(|v| {
                let mut items = v.as_array().unwrap().clone();
                items.sort_by(order_values);
                items
            })
            .collect();
        assert_eq!(sorted[0], sorted[1]);
        assert_eq!(Value::Array(sorted[0].clone()), serde_json::json!([null, "BD", "ES", "MY", "PH"]));
        let mut numbers = vec![serde_json::json!(10), serde_json::json!(2), serde_json::json!(2.5)];
        numbers.sort_by(order_values);
        assert_eq!(numbers, [serde_json::json!(2), serde_json::json!(2.5), serde_json::json!(10)]);
    }
}
