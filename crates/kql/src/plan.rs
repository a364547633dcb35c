//! From the parsed query to a DataFusion logical plan: tabular operators become plan nodes,
//! scalar expressions DataFusion expressions, with KQL's names and types (see `udf.rs` for how
//! `dynamic` travels). Nothing here writes: the only leaves are the tables the caller hands
//! in, `datatable` values and `print`.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::common::{Column, DFSchema, DFSchemaRef, ScalarValue, UnnestOptions};
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::expr::{InSubquery, Sort};
use datafusion::logical_expr::{
    EmptyRelation, Expr as DfExpr, ExprFunctionExt, ExprSchemable, JoinType, LogicalPlan, LogicalPlanBuilder, Subquery,
    cast, lit, try_cast,
};

use crate::KqlError;
use crate::ast::*;
use crate::lex::Pos;
use crate::udf::{self, DYNAMIC};

type R<T> = Result<T, KqlError>;

#[derive(Clone)]
pub(crate) enum Binding {
    Scalar(DfExpr),
    Tabular(LogicalPlan),
    Function(Vec<Param>, Vec<Statement>),
}

pub struct Planner<'a> {
    tables: &'a HashMap<String, LogicalPlan>,
    pub(crate) registry: &'a dyn FunctionRegistry,
    /// "now", in microseconds since the epoch.
    pub(crate) now: i64,
    pub(crate) scopes: Vec<HashMap<String, Binding>>,
    pub(crate) depth: u32,
}

const MAX_CALL_DEPTH: u32 = 64;

/// Functions that keep the name of the one column they convert.
pub(crate) const CONVERSIONS: &[&str] = &[
    "tostring",
    "toint",
    "tolong",
    "todouble",
    "toreal",
    "tobool",
    "todatetime",
    "todynamic",
    "parse_json",
    "tolower",
    "toupper",
];

pub(crate) fn timestamp_lit(micros: i64) -> DfExpr {
    lit(ScalarValue::TimestampMicrosecond(Some(micros), Some("UTC".into())))
}

pub(crate) fn duration_lit(nanos: i64) -> DfExpr {
    lit(ScalarValue::DurationMicrosecond(Some(nanos.div_euclid(1000))))
}

pub(crate) fn col(name: &str) -> DfExpr {
    DfExpr::Column(Column::from_name(name))
}

pub(crate) fn type_of(ty: Type) -> DataType {
    match ty {
        Type::Bool => DataType::Boolean,
        Type::Int => DataType::Int32,
        Type::Long => DataType::Int64,
        Type::Real | Type::Decimal => DataType::Float64,
        Type::String | Type::Guid => DataType::Utf8,
        Type::Datetime => udf::timestamp(),
        Type::Timespan => DataType::Duration(TimeUnit::Microsecond),
        Type::Dynamic => DYNAMIC,
    }
}

/// The KQL name of an Arrow type, for `getschema` and errors.
pub fn kql_type_name(t: &DataType) -> &'static str {
    match t {
        DataType::Boolean => "bool",
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::UInt8 | DataType::UInt16 => "int",
        t if t.is_integer() => "long",
        t if t.is_floating() => "real",
        DataType::Timestamp(_, _) | DataType::Date32 | DataType::Date64 => "datetime",
        DataType::Duration(_) | DataType::Interval(_) => "timespan",
        DataType::LargeUtf8 | DataType::List(_) | DataType::Struct(_) => "dynamic",
        _ => "string",
    }
}

/// Columns of a plan, as expressions that name them exactly, with their names.
pub(crate) fn columns(plan: &LogicalPlan) -> Vec<(DfExpr, String)> {
    plan.schema()
        .iter()
        .map(|(qualifier, field)| (DfExpr::Column(Column::new(qualifier.cloned(), field.name())), field.name().clone()))
        .collect()
}

pub(crate) fn unique(name: &str, taken: &[String]) -> String {
    if !taken.iter().any(|t| t == name) {
        return name.to_string();
    }
    (1..).map(|n| format!("{name}{n}")).find(|c| !taken.contains(c)).expect("an unused name")
}

/// Whether `name` matches a `project-away` / `project-keep` pattern (`*` is any run).
fn wildcard(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, tail)) => {
            name.starts_with(head) && name.len() >= head.len() && wildcard_rest(tail, &name[head.len()..])
        }
    }
}

fn wildcard_rest(pattern: &str, name: &str) -> bool {
    if pattern.is_empty() {
        return true;
    }
    (0..=name.len()).filter(|&k| name.is_char_boundary(k)).any(|k| wildcard(pattern, &name[k..]))
}

