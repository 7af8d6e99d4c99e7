//! Mutes that are Alertmanager silences: what the operator is told when
//! Alertmanager took or refused one. The silences themselves come back
//! with the next poll (`EnvReport::silences`), like every other fact.

use crate::app::App;
use crate::model::RuleOrigin;
use crate::poller::{FinishedSilence, SilenceChange};

impl App {
    pub fn offer_silence(&mut self, done: FinishedSilence) {
        let FinishedSilence {
            env,
            change,
            result,
        } = done;
        let on =
            |rule: &crate::model::MuteRule| rule.site.clone().unwrap_or_else(|| rule.scope_label());
        self.message = Some(match (&change, result) {
            (SilenceChange::Create(rule), Ok(id)) => {
                if self
                    .refused_mute
                    .as_ref()
                    .is_some_and(|r| r.same_target(rule))
                {
                    self.refused_mute = None;
                }
                format!(
                    "muted {} on {}: silence {} in {env}'s Alertmanager, for the whole team",
                    rule.requirement,
                    on(rule),
                    id.unwrap_or_default()
                )
            }
            (SilenceChange::Create(rule), Err(e)) => {
                self.refused_mute = Some(rule.clone());
                format!(
                    "NOT muted: {}; m on {} again offers the same mute",
                    e.message, rule.requirement
                )
            }
            (SilenceChange::Expire(rule), Ok(_)) => {
                let by = match &rule.origin {
                    RuleOrigin::Silence { created_by, .. } => format!(" (by {created_by})"),
                    _ => String::new(),
                };
                format!(
                    "unmuted {} on {}: its silence{by} is expired",
                    rule.requirement,
                    on(rule)
                )
            }
            (SilenceChange::Expire(rule), Err(e)) => {
                format!("{} stays muted: {}", rule.requirement, e.message)
            }
        });
    }
}
