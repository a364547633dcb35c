//! SQL functions over the intelligence crate, registered in every session, so that rules,
//! questions and ad hoc queries share one implementation:
//!
//! - `ua_class(user_agent)`: browser, microsoft_client, automation, offensive_tool,
//!   legacy_protocol, empty or other.
//! - `geo_distance_km(lat1, lon1, lat2, lon2)`: great-circle distance.
//! - `ip_special_range(ip)`: private, carrier_grade_nat, loopback, link_local, documentation,
//!   multicast ... or NULL for a public address (and for text that is not an address).
//! - from the installed databases (`sleuth intel update`): `ip_country`, `ip_region`,
//!   `ip_city`, `ip_latitude`, `ip_longitude`, `ip_accuracy_km`, `ip_asn`, `ip_org`.
//! - `ip_in_cidr(ip, cidr)`: whether an address lies in a network (`10.0.0.0/8`, `2001:db8::/32`);
//!   NULL when either is not an address or a network.
//! - `keyed_hash(seed, text)`: a 64-bit digest of the text (xxh3) under `seed`, NULL for NULL:
//!   a key that a sort or a window carries in 8 bytes instead of the text. Log text is the
//!   attacker's, and a fast hash's collisions can be made when its seed is known: callers
//!   give a seed drawn at random per run (the hunt's `{{hash_seed}}`), one literal that every
//!   executor of a cluster sees alike.
//! - `json_field(json, path)`: a field of a JSON text (the records' `raw`) as text, for the
//!   fields the store keeps no column of: see [`json_field`] for how the path is found.
//! - `ip_class(ip [, log_asn])`: reserved, tor_exit, vpn, secure_web_gateway, hosting,
//!   mobile, isp or unknown; `ip_provider`, `ip_bulletproof` and `ip_evidence` (why) take the
//!   same arguments. A log's own ASN, when given, wins over the database's.
//! - the window function `count_same_before(key, time, reach, gap) OVER (PARTITION BY ...
//!   ORDER BY time)`: how many earlier rows of the partition had the same key from `reach` to
//!   `gap` before (`window.rs`), the baseline counts of one account's history in one sort;
//!   `sum_same_before(time, reach, gap, key, ...)`, the sum of those counts over several keys.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, StringArray, StringViewArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature, Volatility, WindowUDF,
    create_udf,
};
use datafusion::prelude::SessionContext;
use sleuth_intel::{Intel, Position, SharedIntel, distance_km, special_range, user_agent_class};

/// Registers the functions in `ctx`, the `ip_*` ones answering from `intel`.
pub fn register(ctx: &SessionContext, intel: &Arc<SharedIntel>) {
    let Functions { scalar, window } = all(intel);
    for udf in scalar {
        ctx.register_udf(udf);
    }
    for udwf in window {
        ctx.register_udwf(udwf);
    }
}

/// Sleuth's functions, for a session built some other way than [`register`]: a cluster's
/// scheduler and executors must know every function a plan names (`sleuth-cluster`).
pub struct Functions {
    pub scalar: Vec<ScalarUDF>,
    pub window: Vec<WindowUDF>,
}

/// Every function of this module, the `ip_*` ones answering from `intel`.
pub fn all(intel: &Arc<SharedIntel>) -> Functions {
    let simple =
        |name: &str, args: Vec<DataType>, returns: DataType, f: fn(&[ColumnarValue]) -> Result<ColumnarValue>| {
            create_udf(name, args, returns, Volatility::Immutable, Arc::new(f))
        };
    let mut scalar = vec![
        simple("ua_class", vec![DataType::Utf8], DataType::Utf8, ua_class),
        simple("ip_special_range", vec![DataType::Utf8], DataType::Utf8, ip_special_range),
        simple("geo_distance_km", vec![DataType::Float64; 4], DataType::Float64, geo_distance_km),
        simple("ip_in_cidr", vec![DataType::Utf8, DataType::Utf8], DataType::Boolean, ip_in_cidr),
        simple("json_field", vec![DataType::Utf8, DataType::Utf8], DataType::Utf8, json_field_udf),
        simple("keyed_hash", vec![DataType::Int64, DataType::Utf8], DataType::Int64, keyed_hash),
    ];
    scalar
        .extend(IpField::ALL.into_iter().map(|field| ScalarUDF::new_from_impl(IpFunction::new(field, intel.clone()))));
    Functions { scalar, window: vec![crate::window::count_same_before(), crate::window::sum_same_before()] }
}

