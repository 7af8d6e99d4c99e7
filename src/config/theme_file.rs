//! Theme files: the built-in themes (`themes/*.toml`, compiled in) and the
//! user's, from the configuration directory (`themes/NAME.toml`) or a path.
//! Reads those files; `ui` is handed the finished [`Theme`] and reads none.
//!
//! A file names roles only. A user theme may set some of them and takes the
//! rest from the built-in theme it `inherits` (default: `dark`). An unknown
//! role or a bad colour is an error naming the file, the line and the role.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use ratatui::style::Color;
use serde::Deserialize;
use serde::de::{self, Deserializer};

use crate::model::SiteState;
use crate::ui::theme::{ColorDepth, Theme};

/// The themes compiled into the binary: name and file text.
pub const BUILT_IN: [(&str, &str); 4] = [
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
    ("colorblind", include_str!("../../themes/colorblind.toml")),
];

/// The default theme's name.
pub const DEFAULT: &str = "dark";

/// A theme that cannot be used, worded for the person editing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThemeError(pub String);

impl fmt::Display for ThemeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ThemeError {}

impl Theme {
    /// The default theme, `themes/dark.toml`. Here rather than beside the
    /// type because the built-in files are parsed here.
    pub fn dark() -> Theme {
        built_in(DEFAULT).expect("the built-in dark theme is valid")
    }
}

/// The names of the built-in themes.
pub fn built_in_names() -> impl Iterator<Item = &'static str> {
    BUILT_IN.iter().map(|(name, _)| *name)
}

/// A built-in theme by name.
pub fn built_in(name: &str) -> Option<Theme> {
    let (name, text) = BUILT_IN.iter().find(|(n, _)| *n == name)?;
    let path = built_in_path(name);
    // The built-in files are checked by the tests; a broken one is a bug.
    Some(parse_file(name, text, &path, false).expect("a built-in theme is valid"))
}

fn built_in_path(name: &str) -> PathBuf {
    PathBuf::from(format!("themes/{name}.toml (built in)"))
}

/// Reads a theme given as `--theme` or `theme = ...`: a path (anything
/// with a `/` or ending in `.toml`), else a name: `<config dir>/themes/
/// NAME.toml` when that exists, else a built-in theme.
pub fn load(spec: &str, config_dir: Option<&Path>) -> Result<Theme, ThemeError> {
    let spec = spec.trim();
    if spec.is_empty() {
        return Err(ThemeError("an empty theme name".to_string()));
    }
    if spec.contains('/') || spec.ends_with(".toml") {
        return load_path(Path::new(spec));
    }
    let user = config_dir.map(|dir| dir.join("themes").join(format!("{spec}.toml")));
    if let Some(path) = user.as_deref().filter(|p| p.exists()) {
        return load_path(path);
    }
    built_in(spec).ok_or_else(|| {
        ThemeError(format!(
            "no theme {spec:?}: the built-in themes are {}{}",
            built_in_names().collect::<Vec<_>>().join(", "),
            user.map(|p| format!(", and there is no {}", p.display()))
                .unwrap_or_default()
        ))
    })
}

/// Reads the theme a configuration file names (`theme = ...`): a relative
/// path is relative to that file, and errors say where the name came from.
pub fn load_for_config(spec: &str, config_file: &Path) -> Result<Theme, ThemeError> {
    let dir = config_file.parent();
    let is_path = spec.contains('/') || spec.ends_with(".toml");
    let spec = match dir {
        Some(dir) if is_path && Path::new(spec).is_relative() => {
            dir.join(spec).to_string_lossy().into_owned()
        }
        _ => spec.to_string(),
    };
    load(&spec, dir).map_err(|e| {
        ThemeError(format!(
            "{e} (the theme named in {})",
            config_file.display()
        ))
    })
}

/// A theme is a few dozen lines.
pub const MAX_THEME_FILE_BYTES: u64 = 256 * 1024;

/// Reads a user theme file; its name is the file's stem.
pub fn load_path(path: &Path) -> Result<Theme, ThemeError> {
    let text = crate::small_file::read_text(path, MAX_THEME_FILE_BYTES)
        .map_err(|e| ThemeError(format!("{}: cannot read the theme: {e}", path.display())))?;
    parse(&text, path)
}

