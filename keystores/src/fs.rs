//! [`FsKeystore`]: one file per key in a directory (KES `keystore.fs`).
//!
//! # Layout on disk
//! - `<dir>/<name>`: the value of key `<name>`, mode 0600, written once.
//! - `<dir>/.tmp-<random>`: a value being written. `.` is not allowed in key
//!   names, so a temp file can never be mistaken for a key; leftovers from a
//!   crash are removed by [`FsKeystore::open`] and never listed.
//!
//! # Atomicity
//! `create` writes the value to a fresh temp file (`O_CREAT|O_EXCL`, 0600),
//! `fsync`s it, then publishes it with `link(temp, <dir>/<name>)`. `link`
//! fails if the name exists, so publishing never overwrites a key and of many
//! concurrent creates exactly one wins. The temp name is then unlinked and the
//! directory `fsync`ed. A crash leaves either no key or the whole key (plus,
//! at worst, a temp file that the next `open` removes). The directory must be
//! on a file system that supports hard links (any local POSIX file system).
//!
//! # Errors
//! Missing files map to [`Error::NotFound`]; every other I/O failure
//! (permission denied, EIO, ...) maps to [`Error::Backend`], never to
//! `NotFound`. Names are re-validated with [`validate_name`] before any path is
//! built, so no name can address a file outside the directory.
//!
//! Blocking file I/O runs on Tokio's blocking pool (`spawn_blocking`).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use zeroize::Zeroizing;

use crate::{Error, Keystore, Page, Status, list_page, validate_name};

/// File name prefix of values being written. Never a valid key name.
const TEMP_PREFIX: &str = ".tmp-";

/// Mode of key files (owner read/write only).
const FILE_MODE: u32 = 0o600;

/// Mode of the key directory when [`FsKeystore::open`] creates it (owner
/// only: key names are not secret, but nobody else needs to list them).
const DIR_MODE: u32 = 0o700;

/// A keystore that keeps each key in its own file inside one directory.
///
/// Cloning is cheap (the directory path is shared).
#[derive(Debug, Clone)]
pub struct FsKeystore {
    dir: Arc<PathBuf>,
}

impl FsKeystore {
    /// Opens (and if needed creates, mode 0700, with parents) the key
    /// directory, then removes temp files left by an earlier crash. An
    /// existing directory that group or others may access is kept as it is
    /// (it is the operator's) but logged as a warning.
    ///
    /// Blocking; call it at startup (or inside `spawn_blocking`).
    ///
    /// # Errors
    /// [`Error::Backend`] if the directory cannot be created or read, if the
    /// path exists but is not a directory, or if a leftover temp file cannot
    /// be removed.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, Error> {
        let dir: PathBuf = dir.into();
        fs::DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(&dir)
            .map_err(Error::backend)?;
        let meta = fs::metadata(&dir).map_err(Error::backend)?;
        if !meta.is_dir() {
            return Err(Error::backend(format!(
                "{} is not a directory",
                dir.display()
            )));
        }
        let mode = std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                dir = %dir.display(),
                mode = %format!("{mode:04o}"),
                "the key directory is accessible to group or others; 0700 is recommended"
            );
        }
        let mut removed = false;
        for entry in fs::read_dir(&dir).map_err(Error::backend)? {
            let entry = entry.map_err(Error::backend)?;
            if is_temp_name(&entry.file_name()) {
                match fs::remove_file(entry.path()) {
                    Ok(()) => removed = true,
                    Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                    Err(err) => return Err(Error::backend(err)),
                }
            }
        }
        if removed {
            sync_dir(&dir).map_err(Error::backend)?;
            tracing::info!(dir = %dir.display(), "removed leftover temp files from the key directory");
        }
        Ok(Self { dir: Arc::new(dir) })
    }

    /// The key directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of key `name`, after re-validating the name.
    fn key_path(&self, name: &str) -> Result<PathBuf, Error> {
        validate_name(name)?;
        Ok(self.dir.join(name))
    }

    /// Runs blocking file I/O on the blocking pool.
    async fn blocking<T, F>(&self, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&Path) -> Result<T, Error> + Send + 'static,
    {
        let dir = Arc::clone(&self.dir);
        tokio::task::spawn_blocking(move || f(&dir))
            .await
            .map_err(Error::backend)?
    }
}

fn is_temp_name(name: &std::ffi::OsStr) -> bool {
    name.to_str().is_some_and(|n| n.starts_with(TEMP_PREFIX))
}

