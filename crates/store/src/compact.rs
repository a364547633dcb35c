//! Compaction: the sign-ins rewritten in account order, so that reading one account's history
//! (an investigation, the workbench's account page) decodes a few row groups instead of
//! every file; and the columns read by address written again in address order
//! ([`SIGNINS_BY_ADDRESS`]).
//!
//! Ingest writes records in the order the exports hold them, by time: a row group of 128 K
//! sign-ins holds a few rows of every account, and Parquet's statistics prune nothing for
//! `user_principal_name = 'x'`. After a compaction the table's files hold its rows sorted by
//! account, then time, then record id; each row group's minimum and maximum account bound a
//! narrow range, and DataFusion skips the rest by their statistics.
//!
//! Memory is bounded by the bucket size and the distinct keys, not by the rows: one pass counts
//! the rows of each key (the distinct keys are held, about 100 bytes each: 36,600 accounts are
//! nothing, tens of millions of distinct addresses would be gigabytes), and cuts the sorted
//! keys into buckets of about [`Budget::bucket_bytes`] of decoded rows; a second pass reads
//! the table once and routes each row to its bucket's spill files (Arrow IPC, LZ4, in
//! `_sleuth/compact/`), holding at most that much pending at a time; a third sorts one bucket
//! at a time and writes it. One key with more rows than a bucket holds is a bucket of its
//! own, written as routed, each piece in the order after the key. Disk: the spill files (about
//! the size of the table's Parquet), then the new files beside the old until the commit.
//!
//! The commit is the ingest's: new files under a new generation, the manifest replaced
//! atomically, under the writer lock. A crash before it leaves the store as it was (the next
//! writer removes the new files as orphans); after it, the old files are orphans in turn.
//! The same store and budget give the same files. Another budget cuts files and row groups
//! elsewhere, and may order a large account's rows piece by piece rather than as a whole;
//! Sleuth's hunts and reports do not depend on either (their queries order what they return).

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{AsArray, RecordBatch, UInt32Array};
use datafusion::arrow::compute::{SortColumn, SortOptions, concat_batches, lexsort_to_indices, take_record_batch};
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::arrow::ipc::CompressionType;
use datafusion::arrow::ipc::reader::FileReader;
use datafusion::arrow::ipc::writer::{FileWriter, IpcWriteOptions};
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::arrow_reader::{ArrowReaderMetadata, ParquetRecordBatchReaderBuilder};
use sleuth_ingest::Table;

use crate::ingest::{TableWriter, writer_lock};
use crate::manifest::{DataFile, sync_dir};
use crate::{Store, StoreError, crash_point};

/// A table a compaction writes in one order: a table of the store rewritten, or a narrow copy
/// of some of its columns in another order (a covering index, which a query names instead of
/// the table when it looks rows up by another column).
#[derive(Debug)]
pub struct Layout {
    /// Its name in queries and its folder.
    pub name: &'static str,
    /// The table whose rows it holds.
    pub source: Table,
    /// The source's columns it holds, in the table's order; all of them when empty.
    pub columns: &'static [&'static str],
    /// The order of its rows; the first column is the key whose statistics prune.
    pub order: &'static [&'static str],
}

impl Layout {
    pub fn key(&self) -> &'static str {
        self.order[0]
    }

    /// Whether this is a copy beside its table rather than the table itself.
    pub fn derived(&self) -> bool {
        self.name != self.source.name()
    }

    /// The columns it holds.
    pub fn schema(&self) -> SchemaRef {
        let table = crate::columns::schema(self.source);
        if self.columns.is_empty() {
            return table;
        }
        let fields: Vec<_> =
            table.fields().iter().filter(|f| self.columns.contains(&f.name().as_str())).cloned().collect();
        Arc::new(Schema::new(fields))
    }
}

/// The sign-ins' address index: [`LAYOUTS`]' second.
pub const SIGNINS_BY_ADDRESS: &str = "signins_by_address";

