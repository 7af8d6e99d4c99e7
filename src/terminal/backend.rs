//! The backend the dashboard draws through: ratatui's crossterm backend's
//! drawing, written for the compact grid's case. At 10,000 sites a
//! half-block frame changes colour on most cells; crossterm formats every
//! change through `fmt` and always sends both colours, which cost more than
//! the 1 ms a frame may take. This one sends only the colour that changed,
//! formats numbers by hand into one buffer, and writes that buffer once per
//! frame. Everything else (cursor, clearing, sizes) goes through crossterm
//! as before. What the terminal shows must be exactly what crossterm's
//! backend shows: `tests/backend.rs` replays both through a terminal
//! emulator and compares every cell.

use std::io::{self, Write};

use crossterm::cursor::{Hide, MoveTo, Show};
use crossterm::terminal::{self, Clear};
use crossterm::{execute, queue};
use ratatui::backend::{Backend, ClearType, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Size};
use ratatui::style::{Color, Modifier};

pub struct FrameBackend<W: Write> {
    out: W,
    /// One frame's bytes, kept between frames for its capacity.
    frame: Vec<u8>,
}

impl<W: Write> FrameBackend<W> {
    pub fn new(out: W) -> FrameBackend<W> {
        FrameBackend {
            out,
            frame: Vec::with_capacity(64 * 1024),
        }
    }

    pub fn writer(&self) -> &W {
        &self.out
    }
}

impl<W: Write> Write for FrameBackend<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Which SGR a colour is in a foreground, background or underline slot.
#[derive(Clone, Copy)]
enum Slot {
    Foreground,
    Background,
    Underline,
}

fn push_number(out: &mut Vec<u8>, n: u32) {
    let mut digits = [0u8; 10];
    let mut at = digits.len();
    let mut n = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// `color` as the parameters of one SGR, as crossterm writes them: the
/// sixteen named colours as 256-colour indices, RGB as `2;r;g;b`.
fn push_color(out: &mut Vec<u8>, slot: Slot, color: Color) {
    let (base, reset): (&[u8], &[u8]) = match slot {
        Slot::Foreground => (b"38;", b"39"),
        Slot::Background => (b"48;", b"49"),
        Slot::Underline => (b"58;", b"59"),
    };
    let index = match color {
        Color::Reset => {
            out.extend_from_slice(reset);
            return;
        }
        Color::Rgb(r, g, b) => {
            out.extend_from_slice(base);
            out.extend_from_slice(b"2;");
            push_number(out, r.into());
            out.push(b';');
            push_number(out, g.into());
            out.push(b';');
            push_number(out, b.into());
            return;
        }
        Color::Indexed(i) => i,
        Color::Black => 0,
        Color::Red => 1,
        Color::Green => 2,
        Color::Yellow => 3,
        Color::Blue => 4,
        Color::Magenta => 5,
        Color::Cyan => 6,
        Color::Gray => 7,
        Color::DarkGray => 8,
        Color::LightRed => 9,
        Color::LightGreen => 10,
        Color::LightYellow => 11,
        Color::LightBlue => 12,
        Color::LightMagenta => 13,
        Color::LightCyan => 14,
        Color::White => 15,
    };
    out.extend_from_slice(base);
    out.extend_from_slice(b"5;");
    push_number(out, index.into());
}

/// The SGR parameters that take the terminal from `from` to `to`, in the
/// order crossterm's backend sends them (intensity is one attribute for
/// bold and dim, so removing either resets both and re-adds the other).
fn push_modifier_change(params: &mut Vec<&'static [u8]>, from: Modifier, to: Modifier) {
    let removed = from - to;
    let added = to - from;
    if removed.contains(Modifier::REVERSED) {
        params.push(b"27");
    }
    let reset_intensity = removed.intersects(Modifier::BOLD | Modifier::DIM);
    if reset_intensity {
        params.push(b"22");
        if to.contains(Modifier::DIM) {
            params.push(b"2");
        }
        if to.contains(Modifier::BOLD) {
            params.push(b"1");
        }
    }
    for (modifier, code) in [
        (Modifier::ITALIC, &b"23"[..]),
        (Modifier::UNDERLINED, b"24"),
        (Modifier::CROSSED_OUT, b"29"),
        (Modifier::HIDDEN, b"28"),
    ] {
        if removed.contains(modifier) {
            params.push(code);
        }
    }
    if removed.intersects(Modifier::SLOW_BLINK | Modifier::RAPID_BLINK) {
        params.push(b"25");
    }
    if added.contains(Modifier::REVERSED) {
        params.push(b"7");
    }
    if added.contains(Modifier::BOLD) && !reset_intensity {
        params.push(b"1");
    }
    if added.contains(Modifier::ITALIC) {
        params.push(b"3");
    }
    if added.contains(Modifier::UNDERLINED) {
        params.push(b"4");
    }
    if added.contains(Modifier::DIM) && !reset_intensity {
        params.push(b"2");
    }
    for (modifier, code) in [
        (Modifier::CROSSED_OUT, &b"9"[..]),
        (Modifier::HIDDEN, b"8"),
        (Modifier::SLOW_BLINK, b"5"),
        (Modifier::RAPID_BLINK, b"6"),
    ] {
        if added.contains(modifier) {
            params.push(code);
        }
    }
}

/// The escape sequences that paint `content` (ratatui's changed cells, in
/// row order), appended to `out`; the terminal's colours and attributes
/// are reset at the end, as crossterm's backend leaves them.
pub fn encode<'a>(out: &mut Vec<u8>, content: impl Iterator<Item = (u16, u16, &'a Cell)>) {
    let mut fg = Color::Reset;
    let mut bg = Color::Reset;
    let mut underline = Color::Reset;
    let mut modifier = Modifier::empty();
    let mut next: Option<(u16, u16)> = None;
    let mut attributes: Vec<&'static [u8]> = Vec::new();
    for (x, y, cell) in content {
        if next != Some((x, y)) {
            out.extend_from_slice(b"\x1b[");
            push_number(out, u32::from(y) + 1);
            out.push(b';');
            push_number(out, u32::from(x) + 1);
            out.push(b'H');
        }
        next = x.checked_add(1).map(|right| (right, y));
        if cell.modifier != modifier {
            attributes.clear();
            push_modifier_change(&mut attributes, modifier, cell.modifier);
            // Each attribute its own sequence, as crossterm sends them:
            // some terminals mishandle a long combined list.
            for code in &attributes {
                out.extend_from_slice(b"\x1b[");
                out.extend_from_slice(code);
                out.push(b'm');
            }
            modifier = cell.modifier;
        }
        let fg_changed = cell.fg != fg;
        let bg_changed = cell.bg != bg;
        if fg_changed || bg_changed {
            out.extend_from_slice(b"\x1b[");
            if fg_changed {
                push_color(out, Slot::Foreground, cell.fg);
            }
            if fg_changed && bg_changed {
                out.push(b';');
            }
            if bg_changed {
                push_color(out, Slot::Background, cell.bg);
            }
            out.push(b'm');
            fg = cell.fg;
            bg = cell.bg;
        }
        if cell.underline_color != underline {
            out.extend_from_slice(b"\x1b[");
            push_color(out, Slot::Underline, cell.underline_color);
            out.push(b'm');
            underline = cell.underline_color;
        }
        out.extend_from_slice(cell.symbol().as_bytes());
    }
    out.extend_from_slice(b"\x1b[39m\x1b[49m\x1b[59m\x1b[0m");
}

