//! Functions KQL needs that DataFusion does not have, over Arrow arrays.
//!
//! `dynamic` values travel as JSON text in `LargeUtf8` columns (plain strings are `Utf8`): the
//! planner tells them apart by type, and these functions read and write that text. The planner
//! casts every argument to the type named here before calling.

use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanBuilder, Int64Array, Int64Builder, LargeStringArray, LargeStringBuilder,
    ListBuilder, StringBuilder, TimestampMicrosecondBuilder,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, TimeUnit};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};
use serde_json::Value;

pub const DYNAMIC: DataType = DataType::LargeUtf8;

pub fn timestamp() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

type Fun = fn(&[ArrayRef]) -> Result<ArrayRef>;

#[derive(Debug)]
struct Udf {
    name: &'static str,
    signature: Signature,
    ret: DataType,
    fun: Fun,
}

impl PartialEq for Udf {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for Udf {}
impl std::hash::Hash for Udf {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state)
    }
}

impl ScalarUDFImpl for Udf {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(self.ret.clone())
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = args.args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let out = (self.fun)(&arrays)?;
        if scalar && !arrays.is_empty() {
            return Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?));
        }
        Ok(ColumnarValue::Array(out))
    }
}

fn udf(name: &'static str, args: Option<usize>, ret: DataType, fun: Fun) -> Arc<ScalarUDF> {
    let signature = match args {
        Some(n) => Signature::any(n, Volatility::Immutable),
        None => Signature::variadic_any(Volatility::Immutable),
    };
    Arc::new(ScalarUDF::new_from_impl(Udf { name, signature, ret, fun }))
}

/// The functions by name, made once.
pub fn get(name: &str) -> Arc<ScalarUDF> {
    all().iter().find(|f| f.name() == name).cloned().unwrap_or_else(|| panic!("no KQL function {name}"))
}

/// Every function a KQL plan may name: a cluster's scheduler and executors register them all,
/// since plans travel with the functions' names only.
pub fn all() -> &'static [Arc<ScalarUDF>] {
    static ALL: OnceLock<Vec<Arc<ScalarUDF>>> = OnceLock::new();
    ALL.get_or_init(|| {
        let list_of = |t: DataType| DataType::List(Arc::new(Field::new("item", t, true)));
        vec![
            udf("kql_get", Some(2), DYNAMIC, get_path),
            udf("kql_index", Some(2), DYNAMIC, index),
            udf("kql_tostring", Some(1), DataType::Utf8, to_string),
            udf("kql_todouble", Some(1), DataType::Float64, to_double),
            udf("kql_tolong", Some(1), DataType::Int64, to_long),
            udf("kql_tobool", Some(1), DataType::Boolean, to_bool),
            udf("kql_parse_json", Some(1), DYNAMIC, parse_json),
            udf("kql_string_to_dynamic", Some(1), DYNAMIC, string_to_dynamic),
            udf("kql_array_length", Some(1), DataType::Int64, array_length),
            udf("kql_bag_keys", Some(1), DYNAMIC, bag_keys),
            udf("kql_pack_array", None, DYNAMIC, pack_array),
            udf("kql_pack", None, DYNAMIC, pack),
            udf("kql_list", Some(2), DYNAMIC, list),
            udf("kql_set", Some(2), DYNAMIC, set),
            udf("kql_bag", Some(1), DYNAMIC, bag),
            udf("kql_has", Some(2), DataType::Boolean, has),
            udf("kql_has_cs", Some(2), DataType::Boolean, has_cs),
            udf("kql_contains", Some(2), DataType::Boolean, contains),
            udf("kql_split", Some(2), DYNAMIC, split),
            udf("kql_in_dynamic", Some(2), DataType::Boolean, in_dynamic),
            udf("kql_ipv4_is_private", Some(1), DataType::Boolean, ipv4_is_private),
            udf("kql_ipv4_is_in_range", Some(2), DataType::Boolean, ipv4_is_in_range),
            udf("kql_datetime_diff", Some(3), DataType::Int64, datetime_diff),
            udf("kql_datetime_add", Some(3), timestamp(), datetime_add),
            udf("kql_format_datetime", Some(2), DataType::Utf8, format_datetime),
            udf("kql_extract", Some(3), DataType::Utf8, extract),
            udf("kql_elements", Some(1), list_of(DYNAMIC), elements),
            udf("kql_object", None, DYNAMIC, object),
            udf("kql_json", Some(1), DYNAMIC, json),
            udf("kql_set_difference", Some(2), DYNAMIC, set_difference),
            udf("kql_set_union", Some(2), DYNAMIC, set_union),
            udf("kql_set_intersect", Some(2), DYNAMIC, set_intersect),
            udf("kql_raw_field", None, DYNAMIC, raw_field),
            udf("kql_array_slice", Some(3), DYNAMIC, array_slice),
            udf("kql_range", Some(3), DYNAMIC, range),
            udf("kql_range_time", Some(3), DYNAMIC, range_time),
        ]
    })
}