/// What a compaction writes. The sign-ins are read by account (`investigate` reads an
/// account's history by `user_principal_name`) and by address (who else signed in from the
/// account's addresses: a covering index of the four columns that question reads, 2 % of the
/// table's size). A copy is in the manifest only while it holds exactly its table's rows: an
/// ingest that adds to the table drops it in the same commit.
pub const LAYOUTS: &[Layout] = &[
    Layout {
        name: "signins",
        source: Table::SignIns,
        columns: &[],
        order: &["user_principal_name", "time", "record_id"],
    },
    Layout {
        name: SIGNINS_BY_ADDRESS,
        source: Table::SignIns,
        columns: &["time", "user_principal_name", "ip_address", "result_type"],
        order: &["ip_address", "user_principal_name", "time", "result_type"],
    },
];

/// Rows read from a Parquet file at a time.
const READ_ROWS: usize = 8192;
/// Rows of one bucket gathered before they are written to its spill file.
const SPILL_ROWS: usize = 16 * 1024;
const SPILL_DIR: &str = "compact";

/// How much a compaction holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Decoded rows in one bucket (sorted in memory: held about twice while sorted), and
    /// rows pending for the spill files while routing.
    pub bucket_bytes: usize,
}

impl Budget {
    /// An eighth of the query memory limit (`SLEUTH_MEMORY_LIMIT`), between 16 and 512 MiB:
    /// 128 MiB under a 1 GiB limit. The process's peak is a few times this (a bucket, its
    /// sorted copy, the Parquet writer's row group).
    pub fn from_limit(limit: Option<usize>) -> Budget {
        let limit = limit.unwrap_or(4 << 30);
        Budget { bucket_bytes: (limit / 8).clamp(16 << 20, 512 << 20) }
    }
}

/// What happened, for a progress display.
#[derive(Debug, Clone, Copy)]
pub enum CompactStep<'a> {
    /// The table is being compacted; its rows are read twice (routed, then written).
    Table { table: &'a str, rows: u64 },
    /// This many more rows routed or written.
    Rows(u64),
}

/// What a compaction did to one layout.
#[derive(Debug, Clone, PartialEq)]
pub struct Compacted {
    pub table: &'static str,
    /// The table its rows come from: itself, or the table a derived layout copies.
    pub source: &'static str,
    pub key: &'static str,
    pub rows: u64,
    /// The source's files the rows were read from.
    pub files_before: usize,
    pub files_after: usize,
    /// The buckets the rows were sorted in (zero when nothing was rewritten).
    pub buckets: usize,
    /// Already in this order (written by an earlier compaction, nothing ingested since):
    /// nothing was rewritten.
    pub already: bool,
}

/// What a compaction did, and the store's generation after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Compaction {
    pub tables: Vec<Compacted>,
    pub generation: u64,
}

impl Store {
    /// Writes each of [`LAYOUTS`] from its table, in one commit. Takes the writer lock: fails
    /// with [`StoreError::Busy`] while an ingest runs. A table already compacted and not
    /// ingested into since is left alone.
    pub fn compact(&mut self, budget: Budget, progress: &mut dyn FnMut(CompactStep)) -> Result<Compaction, StoreError> {
        let _lock = writer_lock(self)?;
        let spill = self.meta_dir().join(SPILL_DIR);
        remove_dir(&spill)?;
        let generation = self.manifest().generation + 1;
        let before = self.manifest().clone();
        let mut manifest = before.clone();
        let mut done = Vec::new();
        for layout in LAYOUTS {
            let sources = before.files(layout.source.name());
            let present = before.files(layout.name);
            let rows = sources.iter().map(|f| f.rows).sum();
            let already = !present.is_empty() && present.iter().all(|f| f.sorted_by.as_deref() == Some(layout.key()))
                || sources.is_empty();
            let mut report = Compacted {
                table: layout.name,
                source: layout.source.name(),
                key: layout.key(),
                rows,
                files_before: sources.len(),
                files_after: present.len(),
                buckets: 0,
                already,
            };
            if !already {
                progress(CompactStep::Table { table: layout.name, rows });
                fs::create_dir_all(&spill).map_err(|e| StoreError::io(&spill, e))?;
                let paths: Vec<PathBuf> = sources.iter().map(|f| self.root().join(&f.path)).collect();
                let (written, buckets) = sort_table(self.root(), layout, &paths, &spill, generation, budget, progress)?;
                remove_dir(&spill)?;
                report.files_after = written.len();
                report.buckets = buckets;
                manifest.tables.insert(layout.name.to_string(), written);
            }
            done.push(report);
        }
        if manifest == before {
            return Ok(Compaction { tables: done, generation: before.generation });
        }
        crash_point("compact-before-commit");
        manifest.generation = generation;
        manifest.commit(self.root())?;
        self.replace_manifest(manifest);
        // The replaced files are no longer committed: orphans, removed now (or by the next
        // writer, if this process stops here).
        for layout in LAYOUTS {
            let live: Vec<&str> = self.manifest().files(layout.name).iter().map(|f| f.path.as_str()).collect();
            for old in before.files(layout.name).iter().filter(|f| !live.contains(&f.path.as_str())) {
                let path = self.root().join(&old.path);
                fs::remove_file(&path).map_err(|e| StoreError::io(&path, e))?;
            }
            let dir = self.root().join(layout.name);
            if dir.exists() {
                sync_dir(&dir)?;
            }
        }
        Ok(Compaction { tables: done, generation })
    }
}

