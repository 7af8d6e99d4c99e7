//! A terminal frame (ratatui's `Buffer`) painted into a PNG, the way a
//! terminal would show it: every cell 8x14 pixels, its background, its
//! glyph in its foreground, reverse video, bold, underline. Glyphs come
//! from the public-domain font8x8 bitmaps; the symbols the dashboard uses
//! that font8x8 lacks (state glyphs, arrows) are drawn here, and box
//! drawing and block elements are drawn as geometry so they join up across
//! cells. Everything is integer arithmetic and one fixed PNG encoder, so
//! the same frame always gives the same bytes.

use font8x8::UnicodeFonts;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};
use site_status::ui::Theme;

pub const CELL_WIDTH: usize = 8;
pub const CELL_HEIGHT: usize = 14;
/// Where an 8x8 glyph starts within its cell.
const GLYPH_TOP: usize = 3;

type Rgb = [u8; 3];

/// The frame as a PNG, and the characters it had no glyph for (drawn as
/// an empty box, as a terminal shows a missing glyph).
pub fn png(buffer: &Buffer, theme: &Theme) -> (Vec<u8>, Vec<char>) {
    let width = buffer.area.width as usize * CELL_WIDTH;
    let height = buffer.area.height as usize * CELL_HEIGHT;
    let mut image = Image {
        width,
        pixels: vec![0; width * height * 3],
    };
    let mut missing = Vec::new();
    let default_fg = rgb(theme.text, [208, 208, 208]);
    let default_bg = rgb(theme.background, [28, 28, 28]);
    for y in 0..buffer.area.height {
        for x in 0..buffer.area.width {
            let cell = &buffer[(x, y)];
            let mut fg = match cell.fg {
                Color::Reset => default_fg,
                c => rgb(c, default_fg),
            };
            let mut bg = match cell.bg {
                Color::Reset => default_bg,
                c => rgb(c, default_bg),
            };
            if cell.modifier.contains(Modifier::REVERSED) {
                std::mem::swap(&mut fg, &mut bg);
            }
            if cell.modifier.contains(Modifier::DIM) {
                fg = blend(fg, bg);
            }
            let left = x as usize * CELL_WIDTH;
            let top = y as usize * CELL_HEIGHT;
            image.fill(left, top, CELL_WIDTH, CELL_HEIGHT, bg);
            let symbol = cell.symbol();
            let Some(c) = symbol.chars().next() else {
                continue;
            };
            if c == ' ' {
                // Still underlined, if it is.
            } else if !draw_shape(&mut image, left, top, c, fg) {
                match glyph(c) {
                    Some(rows) => {
                        let bold = cell.modifier.contains(Modifier::BOLD);
                        image.bitmap(left, top + GLYPH_TOP, &rows, fg, bold);
                    }
                    None => {
                        if !missing.contains(&c) {
                            missing.push(c);
                        }
                        image.outline(left + 1, top + 2, CELL_WIDTH - 2, CELL_HEIGHT - 4, fg);
                    }
                }
            }
            if cell.modifier.contains(Modifier::UNDERLINED) {
                image.fill(left, top + CELL_HEIGHT - 2, CELL_WIDTH, 1, fg);
            }
        }
    }
    (encode(width, height, &image.pixels), missing)
}

struct Image {
    width: usize,
    pixels: Vec<u8>,
}

impl Image {
    fn set(&mut self, x: usize, y: usize, color: Rgb) {
        let at = (y * self.width + x) * 3;
        if let Some(p) = self.pixels.get_mut(at..at + 3) {
            p.copy_from_slice(&color);
        }
    }

    fn fill(&mut self, x: usize, y: usize, w: usize, h: usize, color: Rgb) {
        for row in y..y + h {
            for col in x..x + w {
                self.set(col, row, color);
            }
        }
    }

    fn outline(&mut self, x: usize, y: usize, w: usize, h: usize, color: Rgb) {
        self.fill(x, y, w, 1, color);
        self.fill(x, y + h - 1, w, 1, color);
        self.fill(x, y, 1, h, color);
        self.fill(x + w - 1, y, 1, h, color);
    }

    /// An 8x8 bitmap, bit 0 of each row the leftmost pixel; bold draws it
    /// again one pixel to the right, as terminals without a bold face do.
    fn bitmap(&mut self, x: usize, y: usize, rows: &[u8; 8], color: Rgb, bold: bool) {
        for (dy, bits) in rows.iter().enumerate() {
            for dx in 0..8 {
                if bits & (1 << dx) != 0 {
                    self.set(x + dx, y + dy, color);
                    if bold && dx + 1 < CELL_WIDTH {
                        self.set(x + dx + 1, y + dy, color);
                    }
                }
            }
        }
    }
}

/// Box drawing and block elements, drawn edge to edge so lines and bars
/// join across cells. False for any other character.
fn draw_shape(image: &mut Image, x: usize, y: usize, c: char, color: Rgb) -> bool {
    let (w, h) = (CELL_WIDTH, CELL_HEIGHT);
    let (mid_x, mid_y) = (w / 2 - 1, h / 2 - 1);
    // Light box drawing: which arms reach the cell's edges.
    let arms = match c {
        '─' => Some((false, false, true, true)),
        '│' => Some((true, true, false, false)),
        '┌' => Some((false, true, false, true)),
        '┐' => Some((false, true, true, false)),
        '└' => Some((true, false, false, true)),
        '┘' => Some((true, false, true, false)),
        '├' => Some((true, true, false, true)),
        '┤' => Some((true, true, true, false)),
        '┬' => Some((false, true, true, true)),
        '┴' => Some((true, false, true, true)),
        '┼' => Some((true, true, true, true)),
        _ => None,
    };
    if let Some((up, down, left, right)) = arms {
        if up {
            image.fill(x + mid_x, y, 1, mid_y + 1, color);
        }
        if down {
            image.fill(x + mid_x, y + mid_y, 1, h - mid_y, color);
        }
        if left {
            image.fill(x, y + mid_y, mid_x + 1, 1, color);
        }
        if right {
            image.fill(x + mid_x, y + mid_y, w - mid_x, 1, color);
        }
        return true;
    }
    // Lower eighths, the full block, the upper half.
    let lower = match c {
        '▁' => Some(1),
        '▂' => Some(2),
        '▃' => Some(3),
        '▄' => Some(4),
        '▅' => Some(5),
        '▆' => Some(6),
        '▇' => Some(7),
        '█' => Some(8),
        _ => None,
    };
    if let Some(eighths) = lower {
        let filled = h * eighths / 8;
        image.fill(x, y + h - filled, w, filled, color);
        return true;
    }
    if c == '▀' {
        image.fill(x, y, w, h / 2, color);
        return true;
    }
    false
}

