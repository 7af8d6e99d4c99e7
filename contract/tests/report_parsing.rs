//! Status report lines as Loki holds them: every drush fixture, every report
//! line in the Loki fixtures, hostile text, and inputs that are not reports.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use site_status_contract::drush_text::readable;
use site_status_contract::report::{
    MAX_RAW_BYTES, Report, ReportFormat, diff, format_rfc3339_utc, parse_report_bytes,
    parse_report_line,
};
use site_status_contract::{Requirement, Severity};

/// The captured fixtures, kept once for the whole workspace.
fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

fn read(rel: &str) -> String {
    let path = fixtures().join(rel);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn drush(name: &str) -> Report {
    parse_report_line(&read(&format!("drush/{name}")), 7)
}

/// One log line from a Loki response: its stream's `site` label, Loki's
/// timestamp and the line.
#[derive(Debug, Clone)]
struct Line {
    site: String,
    time_ns: i64,
    text: String,
}

/// Lines of a `query_range` response (`data.result`) or a tail frame
/// (`streams`), in the response's order; 3-tuples (structured metadata) too.
fn loki_lines(name: &str) -> Vec<Line> {
    let body: Value = serde_json::from_str(&read(&format!("loki/{name}"))).unwrap();
    let streams = if let Some(s) = body.get("streams") {
        s.clone()
    } else {
        assert_eq!(body["status"], "success", "{name}");
        if body["data"]["resultType"] != "streams" {
            return Vec::new();
        }
        body["data"]["result"].clone()
    };
    let mut lines = Vec::new();
    for stream in streams.as_array().unwrap() {
        let site = stream["stream"]["site"].as_str().unwrap().to_string();
        for value in stream["values"].as_array().unwrap() {
            let value = value.as_array().unwrap();
            assert!(value.len() == 2 || value.len() == 3, "{name}: {value:?}");
            lines.push(Line {
                site: site.clone(),
                time_ns: value[0].as_str().unwrap().parse().unwrap(),
                text: value[1].as_str().unwrap().to_string(),
            });
        }
    }
    lines
}

fn parse(line: &Line) -> Report {
    parse_report_line(&line.text, line.time_ns)
}

fn ids(report: &Report) -> Vec<&str> {
    report.requirements.iter().map(|r| r.id.as_str()).collect()
}

fn req<'a>(report: &'a Report, id: &str) -> &'a Requirement {
    report
        .requirement(id)
        .unwrap_or_else(|| panic!("no {id:?} in {:?}", ids(report)))
}

/// Ids of warnings and errors, in the report's (worst first) order.
fn failing(report: &Report) -> Vec<&str> {
    report
        .requirements
        .iter()
        .filter(|r| r.severity.is_some_and(Severity::is_failing))
        .map(|r| r.id.as_str())
        .collect()
}

/// [error, warning, ok, info, unknown]
fn counts(report: &Report) -> [usize; 5] {
    let c = report.counts();
    [c.error, c.warning, c.ok, c.info, c.unknown]
}

fn is_bidi_or_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{061C}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

fn assert_inert(text: &str, multiline: bool, what: &str) {
    for c in text.chars() {
        assert!(
            !matches!(c, '\u{1b}' | '\u{07}' | '\u{9b}'),
            "{what}: escape {c:?} in {text:?}"
        );
        assert!(!is_bidi_or_invisible(c), "{what}: {c:?} in {text:?}");
        assert!(
            !c.is_control() || (multiline && c == '\n'),
            "{what}: control {c:?} in {text:?}"
        );
    }
}

