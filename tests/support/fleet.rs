//! A fleet of Drupal sites as their status workloads report them, and its
//! rendering in the Prometheus text exposition format (version 0.0.4), with
//! the metric and label names of the data contract
//! (/work/shared/CONTRACT.md).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// A series' labels, `__name__` included, as Prometheus reports them.
pub type Labels = BTreeMap<String, String>;

/// `(env, profile, site)`: a site as `max by (env, profile, site) (…)` keys it.
pub type SiteKey = (String, String, String);

pub const ENVIRONMENTS: [&str; 3] = ["dev", "test", "prod"];

pub const PROFILES: [&str; 10] = [
    "kk_base",
    "kk_borger",
    "kk_campaign",
    "kk_culture",
    "kk_event",
    "kk_intranet",
    "kk_library",
    "kk_local",
    "kk_school",
    "kk_sport",
];

/// The requirements every generated site reports, with the severity (sid)
/// they have on a healthy site. Ids are real Drupal requirement ids,
/// spaces and URIs included.
pub const REQUIREMENTS: [(&str, i8); 13] = [
    ("cron", 0),
    ("database_system", -1),
    ("drupal", -1),
    ("entity_update", 0),
    ("file system", 0),
    ("php", -1),
    ("php_opcache", 0),
    ("public:///.htaccess", 0),
    ("search_api_server_unavailable", 0),
    ("trusted_host_patterns", 0),
    ("update", 0),
    ("update_contrib", 0),
    ("update_core", 0),
];

/// Exists only while it fails, as in Drupal.
pub const CONFIG_SYNC: &str = "config sync directory";

/// Requirements that the builder makes warn or fail.
const WARNABLE: [&str; 6] = [
    "cron",
    "update",
    "update_contrib",
    "update_core",
    "php_opcache",
    "trusted_host_patterns",
];
const FAILABLE: [&str; 8] = [
    "entity_update",
    "file system",
    "public:///.htaccess",
    "search_api_server_unavailable",
    "trusted_host_patterns",
    "update",
    "cron",
    CONFIG_SYNC,
];

pub const SEVERITY_INFO: i8 = -1;
pub const SEVERITY_OK: i8 = 0;
pub const SEVERITY_WARNING: i8 = 1;
pub const SEVERITY_ERROR: i8 = 2;

/// The part a generated site plays. Set by [`FleetBuilder`] and never
/// updated by later changes: it says what the site was made to look like,
/// not what it looks like now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SiteKind {
    /// Every requirement info or OK, ran successfully and recently.
    Ok,
    /// Worst requirement is a warning.
    Warning,
    /// At least one requirement is an error.
    Error,
    /// `drupal_status_report_success` is 0; requirements (from the last
    /// good run) are all fine, so only the failure tells it apart from OK.
    RunFailed,
    /// Requirements fine, but the last run was [`FleetBuilder::stale_age`]
    /// seconds before the fleet was built.
    Stale,
    /// Publishes no series at all: a dead status workload.
    NoData,
}

impl SiteKind {
    pub const ALL: [SiteKind; 6] = [
        SiteKind::Ok,
        SiteKind::Warning,
        SiteKind::Error,
        SiteKind::RunFailed,
        SiteKind::Stale,
        SiteKind::NoData,
    ];
}

/// The versions in a site's `drupal_info` series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrupalInfo {
    pub drupal_version: String,
    pub php_version: String,
    pub drush_version: String,
    pub profile_version: String,
}

impl Default for DrupalInfo {
    fn default() -> Self {
        DrupalInfo {
            drupal_version: "10.3.6".into(),
            php_version: "8.3.12".into(),
            drush_version: "13.3.1".into(),
            profile_version: "3.14.0".into(),
        }
    }
}

/// One site's status workload: what it publishes on its next scrape.
#[derive(Debug, Clone, PartialEq)]
pub struct Site {
    pub name: String,
    pub env: String,
    pub profile: String,
    pub kind: SiteKind,
    /// Requirement id → sid (-1..2). Values outside Drupal's scale are
    /// served as they are, for tests of bad data.
    pub requirements: BTreeMap<String, i8>,
    pub success: bool,
    /// Unix time of the last run, seconds.
    pub last_run: f64,
    pub duration: f64,
    pub info: DrupalInfo,
    /// Publishes no series at all (dead workload). The rest of the state is
    /// kept, so un-silencing brings the site back as it was.
    pub silent: bool,
}

