//! The blocking bodies of the [`FsKeystore`](super::FsKeystore) operations:
//! temp files, publishing, the per-key lock, and revisions.
//!
//! Everything here runs on Tokio's blocking pool. See the parent module's docs
//! for the on-disk layout and the concurrency argument.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use aws_lc_rs::digest;
use zeroize::Zeroizing;

use crate::{Error, Revision};

/// File name prefix of values being written. Never a valid key name.
pub(super) const TEMP_PREFIX: &str = ".tmp-";

/// Mode of key files (owner read/write only).
const FILE_MODE: u32 = 0o600;

/// Whether a directory entry is one of our temp files.
pub(super) fn is_temp_name(name: &std::ffi::OsStr) -> bool {
    name.to_str().is_some_and(|n| n.starts_with(TEMP_PREFIX))
}

/// `fsync` on a directory, making renames, links and unlinks in it durable.
pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The revision of a stored value: its SHA-256 digest.
///
/// Content-addressed on purpose. File metadata cannot tell versions apart
/// reliably: inode numbers are reused as soon as a replaced file is freed,
/// the kernel's mtime clock is coarse (a few ms), and two values often have
/// the same length, so two different values could share a fingerprint and a
/// stale update would overwrite a newer value. Equal digests mean equal
/// contents, which is exactly the condition under which a compare-and-swap
/// may replace a value.
pub(super) fn revision_of(value: &[u8]) -> Revision {
    Revision::from_bytes(digest::digest(&digest::SHA256, value).as_ref().to_vec())
}

/// A temp file we created, locked (`flock`) for as long as it lives, so that
/// a concurrent [`FsKeystore::open`](super::FsKeystore::open) (another server
/// starting on the same directory) never removes it. Dropping it removes its
/// name if it is still there (a publish by `rename` already moved it; after a
/// publish by `link` the key keeps its own name), then releases the lock.
struct Temp {
    path: PathBuf,
    file: File,
}

impl Drop for Temp {
    fn drop(&mut self) {
        match fs::remove_file(&self.path) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            // Harmless: the next `open` removes it, and `list` never shows it.
            Err(err) => {
                tracing::warn!(error = %err, "could not remove a temp file in the key directory");
            }
        }
    }
}

/// Whether `file` (open) is the file currently at `path`. While `file` is
/// open its inode cannot be freed and reused, so equal device and inode
/// numbers really mean the same file.
fn is_at(file: &File, path: &Path) -> io::Result<bool> {
    let held = file.metadata()?;
    match fs::metadata(path) {
        Ok(now) => Ok(now.dev() == held.dev() && now.ino() == held.ino()),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(err),
    }
}

/// Creates a fresh temp file in `dir` (mode 0600, exclusive) and locks it.
/// Retries on a collision of random names (astronomically unlikely) and when
/// a concurrent `open` removed the file between its creation and our lock.
fn create_temp(dir: &Path) -> io::Result<Temp> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let path = dir.join(format!("{TEMP_PREFIX}{:016x}", rand::random::<u64>()));
        let file = match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(FILE_MODE)
            .open(&path)
        {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists && attempts < 8 => continue,
            Err(err) => return Err(err),
        };
        file.lock()?;
        if is_at(&file, &path)? {
            return Ok(Temp { path, file });
        }
        if attempts >= 8 {
            return Err(io::Error::other(
                "temp files in the key directory keep being removed",
            ));
        }
    }
}

/// Removes the temp file at `path` unless its writer is alive (holds its
/// lock). Returns whether it was removed.
pub(super) fn remove_stale_temp(path: &Path) -> io::Result<bool> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(err) => return Err(err),
    };
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Ok(false),
        Err(TryLockError::Error(err)) => return Err(err),
    }
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(err),
    }
}

