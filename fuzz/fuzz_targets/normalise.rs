//! Any JSON object as a record of any dialect.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(serde_json::Value::Object(object)) = serde_json::from_str(text) {
        let _ = sleuth_ingest::normalise(object, "fuzz", text);
    }
});
