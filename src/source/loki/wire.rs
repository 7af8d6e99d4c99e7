//! Loki's answers as they come over the wire: `query_range` streams (two-
//! and three-element entries, merged and ordered), label lists, and the
//! plain-text, HTML or JSON bodies a refusal brings back, worded for the
//! operator. Pure parsing: no I/O.
//!
//! Lines and stream labels are kept exactly as Loki sent them (the report
//! parser sanitizes what it shows); every bit of server text that ends up in
//! an error or a notice is sanitized here.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::secrets::clean_line;
use crate::source::SourceError;
use crate::source::http::body_excerpt;

pub type Labels = BTreeMap<String, String>;

/// Asks Loki 3 to keep an entry's structured metadata and parsed labels out
/// of the stream labels and send them as a third tuple element instead.
/// Older Lokis ignore it.
pub const ENCODING_FLAGS_HEADER: &str = "X-Loki-Response-Encoding-Flags";
pub const CATEGORIZE_LABELS: &str = "categorize-labels";

/// Longest server text kept in one error message or notice.
const MAX_MESSAGE_CHARS: usize = 300;

/// How Loki words a `limit` above `max_entries_limit_per_query`, in every
/// version so far: `..., limit > max_entries_limit (10000 > 5000)` (2.x) or
/// `..., limit > max_entries_limit_per_query (10000 > 5000)` (3.x).
const MAX_ENTRIES_ERROR: &str = "max entries limit per query exceeded";

/// Which end of the window entries are taken from, and their order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// Newest first: the latest `limit` entries of the window.
    #[default]
    Backward,
    /// Oldest first: the earliest `limit` entries of the window.
    Forward,
}

impl Direction {
    /// The `direction` parameter's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Backward => "backward",
            Direction::Forward => "forward",
        }
    }
}

/// One log line. Untrusted: nothing here is sanitized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// The stream's labels (`job`, `site`, `env`, `profile`), as received.
    pub stream: Labels,
    /// Nanoseconds since the Unix epoch.
    pub time_ns: i64,
    /// The line, as received.
    pub line: String,
    /// Structured metadata (Loki 3, sent as a third tuple element); empty
    /// otherwise.
    pub metadata: Labels,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LokiAnswer {
    /// Entries of all streams, merged: newest first for `Backward`, oldest
    /// first for `Forward`.
    pub entries: Vec<LogEntry>,
    /// Things the operator should know about this answer (a lowered limit,
    /// skipped entries, Loki's warnings). Sanitized.
    pub notices: Vec<String>,
}

/// A failed answer, and whether Loki refused the `limit` (so asking again
/// with a lower one may work).
#[derive(Debug)]
pub(super) struct Refusal {
    pub(super) error: SourceError,
    pub(super) too_many: Option<TooManyEntries>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TooManyEntries {
    /// The server's maximum, when its message could be read.
    pub(super) max: Option<usize>,
}

impl From<SourceError> for Refusal {
    fn from(error: SourceError) -> Refusal {
        Refusal {
            error,
            too_many: None,
        }
    }
}

/// Reads `max_entries_limit` out of Loki's refusal: `Some(max)` when the
/// message is that refusal, with `max` if its numbers could be read.
fn too_many_entries(message: &str) -> Option<TooManyEntries> {
    let at = message.find(MAX_ENTRIES_ERROR)?;
    let rest = &message[at + MAX_ENTRIES_ERROR.len()..];
    // "(10000 > 5000)": the last number is the server's maximum.
    let max = rest
        .rfind('(')
        .map(|open| &rest[open + 1..])
        .and_then(|inner| inner.split(')').next())
        .and_then(|inner| inner.rsplit('>').next())
        .and_then(|max| max.trim().parse::<usize>().ok())
        .filter(|max| *max > 0);
    Some(TooManyEntries { max })
}

/// Plain text from a body for an error message: one sanitized line, or the
/// text of an HTML error page.
fn text_excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(8192)]);
    if text.contains('<') {
        return body_excerpt(body);
    }
    clean_line(
        &text.split_whitespace().collect::<Vec<_>>().join(" "),
        MAX_MESSAGE_CHARS,
    )
}

