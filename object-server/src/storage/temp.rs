//! [`TempFile`]: a file being written in the store's temp directory (mode 0600), published
//! by a rename (`FsStore::commit_object` / `commit_part`) or removed when dropped.

use std::path::PathBuf;

use serde::Serialize;
use tokio::io::AsyncWriteExt;

use super::{StorageError, file, perms};

type Result<T, E = StorageError> = std::result::Result<T, E>;

const WRITE_BUFFER: usize = 256 * 1024;

/// A temp file being written; removed on drop unless committed.
#[derive(Debug)]
pub struct TempFile {
    pub(super) path: PathBuf,
    pub(super) writer: Option<tokio::io::BufWriter<tokio::fs::File>>,
    written: u64,
    pub(super) committed: bool,
}

impl TempFile {
    /// Creates the new file `path` (mode 0600; never an existing file).
    pub(super) async fn create(path: PathBuf) -> Result<TempFile> {
        let f = perms::create_new_options().open(&path).await?;
        Ok(TempFile {
            path,
            writer: Some(tokio::io::BufWriter::with_capacity(WRITE_BUFFER, f)),
            written: 0,
            committed: false,
        })
    }

    /// Appends data-region bytes.
    pub async fn write(&mut self, buf: &[u8]) -> Result<()> {
        let w = self
            .writer
            .as_mut()
            .ok_or_else(|| StorageError::Corrupt("temp file already finished".into()))?;
        w.write_all(buf).await?;
        self.written += buf.len() as u64;
        Ok(())
    }

    /// Data-region bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Appends the metadata record and trailer, flushes and fsyncs. The file is then ready to be
    /// committed (renamed into place).
    pub async fn finish<T: Serialize>(&mut self, meta: &T) -> Result<()> {
        let trailer = file::encode_trailer(meta)?;
        let mut w = self
            .writer
            .take()
            .ok_or_else(|| StorageError::Corrupt("temp file already finished".into()))?;
        w.write_all(&trailer).await?;
        w.flush().await?;
        let f = w.into_inner();
        f.sync_all().await?;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.committed {
            // Best effort: leftovers are also removed at the next start.
            let _ignored = std::fs::remove_file(&self.path);
        }
    }
}
