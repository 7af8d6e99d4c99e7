//! Where every site of the grid sits on screen, and how the cursor moves
//! between them. Computed once per change of data, filter, sort, density or
//! size, so drawing a frame only paints the visible lines.

use std::ops::Range;

use unicode_width::UnicodeWidthStr;

use crate::model::{EnvFleet, ProfileGroup, SiteFilter, SortOrder, group_by_profile};

// A site's place in the fleets is model data (fleet questions answer in
// it); the grid keeps its old path.
pub use crate::model::SiteRef;

#[derive(Debug, Clone)]
pub struct Section {
    pub env: usize,
    pub groups: Vec<ProfileGroup>,
    /// Index of the section's first site in `GridLayout::sites`, if it has any.
    pub first_site: Option<usize>,
    /// Drawn two sites per character (compact mode, when space is short).
    pub dense: bool,
    /// Rows of cells the section takes.
    pub rows: usize,
}

/// One screen line of the grid.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    Section {
        section: usize,
    },
    Group {
        section: usize,
        group: usize,
    },
    /// One row of cells: `cell_rows[row]`.
    Cells {
        row: usize,
    },
    /// Dense compact mode: two rows of cells drawn as upper and lower
    /// half-blocks in one line.
    Pair {
        upper: usize,
        lower: Option<usize>,
    },
}

/// A row of cells; `slots` index `GridLayout::slots`.
#[derive(Debug, Clone, PartialEq)]
pub struct CellRow {
    pub slots: Range<usize>,
    pub line: usize,
    pub lower_half: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub row: usize,
    pub column: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Density {
    /// Glyph and name per cell, a header line per profile.
    Normal,
    /// Glyph and name per cell, profiles flowing one after the other on
    /// the same lines, each behind a label cell, and cells as narrow as it
    /// takes to fit the screen (names cut with `…`): the default when
    /// `Normal` does not fit.
    Flow,
    /// One character per site, profiles separated by a gap.
    Compact,
    /// Compact, with some sections at two sites per character
    /// (half-blocks), used when compact would not fit the screen.
    Dense,
}

#[derive(Debug, Clone)]
pub struct GridLayout {
    pub density: Density,
    pub cell_width: u16,
    pub columns: usize,
    pub sections: Vec<Section>,
    pub lines: Vec<Line>,
    pub cell_rows: Vec<CellRow>,
    /// Each slot is a site (index into `sites`) or a gap between profiles.
    pub slots: Vec<Option<usize>>,
    /// Every visible site, in display order.
    pub sites: Vec<SiteRef>,
    pub positions: Vec<Position>,
    /// `Flow`: the slots holding a profile's label, as (slot, section,
    /// group), in slot order.
    pub labels: Vec<(usize, usize, usize)>,
}

pub const MIN_CELL_WIDTH: u16 = 8;
pub const MAX_CELL_WIDTH: u16 = 20;
/// Flowing cells narrow to this and no further: seven characters of a
/// name (`borger…`) still tell sites apart; below, compact (`z`) serves
/// better.
pub const FLOW_MIN_CELL_WIDTH: u16 = 10;

/// Glyph, space, name, and a one-column gap.
pub fn normal_cell_width<'a>(envs: impl IntoIterator<Item = &'a EnvFleet>) -> u16 {
    let longest = envs
        .into_iter()
        .flat_map(|e| e.sites.iter())
        .map(|s| s.name.width())
        .max()
        .unwrap_or(0);
    (longest.min(u16::MAX as usize) as u16)
        .saturating_add(3)
        .clamp(MIN_CELL_WIDTH, MAX_CELL_WIDTH)
}

pub struct LayoutRequest<'a> {
    pub envs: &'a [&'a EnvFleet],
    pub filter: &'a SiteFilter,
    pub sort: SortOrder,
    pub compact: bool,
    pub width: u16,
    pub height: u16,
    pub cell_width: u16,
}

