//! What an address is: place, autonomous system, class, and the evidence for the class.
//! One [`Intel`] holds the installed databases and the curated lists; SQL functions, rules
//! and investigation questions all ask it.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::IpAddr;
use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::databases::{Asn, Origin, Place, PlaceRef};
use crate::installed::{self, InstalledError, Part, Sources};
use crate::lists::{List, ListEntry, ListKind};
use crate::ranges::{SpecialRange, special_range};
use crate::table::RangeTable;
use crate::travel::{Position, distance_km};

/// What kind of network an address belongs to, from most to least telling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IpClass {
    /// Private, loopback, link-local, carrier-grade NAT and other non-public ranges.
    Reserved,
    TorExit,
    Vpn,
    /// A corporate secure web gateway or SASE egress (Zscaler, Netskope, ...).
    SecureWebGateway,
    /// Hosting, cloud, CDN or crawler infrastructure.
    Hosting,
    /// A mobile carrier.
    Mobile,
    /// An access network on no list: most often a residential or business ISP.
    Isp,
    /// Nothing is known of it (no ASN database installed, or an unrouted address).
    Unknown,
}

impl IpClass {
    pub fn name(self) -> &'static str {
        match self {
            IpClass::Reserved => "reserved",
            IpClass::TorExit => "tor_exit",
            IpClass::Vpn => "vpn",
            IpClass::SecureWebGateway => "secure_web_gateway",
            IpClass::Hosting => "hosting",
            IpClass::Mobile => "mobile",
            IpClass::Isp => "isp",
            IpClass::Unknown => "unknown",
        }
    }

    fn of_origin(kind: &str) -> IpClass {
        match kind {
            "tor" => IpClass::TorExit,
            "vpn" => IpClass::Vpn,
            _ => IpClass::Hosting,
        }
    }

    fn of_list(kind: ListKind) -> IpClass {
        match kind {
            ListKind::Hosting | ListKind::Bulletproof => IpClass::Hosting,
            ListKind::Vpn => IpClass::Vpn,
            ListKind::Gateway => IpClass::SecureWebGateway,
            ListKind::Mobile => IpClass::Mobile,
        }
    }
}

impl fmt::Display for IpClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One reason for a class: which source said what.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    pub class: IpClass,
    /// The source and its version or data date.
    pub source: String,
    pub detail: String,
}

/// Everything known about one address. Where a log record carried its own location or ASN
/// (see [`LogFacts`]), those values are the ones shown and differences from the databases
/// are listed in `disagreements`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IpInfo {
    pub ip: String,
    pub class: IpClass,
    /// The provider behind a VPN, gateway, hosting or Tor class.
    pub provider: Option<String>,
    pub bulletproof: bool,
    pub special_range: Option<&'static str>,
    pub country: Option<String>,
    pub region: Option<String>,
    pub city: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub accuracy_km: Option<f64>,
    /// `log` when the location came from the record, `database` otherwise.
    pub location_from: Option<&'static str>,
    pub asn: Option<u32>,
    pub org: Option<String>,
    pub evidence: Vec<Evidence>,
    pub disagreements: Vec<Disagreement>,
}

/// What a log record said about its own address (Entra's `location` and
/// `autonomousSystemNumber`): these win over the databases.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogFacts {
    pub country: Option<String>,
    pub region: Option<String>,
    pub city: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub asn: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Disagreement {
    pub field: &'static str,
    pub log: String,
    pub database: String,
}

/// Coordinates from the log and the database this much further apart than the database's
/// own accuracy are reported as a disagreement.
pub const LOCATION_TOLERANCE_KM: f64 = 250.0;

/// The installed databases and the curated lists.
pub struct Intel {
    sources: Option<Sources>,
    /// Hundreds of thousands of places: each decoded when an address asks for it.
    places: Option<RangeTable<Place>>,
    /// The places projected onto their countries: the field queries ask for most, from a
    /// table a fraction of the size.
    countries: Option<Decoded<[u8; 2]>>,
    asns: Option<Decoded<Asn>>,
    /// For each ASN value: the matching entry of each list (by [`ListKind`] position).
    asn_hits: Vec<[Option<u16>; 5]>,
    asn_by_number: HashMap<u32, u32>,
    origins: Option<Decoded<Origin>>,
    lists: Vec<List>,
}

