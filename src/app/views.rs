//! The views that stack above the grid, each with its own cursor and
//! scroll, so going back finds them exactly as they were left.

use std::sync::Arc;
use std::time::SystemTime;

use crate::model::{Detail, DetailKey, SiteKey};
use crate::model::{History, Report, Reports, SiteDetail, SiteWorkloads, Window};
use crate::poller::Slot;

/// Data a view shows: the last good answer with its time, and the last
/// error, like every other query.
#[derive(Debug, Clone)]
pub struct Loaded<T> {
    pub data: Option<(Arc<T>, SystemTime)>,
    pub error: Option<(String, SystemTime)>,
}

impl<T> Default for Loaded<T> {
    fn default() -> Self {
        Loaded {
            data: None,
            error: None,
        }
    }
}

impl<T> Loaded<T> {
    fn take(&mut self, slot: &Slot<Detail>, pick: impl Fn(&Detail) -> Option<&T>)
    where
        T: Clone,
    {
        if let Some(good) = &slot.last_good
            && let Some(value) = pick(&good.value)
        {
            self.data = Some((Arc::new(value.clone()), good.at));
        }
        self.error = slot
            .last_error
            .as_ref()
            .map(|(e, at)| (e.message.clone(), *at));
    }

    pub fn value(&self) -> Option<&T> {
        self.data.as_ref().map(|(v, _)| v.as_ref())
    }
}

#[derive(Debug, Clone)]
pub struct SiteView {
    pub key: SiteKey,
    /// The site's series, as Prometheus has them: severities, bare ids.
    pub detail: Loaded<SiteDetail>,
    /// The site's latest reports, where its environment has a Loki.
    pub reports: Loaded<Reports>,
    /// `detail` with each requirement's title, value and description
    /// from the latest report that has them; `None` without one.
    shown: Option<Arc<SiteDetail>>,
    /// The site's namespace in its cluster, for the Kubernetes pane.
    pub kube: Loaded<SiteWorkloads>,
    pub selected: usize,
    /// The selected requirement by id, so a refresh that reorders the list
    /// does not move the cursor to another requirement.
    pub selected_id: Option<String>,
    pub text_scroll: u16,
    /// A run asked of the site's agent with `r`, while it goes on or after
    /// it failed; a run that made a report opens that report instead.
    pub run: Option<ManualRun>,
    /// Lines the Kubernetes pane is scrolled by, when it does not fit.
    pub kube_scroll: u16,
}

/// The site view's `r`, as far as it has come.
#[derive(Debug, Clone, PartialEq)]
pub enum ManualRun {
    Running { since: SystemTime },
    Failed { error: String, at: SystemTime },
}

impl SiteView {
    pub fn new(key: SiteKey) -> SiteView {
        SiteView {
            key,
            detail: Loaded::default(),
            reports: Loaded::default(),
            shown: None,
            kube: Loaded::default(),
            selected: 0,
            selected_id: None,
            text_scroll: 0,
            run: None,
            kube_scroll: 0,
        }
    }

    /// The site as the view shows it: Prometheus' severities, with the
    /// latest report's texts when there is one.
    pub fn shown(&self) -> Option<&SiteDetail> {
        self.shown.as_deref().or_else(|| self.detail.value())
    }

    /// The report the texts come from.
    pub fn texts_report(&self) -> Option<&Report> {
        self.reports
            .value()
            .and_then(crate::model::site::latest_with_requirements)
    }

    pub fn requirement_count(&self) -> usize {
        self.shown().map(|d| d.requirements.len()).unwrap_or(0)
    }

    pub fn select(&mut self, index: usize) {
        let count = self.requirement_count();
        self.selected = index.min(count.saturating_sub(1));
        let id = self
            .shown()
            .and_then(|d| d.requirements.get(self.selected))
            .map(|r| r.id.clone());
        if id != self.selected_id {
            self.text_scroll = 0;
        }
        self.selected_id = id;
    }

    pub fn apply(&mut self, slot: &Slot<Detail>) {
        self.detail.take(slot, |d| match d {
            Detail::Site(s) => Some(s.as_ref()),
            _ => None,
        });
        self.merge();
    }

    pub fn apply_reports(&mut self, slot: &Slot<Detail>) {
        self.reports.take(slot, |d| match d {
            Detail::Reports(r) => Some(r),
            _ => None,
        });
        self.merge();
    }

    /// Puts the report's texts on Prometheus' requirements, once per new
    /// answer rather than per frame, and keeps the cursor on its
    /// requirement (titles reorder the list).
    fn merge(&mut self) {
        self.shown = match (self.detail.value(), self.texts_report()) {
            (Some(detail), Some(report)) => Some(Arc::new(detail.with_report_texts(report))),
            _ => None,
        };
        let found = self.selected_id.as_ref().and_then(|id| {
            self.shown()
                .and_then(|d| d.requirements.iter().position(|r| &r.id == id))
        });
        match found {
            Some(i) => self.selected = i,
            None => self.select(self.selected),
        }
    }
}

#[derive(Debug, Clone)]
pub struct RequirementView {
    pub site: SiteKey,
    pub profile: String,
    pub requirement: String,
    pub title: String,
    pub window: Window,
    pub history: Loaded<History>,
    /// Cursor in the list of other sites failing the same requirement.
    pub selected: usize,
}

impl RequirementView {
    pub fn key(&self) -> DetailKey {
        DetailKey::History {
            site: self.site.clone(),
            requirement: self.requirement.clone(),
            window: self.window,
        }
    }

