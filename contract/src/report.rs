//! One Loki log line, a site's status report, read into requirements.
//!
//! Loki holds every shape the contract has ever had (see `CONTRACT.md`,
//! "Loki status reports"), and whoever can push to Loki controls the text, so
//! [`parse_report_line`] accepts any input, never panics, and sanitizes every
//! string it keeps:
//!
//! | line | [`ReportFormat`] |
//! |---|---|
//! | an object with a `requirements` key (other fields optional, unknown ones ignored) | `Contract` |
//! | the statuscheck v1 envelope `{"full": <drush>, "errors": <drush>}` | `V1` |
//! | bare drush output: object keyed by id, list, numeric-keyed object, `[]` | `Drush` |
//! | anything else: not JSON, cut-off JSON, a number, a string, drush rows that are not rows | `Unparsed` |
//!
//! Drush output is only accepted when every row is a JSON object carrying at
//! least one of drush's fields (`title`, `severity`, `sid`, `value`,
//! `description`). One malformed row makes the whole output unparsable rather
//! than silently dropping a requirement that may be the failing one.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashSet};
use std::fmt::{self, Write as _};

use serde_json::{Map, Value};

use crate::failure::{FailureClass, RunFailure};
use crate::requirement::{Requirement, sort_requirements_worst_first};
use crate::severity::Severity;
use crate::text::{MAX_FIELD_CHARS, MAX_NAME_CHARS, clean_line, clean_multiline};

/// Longest unparsed line kept in [`Report::raw`]; longer lines are cut at the
/// last character boundary at or before this many bytes.
pub const MAX_RAW_BYTES: usize = 64 * 1024;
/// Titles are one line in the site view; Drupal's are under 60 characters.
pub const MAX_TITLE_CHARS: usize = 300;
/// `generated_at` and `drupal_version` are short tokens.
const MAX_TOKEN_CHARS: usize = 64;

/// The fields a drush row may carry; a row must have at least one.
const DRUSH_FIELDS: [&str; 5] = ["title", "severity", "sid", "value", "description"];

/// Which shape a report line had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportFormat {
    /// The current contract: an object with `requirements` and metadata.
    Contract,
    /// The statuscheck v1 envelope `{"full": ..., "errors": ...}`.
    V1,
    /// Bare `drush core-requirements` output, of any drush version.
    Drush,
    /// Not a status report; the line is kept in [`Report::raw`].
    Unparsed,
}

impl ReportFormat {
    pub fn label(self) -> &'static str {
        match self {
            ReportFormat::Contract => "contract",
            ReportFormat::V1 => "v1",
            ReportFormat::Drush => "drush",
            ReportFormat::Unparsed => "unparsed",
        }
    }
}

impl fmt::Display for ReportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// One status report as read from one Loki line.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Loki's timestamp of the line, nanoseconds since the Unix epoch.
    pub time_ns: i64,
    pub format: ReportFormat,
    /// Sanitized, worst first (`sort_requirements_worst_first`). Ids are
    /// unique within a report (see [`parse_report_line`]). Empty when
    /// `format` is `Unparsed`.
    pub requirements: Vec<Requirement>,
    /// The line, when it could not be parsed: at most [`MAX_RAW_BYTES`],
    /// **not sanitized**; callers must sanitize it before drawing it.
    pub raw: Option<String>,
    /// The contract's metadata; `None` when absent, empty, of the wrong JSON
    /// type, or when the line is not a contract report. Also filled for an
    /// `Unparsed` contract line whose `requirements` could not be read (a
    /// failed drush run: `drush_exit_code` and `stderr_tail` say why).
    pub generated_at: Option<String>,
    pub duration_seconds: Option<f64>,
    pub drush_exit_code: Option<i64>,
    pub drupal_version: Option<String>,
    /// Sanitized multi-line text; when longer than `MAX_FIELD_CHARS` its
    /// *end* is kept, behind a leading `…`.
    pub stderr_tail: Option<String>,
    /// Why the run failed, in bounded parts, for a report the agent wrote
    /// after a failed run (`run_failure`); `None` for a successful run and
    /// for older lines, whose `drush_exit_code` and `stderr_tail` say it.
    pub run_failure: Option<RunFailure>,
}

/// Requirements per severity, plus those whose severity drush did not say
/// in a way we understand (`unknown`), which must never be read as fine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequirementCounts {
    pub error: usize,
    pub warning: usize,
    pub ok: usize,
    pub info: usize,
    pub unknown: usize,
}

impl RequirementCounts {
    pub fn add(&mut self, severity: Option<Severity>) {
        match severity {
            Some(Severity::Error) => self.error += 1,
            Some(Severity::Warning) => self.warning += 1,
            Some(Severity::Ok) => self.ok += 1,
            Some(Severity::Info) => self.info += 1,
            None => self.unknown += 1,
        }
    }

