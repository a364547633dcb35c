//! Queries: a DataFusion session with every table of the store registered under its name.

use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::dataframe::DataFrame;
use datafusion::datasource::empty::EmptyTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::error::DataFusionError;
use datafusion::execution::context::SQLOptions;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::{SessionConfig, SessionContext};
use sleuth_ingest::Table;
use sleuth_intel::SharedIntel;

use crate::{Store, StoreError};

impl Store {
    /// A session over the committed state of the store, read from the manifest: files that an
    /// interrupted ingest left behind are never read. The intelligence functions
    /// (`ua_class`, `ip_class`, `ip_country`, ... see `functions.rs`) are registered and answer
    /// from the databases in [`sleuth_intel::default_dir`].
    pub async fn session(&self) -> Result<SessionContext, StoreError> {
        self.session_with_intel(SharedIntel::for_dir(&sleuth_intel::default_dir())).await
    }

    /// As [`Store::session`], with the `ip_*` functions answering from `intel`.
    pub async fn session_with_intel(&self, intel: Arc<SharedIntel>) -> Result<SessionContext, StoreError> {
        // Filters are applied while the Parquet files are decoded: the other columns of a row
        // are read only when it passes (an investigation asks about one account; a rule about
        // the failures among millions of successes). On 9.8 M sign-ins the hunt takes a fifth
        // less time with it (BENCHMARKS.md). Hash tables of up to a million rows are built
        // once for both cores: the probe side is not shuffled, and the filter a join pushes into
        // the scan is one lookup rather than one per partition.
        let config = SessionConfig::new()
            .with_information_schema(true)
            .set_bool("datafusion.execution.parquet.pushdown_filters", true)
            .set_usize("datafusion.optimizer.hash_join_single_partition_threshold", 64 << 20)
            .set_usize("datafusion.optimizer.hash_join_single_partition_threshold_rows", 1 << 20)
            .with_target_partitions(std::thread::available_parallelism().map_or(2, |n| n.get()));
        // Operators hold up to the memory limit and spill beyond it (memory.rs).
        let ctx = SessionContext::new_with_config_rt(config, crate::memory::runtime()?);
        crate::functions::register(&ctx, &intel);
        for table in Table::ALL {
            let files = self.manifest().files(table.name());
            let schema = crate::columns::schema(table);
            if files.is_empty() {
                // An empty table rather than an empty in-memory one: a cluster can be sent it.
                ctx.register_table(table.name(), Arc::new(EmptyTable::new(schema)))?;
                continue;
            }
            ctx.register_table(table.name(), self.listing(files, schema)?)?;
        }
        // A compaction's copies (`signins_by_address`), only while they hold their table's
        // rows: a query that names one falls back to the table when it is absent.
        for layout in crate::LAYOUTS.iter().filter(|l| l.derived()) {
            let files = self.manifest().files(layout.name);
            if !files.is_empty() {
                ctx.register_table(layout.name, self.listing(files, layout.schema())?)?;
            }
        }
        // The one statement Sleuth itself runs that is not a query.
        #[allow(clippy::disallowed_methods)]
        ctx.sql(IP_ADDRESSES).await?;
        Ok(ctx)
    }
}

impl Store {
    /// A table of the committed `files`.
    fn listing(&self, files: &[crate::DataFile], schema: SchemaRef) -> Result<Arc<ListingTable>, StoreError> {
        let urls = files
            .iter()
            .map(|f| ListingTableUrl::parse(self.root().join(&f.path).to_string_lossy()))
            .collect::<Result<Vec<_>, _>>()?;
        let options = ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
        let config = ListingTableConfig::new_with_multi_paths(urls).with_listing_options(options).with_schema(schema);
        Ok(Arc::new(ListingTable::try_new(config)?))
    }
}

