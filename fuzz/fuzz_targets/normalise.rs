//! Any JSON object as a record of any dialect.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(sleuth_ingest::value::Value::Object(object)) = sleuth_ingest::value::parse(text) {
        let _ = sleuth_ingest::normalise(object, "fuzz", text);
    }
});
