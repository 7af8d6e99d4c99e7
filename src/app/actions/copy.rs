//! `y` in the grid and the site view: the site's address (or name) for the
//! clipboard. The app only says what to copy (`Effect::Copy`); the runtime
//! writes it to the terminal (`terminal::osc52`).

use crate::app::keymap::Scope;
use crate::app::{App, Effect, View};

impl App {
    /// The cursor's site (the grid) or the open site, as its address when
    /// the environment has a `site_url`, else its name.
    pub(in crate::app) fn copy_site(&mut self, scope: Scope) -> Vec<Effect> {
        let key = match scope {
            Scope::Site => match self.stack.last() {
                Some(View::Site(view)) => Some(view.key.clone()),
                _ => None,
            },
            _ => self.cursor_site().and_then(|s| self.site_key(s)),
        };
        let Some(key) = key else {
            self.message = Some("no site to copy".into());
            return Vec::new();
        };
        let text = match self.settings.site_urls.get(&key.env) {
            Some(template) => template.fill(&key.env, &key.site),
            None => key.site.clone(),
        };
        self.message = Some(format!(
            "copied {text} (OSC 52: the terminal must allow clipboard writes)"
        ));
        vec![Effect::Copy(text)]
    }
}

#[cfg(test)]
mod tests {
    use crate::app::Effect;
    use crate::app::keymap::{Action, Scope};
    use crate::app::test_fleets::app;

    #[test]
    fn y_copies_the_name_or_the_configured_address() {
        let mut app = app(100, 30);
        assert_eq!(
            app.perform(Scope::Grid, Action::Copy),
            vec![Effect::Copy("dev-alpha".into())]
        );
        let template: crate::config::SiteUrlTemplate =
            toml::from_str::<toml::Value>("u = \"https://{site}.{env}.kk.dk/\"")
                .unwrap()
                .get("u")
                .unwrap()
                .clone()
                .try_into()
                .unwrap();
        app.settings.site_urls.insert("dev".into(), template);
        app.perform(Scope::Grid, Action::Open);
        assert_eq!(
            app.perform(Scope::Site, Action::Copy),
            vec![Effect::Copy("https://dev-alpha.dev.kk.dk/".into())]
        );
    }
}
