//! The mute rules made in the dashboard, kept in a file of their own in the
//! user's data directory (`~/.local/share/site-status/mutes.toml` on Linux).
//!
//! The file is TOML with the configuration's `[[mute]]` keys, so a person
//! can read and edit it, and it is checked the same way:
//!
//! ```toml
//! version = 1
//!
//! [[mute]]
//! requirement = "update_contrib"
//! env = "prod"
//! site = "borger"
//! reason = "Waits for the monthly window"
//! expires = "2026-06-30"
//! ```
//!
//! Writes are atomic: the new content goes to a temporary file in the same
//! directory, which is flushed to disk, renamed over the file and the
//! directory flushed too. A crash or a kill at any moment leaves either the
//! old or the new file, never a mix; at worst a stray `.mutes.toml.*.tmp`,
//! which is ignored and swept by a later save. `add` and `remove` hold a
//! lock (`.mutes.toml.lock`) across their read-modify-write, so two
//! dashboards do not lose each other's rules.
//!
//! A missing file is no rules. A file that cannot be read or parsed is an
//! error naming the file (and the line and key): it is never overwritten
//! then, and the configuration's rules keep applying (`load_rules`).
//!
//! `add` and `remove` drop expired rules from the file; `save` writes
//! exactly what it is given.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::MuteConfig;
use crate::model::mute::expiry_to_text;
use crate::model::{MuteRule, MuteRules, RuleOrigin};

pub const FILE_NAME: &str = "mutes.toml";
/// The file format's version; a newer one is refused rather than misread.
pub const VERSION: i64 = 1;
/// Thousands of rules fit in far less; a larger file is not ours.
pub const MAX_MUTES_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// A temporary file older than this is left over from a crash.
const STALE_TEMP: Duration = Duration::from_secs(600);

/// The mute rules file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MuteStore {
    path: PathBuf,
}

/// What went wrong with the rules file, worded for a person: it starts with
/// the file's path (and line, for a parse error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MuteStoreError {
    pub path: PathBuf,
    pub message: String,
}

impl MuteStoreError {
    fn new(path: &Path, what: impl fmt::Display) -> MuteStoreError {
        MuteStoreError {
            path: path.to_path_buf(),
            message: format!("{}: {what}", path.display()),
        }
    }
}

impl fmt::Display for MuteStoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for MuteStoreError {}

/// Where the dashboard's rules live: `SITE_STATUS_MUTES` when set (tests,
/// or a shared location), else `mutes.toml` in the user's data directory.
pub fn default_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(PATH_ENV).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    directories::ProjectDirs::from("", "", "site-status").map(|d| d.data_dir().join(FILE_NAME))
}

pub const PATH_ENV: &str = "SITE_STATUS_MUTES";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileIn {
    #[serde(default)]
    version: Option<i64>,
    #[serde(default, rename = "mute")]
    mutes: Vec<MuteConfig>,
}

#[derive(Serialize)]
struct FileOut<'a> {
    version: i64,
    mute: Vec<RuleOut<'a>>,
}

#[derive(Serialize)]
struct RuleOut<'a> {
    requirement: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    env: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    profile: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    site: Option<&'a str>,
    reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires: Option<String>,
}

const HEADER: &str = "\
# Requirements muted from the site-status dashboard; see `[[mute]]` in the
# configuration for the keys. Written by site-status: edit with care.

";

impl MuteStore {
    pub fn new(path: impl Into<PathBuf>) -> MuteStore {
        MuteStore { path: path.into() }
    }

    /// The store at [`default_path`].
    pub fn open_default() -> Option<MuteStore> {
        default_path().map(MuteStore::new)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The rules in the file, with origin `Dashboard`, expired ones included
    /// (they simply do not apply). A missing file is no rules.
    pub fn load(&self) -> Result<Vec<MuteRule>, MuteStoreError> {
        let bytes = match crate::small_file::read(&self.path, MAX_MUTES_FILE_BYTES) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(MuteStoreError::new(&self.path, format!("cannot read: {e}"))),
        };
        let text = String::from_utf8(bytes).map_err(|e| {
            MuteStoreError::new(
                &self.path,
                format!(
                    "not a text file (invalid UTF-8 at byte {}); the file is corrupt",
                    e.utf8_error().valid_up_to()
                ),
            )
        })?;
        parse(&text, &self.path)
    }

    /// Replaces the file's rules with `rules`, atomically (see the module
    /// docs); creates the directory when needed. Rules are written as
    /// dashboard rules whatever their origin.
    pub fn save(&self, rules: &[MuteRule]) -> Result<(), MuteStoreError> {
        let text = render(rules).map_err(|e| MuteStoreError::new(&self.path, e))?;
        // Never write what `load` would refuse.
        parse(&text, &self.path)?;
        write_atomically(&self.path, text.as_bytes())
            .map_err(|e| MuteStoreError::new(&self.path, format!("cannot write: {e}")))
    }

