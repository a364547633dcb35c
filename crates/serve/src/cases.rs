//! The case record, kept beside the store's tables in `STORE/_workbench/`:
//!
//! ```text
//! _workbench/audit.jsonl                 every change, one JSON line each, append-only
//! _workbench/investigations/ID.json      each investigation's report, as it was produced
//! ```
//!
//! The audit trail is the record: notes, verdict overrides, status, assignee and tags are what
//! replaying it gives. Each line is written and synced before the change is answered; a line
//! torn by a crash is cut off at the next start (and said in the log), so what was answered
//! survives and nothing half-written is believed.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::ServeError;

/// The verdicts an analyst may set, as the investigation names them.
pub const VERDICTS: [&str; 5] =
    ["true_positive", "true_positive_blocked", "benign_true_positive", "false_positive", "inconclusive"];
/// An incident's or investigation's workflow states.
pub const STATUSES: [&str; 3] = ["new", "investigating", "closed"];

/// Bounds on what one change may carry.
pub const MAX_NOTE_CHARS: usize = 20_000;
pub const MAX_REASON_CHARS: usize = 5_000;
pub const MAX_NAME_CHARS: usize = 128;
pub const MAX_TAGS: usize = 32;

/// One change, as the audit trail keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub seq: u64,
    pub at: String,
    /// Who made the change, as the client named them (the token says only that it may).
    pub who: String,
    pub action: String,
    /// The investigation's or incident's id.
    pub target: String,
    pub change: Value,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Note {
    pub at: String,
    pub who: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Override {
    pub verdict: String,
    pub reason: String,
    pub at: String,
    pub who: String,
}

/// What the analysts have said of one investigation or incident.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Case {
    pub status: String,
    pub assignee: Option<String>,
    pub tags: Vec<String>,
    pub notes: Vec<Note>,
    pub verdict_override: Option<Override>,
}

impl Default for Case {
    fn default() -> Case {
        Case { status: "new".into(), assignee: None, tags: Vec::new(), notes: Vec::new(), verdict_override: None }
    }
}

struct State {
    log: File,
    events: Vec<Event>,
    cases: BTreeMap<String, Case>,
}

pub struct Cases {
    dir: PathBuf,
    state: Mutex<State>,
}

const AUDIT: &str = "audit.jsonl";

impl Cases {
    /// Opens (or starts) the case record in `dir`, replaying its audit trail.
    pub fn open(dir: &Path) -> Result<Cases, ServeError> {
        let io = |path: &Path, e: std::io::Error| ServeError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        std::fs::create_dir_all(dir.join("investigations")).map_err(|e| io(dir, e))?;
        let path = dir.join(AUDIT);
        let mut events = Vec::new();
        let mut good_bytes = 0u64;
        if path.exists() {
            let file = File::open(&path).map_err(|e| io(&path, e))?;
            let mut reader = std::io::BufReader::new(file);
            let mut line = String::new();
            loop {
                line.clear();
                let n = reader.read_line(&mut line).map_err(|e| io(&path, e))?;
                if n == 0 {
                    break;
                }
                match serde_json::from_str::<Event>(line.trim_end()) {
                    Ok(event) if line.ends_with('\n') => {
                        events.push(event);
                        good_bytes += n as u64;
                    }
                    _ => {
                        tracing::warn!(file = %path.display(), line = events.len() + 1, "a torn audit line is cut off");
                        break;
                    }
                }
            }
        }
        let log = OpenOptions::new().create(true).append(true).open(&path).map_err(|e| io(&path, e))?;
        log.set_len(good_bytes).map_err(|e| io(&path, e))?;
        let mut cases = BTreeMap::new();
        for event in &events {
            apply(&mut cases, event);
        }
        Ok(Cases { dir: dir.to_path_buf(), state: Mutex::new(State { log, events, cases }) })
    }