impl Site {
    /// A healthy site: every requirement of [`REQUIREMENTS`] at its healthy
    /// severity, last run successful and just now.
    pub fn new(name: &str, env: &str, profile: &str) -> Site {
        Site {
            name: name.into(),
            env: env.into(),
            profile: profile.into(),
            kind: SiteKind::Ok,
            requirements: REQUIREMENTS
                .iter()
                .map(|(id, sid)| (id.to_string(), *sid))
                .collect(),
            success: true,
            last_run: unix_now().floor(),
            duration: 2.5,
            info: DrupalInfo::default(),
            silent: false,
        }
    }

    pub fn key(&self) -> SiteKey {
        (self.env.clone(), self.profile.clone(), self.name.clone())
    }

    /// The worst severity of its requirements as Prometheus would compute
    /// it; `None` when it publishes no requirement series.
    pub fn worst_severity(&self) -> Option<i8> {
        if self.silent {
            return None;
        }
        self.requirements.values().copied().max()
    }

    pub fn set_severity(&mut self, requirement: &str, sid: i8) {
        self.requirements.insert(requirement.to_string(), sid);
    }

    pub fn remove_requirement(&mut self, requirement: &str) {
        self.requirements.remove(requirement);
    }

    fn site_labels(&self, name: &str) -> Labels {
        let mut labels = Labels::new();
        labels.insert("__name__".into(), name.into());
        labels.insert("site".into(), self.name.clone());
        labels.insert("env".into(), self.env.clone());
        labels.insert("profile".into(), self.profile.clone());
        labels
    }
}

/// The sites one exporter serves.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fleet {
    pub sites: Vec<Site>,
}

/// How long before its last (failed) run a failing site last ran well.
pub const LAST_GOOD_BEFORE_FAILING: f64 = 3.0 * 3600.0;

/// A metric family of the contract, with its help text.
const FAMILIES: [(&str, &str); 6] = [
    (
        "drupal_requirement_severity",
        "Severity (sid) of a Drupal status report requirement: -1 info, 0 ok, 1 warning, 2 error.",
    ),
    (
        "drupal_status_report_success",
        "1 if the last status report run parsed, else 0.",
    ),
    (
        "drupal_status_report_last_run_timestamp_seconds",
        "Unix time of the last status report run.",
    ),
    (
        "drupal_status_report_last_success_timestamp_seconds",
        "Unix time of the last status report run that parsed.",
    ),
    (
        "drupal_status_report_duration_seconds",
        "How long drush core-requirements took.",
    ),
    ("drupal_info", "Versions of the site's software."),
];

impl Fleet {
    pub fn new(sites: Vec<Site>) -> Fleet {
        Fleet { sites }
    }

    /// The site named `name`. Panics when there is none, or when the name
    /// is used in more than one environment (use [`Fleet::site_in`]).
    pub fn site(&self, name: &str) -> &Site {
        let index = self.index_of(name);
        &self.sites[index]
    }

    pub fn site_mut(&mut self, name: &str) -> &mut Site {
        let index = self.index_of(name);
        &mut self.sites[index]
    }

    pub fn site_in(&self, env: &str, name: &str) -> &Site {
        self.sites
            .iter()
            .find(|s| s.env == env && s.name == name)
            .unwrap_or_else(|| panic!("no site {name:?} in env {env:?} in the fleet"))
    }

    pub fn site_in_mut(&mut self, env: &str, name: &str) -> &mut Site {
        self.sites
            .iter_mut()
            .find(|s| s.env == env && s.name == name)
            .unwrap_or_else(|| panic!("no site {name:?} in env {env:?} in the fleet"))
    }

    fn index_of(&self, name: &str) -> usize {
        let mut found = self
            .sites
            .iter()
            .enumerate()
            .filter(|(_, s)| s.name == name);
        let (index, _) = found
            .next()
            .unwrap_or_else(|| panic!("no site named {name:?} in the fleet"));
        assert!(
            found.next().is_none(),
            "site name {name:?} is used in several envs; use site_in(env, name)"
        );
        index
    }

    /// Sites the builder made to be of `kind`.
    pub fn of_kind(&self, kind: SiteKind) -> Vec<&Site> {
        self.sites.iter().filter(|s| s.kind == kind).collect()
    }

    /// The first site the builder made to be of `kind`. Panics if none.
    pub fn first_of_kind(&self, kind: SiteKind) -> &Site {
        self.sites
            .iter()
            .find(|s| s.kind == kind)
            .unwrap_or_else(|| panic!("no {kind:?} site in the fleet"))
    }

    /// What `max by (env, profile, site) (drupal_requirement_severity)`
    /// returns for this fleet: silent sites and sites without requirements
    /// are absent.
    pub fn worst_severity(&self) -> BTreeMap<SiteKey, i8> {
        self.sites
            .iter()
            .filter_map(|s| Some((s.key(), s.worst_severity()?)))
            .collect()
    }