/// Counts, routes and writes one layout from its table's `files`; returns its new files and
/// how many buckets it took.
fn sort_table(
    root: &Path,
    layout: &Layout,
    files: &[PathBuf],
    spill: &Path,
    generation: u64,
    budget: Budget,
    progress: &mut dyn FnMut(CompactStep),
) -> Result<(Vec<DataFile>, usize), StoreError> {
    let key = layout.key();
    let schema = layout.schema();
    let (counts, nulls, row_bytes) = count_keys(files, &schema, key)?;
    let buckets = Buckets::cut(counts, nulls, (budget.bucket_bytes / row_bytes.max(1)).max(1) as u64);
    let mut router = Router::new(spill, schema.clone(), buckets.len(), budget.bucket_bytes);
    for path in files {
        let file = File::open(path).map_err(|e| StoreError::io(path, e))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| StoreError::data_file(path, e))?;
        let columns = schema.fields().iter().map(|f| f.name().as_str());
        let mask = ProjectionMask::columns(builder.parquet_schema(), columns);
        for batch in builder
            .with_projection(mask)
            .with_batch_size(READ_ROWS)
            .build()
            .map_err(|e| StoreError::data_file(path, e))?
        {
            let batch = batch.map_err(|e| StoreError::data_file(path, e))?;
            let rows = batch.num_rows() as u64;
            router.route(&batch, key, &buckets)?;
            progress(CompactStep::Rows(rows));
        }
    }
    let chunks = router.finish()?;
    let mut writer = TableWriter::for_batches(layout.name, schema.clone(), root, generation).sorted_by(key);
    for (bucket, paths) in chunks.iter().enumerate() {
        let mut pieces = Vec::new();
        for path in paths {
            let file = File::open(path).map_err(|e| StoreError::io(path, e))?;
            for batch in FileReader::try_new(BufReader::new(file), None).map_err(|e| StoreError::data_file(path, e))? {
                pieces.push(batch.map_err(|e| StoreError::data_file(path, e))?);
            }
        }
        let rows: u64 = pieces.iter().map(|b| b.num_rows() as u64).sum();
        if buckets.oversized(bucket) {
            // One key with more rows than a bucket holds: each piece in the order after the key.
            for piece in pieces {
                writer.push_batch(&sort(&piece, &layout.order[1..])?)?;
            }
        } else if !pieces.is_empty() {
            let all = concat_batches(&schema, &pieces)?;
            drop(pieces);
            writer.push_batch(&sort(&all, layout.order)?)?;
        }
        for path in paths {
            fs::remove_file(path).map_err(|e| StoreError::io(path, e))?;
        }
        progress(CompactStep::Rows(rows));
    }
    Ok((writer.finish()?, buckets.len()))
}

