//! Every exit code the program uses, in one place: scripts and pipelines
//! depend on them (the README documents them).

/// Done; for `check`, every site is OK or Info.
pub const OK: u8 = 0;
/// Something could not be done (the runtime would not start, a file could
/// not be written, a backend `config check` tried did not answer).
pub const FAILURE: u8 = 1;
/// The configuration is missing, does not parse or names what does not
/// exist: nothing was tried.
pub const BAD_CONFIGURATION: u8 = 2;
/// `check`: the worst site has a warning.
pub const CHECK_WARNING: u8 = 1;
/// `check`: a site is in error, target down, its run failed, has no data or
/// is stale.
pub const CHECK_CRITICAL: u8 = 2;
/// `check`: a backend could not be queried (or the configuration could not
/// be read); wins over the sites' verdict. `report`: Loki failed.
pub const BACKEND_FAILED: u8 = 3;
/// `rollout`: more sites regressed on the new version than allowed.
pub const ROLLOUT_REGRESSED: u8 = 1;
/// `rollout`: the timeout came with sites not on the version, or not
/// reported on it. (A backend down at the deadline is `BACKEND_FAILED`.)
pub const ROLLOUT_TIMED_OUT: u8 = 2;
/// Stopped by SIGINT or SIGTERM before it finished (128 + SIGINT).
pub const INTERRUPTED: u8 = 130;