/// A table whose values are few and asked for on every classification, so decoded once.
struct Decoded<V> {
    ranges: RangeTable<V>,
    values: Vec<V>,
}

impl<V: DeserializeOwned> Decoded<V> {
    fn new(ranges: RangeTable<V>) -> io::Result<Decoded<V>> {
        Ok(Decoded { values: ranges.decode_values()?, ranges })
    }

    fn number(&self, ip: IpAddr) -> Option<u32> {
        self.ranges.get_number(ip)
    }

    fn get(&self, ip: IpAddr) -> Option<&V> {
        self.values.get(self.number(ip)? as usize)
    }
}

impl fmt::Debug for Intel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Intel").field("sources", &self.sources).finish_non_exhaustive()
    }
}

impl Intel {
    /// The curated lists only: ranges on them answer, nothing else does.
    pub fn lists_only() -> Intel {
        Intel::assemble(None, None, None, None, None)
    }

    /// What is installed in `dir` (see [`installed::default_dir`]), plus the curated lists.
    /// A directory with nothing installed gives [`Intel::lists_only`]. The tables are
    /// mapped, not read: opening costs milliseconds whatever their size.
    pub fn open(dir: &Path) -> Result<Intel, InstalledError> {
        let Some(sources) = installed::read_sources(dir)? else { return Ok(Intel::lists_only()) };
        let has = |part| sources.get(part).is_some();
        fn decoded<V: DeserializeOwned>(dir: &Path, file: &str) -> Result<Decoded<V>, InstalledError> {
            Decoded::new(installed::read_table(dir, file)?)
                .map_err(|e| InstalledError::Invalid { path: dir.join(file), message: e.to_string() })
        }
        let (places, countries) = if has(Part::Places) {
            (
                Some(installed::read_table(dir, Part::Places.file_name())?),
                Some(decoded(dir, installed::COUNTRIES_FILE)?),
            )
        } else {
            (None, None)
        };
        let asns = if has(Part::Asns) { Some(decoded(dir, Part::Asns.file_name())?) } else { None };
        let origins = if has(Part::Origins) { Some(decoded(dir, Part::Origins.file_name())?) } else { None };
        Ok(Intel::assemble(Some(sources), places, countries, asns, origins))
    }

    /// Tables built in memory (tests, tools); the countries are projected from the places.
    pub fn from_parts(
        sources: Option<Sources>,
        places: Option<RangeTable<Place>>,
        asns: Option<RangeTable<Asn>>,
        origins: Option<RangeTable<Origin>>,
    ) -> io::Result<Intel> {
        let countries = places.as_ref().map(|t| Decoded::new(t.project(Place::country_code))).transpose()?;
        let asns = asns.map(Decoded::new).transpose()?;
        let origins = origins.map(Decoded::new).transpose()?;
        Ok(Intel::assemble(sources, places, countries, asns, origins))
    }

    fn assemble(
        sources: Option<Sources>,
        places: Option<RangeTable<Place>>,
        countries: Option<Decoded<[u8; 2]>>,
        asns: Option<Decoded<Asn>>,
        origins: Option<Decoded<Origin>>,
    ) -> Intel {
        let lists: Vec<List> = ListKind::ALL.into_iter().map(List::builtin).collect();
        let asn_values = asns.as_ref().map(|t| t.values.as_slice()).unwrap_or_default();
        let asn_hits = asn_values
            .iter()
            .map(|asn| {
                let org = asn.org.to_lowercase();
                std::array::from_fn(|k| lists[k].index_by_asn(asn.number, &org).map(|i| i as u16))
            })
            .collect();
        let asn_by_number = asn_values.iter().enumerate().map(|(i, a)| (a.number, i as u32)).collect();
        Intel { sources, places, countries, asns, asn_hits, asn_by_number, origins, lists }
    }

    pub fn sources(&self) -> Option<&Sources> {
        self.sources.as_ref()
    }

    pub fn lists(&self) -> &[List] {
        &self.lists
    }

