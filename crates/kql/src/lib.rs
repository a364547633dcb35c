//! KQL, the Kusto Query Language, over the store: what Sentinel and Azure Data Explorer run,
//! offline. The text is parsed ([`parse`]) and planned onto a DataFusion logical plan
//! ([`plan`]) over the tables the caller gives, usually Sentinel's tables as views over the
//! store ([`sentinel`]); no SQL text is produced on the way.
//!
//! ```no_run
//! # async fn example(store: &sleuth_store::Store) -> Result<(), Box<dyn std::error::Error>> {
//! let ctx = store.session().await?;
//! let tables = sleuth_kql::sentinel::tables(&ctx).await?;
//! let query = "SigninLogs | where ResultType == '0' | summarize count() by UserPrincipalName";
//! let frame = sleuth_kql::query(&ctx, &tables, query, &sleuth_kql::Options::at_micros(0)).await?;
//! frame.show().await?;
//! # Ok(()) }
//! ```

mod ast;
mod lex;
mod parse;
mod plan;
mod scalar;
pub mod sentinel;
mod time;
pub mod udf;

use std::collections::HashMap;

use datafusion::dataframe::DataFrame;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;

pub use lex::Pos;

/// What a query needs besides its text.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// What `now()` and `ago()` count from, in microseconds since the Unix epoch.
    pub now_micros: i64,
}

impl Options {
    pub fn at_micros(now_micros: i64) -> Options {
        Options { now_micros }
    }
}

/// An error, with the place in the query text it is about when there is one.
#[derive(Debug, thiserror::Error)]
pub enum KqlError {
    #[error("line {}, column {}: {message}", pos.line, pos.column)]
    Syntax { pos: Pos, message: String },
    #[error("{}{message}", at(pos))]
    Plan { pos: Pos, message: String },
    #[error("{}{source}", at(pos))]
    Query { pos: Pos, source: DataFusionError },
}

fn at(pos: &Pos) -> String {
    if pos.line == 0 { String::new() } else { format!("line {}, column {}: ", pos.line, pos.column) }
}

impl KqlError {
    pub(crate) fn syntax(pos: Pos, message: impl Into<String>) -> KqlError {
        KqlError::Syntax { pos, message: message.into() }
    }

    pub(crate) fn plan(pos: Pos, message: impl Into<String>) -> KqlError {
        KqlError::Plan { pos, message: message.into() }
    }

    pub(crate) fn query(pos: Pos, source: DataFusionError) -> KqlError {
        KqlError::Query { pos, source }
    }

    /// Where in the query the error is, if it is about a place.
    pub fn pos(&self) -> Option<Pos> {
        let pos = match self {
            KqlError::Syntax { pos, .. } | KqlError::Plan { pos, .. } | KqlError::Query { pos, .. } => *pos,
        };
        (pos.line > 0).then_some(pos)
    }

    /// The error with the query line it points at and a caret under the place.
    pub fn show(&self, text: &str) -> String {
        let Some(pos) = self.pos() else { return self.to_string() };
        let Some(line) = text.lines().nth(pos.line as usize - 1) else { return self.to_string() };
        let caret = " ".repeat(pos.column.saturating_sub(1) as usize);
        format!("{self}\n  {line}\n  {caret}^")
    }
}

/// Parses and plans `text` over `tables` (name to plan).
pub fn plan(
    ctx: &SessionContext,
    tables: &HashMap<String, LogicalPlan>,
    text: &str,
    options: &Options,
) -> Result<LogicalPlan, KqlError> {
    let statements = parse::parse(text)?;
    let plan = plan::Planner::new(tables, ctx, options.now_micros).plan(&statements)?;
    membership_outside_filters(plan, ctx).map_err(|e| KqlError::query(Pos::default(), e))
}

