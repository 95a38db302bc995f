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

    /// Appends `len` bytes of `src` starting at `offset` with a kernel-side copy
    /// (`std::io::copy` between files uses `copy_file_range`: the filesystem may share the
    /// extents — a reflink on XFS/btrfs — or copy in the kernel; no byte passes through this
    /// process, and std falls back to read/write where the call is not offered). `src` must be
    /// this request's own handle: its file offset is moved. A source shorter than `offset +
    /// len` is `Corrupt`. Crash safety is unchanged: the file is still only published by
    /// [`Self::finish`] (fsync) and a rename.
    pub async fn append_from(
        &mut self,
        src: std::sync::Arc<std::fs::File>,
        offset: u64,
        len: u64,
    ) -> Result<()> {
        let w = self
            .writer
            .as_mut()
            .ok_or_else(|| StorageError::Corrupt("temp file already finished".into()))?;
        w.flush().await?;
        // A second descriptor of the same open file: it shares the write offset, so the
        // trailer appended later through `w` lands after the copied bytes.
        let dst = w.get_ref().try_clone().await?.into_std().await;
        let copied = tokio::task::spawn_blocking(move || -> std::io::Result<u64> {
            use std::io::{Read as _, Seek as _, SeekFrom};
            let mut from = &*src;
            from.seek(SeekFrom::Start(offset))?;
            let mut to = &dst;
            std::io::copy(&mut from.take(len), &mut to)
        })
        .await
        .map_err(|e| StorageError::Io(std::io::Error::other(e.to_string())))??;
        if copied != len {
            return Err(StorageError::Corrupt(
                "source data shorter than its recorded length".into(),
            ));
        }
        self.written += len;
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn append_from_copies_the_range_before_the_trailer() {
        let dir = tempfile::tempdir().unwrap();
        let src_path = dir.path().join("src");
        std::fs::write(&src_path, b"0123456789").unwrap();
        let src = Arc::new(std::fs::File::open(&src_path).unwrap());
        let mut t = TempFile::create(dir.path().join("t")).await.unwrap();
        t.write(b"ab").await.unwrap();
        t.append_from(src.clone(), 3, 4).await.unwrap();
        t.write(b"z").await.unwrap();
        assert_eq!(t.written(), 7);
        t.finish(&serde_json::json!({"k": 1})).await.unwrap();
        let f = std::fs::File::open(dir.path().join("t")).unwrap();
        let (meta, data_len): (serde_json::Value, u64) = file::read_meta(&f).unwrap();
        assert_eq!((meta["k"].as_i64(), data_len), (Some(1), 7));
        let all = std::fs::read(dir.path().join("t")).unwrap();
        assert_eq!(&all[..7], b"ab3456z");
        let mut short = TempFile::create(dir.path().join("u")).await.unwrap();
        assert!(matches!(
            short.append_from(src, 8, 5).await,
            Err(StorageError::Corrupt(_))
        ));
    }
}
