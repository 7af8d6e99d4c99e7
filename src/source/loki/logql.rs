//! LogQL for the status reports: stream selectors, their values quoted
//! here and the environment's configured matchers rendered from their
//! parsed form. Pure text building.

use crate::config::Matcher;
use crate::source::render_matcher;

/// A LogQL string literal: the same Go-style quoting as PromQL's.
pub use crate::source::string_literal as logql_string;

/// A stream selector: `{job="site-status", site="borger", env="prod"}`.
/// `labels` are exact values, quoted and escaped here; `selector` is the
/// environment's configured matchers (`env="prod"`, `cluster=~"a|b"`),
/// added after them.
pub fn stream_selector(labels: &[(&str, &str)], selector: &[Matcher]) -> String {
    let parts: Vec<String> = labels
        .iter()
        .map(|(name, value)| format!("{name}={}", logql_string(value)))
        .chain(selector.iter().map(render_matcher))
        .collect();
    format!("{{{}}}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Selector;

    fn matchers(text: &str) -> Vec<Matcher> {
        Selector::parse(text).unwrap().matchers
    }

    #[test]
    fn selectors_quote_and_escape_values() {
        assert_eq!(
            stream_selector(
                &[("job", "site-status"), ("site", "borger"), ("env", "prod")],
                &[]
            ),
            r#"{job="site-status", site="borger", env="prod"}"#
        );
        assert_eq!(
            stream_selector(&[("job", "site-status")], &matchers(" env=\"prod\", ")),
            r#"{job="site-status", env="prod"}"#
        );
        assert_eq!(
            stream_selector(&[("site", "a\\b\"c\nd\te\u{1b}")], &matchers("")),
            r#"{site="a\\b\"c\nd\te\u001b"}"#
        );
    }

    #[test]
    fn every_selector_operator_and_escaped_quotes_round_trip() {
        assert_eq!(
            stream_selector(
                &[("job", "site-status")],
                &matchers(r#"env="pr\"od", cluster=~'a|b\'s', team!=`x\y`, tier!~"t\\.*","#)
            ),
            r#"{job="site-status", env="pr\"od", cluster=~"a|b's", team!="x\\y", tier!~"t\\.*"}"#
        );
    }
}