/// Every string a report hands to the UI is safe to draw (except `raw`,
/// which is documented as unsanitized), and the format's invariants hold.
fn assert_sane(report: &Report, what: &str) {
    for r in &report.requirements {
        assert_inert(&r.id, false, what);
        assert_inert(&r.title, false, what);
        assert_inert(&r.value, true, what);
        assert_inert(&r.description, true, what);
        for text in [&r.value, &r.description] {
            let readable = readable(text);
            for p in &readable.paragraphs {
                assert_inert(p, true, what);
            }
            for (_, url) in &readable.links {
                assert_inert(url, false, what);
            }
        }
    }
    for s in [&report.generated_at, &report.drupal_version]
        .into_iter()
        .flatten()
    {
        assert_inert(s, false, what);
    }
    if let Some(s) = &report.stderr_tail {
        assert_inert(s, true, what);
    }
    let unique: BTreeSet<_> = report.requirements.iter().map(|r| &r.id).collect();
    assert_eq!(
        unique.len(),
        report.requirements.len(),
        "{what}: ids unique"
    );
    if report.format == ReportFormat::Unparsed {
        assert!(report.requirements.is_empty(), "{what}");
        assert!(
            report
                .raw
                .as_ref()
                .is_some_and(|r| r.len() <= MAX_RAW_BYTES)
        );
        assert_eq!(report.worst(), None, "{what}");
    } else {
        assert_eq!(report.raw, None, "{what}");
    }
}

// ---------------------------------------------------------------------------
// drush fixtures

struct DrushCase {
    file: &'static str,
    format: ReportFormat,
    /// [error, warning, ok, info, unknown]
    counts: [usize; 5],
    worst: Option<Severity>,
    /// Warnings and errors, worst first then by title.
    failing: &'static [&'static str],
}

const BROKEN_FAILING: &[&str] = &[
    "config sync directory",
    "cron",
    "update_core",
    "entity_update",
    "update_contrib",
];

const DRUSH_CASES: &[DrushCase] = &[
    DrushCase {
        file: "drush13-healthy.json",
        format: ReportFormat::Drush,
        counts: [0, 1, 10, 9, 0],
        worst: Some(Severity::Warning),
        failing: &["update_contrib"],
    },
    DrushCase {
        file: "drush13-broken-full.json",
        format: ReportFormat::Drush,
        counts: [4, 1, 8, 8, 0],
        worst: Some(Severity::Error),
        failing: BROKEN_FAILING,
    },
    DrushCase {
        file: "drush13-severity2.json",
        format: ReportFormat::Drush,
        counts: [4, 0, 0, 0, 0],
        worst: Some(Severity::Error),
        failing: &[
            "config sync directory",
            "cron",
            "update_core",
            "entity_update",
        ],
    },
    DrushCase {
        file: "drush13-severity2-none.json",
        format: ReportFormat::Drush,
        counts: [0, 0, 0, 0, 0],
        worst: None,
        failing: &[],
    },
    DrushCase {
        file: "drush13-danish.json",
        format: ReportFormat::Drush,
        counts: [1, 2, 0, 1, 0],
        worst: Some(Severity::Error),
        failing: &["trusted_host_patterns", "update_contrib", "cron"],
    },
    DrushCase {
        file: "drush11-default-fields.json",
        format: ReportFormat::Drush,
        counts: [0, 1, 10, 9, 0],
        worst: Some(Severity::Warning),
        failing: &["update_contrib"],
    },
    DrushCase {
        file: "drush10-list.json",
        format: ReportFormat::Drush,
        counts: [0, 1, 10, 9, 0],
        worst: Some(Severity::Warning),
        failing: &["Module and theme update status"],
    },
    DrushCase {
        file: "drush10-filtered-object.json",
        format: ReportFormat::Drush,
        counts: [0, 1, 0, 0, 0],
        worst: Some(Severity::Warning),
        failing: &["Module and theme update status"],
    },
    DrushCase {
        file: "v1-envelope.json",
        format: ReportFormat::V1,
        counts: [4, 1, 8, 8, 0],
        worst: Some(Severity::Error),
        failing: BROKEN_FAILING,
    },
    DrushCase {
        file: "v1-envelope-healthy.json",
        format: ReportFormat::V1,
        counts: [0, 1, 10, 9, 0],
        worst: Some(Severity::Warning),
        failing: &["update_contrib"],
    },
];

