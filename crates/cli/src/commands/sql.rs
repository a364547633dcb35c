use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use sleuth_store::Store;

use crate::output::{OutputFormat, print_batches};

/// Run a SQL query over the store's tables.
///
/// Tables: signins, audits, risk_detections, mailbox_activity, message_trace,
/// service_principal_signins, graph_activity, azure_activity, pim_alerts, directory_users (see `sleuth tables`),
/// and the view ip_addresses (every signing-in address with the log's and
/// the databases' country and ASN side by side, its class, and whether they disagree). The
/// dialect is DataFusion's SQL (PostgreSQL-like), with Sleuth's intelligence functions:
/// ua_class(user_agent), geo_distance_km(lat1, lon1, lat2, lon2), ip_special_range(ip),
/// ip_country, ip_region, ip_city, ip_latitude, ip_longitude, ip_accuracy_km, ip_asn,
/// ip_org (ip), and ip_class, ip_provider, ip_bulletproof, ip_evidence (ip [, log_asn]).
/// The ip_ functions read the databases `sleuth intel update` installs. Text from the logs is
/// printed safely: control characters are escaped in tables, and CSV cells that a spreadsheet
/// would run as formulas are neutralised.
///
/// Example: sleuth sql --store case "SELECT user_principal_name, count(*) FROM signins
/// WHERE result_type <> 0 GROUP BY 1 ORDER BY 2 DESC LIMIT 10"
#[derive(Debug, Args)]
pub struct SqlArgs {
    /// The query.
    query: String,
    /// The store folder.
    #[arg(long, short)]
    store: PathBuf,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
    /// Run on the Ballista cluster whose scheduler is at this address (`sleuth cluster`)
    /// instead of in this process. The executors must see the store at the same path.
    #[arg(long, value_name = "df://HOST:PORT")]
    cluster: Option<String>,
}

pub fn run(args: SqlArgs) -> anyhow::Result<ExitCode> {
    let store = Store::open(&args.store)?;
    let batches = super::runtime()?.block_on(async {
        let ctx = super::session(&store, args.cluster.as_deref()).await?;
        let df = sleuth_store::read_only(&ctx, &args.query).await.context("in the query")?;
        anyhow::Ok(df.collect().await?)
    })?;
    print_batches(args.format, &batches)?;
    Ok(ExitCode::SUCCESS)
}
