//! `site-status` with no subcommand: the dashboard on the configured
//! environments, until the operator quits.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use super::{Globals, exit, load_config, poll_settings, runtime, selected_sources};
use crate::app::Settings;
use crate::config::Config;
use crate::poller::PollSettings;
use crate::runtime::MuteSetup;
use crate::source::FleetSource;
use crate::ui::Theme;

pub fn run(globals: &Globals, path: Option<&Path>) -> ExitCode {
    let Some(config) = load_config(path) else {
        return ExitCode::from(exit::BAD_CONFIGURATION);
    };
    let theme = match globals.theme(Some(&config), path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("site-status: {e}");
            return ExitCode::from(exit::BAD_CONFIGURATION);
        }
    };
    let sources = match selected_sources(&config, &[]) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("site-status: {e}");
            return ExitCode::from(exit::BAD_CONFIGURATION);
        }
    };
    let settings = settings(&config, globals, path);
    let mutes = MuteSetup {
        config_rules: config.mute_rules(),
        store: crate::mute_store::MuteStore::open_default(),
    };
    show(sources, settings, poll_settings(&config), mutes, theme)
}

fn settings(config: &Config, globals: &Globals, path: Option<&Path>) -> Settings {
    Settings {
        refresh: config.refresh_interval.0,
        stale_after: config.stale_after.0,
        ascii: globals.ascii(),
        origin: path.map(|p| p.display().to_string()).unwrap_or_default(),
        transition_log_size: config.transition_log_size.max(1),
        change_marker: config.change_marker.0,
        mouse: config.mouse,
        site_urls: config
            .environments
            .iter()
            .filter_map(|e| Some((e.name.0.clone(), e.site_url.clone()?)))
            .collect(),
    }
}

/// Runs the dashboard's event loop; the demo shares it.
pub fn show(
    sources: Vec<Arc<dyn FleetSource>>,
    settings: Settings,
    poll: PollSettings,
    mutes: MuteSetup,
    theme: Theme,
) -> ExitCode {
    let Ok(runtime) = runtime() else {
        return ExitCode::from(exit::FAILURE);
    };
    match runtime.block_on(crate::runtime::run(sources, settings, poll, mutes, theme)) {
        Ok(()) => ExitCode::from(exit::OK),
        Err(e) => {
            eprintln!("site-status: {e:#}");
            ExitCode::from(exit::FAILURE)
        }
    }
}
