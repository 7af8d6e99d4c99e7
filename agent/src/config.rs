//! The agent's configuration: command-line flags, each also an environment
//! variable `SITE_STATUS_<FLAG>` (a workload is configured through its
//! environment), checked once at start into a [`Config`] the rest of the
//! agent reads.
//!
//! Every flag is read as text and converted here rather than by clap's
//! typed parsers, so a bad value fails with one message that names both
//! the flag and its variable: an operator who set the variable in a
//! manifest must be able to find it from the error alone.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{CommandFactory, Parser};

/// The command run when none is given after `--`: the contract's fields.
pub const DEFAULT_COMMAND: [&str; 4] = [
    "drush",
    "core-requirements",
    "--format=json",
    "--fields=title,severity,sid,description,value",
];

fn default_command() -> Vec<String> {
    DEFAULT_COMMAND.iter().map(|a| a.to_string()).collect()
}

#[derive(Parser, Debug)]
#[command(
    name = "site-status-agent",
    version,
    about = "Runs drush's status report on a schedule, serves it as Prometheus metrics and pushes each report to Loki"
)]
struct Args {
    /// The site's name (label `site`).
    #[arg(long, env = "SITE_STATUS_SITE")]
    site: Option<String>,
    /// The environment: dev, test, prod… (label `env`).
    #[arg(long, env = "SITE_STATUS_ENV")]
    env: Option<String>,
    /// The Drupal install profile (label `profile`); by default the one
    /// `drush status` reports.
    #[arg(long, env = "SITE_STATUS_PROFILE")]
    profile: Option<String>,
    /// Address of /metrics and the other endpoints.
    #[arg(long, env = "SITE_STATUS_LISTEN", default_value = "0.0.0.0:9101")]
    listen: String,
    /// Time between runs: 90s, 10m, 2h.
    #[arg(long, env = "SITE_STATUS_INTERVAL", default_value = "5m")]
    interval: String,
    /// A run still going after this is killed with its process group.
    #[arg(long, env = "SITE_STATUS_TIMEOUT", default_value = "2m")]
    timeout: String,
    /// Delay of the first run: `auto` (a stable slot within the interval,
    /// from a hash of env and site), a duration to spread over, or 0.
    #[arg(long, env = "SITE_STATUS_SPLAY", default_value = "auto")]
    splay: String,
    /// Loki's base URL (the push path is added); no push without it.
    #[arg(long, env = "SITE_STATUS_LOKI_URL")]
    loki_url: Option<String>,
    /// Sent as X-Scope-OrgID.
    #[arg(long, env = "SITE_STATUS_LOKI_TENANT")]
    loki_tenant: Option<String>,
    /// A file holding the bearer token for Loki.
    #[arg(long, env = "SITE_STATUS_LOKI_BEARER_TOKEN_FILE")]
    loki_bearer_token_file: Option<PathBuf>,
    /// A file holding `user:password` for Loki.
    #[arg(long, env = "SITE_STATUS_LOKI_BASIC_AUTH_FILE")]
    loki_basic_auth_file: Option<PathBuf>,
    /// PEM certificates to trust for Loki, besides the built-in roots.
    #[arg(long, env = "SITE_STATUS_LOKI_CA_FILE")]
    loki_ca_file: Option<PathBuf>,
    /// The largest push sent to Loki; a larger report is trimmed to fit.
    /// Below Loki's 4 MiB gRPC message limit (grpc_server_max_recv_msg_size).
    #[arg(long, env = "SITE_STATUS_LOKI_MAX_PUSH_BYTES", default_value = "3MiB")]
    loki_max_push_bytes: String,
    /// Directory where each report waits until Loki has it.
    #[arg(
        long,
        env = "SITE_STATUS_SPOOL",
        value_name = "DIR",
        default_value = "/var/spool/site-status"
    )]
    spool: PathBuf,
    /// Most reports the spool holds; past it the oldest are dropped.
    #[arg(long, env = "SITE_STATUS_SPOOL_MAX_REPORTS", default_value = "500")]
    spool_max_reports: String,
    /// Most bytes the spool holds: 50MB, 64MiB, 1000000.
    #[arg(long, env = "SITE_STATUS_SPOOL_MAX_BYTES", default_value = "50MB")]
    spool_max_bytes: String,
    /// error, warn, info, debug or trace.
    #[arg(long, env = "SITE_STATUS_LOG_LEVEL", default_value = "info")]
    log_level: String,
    /// Leave site, env and profile off the series (the scrape config
    /// attaches them by relabelling).
    #[arg(long, env = "SITE_STATUS_NO_TARGET_LABELS")]
    no_target_labels: bool,
    /// `drush status --format=json` of the site's drush, split on spaces,
    /// or `none`. Asked at start and when a run suggests a change, for
    /// drush's version, the install profile and the database's status. By
    /// default derived from the command after `--`: its arguments before
    /// `core-requirements` (or `core:requirements`, `status-report`, `rq`),
    /// then `status`, then its other options but --format, --fields,
    /// --severity and --ignore; give it when the command has no such word.
    #[arg(long, env = "SITE_STATUS_STATUS_COMMAND", value_name = "COMMAND")]
    status_command: Option<String>,
    /// The status command, after `--`.
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

