//! Persisted key indexes: a clean shutdown saves each built bucket index so the next start
//! loads it instead of scanning the bucket's `obj/` directory.
//!
//! ```text
//! <data>/.objsrv/index/<bucket>   one bucket's keys (format below)
//! <data>/.objsrv/index/CLEAN      written last by a clean shutdown
//! ```
//!
//! * Trust: the saved files are used only when `CLEAN` exists at start; [`take_clean`] removes
//!   it (and syncs the directory) before the server serves, so after a crash or `SIGKILL` the
//!   next start finds no marker, deletes the saved files and scans.
//! * The filesystem stays the source of truth: each file records the `obj/` directory's
//!   device, inode, ctime and mtime at save time. Creating, renaming or removing an entry in
//!   `obj/` changes its ctime (which no tool can set back), so a bucket changed after the save
//!   — behind the server's back while it was stopped, by `admin rekey`, or deleted and
//!   recreated — no longer matches and is scanned. A file that is truncated, corrupt or of
//!   another format is ignored the same way (scan).
//! * Format: `OBJIDX01` ‖ stamp (6 × i64 LE) ‖ key count (u64 LE) ‖ per key, in order:
//!   length (u32 LE) ‖ UTF-8 bytes ‖ SHA-256 of everything before. Written temp + fsync +
//!   rename.

use std::collections::BTreeSet;
use std::io::{BufWriter, ErrorKind, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use super::fs::{random_hex, sync_dir};
use super::perms;

const MAGIC: &[u8; 8] = b"OBJIDX01";
const CLEAN: &str = "CLEAN";
const STAMP_LEN: usize = 48;

/// The identity and change times of a bucket's `obj/` directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct DirStamp([i64; 6]);

impl DirStamp {
    /// The stamp of `dir` now.
    pub(super) fn of(dir: &Path) -> std::io::Result<Self> {
        let m = std::fs::metadata(dir)?;
        Ok(Self([
            i64::try_from(m.dev()).unwrap_or(-1),
            i64::try_from(m.ino()).unwrap_or(-1),
            m.ctime(),
            m.ctime_nsec(),
            m.mtime(),
            m.mtime_nsec(),
        ]))
    }

    fn encode(self) -> Vec<u8> {
        self.0.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    fn decode(b: &[u8]) -> Option<Self> {
        let mut out = [0i64; 6];
        for (slot, chunk) in out.iter_mut().zip(b.chunks_exact(8)) {
            *slot = i64::from_le_bytes(chunk.try_into().ok()?);
        }
        (b.len() == STAMP_LEN).then_some(Self(out))
    }

    /// The change time in nanoseconds since the epoch.
    fn ctime_ns(self) -> i128 {
        i128::from(self.0[2]) * 1_000_000_000 + i128::from(self.0[3])
    }
}

/// At start: whether the saved indexes in `dir` come from a clean shutdown. The marker is
/// removed (directory synced) before returning; without it every saved index is deleted.
pub(super) fn take_clean(dir: &Path) -> std::io::Result<bool> {
    perms::create_dir_all(dir)?;
    let clean = match std::fs::remove_file(dir.join(CLEAN)) {
        Ok(()) => true,
        Err(e) if e.kind() == ErrorKind::NotFound => false,
        Err(e) => return Err(e),
    };
    if !clean {
        for entry in std::fs::read_dir(dir)? {
            discard(&entry?.path());
        }
    }
    sync_dir(dir)?;
    Ok(clean)
}

/// Writes `bucket`'s `keys` with the `obj/` directory's `stamp` to `dir` (temp in `tmp`,
/// fsync, rename).
pub(super) fn save(
    dir: &Path,
    tmp: &Path,
    bucket: &str,
    stamp: DirStamp,
    keys: &BTreeSet<String>,
) -> std::io::Result<()> {
    let staging = tmp.join(random_hex(16));
    let result = (|| {
        let file = perms::create_file(&staging)?;
        let mut w = BufWriter::with_capacity(1 << 20, HashingWriter::new(file));
        w.write_all(MAGIC)?;
        w.write_all(&stamp.encode())?;
        w.write_all(&u64::try_from(keys.len()).unwrap_or(u64::MAX).to_le_bytes())?;
        for key in keys {
            let len = u32::try_from(key.len()).map_err(std::io::Error::other)?;
            w.write_all(&len.to_le_bytes())?;
            w.write_all(key.as_bytes())?;
        }
        let mut hw = w
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)?;
        let digest = hw.hasher.finalize_reset();
        hw.file.write_all(&digest)?;
        hw.file.sync_all()?;
        std::fs::rename(&staging, dir.join(bucket))
    })();
    if result.is_err() {
        let _ignored = std::fs::remove_file(&staging);
    }
    result
}

/// Longest key a saved index may hold (S3's key limit).
const MAX_KEY_BYTES: usize = 1024;

/// `bucket`'s saved keys, if the file exists, is intact and its stamp equals `obj_dir`'s now.
pub(super) fn load(dir: &Path, bucket: &str, obj_dir: &Path) -> Option<BTreeSet<String>> {
    let bytes = std::fs::read(dir.join(bucket)).ok()?;
    let (body, digest) = bytes.split_at_checked(bytes.len().checked_sub(32)?)?;
    if Sha256::digest(body).as_slice() != digest {
        tracing::warn!(bucket, "saved key index is corrupt: scanning the bucket");
        return None;
    }
    let rest = body.strip_prefix(MAGIC)?;
    let (stamp, rest) = rest.split_at_checked(STAMP_LEN)?;
    if DirStamp::decode(stamp)? != DirStamp::of(obj_dir).ok()? {
        tracing::info!(
            bucket,
            "bucket changed since its key index was saved: scanning it"
        );
        return None;
    }
    let (count, mut rest) = rest.split_at_checked(8)?;
    let count = u64::from_le_bytes(count.try_into().ok()?);
    let mut keys = Vec::new();
    while !rest.is_empty() {
        let (len, r) = rest.split_at_checked(4)?;
        let len = usize::try_from(u32::from_le_bytes(len.try_into().ok()?)).ok()?;
        // Only keys S3 accepts (1 to 1024 bytes of UTF-8) are ever indexed.
        if len == 0 || len > MAX_KEY_BYTES {
            return None;
        }
        let (key, r) = r.split_at_checked(len)?;
        keys.push(std::str::from_utf8(key).ok()?.to_owned());
        rest = r;
    }
    let sorted = keys.windows(2).all(|w| w.first() < w.get(1));
    if u64::try_from(keys.len()).ok()? != count || !sorted {
        return None;
    }
    Some(keys.into_iter().collect())
}

/// Removes a saved index file that must not be loaded. Anything else found there (a directory,
/// a file that cannot be removed) is left with a warning: it never stops a start or a
/// shutdown, and no index is loaded without the `CLEAN` marker and a matching stamp anyway.
fn discard(path: &Path) {
    let result = match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => Err(std::io::Error::other("a directory")),
        Ok(_) => std::fs::remove_file(path),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "stray entry among the saved key indexes left in place")
        }
    }
}

