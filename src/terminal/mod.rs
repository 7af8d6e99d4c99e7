//! Entering and, whatever happens, leaving the terminal's raw mode; and
//! the one escape sequence the dashboard writes itself (OSC 52, the clipboard).

use std::io::{self, Stdout, Write};

use crossterm::cursor::Show;
use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
mod backend;

pub use backend::{FrameBackend, encode};

pub type Tui = Terminal<FrameBackend<Stdout>>;

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
        fatal_signals::install();
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
        let terminal = match Terminal::new(FrameBackend::new(out)) {
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

/// The signals that end the process without unwinding (SIGABRT, which an
/// allocation failure raises; SIGUSR1, SIGALRM and the like, whose default
/// is to terminate) cannot run `restore`: it takes locks. Their handler
/// instead writes the bytes that leave the alternate screen and mouse
/// reporting, puts back the terminal modes saved before raw mode, and then
/// lets the signal do what it would have done. SIGTERM, SIGINT, SIGHUP and
/// SIGQUIT are handled by the main loop, which quits normally.
mod fatal_signals {
    use std::sync::OnceLock;

    /// What `restore` sends, as crossterm writes it: mouse reporting off
    /// (every mode it turns on), the normal screen, the cursor shown.
    const RESTORE: &[u8] =
        b"\x1b[?1006l\x1b[?1015l\x1b[?1003l\x1b[?1002l\x1b[?1000l\x1b[?1049l\x1b[?25h";

    const SIGNALS: [libc::c_int; 12] = [
        libc::SIGABRT,
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGALRM,
        libc::SIGVTALRM,
        libc::SIGPROF,
        libc::SIGXCPU,
        libc::SIGXFSZ,
        libc::SIGSYS,
        libc::SIGTRAP,
        libc::SIGFPE,
        libc::SIGILL,
    ];

    static COOKED: OnceLock<libc::termios> = OnceLock::new();

    /// Call before raw mode is entered: the modes saved now are the ones
    /// put back.
    pub fn install() {
        // SAFETY: tcgetattr writes a termios we own; sigaction installs a
        // handler that only calls async-signal-safe functions.
        unsafe {
            let mut modes: libc::termios = std::mem::zeroed();
            if libc::isatty(libc::STDIN_FILENO) == 1
                && libc::tcgetattr(libc::STDIN_FILENO, &mut modes) == 0
            {
                let _ = COOKED.set(modes);
            }
            for signal in SIGNALS {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = restore_and_die as *const () as libc::sighandler_t;
                action.sa_flags = libc::SA_ONSTACK;
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(signal, &action, std::ptr::null_mut());
            }
        }
    }

    extern "C" fn restore_and_die(signal: libc::c_int) {
        // SAFETY: write, tcsetattr, signal and raise are async-signal-safe;
        // COOKED is only read (an atomic load once set).
        unsafe {
            libc::write(libc::STDOUT_FILENO, RESTORE.as_ptr().cast(), RESTORE.len());
            if let Some(modes) = COOKED.get() {
                libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, modes);
            }
            // What the process said before (Rust's "memory allocation of N
            // bytes failed") went to the alternate screen, now gone.
            let why: &[u8] = if signal == libc::SIGABRT {
                b"site-status: aborted: out of memory, or an internal error\n"
            } else {
                b"site-status: ended by a signal\n"
            };
            libc::write(libc::STDERR_FILENO, why.as_ptr().cast(), why.len());
            // The default action, delivered as soon as this handler returns.
            libc::signal(signal, libc::SIG_DFL);
            libc::raise(signal);
        }
    }
}

/// The escape sequence that asks the terminal (and tmux, and an SSH
/// client's terminal beyond it) to put `text` on the system clipboard.
/// Base64 keeps whatever the text holds from reaching the terminal as
/// control characters.
pub fn osc52(text: &str) -> String {
    use base64::Engine;
    format!(
        "\x1b]52;c;{}\x07",
        base64::engine::general_purpose::STANDARD.encode(text.as_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::osc52;

    #[test]
    fn osc52_carries_the_text_base64_encoded() {
        assert_eq!(osc52("borger"), "\x1b]52;c;Ym9yZ2Vy\x07");
        // Control characters cannot escape the sequence.
        assert!(!osc52("a\x1b]0;x\x07").contains("\x1b]0"));
    }
}
