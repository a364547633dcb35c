use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use datafusion::prelude::SessionContext;
use sleuth_store::Store;

use crate::output::{OutputFormat, print_batches};

/// Run a KQL (Kusto) query over the store: the queries of Sentinel and of runbooks, offline.
///
/// Tables: Sentinel's SigninLogs, AADNonInteractiveUserSignInLogs, AADSignInLogs (both),
/// AADServicePrincipalSignInLogs, AADManagedIdentitySignInLogs, AuditLogs,
/// AADUserRiskEvents, AADRiskyUsers and OfficeActivity, with Sentinel's column names and
/// dynamic columns (LocationDetails, DeviceDetail, Status, InitiatedBy, TargetResources ...),
/// and the store's own tables by their names. `datatable` queries need no store.
///
/// `now()` and `ago()` count from --now, by default the latest event in the store (an export is
/// a snapshot: on the analyst's clock `ago(1d)` would find nothing); without a store, the
/// clock. What is supported: docs/kql.md.
///
/// Example: sleuth kql --store case "SigninLogs | where ResultType != '0'
/// | summarize failures = count() by UserPrincipalName | top 10 by failures"
#[derive(Debug, Args)]
pub struct KqlArgs {
    /// The query (or --file).
    #[arg(required_unless_present = "file", conflicts_with = "file")]
    query: Option<String>,
    /// Read the query from this file.
    #[arg(long, short = 'f')]
    file: Option<PathBuf>,
    /// The store folder (not needed when the query only uses `datatable`).
    #[arg(long, short)]
    store: Option<PathBuf>,
    /// What now() and ago() count from (e.g. 2026-02-22T14:30:00Z).
    #[arg(long)]
    now: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
    /// Run on the Ballista cluster whose scheduler is at this address (`sleuth cluster`)
    /// instead of in this process. The executors must see the store at the same path.
    #[arg(long, value_name = "df://HOST:PORT", requires = "store")]
    cluster: Option<String>,
}

pub fn run(args: KqlArgs) -> anyhow::Result<ExitCode> {
    let text = match (&args.query, &args.file) {
        (Some(query), _) => query.clone(),
        (None, Some(file)) => std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?,
        (None, None) => bail!("give a query or --file"),
    };
    let batches = super::runtime()?.block_on(async {
        let (ctx, latest) = match &args.store {
            Some(path) => {
                let store = Store::open(path)?;
                let ctx = super::session(&store, args.cluster.as_deref()).await?;
                let latest = sleuth_kql::latest_event(&ctx).await?;
                (ctx, latest)
            }
            // datatable, range and print alone: no store, the same memory limit.
            None => (SessionContext::new_with_config_rt(Default::default(), sleuth_store::memory::runtime()?), None),
        };
        let now = match &args.now {
            Some(text) => sleuth_kql::parse_datetime(text)
                .map(|nanos| nanos.div_euclid(1000))
                .with_context(|| format!("--now {text}: not a date and time (e.g. 2026-02-22T14:30:00Z)"))?,
            None => latest.unwrap_or_else(|| chrono::Utc::now().timestamp_micros()),
        };
        let tables = sleuth_kql::sentinel::tables(&ctx).await?;
        let frame = match sleuth_kql::query(&ctx, &tables, &text, &sleuth_kql::Options::at_micros(now)).await {
            Ok(frame) => frame,
            Err(e) => bail!("in the query, {}", e.show(&text)),
        };
        anyhow::Ok(frame.collect().await.context("running the query")?)
    })?;
    print_batches(args.format, &batches)?;
    Ok(ExitCode::SUCCESS)
}
