//! The configuration's label selectors (`env="prod",team=~"web.*"`): a
//! selector or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use site_status::config::Selector;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Selector::parse(text);
    }
});
