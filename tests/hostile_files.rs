//! Every file the configuration points at (token, CA bundle, theme, the
//! mutes file, the configuration itself) may be a device, a FIFO or huge.
//! The binary refuses each with a message naming the key, quickly, and
//! without reading it whole.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_site-status");
/// Far longer than a refusal takes; a hung read never ends.
const DEADLINE: Duration = Duration::from_secs(15);

struct Finished {
    code: Option<i32>,
    output: String,
}

/// Runs the binary, killing it (and failing) if it does not end in time or
/// grows past 500 MB.
fn run_bounded(args: &[&str], env: &[(&str, &Path)], home: &Path) -> Finished {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env("HOME", home)
        .env_remove("SITE_STATUS_MUTES")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let started = Instant::now();
    loop {
        if let Some(_status) = child.try_wait().unwrap() {
            break;
        }
        let rss_kb = std::fs::read_to_string(format!("/proc/{}/status", child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            })
            .unwrap_or(0);
        if started.elapsed() > DEADLINE || rss_kb > 500_000 {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`site-status {}` did not finish (after {:?}, {} MB resident)",
                args.join(" "),
                started.elapsed(),
                rss_kb / 1000
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    Finished {
        code: out.status.code(),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

fn fifo(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    assert!(
        Command::new("mkfifo")
            .arg(&path)
            .status()
            .unwrap()
            .success()
    );
    path
}

fn config_with(dir: &Path, prometheus_extra: &str, top: &str) -> PathBuf {
    let path = dir.join("config.toml");
    std::fs::write(
        &path,
        format!(
            "{top}\n[[environment]]\nname = \"prod\"\n[environment.prometheus]\n\
             url = \"http://127.0.0.1:9\"\ntimeout = 1\n{prometheus_extra}"
        ),
    )
    .unwrap();
    path
}

#[test]
fn token_and_ca_files_that_are_devices_fifos_or_huge_are_refused_by_key() {
    let dir = tempfile::tempdir().unwrap();
    let pipe = fifo(dir.path(), "pipe");
    let huge = dir.path().join("huge");
    std::fs::write(&huge, vec![b'a'; 8 * 1024 * 1024]).unwrap();
    let pipe = pipe.display().to_string();
    let huge = huge.display().to_string();
    for (key, path, why) in [
        ("bearer_token_file", "/dev/zero", "not a regular file"),
        ("bearer_token_file", pipe.as_str(), "not a regular file"),
        ("bearer_token_file", huge.as_str(), "larger than"),
        ("ca_file", "/dev/zero", "not a regular file"),
        ("ca_file", pipe.as_str(), "not a regular file"),
        ("ca_file", huge.as_str(), "larger than"),
    ] {
        let config = config_with(dir.path(), &format!("{key} = \"{path}\"\n"), "");
        let config = config.display().to_string();
        for args in [
            vec!["--config", config.as_str(), "config", "check"],
            vec!["--config", config.as_str(), "check"],
        ] {
            let done = run_bounded(&args, &[], dir.path());
            assert_ne!(done.code, Some(0), "{key} = {path}: {}", done.output);
            assert!(
                done.output.contains(key) && done.output.contains(why),
                "{key} = {path}: the message should name the key and why:\n{}",
                done.output
            );
        }
    }
}

#[test]
fn a_theme_file_or_configuration_that_is_a_fifo_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let pipe = fifo(dir.path(), "theme.toml");
    let config = config_with(dir.path(), "", &format!("theme = \"{}\"", pipe.display()));
    // The dashboard reads its theme before it takes the terminal.
    let done = run_bounded(
        &["--config", &config.display().to_string()],
        &[],
        dir.path(),
    );
    assert_ne!(done.code, Some(0));
    assert!(
        done.output.contains("theme") && done.output.contains("not a regular file"),
        "{}",
        done.output
    );

    let pipe = fifo(dir.path(), "config-fifo.toml");
    let done = run_bounded(
        &["--config", &pipe.display().to_string(), "config", "check"],
        &[],
        dir.path(),
    );
    assert_ne!(done.code, Some(0));
    assert!(
        done.output.contains("not a regular file"),
        "{}",
        done.output
    );
}

#[test]
fn a_mutes_file_that_is_a_device_is_refused_and_the_check_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with(dir.path(), "", "");
    let done = run_bounded(
        &["--config", &config.display().to_string(), "check"],
        &[("SITE_STATUS_MUTES", Path::new("/dev/zero"))],
        dir.path(),
    );
    assert!(
        done.output.contains("/dev/zero") && done.output.contains("not a regular file"),
        "{}",
        done.output
    );
    // The backend at port 9 is unreachable: the check itself still ran.
    assert_eq!(done.code, Some(3), "{}", done.output);
}
