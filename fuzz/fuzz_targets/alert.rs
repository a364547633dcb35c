//! Any text as an exported alert (`investigate --alert FILE`): never a panic, and what is
//! found is well formed: a span in order, addresses that parse, accounts that are UPNs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(e) = sleuth_investigate::alert::from_text(text) {
        if let (Some(first), Some(last)) = (e.first, e.last) {
            assert!(first <= last);
        }
        assert!(e.ips.iter().all(|ip| ip.parse::<std::net::IpAddr>().is_ok()));
        assert!(e.users.iter().all(|u| u.contains('@') && *u == u.to_lowercase()));
    }
});
