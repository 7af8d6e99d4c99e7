//! Loki's `query_range` answer (streams, matrices, error bodies), read in
//! both directions: entries or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use site_status::source::loki::{Direction, parse_query_range};

fuzz_target!(|data: &[u8]| {
    let _ = parse_query_range(200, data, Direction::Backward);
    let _ = parse_query_range(200, data, Direction::Forward);
});
