//! [`FsKeystore`]: one file per key in a directory (KES `keystore.fs`).
//!
//! # Layout
//! - this module: the type, [`FsKeystore::open`], the [`Keystore`] impl and
//!   `Section`, the `keystore.fs` config section;
//! - `io`: the blocking bodies (temp files, publishing, the per-key lock,
//!   revisions).
//!
//! # On disk
//! - `<dir>/<name>`: the value of key `<name>`, mode 0600, raw bytes (the
//!   layout of KES's fs keystore, so either server reads the other's keys).
//! - `<dir>/.tmp-<random>`: a value being written. `.` is not allowed in key
//!   names, so a temp file can never be mistaken for a key, and it is never
//!   listed. Its writer holds an `flock` on it until it is published or
//!   removed; [`FsKeystore::open`] removes the temp files nobody holds
//!   (leftovers of a crash), so another server starting on the same
//!   directory never breaks a write in progress.
//!
//! A key file is never modified in place: every write publishes a complete,
//! `fsync`ed temp file, so a reader sees a whole old or a whole new value.
//!
//! # Atomicity
//! - `create` publishes with `link(temp, <dir>/<name>)`, which fails if the
//!   name exists: never an overwrite, and of many concurrent creates exactly
//!   one wins.
//! - `update` and `delete` first take an exclusive `flock` on the key file
//!   itself and check that the locked file is still the one at
//!   `<dir>/<name>` (else they retry on the new one, or report `NotFound`).
//!   Holding it, `update` compares the stored value's revision with the
//!   expected one and publishes with `rename(temp, <dir>/<name>)`; `delete`
//!   unlinks. `flock` locks belong to open files, so this serialises writers
//!   in one process and across processes sharing the directory (two servers
//!   on one keystore), and a crashed holder's lock is released by the kernel.
//!   An update racing a delete thus either happens first or finds the key
//!   gone; it never re-creates it. Lock files are not needed, so nothing but
//!   keys and temp files ever lives in the directory.
//! - The directory is `fsync`ed after every link, rename and unlink. A crash
//!   leaves the old or the new value (plus, at worst, a temp file).
//!
//! The directory must be on a local POSIX file system with hard links and
//! `flock` (not every network file system provides both).
//!
//! # Revisions
//! The SHA-256 digest of the value (see `io::revision_of` for why not file
//! metadata).
//!
//! # Errors
//! Missing files map to [`Error::NotFound`]; every other I/O failure
//! (permission denied, EIO, ...) maps to [`Error::Backend`], never to
//! `NotFound`. Names are re-validated with [`validate_name`] before any path is
//! built, so no name can address a file outside the directory.

mod io;

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use zeroize::Zeroizing;

use crate::text::Text;
use crate::{Error, Keystore, Page, Revision, Status, Versioned, list_page, validate_name};

use io::{TEMP_PREFIX, is_temp_name, sync_dir};

/// The `keystore.fs` section of a KES config: `path`, the key directory.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct Section {
    path: Option<Text>,
}

impl Section {
    /// Validates the section (`path` is required) and returns the key
    /// directory.
    pub(crate) fn into_path(self) -> Result<PathBuf, String> {
        let path = self
            .path
            .as_ref()
            .and_then(Text::non_empty)
            .ok_or("keystore.fs.path: no path specified")?;
        Ok(PathBuf::from(path))
    }
}

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
    /// directory, then removes temp files left by an earlier crash (but not
    /// those another live process sharing the directory is writing). An
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
                removed |= io::remove_stale_temp(&entry.path()).map_err(Error::backend)?;
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
        self.blocking(move |dir| io::create(dir, &path, &value))
            .await
    }

    async fn get(&self, name: &str) -> Result<Zeroizing<Vec<u8>>, Error> {
        let path = self.key_path(name)?;
        self.blocking(move |_| io::read(&path)).await
    }

    /// Reads the file; the revision is the SHA-256 digest of what was read.
    async fn get_versioned(&self, name: &str) -> Result<Versioned, Error> {
        let path = self.key_path(name)?;
        self.blocking(move |_| {
            let value = io::read(&path)?;
            let revision = io::revision_of(&value);
            Ok(Versioned { value, revision })
        })
        .await
    }

    /// Compares and replaces under the key file's `flock` (module docs).
    async fn update(&self, name: &str, old: &Revision, new: &[u8]) -> Result<Revision, Error> {
        let path = self.key_path(name)?;
        let expected = old.clone();
        let value = Zeroizing::new(new.to_vec());
        self.blocking(move |dir| io::update(dir, &path, &expected, &value))
            .await
    }

    /// Unlinks under the key file's `flock` (module docs).
    async fn delete(&self, name: &str) -> Result<(), Error> {
        let path = self.key_path(name)?;
        self.blocking(move |dir| io::delete(dir, &path)).await
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
                        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                        Err(err) => return Err(Error::backend(err)),
                    }
                }
                Ok(names)
            })
            .await?;
        Ok(list_page(names, prefix, continue_at, limit))
    }
}
