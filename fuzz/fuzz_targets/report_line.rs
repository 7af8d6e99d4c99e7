//! One log line as Loki hands it over: the contract's report line, the v1
//! envelope, bare drush output of any version, or garbage. Parsing never
//! panics, and what it keeps is bounded and printable.
#![no_main]

use libfuzzer_sys::fuzz_target;
use site_status_contract::report::parse_report_bytes;

fuzz_target!(|data: &[u8]| {
    let report = parse_report_bytes(data, 1_700_000_000_000_000_000);
    for requirement in &report.requirements {
        for text in [&requirement.id, &requirement.title] {
            assert!(
                !text.chars().any(|c| c.is_control()),
                "a control character survived in {text:?}"
            );
        }
    }
});
