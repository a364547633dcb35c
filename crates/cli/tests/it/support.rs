//! Running the binary, temporary folders, and the small demo tenant the tests share.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

pub fn sleuth() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sleuth"));
    c.env_remove("SLEUTH_TEST_CRASH_AT");
    c
}

/// Runs sleuth with `args`; returns (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let out = sleuth().args(args).output().expect("sleuth runs");
    decode(out)
}

pub fn decode(out: Output) -> (i32, String, String) {
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn temp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

pub fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// The repository's `shared/` folder, which CI places beside the checkout.
pub fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

/// A program the browser tests need: `$env_var`, else `binary` on the PATH; the test stops
/// with how to install it (`package`, Debian's) when it does not run.
pub fn installed(env_var: &str, binary: &str, package: &str) -> PathBuf {
    let binary = std::env::var_os(env_var).map_or_else(|| PathBuf::from(binary), PathBuf::from);
    let found = Command::new(&binary).arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(found, "{} not found: install Debian's {package} (scripts/test does) or set {env_var}", binary.display());
    binary
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// Copies a folder and everything in it.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().map(Result::unwrap) {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Runs a query and returns the rows as JSON objects.
pub fn query(store: &Path, sql: &str) -> Vec<Value> {
    let (code, out, err) = run(&["sql", "--store", path(store), "--format", "json", sql]);
    assert_eq!(code, 0, "query failed: {sql}\n{err}");
    serde_json::from_str::<Vec<Value>>(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

pub fn count(store: &Path, sql: &str) -> i64 {
    let rows = query(store, sql);
    rows[0].as_object().and_then(|o| o.values().next()).and_then(Value::as_i64).expect("a count")
}

/// A small demo tenant (60 users, 10 days), generated and ingested once for all tests.
pub struct Demo {
    pub dir: PathBuf,
    pub store: PathBuf,
    pub manifest: Value,
    pub ingest_stdout: String,
    _keep: tempfile::TempDir,
}

pub const DEMO_ARGS: [&str; 4] = ["--users", "60", "--days", "10"];

pub fn demo() -> &'static Demo {
    static DEMO: OnceLock<Demo> = OnceLock::new();
    DEMO.get_or_init(|| {
        let keep = temp();
        let dir = keep.path().join("export");
        let store = keep.path().join("store");
        let mut args = vec!["demo", path(&dir)];
        args.extend(DEMO_ARGS);
        let (code, _, err) = run(&args);
        assert_eq!(code, 0, "{err}");
        let (code, ingest_stdout, err) = run(&["ingest", path(&dir), "--store", path(&store)]);
        assert_eq!(code, 0, "{ingest_stdout}\n{err}");
        let manifest = serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
        Demo { dir, store, manifest, ingest_stdout, _keep: keep }
    })
}

/// The installed intelligence databases the `sleuth` processes of the tests use (the same
/// resolution as theirs: `$SLEUTH_INTEL_DIR`, else the user's data directory). `scripts/test`
/// installs them into target/intel before the tests run.
pub fn intel_dir() -> PathBuf {
    let dir = sleuth_intel::default_dir();
    assert!(
        dir.join("sources.json").exists(),
        "no intelligence databases in {}: run scripts/test, or `sleuth intel update` with SLEUTH_INTEL_DIR set",
        dir.display()
    );
    dir
}

/// The story of the demo tenant with this id, from its manifest.
pub fn story(id: &str) -> &'static Value {
    let stories = demo().manifest["stories"].as_array().expect("stories");
    stories.iter().find(|s| s["id"] == id).unwrap_or_else(|| panic!("no story {id}"))
}
