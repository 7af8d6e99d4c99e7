//! What the Prometheus unit tests share: a captured answer by name, the
//! configuration of one environment (with or without a selector), and an
//! alerts list mixing environments, states and missing labels.

use crate::config::Config;

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/prometheus/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

pub fn config() -> Config {
    Config::parse(
        "[[environment]]\nname = \"prod\"\nselector = 'env=\"prod\"'\n[environment.prometheus]\nurl = \"http://127.0.0.1:9/\"\n",
        std::path::Path::new("t.toml"),
    )
    .unwrap()
}

pub fn config_with_selector(selector: Option<&str>) -> Config {
    let selector = selector
        .map(|s| format!("selector = '''{s}'''\n"))
        .unwrap_or_default();
    Config::parse(
        &format!(
            "[[environment]]\nname = \"prod\"\n{selector}[environment.prometheus]\nurl = \"http://127.0.0.1:9/\"\n"
        ),
        std::path::Path::new("t.toml"),
    )
    .unwrap()
}

/// The grid's firing-alerts read (`FleetQueries::firing_alerts`) as a
/// Prometheus shared by two environments answers it.
pub const FIRING: &str = r#"{"status":"success","data":{"resultType":"vector","result":[
    {"metric":{"alertname":"DrupalCronStale","site":"borger","env":"prod","severity":"warning"},"value":[1,"1"]},
    {"metric":{"alertname":"DrupalCronStale","site":"borger","env":"dev","severity":"warning"},"value":[1,"1"]},
    {"metric":{"alertname":"DrupalCronStale","site":"kultur","env":"prod"},"value":[1,"2"]},
    {"metric":{"alertname":"DrupalDown","site":"park"},"value":[1,"1"]},
    {"metric":{"alertname":"DrupalDown","site":"elsewhere"},"value":[1,"1"]}
]}}"#;

/// A site's or the alerts view's read (`FleetQueries::site_alerts`):
/// each alert's labels and state, since when as its value (0: unknown).
pub const SINCE: &str = r#"{"status":"success","data":{"resultType":"vector","result":[
    {"metric":{"alertname":"DrupalCronStale","alertstate":"firing","site":"borger","env":"prod","severity":"warning","requirement":"cron"},"value":[1,"1795467600.123"]},
    {"metric":{"alertname":"DrupalCronStale","alertstate":"pending","site":"kultur","env":"prod"},"value":[1,"0"]},
    {"metric":{"alertname":"DrupalDown","alertstate":"inactive","site":"park"},"value":[1,"1795467600"]}
]}}"#;
