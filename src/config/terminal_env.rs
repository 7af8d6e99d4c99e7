//! What this process's environment says about how to draw: how many
//! colours the terminal shows (`NO_COLOR`, `COLORTERM`, `TERM`) and which
//! time zone times are shown in (`TZ`, else the system's). Reads environment
//! variables and the system's time-zone files, so that `ui` reads neither
//! and is given the answers as data.

use jiff::tz::TimeZone;

use crate::ui::theme::{ColorChoice, ColorDepth};

/// The depth `--color` asks for, given this process's environment.
pub fn color_depth(choice: ColorChoice) -> ColorDepth {
    let var = |name: &str| std::env::var(name).ok();
    choice.depth(
        var("NO_COLOR").as_deref(),
        var("COLORTERM").as_deref(),
        var("TERM").as_deref(),
    )
}

/// The zone the dashboard shows times in: UTC when asked for (`--utc`,
/// `utc = true`), else `TZ`, else the system's zone. A zone that cannot be
/// found falls back to UTC, with jiff's warning in the log, rather than
/// stopping the dashboard over how it writes a clock.
pub fn display_time_zone(utc: bool) -> TimeZone {
    if utc {
        return TimeZone::UTC;
    }
    let zone = TimeZone::system();
    if zone.is_unknown() {
        TimeZone::UTC
    } else {
        zone
    }
}
