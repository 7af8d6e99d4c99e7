//! Prometheus' `/api/v1/alerts` answer: alerts or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use site_status::source::prometheus::parse_alerts;

fuzz_target!(|data: &[u8]| {
    let _ = parse_alerts(200, data);
});
