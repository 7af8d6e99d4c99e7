//! The site's status agent, asked for a run now: `POST /run?wait=true`
//! through the API server's service proxy
//! (`/api/v1/namespaces/NS/services/NAME:PORT/proxy/run`), answered with
//! the report that run made, as the contract's JSON line.
//!
//! The service proxy rather than a port-forward: one request, no pod to
//! choose, and RBAC can grant it to exactly the site namespaces
//! (`create` on `services/proxy`).

use std::time::Duration;

use kube::Client;

use super::error::{Attempt, KubeError, classify};
use crate::model::text::MAX_FIELD_CHARS;
use crate::model::{Report, parse_report_line};
use crate::secrets::clean_line;

/// drush may take its whole timeout (the agent's default is 2 minutes);
/// past this the dashboard stops waiting. The run itself goes on, and its
/// report reaches the metrics and Loki as any other.
pub const RUN_WAIT: Duration = Duration::from_secs(180);

/// Where the agent is, in the site's namespace.
#[derive(Debug, Clone, Copy)]
pub struct AgentAddress<'a> {
    pub namespace: &'a str,
    pub service: &'a str,
    /// The Service's port, by name or number.
    pub port: &'a str,
}

/// Names that go into the path unescaped: the API server only accepts DNS
/// labels for these, so anything else did not come from it.
fn path_safe(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
}

/// Starts a run on the agent and waits for its report.
pub async fn run_agent_report(client: &Client, at: AgentAddress<'_>) -> Result<Report, KubeError> {
    for name in [at.namespace, at.service, at.port] {
        if !path_safe(name) {
            return Err(KubeError::Api {
                code: 0,
                message: format!(
                    "{:?} cannot be part of a service proxy path",
                    clean_line(name, MAX_FIELD_CHARS)
                ),
            });
        }
    }
    let path = format!(
        "/api/v1/namespaces/{}/services/{}:{}/proxy/run?wait=true",
        at.namespace, at.service, at.port
    );
    let request = http::Request::post(path)
        .body(Vec::new())
        .map_err(|e| KubeError::Api {
            code: 0,
            message: format!("cannot build the request: {e}"),
        })?;
    let attempt = Attempt {
        verb: "create",
        resource: "services/proxy",
        group: "",
        namespace: Some(at.namespace),
    };
    let answer = client
        .request_text(request)
        .await
        .map_err(|e| agent_error(e, &attempt, at))?;
    read_report(&answer)
}

/// The agent's answer, through the contract's reader.
pub fn read_report(line: &str) -> Result<Report, KubeError> {
    let generated_ns = serde_json::from_str::<serde_json::Value>(line)
        .ok()
        .and_then(|v| {
            v.get("generated_at")?
                .as_str()?
                .parse::<jiff::Timestamp>()
                .ok()
        })
        .and_then(|t| i64::try_from(t.as_nanosecond()).ok());
    let time_ns = generated_ns.unwrap_or_else(|| {
        i64::try_from(jiff::Timestamp::now().as_nanosecond()).unwrap_or(i64::MAX)
    });
    let report = parse_report_line(line, time_ns);
    // A failed run is still a report (its exit code and stderr say why);
    // an answer without the contract's metadata is not one.
    if report.generated_at.is_none() {
        let first = line.lines().next().unwrap_or_default();
        return Err(KubeError::Api {
            code: 0,
            message: format!(
                "the agent's answer is not a status report: {}",
                clean_line(first, 120)
            ),
        });
    }
    Ok(report)
}

/// Worded for what the operator can do: a refused permission names it, a
/// missing Service or agent says so, the agent's own refusals (a run moments
/// ago) pass through.
fn agent_error(err: kube::Error, attempt: &Attempt<'_>, at: AgentAddress<'_>) -> KubeError {
    if let kube::Error::Api(status) = &err {
        let said = clean_line(status.message.trim(), MAX_FIELD_CHARS);
        match status.code {
            429 => {
                return KubeError::Api {
                    code: 429,
                    message: format!("the agent is rate-limited: {said}"),
                };
            }
            404 if said.contains("services") => {
                return KubeError::Api {
                    code: 404,
                    message: format!(
                        "no Service {} in {}: is the status agent deployed there? ({said})",
                        at.service, at.namespace
                    ),
                };
            }
            503 => {
                return KubeError::Api {
                    code: 503,
                    message: format!(
                        "the status agent in {} is not reachable (no running pod behind Service {}?): {said}",
                        at.namespace, at.service
                    ),
                };
            }
            _ => {}
        }
    }
    classify(err, attempt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contract_line_is_a_report_with_its_own_time() {
        let line = r#"{"site":"borger","env":"prod","profile":"kk_borger","generated_at":"2026-11-23T20:46:09Z","duration_seconds":3.1,"drush_exit_code":0,"drupal_version":"10.3.6","requirements":{"cron":{"title":"Cron","severity":"Error","sid":2,"description":"","value":"never"}},"stderr_tail":""}"#;
        let report = read_report(line).unwrap();
        assert_eq!(report.requirements.len(), 1);
        assert_eq!(report.time_ns, 1_795_466_769_000_000_000);
        assert_eq!(report.duration_seconds, Some(3.1));
    }

    #[test]
    fn a_failed_run_is_still_a_report_and_garbage_is_not() {
        let failed = r#"{"site":"borger","env":"prod","profile":"kk_borger","generated_at":"2026-11-23T20:46:09Z","duration_seconds":0.4,"drush_exit_code":1,"drupal_version":null,"requirements":null,"stderr_tail":"SQLSTATE[HY000] [2002] Connection refused\n"}"#;
        let report = read_report(failed).unwrap();
        assert_eq!(report.drush_exit_code, Some(1));
        assert!(report.requirements.is_empty());

        let err = read_report("<html>\x1b[31mBad gateway</html>").unwrap_err();
        let said = err.to_string();
        assert!(said.contains("not a status report"), "{said}");
        assert!(!said.contains('\x1b'), "{said}");
    }

    #[test]
    fn names_that_are_not_dns_labels_never_reach_the_path() {
        assert!(path_safe("site-borger"));
        assert!(path_safe("9101"));
        assert!(!path_safe("site/../kube-system"));
        assert!(!path_safe("a:b"));
        assert!(!path_safe(""));
    }
}
