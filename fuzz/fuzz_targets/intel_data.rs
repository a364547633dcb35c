//! Any bytes as the intelligence data Sleuth reads: a compiled range table, an iporigin range
//! file, ip-location-db ASN CSV, a curated list. Each either loads or says why; a table that
//! loads answers lookups without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sleuth_intel::{ListKind, Place, RangeTable, compile_asns_csv, compile_origins, List};

fuzz_target!(|data: &[u8]| {
    let probes = ["0.0.0.0", "8.8.8.8", "255.255.255.255", "::", "2001:db8::1", "ffff::1"].map(|p| p.parse().unwrap());
    if let Ok(table) = RangeTable::<Place>::read_from(&mut &data[..]) {
        for ip in probes {
            let _ = table.get(ip);
        }
    }
    if let Ok((table, _)) = compile_origins(data) {
        for ip in probes {
            let _ = table.get(ip);
        }
    }
    if let Ok(table) = compile_asns_csv(&[("fuzz.csv", data)]) {
        for ip in probes {
            let _ = table.get(ip);
        }
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(list) = List::parse(ListKind::Gateway, text)
    {
        for ip in probes {
            let _ = list.by_range(ip);
        }
    }
});