impl<'a> Planner<'a> {
    pub fn new(tables: &'a HashMap<String, LogicalPlan>, registry: &'a dyn FunctionRegistry, now_micros: i64) -> Self {
        Planner { tables, registry, now: now_micros, scopes: vec![HashMap::new()], depth: 0 }
    }

    /// Plans the statements; the last must be a tabular expression.
    pub fn plan(&mut self, statements: &[Statement]) -> R<LogicalPlan> {
        let mut result = None;
        for statement in statements {
            match statement {
                Statement::Query(tabular) => {
                    if result.is_some() {
                        return Err(KqlError::plan(Pos::default(), "a query may end in one tabular expression only"));
                    }
                    result = Some(self.tabular(tabular)?);
                }
                other => self.statement(other)?,
            }
        }
        result.ok_or_else(|| {
            KqlError::plan(Pos::default(), "the query has no tabular expression to run (only `let` statements)")
        })
    }

    pub(crate) fn statement(&mut self, statement: &Statement) -> R<()> {
        match statement {
            Statement::Let { name, value, pos } => {
                let binding = match value {
                    LetValue::Tabular(t) => Binding::Tabular(self.tabular(t)?),
                    LetValue::Function { params, body } => Binding::Function(params.clone(), body.clone()),
                    LetValue::Scalar(Expr::Name(other, _)) if self.lookup_tabular(other).is_some() => {
                        Binding::Tabular(self.lookup_tabular(other).expect("checked"))
                    }
                    LetValue::Scalar(Expr::Tabular(t, _)) => Binding::Tabular(self.tabular(t)?),
                    // `let aadSignin = aadFunc("SigninLogs");`: a function that returns a table.
                    LetValue::Scalar(Expr::Call { name: f, args, pos: call }) if self.returns_table(f) => {
                        let Some(Binding::Function(params, body)) = self.lookup(f).cloned() else {
                            unreachable!("checked")
                        };
                        Binding::Tabular(self.call_tabular_function(f, &params, &body, None, args, *call)?)
                    }
                    LetValue::Scalar(expr) => {
                        let empty = Arc::new(DFSchema::empty());
                        let value = self.scalar(expr, &empty)?;
                        if value.column_refs().iter().next().is_some() {
                            return Err(KqlError::plan(*pos, format!("`{name}` refers to columns outside any table")));
                        }
                        Binding::Scalar(value)
                    }
                };
                self.scopes.last_mut().expect("a scope").insert(name.clone(), binding);
            }
            Statement::Set => {}
            Statement::Query(_) | Statement::Expr(_) => {}
        }
        Ok(())
    }

    /// Whether `name` is a `let` function whose body ends in a tabular expression.
    fn returns_table(&self, name: &str) -> bool {
        match self.lookup(name) {
            Some(Binding::Function(_, body)) => match body.last() {
                Some(Statement::Query(_)) => true,
                Some(Statement::Expr(Expr::Name(n, _))) => self.lookup_tabular(n).is_some(),
                _ => false,
            },
            _ => false,
        }
    }

    pub(crate) fn lookup(&self, name: &str) -> Option<&Binding> {
        self.scopes.iter().rev().find_map(|scope| scope.get(name))
    }

    pub(crate) fn lookup_tabular(&self, name: &str) -> Option<LogicalPlan> {
        match self.lookup(name) {
            Some(Binding::Tabular(plan)) => Some(plan.clone()),
            Some(_) => None,
            None => self.tables.get(name).cloned(),
        }
    }

    pub fn tabular(&mut self, tabular: &Tabular) -> R<LogicalPlan> {
        let mut plan = self.source(&tabular.source)?;
        for (op, pos) in &tabular.ops {
            plan = self.operator(plan, op, *pos)?;
        }
        Ok(plan)
    }

