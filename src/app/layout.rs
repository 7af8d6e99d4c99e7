//! The grid's geometry as the app keeps it: how tall the grid is, laying
//! it out again when data, filter or size change, and keeping the cursor on
//! its site and on screen. Reads the fleets; writes only the grid's state
//! and the screen size.

use crate::model::{EnvFleet, SeverityFilter, SortOrder};

use super::grid::{self, GridLayout, LayoutRequest, SiteRef};
use super::{App, FOOTER_LINES, HEADER_LINES, SiteKey};

/// Screens this tall (plus a line per environment) show the timeline a
/// line per environment; shorter ones from `TIMELINE_FOLDED_FROM` fold it
/// into one line, so the grid keeps room for names.
const TIMELINE_FULL_FROM: u16 = 30;
const TIMELINE_FOLDED_FROM: u16 = 16;

/// The grid's own state: what it shows (filter, sort, density), where the
/// cursor is, and the layout built from them.
#[derive(Debug, Clone)]
pub struct GridState {
    pub filter_text: String,
    pub severity: SeverityFilter,
    pub sort: SortOrder,
    pub compact: bool,
    /// Index into `layout.sites`.
    pub cursor: usize,
    /// The site under the cursor by name, so it stays put when data moves.
    pub cursor_key: Option<SiteKey>,
    pub scroll: usize,
    pub layout: GridLayout,
    pub cell_width: u16,
}

impl App {
    pub fn grid_height(&self) -> u16 {
        self.height
            .saturating_sub(HEADER_LINES + FOOTER_LINES + self.timeline_lines())
    }

    /// Lines the fleet timeline strip takes over the grid: one per
    /// environment on a tall screen, all of them folded into one when
    /// space is short, none on a tiny one or when hidden.
    pub fn timeline_lines(&self) -> u16 {
        let lines = self.envs.len() as u16;
        if !self.show_timeline || lines == 0 {
            0
        } else if self.height >= TIMELINE_FULL_FROM + lines {
            lines
        } else if self.height >= TIMELINE_FOLDED_FROM {
            1
        } else {
            0
        }
    }

    pub fn resize(&mut self, width: u16, height: u16) {
        self.width = width;
        self.height = height;
        // Scroll only as far as the new size needs, not as far as the
        // smallest size on the way did.
        self.grid.scroll = 0;
        self.relayout();
    }

    /// Rebuilds the layout and puts the cursor back on the same site (or
    /// its nearest neighbour when the filter hid it).
    pub fn relayout(&mut self) {
        let envs: Vec<&EnvFleet> = self.envs.iter().map(|e| &*e.fleet).collect();
        let filter = self.filter();
        self.grid.layout = GridLayout::build(&LayoutRequest {
            envs: &envs,
            filter: &filter,
            sort: self.grid.sort,
            compact: self.grid.compact,
            width: self.width,
            height: self.grid_height(),
            cell_width: self.grid.cell_width,
        });
        let sites = &self.grid.layout.sites;
        let wanted = self
            .grid
            .cursor_key
            .clone()
            .and_then(|key| self.find_site(&key));
        let restored = wanted.and_then(|site| sites.iter().position(|s| *s == site));
        let count = sites.len();
        self.grid.cursor = match (restored, wanted) {
            (Some(i), _) => i,
            (None, Some(site)) => self.nearest_visible(site),
            (None, None) => self.grid.cursor.min(count.saturating_sub(1)),
        };
        // Only a site the operator chose is remembered (in `move_cursor_to`):
        // not one the filter landed on, and not the first site of whichever
        // backend happened to answer first.
        let _ = count;
        self.scroll_to_cursor();
    }

    /// Where the cursor goes when the filter hides its site: the first
    /// visible site at or after it in (environment, profile, name) order,
    /// so it stays in the same neighbourhood.
    fn nearest_visible(&self, hidden: SiteRef) -> usize {
        let order = |site: SiteRef| {
            let s = &self.envs[site.env].fleet.sites[site.index];
            (site.env, s.profile.clone(), s.name.clone())
        };
        let target = order(hidden);
        let sites = &self.grid.layout.sites;
        sites
            .iter()
            .position(|s| order(*s) >= target)
            .unwrap_or(sites.len().saturating_sub(1))
    }

    pub(super) fn move_cursor_to(&mut self, index: usize) {
        let count = self.grid.layout.sites.len();
        if count == 0 {
            return;
        }
        self.grid.cursor = index.min(count - 1);
        self.grid.cursor_key = self.cursor_site().and_then(|s| self.site_key(s));
        self.scroll_to_cursor();
    }

    /// Keeps the cursor's line on screen, showing the headers above it when
    /// scrolling up so the operator sees which profile they are in.
    fn scroll_to_cursor(&mut self) {
        let height = self.grid_height().max(1) as usize;
        let layout = &self.grid.layout;
        let max_scroll = layout.lines.len().saturating_sub(height);
        let Some(line) = layout.line_of_site(self.grid.cursor) else {
            self.grid.scroll = self.grid.scroll.min(max_scroll);
            return;
        };
        if line < self.grid.scroll {
            let mut top = line;
            while top > 0
                && !matches!(
                    layout.lines[top - 1],
                    grid::Line::Cells { .. } | grid::Line::Pair { .. }
                )
                && line - (top - 1) < height
            {
                top -= 1;
            }
            self.grid.scroll = top;
        } else if line >= self.grid.scroll + height {
            self.grid.scroll = line + 1 - height;
        }
        if self.grid.cursor == 0 {
            self.grid.scroll = 0;
        }
        self.grid.scroll = self.grid.scroll.min(max_scroll);
    }

    pub(super) fn page_rows(&self) -> isize {
        let rows_per_line = if self.grid.layout.density == grid::Density::Dense {
            2
        } else {
            1
        };
        (self.grid_height().saturating_sub(2).max(1) as isize) * rows_per_line
    }
}

#[cfg(test)]
mod tests {
    use crate::app::keymap::{Action, Scope};
    use crate::app::test_fleets::{app, cursor_name};

    #[test]
    fn a_filter_that_hides_the_cursor_site_moves_it_nearby_and_clearing_brings_it_back() {
        let mut app = app(80, 24);
        for _ in 0..2 {
            app.perform(Scope::Grid, Action::Right);
        }
        assert_eq!(cursor_name(&app), "dev-borger");
        app.grid.filter_text = "bib".into();
        app.relayout();
        assert_eq!(
            cursor_name(&app),
            "prod-bib-nord",
            "first match after dev-borger"
        );
        app.grid.filter_text = "u".into();
        app.relayout();
        assert_eq!(cursor_name(&app), "dev-kultur");
        app.grid.filter_text.clear();
        app.relayout();
        assert_eq!(cursor_name(&app), "dev-borger");
    }

    #[test]
    fn growing_the_terminal_scrolls_back_to_the_top() {
        let mut app = app(30, 24);
        app.perform(Scope::Grid, Action::Down);
        app.perform(Scope::Grid, Action::Down);
        app.resize(30, 5);
        assert!(app.grid.scroll > 0);
        app.resize(30, 24);
        assert_eq!(app.grid.scroll, 0);
    }
}
