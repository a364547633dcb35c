//! Sleuth's queries on an Apache Ballista cluster (DataFusion's distributed engine).
//!
//! A Ballista scheduler plans a query into stages and hands their tasks to executors; the
//! client only plans. Sleuth's own functions (`ip_class`, `ua_class`, `count_same_before`, ...
//! see `sleuth_store::functions`, and KQL's `kql_*`) are named in the plans that travel, so the scheduler and
//! every executor must have them compiled in and registered: [`scheduler`] and [`executor`]
//! run Ballista's with them, each answering the `ip_*` functions from its own installed
//! databases (`sleuth intel update` on every machine, or a shared `SLEUTH_INTEL_DIR`).
//! [`session`] is a store session whose queries run on the cluster: the tables are the
//! store's Parquet files by path, so the executors must see the store at the same path.
//!
//! Ballista's gRPC and Flight services have no authentication of their own, so both servers
//! bind to loopback addresses only (docs/cluster.md).

mod engine;

use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ballista::prelude::SessionContextExt;
use ballista_core::extension::{ballista_aggregate_functions, ballista_scalar_functions, ballista_window_functions};
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_executor::execution_engine::DefaultExecutionEngine;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::SessionBuilder;
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::{create_scheduler, start_grpc_service_with_listener};
use datafusion::execution::FunctionRegistry;
use datafusion::execution::session_state::SessionState;
use datafusion::prelude::SessionContext;
use datafusion_proto::protobuf::{LogicalPlanNode, PhysicalPlanNode};
use sleuth_intel::SharedIntel;
use sleuth_store::functions::Functions;
use sleuth_store::{Store, StoreError};

/// The scheduler's port when a `df://` address names none (Ballista's own default).
pub const DEFAULT_SCHEDULER_PORT: u16 = 50050;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "{what} would listen on {addr}, which is not a loopback address: Ballista's services have no \
         authentication, so Sleuth's cluster listens on this machine only (docs/cluster.md)"
    )]
    NotLoopback { what: &'static str, addr: SocketAddr },
    #[error("cannot listen on {addr}: {reason}")]
    Bind { addr: SocketAddr, reason: String },
    #[error("{0:?} is not a scheduler address: write df://HOST:PORT (e.g. df://127.0.0.1:50050)")]
    Url(String),
    #[error("no scheduler answers at {url} ({reason}): start one with `sleuth cluster scheduler`")]
    Unreachable { url: String, reason: String },
    #[error("ballista: {0}")]
    Ballista(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),
}

impl From<ballista_core::error::BallistaError> for ClusterError {
    fn from(error: ballista_core::error::BallistaError) -> Self {
        ClusterError::Ballista(error.to_string())
    }
}

/// Runs a scheduler on `bind` until the process ends. `ready` is called once it listens.
pub async fn scheduler(
    bind: SocketAddr,
    intel: Arc<SharedIntel>,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), ClusterError> {
    loopback("the scheduler", bind)?;
    let sessions: SessionBuilder = Arc::new(move |config| {
        let mut state = ballista_core::utils::default_session_builder(config)?;
        register(&mut state, &intel)?;
        Ok(state)
    });
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| ClusterError::Bind { addr: bind, reason: e.to_string() })?;
    let bound = listener.local_addr().map_err(|e| ClusterError::Bind { addr: bind, reason: e.to_string() })?;
    // Executors are told to call back here: the port actually bound (port 0 picks one).
    let mut config = SchedulerConfig::default().with_override_session_builder(sessions);
    config.bind_host = bound.ip().to_string();
    config.bind_port = bound.port();
    config.external_host = bound.ip().to_string();
    config.validate()?;
    let config = Arc::new(config);
    let cluster = BallistaCluster::new_from_config(&config).await?;
    let server = create_scheduler::<LogicalPlanNode, PhysicalPlanNode>(cluster, config).await?;
    ready(bound);
    start_grpc_service_with_listener(listener, server).await?;
    Ok(())
}

