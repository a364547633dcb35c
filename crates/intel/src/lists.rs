//! The curated lists in `lists/`: hosting, bulletproof hosting, VPN providers, secure web
//! gateways and mobile carriers, each an entry per autonomous system, range or organisation
//! name, with its source. They are compiled in, so they answer even before any database is
//! installed (ranges do; ASN and name entries need the ASN database to know an address's AS).

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;

use serde::Serialize;

use crate::table::{RangeTable, RangeTableBuilder};

/// What a list says an address is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ListKind {
    Hosting,
    Bulletproof,
    Vpn,
    Gateway,
    Mobile,
}

impl ListKind {
    pub const ALL: [ListKind; 5] =
        [ListKind::Hosting, ListKind::Bulletproof, ListKind::Vpn, ListKind::Gateway, ListKind::Mobile];

    pub fn file_name(self) -> &'static str {
        match self {
            ListKind::Hosting => "hosting.tsv",
            ListKind::Bulletproof => "bulletproof.tsv",
            ListKind::Vpn => "vpn.tsv",
            ListKind::Gateway => "gateways.tsv",
            ListKind::Mobile => "mobile.tsv",
        }
    }

    fn text(self) -> &'static str {
        match self {
            ListKind::Hosting => include_str!("../lists/hosting.tsv"),
            ListKind::Bulletproof => include_str!("../lists/bulletproof.tsv"),
            ListKind::Vpn => include_str!("../lists/vpn.tsv"),
            ListKind::Gateway => include_str!("../lists/gateways.tsv"),
            ListKind::Mobile => include_str!("../lists/mobile.tsv"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "by", content = "value")]
pub enum Selector {
    Asn(u32),
    Range(String),
    /// Lower-case text the organisation name must contain.
    Org(String),
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Asn(asn) => write!(f, "AS{asn}"),
            Selector::Range(range) => f.write_str(range),
            Selector::Org(text) => write!(f, "organisation name contains \"{text}\""),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListEntry {
    pub selector: Selector,
    pub name: String,
    pub source: String,
}

/// One parsed list.
#[derive(Debug)]
pub struct List {
    pub kind: ListKind,
    pub version: String,
    pub entries: Vec<ListEntry>,
    ranges: RangeTable<usize>,
    by_number: HashMap<u32, usize>,
}

impl List {
    pub fn builtin(kind: ListKind) -> List {
        List::parse(kind, kind.text()).unwrap_or_else(|e| panic!("curated list {}: {e}", kind.file_name()))
    }

    pub fn parse(kind: ListKind, text: &str) -> Result<List, String> {
        let mut version = String::new();
        let mut entries = Vec::new();
        let mut ranges: Vec<(IpRange, usize)> = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if let Some(comment) = line.strip_prefix('#') {
                if let Some(v) = comment.trim().strip_prefix("version:") {
                    version = v.trim().to_string();
                }
                continue;
            }
            if line.trim().is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split('\t').map(str::trim).collect();
            let [selector, name, source] = fields[..] else {
                return Err(format!("line {}: expected selector, name and source separated by tabs", n + 1));
            };
            let selector = if let Some(text) = selector.strip_prefix("org:") {
                Selector::Org(text.trim().to_lowercase())
            } else if let Some(asn) = selector.strip_prefix("AS") {
                Selector::Asn(asn.parse().map_err(|_| format!("line {}: bad ASN {selector:?}", n + 1))?)
            } else {
                let range =
                    IpRange::parse(selector).ok_or_else(|| format!("line {}: bad range {selector:?}", n + 1))?;
                ranges.push((range, entries.len()));
                Selector::Range(selector.to_string())
            };
            entries.push(ListEntry { selector, name: name.to_string(), source: source.to_string() });
        }
        if version.is_empty() {
            return Err("no `# version:` line".to_string());
        }
        ranges.sort_by_key(|(range, _)| range.sort_key());
        // Value numbers are entry positions, so a lookup needs no value decoded.
        let mut table = RangeTableBuilder::default();
        for i in 0..entries.len() {
            table.value(i);
        }
        for (range, entry) in ranges {
            let value = entry as u32;
            match range {
                IpRange::V4(start, end) => table.push_v4(start, end, value),
                IpRange::V6(start, end) => table.push_v6(start, end, value),
            }
        }
        let by_number = entries
            .iter()
            .enumerate()
            .rev() // the first entry for a number wins
            .filter_map(|(i, e)| match e.selector {
                Selector::Asn(asn) => Some((asn, i)),
                _ => None,
            })
            .collect();
        Ok(List { kind, version, entries, ranges: table.finish(), by_number })
    }

