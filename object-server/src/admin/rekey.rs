//! The rekey job: for each object of a bucket (and prefix), in key order,
//!
//! 1. skip it unless it is SSE-S3 or SSE-KMS (plain and SSE-C objects have no KES data key);
//! 2. skip it if its DEK ciphertext already names the newest version of its EK (the newest
//!    version comes from `GET /v1/ext/key/describe/<ek>`, once per EK and run) — this is what
//!    makes a re-run resume an interrupted one;
//! 3. `PUT /v1/ext/key/rewrap/<ek>` with the stored DEK ciphertext and the object's KES
//!    context: KES returns the same DEK sealed under the newest version (the plaintext DEK never
//!    leaves KES, so the sealed OEK, the data, the ETag and Last-Modified stay valid as they
//!    are);
//! 4. write a new object file — the stored (encrypted) data region copied byte for byte, and
//!    the metadata with only the DEK ciphertext replaced — and publish it with
//!    [`FsStore::replace_object_if_unchanged`]: if the object was overwritten or deleted since
//!    step 1 the new file is discarded and the object counted as `changed`.
//!
//! Multipart objects are handled like single-part ones (one DEK per object). In a versioned
//! bucket every noncurrent version is then rekeyed the same way (each has its own DEK),
//! replaced in place with [`FsStore::replace_version_if_unchanged`]; delete markers have no
//! key. Uploads still in progress are not touched. Failures of one object are reported and counted; the job goes on.

use std::collections::HashMap;
use std::fmt;
use std::io::IsTerminal as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::s3::io::copy_raw;
use crate::sse::ObjectEncryption;
use crate::sse::kms::Kms;
use crate::sse::meta::META_KMS_DEK;
use crate::storage::versions::shown_version_id;
use crate::storage::{FsStore, StorageError};

/// What to rekey.
#[derive(Debug, Clone)]
pub struct Job<'a> {
    /// Bucket.
    pub bucket: &'a str,
    /// Key prefix (empty: all).
    pub prefix: &'a str,
    /// Stop after this many rewraps.
    pub limit: Option<u64>,
}

/// Counts of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Objects listed under the prefix.
    pub listed: u64,
    /// Data keys rewrapped and published.
    pub rewrapped: u64,
    /// Already under the newest version.
    pub current: u64,
    /// Plain or SSE-C objects.
    pub skipped: u64,
    /// Overwritten or deleted while being rekeyed (left as they are now).
    pub changed: u64,
    /// Failed (reported on stderr).
    pub failed: u64,
    /// Not visited because `limit` was reached.
    pub remaining: u64,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rekey: {} objects: {} rewrapped, {} already current, {} not SSE-S3/SSE-KMS, \
             {} changed meanwhile, {} failed",
            self.listed, self.rewrapped, self.current, self.skipped, self.changed, self.failed
        )?;
        if self.remaining > 0 {
            write!(
                f,
                "; stopped at the limit with {} not visited (run again to continue)",
                self.remaining
            )?;
        }
        Ok(())
    }
}

/// What happened to one object.
enum Outcome {
    Rewrapped,
    Current,
    Skipped,
    Changed,
}

