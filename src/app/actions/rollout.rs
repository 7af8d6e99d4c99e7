//! The rollout view's keys: scrolling and stepping through the profiles.
//! Changes the app's state only.

use crate::app::keymap::Action;
use crate::app::{App, View};

impl App {
    pub(in crate::app) fn rollout_action(&mut self, action: Action) {
        let profiles = self.profiles();
        let Some(View::Rollout { profile, scroll }) = self.stack.last_mut() else {
            return;
        };
        let at = profiles.iter().position(|p| p == profile).unwrap_or(0);
        match action {
            Action::Back => {
                self.stack.pop();
            }
            Action::Up => *scroll = scroll.saturating_sub(1),
            Action::Down => *scroll = scroll.saturating_add(1),
            Action::Right | Action::NextSection if !profiles.is_empty() => {
                *profile = profiles[(at + 1) % profiles.len()].clone();
                *scroll = 0;
            }
            Action::Left | Action::PrevSection if !profiles.is_empty() => {
                *profile = profiles[(at + profiles.len() - 1) % profiles.len()].clone();
                *scroll = 0;
            }
            _ => {}
        }
    }
}