fn large(a: &ArrayRef) -> Result<LargeStringArray> {
    Ok(cast(a, &DataType::LargeUtf8)?.as_string::<i64>().clone())
}

fn longs(a: &ArrayRef) -> Result<Int64Array> {
    Ok(cast(a, &DataType::Int64)?.as_primitive::<datafusion::arrow::datatypes::Int64Type>().clone())
}

fn micros(a: &ArrayRef) -> Result<Int64Array> {
    let a = cast(a, &DataType::Timestamp(TimeUnit::Microsecond, None))?;
    longs(&cast(&a, &DataType::Int64)?)
}

fn parse(text: &str) -> Option<Value> {
    serde_json::from_str(text).ok()
}

/// A JSON value as `tostring` shows it: strings without quotes, the rest as compact JSON.
fn show(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Maps each row's JSON (`None` for null or unreadable) to an output JSON value.
fn map_dynamic(a: &ArrayRef, f: impl Fn(Value, usize) -> Option<Value>) -> Result<ArrayRef> {
    let a = large(a)?;
    let mut out = LargeStringBuilder::with_capacity(a.len(), a.len() * 8);
    for (k, v) in a.iter().enumerate() {
        match v.and_then(parse).and_then(|v| f(v, k)) {
            Some(Value::Null) | None => out.append_null(),
            Some(value) => out.append_value(value.to_string()),
        }
    }
    Ok(Arc::new(out.finish()))
}

/// `kql_get(dynamic, path)`: the value at a path of keys and indices (a JSON array, e.g.
/// `["user", "ipAddress"]` or `[0, "userPrincipalName"]`; negative indices count from the end).
fn get_path(args: &[ArrayRef]) -> Result<ArrayRef> {
    let paths = large(&args[1])?;
    let parsed: Vec<Option<Vec<Value>>> =
        paths.iter().map(|p| p.and_then(|p| serde_json::from_str::<Vec<Value>>(p).ok())).collect();
    map_dynamic(&args[0], |mut value, k| {
        let path = parsed.get(k).or(parsed.first())?.as_ref()?;
        for step in path {
            value = step_into(value, step)?;
        }
        Some(value)
    })
}

fn step_into(value: Value, step: &Value) -> Option<Value> {
    match (value, step) {
        (Value::Object(mut map), Value::String(key)) => map.remove(key),
        (Value::Array(mut items), Value::Number(n)) => {
            let n = n.as_i64()?;
            let at = if n < 0 { items.len() as i64 + n } else { n };
            if at < 0 || at as usize >= items.len() {
                return None;
            }
            Some(items.swap_remove(at as usize))
        }
        // A string holding JSON (Sentinel stores some columns so) is read through.
        (Value::String(text), step) => step_into(parse(&text)?, step),
        _ => None,
    }
}

fn index(args: &[ArrayRef]) -> Result<ArrayRef> {
    let at = longs(&args[1])?;
    map_dynamic(&args[0], |value, k| {
        let i = if at.len() == 1 { at.value(0) } else { at.value(k) };
        step_into(value, &Value::from(i))
    })
}

fn to_string(args: &[ArrayRef]) -> Result<ArrayRef> {
    let a = large(&args[0])?;
    let mut out = StringBuilder::with_capacity(a.len(), a.len() * 8);
    for v in a.iter() {
        match v {
            None => out.append_value(""),
            Some(text) => match parse(text) {
                Some(value) => out.append_value(show(&value)),
                None => out.append_value(text),
            },
        }
    }
    Ok(Arc::new(out.finish()))
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        _ => None,
    }
}

fn to_double(args: &[ArrayRef]) -> Result<ArrayRef> {
    let a = large(&args[0])?;
    let out: datafusion::arrow::array::Float64Array =
        a.iter().map(|v| v.and_then(parse).as_ref().and_then(number)).collect();
    Ok(Arc::new(out))
}

fn to_long(args: &[ArrayRef]) -> Result<ArrayRef> {
    let a = large(&args[0])?;
    let out: Int64Array = a
        .iter()
        .map(|v| {
            let value = parse(v?)?;
            match &value {
                Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f.trunc() as i64)),
                Value::String(s) => s.trim().parse().ok(),
                other => number(other).map(|f| f as i64),
            }
        })
        .collect();
    Ok(Arc::new(out))
}

fn to_bool(args: &[ArrayRef]) -> Result<ArrayRef> {
    let a = large(&args[0])?;
    let mut out = BooleanBuilder::with_capacity(a.len());
    for v in a.iter() {
        out.append_option(v.and_then(parse).and_then(|value| match value {
            Value::Bool(b) => Some(b),
            Value::Number(n) => n.as_f64().map(|f| f != 0.0),
            Value::String(s) => match s.to_ascii_lowercase().as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            },
            _ => None,
        }));
    }
    Ok(Arc::new(out.finish()))
}