/// Where an executor listens, which scheduler it works for, and with what.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// Where the executor serves its results (Arrow Flight) to other executors and clients.
    pub bind: SocketAddr,
    /// The port on `bind`'s address where the scheduler hands it tasks.
    pub task_port: u16,
    pub scheduler: SocketAddr,
    /// Tasks run at once; 0 for one per core.
    pub cores: usize,
    /// Where intermediate results (shuffle files) are written; a temporary folder when `None`.
    pub work_dir: Option<PathBuf>,
    /// The memory its tasks share before they spill, in bytes.
    pub memory_limit: u64,
}

/// Runs an executor until the process ends.
pub async fn executor(options: ExecutorOptions, intel: Arc<SharedIntel>) -> Result<(), ClusterError> {
    loopback("the executor", options.bind)?;
    let registry = executor_functions(&intel);
    let host = options.bind.ip().to_string();
    let config = ExecutorProcessConfig {
        bind_host: host.clone(),
        external_host: Some(host),
        port: options.bind.port(),
        grpc_port: options.task_port,
        scheduler_host: options.scheduler.ip().to_string(),
        scheduler_port: options.scheduler.port(),
        // Started beside a scheduler that may not listen yet: keep trying for a while.
        scheduler_connect_timeout_seconds: 30,
        vcores: options.cores,
        work_dir: options.work_dir.map(|d| d.to_string_lossy().into_owned()),
        memory_pool_size: Some(options.memory_limit),
        override_function_registry: Some(Arc::new(registry)),
        override_execution_engine: Some(Arc::new(engine::WithoutOperatorMetrics(DefaultExecutionEngine::new()))),
        ..ExecutorProcessConfig::default()
    };
    start_executor_process(Arc::new(config)).await?;
    Ok(())
}

/// A session over `store` (as [`Store::session`]) whose queries the scheduler at `url`
/// (`df://HOST:PORT`) runs on its executors.
pub async fn session(store: &Store, url: &str) -> Result<SessionContext, ClusterError> {
    let scheduler = scheduler_address(url)?;
    TcpStream::connect_timeout(&scheduler, Duration::from_secs(5))
        .map_err(|e| ClusterError::Unreachable { url: url.to_string(), reason: e.to_string() })?;
    let mut state = store.session().await?.state();
    // Ballista rebuilds the session from its configuration, which would replace the default
    // catalog (the store's tables) with an empty one: it exists, keep it.
    state.config_mut().options_mut().catalog.create_default_catalog_and_schema = false;
    let url = format!("df://{scheduler}");
    let ctx = SessionContext::remote_with_state(&url, state).await?;
    // and it replaces the session's functions with DataFusion's: Sleuth's go back in.
    sleuth_store::functions::register(&ctx, &SharedIntel::for_dir(&sleuth_intel::default_dir()));
    sleuth_kql::udf::register(&ctx);
    // Adaptive planning hung on a left join to an empty two-key aggregate (docs/cluster.md);
    // and Ballista plans sort-merge joins, which cannot compare timestamp keys (password-spray
    // over 270 k sign-ins failed): joins are hash joins, as in a local session, held within
    // each executor's memory limit.
    let state = ctx.state_ref();
    let mut state = state.write();
    let options = state.config_mut().options_mut();
    options.set("ballista.planner.adaptive.enabled", "false")?;
    options.set("datafusion.optimizer.prefer_hash_join", "true")?;
    options.set("ballista.optimizer.hash_join_max_build_partition_bytes", "0")?;
    drop(state);
    Ok(ctx)
}

/// The scheduler's socket address in a `df://HOST[:PORT]` URL.
pub fn scheduler_address(url: &str) -> Result<SocketAddr, ClusterError> {
    let bad = || ClusterError::Url(url.to_string());
    let rest = url.strip_prefix("df://").ok_or_else(bad)?.trim_end_matches('/');
    if rest.is_empty() || rest.contains(['/', '?', '#', '@']) {
        return Err(bad());
    }
    if let Ok(addr) = rest.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let bare = rest.strip_prefix('[').and_then(|r| r.strip_suffix(']')).unwrap_or(rest);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, DEFAULT_SCHEDULER_PORT));
    }
    // A host name, with or without its port.
    let named = if rest.contains(':') { rest.to_string() } else { format!("{rest}:{DEFAULT_SCHEDULER_PORT}") };
    named.to_socket_addrs().map_err(|_| bad())?.next().ok_or_else(bad)
}

