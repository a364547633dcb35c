//! KQL conformance: queries over `datatable` and `print`, with the answers the KQL reference
//! gives for them (each test names its page under <https://learn.microsoft.com/en-us/kusto/query/>).

use std::collections::HashMap;

use datafusion::prelude::SessionContext;
use serde_json::{Value, json};

fn rows(query: &str) -> Vec<Value> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let ctx = SessionContext::new();
        let tables = HashMap::new();
        let options =
            sleuth_kql::Options::at_micros(sleuth_kql::parse_datetime("2026-02-22T14:30:00Z").unwrap() / 1000);
        let frame =
            sleuth_kql::query(&ctx, &tables, query, &options).await.unwrap_or_else(|e| panic!("{}", e.show(query)));
        let batches = frame.collect().await.unwrap();
        let mut out = Vec::new();
        for batch in batches {
            let schema = batch.schema();
            let columns: Vec<Vec<Value>> =
                batch.columns().iter().map(|c| sleuth_store::json::values(c).unwrap()).collect();
            for i in 0..batch.num_rows() {
                let mut row = serde_json::Map::new();
                for (column, field) in columns.iter().zip(schema.fields()) {
                    let mut v = column[i].clone();
                    if sleuth_kql::is_dynamic(field.data_type())
                        && let Value::String(text) = &v
                    {
                        v = serde_json::from_str(text).unwrap();
                    }
                    row.insert(field.name().clone(), v);
                }
                out.push(Value::Object(row));
            }
        }
        out
    })
}

fn one(query: &str) -> Value {
    let mut all = rows(query);
    assert_eq!(all.len(), 1, "{query}: {all:?}");
    all.remove(0)
}

#[test]
fn string_operators_match_terms_and_substrings() {
    // datatypes-string-operators: "North America" has "america" (a term, any case), not "amer".
    let r = one(
        r#"print a = "North America" has "america", b = "North America" has "amer", c = "North America" contains "amer",
           d = "North America" has_cs "America", e = "North America" has_cs "america", f = "North America" startswith "nor",
           g = "North America" endswith "ica", h = "North America" !has "america", i = "North America" hasprefix "ame",
           j = "North America" hassuffix "ica", k = "abc" =~ "ABC", l = "abc" !~ "ABC", m = "a1b2" matches regex "[a-z][0-9]""#,
    );
    assert_eq!(
        r,
        json!({"a": true, "b": false, "c": true, "d": true, "e": false, "f": true, "g": true, "h": false,
               "i": true, "j": true, "k": true, "l": false, "m": true})
    );
}

#[test]
fn in_operators_and_between() {
    // in-operator, inoperator (in~), between-operator.
    let r = one(r#"print a = "b" in ("a", "b"), b = "B" in ("a", "b"), c = "B" in~ ("a", "b"), d = 5 !in (1, 2),
           e = 5 between (1 .. 5), f = datetime(2026-01-02) between (datetime(2026-01-01) .. 1d),
           g = 4 in (dynamic([1, 4, 9]))"#);
    assert_eq!(r, json!({"a": true, "b": false, "c": true, "d": true, "e": true, "f": true, "g": true}));
}

#[test]
fn summarize_names_its_columns_as_kql_does() {
    // summarize-operator: default names of aggregations; bin-function: groups by bin.
    let r = rows(
        "datatable(State: string, Damage: long, Time: datetime)[
           'TEXAS', 10, datetime(2007-01-01 10:20), 'TEXAS', 5, datetime(2007-01-01 10:50), 'KANSAS', 1, datetime(2007-01-01 11:10)]
         | summarize count(), sum(Damage), dcount(State), make_set(State) by bin(Time, 1h)
         | sort by Time asc",
    );
    assert_eq!(r.len(), 2);
    assert_eq!(r[0]["Time"], "2007-01-01T10:00:00Z");
    assert_eq!(r[0]["count_"], 2);
    assert_eq!(r[0]["sum_Damage"], 15);
    assert_eq!(r[0]["dcount_State"], 1);
    assert_eq!(r[0]["set_State"], json!(["TEXAS"]));
    assert_eq!(r[1]["set_State"], json!(["KANSAS"]));
}

