//! Streaming object data in and out: request bodies → (optionally DARE-sealed) temp files, and
//! stored data regions → plaintext byte streams (only the packages a range needs are read).
//! The sealing and opening themselves are `crate::sse::stream`'s.

use std::os::unix::fs::FileExt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use md5::{Digest, Md5};
use s3s::dto::StreamingBlob;
use s3s::stream::{ByteStream, RemainingLength};
use tokio::sync::mpsc;

use super::checksum::{Algo, Digests, Hashers};
use crate::error::{Error, Result};
use crate::sse::keys::Key32;
use crate::sse::range::{self, StreamLayout};
use crate::sse::stream::{StreamSealer, decrypt_plan};
use crate::storage::TempFile;

const PLAIN_CHUNK: usize = 256 * 1024;
const CHANNEL_DEPTH: usize = 4;

/// Result of writing a body.
#[derive(Debug, Clone)]
pub struct WriteOutcome {
    /// Plaintext bytes received.
    pub size: u64,
    /// Bytes written to the data region.
    pub stored_size: u64,
    /// MD5 of the plaintext.
    pub md5: [u8; 16],
    /// The requested flexible checksums of the plaintext.
    pub digests: Digests,
}

/// [`write_body`] for a request body that may be absent (an absent body is an empty
/// object), bounded by `MAX_OBJECT_SIZE`; then checks `Content-MD5` when one was sent
/// ([`Error::BadDigest`] on a mismatch).
pub async fn write_request_body(
    temp: &mut TempFile,
    body: Option<StreamingBlob>,
    key: Option<&Key32>,
    algos: &[Algo],
    content_md5: Option<[u8; 16]>,
) -> Result<WriteOutcome> {
    let out = match body {
        Some(body) => write_body(temp, body, key, super::MAX_OBJECT_SIZE, algos).await?,
        None => {
            let empty = futures_util::stream::empty::<std::io::Result<Bytes>>();
            write_body(temp, empty, key, 0, algos).await?
        }
    };
    match content_md5 {
        Some(expected) if expected != out.md5 => Err(Error::BadDigest),
        _ => Ok(out),
    }
}

/// Writes `body` into `temp`, sealing it as one DARE stream when `key` is given, computing the
/// MD5 and the `algos` checksums of the plaintext. Stops with `EntityTooLarge` past `max_size`
/// plaintext bytes.
pub async fn write_body<S, E>(
    temp: &mut TempFile,
    mut body: S,
    key: Option<&Key32>,
    max_size: u64,
    algos: &[Algo],
) -> Result<WriteOutcome>
where
    S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut md5 = Md5::new();
    let mut sums = Hashers::new(algos);
    let mut size = 0u64;
    let mut sealer = key
        .map(StreamSealer::new)
        .transpose()
        .map_err(Error::internal)?;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| {
            tracing::debug!(error = %e, "request body failed");
            Error::IncompleteBody
        })?;
        size += chunk.len() as u64;
        if size > max_size {
            return Err(Error::EntityTooLarge);
        }
        md5.update(&chunk);
        sums.update(&chunk);
        match sealer.as_mut() {
            None => temp.write(&chunk).await?,
            Some(s) => {
                let mut rest: &[u8] = &chunk;
                while let Some(sealed) = s.push(&mut rest).map_err(Error::internal)? {
                    temp.write(sealed).await?;
                }
            }
        }
    }
    if let Some(s) = sealer.as_mut() {
        let sealed = s.finish().map_err(Error::internal)?;
        if !sealed.is_empty() {
            temp.write(sealed).await?;
        }
    }
    Ok(WriteOutcome {
        size,
        stored_size: temp.written(),
        md5: md5.finalize().into(),
        digests: sums.finish(),
    })
}

/// For bodies produced from a stored object (copies): a read failure is a server error, not an
/// incomplete client body.
pub fn stored_source_error(e: Error) -> Error {
    match e {
        Error::IncompleteBody => Error::Internal("reading the copy source failed".to_owned()),
        other => other,
    }
}

/// Appends `len` bytes of `file` starting at `offset` to `temp` unchanged (a kernel-side
/// copy, see [`TempFile::append_from`]).
pub async fn copy_raw(
    temp: &mut TempFile,
    file: Arc<std::fs::File>,
    offset: u64,
    len: u64,
) -> Result<()> {
    Ok(temp.append_from(file, offset, len).await?)
}

/// How to turn a data region into plaintext.
#[derive(Debug, Clone)]
pub enum Decode {
    /// Stored as plaintext.
    Plain,
    /// One DARE stream per layout entry, with its key.
    Dare(Vec<Key32>),
}

/// A plaintext byte stream fed by a blocking reader task; its exact length is known.
pub struct ChannelBody {
    rx: mpsc::Receiver<std::io::Result<Bytes>>,
    remaining: u64,
}

impl Stream for ChannelBody {
    type Item = std::result::Result<Bytes, s3s::StdError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(Ok(b))) => {
                self.remaining = self.remaining.saturating_sub(b.len() as u64);
                Poll::Ready(Some(Ok(b)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Box::new(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl ByteStream for ChannelBody {
    fn remaining_length(&self) -> RemainingLength {
        usize::try_from(self.remaining)
            .map_or_else(|_| RemainingLength::unknown(), RemainingLength::new_exact)
    }
}

impl ChannelBody {
    /// As an s3s response body.
    pub fn into_blob(self) -> StreamingBlob {
        StreamingBlob::new(self)
    }
}

fn raw_stream(file: Arc<std::fs::File>, offset: u64, len: u64) -> ChannelBody {
    let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
    tokio::task::spawn_blocking(move || {
        let mut pos = offset;
        let end = offset + len;
        while pos < end {
            let n = usize::try_from((end - pos).min(PLAIN_CHUNK as u64)).unwrap_or(PLAIN_CHUNK);
            let mut buf = vec![0u8; n];
            let item = file.read_exact_at(&mut buf, pos).map(|()| Bytes::from(buf));
            let failed = item.is_err();
            if tx.blocking_send(item).is_err() || failed {
                return;
            }
            pos += n as u64;
        }
    });
    ChannelBody { rx, remaining: len }
}

/// Streams plaintext `[offset, offset + len)` of a data region that starts at `base` in `file`.
/// Decryption failures end the stream with an error (the HTTP response is aborted).
pub fn read_plaintext(
    file: Arc<std::fs::File>,
    base: u64,
    layout: Vec<StreamLayout>,
    decode: Decode,
    offset: u64,
    len: u64,
) -> ChannelBody {
    match decode {
        Decode::Plain => raw_stream(file, base + offset, len),
        Decode::Dare(keys) => {
            let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
            tokio::task::spawn_blocking(move || {
                let plan = range::plan(&layout, offset, len);
                let sink = |b: Bytes| tx.blocking_send(Ok(b)).is_ok();
                if let Err(e) = decrypt_plan(&file, base, &keys, &plan, sink) {
                    tracing::error!(error = %e, "object read failed");
                    let _ignored = tx.blocking_send(Err(e));
                }
            });
            ChannelBody { rx, remaining: len }
        }
    }
}