/// When the first run starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Splay {
    /// At a stable offset within the interval, from a hash of env and site.
    Auto,
    /// At a stable offset within this window (zero: at once).
    Within(Duration),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

/// How to reach Loki. Holds paths to the secrets, never the secrets: a
/// `Config` can be logged or printed without leaking them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LokiConfig {
    /// Without user info (rejected at start: credentials go in files).
    pub url: url::Url,
    pub tenant: Option<String>,
    pub bearer_token_file: Option<PathBuf>,
    pub basic_auth_file: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
    pub max_push_bytes: usize,
}

/// Everything the agent was told at start, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub site: String,
    pub env: String,
    /// Empty when not given.
    pub profile: String,
    pub listen: SocketAddr,
    pub interval: Duration,
    pub timeout: Duration,
    pub splay: Splay,
    /// `None`: reports are not pushed anywhere.
    pub loki: Option<LokiConfig>,
    pub spool: PathBuf,
    pub spool_max_reports: usize,
    pub spool_max_bytes: u64,
    pub log_level: LogLevel,
    /// `false` with `--no-target-labels`.
    pub target_labels: bool,
    /// Program and arguments; never empty.
    pub command: Vec<String>,
    /// `drush status --format=json` of the same drush; `None` when it
    /// cannot be derived from `command` and was not given, or is `none`.
    pub status_command: Option<Vec<String>>,
}

impl Config {
    /// From the process's arguments and environment; on a bad value, and
    /// for `--help` and `--version`, prints and exits as clap does.
    pub fn load() -> Config {
        match Config::try_parse_from(std::env::args_os()) {
            Ok(config) => config,
            Err(e) => e.exit(),
        }
    }