/// The 8x8 bitmap for `c`: font8x8's, or one drawn here.
fn glyph(c: char) -> Option<[u8; 8]> {
    if let Some(rows) = drawn(c) {
        return Some(rows);
    }
    font8x8::BASIC_FONTS
        .get(c)
        .or_else(|| font8x8::LATIN_FONTS.get(c))
        .or_else(|| font8x8::GREEK_FONTS.get(c))
        .or_else(|| font8x8::MISC_FONTS.get(c))
}

/// The dashboard's symbols that font8x8 does not have, as `#` art.
fn drawn(c: char) -> Option<[u8; 8]> {
    let art: [&str; 8] = match c {
        '●' => [
            "..####..", ".######.", "########", "########", "########", "########", ".######.",
            "..####..",
        ],
        '○' => [
            "..####..", ".##..##.", "##....##", "#......#", "#......#", "##....##", ".##..##.",
            "..####..",
        ],
        '▲' => [
            "...##...", "...##...", "..####..", "..####..", ".######.", ".######.", "########",
            "........",
        ],
        '▼' => [
            "........", "########", ".######.", ".######.", "..####..", "..####..", "...##...",
            "...##...",
        ],
        '✖' => [
            "##....##", "###..###", ".######.", "..####..", "..####..", ".######.", "###..###",
            "##....##",
        ],
        '⊘' => [
            "..####..", ".#...###", "#...##.#", "#..##..#", "#.##...#", "###...#.", ".#...#..",
            "..####..",
        ],
        '∅' => [
            "..###..#", ".#...##.", "#...#..#", "#..#...#", "#.#....#", ".##...#.", "#..###..",
            "........",
        ],
        '◷' => [
            "..####..", ".#..#.#.", "#...#..#", "#...#..#", "#...####", "#......#", ".#....#.",
            "..####..",
        ],
        '⚑' => [
            ".######.", ".#######", ".#######", ".######.", ".#......", ".#......", ".#......",
            ".#......",
        ],
        '›' => [
            "........", "..#.....", "...#....", "....#...", "...#....", "..#.....", "........",
            "........",
        ],
        '…' => [
            "........", "........", "........", "........", "........", "........", "#..#..#.",
            "........",
        ],
        '→' => [
            "........", "....#...", ".....#..", "#######.", ".....#..", "....#...", "........",
            "........",
        ],
        '←' => [
            "........", "...#....", "..#.....", ".#######", "..#.....", "...#....", "........",
            "........",
        ],
        '↑' => [
            "...#....", "..###...", ".#.#.#..", "...#....", "...#....", "...#....", "...#....",
            "........",
        ],
        '↓' => [
            "...#....", "...#....", "...#....", "...#....", ".#.#.#..", "..###...", "...#....",
            "........",
        ],
        _ => return None,
    };
    let mut rows = [0u8; 8];
    for (row, line) in rows.iter_mut().zip(art) {
        for (bit, px) in line.bytes().enumerate() {
            if px == b'#' {
                *row |= 1 << bit;
            }
        }
    }
    Some(rows)
}

/// A cell's colour as a terminal with full colour shows it.
fn rgb(color: Color, otherwise: Rgb) -> Rgb {
    match color {
        Color::Rgb(r, g, b) => [r, g, b],
        Color::Indexed(i) => {
            let (r, g, b) = site_status::ui::theme::xterm256_rgb(i);
            [r, g, b]
        }
        Color::Black => [0, 0, 0],
        Color::Red => [205, 0, 0],
        Color::Green => [0, 205, 0],
        Color::Yellow => [205, 205, 0],
        Color::Blue => [0, 0, 238],
        Color::Magenta => [205, 0, 205],
        Color::Cyan => [0, 205, 205],
        Color::Gray => [229, 229, 229],
        Color::DarkGray => [127, 127, 127],
        Color::LightRed => [255, 0, 0],
        Color::LightGreen => [0, 255, 0],
        Color::LightYellow => [255, 255, 0],
        Color::LightBlue => [92, 92, 255],
        Color::LightMagenta => [255, 0, 255],
        Color::LightCyan => [0, 255, 255],
        Color::White => [255, 255, 255],
        Color::Reset => otherwise,
    }
}

fn blend(a: Rgb, b: Rgb) -> Rgb {
    [
        ((a[0] as u16 + b[0] as u16) / 2) as u8,
        ((a[1] as u16 + b[1] as u16) / 2) as u8,
        ((a[2] as u16 + b[2] as u16) / 2) as u8,
    ]
}

fn encode(width: usize, height: usize, pixels: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width as u32, height as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::High);
        let mut writer = encoder.write_header().expect("a PNG header");
        writer.write_image_data(pixels).expect("the PNG's pixels");
    }
    out
}
