//! The site view's `r`: ask the site's status agent for a run now, say
//! "running…" while it goes on, then open the report it made. The request
//! goes out as `Effect::RunReport`; its outcome comes back through
//! [`App::offer_run`].

use std::sync::Arc;

use crate::app::views::ManualRun;
use crate::app::{App, Effect, ReportView, View};
use crate::model::SiteKey;
use crate::poller::FinishedRun;

impl App {
    pub(in crate::app) fn run_report(&mut self) -> Vec<Effect> {
        let Some(View::Site(view)) = self.stack.last() else {
            return Vec::new();
        };
        let key = view.key.clone();
        let kubernetes = self
            .envs
            .iter()
            .find(|e| e.fleet.name == key.env)
            .is_some_and(|e| e.kubernetes);
        if !kubernetes {
            // What `r` does elsewhere still happens: every backend is polled.
            self.message = Some(format!(
                "polled again; a fresh status report needs the site's agent, reached through \
                 the cluster, and {} has no [environment.kube]",
                key.env
            ));
            return vec![Effect::Refresh];
        }
        if let Some(ManualRun::Running { since }) = &view.run {
            let secs = self
                .now
                .duration_since(*since)
                .unwrap_or_default()
                .as_secs();
            self.message = Some(format!(
                "the status report of {} is already running ({secs} s)",
                key.site
            ));
            return Vec::new();
        }
        let now = self.now;
        if let Some(View::Site(view)) = self.stack.last_mut() {
            view.run = Some(ManualRun::Running { since: now });
        }
        vec![Effect::RunReport(key)]
    }

    /// A run asked of an agent has ended. A report opens on top of its site
    /// view, if that is still what the operator looks at; otherwise, and on
    /// failure, the status line and the site view say what happened.
    pub fn offer_run(&mut self, run: FinishedRun) {
        let on_top = matches!(self.stack.last(), Some(View::Site(v)) if v.key == run.key);
        let site_view = self.stack.iter_mut().rev().find_map(|v| match v {
            View::Site(s) if s.key == run.key => Some(s),
            _ => None,
        });
        match run.result {
            Ok(report) => {
                if let Some(view) = site_view {
                    view.run = None;
                }
                self.message = Some(fresh_report_said(&run.key, &report));
                if on_top {
                    let previous = self.latest_loaded_report(&run.key);
                    self.stack.push(View::Report(ReportView {
                        site: run.key,
                        report,
                        previous,
                        selected: 0,
                        text_scroll: 0,
                        show_diff: false,
                        fresh: true,
                    }));
                }
            }
            Err(error) => {
                let said = format!(
                    "the status report of {} could not be run: {}",
                    run.key.site, error.message
                );
                match site_view {
                    Some(view) => {
                        view.run = Some(ManualRun::Failed {
                            error: error.message,
                            at: run.at,
                        })
                    }
                    None => self.message = Some(said),
                }
            }
        }
    }

    /// The newest report of the site already read from Loki (its report
    /// list, when that was opened), to diff the fresh one against.
    fn latest_loaded_report(&self, key: &SiteKey) -> Option<Arc<crate::model::Report>> {
        self.stack.iter().rev().find_map(|v| match v {
            View::Reports(r) if &r.site == key => r
                .reports
                .value()
                .and_then(|list| list.reports.first())
                .cloned()
                .map(Arc::new),
            _ => None,
        })
    }
}