/// Deletes the saved index files in `dir` not named in `keep`.
pub(super) fn remove_others(dir: &Path, keep: &[String]) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if !keep.iter().any(|k| entry.file_name() == k.as_str()) {
            discard(&entry.path());
        }
    }
    Ok(())
}

/// Writes the clean-shutdown marker after the saved files. A change to a saved `obj/`
/// directory made after the save must get a different ctime, so when the newest saved ctime
/// is very recent this first waits (at most 20 ms) for the clock to move past it.
pub(super) fn mark_clean(dir: &Path, tmp: &Path, stamps: &[DirStamp]) -> std::io::Result<()> {
    if let Some(newest) = stamps.iter().map(|s| s.ctime_ns()).max() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i128::try_from(d.as_nanos()).unwrap_or(i128::MAX))
            .unwrap_or(0);
        let wait = (newest + 20_000_000 - now).clamp(0, 20_000_000);
        std::thread::sleep(Duration::from_nanos(u64::try_from(wait).unwrap_or(0)));
    }
    sync_dir(dir)?;
    let staging = tmp.join(random_hex(16));
    perms::write_synced(&staging, MAGIC)?;
    std::fs::rename(&staging, dir.join(CLEAN))?;
    sync_dir(dir)
}

/// A writer that hashes what it writes.
struct HashingWriter {
    file: std::fs::File,
    hasher: Sha256,
}

