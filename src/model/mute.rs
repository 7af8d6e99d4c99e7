//! Muting accepted requirements: rules that say "this requirement failing on
//! these sites is known and accepted", so it stops counting toward a site's
//! severity. Pure: no I/O, no clock (every function takes `now`).
//!
//! A rule names a requirement id (exactly, as Drupal reports it) and narrows
//! it, optionally, to an environment, an install profile and a site; a field
//! left out matches everything. It carries a reason (required) and an
//! optional expiry: the rule applies strictly before that instant and stops
//! applying by itself afterwards.
//!
//! Expiry dates are written `YYYY-MM-DD`, meaning "through that day, UTC"
//! (the rule stops at the following midnight UTC), or as an RFC 3339 instant
//! (`2026-03-01T12:00:00Z`, `2026-03-01T13:00:00+01:00`).

use std::fmt;

use jiff::Span;
use jiff::civil::Date;

use super::severity::Severity;
use super::site::SiteSummary;

/// Where a rule comes from: the configuration file (read-only for the
/// dashboard), the dashboard's own rules file, or a silence in the
/// environment's Alertmanager, shared by the whole team.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RuleOrigin {
    Config,
    Dashboard,
    Silence {
        /// Alertmanager's id, to expire it with `u`.
        id: String,
        /// Who made it (`createdBy`), as Alertmanager has it, sanitized.
        created_by: String,
    },
}

impl RuleOrigin {
    pub fn label(&self) -> &'static str {
        match self {
            RuleOrigin::Config => "config",
            RuleOrigin::Dashboard => "dashboard",
            RuleOrigin::Silence { .. } => "silence",
        }
    }
}

impl fmt::Display for RuleOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MuteRule {
    /// The requirement id, matched exactly.
    pub requirement: String,
    /// `None` matches every environment.
    pub env: Option<String>,
    /// `None` matches every install profile.
    pub profile: Option<String>,
    /// `None` matches every site.
    pub site: Option<String>,
    /// Why the failure is accepted; never empty in a rule read from a file.
    pub reason: String,
    /// Unix seconds; the rule applies strictly before this instant.
    pub expires: Option<i64>,
    pub origin: RuleOrigin,
}

impl MuteRule {
    /// A rule for `requirement` everywhere, without expiry, made in the
    /// dashboard; narrow it with the public fields.
    pub fn new(requirement: impl Into<String>, reason: impl Into<String>) -> MuteRule {
        MuteRule {
            requirement: requirement.into(),
            env: None,
            profile: None,
            site: None,
            reason: reason.into(),
            expires: None,
            origin: RuleOrigin::Dashboard,
        }
    }

    /// True once `now_unix` has reached the expiry.
    pub fn is_expired(&self, now_unix: f64) -> bool {
        self.expires.is_some_and(|e| now_unix >= e as f64)
    }

    /// Whether the rule mutes `requirement` on this site now.
    pub fn matches(
        &self,
        env: &str,
        profile: &str,
        site: &str,
        requirement: &str,
        now_unix: f64,
    ) -> bool {
        fn field(rule: &Option<String>, value: &str) -> bool {
            rule.as_deref().is_none_or(|r| r == value)
        }
        self.requirement == requirement
            && field(&self.env, env)
            && field(&self.profile, profile)
            && field(&self.site, site)
            && !self.is_expired(now_unix)
    }

    /// Same requirement, environment, profile and site: the rules mute the
    /// same thing (reason, expiry and origin may differ).
    pub fn same_target(&self, other: &MuteRule) -> bool {
        self.requirement == other.requirement
            && self.env == other.env
            && self.profile == other.profile
            && self.site == other.site
    }

    /// The last day (UTC) on which the rule applies, `YYYY-MM-DD`.
    pub fn expiry_label(&self) -> Option<String> {
        self.expires.map(format_expiry)
    }

    /// What the site view shows next to a muted requirement:
    /// `"accepted by ops (until 2026-03-01)"`.
    pub fn describe(&self) -> String {
        let by = match &self.origin {
            RuleOrigin::Silence { created_by, .. } => format!(" · silenced by {created_by}"),
            _ => String::new(),
        };
        match self.expiry_label() {
            Some(day) => format!("{}{by} (until {day})", self.reason),
            None => format!("{}{by} (no expiry)", self.reason),
        }
    }