    /// The entry whose range holds `ip`.
    pub fn by_range(&self, ip: IpAddr) -> Option<&ListEntry> {
        self.ranges.get_number(ip).map(|i| &self.entries[i as usize])
    }

    /// The entry naming this autonomous system, by number first, then by organisation name
    /// (`org_lowercase`: the name already lower-cased, as callers check many lists with it).
    pub fn by_asn(&self, asn: u32, org_lowercase: &str) -> Option<&ListEntry> {
        self.index_by_asn(asn, org_lowercase).map(|i| &self.entries[i])
    }

    pub(crate) fn index_by_asn(&self, asn: u32, org_lowercase: &str) -> Option<usize> {
        self.by_number.get(&asn).copied().or_else(|| {
            self.entries
                .iter()
                .position(|e| matches!(&e.selector, Selector::Org(text) if org_lowercase.contains(text.as_str())))
        })
    }
}

/// An inclusive range of addresses parsed from CIDR notation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpRange {
    V4(u32, u32),
    V6(u128, u128),
}

impl IpRange {
    pub fn parse(cidr: &str) -> Option<IpRange> {
        let (addr, bits) = cidr.split_once('/')?;
        let bits: u32 = bits.parse().ok()?;
        match addr.parse::<IpAddr>().ok()? {
            IpAddr::V4(a) if bits <= 32 => {
                let host = u32::MAX.checked_shr(bits).unwrap_or(0);
                let start = a.to_bits() & !host;
                Some(IpRange::V4(start, start | host))
            }
            IpAddr::V6(a) if bits <= 128 => {
                let host = u128::MAX.checked_shr(bits).unwrap_or(0);
                let start = a.to_bits() & !host;
                Some(IpRange::V6(start, start | host))
            }
            _ => None,
        }
    }

    fn sort_key(&self) -> (u8, u128) {
        match *self {
            IpRange::V4(start, _) => (4, start.into()),
            IpRange::V6(start, _) => (6, start),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_list_parses_with_a_version_and_entries() {
        for kind in ListKind::ALL {
            let list = List::builtin(kind);
            assert!(list.version.starts_with("20"), "{kind:?}");
            assert!(list.entries.len() >= 5, "{kind:?}");
        }
    }

    #[test]
    fn the_seed_lists_are_covered() {
        let hosting = List::builtin(ListKind::Hosting);
        // Seed 001's RB-0017 hosting ASNs.
        for asn in [
            14061, 16509, 14618, 15169, 396982, 8075, 13335, 24940, 16276, 63949, 20473, 46606, 36352, 55286, 51167,
            9009,
        ] {
            assert!(hosting.by_asn(asn, "").is_some(), "AS{asn}");
        }
        // Seed 004's bulletproof providers, matched by name as the seed does.
        let bulletproof = List::builtin(ListKind::Bulletproof);
        for org in [
            "M247 Europe SRL",
            "FranTech Solutions",
            "Sharktech",
            "Psychz Networks",
            "Quasi Networks LTD",
            "ALEXHOST SRL",
            "ITL-Bulgaria Ltd",
            "Serverius Holding B.V.",
            "combahton GmbH",
        ] {
            assert!(bulletproof.by_asn(1, &org.to_lowercase()).is_some(), "{org}");
        }
        assert!(bulletproof.by_asn(1, "comcast cable communications").is_none());
    }

    #[test]
    fn ranges_and_bad_lines() {
        let gateways = List::builtin(ListKind::Gateway);
        assert!(gateways.by_range("104.28.37.9".parse().unwrap()).unwrap().name.starts_with("Cloudflare WARP"));
        assert!(gateways.by_range("104.29.0.1".parse().unwrap()).is_none());
        assert!(gateways.by_range("2a09:bac5::1".parse().unwrap()).is_some());
        assert_eq!(IpRange::parse("10.1.2.3/8"), Some(IpRange::V4(0x0a00_0000, 0x0aff_ffff)));
        assert_eq!(IpRange::parse("0.0.0.0/0"), Some(IpRange::V4(0, u32::MAX)));
        assert_eq!(IpRange::parse("10.0.0.0/33"), None);
        assert!(List::parse(ListKind::Vpn, "# version: 1\nAS12\tx\n").unwrap_err().contains("line 2"));
        assert!(List::parse(ListKind::Vpn, "AS12\tx\ty\n").unwrap_err().contains("version"));
        assert!(List::parse(ListKind::Vpn, "# version: 1\nASx\tx\ty\n").unwrap_err().contains("bad ASN"));
    }
}
