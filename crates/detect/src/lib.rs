//! Detections: rules as data files (`rules/*.toml`, see [`rule`]), the catalog that holds and
//! configures them, and the hunt that runs them over a store session and ranks incidents.

pub mod catalog;
pub mod hunt;
pub mod kept;
pub mod rule;
pub mod sigma;

pub use catalog::{Catalog, CatalogError};
pub use hunt::{Alert, Filter, Findings, Incident, Report, SCHEMA_VERSION, find, hunt};
pub use rule::{Language, PreparedTable, Rule, RuleError, RuleSql, Severity};
pub use sigma::{Outcome, Placeholders};
