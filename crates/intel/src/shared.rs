//! One [`Intel`] per data directory for a whole process, loaded on first use: a query that
//! never calls an IP function never pays for loading the databases.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use crate::Intel;

/// The databases of one directory, loaded when first asked for.
#[derive(Debug)]
pub struct SharedIntel {
    dir: PathBuf,
    loaded: OnceLock<Result<Intel, String>>,
}

impl SharedIntel {
    /// The process-wide instance for `dir`.
    pub fn for_dir(dir: &Path) -> Arc<SharedIntel> {
        static ALL: Mutex<Vec<Arc<SharedIntel>>> = Mutex::new(Vec::new());
        let mut all = ALL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(found) = all.iter().find(|s| s.dir == dir) {
            return found.clone();
        }
        let shared = Arc::new(SharedIntel { dir: dir.to_path_buf(), loaded: OnceLock::new() });
        all.push(shared.clone());
        shared
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The loaded databases. Nothing installed is not an error (the curated lists still
    /// answer, and a warning says how to install the rest); damaged files are.
    pub fn get(&self) -> Result<&Intel, &str> {
        let loaded = self.loaded.get_or_init(|| {
            let intel = Intel::open(&self.dir).map_err(|e| format!("intelligence databases: {e}"))?;
            if intel.sources().is_none() {
                tracing::warn!(
                    "no intelligence databases in {}: IP location and ASN functions return NULL and classes come \
                     from the curated lists alone; run `sleuth intel update`",
                    self.dir.display()
                );
            }
            Ok(intel)
        });
        loaded.as_ref().map_err(String::as_str)
    }
}
