//! `Tmux`: a real terminal for end-to-end tests of the binary. Each `Tmux`
//! starts its own tmux server (its own socket, so tests run in parallel and
//! never touch the user's tmux), runs a shell command line in a detached
//! session, types with `tmux send-keys` and reads the screen with
//! `tmux capture-pane`.
//!
//! tmux is a test requirement (the CI script installs it); without it these
//! tests fail and say so.
//!
//! Every check polls the screen until it holds or a generous deadline passes
//! (`SITE_STATUS_E2E_TIMEOUT` seconds, default 15): the app writes a frame in
//! several `write`s, so a capture can catch half a frame, and a loaded
//! machine can be slow. Nothing sleeps a fixed time to "let the app catch
//! up".
//!
//! ```ignore
//! mod support;
//! use support::tmux::{Tmux, command_line};
//!
//! let tmux = Tmux::start(80, 24, &command_line(&[env!("CARGO_BIN_EXE_site-status"), "demo"]));
//! tmux.wait_for("the header", |s| s.header().contains("sites"));
//! tmux.keys(&["q"]);
//! tmux.assert_exits_cleanly("q");
//! ```

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const TMUX: &str = "tmux";
/// How often `wait_for` captures the screen.
pub const POLL: Duration = Duration::from_millis(50);
/// The process name of the app under test, for [`Tmux::app_pid`].
const APP_COMM: &str = "site-status";

/// How long `wait_for` waits: `SITE_STATUS_E2E_TIMEOUT` seconds, default 15.
pub fn timeout() -> Duration {
    let secs = std::env::var("SITE_STATUS_E2E_TIMEOUT")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(15);
    Duration::from_secs(secs)
}

pub fn require_tmux() {
    match Command::new(TMUX).arg("-V").output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "`tmux -V` failed ({}): {}. The end-to-end tests need a working tmux.",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!(
            "tmux is required by the end-to-end tests but could not be run: {e}. \
             Install it (apt-get install tmux, brew install tmux); the CI script \
             installs it."
        ),
    }
}

/// Single-quotes a word for `sh`.
pub fn sh_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// A shell command line running `words` as they are (each quoted).
pub fn command_line(words: &[&str]) -> String {
    words
        .iter()
        .map(|w| sh_quote(w))
        .collect::<Vec<_>>()
        .join(" ")
}

// ---------------------------------------------------------------------------
// The terminal
// ---------------------------------------------------------------------------

/// The marks a grid cell may carry between its glyph and its name: an
/// alert firing, no namespace in the cluster.
pub const CELL_BADGES: [char; 2] = ['⚑', '∅'];

/// A grid line with the cells' badges blanked, so every cell reads as
/// glyph, space, name.
pub fn without_badges(line: &str) -> String {
    line.replace(CELL_BADGES, " ")
}

/// A line of the fleet timeline strip: one per environment (`… now ✖2 ▲15
/// · peak …`), or all of them folded into one (`dev ✖2 ▂▃ ▲15 ██  test …`),
/// where each count sticks to its glyph as no grid cell does.
pub fn is_timeline_line(line: &str) -> bool {
    if line.starts_with("──") || line.starts_with("  ") {
        return false;
    }
    let folded = line.split_whitespace().any(|w| {
        let mut chars = w.chars();
        chars.next().is_some_and(|g| "✖▼⊘?◷▲●○".contains(g))
            && chars.next().is_some_and(|c| c.is_ascii_digit())
    });
    folded
        || (line.contains(" peak ") && line.contains(" now "))
        || line.contains("timeline: waiting")
}

/// A private tmux server running one session with the app in it.
/// Dropping it kills the server, whether the test passed or panicked.
pub struct Tmux {
    socket: String,
    session: String,
    socket_path: Option<PathBuf>,
}