/// The text of a string column of any Arrow string type, one `Option<&str>` per row.
fn each_str<T>(array: &ArrayRef, f: impl FnMut(Option<&str>) -> T) -> Result<Vec<T>> {
    Ok(match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().iter().map(f).collect(),
        DataType::LargeUtf8 => array.as_string::<i64>().iter().map(f).collect(),
        DataType::Utf8View => array.as_string_view().iter().map(f).collect(),
        _ => cast(array, &DataType::Utf8)?.as_string::<i32>().iter().map(f).collect(),
    })
}

fn first_array(args: &[ColumnarValue]) -> Result<ArrayRef> {
    Ok(ColumnarValue::values_to_arrays(args)?.swap_remove(0))
}

/// Classifies each distinct user agent of the batch once: a tenant has a few thousand agents
/// at most, repeated over millions of sign-ins.
fn ua_class(args: &[ColumnarValue]) -> Result<ColumnarValue> {
    let mut known: HashMap<String, &'static str> = HashMap::new();
    let classes = each_str(&first_array(args)?, |v| {
        v.map(|ua| match known.get(ua) {
            Some(class) => *class,
            None => *known.entry(ua.to_string()).or_insert_with(|| user_agent_class(ua).name()),
        })
    })?;
    Ok(ColumnarValue::Array(Arc::new(StringArray::from(classes))))
}

fn keyed_hash(args: &[ColumnarValue]) -> Result<ColumnarValue> {
    let arrays = ColumnarValue::values_to_arrays(args)?;
    let seeds = arrays[0].as_primitive::<Int64Type>();
    let mut row = 0;
    let digests = each_str(&arrays[1], |text| {
        let seed = seeds.is_valid(row).then(|| seeds.value(row));
        row += 1;
        Some(xxhash_rust::xxh3::xxh3_64_with_seed(text?.as_bytes(), seed? as u64) as i64)
    })?;
    Ok(ColumnarValue::Array(Arc::new(Int64Array::from(digests))))
}

fn parse_ip(text: Option<&str>) -> Option<IpAddr> {
    text?.trim().parse().ok()
}

fn ip_special_range(args: &[ColumnarValue]) -> Result<ColumnarValue> {
    let ranges = each_str(&first_array(args)?, |v| parse_ip(v).and_then(special_range).map(|r| r.name()))?;
    Ok(ColumnarValue::Array(Arc::new(StringArray::from(ranges))))
}

/// The text of two string arguments, row by row.
fn str_pairs<T>(args: &[ColumnarValue], mut f: impl FnMut(Option<&str>, Option<&str>) -> T) -> Result<Vec<T>> {
    let arrays = ColumnarValue::values_to_arrays(args)?;
    let second: Vec<Option<String>> = each_str(&arrays[1], |v| v.map(str::to_string))?;
    let mut row = 0;
    each_str(&arrays[0], |v| {
        let out = f(v, second[row].as_deref());
        row += 1;
        out
    })
}

fn ip_in_cidr(args: &[ColumnarValue]) -> Result<ColumnarValue> {
    let mut networks: HashMap<String, Option<(IpAddr, u8)>> = HashMap::new();
    let inside = str_pairs(args, |ip, cidr| {
        let network = *networks.entry(cidr?.to_string()).or_insert_with(|| parse_cidr(cidr?));
        Some(in_network(parse_ip(ip)?, network?))
    })?;
    Ok(ColumnarValue::Array(Arc::new(BooleanArray::from(inside))))
}

/// `a.b.c.d/n` or `v6::/n`; a bare address is a network of one.
fn parse_cidr(text: &str) -> Option<(IpAddr, u8)> {
    let (address, bits) = text.trim().split_once('/').unwrap_or((text.trim(), ""));
    let address: IpAddr = address.parse().ok()?;
    let max = if address.is_ipv4() { 32 } else { 128 };
    let bits = if bits.is_empty() { max } else { bits.parse().ok().filter(|b| *b <= max)? };
    Some((address, bits))
}