#[test]
fn arg_max_returns_the_row_of_the_maximum() {
    // arg-max-aggregation-function: the city of each state's largest population.
    let r = rows(
        "datatable(State: string, City: string, Population: long)[
           'WA', 'Seattle', 737015, 'WA', 'Spokane', 228989, 'OR', 'Portland', 652503, 'OR', 'Salem', 175535]
         | summarize arg_max(Population, City) by State | sort by State asc",
    );
    assert_eq!(
        r,
        vec![
            json!({"State": "OR", "Population": 652503, "City": "Portland"}),
            json!({"State": "WA", "Population": 737015, "City": "Seattle"}),
        ]
    );
    let r = rows(
        "datatable(k: string, t: long, v: string)['a', 1, 'x', 'a', 3, 'y', 'b', 2, 'z'] | summarize arg_max(t, *) by k | sort by k asc",
    );
    assert_eq!(r, vec![json!({"k": "a", "t": 3, "v": "y"}), json!({"k": "b", "t": 2, "v": "z"})]);
}

#[test]
fn joins_follow_the_kinds_of_the_reference() {
    // join-operator: the X and Y tables of its examples.
    let tables = "let X = datatable(Key: string, Value1: long)['a', 1, 'b', 2, 'b', 3, 'c', 4];
                  let Y = datatable(Key: string, Value2: long)['b', 10, 'c', 20, 'c', 30, 'd', 40];";
    // innerunique (the default) keeps one left row per key: b once, c twice.
    let r = rows(&format!("{tables} X | join Y on Key | sort by Key asc, Value2 asc"));
    assert_eq!(r.len(), 3, "{r:?}");
    assert_eq!(r[0], json!({"Key": "b", "Value1": 2, "Key1": "b", "Value2": 10}));
    let r = rows(&format!("{tables} X | join kind=inner Y on Key"));
    assert_eq!(r.len(), 4);
    let r = rows(&format!("{tables} X | join kind=leftanti Y on Key"));
    assert_eq!(r, vec![json!({"Key": "a", "Value1": 1})]);
    let r = rows(&format!("{tables} X | join kind=rightanti Y on Key"));
    assert_eq!(r, vec![json!({"Key": "d", "Value2": 40})]);
    let r = rows(&format!("{tables} X | join kind=leftouter Y on Key | where Key == 'a'"));
    assert_eq!(r, vec![json!({"Key": "a", "Value1": 1, "Key1": null, "Value2": null})]);
    let r = rows(&format!("{tables} X | join kind=leftsemi Y on $left.Key == $right.Key | count"));
    assert_eq!(r, vec![json!({"Count": 3})]);
    let r = rows(&format!("{tables} X | lookup Y on Key | where Key == 'b' | sort by Value1 asc"));
    assert_eq!(r[0], json!({"Key": "b", "Value1": 2, "Value2": 10}));
}

