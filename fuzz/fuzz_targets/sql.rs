//! Any text as a query, through the one door every query takes (`sleuth_store::read_only`):
//! it is planned or refused, never panics or overflows the stack, and whatever is accepted
//! is a query (no definition, write, COPY or statement anywhere in its plan). Plans only:
//! running arbitrary queries would measure the engine, not the door.
#![no_main]

use std::sync::{Arc, OnceLock};

use datafusion::common::tree_node::TreeNode;
use datafusion::datasource::MemTable;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use libfuzzer_sys::fuzz_target;

fn session() -> &'static (tokio::runtime::Runtime, SessionContext) {
    static SESSION: OnceLock<(tokio::runtime::Runtime, SessionContext)> = OnceLock::new();
    SESSION.get_or_init(|| {
        let ctx = SessionContext::new();
        for table in sleuth_ingest::Table::ALL {
            let empty = MemTable::try_new(sleuth_store::schema(table), vec![vec![]]).unwrap();
            ctx.register_table(table.name(), Arc::new(empty)).unwrap();
        }
        (tokio::runtime::Builder::new_current_thread().build().unwrap(), ctx)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(sql) = std::str::from_utf8(data) else { return };
    let (runtime, ctx) = session();
    let Ok(frame) = runtime.block_on(sleuth_store::read_only(ctx, sql)) else { return };
    let writes = frame.logical_plan().exists(|node| {
        Ok(matches!(node, LogicalPlan::Ddl(_) | LogicalPlan::Dml(_) | LogicalPlan::Copy(_) | LogicalPlan::Statement(_)))
    });
    assert!(!writes.unwrap(), "a query that is not read-only was accepted: {sql}");
    for table in sleuth_ingest::Table::ALL {
        assert!(ctx.table_exist(table.name()).unwrap(), "{} was dropped by {sql}", table.name());
    }
});
