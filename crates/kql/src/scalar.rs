//! Scalar expressions and aggregates: KQL's functions and operators as DataFusion
//! expressions, with KQL's type rules (a `dynamic` value compared with a string is compared as
//! its string; with a number, as a number).
//! <https://learn.microsoft.com/en-us/kusto/query/scalar-functions>

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::{DFSchemaRef, ScalarValue};
use datafusion::logical_expr::expr::Sort;
use datafusion::logical_expr::{
    AggregateUDF, Expr as DfExpr, ExprFunctionExt, ExprSchemable, LogicalPlan, LogicalPlanBuilder, Operator, ScalarUDF,
    binary_expr, cast, is_not_null, is_null, lit, not, try_cast, when,
};

use crate::KqlError;
use crate::ast::*;
use crate::lex::Pos;
use crate::plan::{
    Binding, Planner, col, columns, duration_lit, in_subquery, project, subquery, timestamp_lit, unique,
};
use crate::udf::{self, DYNAMIC};

type R<T> = Result<T, KqlError>;

const AGGREGATES: &[&str] = &[
    "count",
    "countif",
    "dcount",
    "dcountif",
    "sum",
    "sumif",
    "min",
    "max",
    "minif",
    "maxif",
    "avg",
    "avgif",
    "make_set",
    "make_set_if",
    "make_list",
    "make_list_if",
    "make_bag",
    "make_bag_if",
    "take_any",
    "any",
    "arg_max",
    "arg_min",
    "percentile",
    "stdev",
    "variance",
    "count_distinct",
];

fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::Utf8View)
}

fn is_numeric(t: &DataType) -> bool {
    t.is_numeric()
}

fn is_time(t: &DataType) -> bool {
    matches!(t, DataType::Timestamp(_, _))
}

fn is_span(t: &DataType) -> bool {
    matches!(t, DataType::Duration(_) | DataType::Interval(_))
}

