//! End to end: the mouse and the clipboard with the real binary in tmux.
//! Mouse reports are typed into the pane as a terminal sends them (SGR,
//! `ESC [ < button ; column ; row M`), since the app has asked for them;
//! `y`'s OSC 52 is caught by tmux itself (`set-clipboard on` makes it a
//! paste buffer), which is what a terminal on the far side of SSH gets.

mod support;

use support::tmux::{Screen, Tmux, command_line, sh_quote};

const BIN: &str = env!("CARGO_BIN_EXE_site-status");

/// The 0-based column and row where `text` is drawn.
fn position(screen: &Screen, text: &str) -> Option<(usize, usize)> {
    screen.lines.iter().enumerate().find_map(|(row, line)| {
        let at = line.find(text)?;
        Some((line[..at].chars().count(), row))
    })
}

/// A mouse report: press or release of `button` at a 0-based cell.
fn report(button: u8, column: usize, row: usize, press: bool) -> String {
    let end = if press { 'M' } else { 'm' };
    format!("\x1b[<{button};{};{}{end}", column + 1, row + 1)
}

fn click(tmux: &Tmux, column: usize, row: usize) {
    tmux.type_text(&report(0, column, row, true));
    tmux.type_text(&report(0, column, row, false));
}

fn grid(tmux: &Tmux) -> Screen {
    tmux.wait_for("the grid", |s| {
        s.contains("── dev ") && s.status().contains(" › ")
    })
}

#[test]
fn click_selects_double_click_opens_wheel_moves_and_y_copies() {
    let tmux = Tmux::start(120, 40, &command_line(&[BIN, "demo"]));
    tmux.run(&["set-option", "-g", "set-clipboard", "on"]);
    let screen = grid(&tmux);
    let (x, y) = position(&screen, "teater").expect("teater on screen");
    click(&tmux, x + 2, y);
    tmux.wait_for("the click to select teater", |s| {
        s.status().contains("› teater ")
    });

    // A second click on it at once opens it.
    click(&tmux, x + 2, y);
    tmux.wait_for("the double-click to open teater", |s| {
        s.lines
            .get(1)
            .is_some_and(|l| l.trim_end().ends_with("› teater"))
    });

    // `y` puts the name on the clipboard; tmux keeps it as a buffer.
    tmux.keys(&["y"]);
    tmux.wait_for("the copy confirmed", |s| {
        s.status().contains("copied teater")
    });
    let buffer = tmux.run(&["show-buffer"]);
    assert_eq!(buffer, "teater");

    // Back on the grid, the wheel moves the cursor down a row as ↓ does.
    tmux.keys(&["Escape"]);
    let before = tmux.wait_for("the grid again", |s| s.status().contains("› teater "));
    tmux.type_text(&report(65, 10, 10, true));
    let after = tmux.wait_for("the wheel to move the cursor", |s| {
        s.status() != before.status() && s.status().contains(" › ")
    });
    assert!(!after.status().contains("teater"), "{}", after.framed());

    tmux.keys(&["q"]);
    tmux.assert_exits_cleanly("q");
}

#[test]
fn with_mouse_off_the_terminal_keeps_the_mouse() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "mouse = false\n[[environment]]\nname = \"prod\"\n[environment.prometheus]\nurl = \"http://127.0.0.1:9\"\n",
    )
    .unwrap();
    let command = format!(
        "SITE_STATUS_CONFIG={} {}",
        sh_quote(&config.display().to_string()),
        command_line(&[BIN, "demo"])
    );
    let tmux = Tmux::start(120, 40, &command);
    let screen = grid(&tmux);
    assert_eq!(
        tmux.format("#{mouse_any_flag}"),
        "0",
        "no mouse reporting asked for"
    );
    let start = screen.status().to_string();
    let (x, y) = position(&screen, "teater").expect("teater on screen");
    click(&tmux, x + 2, y);
    // A key after the click: once it has shown, the click was read too.
    tmux.keys(&["?"]);
    tmux.wait_for("help", |s| s.contains("┌ Help"));
    tmux.keys(&["Escape"]);
    // A whole frame: the grid and the status line naming the cursor's site.
    let after = tmux.wait_for("the grid again", |s| {
        s.contains("── dev ") && s.status().contains(" › ")
    });
    assert_eq!(after.status(), start, "the click selected nothing");
    tmux.keys(&["q"]);
    tmux.assert_exits_cleanly("q");
}