    /// `get(None)` is the unknown count.
    pub fn get(&self, severity: Option<Severity>) -> usize {
        match severity {
            Some(Severity::Error) => self.error,
            Some(Severity::Warning) => self.warning,
            Some(Severity::Ok) => self.ok,
            Some(Severity::Info) => self.info,
            None => self.unknown,
        }
    }

    pub fn total(&self) -> usize {
        self.error + self.warning + self.ok + self.info + self.unknown
    }

    /// Warnings and errors.
    pub fn failing(&self) -> usize {
        self.error + self.warning
    }

    /// The four known severities, worst first (the order of `Severity::ALL`);
    /// `unknown` is not included.
    pub fn by_severity(&self) -> [(Severity, usize); 4] {
        Severity::ALL.map(|s| (s, self.get(Some(s))))
    }
}

impl Report {
    fn new(time_ns: i64, format: ReportFormat) -> Report {
        Report {
            time_ns,
            format,
            requirements: Vec::new(),
            raw: None,
            generated_at: None,
            duration_seconds: None,
            drush_exit_code: None,
            drupal_version: None,
            stderr_tail: None,
            run_failure: None,
        }
    }

    /// The worst known severity; `None` when the line was unparsed, when the
    /// report has no requirements, or when no requirement's severity is
    /// known. Requirements of unknown severity do not take part: check
    /// `counts().unknown` so they are not mistaken for fine.
    pub fn worst(&self) -> Option<Severity> {
        if self.format == ReportFormat::Unparsed {
            return None;
        }
        self.requirements.iter().filter_map(|r| r.severity).max()
    }

    pub fn counts(&self) -> RequirementCounts {
        let mut counts = RequirementCounts::default();
        for r in &self.requirements {
            counts.add(r.severity);
        }
        counts
    }

    pub fn is_parsed(&self) -> bool {
        self.format != ReportFormat::Unparsed
    }

    pub fn requirement(&self, id: &str) -> Option<&Requirement> {
        self.requirements.iter().find(|r| r.id == id)
    }

    /// Loki's timestamp as RFC 3339 UTC; see [`format_rfc3339_utc`].
    pub fn time_rfc3339(&self) -> String {
        format_rfc3339_utc(self.time_ns)
    }
}

/// Reads one Loki line. Never panics; see the module docs for the shapes.
///
/// Requirement ids:
/// - drush output keyed by requirement id (Drush 11+, and the contract's and
///   v1's payloads): the key.
/// - a list (Drush 10) or an object whose keys are all row numbers (Drush 10
///   with a filter: `{"17": {...}}`, where 17 is the row's position in the
///   unfiltered list): row numbers change whenever a requirement comes or
///   goes, so the id is the row's sanitized title, which is stable from run
///   to run and the same in both Drush 10 shapes; the row number when the
///   title is empty.
/// - ids that collide after sanitizing and truncation (or two rows with the
///   same title) get ` #<row>` appended, so ids stay unique in a report.
///
/// Severity: a valid `sid` (an integer, an integral float, or a numeric
/// string) wins; otherwise the `severity` label, case-insensitively (a
/// numeric `severity` is read as a sid); otherwise `None`. Translated labels
/// are not understood, so Danish rows without a `sid` are `None`.
///
/// Text: ids with `clean_line(.., MAX_NAME_CHARS)`, titles with
/// `clean_line(.., MAX_TITLE_CHARS)`, values and descriptions with
/// `clean_multiline(.., MAX_FIELD_CHARS)` (drush's newlines carry structure;
/// see `drush_text`). A field that is `null` or missing is empty; a number or
/// boolean is written out; an array or object becomes its compact JSON.
///
/// A v1 envelope takes its requirements from `full`, falling back to
/// `errors` when `full` is missing or unreadable. A contract line whose
/// `requirements` cannot be read is `Unparsed`, with its metadata kept.
pub fn parse_report_line(line: &str, time_ns: i64) -> Report {
    let Ok(value) = serde_json::from_str::<Value>(line) else {
        return unparsed(Report::new(time_ns, ReportFormat::Unparsed), line);
    };

    if let Value::Object(obj) = &value {
        if let Some(requirements) = obj.get("requirements") {
            let mut report = Report::new(time_ns, ReportFormat::Contract);
            read_metadata(obj, &mut report);
            if let Some(reqs) = parse_drush(requirements) {
                return with_requirements(report, reqs);
            }
            // A drush output with a requirement called "requirements" is
            // still drush output.
            if let Some(reqs) = parse_drush(&value) {
                return with_requirements(Report::new(time_ns, ReportFormat::Drush), reqs);
            }
            report.format = ReportFormat::Unparsed;
            return unparsed(report, line);
        }
        if obj.contains_key("full") || obj.contains_key("errors") {
            let reqs = obj
                .get("full")
                .and_then(parse_drush)
                .or_else(|| obj.get("errors").and_then(parse_drush));
            if let Some(reqs) = reqs {
                return with_requirements(Report::new(time_ns, ReportFormat::V1), reqs);
            }
        }
    }

    match parse_drush(&value) {
        Some(reqs) => with_requirements(Report::new(time_ns, ReportFormat::Drush), reqs),
        None => unparsed(Report::new(time_ns, ReportFormat::Unparsed), line),
    }
}

