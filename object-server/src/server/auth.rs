//! The credential store s3s asks for a secret key: one root account
//! (`MINIO_ROOT_USER` / `MINIO_ROOT_PASSWORD`).
//!
//! An unknown access key is answered as S3 and MinIO answer it: 403 `InvalidAccessKeyId`
//! (s3s's own `SimpleAuth` says `NotSignedUp`). The access key is compared in constant time.

use s3s::auth::{S3Auth, SecretKey};
use s3s::{S3Error, S3ErrorCode, S3Result};
use subtle::ConstantTimeEq;

/// S3's message for an unknown access key.
pub(crate) const INVALID_ACCESS_KEY_ID: &str =
    "The AWS Access Key Id you provided does not exist in our records.";

/// The root credentials.
pub(super) struct RootAuth {
    access_key: String,
    secret_key: SecretKey,
}

impl RootAuth {
    /// The store for one access key / secret key pair.
    pub(super) fn new(access_key: &str, secret_key: &str) -> Self {
        RootAuth {
            access_key: access_key.to_owned(),
            secret_key: SecretKey::from(secret_key),
        }
    }
}

#[async_trait::async_trait]
impl S3Auth for RootAuth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        if bool::from(access_key.as_bytes().ct_eq(self.access_key.as_bytes())) {
            Ok(self.secret_key.clone())
        } else {
            Err(S3Error::with_message(
                S3ErrorCode::InvalidAccessKeyId,
                INVALID_ACCESS_KEY_ID,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unknown_keys_are_invalid_access_key_ids() {
        let auth = RootAuth::new("root-user", "secret-password");
        assert!(auth.get_secret_key("root-user").await.is_ok());
        for other in ["", "root", "root-user2", "ROOT-USER"] {
            let e = auth.get_secret_key(other).await.err().unwrap();
            assert_eq!(*e.code(), S3ErrorCode::InvalidAccessKeyId);
            assert_eq!(e.message(), Some(INVALID_ACCESS_KEY_ID));
        }
    }
}