/// Every function an executor may meet in a plan: DataFusion's as a Ballista client has them
/// (Ballista's default executor registry leaves out the array functions, `array_has` ...),
/// and Sleuth's.
fn executor_functions(intel: &Arc<SharedIntel>) -> BallistaFunctionRegistry {
    let Functions { scalar, window } = sleuth_store::functions::all(intel);
    let scalar = ballista_scalar_functions()
        .into_iter()
        .chain(scalar.into_iter().map(Arc::new))
        .chain(sleuth_kql::udf::all().iter().cloned());
    let window = ballista_window_functions().into_iter().chain(window.into_iter().map(Arc::new));
    let aggregate = ballista_aggregate_functions();
    BallistaFunctionRegistry {
        scalar_functions: scalar.flat_map(|f| names(f.name(), f.aliases(), &f)).collect(),
        aggregate_functions: aggregate.into_iter().flat_map(|f| names(f.name(), f.aliases(), &f)).collect(),
        window_functions: window.flat_map(|f| names(f.name(), f.aliases(), &f)).collect(),
        ..BallistaFunctionRegistry::default()
    }
}

/// A function under its name and each of its aliases.
fn names<F>(name: &str, aliases: &[String], f: &Arc<F>) -> Vec<(String, Arc<F>)> {
    std::iter::once(name).chain(aliases.iter().map(String::as_str)).map(|n| (n.to_string(), f.clone())).collect()
}

/// Sleuth's functions (the store's and KQL's) in a scheduler's session.
fn register(state: &mut SessionState, intel: &Arc<SharedIntel>) -> datafusion::error::Result<()> {
    let Functions { scalar, window } = sleuth_store::functions::all(intel);
    for udf in scalar.into_iter().map(Arc::new).chain(sleuth_kql::udf::all().iter().cloned()) {
        state.register_udf(udf)?;
    }
    for udwf in window {
        state.register_udwf(Arc::new(udwf))?;
    }
    Ok(())
}

fn loopback(what: &'static str, addr: SocketAddr) -> Result<(), ClusterError> {
    if addr.ip().is_loopback() { Ok(()) } else { Err(ClusterError::NotLoopback { what, addr }) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduler_addresses_take_the_default_port_and_refuse_other_urls() {
        assert_eq!(scheduler_address("df://127.0.0.1:7000").unwrap(), "127.0.0.1:7000".parse().unwrap());
        assert_eq!(scheduler_address("df://127.0.0.1").unwrap(), "127.0.0.1:50050".parse().unwrap());
        assert_eq!(scheduler_address("df://[::1]:7000/").unwrap(), "[::1]:7000".parse().unwrap());
        assert_eq!(scheduler_address("df://[::1]").unwrap(), "[::1]:50050".parse().unwrap());
        for bad in ["http://127.0.0.1:50050", "127.0.0.1:50050", "df://", "df://h:1/path", "df://user@h:1"] {
            assert!(matches!(scheduler_address(bad), Err(ClusterError::Url(_))), "{bad}");
        }
    }

    #[test]
    fn servers_refuse_addresses_other_machines_can_reach() {
        let open: SocketAddr = "0.0.0.0:50050".parse().unwrap();
        let error = loopback("the scheduler", open).unwrap_err().to_string();
        assert!(error.contains("0.0.0.0:50050") && error.contains("no authentication"), "{error}");
        assert!(loopback("the scheduler", "127.0.0.1:50050".parse().unwrap()).is_ok());
        assert!(loopback("the scheduler", "[::1]:50050".parse().unwrap()).is_ok());
    }
}