impl GridLayout {
    pub fn build(req: &LayoutRequest<'_>) -> GridLayout {
        let sections: Vec<Section> = req
            .envs
            .iter()
            .enumerate()
            .map(|(env, fleet)| Section {
                env,
                groups: group_by_profile(fleet, req.filter, req.sort),
                first_site: None,
                dense: false,
                rows: 0,
            })
            .collect();
        if req.compact {
            let compact = GridLayout::compact(sections.clone(), req, &[]);
            let height = req.height as usize;
            if compact.lines.len() <= height {
                return compact;
            }
            // Halve sections, largest first, until the fleet fits: small
            // sections keep their glyphs as long as there is room.
            let mut by_size: Vec<usize> = (0..compact.sections.len()).collect();
            by_size.sort_by_key(|s| std::cmp::Reverse(compact.sections[*s].rows));
            let mut dense = vec![false; compact.sections.len()];
            let mut lines = compact.lines.len();
            for s in by_size {
                if lines <= height {
                    break;
                }
                let rows = compact.sections[s].rows;
                dense[s] = true;
                lines -= rows - rows.div_ceil(2);
            }
            return GridLayout::compact(sections, req, &dense);
        }
        let height = req.height as usize;
        let normal_lines = |columns: usize| {
            sections
                .iter()
                .map(|s| {
                    1 + s
                        .groups
                        .iter()
                        .map(|g| 1 + g.sites.len().div_ceil(columns))
                        .sum::<usize>()
                })
                .sum::<usize>()
        };
        let natural = req.cell_width.max(1);
        if normal_lines(((req.width / natural) as usize).max(1)) <= height {
            return GridLayout::normal(sections, req);
        }
        // The widest cells whose flow still fits; flowing only gets
        // shorter as cells narrow, so a binary search finds them.
        let fits = |width: u16| GridLayout::flow_lines(&sections, req.width, width) <= height;
        let narrowest = FLOW_MIN_CELL_WIDTH.min(natural);
        let width = if fits(natural) {
            natural
        } else if !fits(narrowest) {
            narrowest
        } else {
            let (mut fits_at, mut too_wide) = (narrowest, natural);
            while too_wide - fits_at > 1 {
                let mid = fits_at + (too_wide - fits_at) / 2;
                if fits(mid) {
                    fits_at = mid;
                } else {
                    too_wide = mid;
                }
            }
            fits_at
        };
        GridLayout::flow(sections, req, width)
    }

    /// Where the next group's label goes in a flowing row of `columns`
    /// that holds `used` slots: a label never ends a row, as its sites
    /// would start the next one.
    fn flow_label_starts_row(used: usize, columns: usize) -> bool {
        used == 0 || used >= columns || (columns > 2 && used + 1 >= columns)
    }

    /// Lines a flowing layout with cells `cell_width` wide takes.
    fn flow_lines(sections: &[Section], width: u16, cell_width: u16) -> usize {
        let columns = ((width / cell_width.max(1)) as usize).max(2);
        sections
            .iter()
            .map(|section| {
                let (mut rows, mut used) = (0usize, 0usize);
                for group in section.groups.iter().filter(|g| !g.sites.is_empty()) {
                    if rows == 0 || GridLayout::flow_label_starts_row(used, columns) && used > 0 {
                        rows += 1;
                        used = 0;
                    }
                    used += 1;
                    for _ in &group.sites {
                        if used >= columns {
                            rows += 1;
                            used = 0;
                        }
                        used += 1;
                    }
                }
                1 + rows
            })
            .sum()
    }

