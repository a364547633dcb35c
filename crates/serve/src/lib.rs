//! The workbench (`sleuth serve`): an HTTP API and server-rendered pages over one store, for
//! analysts who work an incident together in a browser.
//!
//! - **API** (`/api/...`, described by `/openapi.json`): the hunt's incident queue, the
//!   investigation of a user, workload identity or incident (the same report and verdict as
//!   `sleuth investigate`), the case record (notes, verdict override, status, assignee, tags),
//!   pivots on an entity, and read-only SQL. Errors are JSON of one shape:
//!   `{"error": {"code", "message"}}`.
//! - **Pages** (`/`, `/investigations/{id}`, `/entities/{kind}/{value}`, `/query`): HTML rendered on the server with the
//!   report stage's escaping; one small script file, no inline script, no CDN.
//! - **Case record** ([`cases`]): an append-only audit trail in the store's `_workbench`
//!   folder, replayed at start, so notes and overrides survive restarts.
//! - **Guard** ([`guard`]): loopback by default, a bearer token required otherwise, the `Host`
//!   header checked (DNS rebinding), JSON required on writes (no form CSRF), a strict CSP,
//!   bounded bodies, and a time limit on every query.

pub mod api;
pub mod cases;
pub mod guard;
pub mod pages;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};

pub use cases::Cases;
pub use guard::Token;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{0}")]
    Refused(String),
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error(transparent)]
    Store(#[from] sleuth_store::StoreError),
}

/// How the workbench runs.
#[derive(Debug, Clone)]
pub struct Config {
    pub store: PathBuf,
    /// The address bound: loopback unless a token is given.
    pub bind: SocketAddr,
    pub token: Option<Token>,
    /// The longest a query or an investigation may run.
    pub query_timeout: Duration,
    /// The most rows `/api/sql` returns.
    pub max_rows: usize,
}

impl Config {
    pub fn new(store: PathBuf, bind: SocketAddr) -> Config {
        Config { store, bind, token: None, query_timeout: Duration::from_secs(60), max_rows: 10_000 }
    }
}

/// What every request shares.
pub struct Workbench {
    pub config: Config,
    /// The names a request's `Host` may give: the bound address, and localhost on loopback;
    /// empty (any) when bound to every interface, which needs a token.
    pub hosts: Vec<String>,
    pub cases: Cases,
    /// The last hunt, with the store generation it ran on.
    pub hunt: tokio::sync::Mutex<Option<(u64, Arc<sleuth_detect::Report>)>>,
    /// The built-in runbooks, read once: for people and for workload identities.
    pub people: sleuth_investigate::Runbook,
    pub workloads: sleuth_investigate::Runbook,
}

/// The largest request body: a note or a query, not an upload.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The largest body of `POST /api/investigations`, which may carry an uploaded alert: an
/// incident with all its alerts and evidence is a few MiB.
pub const MAX_ALERT_BODY_BYTES: usize = 8 * 1024 * 1024;

impl Workbench {
    /// Opens the store and its case record. Refuses a non-loopback bind without a token.
    pub fn open(config: Config, bound: SocketAddr) -> Result<Arc<Workbench>, ServeError> {
        if !config.bind.ip().is_loopback() && config.token.is_none() {
            return Err(ServeError::Refused(format!(
                "{} is not a loopback address: the workbench serves evidence of an incident, so it needs a token \
                 (--token-env VAR) to listen there",
                config.bind
            )));
        }
        sleuth_store::Store::open(&config.store)?;
        let cases = Cases::open(&config.store.join("_workbench"))?;
        // On every interface (0.0.0.0, ::) the names clients use are not known here: the token
        // guards alone, and a rebinding page cannot have it (the session cookie is the real
        // origin's, SameSite=Strict).
        let mut hosts = Vec::new();
        if !bound.ip().is_unspecified() {
            hosts.push(bound.to_string());
        }
        if bound.ip().is_loopback() {
            hosts.extend([format!("localhost:{}", bound.port()), format!("127.0.0.1:{}", bound.port())]);
            hosts.push(format!("[::1]:{}", bound.port()));
        }
        let runbook =
            |kind| sleuth_investigate::Runbook::for_kind(kind, None).map_err(|e| ServeError::Refused(e.to_string()));
        let people = runbook(sleuth_investigate::SubjectKind::User)?;
        let workloads = runbook(sleuth_investigate::SubjectKind::ServicePrincipal)?;
        Ok(Arc::new(Workbench { config, hosts, cases, hunt: tokio::sync::Mutex::new(None), people, workloads }))
    }
}