impl Tmux {
    /// Starts a `width`×`height` session running `command` (a `sh` command
    /// line: quote its words with [`sh_quote`] or [`command_line`]; it may
    /// set variables, `HOME=/x '/path/to/bin' args`) without waiting for
    /// anything. The locale is C.UTF-8 and the zone UTC (`TZ`; a command may
    /// set its own). The shell around the command reports
    /// how it ended ("EXITED <status>") and the terminal modes it left
    /// behind, then keeps the pane open for inspection.
    pub fn start(width: u16, height: u16, command: &str) -> Tmux {
        require_tmux();
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let socket = format!("site-status-e2e-{}-{n}", std::process::id());
        let mut tmux = Tmux {
            session: format!("e2e{n}"),
            socket,
            socket_path: None,
        };
        // LC_ALL and LC_CTYPE would override LANG and turn the app to ASCII.
        let script = format!(
            "unset LC_ALL LC_CTYPE; LANG=C.UTF-8; export LANG; TZ=UTC; export TZ; {command}; \
             echo \"EXITED $?\"; echo \"TTY $(stty -a | tr '\\n' ' ')\"; exec sleep 300"
        );
        let (w, h) = (width.to_string(), height.to_string());
        let session = tmux.session.clone();
        tmux.run(&[
            "new-session",
            "-d",
            "-s",
            &session,
            "-x",
            &w,
            "-y",
            &h,
            "/bin/sh",
            "-c",
            &script,
        ]);
        tmux.socket_path = Some(PathBuf::from(
            tmux.run(&["display-message", "-p", "-t", &session, "#{socket_path}"])
                .trim(),
        ));
        tmux
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(TMUX);
        // -f /dev/null: no user configuration; -u: UTF-8 whatever the locale.
        cmd.args(["-u", "-f", "/dev/null", "-L", &self.socket])
            .env_remove("TMUX")
            .env_remove("LC_ALL")
            .env_remove("LC_CTYPE")
            .env("LANG", "C.UTF-8");
        cmd
    }

    fn output(&self, args: &[&str]) -> Output {
        self.command()
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run tmux {args:?}: {e}"))
    }

