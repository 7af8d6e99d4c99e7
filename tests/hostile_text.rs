//! Untrusted text (site names, requirement ids, titles, values,
//! descriptions, raw lines) carrying escape sequences, control characters,
//! bidi overrides and megabyte lines goes through the real parsers and the
//! real terminal backend; the bytes written must hold no sequence the
//! dashboard did not write itself.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};
use site_status::app::keymap::{Action, Scope};
use site_status::app::{App, Settings};
use site_status::model::{Reports, parse_report_line};
use site_status::poller::{Detail, DetailKey, Fetched, SiteKey, Slot};
use site_status::source::EnvReport;
use site_status::source::prometheus::{FleetQueries, Labels, Sample, merge_grid};
use site_status::terminal::FrameBackend;
use site_status::ui::{self, Theme};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const EVIL: &str =
    "\u{1b}]52;c;ZXZpbA==\u{7}\u{1b}[2J\u{1b}[31m\u{9b}6n\u{202e}\u{2066}\u{0}\u{7f}\r\u{8}";

fn hostile_loki_lines() -> Vec<(i64, String)> {
    let fixture = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/loki/query-range-hostile.json"),
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&fixture).unwrap();
    let mut lines: Vec<(i64, String)> = v["data"]["result"][0]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e[0].as_str().unwrap().parse().unwrap(),
                e[1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    // And our own worst: escapes in every field, a megabyte value, a raw line.
    let report = serde_json::json!({
        "site": EVIL, "env": "prod", "profile": EVIL,
        "requirements": {
            format!("id{EVIL}"): {"title": format!("title{EVIL}"), "severity": "Error", "sid": 2,
                                  "value": format!("value{EVIL}{}", "x".repeat(1 << 20)),
                                  "description": format!("desc{EVIL} \n[1] https://evil{EVIL}\n")},
        },
        "stderr_tail": EVIL,
    });
    lines.insert(0, (lines[0].0 + 1_000_000_000, report.to_string()));
    lines.push((lines[0].0 - 9_000_000_000, format!("not json {EVIL}")));
    lines
}

fn labels(site: &str, profile: &str, extra: Option<(&str, &str)>) -> Labels {
    let mut l = Labels::from([("site", site), ("profile", profile)]);
    if let Some((k, v)) = extra {
        l.insert(k, v);
    }
    l
}

/// Every escape sequence in the output must be one the backend writes:
/// cursor positioning, SGR colours and attributes, cursor show/hide.
fn assert_only_own_sequences(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for bad in [
        '\u{7}', '\u{9b}', '\u{202e}', '\u{2066}', '\u{0}', '\u{7f}', '\u{8}', '\r',
    ] {
        assert!(!text.contains(bad), "{bad:?} reached the terminal");
    }
    let mut rest = bytes;
    while let Some(at) = rest.iter().position(|b| *b == 0x1b) {
        let seq = &rest[at..];
        assert!(
            seq.len() > 2 && seq[1] == b'[',
            "non-CSI escape: {:?}",
            String::from_utf8_lossy(&seq[..seq.len().min(12)])
        );
        let end = seq[2..]
            .iter()
            .position(|b| (0x40..=0x7e).contains(b))
            .map(|p| p + 2)
            .expect("unterminated CSI");
        let params = &seq[2..end];
        let final_byte = seq[end];
        let allowed = match final_byte {
            b'H' | b'm' => params
                .iter()
                .all(|b| b.is_ascii_digit() || *b == b';' || *b == b':'),
            b'h' | b'l' => params == b"?25",
            _ => false,
        };
        assert!(
            allowed,
            "unexpected sequence {:?}",
            String::from_utf8_lossy(&seq[..=end])
        );
        rest = &rest[at + end + 1..];
    }
}

