//! Any bytes as a file: decoding (gzip, BOM, UTF-16), format detection, the streaming JSON
//! reader, JSON lines, CSV and every normaliser. Every record must be accounted for.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut seen = 0u64;
    let report = sleuth_ingest::read_stream("fuzz", data, &mut |_| seen += 1);
    assert_eq!(report.total(), seen);
    assert!(report.problems.len() <= sleuth_ingest::MAX_PROBLEMS);
});