fn in_network(ip: IpAddr, (network, bits): (IpAddr, u8)) -> bool {
    let prefix = |value: u128, width: u8| if bits == 0 { 0 } else { value >> (width - bits) };
    match (ip, network) {
        (IpAddr::V4(a), IpAddr::V4(n)) => prefix(u32::from(a).into(), 32) == prefix(u32::from(n).into(), 32),
        (IpAddr::V6(a), IpAddr::V6(n)) => prefix(u128::from(a), 128) == prefix(u128::from(n), 128),
        (IpAddr::V6(a), IpAddr::V4(_)) => {
            a.to_ipv4_mapped().is_some_and(|a| in_network(IpAddr::V4(a), (network, bits)))
        }
        (IpAddr::V4(_), IpAddr::V6(_)) => false,
    }
}

fn json_field_udf(args: &[ColumnarValue]) -> Result<ColumnarValue> {
    let texts = str_pairs(args, |json, path| {
        let mut value: serde_json::Value = serde_json::from_str(json?).ok()?;
        open_wrappers(&mut value);
        json_field(&value, path?)
    })?;
    Ok(ColumnarValue::Array(Arc::new(StringArray::from(texts))))
}

/// The keys that wrap a record: `properties` (diagnostic settings), `AuditData` (the Purview
/// CSV export, as JSON text) and `auditData` (Purview records through Graph).
const WRAPPERS: [&str; 2] = ["properties", "auditdata"];

/// Parses a wrapper written as JSON text (the Purview CSV's `AuditData` column) in place.
fn open_wrappers(value: &mut serde_json::Value) {
    let Some(map) = value.as_object_mut() else { return };
    for (key, inner) in map.iter_mut() {
        if WRAPPERS.iter().any(|w| key.eq_ignore_ascii_case(w))
            && let serde_json::Value::String(text) = inner
            && let Ok(parsed @ serde_json::Value::Object(_)) = serde_json::from_str(text)
        {
            *inner = parsed;
        }
    }
}

/// A field of a record as text, found the way the dialects spell it: keys match whatever
/// their case; a dotted path may also be one key with dots in it; a record wrapped in
/// `properties` or `AuditData` (see [`WRAPPERS`]) is looked into; lists are searched element by element;
/// and a list of name/value pairs (`ExtendedProperties`, `Parameters`, `modifiedProperties`:
/// `{"Name": "RequestType", "Value": "..."}`) answers for its names. Several matches are
/// joined by new lines; a text value loses the JSON quotes some logs wrap it in.
pub fn json_field(value: &serde_json::Value, path: &str) -> Option<String> {
    let segments: Vec<&str> = path.split('.').filter(|s| !s.is_empty()).collect();
    let mut found = Vec::new();
    find_field(value, &segments, &mut found);
    if found.is_empty() {
        return None;
    }
    let texts: Vec<String> = found
        .into_iter()
        .map(|v| match v {
            serde_json::Value::String(s) => s.trim_matches('"').to_string(),
            other => other.to_string(),
        })
        .collect();
    Some(texts.join("\n"))
}

const NAME_KEYS: [&str; 3] = ["name", "displayname", "key"];
const VALUE_KEYS: [&str; 3] = ["value", "newvalue", "values"];