#[test]
fn no_byte_from_a_hostile_site_reaches_the_terminal_unsanitized() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_470_000);
    let config = site_status::config::Config::parse(
        "[[environment]]\nname = \"prod\"\n[environment.prometheus]\nurl = \"http://127.0.0.1:9\"\n",
        Path::new("t.toml"),
    )
    .unwrap();
    let queries = FleetQueries::new(&config, &config.environments[0]);
    let sample = |l, value| Sample {
        labels: l,
        value,
        at: None,
    };
    let evil_site = format!("site{EVIL}");
    let sites = merge_grid(
        &queries,
        [
            vec![
                sample(labels(&evil_site, EVIL, None), 2.0),
                sample(labels(&"y".repeat(1 << 20), "p", None), 1.0),
            ],
            vec![sample(
                labels(&evil_site, EVIL, Some(("requirement", EVIL))),
                2.0,
            )],
            vec![sample(labels(&evil_site, EVIL, None), 0.0)],
            vec![],
            vec![],
            vec![sample(labels(&evil_site, EVIL, Some(("class", EVIL))), 1.0)],
        ],
        1_795_470_000.0,
    )
    .sites;

    let mut app = App::new(Settings::default(), &["prod".to_string()], 120, 40);
    app.now = now;
    app.apply_fleet(
        0,
        &Slot {
            last_good: Some(Fetched {
                value: Arc::new(EnvReport {
                    sites,
                    warnings: vec![format!("warn{EVIL}")],
                    silences: None,
                    partial: false,
                }),
                at: now,
            }),
            ..Slot::default()
        },
    );

    let capture = Capture::default();
    let theme = Theme::dark();
    // A fresh terminal per frame, so every frame is written in full.
    let draw = |app: &App| {
        let mut terminal = Terminal::with_options(
            FrameBackend::new(capture.clone()),
            TerminalOptions {
                viewport: Viewport::Fixed(Rect::new(0, 0, 120, 40)),
            },
        )
        .unwrap();
        terminal.draw(|f| ui::draw(f, app, &theme)).unwrap();
    };

    draw(&app);
    app.perform(Scope::Grid, Action::ToggleCompact);
    draw(&app);
    app.perform(Scope::Grid, Action::ToggleCompact);

    // The site view, fed requirements parsed from the hostile lines.
    let key = app
        .grid
        .layout
        .sites
        .iter()
        .position(|s| {
            app.envs[s.env].fleet.sites[s.index]
                .name
                .starts_with("site")
        })
        .unwrap();
    for _ in 0..key {
        app.perform(Scope::Grid, Action::Right);
    }
    app.perform(Scope::Grid, Action::Open);
    let site = match app.stack.last() {
        Some(site_status::app::View::Site(v)) => v.key.clone(),
        _ => panic!("site view did not open"),
    };
    let reports: Vec<_> = hostile_loki_lines()
        .iter()
        .map(|(t, l)| parse_report_line(l, *t))
        .collect();
    let detail = site_status::model::SiteDetail {
        summary: app.envs[0].fleet.sites[0].clone(),
        requirements: reports[0].requirements.clone(),
        run_duration: Some(1.0),
        info: None,
        last_success: None,
        alerts: vec![],
        alerts_error: None,
    };
    app.apply_detail(
        &DetailKey::Site(site.clone()),
        &Slot {
            last_good: Some(Fetched {
                value: Arc::new(Detail::Site(Box::new(detail))),
                at: now,
            }),
            ..Slot::default()
        },
    );
    draw(&app);
    app.perform(Scope::Site, Action::ScrollTextDown);
    draw(&app);

    // The reports list, one report, its diff, and the raw line.
    app.perform(Scope::Site, Action::OpenReports);
    app.apply_detail(
        &DetailKey::Reports(SiteKey { ..site.clone() }),
        &Slot {
            last_good: Some(Fetched {
                value: Arc::new(Detail::Reports(Reports {
                    reports: reports.clone(),
                    notices: vec![format!("note{EVIL}")],
                })),
                at: now,
            }),
            ..Slot::default()
        },
    );
    draw(&app);
    for i in 0..reports.len() {
        if i > 0 {
            app.perform(Scope::Reports, Action::Down);
        }
        app.perform(Scope::Reports, Action::Open);
        draw(&app);
        app.perform(Scope::Report, Action::ToggleDiff);
        draw(&app);
        app.perform(Scope::Report, Action::Back);
    }

    let bytes = capture.0.lock().unwrap().clone();
    assert!(bytes.len() > 10_000, "frames were written");
    assert!(
        String::from_utf8_lossy(&bytes).contains("clipboard"),
        "hostile text is shown, inert"
    );
    assert_only_own_sequences(&bytes);
}
