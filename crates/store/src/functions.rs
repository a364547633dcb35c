//! SQL functions over the intelligence crate, registered in every session, so that rules,
//! questions and ad hoc queries share one implementation:
//!
//! - `ua_class(user_agent)`: browser, microsoft_client, automation, offensive_tool,
//!   legacy_protocol, empty or other.
//! - `geo_distance_km(lat1, lon1, lat2, lon2)`: great-circle distance.
//! - `ip_special_range(ip)`: private, carrier_grade_nat, loopback, link_local, documentation,
//!   multicast ... or NULL for a public address (and for text that is not an address).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
use datafusion::prelude::SessionContext;
use sleuth_intel::{Position, classify_user_agent, distance_km, special_range};

pub(crate) fn register(ctx: &SessionContext) {
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
}

fn strings(args: &[ColumnarValue]) -> Result<ArrayRef> {
    let arrays = ColumnarValue::values_to_arrays(args)?;
    Ok(cast(&arrays[0], &DataType::Utf8)?)
}

fn ua_class(args: &[ColumnarValue]) -> Result<ColumnarValue> {
    let input = strings(args)?;
    let out: StringArray =
        input.as_string::<i32>().iter().map(|v| v.map(|ua| classify_user_agent(ua).class.name())).collect();
    Ok(ColumnarValue::Array(Arc::new(out)))
}

fn ip_special_range(args: &[ColumnarValue]) -> Result<ColumnarValue> {
    let input = strings(args)?;
    let out: StringArray = input
        .as_string::<i32>()
        .iter()
        .map(|v| v.and_then(|ip| ip.trim().parse().ok()).and_then(special_range).map(|r| r.name()))
        .collect();
    Ok(ColumnarValue::Array(Arc::new(out)))
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
