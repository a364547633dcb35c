//! Field lookup over one source record, tolerant of the dialects' spellings: camelCase (Graph),
//! PascalCase (Log Analytics), `_dynamic` / `_string` column pairs and ` [UTC]` suffixes (portal
//! exports of Log Analytics), dynamic columns stored as JSON strings, and numbers or booleans
//! written as text.

use std::borrow::Cow;

use chrono::{DateTime, Utc};

use crate::value::{Map, Value};

/// Suffixes that Log Analytics portal exports append to column names.
const SUFFIXES: [&str; 3] = ["_dynamic", "_string", " [UTC]"];

/// Parses string values that hold JSON objects or arrays (Log Analytics dynamic columns,
/// `AuditData`, `Parameters` ...) in place, so that nested lookups see real objects.
/// Text that merely starts with a bracket (a subject such as "[EXT] invoice") stays text.
pub(crate) fn expand_json_strings<'a>(map: &mut Map<'a>) {
    for value in map.values_mut() {
        let parsed = match value {
            // Text borrowed from the record (a CSV field) lends its own strings to the tree.
            Value::String(Cow::Borrowed(text)) => nested_json(text),
            // Text that had escapes (JSON inside a JSON string) owns its bytes: the tree parsed
            // from it is made to own its strings before the text goes.
            Value::String(Cow::Owned(text)) => nested_json(text).map(Value::into_owned),
            _ => None,
        };
        if let Some(parsed) = parsed {
            *value = parsed;
        }
    }
}

/// The object or array a text holds, if it is one.
fn nested_json(text: &str) -> Option<Value<'_>> {
    let t = text.trim_start();
    if !(t.starts_with('{') || t.starts_with('[')) {
        return None;
    }
    crate::value::parse(t).ok().filter(|v| v.is_object() || v.is_array())
}

/// A view of a record's fields; `fallback` holds the outer envelope of Azure Monitor
/// diagnostic records, whose `properties` are the primary fields.
#[derive(Clone, Copy)]
pub(crate) struct Fields<'a> {
    primary: &'a Map<'a>,
    fallback: Option<&'a Map<'a>>,
    /// Whether any column name carries a portal suffix; most records have none, and then
    /// the suffixed spellings are not tried (they would cost an allocation per miss).
    suffixed: bool,
    /// Whether names are also matched whatever their case: nested objects, which Graph writes
    /// in camelCase and the Graph PowerShell SDK's objects, serialised, in PascalCase
    /// (`Status.ErrorCode`, `Location.CountryOrRegion`). They are small, so the scan is cheap.
    any_case: bool,
}

fn has_suffixes(map: &Map<'_>) -> bool {
    map.keys().any(|k| SUFFIXES.iter().any(|s| k.ends_with(s)))
}

impl<'a> Fields<'a> {
    pub fn new(primary: &'a Map<'a>) -> Self {
        // The Graph PowerShell SDK's objects carry `AdditionalProperties`: their names are
        // PascalCase where Graph's are camelCase, with initialisms of their own (`IPAddress`).
        let any_case = primary.contains_key("AdditionalProperties");
        Fields { primary, fallback: None, suffixed: has_suffixes(primary), any_case }
    }

    /// A nested object's fields, matched whatever their case.
    pub fn nested(object: &'a Map<'a>) -> Self {
        Fields::new(object).any_case()
    }

    pub fn with_fallback(primary: &'a Map<'a>, fallback: &'a Map<'a>) -> Self {
        Fields {
            primary,
            fallback: Some(fallback),
            suffixed: has_suffixes(primary) || has_suffixes(fallback),
            any_case: false,
        }
    }

    /// The first present, non-null, non-empty value among `names`.
    pub fn value(&self, names: &[&str]) -> Option<&'a Value<'a>> {
        let maps = std::iter::once(self.primary).chain(self.fallback);
        for map in maps {
            for name in names {
                if let Some(v) = map.get(name).filter(|v| present(v)) {
                    return Some(v);
                }
            }
            for name in names.iter().filter(|_| self.any_case) {
                if let Some((_, v)) = map.iter().find(|(k, v)| k.eq_ignore_ascii_case(name) && present(v)) {
                    return Some(v);
                }
            }
            for name in names.iter().filter(|_| self.suffixed) {
                for suffix in SUFFIXES {
                    if let Some(v) = map.get(&format!("{name}{suffix}")).filter(|v| present(v)) {
                        return Some(v);
                    }
                }
            }
        }
        None
    }

    /// The same fields, matched whatever their case: for small records whose writers spell
    /// names their own way (the Az PowerShell module's `OperationName.Value`).
    pub fn any_case(self) -> Self {
        Fields { any_case: true, ..self }
    }

    pub fn has(&self, name: &str) -> bool {
        self.has_any(&[name])
    }

    pub fn has_any(&self, names: &[&str]) -> bool {
        self.value(names).is_some()
    }

    pub fn text(&self, names: &[&str]) -> Option<String> {
        self.value(names).and_then(as_text)
    }

    pub fn lower(&self, names: &[&str]) -> Option<String> {
        self.text(names).map(|s| s.to_lowercase())
    }

    pub fn int(&self, names: &[&str]) -> Option<i64> {
        self.value(names).and_then(as_int)
    }

    pub fn float(&self, names: &[&str]) -> Option<f64> {
        self.value(names).and_then(as_float)
    }

    pub fn bool(&self, names: &[&str]) -> Option<bool> {
        self.value(names).and_then(as_bool)
    }

    pub fn time(&self, names: &[&str]) -> Option<DateTime<Utc>> {
        self.value(names).and_then(|v| crate::time::parse(as_text(v)?.as_str()))
    }

