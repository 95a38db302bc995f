//! Multipart upload records of [`FsStore`]: create, open, parts, list and remove.

use super::*;

/// An open multipart upload.
#[derive(Debug, Clone)]
pub struct UploadHandle {
    /// Upload metadata.
    pub meta: UploadMeta,
    pub(super) dir: PathBuf,
}

impl FsStore {
    /// Creates a multipart upload record; returns its new id.
    pub async fn create_upload(
        &self,
        bucket: &str,
        key: &str,
        template: ObjectMeta,
    ) -> Result<UploadMeta> {
        self.head_bucket(bucket).await?;
        let upload_id = random_hex(16);
        let meta = UploadMeta {
            format: FORMAT,
            upload_id: upload_id.clone(),
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            initiated_ns: now_ns(),
            template,
        };
        let staging = self.tmp.join(random_hex(16));
        let dest = self.upload_dir(&upload_id)?;
        let uploads = self.uploads.clone();
        let bytes = serde_json::to_vec(&meta).map_err(|e| StorageError::Corrupt(e.to_string()))?;
        blocking(move || {
            perms::create_dir(&staging)?;
            perms::write_synced(&staging.join(UPLOAD_RECORD), &bytes)?;
            sync_dir(&staging)?;
            std::fs::rename(&staging, &dest)?;
            sync_dir(&uploads)?;
            Ok(())
        })
        .await?;
        Ok(meta)
    }

    /// Opens an upload, checking it belongs to `bucket/key`.
    pub async fn open_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<UploadHandle> {
        self.head_bucket(bucket).await?;
        let dir = self.upload_dir(upload_id)?;
        let rec = dir.join(UPLOAD_RECORD);
        let bytes = match tokio::fs::read(&rec).await {
            Ok(b) => b,
            Err(e) if e.kind() == ErrorKind::NotFound => return Err(StorageError::NoSuchUpload),
            Err(e) => return Err(e.into()),
        };
        let meta: UploadMeta =
            serde_json::from_slice(&bytes).map_err(|e| StorageError::Corrupt(e.to_string()))?;
        if meta.bucket != bucket || meta.key != key {
            return Err(StorageError::NoSuchUpload);
        }
        Ok(UploadHandle { meta, dir })
    }

    /// Publishes a finished temp file as part `number` of an upload (replacing an earlier one).
    pub async fn commit_part(
        &self,
        upload: &UploadHandle,
        number: u32,
        mut temp: TempFile,
    ) -> Result<()> {
        if temp.writer.is_some() {
            return Err(StorageError::Corrupt("temp file not finished".into()));
        }
        let dest = upload.dir.join(format!("part-{number:05}"));
        match tokio::fs::rename(&temp.path, &dest).await {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => return Err(StorageError::NoSuchUpload),
            Err(e) => return Err(e.into()),
        }
        temp.committed = true;
        let dir = upload.dir.clone();
        blocking(move || Ok(sync_dir(&dir)?)).await
    }

    /// Metadata of all uploaded parts, by part number.
    pub async fn list_parts(&self, upload: &UploadHandle) -> Result<BTreeMap<u32, PartFileMeta>> {
        let dir = upload.dir.clone();
        blocking(move || {
            let mut out = BTreeMap::new();
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    return Err(StorageError::NoSuchUpload);
                }
                Err(e) => return Err(e.into()),
            };
            for entry in entries {
                let entry = entry?;
                let name = entry.file_name();
                let Some(name) = name.to_str() else { continue };
                if !name.starts_with("part-") {
                    continue;
                }
                let f = match std::fs::File::open(entry.path()) {
                    Ok(f) => f,
                    Err(e) if e.kind() == ErrorKind::NotFound => continue,
                    Err(e) => return Err(e.into()),
                };
                let (meta, _): (PartFileMeta, u64) = file::read_meta(&f)?;
                out.insert(meta.number, meta);
            }
            Ok(out)
        })
        .await
    }

    /// Opens part `number` for reading.
    pub async fn open_part(
        &self,
        upload: &UploadHandle,
        number: u32,
    ) -> Result<(PartFileMeta, Arc<std::fs::File>)> {
        let path = upload.dir.join(format!("part-{number:05}"));
        blocking(move || {
            let f = match std::fs::File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    return Err(StorageError::NoSuchUpload);
                }
                Err(e) => return Err(e.into()),
            };
            let (meta, data_len): (PartFileMeta, u64) = file::read_meta(&f)?;
            if meta.stored_size != data_len || meta.number != number {
                return Err(StorageError::Corrupt("part length mismatch".into()));
            }
            Ok((meta, Arc::new(f)))
        })
        .await
    }

    /// Removes an upload and its parts (atomic: renamed away first).
    pub async fn remove_upload(&self, upload: &UploadHandle) -> Result<()> {
        let trash = self.tmp.join(random_hex(16));
        let dir = upload.dir.clone();
        let uploads = self.uploads.clone();
        blocking(move || {
            match std::fs::rename(&dir, &trash) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    return Err(StorageError::NoSuchUpload);
                }
                Err(e) => return Err(e.into()),
            }
            sync_dir(&uploads)?;
            std::fs::remove_dir_all(&trash)?;
            Ok(())
        })
        .await
    }

    /// All uploads of a bucket, sorted by (key, initiation time, id).
    pub async fn list_uploads(&self, bucket: &str) -> Result<Vec<UploadMeta>> {
        let uploads = self.uploads.clone();
        let bucket = bucket.to_owned();
        blocking(move || {
            let mut out = Vec::new();
            for entry in std::fs::read_dir(&uploads)? {
                let entry = entry?;
                let Ok(bytes) = std::fs::read(entry.path().join(UPLOAD_RECORD)) else {
                    continue;
                };
                let Ok(meta) = serde_json::from_slice::<UploadMeta>(&bytes) else {
                    continue;
                };
                if meta.bucket == bucket {
                    out.push(meta);
                }
            }
            out.sort_by(|a, b| {
                (a.key.as_str(), a.initiated_ns, a.upload_id.as_str()).cmp(&(
                    b.key.as_str(),
                    b.initiated_ns,
                    b.upload_id.as_str(),
                ))
            });
            Ok(out)
        })
        .await
    }
}
