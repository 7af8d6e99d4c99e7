//! The on-disk spool of reports waiting for Loki: every report is made
//! durable here (temporary file, fsync, rename, fsync of the directory)
//! before it is sent, and removed only once Loki has answered 2xx. The
//! spool is bounded (oldest dropped and counted, but never the one whose
//! push is in flight: see [`Spool::pin`]), keeps the reports Loki
//! refused for good in `rejected/`, and after a kill gives back whatever it
//! held, oldest first.

use std::collections::{BTreeMap, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::json;
use tokio::sync::Notify;

use crate::loki::{DropReason, Log, LogLevel, PushEvents};

pub const DEFAULT_MAX_REPORTS: usize = 500;
pub const DEFAULT_MAX_BYTES: u64 = 50 * 1024 * 1024;

/// The folder, beside the spooled reports, for those Loki will never take.
pub const REJECTED_DIR: &str = "rejected";

const SUFFIX: &str = ".report";
const TMP_SUFFIX: &str = ".tmp";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolConfig {
    pub dir: PathBuf,
    /// Most reports kept; past it the oldest are dropped. Also bounds
    /// `rejected/`, so a site whose every report is refused cannot fill
    /// the volume.
    pub max_reports: usize,
    /// Most bytes of report lines kept; the newest report is always kept,
    /// even alone above this.
    pub max_bytes: u64,
}

impl SpoolConfig {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        SpoolConfig {
            dir: dir.into(),
            max_reports: DEFAULT_MAX_REPORTS,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

/// One spooled report: its file and the timestamp it is pushed with, on
/// every attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    name: String,
    /// Nanoseconds since the Unix epoch: when the run started.
    pub ts_ns: i64,
    pub bytes: u64,
}

impl Entry {
    pub fn file_name(&self) -> &str {
        &self.name
    }
}

struct State {
    /// Keyed by file name, which sorts by timestamp then sequence: the
    /// first key is the oldest report.
    entries: BTreeMap<String, Entry>,
    bytes: u64,
    next_seq: u64,
    rejected: VecDeque<String>,
    /// The report the sender is reading or pushing now.
    pinned: Option<String>,
    /// The report after it, while the sender tries it out of turn
    /// ([`Spool::pin_next`]).
    probing: Option<String>,
}

pub struct Spool {
    config: SpoolConfig,
    events: Arc<dyn PushEvents>,
    log: Log,
    state: Mutex<State>,
    wake: Notify,
}

/// The file name of a report: fixed-width numbers, so that the names sort
/// as the reports do. Timestamps before 1970 are not real run starts and
/// are written as 0.
fn entry_name(ts_ns: i64, seq: u64) -> String {
    format!("{:020}-{:020}{SUFFIX}", ts_ns.max(0), seq)
}

fn parse_name(name: &str) -> Option<(i64, u64)> {
    let stem = name.strip_suffix(SUFFIX)?;
    let (ts, seq) = stem.split_once('-')?;
    if ts.len() != 20 || seq.len() != 20 {
        return None;
    }
    Some((ts.parse().ok()?, seq.parse().ok()?))
}

/// Makes renames and removals in `dir` durable: without it a crash can
/// bring back a renamed-away name or lose a renamed-in one.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

impl Spool {
    /// Opens (creating it if needed) the spool directory, removes the
    /// temporary files a kill mid-write left, and indexes what it holds.
    pub fn open(config: SpoolConfig, events: Arc<dyn PushEvents>, log: Log) -> io::Result<Spool> {
        let rejected_dir = config.dir.join(REJECTED_DIR);
        fs::create_dir_all(&rejected_dir)?;
        let mut entries = BTreeMap::new();
        let mut bytes = 0;
        let mut next_seq = 0;
        let mut cleaned = 0u64;
        for item in fs::read_dir(&config.dir)? {
            let item = item?;
            let Ok(name) = item.file_name().into_string() else {
                continue;
            };
            if name.ends_with(TMP_SUFFIX) {
                // Never renamed into place: the write it belonged to had
                // not returned, so nobody was told the report was kept.
                remove_if_present(&item.path())?;
                cleaned += 1;
                continue;
            }
            let Some((ts_ns, seq)) = parse_name(&name) else {
                continue;
            };
            let size = item.metadata()?.len();
            next_seq = next_seq.max(seq + 1);
            bytes += size;
            entries.insert(
                name.clone(),
                Entry {
                    name,
                    ts_ns,
                    bytes: size,
                },
            );
        }
        if cleaned > 0 {
            sync_dir(&config.dir)?;
            log.emit(
                LogLevel::Info,
                "spool: removed temporary files of an interrupted write",
                json!({"files": cleaned}),
            );
        }
        let mut rejected: Vec<String> = fs::read_dir(&rejected_dir)?
            .filter_map(|item| item.ok()?.file_name().into_string().ok())
            .filter(|name| parse_name(name).is_some())
            .collect();
        rejected.sort();
        let spool = Spool {
            config,
            events,
            log,
            state: Mutex::new(State {
                entries,
                bytes,
                next_seq,
                rejected: rejected.into(),
                pinned: None,
                probing: None,
            }),
            wake: Notify::new(),
        };
        {
            let mut state = spool.lock();
            // The bounds may have shrunk since the last start.
            spool.enforce_bounds(&mut state)?;
            spool.trim_rejected(&mut state);
            if !state.entries.is_empty() {
                spool.log.emit(
                    LogLevel::Info,
                    "spool: reports left from before the start are sent first",
                    json!({"reports": state.entries.len(), "bytes": state.bytes}),
                );
            }
            spool.report_depth(&state);
        }
        Ok(spool)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves the index as
        // consistent as the files are: keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn config(&self) -> &SpoolConfig {
        &self.config
    }

    /// Writes one report durably; when this returns `Ok` the report
    /// survives a kill. Wakes the sender. Past the bounds, the oldest
    /// reports are dropped, counted and logged.
    pub fn push(&self, ts_ns: i64, line: &str) -> io::Result<()> {
        let result = self.write(ts_ns, line);
        if let Err(e) = &result {
            self.events.dropped(DropReason::WriteFailed, 1);
            self.log.emit(
                LogLevel::Error,
                "spool: could not write a report; it is lost",
                json!({"report_ts": ts_ns.to_string(), "error": e.to_string()}),
            );
        }
        result
    }

    fn write(&self, ts_ns: i64, line: &str) -> io::Result<()> {
        let mut state = self.lock();
        let seq = state.next_seq;
        state.next_seq += 1;
        let name = entry_name(ts_ns, seq);
        let tmp = self.config.dir.join(format!(".{name}{TMP_SUFFIX}"));
        let written = (|| {
            let mut file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            file.write_all(line.as_bytes())?;
            file.sync_all()?;
            fs::rename(&tmp, self.config.dir.join(&name))?;
            sync_dir(&self.config.dir)
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        let bytes = line.len() as u64;
        state.bytes += bytes;
        state.entries.insert(
            name.clone(),
            Entry {
                name,
                ts_ns: ts_ns.max(0),
                bytes,
            },
        );
        self.enforce_bounds(&mut state)?;
        self.report_depth(&state);
        drop(state);
        self.wake.notify_one();
        Ok(())
    }

    fn enforce_bounds(&self, state: &mut State) -> io::Result<()> {
        let mut dropped = 0u64;
        let mut dropped_bytes = 0u64;
        while state.entries.len() > self.config.max_reports
            || (state.bytes > self.config.max_bytes && state.entries.len() > 1)
        {
            // The oldest, unless it is pinned: then the next. Never the
            // newest, which the bytes bound keeps even alone.
            let newest = state.entries.keys().next_back();
            let Some(name) = state
                .entries
                .keys()
                .find(|name| {
                    Some(*name) != newest
                        && Some(*name) != state.pinned.as_ref()
                        && Some(*name) != state.probing.as_ref()
                })
                .cloned()
            else {
                break;
            };
            let Some(entry) = state.entries.remove(&name) else {
                break;
            };
            remove_if_present(&self.config.dir.join(&name))?;
            state.bytes -= entry.bytes;
            dropped += 1;
            dropped_bytes += entry.bytes;
        }
        if dropped > 0 {
            sync_dir(&self.config.dir)?;
            self.events.dropped(DropReason::SpoolFull, dropped);
            self.log.emit(
                LogLevel::Warn,
                "spool full: dropped the oldest reports",
                json!({
                    "dropped": dropped,
                    "dropped_bytes": dropped_bytes,
                    "max_reports": self.config.max_reports,
                    "max_bytes": self.config.max_bytes,
                }),
            );
        }
        Ok(())
    }

    fn trim_rejected(&self, state: &mut State) {
        let dir = self.config.dir.join(REJECTED_DIR);
        while state.rejected.len() > self.config.max_reports {
            let Some(name) = state.rejected.pop_front() else {
                break;
            };
            if let Err(e) = remove_if_present(&dir.join(&name)) {
                self.log.emit(
                    LogLevel::Warn,
                    "spool: could not remove an old rejected report",
                    json!({"file": name, "error": e.to_string()}),
                );
            }
        }
    }

    fn report_depth(&self, state: &State) {
        self.events.spool(state.entries.len(), state.bytes);
    }

    /// The oldest report, the only one the sender may send next.
    pub fn oldest(&self) -> Option<Entry> {
        self.lock()
            .entries
            .first_key_value()
            .map(|(_, e)| e.clone())
    }

    /// Keeps `entry` from being dropped for room until the guard goes, if
    /// it is still the oldest (else `None`: the caller takes the oldest
    /// again). The sender holds it while it reads and pushes a report: one
    /// dropped then could still reach Loki and be counted both sent and
    /// dropped, or be counted dropped twice (for room, then as refused or
    /// unreadable). Not while it waits to retry, so an outage still rolls
    /// the oldest out. Were it and the newest all that is left, the bound
    /// is exceeded until a later write.
    pub fn pin(&self, entry: &Entry) -> Option<Pinned<'_>> {
        let mut state = self.lock();
        if state.entries.first_key_value().map(|(_, e)| e) != Some(entry) {
            return None;
        }
        state.pinned = Some(entry.name.clone());
        Some(Pinned(self))
    }

    /// The report right after `entry`, kept from being dropped for room
    /// until the guard goes, as [`Spool::pin`] does: the sender tries it
    /// out of turn when `entry` has failed for long (see
    /// `loki::Sender`), to tell a report Loki will never take from an
    /// outage. `None` when there is none.
    pub fn pin_next(&self, entry: &Entry) -> Option<(Entry, PinnedNext<'_>)> {
        let mut state = self.lock();
        let next = state
            .entries
            .range::<String, _>((
                std::ops::Bound::Excluded(&entry.name),
                std::ops::Bound::Unbounded,
            ))
            .next()
            .map(|(_, e)| e.clone())?;
        state.probing = Some(next.name.clone());
        Some((next, PinnedNext(self)))
    }

    pub fn read(&self, entry: &Entry) -> io::Result<String> {
        fs::read_to_string(self.config.dir.join(&entry.name))
    }

    /// Forgets a report Loki accepted. A report already dropped for room
    /// is not an error.
    pub fn remove(&self, entry: &Entry) -> io::Result<()> {
        let mut state = self.lock();
        let path = self.config.dir.join(&entry.name);
        if let Some(e) = state.entries.remove(&entry.name) {
            state.bytes -= e.bytes;
        }
        remove_if_present(&path)?;
        // Not strictly needed (a removal lost in a crash only resends a
        // report Loki deduplicates), but it spares that resend.
        sync_dir(&self.config.dir)?;
        self.report_depth(&state);
        Ok(())
    }

    /// Moves a report Loki will never accept into `rejected/`.
    pub fn reject(&self, entry: &Entry) -> io::Result<()> {
        let mut state = self.lock();
        if let Some(e) = state.entries.remove(&entry.name) {
            state.bytes -= e.bytes;
        }
        let rejected_dir = self.config.dir.join(REJECTED_DIR);
        let moved = match fs::rename(
            self.config.dir.join(&entry.name),
            rejected_dir.join(&entry.name),
        ) {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => {
                self.report_depth(&state);
                return Err(e);
            }
        };
        if moved {
            sync_dir(&rejected_dir)?;
            sync_dir(&self.config.dir)?;
            state.rejected.push_back(entry.name.clone());
            self.trim_rejected(&mut state);
        }
        self.report_depth(&state);
        Ok(())
    }

    /// Whether a report can be written now: a probe file is created,
    /// written, synced and removed, as a report's would be. At start (a
    /// spool found unwritable only at the first write had the agent ready
    /// while losing every report) and for `/readyz`.
    pub fn check_writable(&self) -> io::Result<()> {
        let probe = self.config.dir.join(format!(".probe{TMP_SUFFIX}"));
        let written = (|| {
            let mut file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&probe)?;
            file.write_all(b"probe")?;
            file.sync_all()
        })();
        let removed = remove_if_present(&probe);
        written.and(removed)
    }

    pub fn depth(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn bytes(&self) -> u64 {
        self.lock().bytes
    }

    /// How many reports `rejected/` holds.
    pub fn rejected(&self) -> usize {
        self.lock().rejected.len()
    }

    /// Waits until a report is pushed (returns at once if one was pushed
    /// since the last wait).
    pub async fn changed(&self) {
        self.wake.notified().await;
    }
}

/// See [`Spool::pin`].
#[must_use = "the report is pinned only while this lives"]
pub struct Pinned<'a>(&'a Spool);

impl Drop for Pinned<'_> {
    fn drop(&mut self) {
        self.0.lock().pinned = None;
    }
}

/// See [`Spool::pin_next`].
#[must_use = "the report is pinned only while this lives"]
pub struct PinnedNext<'a>(&'a Spool);