impl Planner<'_> {
    fn ty(&self, e: &DfExpr, schema: &DFSchemaRef, pos: Pos) -> R<DataType> {
        e.get_type(schema.as_ref()).map_err(|err| KqlError::query(pos, err))
    }

    fn builtin(&self, name: &str, pos: Pos) -> R<Arc<ScalarUDF>> {
        self.registry.udf(name).map_err(|e| KqlError::query(pos, e))
    }

    pub(crate) fn aggregate_udf(&self, name: &str, pos: Pos) -> R<Arc<AggregateUDF>> {
        self.registry.udaf(name).map_err(|e| KqlError::query(pos, e))
    }

    fn call(&self, name: &str, args: Vec<DfExpr>, pos: Pos) -> R<DfExpr> {
        Ok(self.builtin(name, pos)?.call(args))
    }

    /// A value as KQL's `string`: dynamic values as `tostring` shows them.
    pub(crate) fn to_str(&self, e: DfExpr, schema: &DFSchemaRef) -> R<DfExpr> {
        let t = self.ty(&e, schema, Pos::default())?;
        Ok(match t {
            DataType::LargeUtf8 => udf::get("kql_tostring").call(vec![e]),
            t if is_string(&t) => e,
            _ => cast(e, DataType::Utf8),
        })
    }

    /// A value as `dynamic`: strings as JSON strings, numbers and booleans as themselves.
    pub(crate) fn to_dynamic(&self, e: DfExpr, schema: &DFSchemaRef) -> R<DfExpr> {
        let t = self.ty(&e, schema, Pos::default())?;
        Ok(match t {
            DataType::LargeUtf8 => e,
            DataType::Null => cast(e, DYNAMIC),
            t if is_string(&t) => udf::get("kql_string_to_dynamic").call(vec![e]),
            t if is_time(&t) || is_span(&t) => udf::get("kql_string_to_dynamic").call(vec![cast(e, DataType::Utf8)]),
            _ => cast(cast(e, DataType::Utf8), DYNAMIC),
        })
    }

    pub(crate) fn to_bool(&self, e: DfExpr, schema: &DFSchemaRef) -> R<DfExpr> {
        let t = self.ty(&e, schema, Pos::default())?;
        Ok(match t {
            DataType::Boolean => e,
            DataType::LargeUtf8 => udf::get("kql_tobool").call(vec![e]),
            t if is_string(&t) => when(self.call("lower", vec![e.clone()], Pos::default())?.eq(lit("true")), lit(true))
                .when(self.call("lower", vec![e], Pos::default())?.eq(lit("false")), lit(false))
                .otherwise(lit(ScalarValue::Boolean(None)))
                .map_err(|err| KqlError::query(Pos::default(), err))?,
            t if is_numeric(&t) => e.not_eq(lit(0i64)),
            _ => cast(e, DataType::Boolean),
        })
    }

    fn to_double(&self, e: DfExpr, schema: &DFSchemaRef) -> R<DfExpr> {
        let t = self.ty(&e, schema, Pos::default())?;
        Ok(match t {
            DataType::LargeUtf8 => udf::get("kql_todouble").call(vec![e]),
            t if is_string(&t) => try_cast(self.call("trim", vec![e], Pos::default())?, DataType::Float64),
            _ => try_cast(e, DataType::Float64),
        })
    }

    fn to_long(&self, e: DfExpr, schema: &DFSchemaRef) -> R<DfExpr> {
        let t = self.ty(&e, schema, Pos::default())?;
        Ok(match t {
            DataType::LargeUtf8 => udf::get("kql_tolong").call(vec![e]),
            t if is_string(&t) => {
                let trimmed = self.call("trim", vec![e], Pos::default())?;
                datafusion::functions::expr_fn::coalesce(vec![
                    try_cast(trimmed.clone(), DataType::Int64),
                    try_cast(try_cast(trimmed, DataType::Float64), DataType::Int64),
                ])
            }
            t if t.is_floating() => cast(self.call("trunc", vec![e], Pos::default())?, DataType::Int64),
            _ => try_cast(e, DataType::Int64),
        })
    }

    /// Two sides of a comparison brought to types that compare as KQL compares them.
    fn comparable(&self, a: DfExpr, b: DfExpr, schema: &DFSchemaRef, pos: Pos) -> R<(DfExpr, DfExpr)> {
        let (ta, tb) = (self.ty(&a, schema, pos)?, self.ty(&b, schema, pos)?);
        let dynamic = |t: &DataType| *t == DYNAMIC;
        Ok(match (&ta, &tb) {
            (x, y) if dynamic(x) && dynamic(y) => (a, b),
            (x, y) if dynamic(x) && (is_numeric(y)) => (self.to_double(a, schema)?, cast(b, DataType::Float64)),
            (x, y) if dynamic(y) && (is_numeric(x)) => (cast(a, DataType::Float64), self.to_double(b, schema)?),
            (x, DataType::Boolean) if dynamic(x) => (self.to_bool(a, schema)?, b),
            (DataType::Boolean, y) if dynamic(y) => (a, self.to_bool(b, schema)?),
            (x, y) if dynamic(x) && is_time(y) => (try_cast(self.to_str(a, schema)?, udf::timestamp()), b),
            (x, y) if dynamic(y) && is_time(x) => (a, try_cast(self.to_str(b, schema)?, udf::timestamp())),
            (x, _) if dynamic(x) => (self.to_str(a, schema)?, b),
            (_, y) if dynamic(y) => (a, self.to_str(b, schema)?),
            // A string and a number compare as text (Sentinel's ResultType and
            // ConditionalAccessStatus are strings that older queries compare with numbers).
            (x, y) if is_string(x) && is_numeric(y) => (a, cast(b, DataType::Utf8)),
            (x, y) if is_numeric(x) && is_string(y) => (cast(a, DataType::Utf8), b),
            _ => (a, b),
        })
    }

    fn lower_str(&self, e: DfExpr, schema: &DFSchemaRef, pos: Pos) -> R<DfExpr> {
        let e = self.to_str(e, schema)?;
        self.call("lower", vec![e], pos)
    }

    /// Text for the string operators: a dynamic value's JSON text as it is (`has` searches
    /// it), anything else as its string.
    fn text(&self, e: DfExpr, schema: &DFSchemaRef) -> R<DfExpr> {
        let t = self.ty(&e, schema, Pos::default())?;
        if t == DYNAMIC { Ok(cast(e, DataType::Utf8)) } else { self.to_str(e, schema) }
    }

    pub(crate) fn scalar(&mut self, e: &Expr, schema: &DFSchemaRef) -> R<DfExpr> {
        match e {
            Expr::Literal(literal, _) => Ok(literal_expr(literal)),
            Expr::Name(name, pos) => {
                if schema.has_column_with_unqualified_name(name) {
                    return Ok(col(name));
                }
                match self.lookup(name) {
                    Some(Binding::Scalar(value)) => Ok(value.clone()),
                    Some(Binding::Tabular(plan)) => Ok(DfExpr::ScalarSubquery(subquery(plan.clone()))),
                    Some(Binding::Function(..)) => {
                        Err(KqlError::plan(*pos, format!("`{name}` is a function: call it with ()")))
                    }
                    None => {
                        let mut known: Vec<String> = columns_of(schema);
                        known.truncate(30);
                        Err(KqlError::plan(
                            *pos,
                            if known.is_empty() {
                                format!("`{name}` is not a column or a `let` name")
                            } else {
                                format!("`{name}` is not a column or a `let` name (columns: {})", known.join(", "))
                            },
                        ))
                    }
                }
            }
            Expr::Member(..) | Expr::Index(..) => self.member(e, schema),
            Expr::Call { name, args, pos } => self.function(name, args, schema, *pos),
            Expr::Unary { expr, pos, .. } => {
                let inner = self.scalar(expr, schema)?;
                let t = self.ty(&inner, schema, *pos)?;
                let inner = if t == DYNAMIC { self.to_double(inner, schema)? } else { inner };
                Ok(DfExpr::Negative(Box::new(inner)))
            }
            Expr::Binary { op, left, right, pos } => self.binary(op, left, right, schema, *pos),
            Expr::ListOp { op, expr, list, pos } => self.list_op(op, expr, list, schema, *pos),
            Expr::Between { negated, expr, low, high, pos } => {
                let value = self.scalar(expr, schema)?;
                let low = self.scalar(low, schema)?;
                let mut high = self.scalar(high, schema)?;
                if is_time(&self.ty(&value, schema, *pos)?) && is_span(&self.ty(&high, schema, *pos)?) {
                    high = binary_expr(low.clone(), Operator::Plus, high);
                }
                let (v1, low) = self.comparable(value.clone(), low, schema, *pos)?;
                let (v2, high) = self.comparable(value, high, schema, *pos)?;
                let inside = v1.gt_eq(low).and(v2.lt_eq(high));
                Ok(if *negated { not(inside) } else { inside })
            }
            Expr::Tabular(t, _) => {
                let plan = self.tabular(t)?;
                Ok(DfExpr::ScalarSubquery(subquery(plan)))
            }
            Expr::Star(pos) => Err(KqlError::plan(*pos, "`*` is not a value here")),
        }
    }

    /// `x.a.b[0]`: one `kql_get` with the whole path when every step is written in the query.
    fn member(&mut self, e: &Expr, schema: &DFSchemaRef) -> R<DfExpr> {
        let mut steps = Vec::new();
        let mut base = e;
        loop {
            match base {
                Expr::Member(inner, key, _) => {
                    steps.push(serde_json::Value::String(key.clone()));
                    base = inner;
                }
                Expr::Index(inner, index, pos) => match index.as_ref() {
                    Expr::Literal(Literal::Long(n), _) => {
                        steps.push(serde_json::Value::from(*n));
                        base = inner;
                    }
                    _ => {
                        // A computed index: the part before it, then the index, then the rest.
                        let value = self.scalar(inner, schema)?;
                        let value = self.dynamic_of(value, schema)?;
                        let index = self.scalar(index, schema)?;
                        let at = match self.ty(&index, schema, *pos)? {
                            t if is_string(&t) || t == DYNAMIC => {
                                return Err(KqlError::plan(
                                    *pos,
                                    "a computed property name is not supported; write x['name']",
                                ));
                            }
                            _ => cast(index, DataType::Int64),
                        };
                        let mut out = udf::get("kql_index").call(vec![value, at]);
                        steps.reverse();
                        if !steps.is_empty() {
                            out = udf::get("kql_get").call(vec![out, lit(serde_json::Value::Array(steps).to_string())]);
                        }
                        return Ok(out);
                    }
                },
                _ => break,
            }
        }
        steps.reverse();
        let value = self.scalar(base, schema)?;
        let value = self.dynamic_of(value, schema)?;
        Ok(udf::get("kql_get").call(vec![value, lit(serde_json::Value::Array(steps).to_string())]))
    }

    /// A value read as JSON: dynamic as it is, a string parsed (Sentinel keeps some
    /// properties as JSON text).
    fn dynamic_of(&self, e: DfExpr, schema: &DFSchemaRef) -> R<DfExpr> {
        let t = self.ty(&e, schema, Pos::default())?;
        Ok(if t == DYNAMIC {
            e
        } else if is_string(&t) {
            udf::get("kql_parse_json").call(vec![e])
        } else {
            self.to_dynamic(e, schema)?
        })
    }

    fn binary(&mut self, op: &str, left: &Expr, right: &Expr, schema: &DFSchemaRef, pos: Pos) -> R<DfExpr> {
        let a = self.scalar(left, schema)?;
        let b = self.scalar(right, schema)?;
        let (ta, tb) = (self.ty(&a, schema, pos)?, self.ty(&b, schema, pos)?);
        let (negated, base) = match op.strip_prefix('!') {
            Some(rest) if rest != "=" && rest != "~" => (true, rest),
            _ => (false, op),
        };
        let out = match base {
            "and" => self.to_bool(a, schema)?.and(self.to_bool(b, schema)?),
            "or" => self.to_bool(a, schema)?.or(self.to_bool(b, schema)?),
            "==" | "!=" | "<" | "<=" | ">" | ">=" => {
                let (a, b) = self.comparable(a, b, schema, pos)?;
                let operator = match base {
                    "==" => Operator::Eq,
                    "!=" => Operator::NotEq,
                    "<" => Operator::Lt,
                    "<=" => Operator::LtEq,
                    ">" => Operator::Gt,
                    _ => Operator::GtEq,
                };
                binary_expr(a, operator, b)
            }
            "=~" => self.lower_str(a, schema, pos)?.eq(self.lower_str(b, schema, pos)?),
            "!~" => self.lower_str(a, schema, pos)?.not_eq(self.lower_str(b, schema, pos)?),
            "+" | "-" | "*" | "/" | "%" => {
                let (a, b) = match (&ta, &tb) {
                    (x, y) if *x == DYNAMIC || *y == DYNAMIC => {
                        (self.to_double(a, schema)?, self.to_double(b, schema)?)
                    }
                    _ => (a, b),
                };
                if base == "/" && is_span(&ta) && is_span(&tb) {
                    // timespan / timespan is a real number.
                    let micros = |e| cast(cast(e, DataType::Duration(TimeUnit::Microsecond)), DataType::Int64);
                    return Ok(binary_expr(
                        cast(micros(a), DataType::Float64),
                        Operator::Divide,
                        cast(micros(b), DataType::Float64),
                    ));
                }
                if is_span(&ta) && is_numeric(&tb) && (base == "/" || base == "*") {
                    // timespan * number, timespan / number: a timespan.
                    let micros = cast(cast(a, DataType::Duration(TimeUnit::Microsecond)), DataType::Int64);
                    let operator = if base == "/" { Operator::Divide } else { Operator::Multiply };
                    let scaled = binary_expr(cast(micros, DataType::Float64), operator, cast(b, DataType::Float64));
                    return Ok(cast(cast(scaled, DataType::Int64), DataType::Duration(TimeUnit::Microsecond)));
                }
                if base == "/" && ta.is_integer() && tb.is_integer() {
                    // Whole numbers divide to a whole number, as in KQL.
                    return Ok(binary_expr(a, Operator::Divide, b));
                }
                let operator = match base {
                    "+" => Operator::Plus,
                    "-" => Operator::Minus,
                    "*" => Operator::Multiply,
                    "/" => Operator::Divide,
                    _ => Operator::Modulo,
                };
                binary_expr(a, operator, b)
            }
            "has" => udf::get("kql_has").call(vec![self.text(a, schema)?, self.text(b, schema)?]),
            "has_cs" => udf::get("kql_has_cs").call(vec![self.text(a, schema)?, self.text(b, schema)?]),
            "contains" => udf::get("kql_contains").call(vec![self.text(a, schema)?, self.text(b, schema)?]),
            "contains_cs" => {
                let (a, b) = (self.text(a, schema)?, self.text(b, schema)?);
                self.call("strpos", vec![a, b], pos)?.gt(lit(0i64))
            }
            "startswith" | "endswith" | "hasprefix" | "hassuffix" => {
                let (a, b) = (self.lower_str(a, schema, pos)?, self.lower_str(b, schema, pos)?);
                self.affix(base, a, b, pos)?
            }
            "startswith_cs" | "endswith_cs" | "hasprefix_cs" | "hassuffix_cs" => {
                let (a, b) = (self.to_str(a, schema)?, self.to_str(b, schema)?);
                self.affix(base.trim_end_matches("_cs"), a, b, pos)?
            }
            "matches regex" => {
                let a = self.to_str(a, schema)?;
                self.call("regexp_like", vec![a, b], pos)?
            }
            other => return Err(KqlError::plan(pos, format!("`{other}` is not an operator Sleuth knows"))),
        };
        Ok(if negated { not(out) } else { out })
    }

    fn affix(&self, op: &str, a: DfExpr, b: DfExpr, pos: Pos) -> R<DfExpr> {
        Ok(match op {
            "startswith" => self.call("starts_with", vec![a, b], pos)?,
            "endswith" => self.call("ends_with", vec![a, b], pos)?,
            // A term that starts (ends) with the text: at the start of the string or after a
            // character that is not a letter or digit.
            "hasprefix" => self.call("starts_with", vec![a.clone(), b.clone()], pos)?.or(self.call(
                "regexp_like",
                vec![
                    a,
                    self.call(
                        "concat",
                        vec![
                            lit("[^[:alnum:]]"),
                            self.call(
                                "regexp_replace",
                                vec![b, lit(r"([\\.^$|?*+()\[\]{}])"), lit(r"\$1"), lit("g")],
                                pos,
                            )?,
                        ],
                        pos,
                    )?,
                ],
                pos,
            )?),
            _ => self.call("ends_with", vec![a.clone(), b.clone()], pos)?.or(self.call(
                "regexp_like",
                vec![
                    a,
                    self.call(
                        "concat",
                        vec![
                            self.call(
                                "regexp_replace",
                                vec![b, lit(r"([\\.^$|?*+()\[\]{}])"), lit(r"\$1"), lit("g")],
                                pos,
                            )?,
                            lit("[^[:alnum:]]"),
                        ],
                        pos,
                    )?,
                ],
                pos,
            )?),
        })
    }

    fn list_op(&mut self, op: &str, expr: &Expr, list: &[Expr], schema: &DFSchemaRef, pos: Pos) -> R<DfExpr> {
        let (negated, base) = match op.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, op),
        };
        let value = self.scalar(expr, schema)?;
        // `x in (T | project c)`, `x in (SomeLetTable)`.
        if let [single] = list {
            let table = match single {
                Expr::Tabular(t, _) => Some(self.tabular(t)?),
                Expr::Name(n, _) if !schema.has_column_with_unqualified_name(n) => match self.lookup(n) {
                    Some(Binding::Tabular(plan)) => Some(plan.clone()),
                    None => self.lookup_tabular(n),
                    _ => None,
                },
                _ => None,
            };
            if let Some(table) = table {
                if base != "in" && base != "in~" {
                    return Err(KqlError::plan(pos, format!("`{base}` takes a list of values, not a table")));
                }
                let first =
                    columns(&table).into_iter().next().ok_or_else(|| KqlError::plan(pos, "the table has no column"))?;
                let table = project(table, vec![first.0.alias("__in_value")], pos)?;
                let inner_type = table.schema().field(0).data_type().clone();
                let value_type = self.ty(&value, schema, pos)?;
                let (value, table) = if inner_type == value_type && base == "in" {
                    (value, table)
                } else {
                    // Compared as text (and lower case for in~).
                    let inner_schema = table.schema().clone();
                    let c = columns(&table).remove(0).0;
                    let mut inner = self.to_str(c, &inner_schema)?;
                    let mut outer = self.to_str(value, schema)?;
                    if base == "in~" {
                        inner = self.call("lower", vec![inner], pos)?;
                        outer = self.call("lower", vec![outer], pos)?;
                    }
                    (outer, project(table, vec![inner.alias("__in_value")], pos)?)
                };
                return Ok(in_subquery(value, table, negated));
            }
        }
        // The list's values: dynamic arrays written in the query are spread out.
        let mut items = Vec::new();
        let mut dynamic_lists = Vec::new();
        for item in list {
            let e = self.scalar(item, schema)?;
            match &e {
                DfExpr::Literal(ScalarValue::LargeUtf8(Some(text)), _) => match serde_json::from_str(text) {
                    Ok(serde_json::Value::Array(values)) => items.extend(values.iter().map(json_literal)),
                    Ok(value) => items.push(json_literal(&value)),
                    Err(_) => items.push(e.clone()),
                },
                _ if self.ty(&e, schema, pos)? == DYNAMIC => dynamic_lists.push(e),
                _ => items.push(e),
            }
        }
        let value_type = self.ty(&value, schema, pos)?;
        let out = match base {
            "in" | "in~" => {
                let ci = base == "in~";
                let mut parts = Vec::new();
                if !items.is_empty() {
                    let all_numeric = items.iter().all(|i| i.get_type(schema.as_ref()).is_ok_and(|t| is_numeric(&t)));
                    let (v, list) = if value_type == DYNAMIC {
                        if all_numeric {
                            (
                                self.to_double(value.clone(), schema)?,
                                items.iter().map(|i| cast(i.clone(), DataType::Float64)).collect(),
                            )
                        } else {
                            (
                                self.to_str(value.clone(), schema)?,
                                items.iter().map(|i| self.to_str(i.clone(), schema)).collect::<R<Vec<_>>>()?,
                            )
                        }
                    } else if is_string(&value_type) || ci {
                        (
                            self.to_str(value.clone(), schema)?,
                            items.iter().map(|i| self.to_str(i.clone(), schema)).collect::<R<Vec<_>>>()?,
                        )
                    } else {
                        (value.clone(), items.clone())
                    };
                    let (v, list) = if ci {
                        (
                            self.call("lower", vec![v], pos)?,
                            list.into_iter().map(|i| self.call("lower", vec![i], pos)).collect::<R<Vec<_>>>()?,
                        )
                    } else {
                        (v, list)
                    };
                    parts.push(v.in_list(list, false));
                }
                for dynamic_list in dynamic_lists {
                    let v = self.to_dynamic(value.clone(), schema)?;
                    parts.push(udf::get("kql_in_dynamic").call(vec![dynamic_list, v]));
                }
                parts.into_iter().reduce(|a, b| a.or(b)).unwrap_or(lit(false))
            }
            "has_any" | "has_all" => {
                if !dynamic_lists.is_empty() {
                    return Err(KqlError::plan(
                        pos,
                        format!("{base} takes values written in the query or a dynamic array `let`"),
                    ));
                }
                let text = self.text(value, schema)?;
                let tests = items
                    .into_iter()
                    .map(|i| Ok(udf::get("kql_has").call(vec![text.clone(), self.to_str(i, schema)?])))
                    .collect::<R<Vec<_>>>()?;
                let combined = if base == "has_any" {
                    tests.into_iter().reduce(|a, b| a.or(b))
                } else {
                    tests.into_iter().reduce(|a, b| a.and(b))
                };
                combined.unwrap_or(lit(base == "has_all"))
            }
            other => return Err(KqlError::plan(pos, format!("`{other}` is not a list operator"))),
        };
        Ok(if negated { not(out) } else { out })
    }

    fn args(&mut self, args: &[Expr], schema: &DFSchemaRef) -> R<Vec<DfExpr>> {
        args.iter().map(|a| self.scalar(a, schema)).collect()
    }

    fn arity(name: &str, args: &[Expr], min: usize, max: usize, pos: Pos) -> R<()> {
        if args.len() < min || args.len() > max {
            let takes = if min == max { format!("{min}") } else { format!("{min} to {max}") };
            return Err(KqlError::plan(pos, format!("{name}() takes {takes} arguments, not {}", args.len())));
        }
        Ok(())
    }

    fn function(&mut self, name: &str, args: &[Expr], schema: &DFSchemaRef, pos: Pos) -> R<DfExpr> {
        if let Some(Binding::Function(params, body)) = self.lookup(name).cloned() {
            return self.scalar_function(name, &params, &body, args, schema, pos);
        }
        if AGGREGATES.contains(&name) {
            return Err(KqlError::plan(pos, format!("{name}() is an aggregation: use it in summarize")));
        }
        let one = |p: &mut Self, k: usize| p.scalar(&args[k], schema);
        let e = match name {
            "ago" => {
                Self::arity(name, args, 1, 1, pos)?;
                binary_expr(timestamp_lit(self.now), Operator::Minus, one(self, 0)?)
            }
            "now" => {
                Self::arity(name, args, 0, 1, pos)?;
                if args.is_empty() {
                    timestamp_lit(self.now)
                } else {
                    binary_expr(timestamp_lit(self.now), Operator::Plus, one(self, 0)?)
                }
            }
            "datetime_diff" => {
                Self::arity(name, args, 3, 3, pos)?;
                let a = self.args(args, schema)?;
                udf::get("kql_datetime_diff").call(vec![
                    cast(a[0].clone(), DataType::Utf8),
                    cast(a[1].clone(), udf::timestamp()),
                    cast(a[2].clone(), udf::timestamp()),
                ])
            }
            "datetime_add" => {
                Self::arity(name, args, 3, 3, pos)?;
                let a = self.args(args, schema)?;
                udf::get("kql_datetime_add").call(vec![
                    cast(a[0].clone(), DataType::Utf8),
                    cast(a[1].clone(), DataType::Int64),
                    cast(a[2].clone(), udf::timestamp()),
                ])
            }
            "startofday" | "startofmonth" | "startofyear" | "startofweek" | "endofday" => {
                Self::arity(name, args, 1, 1, pos)?;
                let t = cast(one(self, 0)?, udf::timestamp());
                match name {
                    "startofday" => self.call("date_trunc", vec![lit("day"), t], pos)?,
                    "startofmonth" => self.call("date_trunc", vec![lit("month"), t], pos)?,
                    "startofyear" => self.call("date_trunc", vec![lit("year"), t], pos)?,
                    "endofday" => binary_expr(
                        self.call("date_trunc", vec![lit("day"), t], pos)?,
                        Operator::Plus,
                        duration_lit(86_400_000_000_000 - 1_000),
                    ),
                    // Weeks start on Sunday; 1970-01-04 was one.
                    _ => self.call(
                        "date_bin",
                        vec![interval(7 * 86_400_000_000_000), t, timestamp_lit(3 * 86_400_000_000)],
                        pos,
                    )?,
                }
            }
            "bin" | "floor" => {
                Self::arity(name, args, 2, 2, pos)?;
                let value = one(self, 0)?;
                let size = one(self, 1)?;
                let t = self.ty(&value, schema, pos)?;
                if is_time(&t) {
                    let nanos = match fold(size.clone()) {
                        DfExpr::Literal(ScalarValue::DurationMicrosecond(Some(us)), _) => us * 1000,
                        _ => {
                            return Err(KqlError::plan(
                                pos,
                                "bin() of a datetime takes a timespan known before the query runs",
                            ));
                        }
                    };
                    self.call("date_bin", vec![interval(nanos), value, timestamp_lit(0)], pos)?
                } else {
                    let q = binary_expr(value, Operator::Divide, size.clone());
                    let floored = self.call("floor", vec![cast(q, DataType::Float64)], pos)?;
                    let out = binary_expr(floored, Operator::Multiply, size);
                    if t.is_integer() { cast(out, DataType::Int64) } else { out }
                }
            }
            "iff" | "iif" => {
                Self::arity(name, args, 3, 3, pos)?;
                let c = one(self, 0)?;
                let c = self.to_bool(c, schema)?;
                let (a, b) = (one(self, 1)?, one(self, 2)?);
                when(c, a).otherwise(b).map_err(|e| KqlError::query(pos, e))?
            }
            "case" => {
                if args.len() < 3 || args.len().is_multiple_of(2) {
                    return Err(KqlError::plan(
                        pos,
                        "case() takes pairs of condition and value, then a value for the rest",
                    ));
                }
                let mut builder: Option<datafusion::logical_expr::conditional_expressions::CaseBuilder> = None;
                for pair in args[..args.len() - 1].chunks(2) {
                    let c = self.scalar(&pair[0], schema)?;
                    let c = self.to_bool(c, schema)?;
                    let v = self.scalar(&pair[1], schema)?;
                    builder = Some(match builder {
                        None => when(c, v),
                        Some(mut b) => {
                            b.when(c, v);
                            b
                        }
                    });
                }
                let last = self.scalar(&args[args.len() - 1], schema)?;
                builder.expect("at least one pair").otherwise(last).map_err(|e| KqlError::query(pos, e))?
            }
            "coalesce" => {
                let values = self.args(args, schema)?;
                let values = values
                    .into_iter()
                    .map(|v| {
                        // An empty string counts as missing, as in KQL.
                        let t = self.ty(&v, schema, pos)?;
                        if is_string(&t) { self.call("nullif", vec![v, lit("")], pos) } else { Ok(v) }
                    })
                    .collect::<R<Vec<_>>>()?;
                datafusion::functions::expr_fn::coalesce(values)
            }
            "isempty" | "isnotempty" => {
                Self::arity(name, args, 1, 1, pos)?;
                let v = one(self, 0)?;
                let t = self.ty(&v, schema, pos)?;
                let empty = if is_string(&t) || t == DYNAMIC {
                    let s = self.to_str(v, schema)?;
                    is_null(s.clone()).or(s.eq(lit("")))
                } else {
                    is_null(v)
                };
                if name == "isempty" { empty } else { not(empty) }
            }
            "isnull" => is_null(one(self, 0)?),
            "isnotnull" => is_not_null(one(self, 0)?),
            "not" => {
                Self::arity(name, args, 1, 1, pos)?;
                let v = one(self, 0)?;
                not(self.to_bool(v, schema)?)
            }
            "tostring" => {
                Self::arity(name, args, 1, 1, pos)?;
                let v = one(self, 0)?;
                match self.ty(&v, schema, pos)? {
                    t if is_time(&t) => self.call("to_char", vec![v, lit("%Y-%m-%dT%H:%M:%S%.fZ")], pos)?,
                    _ => self.to_str(v, schema)?,
                }
            }
            "toint" | "tolong" => {
                Self::arity(name, args, 1, 1, pos)?;
                let v = one(self, 0)?;
                let v = self.to_long(v, schema)?;
                if name == "toint" { cast(v, DataType::Int32) } else { v }
            }
            "todouble" | "toreal" | "todecimal" => {
                Self::arity(name, args, 1, 1, pos)?;
                let v = one(self, 0)?;
                self.to_double(v, schema)?
            }
            "tobool" | "toboolean" => {
                Self::arity(name, args, 1, 1, pos)?;
                let v = one(self, 0)?;
                self.to_bool(v, schema)?
            }
            "todatetime" => {
                Self::arity(name, args, 1, 1, pos)?;
                let v = one(self, 0)?;
                let t = self.ty(&v, schema, pos)?;
                if is_time(&t) { v } else { try_cast(self.to_str(v, schema)?, udf::timestamp()) }
            }
            "totimespan" => {
                Self::arity(name, args, 1, 1, pos)?;
                let v = one(self, 0)?;
                let t = self.ty(&v, schema, pos)?;
                if is_span(&t) {
                    v
                } else {
                    return Err(KqlError::plan(pos, "totimespan() of text is not supported yet"));
                }
            }
            "todynamic" | "parse_json" | "toobject" => {
                Self::arity(name, args, 1, 1, pos)?;
                let v = one(self, 0)?;
                self.dynamic_of(v, schema)?
            }
            "tolower" | "toupper" => {
                Self::arity(name, args, 1, 1, pos)?;
                let v = one(self, 0)?;
                let v = self.to_str(v, schema)?;
                self.call(if name == "tolower" { "lower" } else { "upper" }, vec![v], pos)?
            }
            "strcat" => {
                let values = self.args(args, schema)?;
                let values = values.into_iter().map(|v| self.to_str(v, schema)).collect::<R<Vec<_>>>()?;
                self.call("concat", values, pos)?
            }
            "strcat_delim" => {
                let values = self.args(args, schema)?;
                let mut values = values.into_iter().map(|v| self.to_str(v, schema)).collect::<R<Vec<_>>>()?;
                if values.len() < 2 {
                    return Err(KqlError::plan(pos, "strcat_delim() takes a delimiter and values"));
                }
                let delimiter = values.remove(0);
                self.call("concat_ws", std::iter::once(delimiter).chain(values).collect(), pos)?
            }
            "strlen" => {
                let v = one(self, 0)?;
                let v = self.to_str(v, schema)?;
                cast(self.call("character_length", vec![v], pos)?, DataType::Int64)
            }
            "substring" => {
                Self::arity(name, args, 2, 3, pos)?;
                let a = self.args(args, schema)?;
                let s = self.to_str(a[0].clone(), schema)?;
                let start = binary_expr(cast(a[1].clone(), DataType::Int64), Operator::Plus, lit(1i64));
                let mut call = vec![s, start];
                if let Some(len) = a.get(2) {
                    call.push(cast(len.clone(), DataType::Int64));
                }
                self.call("substr", call, pos)?
            }
            "indexof" => {
                Self::arity(name, args, 2, 2, pos)?;
                let a = self.args(args, schema)?;
                let (s, needle) = (self.to_str(a[0].clone(), schema)?, self.to_str(a[1].clone(), schema)?);
                binary_expr(
                    cast(self.call("strpos", vec![s, needle], pos)?, DataType::Int64),
                    Operator::Minus,
                    lit(1i64),
                )
            }
            "replace_string" => {
                Self::arity(name, args, 3, 3, pos)?;
                let a = self.args(args, schema)?;
                let a = a.into_iter().map(|v| self.to_str(v, schema)).collect::<R<Vec<_>>>()?;
                self.call("replace", a, pos)?
            }
            "replace_regex" => {
                Self::arity(name, args, 3, 3, pos)?;
                let a = self.args(args, schema)?;
                let a = a.into_iter().map(|v| self.to_str(v, schema)).collect::<R<Vec<_>>>()?;
                let mut a = a;
                a.push(lit("g"));
                self.call("regexp_replace", a, pos)?
            }
            "trim" | "trim_start" | "trim_end" => {
                Self::arity(name, args, 2, 2, pos)?;
                let a = self.args(args, schema)?;
                let pattern = match &a[0] {
                    DfExpr::Literal(ScalarValue::Utf8(Some(p)), _) => p.clone(),
                    _ => {
                        return Err(KqlError::plan(
                            pos,
                            format!("{name}() takes a regular expression written in the query"),
                        ));
                    }
                };
                let s = self.to_str(a[1].clone(), schema)?;
                let regex = match name {
                    "trim" => format!("^(?:{pattern})+|(?:{pattern})+$"),
                    "trim_start" => format!("^(?:{pattern})+"),
                    _ => format!("(?:{pattern})+$"),
                };
                self.call("regexp_replace", vec![s, lit(regex), lit(""), lit("g")], pos)?
            }
            "split" => {
                Self::arity(name, args, 2, 3, pos)?;
                let a = self.args(args, schema)?;
                let (s, d) = (self.to_str(a[0].clone(), schema)?, self.to_str(a[1].clone(), schema)?);
                let parts = udf::get("kql_split").call(vec![s, d]);
                match a.get(2) {
                    Some(index) => udf::get("kql_get").call(vec![
                        udf::get("kql_pack_array")
                            .call(vec![udf::get("kql_index").call(vec![parts, cast(index.clone(), DataType::Int64)])]),
                        lit("[]"),
                    ]),
                    None => parts,
                }
            }
            "extract" => {
                Self::arity(name, args, 3, 4, pos)?;
                let a = self.args(args, schema)?;
                let text = self.to_str(a[2].clone(), schema)?;
                let found = udf::get("kql_extract").call(vec![
                    cast(a[0].clone(), DataType::Utf8),
                    cast(a[1].clone(), DataType::Int64),
                    text,
                ]);
                match args.get(3) {
                    Some(Expr::Call { name: t, args: inner, .. }) if t == "typeof" && inner.len() == 1 => {
                        match &inner[0] {
                            Expr::Name(ty, _) => match Type::parse(ty) {
                                Some(Type::String) | None => found,
                                Some(ty) => {
                                    try_cast(self.call("nullif", vec![found, lit("")], pos)?, crate::plan::type_of(ty))
                                }
                            },
                            _ => found,
                        }
                    }
                    _ => found,
                }
            }
            "array_length" => {
                let v = one(self, 0)?;
                udf::get("kql_array_length").call(vec![self.dynamic_of(v, schema)?])
            }
            "bag_keys" => {
                let v = one(self, 0)?;
                udf::get("kql_bag_keys").call(vec![self.dynamic_of(v, schema)?])
            }
            "pack_array" => {
                let values = self.args(args, schema)?;
                let values = values.into_iter().map(|v| self.to_dynamic(v, schema)).collect::<R<Vec<_>>>()?;
                udf::get("kql_pack_array").call(values)
            }
            "pack" | "bag_pack" => {
                if !args.len().is_multiple_of(2) {
                    return Err(KqlError::plan(pos, format!("{name}() takes pairs of key and value")));
                }
                let values = self.args(args, schema)?;
                let mut out = Vec::new();
                for (k, v) in values.into_iter().enumerate() {
                    out.push(if k % 2 == 0 { self.to_str(v, schema)? } else { self.to_dynamic(v, schema)? });
                }
                udf::get("kql_pack").call(out)
            }
            "set_has_element" | "array_contains" => {
                Self::arity(name, args, 2, 2, pos)?;
                let a = self.args(args, schema)?;
                let list = self.dynamic_of(a[0].clone(), schema)?;
                let v = self.to_dynamic(a[1].clone(), schema)?;
                udf::get("kql_in_dynamic").call(vec![list, v])
            }
            "ipv4_is_private" => {
                let v = one(self, 0)?;
                udf::get("kql_ipv4_is_private").call(vec![self.to_str(v, schema)?])
            }
            "ipv4_is_in_range" => {
                Self::arity(name, args, 2, 2, pos)?;
                let a = self.args(args, schema)?;
                udf::get("kql_ipv4_is_in_range")
                    .call(vec![self.to_str(a[0].clone(), schema)?, self.to_str(a[1].clone(), schema)?])
            }
            "format_datetime" => {
                Self::arity(name, args, 2, 2, pos)?;
                let a = self.args(args, schema)?;
                udf::get("kql_format_datetime")
                    .call(vec![cast(a[0].clone(), udf::timestamp()), cast(a[1].clone(), DataType::Utf8)])
            }
            "geo_distance_2points" => {
                // Metres on a sphere of the Earth's mean radius (haversine).
                Self::arity(name, args, 4, 4, pos)?;
                let a = self.args(args, schema)?;
                let a: Vec<DfExpr> = a.into_iter().map(|v| cast(v, DataType::Float64)).collect();
                let rad = |p: &Self, v: DfExpr| p.call("radians", vec![v], pos);
                let (lon1, lat1, lon2, lat2) = (
                    rad(self, a[0].clone())?,
                    rad(self, a[1].clone())?,
                    rad(self, a[2].clone())?,
                    rad(self, a[3].clone())?,
                );
                let half = |v: DfExpr| binary_expr(v, Operator::Divide, lit(2.0));
                let sin2 = |p: &Self, v: DfExpr| -> R<DfExpr> {
                    let s = p.call("sin", vec![half(v)], pos)?;
                    Ok(binary_expr(s.clone(), Operator::Multiply, s))
                };
                let dlat = sin2(self, binary_expr(lat2.clone(), Operator::Minus, lat1.clone()))?;
                let dlon = sin2(self, binary_expr(lon2, Operator::Minus, lon1))?;
                let cosines = binary_expr(
                    self.call("cos", vec![lat1], pos)?,
                    Operator::Multiply,
                    self.call("cos", vec![lat2], pos)?,
                );
                let h = binary_expr(dlat, Operator::Plus, binary_expr(cosines, Operator::Multiply, dlon));
                binary_expr(
                    lit(2.0 * 6_371_008.8),
                    Operator::Multiply,
                    self.call("asin", vec![self.call("sqrt", vec![h], pos)?], pos)?,
                )
            }
            "abs" | "sqrt" | "exp" | "log" | "log10" | "log2" | "round" | "ceiling" | "pow" | "sign" => {
                let values = self.args(args, schema)?;
                let df = match name {
                    "ceiling" => "ceil",
                    "log" => "ln",
                    "pow" => "power",
                    "sign" => "signum",
                    other => other,
                };
                self.call(df, values, pos)?
            }
            "columnifexists" | "column_ifexists" => {
                Self::arity(name, args, 2, 2, pos)?;
                match &args[0] {
                    Expr::Literal(Literal::Str(c), _) if schema.has_column_with_unqualified_name(c) => col(c),
                    Expr::Literal(Literal::Str(_), _) => one(self, 1)?,
                    _ => return Err(KqlError::plan(pos, "column_ifexists() takes a column name written in the query")),
                }
            }
            "array_slice" => {
                Self::arity(name, args, 3, 3, pos)?;
                let a = self.args(args, schema)?;
                let list = self.dynamic_of(a[0].clone(), schema)?;
                udf::get("kql_array_slice").call(vec![
                    list,
                    cast(a[1].clone(), DataType::Int64),
                    cast(a[2].clone(), DataType::Int64),
                ])
            }
            "countof" => {
                Self::arity(name, args, 2, 3, pos)?;
                if args.len() == 3 {
                    return Err(KqlError::plan(pos, "countof() with kind=regex is not supported yet"));
                }
                let a = self.args(args, schema)?;
                let (text, part) = (self.to_str(a[0].clone(), schema)?, self.to_str(a[1].clone(), schema)?);
                let length = |p: &Self, e: DfExpr| -> R<DfExpr> {
                    Ok(cast(p.call("character_length", vec![e], pos)?, DataType::Int64))
                };
                let removed = self.call("replace", vec![text.clone(), part.clone(), lit("")], pos)?;
                let difference = binary_expr(length(self, text)?, Operator::Minus, length(self, removed)?);
                binary_expr(
                    difference,
                    Operator::Divide,
                    self.call("nullif", vec![length(self, part)?, lit(0i64)], pos)?,
                )
            }
            "range" => {
                Self::arity(name, args, 2, 3, pos)?;
                let a = self.args(args, schema)?;
                let step = match a.get(2) {
                    Some(step) => step.clone(),
                    None => lit(1i64),
                };
                let t = self.ty(&a[0], schema, pos)?;
                if is_time(&t) {
                    let micros =
                        |e: DfExpr| cast(cast(e, DataType::Timestamp(TimeUnit::Microsecond, None)), DataType::Int64);
                    let span = |e: DfExpr| cast(cast(e, DataType::Duration(TimeUnit::Microsecond)), DataType::Int64);
                    udf::get("kql_range_time").call(vec![micros(a[0].clone()), micros(a[1].clone()), span(step)])
                } else {
                    udf::get("kql_range").call(vec![
                        cast(a[0].clone(), DataType::Float64),
                        cast(a[1].clone(), DataType::Float64),
                        cast(step, DataType::Float64),
                    ])
                }
            }
            "ingestion_time" => {
                // The store keeps no ingestion time: the event's own time stands in.
                if schema.has_column_with_unqualified_name("TimeGenerated") {
                    col("TimeGenerated")
                } else {
                    timestamp_lit(self.now)
                }
            }
            "max_of" | "min_of" => {
                let values = self.args(args, schema)?;
                self.call(if name == "max_of" { "greatest" } else { "least" }, values, pos)?
            }
            "make_datetime" if args.len() == 1 => {
                let v = one(self, 0)?;
                try_cast(self.to_str(v, schema)?, udf::timestamp())
            }
            "make_datetime" => {
                Self::arity(name, args, 3, 7, pos)?;
                let a = self.args(args, schema)?;
                let date = self.call(
                    "make_date",
                    vec![
                        cast(a[0].clone(), DataType::Int32),
                        cast(a[1].clone(), DataType::Int32),
                        cast(a[2].clone(), DataType::Int32),
                    ],
                    pos,
                )?;
                let mut t = cast(date, udf::timestamp());
                for (k, micros) in [(3usize, 3_600_000_000i64), (4, 60_000_000), (5, 1_000_000)] {
                    if let Some(v) = a.get(k) {
                        let us =
                            binary_expr(cast(v.clone(), DataType::Float64), Operator::Multiply, lit(micros as f64));
                        t = binary_expr(
                            t,
                            Operator::Plus,
                            cast(cast(us, DataType::Int64), DataType::Duration(TimeUnit::Microsecond)),
                        );
                    }
                }
                t
            }
            "datetime_part" | "getyear" | "getmonth" | "dayofweek" | "dayofmonth" | "dayofyear" | "hourofday" => {
                let (part, value) = match name {
                    "datetime_part" => {
                        Self::arity(name, args, 2, 2, pos)?;
                        let part = match &args[0] {
                            Expr::Literal(Literal::Str(p), _) => p.to_ascii_lowercase(),
                            _ => return Err(KqlError::plan(pos, "datetime_part() takes a part written in the query")),
                        };
                        (part, one(self, 1)?)
                    }
                    other => (other.to_string(), one(self, 0)?),
                };
                let df_part = match part.as_str() {
                    "year" | "getyear" => "year",
                    "quarter" => "quarter",
                    "month" | "getmonth" => "month",
                    "week_of_year" | "weekofyear" => "week",
                    "day" | "dayofmonth" => "day",
                    "dayofyear" => "doy",
                    "hour" | "hourofday" => "hour",
                    "minute" => "minute",
                    "second" => "second",
                    "millisecond" => "millisecond",
                    "microsecond" => "microsecond",
                    "nanosecond" => "nanosecond",
                    "dayofweek" => {
                        // A timespan of days since Sunday.
                        let dow = cast(
                            self.call("date_part", vec![lit("dow"), cast(value, udf::timestamp())], pos)?,
                            DataType::Int64,
                        );
                        let us = binary_expr(dow, Operator::Multiply, lit(86_400_000_000i64));
                        return Ok(cast(us, DataType::Duration(TimeUnit::Microsecond)));
                    }
                    other => return Err(KqlError::plan(pos, format!("`{other}` is not a datetime part"))),
                };
                cast(self.call("date_part", vec![lit(df_part), cast(value, udf::timestamp())], pos)?, DataType::Int64)
            }
            "set_difference" | "set_union" | "set_intersect" => {
                if args.len() < 2 {
                    return Err(KqlError::plan(pos, format!("{name}() takes two or more arrays")));
                }
                let values = self.args(args, schema)?;
                let values = values.into_iter().map(|v| self.dynamic_of(v, schema)).collect::<R<Vec<_>>>()?;
                let function = format!("kql_{name}");
                values.into_iter().reduce(|a, b| udf::get(&function).call(vec![a, b])).expect("two or more")
            }
            "extract_json" => {
                Self::arity(name, args, 2, 3, pos)?;
                let path = match &args[0] {
                    Expr::Literal(Literal::Str(p), _) => json_path(p).ok_or_else(|| {
                        KqlError::plan(pos, format!("`{p}` is not a JSON path Sleuth reads ($.a.b[0])"))
                    })?,
                    _ => return Err(KqlError::plan(pos, "extract_json() takes a path written in the query")),
                };
                let json = one(self, 1)?;
                let json = self.dynamic_of(json, schema)?;
                let value = udf::get("kql_get").call(vec![json, lit(serde_json::Value::Array(path).to_string())]);
                let ty = match args.get(2) {
                    Some(Expr::Call { name: t, args: inner, .. }) if t == "typeof" => match inner.first() {
                        Some(Expr::Name(ty, _)) => Type::parse(ty),
                        _ => None,
                    },
                    _ => None,
                };
                self.dynamic_as(value, ty.unwrap_or(Type::String))
            }
            "toscalar" => {
                Self::arity(name, args, 1, 1, pos)?;
                match &args[0] {
                    Expr::Tabular(t, _) => DfExpr::ScalarSubquery(subquery(self.tabular(t)?)),
                    Expr::Name(n, p) => match self.lookup_tabular(n) {
                        Some(plan) => DfExpr::ScalarSubquery(subquery(plan)),
                        None => return Err(KqlError::plan(*p, format!("`{n}` is not tabular"))),
                    },
                    other => self.scalar(other, schema)?,
                }
            }
            "typeof" => return Err(KqlError::plan(pos, "typeof() is used only in `to typeof(T)` and extract()")),
            other => {
                // Sleuth's own functions (`ip_class`, `ip_country`, `ua_class` ...) and
                // DataFusion's, by the name the store's SQL uses.
                let values = self.args(args, schema)?;
                match self.registry.udf(other) {
                    Ok(f) => {
                        let values = values
                            .into_iter()
                            .map(|v| {
                                let t = self.ty(&v, schema, pos)?;
                                if t == DYNAMIC { self.to_str(v, schema) } else { Ok(v) }
                            })
                            .collect::<R<Vec<_>>>()?;
                        f.call(values)
                    }
                    Err(_) => {
                        return Err(KqlError::plan(
                            pos,
                            format!("`{other}()` is not a function Sleuth knows (docs/kql.md lists them)"),
                        ));
                    }
                }
            }
        };
        Ok(e)
    }

    fn scalar_function(
        &mut self,
        name: &str,
        params: &[Param],
        body: &[Statement],
        args: &[Expr],
        schema: &DFSchemaRef,
        pos: Pos,
    ) -> R<DfExpr> {
        let scope = self.bind_params(name, params, None, args, schema, pos)?;
        self.depth += 1;
        if self.depth > 64 {
            return Err(KqlError::plan(pos, "functions call each other more than 64 deep"));
        }
        self.scopes.push(scope);
        let result = (|| {
            for statement in &body[..body.len().saturating_sub(1)] {
                self.statement(statement)?;
            }
            match body.last() {
                Some(Statement::Expr(e)) => self.scalar(e, schema),
                Some(Statement::Query(t)) => Ok(DfExpr::ScalarSubquery(subquery(self.tabular(t)?))),
                _ => Err(KqlError::plan(pos, format!("{name} has no result"))),
            }
        })();
        self.scopes.pop();
        self.depth -= 1;
        result
    }

    /// `summarize`: aggregates (possibly inside expressions, `dcount(x) > 1`) over the groups
    /// of `by`, named as KQL names them (`count_`, `dcount_IPAddress`, `set_AppDisplayName`).
    pub(crate) fn summarize(
        &mut self,
        plan: LogicalPlan,
        aggregates: &[Named],
        by: &[Named],
        pos: Pos,
    ) -> R<LogicalPlan> {
        let q = |e| KqlError::query(pos, e);
        let schema = plan.schema().clone();
        let mut names: Vec<String> = Vec::new();
        let mut groups = Vec::new();
        for key in by {
            let name = match (&key.names.first(), &key.expr) {
                (Some(n), _) => (*n).clone(),
                (None, Expr::Call { name, args, .. })
                    if (name == "bin" || name == "floor" || name == "startofday") && !args.is_empty() =>
                {
                    match &args[0] {
                        Expr::Name(n, _) => n.clone(),
                        _ => self.name_for(key, &names),
                    }
                }
                _ => self.name_for(key, &names),
            };
            let name = unique(&name, &names);
            names.push(name.clone());
            groups.push(self.scalar(&key.expr, &schema)?.alias(name));
        }
        let group_names = names.clone();
        let mut raw_aggregates: Vec<DfExpr> = Vec::new();
        let mut post: Vec<DfExpr> = Vec::new();
        let mut outputs: Vec<(String, Expr)> = Vec::new();
        let mut direct: Vec<(String, String)> = Vec::new();
        for item in aggregates {
            // arg_max / arg_min: several columns, each the value at the row of the extreme.
            if let Expr::Call { name, args, pos: call_pos } = &item.expr
                && (name == "arg_max" || name == "arg_min")
            {
                if args.len() < 2 {
                    return Err(KqlError::plan(
                        *call_pos,
                        format!("{name}() takes the value to maximise and the columns to return"),
                    ));
                }
                let by_value = self.scalar(&args[0], &schema)?;
                let descending = name == "arg_max";
                let order = vec![Sort::new(by_value.clone(), !descending, false)];
                let extreme =
                    self.aggregate_udf(if descending { "max" } else { "min" }, *call_pos)?.call(vec![by_value.clone()]);
                let first_name = item.names.first().cloned().unwrap_or_else(|| match &args[0] {
                    Expr::Name(n, _) => n.clone(),
                    _ => format!("{}_", if descending { "max" } else { "min" }),
                });
                let mut wanted: Vec<(String, DfExpr)> = Vec::new();
                for (k, arg) in args[1..].iter().enumerate() {
                    match arg {
                        Expr::Star(_) => {
                            for (c, n) in columns(&plan) {
                                if group_names.contains(&n) || n == first_name || wanted.iter().any(|(w, _)| *w == n) {
                                    continue;
                                }
                                wanted.push((n, c));
                            }
                        }
                        other => {
                            let n = item.names.get(k + 1).cloned().unwrap_or_else(|| {
                                self.name_for(&Named { names: Vec::new(), expr: other.clone() }, &names)
                            });
                            wanted.push((n, self.scalar(other, &schema)?));
                        }
                    }
                }
                let first_name = unique(&first_name, &names);
                names.push(first_name.clone());
                let raw = format!("__agg{}", raw_aggregates.len());
                raw_aggregates.push(extreme.alias(raw.as_str()));
                direct.push((first_name, raw));
                for (n, value) in wanted {
                    let first_value = self
                        .aggregate_udf("first_value", *call_pos)?
                        .call(vec![value])
                        .order_by(order.clone())
                        .build()
                        .map_err(|e| KqlError::query(*call_pos, e))?;
                    let n = unique(&n, &names);
                    names.push(n.clone());
                    let raw = format!("__agg{}", raw_aggregates.len());
                    raw_aggregates.push(first_value.alias(raw.as_str()));
                    direct.push((n, raw));
                }
                continue;
            }
            let mut found = Vec::new();
            let rewritten = self.take_aggregates(&item.expr, &mut found)?;
            if found.is_empty() {
                return Err(KqlError::plan(
                    item.expr.pos(),
                    "summarize needs an aggregation here (count(), dcount(x), make_set(x) ...)",
                ));
            }
            let name = match item.names.first() {
                Some(n) => n.clone(),
                None => default_aggregate_name(&item.expr).unwrap_or_else(|| self.name_for(item, &names)),
            };
            let name = unique(&name, &names);
            names.push(name.clone());
            for (alias, call) in found {
                let (aggregate, wrap) = self.aggregate(&call, &schema)?;
                let raw = format!("{alias}_raw");
                raw_aggregates.push(aggregate.alias(raw.as_str()));
                post.push(wrap(col(&raw)).alias(alias));
            }
            outputs.push((name, rewritten));
        }
        let aggregated = LogicalPlanBuilder::from(plan)
            .aggregate(groups, raw_aggregates.clone())
            .and_then(|b| b.build())
            .map_err(q)?;
        // The aggregates' final form (sets and lists as dynamic arrays), then the outputs.
        let mut exprs: Vec<DfExpr> = columns(&aggregated).into_iter().map(|(c, _)| c).collect();
        exprs.extend(post);
        let finished = project(aggregated, exprs, pos)?;
        let finished_schema = finished.schema().clone();
        let mut out: Vec<DfExpr> = group_names.iter().map(|n| col(n)).collect();
        for (name, raw) in &direct {
            out.push(col(raw).alias(name.as_str()));
        }
        for (name, expr) in outputs {
            out.push(self.scalar(&expr, &finished_schema)?.alias(name));
        }
        // Keep the order the query wrote: groups, then aggregates in order.
        let order: Vec<String> = names.clone();
        let mut by_name: HashMap<String, DfExpr> = HashMap::new();
        for e in out {
            let name = e.schema_name().to_string();
            by_name.insert(name, e);
        }
        let ordered = order.iter().filter_map(|n| by_name.remove(n)).collect();
        project(finished, ordered, pos)
    }

    /// Replaces each aggregation call in `e` by a column `__aggN`, collecting the calls.
    fn take_aggregates(&mut self, e: &Expr, found: &mut Vec<(String, Expr)>) -> R<Expr> {
        Ok(match e {
            Expr::Call { name, pos, .. } if AGGREGATES.contains(&name.as_str()) => {
                let alias = format!("__agg_{}_{}_{}", pos.line, pos.column, found.len());
                found.push((alias.clone(), e.clone()));
                Expr::Name(alias, *pos)
            }
            Expr::Call { name, args, pos } => Expr::Call {
                name: name.clone(),
                args: args.iter().map(|a| self.take_aggregates(a, found)).collect::<R<_>>()?,
                pos: *pos,
            },
            Expr::Binary { op, left, right, pos } => Expr::Binary {
                op: op.clone(),
                left: Box::new(self.take_aggregates(left, found)?),
                right: Box::new(self.take_aggregates(right, found)?),
                pos: *pos,
            },
            Expr::Unary { op, expr, pos } => {
                Expr::Unary { op, expr: Box::new(self.take_aggregates(expr, found)?), pos: *pos }
            }
            Expr::Member(inner, key, pos) => {
                Expr::Member(Box::new(self.take_aggregates(inner, found)?), key.clone(), *pos)
            }
            Expr::Index(inner, index, pos) => Expr::Index(
                Box::new(self.take_aggregates(inner, found)?),
                Box::new(self.take_aggregates(index, found)?),
                *pos,
            ),
            other => other.clone(),
        })
    }

    /// One aggregation call: the DataFusion aggregate and what makes its result KQL's.
    #[allow(clippy::type_complexity)]
    fn aggregate(&mut self, call: &Expr, schema: &DFSchemaRef) -> R<(DfExpr, Box<dyn Fn(DfExpr) -> DfExpr>)> {
        let Expr::Call { name, args, pos } = call else { unreachable!("only calls are collected") };
        let pos = *pos;
        let q = move |e| KqlError::query(pos, e);
        let arg = |p: &mut Self, k: usize| -> R<DfExpr> {
            match args.get(k) {
                Some(a) => p.scalar(a, schema),
                None => Err(KqlError::plan(pos, format!("{name}() needs more arguments"))),
            }
        };
        let condition = |p: &mut Self, k: usize| -> R<DfExpr> {
            let c = arg(p, k)?;
            p.to_bool(c, schema)
        };
        let limit = |p: &mut Self, k: usize| -> R<DfExpr> {
            Ok(match args.get(k) {
                Some(a) => cast(p.scalar(a, schema)?, DataType::Int64),
                None => lit(1_048_576i64),
            })
        };
        let identity: Box<dyn Fn(DfExpr) -> DfExpr> = Box::new(|e| e);
        let udaf = |p: &Self, n: &str| p.aggregate_udf(n, pos);
        Ok(match name.as_str() {
            "count" => {
                let value = if args.is_empty() || matches!(args[0], Expr::Star(_)) { lit(1i64) } else { arg(self, 0)? };
                (udaf(self, "count")?.call(vec![value]), identity)
            }
            "countif" => {
                let c = condition(self, 0)?;
                (udaf(self, "count")?.call(vec![lit(1i64)]).filter(c).build().map_err(q)?, identity)
            }
            "dcount" | "count_distinct" => {
                let v = arg(self, 0)?;
                (udaf(self, "count")?.call(vec![v]).distinct().build().map_err(q)?, identity)
            }
            "dcountif" => {
                let (v, c) = (arg(self, 0)?, condition(self, 1)?);
                (udaf(self, "count")?.call(vec![v]).distinct().filter(c).build().map_err(q)?, identity)
            }
            "sum" | "min" | "max" | "avg" => {
                let mut v = arg(self, 0)?;
                if self.ty(&v, schema, pos)? == DYNAMIC {
                    v = self.to_double(v, schema)?;
                }
                (udaf(self, name)?.call(vec![v]), identity)
            }
            "sumif" | "minif" | "maxif" | "avgif" => {
                let (v, c) = (arg(self, 0)?, condition(self, 1)?);
                (udaf(self, name.trim_end_matches("if"))?.call(vec![v]).filter(c).build().map_err(q)?, identity)
            }
            "stdev" => (udaf(self, "stddev")?.call(vec![cast(arg(self, 0)?, DataType::Float64)]), identity),
            "variance" => (udaf(self, "var")?.call(vec![cast(arg(self, 0)?, DataType::Float64)]), identity),
            "take_any" | "any" => {
                // The least value rather than an arbitrary one: the same data, the same answer.
                let v = arg(self, 0)?;
                (udaf(self, "min")?.call(vec![v]), identity)
            }
            "percentile" => {
                let v = cast(arg(self, 0)?, DataType::Float64);
                let p = match arg(self, 1)? {
                    DfExpr::Literal(ScalarValue::Int64(Some(n)), _) => n as f64,
                    DfExpr::Literal(ScalarValue::Float64(Some(n)), _) => n,
                    _ => return Err(KqlError::plan(pos, "percentile() takes a percentage written in the query")),
                };
                (udaf(self, "percentile_cont")?.call(vec![v, lit(p / 100.0)]), identity)
            }
            "make_set" | "make_list" | "make_set_if" | "make_list_if" => {
                let v = arg(self, 0)?;
                let conditional = name.ends_with("_if");
                let (list, max) = if conditional {
                    let c = condition(self, 1)?;
                    (udaf(self, "array_agg")?.call(vec![v]).filter(c.and(is_not_null(arg(self, 0)?))), limit(self, 2)?)
                } else {
                    let v2 = arg(self, 0)?;
                    (udaf(self, "array_agg")?.call(vec![v]).filter(is_not_null(v2)), limit(self, 1)?)
                };
                // make_set gathers like make_list and drops the repeats after (kql_set):
                // DataFusion's DISTINCT array_agg keeps a hash set of boxed values per group,
                // which over millions of groups (user × hour) ran out of memory.
                let set = name.starts_with("make_set");
                let function = if set { "kql_set" } else { "kql_list" };
                let wrap: Box<dyn Fn(DfExpr) -> DfExpr> =
                    Box::new(move |e| udf::get(function).call(vec![e, max.clone()]));
                (list.build().map_err(q)?, wrap)
            }
            "make_bag" | "make_bag_if" => {
                let v = arg(self, 0)?;
                let v = self.dynamic_of(v, schema)?;
                let list = udaf(self, "array_agg")?.call(vec![v.clone()]);
                let list = if name == "make_bag_if" {
                    list.filter(condition(self, 1)?.and(is_not_null(v)))
                } else {
                    list.filter(is_not_null(v))
                };
                let wrap: Box<dyn Fn(DfExpr) -> DfExpr> = Box::new(|e| udf::get("kql_bag").call(vec![e]));
                (list.build().map_err(q)?, wrap)
            }
            other => return Err(KqlError::plan(pos, format!("{other}() is not supported in summarize"))),
        })
    }
}