    /// From `args` (the first is the program name) and the environment.
    /// A bad value is a `ValueValidation` error naming flag and variable.
    pub fn try_parse_from<I, T>(args: I) -> Result<Config, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let args = Args::try_parse_from(args)?;
        Config::check(args).map_err(|message| {
            Args::command().error(clap::error::ErrorKind::ValueValidation, message)
        })
    }

    fn check(args: Args) -> Result<Config, String> {
        let site = required(args.site, "site")?;
        let env = required(args.env, "env")?;
        let profile = args.profile.unwrap_or_default().trim().to_string();

        let listen = args.listen.trim().parse::<SocketAddr>().map_err(|_| {
            bad(
                "listen",
                &args.listen,
                "an address and port like 0.0.0.0:9101",
            )
        })?;
        let interval = bounded("interval", &args.interval, MAX_INTERVAL)?;
        let timeout = bounded("timeout", &args.timeout, MAX_TIMEOUT)?;
        let splay = match args.splay.trim() {
            "auto" => Splay::Auto,
            other => Splay::Within(
                parse_duration(other)
                    .filter(|d| *d <= MAX_SPLAY)
                    .ok_or_else(|| {
                        bad(
                            "splay",
                            &args.splay,
                            &format!(
                                "auto, 0, or a duration up to {} like 90s, 10m",
                                format_duration(MAX_SPLAY)
                            ),
                        )
                    })?,
            ),
        };

        let loki = match args.loki_url.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw) => Some(LokiConfig {
                url: loki_url(raw)?,
                tenant: loki_tenant(args.loki_tenant)?,
                bearer_token_file: args.loki_bearer_token_file,
                basic_auth_file: args.loki_basic_auth_file,
                ca_file: args.loki_ca_file,
                max_push_bytes: parse_bytes(&args.loki_max_push_bytes)
                    .and_then(|n| usize::try_from(n).ok())
                    .filter(|n| (MIN_PUSH_BYTES..=MAX_PUSH_BYTES).contains(n))
                    .ok_or_else(|| {
                        bad(
                            "loki-max-push-bytes",
                            &args.loki_max_push_bytes,
                            "a size from 16KiB to 64MiB like 3MiB",
                        )
                    })?,
            }),
        };
        if let Some(loki) = &loki
            && loki.bearer_token_file.is_some()
            && loki.basic_auth_file.is_some()
        {
            return Err(format!(
                "{} and {} are both set; Loki takes one kind of credentials",
                name("loki-bearer-token-file"),
                name("loki-basic-auth-file")
            ));
        }

        let spool_max_reports = args
            .spool_max_reports
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                bad(
                    "spool-max-reports",
                    &args.spool_max_reports,
                    "a whole number above 0",
                )
            })?;
        let spool_max_bytes = parse_bytes(&args.spool_max_bytes)
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                bad(
                    "spool-max-bytes",
                    &args.spool_max_bytes,
                    "a size like 50MB, 64MiB or 1000000",
                )
            })?;
        let log_level = match args.log_level.trim().to_ascii_lowercase().as_str() {
            "error" => LogLevel::Error,
            "warn" | "warning" => LogLevel::Warn,
            "info" => LogLevel::Info,
            "debug" => LogLevel::Debug,
            "trace" => LogLevel::Trace,
            _ => {
                return Err(bad(
                    "log-level",
                    &args.log_level,
                    "error, warn, info, debug or trace",
                ));
            }
        };
        let command = if args.command.is_empty() {
            default_command()
        } else if args.command[0].trim().is_empty() {
            return Err("the command after -- starts with an empty program name".to_string());
        } else {
            args.command
        };

        let status_command = match args.status_command.as_deref().map(str::trim) {
            Some("none") => None,
            Some(given) if !given.is_empty() => {
                Some(given.split_whitespace().map(str::to_string).collect())
            }
            _ => derive_status_command(&command),
        };

        Ok(Config {
            site,
            env,
            profile,
            listen,
            interval,
            timeout,
            splay,
            loki,
            spool: args.spool,
            spool_max_reports,
            spool_max_bytes,
            log_level,
            target_labels: !args.no_target_labels,
            command,
            status_command,
        })
    }
}

/// drush's names for its status report command.
const REQUIREMENTS_COMMANDS: [&str; 4] = [
    "core-requirements",
    "core:requirements",
    "status-report",
    "rq",
];

/// `drush status --format=json` for the drush `command` runs: the same
/// program and global options (`--root`, `--uri`…), `status` in place of
/// the report command, without the report's own output options. `None`
/// when `command` names no report command (a wrapper script, a fake).
pub fn derive_status_command(command: &[String]) -> Option<Vec<String>> {
    let at = command
        .iter()
        .position(|a| REQUIREMENTS_COMMANDS.contains(&a.as_str()))?;
    if at == 0 {
        return None;
    }
    let mut status: Vec<String> = command[..at].to_vec();
    status.push("status".into());
    let mut rest = command[at + 1..].iter();
    while let Some(arg) = rest.next() {
        let option = arg.split('=').next().unwrap_or("");
        if matches!(option, "--format" | "--fields" | "--severity" | "--ignore") {
            if !arg.contains('=') {
                // The value is the next argument.
                rest.next();
            }
            continue;
        }
        status.push(arg.clone());
    }
    status.push("--format=json".into());
    Some(status)
}

