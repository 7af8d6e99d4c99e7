//! Entering and, whatever happens, leaving the terminal's raw mode.

use std::io::{self, Stdout, Write};

use crossterm::cursor::Show;
use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

pub type Tui = Terminal<CrosstermBackend<Stdout>>;

/// Restores the terminal when dropped: on `q`, on an error, on a signal,
/// and (through the panic hook) on a panic.
pub struct TerminalGuard {
    pub terminal: Tui,
}

pub fn restore() {
    let _ = disable_raw_mode();
    let mut out = io::stdout();
    // Whether or not it was captured: releasing it is harmless, and a
    // terminal left reporting the mouse is not.
    let _ = execute!(out, DisableMouseCapture, LeaveAlternateScreen, Show);
    let _ = out.flush();
}

impl TerminalGuard {
    /// `mouse`: capture clicks and the wheel (the terminal's own text
    /// selection then needs Shift in most terminals).
    pub fn enter(mouse: bool) -> io::Result<TerminalGuard> {
        install_panic_hook();
        enable_raw_mode()?;
        let mut out = io::stdout();
        if let Err(e) = execute!(out, EnterAlternateScreen) {
            restore();
            return Err(e);
        }
        if mouse && let Err(e) = execute!(out, EnableMouseCapture) {
            restore();
            return Err(e);
        }
        let terminal = match Terminal::new(CrosstermBackend::new(out)) {
            Ok(t) => t,
            Err(e) => {
                restore();
                return Err(e);
            }
        };
        Ok(TerminalGuard { terminal })
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        // Leave raw mode first, or the panic message is unreadable.
        restore();
        previous(info);
    }));
}
