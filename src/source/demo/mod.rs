//! A simulated fleet that behaves like the real one: deploy waves roll
//! through profiles, a few sites are stale, silent, failing to run or
//! flapping. Deterministic for a seed and a point in simulated time, so the
//! same seed always tells the same story.

mod kube;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use super::{BoxFuture, EnvReport, FleetSource, SourceError};
use crate::model::gate::Switch;
use crate::model::{
    Alert, AlertList, DrupalInfo, History, Reports, Requirement, Rollout, Severity, SiteDetail,
    SiteSummary, SiteWorkloads, Timeline, Window, format_rfc3339_utc, parse_report_line,
    set_badges, sort_alerts, sort_requirements_worst_first,
};
use crate::model::{FailureClass, RunFailure, RunFailureReason};

pub const DEFAULT_SITES: usize = 320;
pub const DEFAULT_SEED: u64 = 1;

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

const ENVIRONMENTS: [&str; 3] = ["dev", "test", "prod"];

/// How often the simulated status workload runs drush.
const RUN_INTERVAL: f64 = 300.0;
/// Mean spacing of deploy waves; each is jittered by up to `WAVE_JITTER`,
/// so waves come every 30 to 60 seconds.
const WAVE_SPACING: f64 = 45.0;
const WAVE_JITTER: f64 = 15.0;
/// A wave reaches its last site this long after it starts.
const WAVE_ROLL: f64 = 30.0;
/// Longest a site stays broken by a wave.
const WAVE_MAX_HOLD: f64 = 25.0;
const FIRST_WAVE_AT: f64 = 4.0;

/// What a site is like for the whole run of the demo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Temper {
    Healthy,
    /// Series vanished: a dead status workload.
    Silent,
    /// Last run hours ago.
    Stale,
    RunFails,
    TargetDown,
    /// Flips between ok and warning every few polls.
    Flapping,
}

#[derive(Debug, Clone)]
struct DemoSite {
    name: String,
    profile: &'static str,
    /// Index of `profile` in `PROFILES`.
    profile_index: usize,
    temper: Temper,
    /// Chronic, long-accepted problems (`update_contrib` out of date…).
    chronic: Vec<Fault>,
    /// Offset of its drush schedule inside the run interval.
    phase: f64,
    run_duration: f64,
    hash: u64,
    /// Where a deploy wave through its profile reaches it.
    slice_position: usize,
    slice_size: usize,
}

impl DemoSite {
    /// Why a site whose runs fail fails, as a real fleet's do: most often
    /// a PHP fatal error (drush exits 255), else a hung bootstrap killed
    /// at the agent's timeout, or a database that is not there.
    fn run_failure(&self) -> Option<(RunFailure, &'static str)> {
        if self.temper != Temper::RunFails {
            return None;
        }
        Some(match self.hash % 4 {
            0 | 1 => (
                RunFailure {
                    exit_code: Some(255),
                    ..RunFailure::new(FailureClass::ExitCode)
                },
                "PHP Fatal error:  Uncaught Error: Class \"Drupal\\kk_base\\Helper\" not found in /app/web/modules/custom/kk_base/kk_base.module:42\nStack trace:\n#0 /app/vendor/drush/drush/src/Boot/DrupalBoot8.php(243): kk_base_requirements()\n[warning] Drush command terminated abnormally.\n",
            ),
            2 => (
                RunFailure::new(FailureClass::Timeout),
                "[notice] Bootstrapped Drupal, waiting for the database lock\n",
            ),
            _ => (
                RunFailure {
                    exit_code: Some(1),
                    ..RunFailure::new(FailureClass::NoDatabase)
                },
                "[error] SQLSTATE[HY000] [2002] php_network_getaddresses: getaddrinfo for mariadb failed\n",
            ),
        })
    }
}

/// How long a demo site whose runs fail has been failing: its reports of
/// the last this long are failed runs, the ones before good ones.
const FAILING_FOR_SECONDS: f64 = 45.0 * 60.0;

/// Numbers each site within its profile by name, so a wave can roll
/// through a profile in order without rescanning the fleet per site.
fn place_in_profile_slices(sites: &mut [DemoSite]) {
    let mut order: Vec<usize> = (0..sites.len()).collect();
    order.sort_by(|a, b| {
        (sites[*a].profile, &sites[*a].name).cmp(&(sites[*b].profile, &sites[*b].name))
    });
    let mut sizes = std::collections::HashMap::new();
    for i in &order {
        let size = sizes.entry(sites[*i].profile).or_insert(0usize);
        sites[*i].slice_position = *size;
        *size += 1;
    }
    for site in sites.iter_mut() {
        site.slice_size = sizes.get(site.profile).copied().unwrap_or(1);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    ContribOutdated,
    CoreInsecure,
    ConfigSyncMissing,
    CronLate,
    UpdatesPending,
    EntityMismatch,
    SearchDown,
    OpcacheOff,
}

/// The static part of one requirement as drush prints it on a healthy site.
struct Catalog {
    id: &'static str,
    title: &'static str,
    severity: Severity,
    value: &'static str,
    description: &'static str,
}

const CATALOG: &[Catalog] = &[
    Catalog {
        id: "configuration_files",
        title: "Configuration files",
        severity: Severity::Ok,
        value: "Protected\n",
        description: "",
    },
    Catalog {
        id: "cron",
        title: "Cron maintenance tasks",
        severity: Severity::Info,
        value: "Last run 12 min 41 sec ago\n",
        description: "(more information [1])Run cron [2]\n\n[1] https://default/admin/config/system/cron\n[2] https://default/admin/reports/status/run-cron\n",
    },
    Catalog {
        id: "database_system",
        title: "Database system",
        severity: Severity::Info,
        value: "MySQL, MariaDB, Percona Server, or equivalent\n",
        description: "",
    },
    Catalog {
        id: "database_system_version",
        title: "Database system version",
        severity: Severity::Info,
        value: "10.11.9-MariaDB\n",
        description: "",
    },
    Catalog {
        id: "deployment identifier",
        title: "Deployment identifier",
        severity: Severity::Info,
        value: "3.14.2\n",
        description: "",
    },
    Catalog {
        id: "drupal",
        title: "Drupal",
        severity: Severity::Info,
        value: "10.3.6\n",
        description: "",
    },
    Catalog {
        id: "entity_update",
        title: "Entity/field definitions",
        severity: Severity::Ok,
        value: "Up to date\n",
        description: "",
    },
    Catalog {
        id: "file system",
        title: "File system",
        severity: Severity::Ok,
        value: "Writable (/public/ download method)\n",
        description: "",
    },
    Catalog {
        id: "php",
        title: "PHP",
        severity: Severity::Info,
        value: "8.3.12 (more information [1])\n\n[1] https://default/admin/reports/status/php\n",
        description: "",
    },
    Catalog {
        id: "php_extensions",
        title: "PHP extensions",
        severity: Severity::Ok,
        value: "Enabled\n",
        description: "",
    },
    Catalog {
        id: "php_memory_limit",
        title: "PHP memory limit",
        severity: Severity::Ok,
        value: "-1 (Unlimited)\n",
        description: "",
    },
    Catalog {
        id: "php_opcache",
        title: "PHP OPcode caching",
        severity: Severity::Ok,
        value: "Enabled\n",
        description: "",
    },
    Catalog {
        id: "public:///.htaccess",
        title: "Public files directory",
        severity: Severity::Ok,
        value: "Protected\n",
        description: "",
    },
    Catalog {
        id: "search_api_server_unavailable",
        title: "Search API server",
        severity: Severity::Ok,
        value: "Available\n",
        description: "",
    },
    Catalog {
        id: "trusted_host_patterns",
        title: "Trusted Host Settings",
        severity: Severity::Info,
        value: "Enabled\n",
        description: "The trusted_host_patterns setting is set to allow /^www\\.example\\.dk$/\n",
    },
    Catalog {
        id: "update",
        title: "Database updates",
        severity: Severity::Ok,
        value: "Up to date\n",
        description: "",
    },
    Catalog {
        id: "update_contrib",
        title: "Module and theme update status",
        severity: Severity::Ok,
        value: "Up to date [1]\n\n[1] https://default/admin/reports/updates\n",
        description: "",
    },
    Catalog {
        id: "update_core",
        title: "Drupal core update status",
        severity: Severity::Ok,
        value: "Up to date [1]\n\n[1] https://default/admin/reports/updates\n",
        description: "",
    },
    Catalog {
        id: "webserver",
        title: "Web server",
        severity: Severity::Info,
        value: "",
        description: "",
    },
];

impl Fault {
    fn requirement_id(self) -> &'static str {
        match self {
            Fault::ContribOutdated => "update_contrib",
            Fault::CoreInsecure => "update_core",
            Fault::ConfigSyncMissing => "config sync directory",
            Fault::CronLate => "cron",
            Fault::UpdatesPending => "update",
            Fault::EntityMismatch => "entity_update",
            Fault::SearchDown => "search_api_server_unavailable",
            Fault::OpcacheOff => "php_opcache",
        }
    }

    fn severity(self) -> Severity {
        match self {
            Fault::ContribOutdated | Fault::OpcacheOff | Fault::EntityMismatch => Severity::Warning,
            Fault::CoreInsecure
            | Fault::ConfigSyncMissing
            | Fault::CronLate
            | Fault::UpdatesPending
            | Fault::SearchDown => Severity::Error,
        }
    }

    fn requirement(self) -> Requirement {
        let (title, value, description) = match self {
            Fault::ContribOutdated => (
                "Module and theme update status",
                "Out of date [1]\n\n[1] https://default/admin/reports/updates\n",
                "There are updates available for one or more of your modules or themes. To \nensure the proper functioning of your site, you should update as soon as \npossible. See the available updates page [1] for more information.\n\n[1] https://default/admin/reports/updates\n",
            ),
            Fault::CoreInsecure => (
                "Drupal core update status",
                "Not secure! (version 10.3.7 available) [1]\n\n[1] https://default/admin/reports/updates\n",
                "There is a security update available for your version of Drupal. To ensure \nthe security of your server, you should update immediately!\n",
            ),
            Fault::ConfigSyncMissing => (
                "Configuration sync directory",
                "Not present\n",
                "Your /sites/default/settings.php/ file must define the \n/$settings['config_sync_directory']/ setting as a string containing the \ndirectory in which configuration files can be found.\n",
            ),
            Fault::CronLate => (
                "Cron maintenance tasks",
                "Last run 3 weeks 2 days ago\n",
                "Cron has not run recently. For more information, see the online handbook \nentry for configuring cron jobs [1]. (more information [2])Run cron [3]\n\n[1] https://www.drupal.org/docs/administering-a-drupal-site/cron-automated-tasks/cron-automated-tasks-overview\n[2] https://default/admin/config/system/cron\n[3] https://default/admin/reports/status/run-cron\n",
            ),
            Fault::UpdatesPending => (
                "Database updates",
                "Out of date\n",
                "Some modules have database schema updates to install. You should run the \ndatabase update script [1] immediately.\n\n[1] https://default/update.php\n",
            ),
            Fault::EntityMismatch => (
                "Entity/field definitions",
                "Mismatched entity and/or field definitions\n",
                "The following changes were detected in the entity type and field definitions.\n.... Content\n\n * The /Teaser image/ field needs to be installed.\n\n",
            ),
            Fault::SearchDown => (
                "Search API server",
                "Unavailable\n",
                "The Solr server could not be reached. Further data indexing and searches \nwill fail until it is available again.\n",
            ),
            Fault::OpcacheOff => (
                "PHP OPcode caching",
                "Not enabled\n",
                "PHP OPcode caching can improve your site's performance considerably. It is \n/highly/ recommended to have OPcache [1] installed on your server.\n\n[1] http://php.net/manual/opcache.installation.php\n",
            ),
        };
        Requirement {
            id: self.requirement_id().to_string(),
            label: self.requirement_id().to_string(),
            title: title.to_string(),
            severity: Some(self.severity()),
            value: value.to_string(),
            description: description.to_string(),
        }
    }
}