    /// Adds `rule`, replacing a rule for the same requirement, environment,
    /// profile and site; drops expired rules. Returns the file's rules now.
    /// A file that cannot be read is left alone and is the error.
    pub fn add(&self, rule: MuteRule, now_unix: f64) -> Result<Vec<MuteRule>, MuteStoreError> {
        self.modify(now_unix, |rules| {
            let rule = MuteRule {
                origin: RuleOrigin::Dashboard,
                ..rule
            };
            match rules.iter_mut().find(|r| r.same_target(&rule)) {
                Some(existing) => *existing = rule,
                None => rules.push(rule),
            }
        })
    }

    /// Removes the rules for the same target as `rule` (requirement,
    /// environment, profile, site); drops expired rules. Returns the file's
    /// rules now.
    pub fn remove(&self, rule: &MuteRule, now_unix: f64) -> Result<Vec<MuteRule>, MuteStoreError> {
        self.modify(now_unix, |rules| rules.retain(|r| !r.same_target(rule)))
    }

    fn modify(
        &self,
        now_unix: f64,
        change: impl FnOnce(&mut Vec<MuteRule>),
    ) -> Result<Vec<MuteRule>, MuteStoreError> {
        let _lock = self.lock();
        let mut rules = self.load()?;
        change(&mut rules);
        rules.retain(|r| !r.is_expired(now_unix));
        self.save(&rules)?;
        Ok(rules)
    }

    /// An advisory lock on `.mutes.toml.lock` until dropped; `None` when the
    /// platform or the file system cannot lock (the write is still atomic,
    /// only a concurrent add could be lost).
    fn lock(&self) -> Option<File> {
        // Beside the file itself, so that every link to it shares one lock.
        let target = resolve_links(&self.path).ok()?;
        let dir = parent_dir(&target);
        fs::create_dir_all(dir).ok()?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(format!(".{}.lock", file_name(&target))))
            .ok()?;
        file.lock().ok()?;
        Some(file)
    }
}

/// The configuration's rules followed by the dashboard's. When the rules
/// file cannot be read, the configuration's rules still apply and the error
/// is returned for the caller to show.
pub fn load_rules(
    config_rules: Vec<MuteRule>,
    store: Option<&MuteStore>,
) -> (MuteRules, Option<MuteStoreError>) {
    let mut rules = MuteRules::new(config_rules);
    let Some(store) = store else {
        return (rules, None);
    };
    match store.load() {
        Ok(dashboard) => {
            rules.extend(dashboard);
            (rules, None)
        }
        Err(e) => (rules, Some(e)),
    }
}

fn parse(text: &str, path: &Path) -> Result<Vec<MuteRule>, MuteStoreError> {
    let file: FileIn = toml::from_str(text).map_err(|e| toml_error(text, path, &e))?;
    match file.version {
        None | Some(VERSION) => {}
        Some(v) => {
            return Err(MuteStoreError::new(
                path,
                format!(
                    "version {v} is not understood (this site-status reads version {VERSION}); it may have been written by a newer site-status"
                ),
            ));
        }
    }
    Ok(file
        .mutes
        .iter()
        .map(|m| m.to_rule(RuleOrigin::Dashboard))
        .collect())
}

/// `path:line: key `k`: message`, as the configuration's errors.
fn toml_error(text: &str, path: &Path, e: &toml::de::Error) -> MuteStoreError {
    let message = e.message().trim();
    let Some(span) = e.span() else {
        return MuteStoreError::new(path, format!("not a valid rules file: {message}"));
    };
    let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
    let key = text
        .lines()
        .nth(line - 1)
        .and_then(|l| l.split_once('='))
        .map(|(k, _)| k.trim())
        .filter(|k| !k.is_empty() && !k.starts_with('[') && !k.starts_with('#'))
        .map(|k| format!("key `{k}`: "))
        .unwrap_or_default();
    MuteStoreError {
        path: path.to_path_buf(),
        message: format!("{}:{line}: {key}{message}", path.display()),
    }
}

fn render(rules: &[MuteRule]) -> Result<String, String> {
    for r in rules {
        if r.requirement.trim().is_empty() || r.reason.trim().is_empty() {
            return Err(format!(
                "refusing to save a rule without a requirement or a reason ({:?})",
                r.requirement
            ));
        }
    }
    let out = FileOut {
        version: VERSION,
        mute: rules
            .iter()
            .map(|r| RuleOut {
                requirement: &r.requirement,
                env: r.env.as_deref(),
                profile: r.profile.as_deref(),
                site: r.site.as_deref(),
                reason: &r.reason,
                expires: r.expires.map(expiry_to_text),
            })
            .collect(),
    };
    let body = toml::to_string(&out).map_err(|e| format!("cannot encode the rules: {e}"))?;
    Ok(format!("{HEADER}{body}"))
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| FILE_NAME.to_string())
}

