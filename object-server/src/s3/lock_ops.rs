//! The Object Lock operations: Put/GetObjectLockConfiguration, Put/GetObjectRetention,
//! Put/GetObjectLegalHold, and the lock check of DeleteObject(s) by version id. The rules
//! and the stored form are in [`super::object_lock`].
//!
//! * Changing a version's retention or legal hold rewrites that version's file
//!   ([`super::version_meta`]); the rule is checked against the state actually replaced.
//! * Deleting a version by id asks the lock state under the key's exclusive lock
//!   ([`crate::storage::FsStore::delete_version_unless`]), so a retention set concurrently is
//!   never missed.

use s3s::S3Request;
use s3s::dto::*;
use time::OffsetDateTime;

use super::ObjectServer;
use super::object_lock::{
    BypassGrant, LockState, Mode, Retention, config_out, future_date, missing_config, parse_config,
    parse_hold,
};
use super::versioning::{Versioning, check_version_id};
use crate::error::{Error, Result};
use crate::storage::versions::Removal;

impl ObjectServer {
    /// Fails with 400 `InvalidRequest` unless `bucket` has object lock.
    async fn require_lock(&self, bucket: &str) -> Result<()> {
        match self.bucket_lock(bucket).await? {
            Some(_) => Ok(()),
            None => Err(missing_config()),
        }
    }

