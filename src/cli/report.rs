//! `site-status report ENV SITE`: a site's latest status reports, parsed,
//! for people and for scripts.

use std::process::ExitCode;

use serde::Serialize;

use super::{Format, exit, load_config, runtime};
use crate::model::text::{MAX_FIELD_CHARS, clean_multiline, terminal_safe_json};
use crate::model::{Report, Reports};
use crate::source::FleetSource;
use crate::source::http::ProcessSecrets;

#[derive(Serialize)]
struct JsonRequirement<'a> {
    id: &'a str,
    title: &'a str,
    severity: Option<&'static str>,
    sid: Option<i64>,
    value: &'a str,
    description: &'a str,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    time: String,
    format: &'static str,
    worst: Option<&'static str>,
    requirements: Vec<JsonRequirement<'a>>,
    raw: Option<String>,
}

#[derive(Serialize)]
struct JsonOutput<'a> {
    site: &'a str,
    env: &'a str,
    reports: Vec<JsonReport<'a>>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    notices: &'a [String],
}

fn json_report(report: &Report) -> JsonReport<'_> {
    JsonReport {
        time: report.time_rfc3339(),
        format: report.format.label(),
        worst: report.worst().map(|w| w.label()),
        requirements: report
            .requirements
            .iter()
            .map(|r| JsonRequirement {
                id: &r.label,
                title: &r.title,
                severity: r.severity.map(|s| s.label()),
                sid: r.severity.map(|s| s.sid()),
                value: &r.value,
                description: &r.description,
            })
            .collect(),
        raw: report
            .raw
            .as_deref()
            .map(|raw| clean_multiline(raw, MAX_FIELD_CHARS)),
    }
}

pub fn to_json(env: &str, site: &str, reports: &Reports) -> String {
    let output = JsonOutput {
        site,
        env,
        reports: reports.reports.iter().map(json_report).collect(),
        notices: &reports.notices,
    };
    let json =
        serde_json::to_string_pretty(&output).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    terminal_safe_json(&json)
}

pub fn to_text(env: &str, site: &str, reports: &Reports) -> String {
    let mut out = String::new();
    for notice in &reports.notices {
        out.push_str(&format!("note: {notice}\n"));
    }
    if reports.reports.is_empty() {
        out.push_str(&format!("{env} {site}: no reports in the last 7 days\n"));
    }
    for report in &reports.reports {
        let worst = report.worst().map(|w| w.label()).unwrap_or("none");
        out.push_str(&format!(
            "{env} {site}  {}  format {}  worst {worst}\n",
            report.time_rfc3339(),
            report.format.label()
        ));
        match &report.raw {
            Some(raw) if report.requirements.is_empty() => {
                out.push_str("  (not a status report; the line as text:)\n");
                for line in clean_multiline(raw, MAX_FIELD_CHARS).lines() {
                    out.push_str(&format!("  | {line}\n"));
                }
            }
            _ => {
                for r in &report.requirements {
                    let severity = r.severity.map(|s| s.label()).unwrap_or("unknown");
                    let value = r.value.lines().next().unwrap_or("").trim_end();
                    out.push_str(&format!(
                        "  {severity:<8} {:<32} {}{}\n",
                        r.id,
                        r.display_title(),
                        if value.is_empty() {
                            String::new()
                        } else {
                            format!(": {value}")
                        }
                    ));
                }
            }
        }
        if let Some(tail) = &report.stderr_tail {
            out.push_str("  stderr:\n");
            for line in tail.lines() {
                out.push_str(&format!("  | {line}\n"));
            }
        }
    }
    out
}

/// `site-status report ENV SITE`: the site's latest reports from Loki.
pub fn run(
    path: Option<&std::path::Path>,
    env: &str,
    site: &str,
    last: usize,
    format: Format,
) -> ExitCode {
    let Some(config) = load_config(path) else {
        return ExitCode::from(exit::BAD_CONFIGURATION);
    };
    let sources = match crate::source::from_config(&config, &ProcessSecrets) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("site-status: {e}");
            return ExitCode::from(exit::BAD_CONFIGURATION);
        }
    };
    let Some(source) = sources.iter().find(|s| s.environment() == env) else {
        let names: Vec<&str> = sources.iter().map(|s| s.environment()).collect();
        eprintln!(
            "site-status: no environment {env:?} in the configuration (there are: {})",
            names.join(", ")
        );
        return ExitCode::from(exit::BAD_CONFIGURATION);
    };
    let Ok(rt) = runtime() else {
        return ExitCode::from(exit::FAILURE);
    };
    match rt.block_on(source.fetch_reports(site, last)) {
        Ok(reports) => {
            match format {
                Format::Json => println!("{}", to_json(env, site, &reports)),
                Format::Text => print!("{}", to_text(env, site, &reports)),
            }
            ExitCode::from(exit::OK)
        }
        Err(e) => {
            eprintln!("site-status: {e}");
            ExitCode::from(exit::BACKEND_FAILED)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse_report_line;

    #[test]
    fn json_escapes_what_serde_json_lets_through() {
        let s = terminal_safe_json("{\"raw\": \"a\u{9b}31mb\u{202e}c\u{7f}\"}");
        assert_eq!(s, "{\"raw\": \"a\\u009b31mb\\u202ec\\u007f\"}");
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["raw"], "a\u{9b}31mb\u{202e}c\u{7f}");
    }

    #[test]
    fn an_unparsed_line_is_sanitized_alike_in_json_and_text() {
        let line = "PHP Fatal error: \u{1b}[2J boom";
        let reports = Reports {
            reports: vec![parse_report_line(line, 1_795_466_769_892_973_028)],
            notices: vec![],
        };
        let json: serde_json::Value =
            serde_json::from_str(&to_json("dev", "garbage", &reports)).unwrap();
        assert_eq!(json["reports"][0]["format"], "unparsed");
        assert_eq!(json["reports"][0]["worst"], serde_json::Value::Null);
        // As every other text field: what the screen would show.
        assert_eq!(
            json["reports"][0]["raw"],
            "PHP Fatal error: \u{FFFD}[2J boom"
        );
        assert_eq!(json["reports"][0]["time"], "2026-11-23T20:46:09.892973028Z");
        let text = to_text("dev", "garbage", &reports);
        assert!(!text.contains('\u{1b}'));
        assert!(text.contains("PHP Fatal error"));
    }
}