/// The rows of `batch` ordered by `order`, ascending, nulls last.
fn sort(batch: &RecordBatch, order: &[&str]) -> Result<RecordBatch, StoreError> {
    let options = Some(SortOptions { descending: false, nulls_first: false });
    let columns: Vec<SortColumn> = order
        .iter()
        .filter_map(|name| batch.column_by_name(name))
        .map(|values| SortColumn { values: values.clone(), options })
        .collect();
    let order = lexsort_to_indices(&columns, None)?;
    Ok(take_record_batch(batch, &order)?)
}

/// The rows of each distinct key (and of none) in `files`, and the mean decoded bytes of a
/// row of `schema`'s columns.
fn count_keys(files: &[PathBuf], schema: &Schema, key: &str) -> Result<(HashMap<String, u64>, u64, usize), StoreError> {
    let mut counts: HashMap<String, u64> = HashMap::new();
    let (mut nulls, mut bytes, mut rows) = (0u64, 0usize, 0usize);
    for path in files {
        let file = File::open(path).map_err(|e| StoreError::io(path, e))?;
        let metadata =
            ArrowReaderMetadata::load(&file, Default::default()).map_err(|e| StoreError::data_file(path, e))?;
        let reader = |columns: &mut dyn Iterator<Item = &str>| -> Result<_, StoreError> {
            let file = file.try_clone().map_err(|e| StoreError::io(path, e))?;
            let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, metadata.clone());
            let mask = ProjectionMask::columns(builder.parquet_schema(), columns);
            builder.with_projection(mask).with_batch_size(READ_ROWS).build().map_err(|e| StoreError::data_file(path, e))
        };
        // The decoded size of a row: from the file's first batch of the layout's columns
        // (Parquet's own sizes are of dictionary-encoded pages, a fraction of Arrow's).
        if let Some(batch) = reader(&mut schema.fields().iter().map(|f| f.name().as_str()))?.next() {
            let batch = batch.map_err(|e| StoreError::data_file(path, e))?;
            bytes += batch.get_array_memory_size();
            rows += batch.num_rows();
        }
        for batch in reader(&mut std::iter::once(key))? {
            let batch = batch.map_err(|e| StoreError::data_file(path, e))?;
            let column = batch.column(0).as_string::<i32>();
            for value in column.iter() {
                match value {
                    Some(value) => match counts.get_mut(value) {
                        Some(n) => *n += 1,
                        None => {
                            counts.insert(value.to_string(), 1);
                        }
                    },
                    None => nulls += 1,
                }
            }
        }
    }
    Ok((counts, nulls, (bytes / rows.max(1)).max(1)))
}

/// Consecutive ranges of the sorted keys, each of about a bucket's rows; rows without a key
/// have the last bucket.
struct Buckets {
    /// The first key of each bucket but the first (which starts below every key).
    starts: Vec<String>,
    /// Buckets of a single key with more rows than a bucket holds.
    oversized: Vec<bool>,
    /// Whether the last bucket is the one of rows without a key.
    nulls: bool,
}

impl Buckets {
    fn cut(counts: HashMap<String, u64>, nulls: u64, bucket_rows: u64) -> Buckets {
        let mut keys: Vec<(String, u64)> = counts.into_iter().collect();
        keys.sort_unstable();
        let mut starts = Vec::new();
        let mut oversized = Vec::new();
        let (mut rows, mut distinct) = (0u64, 0usize);
        for (i, (key, n)) in keys.into_iter().enumerate() {
            if i > 0 && rows + n > bucket_rows {
                oversized.push(distinct == 1 && rows > bucket_rows);
                starts.push(key);
                (rows, distinct) = (0, 0);
            }
            rows += n;
            distinct += 1;
        }
        oversized.push(distinct == 1 && rows > bucket_rows);
        if nulls > 0 {
            oversized.push(nulls > bucket_rows);
        }
        Buckets { starts, oversized, nulls: nulls > 0 }
    }

    fn len(&self) -> usize {
        self.oversized.len()
    }

    fn oversized(&self, bucket: usize) -> bool {
        self.oversized[bucket]
    }

    fn of(&self, key: Option<&str>) -> usize {
        match key {
            Some(key) => self.starts.partition_point(|s| s.as_str() <= key),
            None => {
                debug_assert!(self.nulls, "a row without a key was counted");
                self.len() - 1
            }
        }
    }
}

