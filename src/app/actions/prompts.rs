//! The two prompts: the grid's filter being typed, and a mute rule's
//! reason and expiry; what Enter and Esc do in each. Changes the app's
//! state only; a rule to store comes back as an `Effect`.

use tui_input::Input;

use crate::app::keymap::Action;
use crate::app::{App, Effect, SiteKey};
use crate::model::MuteRule;

/// Typing a new mute rule in the site view: first the reason, then the
/// expiry.
#[derive(Debug, Clone)]
pub struct MutePrompt {
    pub site: SiteKey,
    pub requirement: String,
    /// The site's install profile, when known: Tab widens the mute to
    /// every site of it.
    pub profile: Option<String>,
    /// The mute is for every site of `profile`, not only this one.
    pub whole_profile: bool,
    pub reason: Option<String>,
    pub input: Input,
    pub error: Option<String>,
}

impl MutePrompt {
    /// Where the mute will apply, for the prompt: `borger`, or `every
    /// kk_borger site`.
    pub fn scope_label(&self) -> String {
        match (&self.profile, self.whole_profile) {
            (Some(profile), true) => format!("every {profile} site"),
            _ => self.site.site.clone(),
        }
    }
}

impl App {
    /// Enter keeps the filter typed so far; Esc clears it. Keys that are
    /// not bound are text (`handle_key` types them).
    pub(in crate::app) fn filter_prompt_action(&mut self, action: Action) {
        match action {
            Action::ApplyFilter => self.filter_input = None,
            Action::ClearFilter => {
                self.filter_input = None;
                self.grid.filter_text.clear();
                self.relayout();
            }
            _ => {}
        }
    }

    /// Enter moves from the reason to the expiry and then stores the rule;
    /// Esc cancels.
    pub(in crate::app) fn prompt_action(&mut self, action: Action) -> Vec<Effect> {
        let Some(prompt) = self.prompt.as_mut() else {
            return Vec::new();
        };
        match action {
            Action::CancelMute | Action::Back => self.prompt = None,
            Action::CycleMuteScope if prompt.profile.is_some() => {
                prompt.whole_profile = !prompt.whole_profile;
            }
            Action::SaveMute => {
                let text = prompt.input.value().trim().to_string();
                match &prompt.reason {
                    None if text.is_empty() => {
                        prompt.error = Some("a reason is required".into());
                    }
                    None => {
                        prompt.reason = Some(text);
                        prompt.input = Input::default();
                    }
                    Some(reason) => {
                        let expires = if text.is_empty() {
                            None
                        } else {
                            match crate::model::mute::parse_expiry(&text) {
                                Ok(at) => Some(at),
                                Err(e) => {
                                    prompt.error = Some(e);
                                    return Vec::new();
                                }
                            }
                        };
                        let mut rule = MuteRule::new(prompt.requirement.clone(), reason.clone());
                        rule.env = Some(prompt.site.env.clone());
                        match (&prompt.profile, prompt.whole_profile) {
                            (Some(profile), true) => rule.profile = Some(profile.clone()),
                            _ => rule.site = Some(prompt.site.site.clone()),
                        }
                        rule.expires = expires;
                        self.prompt = None;
                        return vec![Effect::AddMute(rule)];
                    }
                }
            }
            Action::Quit => self.quit = true,
            _ => {}
        }
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use crate::app::Effect;
    use crate::app::keymap::{Action, Scope};
    use crate::app::test_fleets::{failing_app_with_site_open, type_text};
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    #[test]
    fn tab_widens_the_mute_to_every_site_of_the_profile() {
        let mut app = failing_app_with_site_open();
        app.perform(Scope::Site, Action::Mute);
        let profile = app.prompt.as_ref().unwrap().profile.clone().unwrap();
        app.perform(Scope::Prompt, Action::CycleMuteScope);
        assert_eq!(
            app.prompt.as_ref().unwrap().scope_label(),
            format!("every {profile} site")
        );
        type_text(&mut app, "known everywhere");
        app.perform(Scope::Prompt, Action::SaveMute);
        let effects = app.perform(Scope::Prompt, Action::SaveMute);
        let Some(Effect::AddMute(rule)) = effects.first() else {
            panic!("{effects:?}");
        };
        assert_eq!(rule.profile.as_deref(), Some(profile.as_str()));
        assert_eq!(rule.site, None);
        // Tab again: back to the one site.
        app.perform(Scope::Site, Action::Mute);
        app.perform(Scope::Prompt, Action::CycleMuteScope);
        app.perform(Scope::Prompt, Action::CycleMuteScope);
        let prompt = app.prompt.as_ref().unwrap();
        assert_eq!(prompt.scope_label(), prompt.site.site);
    }

    #[test]
    fn m_asks_for_a_reason_and_an_expiry_and_asks_to_store_the_rule() {
        let mut app = failing_app_with_site_open();
        app.perform(Scope::Site, Action::Mute);
        assert_eq!(app.scope(), Scope::Prompt);
        // An empty reason is refused.
        assert!(app.perform(Scope::Prompt, Action::SaveMute).is_empty());
        assert!(app.prompt.as_ref().is_some_and(|p| p.error.is_some()));
        type_text(&mut app, "known");
        app.perform(Scope::Prompt, Action::SaveMute);
        type_text(&mut app, "2031-02-30");
        assert!(app.perform(Scope::Prompt, Action::SaveMute).is_empty());
        assert!(
            app.prompt.as_ref().is_some_and(|p| p.error.is_some()),
            "no such day"
        );
        for _ in 0..2 {
            app.handle_key(&KeyEvent::new(KeyCode::Backspace, KeyModifiers::NONE));
        }
        type_text(&mut app, "28");
        let effects = app.perform(Scope::Prompt, Action::SaveMute);
        let Some(Effect::AddMute(rule)) = effects.first() else {
            panic!("{effects:?}");
        };
        assert_eq!(rule.requirement, "update_contrib");
        assert_eq!(rule.env.as_deref(), Some("prod"));
        assert_eq!(rule.site.as_deref(), Some("borger"));
        assert_eq!(rule.reason, "known");
        assert_eq!(
            crate::model::mute::format_date(rule.expires.unwrap_or_default() - 1),
            "2031-02-28"
        );
        assert_eq!(app.scope(), Scope::Site);
    }

    #[test]
    fn esc_cancels_the_mute_and_enter_and_esc_keep_or_clear_the_filter() {
        let mut app = failing_app_with_site_open();
        app.perform(Scope::Site, Action::Mute);
        type_text(&mut app, "known");
        let esc = KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE);
        assert!(app.handle_key(&esc).is_empty());
        assert_eq!(app.scope(), Scope::Site, "nothing stored");

        app.perform(Scope::Site, Action::Back);
        app.perform(Scope::Grid, Action::StartFilter);
        type_text(&mut app, "kul");
        app.perform(Scope::FilterInput, Action::ApplyFilter);
        assert_eq!(app.scope(), Scope::Grid);
        assert_eq!(app.grid.filter_text, "kul");
        app.perform(Scope::Grid, Action::StartFilter);
        app.handle_key(&esc);
        assert_eq!(app.scope(), Scope::Grid);
        assert_eq!(app.grid.filter_text, "");
    }
}
