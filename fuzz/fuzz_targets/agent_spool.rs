//! The agent's spool read back at start, as a killed agent or a hostile
//! volume may leave it: any file names (report names, temporary files,
//! strangers) with any contents. Opening indexes what it can, and sending
//! every report (read it, then forget it) never panics.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use site_status_agent::loki::{Log, LogLevel, NoEvents};
use site_status_agent::spool::{Spool, SpoolConfig};

/// A file name from two bytes: a report's name (`<ts>-<seq>.report`, the
/// numbers from the bytes), a leftover `.tmp`, or a stranger.
fn name(kind: u8, n: u8) -> String {
    let ts = 1_700_000_000_000_000_000u64 + u64::from(n) * 1_000_000_007;
    match kind % 4 {
        0 | 1 => format!("{ts:020}-{:020}.report", n),
        2 => format!("{ts:020}-{:020}.report.tmp", n),
        _ => format!("stranger-{n}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else { return };
    let mut rest = data;
    for _ in 0..6 {
        let [kind, n, len, tail @ ..] = rest else { break };
        let len = usize::from(*len).min(tail.len());
        let (content, after) = tail.split_at(len);
        let _ = std::fs::write(dir.path().join(name(*kind, *n)), content);
        rest = after;
    }
    let Ok(spool) = Spool::open(
        SpoolConfig::new(dir.path()),
        Arc::new(NoEvents),
        Log::new(LogLevel::Error),
    ) else {
        return;
    };
    for _ in 0..8 {
        let Some(entry) = spool.oldest() else { break };
        let _ = spool.read(&entry);
        if spool.remove(&entry).is_err() {
            break;
        }
    }
});
