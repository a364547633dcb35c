//! The open databases, compiled into range tables: geolocation from a MaxMind DB file (the
//! ip-location-db flat layout of DB-IP Lite, or a user's own GeoLite2 / GeoIP2 City), ASNs
//! from the ip-location-db CSV (or a GeoLite2 ASN file), and provider ranges (hosting, CDN,
//! VPN, Tor exits, crawlers) from the iporigin range file.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use maxminddb::{Reader, WithinOptions, geoip2};
use serde::{Deserialize, Serialize};

use crate::table::{RangeTable, RangeTableBuilder};
use crate::travel::{Position, distance_km};

/// Where an address is, as precisely as the database knows. Tables hold `Place` (the names
/// owned); lookups read a [`PlaceRef`], the same fields with the names borrowed from the
/// table. Tables encode values by field order, so the fields keep their order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Place<S = String> {
    /// ISO 3166-1 alpha-2, upper case; empty when unknown.
    pub country: S,
    pub region: S,
    pub city: S,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// Radius, km, within which the address really is (see [`CITY_ACCURACY_KM`]).
    pub accuracy_km: f64,
}

/// A place read where it lies in a table, its names borrowed.
pub type PlaceRef<'a> = Place<&'a str>;

impl<S: AsRef<str>> Place<S> {
    /// The country code as two ASCII letters, for the countries table.
    pub fn country_code(&self) -> Option<[u8; 2]> {
        <[u8; 2]>::try_from(self.country.as_ref().as_bytes()).ok().filter(|c| c.is_ascii())
    }

    pub fn position(&self) -> Option<Position> {
        Some(Position { latitude: self.latitude?, longitude: self.longitude?, accuracy_km: self.accuracy_km })
    }
}

/// Accuracy given to a city-level place when the database states none. DB-IP Lite is
/// city-level; published comparisons put most answers within a few tens of km.
pub const CITY_ACCURACY_KM: f64 = 50.0;
/// Accuracy of a country-level place in a country where the database has no city to
/// measure from.
pub const COUNTRY_ACCURACY_KM: f64 = 1000.0;

/// An autonomous system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Asn {
    #[serde(rename = "n")]
    pub number: u32,
    #[serde(rename = "o")]
    pub org: String,
}

/// A provider range: who runs it and what it is (`hosting`, `cdn`, `vpn`, `tor`, `bot`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    pub provider: String,
    pub kind: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error("not a usable MaxMind DB file")]
    MaxMind(#[from] maxminddb::MaxMindDbError),
    #[error("{0}")]
    Invalid(String),
}

/// The layout of a MaxMind DB city file.
fn is_geoip2_layout(reader: &Reader<Vec<u8>>) -> bool {
    let kind = reader.metadata().database_type.to_ascii_lowercase();
    kind.contains("geoip2") || kind.contains("geolite2")
}

#[derive(Deserialize)]
struct FlatCity {
    city: Option<String>,
    country_code: Option<String>,
    state1: Option<String>,
    /// Stored as 32-bit floats in ip-location-db files.
    latitude: Option<f32>,
    longitude: Option<f32>,
}

fn decode_place(
    reader: &Reader<Vec<u8>>,
    found: &maxminddb::LookupResult<'_, Vec<u8>>,
) -> Result<Option<Place>, CompileError> {
    if is_geoip2_layout(reader) {
        let Some(city) = found.decode::<geoip2::City>()? else { return Ok(None) };
        let country = city.country.iso_code.or(city.registered_country.iso_code).unwrap_or_default();
        let region = city.subdivisions.first().and_then(|s| s.names.english).unwrap_or_default();
        let accuracy = city.location.accuracy_radius.map(f64::from);
        Ok(Some(Place {
            country: country.to_ascii_uppercase(),
            region: region.to_string(),
            city: city.city.names.english.unwrap_or_default().to_string(),
            latitude: city.location.latitude,
            longitude: city.location.longitude,
            accuracy_km: accuracy.unwrap_or(f64::NAN),
        }))
    } else {
        let Some(flat) = found.decode::<FlatCity>()? else { return Ok(None) };
        Ok(Some(Place {
            country: flat.country_code.unwrap_or_default().to_ascii_uppercase(),
            region: flat.state1.unwrap_or_default(),
            city: flat.city.unwrap_or_default(),
            // f32 -> f64 through the shortest decimal, so 51.5074 stays 51.5074.
            latitude: flat.latitude.map(|v| v.to_string().parse().unwrap_or(f64::from(v))),
            longitude: flat.longitude.map(|v| v.to_string().parse().unwrap_or(f64::from(v))),
            accuracy_km: f64::NAN,
        }))
    }
}