/// splitmix64: small, fast, and good enough to make a fleet look random.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn hash_str(seed: u64, s: &str) -> u64 {
    s.bytes().fold(mix(seed), |h, b| mix(h ^ u64::from(b)))
}

/// A uniform number in [0, 1) from a hash.
fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

const NAME_WORDS: &[&str] = &[
    "borger",
    "kultur",
    "bibliotek",
    "idraet",
    "skole",
    "intra",
    "event",
    "natur",
    "havn",
    "park",
    "sundhed",
    "trafik",
    "miljo",
    "jobcenter",
    "ungdom",
    "musik",
    "teater",
    "museum",
    "festival",
    "valg",
    "byraad",
    "erhverv",
    "turisme",
    "klima",
    "affald",
    "vand",
    "bolig",
    "senior",
    "dagtilbud",
    "frivillig",
    "kunst",
    "film",
    "sport",
    "svoemmehal",
    "kirkegaard",
    "beredskab",
    "plan",
    "byg",
    "skat",
    "pas",
    "presse",
    "job",
    "digital",
    "data",
    "grøn",
    "cykel",
    "strand",
    "skov",
    "marked",
    "borgerservice",
];
const DISTRICTS: &[&str] = &[
    "nord",
    "syd",
    "oest",
    "vest",
    "centrum",
    "havn",
    "amager",
    "valby",
    "vanloese",
    "brønshøj",
    "bispebjerg",
    "noerrebro",
    "vesterbro",
    "oesterbro",
];

fn site_name(i: usize) -> String {
    let words = NAME_WORDS.len();
    let districts = DISTRICTS.len();
    if i < words {
        NAME_WORDS[i].to_string()
    } else if i < words * (districts + 1) {
        let j = i - words;
        format!("{}-{}", NAME_WORDS[j % words], DISTRICTS[j / words])
    } else {
        let j = i - words * (districts + 1);
        format!(
            "{}-{}-{}",
            NAME_WORDS[j % words],
            DISTRICTS[(j / words) % districts],
            j / (words * districts) + 2
        )
    }
}

/// How many of `total` sites live in each environment: the contract's
/// 60/60/200 split, scaled, with prod never empty.
pub fn environment_sizes(total: usize) -> [usize; 3] {
    let dev = total * 60 / 320;
    let test = total * 60 / 320;
    let prod = total - dev - test;
    [dev, test, prod]
}

#[derive(Debug, Clone, Copy)]
struct Wave {
    start: f64,
    env: usize,
    profile: usize,
    seed: u64,
}

/// A release a pipeline deploys through one profile of one environment
/// (`site-status rollout --demo`): it rolls like a wave, but to the version
/// asked for, and most sites come through it clean.
#[derive(Debug, Clone)]
struct PipelineDeploy {
    start: f64,
    env: usize,
    profile: usize,
    version: String,
    seed: u64,
}

/// A pipeline's deploy takes this long to reach its last site: slower than
/// a wave, so a gate has something to watch.
const PIPELINE_ROLL: f64 = 40.0;
/// How often the demo's history has a sample, as a Prometheus scraping
/// every second would (the deploy gate looks for switches in it).
const DEMO_SCRAPE: f64 = 1.0;
/// The share of sites whose database update fails on a pipeline's release
/// (the pipeline runs the others' updates before it switches them).
const PIPELINE_UPDATE_FAILS: f64 = 0.15;

/// The simulated fleet: site traits fixed at creation, states a function
/// of simulated time, of the releases pipelines deployed and of the runs
/// asked of its agents.
#[derive(Debug)]
pub struct DemoFleet {
    seed: u64,
    /// Per environment (dev, test, prod), its sites.
    envs: Vec<Vec<DemoSite>>,
    /// Per environment and profile (index in `PROFILES`), the indices of
    /// its sites in `envs`, in the order a wave reaches them.
    slices: Vec<Vec<Vec<usize>>>,
    deploys: Mutex<Vec<PipelineDeploy>>,
    /// (environment, site index) → Unix time of the last run asked of the
    /// site's agent.
    asked_runs: Mutex<HashMap<(usize, usize), f64>>,
}

/// A lock whose holder panicked still holds good data: the fleet's state
/// is only ever replaced whole.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The major version of every simulated install profile.
const PROFILE_MAJOR: u32 = 3;
/// `(minor, patch)` every profile runs everywhere before the demo's first
/// wave (`3.14.2`, as the catalog's deployment identifier says); each wave
/// through a slice raises the patch there.
const RELEASE_BEFORE_THE_FIRST_WAVE: (u32, u32) = (14, 2);

impl DemoFleet {
    pub fn new(total_sites: usize, seed: u64) -> DemoFleet {
        let sizes = environment_sizes(total_sites.max(1));
        let prod_names: Vec<String> = (0..sizes[2]).map(site_name).collect();
        let envs = ENVIRONMENTS
            .iter()
            .zip(sizes)
            .map(|(env, n)| {
                // dev and test run the first sites of prod's list, as a
                // municipality stages its most active sites there.
                let mut sites: Vec<DemoSite> = prod_names[..n.min(prod_names.len())]
                    .iter()
                    .map(|name| DemoSite::new(seed, env, name))
                    .collect();
                place_in_profile_slices(&mut sites);
                sites
            })
            .collect::<Vec<_>>();
        let slices = envs
            .iter()
            .map(|sites| {
                let mut slices = vec![Vec::new(); PROFILES.len()];
                for (i, site) in sites.iter().enumerate() {
                    slices[site.profile_index].push(i);
                }
                for slice in &mut slices {
                    slice.sort_by_key(|i| sites[*i].slice_position);
                }
                slices
            })
            .collect();
        DemoFleet {
            seed,
            envs,
            slices,
            deploys: Mutex::new(Vec::new()),
            asked_runs: Mutex::new(HashMap::new()),
        }
    }