    fn flow(sections: Vec<Section>, req: &LayoutRequest<'_>, cell_width: u16) -> GridLayout {
        let columns = ((req.width / cell_width.max(1)) as usize).max(2);
        let mut layout = GridLayout::empty(Density::Flow, cell_width, columns, Vec::new());
        for (s, mut section) in sections.into_iter().enumerate() {
            layout.lines.push(Line::Section { section: s });
            let first_row = layout.cell_rows.len();
            for (g, group) in section.groups.iter().enumerate() {
                if group.sites.is_empty() {
                    continue;
                }
                let used = if layout.cell_rows.len() == first_row {
                    0
                } else {
                    layout.cell_rows.last().map_or(0, |r| r.slots.len())
                };
                if layout.cell_rows.len() == first_row
                    || (used > 0 && GridLayout::flow_label_starts_row(used, columns))
                {
                    layout.start_row();
                }
                layout.labels.push((layout.slots.len(), s, g));
                layout.slots.push(None);
                if let Some(row) = layout.cell_rows.last_mut() {
                    row.slots.end = layout.slots.len();
                }
                for index in &group.sites {
                    if layout
                        .cell_rows
                        .last()
                        .is_some_and(|r| r.slots.len() >= columns)
                    {
                        layout.start_row();
                    }
                    if section.first_site.is_none() {
                        section.first_site = Some(layout.sites.len());
                    }
                    layout.push_site(SiteRef {
                        env: section.env,
                        index: *index,
                    });
                }
            }
            section.rows = layout.cell_rows.len() - first_row;
            for row in first_row..layout.cell_rows.len() {
                layout.cell_rows[row].line = layout.lines.len();
                layout.lines.push(Line::Cells { row });
            }
            layout.sections.push(section);
        }
        layout
    }

    fn empty(
        density: Density,
        cell_width: u16,
        columns: usize,
        sections: Vec<Section>,
    ) -> GridLayout {
        GridLayout {
            density,
            cell_width,
            columns,
            sections,
            lines: Vec::new(),
            cell_rows: Vec::new(),
            slots: Vec::new(),
            sites: Vec::new(),
            positions: Vec::new(),
            labels: Vec::new(),
        }
    }

    /// A section's profile group, as the section and header lines and the
    /// flowing labels name it.
    pub fn group(&self, section: usize, group: usize) -> Option<&ProfileGroup> {
        self.sections.get(section)?.groups.get(group)
    }

    /// The profile label drawn in a slot (`Flow`): (section, group).
    pub fn label_at(&self, slot: usize) -> Option<(usize, usize)> {
        let at = self
            .labels
            .binary_search_by_key(&slot, |(s, _, _)| *s)
            .ok()?;
        let (_, section, group) = self.labels[at];
        Some((section, group))
    }

    fn push_site(&mut self, site: SiteRef) {
        let row = self.cell_rows.len() - 1;
        let start = self.cell_rows[row].slots.start;
        let column = self.slots.len() - start;
        self.slots.push(Some(self.sites.len()));
        self.sites.push(site);
        self.positions.push(Position { row, column });
        self.cell_rows[row].slots.end = self.slots.len();
    }

    fn start_row(&mut self) {
        let at = self.slots.len();
        self.cell_rows.push(CellRow {
            slots: at..at,
            line: 0,
            lower_half: false,
        });
    }

    fn normal(sections: Vec<Section>, req: &LayoutRequest<'_>) -> GridLayout {
        let cell_width = req.cell_width.max(1);
        let columns = ((req.width / cell_width) as usize).max(1);
        let mut layout = GridLayout::empty(Density::Normal, cell_width, columns, Vec::new());
        for (s, mut section) in sections.into_iter().enumerate() {
            layout.lines.push(Line::Section { section: s });
            for (g, group) in section.groups.iter().enumerate() {
                layout.lines.push(Line::Group {
                    section: s,
                    group: g,
                });
                for chunk in group.sites.chunks(columns) {
                    layout.start_row();
                    let row = layout.cell_rows.len() - 1;
                    layout.cell_rows[row].line = layout.lines.len();
                    layout.lines.push(Line::Cells { row });
                    for index in chunk {
                        if section.first_site.is_none() {
                            section.first_site = Some(layout.sites.len());
                        }
                        layout.push_site(SiteRef {
                            env: section.env,
                            index: *index,
                        });
                    }
                }
            }
            layout.sections.push(section);
        }
        layout
    }