    /// Runs a tmux command against this server; panics if it fails.
    pub fn run(&self, args: &[&str]) -> String {
        let out = self.output(args);
        assert!(
            out.status.success(),
            "tmux {args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn target(&self) -> String {
        format!("={}:", self.session)
    }

    /// Key names as tmux knows them: "Tab", "BTab", "Escape", "C-c", "j".
    /// Key presses, by tmux's key names. An Escape is sent on its own and
    /// given time to be read alone: Escape and the next key in one read
    /// are Alt and that key to the terminal (Escape then q would be
    /// Alt-q, which quits nothing).
    pub fn keys(&self, keys: &[&str]) {
        let target = self.target();
        for chunk in keys.split_inclusive(|k| *k == "Escape") {
            let mut args = vec!["send-keys", "-t", &target];
            args.extend_from_slice(chunk);
            self.run(&args);
            if chunk.last() == Some(&"Escape") {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
    }

    /// Literal text, each character a key press.
    pub fn type_text(&self, text: &str) {
        let target = self.target();
        self.run(&["send-keys", "-t", &target, "-l", text]);
    }

    pub fn resize(&self, width: u16, height: u16) {
        let target = self.target();
        let (w, h) = (width.to_string(), height.to_string());
        self.run(&["resize-window", "-t", &target, "-x", &w, "-y", &h]);
    }

    /// A tmux format evaluated for the pane, e.g. "#{alternate_on}".
    pub fn format(&self, format: &str) -> String {
        let target = self.target();
        self.run(&["display-message", "-p", "-t", &target, format])
            .trim()
            .to_string()
    }

    /// The visible pane, one string per line (tmux prints every line of
    /// the pane, blank ones included).
    pub fn screen(&self) -> Screen {
        let target = self.target();
        Screen::new(&self.run(&["capture-pane", "-p", "-t", &target]))
    }

    /// The visible pane with its colours and attributes as SGR escape
    /// sequences (`capture-pane -e`), as tmux prints it. tmux only writes
    /// what changes from one cell to the next, so an attribute set on one
    /// line can carry over to the next: read it as one stream.
    pub fn styled_capture(&self) -> String {
        let target = self.target();
        self.run(&["capture-pane", "-p", "-e", "-t", &target])
    }

    /// The visible pane with each character's attributes.
    pub fn styled(&self) -> Styled {
        Styled::parse(&self.styled_capture())
    }

    /// Like [`Tmux::wait_for`], reading attributes too; `check` gives the
    /// value waited for.
    pub fn wait_styled<T>(&self, what: &str, check: impl FnMut(&Styled) -> Option<T>) -> T {
        self.wait_styled_within(timeout(), what, check)
    }

    pub fn wait_styled_within<T>(
        &self,
        limit: Duration,
        what: &str,
        check: impl FnMut(&Styled) -> Option<T>,
    ) -> T {
        self.poll(limit, what, Tmux::styled, |shot| &shot.screen, check)
    }

    /// The pane with wrapped lines joined: for the shell's long `stty` line.
    pub fn joined_screen(&self) -> Screen {
        let target = self.target();
        Screen::new(&self.run(&["capture-pane", "-p", "-J", "-t", &target]))
    }

    /// Polls the screen until `check` holds; fails with the last screen when
    /// it does not within the deadline ([`timeout`]), or at once if the app
    /// exited.
    pub fn wait_for(&self, what: &str, check: impl Fn(&Screen) -> bool) -> Screen {
        self.wait_for_within(timeout(), what, check)
    }

    pub fn wait_for_within(
        &self,
        limit: Duration,
        what: &str,
        check: impl Fn(&Screen) -> bool,
    ) -> Screen {
        self.poll(
            limit,
            what,
            Tmux::screen,
            |s| s,
            |s| check(s).then(|| s.clone()),
        )
    }

    /// Captures with `capture` until `check` gives a value; fails with the
    /// last screen when it does not within `limit`, or at once when the app
    /// has exited. The one polling loop every end-to-end test uses, whatever
    /// it captures (text, or text with styles).
    pub fn poll<S, T>(
        &self,
        limit: Duration,
        what: &str,
        capture: impl Fn(&Tmux) -> S,
        screen_of: impl Fn(&S) -> &Screen,
        mut check: impl FnMut(&S) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + limit;
        loop {
            let shot = capture(self);
            if let Some(found) = check(&shot) {
                return found;
            }
            let screen = screen_of(&shot);
            // The shell reports the exit status, then the tty modes.
            if screen.exit_status().is_some() && screen.tty_modes().is_some() {
                panic!("waiting for {what}: the app exited\n{}", screen.framed());
            }
            if Instant::now() >= deadline {
                panic!(
                    "waiting for {what}: not seen within {limit:?}; last screen:\n{}",
                    screen.framed()
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// The app's process: the `site-status` child of the pane's shell.
    pub fn app_pid(&self) -> u32 {
        let target = self.target();
        let shell: u32 = self
            .run(&["list-panes", "-t", &target, "-F", "#{pane_pid}"])
            .trim()
            .parse()
            .expect("pane pid");
        children(shell)
            .into_iter()
            .find(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .map(|comm| comm.trim() == APP_COMM)
                    .unwrap_or(true)
            })
            .unwrap_or_else(|| panic!("no {APP_COMM} process under the pane's shell {shell}"))
    }

    /// Waits for the app to exit and checks the terminal it left behind:
    /// exit status 0, the normal screen with the cursor shown, no dashboard
    /// header left on it, and the tty cooked.
    pub fn assert_exits_cleanly(&self, how: &str) {
        self.assert_exits_restored(how, 0);
    }

    /// Waits for the app to end with `status` (128 + N for a signal N
    /// that killed it) and checks the terminal it left behind, as
    /// [`Tmux::assert_exits_cleanly`] does.
    pub fn assert_exits_restored(&self, how: &str, status: i32) {
        let screen = self.wait_for(&format!("the app to exit after {how}"), |s| {
            s.exit_status().is_some() && s.tty_modes().is_some()
        });
        assert_eq!(
            screen.exit_status(),
            Some(status),
            "exit status after {how}\n{}",
            screen.framed()
        );
        assert_eq!(
            self.format("#{mouse_any_flag}"),
            "0",
            "mouse reporting left on after {how}"
        );
        // Back on the normal screen, with the cursor shown and the tty cooked.
        assert_eq!(
            self.format("#{alternate_on}"),
            "0",
            "still on the alternate screen after {how}"
        );
        assert_eq!(
            self.format("#{cursor_flag}"),
            "1",
            "cursor left hidden after {how}"
        );
        // The dashboard's header line starts " site-status ".
        assert!(
            !screen.lines.iter().any(|l| l.starts_with(" site-status ")),
            "the dashboard is still on screen after {how}\n{}",
            screen.framed()
        );
        let modes = self
            .joined_screen()
            .tty_modes()
            .expect("the shell's stty report");
        for mode in ["icanon", "echo", "isig", "icrnl", "opost"] {
            assert!(
                modes.iter().any(|m| m == mode) && !modes.iter().any(|m| *m == format!("-{mode}")),
                "terminal left without {mode} after {how} (still raw?): {modes:?}"
            );
        }
    }
}

/// The real binary (`binary`, e.g. `env!("CARGO_BIN_EXE_site-status")`) in
/// a `width`×`height` session, dev, test and prod all read from one
/// Prometheus (told apart by `env="…"`), polled every 2 s (the shortest
/// allowed) with a 1 s timeout. Its configuration, HOME and mute rules
/// live in `dir`. Does not wait for anything.
pub fn live_dashboard(binary: &str, prometheus: &str, dir: &Path, width: u16, height: u16) -> Tmux {
    let mut config = String::from("refresh_interval = \"2s\"\n");
    for env in ["dev", "test", "prod"] {
        config.push_str(&format!(
            "\n[[environment]]\nname = \"{env}\"\nselector = 'env=\"{env}\"'\n\n\
             [environment.prometheus]\nurl = \"{prometheus}\"\ntimeout = \"1s\"\n"
        ));
    }
    let config_path = dir.join("config.toml");
    std::fs::write(&config_path, config).expect("write the configuration");
    let home = dir.join("home");
    std::fs::create_dir_all(&home).expect("create HOME");
    let text = |p: &Path| p.to_str().expect("a UTF-8 path").to_string();
    let command = format!(
        "unset SITE_STATUS_CONFIG XDG_CONFIG_HOME XDG_DATA_HOME; HOME={} SITE_STATUS_MUTES={} {}",
        sh_quote(&text(&home)),
        sh_quote(&text(&dir.join("mutes.toml"))),
        command_line(&[binary, "--config", &text(&config_path)])
    );
    Tmux::start(width, height, &command)
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.output(&["kill-server"]);
        if let Some(path) = &self.socket_path {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn children(parent: u32) -> Vec<u32> {
    if let Ok(dir) = std::fs::read_dir("/proc") {
        let mut found = Vec::new();
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // "pid (comm) state ppid ...": comm may hold spaces and parens.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if ppid == Some(parent) {
                found.push(pid);
            }
        }
        return found;
    }
    let out = Command::new("pgrep")
        .args(["-P", &parent.to_string()])
        .output()
        .expect("neither /proc nor pgrep to find the app's process");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

// ---------------------------------------------------------------------------
// Reading the screen
// ---------------------------------------------------------------------------

/// One capture of the pane: line 0 the header, then the body, then the
/// status line and the key line.
#[derive(Clone, PartialEq)]
pub struct Screen {
    /// Every line of the pane, trailing blanks trimmed; at least 4.
    pub lines: Vec<String>,
}

impl Screen {
    pub fn new(text: &str) -> Screen {
        let mut lines: Vec<String> = text.lines().map(|l| l.trim_end().to_string()).collect();
        // Header, one body line, status and keys: never index out of range.
        if lines.len() < 4 {
            lines.resize(4, String::new());
        }
        Screen { lines }
    }

    /// The screen cut where the site view's Kubernetes pane begins when
    /// it stands on the right (wide terminals), so the requirement list
    /// reads as it does without a cluster. Unchanged otherwise.
    pub fn left_of_kube_pane(&self) -> Screen {
        let column = self.lines.iter().find_map(|l| {
            let at = l.find(" Kubernetes ")?;
            let column = l[..at].chars().count();
            (column > 0).then_some(column)
        });
        match column {
            Some(column) => Screen {
                lines: self
                    .lines
                    .iter()
                    .enumerate()
                    .map(|(i, l)| {
                        // The header and the status lines span the width.
                        if i == 0 || i + 2 >= self.lines.len() {
                            l.clone()
                        } else {
                            l.chars()
                                .take(column)
                                .collect::<String>()
                                .trim_end()
                                .to_string()
                        }
                    })
                    .collect(),
            },
            None => self.clone(),
        }
    }

    pub fn height(&self) -> usize {
        self.lines.len()
    }

    pub fn contains(&self, needle: &str) -> bool {
        self.lines.iter().any(|l| l.contains(needle))
    }

    /// The screen with line numbers, for failure messages.
    pub fn framed(&self) -> String {
        let mut out = String::new();
        for (i, line) in self.lines.iter().enumerate() {
            out.push_str(&format!("{i:>3}|{line}\n"));
        }
        out
    }

    pub fn header(&self) -> &str {
        &self.lines[0]
    }

    pub fn status(&self) -> &str {
        &self.lines[self.height().saturating_sub(2)]
    }

    pub fn key_line(&self) -> &str {
        &self.lines[self.height().saturating_sub(1)]
    }

    /// Between the header and the status line.
    pub fn body(&self) -> &[String] {
        &self.lines[1..self.height().saturating_sub(2)]
    }

    /// The body without the fleet timeline strip over the grid: where the
    /// grid (or a view's breadcrumb) starts.
    pub fn grid_lines(&self) -> Vec<&String> {
        self.body()
            .iter()
            .filter(|l| !is_timeline_line(l))
            .collect()
    }

    /// The first line under the timeline strip.
    pub fn first_grid_line(&self) -> &str {
        self.grid_lines().first().map(|l| l.as_str()).unwrap_or("")
    }

    /// The dashboard's section lines ("── dev 60 sites …") on screen, whole.
    pub fn section_line_texts(&self) -> Vec<&str> {
        self.body()
            .iter()
            .filter(|l| l.starts_with("── "))
            .map(String::as_str)
            .collect()
    }

    /// "── dev 60 sites …" lines: (env, total) in screen order.
    pub fn section_lines(&self) -> Vec<(String, usize)> {
        self.section_line_texts()
            .into_iter()
            .filter_map(|l| {
                let mut words = l.trim_start_matches('─').split_whitespace();
                let env = words.next()?.to_string();
                let total = words.next()?.parse().ok()?;
                (words.next()? == "sites").then_some((env, total))
            })
            .collect()
    }

    /// The environments whose section line is on screen, in screen order.
    pub fn envs(&self) -> Vec<String> {
        self.section_lines().into_iter().map(|(e, _)| e).collect()
    }

    /// The grid's cursor as the status line names it, `env › profile ›
    /// site` (the rest of the line left out); `None` when the status line
    /// names no site (another view, a half-drawn frame).
    pub fn cursor_crumbs(&self) -> Option<&str> {
        let crumbs = self.status().split("  ").next()?.trim();
        (crumbs.split(" › ").filter(|p| !p.is_empty()).count() == 3).then_some(crumbs)
    }

    /// Set once the app has exited: its exit status.
    pub fn exit_status(&self) -> Option<i32> {
        self.lines
            .iter()
            .find_map(|l| l.strip_prefix("EXITED ")?.trim().parse().ok())
    }

    /// The `stty -a` report the pane's shell printed after the app exited.
    pub fn tty_modes(&self) -> Option<Vec<String>> {
        let line = self.lines.iter().find_map(|l| l.strip_prefix("TTY "))?;
        Some(
            line.split(|c: char| c.is_whitespace() || c == ';')
                .filter(|w| !w.is_empty())
                .map(str::to_string)
                .collect(),
        )
    }
}

// ---------------------------------------------------------------------------
// Reading a capture with its attributes
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Attr {
    pub reverse: bool,
    pub underline: bool,
    pub bold: bool,
}

/// One capture of the pane (`capture-pane -e`): the text, and each
/// character's attributes.
pub struct Styled {
    pub screen: Screen,
    /// Per line of the pane (untrimmed), per character.
    pub attrs: Vec<Vec<Attr>>,
}

impl Styled {
    pub fn parse(raw: &str) -> Styled {
        let mut lines = Vec::new();
        let mut attrs = Vec::new();
        let mut text = String::new();
        let mut line_attrs = Vec::new();
        let mut attr = Attr::default();
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            match c {
                '\x1b' => match chars.next() {
                    Some('[') => {
                        let mut params = String::new();
                        let mut last = None;
                        for c in chars.by_ref() {
                            if ('\x40'..='\x7e').contains(&c) {
                                last = Some(c);
                                break;
                            }
                            params.push(c);
                        }
                        if last == Some('m') {
                            apply_sgr(&params, &mut attr);
                        }
                    }
                    Some(']') => {
                        // OSC: up to BEL or ST.
                        while let Some(c) = chars.next() {
                            if c == '\x07' {
                                break;
                            }
                            if c == '\x1b' {
                                chars.next();
                                break;
                            }
                        }
                    }
                    _ => {}
                },
                '\n' => {
                    lines.push(std::mem::take(&mut text));
                    attrs.push(std::mem::take(&mut line_attrs));
                }
                c => {
                    text.push(c);
                    line_attrs.push(attr);
                }
            }
        }
        if !text.is_empty() {
            lines.push(text);
            attrs.push(line_attrs);
        }
        Styled {
            screen: Screen::new(&lines.join("\n")),
            attrs,
        }
    }

    pub fn attr(&self, line: usize, col: usize) -> Attr {
        self.attrs
            .get(line)
            .and_then(|l| l.get(col))
            .copied()
            .unwrap_or_default()
    }

    /// Whether any character of a pane line is in reverse video (the
    /// selection, in every list of the app).
    pub fn selected(&self, line: usize) -> bool {
        self.attrs
            .get(line)
            .is_some_and(|l| l.iter().any(|a| a.reverse))
    }

    /// The runs of reverse-video text on a line of the pane, trimmed.
    pub fn reversed(&self, line: usize) -> Vec<String> {
        let Some(attrs) = self.attrs.get(line) else {
            return Vec::new();
        };
        let text: Vec<char> = self
            .screen
            .lines
            .get(line)
            .map(|l| l.chars().collect())
            .unwrap_or_default();
        let mut runs = Vec::new();
        let mut run = String::new();
        for (i, attr) in attrs.iter().enumerate() {
            if attr.reverse {
                run.push(text.get(i).copied().unwrap_or(' '));
            } else if !run.is_empty() {
                runs.push(std::mem::take(&mut run));
            }
        }
        if !run.is_empty() {
            runs.push(run);
        }
        runs.into_iter()
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty())
            .collect()
    }

    /// The one reverse-video run on a line, if there is exactly one.
    pub fn selection_on(&self, line: usize) -> Option<String> {
        let runs = self.reversed(line);
        (runs.len() == 1).then(|| runs[0].clone())
    }
}

/// The attributes after one SGR sequence's parameters.
pub fn apply_sgr(params: &str, attr: &mut Attr) {
    let mut it = params.split(';');
    while let Some(p) = it.next() {
        if let Some(style) = p.strip_prefix("4:") {
            attr.underline = style != "0";
            continue;
        }
        if p.contains(':') {
            continue; // "38:2::r:g:b": one parameter
        }
        match p {
            "" | "0" => *attr = Attr::default(),
            "1" => attr.bold = true,
            "22" => attr.bold = false,
            "4" => attr.underline = true,
            "24" => attr.underline = false,
            "7" => attr.reverse = true,
            "27" => attr.reverse = false,
            "38" | "48" | "58" => match it.next() {
                Some("5") => {
                    it.next();
                }
                Some("2") => {
                    it.nth(2);
                }
                _ => {}
            },
            _ => {}
        }
    }
}