    pub fn apply(&mut self, slot: &Slot<Detail>) {
        self.history.take(slot, |d| match d {
            Detail::History(h) => Some(h),
            _ => None,
        });
    }
}

#[derive(Debug, Clone)]
pub struct ReportsView {
    pub site: SiteKey,
    pub reports: Loaded<Reports>,
    pub selected: usize,
    /// The selected report by its time, so a new report arriving on top
    /// does not move the cursor.
    pub selected_time: Option<i64>,
}

impl ReportsView {
    pub fn new(site: SiteKey) -> ReportsView {
        ReportsView {
            site,
            reports: Loaded::default(),
            selected: 0,
            selected_time: None,
        }
    }

    pub fn count(&self) -> usize {
        self.reports.value().map(|r| r.reports.len()).unwrap_or(0)
    }

    pub fn select(&mut self, index: usize) {
        self.selected = index.min(self.count().saturating_sub(1));
        self.selected_time = self
            .reports
            .value()
            .and_then(|r| r.reports.get(self.selected))
            .map(|r| r.time_ns);
    }

    pub fn apply(&mut self, slot: &Slot<Detail>) {
        self.reports.take(slot, |d| match d {
            Detail::Reports(r) => Some(r),
            _ => None,
        });
        let found = self.selected_time.and_then(|t| {
            self.reports
                .value()
                .and_then(|r| r.reports.iter().position(|x| x.time_ns == t))
        });
        match found {
            Some(i) => self.selected = i,
            None => self.select(self.selected),
        }
    }
}

/// The problems view: its cursor (on a site, kept by name when rows
/// move), which environment it shows (all when `None`), and the selected
/// site's latest report, which says why.
#[derive(Debug, Clone, Default)]
pub struct ProblemsView {
    pub selected: usize,
    pub selected_key: Option<SiteKey>,
    /// Index into the app's environments.
    pub env: Option<usize>,
    pub why_key: Option<DetailKey>,
    pub why: Loaded<Reports>,
}

/// One report, kept as it was when opened (reports never change), with the
/// one before it for the diff.
#[derive(Debug, Clone)]
pub struct ReportView {
    pub site: SiteKey,
    pub report: Arc<Report>,
    pub previous: Option<Arc<Report>>,
    pub selected: usize,
    pub text_scroll: u16,
    pub show_diff: bool,
    /// Made just now by a run asked of the agent (`r`), not read from Loki.
    pub fresh: bool,
}

impl ReportView {
    pub fn row_count(&self) -> usize {
        if self.show_diff {
            match &self.previous {
                Some(p) => {
                    let d = crate::model::report::diff(p, &self.report);
                    d.added.len() + d.removed.len() + d.changed.len()
                }
                None => 0,
            }
        } else {
            self.report.requirements.len()
        }
    }
}

#[derive(Debug, Clone)]
pub enum View {
    Site(SiteView),
    Requirement(RequirementView),
    Reports(ReportsView),
    Report(ReportView),
    Transitions {
        selected: usize,
    },
    Pivot {
        selected: usize,
    },
    /// Every firing and pending alert of the fleet, by alert name.
    Alerts {
        selected: usize,
    },
    /// Every site that is not OK, worst first, and why.
    Problems(ProblemsView),
    PivotSites {
        requirement: String,
        selected: usize,
    },
    /// How far a profile's new version has come, in every environment.
    Rollout {
        profile: String,
        scroll: u16,
    },
    Help {
        scroll: u16,
    },
}

impl View {
    /// The detail queries this view needs polled.
    pub fn watches(&self) -> Vec<DetailKey> {
        match self {
            View::Site(v) => vec![
                DetailKey::Site(v.key.clone()),
                DetailKey::Workloads(v.key.clone()),
            ],
            View::Requirement(v) => vec![DetailKey::History {
                site: v.site.clone(),
                requirement: v.requirement.clone(),
                window: v.window,
            }],
            View::Reports(v) => vec![DetailKey::Reports(v.site.clone())],
            // The selected site's latest report says why: `App::sync_watches`
            // knows which site that is.
            View::Problems(_) => Vec::new(),
            // Per environment: `App::sync_watches` knows them.
            View::Rollout { .. } => Vec::new(),
            View::Report(_)
            | View::Transitions { .. }
            | View::Pivot { .. }
            | View::Alerts { .. }
            | View::PivotSites { .. }
            | View::Help { .. } => Vec::new(),
        }
    }

    pub fn apply(&mut self, key: &DetailKey, slot: &Slot<Detail>) {
        match self {
            View::Site(v) if DetailKey::Site(v.key.clone()) == *key => v.apply(slot),
            View::Site(v) if DetailKey::Reports(v.key.clone()) == *key => v.apply_reports(slot),
            View::Site(v) if DetailKey::Workloads(v.key.clone()) == *key => {
                v.kube.take(slot, |d| match d {
                    Detail::Workloads(w) => Some(w),
                    _ => None,
                })
            }
            View::Requirement(v) if v.key() == *key => v.apply(slot),
            View::Reports(v) if DetailKey::Reports(v.site.clone()) == *key => v.apply(slot),
            View::Problems(v) if v.why_key.as_ref() == Some(key) => v.why.take(slot, |d| match d {
                Detail::Reports(r) => Some(r),
                _ => None,
            }),
            _ => {}
        }
    }
}