/// `parse_json(string)`: the JSON it holds, or the string itself as a dynamic string.
fn parse_json(args: &[ArrayRef]) -> Result<ArrayRef> {
    let a = large(&args[0])?;
    let mut out = LargeStringBuilder::with_capacity(a.len(), a.len() * 8);
    for v in a.iter() {
        match v {
            None => out.append_null(),
            Some(text) => match parse(text) {
                Some(Value::Null) => out.append_null(),
                Some(_) => out.append_value(text),
                None => out.append_value(Value::String(text.to_string()).to_string()),
            },
        }
    }
    Ok(Arc::new(out.finish()))
}

/// A string as a dynamic string value.
fn string_to_dynamic(args: &[ArrayRef]) -> Result<ArrayRef> {
    let a = large(&args[0])?;
    let mut out = LargeStringBuilder::with_capacity(a.len(), a.len() * 8);
    for v in a.iter() {
        match v {
            None => out.append_null(),
            Some(text) => out.append_value(Value::String(text.to_string()).to_string()),
        }
    }
    Ok(Arc::new(out.finish()))
}

fn array_length(args: &[ArrayRef]) -> Result<ArrayRef> {
    let a = large(&args[0])?;
    let out: Int64Array = a
        .iter()
        .map(|v| match parse(v?)? {
            Value::Array(items) => Some(items.len() as i64),
            _ => None,
        })
        .collect();
    Ok(Arc::new(out))
}

fn bag_keys(args: &[ArrayRef]) -> Result<ArrayRef> {
    map_dynamic(&args[0], |value, _| match value {
        Value::Object(map) => Some(Value::Array(map.keys().map(|k| Value::String(k.clone())).collect())),
        _ => None,
    })
}

/// One row's value of every (dynamic) argument.
fn row_values(args: &[LargeStringArray], k: usize) -> impl Iterator<Item = Value> + '_ {
    args.iter().map(move |a| {
        let k = if a.len() == 1 { 0 } else { k };
        if a.is_null(k) { Value::Null } else { parse(a.value(k)).unwrap_or(Value::Null) }
    })
}

fn rows(args: &[ArrayRef]) -> usize {
    args.iter().map(|a| a.len()).max().unwrap_or(0)
}

fn pack_array(args: &[ArrayRef]) -> Result<ArrayRef> {
    let arrays = args.iter().map(large).collect::<Result<Vec<_>>>()?;
    let mut out = LargeStringBuilder::new();
    for k in 0..rows(args) {
        out.append_value(Value::Array(row_values(&arrays, k).collect()).to_string());
    }
    Ok(Arc::new(out.finish()))
}

/// `pack(key, value, ...)`: keys as strings, values dynamic.
fn pack(args: &[ArrayRef]) -> Result<ArrayRef> {
    let arrays = args.iter().map(large).collect::<Result<Vec<_>>>()?;
    let mut out = LargeStringBuilder::new();
    for k in 0..rows(args) {
        let mut map = serde_json::Map::new();
        for pair in arrays.chunks(2) {
            let at = |a: &LargeStringArray| if a.len() == 1 { 0 } else { k };
            let key = &pair[0];
            if key.is_null(at(key)) || pair.len() < 2 {
                continue;
            }
            let value = &pair[1];
            let value = if value.is_null(at(value)) {
                Value::Null
            } else {
                parse(value.value(at(value))).unwrap_or(Value::Null)
            };
            map.insert(key.value(at(key)).to_string(), value);
        }
        out.append_value(Value::Object(map).to_string());
    }
    Ok(Arc::new(out.finish()))
}

/// Each list's items as JSON values: dynamic items as the JSON they hold, strings as strings,
/// times as ISO 8601 text.
fn list_values(list: &ArrayRef, k: usize) -> Result<Option<Vec<Value>>> {
    let list = list.as_list::<i32>();
    if list.is_null(k) {
        return Ok(None);
    }
    let items = list.value(k);
    let mut values = Vec::with_capacity(items.len());
    match items.data_type() {
        DataType::LargeUtf8 => {
            for item in items.as_string::<i64>().iter().flatten() {
                values.extend(parse(item));
            }
        }
        DataType::Timestamp(_, _) => {
            let text = cast(&items, &DataType::Utf8)?;
            for item in text.as_string::<i32>().iter().flatten() {
                values.push(Value::String(item.to_string()));
            }
        }
        DataType::Boolean => values.extend(items.as_boolean().iter().flatten().map(Value::Bool)),
        t if t.is_integer() => {
            values.extend(longs(&items)?.iter().flatten().map(Value::from));
        }
        t if t.is_floating() => {
            let f = cast(&items, &DataType::Float64)?;
            values.extend(
                f.as_primitive::<datafusion::arrow::datatypes::Float64Type>().iter().flatten().map(Value::from),
            );
        }
        _ => {
            let text = large(&items)?;
            values.extend(text.iter().flatten().map(|s| Value::String(s.to_string())));
        }
    }
    Ok(Some(values))
}