    fn source(&mut self, source: &Source) -> R<LogicalPlan> {
        match source {
            Source::Name { name, args, pos } => {
                if let Some(Binding::Function(params, body)) = self.lookup(name).cloned() {
                    let args = args.clone().unwrap_or_default();
                    return self.call_tabular_function(name, &params, &body, None, &args, *pos);
                }
                if name == "table"
                    && let Some([arg]) = args.as_deref()
                {
                    // `table("SigninLogs")`, `table(tableName)` in a function.
                    let empty = Arc::new(DFSchema::empty());
                    return match self.scalar(arg, &empty)? {
                        DfExpr::Literal(ScalarValue::Utf8(Some(table)), _) => self
                            .lookup_tabular(&table)
                            .ok_or_else(|| KqlError::plan(*pos, format!("table(\"{table}\"): there is no such table"))),
                        _ => Err(KqlError::plan(*pos, "table() takes a table's name")),
                    };
                }
                if args.is_some() {
                    return Err(KqlError::plan(*pos, format!("`{name}` is not a function")));
                }
                self.lookup_tabular(name).ok_or_else(|| {
                    let mut known: Vec<&String> = self.tables.keys().collect();
                    known.sort();
                    let known: Vec<&str> = known.iter().map(|s| s.as_str()).collect();
                    KqlError::plan(
                        *pos,
                        format!("`{name}` is not a table or a tabular `let` (tables: {})", known.join(", ")),
                    )
                })
            }
            Source::Nested(inner) | Source::Materialize(inner) => self.tabular(inner),
            Source::External { pos } => Err(KqlError::plan(
                *pos,
                "externaldata reads files from the network: Sleuth queries the store offline (load the list with datatable)",
            )),
            Source::Datatable { columns, values, pos } => self.datatable(columns, values, *pos),
            Source::Union { options, tables } => self.union(None, options, tables),
            Source::Print(items) => {
                let empty = LogicalPlanBuilder::empty(true).build().map_err(|e| KqlError::query(Pos::default(), e))?;
                let mut exprs = Vec::new();
                let mut names: Vec<String> = Vec::new();
                for (k, item) in items.iter().enumerate() {
                    let e = self.scalar(&item.expr, empty.schema())?;
                    let name = item.names.first().cloned().unwrap_or_else(|| format!("print_{k}"));
                    let name = unique(&name, &names);
                    names.push(name.clone());
                    exprs.push(e.alias(name));
                }
                project(empty, exprs, Pos::default())
            }
            Source::Range { column, from, to, step } => {
                let empty = Arc::new(DFSchema::empty());
                let values = [from.as_ref(), to.as_ref(), step.as_ref()]
                    .iter()
                    .map(|e| match self.scalar(e, &empty)? {
                        DfExpr::Literal(ScalarValue::Int64(Some(n)), _) => Ok(n),
                        _ => Err(KqlError::plan(e.pos(), "range takes whole numbers written in the query")),
                    })
                    .collect::<R<Vec<i64>>>()?;
                let (from, to, step) = (values[0], values[1], values[2]);
                if step <= 0 || (to - from) / step > 1_000_000 {
                    return Err(KqlError::plan(
                        Pos::default(),
                        "range: step must be positive and the range at most 1,000,000 rows",
                    ));
                }
                let rows: Vec<Vec<DfExpr>> = (0..=(to - from) / step).map(|k| vec![lit(from + k * step)]).collect();
                let plan = LogicalPlanBuilder::values(rows)
                    .and_then(|b| b.build())
                    .map_err(|e| KqlError::query(Pos::default(), e))?;
                let (first, _) = columns(&plan).remove(0);
                project(plan, vec![first.alias(column.as_str())], Pos::default())
            }
        }
    }

    fn datatable(&mut self, columns_: &[(String, Type)], values: &[Expr], pos: Pos) -> R<LogicalPlan> {
        if columns_.is_empty() {
            return Err(KqlError::plan(pos, "a datatable needs at least one column"));
        }
        if !values.len().is_multiple_of(columns_.len()) {
            return Err(KqlError::plan(
                pos,
                format!("this datatable has {} values, not a multiple of its {} columns", values.len(), columns_.len()),
            ));
        }
        let empty = Arc::new(DFSchema::empty());
        let mut rows = Vec::new();
        for row in values.chunks(columns_.len()) {
            let mut out = Vec::new();
            for (value, (_, ty)) in row.iter().zip(columns_) {
                let e = self.scalar(value, &empty)?;
                let e = if *ty == Type::Dynamic { self.to_dynamic(e, &empty)? } else { e };
                out.push(cast(e, type_of(*ty)));
            }
            rows.push(out);
        }
        let schema = Schema::new(columns_.iter().map(|(n, t)| Field::new(n, type_of(*t), true)).collect::<Vec<_>>());
        if rows.is_empty() {
            let schema = DFSchema::try_from(schema).map_err(|e| KqlError::query(pos, e))?;
            return Ok(LogicalPlan::EmptyRelation(EmptyRelation { produce_one_row: false, schema: Arc::new(schema) }));
        }
        let plan = LogicalPlanBuilder::values(rows).and_then(|b| b.build()).map_err(|e| KqlError::query(pos, e))?;
        let exprs =
            columns(&plan).into_iter().zip(columns_).map(|((e, _), (name, _))| e.alias(name.as_str())).collect();
        project(plan, exprs, pos)
    }

