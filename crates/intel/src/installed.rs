//! The intelligence data directory: compiled tables and `sources.json`, which says where each
//! came from, its licence and attribution, and the date of its data.

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::table::RangeTable;

pub const SOURCES_FILE: &str = "sources.json";
/// The places table projected onto countries, written beside it by `sleuth intel update`.
pub const COUNTRIES_FILE: &str = "countries.table";
/// 2: tables are mapped and their values decoded on demand; `countries.table` added.
pub const FORMAT_VERSION: u32 = 2;

/// Where the compiled databases live unless told otherwise: `$SLEUTH_INTEL_DIR`, else
/// `$XDG_DATA_HOME/sleuth/intel`, else `~/.local/share/sleuth/intel`.
pub fn default_dir() -> PathBuf {
    let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = env("SLEUTH_INTEL_DIR") {
        return dir;
    }
    let data = env("XDG_DATA_HOME").or_else(|| env("HOME").map(|home| home.join(".local/share")));
    data.unwrap_or_else(|| PathBuf::from(".")).join("sleuth").join("intel")
}

/// One part of the installed data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// Geolocation: country, region, city, coordinates.
    Places,
    /// Autonomous systems and their organisations.
    Asns,
    /// Provider ranges: hosting, CDN, VPN, Tor exits, crawlers.
    Origins,
}

impl Part {
    pub const ALL: [Part; 3] = [Part::Places, Part::Asns, Part::Origins];

    pub fn file_name(self) -> &'static str {
        match self {
            Part::Places => "places.table",
            Part::Asns => "asns.table",
            Part::Origins => "origins.table",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Part::Places => "places",
            Part::Asns => "asns",
            Part::Origins => "origins",
        }
    }
}

/// Provenance of one compiled table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    pub part: Part,
    /// What it was compiled from: `npm @ip-location-db/asn@2.3.2026061719`, a file path, ...
    pub from: String,
    /// When the data itself was built (YYYY-MM-DD), as its publisher states it.
    pub data_date: String,
    pub licence: String,
    pub attribution: String,
    pub ranges: usize,
    pub values: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sources {
    pub format_version: u32,
    /// When `sleuth intel update` compiled this directory (UTC, RFC 3339).
    pub updated_at: String,
    pub sources: Vec<Source>,
}

impl Sources {
    pub fn get(&self, part: Part) -> Option<&Source> {
        self.sources.iter().find(|s| s.part == part)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InstalledError {
    #[error("{path}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> InstalledError + '_ {
    move |source| InstalledError::Io { path: path.to_path_buf(), source }
}

/// The sources of an installed directory; `None` when nothing is installed there.
pub fn read_sources(dir: &Path) -> Result<Option<Sources>, InstalledError> {
    let path = dir.join(SOURCES_FILE);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(&path)(e)),
    };
    let sources: Sources = serde_json::from_slice(&bytes)
        .map_err(|e| InstalledError::Invalid { path: path.clone(), message: e.to_string() })?;
    if sources.format_version != FORMAT_VERSION {
        let message =
            format!("format {} (this build reads {FORMAT_VERSION}); run `sleuth intel update`", sources.format_version);
        return Err(InstalledError::Invalid { path, message });
    }
    Ok(Some(sources))
}

/// Maps an installed table (`file`: a part's [`Part::file_name`] or [`COUNTRIES_FILE`]).
pub fn read_table<V>(dir: &Path, file: &str) -> Result<RangeTable<V>, InstalledError> {
    let path = dir.join(file);
    RangeTable::open(&path).map_err(io_error(&path))
}

pub fn write_table<V>(dir: &Path, file: &str, table: &RangeTable<V>) -> Result<(), InstalledError> {
    let path = dir.join(file);
    let file = fs::File::create(&path).map_err(io_error(&path))?;
    let mut out = BufWriter::new(file);
    table.write_to(&mut out).and_then(|()| out.flush()).map_err(io_error(&path))?;
    out.get_ref().sync_all().map_err(io_error(&path))
}

pub fn write_sources(dir: &Path, sources: &Sources) -> Result<(), InstalledError> {
    let path = dir.join(SOURCES_FILE);
    let text = serde_json::to_string_pretty(sources).expect("sources serialise");
    fs::write(&path, text + "\n").map_err(io_error(&path))
}
