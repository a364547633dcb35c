//! The manifest: the one file that says which Parquet files make up the store. A commit writes
//! a new manifest beside the old one and renames it into place, so a reader sees either the
//! state before an ingest or the state after it, never a part of it.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::StoreError;

/// Bumped when the layout or the schema changes in a way older stores cannot be read with.
pub const FORMAT_VERSION: u32 = 1;

pub(crate) const META_DIR: &str = "_sleuth";
const MANIFEST: &str = "manifest.json";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format_version: u32,
    /// Incremented by every commit.
    pub generation: u64,
    /// Committed files per table name.
    pub tables: BTreeMap<String, Vec<DataFile>>,
}

/// One committed Parquet file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataFile {
    /// Path relative to the store root, with forward slashes.
    pub path: String,
    pub rows: u64,
    pub bytes: u64,
    /// Earliest and latest record time, microseconds since the epoch (absent when no record
    /// in the file has a time).
    pub min_time: Option<i64>,
    pub max_time: Option<i64>,
    /// The column the file's rows are sorted by, when a compaction wrote it (`sleuth
    /// compact`); absent for files as ingest wrote them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sorted_by: Option<String>,
}

impl Manifest {
    pub(crate) fn path(root: &Path) -> PathBuf {
        root.join(META_DIR).join(MANIFEST)
    }

    pub(crate) fn load(root: &Path) -> Result<Option<Manifest>, StoreError> {
        let path = Manifest::path(root);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::io(&path, e)),
        };
        let manifest: Manifest =
            serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("{}: {e}", path.display())))?;
        if manifest.format_version != FORMAT_VERSION {
            return Err(StoreError::Corrupt(format!(
                "{}: store format {} is not the format {FORMAT_VERSION} this Sleuth reads",
                path.display(),
                manifest.format_version
            )));
        }
        Ok(Some(manifest))
    }

    /// Writes the manifest atomically: temporary file, fsync, rename, fsync of the folder.
    pub(crate) fn commit(&self, root: &Path) -> Result<(), StoreError> {
        let dir = root.join(META_DIR);
        let tmp = dir.join(format!("{MANIFEST}.tmp"));
        let text = serde_json::to_string_pretty(self).expect("manifest serialises");
        let mut file = File::create(&tmp).map_err(|e| StoreError::io(&tmp, e))?;
        file.write_all(text.as_bytes()).map_err(|e| StoreError::io(&tmp, e))?;
        file.sync_all().map_err(|e| StoreError::io(&tmp, e))?;
        drop(file);
        crate::crash_point("before-manifest-rename");
        let path = Manifest::path(root);
        fs::rename(&tmp, &path).map_err(|e| StoreError::io(&path, e))?;
        sync_dir(&dir)?;
        Ok(())
    }

    pub fn files(&self, table: &str) -> &[DataFile] {
        self.tables.get(table).map(Vec::as_slice).unwrap_or_default()
    }
}

/// Makes a rename or a new file durable (a no-op where folders cannot be opened).
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| StoreError::io(dir, e))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}