    fn compact(
        sections: Vec<Section>,
        req: &LayoutRequest<'_>,
        dense_sections: &[bool],
    ) -> GridLayout {
        let columns = (req.width as usize).max(2);
        let density = if dense_sections.iter().any(|d| *d) {
            Density::Dense
        } else {
            Density::Compact
        };
        let mut layout = GridLayout::empty(density, 1, columns, Vec::new());
        for (s, mut section) in sections.into_iter().enumerate() {
            layout.lines.push(Line::Section { section: s });
            let first_row = layout.cell_rows.len();
            for (g, group) in section.groups.iter().enumerate() {
                for index in &group.sites {
                    let row_full = layout.cell_rows.len() == first_row
                        || layout
                            .cell_rows
                            .last()
                            .is_some_and(|r| r.slots.len() >= columns);
                    if row_full {
                        layout.start_row();
                    }
                    if section.first_site.is_none() {
                        section.first_site = Some(layout.sites.len());
                    }
                    layout.push_site(SiteRef {
                        env: section.env,
                        index: *index,
                    });
                }
                // A one-slot gap tells profiles apart, unless it would
                // start a row.
                let last = g + 1 == section.groups.len();
                if !last
                    && layout
                        .cell_rows
                        .last()
                        .is_some_and(|r| r.slots.len() < columns)
                {
                    layout.slots.push(None);
                    if let Some(row) = layout.cell_rows.last_mut() {
                        row.slots.end = layout.slots.len();
                    }
                }
            }
            let rows: Vec<usize> = (first_row..layout.cell_rows.len()).collect();
            section.rows = rows.len();
            section.dense = dense_sections.get(s).copied().unwrap_or(false);
            if section.dense {
                for pair in rows.chunks(2) {
                    let line = layout.lines.len();
                    layout.cell_rows[pair[0]].line = line;
                    if let Some(lower) = pair.get(1) {
                        layout.cell_rows[*lower].line = line;
                        layout.cell_rows[*lower].lower_half = true;
                    }
                    layout.lines.push(Line::Pair {
                        upper: pair[0],
                        lower: pair.get(1).copied(),
                    });
                }
            } else {
                for row in rows {
                    layout.cell_rows[row].line = layout.lines.len();
                    layout.lines.push(Line::Cells { row });
                }
            }
            layout.sections.push(section);
        }
        layout
    }

    pub fn line_of_site(&self, site: usize) -> Option<usize> {
        let pos = self.positions.get(site)?;
        Some(self.cell_rows[pos.row].line)
    }

    /// The site reached by moving `delta` rows from `site`, keeping the
    /// column as close as the target row allows.
    pub fn vertical(&self, site: usize, delta: isize) -> Option<usize> {
        let pos = *self.positions.get(site)?;
        let last_row = self.cell_rows.len().checked_sub(1)?;
        let target = (pos.row as isize + delta).clamp(0, last_row as isize) as usize;
        if target == pos.row {
            return Some(if delta < 0 {
                self.first_in_row(target)?
            } else if delta > 0 {
                self.last_in_row(target)?
            } else {
                site
            });
        }
        self.nearest_in_row(target, pos.column)
    }

    fn first_in_row(&self, row: usize) -> Option<usize> {
        self.slots[self.cell_rows.get(row)?.slots.clone()]
            .iter()
            .flatten()
            .next()
            .copied()
    }

    fn last_in_row(&self, row: usize) -> Option<usize> {
        self.slots[self.cell_rows.get(row)?.slots.clone()]
            .iter()
            .flatten()
            .next_back()
            .copied()
    }

    fn nearest_in_row(&self, row: usize, column: usize) -> Option<usize> {
        let slots = &self.slots[self.cell_rows.get(row)?.slots.clone()];
        let len = slots.len();
        if len == 0 {
            return None;
        }
        let start = column.min(len - 1);
        (0..len)
            .flat_map(|d| [start.checked_sub(d), Some(start + d)])
            .flatten()
            .filter(|c| *c < len)
            .find_map(|c| slots[c])
    }

    /// The section holding a site.
    pub fn section_of(&self, site: usize) -> Option<usize> {
        let env = self.sites.get(site)?.env;
        self.sections.iter().position(|s| s.env == env)
    }

    pub fn next_section_start(&self, site: usize) -> Option<usize> {
        let current = self.section_of(site)?;
        self.sections[current + 1..]
            .iter()
            .find_map(|s| s.first_site)
    }

    pub fn prev_section_start(&self, site: usize) -> Option<usize> {
        let current = self.section_of(site)?;
        let own = self.sections[current].first_site?;
        if own < site {
            return Some(own);
        }
        self.sections[..current]
            .iter()
            .rev()
            .find_map(|s| s.first_site)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Severity, SiteSummary};
    use std::time::Duration;

