//! The store: where the pipeline's stages meet. Ingest writes it, everything else reads it.
//!
//! ```text
//! STORE/
//!   _sleuth/manifest.json     the committed state: which files make up each table
//!   _sleuth/lock              held by the one ingest that may write at a time
//!   signins/g000001-0000.parquet
//!   audits/ risk_detections/ mailbox_activity/ message_trace/
//! ```
//!
//! Tables are plain Parquet files, one folder per table, so another engine (DuckDB, Spark,
//! Ballista) can read them; the manifest lists the committed files, and only those are read.
//! An ingest writes new files, then replaces the manifest atomically (write, fsync, rename): a
//! crash at any point leaves the state before or after that ingest. Records are deduplicated
//! on their record id per table, so re-ingesting overlapping exports adds nothing.
//!
//! ```no_run
//! # async fn example() -> Result<(), sleuth_store::StoreError> {
//! let mut store = sleuth_store::Store::open_or_create("case-1234".as_ref())?;
//! let mut ingest = store.begin_ingest()?;
//! // ingest.push(&record)? for every record ...
//! ingest.commit()?;
//! let ctx = store.session().await?;
//! sleuth_store::read_only(&ctx, "SELECT count(*) FROM signins").await?.show().await?;
//! # Ok(()) }
//! ```

mod columns;
mod compact;
pub mod functions;
mod ingest;
pub mod json;
mod load;
mod manifest;
pub mod memory;
mod query;
mod window;

use std::path::{Path, PathBuf};

pub use columns::schema;
pub use compact::{Budget, CompactStep, Compacted, Compaction, LAYOUTS, Layout, SIGNINS_BY_ADDRESS};
pub use functions::register as register_functions;
pub use ingest::{Ingest, IngestSummary};
pub use load::{Loaded, Step, load};
pub use manifest::{DataFile, FORMAT_VERSION, Manifest};
pub use query::read_only;

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{0} is not a Sleuth store (no _sleuth/manifest.json); run `sleuth ingest` to create one")]
    NotAStore(String),
    #[error("{0} is not empty and is not a Sleuth store: refusing to write into it")]
    NotEmpty(String),
    #[error("another ingest or compaction is writing to {0}; try again when it has finished")]
    Busy(String),
    #[error("the store is damaged: {0}")]
    Corrupt(String),
    #[error(
        "{path}: cannot be read ({detail}): a data file of the store is damaged; restore it from a \
         backup, or ingest the exports again into a new store"
    )]
    DataFile { path: PathBuf, detail: String },
    #[error(transparent)]
    Parquet(#[from] datafusion::parquet::errors::ParquetError),
    #[error(transparent)]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    #[error(transparent)]
    Query(#[from] datafusion::error::DataFusionError),
    #[error("{0}")]
    Setting(String),
    #[error("a reading thread stopped unexpectedly")]
    ReaderStopped,
}

impl StoreError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        StoreError::Io { path: path.to_path_buf(), source }
    }

    /// A store's Parquet file (or a compaction's spill file) that does not read, by name.
    pub(crate) fn data_file(path: &Path, error: impl std::fmt::Display) -> Self {
        StoreError::DataFile { path: path.to_path_buf(), detail: error.to_string() }
    }
}

/// A store on local disk.
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    manifest: Manifest,
}

impl Store {
    /// Opens an existing store.
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        match Manifest::load(root)? {
            Some(manifest) => Ok(Store { root: root.to_path_buf(), manifest }),
            None => Err(StoreError::NotAStore(root.display().to_string())),
        }
    }

    /// Opens a store, creating it (and its folder) if there is none. An existing folder with
    /// other content is refused rather than written into.
    pub fn open_or_create(root: &Path) -> Result<Store, StoreError> {
        if let Some(manifest) = Manifest::load(root)? {
            return Ok(Store { root: root.to_path_buf(), manifest });
        }
        if root.exists() {
            let mut entries = std::fs::read_dir(root).map_err(|e| StoreError::io(root, e))?;
            if entries.any(|e| e.is_ok_and(|e| e.file_name() != manifest::META_DIR)) {
                return Err(StoreError::NotEmpty(root.display().to_string()));
            }
        }
        let meta = root.join(manifest::META_DIR);
        std::fs::create_dir_all(&meta).map_err(|e| StoreError::io(&meta, e))?;
        let manifest = Manifest { format_version: FORMAT_VERSION, ..Default::default() };
        manifest.commit(root)?;
        Ok(Store { root: root.to_path_buf(), manifest })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Starts an ingest; fails with [`StoreError::Busy`] while another one runs.
    pub fn begin_ingest(&mut self) -> Result<Ingest<'_>, StoreError> {
        Ingest::begin(self)
    }

    fn meta_dir(&self) -> PathBuf {
        self.root.join(manifest::META_DIR)
    }

    /// A path in the store's own folder (`_sleuth`) for what is derived from its data and
    /// can be derived again (the kept hunt): never a table, never read as data.
    pub fn derived_path(&self, name: &str) -> PathBuf {
        self.meta_dir().join(name)
    }

    fn reload(&mut self) -> Result<(), StoreError> {
        self.manifest =
            Manifest::load(&self.root)?.ok_or_else(|| StoreError::NotAStore(self.root.display().to_string()))?;
        Ok(())
    }

    fn replace_manifest(&mut self, manifest: Manifest) {
        self.manifest = manifest;
    }
}

/// Test hook for the crash-safety tests: when `SLEUTH_TEST_CRASH_AT` names this point, the
/// process aborts here, as a power cut or `kill -9` would stop it.
pub(crate) fn crash_point(name: &str) {
    if std::env::var_os("SLEUTH_TEST_CRASH_AT").is_some_and(|v| v == name) {
        std::process::abort();
    }
}
