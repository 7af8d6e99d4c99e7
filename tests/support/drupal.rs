//! The real Drupal site of `../shared/drupal/` (Drupal 10.3.7, SQLite,
//! drush 13.3.0), unpacked into a test's own temporary directory, and the
//! ways to drive it into real states and back, each the way an operator's
//! site gets there: a pending database update, a temporary directory that
//! cannot be written, broken module code, a lost database.
//!
//! When `../shared/drupal` is absent (a clone without it) the caller is
//! told loudly; under `CI=true` that is a failure, never a silent pass.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct RealSite {
    // Removed when the site is dropped.
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    pub drush: PathBuf,
}

/// `../shared/drupal/setup.sh`, beside the repository.
pub fn setup_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/drupal/setup.sh")
}

/// A fresh copy of the real site, or `None` (said loudly) where the
/// archive is absent and the run is not CI's.
pub fn real_site() -> Option<RealSite> {
    let setup = setup_script();
    if !setup.exists() {
        let say = format!(
            "\n!!! THE REAL DRUPAL SITE IS MISSING: {} does not exist.\n!!! The real-system test did NOT run.\n",
            setup.display()
        );
        eprintln!("{say}");
        println!("{say}");
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "CI=true and the real Drupal site is missing: {}",
                setup.display()
            );
        }
        return None;
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out = Command::new("bash")
        .arg(&setup)
        .arg(dir.path().join("site"))
        .output()
        .expect("run setup.sh");
    assert!(
        out.status.success(),
        "setup.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let drush = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    assert!(drush.exists(), "setup.sh printed {drush:?}");
    let root = drush.parent().expect("DEST/drush").to_path_buf();
    Some(RealSite {
        _dir: dir,
        root,
        drush,
    })
}

impl RealSite {
    fn web(&self) -> PathBuf {
        self.root.join("web")
    }

    /// Runs this site's drush, expecting success.
    pub fn drush(&self, args: &[&str]) {
        let out = Command::new(&self.drush)
            .args(args)
            .output()
            .expect("run drush");
        assert!(
            out.status.success(),
            "drush {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `system`'s schema one behind: `update` turns error.
    pub fn set_pending_update(&self, pending: bool) {
        let schema = if pending { 10101 } else { 10201 };
        self.drush(&[
            "php:eval",
            &format!("\\Drupal::keyValue('system.schema')->set('system', {schema});"),
        ]);
    }

    fn settings(&self) -> PathBuf {
        self.web().join("sites/default/settings.php")
    }

    /// The temporary directory made one that cannot be created, whoever
    /// runs the test (root ignores mode bits): its parent is a file.
    /// `file system` turns error. (`chattr +i` on the files directory, as
    /// the archive's README says, also locks SQLite's journal beside the
    /// database there, so drush then cannot reach the database at all.)
    pub fn set_files_unwritable(&self, unwritable: bool) {
        let settings = self.settings();
        let backup = settings.with_extension("php.orig");
        if unwritable {
            std::fs::copy(&settings, &backup).expect("keep settings.php");
            let not_a_dir = self.root.join("not-a-directory");
            std::fs::write(&not_a_dir, "a file\n").expect("write a file");
            let mut text = std::fs::read_to_string(&settings).expect("read settings.php");
            text.push_str(&format!(
                "\n$settings['file_temp_path'] = '{}/tmp';\n",
                not_a_dir.display()
            ));
            write_over(&settings, &text);
        } else {
            let text = std::fs::read_to_string(&backup).expect("read settings.php.orig");
            write_over(&settings, &text);
        }
    }

    /// The `ban` module installed, then its code gone: drush exits 255
    /// with a PHP fatal error on stderr and nothing on stdout.
    pub fn set_module_code_missing(&self, missing: bool) {
        let module = self.web().join("core/modules/ban");
        let away = self.root.join("ban-moved-away");
        if missing {
            if !away.exists() {
                self.drush(&["pm:install", "ban", "-y"]);
                std::fs::rename(&module, &away).expect("move ban away");
            }
        } else if away.exists() {
            std::fs::rename(&away, &module).expect("move ban back");
        }
    }

    /// The SQLite database file moved away (and back).
    pub fn set_database_missing(&self, missing: bool) {
        let db = self.web().join("sites/default/files/.ht.sqlite");
        let away = self.root.join("database-moved-away.sqlite");
        if missing {
            std::fs::rename(&db, &away).expect("move the database away");
        } else {
            std::fs::rename(&away, &db).expect("move the database back");
        }
    }
}

/// settings.php is read-only as installed.
fn write_over(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    let dir = path.parent().expect("a parent");
    let dir_mode = std::fs::metadata(dir).expect("stat").permissions().mode();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(dir_mode | 0o200))
        .expect("chmod the directory");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    std::fs::write(path, text).expect("write settings.php");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o444)).expect("chmod");
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(dir_mode)).expect("chmod");
}
