//! The site view's Kubernetes pane: the site's workloads and their rollout,
//! its pods (not ready first, with Kubernetes' reason), restart counts and
//! the latest Warning events, newest first.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::{Paint, format_age, format_age_seconds, truncate};
use crate::app::views::Loaded;
use crate::app::{App, HitMap, SiteView, age};
use crate::model::{PodInfo, PodReason, RolloutState, SiteState, SiteWorkloads, WarningEvent};

/// How many lines the pane needs at `width`, its title included, within
/// `most`: the full pane when it fits, else the compact one (what `draw`
/// will show), so a narrow site view gives it just enough room.
pub fn wanted_height(
    app: &App,
    kube: &Loaded<SiteWorkloads>,
    width: u16,
    most: u16,
    paint: Paint,
) -> u16 {
    let error = usize::from(kube.error.is_some());
    let Some(w) = kube.value() else {
        return (1 + error + 1).min(most as usize) as u16;
    };
    let full = 1 + error + body_lines(w, app, width as usize, false, paint).len();
    let wanted = if full <= most as usize {
        full
    } else {
        1 + error + body_lines(w, app, width as usize, true, paint).len()
    };
    wanted.min(most as usize) as u16
}

/// The pane, scrolled by `view.kube_scroll` lines when its telling lines
/// do not fit either; then its area goes into `hits`, for the wheel.
pub fn draw(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    view: &SiteView,
    paint: Paint,
    hits: &mut HitMap,
) {
    let kube = &view.kube;
    let theme = paint.theme;
    let mut title = vec![Span::styled(
        " Kubernetes ",
        theme.accent().add_modifier(Modifier::BOLD),
    )];
    if let Some((w, at)) = &kube.data {
        title.push(Span::styled(
            format!(
                "namespace {} · {} ago ",
                w.namespace,
                format_age(age(app.now, *at))
            ),
            theme.muted(),
        ));
    }
    let block = Block::default()
        .borders(Borders::TOP)
        .border_style(theme.border())
        .title(Line::from(title));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = inner.width as usize;

    let mut lines: Vec<Line> = Vec::new();
    if let Some((error, at)) = &kube.error {
        let stale = if kube.data.is_some() { "STALE · " } else { "" };
        lines.push(Line::from(Span::styled(
            format!(
                "{stale}error {} ago: {error}",
                format_age(age(app.now, *at))
            ),
            theme.state(SiteState::Error),
        )));
    }
    let Some(w) = kube.value() else {
        if kube.error.is_none() {
            lines.push(Line::from(Span::styled("loading…", theme.muted())));
        }
        frame.render_widget(Paragraph::new(lines), inner);
        return;
    };
    let full = body_lines(w, app, width, false, paint);
    // Short of room, the telling lines win: one line per workload, only
    // the pods with trouble, one line per event.
    let room = (inner.height as usize).saturating_sub(lines.len());
    let body = if full.len() > room {
        body_lines(w, app, width, true, paint)
    } else {
        full
    };
    if body.len() > room && room > 1 {
        // Still too long: the wheel over the pane scrolls it, and the
        // last line says how much is below.
        let shown = room - 1;
        hits.record_scrollable(inner, (body.len() - shown).min(u16::MAX as usize) as u16);
        let top = (view.kube_scroll as usize).min(body.len() - shown);
        let below = body.len() - top - shown;
        lines.extend(body.into_iter().skip(top).take(shown));
        lines.push(Line::from(Span::styled(
            if below > 0 {
                format!("… {below} more lines below (the wheel scrolls)")
            } else {
                format!("… {top} lines above (the wheel scrolls)")
            },
            theme.muted(),
        )));
    } else {
        lines.extend(body);
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

fn body_lines<'a>(
    w: &SiteWorkloads,
    app: &App,
    width: usize,
    compact: bool,
    paint: Paint<'a>,
) -> Vec<Line<'a>> {
    let theme = paint.theme;
    let mut lines: Vec<Line> = Vec::new();
    for notice in &w.notices {
        lines.push(Line::from(Span::styled(
            notice.clone(),
            theme.state(SiteState::Warning),
        )));
    }

    if w.workloads.is_empty() {
        lines.push(Line::from(Span::styled(
            "no Deployments or StatefulSets",
            theme.muted(),
        )));
    }
    let name_width = w
        .workloads
        .iter()
        .map(|w| w.kind.label().len() + 1 + w.name.chars().count())
        .max()
        .unwrap_or(0)
        .min(width / 2);
    let complete: Vec<&str> = w
        .workloads
        .iter()
        .filter(|w| w.rollout() == RolloutState::Complete)
        .map(|w| w.name.as_str())
        .collect();
    if compact && !complete.is_empty() {
        lines.push(Line::from(vec![
            Span::styled(
                format!("{} ", paint.glyphs.state(SiteState::Ok)),
                theme.state(SiteState::Ok),
            ),
            Span::styled(
                truncate(
                    &format!("complete: {}", complete.join(", ")),
                    width.saturating_sub(2),
                    paint.glyphs.ellipsis(),
                ),
                theme.text(),
            ),
        ]));
    }
    for workload in &w.workloads {
        let state = workload.rollout();
        if compact && state == RolloutState::Complete {
            continue;
        }
        let name = truncate(
            &format!("{} {}", workload.kind.label(), workload.name),
            name_width,
            paint.glyphs.ellipsis(),
        );
        let mut spans = vec![
            Span::styled(
                format!("{} ", paint.glyphs.state(rollout_tone(state))),
                theme.state(rollout_tone(state)),
            ),
            Span::styled(format!("{name:<name_width$} "), theme.text()),
            Span::styled(
                format!("{:<11} ", state.label()),
                theme
                    .state(rollout_tone(state))
                    .add_modifier(Modifier::BOLD),
            ),
        ];
        let old = (workload.current - workload.updated).max(0);
        let old = if old > 0 {
            format!(" · old {old}")
        } else {
            String::new()
        };
        let counts = if compact {
            format!(
                "ready {}/{} · updated {}/{}{old}",
                workload.ready, workload.desired, workload.updated, workload.desired
            )
        } else {
            format!(
                "desired {} · updated {} · ready {} · available {}{old}",
                workload.desired, workload.updated, workload.ready, workload.available
            )
        };
        let head: usize = spans.iter().map(|s| s.width()).sum();
        // The counts follow on the same line when they fit, else below.
        if compact || head + counts.chars().count() <= width {
            spans.push(Span::styled(counts, theme.text()));
            lines.push(Line::from(spans));
        } else {
            lines.push(Line::from(spans));
            lines.push(Line::from(Span::styled(
                format!("    {counts}"),
                theme.text(),
            )));
        }
        if let Some(why) = &workload.stalled {
            lines.push(Line::from(Span::styled(
                format!("    {why}"),
                theme.state(SiteState::Error),
            )));
        }
        for image in workload.images.iter().filter(|_| !compact) {
            lines.push(Line::from(Span::styled(
                format!(
                    "    {}",
                    truncate(image, width.saturating_sub(4), paint.glyphs.ellipsis())
                ),
                theme.muted(),
            )));
        }
    }

    let not_ready = w.not_ready().count();
    lines.push(Line::from(vec![
        Span::styled("Pods ", theme.accent()),
        Span::styled(
            if not_ready > 0 {
                format!("{not_ready} of {} not ready", w.pods.len())
            } else {
                format!("{} ready", w.pods.len())
            },
            if not_ready > 0 {
                theme.state(SiteState::Error)
            } else {
                theme.muted()
            },
        ),
    ]));
    let pod_width = w
        .pods
        .iter()
        .map(|p| p.name.chars().count())
        .max()
        .unwrap_or(0)
        .min(width / 2);
    let mut quiet = 0;
    for pod in &w.pods {
        if compact && pod.ready && pod.restarts == 0 {
            quiet += 1;
            continue;
        }
        pod_lines(&mut lines, pod, pod_width, width, paint);
    }
    if quiet > 0 {
        lines.push(Line::from(Span::styled(
            format!("  + {quiet} ready, never restarted"),
            theme.muted(),
        )));
    }

    lines.push(Line::from(vec![
        Span::styled("Warning events ", theme.accent()),
        Span::styled(
            if w.events_total > w.events.len() {
                format!("newest {} of {}", w.events.len(), w.events_total)
            } else if w.events.is_empty() {
                "none".to_string()
            } else {
                "newest first".to_string()
            },
            theme.muted(),
        ),
    ]));
    for event in &w.events {
        event_lines(&mut lines, event, app, width, compact, paint);
    }
    lines
}

