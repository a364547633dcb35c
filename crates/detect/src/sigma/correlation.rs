//! A Sigma correlation rule as one query over the events of the rules it names.
//!
//! The events of every named rule are put together (`events`), each with its step (the
//! rule's place in the correlation's list), its group (the group-by fields) and, for
//! value_count, the counted value. A window that ends at each event and reaches back the
//! timespan (`RANGE ... PRECEDING`, the specification's sliding window) measures what the type
//! asks for: events (event_count), distinct values (value_count), which rules were seen
//! (temporal), or whether the rules were seen in their order (temporal_ordered: for each step,
//! the latest time a chain of the steps before it started, carried forward). Events whose
//! window meets the condition are hits; overlapping hits of a group make one alert, spanning
//! from the first window's start to the last hit, with the records of that span.

use rsigma_parser::{
    ConditionExpr, ConditionOperator, CorrelationCondition, CorrelationRule, CorrelationType, WindowMode,
};

use super::Unsupported;
use super::detection::Selection;
use crate::rule::GroupBy;

/// (the reference as the correlation writes it, the rule's selection, its slot, its id).
pub type Named<'m> = (String, Selection<'m>, usize, String);

pub fn compile(correlation: &CorrelationRule, named: &[Named]) -> Result<String, Unsupported> {
    if correlation.window != WindowMode::Sliding {
        return Err(Unsupported::Feature(format!("{} windows are not supported", correlation.window.as_str())));
    }
    let seconds = correlation.timespan.seconds.max(1);
    let groups: Vec<String> = (0..correlation.group_by.len()).map(|i| format!("g{i}")).collect();
    let partition = if groups.is_empty() { String::new() } else { format!("PARTITION BY {} ", groups.join(", ")) };
    let window =
        format!("({partition}ORDER BY time RANGE BETWEEN INTERVAL '{seconds} seconds' PRECEDING AND CURRENT ROW)");
    let running = format!("({partition}ORDER BY time, step ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)");

    let value_field = match (&correlation.correlation_type, &correlation.condition) {
        (CorrelationType::ValueCount, CorrelationCondition::Threshold { field: Some(fields), .. }) => match &fields[..]
        {
            [one] => Some(one.clone()),
            _ => return Err(Unsupported::Feature("value_count over several fields is not supported".into())),
        },
        (CorrelationType::ValueCount, _) => {
            return Err(Unsupported::Invalid("a value_count correlation names the field it counts".into()));
        }
        _ => None,
    };
    let mut events = Vec::new();
    for (step, (reference, selection, _, _)) in named.iter().enumerate() {
        let field = |name: &str| {
            let alias = correlation.aliases.iter().find(|a| a.alias == name);
            let actual = alias.and_then(|a| a.mapping.get(reference)).map_or(name, String::as_str);
            selection.expression(actual)
        };
        let mut columns = vec![
            format!("{step} AS step"),
            "time".to_string(),
            "record_id".to_string(),
            format!("CAST({} AS VARCHAR) AS user", selection.source.user),
            format!("CAST({} AS VARCHAR) AS ip", selection.source.ip()),
        ];
        for (i, name) in correlation.group_by.iter().enumerate() {
            columns.push(format!("coalesce(CAST({} AS VARCHAR), '') AS g{i}", field(name)?));
        }
        if let Some(name) = &value_field {
            columns.push(format!("CAST({} AS VARCHAR) AS value", field(name)?));
        }
        events.push(format!(
            "  SELECT {}\n  FROM {}\n  WHERE time IS NOT NULL AND {}",
            columns.join(", "),
            selection.source.table,
            selection.condition
        ));
    }
    let mut ctes = vec![format!("events AS (\n{}\n)", events.join("\n  UNION ALL\n"))];
    // When every rule must be seen (temporal_ordered, and temporal without a condition of its
    // own), only groups with an event of the first rule can match: the windows are computed
    // over those groups' events alone, not over every event of the other rules (a lockout
    // then a success: the groups that had a lockout, not every success of the month).
    let every_step = matches!(
        (&correlation.correlation_type, &correlation.condition),
        (CorrelationType::TemporalOrdered, _) | (CorrelationType::Temporal, CorrelationCondition::Threshold { .. })
    );
    let base = if every_step && !groups.is_empty() && named.len() > 1 {
        let on: Vec<String> = groups.iter().map(|g| format!("e.{g} = c.{g}")).collect();
        ctes.push(format!("candidates AS (\n  SELECT DISTINCT {} FROM events WHERE step = 0\n)", groups.join(", ")));
        ctes.push(format!("grouped AS (\n  SELECT e.* FROM candidates c JOIN events e ON {}\n)", on.join(" AND ")));
        "grouped"
    } else {
        "events"
    };

    let last = named.len().saturating_sub(1);
    let mut seen = String::new();
    let (measure, start, qualifies, windows_from) = match correlation.correlation_type {
        CorrelationType::EventCount => {
            (format!("count(*) OVER {window}"), format!("min(time) OVER {window}"), threshold(correlation)?, base)
        }
        CorrelationType::ValueCount => (
            format!("count(DISTINCT value) OVER {window}"),
            format!("min(time) OVER {window}"),
            threshold(correlation)?,
            base,
        ),
        CorrelationType::Temporal => {
            let each = |step: usize| format!("max(CASE WHEN step = {step} THEN 1 ELSE 0 END) OVER {window}");
            let measure = (0..named.len()).map(each).collect::<Vec<_>>().join(" + ");
            seen = (0..named.len()).map(|step| format!(", {} AS seen{step}", each(step))).collect();
            let qualifies = match &correlation.condition {
                CorrelationCondition::Extended(expr) => temporal_condition(expr, named)?,
                // The specification's temporal: every rule seen (the parser writes an absent
                // condition as a threshold).
                CorrelationCondition::Threshold { .. } => format!("measure = {}", named.len()),
            };
            (measure, format!("min(time) OVER {window}"), qualifies, base)
        }
        CorrelationType::TemporalOrdered => {
            let references: Vec<&String> = named.iter().map(|(r, _, _, _)| r).collect();
            if (1..references.len()).any(|i| references[..i].contains(&references[i])) {
                return Err(Unsupported::Feature("temporal_ordered naming a rule twice is not supported".into()));
            }
            // chain{k}.c{k}: the latest start of a chain of steps 0..=k at or before each event.
            let mut from = base.to_string();
            for k in 0..named.len() {
                let carried = if k == 0 { "time".to_string() } else { format!("c{}", k - 1) };
                ctes.push(format!(
                    "chain{k} AS (\n  SELECT *, max(CASE WHEN step = {k} THEN {carried} END) OVER {running} AS c{k}\n  FROM {from}\n)"
                ));
                from = format!("chain{k}");
            }
            let before = if last == 0 { "time".to_string() } else { format!("c{}", last - 1) };
            let qualifies = format!("step = {last} AND window_start >= time - INTERVAL '{seconds} seconds'");
            (format!("CAST({} AS BIGINT)", named.len()), before, qualifies, "")
        }
        other => return Err(Unsupported::Feature(format!("{} correlations are not supported", other.as_str()))),
    };
    let from = if windows_from.is_empty() { format!("chain{last}") } else { windows_from.to_string() };
    let group_list = if groups.is_empty() { String::new() } else { format!("{}, ", groups.join(", ")) };
    ctes.push(format!(
        "windows AS (\n  SELECT {group_list}step, time, {measure} AS measure, {start} AS window_start{seen}\n  FROM {from}\n)"
    ));
    ctes.push(format!("hits AS (\n  SELECT * FROM windows WHERE {qualifies}\n)"));
    ctes.push(format!(
        "episodes AS (\n  SELECT *, sum(fresh) OVER ({partition}ORDER BY time ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS episode\n  FROM (\n    SELECT *, CASE WHEN lag(time) OVER ({partition}ORDER BY time) >= window_start THEN 0 ELSE 1 END AS fresh\n    FROM hits\n  )\n)"
    ));
    ctes.push(format!(
        "spans AS (\n  SELECT {group_list}episode, min(window_start) AS first_seen, max(time) AS last_seen, max(measure) AS measure\n  FROM episodes GROUP BY {group_list}episode\n)"
    ));
    let join: Vec<String> = groups.iter().map(|g| format!("e.{g} = s.{g}")).collect();
    let on = if join.is_empty() { String::new() } else { format!("{} AND ", join.join(" AND ")) };
    let facts: Vec<String> = correlation
        .group_by
        .iter()
        .enumerate()
        .map(|(i, name)| format!("s.g{i} AS {}", quote_ident(&format!("by_{}", fact_name(name)))))
        .collect();
    let facts = if facts.is_empty() { String::new() } else { format!(",\n       {}", facts.join(", ")) };
    let groups_s: Vec<String> = groups.iter().map(|g| format!("s.{g}")).collect();
    let group_s = if groups_s.is_empty() { String::new() } else { format!("{}, ", groups_s.join(", ")) };
    Ok(format!(
        "WITH {}\nSELECT CASE WHEN count(DISTINCT e.user) = 1 THEN max(e.user) END AS user,\n       \
         CASE WHEN count(DISTINCT e.ip) = 1 THEN max(e.ip) END AS ip,\n       \
         s.first_seen, s.last_seen, array_agg(DISTINCT e.record_id) AS record_ids,\n       \
         s.measure, count(*) AS events, count(DISTINCT e.user) AS users, count(DISTINCT e.ip) AS addresses{facts}\n\
         FROM spans s JOIN events e ON {on}e.time >= s.first_seen AND e.time <= s.last_seen\n\
         GROUP BY {group_s}s.episode, s.first_seen, s.last_seen, s.measure",
        ctes.join(",\n")
    ))
}