    fn env(name: &str, profiles: &[(&str, usize)]) -> EnvFleet {
        let mut sites = Vec::new();
        for (profile, n) in profiles {
            for i in 0..*n {
                let mut s = SiteSummary::new(format!("{profile}-{i:02}"), *profile);
                s.worst = Some(Severity::Ok);
                sites.push(s);
            }
        }
        EnvFleet::new(name, sites, 0.0, Duration::from_secs(60))
    }

    fn layout(envs: &[EnvFleet], compact: bool, width: u16, height: u16) -> GridLayout {
        let envs: Vec<&EnvFleet> = envs.iter().collect();
        GridLayout::build(&LayoutRequest {
            envs: &envs,
            filter: &SiteFilter::default(),
            sort: SortOrder::Name,
            compact,
            width,
            height,
            cell_width: 10,
        })
    }

    #[test]
    fn normal_layout_has_a_section_line_a_group_line_and_wrapped_cells() {
        let envs = [env("dev", &[("a", 5), ("b", 2)]), env("prod", &[("a", 3)])];
        let l = layout(&envs, false, 30, 50);
        assert_eq!(l.columns, 3);
        assert_eq!(
            l.lines,
            vec![
                Line::Section { section: 0 },
                Line::Group {
                    section: 0,
                    group: 0
                },
                Line::Cells { row: 0 },
                Line::Cells { row: 1 },
                Line::Group {
                    section: 0,
                    group: 1
                },
                Line::Cells { row: 2 },
                Line::Section { section: 1 },
                Line::Group {
                    section: 1,
                    group: 0
                },
                Line::Cells { row: 3 },
            ]
        );
        assert_eq!(l.sites.len(), 10);
        assert_eq!(l.sections[1].first_site, Some(7));
    }

    #[test]
    fn vertical_moves_keep_the_column_and_cross_groups() {
        let envs = [env("dev", &[("a", 5), ("b", 2)])];
        let l = layout(&envs, false, 30, 50);
        // a-00 a-01 a-02 / a-03 a-04 / b-00 b-01
        assert_eq!(l.vertical(1, 1), Some(4));
        assert_eq!(l.vertical(2, 1), Some(4), "short row: nearest column");
        assert_eq!(l.vertical(4, 1), Some(6));
        assert_eq!(l.vertical(6, -1), Some(4));
        assert_eq!(l.vertical(6, 1), Some(6), "bottom row: last site");
        assert_eq!(l.vertical(1, -1), Some(0), "top row: first site");
        assert_eq!(l.vertical(0, 10), Some(5), "last row, same column");
    }

    #[test]
    fn compact_mode_packs_profiles_with_gaps_and_one_line_per_section() {
        let envs = [env("dev", &[("a", 3), ("b", 2)]), env("prod", &[("a", 4)])];
        let l = layout(&envs, true, 20, 50);
        assert_eq!(l.density, Density::Compact);
        assert_eq!(l.lines.len(), 4);
        let row0: Vec<_> = l.slots[l.cell_rows[0].slots.clone()].to_vec();
        assert_eq!(
            row0,
            vec![Some(0), Some(1), Some(2), None, Some(3), Some(4)]
        );
    }

    #[test]
    fn compact_mode_goes_dense_when_it_would_not_fit() {
        let envs = [env("prod", &[("a", 100)])];
        let l = layout(&envs, true, 10, 8);
        assert_eq!(l.density, Density::Dense);
        // 100 sites at 10 per row: 10 rows, paired into 5 lines, plus the section line.
        assert_eq!(l.lines.len(), 6);
        assert_eq!(l.vertical(5, 1), Some(15));
        assert!(l.cell_rows[1].lower_half);
        assert_eq!(l.line_of_site(15), Some(1));
    }

    #[test]
    fn only_the_largest_sections_go_dense() {
        // dev needs 2 rows, prod 10: halving prod alone makes it fit.
        let envs = [env("dev", &[("a", 20)]), env("prod", &[("a", 100)])];
        let l = layout(&envs, true, 10, 9);
        assert_eq!(l.density, Density::Dense);
        assert!(!l.sections[0].dense);
        assert!(l.sections[1].dense);
        assert_eq!(l.lines.len(), 9);
    }

