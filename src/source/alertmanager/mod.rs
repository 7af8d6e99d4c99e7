//! The environment's Alertmanager, for mutes the whole team shares: a mute
//! made with `m` is a silence (API v2), the silences that match the
//! contract's alerts are read back every poll as mute rules, and `u`
//! expires one. Silences made with `amtool` or Alertmanager's UI are read
//! the same way.
//!
//! A silence is a mute when its matchers are all plain equalities and name
//! a `requirement`; `env`, `site` and `profile` narrow it as a rule's
//! fields do, and `alertname` may name one of the contract's alerts. Any
//! other matcher (a regex, a label the contract does not know) makes it a
//! silence of something else, which is not shown as a mute.

mod wire;

use jiff::Timestamp;

pub use wire::{Matcher, Silence, SilenceState};

use crate::config::{BackendConfig, ConfigError};
use crate::model::text::{MAX_FIELD_CHARS, MAX_NAME_CHARS, clean_line};
use crate::model::{MuteRule, RuleOrigin};
use crate::source::SourceError;
use crate::source::http::{Endpoint, SecretLookup, body_excerpt};

/// The contract's alerts (deploy/prometheus/site-status.rules.yml) a
/// requirement silence may name.
pub const CONTRACT_ALERTS: &[&str] = &["DrupalRequirementError"];

/// A mute with no expiry becomes a silence of this long: Alertmanager
/// needs an end, and a month is reviewed before it is forgotten.
pub const DEFAULT_SILENCE_DAYS: i64 = 30;

#[derive(Debug, Clone)]
pub struct AlertmanagerApi {
    pub endpoint: Endpoint,
}

impl AlertmanagerApi {
    pub fn new(
        config: &BackendConfig,
        what: &str,
        secrets: &dyn SecretLookup,
    ) -> Result<AlertmanagerApi, ConfigError> {
        Ok(AlertmanagerApi {
            endpoint: Endpoint::new(config, what, secrets)?,
        })
    }

    /// Every silence Alertmanager holds (active, pending and expired).
    pub async fn silences(&self) -> Result<Vec<Silence>, SourceError> {
        let url = self.endpoint.url("api/v2/silences")?;
        let (status, body) = self.endpoint.send(self.endpoint.client.get(url)).await?;
        if status != 200 {
            return Err(self.refused(status, &body));
        }
        wire::parse_silences(&body).map_err(|e| self.located(e))
    }

    /// Makes the silence; answers with its id.
    pub async fn create(&self, silence: &wire::PostableSilence) -> Result<String, SourceError> {
        let url = self.endpoint.url("api/v2/silences")?;
        let (status, body) = self
            .endpoint
            .send(self.endpoint.client.post(url).json(silence))
            .await?;
        if status != 200 {
            return Err(self.refused(status, &body));
        }
        wire::parse_created(&body).map_err(|e| self.located(e))
    }

    /// Ends the silence now (Alertmanager keeps it, expired).
    pub async fn expire(&self, id: &str) -> Result<(), SourceError> {
        let mut url = self.endpoint.url("api/v2/silence")?;
        url.path_segments_mut()
            .map_err(|_| SourceError::new(format!("{}: not a base URL", self.endpoint.display())))?
            .push(id);
        let (status, body) = self.endpoint.send(self.endpoint.client.delete(url)).await?;
        if status != 200 {
            return Err(self.refused(status, &body));
        }
        Ok(())
    }

    fn refused(&self, status: u16, body: &[u8]) -> SourceError {
        SourceError::new(format!(
            "{}: HTTP {status}: {}",
            self.endpoint.display(),
            body_excerpt(body)
        ))
    }

    fn located(&self, error: SourceError) -> SourceError {
        SourceError::new(format!("{}: {}", self.endpoint.display(), error.message))
    }
}