/// `fsync` on a directory, making renames, links and unlinks in it durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Creates a fresh temp file in `dir` (mode 0600, exclusive), retrying on the
/// (astronomically unlikely) collision of random names.
fn create_temp(dir: &Path) -> io::Result<(PathBuf, File)> {
    let mut attempts = 0;
    loop {
        let path = dir.join(format!("{TEMP_PREFIX}{:016x}", rand::random::<u64>()));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(FILE_MODE)
            .open(&path)
        {
            Ok(file) => return Ok((path, file)),
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists && attempts < 8 => attempts += 1,
            Err(err) => return Err(err),
        }
    }
}

/// The blocking body of [`FsKeystore::create`]; see the module docs.
fn create_blocking(dir: &Path, path: &Path, value: &[u8]) -> Result<(), Error> {
    let (temp, mut file) = create_temp(dir).map_err(Error::backend)?;
    let written = file.write_all(value).and_then(|()| file.sync_all());
    drop(file);
    if let Err(err) = written {
        let _ = fs::remove_file(&temp);
        return Err(Error::backend(err));
    }
    let linked = fs::hard_link(&temp, path);
    if let Err(err) = fs::remove_file(&temp) {
        // Harmless: the next `open` removes it, and `list` never shows it.
        tracing::warn!(error = %err, "could not remove a temp file in the key directory");
    }
    match linked {
        Ok(()) => {}
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => return Err(Error::KeyExists),
        Err(err) => return Err(Error::backend(err)),
    }
    // The key is visible now; if this fsync fails its durability is unknown,
    // which is reported as an error (a retry then sees `KeyExists`).
    sync_dir(dir).map_err(Error::backend)
}

#[async_trait]
impl Keystore for FsKeystore {
    /// Checks that the directory exists and is a directory.
    ///
    /// # Errors
    /// [`Error::Unreachable`] if its metadata cannot be read or it is not a
    /// directory.
    async fn status(&self) -> Result<Status, Error> {
        let start = Instant::now();
        self.blocking(|dir| match fs::metadata(dir) {
            Ok(meta) if meta.is_dir() => Ok(()),
            Ok(_) => Err(Error::unreachable(format!(
                "{} is not a directory",
                dir.display()
            ))),
            Err(err) => Err(Error::unreachable(err)),
        })
        .await?;
        Ok(Status {
            latency: start.elapsed(),
        })
    }

    async fn create(&self, name: &str, value: &[u8]) -> Result<(), Error> {
        let path = self.key_path(name)?;
        let value = Zeroizing::new(value.to_vec());
        self.blocking(move |dir| create_blocking(dir, &path, &value))
            .await
    }

    async fn get(&self, name: &str) -> Result<Zeroizing<Vec<u8>>, Error> {
        let path = self.key_path(name)?;
        self.blocking(move |_| match fs::read(&path) {
            Ok(bytes) => Ok(Zeroizing::new(bytes)),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Err(Error::NotFound),
            Err(err) => Err(Error::backend(err)),
        })
        .await
    }

    async fn delete(&self, name: &str) -> Result<(), Error> {
        let path = self.key_path(name)?;
        self.blocking(move |dir| {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(err) if err.kind() == io::ErrorKind::NotFound => return Err(Error::NotFound),
                Err(err) => return Err(Error::backend(err)),
            }
            sync_dir(dir).map_err(Error::backend)
        })
        .await
    }

    /// Lists regular files whose names are valid key names; temp files,
    /// directories and anything else are skipped.
    ///
    /// # Errors
    /// [`Error::Backend`] if the directory cannot be read.
    async fn list(&self, prefix: &str, continue_at: &str, limit: usize) -> Result<Page, Error> {
        let prefix_owned = prefix.to_owned();
        let names = self
            .blocking(move |dir| {
                let mut names = Vec::new();
                for entry in fs::read_dir(dir).map_err(Error::backend)? {
                    let entry = entry.map_err(Error::backend)?;
                    let Ok(name) = entry.file_name().into_string() else {
                        continue;
                    };
                    if name.starts_with(TEMP_PREFIX)
                        || !name.starts_with(&prefix_owned)
                        || validate_name(&name).is_err()
                    {
                        continue;
                    }
                    match entry.file_type() {
                        Ok(kind) if kind.is_file() => names.push(name),
                        Ok(_) => {}
                        // Deleted while we were listing.
                        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                        Err(err) => return Err(Error::backend(err)),
                    }
                }
                Ok(names)
            })
            .await?;
        Ok(list_page(names, prefix, continue_at, limit))
    }
}
