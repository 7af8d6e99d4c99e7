//! The demo's clusters: every site has a namespace with its Drupal
//! Deployment, its status workload and a Redis StatefulSet, and they behave
//! like the metrics say. A deploy wave rolls the Drupal Deployment to the
//! new release (a new pod failing its readiness probe until the site
//! recovers); where the drush run fails, a Drupal pod is in
//! CrashLoopBackOff; a site whose status target is down has its status pod
//! crash-looping; a silent site's status image cannot be pulled; now and
//! then a Redis pod cannot be scheduled. A few sites have metrics but no
//! namespace any more.

use super::{DemoFleet, DemoSite, ENVIRONMENTS, PROFILE_MAJOR, Temper, hash_str, mix, unit};
use crate::model::kube::{newest_events_first, sort_pods_worst_first};
use crate::model::{
    PodInfo, PodProblem, PodReason, SiteWorkloads, WarningEvent, Workload, WorkloadKind,
};

/// Share of sites whose namespace was deleted while their metrics linger.
const NOT_IN_CLUSTER_SHARE: f64 = 0.008;
/// Share of sites whose Redis pod waits for a node with room.
const UNSCHEDULABLE_SHARE: f64 = 0.02;
/// Share of sites whose Drupal pod was OOM-killed some time ago.
const OOM_SHARE: f64 = 0.06;
const REGISTRY: &str = "registry.sitefactory.example/kk";
const STATUS_IMAGE: &str = "registry.sitefactory.example/kk/drush-status:2.8.1";
const BROKEN_STATUS_IMAGE: &str = "registry.sitefactory.example/kk/drush-status:2.9.0-rc1";
const REDIS_IMAGE: &str = "docker.io/library/redis:7.4-alpine";

impl DemoSite {
    /// Metrics without a namespace: the site was deleted from the cluster
    /// and its last samples are still in Prometheus.
    pub(super) fn not_in_cluster(&self) -> bool {
        unit(mix(self.hash ^ 0x60)) < NOT_IN_CLUSTER_SHARE
    }

    fn namespace(&self) -> String {
        format!("site-{}", self.name)
    }
}

/// A pod name as a ReplicaSet would make it: owner, template hash, suffix.
fn pod_name(owner: &str, template: &str, salt: u64) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut h = mix(hash_str(salt, template));
    let suffix: String = (0..5)
        .map(|_| {
            let c = ALPHABET[(h % ALPHABET.len() as u64) as usize] as char;
            h /= ALPHABET.len() as u64;
            c
        })
        .collect();
    format!("{owner}-{template}-{suffix}")
}

/// The ReplicaSet hash of a template that runs `image`.
fn template_hash(image: &str, seed: u64) -> String {
    format!("{:08x}", mix(hash_str(seed, image)) & 0xffff_ffff)
        .chars()
        .map(|c| if c.is_ascii_digit() { c } else { 'b' })
        .collect::<String>()
        .replace('0', "7")
}

fn deployment(name: &str, desired: i32, image: &str) -> Workload {
    Workload {
        kind: WorkloadKind::Deployment,
        name: name.to_string(),
        desired,
        current: desired,
        updated: desired,
        ready: desired,
        available: desired,
        images: vec![image.to_string()],
        spec_pending: false,
        revision_pending: false,
        paused: false,
        stalled: None,
    }
}

fn ready_pod(name: String) -> PodInfo {
    PodInfo {
        name,
        phase: "Running".into(),
        ready: true,
        restarts: 0,
        last_termination: None,
        problem: None,
    }
}

fn event(time: f64, reason: &str, object: String, message: String, count: u32) -> WarningEvent {
    WarningEvent {
        time: Some(time),
        reason: reason.into(),
        object,
        message,
        count: count.max(1),
    }
}

