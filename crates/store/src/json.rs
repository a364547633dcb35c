//! Query results as JSON rows, typed: numbers stay numbers, booleans booleans, lists arrays,
//! timestamps RFC 3339 text. One conversion for `sleuth sql --format json`, the hunt's alerts
//! and everything else that hands rows on.

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Int64Type};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::error::Result;
use serde_json::{Map, Value};

/// Every row of `batches` as an object keyed by column name, in column order.
pub fn rows(batches: &[RecordBatch]) -> Result<Vec<Map<String, Value>>> {
    let mut rows = Vec::new();
    for batch in batches {
        let schema = batch.schema();
        let names: Vec<&String> = schema.fields().iter().map(|f| f.name()).collect();
        let columns: Vec<Vec<Value>> = batch.columns().iter().map(values).collect::<Result<_>>()?;
        for i in 0..batch.num_rows() {
            rows.push(names.iter().map(|n| (*n).clone()).zip(columns.iter().map(|c| c[i].clone())).collect());
        }
    }
    Ok(rows)
}

/// The text of each cell as Arrow displays it; `None` for nulls.
pub fn text_cells(column: &ArrayRef) -> Result<Vec<Option<String>>> {
    let options = FormatOptions::default().with_null("");
    let formatter = ArrayFormatter::try_new(column.as_ref(), &options)?;
    let nulls = column.logical_nulls();
    let valid = |i: usize| nulls.as_ref().is_none_or(|n| n.is_valid(i));
    Ok((0..column.len()).map(|i| valid(i).then(|| formatter.value(i).to_string())).collect())
}

/// One column's cells as typed JSON values.
pub fn values(column: &ArrayRef) -> Result<Vec<Value>> {
    let n = column.len();
    let values = match column.data_type() {
        DataType::Boolean => {
            let a = column.as_boolean();
            (0..n).map(|i| if a.is_valid(i) { Value::Bool(a.value(i)) } else { Value::Null }).collect()
        }
        t if t.is_integer() => {
            let cast = cast(column, &DataType::Int64)?;
            let a = cast.as_primitive::<Int64Type>();
            (0..n).map(|i| if a.is_valid(i) { Value::from(a.value(i)) } else { Value::Null }).collect()
        }
        t if t.is_floating() => {
            let cast = cast(column, &DataType::Float64)?;
            let a = cast.as_primitive::<Float64Type>();
            (0..n)
                .map(|i| {
                    let number = a.is_valid(i).then(|| serde_json::Number::from_f64(a.value(i))).flatten();
                    number.map_or(Value::Null, Value::Number)
                })
                .collect()
        }
        DataType::List(_) | DataType::LargeList(_) => {
            let list = cast(column, &DataType::List(std::sync::Arc::new(Field::new("item", DataType::Utf8, true))))?;
            let list = list.as_list::<i32>();
            (0..n)
                .map(|i| if list.is_valid(i) { values(&list.value(i)).map(Value::Array) } else { Ok(Value::Null) })
                .collect::<Result<_>>()?
        }
        _ => text_cells(column)?.into_iter().map(|c| c.map_or(Value::Null, Value::String)).collect(),
    };
    Ok(values)
}