/// Plans and runs `sql` as a query over the session's tables, and nothing else: statements
/// that define or change tables (`CREATE [EXTERNAL] TABLE`, `CREATE VIEW`, `DROP`), write
/// (`INSERT`, `UPDATE`, `DELETE`, `COPY ... TO`) or change the session (`SET`, `PREPARE`) are
/// refused with an error naming what was refused, also inside `EXPLAIN` and subqueries.
///
/// Every query that Sleuth runs on someone's behalf goes through here: `sleuth sql`, rule
/// files and their prepared tables, Sigma rules compiled to SQL, runbook questions and (later)
/// the HTTP API. SQL is shared like any other file, and `COPY` or an external table would let
/// it write or read any file the analyst can. (`clippy.toml` forbids `SessionContext::sql`
/// elsewhere.) DataFusion's parser refuses nesting deeper than its recursion limit (50) with
/// an error, so a deeply nested query cannot overflow the stack.
pub async fn read_only(ctx: &SessionContext, sql: &str) -> Result<DataFrame, DataFusionError> {
    let plan = ctx.state().create_logical_plan(sql).await?;
    let what = refused(&plan)?;
    if let Some(what) = what {
        return Err(DataFusionError::Plan(format!(
            "{what} is not allowed: Sleuth runs SQL read-only over the store's tables (SELECT, WITH, EXPLAIN)"
        )));
    }
    // DataFusion's own check, the same rules: a second lock on the same door.
    SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false).verify_plan(&plan)?;
    ctx.execute_logical_plan(plan).await
}

/// The first part of `plan` (or of its subqueries) that is not a query, named for the error.
fn refused(plan: &LogicalPlan) -> Result<Option<String>, DataFusionError> {
    use datafusion::common::tree_node::TreeNodeRecursion;
    let mut found = None;
    plan.apply_with_subqueries(|node| {
        found = match node {
            LogicalPlan::Ddl(ddl) => Some(format!("`{}` (a definition)", ddl.name())),
            LogicalPlan::Dml(dml) => Some(format!("`{}` (a write)", dml.op)),
            LogicalPlan::Copy(_) => Some("`COPY ... TO` (a write to a file)".to_string()),
            LogicalPlan::Statement(statement) => Some(format!("`{}` (a statement)", statement.name())),
            _ => None,
        };
        Ok(if found.is_some() { TreeNodeRecursion::Stop } else { TreeNodeRecursion::Continue })
    })?;
    Ok(found)
}

/// `ip_addresses`: every address that signed in, with what the logs said of it beside what
/// the databases say, and whether they disagree. The log's values win (`country`, `asn` and
/// the class computed with the log's ASN); the databases' stay visible. `users` counts
/// accounts that tried, `users_signed_in` those that succeeded (UPNs compared in lower case).
/// Rules that need an address's class or place read it here, so the databases are asked once
/// per address, not once per sign-in.
const IP_ADDRESSES: &str = "CREATE VIEW ip_addresses AS
SELECT ip, sign_ins, users, users_signed_in, first_seen, last_seen,
       coalesce(log_country, db_country) AS country, log_country, db_country,
       coalesce(log_asn, db_asn) AS asn, log_asn, db_asn, org,
       ip_latitude(ip) AS db_latitude, ip_longitude(ip) AS db_longitude, ip_accuracy_km(ip) AS db_accuracy_km,
       ip_class(ip, log_asn) AS class, ip_provider(ip, log_asn) AS provider,
       ip_bulletproof(ip, log_asn) AS bulletproof,
       coalesce(log_country <> db_country, false) AS country_disagrees,
       coalesce(log_asn <> db_asn, false) AS asn_disagrees
FROM (
  SELECT ip_address AS ip, count(*) AS sign_ins, count(DISTINCT lower(user_principal_name)) AS users,
         count(DISTINCT CASE WHEN result_type = 0 THEN lower(user_principal_name) END) AS users_signed_in,
         min(time) AS first_seen, max(time) AS last_seen,
         max(upper(nullif(country, ''))) AS log_country, ip_country(ip_address) AS db_country,
         max(asn) AS log_asn, ip_asn(ip_address) AS db_asn, ip_org(ip_address) AS org
  FROM signins WHERE ip_address IS NOT NULL AND ip_address <> ''
  GROUP BY ip_address
)";