fn lists(args: &[ArrayRef], distinct: bool) -> Result<ArrayRef> {
    let max = longs(&args[1])?;
    let mut out = LargeStringBuilder::new();
    for k in 0..args[0].len() {
        let limit = if max.is_null(0) { i64::MAX } else { max.value(if max.len() == 1 { 0 } else { k }) };
        let mut values = list_values(&args[0], k)?.unwrap_or_default();
        if distinct {
            // Sorted by their JSON text: the same data gives the same set, whatever the
            // order the rows were read in.
            let mut keyed: Vec<(String, Value)> = values.into_iter().map(|v| (v.to_string(), v)).collect();
            keyed.sort_by(|a, b| a.0.cmp(&b.0));
            keyed.dedup_by(|a, b| a.0 == b.0);
            values = keyed.into_iter().map(|(_, v)| v).collect();
        }
        values.truncate(usize::try_from(limit.max(0)).unwrap_or(usize::MAX));
        out.append_value(Value::Array(values).to_string());
    }
    Ok(Arc::new(out.finish()))
}

fn list(args: &[ArrayRef]) -> Result<ArrayRef> {
    lists(args, false)
}

fn set(args: &[ArrayRef]) -> Result<ArrayRef> {
    lists(args, true)
}

/// `make_bag`: the properties of every object, the first value of a key kept.
fn bag(args: &[ArrayRef]) -> Result<ArrayRef> {
    let mut out = LargeStringBuilder::new();
    for k in 0..args[0].len() {
        let mut map = serde_json::Map::new();
        for value in list_values(&args[0], k)?.unwrap_or_default() {
            if let Value::Object(object) = value {
                for (key, v) in object {
                    map.entry(key).or_insert(v);
                }
            }
        }
        out.append_value(Value::Object(map).to_string());
    }
    Ok(Arc::new(out.finish()))
}

fn is_term_char(c: char) -> bool {
    c.is_alphanumeric()
}

/// Whether `term` occurs in `text` as a whole term: not preceded or followed by a letter or
/// digit where the term itself starts or ends with one (the `has` operator's rule; Kusto
/// indexes maximal sequences of alphanumeric characters as terms).
/// <https://learn.microsoft.com/en-us/kusto/query/datatypes-string-operators>
fn has_term(text: &str, term: &str) -> bool {
    if term.is_empty() {
        return true;
    }
    let first_is_term = term.chars().next().is_some_and(is_term_char);
    let last_is_term = term.chars().last().is_some_and(is_term_char);
    let mut from = 0;
    while let Some(found) = text[from..].find(term) {
        let start = from + found;
        let end = start + term.len();
        let before_ok = !first_is_term || text[..start].chars().last().is_none_or(|c| !is_term_char(c));
        let after_ok = !last_is_term || text[end..].chars().next().is_none_or(|c| !is_term_char(c));
        if before_ok && after_ok {
            return true;
        }
        from = start + text[start..].chars().next().map_or(1, char::len_utf8);
    }
    false
}

fn binary_text(args: &[ArrayRef], f: impl Fn(&str, &str) -> bool) -> Result<ArrayRef> {
    let (a, b) = (large(&args[0])?, large(&args[1])?);
    let mut out = BooleanBuilder::with_capacity(a.len());
    for k in 0..rows(args) {
        let at = |x: &LargeStringArray| if x.len() == 1 { 0 } else { k };
        if a.is_null(at(&a)) || b.is_null(at(&b)) {
            out.append_value(false);
        } else {
            out.append_value(f(a.value(at(&a)), b.value(at(&b))));
        }
    }
    Ok(Arc::new(out.finish()))
}

fn has(args: &[ArrayRef]) -> Result<ArrayRef> {
    binary_text(args, |text, term| has_term(&text.to_lowercase(), &term.to_lowercase()))
}

fn has_cs(args: &[ArrayRef]) -> Result<ArrayRef> {
    binary_text(args, has_term)
}

fn contains(args: &[ArrayRef]) -> Result<ArrayRef> {
    binary_text(args, |text, part| text.to_lowercase().contains(&part.to_lowercase()))
}

fn split(args: &[ArrayRef]) -> Result<ArrayRef> {
    let (a, b) = (large(&args[0])?, large(&args[1])?);
    let mut out = LargeStringBuilder::new();
    for k in 0..rows(args) {
        let at = |x: &LargeStringArray| if x.len() == 1 { 0 } else { k };
        if a.is_null(at(&a)) || b.is_null(at(&b)) {
            out.append_null();
            continue;
        }
        let (text, delimiter) = (a.value(at(&a)), b.value(at(&b)));
        let parts: Vec<Value> = if delimiter.is_empty() {
            vec![Value::String(text.to_string())]
        } else {
            text.split(delimiter).map(|p| Value::String(p.to_string())).collect()
        };
        out.append_value(Value::Array(parts).to_string());
    }
    Ok(Arc::new(out.finish()))
}

