//! The configuration file: a configuration or an error naming what is
//! wrong, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use site_status::config::Config;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Config::parse(text, std::path::Path::new("config.toml"));
    }
});