fn cleaned(text: &str) -> String {
    clean_line(text, MAX_MESSAGE_CHARS)
}

/// The JSON envelope, if the body is one; otherwise why not.
fn envelope(body: &[u8]) -> Result<Map<String, Value>, String> {
    let text = String::from_utf8_lossy(body);
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(map)) if map.get("status").is_some_and(Value::is_string) => Ok(map),
        Ok(_) => Err("no \"status\" field".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// Checks the HTTP status and the envelope, and hands back `data` on
/// success. Loki sends its errors as plain text with a 4xx/5xx; a proxy may
/// send HTML; something Prometheus-like may send a JSON error envelope.
fn success_data(status: u16, body: &[u8]) -> Result<(Option<Value>, Vec<String>), Refusal> {
    let ok = (200..300).contains(&status);
    match envelope(body) {
        Ok(mut map) => {
            let state = map.get("status").and_then(Value::as_str).unwrap_or("");
            if state == "success" {
                let warnings = match map.remove("warnings") {
                    Some(Value::Array(list)) => list
                        .iter()
                        .filter_map(Value::as_str)
                        .map(|w| format!("Loki: {}", cleaned(w)))
                        .collect(),
                    _ => Vec::new(),
                };
                return Ok((map.remove("data"), warnings));
            }
            let message = map
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("no message");
            let kind = map
                .get("errorType")
                .and_then(Value::as_str)
                .map(|t| format!("{}: ", clean_line(t, 40)))
                .unwrap_or_default();
            let prefix = if ok {
                "Loki error".to_string()
            } else {
                format!("HTTP {status}")
            };
            Err(Refusal {
                error: SourceError::new(format!("{prefix}: {kind}{}", cleaned(message))),
                too_many: too_many_entries(message),
            })
        }
        Err(_) if !ok => {
            let excerpt = text_excerpt(body);
            Err(Refusal {
                error: SourceError::new(if excerpt.is_empty() {
                    format!("HTTP {status}")
                } else {
                    format!("HTTP {status}: {excerpt}")
                }),
                too_many: too_many_entries(&String::from_utf8_lossy(body)),
            })
        }
        Err(why) => Err(SourceError::new(format!(
            "not a Loki API response ({}): {}",
            clean_line(&why, 100),
            text_excerpt(body)
        ))
        .into()),
    }
}

/// One `[ts, line]` or `[ts, line, {...}]` tuple, or what is wrong with it.
fn entry(tuple: Value, stream: &Labels, categorized: bool) -> Result<LogEntry, String> {
    let Value::Array(parts) = tuple else {
        return Err("an entry is not a [timestamp, line] pair".into());
    };
    let mut parts = parts.into_iter();
    let time_ns = match parts.next() {
        Some(Value::String(ts)) => ts
            .parse::<i64>()
            .ok()
            .filter(|_| ts.bytes().all(|b| b.is_ascii_digit() || b == b'-'))
            .ok_or_else(|| {
                format!(
                    "timestamp {:?} is not a number of nanoseconds",
                    clean_line(&ts, 40)
                )
            })?,
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| format!("timestamp {n} is not a number of nanoseconds"))?,
        _ => return Err("an entry has no timestamp".into()),
    };
    let line = match parts.next() {
        Some(Value::String(line)) => line,
        _ => return Err("an entry has no line".into()),
    };
    let metadata = match parts.next() {
        Some(Value::Object(extra)) => metadata(extra, categorized),
        _ => Labels::new(),
    };
    Ok(LogEntry {
        stream: stream.clone(),
        time_ns,
        line,
        metadata,
    })
}

