//! One ingest: records go into new Parquet files, duplicates (by record id, per table) are
//! dropped, and [`Ingest::commit`] publishes the files in one atomic manifest update. An ingest
//! that is dropped or killed before its commit leaves the store as it was; its files are
//! orphans that the next ingest removes.

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File};
use std::path::{Path, PathBuf};

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::{max, min};
use datafusion::arrow::datatypes::{SchemaRef, TimestampMicrosecondType};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::parquet::schema::types::ColumnPath;
use sleuth_ingest::{Record, Table};
use xxhash_rust::xxh3::xxh3_128;

use crate::columns::BatchBuilder;
use crate::manifest::{DataFile, Manifest, sync_dir};
use crate::{Store, StoreError, crash_point};

/// Rows per Arrow batch (and Parquet row group granule): bounds the memory of an ingest.
const BATCH_ROWS: usize = 8192;
/// Rows per Parquet file before a new one is started.
const FILE_ROWS: u64 = 1 << 20;

/// Counts of one ingest, per table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IngestSummary {
    pub added: BTreeMap<Table, u64>,
    pub duplicates: BTreeMap<Table, u64>,
    pub generation: u64,
}

/// An ingest in progress; holds the store's writer lock until committed or dropped.
pub struct Ingest<'s> {
    store: &'s mut Store,
    _lock: File,
    generation: u64,
    seen: BTreeMap<Table, HashSet<u128>>,
    writers: BTreeMap<Table, TableWriter>,
    summary: IngestSummary,
}

impl<'s> Ingest<'s> {
    pub(crate) fn begin(store: &'s mut Store) -> Result<Self, StoreError> {
        let lock = writer_lock(store)?;
        let mut seen = BTreeMap::new();
        for table in Table::ALL {
            seen.insert(table, existing_ids(store.root(), store.manifest().files(table.name()))?);
        }
        let generation = store.manifest().generation + 1;
        Ok(Ingest { store, _lock: lock, generation, seen, writers: BTreeMap::new(), summary: IngestSummary::default() })
    }

    /// Adds a record unless a record with the same id is already in the table. Returns whether
    /// it was added.
    pub fn push(&mut self, record: &Record) -> Result<bool, StoreError> {
        let table = record.table();
        let key = xxh3_128(record.record_id().as_bytes());
        if !self.seen.entry(table).or_default().insert(key) {
            *self.summary.duplicates.entry(table).or_default() += 1;
            return Ok(false);
        }
        let generation = self.generation;
        let writer =
            self.writers.entry(table).or_insert_with(|| TableWriter::new(table, self.store.root(), generation));
        writer.push(record)?;
        *self.summary.added.entry(table).or_default() += 1;
        Ok(true)
    }

    /// Publishes everything pushed, atomically.
    pub fn commit(mut self) -> Result<IngestSummary, StoreError> {
        let mut manifest = self.store.manifest().clone();
        for (table, writer) in std::mem::take(&mut self.writers) {
            let files = writer.finish()?;
            sync_dir(&self.store.root().join(table.name()))?;
            if !files.is_empty() {
                // A compaction's copies of the table no longer hold all its rows: dropped in
                // this commit (their files are orphans), until the next compaction.
                for layout in crate::LAYOUTS.iter().filter(|l| l.source == table && l.derived()) {
                    manifest.tables.remove(layout.name);
                }
            }
            manifest.tables.entry(table.name().to_string()).or_default().extend(files);
        }
        crash_point("before-commit");
        manifest.generation = self.generation;
        manifest.commit(self.store.root())?;
        self.summary.generation = self.generation;
        self.store.replace_manifest(manifest);
        Ok(std::mem::take(&mut self.summary))
    }
}

/// Writes one table's new records (or, for a compaction, its rows in a new order) into
/// Parquet files.
pub(crate) struct TableWriter {
    /// The table's name: its folder, and the files' prefix in the manifest.
    name: String,
    schema: SchemaRef,
    dir: PathBuf,
    generation: u64,
    /// Records not yet written (a writer of records; a compaction writes batches).
    batch: Option<BatchBuilder>,
    file: Option<OpenFile>,
    done: Vec<DataFile>,
    /// What the files are sorted by, recorded in the manifest.
    sorted_by: Option<String>,
}

struct OpenFile {
    writer: ArrowWriter<File>,
    path: PathBuf,
    relative: String,
    rows: u64,
    min_time: Option<i64>,
    max_time: Option<i64>,
}

impl OpenFile {
    /// Widens the file's time range to take in `lo..=hi`.
    fn saw(&mut self, lo: i64, hi: i64) {
        self.min_time = Some(self.min_time.map_or(lo, |m| m.min(lo)));
        self.max_time = Some(self.max_time.map_or(hi, |m| m.max(hi)));
    }
}

impl TableWriter {
    pub(crate) fn new(table: Table, root: &Path, generation: u64) -> Self {
        let mut writer = TableWriter::for_batches(table.name(), crate::columns::schema(table), root, generation);
        writer.batch = Some(BatchBuilder::new(table));
        writer
    }

    /// A writer of batches of `schema` into the folder `name`.
    pub(crate) fn for_batches(name: &str, schema: SchemaRef, root: &Path, generation: u64) -> Self {
        TableWriter {
            name: name.to_string(),
            schema,
            dir: root.join(name),
            generation,
            batch: None,
            file: None,
            done: Vec::new(),
            sorted_by: None,
        }
    }

    /// Records `column` as the files' sort key (the caller writes rows in that order).
    pub(crate) fn sorted_by(mut self, column: &str) -> Self {
        self.sorted_by = Some(column.to_string());
        self
    }

