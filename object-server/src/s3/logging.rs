//! Put/GetBucketLogging: the `BucketLoggingStatus` is stored (bucket configuration document
//! `logging`, S3 XML) and returned; no access logs are delivered. The target bucket must exist
//! (every bucket of this single-owner server is owned by the caller), else 400
//! `InvalidTargetBucketForLogging`; an empty `BucketLoggingStatus` disables logging.

use s3s::S3Request;
use s3s::dto::*;

use super::ObjectServer;
use crate::error::{Error, Result};

/// Bucket configuration document holding the logging configuration.
const DOC: &str = "logging";

impl ObjectServer {
    pub(super) async fn do_put_bucket_logging(
        &self,
        req: S3Request<PutBucketLoggingInput>,
    ) -> Result<PutBucketLoggingOutput> {
        let input = req.input;
        self.store.head_bucket(&input.bucket).await?;
        let status = input.bucket_logging_status;
        let value = match &status.logging_enabled {
            None => None,
            Some(enabled) => {
                match self.store.head_bucket(&enabled.target_bucket).await {
                    Ok(()) => {}
                    Err(crate::storage::StorageError::NoSuchBucket) => {
                        return Err(Error::InvalidTargetBucketForLogging);
                    }
                    Err(e) => return Err(e.into()),
                }
                let mut buf = Vec::new();
                let mut ser = s3s::xml::Serializer::new(&mut buf);
                s3s::xml::Serialize::serialize(&status, &mut ser).map_err(Error::internal)?;
                Some(buf)
            }
        };
        self.store
            .set_bucket_config(&input.bucket, DOC, value)
            .await?;
        Ok(PutBucketLoggingOutput::default())
    }

    pub(super) async fn do_get_bucket_logging(
        &self,
        req: S3Request<GetBucketLoggingInput>,
    ) -> Result<GetBucketLoggingOutput> {
        let logging_enabled = match self.store.bucket_config(&req.input.bucket, DOC).await? {
            None => None,
            Some(bytes) => {
                let mut de = s3s::xml::Deserializer::new(&bytes);
                let status: BucketLoggingStatus = s3s::xml::Deserialize::deserialize(&mut de)
                    .map_err(|e| Error::internal(format!("stored logging status: {e:?}")))?;
                status.logging_enabled
            }
        };
        Ok(GetBucketLoggingOutput { logging_enabled })
    }
}
