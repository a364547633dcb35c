//! Integration tests: the real `sleuth` binary on real-format data, in temporary folders.
//! One test binary for the whole CLI (DataFusion links slowly), one module per capability.

mod bad_input;
mod cli;
mod cluster;
mod collect;
mod demo;
mod dialects;
mod hostile;
mod hunt;
mod intel;
mod investigate;
mod kql;
mod online;
mod report_html;
mod rules;
mod samples;
mod serve;
mod sigma;
mod single_events;
mod sources;
mod store;
mod support;
mod verdicts;
mod webdriver;
