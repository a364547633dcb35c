//! The SQL helpers every stage of an investigation shares: literals, and reading one value
//! out of a small result.

use chrono::{DateTime, Utc};
use datafusion::arrow::array::{Array, AsArray, Int64Array};
use datafusion::arrow::datatypes::{DataType, Int64Type, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;

use crate::InvestigateError;

/// The first cell of `sql`'s result as a number (0 when absent).
pub(crate) async fn count(ctx: &SessionContext, sql: &str) -> Result<i64, InvestigateError> {
    let batches = sleuth_store::read_only(ctx, sql).await?.collect().await?;
    let column = datafusion::arrow::compute::cast(batches[0].column(0), &DataType::Int64)?;
    Ok(column.as_any().downcast_ref::<Int64Array>().map_or(0, |a| a.value(0)))
}

/// The text values of the first column of `sql`'s result, nulls left out.
pub(crate) async fn texts(ctx: &SessionContext, sql: &str) -> Result<Vec<String>, InvestigateError> {
    let batches = sleuth_store::read_only(ctx, sql).await?.collect().await?;
    let mut out = Vec::new();
    for batch in &batches {
        let column = datafusion::arrow::compute::cast(batch.column(0), &DataType::Utf8)?;
        let column = column.as_string::<i32>();
        out.extend(column.iter().flatten().map(str::to_owned));
    }
    Ok(out)
}

/// The values of the first column `sql` returns, as the inside of a SQL `IN (...)` list
/// (`NULL` when there are none). A scan filters on a list of literals while it decodes the
/// Parquet files, reading a row's other columns only when it matches; a join on the same
/// values reads every row of every column it names. Over 9.8 M sign-ins, who else used an
/// account's eight addresses: 0.5 s as a list, 1.4 s as a join.
pub(crate) async fn in_list(ctx: &SessionContext, sql: &str) -> Result<String, InvestigateError> {
    let values = texts(ctx, sql).await?;
    Ok(if values.is_empty() {
        "NULL".to_owned()
    } else {
        values.iter().map(|v| literal(v)).collect::<Vec<_>>().join(", ")
    })
}

pub(crate) fn first_time_and_number(batches: &[RecordBatch]) -> Option<(DateTime<Utc>, i64)> {
    let batch = batches.iter().find(|b| b.num_rows() > 0)?;
    let number = datafusion::arrow::compute::cast(batch.column(1), &DataType::Int64).ok()?;
    Some((first_timestamp(batch, 0)?, number.as_primitive::<Int64Type>().value(0)))
}

fn first_timestamp(batch: &RecordBatch, column: usize) -> Option<DateTime<Utc>> {
    let times = datafusion::arrow::compute::cast(
        batch.column(column),
        &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
    )
    .ok()?;
    let times = times.as_primitive::<datafusion::arrow::datatypes::TimestampMicrosecondType>();
    if times.is_null(0) {
        return None;
    }
    DateTime::from_timestamp_micros(times.value(0))
}

/// A SQL text literal.
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A SQL timestamp literal.
pub fn ts(t: DateTime<Utc>) -> String {
    format!("TIMESTAMP '{}'", t.format("%Y-%m-%dT%H:%M:%S%.6fZ"))
}