/// Runs the job; a progress bar is drawn on stderr when it is a terminal. Fails only when the
/// bucket cannot be listed.
pub async fn run(store: &FsStore, kms: &Kms, job: &Job<'_>) -> Result<Report, String> {
    let listing_error = |e| match e {
        StorageError::NoSuchBucket => format!("bucket {} does not exist", job.bucket),
        e => format!("listing {}: {e}", job.bucket),
    };
    // Current objects, then noncurrent versions (none in a bucket that was never versioned).
    let mut objects: Vec<(String, Option<String>)> = store
        .list_objects(job.bucket, job.prefix)
        .await
        .map_err(listing_error)?
        .into_iter()
        .map(|m| (m.key, None))
        .collect();
    let versions = store
        .list_versions(job.bucket, job.prefix)
        .await
        .map_err(listing_error)?;
    objects.extend(
        versions
            .into_iter()
            .filter(|v| !v.latest && !v.meta.delete_marker)
            .map(|v| {
                let id = shown_version_id(&v.meta).to_owned();
                (v.meta.key, Some(id))
            }),
    );
    let mut report = Report {
        listed: objects.len() as u64,
        ..Report::default()
    };
    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(report.listed);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} objects, {msg} rewrapped ({eta} left)",
        ) {
            bar.set_style(style);
        }
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut newest = HashMap::new();
    for (i, (key, version)) in objects.iter().enumerate() {
        if job.limit.is_some_and(|l| report.rewrapped >= l) {
            report.remaining = report.listed - i as u64;
            break;
        }
        match one(store, kms, job.bucket, key, version.as_deref(), &mut newest).await {
            Ok(Outcome::Rewrapped) => report.rewrapped += 1,
            Ok(Outcome::Current) => report.current += 1,
            Ok(Outcome::Skipped) => report.skipped += 1,
            Ok(Outcome::Changed) => report.changed += 1,
            Err(e) => {
                report.failed += 1;
                let at = version.as_deref().map(|v| format!(" (version {v})"));
                bar.suspend(|| {
                    eprintln!("{}/{key}{}: {e}", job.bucket, at.unwrap_or_default());
                });
            }
        }
        bar.set_message(report.rewrapped.to_string());
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(report)
}

async fn one(
    store: &FsStore,
    kms: &Kms,
    bucket: &str,
    key: &str,
    version: Option<&str>,
    newest: &mut HashMap<String, u32>,
) -> Result<Outcome, String> {
    let opened = match version {
        None => store.open_object(bucket, key).await,
        Some(v) => store.open_version(bucket, key, Some(v)).await,
    };
    let handle = match opened {
        Ok(h) => h,
        Err(StorageError::NoSuchKey | StorageError::NoSuchVersion) => return Ok(Outcome::Changed),
        Err(e) => return Err(e.to_string()),
    };
    let state =
        ObjectEncryption::from_metadata(&handle.meta.internal).map_err(|e| e.to_string())?;
    let (ObjectEncryption::SseS3(sealed) | ObjectEncryption::SseKms(sealed)) = &state else {
        return Ok(Outcome::Skipped);
    };
    let latest = match newest.get(&sealed.key_id) {
        Some(v) => *v,
        None => {
            let d = kms
                .client()
                .describe_key_ext(&sealed.key_id)
                .await
                .map_err(|e| format!("describing key {}: {e}", sealed.key_id))?;
            let v = d.versions.last().map_or(0, |v| v.version);
            newest.insert(sealed.key_id.clone(), v);
            v
        }
    };
    if sealed.ek_version() >= latest {
        return Ok(Outcome::Current);
    }
    let context = sealed.kes_context(bucket, key).map_err(|e| e.to_string())?;
    let rewrapped = kms
        .client()
        .rewrap(&sealed.key_id, &sealed.dek, &context)
        .await
        .map_err(|e| format!("rewrap with key {}: {e}", sealed.key_id))?;
    let mut meta = handle.meta.clone();
    meta.internal
        .insert(META_KMS_DEK.to_owned(), STANDARD.encode(&rewrapped));
    let mut temp = store.temp_file().await.map_err(|e| e.to_string())?;
    copy_raw(&mut temp, handle.file.clone(), 0, handle.data_len)
        .await
        .map_err(|e| e.to_string())?;
    temp.finish(&meta).await.map_err(|e| e.to_string())?;
    let replaced = match version {
        None => {
            store
                .replace_object_if_unchanged(bucket, key, temp, &handle)
                .await
        }
        Some(v) => {
            store
                .replace_version_if_unchanged(bucket, key, v, temp, &handle)
                .await
        }
    }
    .map_err(|e| e.to_string())?;
    Ok(if replaced {
        Outcome::Rewrapped
    } else {
        Outcome::Changed
    })
}