    /// Where the rule applies, for lists of rules: `prod/kk_borger/borger`,
    /// with `*` for a field left out.
    pub fn scope_label(&self) -> String {
        let part = |f: &Option<String>| f.clone().unwrap_or_else(|| "*".to_string());
        format!(
            "{}/{}/{}",
            part(&self.env),
            part(&self.profile),
            part(&self.site)
        )
    }
}

/// A failing requirement a rule mutes, for the site view.
#[derive(Debug, Clone, PartialEq)]
pub struct Muted<'a> {
    pub requirement: String,
    pub severity: Severity,
    pub rule: &'a MuteRule,
}

/// Every rule in force: the configuration's followed by the dashboard's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MuteRules {
    rules: Vec<MuteRule>,
}

impl FromIterator<MuteRule> for MuteRules {
    fn from_iter<I: IntoIterator<Item = MuteRule>>(iter: I) -> Self {
        MuteRules {
            rules: iter.into_iter().collect(),
        }
    }
}

impl MuteRules {
    pub fn new(rules: Vec<MuteRule>) -> MuteRules {
        MuteRules { rules }
    }

    pub fn rules(&self) -> &[MuteRule] {
        &self.rules
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn extend(&mut self, rules: impl IntoIterator<Item = MuteRule>) {
        self.rules.extend(rules);
    }

    /// Rules that have not expired.
    pub fn active(&self, now_unix: f64) -> impl Iterator<Item = &MuteRule> {
        self.rules.iter().filter(move |r| !r.is_expired(now_unix))
    }

    /// The rule that mutes this requirement on this site now. When several
    /// do, the one that lasts longest (no expiry first), so the site view
    /// says when the requirement will count again; then the first listed
    /// (configuration before dashboard).
    pub fn find(
        &self,
        env: &str,
        profile: &str,
        site: &str,
        requirement: &str,
        now_unix: f64,
    ) -> Option<&MuteRule> {
        let mut best: Option<&MuteRule> = None;
        for rule in &self.rules {
            if !rule.matches(env, profile, site, requirement, now_unix) {
                continue;
            }
            let lasts_longer = match best {
                None => true,
                Some(b) => match (b.expires, rule.expires) {
                    (None, _) => false,
                    (Some(_), None) => true,
                    (Some(old), Some(new)) => new > old,
                },
            };
            if lasts_longer {
                best = Some(rule);
            }
        }
        best
    }

    /// The site's failing requirements that a rule mutes now, in the order
    /// of `site.failing` (worst first).
    pub fn muted<'a>(&'a self, env: &str, site: &SiteSummary, now_unix: f64) -> Vec<Muted<'a>> {
        if self.rules.is_empty() {
            return Vec::new();
        }
        site.failing
            .iter()
            .filter_map(|(id, severity)| {
                self.find(env, &site.profile, &site.label, id, now_unix)
                    .map(|rule| Muted {
                        requirement: id.clone(),
                        severity: *severity,
                        rule,
                    })
            })
            .collect()
    }

    /// The summary as the grid, the pivot, `check` and `watch` should count
    /// it: muted requirements are removed from `failing`, and `worst` is
    /// lowered to the worst of what remains (`Ok` when nothing remains).
    ///
    /// `worst` is never raised, and is kept as it is when it is not
    /// explained by the listed failing requirements (it is worse than all of
    /// them) and when it is `None` (no data): muting hides a known failure,
    /// never missing data or one it does not name.
    pub fn apply_to_summary(&self, env: &str, site: &SiteSummary, now_unix: f64) -> SiteSummary {
        let mut out = site.clone();
        self.apply_in_place(env, &mut out, now_unix);
        out
    }

    /// [`MuteRules::apply_to_summary`] on every site of an environment, in
    /// place; cheap when no rule applies.
    pub fn apply_to_sites(&self, env: &str, sites: &mut [SiteSummary], now_unix: f64) {
        if self.active(now_unix).next().is_none() {
            return;
        }
        for site in sites {
            self.apply_in_place(env, site, now_unix);
        }
    }

    fn apply_in_place(&self, env: &str, site: &mut SiteSummary, now_unix: f64) {
        if self.rules.is_empty() || site.failing.is_empty() {
            return;
        }
        let listed_worst = site.failing.iter().map(|(_, s)| *s).max();
        let before = site.failing.len();
        let (profile, name) = (&site.profile, &site.label);
        site.failing
            .retain(|(id, _)| self.find(env, profile, name, id, now_unix).is_none());
        if site.failing.len() == before {
            return;
        }
        let Some(worst) = site.worst else {
            return;
        };
        if listed_worst.is_some_and(|listed| worst > listed) {
            // Something worse than every listed requirement: not ours to hide.
            return;
        }
        let remaining = site
            .failing
            .iter()
            .map(|(_, s)| *s)
            .max()
            .unwrap_or(Severity::Ok);
        site.worst = Some(worst.min(remaining));
    }
}

