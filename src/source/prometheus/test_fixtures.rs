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

pub const ALERTS: &str = r#"{"status":"success","data":{"alerts":[
    {"labels":{"alertname":"DrupalCronStale","site":"borger","env":"prod","severity":"warning"},
     "annotations":{"summary":"Cron is late on borger","description":"long text"},
     "state":"firing","activeAt":"2026-11-23T21:00:00.123456789Z","value":"2e+00"},
    {"labels":{"alertname":"DrupalCronStale","site":"borger","env":"dev","severity":"warning"},
     "annotations":{},"state":"firing","activeAt":"2026-11-23T21:00:00Z","value":"2e+00"},
    {"labels":{"alertname":"DrupalCronStale","site":"kultur","env":"prod"},
     "annotations":{"summary":"pending"},"state":"pending","activeAt":"2026-11-23T21:00:00Z","value":"2e+00"},
    {"labels":{"alertname":"Watchdog"},"annotations":{},"state":"firing","activeAt":"2026-11-23T21:00:00Z","value":"1e+00"},
    {"labels":{"alertname":"DrupalDown","site":"park"},
     "annotations":{"description":"no env label"},"state":"firing","activeAt":"2026-11-23T21:00:00Z","value":"1e+00"},
    {"labels":{"alertname":"DrupalDown","site":"elsewhere"},
     "annotations":{},"state":"firing","activeAt":"2026-11-23T21:00:00Z","value":"1e+00"}
]}}"#;
