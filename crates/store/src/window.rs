//! `count_same_before(key, time, reach, gap) OVER (PARTITION BY ... ORDER BY time)`: how many
//! earlier rows of the row's window partition have the same key, at times from `reach` up to
//! (not including) `gap` before the row's own: rows with `time - reach <= t < time - gap`.
//! `sum_same_before(time, reach, gap, key1, key2, ...)`: the sum of `count_same_before` over the
//! keys, 0 exactly when every key is new to that window.
//!
//! A baseline question ("had this account signed in from this network in the 30 days before,
//! leaving out the last hour?") is one of these per key over the account's sign-ins in time
//! order. In SQL it is a `count(*)` window partitioned by account *and* key, one sort of every
//! row per key; this is one sort for all keys, a walk of each account's rows with the counts of
//! the keys in the sliding window. Over 9.7 M successes, six baseline counts went from six sorts
//! (38 s, 4.7 GB) to one (BENCHMARKS.md "Hunt"). DataFusion evaluates a window function row by
//! row, once per function in the query, which costs more than the walk itself: "is each of these
//! new" is one `sum_same_before` rather than one `count_same_before` per key (aitm-residential-
//! replay's window over 9.7 M successes: 11.4 s of CPU as six counts hashed with SipHash, 6.2 s
//! as three functions hashed with foldhash).
//!
//! The rows of a partition must come in time order (`ORDER BY time`, the same column); a row
//! out of order is an error, not a wrong count. A NULL key equals nothing (its count is 0); a
//! NULL time gives NULL and takes no part. Keys of any type are compared by value (Arrow's
//! row format). `reach` and `gap` are intervals of days and smaller units (not months: their
//! length varies), `reach >= gap`.
//!
//! Memory: a partition's rows are kept until it ends (the frame reaches back `reach`, which a
//! fixed frame cannot say here), so it is bounded by the longest partition, one account's
//! history, not by the table. The counts live in hash maps whose hasher is seeded per process
//! (keys are log text an attacker chooses).

use std::ops::Range;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, TimeUnit, TimestampMicrosecondType};
use datafusion::arrow::row::{RowConverter, Rows, SortField};
use datafusion::common::{HashMap, ScalarValue, exec_err, plan_err};
use datafusion::error::Result;
use datafusion::logical_expr::function::{PartitionEvaluatorArgs, WindowUDFFieldArgs};
use datafusion::logical_expr::{PartitionEvaluator, Signature, TypeSignature, Volatility, WindowUDF, WindowUDFImpl};

pub const NAME: &str = "count_same_before";
pub const SUM_NAME: &str = "sum_same_before";

/// `count_same_before(key, time, reach, gap)`, for a session's registry.
pub fn count_same_before() -> WindowUDF {
    let layout = Layout { time: 1, reach: 2, gap: 3, keys: 0..1 };
    WindowUDF::new_from_impl(SameBefore {
        name: NAME,
        usage: "(key, time, reach, gap)",
        layout,
        signature: Signature::any(4, Volatility::Immutable),
    })
}

/// `sum_same_before(time, reach, gap, key [, key ...])`, for a session's registry.
pub fn sum_same_before() -> WindowUDF {
    let layout = Layout { time: 0, reach: 1, gap: 2, keys: 3..usize::MAX };
    WindowUDF::new_from_impl(SameBefore {
        name: SUM_NAME,
        usage: "(time, reach, gap, key [, key ...])",
        layout,
        signature: Signature::new(TypeSignature::VariadicAny, Volatility::Immutable),
    })
}

/// Which arguments are the time, the bounds and the keys (`keys` ends at the last argument).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Layout {
    time: usize,
    reach: usize,
    gap: usize,
    keys: Range<usize>,
}