    fn union(&mut self, first: Option<LogicalPlan>, options: &UnionOptions, tables: &[Tabular]) -> R<LogicalPlan> {
        let mut plans = Vec::new();
        if let Some(first) = first {
            plans.push((first, "union_arg0".to_string()));
        }
        for (k, t) in tables.iter().enumerate() {
            let name = match &t.source {
                Source::Name { name, .. } if t.ops.is_empty() => name.clone(),
                _ => format!("union_arg{}", k + plans.len()),
            };
            plans.push((self.tabular(t)?, name));
        }
        let mut out: Option<LogicalPlan> = None;
        for (plan, name) in plans {
            let plan = match &options.with_source {
                Some(column) => {
                    let mut exprs = vec![lit(name).alias(column.as_str())];
                    exprs.extend(columns(&plan).into_iter().map(|(e, _)| e));
                    project(plan, exprs, Pos::default())?
                }
                None => plan,
            };
            out = Some(match out {
                None => plan,
                Some(left) => LogicalPlanBuilder::from(left)
                    .union_by_name(plan)
                    .and_then(|b| b.build())
                    .map_err(|e| KqlError::query(Pos::default(), e))?,
            });
        }
        out.ok_or_else(|| KqlError::plan(Pos::default(), "union needs at least one table"))
    }

    fn operator(&mut self, plan: LogicalPlan, op: &Op, pos: Pos) -> R<LogicalPlan> {
        let q = |e| KqlError::query(pos, e);
        match op {
            Op::Where(e) => {
                let predicate = self.scalar(e, plan.schema())?;
                let predicate = self.to_bool(predicate, plan.schema())?;
                LogicalPlanBuilder::from(plan).filter(predicate).and_then(|b| b.build()).map_err(q)
            }
            Op::Extend(items) | Op::Serialize(items) => {
                let mut plan = plan;
                for item in items {
                    plan = self.extend(plan, item)?;
                }
                Ok(plan)
            }
            Op::Project(items) => {
                let mut exprs = Vec::new();
                let mut names: Vec<String> = Vec::new();
                for item in items {
                    if let Expr::Star(_) = item.expr {
                        for (e, name) in columns(&plan) {
                            names.push(name);
                            exprs.push(e);
                        }
                        continue;
                    }
                    let e = self.scalar(&item.expr, plan.schema())?;
                    let name = self.name_for(item, &names);
                    names.push(name.clone());
                    exprs.push(e.alias(name));
                }
                project(plan, exprs, pos)
            }
            Op::ProjectAway(patterns) => {
                let exprs = columns(&plan)
                    .into_iter()
                    .filter(|(_, name)| !patterns.iter().any(|p| wildcard(p, name)))
                    .map(|(e, _)| e)
                    .collect();
                project(plan, exprs, pos)
            }
            Op::ProjectKeep(patterns) => {
                let exprs = columns(&plan)
                    .into_iter()
                    .filter(|(_, name)| patterns.iter().any(|p| wildcard(p, name)))
                    .map(|(e, _)| e)
                    .collect();
                project(plan, exprs, pos)
            }
            Op::ProjectReorder(patterns) => {
                let all = columns(&plan);
                let mut exprs = Vec::new();
                let mut used = vec![false; all.len()];
                for p in patterns {
                    for (k, (e, name)) in all.iter().enumerate() {
                        if !used[k] && wildcard(p, name) {
                            used[k] = true;
                            exprs.push(e.clone());
                        }
                    }
                }
                exprs.extend(all.iter().enumerate().filter(|(k, _)| !used[*k]).map(|(_, (e, _))| e.clone()));
                project(plan, exprs, pos)
            }
            Op::ProjectRename(pairs) => {
                for (_, old) in pairs {
                    if !columns(&plan).iter().any(|(_, n)| n == old) {
                        return Err(KqlError::plan(pos, format!("project-rename: there is no column `{old}`")));
                    }
                }
                let exprs = columns(&plan)
                    .into_iter()
                    .map(|(e, name)| match pairs.iter().find(|(_, old)| *old == name) {
                        Some((new, _)) => e.alias(new.as_str()),
                        None => e,
                    })
                    .collect();
                project(plan, exprs, pos)
            }
            Op::Summarize { aggregates, by } => self.summarize(plan, aggregates, by, pos),
            Op::Count => LogicalPlanBuilder::from(plan)
                .aggregate(
                    Vec::<DfExpr>::new(),
                    vec![self.aggregate_udf("count", pos)?.call(vec![lit(1i64)]).alias("Count")],
                )
                .and_then(|b| b.build())
                .map_err(q),
            Op::Distinct(items) => {
                if matches!(items.first().map(|i| &i.expr), Some(Expr::Star(_))) {
                    return LogicalPlanBuilder::from(plan).distinct().and_then(|b| b.build()).map_err(q);
                }
                let projected = self.operator(plan, &Op::Project(items.clone()), pos)?;
                LogicalPlanBuilder::from(projected).distinct().and_then(|b| b.build()).map_err(q)
            }
            Op::Top { count, key } => {
                let n = self.constant_count(count)?;
                let sorted = self.operator(plan, &Op::Sort(vec![key.clone()]), pos)?;
                LogicalPlanBuilder::from(sorted).limit(0, Some(n)).and_then(|b| b.build()).map_err(q)
            }
            Op::Sort(keys) => {
                let mut sorts = Vec::new();
                for key in keys {
                    let e = self.scalar(&key.expr, plan.schema())?;
                    // KQL puts nulls first when ascending and last when descending.
                    let nulls_first = key.nulls_first.unwrap_or(!key.descending);
                    sorts.push(Sort::new(e, !key.descending, nulls_first));
                }
                LogicalPlanBuilder::from(plan).sort(sorts).and_then(|b| b.build()).map_err(q)
            }
            Op::Take(count) => {
                let n = self.constant_count(count)?;
                LogicalPlanBuilder::from(plan).limit(0, Some(n)).and_then(|b| b.build()).map_err(q)
            }
            Op::Join { kind, right, on } => {
                let right = self.tabular(right)?;
                self.join(plan, *kind, right, on, false, pos)
            }
            Op::Lookup { kind, right, on } => {
                let right = self.tabular(right)?;
                self.join(plan, *kind, right, on, true, pos)
            }
            Op::Union { options, tables } => self.union(Some(plan), options, tables),
            Op::MvExpand { columns: items, limit } => self.mv_expand(plan, items, limit.as_ref(), pos),
            Op::Parse { source, parts } => self.parse_op(plan, source, parts, pos),
            Op::Invoke { name, args } => match self.lookup(name).cloned() {
                Some(Binding::Function(params, body)) => {
                    self.call_tabular_function(name, &params, &body, Some(plan), args, pos)
                }
                _ => Err(KqlError::plan(pos, format!("`{name}` is not a function defined with `let`"))),
            },
            Op::Evaluate { plugin, .. } => Err(KqlError::plan(
                pos,
                format!("evaluate {plugin}: plugins are not supported yet (docs/kql.md says what is)"),
            )),
            Op::As(name) => {
                self.scopes.last_mut().expect("a scope").insert(name.clone(), Binding::Tabular(plan.clone()));
                Ok(plan)
            }
            Op::GetSchema => {
                let rows: Vec<Vec<DfExpr>> = plan
                    .schema()
                    .fields()
                    .iter()
                    .enumerate()
                    .map(|(k, f)| {
                        vec![
                            lit(f.name().as_str()),
                            lit(k as i32),
                            lit(format!("System.{}", kql_type_name(f.data_type()))),
                            lit(kql_type_name(f.data_type())),
                        ]
                    })
                    .collect();
                let plan = LogicalPlanBuilder::values(rows).and_then(|b| b.build()).map_err(q)?;
                let names = ["ColumnName", "ColumnOrdinal", "DataType", "ColumnType"];
                let exprs = columns(&plan).into_iter().zip(names).map(|((e, _), n)| e.alias(n)).collect();
                project(plan, exprs, pos)
            }
        }
    }

