//! Any text as a Sigma rule file: it compiles or is refused with a reason, and what compiles
//! is a single SQL statement. Values of a rule end up inside SQL string literals, so a rule
//! whose text breaks out of its literal (a second statement, an unbalanced quote) fails here.
#![no_main]

use std::collections::BTreeMap;

use datafusion::sql::sqlparser::{dialect::GenericDialect, parser::Parser};
use libfuzzer_sys::fuzz_target;
use sleuth_detect::sigma::{self, Mapping, Placeholders};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let placeholders = Placeholders::from([("admins".to_string(), vec!["it's".to_string(), "%_\\".to_string()])]);
    let _ = sigma::lint(text);
    for outcome in sigma::compile(&[("fuzz.yml".into(), text.into())], Mapping::shipped(), &placeholders) {
        let Ok(rule) = outcome.result else { continue };
        let sql = rule.query_with(&BTreeMap::new()).expect("a compiled rule has no unset parameter");
        let statements = Parser::parse_sql(&GenericDialect {}, &sql.single_statement())
            .unwrap_or_else(|e| panic!("compiled SQL does not parse: {e}\n{}", sql.single_statement()));
        assert_eq!(statements.len(), 1, "compiled SQL is more than one statement");
    }
});