/// The threshold on the measure: `gte: 10`, or a range (`gt: 10`, `lte: 20`).
fn threshold(correlation: &CorrelationRule) -> Result<String, Unsupported> {
    let CorrelationCondition::Threshold { predicates, .. } = &correlation.condition else {
        return Err(Unsupported::Invalid(format!(
            "a {} correlation needs a threshold condition",
            correlation.correlation_type.as_str()
        )));
    };
    if predicates.is_empty() {
        return Err(Unsupported::Invalid("the condition has no threshold".into()));
    }
    let parts: Vec<String> = predicates
        .iter()
        .map(|(op, n)| {
            let op = match op {
                ConditionOperator::Lt => "<",
                ConditionOperator::Lte => "<=",
                ConditionOperator::Gt => ">",
                ConditionOperator::Gte => ">=",
                ConditionOperator::Eq => "=",
                ConditionOperator::Neq => "<>",
            };
            format!("measure {op} {n}")
        })
        .collect();
    Ok(parts.join(" AND "))
}

/// A temporal correlation's condition over the rules it names (`rule_a and not rule_b`).
fn temporal_condition(expr: &ConditionExpr, named: &[Named]) -> Result<String, Unsupported> {
    Ok(match expr {
        ConditionExpr::And(parts) | ConditionExpr::Or(parts) => {
            let op = if matches!(expr, ConditionExpr::And(_)) { " AND " } else { " OR " };
            let parts = parts.iter().map(|p| temporal_condition(p, named)).collect::<Result<Vec<_>, _>>()?;
            format!("({})", parts.join(op))
        }
        ConditionExpr::Not(inner) => format!("NOT {}", temporal_condition(inner, named)?),
        ConditionExpr::Identifier(name) => {
            let step = named.iter().position(|(r, _, _, _)| r == name).ok_or_else(|| {
                Unsupported::Invalid(format!("the condition names {name:?}, which the correlation does not list"))
            })?;
            format!("(seen{step} = 1)")
        }
        ConditionExpr::Selector { .. } => {
            return Err(Unsupported::Feature("selectors in a temporal condition are not supported".into()));
        }
    })
}