fn rollout_tone(state: RolloutState) -> SiteState {
    match state {
        RolloutState::Complete => SiteState::Ok,
        RolloutState::InProgress => SiteState::Info,
        RolloutState::Paused | RolloutState::Degraded => SiteState::Warning,
        RolloutState::Stalled => SiteState::Error,
    }
}

fn pod_tone(pod: &PodInfo) -> SiteState {
    match pod.problem.as_ref().map(|p| &p.reason) {
        None if pod.ready => SiteState::Ok,
        None => SiteState::Warning,
        Some(PodReason::Pending) | Some(PodReason::NotReady) => SiteState::Warning,
        Some(PodReason::Waiting(_)) => SiteState::Stale,
        Some(_) => SiteState::Error,
    }
}

fn pod_lines(lines: &mut Vec<Line>, pod: &PodInfo, pod_width: usize, width: usize, paint: Paint) {
    let theme = paint.theme;
    let tone = pod_tone(pod);
    let name = truncate(&pod.name, pod_width, paint.glyphs.ellipsis());
    let mut spans = vec![
        Span::styled(
            format!("  {} ", paint.glyphs.state(tone)),
            theme.state(tone),
        ),
        Span::styled(format!("{name:<pod_width$} "), theme.text()),
    ];
    match &pod.problem {
        Some(problem) => {
            spans.push(Span::styled(
                problem.reason.label().to_string(),
                theme.state(tone).add_modifier(Modifier::BOLD),
            ));
            if let Some(container) = &problem.container {
                spans.push(Span::styled(format!(" ({container})"), theme.muted()));
            }
        }
        None if pod.ready => spans.push(Span::styled("ready", theme.muted())),
        None => spans.push(Span::styled(pod.phase.clone(), theme.state(tone))),
    }
    let restarts_style = if pod.restarts > 0 {
        theme.state(SiteState::Warning)
    } else {
        theme.muted()
    };
    spans.push(Span::styled(
        format!(" · restarts {}", pod.restarts),
        restarts_style,
    ));
    let mut said: Vec<String> = Vec::new();
    if let Some(last) = &pod.last_termination {
        // A ready pod has room on its line; a failing one says it below,
        // before Kubernetes' message.
        if pod.problem.is_none() {
            spans.push(Span::styled(format!(" · last {last}"), theme.muted()));
        } else {
            said.push(format!("last {last}"));
        }
    }
    lines.push(Line::from(spans));
    if let Some(problem) = &pod.problem {
        if !problem.message.is_empty() {
            said.push(problem.message.clone());
        }
        if let Some(image) = &problem.image
            && !problem.message.contains(image.as_str())
        {
            said.push(format!("image {image}"));
        }
        let said = said.join(" · ");
        if !said.is_empty() {
            lines.push(Line::from(Span::styled(
                format!(
                    "      {}",
                    truncate(&said, width.saturating_sub(6), paint.glyphs.ellipsis())
                ),
                theme.text(),
            )));
        }
    }
}

