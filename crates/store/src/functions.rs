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
//! - `ip_class(ip [, log_asn])`: reserved, tor_exit, vpn, secure_web_gateway, hosting,
//!   mobile, isp or unknown; `ip_provider`, `ip_bulletproof` and `ip_evidence` (why) take the
//!   same arguments. A log's own ASN, when given, wins over the database's.

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
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature, Volatility, create_udf,
};
use datafusion::prelude::SessionContext;
use sleuth_intel::{Intel, Position, SharedIntel, classify_user_agent, distance_km, special_range};

/// Registers the functions in `ctx`, the `ip_*` ones answering from `intel`.
pub fn register(ctx: &SessionContext, intel: &Arc<SharedIntel>) {
    ctx.register_udf(create_udf(
        "ua_class",
        vec![DataType::Utf8],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(ua_class),
    ));
    ctx.register_udf(create_udf(
        "ip_special_range",
        vec![DataType::Utf8],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(ip_special_range),
    ));
    ctx.register_udf(create_udf(
        "geo_distance_km",
        vec![DataType::Float64; 4],
        DataType::Float64,
        Volatility::Immutable,
        Arc::new(geo_distance_km),
    ));
    for field in IpField::ALL {
        ctx.register_udf(ScalarUDF::new_from_impl(IpFunction::new(field, intel.clone())));
    }
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
            None => *known.entry(ua.to_string()).or_insert_with(|| classify_user_agent(ua).class.name()),
        })
    })?;
    Ok(ColumnarValue::Array(Arc::new(StringArray::from(classes))))
}

fn parse_ip(text: Option<&str>) -> Option<IpAddr> {
    text?.trim().parse().ok()
}

fn ip_special_range(args: &[ColumnarValue]) -> Result<ColumnarValue> {
    let ranges = each_str(&first_array(args)?, |v| parse_ip(v).and_then(special_range).map(|r| r.name()))?;
    Ok(ColumnarValue::Array(Arc::new(StringArray::from(ranges))))
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