#[test]
fn dynamic_values_compare_as_kql_compares_them() {
    // scalar-data-types/dynamic: property access, and comparisons of dynamic values.
    let r = one(r#"print d = dynamic({"a": "x", "n": 5, "l": [1, 2, 3], "o": {"p": "q"}})
           | extend s = d.a == "x", n = d.n > 4, l = array_length(d.l), i = d.l[-1], p = tostring(d.o.p),
                    m = tostring(d.missing), k = bag_keys(d.o), t = tostring(d["a"])
           | project-away d"#);
    assert_eq!(r, json!({"s": true, "n": true, "l": 3, "i": 3, "p": "q", "m": "", "k": ["p"], "t": "x"}));
    // A string column compared with a number (Sentinel's ResultType), and parse_json of text.
    let r = rows(
        r#"datatable(ResultType: string, J: string)["0", '{"x": 1}', "50126", "not json"] | where ResultType == 0 | extend x = parse_json(J).x"#,
    );
    assert_eq!(r, vec![json!({"ResultType": "0", "J": "{\"x\": 1}", "x": 1})]);
}

#[test]
fn mv_expand_parse_and_functions() {
    // mv-expand-operator.
    let r = rows("datatable(a: int, b: dynamic)[1, dynamic([10, 20]), 2, dynamic([])] | mv-expand b to typeof(long)");
    assert_eq!(r, vec![json!({"a": 1, "b": 10}), json!({"a": 1, "b": 20})]);
    // parse-operator.
    let r = one(
        r#"print s = "The number is 42 and the word is blue." | parse s with "The number is " n:long " and the word is " w "." | project n, w"#,
    );
    assert_eq!(r, json!({"n": 42, "w": "blue"}));
    // bin-function, iff-function, case-function, strcat, split, extract, datetime_add, format_datetime.
    let r = one(r#"print a = bin(4.5, 1), b = bin(datetime(1970-05-11 13:45:07), 1d), c = iff(1 > 2, "y", "n"),
           d = case(5 > 9, "big", 5 > 3, "medium", "small"), e = strcat("a", 1, "b"), f = split("a_b_c", "_")[1],
           g = extract("x=([0-9]+)", 1, "id x=42;"), h = datetime_add('month', 1, datetime(2017-01-31)),
           i = format_datetime(datetime(2017-01-29 09:00:05), 'yyyy-MM-dd [HH:mm:ss]'), j = ago(1h) < now(),
           k = ipv4_is_in_range("10.1.2.3", "10.0.0.0/8"), l = ipv4_is_private("8.8.8.8"), m = toint("12") + 1"#);
    assert_eq!(r["a"], 4.0);
    assert_eq!(r["b"], "1970-05-11T00:00:00Z");
    assert_eq!(r["c"], "n");
    assert_eq!(r["d"], "medium");
    assert_eq!(r["e"], "a1b");
    assert_eq!(r["f"], "b");
    assert_eq!(r["g"], "42");
    assert_eq!(r["h"], "2017-02-28T00:00:00Z");
    assert_eq!(r["i"], "2017-01-29 [09:00:05]");
    assert_eq!(r["j"], true);
    assert_eq!(r["k"], true);
    assert_eq!(r["l"], false);
    assert_eq!(r["m"], 13);
}

#[test]
fn let_functions_toscalar_and_union() {
    // let-statement: scalar and tabular functions; toscalar-function; union-operator.
    let r = rows(
        "let T = datatable(x: long)[1, 2, 3];
         let f = (v: long) { v * 10 };
         let above = (t: (x: long), n: long) { t | where x > n };
         let biggest = toscalar(T | summarize max(x));
         above(T, 1) | extend y = f(x), z = biggest | union (datatable(x: long, w: string)[9, 'new']) | sort by x asc",
    );
    assert_eq!(r.len(), 3);
    assert_eq!(r[0], json!({"x": 2, "y": 20, "z": 3, "w": null}));
    assert_eq!(r[2], json!({"x": 9, "y": null, "z": null, "w": "new"}));
}

#[test]
fn nothing_in_a_query_writes_or_reads_outside_the_store() {
    let ctx = SessionContext::new();
    let tables = HashMap::new();
    let options = sleuth_kql::Options::at_micros(0);
    for query in [
        ".drop table SigninLogs",
        ".set-or-append T <| print 1",
        "externaldata(a: string)[@'https://example.com/x.csv']",
        "print x = 1; print y = 2",
    ] {
        assert!(sleuth_kql::plan(&ctx, &tables, query, &options).is_err(), "{query} was accepted");
    }
    // Deep nesting is refused with an error, not a stack overflow.
    let deep = format!("print x = {}1{}", "(".repeat(5000), ")".repeat(5000));
    assert!(sleuth_kql::plan(&ctx, &tables, &deep, &options).is_err());
}