impl HashingWriter {
    fn new(file: std::fs::File) -> Self {
        Self {
            file,
            hasher: Sha256::new(),
        }
    }
}

impl Write for HashingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(buf.get(..n).unwrap_or_default());
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let (idx, obj) = (d.path().join("index"), d.path().join("obj"));
        std::fs::create_dir_all(&idx).unwrap();
        std::fs::create_dir_all(&obj).unwrap();
        (d, idx, obj)
    }

    #[test]
    fn round_trip_and_stamp_mismatch() {
        let (d, idx, obj) = setup();
        let keys: BTreeSet<String> = ["a", "b/c", "é\n"].iter().map(|s| s.to_string()).collect();
        save(&idx, d.path(), "bkt", DirStamp::of(&obj).unwrap(), &keys).unwrap();
        assert_eq!(load(&idx, "bkt", &obj), Some(keys.clone()));
        // A saved stamp that differs from obj/'s now (here: its ctime, which any entry added
        // or removed since changes) makes the file unused.
        let mut older = DirStamp::of(&obj).unwrap();
        older.0[2] -= 1;
        save(&idx, d.path(), "bkt", older, &keys).unwrap();
        assert_eq!(load(&idx, "bkt", &obj), None);
    }

    #[test]
    fn keys_no_s3_key_could_be_leave_the_file_unused() {
        let (d, idx, obj) = setup();
        let stamp = DirStamp::of(&obj).unwrap();
        for bad in [String::new(), "k".repeat(MAX_KEY_BYTES + 1)] {
            let keys = BTreeSet::from(["a".to_owned(), bad]);
            save(&idx, d.path(), "bkt", stamp, &keys).unwrap();
            assert_eq!(load(&idx, "bkt", &obj), None);
        }
        let keys = BTreeSet::from(["k".repeat(MAX_KEY_BYTES)]);
        save(&idx, d.path(), "bkt", stamp, &keys).unwrap();
        assert_eq!(load(&idx, "bkt", &obj), Some(keys));
    }

    #[test]
    fn stray_entries_never_stop_a_start_or_a_shutdown() {
        let (d, idx, obj) = setup();
        std::fs::create_dir_all(idx.join("stray-dir")).unwrap();
        // No marker: saved files are cleared, the directory is left, the start goes on.
        std::fs::write(idx.join("old"), b"x").unwrap();
        assert!(!take_clean(&idx).unwrap());
        assert!(!idx.join("old").exists());
        assert!(idx.join("stray-dir").exists());
        // Shutdown: the saved bucket is kept, the rest removed where possible.
        let keys = BTreeSet::from(["a".to_owned()]);
        save(&idx, d.path(), "bkt", DirStamp::of(&obj).unwrap(), &keys).unwrap();
        remove_others(&idx, &["bkt".to_owned()]).unwrap();
        assert_eq!(load(&idx, "bkt", &obj), Some(keys));
    }

    #[test]
    fn corrupt_file_is_ignored() {
        let (d, idx, obj) = setup();
        let keys: BTreeSet<String> = ["a", "b"].iter().map(|s| s.to_string()).collect();
        save(&idx, d.path(), "bkt", DirStamp::of(&obj).unwrap(), &keys).unwrap();
        let mut bytes = std::fs::read(idx.join("bkt")).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 1;
        std::fs::write(idx.join("bkt"), &bytes).unwrap();
        assert_eq!(load(&idx, "bkt", &obj), None);
        std::fs::write(idx.join("bkt"), &bytes[..10]).unwrap();
        assert_eq!(load(&idx, "bkt", &obj), None);
    }

    #[test]
    fn marker_is_taken_once_and_its_absence_clears_saved_files() {
        let (d, idx, obj) = setup();
        let keys = BTreeSet::from(["a".to_owned()]);
        let stamp = DirStamp::of(&obj).unwrap();
        save(&idx, d.path(), "bkt", stamp, &keys).unwrap();
        mark_clean(&idx, d.path(), &[stamp]).unwrap();
        assert!(take_clean(&idx).unwrap());
        assert!(idx.join("bkt").exists());
        assert!(!take_clean(&idx).unwrap());
        assert!(!idx.join("bkt").exists());
    }
}