    /// A pipeline starts deploying `version` of `profile` to `env` at
    /// simulated time `at`: it reaches the slice's sites one by one over
    /// [`PIPELINE_ROLL`] seconds; each site's updates are pending for a
    /// moment, and on a few of them (fixed by the seed) the update fails
    /// and stays failing.
    pub fn deploy(&self, env: &str, profile: &str, version: &str, at: f64) -> Result<(), String> {
        let env_index = ENVIRONMENTS
            .iter()
            .position(|e| *e == env)
            .ok_or_else(|| format!("the demo has no environment {env:?} (dev, test, prod)"))?;
        let profile_index = PROFILES.iter().position(|p| *p == profile).ok_or_else(|| {
            format!(
                "the demo has no profile {profile:?}; it has {}",
                PROFILES.join(", ")
            )
        })?;
        let mut deploys = lock(&self.deploys);
        let seed = mix(self.seed ^ mix(0xDE91_0000 + deploys.len() as u64));
        deploys.push(PipelineDeploy {
            start: at,
            env: env_index,
            profile: profile_index,
            version: version.to_string(),
            seed,
        });
        Ok(())
    }

    /// Whether a pipeline deploys to the slice: its own waves stop, so
    /// what the gate sees is the pipeline's doing.
    fn has_pipeline(&self, env: usize, profile: usize) -> bool {
        lock(&self.deploys)
            .iter()
            .any(|d| d.env == env && d.profile == profile)
    }

    /// When a pipeline's deploy reaches a site of its slice.
    fn deploy_hits(deploy: &PipelineDeploy, site: &DemoSite) -> f64 {
        deploy.start + PIPELINE_ROLL * site.slice_position as f64 / site.slice_size.max(1) as f64
    }

    /// The newest pipeline release that has reached the site by `t`.
    fn deployed_version(&self, env: usize, site: &DemoSite, t: f64) -> Option<String> {
        lock(&self.deploys)
            .iter()
            .rev()
            .find(|d| {
                d.env == env && d.profile == site.profile_index && Self::deploy_hits(d, site) <= t
            })
            .map(|d| d.version.clone())
    }

    /// For each site of `profile` in `env_name` that ran another version
    /// than `version` within simulated `[from, to]`: the last instant it
    /// was seen on one, as Prometheus scraping every [`DEMO_SCRAPE`]
    /// seconds would last have seen it.
    pub fn switches(
        &self,
        env_name: &str,
        profile: &str,
        version: &str,
        from: f64,
        to: f64,
    ) -> Option<BTreeMap<String, Switch>> {
        let env = ENVIRONMENTS.iter().position(|e| *e == env_name)?;
        let Some(p) = PROFILES.iter().position(|name| *name == profile) else {
            return Some(BTreeMap::new());
        };
        let mut hits: Vec<f64> = lock(&self.deploys)
            .iter()
            .filter(|d| d.env == env && d.profile == p && d.version == version)
            .flat_map(|d| {
                self.slices[env][p]
                    .iter()
                    .map(|i| Self::deploy_hits(d, &self.envs[env][*i]))
                    .collect::<Vec<_>>()
            })
            .collect();
        hits.sort_by(|a, b| b.total_cmp(a));
        let mut found = BTreeMap::new();
        for i in &self.slices[env][p] {
            let site = &self.envs[env][*i];
            if site.temper == Temper::Silent {
                continue;
            }
            let on = |t: f64| self.profile_version(env, *i, t) == version;
            let last_off = if !on(to) {
                Some(to)
            } else {
                // The latest switch onto the version: a hit with the site
                // on another version a scrape before.
                hits.iter()
                    .filter(|h| **h <= to)
                    .map(|h| h - DEMO_SCRAPE)
                    .find(|before| !on(*before))
            };
            if let Some(at) = last_off.filter(|at| *at >= from) {
                let from_version = self.profile_version(env, *i, at);
                found.insert(site.name.clone(), Switch { at, from_version });
            }
        }
        Some(found)
    }

    /// Records a run asked of a site's agent at `now_unix`: its next
    /// fleet polls see a report made then.
    fn record_asked_run(&self, env: usize, index: usize, now_unix: f64) {
        lock(&self.asked_runs).insert((env, index), now_unix);
    }