/// The silence as a mute rule of environment `env`, when it is one (see
/// the module's words) and in force at `now`.
pub fn silence_to_rule(silence: &Silence, env: &str, now: Timestamp) -> Option<MuteRule> {
    if silence.state != SilenceState::Active || silence.ends_at <= now {
        return None;
    }
    let mut requirement = None;
    let (mut site, mut profile, mut env_matched) = (None, None, None);
    for m in &silence.matchers {
        if m.is_regex || !m.is_equal {
            return None;
        }
        let value = Some(m.value.clone());
        match m.name.as_str() {
            "requirement" => requirement = value,
            "site" => site = value,
            "profile" => profile = value,
            "env" => env_matched = value,
            "alertname" if CONTRACT_ALERTS.contains(&m.value.as_str()) => {}
            _ => return None,
        }
    }
    if env_matched.as_deref().is_some_and(|e| e != env) {
        return None;
    }
    let reason = clean_line(silence.comment.trim(), MAX_FIELD_CHARS);
    Some(MuteRule {
        requirement: requirement?,
        env: Some(env.to_string()),
        profile,
        site,
        reason: if reason.is_empty() {
            "(no comment)".to_string()
        } else {
            reason
        },
        expires: Some(silence.ends_at.as_second()),
        origin: RuleOrigin::Silence {
            id: silence.id.clone(),
            created_by: clean_line(silence.created_by.trim(), MAX_NAME_CHARS),
        },
    })
}

/// Whether the silence, active at `now`, silences the alert of
/// environment `env`. Only equality matchers on the labels the dashboard
/// keeps of an alert are judged; a silence with any other matcher is not
/// taken to silence it (Alertmanager may still: the view then errs on the
/// loud side).
pub fn silences_alert(
    silence: &Silence,
    alert: &crate::model::Alert,
    env: &str,
    now: Timestamp,
) -> bool {
    if silence.state != SilenceState::Active || silence.ends_at <= now {
        return false;
    }
    silence.matchers.iter().all(|m| {
        if m.is_regex || !m.is_equal {
            return false;
        }
        let value = match m.name.as_str() {
            "alertname" => Some(alert.name.as_str()),
            "site" => Some(alert.site.as_str()),
            "env" => Some(env),
            "profile" => alert.profile.as_deref(),
            "requirement" => alert.requirement.as_deref(),
            "severity" => alert.severity.as_deref(),
            _ => None,
        };
        value == Some(m.value.as_str())
    })
}

/// Marks the alerts the silences silence, with who made the silence.
pub fn mark_silenced(
    alerts: &mut [crate::model::Alert],
    silences: &[Silence],
    env: &str,
    now: Timestamp,
) {
    for alert in alerts {
        alert.silenced_by = silences
            .iter()
            .find(|s| silences_alert(s, alert, env, now))
            .map(|s| clean_line(s.created_by.trim(), MAX_NAME_CHARS))
            .map(|by| {
                if by.is_empty() {
                    "(unknown)".to_string()
                } else {
                    by
                }
            });
    }
}