    /// Writes rows already in the table's schema, after any pending records.
    pub(crate) fn push_batch(&mut self, batch: &RecordBatch) -> Result<(), StoreError> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        self.flush()?;
        if self.file.is_none() {
            self.file = Some(self.open()?);
        }
        let file = self.file.as_mut().expect("opened above");
        if let Some(time) = batch.column_by_name("time") {
            let time = time.as_primitive::<TimestampMicrosecondType>();
            if let (Some(lo), Some(hi)) = (min(time), max(time)) {
                file.saw(lo, hi);
            }
        }
        file.writer.write(batch)?;
        file.rows += batch.num_rows() as u64;
        if file.rows >= FILE_ROWS {
            self.close()?;
        }
        Ok(())
    }

    fn push(&mut self, record: &Record) -> Result<(), StoreError> {
        if self.file.is_none() {
            self.file = Some(self.open()?);
        }
        let file = self.file.as_mut().expect("opened above");
        if let Some(t) = record.time().map(|t| t.timestamp_micros()) {
            file.saw(t, t);
        }
        let batch = self.batch.as_mut().expect("a writer of records");
        batch.push(record);
        if batch.len() >= BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn open(&mut self) -> Result<OpenFile, StoreError> {
        fs::create_dir_all(&self.dir).map_err(|e| StoreError::io(&self.dir, e))?;
        let name = format!("g{:06}-{:04}.parquet", self.generation, self.done.len());
        let path = self.dir.join(&name);
        let file = File::create(&path).map_err(|e| StoreError::io(&path, e))?;
        let props = WriterProperties::builder()
            // Every value of these is different: a dictionary is built for each row group's
            // first megabyte only to be given up.
            .set_column_dictionary_enabled(ColumnPath::from("raw"), false)
            .set_column_dictionary_enabled(ColumnPath::from("record_id"), false)
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(128 * 1024))
            .set_created_by(format!("sleuth {}", env!("CARGO_PKG_VERSION")))
            .build();
        let writer = ArrowWriter::try_new(file, self.schema.clone(), Some(props))?;
        Ok(OpenFile {
            writer,
            path,
            relative: format!("{}/{name}", self.name),
            rows: 0,
            min_time: None,
            max_time: None,
        })
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        let Some(batch) = self.batch.as_mut().filter(|b| b.len() > 0).map(BatchBuilder::finish) else {
            return Ok(());
        };
        let file = self.file.as_mut().expect("a file is open while rows are pending");
        file.writer.write(&batch)?;
        file.rows += batch.num_rows() as u64;
        if file.rows >= FILE_ROWS {
            self.close()?;
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), StoreError> {
        let Some(mut file) = self.file.take() else { return Ok(()) };
        file.writer.finish()?;
        file.writer.inner().sync_all().map_err(|e| StoreError::io(&file.path, e))?;
        let bytes = file.writer.bytes_written() as u64;
        self.done.push(DataFile {
            path: file.relative,
            rows: file.rows,
            bytes,
            min_time: file.min_time,
            max_time: file.max_time,
            sorted_by: self.sorted_by.clone(),
        });
        Ok(())
    }

    pub(crate) fn finish(mut self) -> Result<Vec<DataFile>, StoreError> {
        self.flush()?;
        self.close()?;
        Ok(self.done)
    }
}

/// Takes the store's writer lock (one ingest or compaction at a time), re-reads the manifest
/// under it (another writer may have committed since the store was opened) and removes what
/// an interrupted writer left. The lock is held while the returned file is open.
pub(crate) fn writer_lock(store: &mut Store) -> Result<File, StoreError> {
    let lock_path = store.meta_dir().join("lock");
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| StoreError::io(&lock_path, e))?;
    lock.try_lock().map_err(|_| StoreError::Busy(store.root().display().to_string()))?;
    store.reload()?;
    remove_orphans(store.root(), store.manifest())?;
    Ok(lock)
}

/// Deletes Parquet files that no committed manifest lists: left by an ingest that was killed.
fn remove_orphans(root: &Path, manifest: &Manifest) -> Result<(), StoreError> {
    let _ = fs::remove_file(root.join(crate::manifest::META_DIR).join("manifest.json.tmp"));
    let derived = crate::LAYOUTS.iter().filter(|l| l.derived()).map(|l| l.name);
    for table in Table::ALL.map(|t| t.name()).into_iter().chain(derived) {
        let dir = root.join(table);
        let Ok(entries) = fs::read_dir(&dir) else { continue };
        let live: HashSet<&str> = manifest.files(table).iter().map(|f| f.path.as_str()).collect();
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".parquet") && !live.contains(format!("{table}/{name}").as_str()) {
                fs::remove_file(entry.path()).map_err(|e| StoreError::io(&entry.path(), e))?;
            }
        }
    }
    Ok(())
}

/// The record ids already in a table, hashed (128 bits: collisions are not a practical risk).
fn existing_ids(root: &Path, files: &[DataFile]) -> Result<HashSet<u128>, StoreError> {
    let mut ids = HashSet::with_capacity(files.iter().map(|f| f.rows as usize).sum());
    for data in files {
        let path = root.join(&data.path);
        let file = File::open(&path).map_err(|e| StoreError::io(&path, e))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| StoreError::data_file(&path, e))?;
        let mask = ProjectionMask::columns(builder.parquet_schema(), ["record_id"]);
        for batch in builder.with_projection(mask).build().map_err(|e| StoreError::data_file(&path, e))? {
            let batch = batch.map_err(|e| StoreError::data_file(&path, e))?;
            let column = batch.column(0).as_string::<i32>();
            for i in 0..column.len() {
                if column.is_valid(i) {
                    ids.insert(xxh3_128(column.value(i).as_bytes()));
                }
            }
        }
    }
    Ok(ids)
}