/// Alerts of a correlation grouped by address only are grouped per address in incidents.
pub fn group_by(correlation: &CorrelationRule, named: &[Named]) -> GroupBy {
    let by_ip = |name: &String| {
        named.iter().all(|(_, selection, _, _)| {
            selection.source.ip.as_ref().is_some_and(|ip| selection.expression(name).is_ok_and(|e| e == *ip))
        })
    };
    let by_user = |name: &String| {
        named.iter().all(|(_, selection, _, _)| selection.expression(name).is_ok_and(|e| e == selection.source.user))
    };
    if correlation.group_by.iter().any(by_ip) && !correlation.group_by.iter().any(by_user) {
        GroupBy::Ip
    } else {
        GroupBy::User
    }
}

pub fn explain(correlation: &CorrelationRule) -> String {
    let by = if correlation.group_by.is_empty() {
        String::new()
    } else {
        let facts: Vec<String> = correlation.group_by.iter().map(|g| format!("{g} {{by_{}}}", fact_name(g))).collect();
        format!(" for {}", facts.join(", "))
    };
    let measure = match correlation.correlation_type {
        CorrelationType::EventCount => "{measure} events".to_string(),
        CorrelationType::ValueCount => "{measure} distinct values".to_string(),
        CorrelationType::Temporal => "{measure} of the rules".to_string(),
        _ => "the rules in order".to_string(),
    };
    format!(
        "Sigma {}: {measure} within {}{by} ({{events}} events, {{users}} accounts, {{addresses}} addresses)",
        correlation.correlation_type.as_str(),
        correlation.timespan.original
    )
}