/// [`parse_report_line`] for bytes that may not be UTF-8: invalid sequences
/// become U+FFFD first.
pub fn parse_report_bytes(line: &[u8], time_ns: i64) -> Report {
    parse_report_line(&String::from_utf8_lossy(line), time_ns)
}

fn with_requirements(mut report: Report, mut reqs: Vec<Requirement>) -> Report {
    sort_requirements_worst_first(&mut reqs);
    report.requirements = reqs;
    report
}

fn unparsed(mut report: Report, line: &str) -> Report {
    report.format = ReportFormat::Unparsed;
    report.requirements.clear();
    report.raw = Some(truncate_bytes(line, MAX_RAW_BYTES).to_string());
    report
}

fn truncate_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn read_metadata(obj: &Map<String, Value>, report: &mut Report) {
    report.generated_at = token(obj.get("generated_at"));
    report.drupal_version = token(obj.get("drupal_version"));
    report.duration_seconds = obj.get("duration_seconds").and_then(as_finite_f64);
    report.drush_exit_code = obj.get("drush_exit_code").and_then(as_integer);
    report.stderr_tail = match obj.get("stderr_tail") {
        Some(Value::String(s)) => Some(clean_tail(s, MAX_FIELD_CHARS)),
        _ => None,
    }
    .filter(|s| !s.trim().is_empty());
    report.run_failure = obj.get("run_failure").and_then(read_run_failure);
}

/// `{"class": "exit_code", "exit_code": 255, "signal": null}`; a class this
/// reader does not know is not a failure it can name, so it is left out
/// (the exit code and stderr tail still say it).
fn read_run_failure(value: &Value) -> Option<RunFailure> {
    let obj = value.as_object()?;
    let class = FailureClass::parse(obj.get("class")?.as_str()?)?;
    let small = |key: &str| {
        obj.get(key)
            .and_then(as_integer)
            .and_then(|n| i32::try_from(n).ok())
    };
    Some(RunFailure {
        class,
        exit_code: small("exit_code"),
        signal: small("signal"),
    })
}

