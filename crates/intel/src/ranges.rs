//! Address ranges that are not on the public internet: a sign-in from one of them comes
//! through a proxy, a VPN concentrator or a misconfigured collector, and has no geography.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SpecialRange {
    Unspecified,
    Loopback,
    /// RFC 1918 and IPv6 unique local addresses.
    Private,
    /// RFC 6598 shared address space (100.64.0.0/10), used for carrier-grade NAT.
    CarrierGradeNat,
    LinkLocal,
    /// RFC 5737 / RFC 3849 documentation ranges.
    Documentation,
    Multicast,
    Broadcast,
}

impl SpecialRange {
    pub fn name(self) -> &'static str {
        match self {
            SpecialRange::Unspecified => "unspecified",
            SpecialRange::Loopback => "loopback",
            SpecialRange::Private => "private",
            SpecialRange::CarrierGradeNat => "carrier_grade_nat",
            SpecialRange::LinkLocal => "link_local",
            SpecialRange::Documentation => "documentation",
            SpecialRange::Multicast => "multicast",
            SpecialRange::Broadcast => "broadcast",
        }
    }
}

/// The special range an address belongs to, if any (IPv4-mapped IPv6 as its IPv4 address).
pub fn special_range(ip: IpAddr) -> Option<SpecialRange> {
    match ip {
        IpAddr::V4(v4) => v4_range(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4_range(v4),
            None => v6_range(v6),
        },
    }
}

fn v4_range(ip: Ipv4Addr) -> Option<SpecialRange> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip.is_unspecified() => SpecialRange::Unspecified,
        _ if ip.is_broadcast() => SpecialRange::Broadcast,
        (127, _, _) => SpecialRange::Loopback,
        (10, _, _) | (192, 168, _) => SpecialRange::Private,
        (172, 16..=31, _) => SpecialRange::Private,
        (100, 64..=127, _) => SpecialRange::CarrierGradeNat,
        (169, 254, _) => SpecialRange::LinkLocal,
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => SpecialRange::Documentation,
        (224..=239, _, _) => SpecialRange::Multicast,
        _ => return None,
    })
}

fn v6_range(ip: Ipv6Addr) -> Option<SpecialRange> {
    let s = ip.segments();
    Some(match s[0] {
        _ if ip.is_unspecified() => SpecialRange::Unspecified,
        _ if ip.is_loopback() => SpecialRange::Loopback,
        x if x & 0xfe00 == 0xfc00 => SpecialRange::Private,
        x if x & 0xffc0 == 0xfe80 => SpecialRange::LinkLocal,
        0x2001 if s[1] == 0x0db8 => SpecialRange::Documentation,
        x if x & 0xff00 == 0xff00 => SpecialRange::Multicast,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(text: &str) -> Option<SpecialRange> {
        special_range(text.parse().unwrap())
    }

    #[test]
    fn special_ranges_are_recognised() {
        use SpecialRange::*;
        let cases = [
            ("10.1.2.3", Some(Private)),
            ("172.31.255.1", Some(Private)),
            ("172.32.0.1", None),
            ("192.168.0.10", Some(Private)),
            ("100.64.0.1", Some(CarrierGradeNat)),
            ("100.128.0.1", None),
            ("127.0.0.1", Some(Loopback)),
            ("169.254.10.1", Some(LinkLocal)),
            ("203.0.113.9", Some(Documentation)),
            ("224.0.0.251", Some(Multicast)),
            ("255.255.255.255", Some(Broadcast)),
            ("0.0.0.0", Some(Unspecified)),
            ("89.187.164.82", None),
            ("::1", Some(Loopback)),
            ("fd12:3456::1", Some(Private)),
            ("fe80::1", Some(LinkLocal)),
            ("2001:db8::1", Some(Documentation)),
            ("ff02::1", Some(Multicast)),
            ("::ffff:192.168.1.1", Some(Private)),
            ("2a01:110:8068:7:9bf8:aa87:e00a:5f1f", None),
        ];
        for (ip, expected) in cases {
            assert_eq!(range(ip), expected, "{ip}");
        }
    }
}
