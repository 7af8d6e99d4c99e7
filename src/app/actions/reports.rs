//! The report list's and one report's keys: choosing a report, opening it
//! or its diff, moving through its requirements.
//! Changes the app's state only.

use std::sync::Arc;

use crate::app::keymap::Action;
use crate::app::{App, ReportView, View};

impl App {
    pub(in crate::app) fn reports_action(&mut self, action: Action) {
        let Some(View::Reports(view)) = self.stack.last_mut() else {
            return;
        };
        let last = view.count().saturating_sub(1);
        match action {
            Action::Back => {
                self.stack.pop();
            }
            Action::Up => view.select(view.selected.saturating_sub(1)),
            Action::Down => view.select(view.selected + 1),
            Action::First => view.select(0),
            Action::Last => view.select(last),
            Action::Open | Action::ToggleDiff => {
                let Some(list) = view.reports.value() else {
                    return;
                };
                let Some(report) = list.reports.get(view.selected) else {
                    return;
                };
                let opened = ReportView {
                    site: view.site.clone(),
                    report: Arc::new(report.clone()),
                    previous: list.reports.get(view.selected + 1).cloned().map(Arc::new),
                    selected: 0,
                    text_scroll: 0,
                    show_diff: action == Action::ToggleDiff,
                    fresh: false,
                };
                self.stack.push(View::Report(opened));
            }
            _ => {}
        }
    }

    pub(in crate::app) fn report_action(&mut self, action: Action) {
        let Some(View::Report(view)) = self.stack.last_mut() else {
            return;
        };
        let last = view.row_count().saturating_sub(1);
        let target = match action {
            Action::Up => Some(view.selected.saturating_sub(1)),
            Action::Down => Some(view.selected + 1),
            Action::First => Some(0),
            Action::Last => Some(last),
            _ => None,
        };
        if let Some(i) = target {
            let i = i.min(last);
            if i != view.selected {
                view.text_scroll = 0;
            }
            view.selected = i;
            return;
        }
        match action {
            Action::Back => {
                self.stack.pop();
            }
            Action::ScrollTextUp => view.text_scroll = view.text_scroll.saturating_sub(3),
            Action::ScrollTextDown => view.text_scroll = view.text_scroll.saturating_add(3),
            Action::ToggleDiff => {
                view.show_diff = !view.show_diff;
                view.selected = 0;
                view.text_scroll = 0;
            }
            _ => {}
        }
    }
}