fn find_field<'a>(value: &'a serde_json::Value, path: &[&str], found: &mut Vec<&'a serde_json::Value>) {
    if path.is_empty() {
        found.push(value);
        return;
    }
    match value {
        serde_json::Value::Array(items) => items.iter().for_each(|item| find_field(item, path, found)),
        serde_json::Value::Object(map) => {
            let key_of = |names: &[&str]| map.iter().find(|(k, _)| names.iter().any(|n| k.eq_ignore_ascii_case(n)));
            let before = found.len();
            for take in (1..=path.len()).rev() {
                let key = path[..take].join(".");
                if let Some((_, inner)) = map.iter().find(|(k, _)| k.eq_ignore_ascii_case(&key)) {
                    find_field(inner, &path[take..], found);
                }
                let named =
                    key_of(&NAME_KEYS).and_then(|(_, n)| n.as_str()).is_some_and(|n| n.eq_ignore_ascii_case(&key));
                if let (true, Some((_, inner))) = (named, key_of(&VALUE_KEYS)) {
                    find_field(inner, &path[take..], found);
                }
            }
            if found.len() == before {
                for (_, inner) in map.iter().filter(|(k, _)| WRAPPERS.iter().any(|w| k.eq_ignore_ascii_case(w))) {
                    find_field(inner, path, found);
                }
            }
            // Name/value lists under other keys (`ExtendedProperties`, `targetResources`).
            if found.len() == before {
                map.values().filter(|v| v.is_array()).for_each(|list| find_field(list, path, found));
            }
        }
        _ => {}
    }
}

fn geo_distance_km(args: &[ColumnarValue]) -> Result<ColumnarValue> {
    let arrays = ColumnarValue::values_to_arrays(args)?;
    let columns = arrays.iter().map(|a| cast(a, &DataType::Float64)).collect::<std::result::Result<Vec<_>, _>>()?;
    let [lat1, lon1, lat2, lon2] = [0, 1, 2, 3].map(|i| columns[i].as_primitive::<Float64Type>());
    let at = |lat: f64, lon: f64| Position { latitude: lat, longitude: lon, accuracy_km: 0.0 };
    let out: Float64Array = (0..lat1.len())
        .map(|i| {
            let valid = [lat1, lon1, lat2, lon2].iter().all(|c| c.is_valid(i));
            valid.then(|| distance_km(at(lat1.value(i), lon1.value(i)), at(lat2.value(i), lon2.value(i))))
        })
        .collect();
    Ok(ColumnarValue::Array(Arc::new(out)))
}

/// What an `ip_*` function returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum IpField {
    Country,
    Region,
    City,
    Latitude,
    Longitude,
    AccuracyKm,
    Asn,
    Org,
    Class,
    Provider,
    Bulletproof,
    Evidence,
}

impl IpField {
    const ALL: [IpField; 12] = [
        IpField::Country,
        IpField::Region,
        IpField::City,
        IpField::Latitude,
        IpField::Longitude,
        IpField::AccuracyKm,
        IpField::Asn,
        IpField::Org,
        IpField::Class,
        IpField::Provider,
        IpField::Bulletproof,
        IpField::Evidence,
    ];

    fn name(self) -> &'static str {
        match self {
            IpField::Country => "ip_country",
            IpField::Region => "ip_region",
            IpField::City => "ip_city",
            IpField::Latitude => "ip_latitude",
            IpField::Longitude => "ip_longitude",
            IpField::AccuracyKm => "ip_accuracy_km",
            IpField::Asn => "ip_asn",
            IpField::Org => "ip_org",
            IpField::Class => "ip_class",
            IpField::Provider => "ip_provider",
            IpField::Bulletproof => "ip_bulletproof",
            IpField::Evidence => "ip_evidence",
        }
    }

    fn return_type(self) -> DataType {
        match self {
            IpField::Latitude | IpField::Longitude | IpField::AccuracyKm => DataType::Float64,
            IpField::Asn => DataType::Int64,
            IpField::Bulletproof => DataType::Boolean,
            _ => DataType::Utf8View,
        }
    }

    /// Whether the function takes the log's own ASN as an optional second argument.
    fn takes_log_asn(self) -> bool {
        matches!(self, IpField::Class | IpField::Provider | IpField::Bulletproof | IpField::Evidence)
    }
}

#[derive(Debug)]
struct IpFunction {
    field: IpField,
    signature: Signature,
    intel: Arc<SharedIntel>,
}

impl IpFunction {
    fn new(field: IpField, intel: Arc<SharedIntel>) -> IpFunction {
        let mut accepted = vec![TypeSignature::Exact(vec![DataType::Utf8])];
        if field.takes_log_asn() {
            accepted.push(TypeSignature::Exact(vec![DataType::Utf8, DataType::Int64]));
        }
        IpFunction { field, signature: Signature::one_of(accepted, Volatility::Immutable), intel }
    }