    pub fn environments(&self) -> impl Iterator<Item = &'static str> {
        ENVIRONMENTS.into_iter()
    }

    pub fn site_count(&self) -> usize {
        self.envs.iter().map(Vec::len).sum()
    }

    fn wave(&self, k: u64) -> Wave {
        let h = mix(self.seed ^ mix(k.wrapping_add(0xA5A5)));
        let jitter = (unit(h) * 2.0 - 1.0) * WAVE_JITTER;
        let start = if k == 0 {
            FIRST_WAVE_AT
        } else {
            k as f64 * WAVE_SPACING + jitter
        };
        let env_pick = unit(mix(h ^ 1));
        let env = if env_pick < 0.4 {
            0
        } else if env_pick < 0.75 {
            1
        } else {
            2
        };
        Wave {
            start,
            env,
            profile: (mix(h ^ 2) % PROFILES.len() as u64) as usize,
            seed: h,
        }
    }

    /// Waves that may hold some site broken at some time in `[from, to]`.
    fn waves_during(&self, from: f64, to: f64) -> impl Iterator<Item = Wave> + '_ {
        let reach = WAVE_ROLL + WAVE_MAX_HOLD + WAVE_JITTER;
        let first = ((from - reach) / WAVE_SPACING).floor().max(0.0) as u64;
        let last = (to / WAVE_SPACING).floor().max(0.0) as u64 + 1;
        (first..=last).map(|k| self.wave(k))
    }

    /// When a wave reaches a site of its slice: sites are hit in name
    /// order, rolling through the slice.
    fn hit_at(wave: &Wave, site: &DemoSite) -> f64 {
        wave.start + WAVE_ROLL * site.slice_position as f64 / site.slice_size.max(1) as f64
    }

    /// The waves through one (environment, profile) slice that started by
    /// simulated time `t`, oldest first. Cheap: one hash per wave since
    /// the demo started.
    fn slice_waves(&self, env: usize, profile: usize, t: f64) -> Vec<Wave> {
        if self.has_pipeline(env, profile) {
            return Vec::new();
        }
        let last = ((t + WAVE_JITTER) / WAVE_SPACING).floor().max(0.0) as u64 + 1;
        (0..=last)
            .map(|k| self.wave(k))
            .filter(|w| w.env == env && w.profile == profile && w.start <= t)
            .collect()
    }

    /// The `profile_version` a site runs at simulated time `t`: its
    /// slice's release, one patch up for each deploy wave that has
    /// reached it (the wave's `hit_at`), so a rollout shows in progress
    /// while a wave rolls.
    fn profile_version_with(&self, env: usize, waves: &[Wave], site: &DemoSite, t: f64) -> String {
        if let Some(version) = self.deployed_version(env, site, t) {
            return version;
        }
        let (minor, patch) = RELEASE_BEFORE_THE_FIRST_WAVE;
        let passed = waves.iter().filter(|w| Self::hit_at(w, site) <= t).count() as u32;
        format!("{PROFILE_MAJOR}.{minor}.{}", patch + passed)
    }

    fn profile_version(&self, env: usize, index: usize, t: f64) -> String {
        let site = &self.envs[env][index];
        let waves = self.slice_waves(env, site.profile_index, t);
        self.profile_version_with(env, &waves, site, t)
    }

    fn faults(&self, env: usize, index: usize, t: f64) -> Vec<Fault> {
        self.faults_during(env, index, t, t)
    }

    /// Every fault the site had at any moment in `[from, to]`, as a range
    /// query's `max_over_time` would see it.
    fn faults_during(&self, env: usize, index: usize, from: f64, to: f64) -> Vec<Fault> {
        let site = &self.envs[env][index];
        let mut faults = site.chronic.clone();
        if site.temper == Temper::Flapping {
            let period = 8.0 + unit(mix(site.hash ^ 7)) * 12.0;
            let phase_at = |t: f64| ((t + site.phase) / period).floor() as i64;
            if to - from >= period || phase_at(from) != phase_at(to) || phase_at(from) % 2 == 0 {
                faults.push(Fault::SearchDown);
            }
        }
        let piped = self.has_pipeline(env, site.profile_index);
        for wave in self.waves_during(from, to) {
            if wave.env != env || wave.profile != site.profile_index || piped {
                continue;
            }
            let hit_at = Self::hit_at(&wave, site);
            let hold = 8.0 + unit(mix(wave.seed ^ site.hash)) * (WAVE_MAX_HOLD - 8.0);
            if to >= hit_at && from < hit_at + hold {
                faults.push(Fault::UpdatesPending);
                if unit(mix(wave.seed ^ site.hash ^ 3)) < 0.3 {
                    faults.push(Fault::EntityMismatch);
                }
            }
        }
        for deploy in lock(&self.deploys).iter() {
            if deploy.env != env || deploy.profile != site.profile_index {
                continue;
            }
            let update_fails = unit(mix(deploy.seed ^ site.hash)) < PIPELINE_UPDATE_FAILS;
            if update_fails && to >= Self::deploy_hits(deploy, site) {
                faults.push(Fault::UpdatesPending);
            }
        }
        faults.sort_by_key(|f| f.requirement_id());
        faults.dedup();
        faults
    }

    fn summary(&self, env: usize, index: usize, t: f64, now_unix: f64) -> SiteSummary {
        let site = &self.envs[env][index];
        let mut summary = SiteSummary::new(site.name.clone(), site.profile);
        summary.not_in_cluster = site.not_in_cluster();
        summary.up = Some(site.temper != Temper::TargetDown);
        if site.temper == Temper::Silent {
            return summary;
        }
        summary.run_success = Some(site.temper != Temper::RunFails);
        summary.run_failure = site
            .run_failure()
            .map(|(failure, _)| RunFailureReason::Known(failure));
        let since_run = if site.temper == Temper::Stale {
            7200.0 + site.phase * 40.0
        } else {
            (now_unix - site.phase).rem_euclid(RUN_INTERVAL)
        };
        let scheduled = now_unix - since_run;
        let asked = lock(&self.asked_runs)
            .get(&(env, index))
            .copied()
            .filter(|at| *at <= now_unix && site.temper != Temper::Stale);
        summary.last_run = Some(asked.map_or(scheduled, |at| at.max(scheduled)));
        let faults = self.faults(env, index, t);
        let mut failing: Vec<(String, Severity)> = faults
            .iter()
            .map(|f| (f.requirement_id().to_string(), f.severity()))
            .collect();
        failing.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        summary.worst = Some(failing.first().map(|(_, s)| *s).unwrap_or(Severity::Ok));
        summary.failing = failing;
        summary
    }

    /// One environment as a poll at simulated time `t` (seconds since the
    /// demo started) would see it; `now_unix` dates the last runs.
    pub fn report(&self, env_name: &str, t: f64, now_unix: f64) -> Option<EnvReport> {
        let env = ENVIRONMENTS.iter().position(|e| *e == env_name)?;
        let mut sites: Vec<SiteSummary> = (0..self.envs[env].len())
            .map(|i| self.summary(env, i, t, now_unix))
            .collect();
        set_badges(&mut sites, self.alerts(env, t, now_unix));
        Some(EnvReport {
            sites,
            warnings: Vec::new(),
            silences: None,
            partial: false,
        })
    }

    /// The alerts view's read of one environment at simulated time `t`.
    pub fn alert_list(
        &self,
        env_name: &str,
        t: f64,
        now_unix: f64,
        per_name: usize,
    ) -> Option<AlertList> {
        let env = ENVIRONMENTS.iter().position(|e| *e == env_name)?;
        Some(AlertList::newest(self.alerts(env, t, now_unix), per_name))
    }

    /// The alerts a Prometheus with the usual Drupal rules would have
    /// firing: a few sites, fixed for the run of the demo, each alert
    /// active since some time before the demo started.
    fn alerts(&self, env: usize, t: f64, now_unix: f64) -> Vec<Alert> {
        self.alerts_where(env, t, now_unix, |_| true)
    }

    /// [`DemoFleet::alerts`] of the sites `which` takes.
    fn alerts_where(
        &self,
        env: usize,
        t: f64,
        now_unix: f64,
        which: impl Fn(&str) -> bool,
    ) -> Vec<Alert> {
        let started = now_unix - t;
        let mut alerts = Vec::new();
        for site in self.envs[env].iter().filter(|s| which(&s.name)) {
            let mut add = |name: &str, severity: &str, summary: String, salt: u64| {
                let before = 3600.0 + unit(mix(site.hash ^ salt)) * 3.0 * 86_400.0;
                let since = ((started - before) / 60.0).floor() * 60.0;
                // Some alerts are still pending, some silenced by the
                // on-call: the alerts view has all three kinds to show.
                let kind = unit(mix(site.hash ^ salt ^ 0x5EED));
                let mut alert = Alert::sanitized(
                    name,
                    &site.name,
                    Some(severity),
                    Some(&summary),
                    Some(&format_rfc3339_utc((since * 1e9) as i64)),
                )
                .with_labels(None, Some(site.profile));
                alert.pending = kind < 0.15;
                if alert.pending {
                    // Pending is the first minutes of an alert's `for:`:
                    // since shortly before the demo started.
                    let recent = ((started - 60.0 - kind * 3600.0) / 60.0).floor() * 60.0;
                    alert.active_since = Some(format_rfc3339_utc((recent * 1e9) as i64));
                }
                if (0.15..0.3).contains(&kind) {
                    alert.silenced_by = Some("ops-oncall".into());
                }
                alerts.push(alert);
            };
            match site.temper {
                Temper::RunFails => add(
                    "DrupalStatusRunFailing",
                    "critical",
                    format!("drush core-requirements fails on {}", site.name),
                    0xA1,
                ),
                Temper::Stale => add(
                    "DrupalStatusStale",
                    "warning",
                    format!("No status report from {} for over 2 hours", site.name),
                    0xA2,
                ),
                Temper::TargetDown => add(
                    "DrupalStatusTargetDown",
                    "critical",
                    format!("The status workload of {} cannot be scraped", site.name),
                    0xA3,
                ),
                _ => {}
            }
            if site.chronic.contains(&Fault::CronLate) && site.temper != Temper::Silent {
                add(
                    "DrupalCronStale",
                    "warning",
                    format!("Cron has not run on {} for 3 weeks", site.name),
                    0xA4,
                );
            }
        }
        sort_alerts(&mut alerts);
        alerts
    }

    /// How many sites were in error and in warning at each step of a
    /// window ending at simulated time `t`, as `fetch_timeline`'s queries
    /// would count them in Prometheus: each site by its worst requirement
    /// at the step's instant; sites without series (silent) not at all.
    /// Steps fall on multiples of `step` in Unix time, the last one at or
    /// after `now_unix`, which shows the present (the future is not
    /// simulated).
    ///
    /// Only what can change is recomputed per step: chronic faults are
    /// counted once, and per step only flapping sites and the sites of
    /// slices a wave touched during the step are simulated.
    pub fn timeline(
        &self,
        env_name: &str,
        t: f64,
        now_unix: f64,
        window: f64,
        step: f64,
    ) -> Option<Timeline> {
        let env = ENVIRONMENTS.iter().position(|e| *e == env_name)?;
        let step = step.max(1.0);
        let (start, end) = Timeline::window(now_unix, window, step);
        let count = ((end - start) / step).round().max(0.0) as usize + 1;
        let sites = &self.envs[env];
        let worst = |faults: &[Fault]| faults.iter().map(|f| f.severity()).max();
        let class = |severity: Option<Severity>| match severity {
            Some(Severity::Error) => (1u32, 0u32),
            Some(Severity::Warning) => (0, 1),
            _ => (0, 0),
        };
        let mut chronic = vec![(0u32, 0u32); sites.len()];
        let (mut base_errors, mut base_warnings) = (0u32, 0u32);
        let mut flapping = Vec::new();
        for (i, site) in sites.iter().enumerate() {
            if site.temper == Temper::Silent {
                continue;
            }
            if site.temper == Temper::Flapping {
                flapping.push(i);
                continue;
            }
            chronic[i] = class(worst(&site.chronic));
            base_errors += chronic[i].0;
            base_warnings += chronic[i].1;
        }
        let mut errors = Vec::with_capacity(count);
        let mut warnings = Vec::with_capacity(count);
        for k in 0..count {
            let at = start + step * k as f64;
            let sim = (t - (now_unix - at)).min(t);
            let (mut e, mut w) = (base_errors, base_warnings);
            for i in &flapping {
                let (de, dw) = class(worst(&self.faults(env, *i, sim)));
                e += de;
                w += dw;
            }
            let mut touched = [false; PROFILES.len()];
            for wave in self.waves_during(sim, sim) {
                if wave.env == env {
                    touched[wave.profile] = true;
                }
            }
            for (profile, _) in touched.iter().enumerate().filter(|(_, t)| **t) {
                for i in &self.slices[env][profile] {
                    let site = &sites[*i];
                    if site.temper == Temper::Silent || site.temper == Temper::Flapping {
                        continue;
                    }
                    let (de, dw) = class(worst(&self.faults(env, *i, sim)));
                    e = e - chronic[*i].0 + de;
                    w = w - chronic[*i].1 + dw;
                }
            }
            errors.push(f64::from(e));
            warnings.push(f64::from(w));
        }
        let at = |values: Vec<f64>| -> Vec<(f64, f64)> {
            values
                .into_iter()
                .enumerate()
                .map(|(k, v)| (start + step * k as f64, v))
                .collect()
        };
        Some(Timeline::from_samples(
            start,
            end,
            step,
            &at(errors),
            &at(warnings),
        ))
    }

    /// Which version each site of one profile runs at simulated time `t`
    /// (silent sites publish no `drupal_info`). An unknown profile has no
    /// sites, as in Prometheus.
    pub fn rollout(&self, env_name: &str, profile: &str, t: f64) -> Option<Rollout> {
        let env = ENVIRONMENTS.iter().position(|e| *e == env_name)?;
        let Some(p) = PROFILES.iter().position(|name| *name == profile) else {
            return Some(Rollout::from_pairs(profile, std::iter::empty()));
        };
        let waves = self.slice_waves(env, p, t);
        let pairs: Vec<(&str, String)> = self.slices[env][p]
            .iter()
            .map(|i| &self.envs[env][*i])
            .filter(|site| site.temper != Temper::Silent)
            .map(|site| {
                (
                    site.name.as_str(),
                    self.profile_version_with(env, &waves, site, t),
                )
            })
            .collect();
        Some(Rollout::from_pairs(
            profile,
            pairs.iter().map(|(s, v)| (*s, v.as_str())),
        ))
    }

    pub fn detail(&self, env_name: &str, site: &str, t: f64, now_unix: f64) -> Option<SiteDetail> {
        let env = ENVIRONMENTS.iter().position(|e| *e == env_name)?;
        let index = self.envs[env].iter().position(|s| s.name == site)?;
        let summary = self.summary(env, index, t, now_unix);
        let demo_site = &self.envs[env][index];
        let profile_version = self.profile_version(env, index, t);
        let requirements = if summary.worst.is_none() {
            Vec::new()
        } else {
            let faults = self.faults(env, index, t);
            let mut reqs: Vec<Requirement> = CATALOG
                .iter()
                .map(|c| {
                    faults
                        .iter()
                        .find(|f| f.requirement_id() == c.id)
                        .map(|f| f.requirement())
                        .unwrap_or_else(|| Requirement {
                            id: c.id.to_string(),
                            label: c.id.to_string(),
                            title: c.title.to_string(),
                            severity: Some(c.severity),
                            value: c.value.to_string(),
                            description: c.description.to_string(),
                        })
                })
                .collect();
            // Some requirements exist only while they fail.
            for f in &faults {
                if !CATALOG.iter().any(|c| c.id == f.requirement_id()) {
                    reqs.push(f.requirement());
                }
            }
            sort_requirements_worst_first(&mut reqs);
            reqs
        };
        // A site whose runs fail has failed for a while: its last good
        // report is 45 minutes old (the newest good report in Loki).
        let last_success = summary.last_run.map(|last| {
            if summary.run_success == Some(false) {
                last - (FAILING_FOR_SECONDS / RUN_INTERVAL).ceil() * RUN_INTERVAL
            } else {
                last
            }
        });
        let alerts = ENVIRONMENTS
            .iter()
            .position(|e| *e == env_name)
            .map(|env| self.alerts_where(env, t, now_unix, |name| name == site))
            .unwrap_or_default();
        Some(SiteDetail {
            summary,
            requirements,
            alerts,
            alerts_error: None,
            run_duration: Some(demo_site.run_duration),
            last_success,
            info: Some(DrupalInfo {
                drupal_version: "10.3.6".into(),
                php_version: "8.3.12".into(),
                drush_version: "13.3.1".into(),
                profile_version,
            }),
        })
    }
}