impl DemoFleet {
    /// The site's namespace at simulated time `t` as the Kubernetes pane
    /// shows it; `Err` says why there is none.
    pub fn workloads(
        &self,
        env_name: &str,
        site_name: &str,
        t: f64,
        now_unix: f64,
    ) -> Result<SiteWorkloads, String> {
        let env = ENVIRONMENTS
            .iter()
            .position(|e| *e == env_name)
            .ok_or_else(|| format!("no environment {env_name}"))?;
        let (index, site) = self.envs[env]
            .iter()
            .enumerate()
            .find(|(_, s)| s.name == site_name)
            .ok_or_else(|| format!("no namespace in the cluster for site {site_name}"))?;
        if site.not_in_cluster() {
            return Err(format!(
                "no namespace in the cluster for site {site_name} (namespace_selector sitefactory.dk/type=site)"
            ));
        }
        let mut out = SiteWorkloads {
            namespace: site.namespace(),
            ..SiteWorkloads::default()
        };
        self.drupal(&mut out, env, index, t, now_unix);
        status_workload(&mut out, site, t, now_unix);
        redis(&mut out, site, env, t, now_unix);
        out.workloads
            .sort_by(|a, b| a.kind.cmp(&b.kind).then_with(|| a.name.cmp(&b.name)));
        sort_pods_worst_first(&mut out.pods);
        out.events_total = out.events.len();
        newest_events_first(&mut out.events, crate::source::kube::MAX_WARNING_EVENTS);
        Ok(out)
    }

    /// The Drupal Deployment: rolling to the new release while a deploy
    /// wave holds the site, complete otherwise.
    fn drupal(&self, out: &mut SiteWorkloads, env: usize, index: usize, t: f64, now_unix: f64) {
        let site = &self.envs[env][index];
        let desired = if env == 2 { 3 } else { 1 };
        let version = self.profile_version(env, index, t);
        let image = format!("{REGISTRY}/{}:{version}", site.profile);
        let template = template_hash(&image, site.hash);
        let mut workload = deployment("drupal", desired, &image);
        let rolling = self
            .slice_waves(env, site.profile_index, t)
            .into_iter()
            .rev()
            .find_map(|wave| {
                let hit = Self::hit_at(&wave, site);
                let hold = 8.0 + unit(mix(wave.seed ^ site.hash)) * (super::WAVE_MAX_HOLD - 8.0);
                (hit <= t && t < hit + hold).then_some((hit, hold))
            });
        match rolling {
            Some((hit, hold)) => {
                // maxSurge 1, maxUnavailable 0: one new pod at a time, and
                // the newest is not ready until the site has recovered.
                let progress = ((t - hit) / hold).clamp(0.0, 0.999);
                let updated = (1 + (progress * desired as f64) as i32).min(desired);
                workload.current = desired + 1;
                workload.updated = updated;
                workload.ready = desired;
                workload.available = desired;
                let old_image = previous_release(&image);
                let old_template = template_hash(&old_image, site.hash);
                for i in 0..(desired - updated + 1) {
                    out.pods.push(ready_pod(pod_name(
                        "drupal",
                        &old_template,
                        site.hash ^ i as u64,
                    )));
                }
                for i in 0..updated {
                    let name = pod_name("drupal", &template, site.hash ^ (100 + i) as u64);
                    if i + 1 < updated {
                        out.pods.push(ready_pod(name));
                        continue;
                    }
                    let failures = ((t - hit) / 5.0).floor() as u32 + 1;
                    out.events.push(event(
                        now_unix - (t - hit).rem_euclid(5.0),
                        "Unhealthy",
                        format!("Pod/{name}"),
                        "Readiness probe failed: HTTP probe failed with statuscode: 503".into(),
                        failures,
                    ));
                    out.pods.push(PodInfo {
                        name,
                        phase: "Running".into(),
                        ready: false,
                        restarts: 0,
                        last_termination: None,
                        problem: Some(PodProblem {
                            reason: PodReason::NotReady,
                            container: Some("php".into()),
                            message: "Readiness probe failed: HTTP probe failed with statuscode: 503 (database updates pending)".into(),
                            image: None,
                        }),
                    });
                }
            }
            None if site.temper == Temper::RunFails => {
                // Drush cannot bootstrap Drupal, and neither can PHP: the
                // database credentials in the site's secret are wrong.
                workload.ready = desired - 1;
                workload.available = desired - 1;
                for i in 0..desired - 1 {
                    out.pods.push(ready_pod(pod_name(
                        "drupal",
                        &template,
                        site.hash ^ i as u64,
                    )));
                }
                let name = pod_name("drupal", &template, site.hash ^ 0xc0);
                let restarts = 17 + (t / 300.0) as u32;
                out.events.push(event(
                    now_unix - t.rem_euclid(10.0),
                    "BackOff",
                    format!("Pod/{name}"),
                    "Back-off restarting failed container php in pod".into(),
                    250 + (t / 10.0) as u32,
                ));
                out.pods.push(PodInfo {
                    name: name.clone(),
                    phase: "Running".into(),
                    ready: false,
                    restarts,
                    last_termination: Some("Error (exit 255)".into()),
                    problem: Some(PodProblem {
                        reason: PodReason::CrashLoopBackOff,
                        container: Some("php".into()),
                        message: format!(
                            "back-off 5m0s restarting failed container=php pod={name}_{}",
                            site.namespace()
                        ),
                        image: None,
                    }),
                });
            }
            None => {
                let oom = unit(mix(site.hash ^ 0x70)) < OOM_SHARE;
                for i in 0..desired {
                    let mut pod = ready_pod(pod_name("drupal", &template, site.hash ^ i as u64));
                    if oom && i == 0 {
                        pod.restarts = 1 + (site.hash % 3) as u32;
                        pod.last_termination = Some("OOMKilled (exit 137)".into());
                    }
                    out.pods.push(pod);
                }
            }
        }
        out.workloads.push(workload);
    }
}