    fn evaluate(&self, intel: &Intel, args: &[ArrayRef]) -> Result<ArrayRef> {
        let ips = &args[0];
        let log_asns = args.get(1).map(|a| cast(a, &DataType::Int64)).transpose()?;
        let log_asn = |row: usize| {
            let asns = log_asns.as_ref()?.as_primitive::<Int64Type>();
            asns.is_valid(row).then(|| u32::try_from(asns.value(row)).ok()).flatten()
        };
        let mut row = 0;
        let mut next_asn = || {
            row += 1;
            log_asn(row - 1)
        };
        fn text<S: AsRef<str>>(values: Vec<Option<S>>) -> ArrayRef {
            Arc::new(values.iter().map(|v| v.as_ref().map(AsRef::as_ref)).collect::<StringViewArray>())
        }
        Ok(match self.field {
            IpField::Country => text(each_str(ips, |v| parse_ip(v).and_then(|ip| intel.country(ip)))?),
            IpField::Region => text(each_str(ips, |v| {
                parse_ip(v).and_then(|ip| intel.place(ip)).map(|p| p.region).filter(|c| !c.is_empty())
            })?),
            IpField::City => text(each_str(ips, |v| {
                parse_ip(v).and_then(|ip| intel.place(ip)).map(|p| p.city).filter(|c| !c.is_empty())
            })?),
            IpField::Latitude => Arc::new(Float64Array::from(each_str(ips, |v| {
                parse_ip(v).and_then(|ip| intel.place(ip)).and_then(|p| p.latitude)
            })?)),
            IpField::Longitude => Arc::new(Float64Array::from(each_str(ips, |v| {
                parse_ip(v).and_then(|ip| intel.place(ip)).and_then(|p| p.longitude)
            })?)),
            IpField::AccuracyKm => Arc::new(Float64Array::from(each_str(ips, |v| {
                parse_ip(v).and_then(|ip| intel.place(ip)).map(|p| p.accuracy_km)
            })?)),
            IpField::Asn => Arc::new(Int64Array::from(each_str(ips, |v| {
                parse_ip(v).and_then(|ip| intel.asn(ip)).map(|a| i64::from(a.number))
            })?)),
            IpField::Org => text(each_str(ips, |v| parse_ip(v).and_then(|ip| intel.asn(ip)).map(|a| a.org.as_str()))?),
            IpField::Class => text(each_str(ips, |v| {
                let asn = next_asn();
                parse_ip(v).map(|ip| intel.class_with_asn(ip, asn).name())
            })?),
            IpField::Provider => text(each_str(ips, |v| {
                let asn = next_asn();
                parse_ip(v).and_then(|ip| intel.provider_with_asn(ip, asn))
            })?),
            IpField::Bulletproof => Arc::new(BooleanArray::from(each_str(ips, |v| {
                let asn = next_asn();
                parse_ip(v).map(|ip| intel.bulletproof_with_asn(ip, asn))
            })?)),
            IpField::Evidence => text(each_str(ips, |v| {
                let asn = next_asn();
                let evidence = intel.evidence_with_asn(parse_ip(v)?, asn);
                let reasons: Vec<String> =
                    evidence.iter().map(|e| format!("{}: {} [{}]", e.class, e.detail, e.source)).collect();
                Some(reasons.join("; "))
            })?),
        })
    }
}

impl PartialEq for IpFunction {
    fn eq(&self, other: &Self) -> bool {
        self.field == other.field && Arc::ptr_eq(&self.intel, &other.intel)
    }
}

impl Eq for IpFunction {}

impl Hash for IpFunction {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.field.hash(state);
    }
}

