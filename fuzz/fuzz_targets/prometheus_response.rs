//! A Prometheus query response, whatever its status and body: an answer
//! or an error, never a panic; the samples it yields read back as vector
//! or matrix without one either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use site_status::source::prometheus::parse_response;

fuzz_target!(|data: &[u8]| {
    let (status, body) = match data.split_first() {
        Some((first, rest)) => (if *first < 128 { 200 } else { 400 + u16::from(*first) }, rest),
        None => (200, data),
    };
    if let Ok(answer) = parse_response(status, body) {
        let _ = answer.clone().into_vector();
        let _ = answer.into_matrix();
    }
});