/// The silence `m` makes for a rule: matchers `env` (the environment's
/// name), `requirement`, and the site or profile when the rule names them;
/// from now until the rule's expiry (or [`DEFAULT_SILENCE_DAYS`]).
pub fn rule_to_silence(
    rule: &MuteRule,
    env: &str,
    created_by: &str,
    now: Timestamp,
) -> wire::PostableSilence {
    let equal = |name: &str, value: &str| Matcher {
        name: name.to_string(),
        value: value.to_string(),
        is_regex: false,
        is_equal: true,
    };
    let mut matchers = vec![equal("env", env), equal("requirement", &rule.requirement)];
    if let Some(profile) = &rule.profile {
        matchers.push(equal("profile", profile));
    }
    if let Some(site) = &rule.site {
        matchers.push(equal("site", site));
    }
    let ends_at = rule
        .expires
        .and_then(|e| Timestamp::from_second(e).ok())
        .unwrap_or_else(|| {
            now.checked_add(jiff::SignedDuration::from_hours(24 * DEFAULT_SILENCE_DAYS))
                .unwrap_or(now)
        });
    wire::PostableSilence {
        matchers,
        starts_at: now,
        ends_at,
        created_by: created_by.to_string(),
        comment: rule.reason.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn silence(matchers: &[(&str, &str, bool)]) -> Silence {
        Silence {
            id: "abc".into(),
            state: SilenceState::Active,
            matchers: matchers
                .iter()
                .map(|(n, v, regex)| Matcher {
                    name: n.to_string(),
                    value: v.to_string(),
                    is_regex: *regex,
                    is_equal: true,
                })
                .collect(),
            starts_at: "2026-12-01T00:00:00Z".parse().unwrap(),
            ends_at: "2026-12-31T00:00:00Z".parse().unwrap(),
            created_by: "jane\u{1b}[31m".into(),
            comment: "known: waiting for the vendor".into(),
        }
    }

    fn now() -> Timestamp {
        "2026-12-02T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_requirement_silence_is_a_mute_rule() {
        let s = silence(&[
            ("env", "prod", false),
            ("site", "borger", false),
            ("requirement", "update_core", false),
        ]);
        let rule = silence_to_rule(&s, "prod", now()).unwrap();
        assert_eq!(rule.requirement, "update_core");
        assert_eq!(rule.site.as_deref(), Some("borger"));
        assert_eq!(rule.env.as_deref(), Some("prod"));
        assert_eq!(rule.profile, None);
        assert_eq!(rule.reason, "known: waiting for the vendor");
        assert_eq!(rule.expires, Some(s.ends_at.as_second()));
        match &rule.origin {
            RuleOrigin::Silence { id, created_by } => {
                assert_eq!(id, "abc");
                assert!(!created_by.contains('\u{1b}'), "{created_by:?}");
            }
            other => panic!("{other:?}"),
        }
        // A silence of another environment, a regex, a foreign label, no
        // requirement, an expired one: not mutes of this environment.
        assert!(silence_to_rule(&s, "test", now()).is_none());
        let regex = silence(&[("requirement", "update.*", true)]);
        assert!(silence_to_rule(&regex, "prod", now()).is_none());
        let foreign = silence(&[("requirement", "cron", false), ("team", "x", false)]);
        assert!(silence_to_rule(&foreign, "prod", now()).is_none());
        let whole_site = silence(&[("site", "borger", false)]);
        assert!(silence_to_rule(&whole_site, "prod", now()).is_none());
        let mut expired = s.clone();
        expired.state = SilenceState::Expired;
        assert!(silence_to_rule(&expired, "prod", now()).is_none());
        // amtool's silence of the contract's alert is one too.
        let amtool = silence(&[
            ("alertname", "DrupalRequirementError", false),
            ("requirement", "cron", false),
        ]);
        assert!(silence_to_rule(&amtool, "prod", now()).is_some());
    }

    #[test]
    fn a_silence_silences_the_alerts_its_matchers_name() {
        let alert = crate::model::Alert::sanitized(
            "DrupalRequirementError",
            "borger",
            Some("critical"),
            None,
            None,
        )
        .with_labels(Some("cron"), Some("kk_borger"));
        let mut alerts = vec![alert.clone()];
        let on_cron = silence(&[("site", "borger", false), ("requirement", "cron", false)]);
        mark_silenced(&mut alerts, std::slice::from_ref(&on_cron), "prod", now());
        let by = alerts[0].silenced_by.clone().unwrap();
        assert!(by.starts_with("jane") && !by.contains('\u{1b}'), "{by:?}");
        for other in [
            silence(&[("site", "borger", false), ("requirement", "update", false)]),
            silence(&[("site", "borger", false), ("team", "x", false)]),
            silence(&[("site", "bor.*", true)]),
            silence(&[("env", "test", false)]),
        ] {
            assert!(!silences_alert(&other, &alert, "prod", now()), "{other:?}");
        }
        assert!(silences_alert(
            &silence(&[
                ("alertname", "DrupalRequirementError", false),
                ("env", "prod", false)
            ]),
            &alert,
            "prod",
            now()
        ));
    }

    #[test]
    fn a_mute_becomes_a_silence_with_its_scope_reason_author_and_end() {
        let mut rule = MuteRule::new("update_core", "accepted until the release");
        rule.site = Some("borger".into());
        rule.env = Some("prod".into());
        rule.expires = Some(1_800_000_000);
        let s = rule_to_silence(&rule, "prod", "jane", now());
        let names: Vec<(&str, &str)> = s
            .matchers
            .iter()
            .map(|m| (m.name.as_str(), m.value.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("env", "prod"),
                ("requirement", "update_core"),
                ("site", "borger")
            ]
        );
        assert_eq!(s.created_by, "jane");
        assert_eq!(s.comment, "accepted until the release");
        assert_eq!(s.ends_at.as_second(), 1_800_000_000);
        // No expiry: a month.
        rule.expires = None;
        let s = rule_to_silence(&rule, "prod", "jane", now());
        assert_eq!(
            s.ends_at.as_second() - now().as_second(),
            DEFAULT_SILENCE_DAYS * 86_400
        );
    }
}