const EXPIRY_FORMATS: &str = "use a date (\"2026-03-01\", through that day UTC) or an RFC 3339 time (\"2026-03-01T12:00:00Z\")";

/// Reads an expiry into the unix second before which the rule applies:
/// `YYYY-MM-DD` is the end of that day UTC (the following midnight), an
/// RFC 3339 time (`Z` or `±HH:MM`, `T`, `t` or a space) is that instant,
/// fractional seconds dropped (an expiry is never extended).
pub fn parse_expiry(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let bad = || format!("{t:?} is not a date; {EXPIRY_FORMATS}");
    let b = t.as_bytes();
    if b.len() < 10 {
        return Err(bad());
    }
    let date = match parse_date(t.get(..10).unwrap_or("")) {
        Some(Ok(date)) => date,
        Some(Err(no_such_day)) => return Err(format!("{t:?}: {no_such_day}")),
        None => return Err(bad()),
    };
    if b.len() == 10 {
        return Ok((days_since_epoch(date) + 1) * SECONDS_PER_DAY);
    }
    if !matches!(b[10], b'T' | b't' | b' ') || b.len() < 19 {
        return Err(bad());
    }
    let num = |from: usize, to: usize| -> Option<i8> {
        let s = t.get(from..to)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (hour, minute, second): (i8, i8, i8) = match (num(11, 13), num(14, 16), num(17, 19)) {
        (Some(h), Some(m), Some(s)) if b[13] == b':' && b[16] == b':' => (h, m, s),
        _ => return Err(bad()),
    };
    if hour > 23 || minute > 59 || second > 60 {
        return Err(format!("{t:?}: the time of day is out of range"));
    }
    let mut rest = &t[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(fraction.len());
        if digits == 0 {
            return Err(bad());
        }
        rest = &fraction[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let rb = rest.as_bytes();
            let sign = match rb.first() {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => {
                    return Err(format!(
                        "{t:?} has no time zone; end it with Z (UTC) or an offset like +01:00"
                    ));
                }
            };
            let (oh, om) = match (rest.get(1..3), rest.get(4..6)) {
                (Some(h), Some(m)) if rest.len() == 6 && rb[3] == b':' => {
                    match (h.parse::<i32>(), m.parse::<i32>()) {
                        (Ok(h), Ok(m)) if h <= 23 && m <= 59 => (h, m),
                        _ => return Err(bad()),
                    }
                }
                _ => return Err(bad()),
            };
            sign * (oh * 3600 + om * 60)
        }
    };
    // Counted from the date's midnight rather than through jiff's
    // Timestamp, whose range ends on 9999-12-30 in UTC: "9999-12-31" is a
    // plausible "never", and a leap second (`:60`) is simply the next one.
    let second_of_day = i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second);
    Ok(days_since_epoch(date) * SECONDS_PER_DAY + second_of_day - i64::from(offset))
}

/// Unix time has no leap seconds: every UTC day is this long.
const SECONDS_PER_DAY: i64 = 86_400;

const EPOCH: Date = jiff::civil::date(1970, 1, 1);

/// Days from 1970-01-01 to `date`, as jiff's calendar counts them.
fn days_since_epoch(date: Date) -> i64 {
    i64::from((date - EPOCH).get_days())
}

