//! `site-status watch` against a real Prometheus scraping a fleet that
//! changes between scrapes: exactly the transitions the fleet went through,
//! and nothing while it is steady.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use support::{Fleet, FleetExporter, Site, TestPrometheus};

fn healthy(name: &str, env: &str) -> Site {
    let mut site = Site::new(name, env, "kk_borger");
    for sid in site.requirements.values_mut() {
        *sid = (*sid).min(0);
    }
    site
}

fn lines_of(read: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(read).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

#[tokio::test]
async fn watch_prints_exactly_the_transitions_and_nothing_when_steady() {
    let exporter = FleetExporter::start(Fleet::new(vec![
        healthy("alpha", "prod"),
        healthy("beta", "prod"),
        healthy("gamma", "dev"),
    ]));
    let prom = TestPrometheus::scraping(&exporter).await;
    prom.wait_for_fleet(&exporter).await;

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    let mut text = String::from("refresh_interval = \"2s\"\n");
    for env in ["dev", "prod"] {
        text.push_str(&format!(
            "[[environment]]\nname = \"{env}\"\nselector = 'env=\"{env}\"'\n[environment.prometheus]\nurl = \"{}\"\n",
            prom.url()
        ));
    }
    std::fs::write(&config, text).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_site-status"))
        .arg("--config")
        .arg(&config)
        .args(["watch", "--format", "jsonl"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = lines_of(child.stdout.take().unwrap());
    let stderr = lines_of(child.stderr.take().unwrap());
    let mut baselines = 0;
    while baselines < 2 {
        let line = stderr
            .recv_timeout(Duration::from_secs(20))
            .expect("baseline");
        if line.contains("baseline of") {
            baselines += 1;
        }
    }

    let next = |what: &str| -> serde_json::Value {
        let line = stdout
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("no transition for {what}"));
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    };
    let brief = |v: &serde_json::Value| {
        format!(
            "{} {} {}->{} {}",
            v["env"].as_str().unwrap(),
            v["site"].as_str().unwrap(),
            v["from"].as_str().unwrap(),
            v["to"].as_str().unwrap(),
            v["requirements"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| format!(
                    "{}:{}->{}",
                    r["id"].as_str().unwrap(),
                    r["from"].as_str().unwrap(),
                    r["to"].as_str().unwrap()
                ))
                .collect::<Vec<_>>()
                .join(",")
        )
    };

    let mut seen = Vec::new();
    exporter.set_severity("alpha", "cron", 2);
    prom.wait_for_fleet(&exporter).await;
    seen.push(brief(&next("alpha's cron failing")));

    exporter.set_success("beta", false);
    prom.wait_for_fleet(&exporter).await;
    seen.push(brief(&next("beta's run failing")));

    exporter.update(|f| {
        f.site_in_mut("dev", "gamma")
            .set_severity("update_contrib", 1);
    });
    prom.wait_for_fleet(&exporter).await;
    seen.push(brief(&next("gamma's warning")));

    exporter.set_severity("alpha", "cron", 0);
    prom.wait_for_fleet(&exporter).await;
    seen.push(brief(&next("alpha recovering")));

    assert_eq!(
        seen,
        [
            "prod alpha ok->error cron:ok->error",
            "prod beta ok->run_failed ",
            "dev gamma ok->warning update_contrib:ok->warning",
            "prod alpha error->ok cron:error->ok",
        ]
    );

    // Steady: several polls go by, nothing is printed.
    assert!(
        stdout.recv_timeout(Duration::from_secs(7)).is_err(),
        "a steady fleet printed something"
    );

    let pid = child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

#[tokio::test]
async fn watch_lines_have_the_documented_shape() {
    let exporter = FleetExporter::start(Fleet::new(vec![healthy("alpha", "prod")]));
    let prom = TestPrometheus::scraping(&exporter).await;
    prom.wait_for_fleet(&exporter).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "refresh_interval = \"2s\"\n[[environment]]\nname = \"prod\"\n[environment.prometheus]\nurl = \"{}\"\n",
            prom.url()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_site-status"))
        .arg("--config")
        .arg(&config)
        .arg("watch")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = lines_of(child.stdout.take().unwrap());
    let stderr = lines_of(child.stderr.take().unwrap());
    while !stderr
        .recv_timeout(Duration::from_secs(20))
        .unwrap()
        .contains("baseline of")
    {}
    exporter.set_severity("alpha", "update", 2);
    prom.wait_for_fleet(&exporter).await;
    let line = stdout.recv_timeout(Duration::from_secs(20)).unwrap();
    // 2026-11-27T16:04:13Z prod kk_borger alpha  ok → error  (update)
    let parts: Vec<&str> = line.split_whitespace().collect();
    assert!(parts[0].ends_with('Z') && parts[0].contains('T'), "{line}");
    assert_eq!(
        &parts[1..],
        ["prod", "kk_borger", "alpha", "ok", "→", "error", "(update)"],
        "{line}"
    );
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
}