/// A short one-line string (or number, for `drupal_version: 10.3`).
fn token(value: Option<&Value>) -> Option<String> {
    let text = match value? {
        Value::String(s) => clean_line(s, MAX_TOKEN_CHARS),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

fn as_finite_f64(value: &Value) -> Option<f64> {
    let f = match value {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    f.is_finite().then_some(f)
}

/// An integer, an integral float within `i64`, or a string holding one.
fn as_integer(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| {
            let f = n.as_f64()?;
            // `as` saturates; the range check keeps 1e300 from becoming MAX.
            (f.fract() == 0.0 && f.abs() < 9.0e18).then_some(f as i64)
        }),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }
}

/// The end of a long text matters most in a tail: keep the last `max` chars.
fn clean_tail(raw: &str, max: usize) -> String {
    let chars = raw.chars().count();
    if chars <= max {
        return clean_multiline(raw, max);
    }
    let start = raw
        .char_indices()
        .nth(chars - max)
        .map_or(raw.len(), |(i, _)| i);
    let mut out = String::from("…");
    out.push_str(&clean_multiline(&raw[start..], max));
    out
}

/// Drush output of any version, or `None` when `value` is not drush output.
fn parse_drush(value: &Value) -> Option<Vec<Requirement>> {
    match value {
        Value::Array(rows) => {
            let rows = rows.iter().enumerate().map(|(i, row)| (i.to_string(), row));
            parse_rows(rows, RowKey::Position)
        }
        Value::Object(map) => {
            let by_position = !map.is_empty() && map.keys().all(|k| is_row_number(k));
            let rows = map.iter().map(|(k, row)| (k.clone(), row));
            parse_rows(
                rows,
                if by_position {
                    RowKey::Position
                } else {
                    RowKey::Id
                },
            )
        }
        _ => None,
    }
}

fn is_row_number(key: &str) -> bool {
    !key.is_empty() && key.len() <= 9 && key.bytes().all(|b| b.is_ascii_digit())
}

/// What the key of a drush row is.
#[derive(Clone, Copy, PartialEq)]
enum RowKey {
    /// The requirement id (Drush 11+).
    Id,
    /// A row number (Drush 10): the id comes from the title.
    Position,
}

fn parse_rows<'a>(
    rows: impl Iterator<Item = (String, &'a Value)>,
    key_kind: RowKey,
) -> Option<Vec<Requirement>> {
    let mut reqs = Vec::new();
    let mut seen = HashSet::new();
    for (key, row) in rows {
        let row = row.as_object()?;
        if !DRUSH_FIELDS.iter().any(|f| row.contains_key(*f)) {
            return None;
        }
        let title = clean_line(&text_field(row, "title"), MAX_TITLE_CHARS);
        let id = match key_kind {
            RowKey::Id => clean_line(&key, MAX_NAME_CHARS),
            RowKey::Position => {
                let from_title = clean_line(title.trim(), MAX_NAME_CHARS);
                if from_title.is_empty() {
                    key.clone()
                } else {
                    from_title
                }
            }
        };
        let id = unique_id(id, &key, &mut seen);
        let label = match key_kind {
            RowKey::Id => key.clone(),
            RowKey::Position => id.clone(),
        };
        reqs.push(Requirement {
            id,
            label,
            title,
            severity: severity_of(row),
            value: clean_multiline(&text_field(row, "value"), MAX_FIELD_CHARS),
            description: clean_multiline(&text_field(row, "description"), MAX_FIELD_CHARS),
        });
    }
    Some(reqs)
}

fn unique_id(id: String, row: &str, seen: &mut HashSet<String>) -> String {
    let mut id = id;
    while seen.contains(&id) {
        let row = clean_line(row, MAX_NAME_CHARS);
        id = format!("{id} #{row}");
    }
    seen.insert(id.clone());
    id
}

fn text_field(row: &Map<String, Value>, key: &str) -> String {
    match row.get(key) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(other) => other.to_string(),
    }
}

fn severity_of(row: &Map<String, Value>) -> Option<Severity> {
    row.get("sid")
        .and_then(sid)
        .or_else(|| match row.get("severity")? {
            Value::String(label) => Severity::from_label(label),
            number @ Value::Number(_) => sid(number),
            _ => None,
        })
}

fn sid(value: &Value) -> Option<Severity> {
    match value {
        Value::Number(n) => match n.as_i64() {
            Some(i) => Severity::from_sid(i),
            None => Severity::from_sample(n.as_f64()?),
        },
        Value::String(s) => Severity::from_sid(s.trim().parse::<i64>().ok()?),
        _ => None,
    }
}

/// A requirement present in both reports whose severity or value changed.
#[derive(Debug, Clone, PartialEq)]
pub struct RequirementChange {
    pub id: String,
    pub before: Requirement,
    pub after: Requirement,
    pub severity_changed: bool,
    pub value_changed: bool,
}

/// What changed between two reports of one site, requirements matched by id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportDiff {
    /// In the newer report only; worst first (newer severity), then by id.
    pub added: Vec<Requirement>,
    /// In the older report only (for ids that exist only while failing this
    /// means "fixed"); worst first (older severity), then by id.
    pub removed: Vec<Requirement>,
    /// In both, with a different severity or value (titles and descriptions
    /// are not compared). Worst first by the newer severity, then by id.
    pub changed: Vec<RequirementChange>,
}

impl ReportDiff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// Compares two reports by requirement id. When either report is
/// `Unparsed` nothing can be said and the diff is empty: check `format`
/// before reading an empty diff as "nothing changed". Should a report hold
/// the same id twice (only possible when built by hand), its first
/// requirement counts.
pub fn diff(older: &Report, newer: &Report) -> ReportDiff {
    if !older.is_parsed() || !newer.is_parsed() {
        return ReportDiff::default();
    }
    let old = by_id(older);
    let new = by_id(newer);

    let mut out = ReportDiff::default();
    for (id, after) in &new {
        match old.get(id) {
            None => out.added.push((*after).clone()),
            Some(before) => {
                let severity_changed = before.severity != after.severity;
                let value_changed = before.value != after.value;
                if severity_changed || value_changed {
                    out.changed.push(RequirementChange {
                        id: (*id).to_string(),
                        before: (*before).clone(),
                        after: (*after).clone(),
                        severity_changed,
                        value_changed,
                    });
                }
            }
        }
    }
    for (id, before) in &old {
        if !new.contains_key(id) {
            out.removed.push((*before).clone());
        }
    }
    // `None` (unknown) sorts after every known severity, as in the site view.
    out.added
        .sort_by(|a, b| (Reverse(a.severity), &a.id).cmp(&(Reverse(b.severity), &b.id)));
    out.removed
        .sort_by(|a, b| (Reverse(a.severity), &a.id).cmp(&(Reverse(b.severity), &b.id)));
    out.changed.sort_by(|a, b| {
        (Reverse(a.after.severity), &a.id).cmp(&(Reverse(b.after.severity), &b.id))
    });
    out
}

