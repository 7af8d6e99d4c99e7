//! A user theme file: a theme or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use site_status::config::theme_file;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = theme_file::parse(text, std::path::Path::new("themes/fuzz.toml"));
    }
});