fn columns_of(schema: &DFSchemaRef) -> Vec<String> {
    schema.fields().iter().map(|f| f.name().clone()).collect()
}

/// KQL's default name for an unnamed aggregation.
fn default_aggregate_name(e: &Expr) -> Option<String> {
    let Expr::Call { name, args, .. } = e else { return None };
    fn column_of(e: &Expr) -> String {
        match e {
            Expr::Name(n, _) => n.clone(),
            Expr::Call { name, args, .. } if args.len() == 1 && crate::plan::CONVERSIONS.contains(&name.as_str()) => {
                column_of(&args[0])
            }
            _ => String::new(),
        }
    }
    let column = args.first().map(column_of).unwrap_or_default();
    Some(match name.as_str() {
        "count" => format!("count_{column}"),
        "countif" => "countif_".into(),
        "make_set" | "make_set_if" => format!("set_{column}"),
        "make_list" | "make_list_if" => format!("list_{column}"),
        "make_bag" | "make_bag_if" => format!("bag_{column}"),
        "take_any" | "any" => format!("any_{column}"),
        "percentile" => match args.get(1) {
            Some(Expr::Literal(Literal::Long(p), _)) => format!("percentile_{column}_{p}"),
            _ => format!("percentile_{column}"),
        },
        other if AGGREGATES.contains(&other) => format!("{other}_{column}"),
        _ => return None,
    })
}

