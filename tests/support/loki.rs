//! A stand-in Loki for tests that need one end to end (Loki cannot be
//! installed here): it takes pushes on `/loki/api/v1/push` as Loki's JSON
//! push API does (a string nanosecond timestamp per entry, the same stream
//! and timestamp and line pushed twice kept once, a push over the size
//! limit refused with Loki's 500 gRPC message) and answers
//! `/loki/api/v1/query_range` from what it holds, in the shape of the
//! captured answers in `tests/fixtures/loki/`: streams with `[ts, line]`
//! pairs, newest first for `direction=backward`, at most `limit` entries,
//! in `[start, end)`. Only equality and inequality matchers are
//! understood; any other query is answered with Loki's 400 parse error,
//! so a test notices a query it does not serve.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Loki's default gRPC message limit, which a push body meets first.
pub const DEFAULT_PUSH_LIMIT: usize = 4 << 20;

/// One stored entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub labels: BTreeMap<String, String>,
    pub ts_ns: i64,
    pub line: String,
}

#[derive(Default)]
struct Store {
    entries: Vec<Entry>,
    pushes: u64,
    queries: Vec<String>,
}

pub struct StandInLoki {
    server: MockServer,
    store: Arc<Mutex<Store>>,
}

impl StandInLoki {
    pub async fn start() -> StandInLoki {
        StandInLoki::with_push_limit(DEFAULT_PUSH_LIMIT).await
    }

    pub async fn with_push_limit(limit: usize) -> StandInLoki {
        let server = MockServer::start().await;
        let store = Arc::new(Mutex::new(Store::default()));
        Mock::given(method("POST"))
            .and(path("/loki/api/v1/push"))
            .respond_with(Push {
                store: store.clone(),
                limit,
            })
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/loki/api/v1/query_range"))
            .respond_with(QueryRange {
                store: store.clone(),
            })
            .mount(&server)
            .await;
        StandInLoki { server, store }
    }

    pub fn url(&self) -> String {
        self.server.uri()
    }

    /// Every stored entry, oldest first.
    pub fn entries(&self) -> Vec<Entry> {
        let mut entries = self.lock().entries.clone();
        entries.sort_by_key(|e| e.ts_ns);
        entries
    }

    /// The LogQL of every `query_range` asked so far.
    pub fn queries(&self) -> Vec<String> {
        self.lock().queries.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }
}

struct Push {
    store: Arc<Mutex<Store>>,
    limit: usize,
}

impl Respond for Push {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        if request.body.len() > self.limit {
            return ResponseTemplate::new(500).set_body_string(format!(
                "rpc error: code = ResourceExhausted desc = grpc: received message larger than max ({} vs. {})\n",
                request.body.len(),
                self.limit
            ));
        }
        let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
            return ResponseTemplate::new(400).set_body_string("error parsing push request\n");
        };
        let Some(streams) = body["streams"].as_array() else {
            return ResponseTemplate::new(400).set_body_string("no streams\n");
        };
        let mut parsed = Vec::new();
        for stream in streams {
            let Some(labels) = stream["stream"].as_object() else {
                return ResponseTemplate::new(400).set_body_string("stream without labels\n");
            };
            let labels: BTreeMap<String, String> = labels
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect();
            for value in stream["values"].as_array().into_iter().flatten() {
                // Loki wants the timestamp as a string; a number is a 400.
                let (Some(ts), Some(line)) = (value[0].as_str(), value[1].as_str()) else {
                    return ResponseTemplate::new(400)
                        .set_body_string("timestamp must be a string of nanoseconds\n");
                };
                let Ok(ts_ns) = ts.parse::<i64>() else {
                    return ResponseTemplate::new(400).set_body_string("bad timestamp\n");
                };
                parsed.push(Entry {
                    labels: labels.clone(),
                    ts_ns,
                    line: line.to_string(),
                });
            }
        }
        let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        store.pushes += 1;
        for entry in parsed {
            if !store.entries.contains(&entry) {
                store.entries.push(entry);
            }
        }
        ResponseTemplate::new(204)
    }
}

struct QueryRange {
    store: Arc<Mutex<Store>>,
}

impl Respond for QueryRange {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let params: BTreeMap<String, String> = request.url.query_pairs().into_owned().collect();
        let query = params.get("query").cloned().unwrap_or_default();
        let Some(matchers) = parse_selector(&query) else {
            return ResponseTemplate::new(400).set_body_string(format!(
                "parse error : the stand-in Loki does not understand {query:?}\n"
            ));
        };
        let number = |key: &str, default: i64| {
            params
                .get(key)
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(default)
        };
        let start = number("start", 0);
        let end = number("end", i64::MAX);
        let limit = usize::try_from(number("limit", 100)).unwrap_or(100);
        let forward = params.get("direction").is_some_and(|d| d == "forward");

        let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        store.queries.push(query);
        let mut hits: Vec<&Entry> = store
            .entries
            .iter()
            .filter(|e| e.ts_ns >= start && e.ts_ns < end)
            .filter(|e| {
                matchers.iter().all(|(name, equal, value)| {
                    (e.labels.get(name).map(String::as_str).unwrap_or("") == value) == *equal
                })
            })
            .collect();
        hits.sort_by_key(|e| e.ts_ns);
        if !forward {
            hits.reverse();
        }
        hits.truncate(limit);
        let mut streams: Vec<(BTreeMap<String, String>, Vec<Value>)> = Vec::new();
        for hit in hits {
            let pair = json!([hit.ts_ns.to_string(), hit.line]);
            match streams.iter_mut().find(|(labels, _)| *labels == hit.labels) {
                Some((_, values)) => values.push(pair),
                None => streams.push((hit.labels.clone(), vec![pair])),
            }
        }
        let result: Vec<Value> = streams
            .into_iter()
            .map(|(labels, values)| json!({"stream": labels, "values": values}))
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({
            "status": "success",
            "data": {"resultType": "streams", "result": result, "stats": {}},
        }))
    }
}

/// `{a="b", c!="d"}` as (name, is-equality, value); `None` for anything
/// else (regex matchers, pipelines).
fn parse_selector(query: &str) -> Option<Vec<(String, bool, String)>> {
    let inner = query.trim().strip_prefix('{')?.strip_suffix('}')?;
    let mut rest = inner.trim();
    let mut matchers = Vec::new();
    while !rest.is_empty() {
        let name_end = rest.find(['=', '!'])?;
        let name = rest[..name_end].trim().to_string();
        rest = &rest[name_end..];
        let equal = if let Some(r) = rest.strip_prefix("!=") {
            rest = r;
            false
        } else {
            rest = rest.strip_prefix('=')?;
            if rest.starts_with('~') {
                return None;
            }
            true
        };
        // A Go-quoted string: read it as JSON, which shares the escapes
        // the dashboard writes.
        let rest_trimmed = rest.trim_start();
        let mut stream = serde_json::Deserializer::from_str(rest_trimmed).into_iter::<String>();
        let value = stream.next()?.ok()?;
        rest = rest_trimmed[stream.byte_offset()..].trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
        matchers.push((name, equal, value));
    }
    Some(matchers)
}