fn by_id(report: &Report) -> BTreeMap<&str, &Requirement> {
    let mut map = BTreeMap::new();
    for r in &report.requirements {
        map.entry(r.id.as_str()).or_insert(r);
    }
    map
}

/// A Loki timestamp (ns since the epoch, negative before 1970) as RFC 3339
/// in UTC: `2026-11-23T20:46:09Z`. Fractional seconds appear only when not
/// zero, with 3, 6 or 9 digits, the fewest that are exact
/// (`…:09.500Z`, `…:09.000001Z`, `…:09.892973028Z`): jiff's own printing
/// trims to the last non-zero digit, which readers of the JSON did not
/// expect. Every `i64` is representable (1677-09-21 to 2262-04-11), so this
/// cannot fail.
pub fn format_rfc3339_utc(time_ns: i64) -> String {
    let nanos = time_ns.rem_euclid(1_000_000_000);
    let whole_seconds = time_ns.div_euclid(1_000_000_000);
    // jiff's range (years -9999 to 9999) holds every i64 of nanoseconds.
    let at = jiff::Timestamp::from_second(whole_seconds).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let mut out = at.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    // Writing to a String cannot fail.
    let _ = if nanos == 0 {
        Ok(())
    } else if nanos % 1_000_000 == 0 {
        write!(out, ".{:03}", nanos / 1_000_000)
    } else if nanos % 1_000 == 0 {
        write!(out, ".{:06}", nanos / 1_000)
    } else {
        write!(out, ".{nanos:09}")
    };
    out.push('Z');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_795_466_769_892_973_028;

    fn ids(report: &Report) -> Vec<&str> {
        report.requirements.iter().map(|r| r.id.as_str()).collect()
    }

    #[test]
    fn format_labels() {
        assert_eq!(ReportFormat::Contract.label(), "contract");
        assert_eq!(ReportFormat::V1.label(), "v1");
        assert_eq!(ReportFormat::Drush.label(), "drush");
        assert_eq!(ReportFormat::Unparsed.to_string(), "unparsed");
    }

    #[test]
    fn contract_line_with_metadata() {
        let line = r#"{"site": "borger", "generated_at": "2026-11-23T21:00:00Z",
            "duration_seconds": 3.2, "drush_exit_code": 0, "drupal_version": "10.3.6",
            "extra": {"ignored": true}, "stderr_tail": "PHP Warning: x\n",
            "requirements": {
              "cron": {"title": "Cron", "severity": "Error", "sid": 2, "description": "", "value": "Old\n"},
              "php": {"title": "PHP", "severity": "Info", "sid": -1, "description": "", "value": "8.3\n"}}}"#;
        let r = parse_report_line(line, T);
        assert_eq!(r.format, ReportFormat::Contract);
        assert_eq!(r.time_ns, T);
        assert_eq!(ids(&r), ["cron", "php"]);
        assert_eq!(r.worst(), Some(Severity::Error));
        assert_eq!(r.generated_at.as_deref(), Some("2026-11-23T21:00:00Z"));
        assert_eq!(r.duration_seconds, Some(3.2));
        assert_eq!(r.drush_exit_code, Some(0));
        assert_eq!(r.drupal_version.as_deref(), Some("10.3.6"));
        assert_eq!(r.stderr_tail.as_deref(), Some("PHP Warning: x\n"));
        assert_eq!(r.raw, None);
    }

    #[test]
    fn contract_with_only_requirements_and_odd_metadata_types() {
        let r = parse_report_line(
            r#"{"requirements": [], "duration_seconds": "NaN", "drush_exit_code": "255",
                "generated_at": 7, "stderr_tail": ""}"#,
            0,
        );
        assert_eq!(r.format, ReportFormat::Contract);
        assert!(r.requirements.is_empty());
        assert_eq!(r.worst(), None);
        assert_eq!(r.duration_seconds, None);
        assert_eq!(r.drush_exit_code, Some(255));
        assert_eq!(r.generated_at.as_deref(), Some("7"));
        assert_eq!(r.stderr_tail, None);
    }

    #[test]
    fn contract_whose_drush_failed_is_unparsed_but_keeps_why() {
        let line = r#"{"site": "x", "drush_exit_code": 255, "requirements": null,
            "stderr_tail": "\u001b[31mIn Connection.php line 11:\nSQLSTATE[HY000] [2002]\n"}"#;
        let r = parse_report_line(line, 5);
        assert_eq!(r.format, ReportFormat::Unparsed);
        assert_eq!(r.worst(), None);
        assert_eq!(r.raw.as_deref(), Some(line));
        assert_eq!(r.drush_exit_code, Some(255));
        let tail = r.stderr_tail.unwrap();
        assert!(tail.contains("\nSQLSTATE"));
        assert!(!tail.contains('\u{1b}'));
    }

    #[test]
    fn v1_prefers_full_and_falls_back_to_errors() {
        let row = r#"{"title": "Cron", "severity": "Error", "sid": 2, "value": "Old\n"}"#;
        let both = format!(
            r#"{{"full": {{"cron": {row}, "php": {{"severity": "OK"}}}}, "errors": {{"cron": {row}}}}}"#
        );
        let r = parse_report_line(&both, 0);
        assert_eq!(r.format, ReportFormat::V1);
        assert_eq!(ids(&r), ["cron", "php"]);

        for full in ["", r#""full": "oops","#, r#""full": null,"#] {
            let line = format!(r#"{{{full} "errors": {{"cron": {row}}}}}"#);
            let r = parse_report_line(&line, 0);
            assert_eq!(r.format, ReportFormat::V1, "{line}");
            assert_eq!(ids(&r), ["cron"]);
        }

        let r = parse_report_line(r#"{"full": 1, "errors": "x"}"#, 0);
        assert_eq!(r.format, ReportFormat::Unparsed);
    }

    #[test]
    fn drush_shapes() {
        let r = parse_report_line("[]", 0);
        assert_eq!((r.format, r.requirements.len()), (ReportFormat::Drush, 0));
        assert_eq!(r.worst(), None);

        let r = parse_report_line(
            r#"[{"title": "PHP", "severity": "Info", "value": "8.3"},
                {"title": "Cron", "severity": "warning", "value": ""},
                {"severity": "ERROR"}]"#,
            0,
        );
        assert_eq!(r.format, ReportFormat::Drush);
        // Ids from titles, the row number when there is none.
        assert_eq!(ids(&r), ["2", "Cron", "PHP"]);
        assert_eq!(r.worst(), Some(Severity::Error));

        let r = parse_report_line(r#"{"17": {"title": "Updates", "severity": "Warning"}}"#, 0);
        assert_eq!(ids(&r), ["Updates"]);

        let r = parse_report_line(
            r#"{"public:///.htaccess": {"title": "Public", "sid": "0"}}"#,
            0,
        );
        assert_eq!(ids(&r), ["public:///.htaccess"]);
        assert_eq!(r.requirements[0].severity, Some(Severity::Ok));
    }

    #[test]
    fn severity_from_sid_then_label() {
        let sev = |row: &str| {
            let r = parse_report_line(&format!(r#"{{"x": {row}}}"#), 0);
            assert_eq!(r.format, ReportFormat::Drush, "{row}");
            r.requirements[0].severity
        };
        assert_eq!(
            sev(r#"{"sid": 2, "severity": "OK"}"#),
            Some(Severity::Error)
        );
        assert_eq!(sev(r#"{"sid": -1}"#), Some(Severity::Info));
        assert_eq!(sev(r#"{"sid": " 1 "}"#), Some(Severity::Warning));
        assert_eq!(sev(r#"{"sid": 1.0}"#), Some(Severity::Warning));
        assert_eq!(
            sev(r#"{"sid": 9, "severity": "warning"}"#),
            Some(Severity::Warning)
        );
        assert_eq!(
            sev(r#"{"sid": null, "severity": "Ok"}"#),
            Some(Severity::Ok)
        );
        assert_eq!(sev(r#"{"severity": 2}"#), Some(Severity::Error));
        assert_eq!(sev(r#"{"severity": "Advarsel"}"#), None);
        assert_eq!(sev(r#"{"sid": 1.5, "title": "t"}"#), None);
        assert_eq!(sev(r#"{"title": "t"}"#), None);
    }

    #[test]
    fn unknown_severities_are_counted_not_hidden() {
        let r = parse_report_line(
            r#"{"a": {"sid": 0}, "b": {"severity": "Fejl"}, "c": {"sid": 1}}"#,
            0,
        );
        let c = r.counts();
        assert_eq!(
            (c.ok, c.warning, c.unknown, c.total(), c.failing()),
            (1, 1, 1, 3, 1)
        );
        assert_eq!(c.get(None), 1);
        assert_eq!(
            c.by_severity(),
            [
                (Severity::Error, 0),
                (Severity::Warning, 1),
                (Severity::Ok, 1),
                (Severity::Info, 0)
            ]
        );
        assert_eq!(r.worst(), Some(Severity::Warning));
        // Worst first, unknown last.
        assert_eq!(ids(&r), ["c", "a", "b"]);
    }

    #[test]
    fn other_json_and_non_json_are_unparsed_with_raw() {
        for line in [
            "",
            "PHP Fatal error:  Allowed memory size",
            "42",
            "\"a string\"",
            "null",
            "true",
            "{\"requirements\": {\"cron\": {\"title\"",
            "{\"level\": \"error\", \"msg\": \"drush failed\"}",
            "{\"a\": {\"unrelated\": 1}}",
            "[1, 2]",
            "[{\"title\": \"ok\"}, 3]",
        ] {
            let r = parse_report_line(line, 1);
            assert_eq!(r.format, ReportFormat::Unparsed, "{line}");
            assert_eq!(r.raw.as_deref(), Some(line));
            assert!(r.requirements.is_empty());
            assert_eq!(r.worst(), None);
        }
    }

    #[test]
    fn raw_is_capped_at_a_char_boundary() {
        let line = format!("x{}", "æ".repeat(MAX_RAW_BYTES));
        let r = parse_report_line(&line, 0);
        let raw = r.raw.unwrap();
        assert!(raw.len() <= MAX_RAW_BYTES && raw.len() >= MAX_RAW_BYTES - 1);
        assert!(line.starts_with(&raw));

        let r = parse_report_bytes(b"\xff\xfe not json", 0);
        assert_eq!(r.raw.as_deref(), Some("\u{FFFD}\u{FFFD} not json"));
    }

    #[test]
    fn text_is_sanitized_and_capped() {
        let long = "y".repeat(10_000);
        let line = format!(
            r#"{{"ev\u001b[2Jil\u202e": {{"title": "T\u0007{long}", "sid": 2,
                "value": "a \nb\u009b31m\n", "description": "{long}", "extra": 1}}}}"#
        );
        let r = parse_report_line(&line, 0);
        let req = &r.requirements[0];
        assert_eq!(req.id, "ev\u{FFFD}[2Jil");
        assert!(req.title.starts_with("T\u{FFFD}y"));
        assert_eq!(req.title.chars().count(), MAX_TITLE_CHARS + 1);
        assert_eq!(req.value, "a \nb\u{FFFD}31m\n");
        assert_eq!(req.description.chars().count(), MAX_FIELD_CHARS + 1);
    }

    #[test]
    fn odd_field_types_become_text() {
        let r = parse_report_line(
            r#"{"x": {"sid": 0, "title": null, "value": 3, "description": ["a", {"b": 1}]}}"#,
            0,
        );
        let req = &r.requirements[0];
        assert_eq!((req.title.as_str(), req.value.as_str()), ("", "3"));
        assert_eq!(req.description, r#"["a",{"b":1}]"#);
    }

    #[test]
    fn ids_stay_unique() {
        let r = parse_report_line(
            r#"[{"title": "Same", "sid": 0}, {"title": "Same", "sid": 1}, {"title": "", "sid": 2}]"#,
            0,
        );
        assert_eq!(ids(&r), ["2", "Same #1", "Same"]);

        // Two keys that sanitize to the same id.
        let r = parse_report_line(r#"{"a\u0007": {"sid": 0}, "a\u001b": {"sid": 0}}"#, 0);
        let mut got = ids(&r);
        got.sort();
        assert_eq!(got.len(), 2);
        assert_ne!(got[0], got[1]);
    }

    #[test]
    fn long_stderr_tail_keeps_its_end() {
        let tail = format!("{}THE END\n", "x".repeat(10_000));
        let line = format!(
            r#"{{"requirements": [], "stderr_tail": "{}"}}"#,
            tail.escape_default()
        );
        let r = parse_report_line(&line, 0);
        let got = r.stderr_tail.unwrap();
        assert!(got.starts_with('…'));
        assert!(got.ends_with("THE END\n"));
        assert_eq!(got.chars().count(), MAX_FIELD_CHARS + 1);
    }

    #[test]
    fn deeply_nested_json_does_not_overflow() {
        let line = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(parse_report_line(&line, 0).format, ReportFormat::Unparsed);
        let line = format!(
            "{{\"requirements\": {}1{}}}",
            "[".repeat(50),
            "]".repeat(50)
        );
        assert_eq!(parse_report_line(&line, 0).format, ReportFormat::Unparsed);
    }

    fn req(id: &str, severity: Option<Severity>, value: &str) -> Requirement {
        Requirement {
            id: id.into(),
            label: id.into(),
            title: String::new(),
            severity,
            value: value.into(),
            description: String::new(),
        }
    }

    fn report(reqs: Vec<Requirement>) -> Report {
        with_requirements(Report::new(0, ReportFormat::Contract), reqs)
    }

    #[test]
    fn diff_matches_by_id_and_orders_worst_first() {
        use Severity::*;
        let older = report(vec![
            req("cron", Some(Info), "12 min"),
            req("gone_ok", Some(Ok), ""),
            req("gone_err", Some(Error), ""),
            req("php", Some(Info), "8.3"),
            req("same", Some(Warning), "x"),
            req("fixed", Some(Error), "bad"),
        ]);
        let newer = report(vec![
            req("cron", Some(Error), "3 weeks"),
            req("php", Some(Info), "8.4"),
            req("same", Some(Warning), "x"),
            req("fixed", Some(Ok), "bad"),
            req("b_new", Some(Warning), ""),
            req("a_new", Some(Warning), ""),
            req("z_new", Some(Error), ""),
            req("unknown", None, ""),
        ]);
        let d = diff(&older, &newer);
        let added: Vec<_> = d.added.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(added, ["z_new", "a_new", "b_new", "unknown"]);
        let removed: Vec<_> = d.removed.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(removed, ["gone_err", "gone_ok"]);
        let changed: Vec<_> = d
            .changed
            .iter()
            .map(|c| (c.id.as_str(), c.severity_changed, c.value_changed))
            .collect();
        assert_eq!(
            changed,
            [
                ("cron", true, true),
                ("fixed", true, false),
                ("php", false, true)
            ]
        );
        assert_eq!(d.changed[0].before.severity, Some(Info));
        assert_eq!(d.changed[0].after.severity, Some(Error));
        assert!(diff(&newer, &newer).is_empty());
    }

    #[test]
    fn diff_with_an_unparsed_report_says_nothing() {
        let good = report(vec![req("cron", Some(Severity::Ok), "")]);
        let bad = parse_report_line("not json", 0);
        assert!(diff(&good, &bad).is_empty());
        assert!(diff(&bad, &good).is_empty());
    }

    #[test]
    fn rfc3339_known_values() {
        let s = 1_000_000_000i64;
        assert_eq!(format_rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            format_rfc3339_utc(1_795_466_769 * s),
            "2026-11-23T20:46:09Z"
        );
        assert_eq!(format_rfc3339_utc(T), "2026-11-23T20:46:09.892973028Z");
        assert_eq!(
            format_rfc3339_utc(1_795_466_769 * s + 500_000_000),
            "2026-11-23T20:46:09.500Z"
        );
        assert_eq!(
            format_rfc3339_utc(1_795_466_769 * s + 1_000),
            "2026-11-23T20:46:09.000001Z"
        );
        assert_eq!(
            format_rfc3339_utc(1_798_761_599 * s),
            "2026-12-31T23:59:59Z"
        );
        // Leap years: every 4th, not every 100th, but every 400th.
        assert_eq!(format_rfc3339_utc(68_169_600 * s), "1972-02-29T00:00:00Z");
        assert_eq!(format_rfc3339_utc(951_782_400 * s), "2000-02-29T00:00:00Z");
        assert_eq!(format_rfc3339_utc(951_868_800 * s), "2000-03-01T00:00:00Z");
        assert_eq!(
            format_rfc3339_utc(1_709_208_000 * s),
            "2024-02-29T12:00:00Z"
        );
        assert_eq!(
            format_rfc3339_utc(4_107_542_399 * s),
            "2100-02-28T23:59:59Z"
        );
        assert_eq!(
            format_rfc3339_utc(4_107_542_400 * s),
            "2100-03-01T00:00:00Z"
        );
        assert_eq!(
            format_rfc3339_utc(-2_203_977_600 * s),
            "1900-02-28T00:00:00Z"
        );
        assert_eq!(
            format_rfc3339_utc(-2_203_891_200 * s),
            "1900-03-01T00:00:00Z"
        );
        // Before the epoch and the ends of i64.
        assert_eq!(format_rfc3339_utc(-1), "1969-12-31T23:59:59.999999999Z");
        assert_eq!(format_rfc3339_utc(-s), "1969-12-31T23:59:59Z");
        assert_eq!(
            format_rfc3339_utc(i64::MIN),
            "1677-09-21T00:12:43.145224192Z"
        );
        assert_eq!(
            format_rfc3339_utc(i64::MAX),
            "2262-04-11T23:47:16.854775807Z"
        );
        assert_eq!(
            Report::new(T, ReportFormat::Drush).time_rfc3339(),
            "2026-11-23T20:46:09.892973028Z"
        );
    }
}

/// A site's recent reports, newest first, with anything the backend said
/// about how it got them (a lowered limit, say).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reports {
    pub reports: Vec<Report>,
    pub notices: Vec<String>,
}
