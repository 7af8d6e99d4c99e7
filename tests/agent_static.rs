//! The agent runs in any Drupal image, Debian or Alpine: built with
//! glibc's `crt-static` it needs nothing from the image. This builds it the
//! way `deploy/agent.Dockerfile` expects, and runs it alone in an empty
//! root (`chroot`), as root.

use std::path::Path;
use std::process::Command;

const TARGET: &str = "x86_64-unknown-linux-gnu";
/// The stripped binary may be at most this large (the 10 MB, in SI
/// units; BENCHMARKS.md has the measured size).
const MAX_STRIPPED_BYTES: u64 = 10_000_000;

#[test]
fn the_static_agent_runs_alone_in_an_empty_root() {
    if !cfg!(target_arch = "x86_64") || !cfg!(target_os = "linux") {
        // CI is an x86_64 Linux machine: there a skip would be a check not
        // made.
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true and not x86_64 Linux: the static agent is built for {TARGET} only"
        );
        eprintln!("skipped: the static build is made for {TARGET} only");
        return;
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        // CI runs as root: there a skip would be a check not made.
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true and not root: the static agent cannot be tried in a chroot"
        );
        eprintln!("skipped: chroot needs root, and this test runs as another user");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let built = Command::new(env!("CARGO"))
        // The profile the image ships (Cargo.toml's `[profile.agent]`).
        .args([
            "build",
            "--profile",
            "agent",
            "-q",
            "-p",
            "site-status-agent",
        ])
        .args(["--bin", "site-status-agent", "--target", TARGET])
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .current_dir(root)
        .status()
        .expect("run cargo build");
    assert!(built.success(), "the static build failed");
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let binary = target_dir.join(TARGET).join("agent/site-status-agent");

    let empty = tempfile::tempdir().unwrap();
    let inside = empty.path().join("site-status-agent");
    std::fs::copy(&binary, &inside).unwrap();
    let stripped = Command::new("strip").arg(&inside).status();
    let out = Command::new("chroot")
        .arg(empty.path())
        .args(["/site-status-agent", "--version"])
        .output()
        .expect("run chroot");
    assert!(
        out.status.success(),
        "in an empty root: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.starts_with("site-status-agent "), "{said}");
    // Nothing else was in the root: it read no library, no NSS module.
    let entries: Vec<_> = std::fs::read_dir(empty.path()).unwrap().collect();
    assert_eq!(entries.len(), 1);
    if stripped.is_ok_and(|s| s.success()) {
        let size = std::fs::metadata(&inside).unwrap().len();
        assert!(
            size <= MAX_STRIPPED_BYTES,
            "stripped binary is {size} bytes"
        );
    }
}