    fn constant_count(&mut self, e: &Expr) -> R<usize> {
        let empty = Arc::new(DFSchema::empty());
        match self.scalar(e, &empty)? {
            DfExpr::Literal(ScalarValue::Int64(Some(n)), _) if n >= 0 => Ok(n as usize),
            DfExpr::Literal(ScalarValue::Int32(Some(n)), _) if n >= 0 => Ok(n as usize),
            _ => Err(KqlError::plan(e.pos(), "expected a non-negative whole number")),
        }
    }

    /// A column name for an unnamed expression: the column it reads (`LocationDetails.city`
    /// gives `LocationDetails_city`), else `Column1`, `Column2` ...
    pub(crate) fn name_for(&self, item: &Named, taken: &[String]) -> String {
        if let Some(name) = item.names.first() {
            return name.clone();
        }
        fn path(e: &Expr) -> Option<String> {
            match e {
                Expr::Name(n, _) => Some(n.clone()),
                Expr::Member(base, key, _) => Some(format!("{}_{key}", path(base)?)),
                Expr::Index(base, index, _) => match index.as_ref() {
                    Expr::Literal(Literal::Long(n), _) => Some(format!("{}_{n}", path(base)?)),
                    _ => None,
                },
                _ => None,
            }
        }
        // `tostring(Browser)`: a conversion of one column keeps its name.
        if let Expr::Call { name, args, .. } = &item.expr
            && args.len() == 1
            && CONVERSIONS.contains(&name.as_str())
            && let Some(name) = path(&args[0])
        {
            return name;
        }
        match path(&item.expr) {
            Some(name) => name,
            None => (1..).map(|n| format!("Column{n}")).find(|c| !taken.contains(c)).expect("a free name"),
        }
    }

