//! Queries: a DataFusion session with every table of the store registered under its name.

use std::sync::Arc;

use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
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
        let ctx = SessionContext::new_with_config(config);
        crate::functions::register(&ctx, &intel);
        for table in Table::ALL {
            let files = self.manifest().files(table.name());
            let schema = crate::columns::schema(table);
            if files.is_empty() {
                let empty = MemTable::try_new(schema, vec![vec![]])?;
                ctx.register_table(table.name(), Arc::new(empty))?;
                continue;
            }
            let urls = files
                .iter()
                .map(|f| ListingTableUrl::parse(self.root().join(&f.path).to_string_lossy()))
                .collect::<Result<Vec<_>, _>>()?;
            let options = ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
            let config =
                ListingTableConfig::new_with_multi_paths(urls).with_listing_options(options).with_schema(schema);
            ctx.register_table(table.name(), Arc::new(ListingTable::try_new(config)?))?;
        }
        ctx.sql(IP_ADDRESSES).await?;
        Ok(ctx)
    }
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