/// The release before `image`'s: one patch down.
fn previous_release(image: &str) -> String {
    let Some((repo, version)) = image.rsplit_once(':') else {
        return image.to_string();
    };
    let mut parts: Vec<u32> = version.split('.').filter_map(|p| p.parse().ok()).collect();
    if let Some(patch) = parts.last_mut() {
        *patch = patch.saturating_sub(1);
    }
    let version: Vec<String> = parts.iter().map(u32::to_string).collect();
    if version.len() == 3 {
        format!("{repo}:{}", version.join("."))
    } else {
        format!("{repo}:{PROFILE_MAJOR}.0.0")
    }
}

/// The status workload, which runs drush and serves the metrics: crashing
/// where its target is down, its image missing where the site is silent.
fn status_workload(out: &mut SiteWorkloads, site: &DemoSite, t: f64, now_unix: f64) {
    let image = if site.temper == Temper::Silent {
        BROKEN_STATUS_IMAGE
    } else {
        STATUS_IMAGE
    };
    let template = template_hash(image, site.hash);
    let name = pod_name("drupal-status", &template, site.hash);
    let mut workload = deployment("drupal-status", 1, image);
    let object = format!("Pod/{name}");
    match site.temper {
        Temper::TargetDown => {
            workload.ready = 0;
            workload.available = 0;
            // Crashes every few minutes, for hours already.
            let restarts = 38 + (t / 300.0) as u32;
            out.pods.push(PodInfo {
                name: name.clone(),
                phase: "Running".into(),
                ready: false,
                restarts,
                last_termination: Some("Error (exit 1)".into()),
                problem: Some(PodProblem {
                    reason: PodReason::CrashLoopBackOff,
                    container: Some("exporter".into()),
                    message: format!(
                        "back-off 5m0s restarting failed container=exporter pod={name}_{}",
                        site.namespace()
                    ),
                    image: None,
                }),
            });
            out.events.push(event(
                now_unix - t.rem_euclid(10.0),
                "BackOff",
                object.clone(),
                "Back-off restarting failed container exporter in pod".into(),
                900 + (t / 10.0) as u32,
            ));
            out.events.push(event(
                now_unix - t.rem_euclid(300.0) - 12.0,
                "Unhealthy",
                object,
                "Liveness probe failed: Get \"http://10.244.3.17:9100/metrics\": dial tcp 10.244.3.17:9100: connect: connection refused".into(),
                3 * restarts,
            ));
        }
        Temper::Silent => {
            workload.ready = 0;
            workload.available = 0;
            workload.updated = 1;
            out.pods.push(PodInfo {
                name,
                phase: "Pending".into(),
                ready: false,
                restarts: 0,
                last_termination: None,
                problem: Some(PodProblem {
                    reason: PodReason::ImagePullBackOff,
                    container: Some("exporter".into()),
                    message: format!("Back-off pulling image \"{BROKEN_STATUS_IMAGE}\""),
                    image: Some(BROKEN_STATUS_IMAGE.into()),
                }),
            });
            out.events.push(event(
                now_unix - t.rem_euclid(20.0),
                "Failed",
                object.clone(),
                format!(
                    "Failed to pull image \"{BROKEN_STATUS_IMAGE}\": rpc error: code = NotFound desc = failed to pull and unpack image: not found"
                ),
                120 + (t / 20.0) as u32,
            ));
            out.events.push(event(
                now_unix - t.rem_euclid(15.0),
                "BackOff",
                object,
                format!("Back-off pulling image \"{BROKEN_STATUS_IMAGE}\""),
                400 + (t / 15.0) as u32,
            ));
        }
        _ => out.pods.push(ready_pod(name)),
    }
    out.workloads.push(workload);
}