fn event_lines<'a>(
    lines: &mut Vec<Line<'a>>,
    event: &WarningEvent,
    app: &App,
    width: usize,
    one_line: bool,
    paint: Paint<'a>,
) {
    let theme = paint.theme;
    let when = match event.time {
        Some(t) => {
            let now = super::unix(app.now);
            format!("{:>4} ago", format_age_seconds(now - t))
        }
        None => "       ?".to_string(),
    };
    let count = if event.count > 1 {
        format!(" ×{}", event.count)
    } else {
        String::new()
    };
    let head = format!("  {when}  {} {}{count}  ", event.reason, event.object);
    let head_width = unicode_width::UnicodeWidthStr::width(head.as_str());
    let mut spans = vec![
        Span::styled(format!("  {when}  "), theme.muted()),
        Span::styled(
            event.reason.clone(),
            theme.state(SiteState::Warning).add_modifier(Modifier::BOLD),
        ),
        Span::styled(format!(" {}{count}  ", event.object), theme.text()),
    ];
    let message_width = unicode_width::UnicodeWidthStr::width(event.message.as_str());
    // The message follows on the same line when it fits (or nearly), else
    // gets a line of its own.
    if one_line || head_width + message_width <= width || width.saturating_sub(head_width) >= 40 {
        spans.push(Span::styled(
            truncate(
                &event.message,
                width.saturating_sub(head_width),
                paint.glyphs.ellipsis(),
            ),
            theme.muted(),
        ));
        lines.push(Line::from(spans));
    } else {
        lines.push(Line::from(spans));
        lines.push(Line::from(Span::styled(
            format!(
                "      {}",
                truncate(
                    &event.message,
                    width.saturating_sub(6),
                    paint.glyphs.ellipsis()
                )
            ),
            theme.muted(),
        )));
    }
}
