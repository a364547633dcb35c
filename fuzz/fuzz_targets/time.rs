//! Any text as a timestamp; a parsed time must print and parse back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Some(t) = sleuth_ingest::time::parse(text) {
        assert_eq!(sleuth_ingest::time::parse(&t.to_rfc3339()), Some(t));
    }
});