    /// The lock state of version `version` (current when `None`) of `bucket/key`.
    async fn version_lock(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<LockState> {
        self.require_lock(bucket).await?;
        let h = self.open_subject(bucket, key, version).await?;
        Ok(LockState::of(&h.meta))
    }

    /// Rewrites the lock state of a version with `change` (given the state it replaces, as
    /// stored in the file that is replaced); a change that leaves the state as it was writes
    /// nothing.
    async fn change_lock(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        change: impl Fn(&mut LockState) -> Result<()>,
    ) -> Result<()> {
        self.require_lock(bucket).await?;
        self.rewrite_version_internal(bucket, key, version, |internal| {
            let before = LockState::from_internal(internal);
            let mut after = before;
            change(&mut after)?;
            after.store(internal);
            Ok(after != before)
        })
        .await?;
        Ok(())
    }

    /// DeleteObject(s) with the object-lock check: a version named by id is deleted only if
    /// its lock allows it (`bypass`: governance retention may be bypassed), else 403
    /// `AccessDenied`. Without a version id see [`ObjectServer::delete_one`].
    pub(super) async fn delete_checked(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        bypass: bool,
    ) -> Result<(Option<String>, bool)> {
        let Some(v) = version else {
            return self.delete_one(bucket, key, None).await;
        };
        check_version_id(v)?;
        if self.bucket_lock(bucket).await?.is_none() {
            return self.delete_one(bucket, key, version).await;
        }
        let now = OffsetDateTime::now_utc();
        let refuse = move |m: &crate::storage::ObjectMeta| LockState::of(m).protects(now, bypass);
        match self
            .store
            .delete_version_unless(bucket, key, v, refuse)
            .await?
        {
            Removal::Done(removed) => {
                Ok((Some(v.to_owned()), removed.is_some_and(|m| m.delete_marker)))
            }
            Removal::Refused => Err(Error::AccessDenied),
        }
    }

    pub(super) async fn do_put_object_lock_configuration(
        &self,
        req: S3Request<PutObjectLockConfigurationInput>,
    ) -> Result<PutObjectLockConfigurationOutput> {
        let input = req.input;
        let bucket = input.bucket.as_str();
        self.store.head_bucket(bucket).await?;
        let lock = parse_config(input.object_lock_configuration.as_ref())?;
        if self.bucket_lock(bucket).await?.is_none()
            && self.versioning(bucket).await? != Versioning::Enabled
        {
            return Err(Error::InvalidBucketState(
                "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration",
            ));
        }
        self.set_bucket_lock(bucket, &lock).await?;
        Ok(PutObjectLockConfigurationOutput::default())
    }

    pub(super) async fn do_get_object_lock_configuration(
        &self,
        req: S3Request<GetObjectLockConfigurationInput>,
    ) -> Result<GetObjectLockConfigurationOutput> {
        let lock = self
            .bucket_lock(&req.input.bucket)
            .await?
            .ok_or(Error::NoObjectLockConfiguration)?;
        Ok(GetObjectLockConfigurationOutput {
            object_lock_configuration: Some(config_out(&lock)),
        })
    }

    /// PutObjectRetention: setting or extending is always allowed; shortening, removing or
    /// turning `COMPLIANCE` into `GOVERNANCE` needs the governance bypass while a
    /// `GOVERNANCE` retention is in force and is refused (403) while a `COMPLIANCE` one is.
    pub(super) async fn do_put_object_retention(
        &self,
        req: S3Request<PutObjectRetentionInput>,
    ) -> Result<PutObjectRetentionOutput> {
        let bypass = input_bypass(
            &req.extensions,
            &req.input.key,
            req.input.bypass_governance_retention,
        );
        let input = req.input;
        let now = OffsetDateTime::now_utc();
        let retention = input.retention.unwrap_or_default();
        let new = match (retention.mode, retention.retain_until_date) {
            (Some(m), Some(d)) => Some(Retention {
                mode: Mode::parse(m.as_str()).ok_or(Error::MalformedXml)?,
                until: future_date(&d, now)?,
            }),
            (None, None) => None,
            _ => return Err(Error::MalformedXml),
        };
        self.change_lock(
            &input.bucket,
            &input.key,
            input.version_id.as_deref(),
            |state| {
                if let Some(old) = state.active(now) {
                    let weakens = match new {
                        None => true,
                        Some(n) => {
                            n.until < old.until
                                || (old.mode == Mode::Compliance && n.mode == Mode::Governance)
                        }
                    };
                    if weakens && (old.mode == Mode::Compliance || !bypass) {
                        return Err(Error::AccessDenied);
                    }
                }
                state.retention = new;
                Ok(())
            },
        )
        .await?;
        Ok(PutObjectRetentionOutput::default())
    }

    pub(super) async fn do_get_object_retention(
        &self,
        req: S3Request<GetObjectRetentionInput>,
    ) -> Result<GetObjectRetentionOutput> {
        let input = req.input;
        let state = self
            .version_lock(&input.bucket, &input.key, input.version_id.as_deref())
            .await?;
        let r = state
            .retention
            .ok_or(Error::NoSuchObjectLockConfiguration)?;
        Ok(GetObjectRetentionOutput {
            retention: Some(ObjectLockRetention {
                mode: Some(ObjectLockRetentionMode::from_static(r.mode.as_str())),
                retain_until_date: Some(Timestamp::from(r.until)),
            }),
        })
    }

    pub(super) async fn do_put_object_legal_hold(
        &self,
        req: S3Request<PutObjectLegalHoldInput>,
    ) -> Result<PutObjectLegalHoldOutput> {
        let input = req.input;
        let status = input
            .legal_hold
            .and_then(|h| h.status)
            .ok_or(Error::MalformedXml)?;
        let hold = parse_hold(status.as_str()).map_err(|_| Error::MalformedXml)?;
        self.change_lock(
            &input.bucket,
            &input.key,
            input.version_id.as_deref(),
            |state| {
                state.legal_hold = Some(hold);
                Ok(())
            },
        )
        .await?;
        Ok(PutObjectLegalHoldOutput::default())
    }

    pub(super) async fn do_get_object_legal_hold(
        &self,
        req: S3Request<GetObjectLegalHoldInput>,
    ) -> Result<GetObjectLegalHoldOutput> {
        let input = req.input;
        let state = self
            .version_lock(&input.bucket, &input.key, input.version_id.as_deref())
            .await?;
        let hold = state
            .legal_hold
            .ok_or(Error::NoSuchObjectLockConfiguration)?;
        Ok(GetObjectLegalHoldOutput {
            legal_hold: Some(ObjectLockLegalHold {
                status: Some(ObjectLockLegalHoldStatus::from_static(if hold {
                    ObjectLockLegalHoldStatus::ON
                } else {
                    ObjectLockLegalHoldStatus::OFF
                })),
            }),
        })
    }
}

/// Whether a request on `key` asked for the governance bypass and was granted it.
pub(super) fn input_bypass(ext: &http::Extensions, key: &str, asked: Option<bool>) -> bool {
    asked == Some(true) && BypassGrant::allows(ext, key)
}
