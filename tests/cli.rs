//! The binary's non-interactive behaviour, run as a user would.

use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_site-status"))
}

#[test]
fn without_configuration_it_says_where_and_suggests_the_demo() {
    let home = std::env::temp_dir().join(format!("site-status-home-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let out = bin()
        .env_remove("SITE_STATUS_CONFIG")
        .env("HOME", &home)
        .env_remove("XDG_CONFIG_HOME")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected = home.join(".config/site-status/config.toml");
    assert!(stderr.contains(&expected.display().to_string()), "{stderr}");
    assert!(stderr.contains("site-status demo"), "{stderr}");
    assert!(out.stdout.is_empty());
    std::fs::remove_dir_all(&home).ok();
}

#[test]
fn config_flag_and_environment_variable_name_the_file() {
    let out = bin()
        .env("SITE_STATUS_CONFIG", "/nonexistent/from-env.toml")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/from-env.toml"));

    let out = bin()
        .args(["--config", "/nonexistent/from-flag.toml"])
        .env("SITE_STATUS_CONFIG", "/nonexistent/from-env.toml")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/from-flag.toml"));
}

#[test]
fn demo_rejects_a_fleet_of_no_sites() {
    let out = bin().args(["demo", "--sites", "0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("number of sites"));
}

#[test]
fn keys_lists_every_binding() {
    let out = bin().arg("keys").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for b in site_status::app::keymap::BINDINGS {
        assert!(text.contains(b.description), "{}", b.description);
    }
}