/// `value in (dynamic array)`: compared as KQL compares scalars (strings as text, numbers as
/// numbers).
fn in_dynamic(args: &[ArrayRef]) -> Result<ArrayRef> {
    let (list, value) = (large(&args[0])?, large(&args[1])?);
    let mut out = BooleanBuilder::new();
    let mut cached: Option<(String, Vec<Value>)> = None;
    for k in 0..rows(args) {
        let at = |x: &LargeStringArray| if x.len() == 1 { 0 } else { k };
        if list.is_null(at(&list)) || value.is_null(at(&value)) {
            out.append_value(false);
            continue;
        }
        let text = list.value(at(&list));
        if cached.as_ref().is_none_or(|(t, _)| t != text) {
            let items = match parse(text) {
                Some(Value::Array(items)) => items,
                Some(other) => vec![other],
                None => Vec::new(),
            };
            cached = Some((text.to_string(), items));
        }
        let items = &cached.as_ref().map(|(_, items)| items).expect("set above");
        let needle = parse(value.value(at(&value))).unwrap_or(Value::Null);
        out.append_value(items.iter().any(|item| same(item, &needle)));
    }
    Ok(Arc::new(out.finish()))
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(_), _) | (_, Value::Number(_)) => number(a).zip(number(b)).is_some_and(|(x, y)| x == y),
        _ => show(a) == show(b),
    }
}

fn ipv4(text: &str) -> Option<u32> {
    text.trim().parse::<std::net::Ipv4Addr>().ok().map(u32::from)
}

/// `ipv4_is_private`: 10/8, 172.16/12, 192.168/16 (RFC 1918).
fn ipv4_is_private(args: &[ArrayRef]) -> Result<ArrayRef> {
    let a = large(&args[0])?;
    let mut out = BooleanBuilder::new();
    for v in a.iter() {
        out.append_option(v.and_then(ipv4).map(|ip| {
            let ip = std::net::Ipv4Addr::from(ip);
            ip.is_private()
        }));
    }
    Ok(Arc::new(out.finish()))
}

fn ipv4_is_in_range(args: &[ArrayRef]) -> Result<ArrayRef> {
    let (a, b) = (large(&args[0])?, large(&args[1])?);
    let mut out = BooleanBuilder::new();
    for k in 0..rows(args) {
        let at = |x: &LargeStringArray| if x.len() == 1 { 0 } else { k };
        if a.is_null(at(&a)) || b.is_null(at(&b)) {
            out.append_null();
            continue;
        }
        let range = b.value(at(&b));
        let (network, bits) = match range.split_once('/') {
            Some((network, bits)) => (network, bits.trim().parse::<u32>().ok()),
            None => (range, Some(32)),
        };
        let answer = match (ipv4(a.value(at(&a))), ipv4(network), bits) {
            (Some(ip), Some(network), Some(bits)) if bits <= 32 => {
                let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
                Some(ip & mask == network & mask)
            }
            _ => None,
        };
        out.append_option(answer);
    }
    Ok(Arc::new(out.finish()))
}

fn part_of(text: &str) -> Result<crate::time::Part> {
    match crate::time::Part::parse(text) {
        Some(part) => Ok(part),
        None => exec_err!(
            "`{text}` is not a datetime part (year, quarter, month, week, day, hour, minute, second, millisecond, microsecond, nanosecond)"
        ),
    }
}

fn datetime_diff(args: &[ArrayRef]) -> Result<ArrayRef> {
    let parts = large(&args[0])?;
    let (a, b) = (micros(&args[1])?, micros(&args[2])?);
    let mut out = Int64Builder::new();
    for k in 0..rows(args) {
        let at = |len: usize| if len == 1 { 0 } else { k };
        let (p, x, y) = (at(parts.len()), at(a.len()), at(b.len()));
        if parts.is_null(p) || a.is_null(x) || b.is_null(y) {
            out.append_null();
            continue;
        }
        let part = part_of(parts.value(p))?;
        out.append_value(crate::time::diff(part, a.value(x) * 1000, b.value(y) * 1000));
    }
    Ok(Arc::new(out.finish()))
}

fn datetime_add(args: &[ArrayRef]) -> Result<ArrayRef> {
    let parts = large(&args[0])?;
    let amounts = longs(&args[1])?;
    let times = micros(&args[2])?;
    let mut out = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    for k in 0..rows(args) {
        let at = |len: usize| if len == 1 { 0 } else { k };
        let (p, n, t) = (at(parts.len()), at(amounts.len()), at(times.len()));
        if parts.is_null(p) || amounts.is_null(n) || times.is_null(t) {
            out.append_null();
            continue;
        }
        let part = part_of(parts.value(p))?;
        out.append_option(
            crate::time::add(part, amounts.value(n), times.value(t) * 1000).map(|ns| ns.div_euclid(1000)),
        );
    }
    Ok(Arc::new(out.finish()))
}

