//! The render stage: everything a person reads goes through here.
//!
//! Every string that comes from a log is attacker-controlled: a user agent, a display name, a
//! mailbox rule's name, a file name in an export. [`text`] owns how such a string is made safe
//! for each human-facing output (terminal, CSV, Markdown, HTML); no other crate writes its own
//! escaping. JSON output is not rendered here: it stays exact, escaped by serde.
//! [`hunt`] writes a hunt's incidents for the terminal; [`table`] writes rows as a terminal grid or CSV.
//! [`report`] renders an investigation report (Markdown, HTML, incident report) from its JSON.
//! [`template`] is the one filler of `{name}` templates (rule explanations, runbook evidence).

pub mod hunt;
pub mod report;
pub mod table;
pub mod template;
pub mod text;