    #[test]
    fn ten_thousand_sites_fit_200_by_50_in_compact_mode() {
        let profiles: Vec<(String, usize)> = (0..10).map(|p| (format!("p{p}"), 0)).collect();
        let sizes = crate::source::demo::environment_sizes(10_000);
        let envs: Vec<EnvFleet> = ["dev", "test", "prod"]
            .iter()
            .zip(sizes)
            .map(|(name, n)| {
                let per: Vec<(&str, usize)> =
                    profiles.iter().map(|(p, _)| (p.as_str(), n / 10)).collect();
                env(name, &per)
            })
            .collect();
        let l = layout(&envs, true, 200, 47);
        assert!(l.lines.len() <= 47, "{} lines", l.lines.len());
        let total: usize = envs.iter().map(|e| e.sites.len()).sum();
        assert!(total > 9_900);
        assert_eq!(l.sites.len(), total);
    }

    #[test]
    fn tab_targets_are_section_starts() {
        let envs = [
            env("dev", &[("a", 3)]),
            env("test", &[]),
            env("prod", &[("a", 2)]),
        ];
        let l = layout(&envs, false, 30, 50);
        assert_eq!(l.next_section_start(1), Some(3), "empty section skipped");
        assert_eq!(l.next_section_start(4), None);
        assert_eq!(l.prev_section_start(4), Some(3));
        assert_eq!(l.prev_section_start(3), Some(0));
    }

    #[test]
    fn when_headers_do_not_fit_profiles_flow_behind_label_cells() {
        let envs = [env("dev", &[("a", 3), ("b", 2)]), env("prod", &[("c", 4)])];
        // Normal needs 2 section + 3 group + 3 cell lines = 8; 6 do not hold it.
        let l = layout(&envs, false, 40, 6);
        assert_eq!(l.density, Density::Flow);
        assert_eq!(l.cell_width, 10, "wide enough: no need to narrow");
        assert_eq!(l.columns, 4);
        // dev: [a] a0 a1 a2 / [b] b0 b1; prod: [c] c0 c1 c2 / c3.
        let row0: Vec<_> = l.slots[l.cell_rows[0].slots.clone()].to_vec();
        assert_eq!(row0, vec![None, Some(0), Some(1), Some(2)]);
        assert_eq!(l.label_at(0), Some((0, 0)));
        assert_eq!(l.label_at(4), Some((0, 1)), "b's label starts the next row");
        assert_eq!(l.lines.len(), 6);
        assert_eq!(
            GridLayout::flow_lines(&l.sections, 40, 10),
            l.lines.len(),
            "the count the width search uses is the layout's"
        );
        // Moving down from a0 lands on the row below, past the label.
        assert_eq!(l.vertical(0, 1), Some(3));
    }

    #[test]
    fn flowing_cells_narrow_only_as_far_as_the_screen_needs() {
        let envs = [env("prod", &[("a", 40), ("b", 40)])];
        let natural = 20;
        let build = |height| {
            let envs: Vec<&EnvFleet> = envs.iter().collect();
            GridLayout::build(&LayoutRequest {
                envs: &envs,
                filter: &SiteFilter::default(),
                sort: SortOrder::Name,
                compact: false,
                width: 100,
                height,
                cell_width: natural,
            })
        };
        let roomy = build(18);
        assert_eq!(roomy.density, Density::Flow);
        // Headers need 19 lines; 82 flowing cells at 5 a row need 17 rows
        // and the section line: width 20 fits.
        assert_eq!(roomy.cell_width, 20);
        let tight = build(10);
        assert!(tight.cell_width < natural && tight.cell_width >= FLOW_MIN_CELL_WIDTH);
        assert!(tight.lines.len() <= 10, "{} lines", tight.lines.len());
        let wider_would_not_fit =
            GridLayout::flow_lines(&tight.sections, 100, tight.cell_width + 1) > 10;
        assert!(wider_would_not_fit, "the widest that fits");
        let hopeless = build(3);
        assert_eq!(hopeless.cell_width, FLOW_MIN_CELL_WIDTH);
    }
}