    /// Records a change: appended and synced, then applied. Returns the event.
    pub fn record(&self, who: &str, action: &str, target: &str, change: Value) -> Result<Event, ServeError> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let event = Event {
            seq: state.events.len() as u64 + 1,
            at: Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
            who: who.to_string(),
            action: action.to_string(),
            target: target.to_string(),
            change,
        };
        let mut line = serde_json::to_string(&event).unwrap_or_default();
        line.push('\n');
        let path = self.dir.join(AUDIT);
        let io = |e: std::io::Error| ServeError::Io { path: path.display().to_string(), message: e.to_string() };
        state.log.write_all(line.as_bytes()).map_err(io)?;
        state.log.sync_data().map_err(io)?;
        apply(&mut state.cases, &event);
        state.events.push(event.clone());
        Ok(event)
    }

    pub fn case(&self, target: &str) -> Case {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).cases.get(target).cloned().unwrap_or_default()
    }

    /// The audit trail, oldest first, of one target or of all.
    pub fn events(&self, target: Option<&str>) -> Vec<Event> {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.events.iter().filter(|e| target.is_none_or(|t| e.target == t)).cloned().collect()
    }

    /// Where an investigation's report is kept. Ids are the report's own (hex); anything else
    /// names no file.
    pub fn report_path(&self, id: &str) -> Option<PathBuf> {
        (!id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
            .then(|| self.dir.join("investigations").join(format!("{id}.json")))
    }

    /// Keeps a report (written to a temporary file, synced, renamed).
    pub fn keep_report(&self, id: &str, report: &Value) -> Result<(), ServeError> {
        let path = self.report_path(id).ok_or_else(|| ServeError::Refused(format!("{id:?} is not a report id")))?;
        let tmp = path.with_extension("json.partial");
        let io = |e: std::io::Error| ServeError::Io { path: path.display().to_string(), message: e.to_string() };
        let mut file = File::create(&tmp).map_err(io)?;
        file.write_all(serde_json::to_string_pretty(report).unwrap_or_default().as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)
    }

    pub fn report(&self, id: &str) -> Option<Value> {
        let text = std::fs::read_to_string(self.report_path(id)?).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Every kept report's id, newest first.
    pub fn report_ids(&self) -> Vec<String> {
        let mut found: Vec<(std::time::SystemTime, String)> = std::fs::read_dir(self.dir.join("investigations"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let id = name.strip_suffix(".json")?.to_string();
                Some((e.metadata().ok()?.modified().ok()?, id))
            })
            .collect();
        found.sort_by(|a, b| b.cmp(a));
        found.into_iter().map(|(_, id)| id).collect()
    }
}

/// What one event does to the cases.
fn apply(cases: &mut BTreeMap<String, Case>, event: &Event) {
    let case = cases.entry(event.target.clone()).or_default();
    let text = |key: &str| event.change.get(key).and_then(Value::as_str).map(str::to_owned);
    match event.action.as_str() {
        "note" => case.notes.push(Note {
            at: event.at.clone(),
            who: event.who.clone(),
            text: text("text").unwrap_or_default(),
        }),
        "verdict" => {
            case.verdict_override = text("verdict").map(|verdict| Override {
                verdict,
                reason: text("reason").unwrap_or_default(),
                at: event.at.clone(),
                who: event.who.clone(),
            })
        }
        "case" => {
            if let Some(status) = text("status") {
                case.status = status;
            }
            if let Some(assignee) = event.change.get("assignee") {
                case.assignee = assignee.as_str().map(str::to_owned);
            }
            if let Some(tags) = event.change.get("tags").and_then(Value::as_array) {
                case.tags = tags.iter().filter_map(Value::as_str).map(str::to_owned).collect();
            }
        }
        _ => {}
    }
}

/// The change a case update makes, checked: known status, bounded names and tags.
pub fn case_change(
    status: Option<&str>,
    assignee: Option<Option<&str>>,
    tags: Option<&[String]>,
) -> Result<Value, String> {
    let mut change = json!({});
    if let Some(status) = status {
        if !STATUSES.contains(&status) {
            return Err(format!("status {status:?}: say one of {}", STATUSES.join(", ")));
        }
        change["status"] = status.into();
    }
    if let Some(assignee) = assignee {
        if assignee.is_some_and(|a| a.chars().count() > MAX_NAME_CHARS) {
            return Err(format!("an assignee is at most {MAX_NAME_CHARS} characters"));
        }
        change["assignee"] = assignee.map(str::trim).filter(|a| !a.is_empty()).into();
    }
    if let Some(tags) = tags {
        if tags.len() > MAX_TAGS || tags.iter().any(|t| t.chars().count() > MAX_NAME_CHARS || t.trim().is_empty()) {
            return Err(format!("at most {MAX_TAGS} tags, each 1 to {MAX_NAME_CHARS} characters"));
        }
        change["tags"] = tags.iter().map(|t| t.trim()).collect::<Vec<_>>().into();
    }
    if change.as_object().is_some_and(|o| o.is_empty()) {
        return Err("say what changes: status, assignee or tags".into());
    }
    Ok(change)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_survives_a_restart_and_a_torn_line_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let cases = Cases::open(dir.path()).unwrap();
        cases.record("ana", "note", "abc", json!({"text": "called the user"})).unwrap();
        cases.record("ana", "verdict", "abc", json!({"verdict": "false_positive", "reason": "travel"})).unwrap();
        cases.record("bo", "case", "abc", case_change(Some("closed"), Some(Some("bo")), None).unwrap()).unwrap();
        drop(cases);
        // A crash in the middle of a fourth line.
        let mut log = OpenOptions::new().append(true).open(dir.path().join(AUDIT)).unwrap();
        log.write_all(br#"{"seq":4,"at":"2026-"#).unwrap();
        drop(log);
        let cases = Cases::open(dir.path()).unwrap();
        let case = cases.case("abc");
        assert_eq!(case.notes.len(), 1);
        assert_eq!(case.verdict_override.as_ref().unwrap().verdict, "false_positive");
        assert_eq!((case.status.as_str(), case.assignee.as_deref()), ("closed", Some("bo")));
        // The next change follows the last good line.
        cases.record("ana", "note", "abc", json!({"text": "reopened"})).unwrap();
        drop(cases);
        let cases = Cases::open(dir.path()).unwrap();
        assert_eq!(cases.events(Some("abc")).iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3, 4]);
        assert_eq!(cases.case("abc").notes.len(), 2);
    }

    #[test]
    fn report_ids_name_no_other_file() {
        let dir = tempfile::tempdir().unwrap();
        let cases = Cases::open(dir.path()).unwrap();
        assert!(cases.report_path("9f3a0c1d2e4b5a69").is_some());
        for bad in ["../audit", "a/b", "", "x.json", "..", "%2e%2e"] {
            assert!(cases.report_path(bad).is_none(), "{bad}");
        }
        assert!(case_change(Some("done"), None, None).unwrap_err().contains("new, investigating, closed"));
        assert!(case_change(None, None, None).is_err());
    }
}
