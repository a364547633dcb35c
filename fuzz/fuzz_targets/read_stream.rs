//! Any bytes as a file: decoding (gzip, BOM, UTF-16), format detection, the streaming JSON
//! reader, JSON lines, CSV and every normaliser. Every record must be accounted for.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut seen = 0u64;
    // Small limits, so that the fuzzer reaches them.
    let limits = sleuth_ingest::Limits { max_record_bytes: 4096, max_field_bytes: 512, ..Default::default() };
    let report = sleuth_ingest::read_stream("fuzz", data, &limits, &mut |_| seen += 1);
    assert_eq!(report.total(), seen);
    assert!(report.problems.len() <= sleuth_ingest::MAX_PROBLEMS);
});