    fn extend(&mut self, plan: LogicalPlan, item: &Named) -> R<LogicalPlan> {
        let names: Vec<String> = columns(&plan).into_iter().map(|(_, n)| n).collect();
        let e = self.scalar(&item.expr, plan.schema())?;
        let name = self.name_for(item, &names);
        with_column(plan, &name, e, item.expr.pos())
    }

    fn call_tabular_function(
        &mut self,
        name: &str,
        params: &[Param],
        body: &[Statement],
        input: Option<LogicalPlan>,
        args: &[Expr],
        pos: Pos,
    ) -> R<LogicalPlan> {
        let scope = self.bind_params(name, params, input, args, &Arc::new(DFSchema::empty()), pos)?;
        self.depth += 1;
        if self.depth > MAX_CALL_DEPTH {
            return Err(KqlError::plan(pos, format!("functions call each other more than {MAX_CALL_DEPTH} deep")));
        }
        self.scopes.push(scope);
        let result = self.function_body_tabular(body, pos);
        self.scopes.pop();
        self.depth -= 1;
        result
    }

    fn function_body_tabular(&mut self, body: &[Statement], pos: Pos) -> R<LogicalPlan> {
        for statement in &body[..body.len().saturating_sub(1)] {
            self.statement(statement)?;
        }
        match body.last() {
            Some(Statement::Query(t)) => self.tabular(t),
            Some(Statement::Expr(Expr::Name(n, p))) => {
                self.lookup_tabular(n).ok_or_else(|| KqlError::plan(*p, format!("`{n}` is not tabular")))
            }
            Some(Statement::Expr(Expr::Tabular(t, _))) => self.tabular(t),
            _ => Err(KqlError::plan(pos, "this function does not end in a tabular expression")),
        }
    }

    pub(crate) fn bind_params(
        &mut self,
        name: &str,
        params: &[Param],
        input: Option<LogicalPlan>,
        args: &[Expr],
        schema: &DFSchemaRef,
        pos: Pos,
    ) -> R<HashMap<String, Binding>> {
        let mut scope = HashMap::new();
        let mut args = args.iter();
        for (k, param) in params.iter().enumerate() {
            if k == 0
                && let Some(input) = &input
            {
                scope.insert(param.name.clone(), Binding::Tabular(input.clone()));
                continue;
            }
            let binding = match (args.next(), &param.default) {
                (Some(arg), _) if param.tabular => Binding::Tabular(match arg {
                    Expr::Name(n, p) => {
                        self.lookup_tabular(n).ok_or_else(|| KqlError::plan(*p, format!("`{n}` is not tabular")))?
                    }
                    Expr::Tabular(t, _) => self.tabular(t)?,
                    other => {
                        return Err(KqlError::plan(other.pos(), format!("{name}: `{}` takes a table", param.name)));
                    }
                }),
                (Some(arg), _) => Binding::Scalar(self.scalar(arg, schema)?),
                (None, Some(default)) => Binding::Scalar(self.scalar(default, &Arc::new(DFSchema::empty()))?),
                (None, None) => return Err(KqlError::plan(pos, format!("{name}: no value for `{}`", param.name))),
            };
            scope.insert(param.name.clone(), binding);
        }
        if args.next().is_some() {
            return Err(KqlError::plan(pos, format!("{name} takes {} arguments", params.len())));
        }
        Ok(scope)
    }

