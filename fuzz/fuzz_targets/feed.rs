//! Any text as a JSON Feed: it parses or says why, and the rules embedded in its items are
//! found without panicking, whatever HTML, entities and fences the content holds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sleuth_detect::sigma::feed;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = feed::decode_entities(text);
    if let Ok(feed) = feed::parse(text) {
        for item in &feed.items {
            for rule in item.embedded_rules() {
                assert!(!rule.trim().is_empty(), "an embedded rule is never empty");
            }
            let _ = item.linked_rules().count();
        }
    }
});
