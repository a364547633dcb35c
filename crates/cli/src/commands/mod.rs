//! The subcommands, one file each.

mod cluster;
mod collect;
mod compact;
mod demo;
mod feed;
mod hunt;
mod ingest;
mod intel;
mod investigate;
mod kql;
mod report;
mod rule_source;
mod rules;
mod serve;
mod sigma;
mod sql;
mod tables;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Sleuth detects and investigates identity compromise in Microsoft Entra ID and Microsoft 365
/// from the logs a tenant already exports: sign-ins, directory audits, risk detections, the
/// unified audit log and message trace, in any of the dialects Microsoft and the collection
/// tools write.
///
/// Start with `sleuth demo DIR` for a realistic tenant, `sleuth ingest DIR --store STORE` to
/// load exports (`sleuth compact` after a large one), then `sleuth tables`, `sleuth sql` and
/// `sleuth kql` to look around; `sleuth intel update` installs the offline IP databases that
/// `sleuth intel` and the SQL `ip_*` functions use; `sleuth hunt --store STORE` runs the
/// detection rules (`sleuth rules`, Sigma rules too: `sleuth rules import`, `sleuth feed
/// import`), and `sleuth investigate --store STORE --user UPN` investigates an account to a
/// verdict; `sleuth serve --store STORE` opens the same work in a browser; `sleuth cluster`
/// runs hunts and queries on a Ballista cluster.
///
/// Queries over a store hold at most $SLEUTH_MEMORY_LIMIT of working memory each (512MiB,
/// 4GiB, none; half the machine's memory unless set) and spill to $TMPDIR beyond it.
#[derive(Debug, Parser)]
#[command(name = "sleuth", version, about, long_about, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Demo(demo::DemoArgs),
    Collect(collect::CollectArgs),
    Ingest(ingest::IngestArgs),
    Compact(compact::CompactArgs),
    Hunt(hunt::HuntArgs),
    Investigate(investigate::InvestigateArgs),
    Report(report::ReportArgs),
    Rules(rules::RulesCommand),
    #[command(hide = true)]
    Rule(rules::RuleArgs),
    Feed(feed::FeedArgs),
    Intel(intel::IntelArgs),
    Serve(serve::ServeArgs),
    Cluster(cluster::ClusterArgs),
    Sql(sql::SqlArgs),
    Kql(kql::KqlArgs),
    Tables(tables::TablesArgs),
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Collect(args) => collect::run(args),
        Command::Ingest(args) => ingest::run(args),
        Command::Compact(args) => compact::run(args),
        Command::Hunt(args) => hunt::run(args),
        Command::Investigate(args) => investigate::run(args),
        Command::Report(args) => report::run(args),
        Command::Rules(args) => rules::run(args),
        Command::Feed(args) => feed::run_feed(args),
        Command::Rule(args) => rules::run_show(args),
        Command::Intel(args) => intel::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Cluster(args) => cluster::run(args),
        Command::Sql(args) => sql::run(args),
        Command::Kql(args) => kql::run(args),
        Command::Tables(args) => tables::run(args),
    }
}

/// The tokio runtime for the commands that query (DataFusion is async).
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

/// A session over `store`: here, or on the Ballista cluster whose scheduler is at `cluster`.
async fn session(
    store: &sleuth_store::Store,
    cluster: Option<&str>,
) -> anyhow::Result<datafusion::prelude::SessionContext> {
    Ok(match cluster {
        Some(url) => sleuth_cluster::session(store, url).await?,
        None => store.session().await?,
    })
}