/// Redis for the site's cache; in prod a few wait for a node with memory.
fn redis(out: &mut SiteWorkloads, site: &DemoSite, env: usize, t: f64, now_unix: f64) {
    let unschedulable = env == 2 && unit(mix(site.hash ^ 0x80)) < UNSCHEDULABLE_SHARE;
    let name = "redis-0".to_string();
    let mut workload = Workload {
        kind: WorkloadKind::StatefulSet,
        ..deployment("redis", 1, REDIS_IMAGE)
    };
    if !unschedulable {
        out.pods.push(ready_pod(name));
        out.workloads.push(workload);
        return;
    }
    workload.ready = 0;
    workload.available = 0;
    let message = "0/6 nodes are available: 3 Insufficient memory, 3 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }. preemption: 0/6 nodes are available: 3 No preemption victims found for incoming pod, 3 Preemption is not helpful for scheduling.";
    out.pods.push(PodInfo {
        name: name.clone(),
        phase: "Pending".into(),
        ready: false,
        restarts: 0,
        last_termination: None,
        problem: Some(PodProblem {
            reason: PodReason::Pending,
            container: None,
            message: message.into(),
            image: None,
        }),
    });
    out.events.push(event(
        now_unix - t.rem_euclid(60.0),
        "FailedScheduling",
        format!("Pod/{name}"),
        message.into(),
        30 + (t / 60.0) as u32,
    ));
    out.workloads.push(workload);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RolloutState;

    const NOW: f64 = 1_800_000_000.0;

    fn fleet() -> DemoFleet {
        DemoFleet::new(320, 1)
    }

    #[test]
    fn a_crashing_drupal_pod_where_the_drush_run_fails() {
        let fleet = fleet();
        let (env, site) = fleet
            .envs
            .iter()
            .enumerate()
            .find_map(|(e, sites)| {
                sites
                    .iter()
                    .find(|s| s.temper == Temper::RunFails && !s.not_in_cluster())
                    .map(|s| (ENVIRONMENTS[e], s.name.clone()))
            })
            .expect("the demo has a site whose drush run fails");
        let w = fleet.workloads(env, &site, 100.0, NOW).unwrap();
        let first = &w.pods[0];
        assert!(!first.ready);
        assert_eq!(
            first.problem.as_ref().map(|p| &p.reason),
            Some(&PodReason::CrashLoopBackOff)
        );
        assert!(first.restarts > 10);
        assert_eq!(w.events[0].reason, "BackOff", "newest first");
        assert!(w.events.windows(2).all(|p| p[0].time >= p[1].time));
    }

    #[test]
    fn a_deploy_wave_rolls_the_drupal_deployment() {
        let fleet = fleet();
        let mut seen_rolling = false;
        'search: for step in 0..400 {
            let t = step as f64 * 0.5;
            for (e, sites) in fleet.envs.iter().enumerate() {
                for s in sites.iter().filter(|s| !s.not_in_cluster()) {
                    let w = fleet.workloads(ENVIRONMENTS[e], &s.name, t, NOW).unwrap();
                    let drupal = w.workloads.iter().find(|w| w.name == "drupal").unwrap();
                    if drupal.rollout() == RolloutState::InProgress {
                        assert!(drupal.updated <= drupal.desired);
                        assert!(w.not_ready().any(|p| p.name.starts_with("drupal-")));
                        assert!(w.events.iter().any(|e| e.reason == "Unhealthy"));
                        seen_rolling = true;
                        break 'search;
                    }
                }
            }
        }
        assert!(seen_rolling, "some wave rolls within the first 200 s");
    }

    #[test]
    fn some_sites_have_no_namespace_and_say_so() {
        let fleet = fleet();
        let gone: Vec<&DemoSite> = fleet
            .envs
            .iter()
            .flatten()
            .filter(|s| s.not_in_cluster())
            .collect();
        assert!(!gone.is_empty() && gone.len() < 10, "{}", gone.len());
        let env = ENVIRONMENTS[fleet
            .envs
            .iter()
            .position(|sites| {
                sites
                    .iter()
                    .any(|s| s.name == gone[0].name && s.not_in_cluster())
            })
            .unwrap()];
        let err = fleet.workloads(env, &gone[0].name, 10.0, NOW).unwrap_err();
        assert!(err.contains("no namespace"), "{err}");
    }

    #[test]
    fn the_previous_release_is_one_patch_down() {
        assert_eq!(previous_release("r/kk_base:3.14.5"), "r/kk_base:3.14.4");
    }
}
