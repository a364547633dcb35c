//! Arrow types for the normalised columns, and the builders that turn records into batches.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayBuilder, ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, ListBuilder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use sleuth_ingest::{Cell, Kind, Record, Table};

pub(crate) const UTC: &str = "UTC";

fn data_type(kind: Kind) -> DataType {
    match kind {
        Kind::Text => DataType::Utf8,
        Kind::Int => DataType::Int64,
        Kind::Float => DataType::Float64,
        Kind::Bool => DataType::Boolean,
        Kind::Time => DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into())),
        Kind::List => DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
    }
}

/// The Arrow schema of a table, in column order. Every column is nullable: exports differ in
/// what they carry.
pub fn schema(table: Table) -> SchemaRef {
    let fields: Vec<Field> = table.columns().iter().map(|c| Field::new(c.name, data_type(c.kind), true)).collect();
    Arc::new(Schema::new(fields))
}

/// Accumulates records of one table into Arrow columns.
pub(crate) struct BatchBuilder {
    schema: SchemaRef,
    kinds: Vec<Kind>,
    columns: Vec<Box<dyn ArrayBuilder>>,
    rows: usize,
}

/// A fresh builder for a column of `kind`, sized for `rows` values and, for text, `bytes` of
/// text: each batch starts with what the last one used and a quarter more, so the builders
/// fill their buffers instead of growing them a doubling at a time (each growth a copy into
/// fresh pages the kernel zeroes: a fifth of ingest's time before).
fn builder(kind: Kind, rows: usize, bytes: usize) -> Box<dyn ArrayBuilder> {
    match kind {
        Kind::Text => Box::new(StringBuilder::with_capacity(rows, bytes)),
        Kind::Int => Box::new(Int64Builder::with_capacity(rows)),
        Kind::Float => Box::new(Float64Builder::with_capacity(rows)),
        Kind::Bool => Box::new(BooleanBuilder::with_capacity(rows)),
        Kind::Time => Box::new(TimestampMicrosecondBuilder::with_capacity(rows).with_timezone(UTC)),
        Kind::List => Box::new(ListBuilder::with_capacity(StringBuilder::with_capacity(rows, bytes), rows)),
    }
}

/// The text bytes a column's builder holds.
fn text_bytes(builder: &mut dyn ArrayBuilder) -> usize {
    let any = builder.as_any_mut();
    if let Some(text) = any.downcast_mut::<StringBuilder>() {
        return text.values_slice().len();
    }
    match any.downcast_mut::<ListBuilder<StringBuilder>>() {
        Some(list) => list.values().values_slice().len(),
        None => 0,
    }
}

impl BatchBuilder {
    pub fn new(table: Table) -> Self {
        let kinds: Vec<Kind> = table.columns().iter().map(|c| c.kind).collect();
        let columns = kinds.iter().map(|&kind| builder(kind, 0, 0)).collect();
        BatchBuilder { schema: schema(table), kinds, columns, rows: 0 }
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn push(&mut self, record: &Record) {
        for (builder, cell) in self.columns.iter_mut().zip(record.cells()) {
            let any = builder.as_any_mut();
            match cell {
                Cell::Text(v) => any.downcast_mut::<StringBuilder>().expect("text column").append_option(v),
                Cell::Int(v) => any.downcast_mut::<Int64Builder>().expect("int column").append_option(v),
                Cell::Float(v) => any.downcast_mut::<Float64Builder>().expect("float column").append_option(v),
                Cell::Bool(v) => any.downcast_mut::<BooleanBuilder>().expect("bool column").append_option(v),
                Cell::Time(v) => {
                    any.downcast_mut::<TimestampMicrosecondBuilder>().expect("time column").append_option(v)
                }
                Cell::List(items) => {
                    let list = any.downcast_mut::<ListBuilder<StringBuilder>>().expect("list column");
                    for item in items {
                        list.values().append_value(item);
                    }
                    list.append(true);
                }
            }
        }
        self.rows += 1;
    }

    /// Takes the accumulated rows as a batch and starts afresh, with room for as much.
    pub fn finish(&mut self) -> RecordBatch {
        let rows = self.rows;
        let arrays: Vec<ArrayRef> = self
            .columns
            .iter_mut()
            .zip(&self.kinds)
            .map(|(b, &kind)| {
                let bytes = text_bytes(b.as_mut());
                std::mem::replace(b, builder(kind, rows, bytes + bytes / 4)).finish()
            })
            .collect();
        self.rows = 0;
        RecordBatch::try_new(self.schema.clone(), arrays).expect("builders follow the schema")
    }
}