fn fact_name(field: &str) -> String {
    field.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect()
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::prelude::SessionContext;

    use crate::sigma::{MAPPING, Mapping, Placeholders};

    const BASE: &str = "title: Failed\nname: failed\nlogsource:\n  product: azure\n  service: signinlogs\ndetection:\n  s:\n    ResultType: 50126\n  condition: s\n---\n\
                        title: Success\nname: success\nlogsource:\n  product: azure\n  service: signinlogs\ndetection:\n  s:\n    ResultType: 0\n  condition: s\n";

    /// Sign-ins: (minute, user, ip, result).
    const SIGNINS: &[(u32, &str, &str, i64)] = &[
        // u: three failures in three minutes, one more an hour later.
        (0, "u", "a", 50126),
        (1, "u", "a", 50126),
        (2, "u", "a", 50126),
        (62, "u", "a", 50126),
        // v: two failures.
        (0, "v", "a", 50126),
        (30, "v", "a", 50126),
        // address b fails four accounts; address c one account three times.
        (10, "w1", "b", 50126),
        (11, "w2", "b", 50126),
        (12, "w3", "b", 50126),
        (13, "w4", "b", 50126),
        (10, "x", "c", 50126),
        (11, "x", "c", 50126),
        (12, "x", "c", 50126),
        // y: a failure then a success; z: a success then a failure; q: the two, two hours apart.
        (200, "y", "d", 50126),
        (205, "y", "d", 0),
        (200, "z", "e", 0),
        (205, "z", "e", 50126),
        (200, "q", "f", 50126),
        (320, "q", "f", 0),
    ];

    /// Runs the correlation over the sign-ins: (group, first minute, last minute, records).
    fn hits(correlation: &str) -> Vec<(String, i64, i64, usize)> {
        let yaml = format!("{BASE}---\n{correlation}");
        let mapping = Mapping::parse(MAPPING).unwrap();
        let outcomes = crate::sigma::compile(&[("t.yml".into(), yaml)], &mapping, &Placeholders::new());
        let rule = outcomes.last().unwrap().result.clone().unwrap_or_else(|e| panic!("{e}"));
        let values: Vec<String> = SIGNINS
            .iter()
            .enumerate()
            .map(|(i, (minute, user, ip, result))| {
                format!("('r{i}', TIMESTAMP '2026-01-01T00:00:00' + INTERVAL '{minute} minutes', '{user}', '{ip}', {result})")
            })
            .collect();
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async {
            let ctx = SessionContext::new();
            let create = "CREATE TABLE signins (record_id VARCHAR, time TIMESTAMP, user_principal_name VARCHAR, ip_address VARCHAR, result_type BIGINT)";
            // The test builds its own table: the one place a test writes.
            #[allow(clippy::disallowed_methods)]
            {
                ctx.sql(create).await.unwrap().collect().await.unwrap();
                ctx.sql(&format!("INSERT INTO signins VALUES {}", values.join(", "))).await.unwrap().collect().await.unwrap();
            }
            let query = format!(
                "SELECT coalesce(user, ip) AS g, CAST(date_part('epoch', first_seen) AS BIGINT) AS f, CAST(date_part('epoch', last_seen) AS BIGINT) AS l, cardinality(record_ids) AS n FROM ({}) ORDER BY g, f",
                rule.query
            );
            let batches = sleuth_store::read_only(&ctx, &query).await.unwrap_or_else(|e| panic!("{e}\n{}", rule.query)).collect().await.unwrap();
            let mut rows = Vec::new();
            for b in batches {
                let g = b.column(0).as_string_view_opt().map(|a| (0..a.len()).map(|i| a.value(i).to_string()).collect::<Vec<_>>())
                    .unwrap_or_else(|| { let a = b.column(0).as_string::<i32>(); (0..a.len()).map(|i| a.value(i).to_string()).collect() });
                let f = b.column(1).as_primitive::<datafusion::arrow::datatypes::Int64Type>();
                let l = b.column(2).as_primitive::<datafusion::arrow::datatypes::Int64Type>();
                let n = b.column(3).as_primitive::<datafusion::arrow::datatypes::UInt64Type>();
                for (i, group) in g.into_iter().enumerate() {
                    let minute = |s: i64| (s - 1_767_225_600) / 60;
                    rows.push((group, minute(f.value(i)), minute(l.value(i)), n.value(i) as usize));
                }
            }
            rows
        })
    }

    fn correlation(kind: &str, group: &str, span: &str, condition: &str) -> String {
        format!(
            "title: C\ncorrelation:\n  type: {kind}\n  rules:\n    - failed\n    - success\n  group-by:\n    - {group}\n  timespan: {span}\n{condition}level: high\n"
        )
    }

    #[test]
    fn event_count_finds_bursts_in_a_sliding_window() {
        let rule = "title: C\ncorrelation:\n  type: event_count\n  rules:\n    - failed\n  group-by:\n    - UserPrincipalName\n  timespan: 10m\n  condition:\n    gte: 3\nlevel: high\n";
        // u's three failures (one alert, not one per window), and x's three; not v, not u's fourth.
        assert_eq!(hits(rule), [("u".to_string(), 0, 2, 3), ("x".to_string(), 10, 12, 3)]);
    }

    #[test]
    fn value_count_counts_distinct_values() {
        let rule = "title: C\ncorrelation:\n  type: value_count\n  rules:\n    - failed\n  group-by:\n    - IPAddress\n  timespan: 1h\n  condition:\n    gte: 3\n    field: UserPrincipalName\nlevel: high\n";
        // Address b failed four accounts; c failed one account three times; a two accounts.
        assert_eq!(hits(rule), [("b".to_string(), 10, 13, 4)]);
    }

    #[test]
    fn temporal_orders_only_when_asked() {
        let unordered = hits(&correlation("temporal", "UserPrincipalName", "1h", ""));
        let groups: Vec<&str> = unordered.iter().map(|h| h.0.as_str()).collect();
        assert_eq!(groups, ["y", "z"]);
        let ordered = hits(&correlation("temporal_ordered", "UserPrincipalName", "1h", ""));
        assert_eq!(ordered, [("y".to_string(), 200, 205, 2)]);
        // q's two events are two hours apart: a wider window finds them.
        let wide = hits(&correlation("temporal_ordered", "UserPrincipalName", "3h", ""));
        assert!(wide.iter().any(|h| h.0 == "q" && h.1 == 200 && h.2 == 320), "{wide:?}");
    }
}