fn fresh_report_said(key: &SiteKey, report: &crate::model::Report) -> String {
    let counts = report.counts();
    let took = report
        .duration_seconds
        .map(|d| format!(", drush took {d:.1} s"))
        .unwrap_or_default();
    match report.drush_exit_code {
        Some(code) if code != 0 => format!(
            "fresh report of {}: the run failed (drush exit {code}{took})",
            key.site
        ),
        _ => format!(
            "fresh report of {}: {} error(s), {} warning(s){took}",
            key.site, counts.error, counts.warning
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use crate::app::keymap::{Action, Scope};
    use crate::app::test_fleets::app;
    use crate::app::views::ManualRun;
    use crate::app::{Effect, View};
    use crate::model::{SiteKey, parse_report_line};
    use crate::poller::FinishedRun;
    use crate::source::SourceError;

    fn opened_site(kubernetes: bool) -> (crate::app::App, SiteKey) {
        let mut app = app(100, 30);
        for pane in &mut app.envs {
            pane.kubernetes = kubernetes;
        }
        app.perform(Scope::Grid, Action::Open);
        let Some(View::Site(view)) = app.stack.last() else {
            panic!("no site view");
        };
        let key = view.key.clone();
        (app, key)
    }

    fn site_run(app: &crate::app::App) -> Option<ManualRun> {
        app.stack.iter().find_map(|v| match v {
            View::Site(s) => s.run.clone(),
            _ => None,
        })
    }

    #[test]
    fn r_asks_once_and_says_it_is_running() {
        let (mut app, key) = opened_site(true);
        assert_eq!(
            app.perform(Scope::Site, Action::RunReport),
            vec![Effect::RunReport(key)]
        );
        assert!(matches!(site_run(&app), Some(ManualRun::Running { .. })));
        // Again while it runs: nothing new is asked.
        assert_eq!(app.perform(Scope::Site, Action::RunReport), vec![]);
        assert!(
            app.message.as_deref().unwrap().contains("already running"),
            "{:?}",
            app.message
        );
    }

    #[test]
    fn without_kubernetes_r_polls_and_says_why_it_cannot_run() {
        let (mut app, key) = opened_site(false);
        assert_eq!(
            app.perform(Scope::Site, Action::RunReport),
            vec![Effect::Refresh]
        );
        let said = app.message.clone().unwrap();
        assert!(said.contains(&key.env), "{said}");
        assert!(said.contains("[environment.kube]"), "{said}");
        assert_eq!(site_run(&app), None);
    }

    #[test]
    fn the_fresh_report_opens_over_its_site_and_a_failure_stays_in_the_view() {
        let (mut app, key) = opened_site(true);
        app.perform(Scope::Site, Action::RunReport);
        app.offer_run(FinishedRun {
            key: key.clone(),
            result: Err(SourceError::new("the agent is rate-limited: retry in 7 s")),
            at: app.now,
        });
        match site_run(&app) {
            Some(ManualRun::Failed { error, .. }) => assert!(error.contains("retry in 7 s")),
            other => panic!("{other:?}"),
        }

        app.perform(Scope::Site, Action::RunReport);
        let line = r#"{"generated_at":"2026-12-01T12:00:00Z","duration_seconds":2.5,"drush_exit_code":0,"requirements":{"cron":{"title":"Cron","severity":"Error","sid":2,"value":"never"}},"stderr_tail":""}"#;
        app.offer_run(FinishedRun {
            key: key.clone(),
            result: Ok(Arc::new(parse_report_line(line, 1))),
            at: app.now + Duration::from_secs(3),
        });
        let Some(View::Report(report)) = app.stack.last() else {
            panic!("the fresh report is not on top");
        };
        assert!(report.fresh);
        assert_eq!(report.site, key);
        assert_eq!(report.report.requirements.len(), 1);
        assert_eq!(site_run(&app), None);
        assert_eq!(
            app.message.as_deref(),
            Some(
                format!(
                    "fresh report of {}: 1 error(s), 0 warning(s), drush took 2.5 s",
                    key.site
                )
                .as_str()
            )
        );
    }

    #[test]
    fn a_report_for_a_site_left_meanwhile_is_only_said() {
        let (mut app, key) = opened_site(true);
        app.perform(Scope::Site, Action::RunReport);
        app.perform(Scope::Site, Action::Back);
        let line = r#"{"generated_at":"2026-12-01T12:00:00Z","drush_exit_code":1,"requirements":null,"stderr_tail":"boom"}"#;
        app.offer_run(FinishedRun {
            key: key.clone(),
            result: Ok(Arc::new(parse_report_line(line, 1))),
            at: app.now,
        });
        assert!(app.stack.is_empty());
        let said = app.message.clone().unwrap();
        assert!(said.contains("the run failed (drush exit 1"), "{said}");
    }
}