impl ScalarUDFImpl for IpFunction {
    fn name(&self) -> &str {
        self.field.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.field.return_type())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let intel = self.intel.get().map_err(|e| DataFusionError::Execution(e.to_string()))?;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        Ok(ColumnarValue::Array(self.evaluate(intel, &arrays)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_fall_in_networks_of_either_family() {
        let inside = |ip: &str, cidr: &str| Some(in_network(ip.parse().ok()?, parse_cidr(cidr)?));
        assert_eq!(inside("10.1.2.3", "10.0.0.0/8"), Some(true));
        assert_eq!(inside("11.1.2.3", "10.0.0.0/8"), Some(false));
        assert_eq!(inside("203.0.113.9", "203.0.113.9"), Some(true));
        assert_eq!(inside("8.8.8.8", "0.0.0.0/0"), Some(true));
        assert_eq!(inside("2001:db8::1", "2001:db8::/32"), Some(true));
        assert_eq!(inside("2001:db9::1", "2001:db8::/32"), Some(false));
        assert_eq!(inside("::ffff:10.0.0.1", "10.0.0.0/8"), Some(true));
        assert_eq!(inside("10.0.0.1", "10.0.0.0/33"), None);
        assert_eq!(inside("not an ip", "10.0.0.0/8"), None);
    }

    #[test]
    fn fields_are_found_however_the_dialect_spells_them() {
        let record: serde_json::Value = serde_json::from_str(
            r#"{"properties": {"homeTenantId": "t1", "networkLocationDetails": []},
                "ExtendedProperties": [{"Name": "RequestType", "Value": "Cmsi:Cmsi"}],
                "targetResources": [{"modifiedProperties": [
                    {"displayName": "ConsentContext.IsAdminConsent", "newValue": "\"False\""}]}]}"#,
        )
        .unwrap();
        assert_eq!(json_field(&record, "HomeTenantId").as_deref(), Some("t1"));
        assert_eq!(json_field(&record, "NetworkLocationDetails").as_deref(), Some("[]"));
        assert_eq!(json_field(&record, "RequestType").as_deref(), Some("Cmsi:Cmsi"));
        assert_eq!(json_field(&record, "ConsentContext.IsAdminConsent").as_deref(), Some("False"));
        assert_eq!(
            json_field(&record, "TargetResources.ModifiedProperties.DisplayName").as_deref(),
            Some("ConsentContext.IsAdminConsent")
        );
        assert_eq!(json_field(&record, "Nope"), None);
        // A Purview CSV row keeps the record as JSON text in AuditData.
        let mut row = serde_json::json!({"RecordType": "SecurityComplianceAlerts",
            "AuditData": "{\"Name\": \"Suspicious inbox forwarding\", \"Parameters\": [{\"Name\": \"Force\", \"Value\": \"True\"}]}"});
        assert_eq!(json_field(&row, "Name"), None);
        open_wrappers(&mut row);
        assert_eq!(json_field(&row, "Name").as_deref(), Some("Suspicious inbox forwarding"));
        assert_eq!(json_field(&row, "Force").as_deref(), Some("True"));
    }

    #[tokio::test]
    async fn keyed_hashes_are_equal_for_equal_text_under_one_seed_and_null_for_null() {
        let ctx = SessionContext::new();
        let Functions { scalar, .. } = all(&SharedIntel::for_dir("/nonexistent".as_ref()));
        scalar.into_iter().for_each(|udf| ctx.register_udf(udf));
        let sql = "SELECT keyed_hash(7, t) AS a, keyed_hash(7, t) AS b, keyed_hash(8, t) AS c, keyed_hash(7, u) AS d
                   FROM (VALUES ('Mozilla/5.0', 'Mozilla/5.1'), ('', ''), (NULL, 'x'), ('x', 'x')) AS v(t, u)";
        let batches = crate::read_only(&ctx, sql).await.unwrap().collect().await.unwrap();
        let column = |i: usize| batches[0].column(i).as_primitive::<Int64Type>().iter().collect::<Vec<_>>();
        let (a, b, c, d) = (column(0), column(1), column(2), column(3));
        assert_eq!(a, b, "the same text under the same seed");
        assert_eq!(a[2], None, "NULL is no key");
        assert!(a.iter().zip(&c).filter(|(a, _)| a.is_some()).all(|(a, c)| a != c), "another seed, other digests");
        assert_ne!(a[0], d[0], "other text, another digest");
        assert_eq!(a[1], d[1], "the empty text is a key like any other");
        assert_eq!(a[3], d[3]);
        assert_eq!(a[0], Some(xxhash_rust::xxh3::xxh3_64_with_seed(b"Mozilla/5.0", 7) as i64));
    }
}