/// `$.a.b[0]['c']` as a path of keys and indices.
fn json_path(text: &str) -> Option<Vec<serde_json::Value>> {
    let mut rest = text.trim().strip_prefix('$')?;
    let mut path = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            if end == 0 {
                return None;
            }
            path.push(serde_json::Value::String(after[..end].to_string()));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']')?;
            let inside = after[..end].trim();
            if let Ok(n) = inside.parse::<i64>() {
                path.push(serde_json::Value::from(n));
            } else {
                path.push(serde_json::Value::String(inside.trim_matches(|c| c == '\'' || c == '"').to_string()));
            }
            rest = &after[end + 1..];
        } else {
            return None;
        }
    }
    Some(path)
}

/// An expression without columns, computed now (`lookupWindow / 2.0`).
pub(crate) fn fold(e: DfExpr) -> DfExpr {
    use datafusion::optimizer::simplify_expressions::ExprSimplifier;
    let simplifier = ExprSimplifier::new(datafusion::logical_expr::simplify::SimplifyContext::default());
    simplifier.simplify(e.clone()).unwrap_or(e)
}

fn interval(nanos: i64) -> DfExpr {
    use datafusion::arrow::datatypes::IntervalMonthDayNano;
    lit(ScalarValue::IntervalMonthDayNano(Some(IntervalMonthDayNano::new(0, 0, nanos))))
}

/// A literal from a JSON value of a dynamic array written in the query.
fn json_literal(value: &serde_json::Value) -> DfExpr {
    match value {
        serde_json::Value::String(s) => lit(s.clone()),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => lit(i),
            None => lit(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::Bool(b) => lit(*b),
        serde_json::Value::Null => lit(ScalarValue::Utf8(None)),
        other => lit(other.to_string()),
    }
}

pub(crate) fn literal_expr(literal: &Literal) -> DfExpr {
    match literal {
        Literal::Null(ty) => cast(lit(ScalarValue::Null), crate::plan::type_of(*ty)),
        Literal::Bool(b) => lit(*b),
        Literal::Long(n) => lit(*n),
        Literal::Real(n) => lit(*n),
        Literal::Str(s) => lit(s.clone()),
        Literal::Datetime(nanos) => timestamp_lit(nanos.div_euclid(1000)),
        Literal::Timespan(nanos) => duration_lit(*nanos),
        Literal::Dynamic(value) => {
            if value.is_null() {
                lit(ScalarValue::LargeUtf8(None))
            } else {
                lit(ScalarValue::LargeUtf8(Some(value.to_string())))
            }
        }
    }
}