/// Every route, behind the guard.
pub fn router(workbench: Arc<Workbench>) -> Router {
    Router::new()
        .route("/", get(pages::queue))
        .route("/investigations/{id}", get(pages::investigation))
        .route("/entities/{kind}/{value}", get(pages::entity))
        .route("/query", get(pages::query))
        .route("/login", get(pages::login))
        .route("/api/session", post(api::session_start))
        .route("/workbench.js", get(pages::script))
        .route("/workbench.css", get(pages::style))
        .route("/openapi.json", get(api::openapi))
        .route("/api/incidents", get(api::incidents))
        .route("/api/incidents/{id}", post(api::incident_update))
        .route("/api/hunt", post(api::rehunt))
        .route(
            "/api/investigations",
            get(api::investigations)
                .post(api::investigate)
                .layer(axum::extract::DefaultBodyLimit::max(MAX_ALERT_BODY_BYTES)),
        )
        .route("/api/investigations/{id}", get(api::investigation))
        .route("/api/investigations/{id}/notes", post(api::note))
        .route("/api/investigations/{id}/verdict", post(api::verdict))
        .route("/api/investigations/{id}/case", post(api::case_update))
        .route("/api/investigations/{id}/report", get(api::report))
        .route("/api/audit", get(api::audit))
        .route("/api/entities/{kind}/{value}", get(api::entity))
        .route("/api/sql", post(api::sql))
        .route("/api/tables", get(api::tables))
        .fallback(api::not_found)
        .layer(axum::middleware::from_fn_with_state(workbench.clone(), guard::check))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(workbench)
}

/// Serves until the process ends. The caller has bound `listener` (and printed its address).
pub async fn serve(listener: tokio::net::TcpListener, workbench: Arc<Workbench>) -> std::io::Result<()> {
    tokio::spawn(api::warm(workbench.clone()));
    axum::serve(listener, router(workbench)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hosts_taken_follow_the_bind_and_every_interface_needs_a_token() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        sleuth_store::Store::open_or_create(&store).unwrap();
        let loopback: SocketAddr = "127.0.0.1:8750".parse().unwrap();
        let wb = Workbench::open(Config::new(store.clone(), loopback), loopback).unwrap();
        assert!(wb.hosts.contains(&"localhost:8750".to_string()) && wb.hosts.contains(&"127.0.0.1:8750".to_string()));
        assert!(!wb.hosts.iter().any(|h| h.starts_with("evil")));

        let every: SocketAddr = "0.0.0.0:8750".parse().unwrap();
        let refused = Workbench::open(Config::new(store.clone(), every), every).err().unwrap();
        assert!(refused.to_string().contains("needs a token"), "{refused}");
        let mut config = Config::new(store.clone(), every);
        config.token = Some(Token::new("a-token-of-enough-length".into()).unwrap());
        assert!(Workbench::open(config, every).unwrap().hosts.is_empty(), "any name, behind the token");

        let one: SocketAddr = "10.1.2.3:8750".parse().unwrap();
        let mut config = Config::new(store, one);
        config.token = Some(Token::new("a-token-of-enough-length".into()).unwrap());
        assert_eq!(Workbench::open(config, one).unwrap().hosts, ["10.1.2.3:8750"]);
        assert!(Token::new("short".into()).is_err());
    }
}