/// Every network of one or more city databases (an IPv4 and an IPv6 file, say) as a table.
/// Places without a stated accuracy get [`CITY_ACCURACY_KM`] when they name a city; a
/// country-level place gets the distance from it to the farthest city-level place of its
/// country, so a country centroid never looks more precise than it is.
pub fn compile_places(readers: &[Reader<Vec<u8>>]) -> Result<RangeTable<Place>, CompileError> {
    let mut places: Vec<Place> = Vec::new();
    let mut by_key: HashMap<String, u32> = HashMap::new();
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for reader in readers {
        let mut by_offset: HashMap<usize, u32> = HashMap::new();
        for found in reader.networks(WithinOptions::default())? {
            let found = found?;
            let Some(offset) = found.offset() else { continue };
            let number = match by_offset.get(&offset) {
                Some(&n) => n,
                None => {
                    let Some(place) = decode_place(reader, &found)? else { continue };
                    let key = serde_json::to_string(&place).map_err(|e| CompileError::Invalid(e.to_string()))?;
                    let n = *by_key.entry(key).or_insert_with(|| {
                        places.push(place);
                        (places.len() - 1) as u32
                    });
                    by_offset.insert(offset, n);
                    n
                }
            };
            push_network(&found, number, &mut v4, &mut v6)?;
        }
    }
    settle_accuracy(&mut places);
    Ok(build(places, v4, v6))
}

type V4Ranges = Vec<(u32, u32, u32)>;
type V6Ranges = Vec<(u128, u128, u32)>;

fn push_network(
    found: &maxminddb::LookupResult<'_, Vec<u8>>,
    value: u32,
    v4: &mut V4Ranges,
    v6: &mut V6Ranges,
) -> Result<(), CompileError> {
    let network = found.network()?;
    let bits = u32::from(network.prefix());
    match network.network() {
        IpAddr::V4(start) => {
            let host = u32::MAX.checked_shr(bits).unwrap_or(0);
            v4.push((start.to_bits(), start.to_bits() | host, value));
        }
        IpAddr::V6(start) => {
            // IPv4 lives in its own file or subtree; skip IPv6 views of it.
            if start.to_ipv4_mapped().is_some() || (bits >= 96 && start.to_bits() >> 32 == 0) {
                return Ok(());
            }
            let host = u128::MAX.checked_shr(bits).unwrap_or(0);
            v6.push((start.to_bits(), start.to_bits() | host, value));
        }
    }
    Ok(())
}

fn build<V: serde::Serialize>(values: Vec<V>, mut v4: V4Ranges, mut v6: V6Ranges) -> RangeTable<V> {
    v4.sort_unstable();
    v6.sort_unstable();
    let mut table = RangeTableBuilder::default();
    for value in values {
        table.value(value);
    }
    for (start, end, value) in v4 {
        table.push_v4(start, end, value);
    }
    for (start, end, value) in v6 {
        table.push_v6(start, end, value);
    }
    table.finish()
}

fn settle_accuracy(places: &mut [Place]) {
    let mut farthest: BTreeMap<String, Vec<Position>> = BTreeMap::new();
    for place in places.iter().filter(|p| !p.city.is_empty()) {
        if let Some(position) = place.position() {
            farthest.entry(place.country.clone()).or_default().push(position);
        }
    }
    // Country-level places are few; each is measured against its country's cities.
    for place in places.iter_mut() {
        if !place.accuracy_km.is_nan() {
            continue;
        }
        place.accuracy_km = if !place.city.is_empty() {
            CITY_ACCURACY_KM
        } else {
            match (place.position(), farthest.get(&place.country)) {
                (Some(centre), Some(cities)) => {
                    cities.iter().map(|city| distance_km(centre, *city)).fold(CITY_ACCURACY_KM, f64::max).round()
                }
                _ => COUNTRY_ACCURACY_KM,
            }
        };
    }
}

/// The ASN ranges of a GeoLite2 / GeoIP2 ASN database.
pub fn compile_asns_mmdb(reader: &Reader<Vec<u8>>) -> Result<RangeTable<Asn>, CompileError> {
    let mut numbers: HashMap<u32, u32> = HashMap::new();
    let mut asns = Vec::new();
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    for found in reader.networks(WithinOptions::default())? {
        let found = found?;
        let Some(record) = found.decode::<geoip2::Asn>()? else { continue };
        let Some(number) = record.autonomous_system_number else { continue };
        let org = record.autonomous_system_organization.unwrap_or_default();
        let value = *numbers.entry(number).or_insert_with(|| {
            asns.push(Asn { number, org: org.to_string() });
            (asns.len() - 1) as u32
        });
        push_network(&found, value, &mut v4, &mut v6)?;
    }
    Ok(build(asns, v4, v6))
}