/// Routes rows to their buckets' spill files, holding at most `held_bytes` pending.
struct Router {
    dir: PathBuf,
    schema: SchemaRef,
    pending: Vec<Vec<RecordBatch>>,
    pending_rows: Vec<usize>,
    pending_bytes: Vec<usize>,
    held: usize,
    held_bytes: usize,
    chunks: Vec<Vec<PathBuf>>,
}

impl Router {
    fn new(dir: &Path, schema: SchemaRef, buckets: usize, held_bytes: usize) -> Router {
        Router {
            dir: dir.to_path_buf(),
            schema,
            pending: vec![Vec::new(); buckets],
            pending_rows: vec![0; buckets],
            pending_bytes: vec![0; buckets],
            held: 0,
            held_bytes,
            chunks: vec![Vec::new(); buckets],
        }
    }

    fn route(&mut self, batch: &RecordBatch, key: &str, buckets: &Buckets) -> Result<(), StoreError> {
        let keys = batch
            .column_by_name(key)
            .ok_or_else(|| StoreError::Corrupt(format!("a file of the table has no column {key}")))?
            .as_string::<i32>();
        let mut rows: Vec<Vec<u32>> = vec![Vec::new(); buckets.len()];
        for (i, value) in keys.iter().enumerate() {
            rows[buckets.of(value)].push(i as u32);
        }
        for (bucket, indices) in rows.into_iter().enumerate() {
            if indices.is_empty() {
                continue;
            }
            let part = if indices.len() == batch.num_rows() {
                batch.clone()
            } else {
                take_record_batch(batch, &UInt32Array::from(indices))?
            };
            let bytes = part.get_array_memory_size();
            self.pending_rows[bucket] += part.num_rows();
            self.pending_bytes[bucket] += bytes;
            self.held += bytes;
            self.pending[bucket].push(part);
            if self.pending_rows[bucket] >= SPILL_ROWS {
                self.spill(bucket)?;
            }
        }
        while self.held > self.held_bytes {
            let largest = (0..self.pending.len()).max_by_key(|&b| self.pending_bytes[b]).expect("a bucket");
            self.spill(largest)?;
        }
        Ok(())
    }

    /// Writes a bucket's pending rows to a new spill file of its own.
    fn spill(&mut self, bucket: usize) -> Result<(), StoreError> {
        let batches = std::mem::take(&mut self.pending[bucket]);
        if batches.is_empty() {
            return Ok(());
        }
        let path = self.dir.join(format!("b{bucket:06}-{:06}.arrow", self.chunks[bucket].len()));
        let file = File::create(&path).map_err(|e| StoreError::io(&path, e))?;
        let options = IpcWriteOptions::default().try_with_compression(Some(CompressionType::LZ4_FRAME))?;
        let mut writer = FileWriter::try_new_with_options(BufWriter::new(file), &self.schema, options)?;
        writer.write(&concat_batches(&self.schema, &batches)?)?;
        writer.finish()?;
        self.held -= self.pending_bytes[bucket];
        self.pending_bytes[bucket] = 0;
        self.pending_rows[bucket] = 0;
        self.chunks[bucket].push(path);
        Ok(())
    }

    fn finish(mut self) -> Result<Vec<Vec<PathBuf>>, StoreError> {
        for bucket in 0..self.pending.len() {
            self.spill(bucket)?;
        }
        Ok(self.chunks)
    }
}

