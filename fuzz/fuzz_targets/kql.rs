//! Any text as a KQL query over Sentinel's views (`sleuth kql`): parsed and planned or refused
//! with an error, never a panic or a stack overflow, and whatever plans is a query (no
//! definition, write, COPY or statement anywhere in its plan). Plans only, as for SQL.
#![no_main]

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use datafusion::common::tree_node::TreeNode;
use datafusion::datasource::MemTable;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use libfuzzer_sys::fuzz_target;

type Session = (SessionContext, HashMap<String, LogicalPlan>);

fn session() -> &'static Session {
    static SESSION: OnceLock<Session> = OnceLock::new();
    SESSION.get_or_init(|| {
        let ctx = SessionContext::new();
        for table in sleuth_ingest::Table::ALL {
            let empty = MemTable::try_new(sleuth_store::schema(table), vec![vec![]]).unwrap();
            ctx.register_table(table.name(), Arc::new(empty)).unwrap();
        }
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let tables = runtime.block_on(sleuth_kql::sentinel::tables(&ctx)).unwrap();
        (ctx, tables)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (ctx, tables) = session();
    let Ok(plan) = sleuth_kql::plan(ctx, tables, text, &sleuth_kql::Options::at_micros(0)) else { return };
    let writes = plan.exists(|node| {
        Ok(matches!(node, LogicalPlan::Ddl(_) | LogicalPlan::Dml(_) | LogicalPlan::Copy(_) | LogicalPlan::Statement(_)))
    });
    assert!(!writes.unwrap(), "a KQL query planned a write: {text}");
});
