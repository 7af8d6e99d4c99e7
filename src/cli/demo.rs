//! `site-status demo`: the dashboard on a simulated fleet, no backend
//! needed; a seed tells the same story every time.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use super::{Globals, exit};
use crate::app::Settings;
use crate::config::Config;
use crate::mute_store::{self, MuteStore};
use crate::poller::PollSettings;
use crate::runtime::MuteSetup;
use crate::source::FleetSource;
use crate::source::demo::{DemoClock, DemoFleet, DemoSource};

pub fn run(
    globals: &Globals,
    path: Option<&Path>,
    sites: usize,
    seed: u64,
    refresh: u64,
) -> ExitCode {
    let fleet = Arc::new(DemoFleet::new(sites, seed));
    let sources: Vec<Arc<dyn FleetSource>> = DemoSource::for_fleet(fleet, DemoClock::running(0.0))
        .into_iter()
        .map(|s| Arc::new(s) as Arc<dyn FleetSource>)
        .collect();
    // The demo needs no configuration, but wears its theme.
    let config = path
        .filter(|p| p.exists())
        .and_then(|p| Config::load(p).ok());
    let theme = match globals.theme(config.as_ref(), path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("site-status: {e}");
            return ExitCode::from(exit::BAD_CONFIGURATION);
        }
    };
    let refresh = Duration::from_secs(refresh);
    let settings = Settings {
        refresh,
        ascii: globals.ascii(),
        origin: format!("demo (seed {seed})"),
        mouse: config.as_ref().is_none_or(|c| c.mouse),
        ..Settings::default()
    };
    let poll = PollSettings {
        interval: refresh,
        ..PollSettings::default()
    };
    // The demo's sites are not real ones: its rules live apart.
    let store =
        mute_store::default_path().map(|p| MuteStore::new(p.with_file_name("demo-mutes.toml")));
    let mutes = MuteSetup {
        config_rules: Vec::new(),
        store,
    };
    super::dashboard::show(sources, settings, poll, mutes, theme)
}