impl<W: Write> Backend for FrameBackend<W> {
    type Error = io::Error;

    fn draw<'a, I>(&mut self, content: I) -> io::Result<()>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        self.frame.clear();
        encode(&mut self.frame, content);
        self.out.write_all(&self.frame)
    }

    fn append_lines(&mut self, n: u16) -> io::Result<()> {
        for _ in 0..n {
            self.out.write_all(b"\n")?;
        }
        self.out.flush()
    }

    fn hide_cursor(&mut self) -> io::Result<()> {
        execute!(self.out, Hide)
    }

    fn show_cursor(&mut self) -> io::Result<()> {
        execute!(self.out, Show)
    }

    fn get_cursor_position(&mut self) -> io::Result<Position> {
        crossterm::cursor::position()
            .map(|(x, y)| Position { x, y })
            .map_err(io::Error::other)
    }

    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> io::Result<()> {
        let Position { x, y } = position.into();
        execute!(self.out, MoveTo(x, y))
    }

    fn clear(&mut self) -> io::Result<()> {
        self.clear_region(ClearType::All)
    }

    fn clear_region(&mut self, clear_type: ClearType) -> io::Result<()> {
        let kind = match clear_type {
            ClearType::All => terminal::ClearType::All,
            ClearType::AfterCursor => terminal::ClearType::FromCursorDown,
            ClearType::BeforeCursor => terminal::ClearType::FromCursorUp,
            ClearType::CurrentLine => terminal::ClearType::CurrentLine,
            ClearType::UntilNewLine => terminal::ClearType::UntilNewLine,
        };
        queue!(self.out, Clear(kind))?;
        self.out.flush()
    }

    fn size(&self) -> io::Result<Size> {
        let (width, height) = terminal::size()?;
        Ok(Size { width, height })
    }

    fn window_size(&mut self) -> io::Result<WindowSize> {
        let size = terminal::window_size()?;
        Ok(WindowSize {
            columns_rows: Size {
                width: size.columns,
                height: size.rows,
            },
            pixels: Size {
                width: size.width,
                height: size.height,
            },
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(cells: &[(u16, u16, Cell)]) -> String {
        let mut out = Vec::new();
        encode(&mut out, cells.iter().map(|(x, y, c)| (*x, *y, c)));
        String::from_utf8(out).unwrap()
    }

    fn cell(symbol: &'static str, fg: Color, bg: Color) -> Cell {
        let mut cell = Cell::new(symbol);
        cell.fg = fg;
        cell.bg = bg;
        cell
    }

    #[test]
    fn only_the_colour_that_changed_is_sent() {
        let red_on_blue = cell("▀", Color::Red, Color::Rgb(0, 10, 200));
        let green_on_blue = cell("▀", Color::Indexed(2), Color::Rgb(0, 10, 200));
        let green_on_white = cell("▄", Color::Indexed(2), Color::White);
        let text = encoded(&[
            (3, 0, red_on_blue),
            (4, 0, green_on_blue),
            (5, 0, green_on_white),
        ]);
        assert_eq!(
            text,
            "\x1b[1;4H\x1b[38;5;1;48;2;0;10;200m▀\x1b[38;5;2m▀\x1b[48;5;15m▄\x1b[39m\x1b[49m\x1b[59m\x1b[0m"
        );
    }

    #[test]
    fn the_cursor_moves_only_where_cells_are_not_adjacent() {
        let a = Cell::new("a");
        let text = encoded(&[
            (0, 0, a.clone()),
            (1, 0, a.clone()),
            (9, 0, a.clone()),
            (0, 65535, a),
        ]);
        assert!(
            text.starts_with("\x1b[1;1Haa\x1b[1;10Ha\x1b[65536;1Ha"),
            "{text:?}"
        );
    }

    #[test]
    fn numbers_are_written_in_full() {
        for n in [0u32, 7, 10, 99, 100, 255, 1000, 65536, u32::MAX] {
            let mut out = Vec::new();
            push_number(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
    }
}
