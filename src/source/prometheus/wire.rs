//! Prometheus' answers as they come over the wire: the API envelope, the
//! four result types, and the error envelope or proxy page
//! a failed request brings back, each worded for the operator. Pure
//! parsing: no I/O, no knowledge of the fleet's names.

use std::borrow::Cow;

use serde::Deserialize;

use super::labels::Labels;
use crate::model::text::clean_line;
use crate::source::SourceError;
use crate::source::http::body_excerpt;

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: Labels,
    pub value: f64,
    /// When the server evaluated it (Unix seconds): the `time()` an age
    /// was computed against. `None` where it did not say.
    pub at: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: Labels,
    pub points: Vec<(f64, f64)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum QueryData {
    Vector(Vec<Sample>),
    Matrix(Vec<Series>),
    Scalar(f64),
    String(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub data: QueryData,
    pub warnings: Vec<String>,
}

impl Answer {
    pub fn into_vector(self) -> Result<Vec<Sample>, SourceError> {
        match self.data {
            QueryData::Vector(v) => Ok(v),
            other => Err(SourceError::new(format!(
                "expected an instant vector, got {}",
                kind(&other)
            ))),
        }
    }

    pub fn into_matrix(self) -> Result<Vec<Series>, SourceError> {
        match self.data {
            QueryData::Matrix(m) => Ok(m),
            other => Err(SourceError::new(format!(
                "expected a range vector, got {}",
                kind(&other)
            ))),
        }
    }
}

fn kind(data: &QueryData) -> &'static str {
    match data {
        QueryData::Vector(_) => "a vector",
        QueryData::Matrix(_) => "a matrix",
        QueryData::Scalar(_) => "a scalar",
        QueryData::String(_) => "a string",
    }
}

/// Prometheus' API envelope around any endpoint's data.
#[derive(Deserialize)]
struct Envelope<D> {
    status: String,
    #[serde(default = "Option::default")]
    data: Option<D>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    warnings: Vec<String>,
}

#[derive(Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
enum RawData<'a> {
    #[serde(borrow)]
    Vector(Vec<RawSample<'a>>),
    #[serde(borrow)]
    Matrix(Vec<RawSeries<'a>>),
    #[serde(borrow)]
    Scalar(RawPoint<'a>),
    #[serde(borrow)]
    String(RawPoint<'a>),
}

#[derive(Deserialize)]
struct RawSample<'a> {
    #[serde(default)]
    metric: Labels,
    #[serde(borrow)]
    value: RawPoint<'a>,
}

#[derive(Deserialize)]
struct RawSeries<'a> {
    #[serde(default)]
    metric: Labels,
    #[serde(default, borrow)]
    values: Vec<RawPoint<'a>>,
}

/// `[1795469437.564, "0"]`: Prometheus sends sample values as strings so
/// that NaN and ±Inf survive JSON. Borrowed from the body where it has no
/// escapes (always, from Prometheus): a poll reads tens of thousands of
/// them, and each is parsed at once.
#[derive(Deserialize)]
struct RawPoint<'a>(f64, #[serde(borrow)] Cow<'a, str>);

/// Parses Prometheus' float text: `1`, `0.5`, `NaN`, `+Inf`, `-Inf`.
pub fn parse_sample(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        other => other.parse().ok(),
    }
}

/// Turns an HTTP status and body into an answer or an operator-readable
/// error: the API's error envelope, or whatever a proxy sent instead.
pub fn parse_response(status: u16, body: &[u8]) -> Result<Answer, SourceError> {
    let envelope: Result<Envelope<RawData>, _> = serde_json::from_slice(body);
    match envelope {
        Ok(env) if env.status == "success" => {
            let data = env
                .data
                .ok_or_else(|| SourceError::new("success without data"))?;
            let bad_value = |v: &str| {
                SourceError::new(format!(
                    "sample value {:?} is not a number",
                    clean_line(v, 40)
                ))
            };
            let data = match data {
                RawData::Vector(samples) => QueryData::Vector(
                    samples
                        .into_iter()
                        .map(|s| {
                            Ok(Sample {
                                labels: s.metric,
                                value: parse_sample(&s.value.1)
                                    .ok_or_else(|| bad_value(&s.value.1))?,
                                at: Some(s.value.0).filter(|t| t.is_finite()),
                            })
                        })
                        .collect::<Result<_, SourceError>>()?,
                ),
                RawData::Matrix(series) => QueryData::Matrix(
                    series
                        .into_iter()
                        .map(|s| {
                            let points = s
                                .values
                                .iter()
                                .map(|p| {
                                    Ok((p.0, parse_sample(&p.1).ok_or_else(|| bad_value(&p.1))?))
                                })
                                .collect::<Result<_, SourceError>>()?;
                            Ok(Series {
                                labels: s.metric,
                                points,
                            })
                        })
                        .collect::<Result<_, SourceError>>()?,
                ),
                RawData::Scalar(p) => {
                    QueryData::Scalar(parse_sample(&p.1).ok_or_else(|| bad_value(&p.1))?)
                }
                RawData::String(p) => QueryData::String(clean_line(&p.1, 1000)),
            };
            Ok(Answer {
                data,
                warnings: env.warnings.iter().map(|w| clean_line(w, 300)).collect(),
            })
        }
        Ok(env) => Err(api_error(env.error_type.as_deref(), env.error.as_deref())),
        Err(e) => Err(not_an_answer(status, body, &e)),
    }
}