/// `format_datetime(t, format)` with the KQL specifiers (`yyyy`, `MM`, `dd`, `HH`, `hh`, `mm`,
/// `ss`, `f`..`fffffff`, `tt`), other characters copied.
/// <https://learn.microsoft.com/en-us/kusto/query/format-datetime-function>
fn format_datetime(args: &[ArrayRef]) -> Result<ArrayRef> {
    use chrono::{Datelike, Timelike};
    let times = micros(&args[0])?;
    let formats = large(&args[1])?;
    let mut out = StringBuilder::new();
    for k in 0..rows(args) {
        let at = |len: usize| if len == 1 { 0 } else { k };
        let (t, f) = (at(times.len()), at(formats.len()));
        if times.is_null(t) || formats.is_null(f) {
            out.append_null();
            continue;
        }
        let Some(d) = chrono::DateTime::from_timestamp_micros(times.value(t)) else {
            out.append_null();
            continue;
        };
        let format: Vec<char> = formats.value(f).chars().collect();
        let mut text = String::new();
        let mut i = 0;
        while i < format.len() {
            let c = format[i];
            let mut run = 1;
            while i + run < format.len() && format[i + run] == c {
                run += 1;
            }
            match c {
                'y' => text.push_str(&match run {
                    1 => (d.year() % 100).to_string(),
                    2 => format!("{:02}", d.year() % 100),
                    n => format!("{:0n$}", d.year()),
                }),
                'M' => text.push_str(&if run >= 2 { format!("{:02}", d.month()) } else { d.month().to_string() }),
                'd' => text.push_str(&if run >= 2 { format!("{:02}", d.day()) } else { d.day().to_string() }),
                'H' => text.push_str(&if run >= 2 { format!("{:02}", d.hour()) } else { d.hour().to_string() }),
                'h' => {
                    let h = (d.hour() + 11) % 12 + 1;
                    text.push_str(&if run >= 2 { format!("{h:02}") } else { h.to_string() })
                }
                'm' => text.push_str(&if run >= 2 { format!("{:02}", d.minute()) } else { d.minute().to_string() }),
                's' => text.push_str(&if run >= 2 { format!("{:02}", d.second()) } else { d.second().to_string() }),
                'f' | 'F' => {
                    let digits = format!("{:09}", d.nanosecond());
                    text.push_str(&digits[..run.min(9)]);
                }
                't' => text.push_str(if d.hour() < 12 { "AM" } else { "PM" }),
                other => {
                    for _ in 0..run {
                        text.push(other);
                    }
                }
            }
            i += run;
        }
        out.append_value(text);
    }
    Ok(Arc::new(out.finish()))
}

/// `extract(regex, group, text)`: the group's text in the first match, or empty.
fn extract(args: &[ArrayRef]) -> Result<ArrayRef> {
    let patterns = large(&args[0])?;
    let groups = longs(&args[1])?;
    let texts = large(&args[2])?;
    let mut out = StringBuilder::new();
    let mut compiled: Option<(String, regex::Regex)> = None;
    for k in 0..rows(args) {
        let at = |len: usize| if len == 1 { 0 } else { k };
        let (p, g, t) = (at(patterns.len()), at(groups.len()), at(texts.len()));
        if patterns.is_null(p) || groups.is_null(g) || texts.is_null(t) {
            out.append_null();
            continue;
        }
        let pattern = patterns.value(p);
        if compiled.as_ref().is_none_or(|(text, _)| text != pattern) {
            let regex = regex::RegexBuilder::new(pattern)
                .size_limit(1 << 20)
                .build()
                .or_else(|e| exec_err!("extract: `{pattern}` is not a regular expression: {e}"))?;
            compiled = Some((pattern.to_string(), regex));
        }
        let regex = &compiled.as_ref().expect("compiled above").1;
        let found = regex
            .captures(texts.value(t))
            .and_then(|c| c.get(usize::try_from(groups.value(g)).unwrap_or(usize::MAX)))
            .map_or("", |m| m.as_str());
        out.append_value(found);
    }
    Ok(Arc::new(out.finish()))
}

/// `mv-expand`: an array's items (a property bag's properties as one-property bags) as a list
/// to unnest; a scalar is its own only item.
fn elements(args: &[ArrayRef]) -> Result<ArrayRef> {
    let a = large(&args[0])?;
    let mut out = ListBuilder::new(LargeStringBuilder::new());
    for v in a.iter() {
        match v.and_then(parse) {
            None | Some(Value::Null) => out.append_null(),
            Some(Value::Array(items)) => {
                for item in items {
                    if item.is_null() {
                        out.values().append_null()
                    } else {
                        out.values().append_value(item.to_string())
                    }
                }
                out.append(true);
            }
            Some(Value::Object(map)) => {
                for (key, value) in map {
                    let mut one = serde_json::Map::new();
                    one.insert(key, value);
                    out.values().append_value(Value::Object(one).to_string());
                }
                out.append(true);
            }
            Some(other) => {
                out.values().append_value(other.to_string());
                out.append(true);
            }
        }
    }
    Ok(Arc::new(out.finish()))
}