    /// Where an address is, read from the places table (names borrowed from it).
    pub fn place(&self, ip: IpAddr) -> Option<PlaceRef<'_>> {
        if special_range(ip).is_some() {
            return None;
        }
        self.places.as_ref()?.get_borrowed(ip)
    }

    /// The ISO country code of an address, as [`Intel::place`] would give it, faster.
    pub fn country(&self, ip: IpAddr) -> Option<&str> {
        if special_range(ip).is_some() {
            return None;
        }
        std::str::from_utf8(self.countries.as_ref()?.get(ip)?).ok()
    }

    pub fn asn(&self, ip: IpAddr) -> Option<&Asn> {
        if special_range(ip).is_some() {
            return None;
        }
        self.asns.as_ref()?.get(ip)
    }

    /// The organisation of an autonomous system, by number.
    pub fn asn_by_number(&self, number: u32) -> Option<&Asn> {
        let i = *self.asn_by_number.get(&number)?;
        self.asns.as_ref()?.values.get(i as usize)
    }

    /// The class of an address, cheaply (no evidence is written).
    pub fn class(&self, ip: IpAddr) -> IpClass {
        self.assess(ip, None).class()
    }

    /// The class of an address whose log record named its autonomous system (that ASN wins
    /// over the database's).
    pub fn class_with_asn(&self, ip: IpAddr, log_asn: Option<u32>) -> IpClass {
        self.assess(ip, log_asn).class()
    }

    /// The provider behind the class, as [`IpInfo::provider`], without locating the address.
    pub fn provider_with_asn(&self, ip: IpAddr, log_asn: Option<u32>) -> Option<String> {
        let assessment = self.assess(ip, log_asn);
        assessment.provider(assessment.class())
    }

    /// Whether a bulletproof-hosting list names the address's network, as [`IpInfo::bulletproof`].
    pub fn bulletproof_with_asn(&self, ip: IpAddr, log_asn: Option<u32>) -> bool {
        self.assess(ip, log_asn).hits[ListKind::Bulletproof as usize].is_some()
    }

    /// The evidence for the class, as [`IpInfo::evidence`], without locating the address.
    pub fn evidence_with_asn(&self, ip: IpAddr, log_asn: Option<u32>) -> Vec<Evidence> {
        self.evidence(&self.assess(ip, log_asn))
    }

    /// The findings for an address. A log's ASN and the database's are both looked up on
    /// the lists (they can differ; either naming a hosting provider is evidence), and the
    /// log's is the one reported.
    fn assess(&self, ip: IpAddr, log_asn: Option<u32>) -> Assessment<'_> {
        let special = special_range(ip);
        if special.is_some() {
            return Assessment { special, asn: None, log_asn: None, origin: None, hits: [None; 5] };
        }
        let origin = self.origins.as_ref().and_then(|t| t.get(ip));
        let db_value = self.asns.as_ref().and_then(|t| t.number(ip));
        let log_value = log_asn.and_then(|n| self.asn_by_number.get(&n).copied());
        let hits_of = |value: Option<u32>| value.map(|i| self.asn_hits[i as usize]).unwrap_or_default();
        let log_hits: [Option<u16>; 5] = match (log_asn, log_value) {
            (Some(number), None) => std::array::from_fn(|k| self.lists[k].index_by_asn(number, "").map(|i| i as u16)),
            _ => hits_of(log_value),
        };
        let db_hits = hits_of(db_value);
        let value = if log_asn.is_some() { log_value } else { db_value };
        let asn = value.and_then(|i| self.asns.as_ref()?.values.get(i as usize));
        let hits = std::array::from_fn(|k| {
            let list = &self.lists[k];
            let by_range = list.by_range(ip).map(|entry| (list, entry, Matched::Range));
            let by_asn = log_hits[k].or(db_hits[k]).map(|i| (list, &list.entries[usize::from(i)], Matched::Asn));
            by_range.or(by_asn)
        });
        Assessment { special, asn, log_asn, origin, hits }
    }

    /// Everything known about an address, with the evidence.
    pub fn lookup(&self, ip: IpAddr) -> IpInfo {
        self.lookup_with_log(ip, &LogFacts::default())
    }

    /// As [`Intel::lookup`], with what the log record itself said winning over the databases.
    pub fn lookup_with_log(&self, ip: IpAddr, log: &LogFacts) -> IpInfo {
        let assessment = self.assess(ip, log.asn);
        let class = assessment.class();
        let db_asn = self.asn(ip);
        let place = self.place(ip);
        let place = place.as_ref();
        let mut info = IpInfo {
            ip: ip.to_string(),
            class,
            provider: assessment.provider(class),
            bulletproof: assessment.hits[ListKind::Bulletproof as usize].is_some(),
            special_range: assessment.special.map(SpecialRange::name),
            country: place.map(|p| p.country.to_string()).filter(|c| !c.is_empty()),
            region: place.map(|p| p.region.to_string()).filter(|c| !c.is_empty()),
            city: place.map(|p| p.city.to_string()).filter(|c| !c.is_empty()),
            latitude: place.and_then(|p| p.latitude),
            longitude: place.and_then(|p| p.longitude),
            accuracy_km: place.map(|p| p.accuracy_km),
            location_from: place.map(|_| "database"),
            asn: db_asn.map(|a| a.number),
            org: db_asn.map(|a| a.org.clone()),
            evidence: self.evidence(&assessment),
            disagreements: Vec::new(),
        };
        self.apply_log(&mut info, log, place, db_asn);
        info
    }

    fn apply_log(&self, info: &mut IpInfo, log: &LogFacts, place: Option<&PlaceRef<'_>>, db_asn: Option<&Asn>) {
        let mut disagree = |field, log: String, database: String| {
            info.disagreements.push(Disagreement { field, log, database });
        };
        if let (Some(logged), Some(db)) = (&log.country, place.map(|p| &p.country))
            && !db.is_empty()
            && !logged.eq_ignore_ascii_case(db)
        {
            disagree("country", logged.clone(), db.to_string());
        }
        if let (Some(lat), Some(lon), Some(db)) = (log.latitude, log.longitude, place.and_then(PlaceRef::position)) {
            let logged = Position { latitude: lat, longitude: lon, accuracy_km: 0.0 };
            let apart = distance_km(logged, db);
            if apart > db.accuracy_km + LOCATION_TOLERANCE_KM {
                disagree(
                    "coordinates",
                    format!("{lat:.4},{lon:.4}"),
                    format!("{:.4},{:.4} ({apart:.0} km apart)", db.latitude, db.longitude),
                );
            }
        }
        if let (Some(logged), Some(db)) = (log.asn, db_asn)
            && logged != db.number
        {
            disagree("asn", format!("AS{logged}"), format!("AS{} {}", db.number, db.org));
        }
        if log.country.is_some() || log.latitude.is_some() {
            info.country = log.country.clone().map(|c| c.to_ascii_uppercase()).or(info.country.take());
            info.region = log.region.clone().or(info.region.take());
            info.city = log.city.clone().or(info.city.take());
            if let (Some(lat), Some(lon)) = (log.latitude, log.longitude) {
                (info.latitude, info.longitude, info.accuracy_km) = (Some(lat), Some(lon), None);
            }
            info.location_from = Some("log");
        }
        if let Some(number) = log.asn {
            info.asn = Some(number);
            info.org = self.asn_by_number(number).map(|a| a.org.clone());
        }
    }

    fn evidence(&self, a: &Assessment<'_>) -> Vec<Evidence> {
        let mut evidence = Vec::new();
        if let Some(special) = a.special {
            evidence.push(Evidence {
                class: IpClass::Reserved,
                source: "IANA special-purpose registries".to_string(),
                detail: format!("{} address: not on the public internet", special.name()),
            });
            return evidence;
        }
        if let Some(origin) = a.origin {
            let source = self.source_label(Part::Origins, "iporigin");
            let detail = format!("in {}'s published {} ranges", origin.provider, origin.kind);
            evidence.push(Evidence { class: IpClass::of_origin(&origin.kind), source, detail });
        }
        for (list, entry, matched) in a.hits.iter().flatten() {
            let mut detail = match matched {
                Matched::Range => format!("range {} is {}", entry.selector, entry.name),
                Matched::Asn => format!("{} ({})", entry.name, entry.selector),
            };
            if !entry.source.is_empty() {
                detail.push_str(&format!("; source: {}", entry.source));
            }
            if list.kind == ListKind::Bulletproof {
                detail.insert_str(0, "bulletproof hosting: ");
            }
            let source = format!("Sleuth list {} ({})", list.kind.file_name(), list.version);
            evidence.push(Evidence { class: IpClass::of_list(list.kind), source, detail });
        }
        if evidence.is_empty() {
            let named = match (a.asn, a.log_asn) {
                (Some(asn), _) => Some(format!("AS{} {}", asn.number, asn.org)),
                (None, Some(number)) => Some(format!("AS{number} (from the log)")),
                (None, None) => None,
            };
            if let Some(named) = named {
                evidence.push(Evidence {
                    class: IpClass::Isp,
                    source: self.source_label(Part::Asns, "ASN database"),
                    detail: format!("{named} is on no hosting, VPN, gateway or mobile list"),
                });
            }
        }
        evidence
    }

    fn source_label(&self, part: Part, fallback: &str) -> String {
        match self.sources.as_ref().and_then(|s| s.get(part)) {
            Some(source) => format!("{} (data of {})", source.from, source.data_date),
            None => fallback.to_string(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Matched {
    Range,
    Asn,
}

/// The findings behind one address's class, borrowed from the tables.
struct Assessment<'a> {
    special: Option<SpecialRange>,
    /// The log's autonomous system when it named one the database knows, else the database's.
    asn: Option<&'a Asn>,
    log_asn: Option<u32>,
    origin: Option<&'a Origin>,
    hits: [Option<(&'a List, &'a ListEntry, Matched)>; 5],
}

impl Assessment<'_> {
    fn hit(&self, kind: ListKind) -> Option<&ListEntry> {
        self.hits[kind as usize].map(|(_, entry, _)| entry)
    }

    fn class(&self) -> IpClass {
        if self.special.is_some() {
            return IpClass::Reserved;
        }
        let from_origin = self.origin.map(|o| IpClass::of_origin(&o.kind));
        let from_lists = ListKind::ALL.into_iter().filter(|&k| self.hit(k).is_some()).map(IpClass::of_list);
        // The most telling finding wins: Tor, then VPN, gateway, hosting, mobile.
        match from_origin.into_iter().chain(from_lists).min() {
            Some(class) => class,
            None if self.asn.is_some() || self.log_asn.is_some() => IpClass::Isp,
            None => IpClass::Unknown,
        }
    }

    fn provider(&self, class: IpClass) -> Option<String> {
        if let Some(origin) = self.origin.filter(|o| IpClass::of_origin(&o.kind) == class) {
            return Some(origin.provider.clone());
        }
        let by_list = ListKind::ALL.into_iter().filter(|&k| IpClass::of_list(k) == class).find_map(|k| self.hit(k));
        match by_list {
            Some(entry) if !matches!(entry.selector, crate::lists::Selector::Org(_)) => Some(entry.name.clone()),
            _ => self.asn.filter(|_| class != IpClass::Isp).map(|a| a.org.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::RangeTableBuilder;

    fn v4(text: &str) -> u32 {
        text.parse::<std::net::Ipv4Addr>().unwrap().to_bits()
    }

    /// A tiny world: one residential ISP, one hosting provider, one bulletproof hoster that
    /// also runs a VPN exit, a Tor exit, a Zscaler node.
    fn intel() -> Intel {
        let mut asns = RangeTableBuilder::default();
        for (start, end, number, org) in [
            ("24.0.0.0", "24.0.255.255", 7922, "Comcast Cable Communications, LLC"),
            ("89.187.160.0", "89.187.191.255", 60068, "Datacamp Limited"),
            ("165.225.0.0", "165.225.127.255", 22616, "ZSCALER, INC."),
            ("185.220.100.0", "185.220.103.255", 208294, "Some Tor Operator"),
            ("193.27.12.0", "193.27.15.255", 9009, "M247 Europe SRL"),
        ] {
            let value = asns.value(Asn { number, org: org.into() });
            asns.push_v4(v4(start), v4(end), value);
        }
        let mut origins = RangeTableBuilder::default();
        let tor = origins.value(Origin { provider: "Tor".into(), kind: "tor".into() });
        let vpn = origins.value(Origin { provider: "ProtonVPN".into(), kind: "vpn".into() });
        origins.push_v4(v4("185.220.101.0"), v4("185.220.101.255"), tor);
        origins.push_v4(v4("193.27.13.0"), v4("193.27.13.255"), vpn);
        let mut places = RangeTableBuilder::default();
        let place = places.value(Place {
            country: "US".into(),
            region: "Pennsylvania".into(),
            city: "Philadelphia".into(),
            latitude: Some(39.95),
            longitude: Some(-75.16),
            accuracy_km: 50.0,
        });
        places.push_v4(v4("24.0.0.0"), v4("24.0.255.255"), place);
        Intel::from_parts(None, Some(places.finish()), Some(asns.finish()), Some(origins.finish())).unwrap()
    }

    fn class(intel: &Intel, ip: &str) -> IpClass {
        intel.class(ip.parse().unwrap())
    }

    #[test]
    fn classes_follow_the_most_telling_evidence() {
        let intel = intel();
        assert_eq!(class(&intel, "24.0.3.4"), IpClass::Isp);
        assert_eq!(intel.country("24.0.3.4".parse().unwrap()), Some("US"));
        assert_eq!(intel.country("25.0.3.4".parse().unwrap()), None);
        assert_eq!(class(&intel, "89.187.164.82"), IpClass::Hosting);
        assert_eq!(class(&intel, "165.225.34.1"), IpClass::SecureWebGateway);
        assert_eq!(class(&intel, "185.220.101.5"), IpClass::TorExit);
        assert_eq!(class(&intel, "185.220.102.5"), IpClass::Isp);
        assert_eq!(class(&intel, "193.27.13.9"), IpClass::Vpn);
        assert_eq!(class(&intel, "193.27.14.9"), IpClass::Hosting);
        assert_eq!(class(&intel, "10.0.0.1"), IpClass::Reserved);
        assert_eq!(class(&intel, "100.64.1.1"), IpClass::Reserved);
        assert_eq!(class(&intel, "2001:db8::1"), IpClass::Reserved);
        assert_eq!(class(&intel, "8.8.8.8"), IpClass::Unknown);
        assert_eq!(class(&Intel::lists_only(), "104.28.9.9"), IpClass::SecureWebGateway);
    }

    #[test]
    fn a_vpn_exit_in_bulletproof_hosting_shows_both_reasons() {
        let info = intel().lookup("193.27.13.9".parse().unwrap());
        assert_eq!(info.class, IpClass::Vpn);
        assert_eq!(info.provider.as_deref(), Some("ProtonVPN"));
        assert!(info.bulletproof);
        let classes: Vec<IpClass> = info.evidence.iter().map(|e| e.class).collect();
        assert_eq!(classes, [IpClass::Vpn, IpClass::Hosting, IpClass::Hosting]);
        assert!(info.evidence[2].detail.starts_with("bulletproof hosting: M247"), "{:?}", info.evidence);
        let isp = intel().lookup("24.0.3.4".parse().unwrap());
        assert_eq!(isp.evidence.len(), 1);
        assert!(isp.evidence[0].detail.contains("AS7922 Comcast"), "{:?}", isp.evidence);
        assert_eq!(isp.provider, None);
    }

    #[test]
    fn log_fields_win_and_disagreements_stay_visible() {
        let intel = intel();
        let ip = "24.0.3.4".parse().unwrap();
        let agreeing = LogFacts { country: Some("us".into()), asn: Some(7922), ..LogFacts::default() };
        let info = intel.lookup_with_log(ip, &agreeing);
        assert!(info.disagreements.is_empty(), "{:?}", info.disagreements);
        assert_eq!(info.country.as_deref(), Some("US"));
        let log = LogFacts {
            country: Some("HN".into()),
            city: Some("Tegucigalpa".into()),
            latitude: Some(14.07),
            longitude: Some(-87.19),
            asn: Some(22616),
            ..LogFacts::default()
        };
        let info = intel.lookup_with_log(ip, &log);
        assert_eq!((info.country.as_deref(), info.city.as_deref()), (Some("HN"), Some("Tegucigalpa")));
        assert_eq!(info.location_from, Some("log"));
        assert_eq!(info.asn, Some(22616));
        assert_eq!(info.org.as_deref(), Some("ZSCALER, INC."));
        // The log's ASN decides the class too.
        assert_eq!(info.class, IpClass::SecureWebGateway);
        let fields: Vec<&str> = info.disagreements.iter().map(|d| d.field).collect();
        assert_eq!(fields, ["country", "coordinates", "asn"]);
        assert_eq!(info.disagreements[2].database, "AS7922 Comcast Cable Communications, LLC");
        // A log naming an access network does not hide what the database knows of the range.
        let m247 = "193.27.14.9".parse().unwrap();
        let info = intel.lookup_with_log(m247, &LogFacts { asn: Some(7922), ..LogFacts::default() });
        assert_eq!((info.class, info.bulletproof, info.asn), (IpClass::Hosting, true, Some(7922)));
        assert_eq!(intel.class_with_asn(m247, Some(64_512)), IpClass::Hosting);
        assert_eq!(intel.class_with_asn("8.8.8.8".parse().unwrap(), Some(64_512)), IpClass::Isp);
    }
}