/// The UTC date of an instant and its second of that day; dates past
/// jiff's calendar (years beyond ±9999) are held at its ends, which no
/// expiry read from a file reaches.
fn utc_parts(unix: i64) -> (Date, i64) {
    let days = unix.div_euclid(SECONDS_PER_DAY);
    let date = Span::new()
        .try_days(days)
        .ok()
        .and_then(|span| EPOCH.checked_add(span).ok())
        .unwrap_or(if days < 0 { Date::MIN } else { Date::MAX });
    (date, unix.rem_euclid(SECONDS_PER_DAY))
}

/// `YYYY-MM-DD` to a date; `None` when not of that shape, an error when
/// the day does not exist.
fn parse_date(text: &str) -> Option<Result<Date, String>> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let digits = |s: &str| {
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse::<i16>().ok())
            .flatten()
    };
    let year = digits(&text[0..4])?;
    let month = i8::try_from(digits(&text[5..7])?).ok()?;
    let day = i8::try_from(digits(&text[8..10])?).ok()?;
    if !(1..=12).contains(&month) {
        return Some(Err(format!("there is no month {month}")));
    }
    let Ok(first) = Date::new(year, month, 1) else {
        return Some(Err(format!("there is no year {year}")));
    };
    Some(Date::new(year, month, day).map_err(|_| {
        format!(
            "no such day: {year:04}-{month:02} has {} days",
            first.days_in_month()
        )
    }))
}

/// The UTC date of an instant, `YYYY-MM-DD`.
pub fn format_date(unix: i64) -> String {
    utc_parts(unix).0.strftime("%Y-%m-%d").to_string()
}

/// An instant as RFC 3339 UTC to the second, `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_rfc3339(unix: i64) -> String {
    let (date, second) = utc_parts(unix);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        date.strftime("%Y-%m-%d"),
        second / 3600,
        second % 3600 / 60,
        second % 60
    )
}

/// The last day (UTC) on which a rule with this expiry applies: the inverse
/// of `parse_expiry` for a date (`"2026-03-01"` parses to the next midnight
/// and formats back to `2026-03-01`).
pub fn format_expiry(expires: i64) -> String {
    format_date(expires - 1)
}