/// `--loki-max-push-bytes`' bounds: below 16 KiB a report cannot say
/// anything; above 64 MiB no Loki takes it.
const MIN_PUSH_BYTES: usize = crate::loki::MIN_PUSH_BYTES;
const MAX_PUSH_BYTES: usize = 64 << 20;

/// The longest `--interval`: a day. Longer is not a schedule, and an
/// unbounded one (`9223372036854775807s`) once overflowed the scheduler's
/// clock; the bound also keeps liveness (two intervals) meaningful.
pub const MAX_INTERVAL: Duration = Duration::from_secs(24 * 3600);
/// The longest `--timeout`: an hour. A drush status report that takes
/// longer is hung, and shutdown must not wait on it anyway.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);
/// The longest `--splay` window: a day, as the interval.
pub const MAX_SPLAY: Duration = MAX_INTERVAL;

/// A duration above 0 and at most `max`, or an error naming `flag`.
fn bounded(flag: &str, raw: &str, max: Duration) -> Result<Duration, String> {
    parse_duration(raw)
        .filter(|d| !d.is_zero() && *d <= max)
        .ok_or_else(|| {
            bad(
                flag,
                raw,
                &format!(
                    "a duration above 0 and at most {} like 90s, 10m, 2h",
                    format_duration(max)
                ),
            )
        })
}

/// `X-Scope-OrgID` must be a valid header value; checked here so the error
/// names this flag, not the URL's. Shown, since a tenant is no secret.
fn loki_tenant(raw: Option<String>) -> Result<Option<String>, String> {
    let Some(tenant) = raw.map(|t| t.trim().to_string()).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if tenant.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(Some(tenant))
    } else {
        Err(bad(
            "loki-tenant",
            &tenant,
            "a tenant id of visible ASCII characters (it is sent as X-Scope-OrgID)",
        ))
    }
}

/// `--flag` (SITE_STATUS_FLAG): how an error points at a setting.
pub fn name(flag: &str) -> String {
    format!(
        "--{flag} (SITE_STATUS_{})",
        flag.replace('-', "_").to_ascii_uppercase()
    )
}

fn bad(flag: &str, value: &str, expected: &str) -> String {
    // The value is an operator's own setting, shown so a typo is visible;
    // Debug formatting keeps control characters from reaching the terminal.
    format!(
        "invalid value {value:?} for {}: expected {expected}",
        name(flag)
    )
}

fn required(value: Option<String>, flag: &str) -> Result<String, String> {
    match value.map(|v| v.trim().to_string()) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(format!("{} is required", name(flag))),
    }
}

fn loki_url(raw: &str) -> Result<url::Url, String> {
    // The value is never echoed: a URL can carry a password.
    let invalid = |why: &str| format!("invalid value for {}: {why}", name("loki-url"));
    let url = url::Url::parse(raw).map_err(|_| invalid("not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("expected an http:// or https:// URL"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "credentials in the URL would be logged; use --loki-basic-auth-file",
        ));
    }
    Ok(url)
}

/// `90s`, `10m`, `2h`, `1h30m`, `0` (jiff's friendly format; calendar
/// units like days are refused since a "day" is not a fixed length).
pub fn parse_duration(raw: &str) -> Option<Duration> {
    let raw = raw.trim();
    if raw == "0" {
        return Some(Duration::ZERO);
    }
    let signed = raw.parse::<jiff::SignedDuration>().ok()?;
    Duration::try_from(signed).ok()
}

/// A duration as an operator writes it: `2m`, `90s`, `1h`, `1.5s`.
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if d.subsec_nanos() != 0 {
        return format!("{}s", d.as_secs_f64());
    }
    if secs != 0 && secs.is_multiple_of(3600) {
        format!("{}h", secs / 3600)
    } else if secs != 0 && secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