/// The ASN ranges of ip-location-db's CSV files (`start,end,asn,organisation`, addresses as
/// text: `asn-ipv4.csv`, `asn-ipv6.csv`).
pub fn compile_asns_csv(files: &[(&str, &[u8])]) -> Result<RangeTable<Asn>, CompileError> {
    let mut numbers: HashMap<u32, u32> = HashMap::new();
    let mut asns = Vec::new();
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    for (name, bytes) in files {
        let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(*bytes);
        for (n, row) in reader.records().enumerate() {
            let bad = |why: &str| CompileError::Invalid(format!("{name} line {}: {why}", n + 1));
            let row = row.map_err(|e| bad(&e.to_string()))?;
            let (Some(start), Some(end), Some(number)) = (row.get(0), row.get(1), row.get(2)) else {
                return Err(bad("expected start,end,asn,organisation"));
            };
            let number: u32 = number.parse().map_err(|_| bad("ASN is not a number"))?;
            let org = row.get(3).unwrap_or_default();
            let value = *numbers.entry(number).or_insert_with(|| {
                asns.push(Asn { number, org: org.to_string() });
                (asns.len() - 1) as u32
            });
            match (start.parse::<IpAddr>(), end.parse::<IpAddr>()) {
                (Ok(IpAddr::V4(s)), Ok(IpAddr::V4(e))) => v4.push((s.to_bits(), e.to_bits(), value)),
                (Ok(IpAddr::V6(s)), Ok(IpAddr::V6(e))) => v6.push((s.to_bits(), e.to_bits(), value)),
                _ => return Err(bad("start and end are not addresses of one family")),
            }
        }
    }
    Ok(build(asns, v4, v6))
}