    fn join(
        &mut self,
        left: LogicalPlan,
        kind: JoinKind,
        right: LogicalPlan,
        on: &[JoinKey],
        lookup: bool,
        pos: Pos,
    ) -> R<LogicalPlan> {
        let q = |e| KqlError::query(pos, e);
        let keys: Vec<(String, String)> = on
            .iter()
            .map(|k| match k {
                JoinKey::Same(n) => (n.clone(), n.clone()),
                JoinKey::Pair(l, r) => (l.clone(), r.clone()),
            })
            .collect();
        for (l, r) in &keys {
            if !left.schema().has_column_with_unqualified_name(l) {
                return Err(KqlError::plan(pos, format!("join: the left side has no column `{l}`")));
            }
            if !right.schema().has_column_with_unqualified_name(r) {
                return Err(KqlError::plan(pos, format!("join: the right side has no column `{r}`")));
            }
        }
        let mut left = left;
        if kind == JoinKind::InnerUnique {
            // innerunique: one row of the left side per key, the first in a fixed order of
            // all its columns, so that the same data gives the same answer.
            let all = columns(&left);
            let order: Vec<Sort> = left
                .schema()
                .iter()
                .filter(|(_, f)| !f.data_type().is_nested())
                .map(|(q, f)| Sort::new(DfExpr::Column(Column::new(q.cloned(), f.name())), true, true))
                .collect();
            let first_value = self.registry.udaf("first_value").map_err(q)?;
            let key_names: Vec<&String> = keys.iter().map(|(l, _)| l).collect();
            let groups: Vec<DfExpr> =
                all.iter().filter(|(_, n)| key_names.contains(&n)).map(|(e, n)| e.clone().alias(n.as_str())).collect();
            let mut values = Vec::new();
            for (e, n) in all.iter().filter(|(_, n)| !key_names.contains(&n)) {
                let value = first_value.call(vec![e.clone()]).order_by(order.clone()).build().map_err(q)?;
                values.push(value.alias(n.as_str()));
            }
            let names: Vec<String> = all.iter().map(|(_, n)| n.clone()).collect();
            let grouped =
                LogicalPlanBuilder::from(left).aggregate(groups, values).and_then(|b| b.build()).map_err(q)?;
            left = project(grouped, names.iter().map(|n| col(n)).collect(), pos)?;
        }
        let left = LogicalPlanBuilder::from(left).alias("__left").and_then(|b| b.build()).map_err(q)?;
        let right = LogicalPlanBuilder::from(right).alias("__right").and_then(|b| b.build()).map_err(q)?;
        let side = |s: &str, n: &str| DfExpr::Column(Column::new(Some(s), n));
        let mut left_keys = Vec::new();
        let mut right_keys = Vec::new();
        for (l, r) in &keys {
            let (le, re) = (side("__left", l), side("__right", r));
            let lt = le.get_type(left.schema()).map_err(q)?;
            let rt = re.get_type(right.schema()).map_err(q)?;
            if lt == rt {
                left_keys.push(le);
                right_keys.push(re);
            } else {
                // Different types meet as text (a dynamic value as its string).
                left_keys.push(self.to_str(le, left.schema())?);
                right_keys.push(self.to_str(re, right.schema())?);
            }
        }
        let join_type = match kind {
            JoinKind::InnerUnique | JoinKind::Inner => JoinType::Inner,
            JoinKind::LeftOuter => JoinType::Left,
            JoinKind::RightOuter => JoinType::Right,
            JoinKind::FullOuter => JoinType::Full,
            JoinKind::LeftSemi => JoinType::LeftSemi,
            JoinKind::LeftAnti => JoinType::LeftAnti,
            JoinKind::RightSemi => JoinType::RightSemi,
            JoinKind::RightAnti => JoinType::RightAnti,
        };
        let left_names: Vec<String> = columns(&left).into_iter().map(|(_, n)| n).collect();
        let right_names: Vec<String> = columns(&right).into_iter().map(|(_, n)| n).collect();
        let joined = LogicalPlanBuilder::from(left)
            .join_with_expr_keys(right, join_type, (left_keys, right_keys), None)
            .and_then(|b| b.build())
            .map_err(q)?;
        let mut exprs = Vec::new();
        let mut names: Vec<String> = Vec::new();
        let keep_left = !matches!(kind, JoinKind::RightSemi | JoinKind::RightAnti);
        let keep_right = !matches!(kind, JoinKind::LeftSemi | JoinKind::LeftAnti);
        if keep_left {
            for n in &left_names {
                names.push(n.clone());
                exprs.push(side("__left", n).alias(n.as_str()));
            }
        }
        if keep_right {
            for n in &right_names {
                if lookup && keys.iter().any(|(_, r)| r == n) {
                    continue;
                }
                let name = unique(n, &names);
                names.push(name.clone());
                exprs.push(side("__right", n).alias(name));
            }
        }
        project(joined, exprs, pos)
    }