/// `kql_object(key, value, ...)` for the Sentinel views: a property bag of typed values
/// (strings, numbers, booleans, times as ISO 8601, string lists as arrays, dynamic values as
/// their JSON); null values are left out, as a missing property reads as null.
fn object(args: &[ArrayRef]) -> Result<ArrayRef> {
    let n = rows(args);
    let mut maps: Vec<serde_json::Map<String, Value>> = vec![serde_json::Map::new(); n];
    for pair in args.chunks(2) {
        let [key, value] = pair else { return exec_err!("kql_object takes pairs of key and value") };
        let keys = large(key)?;
        let values = json_values(value)?;
        for (k, map) in maps.iter_mut().enumerate() {
            let at = |len: usize| if len == 1 { 0 } else { k };
            if keys.is_null(at(keys.len())) {
                continue;
            }
            if let Some(Some(v)) = values.get(at(values.len())) {
                map.insert(keys.value(at(keys.len())).to_string(), v.clone());
            }
        }
    }
    let mut out = LargeStringBuilder::new();
    for map in maps {
        out.append_value(Value::Object(map).to_string());
    }
    Ok(Arc::new(out.finish()))
}

/// Each row of a typed array as a JSON value (`None` for null).
fn json_values(a: &ArrayRef) -> Result<Vec<Option<Value>>> {
    Ok(match a.data_type() {
        DataType::Null => vec![None; a.len()],
        DataType::LargeUtf8 => a.as_string::<i64>().iter().map(|v| v.and_then(parse)).collect(),
        DataType::Boolean => a.as_boolean().iter().map(|v| v.map(Value::Bool)).collect(),
        t if t.is_integer() => longs(a)?.iter().map(|v| v.map(Value::from)).collect(),
        t if t.is_floating() => {
            let f = cast(a, &DataType::Float64)?;
            f.as_primitive::<datafusion::arrow::datatypes::Float64Type>().iter().map(|v| v.map(Value::from)).collect()
        }
        DataType::List(_) => {
            (0..a.len()).map(|k| Ok(list_values(a, k)?.map(Value::Array))).collect::<Result<Vec<_>>>()?
        }
        DataType::Timestamp(_, _) => {
            let text = cast(a, &DataType::Utf8)?;
            text.as_string::<i32>().iter().map(|v| v.map(|s| Value::String(s.to_string()))).collect()
        }
        _ => large(a)?.iter().map(|v| v.map(|s| Value::String(s.to_string()))).collect(),
    })
}

