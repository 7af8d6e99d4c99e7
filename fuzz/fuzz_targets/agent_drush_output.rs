//! What the agent makes of drush's stdout and stderr, any bytes and any
//! exit status: an outcome (a report, or a failed run with its reason),
//! never a panic.
#![no_main]

use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Output};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use site_status_agent::runner::{RunSpec, outcome_from_output};

fuzz_target!(|data: &[u8]| {
    let (code, rest) = match data.split_first() {
        Some((c, rest)) => (i32::from(*c), rest),
        None => (0, data),
    };
    let split = rest.len() * 3 / 4;
    let (stdout, stderr) = rest.split_at(split);
    let spec = RunSpec {
        command: vec!["drush".into(), "core:requirements".into()],
        status_command: None,
        timeout: Duration::from_secs(60),
        site: "borger".into(),
        env: "prod".into(),
        profile: "kk_borger".into(),
    };
    let output = Output {
        status: ExitStatus::from_raw(code << 8),
        stdout: stdout.to_vec(),
        stderr: stderr.to_vec(),
    };
    let outcome = outcome_from_output(&spec, 1_700_000_000_000_000_000, 1.5, output);
    assert!(
        outcome.success == outcome.run_failure.is_none() && outcome.success != outcome.failure.is_some(),
        "a failed run says why, in a class and in words"
    );
});