#[test]
fn every_drush_fixture_has_expectations() {
    let mut on_disk: Vec<String> = fs::read_dir(fixtures().join("drush"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .collect();
    on_disk.sort();
    let mut covered: Vec<String> = DRUSH_CASES.iter().map(|c| c.file.to_string()).collect();
    covered.sort();
    assert_eq!(on_disk, covered);
}

#[test]
fn each_drush_shape_parses_to_its_requirements() {
    for case in DRUSH_CASES {
        let r = drush(case.file);
        let what = case.file;
        assert_sane(&r, what);
        assert_eq!(r.format, case.format, "{what}");
        assert_eq!(r.time_ns, 7, "{what}");
        assert_eq!(counts(&r), case.counts, "{what}");
        assert_eq!(r.worst(), case.worst, "{what}");
        assert_eq!(failing(&r), case.failing, "{what}");
        // Worst first throughout.
        let sevs: Vec<_> = r.requirements.iter().map(|q| q.severity).collect();
        assert!(sevs.windows(2).all(|w| w[0] >= w[1]), "{what}: {sevs:?}");
        // Bare drush and v1 carry no contract metadata.
        assert_eq!(r.generated_at, None, "{what}");
        assert_eq!(r.drush_exit_code, None, "{what}");
    }
}

const DRUSH11_IDS: [&str; 20] = [
    "configuration_files",
    "cron",
    "database_system",
    "database_system_version",
    "deployment identifier",
    "drupal",
    "entity_update",
    "file system",
    "install_profile",
    "php",
    "php_extensions",
    "php_memory_limit",
    "php_opcache",
    "public:///.htaccess",
    "search_api_server_unavailable",
    "trusted_host_patterns",
    "update",
    "update_contrib",
    "update_core",
    "webserver",
];

#[test]
fn drush13_full_fields() {
    let r = drush("drush13-broken-full.json");
    let ids: BTreeSet<_> = ids(&r).into_iter().collect();
    let mut expected: BTreeSet<_> = DRUSH11_IDS.into_iter().collect();
    expected.insert("config sync directory");
    assert_eq!(ids, expected);

    let sync = req(&r, "config sync directory");
    assert_eq!(sync.title, "Configuration sync directory");
    assert_eq!(sync.severity, Some(Severity::Error));
    assert_eq!(sync.value, "Not present\n");
    assert!(
        sync.description
            .starts_with("Your /sites/default/settings.php/ file must define the \n")
    );

    let core = req(&r, "update_core");
    assert_eq!(
        core.value,
        "Not secure! (version 10.3.7 available) [1]\n\n[1] https://default/admin/reports/updates\n"
    );
    assert_eq!(req(&r, "public:///.htaccess").severity, Some(Severity::Ok));
    assert_eq!(req(&r, "php").severity, Some(Severity::Info));
    assert_eq!(req(&r, "webserver").value, "");
    assert_eq!(
        req(&r, "trusted_host_patterns").description,
        "The trusted_host_patterns setting is set to allow /^www\\.borger\\.example\\.dk$/\n"
    );
}

#[test]
fn drush11_default_fields_take_severity_from_the_label() {
    let r = drush("drush11-default-fields.json");
    let ids: BTreeSet<_> = ids(&r).into_iter().collect();
    assert_eq!(ids, DRUSH11_IDS.into_iter().collect());
    assert!(r.requirements.iter().all(|q| q.description.is_empty()));
    assert_eq!(req(&r, "cron").severity, Some(Severity::Info));
    assert_eq!(req(&r, "configuration_files").severity, Some(Severity::Ok));
    assert_eq!(req(&r, "update_contrib").severity, Some(Severity::Warning));
    // Same severities as Drush 13 gives for the same site.
    let healthy = drush("drush13-healthy.json");
    for q in &healthy.requirements {
        assert_eq!(req(&r, &q.id).severity, q.severity, "{}", q.id);
        assert_eq!(req(&r, &q.id).value, q.value, "{}", q.id);
    }
}

#[test]
fn drush10_rows_are_identified_by_title() {
    let list = drush("drush10-list.json");
    let drush11 = drush("drush11-default-fields.json");
    // Every id is the row's title, and the titles are Drush 11's.
    for q in &list.requirements {
        assert_eq!(q.id, q.title);
    }
    let titles: BTreeSet<_> = drush11
        .requirements
        .iter()
        .map(|q| q.title.as_str())
        .collect();
    assert_eq!(ids(&list).into_iter().collect::<BTreeSet<_>>(), titles);
    assert_eq!(
        req(&list, "Cron maintenance tasks").value,
        "Last run 12 min 41 sec ago\n"
    );
    assert_eq!(req(&list, "Web server").severity, Some(Severity::Info));

    // The filtered object's key "17" is the row number in the full list: the
    // title-based id is the same in both shapes.
    let filtered = drush("drush10-filtered-object.json");
    assert_eq!(ids(&filtered), ["Module and theme update status"]);
    let d = diff(&list, &filtered);
    assert!(d.added.is_empty() && d.changed.is_empty());
    assert_eq!(d.removed.len(), 19);
}

#[test]
fn danish_text_is_decoded_from_json_escapes() {
    let r = drush("drush13-danish.json");
    assert_eq!(
        ids(&r),
        ["trusted_host_patterns", "update_contrib", "cron", "drupal"]
    );
    let thp = req(&r, "trusted_host_patterns");
    assert_eq!(thp.title, "Indstillinger for betroede værter");
    assert_eq!(thp.severity, Some(Severity::Error));
    let contrib = req(&r, "update_contrib");
    assert_eq!(
        contrib.value,
        "Forældet [1]\n\n[1] https://default/admin/reports/updates\n"
    );
    assert_eq!(
        readable(&contrib.description).paragraphs,
        ["Der er opdateringer tilgængelige til et eller flere af dine moduler eller temaer."]
    );
    assert_eq!(req(&r, "cron").value, "Sidst kørt for 3 dage siden\n");
}

#[test]
fn v1_envelopes_read_full_and_fall_back_to_errors() {
    assert_eq!(
        drush("v1-envelope.json").requirements,
        drush("drush13-broken-full.json").requirements
    );
    assert_eq!(
        drush("v1-envelope-healthy.json").requirements,
        drush("drush13-healthy.json").requirements
    );

    // Without `full`, or with a `full` that is not drush output, `errors`.
    let mut envelope: Value = serde_json::from_str(&read("drush/v1-envelope.json")).unwrap();
    envelope.as_object_mut().unwrap().remove("full");
    let r = parse_report_line(&envelope.to_string(), 0);
    assert_eq!(r.format, ReportFormat::V1);
    assert_eq!(r.requirements, drush("drush13-severity2.json").requirements);
    envelope["full"] = Value::String("drush: command not found".into());
    let r = parse_report_line(&envelope.to_string(), 0);
    assert_eq!((r.format, r.requirements.len()), (ReportFormat::V1, 4));

    // The healthy envelope's `errors` is `[]`; both unusable is unparsed.
    let mut healthy: Value = serde_json::from_str(&read("drush/v1-envelope-healthy.json")).unwrap();
    assert_eq!(healthy["errors"], Value::Array(vec![]));
    healthy["full"] = Value::Null;
    let r = parse_report_line(&healthy.to_string(), 0);
    assert_eq!((r.format, r.requirements.len()), (ReportFormat::V1, 0));
    healthy["errors"] = Value::from(3);
    assert_eq!(
        parse_report_line(&healthy.to_string(), 0).format,
        ReportFormat::Unparsed
    );
}

#[test]
fn drush_text_from_the_fixtures_reads_well() {
    let r = drush("drush13-broken-full.json");

    let cron = readable(&req(&r, "cron").description);
    assert_eq!(
        cron.paragraphs,
        [
            "Cron has not run recently. For more information, see the online handbook entry for configuring cron jobs [1]. (more information [2])Run cron [3]"
        ]
    );
    assert_eq!(
        cron.links,
        [
            (
                1,
                "https://www.drupal.org/docs/administering-a-drupal-site/cron-automated-tasks/cron-automated-tasks-overview"
                    .to_string()
            ),
            (2, "https://default/admin/config/system/cron".to_string()),
            (
                3,
                "https://default/admin/reports/status/run-cron?token=Zx9".to_string()
            ),
        ]
    );

    let core = readable(&req(&r, "update_core").value);
    assert_eq!(
        core.paragraphs,
        ["Not secure! (version 10.3.7 available) [1]"]
    );
    assert_eq!(core.link(1), Some("https://default/admin/reports/updates"));

    let entity = readable(&req(&r, "entity_update").description);
    assert_eq!(
        entity.paragraphs,
        [
            "The following changes were detected in the entity type and field definitions.\n.... Content",
            " * The /Teaser image/ field needs to be installed."
        ]
    );
    assert!(entity.links.is_empty());

    let contrib = readable(&req(&r, "update_contrib").description);
    assert_eq!(
        contrib.paragraphs,
        [
            "There are updates available for one or more of your modules or themes. To ensure the proper functioning of your site, you should update as soon as possible."
        ]
    );

    let php = readable(&req(&r, "php").value);
    assert_eq!(php.paragraphs, ["8.3.12 (more information [1])"]);
    assert_eq!(
        php.link(1),
        Some("https://default/admin/reports/status/php")
    );

    // Healthy cron: the description is nothing but links.
    let healthy = drush("drush13-healthy.json");
    let cron = readable(&req(&healthy, "cron").description);
    assert_eq!(cron.paragraphs, ["(more information [1])Run cron [2]"]);
    assert_eq!(cron.links.len(), 2);
}

// ---------------------------------------------------------------------------
// Loki fixtures

/// Expected formats, line by line, for every query-range fixture.
const LOKI_CASES: &[(&str, &[ReportFormat])] = {
    use ReportFormat::*;
    &[
        ("query-range-3tuple-structured-metadata.json", &[Contract]),
        ("query-range-bare-drush.json", &[Drush, Drush, Drush]),
        (
            "query-range-borger-history.json",
            &[Contract, Contract, Contract, Contract, Contract, Contract],
        ),
        ("query-range-borger-latest.json", &[Contract]),
        ("query-range-empty.json", &[]),
        (
            "query-range-env-prod.json",
            &[
                Contract, Contract, Contract, Contract, Contract, Contract, Contract,
            ],
        ),
        ("query-range-hostile.json", &[Contract]),
        ("query-range-metric-matrix.json", &[]),
        ("query-range-not-json.json", &[Unparsed, Unparsed]),
        ("query-range-v1-envelope.json", &[V1, V1]),
        ("tail-first-frame.json", &[Contract]),
        ("tail-new-entry-frame.json", &[Contract]),
    ]
};

#[test]
fn every_loki_line_parses_to_its_format_and_is_safe() {
    let mut on_disk: Vec<String> = fs::read_dir(fixtures().join("loki"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("query-range-") || n.starts_with("tail-"))
        .collect();
    on_disk.sort();
    let covered: Vec<String> = LOKI_CASES.iter().map(|(f, _)| f.to_string()).collect();
    assert_eq!(on_disk, covered);

    for (file, formats) in LOKI_CASES {
        let reports: Vec<Report> = loki_lines(file).iter().map(parse).collect();
        let got: Vec<_> = reports.iter().map(|r| r.format).collect();
        assert_eq!(&got, formats, "{file}");
        for r in &reports {
            assert_sane(r, file);
        }
    }
}

/// Borger's history, oldest first.
fn borger_history() -> Vec<Report> {
    let lines = loki_lines("query-range-borger-history.json");
    assert!(lines.iter().all(|l| l.site == "borger"));
    // Loki answered backward: newest first, an hour apart.
    for w in lines.windows(2) {
        assert_eq!(w[0].time_ns - w[1].time_ns, 3_600_000_000_000);
    }
    lines.iter().rev().map(parse).collect()
}

#[test]
fn borger_history_is_healthy_healthy_broken_broken_half_fixed_healthy() {
    let history = borger_history();
    assert_eq!(history.len(), 6);
    let errors: Vec<_> = history.iter().map(|r| r.counts().error).collect();
    assert_eq!(errors, [0, 0, 4, 4, 2, 0]);
    let worst: Vec<_> = history.iter().map(Report::worst).collect();
    use Severity::{Error, Warning};
    assert_eq!(
        worst,
        [
            Some(Warning),
            Some(Warning),
            Some(Error),
            Some(Error),
            Some(Error),
            Some(Warning)
        ]
    );
    let sizes: Vec<_> = history.iter().map(|r| r.requirements.len()).collect();
    assert_eq!(sizes, [20, 20, 21, 21, 20, 20]);
    assert_eq!(failing(&history[2]), BROKEN_FAILING);
    assert_eq!(
        failing(&history[4]),
        ["update_core", "entity_update", "update_contrib"]
    );
    // The report bodies are the drush fixtures.
    assert_eq!(
        history[0].requirements,
        drush("drush13-healthy.json").requirements
    );
    assert_eq!(
        history[2].requirements,
        drush("drush13-broken-full.json").requirements
    );

    for (hour, r) in (15..).zip(&history) {
        assert_eq!(r.format, ReportFormat::Contract);
        let generated = format!("2026-11-23T{hour}:46:09Z");
        assert_eq!(r.generated_at.as_deref(), Some(generated.as_str()));
        // Loki's timestamp is the push time, a fraction after generated_at.
        assert_eq!(
            r.time_rfc3339(),
            format!("2026-11-23T{hour}:46:09.892973028Z")
        );
        assert_eq!(r.duration_seconds, Some(3.1));
        assert_eq!(r.drush_exit_code, Some(0));
        assert_eq!(r.drupal_version.as_deref(), Some("10.3.6"));
        assert_eq!(r.stderr_tail, None, "empty stderr_tail is None");
    }
    assert_eq!(
        format_rfc3339_utc(history[5].time_ns / 1_000_000_000 * 1_000_000_000),
        "2026-11-23T20:46:09Z"
    );
}

#[test]
fn borger_history_diffs() {
    let h = borger_history();
    let ids = |reqs: &[Requirement]| reqs.iter().map(|r| r.id.clone()).collect::<Vec<_>>();

    assert!(diff(&h[0], &h[1]).is_empty());
    assert!(diff(&h[2], &h[3]).is_empty());
    assert!(diff(&h[1], &h[5]).is_empty());

    // Healthy → broken.
    let d = diff(&h[1], &h[2]);
    assert_eq!(ids(&d.added), ["config sync directory"]);
    assert_eq!(d.added[0].severity, Some(Severity::Error));
    assert!(d.removed.is_empty());
    let changed: Vec<_> = d
        .changed
        .iter()
        .map(|c| {
            (
                c.id.as_str(),
                c.before.severity,
                c.after.severity,
                c.severity_changed,
                c.value_changed,
            )
        })
        .collect();
    use Severity::{Error, Info, Ok};
    assert_eq!(
        changed,
        [
            ("cron", Some(Info), Some(Error), true, true),
            ("entity_update", Some(Ok), Some(Error), true, true),
            ("update_core", Some(Ok), Some(Error), true, true),
        ]
    );
    assert_eq!(d.changed[0].before.value, "Last run 12 min 41 sec ago\n");
    assert_eq!(d.changed[0].after.value, "Last run 3 weeks 2 days ago\n");

    // Broken → half fixed: the sync directory is back (its requirement
    // vanishes) and cron ran.
    let d = diff(&h[3], &h[4]);
    assert!(d.added.is_empty());
    assert_eq!(ids(&d.removed), ["config sync directory"]);
    let changed: Vec<_> = d
        .changed
        .iter()
        .map(|c| (c.id.as_str(), c.after.severity))
        .collect();
    assert_eq!(changed, [("cron", Some(Info))]);

    // Half fixed → healthy.
    let d = diff(&h[4], &h[5]);
    assert!(d.added.is_empty() && d.removed.is_empty());
    let changed: Vec<_> = d
        .changed
        .iter()
        .map(|c| (c.id.as_str(), c.after.severity))
        .collect();
    assert_eq!(
        changed,
        [("entity_update", Some(Ok)), ("update_core", Some(Ok))]
    );
}

#[test]
fn latest_tail_and_structured_metadata_lines_match_the_history() {
    let newest = parse(&loki_lines("query-range-borger-history.json")[0]);
    let latest = parse(&loki_lines("query-range-borger-latest.json")[0]);
    assert_eq!(latest, newest);
    let three = parse(&loki_lines("query-range-3tuple-structured-metadata.json")[0]);
    assert_eq!(three, newest);
    let tail = parse(&loki_lines("tail-first-frame.json")[0]);
    assert_eq!(tail, newest);

    let new_entry = parse(&loki_lines("tail-new-entry-frame.json")[0]);
    assert_eq!(ids(&new_entry), ["cron"]);
    assert_eq!(new_entry.worst(), Some(Severity::Warning));
    assert_eq!(
        new_entry.generated_at.as_deref(),
        Some("2026-11-23T21:46:21Z")
    );
    assert_eq!(new_entry.duration_seconds, Some(2.9));

    let prod = loki_lines("query-range-env-prod.json");
    let sites: Vec<_> = prod.iter().map(|l| l.site.as_str()).collect();
    assert_eq!(
        sites,
        ["borger"; 6]
            .iter()
            .copied()
            .chain(["hostile"])
            .collect::<Vec<_>>()
    );
}

#[test]
fn gammel_v1_envelopes_broken_then_healthy() {
    let lines = loki_lines("query-range-v1-envelope.json");
    assert!(lines.iter().all(|l| l.site == "gammel"));
    let (healthy, broken) = (parse(&lines[0]), parse(&lines[1]));
    assert_eq!(healthy.format, ReportFormat::V1);
    assert_eq!(
        healthy.requirements,
        drush("v1-envelope-healthy.json").requirements
    );
    assert_eq!(healthy.worst(), Some(Severity::Warning));
    assert_eq!(broken.requirements.len(), 21);
    assert_eq!(failing(&broken), BROKEN_FAILING);
    let d = diff(&broken, &healthy);
    assert_eq!(d.removed.len(), 1);
    assert_eq!(d.changed.len(), 3);
}

#[test]
fn raw_bare_drush_lines() {
    let lines = loki_lines("query-range-bare-drush.json");
    assert!(lines.iter().all(|l| l.site == "raw"));
    let reports: Vec<_> = lines.iter().map(parse).collect();
    assert_eq!(lines[0].text, "[]");
    assert_eq!(reports[0].format, ReportFormat::Drush);
    assert!(reports[0].requirements.is_empty());
    assert_eq!(reports[0].worst(), None);
    assert_eq!(
        reports[1].requirements,
        drush("drush11-default-fields.json").requirements
    );
    assert_eq!(
        reports[2].requirements,
        drush("drush10-list.json").requirements
    );
    assert_eq!(failing(&reports[1]), ["update_contrib"]);
    assert_eq!(failing(&reports[2]), ["Module and theme update status"]);
}

#[test]
fn garbage_lines_are_kept_raw() {
    let lines = loki_lines("query-range-not-json.json");
    assert!(lines.iter().all(|l| l.site == "garbage"));
    let truncated = parse(&lines[0]);
    assert_eq!(lines[0].text.len(), 300);
    assert_eq!(truncated.format, ReportFormat::Unparsed);
    assert_eq!(truncated.raw.as_deref(), Some(lines[0].text.as_str()));
    assert_eq!(truncated.generated_at, None);
    assert_eq!(truncated.worst(), None);

    let fatal = parse(&lines[1]);
    assert_eq!(fatal.format, ReportFormat::Unparsed);
    assert_eq!(
        fatal.raw.as_deref(),
        Some("PHP Fatal error:  Allowed memory size of 134217728 bytes exhausted")
    );
    assert!(fatal.requirements.is_empty());
    assert_eq!(fatal.counts().total(), 0);
}

#[test]
fn hostile_escape_sequences_become_inert() {
    let lines = loki_lines("query-range-hostile.json");
    assert!(
        lines[0].text.contains("\\u001b]52;c;"),
        "the fixture is hostile"
    );
    let r = parse(&lines[0]);
    assert_sane(&r, "hostile");
    assert_eq!(r.format, ReportFormat::Contract);
    assert_eq!(r.requirements.len(), 21);
    assert_eq!(failing(&r), BROKEN_FAILING);
    let sync = req(&r, "config sync directory");
    assert_eq!(
        sync.title,
        "Configuration sync directory\u{FFFD}]52;c;ZWNobyBvd25lZA==\u{FFFD} clipboard"
    );
    assert_eq!(sync.description, "\u{FFFD}[2J\u{FFFD}[H cleared");
    let files = req(&r, "configuration_files");
    assert_eq!(
        files.title,
        "Configuration files\u{FFFD}[2J\u{FFFD}[H cleared"
    );

    // The fixture only has ESC and BEL: add C1 CSI, bidi overrides and
    // isolates, zero-width characters and stray control bytes everywhere.
    let nasty =
        "\u{9b}31m\u{202e}evil\u{202c}\u{2066}x\u{2069}\u{200b}\u{feff}\r\u{0}\u{1b}P\u{7f}";
    let mut body: Value = serde_json::from_str(&lines[0].text).unwrap();
    let reqs = body["requirements"].as_object_mut().unwrap();
    let mut row = reqs["cron"].clone();
    for field in ["title", "value", "description"] {
        row[field] = Value::String(format!("{field}{nasty}\n{nasty}"));
    }
    reqs.insert(format!("id{nasty}"), row);
    body["stderr_tail"] = Value::String(nasty.into());
    body["drupal_version"] = Value::String(nasty.into());
    body["generated_at"] = Value::String(nasty.into());
    let r = parse_report_line(&body.to_string(), 0);
    assert_sane(&r, "nastier");
    assert_eq!(r.requirements.len(), 22);
    let added = r
        .requirements
        .iter()
        .find(|q| q.id.starts_with("id"))
        .unwrap();
    assert_eq!(added.id, "id\u{FFFD}31mevilx \u{FFFD}\u{FFFD}P\u{FFFD}");
    assert!(added.value.contains('\n'));
    assert!(added.title.starts_with("title\u{FFFD}31mevil"));
}

// ---------------------------------------------------------------------------
// Robustness

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const INSERTS: &[u8] = b"{}[]\",:0-\\\x1b\xff";
const SOUP: &[u8] = b"{}[]\",:01-2 \"sid\" \"title\" null true";

fn all_inputs() -> Vec<String> {
    let mut inputs: Vec<String> = DRUSH_CASES
        .iter()
        .map(|c| read(&format!("drush/{}", c.file)))
        .collect();
    for (file, _) in LOKI_CASES {
        inputs.extend(loki_lines(file).into_iter().map(|l| l.text));
    }
    inputs
}

#[test]
fn no_input_makes_the_parser_panic() {
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let inputs = all_inputs();
    let mut parsed = 0usize;
    let mut check = |bytes: &[u8], what: &str| {
        let r = parse_report_bytes(bytes, rng_time(bytes));
        assert_sane(&r, what);
        parsed += 1;
    };

    for (n, input) in inputs.iter().enumerate() {
        let bytes = input.as_bytes();
        // Truncations: every byte near both ends, a stride in between;
        // cuts inside multi-byte characters included.
        let stride = (bytes.len() / 400).max(1);
        let cuts = (0..bytes.len().min(64))
            .chain((0..bytes.len()).step_by(stride))
            .chain(bytes.len().saturating_sub(64)..bytes.len());
        for cut in cuts {
            check(&bytes[..cut], &format!("input {n} cut at {cut}"));
        }
        // Mutations: flip, insert or delete a few bytes.
        for round in 0..150 {
            let mut m = bytes.to_vec();
            for _ in 0..1 + rng.below(4) {
                if m.is_empty() {
                    break;
                }
                let at = rng.below(m.len());
                match rng.below(3) {
                    0 => m[at] = rng.next() as u8,
                    1 => m.insert(at, INSERTS[rng.below(INSERTS.len())]),
                    _ => {
                        m.remove(at);
                    }
                }
            }
            check(&m, &format!("input {n} mutation {round}"));
        }
    }
    // Random bytes, and random JSON-ish soup.
    for round in 0..2000 {
        let len = rng.below(200);
        let soup = round % 2 == 0;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                if soup {
                    SOUP[rng.below(SOUP.len())]
                } else {
                    rng.next() as u8
                }
            })
            .collect();
        check(&bytes, &format!("random {round}"));
    }
    assert!(parsed > 10_000, "{parsed}");
}

fn rng_time(bytes: &[u8]) -> i64 {
    // Any i64 is a valid Loki time for the parser; vary it with the input.
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x100_0000_01b3)
    }) as i64
}

#[test]
fn formatting_any_time_never_panics() {
    let mut rng = Rng(42);
    for t in [i64::MIN, i64::MIN + 1, -1, 0, 1, i64::MAX]
        .into_iter()
        .chain((0..10_000).map(|_| rng.next() as i64))
    {
        let s = format_rfc3339_utc(t);
        assert!(s.ends_with('Z') && s.len() >= 20, "{t}: {s}");
    }
}
