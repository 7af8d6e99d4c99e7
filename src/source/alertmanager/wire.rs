//! Alertmanager's API v2 silences on the wire: `GettableSilence` read
//! leniently (unknown fields ignored, a silence that cannot be read
//! skipped, not the whole answer), `PostableSilence` written.

use jiff::Timestamp;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use crate::source::SourceError;
use crate::source::http::body_excerpt;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Matcher {
    pub name: String,
    pub value: String,
    #[serde(rename = "isRegex")]
    pub is_regex: bool,
    /// Alertmanager before 0.22 has no `isEqual`: every matcher was `=`.
    #[serde(rename = "isEqual", default = "yes")]
    pub is_equal: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SilenceState {
    Active,
    Pending,
    Expired,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Silence {
    pub id: String,
    pub state: SilenceState,
    pub matchers: Vec<Matcher>,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    /// Untrusted text: sanitized before it is shown.
    pub created_by: String,
    /// Untrusted text: sanitized before it is shown.
    pub comment: String,
}

#[derive(Deserialize)]
struct Gettable {
    id: String,
    status: Status,
    matchers: Vec<Matcher>,
    #[serde(rename = "startsAt")]
    starts_at: String,
    #[serde(rename = "endsAt")]
    ends_at: String,
    #[serde(rename = "createdBy", default)]
    created_by: String,
    #[serde(default)]
    comment: String,
}

#[derive(Deserialize)]
struct Status {
    state: String,
}

/// `GET /api/v2/silences`.
pub fn parse_silences(body: &[u8]) -> Result<Vec<Silence>, SourceError> {
    let items: Vec<Value> = serde_json::from_slice(body).map_err(|e| {
        SourceError::new(format!(
            "not a list of silences ({e}): {}",
            body_excerpt(body)
        ))
    })?;
    Ok(items.into_iter().filter_map(read_silence).collect())
}

fn read_silence(item: Value) -> Option<Silence> {
    let g: Gettable = serde_json::from_value(item).ok()?;
    let state = match g.status.state.as_str() {
        "active" => SilenceState::Active,
        "pending" => SilenceState::Pending,
        "expired" => SilenceState::Expired,
        _ => return None,
    };
    Some(Silence {
        id: g.id,
        state,
        matchers: g.matchers,
        starts_at: g.starts_at.parse().ok()?,
        ends_at: g.ends_at.parse().ok()?,
        created_by: g.created_by,
        comment: g.comment,
    })
}

/// `POST /api/v2/silences`' answer: `{"silenceID": "…"}`.
pub fn parse_created(body: &[u8]) -> Result<String, SourceError> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("silenceID")?.as_str().map(String::from))
        .ok_or_else(|| {
            SourceError::new(format!(
                "the answer to a new silence has no silenceID: {}",
                body_excerpt(body)
            ))
        })
}

/// What `POST /api/v2/silences` takes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PostableSilence {
    pub matchers: Vec<Matcher>,
    #[serde(rename = "startsAt", serialize_with = "rfc3339")]
    pub starts_at: Timestamp,
    #[serde(rename = "endsAt", serialize_with = "rfc3339")]
    pub ends_at: Timestamp,
    #[serde(rename = "createdBy")]
    pub created_by: String,
    pub comment: String,
}

fn rfc3339<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silences_are_read_leniently() {
        let body = br#"[
          {"id":"a1","status":{"state":"active"},"updatedAt":"2026-12-01T10:00:00.000Z",
           "matchers":[{"name":"requirement","value":"cron","isRegex":false,"isEqual":true}],
           "startsAt":"2026-12-01T10:00:00.000Z","endsAt":"2026-12-08T10:00:00.000Z",
           "createdBy":"jane","comment":"known"},
          {"id":"old","status":{"state":"expired"},
           "matchers":[{"name":"site","value":"x","isRegex":false}],
           "startsAt":"2026-11-01T10:00:00Z","endsAt":"2026-11-02T10:00:00Z"},
          {"id":"broken","status":{"state":"active"},"matchers":"nope"}
        ]"#;
        let silences = parse_silences(body).unwrap();
        assert_eq!(silences.len(), 2, "the broken one is skipped");
        assert_eq!(silences[0].id, "a1");
        assert_eq!(silences[0].state, SilenceState::Active);
        assert_eq!(silences[1].state, SilenceState::Expired);
        // Old Alertmanagers have no isEqual: an equality.
        assert!(silences[1].matchers[0].is_equal);
        assert_eq!(silences[1].created_by, "");

        let err = parse_silences(b"<html>502 Bad Gateway</html>").unwrap_err();
        assert!(
            err.message.contains("not a list of silences"),
            "{}",
            err.message
        );
        assert_eq!(parse_created(br#"{"silenceID":"x9"}"#).unwrap(), "x9");
        assert!(parse_created(b"{}").is_err());
    }

    #[test]
    fn a_postable_silence_is_alertmanagers_json() {
        let s = PostableSilence {
            matchers: vec![Matcher {
                name: "requirement".into(),
                value: "cron".into(),
                is_regex: false,
                is_equal: true,
            }],
            starts_at: "2026-12-01T10:00:00Z".parse().unwrap(),
            ends_at: "2026-12-08T10:00:00Z".parse().unwrap(),
            created_by: "jane".into(),
            comment: "known".into(),
        };
        let json: Value = serde_json::to_value(&s).unwrap();
        assert_eq!(json["startsAt"], "2026-12-01T10:00:00Z");
        assert_eq!(json["endsAt"], "2026-12-08T10:00:00Z");
        assert_eq!(json["createdBy"], "jane");
        assert_eq!(json["matchers"][0]["isEqual"], true);
        assert_eq!(json["matchers"][0]["isRegex"], false);
    }
}
