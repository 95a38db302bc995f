//! File and directory modes.
//!
//! Everything the store creates is private to the server's user whatever the umask:
//! directories [`DIR_MODE`] (0700, the data directory and any missing parent included), files
//! [`FILE_MODE`] (0600: objects, parts, records, temp files). Existing directories are never
//! chmod-ed; [`audit`] lists those the store uses that group or others can access, and
//! `FsStore::open` warns about each at start-up.

use std::fs::{DirBuilder, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

/// Mode of every directory the store creates.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file the store creates.
pub const FILE_MODE: u32 = 0o600;

/// `mkdir -p` with [`DIR_MODE`] for every directory it creates.
pub fn create_dir_all(path: &Path) -> io::Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(path)
}

/// `mkdir` with [`DIR_MODE`].
pub fn create_dir(path: &Path) -> io::Result<()> {
    DirBuilder::new().mode(DIR_MODE).create(path)
}

/// Creates (or truncates) `path` with [`FILE_MODE`], writes `bytes` and fsyncs.
pub fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Creates (or truncates) `path` with [`FILE_MODE`] for writing.
pub fn create_file(path: &Path) -> io::Result<std::fs::File> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(path)
}

/// Options creating a new file (never an existing one) with [`FILE_MODE`].
pub fn create_new_options() -> tokio::fs::OpenOptions {
    let mut o = tokio::fs::OpenOptions::new();
    o.write(true).create_new(true).mode(FILE_MODE);
    o
}

/// The permission bits of `path` when group or others have any access to it.
fn too_open(path: &Path) -> Option<u32> {
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o7777;
    (mode & 0o077 != 0).then_some(mode)
}

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect()
}

/// The directories of the store under `root` (the data directory itself, the system
/// directories, every upload, bucket and bucket object directory) that group or others can
/// access, with their permission bits. `is_bucket` tells bucket directories from other
/// entries of the data directory.
pub fn audit(root: &Path, sys: &Path, is_bucket: impl Fn(&str) -> bool) -> Vec<(PathBuf, u32)> {
    let uploads = sys.join("uploads");
    let mut dirs = vec![root.to_path_buf(), sys.to_path_buf(), uploads.clone()];
    dirs.extend(subdirs(&uploads));
    for bucket in subdirs(root) {
        if bucket
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(&is_bucket)
        {
            dirs.push(bucket.join("obj"));
            dirs.push(bucket);
        }
    }
    dirs.into_iter()
        .filter_map(|d| too_open(&d).map(|m| (d, m)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn created_private_and_wide_ones_reported() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("a/b/data");
        create_dir_all(&root.join(".objsrv/uploads")).unwrap();
        assert_eq!(mode(&dir.path().join("a")), DIR_MODE);
        assert_eq!(mode(&root), DIR_MODE);
        let f = root.join("rec");
        write_synced(&f, b"x").unwrap();
        assert_eq!(mode(&f), FILE_MODE);
        let sys = root.join(".objsrv");
        assert!(audit(&root, &sys, |_| true).is_empty());

        create_dir(&root.join("bucket")).unwrap();
        std::fs::create_dir(root.join("bucket/obj")).unwrap();
        let wide =
            |p: &Path, m| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
        wide(&root, 0o755);
        wide(&root.join("bucket/obj"), 0o750);
        wide(&root.join(".objsrv/uploads"), 0o701);
        let mut found = audit(&root, &sys, |n| n == "bucket");
        found.sort();
        assert_eq!(
            found,
            vec![
                (root.clone(), 0o755),
                (root.join(".objsrv/uploads"), 0o701),
                (root.join("bucket/obj"), 0o750),
            ]
        );
        assert_eq!(mode(&root), 0o755, "audit never changes modes");
    }
}