/// The API's own error envelope, worded for the operator.
fn api_error(error_type: Option<&str>, error: Option<&str>) -> SourceError {
    SourceError::new(format!(
        "Prometheus error{}: {}",
        error_type
            .map(|t| format!(" ({})", crate::secrets::clean_line(t, 40)))
            .unwrap_or_default(),
        crate::secrets::clean_line(error.unwrap_or("no message"), 300)
    ))
}

/// A body that is no API envelope: an HTTP error page from a proxy, or
/// garbage.
fn not_an_answer(status: u16, body: &[u8], error: &serde_json::Error) -> SourceError {
    if !(200..300).contains(&status) {
        SourceError::new(format!(
            "HTTP {status}{}",
            match body_excerpt(body) {
                e if e.is_empty() => String::new(),
                e => format!(": {e}"),
            }
        ))
    } else {
        SourceError::new(format!(
            "not a Prometheus API response ({}): {}",
            crate::secrets::clean_line(&error.to_string(), 100),
            body_excerpt(body)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_fixtures::fixture;
    use super::*;

    #[test]
    fn sample_values_include_nan_and_infinities() {
        assert!(parse_sample("NaN").unwrap().is_nan());
        assert_eq!(parse_sample("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_sample("-Inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_sample("31.617000102996826"), Some(31.617000102996826));
        assert_eq!(parse_sample("1e3"), Some(1000.0));
        assert_eq!(parse_sample("borked"), None);
    }

    #[test]
    fn the_real_worst_severity_response_parses() {
        let answer = parse_response(200, &fixture("query-worst-severity-by-site.json")).unwrap();
        let v = answer.into_vector().unwrap();
        assert_eq!(v.len(), 315);
        assert!(v.iter().all(|s| s.labels.contains_key("site")));
    }

    #[test]
    fn scalar_and_matrix_and_empty_vector_parse() {
        let a = parse_response(200, &fixture("query-scalar.json")).unwrap();
        assert_eq!(a.data, QueryData::Scalar(1.0));
        let m = parse_response(200, &fixture("query-range-error-sites-by-env.json"))
            .unwrap()
            .into_matrix()
            .unwrap();
        assert_eq!(m.len(), 3);
        assert!(m[0].points.len() > 5);
        let e = parse_response(200, &fixture("query-empty-vector.json")).unwrap();
        assert_eq!(e.into_vector().unwrap(), vec![]);
    }

    #[test]
    fn error_envelope_is_shown_with_its_type() {
        let e = parse_response(400, &fixture("error-bad-data.json")).unwrap_err();
        assert_eq!(
            e.message,
            "Prometheus error (bad_data): invalid parameter \"query\": 1:5: parse error: unclosed left parenthesis"
        );
    }

    #[test]
    fn warnings_are_kept() {
        let body = br#"{"status":"success","warnings":["results truncated \u001b[2J"],"data":{"resultType":"vector","result":[]}}"#;
        let a = parse_response(200, body).unwrap();
        assert_eq!(a.warnings, vec!["results truncated \u{FFFD}[2J"]);
    }

    #[test]
    fn a_proxy_page_or_garbage_is_an_error_not_a_crash() {
        let e =
            parse_response(502, b"<html><body><h1>502 Bad Gateway</h1></body></html>").unwrap_err();
        assert_eq!(e.message, "HTTP 502: 502 Bad Gateway");
        let e = parse_response(200, b"hello").unwrap_err();
        assert!(
            e.message.starts_with("not a Prometheus API response"),
            "{}",
            e.message
        );
        let e = parse_response(200, br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"x"]}]}}"#).unwrap_err();
        assert!(e.message.contains("not a number"));
    }
}