/// The structured metadata of a third tuple element. With
/// `categorize-labels` it is `{"structuredMetadata": {...}, "parsed": {...}}`
/// (either key left out when empty); a bare `{"k": "v"}` (the push API's
/// shape, which some Loki-compatible servers send back) is taken as
/// structured metadata too. Parsed labels are dropped: the dashboard's
/// queries have no parser stage.
fn metadata(mut extra: Map<String, Value>, categorized: bool) -> Labels {
    let grouped =
        categorized || extra.contains_key("structuredMetadata") || extra.contains_key("parsed");
    let source = if grouped {
        match extra.remove("structuredMetadata") {
            Some(Value::Object(map)) => map,
            _ => Map::new(),
        }
    } else {
        extra
    };
    string_pairs(source)
}

fn string_pairs(map: Map<String, Value>) -> Labels {
    map.into_iter()
        .filter_map(|(k, v)| match v {
            Value::String(s) => Some((k, s)),
            _ => None,
        })
        .collect()
}

/// Turns an HTTP status and body from `query_range` into entries, or an
/// operator-readable error.
pub fn parse_query_range(
    status: u16,
    body: &[u8],
    direction: Direction,
) -> Result<LokiAnswer, SourceError> {
    parse_streams(status, body, direction).map_err(|r| r.error)
}

pub(super) fn parse_streams(
    status: u16,
    body: &[u8],
    direction: Direction,
) -> Result<LokiAnswer, Refusal> {
    let (data, mut notices) = success_data(status, body)?;
    let Some(Value::Object(mut data)) = data else {
        return Err(SourceError::new("Loki answered success without data").into());
    };
    let result_type = data
        .get("resultType")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if result_type != "streams" {
        let message = match result_type.as_str() {
            "" => "Loki's answer has no resultType".to_string(),
            kind @ ("matrix" | "vector" | "scalar") => format!(
                "Loki answered with a {kind:?} (numbers) where log lines were expected: the query is a metric query, not a log query"
            ),
            other => format!(
                "Loki answered with a {:?} where log lines were expected",
                clean_line(other, 40)
            ),
        };
        return Err(SourceError::new(message).into());
    }
    let categorized = match data.get("encodingFlags") {
        Some(Value::Array(flags)) => flags.iter().any(|f| f.as_str() == Some(CATEGORIZE_LABELS)),
        _ => false,
    };
    let streams = match data.remove("result") {
        Some(Value::Array(streams)) => streams,
        None | Some(Value::Null) => Vec::new(),
        Some(_) => {
            return Err(SourceError::new("Loki's result is not a list of streams").into());
        }
    };

    let mut entries = Vec::new();
    let mut skipped = 0usize;
    let mut first_problem = None;
    for stream in streams {
        let Value::Object(mut stream) = stream else {
            skipped += 1;
            first_problem.get_or_insert_with(|| "a stream is not an object".to_string());
            continue;
        };
        let labels = match stream.remove("stream") {
            Some(Value::Object(map)) => string_pairs(map),
            _ => Labels::new(),
        };
        let values = match stream.remove("values") {
            Some(Value::Array(values)) => values,
            _ => Vec::new(),
        };
        entries.reserve(values.len());
        for tuple in values {
            match entry(tuple, &labels, categorized) {
                Ok(e) => entries.push(e),
                Err(problem) => {
                    skipped += 1;
                    first_problem.get_or_insert(problem);
                }
            }
        }
    }
    if skipped > 0 {
        notices.push(format!(
            "skipped {skipped} {} Loki sent in an unexpected shape ({})",
            if skipped == 1 { "entry" } else { "entries" },
            cleaned(first_problem.as_deref().unwrap_or("unknown problem"))
        ));
    }
    sort_entries(&mut entries, direction);
    Ok(LokiAnswer { entries, notices })
}

/// Merges streams: by time in the asked direction; entries at the same
/// nanosecond by stream labels, then in the order Loki sent them.
fn sort_entries(entries: &mut [LogEntry], direction: Direction) {
    entries.sort_by(|a, b| {
        let by_time = match direction {
            Direction::Backward => b.time_ns.cmp(&a.time_ns),
            Direction::Forward => a.time_ns.cmp(&b.time_ns),
        };
        by_time.then_with(|| a.stream.cmp(&b.stream))
    });
}

