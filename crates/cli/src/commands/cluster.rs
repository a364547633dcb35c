use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use sleuth_cluster::ExecutorOptions;
use sleuth_intel::SharedIntel;

/// Run Sleuth's queries on an Apache Ballista cluster: a scheduler and executors that know
/// Sleuth's functions.
///
/// Start one scheduler, then executors that work for it; `sleuth hunt --cluster df://HOST:PORT`
/// and `sleuth sql --cluster df://HOST:PORT` then plan here and run there. The executors read
/// the store's Parquet files by the path the client opened, so the store must be at that path
/// for every executor, and answer the ip_* functions from their own intelligence databases
/// (SLEUTH_INTEL_DIR, or `sleuth intel update`).
///
/// Ballista's services have no authentication, so both bind to loopback addresses only:
/// a cluster of processes on one machine. docs/cluster.md says more.
///
/// Example, on one machine:
///   sleuth cluster scheduler &
///   sleuth cluster executor --bind 127.0.0.1:50051 &
///   sleuth cluster executor --bind 127.0.0.1:50061 &
///   sleuth hunt --store case --cluster df://127.0.0.1:50050
#[derive(Debug, Args)]
pub struct ClusterArgs {
    #[command(subcommand)]
    role: Role,
}

#[derive(Debug, Subcommand)]
enum Role {
    Scheduler(SchedulerArgs),
    Executor(ExecutorArgs),
}

/// Run a scheduler: it plans queries into stages and hands their tasks to executors.
///
/// The first line on stdout is `listening on df://HOST:PORT`, the address clients give to
/// --cluster (with --bind 127.0.0.1:0 the system picks the port). Stop it with Ctrl-C.
#[derive(Debug, Args)]
struct SchedulerArgs {
    /// The loopback address and port to listen on.
    #[arg(long, default_value = "127.0.0.1:50050")]
    bind: SocketAddr,
}

/// Run an executor: it runs the tasks a scheduler hands it and serves their results.
///
/// Its tasks share $SLEUTH_MEMORY_LIMIT of memory (half the machine's unless set) and spill to
/// --work-dir beyond it. Stop it with Ctrl-C.
#[derive(Debug, Args)]
struct ExecutorArgs {
    /// The scheduler to work for.
    #[arg(long, default_value = "df://127.0.0.1:50050", value_name = "df://HOST:PORT")]
    scheduler: String,
    /// The loopback address and port where it serves results (Arrow Flight).
    #[arg(long, default_value = "127.0.0.1:50051")]
    bind: SocketAddr,
    /// The port, on --bind's address, where the scheduler hands it tasks [default: --bind's
    /// port + 1].
    #[arg(long)]
    task_port: Option<u16>,
    /// Tasks run at once [default: one per core].
    #[arg(long, default_value_t = 0, hide_default_value = true)]
    cores: usize,
    /// Where intermediate results are written [default: a temporary folder].
    #[arg(long)]
    work_dir: Option<PathBuf>,
}

pub fn run(args: ClusterArgs) -> anyhow::Result<ExitCode> {
    let intel = SharedIntel::for_dir(&sleuth_intel::default_dir());
    match args.role {
        Role::Scheduler(args) => server_runtime()?.block_on(async {
            sleuth_cluster::scheduler(args.bind, intel, |bound| {
                println!("listening on df://{bound}");
            })
            .await
            .context("scheduler")
        })?,
        Role::Executor(args) => {
            let scheduler = sleuth_cluster::scheduler_address(&args.scheduler)?;
            let task_port = match args.task_port {
                Some(port) => port,
                None => args.bind.port().checked_add(1).context("--bind's port is the last one: give --task-port")?,
            };
            let memory_limit = sleuth_store::memory::limit()?.unwrap_or(0) as u64;
            let options = ExecutorOptions {
                bind: args.bind,
                task_port,
                scheduler,
                cores: args.cores,
                work_dir: args.work_dir,
                memory_limit,
            };
            eprintln!("executor on {} working for df://{scheduler}", args.bind);
            server_runtime()?.block_on(sleuth_cluster::executor(options, intel)).context("executor")?
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The servers decode and plan deep plans on their worker threads: give them the stack
/// Ballista's own servers have.
fn server_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().thread_stack_size(32 << 20).build()?)
}
