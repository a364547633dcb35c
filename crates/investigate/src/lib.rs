//! Investigation: given an account and a moment (or none), Sleuth does what a Tier-2 analyst
//! does, in order:
//!
//! ```text
//! subject ─► gather (the account's records, baseline, enrichment) ─► ask (runbook questions,
//! pivoting on what each finds) ─► verdict (fixed rules over the conclusions) ─► report (JSON,
//! rendered as Markdown and HTML by `sleuth_render::report`)
//! ```

pub mod alert;
pub mod ask;
pub mod context;
pub mod gather;
pub mod report;
pub mod response;
pub mod runbook;
mod sql;
pub mod subject;
pub mod time;
pub mod verdict;
pub mod workload;

use std::time::Instant;

use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;

pub use context::Context;
pub use gather::{MAX_BASELINE_DAYS, MAX_FOLLOW_DAYS, MAX_REACH_HOURS, Span};
pub use report::{Report, SCHEMA_VERSION};
pub use runbook::Runbook;
pub use subject::{Focus, Subject, SubjectKind};
pub use verdict::Verdict;

#[derive(Debug, thiserror::Error)]
pub enum InvestigateError {
    #[error("no sign-in, audit or mailbox record in the store names {0}")]
    UnknownUser(String),
    #[error(
        "no service principal or managed identity sign-in, and no directory change, in the store names {0} (by display name, application id or object id)"
    )]
    UnknownServicePrincipal(String),
    #[error(
        "none of the account's records carries a readable time (ingest counts them as kept without a time), so no window can be placed; give one with --at"
    )]
    NoTime,
    #[error("investigation span: {0}")]
    Span(String),
    #[error("{0}")]
    Subject(String),
    #[error("alert file {path}: {why}")]
    Alert { path: String, why: String },
    #[error("analyst context {path}: {why}")]
    Context { path: String, why: String },
    #[error("runbook question file {file}: {why}")]
    Runbook { file: String, why: String },
    #[error("{what}: {source}")]
    Query { what: String, source: Box<DataFusionError> },
    #[error(transparent)]
    DataFusion(#[from] DataFusionError),
    #[error(transparent)]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
}

impl InvestigateError {
    fn query(what: &str, source: DataFusionError) -> InvestigateError {
        InvestigateError::Query { what: what.to_owned(), source: Box::new(source) }
    }
}

/// What to investigate and with what.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The account: a user principal name, or (with `kind` service principal) a service
    /// principal's or managed identity's display name, application id or object id.
    pub user: &'a str,
    pub kind: SubjectKind,
    pub focus: Focus,
    pub span: Span,
    pub context: &'a Context,
    pub runbook: &'a Runbook,
}

/// Investigates `request.user` in `ctx` (a store session) and writes the report. The session
/// gains the subject tables (`subject_*`); a later investigation in the same session replaces
/// them.
pub async fn investigate(ctx: &SessionContext, request: &Request<'_>) -> Result<Report, InvestigateError> {
    let started = Instant::now();
    let (subject, counts) = match request.kind {
        SubjectKind::User => gather::gather(ctx, request.user, &request.focus, request.span, request.context).await?,
        SubjectKind::ServicePrincipal => {
            workload::gather(ctx, request.user, &request.focus, request.span, request.context).await?
        }
    };
    let (answers, facts) = ask::ask_all(ctx, request.runbook).await?;
    let history = verdict::History {
        days: sql::count(ctx, "SELECT CAST(baseline_days AS BIGINT) FROM subject").await?,
        successes: sql::count(ctx, "SELECT CAST(baseline_successes AS BIGINT) FROM subject").await?,
    };
    let decision = verdict::decide(&facts, &answers, history);
    let parts = report::Parts { subject, counts, answers, facts, decision, runbook: request.runbook, duration_ms: 0 };
    let mut report = report::build(ctx, parts).await?;
    report.metrics.duration_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}