/// Parses a user theme: roles it leaves out come from the theme it
/// inherits. `path` names the file in messages.
pub fn parse(text: &str, path: &Path) -> Result<Theme, ThemeError> {
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "custom".to_string());
    parse_file(&name, text, path, true)
}

/// `#rrggbb`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rgb(Color);

impl<'de> Deserialize<'de> for Rgb {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let expected = "expected a colour as \"#rrggbb\"";
        let text = String::deserialize(d).map_err(|_| de::Error::custom(expected))?;
        parse_hex(&text)
            .map(Rgb)
            .ok_or_else(|| de::Error::custom(format!("{text:?} is not a colour; {expected}")))
    }
}

fn parse_hex(text: &str) -> Option<Color> {
    let hex = text.strip_prefix('#')?;
    if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let channel = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
    Some(Color::Rgb(channel(0)?, channel(2)?, channel(4)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    /// The built-in theme that supplies the roles left out.
    inherits: Option<toml::Spanned<String>>,
    background: Option<Rgb>,
    fill_background: Option<bool>,
    text: Option<Rgb>,
    muted_text: Option<Rgb>,
    border: Option<Rgb>,
    accent: Option<Rgb>,
    state: Option<StateRoles>,
    selection: Option<FgBg>,
    header: Option<FgBg>,
    env_accent: Option<BTreeMap<String, Rgb>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StateRoles {
    error: Option<Rgb>,
    target_down: Option<Rgb>,
    run_failed: Option<Rgb>,
    no_data: Option<Rgb>,
    stale: Option<Rgb>,
    warning: Option<Rgb>,
    ok: Option<Rgb>,
    info: Option<Rgb>,
    /// Muted requirements.
    muted: Option<Rgb>,
}

impl StateRoles {
    fn get(&self, state: SiteState) -> Option<Rgb> {
        match state {
            SiteState::Error => self.error,
            SiteState::TargetDown => self.target_down,
            SiteState::RunFailed => self.run_failed,
            SiteState::NoData => self.no_data,
            SiteState::Stale => self.stale,
            SiteState::Warning => self.warning,
            SiteState::Ok => self.ok,
            SiteState::Info => self.info,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FgBg {
    fg: Option<Rgb>,
    bg: Option<Rgb>,
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The role at a line: its key, prefixed by the table it is in
/// (`state.eror`).
fn role_at(text: &str, line: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let source = lines.get(line.checked_sub(1)?)?.trim();
    let key = source
        .split_once('=')
        .map(|(k, _)| k.trim().trim_matches('"').to_string())
        .filter(|k| !k.is_empty() && !k.starts_with('['))?;
    let table = lines[..line - 1]
        .iter()
        .rev()
        .map(|l| l.trim())
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    Some(match table {
        Some(table) if !table.is_empty() => format!("{table}.{key}"),
        _ => key,
    })
}

fn parse_file(name: &str, text: &str, path: &Path, user: bool) -> Result<Theme, ThemeError> {
    let file: ThemeFile = toml::from_str(text).map_err(|e| {
        let message = e.message().trim().replace("unknown field", "unknown role");
        ThemeError(match e.span() {
            Some(span) => {
                let line = line_of(text, span.start);
                let role = role_at(text, line)
                    .map(|r| format!("role `{r}`: "))
                    .unwrap_or_default();
                format!("{}:{line}: {role}{message}", path.display())
            }
            None => format!("{}: {message}", path.display()),
        })
    })?;
    let base = match &file.inherits {
        Some(parent) => {
            let parent_name = parent.get_ref();
            // A built-in theme cannot inherit itself; a user's `dark.toml`
            // may inherit the built-in `dark`.
            let found = built_in_names().find(|n| n == parent_name && (user || *n != name));
            match found {
                Some(n) => built_in(n),
                None => {
                    return Err(ThemeError(format!(
                        "{}:{}: role `inherits`: no built-in theme {parent_name:?}; there are {}",
                        path.display(),
                        line_of(text, parent.span().start),
                        built_in_names().collect::<Vec<_>>().join(", ")
                    )));
                }
            }
        }
        None if user => built_in(DEFAULT),
        None => None,
    };
    resolve(name, file, base).map_err(|missing| {
        ThemeError(format!(
            "{}: a theme that inherits nothing must set every role; missing: {}",
            path.display(),
            missing.join(", ")
        ))
    })
}

/// The file's roles over the base theme's; without a base, the names of
/// the roles the file leaves out.
fn resolve(name: &str, file: ThemeFile, base: Option<Theme>) -> Result<Theme, Vec<String>> {
    let mut missing = Vec::new();
    let mut pick = |role: &str, value: Option<Rgb>, inherited: Option<Color>| match value {
        Some(Rgb(c)) => c,
        None => inherited.unwrap_or_else(|| {
            missing.push(role.to_string());
            Color::Reset
        }),
    };
    let b = base.as_ref();
    let state = file.state.as_ref();
    let mut states = [Color::Reset; SiteState::ALL.len()];
    for s in SiteState::ALL {
        states[s.index()] = pick(
            &format!("state.{}", s.key()),
            state.and_then(|r| r.get(s)),
            b.map(|t| t.state_color(s)),
        );
    }
    let muted_requirement = pick(
        "state.muted",
        state.and_then(|r| r.muted),
        b.map(|t| t.muted_requirement),
    );
    let text = pick("text", file.text, b.map(|t| t.text));
    let muted_text = pick("muted_text", file.muted_text, b.map(|t| t.muted_text));
    let border = pick("border", file.border, b.map(|t| t.border));
    let accent = pick("accent", file.accent, b.map(|t| t.accent));
    // The file says what is shown; reverse video swaps the cell's colours.
    let selection = file.selection.as_ref();
    let selection_bg = pick(
        "selection.fg",
        selection.and_then(|s| s.fg),
        b.map(|t| t.selection_bg),
    );
    let selection_fg = pick(
        "selection.bg",
        selection.and_then(|s| s.bg),
        b.map(|t| t.selection_fg),
    );
    let header = file.header.as_ref();
    let header_fg = pick(
        "header.fg",
        header.and_then(|h| h.fg),
        b.map(|t| t.header_fg),
    );
    let header_bg = pick(
        "header.bg",
        header.and_then(|h| h.bg),
        b.map(|t| t.header_bg),
    );
    let background = pick("background", file.background, b.map(|t| t.background));
    let fill_background = match (file.fill_background, b) {
        (Some(fill), _) => fill,
        (None, Some(t)) => t.fill_background,
        (None, None) => {
            missing.push("fill_background".to_string());
            false
        }
    };
    let mut env_accents = b.map(|t| t.env_accents.clone()).unwrap_or_default();
    for (env, Rgb(color)) in file.env_accent.into_iter().flatten() {
        env_accents.retain(|(e, _)| *e != env);
        env_accents.push((env, color));
    }
    if !missing.is_empty() {
        return Err(missing);
    }
    Ok(Theme {
        name: name.to_string(),
        states,
        muted_requirement,
        text,
        muted_text,
        border,
        accent,
        selection_fg,
        selection_bg,
        header_fg,
        header_bg,
        background,
        fill_background,
        env_accents,
        depth: ColorDepth::TrueColor,
        time_zone: jiff::tz::TimeZone::UTC,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_are_hex() {
        assert_eq!(parse_hex("#ff8700"), Some(Color::Rgb(0xff, 0x87, 0x00)));
        assert_eq!(parse_hex("#FF8700"), Some(Color::Rgb(0xff, 0x87, 0x00)));
        for bad in [
            "ff8700", "#ff870", "#ff87000", "#gg8700", "red", "#ff 870", "#ﬀ8700",
        ] {
            assert_eq!(parse_hex(bad), None, "{bad}");
        }
    }

    #[test]
    fn roles_are_named_with_their_table() {
        let text = "text = \"#000000\"\n[state]\neror = \"#ffffff\"\n[header]\n  fg = 1\n";
        assert_eq!(role_at(text, 1).as_deref(), Some("text"));
        assert_eq!(role_at(text, 3).as_deref(), Some("state.eror"));
        assert_eq!(role_at(text, 5).as_deref(), Some("header.fg"));
        assert_eq!(role_at(text, 2), None);
    }
}