    fn mv_expand(
        &mut self,
        plan: LogicalPlan,
        items: &[(Named, Option<Type>)],
        limit: Option<&Expr>,
        pos: Pos,
    ) -> R<LogicalPlan> {
        let q = |e| KqlError::query(pos, e);
        let mut plan = plan;
        let mut expanded = Vec::new();
        for (item, _) in items {
            let value = self.scalar(&item.expr, plan.schema())?;
            let value = self.to_dynamic(value, plan.schema())?;
            let elements = udf::get("kql_elements").call(vec![value]);
            let name = self.name_for(item, &[]);
            plan = with_column(plan, &name, elements, pos)?;
            expanded.push(name);
        }
        plan = LogicalPlanBuilder::from(plan)
            .unnest_columns_with_options(
                expanded.iter().map(Column::from_name).collect(),
                UnnestOptions::default().with_preserve_nulls(false),
            )
            .and_then(|b| b.build())
            .map_err(q)?;
        // `to typeof(T)`: the items as that type.
        let exprs = columns(&plan)
            .into_iter()
            .map(|(c, n)| match items.iter().zip(&expanded).find(|(_, e)| **e == n) {
                Some(((_, Some(ty)), _)) => self.dynamic_as(c, *ty).alias(n.as_str()),
                _ => c.alias(n.as_str()),
            })
            .collect();
        let plan = project(plan, exprs, pos)?;
        match limit {
            Some(_) => Err(KqlError::plan(pos, "mv-expand limit is not supported yet")),
            None => Ok(plan),
        }
    }

    pub(crate) fn dynamic_as(&self, e: DfExpr, ty: Type) -> DfExpr {
        match ty {
            Type::Dynamic => e,
            Type::String | Type::Guid => udf::get("kql_tostring").call(vec![e]),
            Type::Long => udf::get("kql_tolong").call(vec![e]),
            Type::Int => cast(udf::get("kql_tolong").call(vec![e]), DataType::Int32),
            Type::Real | Type::Decimal => udf::get("kql_todouble").call(vec![e]),
            Type::Bool => udf::get("kql_tobool").call(vec![e]),
            Type::Datetime => try_cast(udf::get("kql_tostring").call(vec![e]), udf::timestamp()),
            Type::Timespan => cast(udf::get("kql_tolong").call(vec![e]), DataType::Duration(TimeUnit::Microsecond)),
        }
    }

    /// `parse Source with * "literal" Name:type ...`: a regular expression, anchored at the
    /// start, whose groups are the named columns; the last column takes the rest.
    fn parse_op(&mut self, plan: LogicalPlan, source: &Expr, parts: &[ParsePart], pos: Pos) -> R<LogicalPlan> {
        let text = self.scalar(source, plan.schema())?;
        let text = self.to_str(text, plan.schema())?;
        let mut pattern = String::from("(?s)^");
        let mut outputs = Vec::new();
        for (k, part) in parts.iter().enumerate() {
            let last = k + 1 == parts.len();
            match part {
                ParsePart::Literal(s) => pattern.push_str(&regex::escape(s)),
                ParsePart::Star => pattern.push_str(if last { ".*" } else { ".*?" }),
                ParsePart::Column(name, ty) => {
                    pattern.push_str(if last { "(.*)" } else { "(.*?)" });
                    outputs.push((name.clone(), *ty));
                }
            }
        }
        let mut plan = plan;
        for (group, (name, ty)) in outputs.iter().enumerate() {
            let value = udf::get("kql_extract").call(vec![lit(pattern.clone()), lit(group as i64 + 1), text.clone()]);
            let value = match ty {
                None | Some(Type::String) | Some(Type::Guid) => value,
                Some(Type::Dynamic) => udf::get("kql_parse_json").call(vec![value]),
                Some(ty) => try_cast(value, type_of(*ty)),
            };
            plan = with_column(plan, name, value, pos)?;
        }
        Ok(plan)
    }
}

/// The plan with column `name` set to `value`: in its place if the plan has one, else last.
fn with_column(plan: LogicalPlan, name: &str, value: DfExpr, pos: Pos) -> R<LogicalPlan> {
    let mut replaced = false;
    let mut exprs: Vec<DfExpr> = columns(&plan)
        .into_iter()
        .map(|(c, n)| {
            if n == name {
                replaced = true;
                value.clone().alias(name)
            } else {
                c
            }
        })
        .collect();
    if !replaced {
        exprs.push(value.alias(name));
    }
    project(plan, exprs, pos)
}

pub(crate) fn project(plan: LogicalPlan, exprs: Vec<DfExpr>, pos: Pos) -> R<LogicalPlan> {
    LogicalPlanBuilder::from(plan).project(exprs).and_then(|b| b.build()).map_err(|e| KqlError::query(pos, e))
}

pub(crate) fn subquery(plan: LogicalPlan) -> Subquery {
    Subquery { subquery: Arc::new(plan), outer_ref_columns: Vec::new(), spans: Default::default() }
}

pub(crate) fn in_subquery(e: DfExpr, plan: LogicalPlan, negated: bool) -> DfExpr {
    DfExpr::InSubquery(InSubquery::new(Box::new(e), subquery(plan), negated))
}
