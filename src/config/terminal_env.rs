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
/// found falls back to UTC rather than stopping the dashboard over how it
/// writes a clock.
pub fn display_time_zone(utc: bool) -> TimeZone {
    if utc {
        return TimeZone::UTC;
    }
    let zone = TimeZone::system();
    if zone.is_unknown() || is_utc(&zone) {
        TimeZone::UTC
    } else {
        zone
    }
}

/// Whether a zone from the database is UTC under another name (`UTC`,
/// `Etc/UTC`, `Zulu`): such a machine shows times as `--utc` does, `Z` and
/// all, rather than as a local zone that happens to sit at +00:00.
fn is_utc(zone: &TimeZone) -> bool {
    zone.iana_name().is_some_and(|name| {
        let name = name.strip_prefix("Etc/").unwrap_or(name);
        ["UTC", "UCT", "Universal", "Zulu"].contains(&name)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_by_any_of_its_names_is_utc() {
        for name in ["UTC", "Etc/UTC", "Etc/Zulu", "Universal"] {
            if let Ok(zone) = TimeZone::get(name) {
                assert!(is_utc(&zone), "{name}");
            }
        }
        // London sits at +00:00 in winter and is not UTC.
        if let Ok(london) = TimeZone::get("Europe/London") {
            assert!(!is_utc(&london));
        }
        assert_eq!(display_time_zone(true), TimeZone::UTC);
    }
}