impl DemoFleet {
    /// One requirement's severity over a window ending at simulated time
    /// `t`, sampled like a Prometheus range query. Requirements that exist
    /// only while they fail are absent otherwise.
    pub fn history(
        &self,
        env_name: &str,
        site: &str,
        requirement: &str,
        window: Window,
        t: f64,
        now_unix: f64,
    ) -> Option<History> {
        let env = ENVIRONMENTS.iter().position(|e| *e == env_name)?;
        let index = self.envs[env].iter().position(|s| s.name == site)?;
        let demo_site = &self.envs[env][index];
        let baseline = CATALOG
            .iter()
            .find(|c| c.id == requirement)
            .map(|c| c.severity);
        let step = window.step();
        let start = now_unix - window.seconds();
        let samples: Vec<(f64, Option<Severity>)> = (0..=Window::POINTS)
            .map(|i| {
                let at = start + step * i as f64;
                let sim = t - (now_unix - at);
                let severity = if demo_site.temper == Temper::Silent {
                    None
                } else {
                    self.faults_during(env, index, sim - step, sim)
                        .iter()
                        .find(|f| f.requirement_id() == requirement)
                        .map(|f| f.severity())
                        .or(baseline)
                };
                (at, severity)
            })
            .collect();
        Some(History::from_samples(start, now_unix, step, &samples))
    }
}

impl DemoFleet {
    /// The site's last `count` status reports, newest first, as the lines
    /// its workload would have pushed to Loki (the contract's JSON), with
    /// Loki's nanosecond timestamps. Each run reports what went wrong since
    /// the run before, so deploy waves show up in the reports.
    /// What a site's agent does when asked to run now: a report as of
    /// `now_unix`, which the fleet's next polls show too. A dead, hung or
    /// unscrapeable agent does not answer.
    pub fn run_now(
        &self,
        env_name: &str,
        site: &str,
        t: f64,
        now_unix: f64,
    ) -> Result<Vec<(i64, String)>, String> {
        let env = ENVIRONMENTS
            .iter()
            .position(|e| *e == env_name)
            .ok_or_else(|| format!("no environment {env_name}"))?;
        let index = self.envs[env]
            .iter()
            .position(|s| s.name == site)
            .ok_or_else(|| format!("no site {site} in {env_name}"))?;
        if matches!(
            self.envs[env][index].temper,
            Temper::Silent | Temper::Stale | Temper::TargetDown
        ) {
            return Err(format!(
                "the agent of {site} did not answer: no running pod of service site-status-agent (503)"
            ));
        }
        self.record_asked_run(env, index, now_unix);
        self.report_lines(env_name, site, 1, t, now_unix)
            .ok_or_else(|| format!("no site {site} in {env_name}"))
    }

    pub fn report_lines(
        &self,
        env_name: &str,
        site: &str,
        count: usize,
        t: f64,
        now_unix: f64,
    ) -> Option<Vec<(i64, String)>> {
        let env = ENVIRONMENTS.iter().position(|e| *e == env_name)?;
        let index = self.envs[env].iter().position(|s| s.name == site)?;
        let demo_site = &self.envs[env][index];
        if demo_site.temper == Temper::Silent {
            return Some(Vec::new());
        }
        let last_run = self.summary(env, index, t, now_unix).last_run?.floor();
        let lines = (0..count)
            .map(|k| {
                let at = last_run - RUN_INTERVAL * k as f64;
                let sim = t - (now_unix - at);
                let faults = self.faults_during(env, index, sim - RUN_INTERVAL, sim);
                let run = ((at - demo_site.phase) / RUN_INTERVAL).round() as i64;
                let mut requirements = serde_json::Map::new();
                for c in CATALOG {
                    let req = faults
                        .iter()
                        .find(|f| f.requirement_id() == c.id)
                        .map(|f| f.requirement())
                        .unwrap_or_else(|| Requirement {
                            id: c.id.to_string(),
                            label: c.id.to_string(),
                            title: c.title.to_string(),
                            severity: Some(c.severity),
                            value: if c.id == "cron" {
                                format!(
                                    "Last run {} min {} sec ago\n",
                                    2 + run.rem_euclid(9),
                                    run.rem_euclid(60)
                                )
                            } else {
                                c.value.to_string()
                            },
                            description: c.description.to_string(),
                        });
                    requirements.insert(req.id.clone(), requirement_json(&req));
                }
                for f in &faults {
                    if !CATALOG.iter().any(|c| c.id == f.requirement_id()) {
                        let req = f.requirement();
                        requirements.insert(req.id.clone(), requirement_json(&req));
                    }
                }
                let time_ns = (at * 1e9) as i64;
                // The runs since it began to fail printed no report.
                let failure = demo_site
                    .run_failure()
                    .filter(|_| last_run - at < FAILING_FOR_SECONDS);
                if let Some((failure, stderr)) = failure {
                    let line = serde_json::json!({
                        "site": site,
                        "env": env_name,
                        "profile": demo_site.profile,
                        "generated_at": crate::model::report::format_rfc3339_utc(time_ns),
                        "duration_seconds": if failure.class == FailureClass::Timeout { 120.0 } else { 1.4 },
                        "drush_exit_code": failure.exit_code,
                        "drupal_version": "10.3.6",
                        "requirements": null,
                        "stderr_tail": stderr,
                        "run_failure": {
                            "class": failure.class.as_str(),
                            "exit_code": failure.exit_code,
                            "signal": null,
                        },
                    });
                    return (time_ns, line.to_string());
                }
                let line = serde_json::json!({
                    "site": site,
                    "env": env_name,
                    "profile": demo_site.profile,
                    "generated_at": crate::model::report::format_rfc3339_utc(time_ns),
                    "duration_seconds": (demo_site.run_duration * 10.0).round() / 10.0,
                    "drush_exit_code": 0,
                    "drupal_version": "10.3.6",
                    "requirements": requirements,
                    "stderr_tail": "",
                });
                (time_ns, line.to_string())
            })
            .collect();
        Some(lines)
    }
}

/// A requirement as drush prints it in JSON.
fn requirement_json(req: &Requirement) -> serde_json::Value {
    let severity = req.severity.unwrap_or(Severity::Info);
    let label = match severity {
        Severity::Info => "Info",
        Severity::Ok => "OK",
        Severity::Warning => "Warning",
        Severity::Error => "Error",
    };
    serde_json::json!({
        "title": req.title,
        "severity": label,
        "sid": severity.sid(),
        "description": req.description,
        "value": req.value,
    })
}