/// `1000000`, `500kB`, `50MB`, `1GB` (powers of 1000) or `64KiB`, `50MiB`,
/// `1GiB` (powers of 1024); case-insensitive, a space allowed.
pub fn parse_bytes(raw: &str) -> Option<u64> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let number: u64 = number.parse().ok()?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "mb" => 1000 * 1000,
        "gb" => 1000 * 1000 * 1000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        _ => return None,
    };
    number.checked_mul(factor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    // clap reads SITE_STATUS_* from the process environment, which every
    // test in this binary shares: tests that parse hold this lock.
    static ENV: Mutex<()> = Mutex::new(());

    fn parse(args: &[&str]) -> Result<Config, String> {
        let mut all = vec!["site-status-agent"];
        all.extend_from_slice(args);
        Config::try_parse_from(all).map_err(|e| e.to_string())
    }

    fn base(extra: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = ["--site", "borger", "--env", "prod"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    }

    fn parse_base(extra: &[&str]) -> Result<Config, String> {
        let args = base(extra);
        parse(&args.iter().map(String::as_str).collect::<Vec<_>>())
    }

    #[test]
    fn defaults() {
        let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
        let c = parse_base(&[]).unwrap();
        assert_eq!(c.site, "borger");
        assert_eq!(c.env, "prod");
        assert_eq!(c.profile, "");
        assert_eq!(c.listen, "0.0.0.0:9101".parse().unwrap());
        assert_eq!(c.interval, Duration::from_secs(300));
        assert_eq!(c.timeout, Duration::from_secs(120));
        assert_eq!(c.splay, Splay::Auto);
        assert_eq!(c.loki, None);
        assert_eq!(c.spool_max_reports, 500);
        assert_eq!(c.spool_max_bytes, 50_000_000);
        assert_eq!(c.log_level, LogLevel::Info);
        assert!(c.target_labels);
        assert_eq!(
            c.command,
            [
                "drush",
                "core-requirements",
                "--format=json",
                "--fields=title,severity,sid,description,value"
            ]
        );
    }

    #[test]
    fn every_flag() {
        let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
        let c = parse_base(&[
            "--profile",
            "kk_borger",
            "--listen",
            "127.0.0.1:9999",
            "--interval",
            "10m",
            "--timeout",
            "90s",
            "--splay",
            "0",
            "--loki-url",
            "https://loki.example:3100",
            "--loki-tenant",
            "fleet",
            "--loki-bearer-token-file",
            "/run/token",
            "--loki-ca-file",
            "/run/ca.pem",
            "--spool",
            "/spool",
            "--spool-max-reports",
            "20",
            "--spool-max-bytes",
            "64MiB",
            "--log-level",
            "debug",
            "--no-target-labels",
            "--",
            "vendor/bin/drush",
            "rq",
            "--format=json",
        ])
        .unwrap();
        assert_eq!(c.profile, "kk_borger");
        assert_eq!(c.listen, "127.0.0.1:9999".parse().unwrap());
        assert_eq!(c.interval, Duration::from_secs(600));
        assert_eq!(c.timeout, Duration::from_secs(90));
        assert_eq!(c.splay, Splay::Within(Duration::ZERO));
        let loki = c.loki.unwrap();
        assert_eq!(loki.url.as_str(), "https://loki.example:3100/");
        assert_eq!(loki.tenant.as_deref(), Some("fleet"));
        assert_eq!(loki.bearer_token_file, Some(PathBuf::from("/run/token")));
        assert_eq!(loki.ca_file, Some(PathBuf::from("/run/ca.pem")));
        assert_eq!(loki.max_push_bytes, 3 << 20);
        assert_eq!(c.spool, PathBuf::from("/spool"));
        assert_eq!(c.spool_max_reports, 20);
        assert_eq!(c.spool_max_bytes, 64 << 20);
        assert_eq!(c.log_level, LogLevel::Debug);
        assert!(!c.target_labels);
        assert_eq!(c.command, ["vendor/bin/drush", "rq", "--format=json"]);
    }

    #[test]
    fn environment_variables_configure_and_flags_win() {
        let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: every test that reads the environment holds ENV, and no
        // other thread of this test binary touches these variables.
        unsafe {
            std::env::set_var("SITE_STATUS_SITE", "fromenv");
            std::env::set_var("SITE_STATUS_ENV", "dev");
            std::env::set_var("SITE_STATUS_INTERVAL", "2h");
            std::env::set_var("SITE_STATUS_NO_TARGET_LABELS", "true");
        }
        let from_env = parse(&[]);
        let flag_wins = parse(&["--interval", "90s"]);
        // SITE_STATUS_TIMEOUT is bad: its error must name the variable.
        unsafe { std::env::set_var("SITE_STATUS_TIMEOUT", "soon") };
        let bad = parse(&[]);
        unsafe {
            for v in ["SITE", "ENV", "INTERVAL", "NO_TARGET_LABELS", "TIMEOUT"] {
                std::env::remove_var(format!("SITE_STATUS_{v}"));
            }
        }
        let c = from_env.unwrap();
        assert_eq!((c.site.as_str(), c.env.as_str()), ("fromenv", "dev"));
        assert_eq!(c.interval, Duration::from_secs(7200));
        assert!(!c.target_labels);
        assert_eq!(flag_wins.unwrap().interval, Duration::from_secs(90));
        let bad = bad.unwrap_err();
        assert!(bad.contains("--timeout (SITE_STATUS_TIMEOUT)"), "{bad}");
    }

    #[test]
    fn bad_values_name_flag_and_variable() {
        let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
        for (args, wanted) in [
            (
                vec!["--interval", "5x"],
                "--interval (SITE_STATUS_INTERVAL)",
            ),
            (vec!["--interval", "0"], "--interval (SITE_STATUS_INTERVAL)"),
            (
                vec!["--interval", "1d"],
                "--interval (SITE_STATUS_INTERVAL)",
            ),
            (vec!["--timeout=-5s"], "--timeout (SITE_STATUS_TIMEOUT)"),
            // Failure 5: an absurd interval was accepted, then overflowed
            // the scheduler's clock after the first run.
            (
                vec!["--interval", "9223372036854775807s"],
                "--interval (SITE_STATUS_INTERVAL)",
            ),
            (
                vec!["--interval", "25h"],
                "--interval (SITE_STATUS_INTERVAL)",
            ),
            (vec!["--timeout", "2h"], "--timeout (SITE_STATUS_TIMEOUT)"),
            (vec!["--splay", "1000h"], "--splay (SITE_STATUS_SPLAY)"),
            (
                vec!["--loki-url", "http://l", "--loki-max-push-bytes", "1kB"],
                "--loki-max-push-bytes (SITE_STATUS_LOKI_MAX_PUSH_BYTES)",
            ),
            // Failure 6: a bad tenant was reported as --loki-url.
            (
                vec![
                    "--loki-url",
                    "http://loki:3100",
                    "--loki-tenant",
                    "a b\u{7}",
                ],
                "--loki-tenant (SITE_STATUS_LOKI_TENANT)",
            ),
            (vec!["--splay", "sometimes"], "--splay (SITE_STATUS_SPLAY)"),
            (vec!["--listen", "9101"], "--listen (SITE_STATUS_LISTEN)"),
            (
                vec!["--loki-url", "loki:3100"],
                "--loki-url (SITE_STATUS_LOKI_URL)",
            ),
            (
                vec!["--spool-max-reports", "0"],
                "--spool-max-reports (SITE_STATUS_SPOOL_MAX_REPORTS)",
            ),
            (
                vec!["--spool-max-bytes", "50 parsecs"],
                "--spool-max-bytes (SITE_STATUS_SPOOL_MAX_BYTES)",
            ),
            (
                vec!["--log-level", "loud"],
                "--log-level (SITE_STATUS_LOG_LEVEL)",
            ),
        ] {
            let err = parse_base(&args).expect_err(&format!("{args:?}"));
            assert!(err.contains(wanted), "{args:?}: {err}");
        }
        // The bounds themselves are accepted.
        let c = parse_base(&["--interval", "24h", "--timeout", "1h", "--splay", "24h"]).unwrap();
        assert_eq!(c.interval, MAX_INTERVAL);
        assert_eq!(c.timeout, MAX_TIMEOUT);
        let err = parse(&["--env", "prod"]).unwrap_err();
        assert!(
            err.contains("--site (SITE_STATUS_SITE) is required"),
            "{err}"
        );
    }

    #[test]
    fn a_password_in_the_loki_url_is_refused_and_not_echoed() {
        let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
        let err = parse_base(&["--loki-url", "https://u:hunter2@loki:3100"]).unwrap_err();
        assert!(err.contains("--loki-url (SITE_STATUS_LOKI_URL)"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn version_and_help_are_not_config_errors() {
        let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
        let err = Config::try_parse_from(["site-status-agent", "--version"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::DisplayVersion);
        assert!(err.to_string().contains(env!("CARGO_PKG_VERSION")));
    }

    #[test]
    fn durations() {
        let s = Duration::from_secs;
        assert_eq!(parse_duration("90s"), Some(s(90)));
        assert_eq!(parse_duration("10m"), Some(s(600)));
        assert_eq!(parse_duration("2h"), Some(s(7200)));
        assert_eq!(parse_duration(" 1h30m "), Some(s(5400)));
        assert_eq!(parse_duration("0"), Some(Duration::ZERO));
        assert_eq!(parse_duration("0s"), Some(Duration::ZERO));
        for bad in ["", "5", "m", "-1s", "1y", "soon"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        assert_eq!(format_duration(s(120)), "2m");
        assert_eq!(format_duration(s(90)), "90s");
        assert_eq!(format_duration(s(7200)), "2h");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("1000000"), Some(1_000_000));
        assert_eq!(parse_bytes("50MB"), Some(50_000_000));
        assert_eq!(parse_bytes("50 mb"), Some(50_000_000));
        assert_eq!(parse_bytes("64KiB"), Some(65_536));
        assert_eq!(parse_bytes("1GiB"), Some(1 << 30));
        for bad in ["", "MB", "1.5MB", "-1", "5TB", "99999999999999999999"] {
            assert_eq!(parse_bytes(bad), None, "{bad}");
        }
        assert_eq!(parse_bytes("18446744073709551615GB"), None);
    }

    #[test]
    fn the_status_command_is_the_same_drush_asked_for_its_status() {
        let v = |args: &[&str]| args.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        assert_eq!(
            derive_status_command(&default_command()),
            Some(v(&["drush", "status", "--format=json"]))
        );
        assert_eq!(
            derive_status_command(&v(&[
                "/app/vendor/bin/drush",
                "--root=/app/web",
                "rq",
                "--uri",
                "https://borger.example",
                "--fields",
                "title,sid",
                "--severity=1",
            ])),
            Some(v(&[
                "/app/vendor/bin/drush",
                "--root=/app/web",
                "status",
                "--uri",
                "https://borger.example",
                "--format=json",
            ]))
        );
        // A wrapper whose arguments name no report command: not guessed.
        assert_eq!(
            derive_status_command(&v(&["/usr/local/bin/status.sh"])),
            None
        );
        assert_eq!(derive_status_command(&v(&["core-requirements"])), None);

        let config = |extra: &[&str]| {
            let mut args = vec!["site-status-agent", "--site", "s", "--env", "e"];
            args.extend_from_slice(extra);
            Config::try_parse_from(args).unwrap()
        };
        assert_eq!(
            config(&[]).status_command,
            Some(v(&["drush", "status", "--format=json"]))
        );
        assert_eq!(
            config(&[
                "--status-command",
                "php drush.phar st --format=json",
                "--",
                "x.sh"
            ])
            .status_command,
            Some(v(&["php", "drush.phar", "st", "--format=json"]))
        );
        assert_eq!(config(&["--status-command", "none"]).status_command, None);
        assert_eq!(config(&["--", "x.sh"]).status_command, None);
    }
}