/// `kql_json(value)`: one typed value as JSON (a string list as an array).
fn json(args: &[ArrayRef]) -> Result<ArrayRef> {
    let mut out = LargeStringBuilder::new();
    for v in json_values(&args[0])? {
        match v {
            Some(v) => out.append_value(v.to_string()),
            None => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

fn set_op(args: &[ArrayRef], op: fn(&[Value], &[Value]) -> Vec<Value>) -> Result<ArrayRef> {
    let (a, b) = (large(&args[0])?, large(&args[1])?);
    let mut out = LargeStringBuilder::new();
    let items = |x: &LargeStringArray, k: usize| -> Vec<Value> {
        let k = if x.len() == 1 { 0 } else { k };
        if x.is_null(k) {
            return Vec::new();
        }
        match parse(x.value(k)) {
            Some(Value::Array(items)) => items,
            Some(other) => vec![other],
            None => Vec::new(),
        }
    };
    for k in 0..rows(args) {
        let mut result: Vec<Value> = Vec::new();
        for v in op(&items(&a, k), &items(&b, k)) {
            if !result.contains(&v) {
                result.push(v);
            }
        }
        out.append_value(Value::Array(result).to_string());
    }
    Ok(Arc::new(out.finish()))
}

/// `array_slice(a, start, end)`: items start..=end, negative indices from the end.
fn array_slice(args: &[ArrayRef]) -> Result<ArrayRef> {
    let (starts, ends) = (longs(&args[1])?, longs(&args[2])?);
    map_dynamic(&args[0], |value, k| {
        let Value::Array(items) = value else { return None };
        let at = |a: &Int64Array| if a.len() == 1 { 0 } else { k };
        let n = items.len() as i64;
        let fix = |i: i64| if i < 0 { n + i } else { i };
        let (start, end) = (fix(starts.value(at(&starts))).max(0), fix(ends.value(at(&ends))).min(n - 1));
        if start > end {
            return Some(Value::Array(Vec::new()));
        }
        Some(Value::Array(items[start as usize..=end as usize].to_vec()))
    })
}

/// At most this many items in a `range()` array.
const MAX_RANGE: usize = 100_000;

/// `range(start, stop, step)` of numbers: whole numbers when all three are.
fn range(args: &[ArrayRef]) -> Result<ArrayRef> {
    let f = |a: &ArrayRef| -> Result<datafusion::arrow::array::Float64Array> {
        Ok(cast(a, &DataType::Float64)?.as_primitive::<datafusion::arrow::datatypes::Float64Type>().clone())
    };
    let (starts, stops, steps) = (f(&args[0])?, f(&args[1])?, f(&args[2])?);
    let mut out = LargeStringBuilder::new();
    for k in 0..rows(args) {
        let at = |a: &datafusion::arrow::array::Float64Array| if a.len() == 1 { 0 } else { k };
        let (a, b, s) = (starts.value(at(&starts)), stops.value(at(&stops)), steps.value(at(&steps)));
        if starts.is_null(at(&starts)) || stops.is_null(at(&stops)) || s == 0.0 || !s.is_finite() {
            out.append_null();
            continue;
        }
        let whole = a.fract() == 0.0 && s.fract() == 0.0;
        let mut items = Vec::new();
        let mut x = a;
        while (s > 0.0 && x <= b) || (s < 0.0 && x >= b) {
            if items.len() >= MAX_RANGE {
                return exec_err!("range() would make more than {MAX_RANGE} items");
            }
            items.push(if whole { Value::from(x as i64) } else { Value::from(x) });
            x += s;
        }
        out.append_value(Value::Array(items).to_string());
    }
    Ok(Arc::new(out.finish()))
}

/// `range(start, stop, step)` of datetimes (microseconds), as ISO 8601 strings.
fn range_time(args: &[ArrayRef]) -> Result<ArrayRef> {
    let (starts, stops, steps) = (longs(&args[0])?, longs(&args[1])?, longs(&args[2])?);
    let mut out = LargeStringBuilder::new();
    for k in 0..rows(args) {
        let at = |a: &Int64Array| if a.len() == 1 { 0 } else { k };
        if starts.is_null(at(&starts))
            || stops.is_null(at(&stops))
            || steps.is_null(at(&steps))
            || steps.value(at(&steps)) <= 0
        {
            out.append_null();
            continue;
        }
        let (mut t, stop, step) = (starts.value(at(&starts)), stops.value(at(&stops)), steps.value(at(&steps)));
        let mut items = Vec::new();
        while t <= stop {
            if items.len() >= MAX_RANGE {
                return exec_err!("range() would make more than {MAX_RANGE} items");
            }
            if let Some(d) = chrono::DateTime::from_timestamp_micros(t) {
                items.push(Value::String(d.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)));
            }
            t += step;
        }
        out.append_value(Value::Array(items).to_string());
    }
    Ok(Arc::new(out.finish()))
}

fn set_difference(args: &[ArrayRef]) -> Result<ArrayRef> {
    set_op(args, |a, b| a.iter().filter(|v| !b.contains(v)).cloned().collect())
}

fn set_union(args: &[ArrayRef]) -> Result<ArrayRef> {
    set_op(args, |a, b| a.iter().chain(b).cloned().collect())
}

fn set_intersect(args: &[ArrayRef]) -> Result<ArrayRef> {
    set_op(args, |a, b| a.iter().filter(|v| b.contains(v)).cloned().collect())
}

/// `kql_raw_field(raw, name, ...)`: the first of the names found in a unified audit log record
/// (inside its `AuditData` when the export wraps it, as Purview's CSV does), for the
/// OfficeActivity columns the store keeps no column of.
fn raw_field(args: &[ArrayRef]) -> Result<ArrayRef> {
    let raw = large(&args[0])?;
    let names: Vec<String> = args[1..]
        .iter()
        .map(|a| large(a).map(|a| if a.is_empty() || a.is_null(0) { String::new() } else { a.value(0).to_string() }))
        .collect::<Result<_>>()?;
    let mut out = LargeStringBuilder::new();
    for v in raw.iter() {
        let found = v.and_then(parse).and_then(|record| {
            let inner = match record.get("AuditData") {
                Some(Value::String(text)) => parse(text),
                Some(object @ Value::Object(_)) => Some(object.clone()),
                _ => None,
            };
            [inner.as_ref(), Some(&record)].into_iter().flatten().find_map(|object| {
                let map = object.as_object()?;
                names.iter().find_map(|n| {
                    map.get(n).or_else(|| map.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v)).cloned()
                })
            })
        });
        match found {
            Some(Value::Null) | None => out.append_null(),
            Some(value) => out.append_value(value.to_string()),
        }
    }
    Ok(Arc::new(out.finish()))
}

/// Registers the functions the Sentinel views' SQL uses.
pub fn register(ctx: &datafusion::prelude::SessionContext) {
    ctx.register_udf(get("kql_object").as_ref().clone());
    ctx.register_udf(get("kql_json").as_ref().clone());
    ctx.register_udf(get("kql_raw_field").as_ref().clone());
    ctx.register_udf(get("kql_tostring").as_ref().clone());
}

#[cfg(test)]
mod tests {
    use super::has_term;

    #[test]
    fn has_matches_whole_terms_only() {
        assert!(has_term("reset password (by user)", "reset password"));
        assert!(has_term("self-service password reset flow", "self-service password reset"));
        assert!(!has_term("resetting", "reset"));
        assert!(!has_term("preset", "reset"));
        assert!(has_term("{\"user\":{\"userprincipalname\":\"alice@contoso.com\"}}", "alice@contoso.com"));
        assert!(!has_term("malice@contoso.com", "alice@contoso.com"));
    }
}