impl Layout {
    fn keys(&self, arguments: usize) -> Range<usize> {
        self.keys.start..self.keys.end.min(arguments)
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct SameBefore {
    name: &'static str,
    usage: &'static str,
    layout: Layout,
    signature: Signature,
}

impl WindowUDFImpl for SameBefore {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn partition_evaluator(&self, _args: PartitionEvaluatorArgs) -> Result<Box<dyn PartitionEvaluator>> {
        Ok(Box::new(Walk::new(self.name, self.layout.clone())))
    }

    fn field(&self, args: WindowUDFFieldArgs) -> Result<FieldRef> {
        let (name, usage, layout) = (self.name, self.usage, &self.layout);
        let types: Vec<&DataType> = args.input_fields().iter().map(|f| f.data_type()).collect();
        if types.len() <= layout.keys.start {
            return plan_err!("{name}{usage}: {} arguments", types.len());
        }
        let time = types[layout.time];
        if !matches!(time, DataType::Timestamp(..) | DataType::Date32 | DataType::Date64 | DataType::Null) {
            return plan_err!("{name}{usage}: time is {time}, not a timestamp");
        }
        for (what, t) in [("reach", types[layout.reach]), ("gap", types[layout.gap])] {
            if !matches!(t, DataType::Interval(_) | DataType::Duration(_)) {
                return plan_err!("{name}{usage}: {what} is {t}, not an interval (INTERVAL '30 days')");
            }
        }
        Ok(Arc::new(Field::new(args.name(), DataType::Int64, true)))
    }
}

/// One key's rows in the row format and the counts of those in the window.
#[derive(Debug)]
struct Key {
    converter: RowConverter,
    rows: Rows,
    valid: Vec<bool>,
    counts: HashMap<Vec<u8>, u64>,
}

impl Key {
    fn new(data_type: &DataType) -> Result<Self> {
        let converter = RowConverter::new(vec![SortField::new(data_type.clone())])?;
        let rows = converter.empty_rows(0, 0);
        Ok(Key { converter, rows, valid: Vec::new(), counts: HashMap::default() })
    }

    fn append(&mut self, values: &ArrayRef) -> Result<()> {
        self.converter.append(&mut self.rows, std::slice::from_ref(values))?;
        match values.logical_nulls() {
            Some(nulls) => self.valid.extend(nulls.iter()),
            None => self.valid.extend(std::iter::repeat_n(true, values.len())),
        }
        Ok(())
    }

    fn enter(&mut self, row: usize) {
        if self.valid[row] {
            *self.counts.entry_ref(self.rows.row(row).as_ref()).or_insert(0) += 1;
        }
    }

    fn leave(&mut self, row: usize) {
        if !self.valid[row] {
            return;
        }
        let key = self.rows.row(row);
        if let Some(count) = self.counts.get_mut(key.as_ref()) {
            *count -= 1;
            if *count == 0 {
                self.counts.remove(key.as_ref());
            }
        }
    }

    fn count(&self, row: usize) -> u64 {
        if !self.valid[row] {
            return 0;
        }
        self.counts.get(self.rows.row(row).as_ref()).copied().unwrap_or(0)
    }
}

/// One partition's walk: rows `window` (indices into the partition) are those counted for the
/// current row, each key's `counts` their keys' counts.
#[derive(Debug)]
struct Walk {
    name: &'static str,
    layout: Layout,
    keys: Vec<Key>,
    times: Vec<Option<i64>>,
    bounds: Option<(i64, i64)>,
    window: Range<usize>,
    last_time: Option<i64>,
    next_row: usize,
}

impl Walk {
    fn new(name: &'static str, layout: Layout) -> Self {
        let (keys, times, window) = (Vec::new(), Vec::new(), 0..0);
        Walk { name, layout, keys, times, bounds: None, window, last_time: None, next_row: 0 }
    }

    /// Brings the converted keys and times up to `values` (the partition so far: DataFusion
    /// hands over the whole partition each time more of it arrives); only the rows not seen
    /// yet are converted, so one account's long history costs its length, not its square.
    fn load(&mut self, values: &[ArrayRef]) -> Result<()> {
        let layout = &self.layout;
        if self.bounds.is_none() {
            self.bounds = Some(bounds(self.name, &values[layout.reach], &values[layout.gap])?);
            for key in layout.keys(values.len()) {
                self.keys.push(Key::new(values[key].data_type())?);
            }
        }
        let (seen, rows) = (self.times.len(), values[layout.time].len());
        if seen == rows {
            return Ok(());
        }
        for (key, index) in self.keys.iter_mut().zip(layout.keys(values.len())) {
            key.append(&values[index].slice(seen, rows - seen))?;
        }
        let time = values[layout.time].slice(seen, rows - seen);
        let micros = cast(&time, &DataType::Timestamp(TimeUnit::Microsecond, None))?;
        self.times.extend(micros.as_primitive::<TimestampMicrosecondType>().iter());
        Ok(())
    }

    /// The count for the next row; the rows before it were walked.
    fn next(&mut self) -> Result<Option<i64>> {
        let row = self.next_row;
        self.next_row += 1;
        let Some(time) = self.times[row] else { return Ok(None) };
        if self.last_time.is_some_and(|last| time < last) {
            return exec_err!("{} needs its window ordered by the time it is given (ORDER BY that time)", self.name);
        }
        self.last_time = Some(time);
        let (reach, gap) = self.bounds.expect("loaded");
        let (from, until) = (time.saturating_sub(reach), time.saturating_sub(gap));
        // Rows enter the window once `gap` old and leave it when more than `reach` old; both
        // ends only move forward, as the times do. A row enters before it can leave, so every
        // row between the ends was counted (rows without a time never are).
        while self.window.end < row && self.times[self.window.end].is_none_or(|t| t < until) {
            if self.times[self.window.end].is_some() {
                self.keys.iter_mut().for_each(|key| key.enter(self.window.end));
            }
            self.window.end += 1;
        }
        while self.window.start < self.window.end && self.times[self.window.start].is_none_or(|t| t < from) {
            if self.times[self.window.start].is_some() {
                self.keys.iter_mut().for_each(|key| key.leave(self.window.start));
            }
            self.window.start += 1;
        }
        Ok(Some(self.keys.iter().map(|key| key.count(row)).sum::<u64>() as i64))
    }
}

impl PartitionEvaluator for Walk {
    fn evaluate_all(&mut self, values: &[ArrayRef], num_rows: usize) -> Result<ArrayRef> {
        self.load(values)?;
        let counts = (0..num_rows).map(|_| self.next()).collect::<Result<datafusion::arrow::array::Int64Array>>()?;
        Ok(Arc::new(counts))
    }

    /// Bounded execution: DataFusion asks for one row at a time; the range names it (its end).
    fn evaluate(&mut self, values: &[ArrayRef], range: &Range<usize>) -> Result<ScalarValue> {
        self.load(values)?;
        if range.end != self.next_row + 1 {
            return exec_err!("{}: row {} asked after row {}", self.name, range.end - 1, self.next_row);
        }
        Ok(ScalarValue::Int64(self.next()?))
    }

    /// The whole partition so far, so that DataFusion keeps it: the rows `reach` back are
    /// needed and a range of rows cannot say how far back that is.
    fn get_range(&self, idx: usize, _n_rows: usize) -> Result<Range<usize>> {
        Ok(0..idx + 1)
    }

    fn supports_bounded_execution(&self) -> bool {
        true
    }

    fn is_causal(&self) -> bool {
        true
    }
}

/// `reach` and `gap` in microseconds, from their constant arguments.
fn bounds(name: &str, reach: &ArrayRef, gap: &ArrayRef) -> Result<(i64, i64)> {
    let micros = |array: &ArrayRef, what: &str| -> Result<i64> {
        if array.is_empty() || array.is_null(0) {
            return exec_err!("{name}: {what} is NULL");
        }
        match ScalarValue::try_from_array(array, 0)? {
            ScalarValue::IntervalMonthDayNano(Some(v)) if v.months == 0 => {
                Ok(i64::from(v.days) * 86_400_000_000 + v.nanoseconds / 1_000)
            }
            ScalarValue::IntervalDayTime(Some(v)) => {
                Ok(i64::from(v.days) * 86_400_000_000 + i64::from(v.milliseconds) * 1_000)
            }
            ScalarValue::DurationSecond(Some(v)) => Ok(v * 1_000_000),
            ScalarValue::DurationMillisecond(Some(v)) => Ok(v * 1_000),
            ScalarValue::DurationMicrosecond(Some(v)) => Ok(v),
            ScalarValue::DurationNanosecond(Some(v)) => Ok(v / 1_000),
            other => exec_err!("{name}: {what} must be an interval of days or less, not {other}"),
        }
    };
    let (reach, gap) = (micros(reach, "reach")?, micros(gap, "gap")?);
    if reach < gap || gap < 0 {
        return exec_err!("{name}: reach must be at least gap, both positive");
    }
    Ok((reach, gap))
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
    use datafusion::arrow::datatypes::Schema;
    use datafusion::datasource::MemTable;
    use datafusion::prelude::{SessionConfig, SessionContext};

    use super::*;

    const HOUR: i64 = 3_600_000_000;
    const DAY: i64 = 24 * HOUR;

    /// A session over `rows` of (user, key, time in microseconds), read in batches of
    /// `batch_size` so that partitions arrive in pieces.
    fn session(rows: &[(&str, Option<&str>, Option<i64>)], batch_size: usize) -> SessionContext {
        let schema = Arc::new(Schema::new(vec![
            Field::new("user", DataType::Utf8, false),
            Field::new("key", DataType::Utf8, true),
            Field::new("number", DataType::Int64, true),
            Field::new("time", DataType::Timestamp(TimeUnit::Microsecond, None), true),
        ]));
        let batches = rows
            .chunks(batch_size)
            .map(|chunk| {
                let users: StringArray = chunk.iter().map(|r| Some(r.0)).collect();
                let keys: StringArray = chunk.iter().map(|r| r.1).collect();
                let numbers: Int64Array = chunk.iter().map(|r| r.1.map(|k| k.len() as i64)).collect();
                let times: TimestampMicrosecondArray = chunk.iter().map(|r| r.2).collect();
                RecordBatch::try_new(
                    schema.clone(),
                    vec![Arc::new(users), Arc::new(keys), Arc::new(numbers), Arc::new(times)],
                )
                .unwrap()
            })
            .collect();
        let config = SessionConfig::new().with_batch_size(batch_size).with_target_partitions(3);
        let ctx = SessionContext::new_with_config(config);
        ctx.register_udwf(count_same_before());
        ctx.register_udwf(sum_same_before());
        ctx.register_table("t", Arc::new(MemTable::try_new(schema, vec![batches]).unwrap())).unwrap();
        ctx
    }

    #[allow(clippy::disallowed_methods)] // a test's own in-memory table
    fn query(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>> {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async { ctx.sql(sql).await?.collect().await })
    }

    fn column(batches: &[RecordBatch], name: &str) -> Vec<Option<i64>> {
        batches
            .iter()
            .flat_map(|b| {
                b.column_by_name(name)
                    .unwrap()
                    .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
                    .iter()
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn the_window_reaches_back_inclusively_and_stops_short_of_the_gap() {
        let t0 = 1_700_000_000_000_000;
        let times = [t0, t0 + HOUR, t0 + HOUR + 1, t0 + 30 * DAY, t0 + 30 * DAY + 1];
        let mut rows: Vec<_> = times.iter().map(|&t| ("a", Some("x"), Some(t))).collect();
        // Another key and another account between them change nothing; a NULL key is known to
        // nobody; a row without a time has no count.
        rows.push(("a", Some("y"), Some(t0 + 2 * HOUR)));
        rows.push(("b", Some("x"), Some(t0 + 2 * HOUR)));
        rows.push(("a", None, Some(t0 + 3 * HOUR)));
        rows.push(("a", None, Some(t0 + 5 * HOUR)));
        rows.push(("a", Some("x"), None));
        let ctx = session(&rows, 2);
        let sql = "SELECT user, key, time, count_same_before(key, time, INTERVAL '30 days', INTERVAL '1 hour')
                   OVER (PARTITION BY user ORDER BY time) AS n FROM t ORDER BY user, time, key";
        let got = column(&query(&ctx, sql).unwrap(), "n");
        // a: x@t0, x@+1h, x@+1h1us, y@+2h, NULL@+3h, NULL@+5h, x@+30d, x@+30d1us, x@NULL; b: x
        assert_eq!(got, [Some(0), Some(0), Some(1), Some(0), Some(0), Some(0), Some(3), Some(2), None, Some(0)]);
    }

    /// A small generator, so the comparison covers ties, NULLs and many partitions.
    fn generated(count: usize) -> Vec<(&'static str, Option<&'static str>, Option<i64>)> {
        let (users, keys) = (["u1", "u2", "u3", "u4"], [Some("a"), Some("bb"), Some("ccc"), None]);
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        (0..count)
            .map(|_| {
                let (u, k) = (users[next() as usize % 4], keys[next() as usize % 4]);
                // Whole hours over 70 days, so rows fall exactly on the bounds.
                (u, k, Some((next() % (70 * 24)) as i64 * HOUR))
            })
            .collect()
    }

    #[test]
    fn counts_equal_a_count_window_partitioned_by_the_key_however_the_rows_arrive() {
        let rows = generated(3_000);
        let reference = "count(*) OVER (PARTITION BY user, key ORDER BY time
                         RANGE BETWEEN INTERVAL '30 days' PRECEDING AND INTERVAL '1 hours 1 microseconds' PRECEDING)";
        for batch_size in [1, 7, 4096] {
            let ctx = session(&rows, batch_size);
            // The first keeps to bounded execution; a frame over the whole partition in the
            // same window makes DataFusion hand over whole partitions instead.
            for extra in [
                "",
                ", count(*) OVER (PARTITION BY user ORDER BY time ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS whole",
            ] {
                let sql = format!(
                    "SELECT CASE WHEN key IS NULL THEN 0 ELSE {reference} END AS expected,
                            count_same_before(key, time, INTERVAL '30 days', INTERVAL '1 hour') OVER (PARTITION BY user ORDER BY time) AS by_text,
                            count_same_before(number, time, INTERVAL '720 hours', INTERVAL '3600 seconds') OVER (PARTITION BY user ORDER BY time) AS by_number,
                            sum_same_before(time, INTERVAL '30 days', INTERVAL '1 hour', key, number, NULL) OVER (PARTITION BY user ORDER BY time) AS summed,
                            sum_same_before(time, INTERVAL '30 days', INTERVAL '1 hour', key) OVER (PARTITION BY user ORDER BY time) AS one_key
                            {extra}
                     FROM t ORDER BY user, time, key, expected"
                );
                let batches = query(&ctx, &sql).unwrap();
                let expected = column(&batches, "expected");
                assert_eq!(expected.len(), rows.len());
                assert!(expected.iter().any(|n| n.unwrap() > 3), "the data has histories to count");
                assert_eq!(column(&batches, "by_text"), expected, "batch size {batch_size} {extra}");
                assert_eq!(column(&batches, "by_number"), expected, "batch size {batch_size} {extra}");
                assert_eq!(column(&batches, "one_key"), expected, "batch size {batch_size} {extra}");
                // key and number (its length) are NULL together, so each row's sum is twice
                // its count; a NULL key adds nothing.
                let doubled: Vec<_> = expected.iter().map(|n| n.map(|n| 2 * n)).collect();
                assert_eq!(column(&batches, "summed"), doubled, "batch size {batch_size} {extra}");
            }
        }
    }

    #[test]
    fn rows_out_of_time_order_and_month_reaches_are_errors() {
        let ctx = session(&generated(50), 8);
        let descending = "SELECT count_same_before(key, time, INTERVAL '30 days', INTERVAL '1 hour')
                          OVER (PARTITION BY user ORDER BY time DESC) FROM t";
        let error = query(&ctx, descending).unwrap_err().to_string();
        assert!(error.contains("ordered by the time"), "{error}");
        let months = "SELECT count_same_before(key, time, INTERVAL '1 month', INTERVAL '1 hour')
                      OVER (PARTITION BY user ORDER BY time) FROM t";
        let error = query(&ctx, months).unwrap_err().to_string();
        assert!(error.contains("days or less"), "{error}");
        let text = "SELECT count_same_before(key, key, INTERVAL '1 day', INTERVAL '1 hour')
                    OVER (PARTITION BY user ORDER BY time) FROM t";
        let error = query(&ctx, text).unwrap_err().to_string();
        assert!(error.contains("not a timestamp"), "{error}");
        let keyless = "SELECT sum_same_before(time, INTERVAL '1 day', INTERVAL '1 hour')
                       OVER (PARTITION BY user ORDER BY time) FROM t";
        let error = query(&ctx, keyless).unwrap_err().to_string();
        assert!(error.contains("sum_same_before(time, reach, gap, key [, key ...]): 3 arguments"), "{error}");
        let late = "SELECT sum_same_before(time, INTERVAL '1 day', INTERVAL '1 hour', key)
                    OVER (PARTITION BY user ORDER BY time DESC) FROM t";
        let error = query(&ctx, late).unwrap_err().to_string();
        assert!(error.contains("sum_same_before needs its window ordered"), "{error}");
    }
}