/// The iporigin range file (`ranges.bin`): header `IPORIGIN`, format 1, build time, labels
/// `provider<TAB>kind`, then non-overlapping IPv4 and IPv6 ranges. Returns the table and the
/// build time (Unix seconds).
pub fn compile_origins(bytes: &[u8]) -> Result<(RangeTable<Origin>, u64), CompileError> {
    let bad = |why: &str| CompileError::Invalid(format!("iporigin ranges.bin: {why}"));
    let mut at = 0usize;
    let mut take = |n: usize| -> Result<&[u8], CompileError> {
        let slice = bytes.get(at..at + n).ok_or_else(|| bad("truncated"))?;
        at += n;
        Ok(slice)
    };
    if take(8)? != b"IPORIGIN" {
        return Err(bad("not an iporigin range file"));
    }
    let version = u16::from_le_bytes(take(2)?.try_into().expect("2"));
    if version != 1 {
        return Err(bad(&format!("format {version}, this build reads format 1")));
    }
    let built_at = u64::from_le_bytes(take(8)?.try_into().expect("8"));
    let labels = u16::from_le_bytes(take(2)?.try_into().expect("2"));
    let n4 = u32::from_le_bytes(take(4)?.try_into().expect("4"));
    let n6 = u32::from_le_bytes(take(4)?.try_into().expect("4"));
    let mut origins = Vec::new();
    for _ in 0..labels {
        let len = u16::from_le_bytes(take(2)?.try_into().expect("2"));
        let text = std::str::from_utf8(take(len.into())?).map_err(|_| bad("label is not UTF-8"))?;
        let (provider, kind) = text.split_once('\t').ok_or_else(|| bad("label without kind"))?;
        origins.push(Origin { provider: provider.to_string(), kind: kind.to_string() });
    }
    let label =
        |n: u16| if usize::from(n) < origins.len() { Ok(u32::from(n)) } else { Err(bad("range names no label")) };
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    for _ in 0..n4 {
        let r = take(10)?;
        let n = u16::from_le_bytes([r[8], r[9]]);
        v4.push((
            u32::from_le_bytes(r[0..4].try_into().expect("4")),
            u32::from_le_bytes(r[4..8].try_into().expect("4")),
            n,
        ));
    }
    for _ in 0..n6 {
        let r = take(34)?;
        let n = u16::from_le_bytes([r[32], r[33]]);
        v6.push((
            u128::from_be_bytes(r[0..16].try_into().expect("16")),
            u128::from_be_bytes(r[16..32].try_into().expect("16")),
            n,
        ));
    }
    let v4 = v4.into_iter().map(|(s, e, n)| Ok((s, e, label(n)?))).collect::<Result<_, CompileError>>()?;
    let v6 = v6.into_iter().map(|(s, e, n)| Ok((s, e, label(n)?))).collect::<Result<_, CompileError>>()?;
    Ok((build(origins, v4, v6), built_at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asn_csv_compiles_and_reports_the_bad_line() {
        let v4 = b"1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"\n1.0.4.0,1.0.7.255,38803,Gtelecom Pty Ltd\n";
        let v6 = b"2001:4:112::,2001:4:112:ffff:ffff:ffff:ffff:ffff,112,DNS-OARC\n";
        let table = compile_asns_csv(&[("asn-ipv4.csv", v4), ("asn-ipv6.csv", v6)]).unwrap();
        let get = |ip: &str| table.get(ip.parse().unwrap()).map(|a| (a.number, a.org));
        assert_eq!(get("1.0.0.7"), Some((13335, "Cloudflare, Inc.".to_string())));
        assert_eq!(get("1.0.5.1"), Some((38803, "Gtelecom Pty Ltd".to_string())));
        assert_eq!(get("1.0.1.1"), None);
        assert_eq!(get("2001:4:112::9"), Some((112, "DNS-OARC".to_string())));
        let err = compile_asns_csv(&[("asn-ipv4.csv", b"1.0.0.0,1.0.0.255,1,a\n1.0.1.0,x,2,b\n")]).unwrap_err();
        assert_eq!(err.to_string(), "asn-ipv4.csv line 2: start and end are not addresses of one family");
    }

    fn origin_file() -> Vec<u8> {
        let mut b = b"IPORIGIN".to_vec();
        b.extend(1u16.to_le_bytes());
        b.extend(1_759_664_061u64.to_le_bytes());
        b.extend(2u16.to_le_bytes());
        b.extend(1u32.to_le_bytes());
        b.extend(1u32.to_le_bytes());
        for label in ["Tor\ttor", "Mullvad\tvpn"] {
            b.extend((label.len() as u16).to_le_bytes());
            b.extend(label.as_bytes());
        }
        b.extend(0xb9dc_6500u32.to_le_bytes()); // 185.220.101.0
        b.extend(0xb9dc_65ffu32.to_le_bytes());
        b.extend(0u16.to_le_bytes());
        b.extend((0x2a03_1b20u128 << 96).to_be_bytes());
        b.extend(((0x2a03_1b20u128 << 96) | 0xffff_ffff).to_be_bytes());
        b.extend(1u16.to_le_bytes());
        b
    }

    #[test]
    fn iporigin_ranges_compile_and_damage_is_refused() {
        let bytes = origin_file();
        let (table, built) = compile_origins(&bytes).unwrap();
        assert_eq!(built, 1_759_664_061);
        assert_eq!(table.get("185.220.101.5".parse().unwrap()).unwrap().kind, "tor");
        assert_eq!(table.get("2a03:1b20::7".parse().unwrap()).unwrap().provider, "Mullvad");
        assert!(table.get("185.220.102.5".parse().unwrap()).is_none());
        assert!(compile_origins(&bytes[..bytes.len() - 1]).unwrap_err().to_string().contains("truncated"));
        let mut bad_label = bytes.clone();
        let last = bad_label.len() - 2;
        bad_label[last] = 9;
        assert!(compile_origins(&bad_label).unwrap_err().to_string().contains("no label"));
    }

    #[test]
    fn country_level_places_are_as_coarse_as_their_country() {
        let place = |city: &str, lat: f64, lon: f64| Place {
            country: "US".into(),
            region: String::new(),
            city: city.into(),
            latitude: Some(lat),
            longitude: Some(lon),
            accuracy_km: f64::NAN,
        };
        let mut places = vec![place("", 37.75, -97.82), place("Seattle", 47.6, -122.3), place("Miami", 25.8, -80.2)];
        places.push(Place { country: "ZZ".into(), ..place("", 1.0, 1.0) });
        settle_accuracy(&mut places);
        assert_eq!(places[1].accuracy_km, CITY_ACCURACY_KM);
        // The US centroid is about 2,200 km from Seattle and 2,000 km from Miami.
        assert!((2000.0..2600.0).contains(&places[0].accuracy_km), "{}", places[0].accuracy_km);
        assert_eq!(places[3].accuracy_km, COUNTRY_ACCURACY_KM);
    }
}