/// `x in (T | project c)` is planned as an IN subquery, which DataFusion runs as a semi join
/// in a filter but cannot run elsewhere (`extend IsNew = x !in (T)`, `countif(x in (T))`).
/// There it becomes `array_has((SELECT array_agg(c) FROM T), x)`: a scalar subquery, which
/// DataFusion joins in once.
fn membership_outside_filters(plan: LogicalPlan, ctx: &SessionContext) -> datafusion::common::Result<LogicalPlan> {
    use datafusion::common::tree_node::{Transformed, TreeNode};
    use datafusion::execution::FunctionRegistry;
    use datafusion::logical_expr::{Expr, LogicalPlanBuilder, lit};
    let array_agg = ctx.udaf("array_agg")?;
    let array_has = ctx.udf("array_has")?;
    let coalesce = ctx.udf("coalesce")?;
    plan.transform_up(|node| {
        if matches!(node, LogicalPlan::Filter(_)) {
            return Ok(Transformed::no(node));
        }
        node.map_expressions(|e| {
            e.transform_up(|e| {
                let Expr::InSubquery(in_subquery) = e else { return Ok(Transformed::no(e)) };
                let inner = in_subquery.subquery.subquery.as_ref().clone();
                let column = inner.schema().columns().into_iter().next();
                let Some(column) = column else { return Ok(Transformed::no(Expr::InSubquery(in_subquery))) };
                let values = LogicalPlanBuilder::from(inner)
                    .aggregate(Vec::<Expr>::new(), vec![array_agg.call(vec![Expr::Column(column)]).alias("values")])?
                    .build()?;
                let list = Expr::ScalarSubquery(plan::subquery(values));
                let found = coalesce.call(vec![array_has.call(vec![list, *in_subquery.expr]), lit(false)]);
                Ok(Transformed::yes(if in_subquery.negated { !found } else { found }))
            })
        })
    })
    .map(|t| t.data)
}

/// Parses, plans and starts `text`: a DataFrame to collect or stream.
pub async fn query(
    ctx: &SessionContext,
    tables: &HashMap<String, LogicalPlan>,
    text: &str,
    options: &Options,
) -> Result<DataFrame, KqlError> {
    let plan = plan(ctx, tables, text, options)?;
    ctx.execute_logical_plan(plan).await.map_err(|e| KqlError::query(Pos::default(), e))
}

/// Whether a column of a result holds `dynamic` values (JSON text), so that output can show
/// them as JSON rather than as strings.
pub fn is_dynamic(data_type: &datafusion::arrow::datatypes::DataType) -> bool {
    *data_type == udf::DYNAMIC
}

/// Nanoseconds since the epoch of a date and time as KQL's `datetime()` reads it.
pub fn parse_datetime(text: &str) -> Option<i64> {
    time::parse_datetime(text)
}

/// The latest event time in the store's session (sign-ins, audit events, risk detections,
/// mailbox activity, workload sign-ins), in microseconds: what "now" is by default, since an
/// export is a snapshot.
pub async fn latest_event(ctx: &SessionContext) -> Result<Option<i64>, DataFusionError> {
    use datafusion::arrow::array::{Array, Int64Array};
    use datafusion::arrow::datatypes::DataType;
    let sql = "SELECT max(t) AS t FROM (
        SELECT max(time) AS t FROM signins UNION ALL SELECT max(time) FROM audits
        UNION ALL SELECT max(time) FROM risk_detections UNION ALL SELECT max(time) FROM mailbox_activity
        UNION ALL SELECT max(time) FROM service_principal_signins)";
    let batches = sleuth_store::read_only(ctx, sql).await?.collect().await?;
    let Some(batch) = batches.first() else { return Ok(None) };
    let column = datafusion::arrow::compute::cast(batch.column(0), &DataType::Int64)?;
    let Some(values) = column.as_any().downcast_ref::<Int64Array>() else { return Ok(None) };
    Ok((!values.is_empty() && !values.is_null(0)).then(|| values.value(0)))
}

/// Whether `text` is KQL that parses (what a rule file is checked for when it is loaded;
/// names are resolved when it is planned over a store).
pub fn check_syntax(text: &str) -> Result<(), KqlError> {
    parse::parse(text).map(|_| ())
}