/// Turns an HTTP status and body from `/labels` or `/label/<name>/values`
/// into the list. Names and values are as received: unsanitized.
pub fn parse_label_list(status: u16, body: &[u8]) -> Result<Vec<String>, SourceError> {
    let (data, _) = success_data(status, body).map_err(|r| r.error)?;
    match data {
        // Loki leaves `data` out when the list is empty.
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items
            .into_iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s),
                _ => None,
            })
            .collect()),
        Some(_) => Err(SourceError::new("Loki's label list is not a list")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/tests/fixtures/loki/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    /// A `.txt` error fixture: the body, and the status on its last line.
    fn error_fixture(name: &str) -> (u16, Vec<u8>) {
        let text = String::from_utf8(fixture(name)).unwrap();
        let text = text.trim_end();
        let (body, status) = text.rsplit_once('\n').unwrap();
        let status = status.strip_prefix("HTTP ").unwrap().parse().unwrap();
        (status, format!("{body}\n").into_bytes())
    }

    fn parse(name: &str, direction: Direction) -> LokiAnswer {
        parse_query_range(200, &fixture(name), direction).unwrap()
    }

    #[test]
    fn the_real_history_parses_newest_first() {
        let a = parse("query-range-borger-history.json", Direction::Backward);
        assert_eq!(a.entries.len(), 6);
        assert!(a.notices.is_empty(), "{:?}", a.notices);
        assert!(a.entries.windows(2).all(|w| w[0].time_ns > w[1].time_ns));
        assert_eq!(a.entries[0].time_ns, 1_795_466_769_892_973_028);
        assert_eq!(a.entries[0].stream["site"], "borger");
        assert_eq!(a.entries[0].stream["env"], "prod");
        assert!(a.entries[0].line.starts_with("{\"site\": \"borger\""));
        assert!(a.entries.iter().all(|e| e.metadata.is_empty()));

        let f = parse("query-range-borger-history.json", Direction::Forward);
        assert_eq!(f.entries.first(), a.entries.last());
    }

    #[test]
    fn streams_are_merged_by_time_with_ties_by_labels() {
        let a = parse("query-range-env-prod.json", Direction::Backward);
        assert_eq!(a.entries.len(), 7);
        // borger's and hostile's newest reports carry the same nanosecond.
        assert_eq!(a.entries[0].time_ns, a.entries[1].time_ns);
        assert_eq!(a.entries[0].stream["site"], "borger");
        assert_eq!(a.entries[1].stream["site"], "hostile");
        assert!(a.entries.windows(2).all(|w| w[0].time_ns >= w[1].time_ns));
    }

    #[test]
    fn three_tuples_carry_structured_metadata() {
        let a = parse(
            "query-range-3tuple-structured-metadata.json",
            Direction::Backward,
        );
        assert_eq!(a.entries.len(), 1);
        assert_eq!(
            a.entries[0].metadata,
            Labels::from([("worst_severity".to_string(), "1".to_string())])
        );
        assert!(!a.entries[0].stream.contains_key("worst_severity"));

        // Real Loki leaves out empty groups, so `{}` is an entry without any.
        let body = br#"{"status":"success","data":{"resultType":"streams","encodingFlags":["categorize-labels"],"result":[{"stream":{"a":"b"},"values":[["1","x",{}],["2","y",{"parsed":{"p":"q"}}]]}]}}"#;
        let a = parse_query_range(200, body, Direction::Forward).unwrap();
        assert!(a.entries.iter().all(|e| e.metadata.is_empty()));
        assert_eq!(a.entries[1].line, "y");

        // The push API's flat shape, as some Loki-compatible servers answer.
        let body = br#"{"status":"success","data":{"resultType":"streams","result":[{"stream":{},"values":[["1","x",{"trace_id":"t1","n":5}]]}]}}"#;
        let a = parse_query_range(200, body, Direction::Forward).unwrap();
        assert_eq!(
            a.entries[0].metadata,
            Labels::from([("trace_id".to_string(), "t1".to_string())])
        );
    }

    #[test]
    fn empty_results_and_label_lists_parse() {
        let a = parse("query-range-empty.json", Direction::Backward);
        assert_eq!(a, LokiAnswer::default());
        assert_eq!(
            parse_label_list(200, &fixture("labels.json")).unwrap(),
            vec!["env", "job", "profile", "site"]
        );
        assert_eq!(
            parse_label_list(200, &fixture("label-site-values.json")).unwrap(),
            vec!["borger", "gammel", "garbage", "hostile", "raw"]
        );
        // Loki leaves `data` out of an empty list.
        assert!(
            parse_label_list(200, br#"{"status":"success"}"#)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_metric_answer_is_a_clear_error() {
        let e = parse_query_range(
            200,
            &fixture("query-range-metric-matrix.json"),
            Direction::Backward,
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            "Loki answered with a \"matrix\" (numbers) where log lines were expected: the query is a metric query, not a log query"
        );
    }

    #[test]
    fn plain_text_errors_are_shown_with_their_status() {
        let (status, body) = error_fixture("error-parse.txt");
        assert_eq!(status, 400);
        let r = parse_streams(status, &body, Direction::Backward).unwrap_err();
        assert_eq!(
            r.error.message,
            "HTTP 400: parse error at line 1, col 19: syntax error: unexpected $end, expecting } or ,"
        );
        assert_eq!(r.too_many, None);

        let (status, body) = error_fixture("error-max-entries.txt");
        let r = parse_streams(status, &body, Direction::Backward).unwrap_err();
        assert_eq!(
            r.error.message,
            "HTTP 400: max entries limit per query exceeded, limit > max_entries_limit (10000 > 5000)"
        );
        assert_eq!(r.too_many, Some(TooManyEntries { max: Some(5000) }));
    }

    #[test]
    fn the_max_entries_refusal_is_read_in_every_wording() {
        let max = |m: &str| too_many_entries(m).map(|t| t.max);
        assert_eq!(
            max(
                "max entries limit per query exceeded, limit > max_entries_limit_per_query (10000 > 5000)"
            ),
            Some(Some(5000))
        );
        assert_eq!(
            max(
                "rpc error: max entries limit per query exceeded, limit > max_entries_limit (7 > 3)\n"
            ),
            Some(Some(3))
        );
        assert_eq!(max("max entries limit per query exceeded"), Some(None));
        assert_eq!(
            max("max entries limit per query exceeded (a > b)"),
            Some(None)
        );
        assert_eq!(max("parse error"), None);
    }

    #[test]
    fn json_error_envelopes_are_errors_too() {
        let body = br#"{"status":"error","errorType":"bad_data","error":"max entries limit per query exceeded, limit > max_entries_limit (200 > 100)"}"#;
        let r = parse_streams(400, body, Direction::Backward).unwrap_err();
        assert_eq!(
            r.error.message,
            "HTTP 400: bad_data: max entries limit per query exceeded, limit > max_entries_limit (200 > 100)"
        );
        assert_eq!(r.too_many, Some(TooManyEntries { max: Some(100) }));
        let r = parse_streams(
            200,
            br#"{"status":"error","error":"boom"}"#,
            Direction::Backward,
        )
        .unwrap_err();
        assert_eq!(r.error.message, "Loki error: boom");
    }

    #[test]
    fn bad_entries_are_skipped_with_a_sanitized_notice() {
        let body = "{\"status\":\"success\",\"data\":{\"resultType\":\"streams\",\"result\":[{\"stream\":{\"site\":\"s\"},\"values\":[[\"12\\u001b[2J\",\"a\"],[\"5\",\"b\"],[\"x\"],[\"+7\",\"c\"],7,[\"9\",null]]}]}}";
        let a = parse_query_range(200, body.as_bytes(), Direction::Backward).unwrap();
        assert_eq!(a.entries.len(), 1);
        assert_eq!(a.entries[0].line, "b");
        assert_eq!(
            a.notices,
            vec![
                "skipped 5 entries Loki sent in an unexpected shape (timestamp \"12\u{FFFD}[2J\" is not a number of nanoseconds)"
            ]
        );
    }

    #[test]
    fn hostile_text_is_kept_in_entries_but_not_in_errors() {
        let body = "{\"status\":\"success\",\"warnings\":[\"w\\u001b]52;c;eA==\\u0007\"],\"data\":{\"resultType\":\"streams\",\"result\":[{\"stream\":{\"site\":\"\\u001b[31mred\\u202e\"},\"values\":[[\"1\",\"\\u001b[2Jline\\u0000\"]]}]}}";
        let a = parse_query_range(200, body.as_bytes(), Direction::Backward).unwrap();
        assert_eq!(a.entries[0].line, "\u{1b}[2Jline\u{0}");
        assert_eq!(a.entries[0].stream["site"], "\u{1b}[31mred\u{202e}");
        assert_eq!(a.notices, vec!["Loki: w\u{FFFD}]52;c;eA==\u{FFFD}"]);

        let r = parse_streams(
            400,
            b"bad \x1b[2J\x1b]52;c;eA==\x07 query \xff\xfe",
            Direction::Backward,
        )
        .unwrap_err();
        assert!(
            !r.error.message.chars().any(char::is_control),
            "{:?}",
            r.error.message
        );

        let a = parse("query-range-hostile.json", Direction::Backward);
        let raw: Value = serde_json::from_slice(&fixture("query-range-hostile.json")).unwrap();
        assert_eq!(
            a.entries[0].line,
            raw["data"]["result"][0]["values"][0][1].as_str().unwrap()
        );
    }

    #[test]
    fn invalid_utf8_and_garbage_never_panic() {
        let body = b"{\"status\":\"success\",\"data\":{\"resultType\":\"streams\",\"result\":[{\"stream\":{\"s\":\"\xff\"},\"values\":[[\"1\",\"li\xc3ne\"]]}]}}";
        let a = parse_query_range(200, body, Direction::Backward).unwrap();
        assert_eq!(a.entries[0].line, "li\u{FFFD}ne");
        assert_eq!(a.entries[0].stream["s"], "\u{FFFD}");

        for body in [
            &b""[..],
            b"null",
            b"[]",
            b"{}",
            b"{\"status\":1}",
            b"{\"status\":\"success\"}",
            b"{\"status\":\"success\",\"data\":[]}",
            b"{\"status\":\"success\",\"data\":{\"resultType\":\"streams\",\"result\":{}}}",
            b"{\"status\":\"success\",\"data\":{\"resultType\":\"streams\",\"result\":[1,{\"values\":7}]}}",
            b"{\"status\":\"success\",\"data\":{\"resultType\":7}}",
            b"{\"status\":\"success\",\"data\":{\"resultType\":\"streams\",\"result\":[{\"stream\":{},\"values\":[[\"99999999999999999999\",\"x\"]]}]}}",
            b"\xff\xfe",
        ] {
            let _ = parse_query_range(200, body, Direction::Backward);
            let _ = parse_query_range(500, body, Direction::Forward);
            let _ = parse_label_list(200, body);
        }
        let e = parse_query_range(200, b"hello", Direction::Backward).unwrap_err();
        assert!(
            e.message.starts_with("not a Loki API response"),
            "{}",
            e.message
        );
        let e = parse_query_range(
            502,
            b"<html><body><h1>502 Bad Gateway</h1></body></html>",
            Direction::Backward,
        )
        .unwrap_err();
        assert_eq!(e.message, "HTTP 502: 502 Bad Gateway");
    }
}