/// Writes `value` to a new temp file in `dir` and `fsync`s it. The file stays
/// open (and locked) in the returned [`Temp`].
fn write_temp(dir: &Path, value: &[u8]) -> Result<Temp, Error> {
    let mut temp = create_temp(dir).map_err(Error::backend)?;
    temp.file
        .write_all(value)
        .and_then(|()| temp.file.sync_all())
        .map_err(Error::backend)?;
    Ok(temp)
}

/// Reads a whole file into a zeroizing buffer sized up front (so the value is
/// not copied around by reallocation).
fn read_file(file: &mut File) -> io::Result<Zeroizing<Vec<u8>>> {
    let len = usize::try_from(file.metadata()?.len()).unwrap_or(0);
    let mut buf = Zeroizing::new(Vec::with_capacity(len.saturating_add(1)));
    file.read_to_end(&mut buf)?;
    Ok(buf)
}

/// Reads the value of the key file at `path`.
pub(super) fn read(path: &Path) -> Result<Zeroizing<Vec<u8>>, Error> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Err(Error::NotFound),
        Err(err) => return Err(Error::backend(err)),
    };
    read_file(&mut file).map_err(Error::backend)
}

/// `create`: publish a temp file with `link`, which fails if the name exists.
pub(super) fn create(dir: &Path, path: &Path, value: &[u8]) -> Result<(), Error> {
    let temp = write_temp(dir, value)?;
    let linked = fs::hard_link(&temp.path, path);
    drop(temp);
    match linked {
        Ok(()) => {}
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => return Err(Error::KeyExists),
        Err(err) => return Err(Error::backend(err)),
    }
    // The key is visible now; if this fsync fails its durability is unknown,
    // which is reported as an error (a retry then sees `KeyExists`).
    sync_dir(dir).map_err(Error::backend)
}

/// Opens the key file published at `path` and locks it exclusively (`flock`,
/// waiting for the current holder), then checks that it is still the file
/// published at `path`: a writer holding the lock before us may have replaced
/// (update) or removed (delete) it. If it was replaced, the new file is locked
/// instead; if it was removed, the key is gone.
///
/// Every writer that
/// replaces or removes a key file holds this lock on it, so until the file is
/// dropped nobody else replaces or removes the file at `path` (`create` only
/// ever links to a free name).
fn lock_current(path: &Path) -> Result<File, Error> {
    loop {
        let file = match File::open(path) {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Err(Error::NotFound),
            Err(err) => return Err(Error::backend(err)),
        };
        file.lock().map_err(Error::backend)?;
        if is_at(&file, path).map_err(Error::backend)? {
            return Ok(file);
        }
        // Replaced while we waited (lock the new file), or removed.
        match fs::metadata(path) {
            Ok(_) => {}
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Err(Error::NotFound),
            Err(err) => return Err(Error::backend(err)),
        }
    }
}

/// `update`: under the key's lock, compare the stored value's revision and
/// publish a temp file with `rename`.
pub(super) fn update(
    dir: &Path,
    path: &Path,
    expected: &Revision,
    value: &[u8],
) -> Result<Revision, Error> {
    let mut locked = lock_current(path)?;
    let current = read_file(&mut locked).map_err(Error::backend)?;
    if revision_of(&current) != *expected {
        return Err(Error::Conflict);
    }
    drop(current);
    let temp = write_temp(dir, value)?;
    fs::rename(&temp.path, path).map_err(Error::backend)?;
    drop(temp);
    // The new value is visible; if this fsync fails its durability is
    // unknown, which is reported as an error (a retry then sees `Conflict`).
    sync_dir(dir).map_err(Error::backend)?;
    drop(locked);
    Ok(revision_of(value))
}

/// `delete`: under the key's lock, unlink it.
pub(super) fn delete(dir: &Path, path: &Path) -> Result<(), Error> {
    let locked = lock_current(path)?;
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Err(Error::NotFound),
        Err(err) => return Err(Error::backend(err)),
    }
    sync_dir(dir).map_err(Error::backend)?;
    drop(locked);
    Ok(())
}