    /// Every series the fleet publishes, labels (`__name__` included) →
    /// value, in the form a Prometheus instant query returns them, less the
    /// `instance` and `job` labels Prometheus adds.
    pub fn series(&self) -> BTreeMap<Labels, f64> {
        self.samples().collect()
    }

    /// How many series the fleet publishes (`series().len()`, cheaply).
    pub fn series_count(&self) -> usize {
        self.sites
            .iter()
            .filter(|s| !s.silent)
            .map(|s| s.requirements.len() + FAMILIES.len() - 1)
            .sum()
    }

    /// Same as [`Fleet::series`], in exposition order (family by family).
    fn samples(&self) -> impl Iterator<Item = (Labels, f64)> + '_ {
        FAMILIES.iter().flat_map(move |(family, _)| {
            self.sites
                .iter()
                .filter(|s| !s.silent)
                .flat_map(move |site| site_samples(site, family))
        })
    }

    /// The fleet in the Prometheus text exposition format, version 0.0.4.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(self.sites.len() * 2048);
        for (family, help) in FAMILIES {
            let _ = writeln!(out, "# HELP {family} {help}");
            let _ = writeln!(out, "# TYPE {family} gauge");
            for site in self.sites.iter().filter(|s| !s.silent) {
                for (labels, value) in site_samples(site, family) {
                    write_sample(&mut out, &labels, value);
                }
            }
        }
        out
    }
}

fn site_samples(site: &Site, family: &str) -> Vec<(Labels, f64)> {
    let base = site.site_labels(family);
    match family {
        "drupal_requirement_severity" => site
            .requirements
            .iter()
            .map(|(requirement, sid)| {
                let mut labels = base.clone();
                labels.insert("requirement".into(), requirement.clone());
                (labels, f64::from(*sid))
            })
            .collect(),
        "drupal_status_report_success" => vec![(base, if site.success { 1.0 } else { 0.0 })],
        "drupal_status_report_last_run_timestamp_seconds" => vec![(base, site.last_run)],
        // A site whose runs fail has not had a good one for three hours.
        "drupal_status_report_last_success_timestamp_seconds" => vec![(
            base,
            if site.success {
                site.last_run
            } else {
                site.last_run - LAST_GOOD_BEFORE_FAILING
            },
        )],
        "drupal_status_report_duration_seconds" => vec![(base, site.duration)],
        "drupal_info" => {
            let mut labels = base;
            let info = &site.info;
            labels.insert("drupal_version".into(), info.drupal_version.clone());
            labels.insert("php_version".into(), info.php_version.clone());
            labels.insert("drush_version".into(), info.drush_version.clone());
            labels.insert("profile_version".into(), info.profile_version.clone());
            vec![(labels, 1.0)]
        }
        other => unreachable!("unknown family {other}"),
    }
}

fn write_sample(out: &mut String, labels: &Labels, value: f64) {
    out.push_str(&labels["__name__"]);
    out.push('{');
    let mut first = true;
    for (name, value) in labels.iter().filter(|(name, _)| *name != "__name__") {
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(name);
        out.push_str("=\"");
        escape_label_value(out, value);
        out.push('"');
    }
    out.push_str("} ");
    out.push_str(&format_value(value));
    out.push('\n');
}

/// Label values in the text format: backslash, double quote and line feed
/// are escaped; everything else is UTF-8 as it is.
pub fn escape_label_value(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// A sample value as the text format (and Go's ParseFloat) spells it.
pub fn format_value(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value == f64::INFINITY {
        "+Inf".into()
    } else if value == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        // Rust's Display is the shortest string that round-trips.
        format!("{value}")
    }
}

pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock before 1970")
        .as_secs_f64()
}

/// Makes a realistic fleet deterministically: for a number of sites and a
/// seed, the same sites, environments, profiles, requirements and kinds.
/// Only run times depend on [`FleetBuilder::now`] (default: the clock).
///
/// Sites are named `site-00001`…, spread over dev/test/prod (a quarter
/// each in dev and test, half in prod) and the 10 [`PROFILES`]; roughly
/// 40 % are OK, 20 % warn, 25 % fail, and 5 % each failed to run, are
/// stale or publish nothing ([`FleetBuilder::error_percent`] moves the
/// share that fails). With 6 sites or more, every [`SiteKind`] is
/// present; with 3 or more, every environment.
#[derive(Debug, Clone)]
pub struct FleetBuilder {
    sites: usize,
    seed: u64,
    now: Option<f64>,
    stale_age: f64,
    error_percent: u64,
}

