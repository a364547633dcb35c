use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use sleuth_store::Store;

use crate::output::{OutputFormat, write_batches};

/// Run a SQL query over the store's tables.
///
/// Tables: signins, audits, risk_detections, mailbox_activity, message_trace (see
/// `sleuth tables`). The dialect is DataFusion's SQL (PostgreSQL-like), with Sleuth's
/// intelligence functions: ua_class(user_agent), geo_distance_km(lat1, lon1, lat2, lon2) and
/// ip_special_range(ip). Text from the logs is
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
}

pub fn run(args: SqlArgs) -> anyhow::Result<ExitCode> {
    let store = Store::open(&args.store)?;
    let batches = super::runtime()?.block_on(async {
        let ctx = store.session().await?;
        let df = ctx.sql(&args.query).await.context("in the query")?;
        anyhow::Ok(df.collect().await?)
    })?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    write_batches(args.format, &batches, &mut out)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
