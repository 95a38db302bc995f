//! Local filesystem storage with atomic publication.
//!
//! Layout under the data directory:
//!
//! ```text
//! <data>/<bucket>/.bucket.json            bucket record (creation time)
//! <data>/<bucket>/.config-<name>           bucket configuration documents ([`bucket_config`])
//! <data>/<bucket>/obj/<sha256(key) hex>    one file per object: data ‖ metadata ‖ trailer
//! <data>/.objsrv/tmp/                      temp files; emptied at start
//! <data>/.objsrv/uploads/<upload-id>/      multipart upload: upload.json + part-NNNNN files
//! ```
//!
//! * Object file names are the SHA-256 of the key, so any key (`../x`, `a//b`, `.`, unicode) is
//!   stored safely inside its bucket and `a/b` never collides with a prefix `a`; the key itself is
//!   stored in the metadata and checked on read. Bucket names are S3-validated by s3s and
//!   re-checked here; upload ids are 32 lowercase hex characters.
//! * Every write goes to a temp file in `.objsrv/tmp` (same filesystem), is fsynced, then renamed
//!   into place; the rename is the commit point, so data and metadata appear together or not at
//!   all. A crashed writer leaves only a temp file, removed at the next start.
//! * Object file format ([`file`]): data region, JSON metadata, `u64 LE` metadata length, 8-byte
//!   magic `OBJSRV01`.
//! * Modes ([`perms`]): directories are created 0700 and files 0600 whatever the umask; existing
//!   directories open to group or others are reported at start-up, never chmod-ed.
//! * [`TempFile`] ([`temp`]): a write in progress, removed unless committed.
//! * [`config_cache`]: parsed bucket configuration documents per bucket
//!   ([`FsStore::bucket_config_parsed`]), invalidated by every change through the server and
//!   re-read after a 1 s TTL; bounded in buckets.
//! * `index`: the sorted in-memory key index that makes a listing page cost O(page + log n)
//!   ([`FsStore::list_keys`]); built in the background at start ([`FsStore::build_indexes`])
//!   or on a bucket's first listing, from the keys a clean shutdown saved
//!   ([`FsStore::save_indexes`], `index_store`: `<data>/.objsrv/index/`) or by a scan of `obj/`.
//! * [`versions`]: S3 versioning — `<data>/<bucket>/ver/<sha256(key) hex>/<seq>-<version id>`
//!   holds noncurrent versions; `obj/` keeps the current one (object or delete marker).
//! * `replace`: compare-and-replace of an object file under a directory `flock` that every
//!   commit and delete shares ([`FsStore::replace_object_if_unchanged`]); [`FsStore::attach`].
//! * `expire`: the lifecycle sweep's conditional removals under the same lock
//!   ([`FsStore::expire_object`], [`FsStore::expire_with_marker`], …).

mod bucket_config;
pub mod config_cache;
mod expire;
pub mod file;
mod fs;
mod index;
mod index_store;
pub mod perms;
mod replace;
mod temp;
pub mod versions;

pub use expire::Still;
pub use file::{ObjectMeta, PartFileMeta, PartMeta, UploadMeta};
pub use fs::{BucketInfo, FsStore, ObjectHandle, UploadHandle, now_ns};
pub use temp::TempFile;

/// Storage failures.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// Bucket missing.
    #[error("no such bucket")]
    NoSuchBucket,
    /// Object missing.
    #[error("no such key")]
    NoSuchKey,
    /// The key has no version with the given id.
    #[error("no such version")]
    NoSuchVersion,
    /// Upload missing (or malformed id).
    #[error("no such upload")]
    NoSuchUpload,
    /// Bucket already exists.
    #[error("bucket exists")]
    BucketExists,
    /// Bucket still has objects.
    #[error("bucket not empty")]
    BucketNotEmpty,
    /// A stored file does not parse.
    #[error("corrupt: {0}")]
    Corrupt(String),
    /// Filesystem error.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}