impl DemoSite {
    fn new(seed: u64, env: &str, name: &str) -> DemoSite {
        // Profile and schedule belong to the site, whatever the environment;
        // its troubles belong to the site in one environment.
        let site_hash = hash_str(seed, name);
        let hash = hash_str(site_hash, env);
        let profile_index = (mix(site_hash ^ 0x51) % PROFILES.len() as u64) as usize;
        let profile = PROFILES[profile_index];
        let r = unit(mix(hash ^ 0x10));
        let temper = if r < 0.012 {
            Temper::Silent
        } else if r < 0.024 {
            Temper::Stale
        } else if r < 0.034 {
            Temper::RunFails
        } else if r < 0.040 {
            Temper::TargetDown
        } else if r < 0.055 {
            Temper::Flapping
        } else {
            Temper::Healthy
        };
        let mut chronic = Vec::new();
        let c = unit(mix(hash ^ 0x20));
        if c < 0.22 {
            chronic.push(Fault::ContribOutdated);
        }
        let e = unit(mix(hash ^ 0x30));
        if e < 0.015 {
            chronic.push(Fault::ConfigSyncMissing);
        } else if e < 0.03 {
            chronic.push(Fault::CoreInsecure);
        } else if e < 0.04 {
            chronic.push(Fault::CronLate);
        } else if e < 0.05 {
            chronic.push(Fault::OpcacheOff);
        }
        DemoSite {
            name: name.to_string(),
            profile,
            profile_index,
            temper,
            chronic,
            phase: unit(mix(hash ^ 0x40)) * RUN_INTERVAL,
            run_duration: 2.0 + unit(mix(hash ^ 0x50)) * 4.0,
            hash,
            slice_position: 0,
            slice_size: 1,
        }
    }
}

/// Where simulated time comes from: the wall clock since start, a fixed
/// instant for screenshots and tests, or tokio's clock, which a paused
/// runtime advances without sleeping (the soak drives days of polls so).
#[derive(Debug, Clone, Copy)]
pub enum DemoClock {
    Running {
        started: Instant,
        offset: f64,
    },
    Fixed {
        t: f64,
        now_unix: f64,
    },
    Tokio {
        started: tokio::time::Instant,
        unix_at_start: f64,
    },
}

impl DemoClock {
    pub fn running(offset: f64) -> DemoClock {
        DemoClock::Running {
            started: Instant::now(),
            offset,
        }
    }

    /// Tokio's clock from now on, dated `unix_at_start`; inside a runtime.
    pub fn tokio(unix_at_start: f64) -> DemoClock {
        DemoClock::Tokio {
            started: tokio::time::Instant::now(),
            unix_at_start,
        }
    }

    /// `(t, now_unix)`: seconds since the demo started, and the Unix time
    /// it says it is.
    pub fn read(&self) -> (f64, f64) {
        match *self {
            DemoClock::Running { started, offset } => {
                let now = crate::model::Clock::System.unix_seconds();
                (started.elapsed().as_secs_f64() + offset, now)
            }
            DemoClock::Fixed { t, now_unix } => (t, now_unix),
            DemoClock::Tokio {
                started,
                unix_at_start,
            } => {
                let t = started.elapsed().as_secs_f64();
                (t, unix_at_start + t)
            }
        }
    }
}

/// One environment of the demo fleet, seen through the same trait as a
/// real backend.
pub struct DemoSource {
    fleet: Arc<DemoFleet>,
    env: String,
    clock: DemoClock,
}

impl DemoSource {
    pub fn new(fleet: Arc<DemoFleet>, env: &str, clock: DemoClock) -> DemoSource {
        DemoSource {
            fleet,
            env: env.to_string(),
            clock,
        }
    }

    /// The simulated time of Unix time `at`, by the demo's clock.
    fn demo_time_at(&self, at: f64) -> f64 {
        let (t, now) = self.clock.read();
        t - (now - at)
    }

    /// One source per environment, sharing the fleet.
    pub fn for_fleet(fleet: Arc<DemoFleet>, clock: DemoClock) -> Vec<DemoSource> {
        fleet
            .environments()
            .map(|env| DemoSource::new(fleet.clone(), env, clock))
            .collect()
    }
}

impl FleetSource for DemoSource {
    fn environment(&self) -> &str {
        &self.env
    }

    fn fetch_fleet(&self) -> BoxFuture<'_, Result<EnvReport, SourceError>> {
        Box::pin(async move {
            let (t, now) = self.clock.read();
            self.fleet
                .report(&self.env, t, now)
                .ok_or_else(|| SourceError::new(format!("no environment {}", self.env)))
        })
    }

    fn fetch_site<'a>(&'a self, site: &'a str) -> BoxFuture<'a, Result<SiteDetail, SourceError>> {
        Box::pin(async move {
            let (t, now) = self.clock.read();
            self.fleet
                .detail(&self.env, site, t, now)
                .ok_or_else(|| SourceError::new(format!("no site {site} in {}", self.env)))
        })
    }

    fn fetch_alerts(&self, per_name: usize) -> BoxFuture<'_, Result<AlertList, SourceError>> {
        Box::pin(async move {
            let (t, now) = self.clock.read();
            self.fleet
                .alert_list(&self.env, t, now, per_name)
                .ok_or_else(|| SourceError::new(format!("no environment {}", self.env)))
        })
    }

    fn fetch_history<'a>(
        &'a self,
        site: &'a str,
        requirement: &'a str,
        window: Window,
    ) -> BoxFuture<'a, Result<History, SourceError>> {
        Box::pin(async move {
            let (t, now) = self.clock.read();
            self.fleet
                .history(&self.env, site, requirement, window, t, now)
                .ok_or_else(|| SourceError::new(format!("no site {site} in {}", self.env)))
        })
    }

    fn fetch_timeline(&self) -> BoxFuture<'_, Result<Timeline, SourceError>> {
        Box::pin(async move {
            let (t, now) = self.clock.read();
            self.fleet
                .timeline(
                    &self.env,
                    t,
                    now,
                    Timeline::WINDOW_SECONDS,
                    Timeline::STEP_SECONDS,
                )
                .ok_or_else(|| SourceError::new(format!("no environment {}", self.env)))
        })
    }

    fn fetch_rollout<'a>(
        &'a self,
        profile: &'a str,
    ) -> BoxFuture<'a, Result<Rollout, SourceError>> {
        Box::pin(async move {
            let (t, _) = self.clock.read();
            self.fleet
                .rollout(&self.env, profile, t)
                .ok_or_else(|| SourceError::new(format!("no environment {}", self.env)))
        })
    }

    fn fetch_reports<'a>(
        &'a self,
        site: &'a str,
        count: usize,
    ) -> BoxFuture<'a, Result<Reports, SourceError>> {
        Box::pin(async move {
            let (t, now) = self.clock.read();
            let lines = self
                .fleet
                .report_lines(&self.env, site, count, t, now)
                .ok_or_else(|| SourceError::new(format!("no site {site} in {}", self.env)))?;
            // Through the same parser as lines from Loki.
            Ok(Reports {
                reports: lines
                    .iter()
                    .map(|(time_ns, line)| parse_report_line(line, *time_ns))
                    .collect(),
                notices: Vec::new(),
            })
        })
    }

    fn fetch_fleet_at(&self, at: f64) -> BoxFuture<'_, Result<EnvReport, SourceError>> {
        Box::pin(async move {
            let t = self.demo_time_at(at);
            self.fleet
                .report(&self.env, t, at)
                .ok_or_else(|| SourceError::new(format!("no environment {}", self.env)))
        })
    }

    fn fetch_rollout_at<'a>(
        &'a self,
        profile: &'a str,
        at: f64,
    ) -> BoxFuture<'a, Result<Rollout, SourceError>> {
        Box::pin(async move {
            self.fleet
                .rollout(&self.env, profile, self.demo_time_at(at))
                .ok_or_else(|| SourceError::new(format!("no environment {}", self.env)))
        })
    }

    fn fetch_switches<'a>(
        &'a self,
        profile: &'a str,
        version: &'a str,
        lookback: std::time::Duration,
    ) -> BoxFuture<'a, Result<BTreeMap<String, Switch>, SourceError>> {
        Box::pin(async move {
            let (t, now) = self.clock.read();
            let from = t - lookback.as_secs_f64();
            let found = self
                .fleet
                .switches(&self.env, profile, version, from, t)
                .ok_or_else(|| SourceError::new(format!("no environment {}", self.env)))?;
            // Simulated time back to Unix time, as Prometheus answers.
            Ok(found
                .into_iter()
                .map(|(site, switch)| {
                    let at = now - (t - switch.at);
                    (site, Switch { at, ..switch })
                })
                .collect())
        })
    }

    fn has_kubernetes(&self) -> bool {
        true
    }

    fn has_reports(&self) -> bool {
        true
    }

    /// The demo's agents answer as real ones would, after a drush's while:
    /// the site's report as of now.
    fn run_report<'a>(
        &'a self,
        site: &'a str,
    ) -> BoxFuture<'a, Result<crate::model::Report, SourceError>> {
        Box::pin(async move {
            if !matches!(self.clock, DemoClock::Fixed { .. }) {
                tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
            }
            let (t, now) = self.clock.read();
            let lines = self
                .fleet
                .run_now(&self.env, site, t, now)
                .map_err(SourceError::new)?;
            let (_, line) = lines
                .first()
                .ok_or_else(|| SourceError::new(format!("{site} has no report yet")))?;
            let now_ns = (now * 1e9) as i64;
            let mut report = parse_report_line(line, now_ns);
            report.generated_at = Some(crate::model::format_rfc3339_utc(now_ns));
            Ok(report)
        })
    }

    fn fetch_workloads<'a>(
        &'a self,
        site: &'a str,
    ) -> BoxFuture<'a, Result<SiteWorkloads, SourceError>> {
        Box::pin(async move {
            let (t, now) = self.clock.read();
            self.fleet
                .workloads(&self.env, site, t, now)
                .map_err(SourceError::new)
        })
    }

    /// The simulated namespace changes all the time (event counts, a
    /// rollout's progress): say so every couple of seconds, as a watch on
    /// a busy namespace would.
    fn watch_workloads<'a>(
        &'a self,
        _site: &'a str,
        changed: Arc<tokio::sync::Notify>,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if matches!(self.clock, DemoClock::Fixed { .. }) {
                return std::future::pending().await;
            }
            loop {
                tokio::time::sleep(DEMO_WATCH_GAP).await;
                changed.notify_one();
            }
        })
    }
}