    pub fn object(&self, names: &[&str]) -> Option<Fields<'a>> {
        self.value(names).and_then(Value::as_object).map(Fields::nested)
    }

    pub fn array(&self, names: &[&str]) -> Option<&'a [Value<'a>]> {
        self.value(names).and_then(Value::as_array).map(Vec::as_slice)
    }

    /// Compact JSON of a nested value, for columns that keep a whole structure.
    pub fn json(&self, names: &[&str]) -> Option<String> {
        self.value(names).map(|v| match v {
            Value::String(s) => s.to_string(),
            other => other.to_string(),
        })
    }
}

fn present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.trim().is_empty(),
        _ => true,
    }
}

pub(crate) fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => {
            let t = s.trim();
            (!t.is_empty()).then(|| t.to_string())
        }
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        other => Some(other.to_string()),
    }
}

pub(crate) fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => {
            let t = s.trim();
            t.parse::<i64>().ok().or_else(|| t.parse::<f64>().ok().map(|f| f as i64))
        }
        _ => None,
    }
}

pub(crate) fn as_float(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

pub(crate) fn as_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_i64().map(|i| i != 0),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Some(true),
            "false" | "no" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// Values of `key` in an array of objects (e.g. `authenticationDetails[].authenticationMethod`).
pub(crate) fn pluck(items: &[Value], keys: &[&str]) -> Vec<String> {
    items.iter().filter_map(Value::as_object).filter_map(|o| Fields::nested(o).text(keys)).collect()
}

/// Looks up `name` in a list of `{Name, Value}` or `{key, value}` pairs, case-insensitively.
pub(crate) fn pair_value(items: &[Value], name: &str) -> Option<String> {
    items.iter().filter_map(Value::as_object).find_map(|o| {
        let f = Fields::nested(o);
        let key = f.text(&["Name", "name", "key", "Key"])?;
        key.eq_ignore_ascii_case(name).then(|| f.text(&["Value", "value"])).flatten()
    })
}

/// Canonical form of an IP address: no port, no brackets, IPv6 compressed. Text that is not
/// an address is kept (trimmed) rather than lost.
pub(crate) fn normalise_ip(text: &str) -> Option<String> {
    use std::net::{IpAddr, SocketAddr};
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    if let Ok(ip) = t.parse::<IpAddr>() {
        return Some(ip.to_string());
    }
    if let Ok(sa) = t.parse::<SocketAddr>() {
        return Some(sa.ip().to_string());
    }
    let unbracketed = t.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = unbracketed.parse::<IpAddr>() {
        return Some(ip.to_string());
    }
    Some(t.to_string())
}

/// Validates reported coordinates. Returns whether they can be trusted and, if not, why.
/// Swapped pairs are recognisable only when the latitude is out of range but the longitude
/// would be a valid latitude (a sample export places North Korea at latitude 125).
pub(crate) fn check_coordinates(lat: Option<f64>, lon: Option<f64>) -> (bool, Option<&'static str>) {
    match (lat, lon) {
        (Some(lat), Some(lon)) => {
            if lat.abs() > 90.0 && lon.abs() <= 90.0 && lat.abs() <= 180.0 {
                (false, Some("swapped"))
            } else if lat.abs() > 90.0 || lon.abs() > 180.0 {
                (false, Some("out_of_range"))
            } else if lat == 0.0 && lon == 0.0 {
                (false, Some("null_island"))
            } else {
                (true, None)
            }
        }
        _ => (false, Some("missing")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_camel_pascal_and_suffixed_names() {
        let text = r#"{"LocationDetails_dynamic": "{\"city\":\"Azor\"}", "ResultType": "50126", "IsInteractive": "TRUE", "x": ""}"#;
        let Ok(Value::Object(mut m)) = crate::value::parse(text) else { panic!() };
        expand_json_strings(&mut m);
        let f = Fields::new(&m);
        assert_eq!(f.object(&["location", "LocationDetails"]).unwrap().text(&["city"]).as_deref(), Some("Azor"));
        assert_eq!(f.int(&["status", "ResultType"]), Some(50126));
        assert_eq!(f.bool(&["IsInteractive"]), Some(true));
        assert_eq!(f.text(&["x"]), None);
    }

    #[test]
    fn bracketed_text_that_is_not_json_stays_text() {
        let Ok(Value::Object(mut m)) = crate::value::parse(r#"{"Subject": "[EXT] invoice"}"#) else { panic!() };
        expand_json_strings(&mut m);
        assert_eq!(Fields::new(&m).text(&["Subject"]).as_deref(), Some("[EXT] invoice"));
    }

    #[test]
    fn ip_addresses_lose_ports_and_brackets() {
        assert_eq!(
            normalise_ip("[2a01:110:8068:7:9bf8:aa87:e00a:5f1f]:36185").as_deref(),
            Some("2a01:110:8068:7:9bf8:aa87:e00a:5f1f")
        );
        assert_eq!(normalise_ip("89.187.164.82:50123").as_deref(), Some("89.187.164.82"));
        assert_eq!(normalise_ip(" 10.0.0.1 ").as_deref(), Some("10.0.0.1"));
        assert_eq!(normalise_ip("not-an-ip").as_deref(), Some("not-an-ip"));
    }

    #[test]
    fn coordinates_are_checked() {
        assert_eq!(check_coordinates(Some(32.0), Some(34.8)), (true, None));
        assert_eq!(check_coordinates(Some(125.16), Some(38.84)), (false, Some("swapped")));
        assert_eq!(check_coordinates(Some(0.0), Some(0.0)), (false, Some("null_island")));
        assert_eq!(check_coordinates(None, Some(1.0)), (false, Some("missing")));
        assert_eq!(check_coordinates(Some(95.0), Some(190.0)), (false, Some("out_of_range")));
    }
}
