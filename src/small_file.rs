//! Reading the small files the configuration points at (a token, a CA
//! bundle, a theme, the mutes file, the configuration itself) without
//! trusting them to be small, or to be files.
//!
//! `/dev/zero` as a token file must not grow the process, and a FIFO must
//! not hang `config check`: only regular files are read, at most `cap`
//! bytes, and a read that does not finish in [`READ_TIMEOUT`] (a hung
//! network mount) gives up.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

pub const READ_TIMEOUT: Duration = Duration::from_secs(3);

/// The file's bytes, refused with a reason when it is not a regular file,
/// holds more than `cap` bytes or does not answer in time.
pub fn read(path: &Path, cap: u64) -> io::Result<Vec<u8>> {
    let owned = path.to_path_buf();
    let (done, result) = mpsc::channel();
    // The read runs on a thread of its own so that a stuck one can be left
    // behind; the thread ends when the read does.
    std::thread::Builder::new()
        .name("small-file".into())
        .spawn(move || {
            let _ = done.send(read_here(&owned, cap));
        })?;
    match result.recv_timeout(READ_TIMEOUT) {
        Ok(answer) => answer,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no answer within {}s", READ_TIMEOUT.as_secs()),
        )),
    }
}

/// As [`read`], as UTF-8 text.
pub fn read_text(path: &Path, cap: u64) -> io::Result<String> {
    String::from_utf8(read(path, cap)?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"))
}

fn read_here(path: &Path, cap: u64) -> io::Result<Vec<u8>> {
    // O_NONBLOCK: opening a FIFO with no writer would otherwise wait for
    // one. It does not change how a regular file is read.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not a regular file ({})", kind_of(&meta)),
        ));
    }
    if meta.len() > cap {
        return Err(too_large(cap));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // The file may grow after the size was read: read one byte past the
    // cap to tell.
    (&file as &File).take(cap + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(too_large(cap));
    }
    Ok(bytes)
}

fn too_large(cap: u64) -> io::Error {
    let shown = if cap >= 1024 * 1024 {
        format!("{} MiB", cap / (1024 * 1024))
    } else {
        format!("{} KiB", cap / 1024)
    };
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("larger than {shown}, refused"),
    )
}

fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_regular_file_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "abc\n").unwrap();
        assert_eq!(read_text(&path, 16).unwrap(), "abc\n");
    }

    #[test]
    fn a_file_past_the_cap_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        std::fs::write(&path, vec![b'x'; 2048]).unwrap();
        let e = read(&path, 1024).unwrap_err();
        assert!(e.to_string().contains("larger than 1 KiB"), "{e}");
    }

    #[test]
    fn devices_directories_and_fifos_are_refused_without_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        for (path, kind) in [
            (Path::new("/dev/zero"), "character device"),
            (dir.path(), "directory"),
            (fifo.as_path(), "FIFO"),
        ] {
            let e = read(path, 1024).unwrap_err();
            assert!(e.to_string().contains(kind), "{}: {e}", path.display());
        }
    }
}