/// An expiry as it is written to a file so that `parse_expiry` gives it back
/// exactly: the date when it is a midnight UTC, else the RFC 3339 time.
pub fn expiry_to_text(expires: i64) -> String {
    if expires.rem_euclid(SECONDS_PER_DAY) == 0 {
        format_expiry(expires)
    } else {
        format_rfc3339(expires)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-03-01T00:00:00Z
    const MAR1: i64 = 1_772_323_200;

    fn rule(req: &str) -> MuteRule {
        MuteRule::new(req, "accepted")
    }

    fn site(worst: Option<Severity>, failing: &[(&str, Severity)]) -> SiteSummary {
        SiteSummary {
            worst,
            failing: failing.iter().map(|(id, s)| (id.to_string(), *s)).collect(),
            ..SiteSummary::new("borger", "kk_borger")
        }
    }

    #[test]
    fn dates_mean_through_the_end_of_that_day_utc() {
        assert_eq!(parse_expiry("2026-02-28"), Ok(MAR1));
        assert_eq!(parse_expiry(" 2026-02-28 "), Ok(MAR1));
        assert_eq!(
            parse_expiry("2024-02-29"),
            Ok(1_709_251_200) // 2024-03-01T00:00:00Z
        );
        assert!(parse_expiry("2026-02-29").is_err(), "not a leap year");
        assert!(parse_expiry("2100-02-29").is_err());
        assert!(parse_expiry("2000-02-29").is_ok());
        for bad in [
            "2026-13-01",
            "2026-00-10",
            "2026-04-31",
            "26-03-01",
            "2026/03/01",
            "",
            "soon",
        ] {
            assert!(parse_expiry(bad).is_err(), "{bad}");
        }
        assert_eq!(format_expiry(MAR1), "2026-02-28");
        assert_eq!(format_date(MAR1), "2026-03-01");
    }

    #[test]
    fn rfc3339_times_are_instants() {
        assert_eq!(parse_expiry("2026-03-01T00:00:00Z"), Ok(MAR1));
        assert_eq!(parse_expiry("2026-03-01t00:00:00z"), Ok(MAR1));
        assert_eq!(parse_expiry("2026-03-01 12:30:05Z"), Ok(MAR1 + 45_005));
        assert_eq!(parse_expiry("2026-03-01T01:00:00+01:00"), Ok(MAR1));
        assert_eq!(parse_expiry("2026-02-28T19:00:00-05:00"), Ok(MAR1));
        assert_eq!(parse_expiry("2026-03-01T00:00:00.999Z"), Ok(MAR1));
        for bad in [
            "2026-03-01T00:00:00",
            "2026-03-01T24:00:00Z",
            "2026-03-01T00:60:00Z",
            "2026-03-01T0:00:00Z",
            "2026-03-01T00:00:00+1:00",
            "2026-03-01T00:00:00.Z",
            "2026-03-01X00:00:00Z",
        ] {
            assert!(parse_expiry(bad).is_err(), "{bad}");
        }
        assert_eq!(format_rfc3339(MAR1 + 45_005), "2026-03-01T12:30:05Z");
    }

    #[test]
    fn expiries_written_to_a_file_read_back_exactly() {
        for e in [
            MAR1,
            MAR1 + 1,
            MAR1 - 1,
            0,
            951_782_400,     /* 2000-02-29 */
            253_402_300_800, /* 10000-01-01: the end of "9999-12-31" */
            253_402_300_799,
        ] {
            assert_eq!(parse_expiry(&expiry_to_text(e)), Ok(e), "{e}");
        }
        assert_eq!(expiry_to_text(MAR1), "2026-02-28");
        assert_eq!(parse_expiry("9999-12-31"), Ok(253_402_300_800));
        assert_eq!(expiry_to_text(253_402_300_800), "9999-12-31");
        assert_eq!(expiry_to_text(253_402_300_799), "9999-12-31T23:59:59Z");
        assert_eq!(expiry_to_text(MAR1 + 1), "2026-03-01T00:00:01Z");
    }

    #[test]
    fn a_rule_applies_strictly_before_its_expiry() {
        let mut r = rule("cron");
        r.expires = Some(MAR1);
        let at = |now: f64| r.matches("prod", "p", "s", "cron", now);
        assert!(at(MAR1 as f64 - 0.5));
        assert!(!at(MAR1 as f64));
        assert!(r.is_expired(MAR1 as f64));
        assert!(!r.is_expired(MAR1 as f64 - 1.0));
        assert!(!rule("cron").is_expired(f64::MAX), "no expiry");
    }

    #[test]
    fn unset_fields_match_everything() {
        let mut r = rule("cron");
        assert!(r.matches("dev", "kk_a", "x", "cron", 0.0));
        assert!(!r.matches("dev", "kk_a", "x", "cron2", 0.0));
        assert!(!r.matches("dev", "kk_a", "x", "Cron", 0.0));
        r.env = Some("prod".into());
        r.site = Some("borger".into());
        assert!(r.matches("prod", "kk_a", "borger", "cron", 0.0));
        assert!(!r.matches("dev", "kk_a", "borger", "cron", 0.0));
        assert!(!r.matches("prod", "kk_a", "other", "cron", 0.0));
        r.profile = Some("kk_a".into());
        assert!(!r.matches("prod", "kk_b", "borger", "cron", 0.0));
        assert_eq!(r.scope_label(), "prod/kk_a/borger");
    }

    #[test]
    fn find_prefers_the_rule_that_lasts_longest() {
        let mut short = rule("cron");
        short.expires = Some(100);
        short.reason = "short".into();
        let mut long = rule("cron");
        long.expires = Some(200);
        long.reason = "long".into();
        let forever = MuteRule {
            reason: "forever".into(),
            ..rule("cron")
        };
        let rules = MuteRules::new(vec![short.clone(), long.clone()]);
        assert_eq!(
            rules.find("e", "p", "s", "cron", 0.0).unwrap().reason,
            "long"
        );
        assert_eq!(
            rules.find("e", "p", "s", "cron", 150.0).unwrap().reason,
            "long"
        );
        assert!(rules.find("e", "p", "s", "cron", 200.0).is_none());
        let rules = MuteRules::new(vec![short, forever, long]);
        assert_eq!(
            rules.find("e", "p", "s", "cron", 0.0).unwrap().reason,
            "forever"
        );
    }

    #[test]
    fn muting_the_only_error_makes_the_site_ok() {
        let rules = MuteRules::new(vec![rule("update")]);
        let s = site(Some(Severity::Error), &[("update", Severity::Error)]);
        let out = rules.apply_to_summary("prod", &s, 0.0);
        assert_eq!(out.worst, Some(Severity::Ok));
        assert!(out.failing.is_empty());
        let muted = rules.muted("prod", &s, 0.0);
        assert_eq!(muted.len(), 1);
        assert_eq!(
            (muted[0].requirement.as_str(), muted[0].severity),
            ("update", Severity::Error)
        );
    }

    #[test]
    fn muting_lowers_to_the_worst_remaining() {
        let rules = MuteRules::new(vec![rule("update")]);
        let s = site(
            Some(Severity::Error),
            &[("update", Severity::Error), ("cron", Severity::Warning)],
        );
        let out = rules.apply_to_summary("prod", &s, 0.0);
        assert_eq!(out.worst, Some(Severity::Warning));
        assert_eq!(out.failing, vec![("cron".to_string(), Severity::Warning)]);

        // Muting a lesser requirement leaves the worst alone.
        let rules = MuteRules::new(vec![rule("cron")]);
        let out = rules.apply_to_summary("prod", &s, 0.0);
        assert_eq!(out.worst, Some(Severity::Error));
        assert_eq!(out.failing, vec![("update".to_string(), Severity::Error)]);
    }

    #[test]
    fn muting_never_hides_missing_data_or_an_unlisted_failure() {
        let rules = MuteRules::new(vec![rule("cron")]);
        let no_data = site(None, &[("cron", Severity::Warning)]);
        let out = rules.apply_to_summary("prod", &no_data, 0.0);
        assert_eq!(out.worst, None);
        assert!(out.failing.is_empty());

        // The error is not among the listed requirements: it stays.
        let unlisted = site(Some(Severity::Error), &[("cron", Severity::Warning)]);
        assert_eq!(
            rules.apply_to_summary("prod", &unlisted, 0.0).worst,
            Some(Severity::Error)
        );
        let unlisted = site(Some(Severity::Warning), &[]);
        assert_eq!(
            rules.apply_to_summary("prod", &unlisted, 0.0).worst,
            Some(Severity::Warning)
        );
        // Never raised, even when the data disagree with themselves.
        let info = site(Some(Severity::Info), &[("cron", Severity::Warning)]);
        assert_eq!(
            rules.apply_to_summary("prod", &info, 0.0).worst,
            Some(Severity::Info)
        );
    }

    #[test]
    fn nothing_changes_without_a_matching_active_rule() {
        let mut r = rule("update");
        r.env = Some("dev".into());
        let mut expired = rule("update");
        expired.expires = Some(10);
        let rules = MuteRules::new(vec![r, expired]);
        let s = site(Some(Severity::Error), &[("update", Severity::Error)]);
        assert_eq!(rules.apply_to_summary("prod", &s, 20.0), s);
        assert!(rules.muted("prod", &s, 20.0).is_empty());
        assert_eq!(
            rules.apply_to_summary("prod", &s, 5.0).worst,
            Some(Severity::Ok)
        );
        let mut sites = vec![s.clone(), s.clone()];
        rules.apply_to_sites("prod", &mut sites, 5.0);
        assert!(sites.iter().all(|x| x.worst == Some(Severity::Ok)));
        let mut sites = vec![s.clone()];
        rules.apply_to_sites("prod", &mut sites, 20.0);
        assert_eq!(sites[0], s);
    }

    #[test]
    fn describe_names_the_reason_and_last_day() {
        let mut r = MuteRule::new("cron", "ticket OPS-12");
        assert_eq!(r.describe(), "ticket OPS-12 (no expiry)");
        r.expires = Some(MAR1);
        assert_eq!(r.describe(), "ticket OPS-12 (until 2026-02-28)");
        assert_eq!(r.expiry_label().as_deref(), Some("2026-02-28"));
    }
}