impl FleetBuilder {
    pub fn new(sites: usize) -> FleetBuilder {
        FleetBuilder {
            sites,
            seed: 1,
            now: None,
            stale_age: 7200.0,
            error_percent: 25,
        }
    }

    /// The share of sites made [`SiteKind::Error`], in percent (default
    /// 25), for an alert storm: OK and warning sites give way to them,
    /// keeping their 2:1 ratio, so the sites that failed to run, are stale
    /// or publish nothing stay 5 % each. At most 85.
    pub fn error_percent(mut self, percent: u64) -> FleetBuilder {
        assert!(
            percent <= 85,
            "{percent} % in error leaves no room for the 15 % of the other failing kinds"
        );
        self.error_percent = percent;
        self
    }

    pub fn seed(mut self, seed: u64) -> FleetBuilder {
        self.seed = seed;
        self
    }

    /// The Unix time the fleet is built at; fresh sites ran up to 5 minutes
    /// before it.
    pub fn now(mut self, unix_seconds: f64) -> FleetBuilder {
        self.now = Some(unix_seconds);
        self
    }

    /// How long before `now` stale sites last ran, in seconds (default
    /// 7200, well past 3 × a 5-minute run interval).
    pub fn stale_age(mut self, seconds: f64) -> FleetBuilder {
        self.stale_age = seconds;
        self
    }

    pub fn build(&self) -> Fleet {
        let now = self.now.unwrap_or_else(|| unix_now().floor());
        let n = self.sites;
        // Spread one site of each kind over the fleet so every kind exists.
        let forced: BTreeMap<usize, SiteKind> = if n >= SiteKind::ALL.len() {
            SiteKind::ALL
                .iter()
                .enumerate()
                .map(|(k, kind)| (k * n / SiteKind::ALL.len() + 1, *kind))
                .collect()
        } else {
            BTreeMap::new()
        };
        const ENV_PATTERN: [usize; 8] = [0, 1, 2, 2, 2, 0, 2, 1];
        // The same draw decides every site's kind whatever the share, so the
        // default share makes the fleet it always made.
        let healthy = 85 - self.error_percent;
        let ok = healthy * 2 / 3;
        let sites = (1..=n)
            .map(|i| {
                let mut rng = Rng::new(self.seed, i as u64);
                let env = ENVIRONMENTS[ENV_PATTERN[(i - 1) % ENV_PATTERN.len()]];
                let profile = PROFILES[i % PROFILES.len()];
                let kind = forced
                    .get(&i)
                    .copied()
                    .unwrap_or_else(|| match rng.below(100) {
                        draw if draw < ok => SiteKind::Ok,
                        draw if draw < healthy => SiteKind::Warning,
                        0..85 => SiteKind::Error,
                        85..90 => SiteKind::RunFailed,
                        90..95 => SiteKind::Stale,
                        _ => SiteKind::NoData,
                    });
                let mut site = Site::new(&format!("site-{i:05}"), env, profile);
                site.kind = kind;
                site.last_run = now - 5.0 - rng.below(290) as f64 - 0.25 * rng.below(4) as f64;
                site.duration = 1.5 + rng.below(4000) as f64 / 1000.0;
                site.info.profile_version = format!("3.14.{}", rng.below(4));
                if rng.below(10) == 0 {
                    site.info.drupal_version = "10.2.10".into();
                    site.info.php_version = "8.2.24".into();
                }
                match kind {
                    SiteKind::Ok => {}
                    SiteKind::Warning => {
                        for _ in 0..1 + rng.below(2) {
                            site.set_severity(rng.pick(&WARNABLE), SEVERITY_WARNING);
                        }
                    }
                    SiteKind::Error => {
                        for _ in 0..1 + rng.below(2) {
                            site.set_severity(rng.pick(&FAILABLE), SEVERITY_ERROR);
                        }
                        if rng.below(2) == 0 {
                            let requirement = rng.pick(&WARNABLE);
                            if site.requirements[requirement] < SEVERITY_WARNING {
                                site.set_severity(requirement, SEVERITY_WARNING);
                            }
                        }
                    }
                    SiteKind::RunFailed => site.success = false,
                    SiteKind::Stale => site.last_run = now - self.stale_age,
                    SiteKind::NoData => site.silent = true,
                }
                site
            })
            .collect();
        Fleet { sites }
    }
}

/// splitmix64, seeded per site so sites do not depend on each other.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, stream: u64) -> Rng {
        let mut rng = Rng(seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        rng.next();
        rng
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}