/// Temporary files of this process get distinct names.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to a temporary file next to `path`, flushes it, renames it
/// over `path` and flushes the directory, so `path` is always either the old
/// or the new content.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    // Through a symlink to its target: replacing the link itself would
    // leave the file it points at (say, in a shared dotfiles repo) unchanged.
    let path = &resolve_links(path)?;
    let existing = match fs::metadata(path) {
        Ok(meta) => Some(meta),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    if let Some(meta) = &existing {
        refuse_unwritable(path, meta)?;
    }
    let dir = parent_dir(path);
    fs::create_dir_all(dir)?;
    let name = file_name(path);
    let tmp = dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        let mut file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        // The new file takes the old one's mode (a 0600 file stays private)
        // and, where we may, its owner.
        if let Some(meta) = &existing {
            keep_permissions(&file, meta)?;
        }
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(dir)?;
    sweep_stale_temps(dir, &name);
    Ok(())
}

/// Follows symlinks (a chain of them, relative or absolute) to the path
/// that holds the file, which need not exist yet.
fn resolve_links(path: &Path) -> io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = fs::read_link(&current)?;
                current = parent_dir(&current).join(target);
            }
            Ok(_) => return Ok(current),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(current),
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("too many levels of symbolic links"))
}

/// A file made read-only is not silently replaced, even by a user (root)
/// whom the file system would let.
#[cfg(unix)]
fn refuse_unwritable(path: &Path, meta: &fs::Metadata) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::PermissionsExt;
    let read_only = meta.permissions().mode() & 0o222 == 0;
    let denied = std::ffi::CString::new(path.as_os_str().as_bytes())
        // SAFETY: access(2) reads a NUL-terminated path and nothing else.
        .map(|c| unsafe { libc::access(c.as_ptr(), libc::W_OK) } != 0)
        .unwrap_or(true);
    if read_only || denied {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "the file is read-only for you; it was not replaced (make it writable, or point SITE_STATUS_MUTES at another file)",
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn refuse_unwritable(_path: &Path, meta: &fs::Metadata) -> io::Result<()> {
    if meta.permissions().readonly() {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "the file is read-only; it was not replaced",
        ));
    }
    Ok(())
}

#[cfg(unix)]
fn keep_permissions(file: &File, meta: &fs::Metadata) -> io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    file.set_permissions(fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    // Only root may give a file away; for anyone else the owner is already
    // theirs, and a failure here changes nothing.
    let _ = std::os::unix::fs::fchown(file, Some(meta.uid()), Some(meta.gid()));
    Ok(())
}

#[cfg(not(unix))]
fn keep_permissions(_file: &File, _meta: &fs::Metadata) -> io::Result<()> {
    Ok(())
}

/// Makes the rename durable.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Windows cannot open a directory as a file; its rename is durable enough.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// Removes temporary files a crash left behind, once they are old enough
/// not to belong to a write in progress.
fn sweep_stale_temps(dir: &Path, name: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let prefix = format!(".{name}.");
    let now = crate::model::Clock::System.system_time();
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let file_name = file_name.to_string_lossy();
        if !(file_name.starts_with(&prefix) && file_name.ends_with(".tmp")) {
            continue;
        }
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age > STALE_TEMP);
        if old {
            let _ = fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(req: &str) -> MuteRule {
        MuteRule::new(req, "accepted")
    }

    #[test]
    fn rules_survive_a_round_trip_through_text() {
        let mut a = rule("public:///.htaccess");
        a.env = Some("prod".into());
        a.profile = Some("kk_borger".into());
        a.site = Some("borger \"quoted\"".into());
        a.reason = "multi\nline ✓".into();
        a.expires = Some(1_772_323_200);
        let mut b = rule("cron");
        b.expires = Some(1_772_323_201);
        let text = render(&[a.clone(), b.clone()]).unwrap();
        assert!(text.contains("expires = \"2026-02-28\""), "{text}");
        assert!(text.contains("version = 1"), "{text}");
        assert_eq!(parse(&text, Path::new("m.toml")).unwrap(), vec![a, b]);
        assert_eq!(parse("", Path::new("m.toml")).unwrap(), vec![]);
    }

    #[test]
    fn rules_that_would_not_load_are_not_saved() {
        assert!(render(&[MuteRule::new("cron", " ")]).is_err());
        assert!(render(&[MuteRule::new("", "x")]).is_err());
    }

    #[test]
    fn parse_errors_name_the_file_line_and_key() {
        let e = parse(
            "version = 1\n[[mute]]\nrequirement = \"cron\"\nreason = \"x\"\nexpires = \"someday\"\n",
            Path::new("/d/mutes.toml"),
        )
        .unwrap_err();
        assert!(
            e.message.starts_with("/d/mutes.toml:5: key `expires`:"),
            "{e}"
        );
        let e = parse("version = 7\n", Path::new("/d/mutes.toml")).unwrap_err();
        assert!(e.message.contains("version 7"), "{e}");
        let e = parse("[[mute]\n", Path::new("/d/mutes.toml")).unwrap_err();
        assert!(e.message.starts_with("/d/mutes.toml:1:"), "{e}");
    }

    #[test]
    fn a_relative_file_name_lives_in_the_current_directory() {
        assert_eq!(parent_dir(Path::new("mutes.toml")), Path::new("."));
        assert_eq!(parent_dir(Path::new("/a/mutes.toml")), Path::new("/a"));
    }
}
