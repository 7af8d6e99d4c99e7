//! Where the last frame drew what the mouse can click: the grid's site
//! cells, each with the site it shows, and the rows of a list view. Drawing (`ui::grid`) records it, the
//! runtime keeps the last frame's in `App::hit_map`, and the mouse reads it,
//! so a click lands on what the operator saw without the geometry being
//! worked out twice. Pure data.

use ratatui::layout::{Position, Rect};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HitMap {
    /// Each drawn cell and its site, as an index into the grid layout's
    /// sites; cells do not overlap.
    sites: Vec<(Rect, usize)>,
    /// Each drawn row of the list view on top, with its index in the list.
    rows: Vec<(Rect, usize)>,
    /// A pane whose content does not fit and scrolls with the wheel (the
    /// site view's Kubernetes pane).
    scrollable: Option<(Rect, u16)>,
}

impl HitMap {
    /// Notes that the cell at `area` shows the layout's site `site`.
    pub fn record_site(&mut self, area: Rect, site: usize) {
        if !area.is_empty() {
            self.sites.push((area, site));
        }
    }

    /// The site drawn at a terminal cell, if any.
    pub fn site_at(&self, column: u16, row: u16) -> Option<usize> {
        let at = Position::new(column, row);
        self.sites
            .iter()
            .find(|(area, _)| area.contains(at))
            .map(|(_, site)| *site)
    }

    /// Notes that the list view's row `index` is drawn at `area`.
    pub fn record_row(&mut self, area: Rect, index: usize) {
        if !area.is_empty() {
            self.rows.push((area, index));
        }
    }

    /// The list row drawn at a terminal cell, if any.
    pub fn row_at(&self, column: u16, row: u16) -> Option<usize> {
        let at = Position::new(column, row);
        self.rows
            .iter()
            .find(|(area, _)| area.contains(at))
            .map(|(_, index)| *index)
    }

    /// Notes a pane the wheel scrolls, by at most `max_scroll` lines.
    pub fn record_scrollable(&mut self, area: Rect, max_scroll: u16) {
        self.scrollable = Some((area, max_scroll));
    }

    /// How far the pane at a terminal cell scrolls, when the wheel there
    /// scrolls a pane rather than moving the view's cursor.
    pub fn scrollable_at(&self, column: u16, row: u16) -> Option<u16> {
        self.scrollable
            .filter(|(area, _)| area.contains(Position::new(column, row)))
            .map(|(_, max)| max)
    }

    pub fn is_empty(&self) -> bool {
        self.sites.is_empty() && self.rows.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_finds_the_cell_drawn_around_it_and_nothing_beside_it() {
        let mut map = HitMap::default();
        map.record_site(Rect::new(10, 3, 8, 1), 4);
        map.record_site(Rect::new(18, 3, 8, 1), 5);
        map.record_site(Rect::new(0, 9, 0, 1), 6);
        assert_eq!(map.site_at(10, 3), Some(4));
        assert_eq!(map.site_at(17, 3), Some(4));
        assert_eq!(map.site_at(18, 3), Some(5));
        assert_eq!(map.site_at(9, 3), None);
        assert_eq!(map.site_at(12, 4), None);
        assert_eq!(map.site_at(0, 9), None, "an empty cell is not recorded");
    }
}
