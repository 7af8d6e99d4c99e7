//! `--copy-to PATH`: the agent copies its own binary, for the Deployment's
//! init container. The agent image is `FROM scratch` (no shell, no `cp`),
//! so the binary itself puts a copy into the `emptyDir` that the site's
//! Drupal container runs it from (deploy/kubernetes/base/deployment.yaml).

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Copies the running binary to `dest` (mode 0755) and returns the bytes
/// written.
pub fn copy_self(dest: &Path) -> io::Result<u64> {
    let exe = std::env::current_exe().map_err(|e| {
        io::Error::new(e.kind(), format!("cannot find the agent's own binary: {e}"))
    })?;
    copy_executable(&exe, dest)
}

/// Copies `src` to `dest` through a temporary file beside it, made
/// executable and synced before the rename: a container that starts while
/// the copy is cut short (the init container killed) finds either no
/// binary or a whole one, never a truncated one that crashes obscurely.
pub fn copy_executable(src: &Path, dest: &Path) -> io::Result<u64> {
    let context = |what: &str, path: &Path, e: io::Error| {
        io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
    };
    let file_name = dest.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("--copy-to needs a file path, got {}", dest.display()),
        )
    })?;
    let mut tmp_name = file_name.to_os_string();
    tmp_name.push(".tmp");
    let tmp = dest.with_file_name(tmp_name);

    let mut from = File::open(src).map_err(|e| context("cannot read", src, e))?;
    let mut to = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o755)
        .open(&tmp)
        .map_err(|e| context("cannot write", &tmp, e))?;
    let written = io::copy(&mut from, &mut to).map_err(|e| context("cannot write", &tmp, e))?;
    // The mode given at creation is masked by the umask, and an existing
    // temporary file keeps its old mode: set it explicitly.
    to.set_permissions(fs::Permissions::from_mode(0o755))
        .map_err(|e| context("cannot make executable", &tmp, e))?;
    to.sync_all().map_err(|e| context("cannot sync", &tmp, e))?;
    drop(to);
    fs::rename(&tmp, dest).map_err(|e| context("cannot rename to", dest, e))?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::process::Command;

    fn scratch_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "site-status-agent-install-{name}-{}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_copy_is_the_same_binary_and_runs() {
        let dir = scratch_dir("runs");
        let dest = dir.join("true-copy");
        let src = Path::new("/bin/true");
        let written = copy_executable(src, &dest).unwrap();
        assert_eq!(written, fs::metadata(src).unwrap().len());
        assert_eq!(fs::read(&dest).unwrap(), fs::read(src).unwrap());
        let mode = fs::metadata(&dest).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o755);
        assert!(Command::new(&dest).status().unwrap().success());
        assert!(
            !dir.join("true-copy.tmp").exists(),
            "temporary file left behind"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn copying_over_an_older_binary_replaces_it() {
        let dir = scratch_dir("replace");
        let dest = dir.join("agent");
        fs::write(&dest, b"old").unwrap();
        // A temporary file left by a killed copy, not executable.
        fs::write(dir.join("agent.tmp"), b"half").unwrap();
        copy_self(&dest).unwrap();
        let exe = std::env::current_exe().unwrap();
        assert_eq!(fs::read(&dest).unwrap(), fs::read(exe).unwrap());
        assert_eq!(
            fs::metadata(&dest).unwrap().permissions().mode() & 0o777,
            0o755
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_the_path() {
        let dir = scratch_dir("missing");
        let dest = dir.join("no-such-dir").join("agent");
        let err = copy_executable(Path::new("/bin/true"), &dest).unwrap_err();
        assert!(err.to_string().contains("no-such-dir"), "{err}");
        assert!(copy_executable(Path::new("/bin/true"), Path::new("/")).is_err());
        fs::remove_dir_all(&dir).unwrap();
    }
}
