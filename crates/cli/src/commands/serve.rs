use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use sleuth_serve::{Config, Token, Workbench};

/// Serve the workbench: a web UI and HTTP API over a store, for triage, investigation, notes
/// and verdicts with colleagues.
///
/// Opens http://HOST:PORT/ with the hunt's incident queue; an incident or any account can be
/// investigated there (the same report and verdict as `sleuth investigate`), annotated (notes,
/// a verdict override with its reason, status, assignee, tags) and taken away as JSON,
/// Markdown or HTML with its case record. The case record lives in STORE/_workbench, an
/// append-only audit trail (who, when, what changed) that survives restarts. /query runs
/// read-only SQL beside the tables' documentation; /openapi.json describes the API.
///
/// Security: binds to loopback by default. Any other address needs a token, read from the
/// environment variable --token-env names (never the command line): every request must then
/// carry `Authorization: Bearer TOKEN`, or sign in once at /login in a browser. Requests whose
/// Host header is not the bound address (or localhost) are refused (DNS rebinding); requests
/// that change something must be JSON (no cross-site forms); pages carry a strict CSP and run
/// one script of the server's own. docs/serve.md says more.
///
/// The first line on stdout is `listening on http://HOST:PORT` (with --bind 127.0.0.1:0 the
/// system picks the port). Stop it with Ctrl-C.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The store folder.
    #[arg(long, short)]
    store: PathBuf,
    /// The address and port to listen on.
    #[arg(long, default_value = "127.0.0.1:8750")]
    bind: SocketAddr,
    /// The environment variable holding the token requests must carry (at least 16
    /// characters). Required to listen on any address but loopback.
    #[arg(long, value_name = "VAR")]
    token_env: Option<String>,
    /// Seconds one query or investigation may run before it is stopped.
    #[arg(long, default_value_t = 120, value_name = "SECONDS")]
    query_timeout: u64,
    /// Open the workbench in the default browser once it listens.
    #[arg(long)]
    open: bool,
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let token = match &args.token_env {
        Some(var) => Some(
            Token::new(
                std::env::var(var)
                    .ok()
                    .filter(|t| !t.trim().is_empty())
                    .with_context(|| format!("the environment variable {var} holds no token"))?,
            )
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("the token in {var}"))?,
        ),
        None => None,
    };
    let mut config = Config::new(args.store.clone(), args.bind);
    config.token = token;
    config.query_timeout = Duration::from_secs(args.query_timeout.max(1));
    if !config.bind.ip().is_loopback() && config.token.is_none() {
        anyhow::bail!(
            "{} is not a loopback address: the workbench serves evidence of an incident, so listening there needs \
             a token (--token-env VAR)",
            config.bind
        );
    }
    super::runtime()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.bind)
            .await
            .with_context(|| format!("listening on {}", config.bind))?;
        let bound = listener.local_addr()?;
        let workbench = Workbench::open(config, bound).with_context(|| format!("opening {}", args.store.display()))?;
        let url = format!("http://{bound}");
        println!("listening on {url}");
        use std::io::Write as _;
        std::io::stdout().flush()?;
        if args.open && std::process::Command::new("xdg-open").arg(&url).spawn().is_err() {
            eprintln!("could not open a browser: open {url} yourself");
        }
        sleuth_serve::serve(listener, workbench).await.context("serving")?;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
