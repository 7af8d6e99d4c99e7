//! The symbol that carries a site's state when colour cannot.

use crate::model::SiteState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Glyphs {
    pub ascii: bool,
    /// Two sites per cell as an upper and a lower half-block, each in its
    /// own colour. Without colour (or without Unicode) the dense grid shows
    /// the worse of the two sites' glyphs instead.
    pub half_blocks: bool,
}

impl Glyphs {
    pub fn state(&self, state: SiteState) -> char {
        if self.ascii {
            match state {
                SiteState::Error => 'X',
                SiteState::TargetDown => 'D',
                SiteState::RunFailed => 'F',
                SiteState::NoData => '?',
                SiteState::Stale => '~',
                SiteState::Warning => '!',
                SiteState::Ok => 'o',
                SiteState::Info => 'i',
            }
        } else {
            match state {
                SiteState::Error => '✖',
                SiteState::TargetDown => '▼',
                SiteState::RunFailed => '⊘',
                SiteState::NoData => '?',
                SiteState::Stale => '◷',
                SiteState::Warning => '▲',
                SiteState::Ok => '●',
                SiteState::Info => '○',
            }
        }
    }

    /// Two sites in one cell: the upper one in the foreground colour.
    pub fn upper_half(&self) -> &'static str {
        if self.ascii || !self.half_blocks {
            ""
        } else {
            "▀"
        }
    }

    pub fn breadcrumb_separator(&self) -> &'static str {
        if self.ascii { " > " } else { " › " }
    }

    pub fn ellipsis(&self) -> &'static str {
        if self.ascii { "~" } else { "…" }
    }

    /// Between a cell's glyph and its name: an alert fires for the site.
    pub fn alert_badge(&self) -> &'static str {
        if self.ascii { "*" } else { "⚑" }
    }

    /// Between a cell's glyph and its name: the environment's cluster has
    /// no namespace for the site.
    pub fn not_in_cluster_badge(&self) -> &'static str {
        if self.ascii { "#" } else { "∅" }
    }

    pub fn rule(&self) -> &'static str {
        if self.ascii { "-" } else { "─" }
    }
}

/// Whether the locale can show Unicode glyphs; anything not declaring
/// UTF-8 gets ASCII rather than mojibake.
pub fn locale_is_utf8(lc_all: Option<&str>, lc_ctype: Option<&str>, lang: Option<&str>) -> bool {
    let effective = [lc_all, lc_ctype, lang]
        .into_iter()
        .flatten()
        .find(|v| !v.is_empty());
    match effective {
        Some(value) => {
            let v = value.to_ascii_lowercase();
            v.contains("utf-8") || v.contains("utf8")
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_state_has_its_own_glyph_in_both_sets() {
        for ascii in [false, true] {
            let g = Glyphs {
                ascii,
                half_blocks: !ascii,
            };
            let set: HashSet<char> = SiteState::ALL.iter().map(|s| g.state(*s)).collect();
            assert_eq!(set.len(), SiteState::ALL.len());
            if ascii {
                assert!(set.iter().all(char::is_ascii));
            }
        }
    }

    #[test]
    fn locale_detection_follows_posix_precedence() {
        assert!(locale_is_utf8(None, None, Some("da_DK.UTF-8")));
        assert!(locale_is_utf8(Some("C.utf8"), None, Some("POSIX")));
        assert!(!locale_is_utf8(Some("C"), None, Some("en_US.UTF-8")));
        assert!(!locale_is_utf8(None, None, None));
        assert!(locale_is_utf8(Some(""), Some("en_US.UTF-8"), None));
    }
}
