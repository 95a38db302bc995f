//! Put/Get/DeleteBucketEncryption (object-sse.md §6.1): one rule, `AES256` or `aws:kms`
//! (a key id only with `aws:kms`; `aws:kms` without key id = the default key), validated in
//! MinIO's order, then checked against KES with one generate. The configuration is stored as a
//! bucket configuration document and applied by [`crate::sse::Sse::requested`] to writes
//! without SSE headers.

use std::sync::Arc;

use s3s::S3Request;
use s3s::dto::*;
use serde::{Deserialize, Serialize};

use super::ObjectServer;
use crate::error::{Error, Result};
use crate::sse::BucketDefault;
use crate::sse::context::{self, Context};
use crate::sse::request::parse_key_id;
use crate::storage::FsStore;

/// Name of the bucket configuration document.
const DOC: &str = "encryption";

/// The stored document (key id as the client gave it, `arn:aws:kms:` prefix included).
#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    format: u32,
    algorithm: String,
    #[serde(default)]
    key_id: Option<String>,
}

async fn load(store: &FsStore, bucket: &str) -> Result<Option<Arc<Stored>>> {
    Ok(store
        .bucket_config_parsed(bucket, DOC, |bytes| {
            serde_json::from_slice::<Stored>(bytes).map_err(|e| e.to_string())
        })
        .await?)
}

/// The default encryption of `bucket` (`NoSuchBucket` if it does not exist).
pub(super) async fn bucket_default(store: &FsStore, bucket: &str) -> Result<Option<BucketDefault>> {
    Ok(load(store, bucket).await?.map(|s| {
        if s.algorithm == ServerSideEncryption::AWS_KMS {
            BucketDefault::SseKms(s.key_id.clone())
        } else {
            BucketDefault::SseS3
        }
    }))
}

/// Validates one configuration; returns (algorithm, key id).
fn validate(cfg: &ServerSideEncryptionConfiguration) -> Result<(String, Option<String>)> {
    let [rule] = cfg.rules.as_slice() else {
        return Err(Error::MalformedXmlDetail(
            "only one server-side encryption rule is allowed at a time",
        ));
    };
    let Some(by_default) = &rule.apply_server_side_encryption_by_default else {
        return Err(Error::MalformedXmlDetail("Unknown SSE algorithm"));
    };
    let algorithm = by_default.sse_algorithm.as_str();
    if algorithm != ServerSideEncryption::AES256 && algorithm != ServerSideEncryption::AWS_KMS {
        return Err(Error::MalformedXmlDetail("Unknown SSE algorithm"));
    }
    let key_id = by_default
        .kms_master_key_id
        .clone()
        .filter(|k| !k.is_empty());
    if algorithm == ServerSideEncryption::AES256 && key_id.is_some() {
        return Err(Error::MalformedXmlDetail(
            "MasterKeyID is allowed with aws:kms only",
        ));
    }
    if key_id.as_deref().is_some_and(|k| k.trim() != k) {
        return Err(Error::MalformedXmlDetail(
            "MasterKeyID contains unsupported characters",
        ));
    }
    Ok((algorithm.to_owned(), key_id))
}

impl ObjectServer {
    pub(super) async fn do_put_bucket_encryption(
        &self,
        req: S3Request<PutBucketEncryptionInput>,
    ) -> Result<PutBucketEncryptionOutput> {
        let input = req.input;
        self.store.head_bucket(&input.bucket).await?;
        let (algorithm, key_id) = validate(&input.server_side_encryption_configuration)?;
        let kms = self.sse.kms().ok_or(Error::KmsNotConfigured)?;
        if algorithm == ServerSideEncryption::AWS_KMS {
            let key = key_id
                .as_deref()
                .map(parse_key_id)
                .transpose()?
                .flatten()
                .unwrap_or_else(|| kms.default_key().to_owned());
            let mut ctx = Context::new();
            ctx.insert("MinIO admin API".into(), "ServerInfoHandler".into());
            kms.generate(&key, &context::encode(&ctx)).await?;
        }
        let doc = serde_json::to_vec(&Stored {
            format: 1,
            algorithm,
            key_id,
        })
        .map_err(Error::internal)?;
        self.store
            .set_bucket_config(&input.bucket, DOC, Some(doc))
            .await?;
        Ok(PutBucketEncryptionOutput::default())
    }

    pub(super) async fn do_get_bucket_encryption(
        &self,
        req: S3Request<GetBucketEncryptionInput>,
    ) -> Result<GetBucketEncryptionOutput> {
        let stored = load(&self.store, &req.input.bucket)
            .await?
            .ok_or(Error::NoBucketEncryption)?;
        Ok(GetBucketEncryptionOutput {
            server_side_encryption_configuration: Some(ServerSideEncryptionConfiguration {
                rules: vec![ServerSideEncryptionRule {
                    apply_server_side_encryption_by_default: Some(ServerSideEncryptionByDefault {
                        kms_master_key_id: stored.key_id.clone(),
                        sse_algorithm: ServerSideEncryption::from(stored.algorithm.clone()),
                    }),
                    bucket_key_enabled: None,
                }],
            }),
        })
    }

    pub(super) async fn do_delete_bucket_encryption(
        &self,
        req: S3Request<DeleteBucketEncryptionInput>,
    ) -> Result<DeleteBucketEncryptionOutput> {
        self.store
            .set_bucket_config(&req.input.bucket, DOC, None)
            .await?;
        Ok(DeleteBucketEncryptionOutput::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(rules: Vec<(&str, Option<&str>)>) -> ServerSideEncryptionConfiguration {
        ServerSideEncryptionConfiguration {
            rules: rules
                .into_iter()
                .map(|(a, k)| ServerSideEncryptionRule {
                    apply_server_side_encryption_by_default: Some(ServerSideEncryptionByDefault {
                        kms_master_key_id: k.map(str::to_owned),
                        sse_algorithm: ServerSideEncryption::from(a.to_owned()),
                    }),
                    bucket_key_enabled: None,
                })
                .collect(),
        }
    }

    #[test]
    fn validation_order_and_messages() {
        let msg = |c| validate(&c).unwrap_err().to_string();
        assert!(
            msg(cfg(vec![("AES256", None), ("AES256", None)]))
                .ends_with("(only one server-side encryption rule is allowed at a time)")
        );
        assert!(msg(cfg(vec![("aws:kms:dsse", None)])).ends_with("(Unknown SSE algorithm)"));
        assert!(
            msg(cfg(vec![("AES256", Some("k"))]))
                .ends_with("(MasterKeyID is allowed with aws:kms only)")
        );
        assert!(
            msg(cfg(vec![("aws:kms", Some(" k"))]))
                .ends_with("(MasterKeyID contains unsupported characters)")
        );
        assert_eq!(
            validate(&cfg(vec![("aws:kms", None)])).unwrap(),
            ("aws:kms".to_owned(), None)
        );
        assert_eq!(
            validate(&cfg(vec![("aws:kms", Some("arn:aws:kms:k"))]))
                .unwrap()
                .1,
            Some("arn:aws:kms:k".to_owned())
        );
    }
}