/// How often the demo's simulated watch reports a change.
const DEMO_WATCH_GAP: std::time::Duration = std::time::Duration::from_secs(2);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AlertBadge;
    use crate::model::SiteState;
    use std::collections::HashSet;
    use std::time::Duration;

    const NOW: f64 = 1_800_000_000.0;
    const STALE: Duration = Duration::from_secs(1800);

    fn states(fleet: &DemoFleet, env: &str, t: f64) -> Vec<SiteState> {
        fleet
            .report(env, t, NOW)
            .unwrap()
            .sites
            .iter()
            .map(|s| s.state(NOW, STALE))
            .collect()
    }

    #[test]
    fn default_fleet_has_the_contract_shape() {
        let fleet = DemoFleet::new(DEFAULT_SITES, DEFAULT_SEED);
        assert_eq!(fleet.site_count(), 320);
        assert_eq!(environment_sizes(320), [60, 60, 200]);
        let prod = fleet.report("prod", 0.0, NOW).unwrap();
        let profiles: HashSet<_> = prod.sites.iter().map(|s| s.profile.clone()).collect();
        assert_eq!(profiles.len(), 10);
        let names: HashSet<_> = prod.sites.iter().map(|s| s.name.clone()).collect();
        assert_eq!(names.len(), 200, "site names are unique in an environment");
    }

    #[test]
    fn ten_thousand_sites_have_unique_names() {
        let fleet = DemoFleet::new(10_000, 7);
        assert_eq!(fleet.site_count(), 10_000);
        let prod = fleet.report("prod", 0.0, NOW).unwrap();
        let names: HashSet<_> = prod.sites.iter().map(|s| s.name.clone()).collect();
        assert_eq!(names.len(), prod.sites.len());
    }

    #[test]
    fn same_seed_same_story_other_seed_other_story() {
        let a = DemoFleet::new(320, 42);
        let b = DemoFleet::new(320, 42);
        let c = DemoFleet::new(320, 43);
        for t in [0.0, 17.0, 95.0] {
            assert_eq!(a.report("prod", t, NOW), b.report("prod", t, NOW));
        }
        assert_ne!(a.report("prod", 0.0, NOW), c.report("prod", 0.0, NOW));
    }

    #[test]
    fn the_fleet_has_every_kind_of_trouble() {
        let fleet = DemoFleet::new(320, DEFAULT_SEED);
        let all: Vec<SiteState> = ["dev", "test", "prod"]
            .iter()
            .flat_map(|e| states(&fleet, e, 0.0))
            .collect();
        for wanted in [
            SiteState::Ok,
            SiteState::Warning,
            SiteState::Error,
            SiteState::NoData,
            SiteState::Stale,
            SiteState::RunFailed,
        ] {
            assert!(all.contains(&wanted), "no {wanted} site in the demo fleet");
        }
        let ok = all.iter().filter(|s| **s == SiteState::Ok).count();
        assert!(ok > all.len() / 2, "most of a real fleet is fine: {ok}");
    }

    #[test]
    fn deploy_waves_break_sites_and_they_recover() {
        let fleet = DemoFleet::new(320, DEFAULT_SEED);
        // Over ten minutes, sites pick up pending database updates and lose them again.
        let mut seen_pending = HashSet::new();
        let mut seen_recovered = HashSet::new();
        for step in 0..400 {
            let t = step as f64 * 2.0;
            for env in ["dev", "test", "prod"] {
                for site in fleet.report(env, t, NOW).unwrap().sites {
                    let key = (env, site.name.clone());
                    let pending = site.failing.iter().any(|(id, _)| id == "update");
                    // Waves started late may still be rolling at the end.
                    if pending && t < 600.0 {
                        seen_pending.insert(key);
                    } else if seen_pending.contains(&key) {
                        seen_recovered.insert(key);
                    }
                }
            }
        }
        assert!(
            seen_pending.len() > 20,
            "waves reached {} sites",
            seen_pending.len()
        );
        assert_eq!(seen_pending, seen_recovered, "every broken site recovers");
    }

    #[test]
    fn history_shows_a_wave_coming_and_going() {
        let fleet = DemoFleet::new(320, DEFAULT_SEED);
        // Find a site a wave hit within the last hour of simulated time.
        let t = 7200.0;
        let mut found = false;
        for env in ["dev", "test", "prod"] {
            for site in fleet.report(env, t, NOW).unwrap().sites {
                let h = fleet
                    .history(env, &site.name, "update", Window::Hour, t, NOW)
                    .unwrap();
                assert_eq!(h.points.len(), Window::POINTS + 1);
                let changes = h.changes();
                if changes.iter().any(|c| c.to == Some(Severity::Error)) {
                    assert!(changes.iter().any(|c| c.from == Some(Severity::Error)));
                    found = true;
                }
            }
        }
        assert!(found, "some site had pending updates in the last hour");
    }

    /// A wave through a slice of at least `min_sites` sites that starts
    /// after `after`.
    fn wave_through_a_slice(fleet: &DemoFleet, after: f64, min_sites: usize) -> Wave {
        (0..)
            .map(|k| fleet.wave(k))
            .find(|w| {
                w.start > after
                    && fleet.slices[w.env][w.profile].len() >= min_sites
                    // Alone in its slice for a while, so versions move by one.
                    && !fleet
                        .slice_waves(w.env, w.profile, w.start + 2.0 * WAVE_ROLL)
                        .iter()
                        .any(|o| o.start > w.start - 2.0 * WAVE_ROLL && o.start != w.start)
            })
            .unwrap()
    }

    fn bump(version: &str) -> String {
        let (head, patch) = version.rsplit_once('.').unwrap();
        format!("{head}.{}", patch.parse::<u32>().unwrap() + 1)
    }

    #[test]
    fn a_wave_rolls_its_slice_to_the_next_release() {
        let fleet = DemoFleet::new(320, DEFAULT_SEED);
        let wave = wave_through_a_slice(&fleet, 300.0, 5);
        let env = ENVIRONMENTS[wave.env];
        let profile = PROFILES[wave.profile];
        let before = fleet.rollout(env, profile, wave.start - 1.0).unwrap();
        assert!(before.is_settled(), "{before:?}");
        let old = before.newest().unwrap().to_string();
        assert!(old.starts_with("3."), "{old}");
        let new = bump(&old);

        let during = fleet
            .rollout(env, profile, wave.start + WAVE_ROLL / 2.0)
            .unwrap();
        let versions: Vec<&str> = during.versions.iter().map(|(v, _)| v.as_str()).collect();
        assert_eq!(versions, vec![new.as_str(), old.as_str()], "newest first");
        assert_eq!(
            during.versions.iter().map(|(_, n)| n).sum::<usize>(),
            before.site_count()
        );

        let after = fleet
            .rollout(env, profile, wave.start + WAVE_ROLL + 1.0)
            .unwrap();
        assert_eq!(after.versions, vec![(new.clone(), before.site_count())]);

        // The site view says the same as the rollout, site by site, and
        // the version turns when the wave reaches the site.
        let t = wave.start + WAVE_ROLL / 2.0;
        for (site, version) in &during.sites {
            let detail = fleet.detail(env, site, t, NOW).unwrap();
            assert_eq!(&detail.info.unwrap().profile_version, version, "{site}");
            let e = wave.env;
            let index = fleet.envs[e].iter().position(|s| &s.name == site).unwrap();
            let hit = DemoFleet::hit_at(&wave, &fleet.envs[e][index]);
            assert_eq!(fleet.profile_version(e, index, hit - 0.01), old);
            assert_eq!(fleet.profile_version(e, index, hit), new);
            let pending = fleet
                .summary(e, index, hit + 1.0, NOW)
                .failing
                .iter()
                .any(|(id, _)| id == "update");
            let silent = fleet.envs[e][index].temper == Temper::Silent;
            assert!(
                pending || silent,
                "the deploy leaves updates pending on {site}"
            );
        }
        // Other environments keep their release.
        for other in (0..3).filter(|e| *e != wave.env) {
            let at = |t: f64| fleet.rollout(ENVIRONMENTS[other], profile, t).unwrap();
            assert_eq!(
                at(wave.start - 1.0).versions,
                at(wave.start + WAVE_ROLL + 1.0).versions,
                "{}",
                ENVIRONMENTS[other]
            );
        }
    }

    #[test]
    fn an_unknown_profile_has_no_sites_and_an_unknown_env_is_none() {
        let fleet = DemoFleet::new(320, DEFAULT_SEED);
        assert_eq!(
            fleet.rollout("prod", "kk_nope", 10.0).unwrap().site_count(),
            0
        );
        assert!(fleet.rollout("qa", "kk_base", 10.0).is_none());
    }

    /// The timeline the slow way: every site simulated at every step.
    fn brute_timeline(
        fleet: &DemoFleet,
        env: usize,
        t: f64,
        now: f64,
        step: f64,
    ) -> (Vec<u32>, Vec<u32>) {
        let (start, end) = Timeline::window(now, Timeline::WINDOW_SECONDS, step);
        let count = ((end - start) / step).round() as usize + 1;
        let mut errors = vec![0; count];
        let mut warnings = vec![0; count];
        for k in 0..count {
            let sim = (t - (now - (start + step * k as f64))).min(t);
            for (i, site) in fleet.envs[env].iter().enumerate() {
                if site.temper == Temper::Silent {
                    continue;
                }
                let faults = fleet.faults(env, i, sim);
                match faults.iter().map(|f| f.severity()).max() {
                    Some(Severity::Error) => errors[k] += 1,
                    Some(Severity::Warning) => warnings[k] += 1,
                    _ => {}
                }
            }
        }
        (errors, warnings)
    }

    #[test]
    fn the_timeline_counts_what_simulating_every_site_counts() {
        let fleet = DemoFleet::new(320, DEFAULT_SEED);
        for (t, now) in [(7200.0, NOW), (100.0, NOW + 17.0)] {
            for (e, env) in ENVIRONMENTS.iter().enumerate() {
                let timeline = fleet
                    .timeline(env, t, now, Timeline::WINDOW_SECONDS, 60.0)
                    .unwrap();
                assert_eq!(timeline.len(), 61);
                assert_eq!(timeline.end() % 60.0, 0.0);
                assert!(timeline.end() >= now && timeline.end() < now + 60.0);
                let (errors, warnings) = brute_timeline(&fleet, e, t, now, 60.0);
                assert_eq!(timeline.errors, errors, "{env} at {t}");
                assert_eq!(timeline.warnings, warnings, "{env} at {t}");
            }
        }
    }

    #[test]
    fn the_timeline_shows_a_bump_during_a_wave() {
        let fleet = DemoFleet::new(320, DEFAULT_SEED);
        assert_eq!(NOW % 60.0, 0.0, "the last step is now");
        // A wave through a big prod slice, in an hour with a quiet minute
        // (no wave in prod; only flapping sites move) to compare with; the
        // hour ends as the wave is two thirds through the slice.
        let mut after = 3600.0;
        let (t, timeline, quiet) = loop {
            let wave = wave_through_a_slice(&fleet, after, 15);
            after = wave.start;
            if wave.env != 2 {
                continue;
            }
            let t = wave.start + WAVE_ROLL * 2.0 / 3.0;
            let timeline = fleet
                .timeline("prod", t, NOW, Timeline::WINDOW_SECONDS, 60.0)
                .unwrap();
            let quiet = (0..timeline.len()).find(|k| {
                let sim = t - 60.0 * (timeline.len() - 1 - k) as f64;
                !fleet.waves_during(sim, sim).any(|w| w.env == 2)
            });
            if let Some(quiet) = quiet {
                break (t, timeline, quiet);
            }
        };
        let (during, _) = timeline.last().unwrap();
        let quiet = timeline.errors[quiet];
        assert!(
            during >= quiet + 3,
            "errors {quiet} in a quiet minute, {during} while the wave rolls (t = {t}): {:?}",
            timeline.errors
        );
        // The last step is the present, as the grid shows it.
        let report = fleet.report("prod", t, NOW).unwrap();
        let silent: Vec<&str> = fleet.envs[2]
            .iter()
            .filter(|s| s.temper == Temper::Silent)
            .map(|s| s.name.as_str())
            .collect();
        let now_in_error = report
            .sites
            .iter()
            .filter(|s| s.worst == Some(Severity::Error) && !silent.contains(&s.name.as_str()))
            .count();
        assert_eq!(during as usize, now_in_error);
    }

    #[tokio::test]
    async fn the_demo_source_serves_the_timeline_and_rollouts() {
        let fleet = Arc::new(DemoFleet::new(320, DEFAULT_SEED));
        let clock = DemoClock::Fixed {
            t: 7200.0,
            now_unix: NOW,
        };
        let sources = DemoSource::for_fleet(fleet.clone(), clock);
        let prod = sources.iter().find(|s| s.environment() == "prod").unwrap();
        let timeline = prod.fetch_timeline().await.unwrap();
        assert_eq!(timeline.len(), 61);
        assert_eq!(timeline.step, Timeline::STEP_SECONDS);
        assert_eq!(timeline.end(), NOW);
        let rollout = prod.fetch_rollout("kk_borger").await.unwrap();
        assert_eq!(rollout, fleet.rollout("prod", "kk_borger", 7200.0).unwrap());
        assert!(rollout.site_count() > 5);
        let report = prod.fetch_fleet().await.unwrap();
        assert!(report.sites.iter().any(|s| s.alert != AlertBadge::None));
        let list = prod.fetch_alerts(2).await.unwrap();
        assert!(!list.alerts.is_empty());
        let site = &list.alerts[0].site;
        let detail = prod.fetch_site(site).await.unwrap();
        assert!(detail.alerts.iter().all(|a| a.site == *site));
        assert!(!detail.alerts.is_empty());
    }

    #[test]
    fn a_few_sites_have_firing_alerts_and_the_same_seed_the_same_ones() {
        let fleet = DemoFleet::new(320, DEFAULT_SEED);
        let mut all = Vec::new();
        for env in ENVIRONMENTS {
            let list = fleet.alert_list(env, 500.0, NOW, usize::MAX).unwrap();
            let later = fleet
                .alert_list(env, 900.0, NOW + 400.0, usize::MAX)
                .unwrap();
            assert_eq!(list, later);
            let report = fleet.report(env, 500.0, NOW).unwrap();
            for alert in &list.alerts {
                let site = report.sites.iter().find(|s| s.name == alert.site).unwrap();
                if !alert.pending {
                    assert_ne!(site.alert, AlertBadge::None, "{}", site.name);
                }
                assert!(alert.active_since.as_deref().unwrap().ends_with('Z'));
                assert!(alert.summary.as_deref().unwrap().contains(&alert.site));
            }
            let badged = report.sites.iter().filter(|s| s.alert != AlertBadge::None);
            for site in badged {
                assert!(
                    list.alerts
                        .iter()
                        .any(|a| a.site == site.name && !a.pending)
                );
            }
            let failed: Vec<&str> = fleet.envs
                [ENVIRONMENTS.iter().position(|e| *e == env).unwrap()]
            .iter()
            .filter(|s| s.temper == Temper::RunFails)
            .map(|s| s.name.as_str())
            .collect();
            for site in failed {
                assert!(
                    list.alerts
                        .iter()
                        .any(|a| a.site == site && a.name == "DrupalStatusRunFailing"),
                    "{env}/{site}"
                );
            }
            all.extend(list.alerts);
        }
        assert!(all.len() >= 5 && all.len() <= 40, "a few: {}", all.len());
        assert!(all.iter().any(|a| a.name == "DrupalCronStale"));
    }

    #[test]
    fn detail_agrees_with_the_summary() {
        let fleet = DemoFleet::new(320, DEFAULT_SEED);
        for t in [0.0, 30.0, 61.0] {
            for summary in fleet.report("prod", t, NOW).unwrap().sites {
                let detail = fleet.detail("prod", &summary.name, t, NOW).unwrap();
                let worst = detail.requirements.iter().filter_map(|r| r.severity).max();
                assert_eq!(worst, summary.worst, "{}", summary.name);
                for (id, sev) in &summary.failing {
                    let req = detail.requirements.iter().find(|r| &r.id == id).unwrap();
                    assert_eq!(req.severity, Some(*sev));
                }
            }
        }
    }
}