fn remove_dir(dir: &Path) -> Result<(), StoreError> {
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(StoreError::io(dir, e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::META_DIR;

    fn counts(pairs: &[(&str, u64)]) -> HashMap<String, u64> {
        pairs.iter().map(|(k, n)| (k.to_string(), *n)).collect()
    }

    #[test]
    fn buckets_hold_consecutive_keys_up_to_the_rows_of_a_bucket() {
        let b = Buckets::cut(counts(&[("d", 2), ("a", 3), ("c", 1), ("b", 1), ("e", 9)]), 0, 4);
        // a(3) b(1) | c(1) d(2) | e(9, alone and over the size)
        assert_eq!(b.starts, ["c", "e"]);
        assert_eq!(b.oversized, [false, false, true]);
        assert_eq!(b.of(Some("a")), 0);
        assert_eq!(b.of(Some("bb")), 0);
        assert_eq!(b.of(Some("c")), 1);
        assert_eq!(b.of(Some("d")), 1);
        assert_eq!(b.of(Some("zzz")), 2);
        assert!(!b.nulls);
    }

    #[test]
    fn rows_without_a_key_have_the_last_bucket() {
        let b = Buckets::cut(counts(&[("a", 1)]), 5, 4);
        assert_eq!(b.len(), 2);
        assert_eq!(b.of(None), 1);
        assert!(b.oversized(1));
        assert!(!b.oversized(0));
    }

    #[test]
    fn the_budget_follows_the_memory_limit_within_bounds() {
        assert_eq!(Budget::from_limit(Some(1 << 30)).bucket_bytes, 128 << 20);
        assert_eq!(Budget::from_limit(Some(1 << 20)).bucket_bytes, 16 << 20);
        assert_eq!(Budget::from_limit(Some(64 << 30)).bucket_bytes, 512 << 20);
    }

    /// Graph sign-ins, one JSON object a line: `accounts` accounts signing in round-robin
    /// (time order, as exports are), from `addresses` addresses; the first account (`a000`)
    /// has `heavy` more, so that one account outgrows a small bucket.
    fn export(dir: &Path, name: &str, first: usize, rows: usize, accounts: usize, heavy: usize) -> PathBuf {
        let mut lines = String::new();
        for i in first..first + rows + heavy {
            let account = if i >= first + rows { 0 } else { i % accounts };
            let (result, address) = (if i % 7 == 0 { 50126 } else { 0 }, format!("203.0.113.{}", i % 37));
            lines.push_str(&format!(
                r#"{{"id":"r{i:07}","createdDateTime":"2026-03-01T{:02}:{:02}:{:02}Z","userPrincipalName":"A{account:03}@contoso.example","ipAddress":"{address}","appId":"app","status":{{"errorCode":{result}}}}}"#,
                (i / 3600) % 24,
                (i / 60) % 60,
                i % 60
            ));
            lines.push('\n');
        }
        let path = dir.join(name);
        fs::write(&path, lines).unwrap();
        path
    }

    fn ingest(store: &mut Store, file: &Path) {
        let loaded =
            crate::load(&[file.to_path_buf()], &Default::default(), store.begin_ingest().unwrap(), &mut |_| {})
                .unwrap();
        assert!(loaded.summary.added.values().sum::<u64>() > 0);
    }

    fn query(store: &Store, sql: &str) -> Vec<String> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let ctx = store.session().await.unwrap();
            let batches = crate::read_only(&ctx, sql).await.unwrap().collect().await.unwrap();
            let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches).unwrap().to_string();
            text.lines().map(str::to_string).collect()
        })
    }

    /// Every key of a layout's files, in manifest order, and each row group's key range.
    fn keys(store: &Store, layout: &Layout) -> (Vec<Option<String>>, Vec<(String, String)>) {
        let (mut keys, mut groups) = (Vec::new(), Vec::new());
        for data in store.manifest().files(layout.name) {
            assert_eq!(data.sorted_by.as_deref(), Some(layout.key()));
            let path = store.root().join(&data.path);
            let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap()).unwrap();
            let column = builder.parquet_schema().columns().iter().position(|c| c.name() == layout.key()).unwrap();
            for group in builder.metadata().row_groups() {
                let stats = group.column(column).statistics().unwrap();
                let bound = |b: Option<&[u8]>| String::from_utf8(b.unwrap().to_vec()).unwrap();
                groups.push((bound(stats.min_bytes_opt()), bound(stats.max_bytes_opt())));
            }
            let mask = ProjectionMask::columns(builder.parquet_schema(), [layout.key()]);
            for batch in builder.with_projection(mask).build().unwrap() {
                keys.extend(batch.unwrap().column(0).as_string::<i32>().iter().map(|k| k.map(str::to_string)));
            }
        }
        (keys, groups)
    }

    #[test]
    fn a_compaction_orders_the_rows_by_account_keeps_every_one_and_an_ingest_after_it_drops_the_index() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open_or_create(&dir.path().join("s")).unwrap();
        ingest(&mut store, &export(dir.path(), "one.json", 0, 3000, 500, 0));
        ingest(&mut store, &export(dir.path(), "two.json", 3000, 3000, 500, 1500));
        let everything = "SELECT count(*) AS n, count(DISTINCT record_id) AS ids, sum(CASE WHEN result_type = 0 THEN 1 ELSE 0 END) AS ok, \
                          max(time) AS last, min(user_principal_name) AS first FROM signins";
        let before = query(&store, everything);
        let by_account =
            "SELECT record_id, ip_address FROM signins WHERE user_principal_name = 'a007@contoso.example' ORDER BY 1";
        let one = query(&store, by_account);
        let who = "SELECT user_principal_name, count(*) AS n FROM signins WHERE ip_address = '203.0.113.5' GROUP BY 1 ORDER BY 1";
        let who_before = query(&store, who);

        // A budget of a few KB: buckets of a few accounts (or addresses), and a000's 1,512
        // rows are more than one holds.
        let budget = Budget { bucket_bytes: 64 << 10 };
        let compaction = store.compact(budget, &mut |_| {}).unwrap();
        let signins = &compaction.tables[0];
        assert!(!signins.already && signins.rows == 7500 && signins.buckets > 10, "{compaction:?}");
        assert_eq!(compaction.tables[1].table, SIGNINS_BY_ADDRESS);
        assert_eq!(query(&store, everything), before);
        assert_eq!(query(&store, by_account), one);
        // The index answers as the table did.
        assert_eq!(query(&store, &who.replace("FROM signins", "FROM signins_by_address")), who_before);
        for layout in LAYOUTS {
            let (keys, groups) = keys(&store, layout);
            assert_eq!(keys.len(), 7500, "{}", layout.name);
            assert!(keys.is_sorted(), "{} is not in {} order", layout.name, layout.key());
            // Row groups cover consecutive, non-overlapping ranges: statistics prune.
            assert!(groups.windows(2).all(|w| w[0].1 <= w[1].0), "{}: {groups:?}", layout.name);
        }
        // Only the committed files are left, and nothing of the spill.
        let root = store.root().to_path_buf();
        let parquet = |table: &str| fs::read_dir(root.join(table)).unwrap().count();
        assert_eq!(parquet("signins"), store.manifest().files("signins").len());
        assert!(!store.root().join(META_DIR).join(SPILL_DIR).exists());

        // Again: nothing to do, nothing committed.
        let generation = store.manifest().generation;
        let again = store.compact(budget, &mut |_| {}).unwrap();
        assert!(again.tables.iter().all(|t| t.already) && again.generation == generation, "{again:?}");

        // An ingest adds rows out of order: the index no longer holds them all and is dropped.
        ingest(&mut store, &export(dir.path(), "three.json", 7500, 100, 500, 0));
        assert!(store.manifest().files(SIGNINS_BY_ADDRESS).is_empty());
        assert!(store.manifest().files("signins").iter().any(|f| f.sorted_by.is_none()));
        assert_eq!(
            query(
                &store,
                "SELECT count(*) AS n FROM information_schema.tables WHERE table_name = 'signins_by_address'"
            )[3],
            "| 0 |"
        );
        let after = store.compact(Budget { bucket_bytes: 1 << 30 }, &mut |_| {}).unwrap();
        assert_eq!((after.tables[0].rows, after.tables[0].buckets, after.tables[1].rows), (7600, 1, 7600));
        assert_eq!(parquet(SIGNINS_BY_ADDRESS), store.manifest().files(SIGNINS_BY_ADDRESS).len());
    }

    #[test]
    fn a_compaction_waits_for_no_ingest_and_refuses_while_one_runs() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("s");
        let mut store = Store::open_or_create(&root).unwrap();
        ingest(&mut store, &export(dir.path(), "one.json", 0, 10, 3, 0));
        let mut other = Store::open(&root).unwrap();
        let _running = other.begin_ingest().unwrap();
        assert!(matches!(store.compact(Budget::from_limit(None), &mut |_| {}), Err(StoreError::Busy(_))));
    }
}