impl Drop for PinnedNext<'_> {
    fn drop(&mut self) {
        self.0.lock().probing = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loki::NoEvents;

    #[test]
    fn names_sort_as_reports_do() {
        let a = entry_name(9, 5);
        let b = entry_name(10, 0);
        let c = entry_name(10, 1);
        assert!(a < b && b < c);
        assert_eq!(parse_name(&c), Some((10, 1)));
        assert_eq!(parse_name("junk.report"), None);
        assert_eq!(parse_name(&format!(".{c}{TMP_SUFFIX}")), None);
    }

    #[test]
    fn reopening_continues_the_sequence_and_keeps_the_order() {
        let dir = tempfile::tempdir().unwrap();
        let open = || {
            Spool::open(
                SpoolConfig::new(dir.path()),
                Arc::new(NoEvents),
                Log::new(LogLevel::Error),
            )
            .unwrap()
        };
        let spool = open();
        spool.push(100, "a").unwrap();
        drop(spool);
        let spool = open();
        // Same timestamp: the sequence alone must keep "a" first.
        spool.push(100, "b").unwrap();
        let first = spool.oldest().unwrap();
        assert_eq!(spool.read(&first).unwrap(), "a");
        spool.remove(&first).unwrap();
        assert_eq!(spool.read(&spool.oldest().unwrap()).unwrap(), "b");
    }

    #[test]
    fn a_report_being_pushed_is_not_dropped_for_room() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = SpoolConfig::new(dir.path());
        config.max_reports = 2;
        let spool = Spool::open(config, Arc::new(NoEvents), Log::new(LogLevel::Error)).unwrap();
        spool.push(1, "a").unwrap();
        spool.push(2, "b").unwrap();
        let a = spool.oldest().unwrap();
        let pinned = spool.pin(&a).unwrap();
        spool.push(3, "c").unwrap();
        // "a" is in Loki's hands: "b" made room.
        assert_eq!(spool.depth(), 2);
        assert_eq!(spool.oldest(), Some(a.clone()));
        drop(pinned);
        spool.push(4, "d").unwrap();
        assert_eq!(spool.depth(), 2);
        assert_eq!(spool.read(&spool.oldest().unwrap()).unwrap(), "c");
        // Gone, so no longer the oldest: the sender takes the oldest again.
        assert!(spool.pin(&a).is_none());
    }
}
