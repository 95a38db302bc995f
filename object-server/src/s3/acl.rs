//! Canned ACLs and grants on buckets and objects, and bucket ownership controls.
//!
//! Put/GetBucketAcl, Put/GetObjectAcl (a canned `x-amz-acl`, `x-amz-grant-*` headers — parsed
//! in [`super::acl_grants`] — or an `AccessControlPolicy` body), `x-amz-acl` or grant headers
//! on CreateBucket, PutObject, CopyObject and CreateMultipartUpload,
//! Put/Get/DeleteBucketOwnershipControls. There is one account (the root user), so every
//! grant names the owner or a group (`AllUsers`, `AuthenticatedUsers`, `LogDelivery`); a
//! canned ACL expands to S3's grants (`public-read` = owner `FULL_CONTROL` + AllUsers
//! `READ`, …). Bucket grants are a bucket configuration document, object grants live in the
//! object's metadata record (internal entry [`META_ACL`]; a copy gets the request's ACL, not
//! the source's, as in S3).
//!
//! Enforcement: grants to `AllUsers` open anonymous access ([`public_grant`]) unless the
//! bucket's Public Access Block has `IgnorePublicAcls` or its ownership is
//! `BucketOwnerEnforced`; `BlockPublicAcls` refuses public ACLs (403 `AccessDenied`);
//! `BucketOwnerEnforced` refuses any ACL but the owner's full control (400
//! `AccessControlListNotSupported`). Buckets have no ownership controls until set (MinIO's
//! behaviour; S3 defaults new buckets to `BucketOwnerEnforced`).

use std::collections::BTreeMap;

use s3s::S3Request;
use s3s::dto::Grantee as GranteeDto;
use s3s::dto::*;
use serde::{Deserialize, Serialize};

use super::ObjectServer;
use super::acl_grants::{HeaderGrants, all_header_grants};
use super::bucket::owner;
use crate::error::{Error, Result};
use crate::policy::config::load_pab;
use crate::storage::FsStore;

/// Internal metadata entry with an object's grants (JSON); absent = private.
pub(crate) const META_ACL: &str = "X-Amz-Acl";
const BUCKET_DOC: &str = "acl";
const OWNERSHIP_DOC: &str = "ownership";

pub(super) const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
pub(super) const AUTHENTICATED_USERS: &str =
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";
pub(super) const LOG_DELIVERY: &str = "http://acs.amazonaws.com/groups/s3/LogDelivery";

/// Who a grant is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Grantee {
    Owner,
    AllUsers,
    AuthenticatedUsers,
    LogDelivery,
}

/// One grant (permission as S3 spells it: `FULL_CONTROL`, `READ`, `WRITE`, `READ_ACP`,
/// `WRITE_ACP`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredGrant {
    grantee: Grantee,
    permission: String,
}

pub(super) type GrantList = Vec<StoredGrant>;

pub(super) fn grant(grantee: Grantee, permission: &str) -> StoredGrant {
    StoredGrant {
        grantee,
        permission: permission.to_owned(),
    }
}

pub(super) fn private() -> GrantList {
    vec![grant(Grantee::Owner, Permission::FULL_CONTROL)]
}

/// The grants of a canned ACL (bucket or object names).
pub(super) fn canned(name: &str) -> Result<GrantList> {
    let mut g = private();
    match name {
        "private" | "bucket-owner-read" | "bucket-owner-full-control" | "aws-exec-read" => {}
        "public-read" => g.push(grant(Grantee::AllUsers, Permission::READ)),
        "public-read-write" => {
            g.push(grant(Grantee::AllUsers, Permission::READ));
            g.push(grant(Grantee::AllUsers, Permission::WRITE));
        }
        "authenticated-read" => g.push(grant(Grantee::AuthenticatedUsers, Permission::READ)),
        "log-delivery-write" => {
            g.push(grant(Grantee::LogDelivery, Permission::WRITE));
            g.push(grant(Grantee::LogDelivery, Permission::READ_ACP));
        }
        _ => return Err(Error::InvalidArgument("Invalid canned ACL".to_owned())),
    }
    Ok(g)
}

/// The grants of an `AccessControlPolicy` body.
fn from_policy(p: &AccessControlPolicy) -> Result<GrantList> {
    let owner_id = owner().id.unwrap_or_default();
    if let Some(o) = &p.owner
        && o.id.as_deref().is_some_and(|id| id != owner_id)
    {
        return Err(Error::AccessDenied);
    }
    let mut out = Vec::new();
    for g in p.grants.iter().flatten() {
        let (Some(who), Some(perm)) = (&g.grantee, &g.permission) else {
            return Err(Error::MalformedXml);
        };
        if !matches!(
            perm.as_str(),
            Permission::FULL_CONTROL
                | Permission::READ
                | Permission::WRITE
                | Permission::READ_ACP
                | Permission::WRITE_ACP
        ) {
            return Err(Error::MalformedXml);
        }
        let grantee = match (who.type_.as_str(), who.id.as_deref(), who.uri.as_deref()) {
            (Type::CANONICAL_USER, Some(id), _) if id == owner_id => Grantee::Owner,
            (Type::CANONICAL_USER, _, _) => {
                return Err(Error::InvalidArgument("Invalid id".to_owned()));
            }
            (Type::GROUP, _, Some(ALL_USERS)) => Grantee::AllUsers,
            (Type::GROUP, _, Some(AUTHENTICATED_USERS)) => Grantee::AuthenticatedUsers,
            (Type::GROUP, _, Some(LOG_DELIVERY)) => Grantee::LogDelivery,
            (Type::GROUP, _, _) => {
                return Err(Error::InvalidArgument("Invalid group uri".to_owned()));
            }
            _ => return Err(Error::UnresolvableGrantByEmail),
        };
        out.push(grant(grantee, perm.as_str()));
    }
    Ok(out)
}

/// The grants of a Put*Acl request: exactly one of a canned ACL, grant headers or an
/// `AccessControlPolicy` body (two → 400 `InvalidRequest`, none → 400 `MalformedXML`).
fn request_grants(
    acl: Option<&str>,
    body: Option<&AccessControlPolicy>,
    headers: HeaderGrants<'_>,
) -> Result<GrantList> {
    match (acl, body, headers.any()) {
        (Some(a), None, false) => canned(a),
        (None, Some(p), false) => from_policy(p),
        (None, None, true) => headers.parse().map(Option::unwrap_or_default),
        (None, None, false) => Err(Error::MalformedXml),
        (Some(_), _, _) | (None, Some(_), true) => Err(super::acl_grants::both()),
    }
}

fn to_dto(grants: &GrantList) -> Grants {
    grants
        .iter()
        .map(|g| {
            let o = owner();
            let grantee = match g.grantee {
                Grantee::Owner => GranteeDto {
                    display_name: o.display_name,
                    id: o.id,
                    type_: Type::from_static(Type::CANONICAL_USER),
                    email_address: None,
                    uri: None,
                },
                other => GranteeDto {
                    type_: Type::from_static(Type::GROUP),
                    uri: Some(
                        match other {
                            Grantee::AllUsers => ALL_USERS,
                            Grantee::AuthenticatedUsers => AUTHENTICATED_USERS,
                            _ => LOG_DELIVERY,
                        }
                        .to_owned(),
                    ),
                    display_name: None,
                    email_address: None,
                    id: None,
                },
            };
            Grant {
                grantee: Some(grantee),
                permission: Some(Permission::from(g.permission.clone())),
            }
        })
        .collect()
}

fn is_public(grants: &GrantList) -> bool {
    grants
        .iter()
        .any(|g| matches!(g.grantee, Grantee::AllUsers | Grantee::AuthenticatedUsers))
}

async fn ownership(store: &FsStore, bucket: &str) -> Result<Option<String>> {
    Ok(store
        .bucket_config_parsed(bucket, OWNERSHIP_DOC, |b| {
            Ok(String::from_utf8(b.to_vec()).ok())
        })
        .await?
        .and_then(|o| (*o).clone()))
}

/// Refuses `grants` on `bucket` when its ownership controls or Public Access Block say so.
async fn admit(store: &FsStore, bucket: &str, grants: &GrantList) -> Result<()> {
    if ownership(store, bucket).await?.as_deref() == Some(ObjectOwnership::BUCKET_OWNER_ENFORCED)
        && *grants != private()
    {
        return Err(Error::AclNotSupported);
    }
    if is_public(grants)
        && load_pab(store, bucket)
            .await?
            .is_some_and(|p| p.block_public_acls)
    {
        return Err(Error::AccessDenied);
    }
    Ok(())
}

async fn bucket_grants(store: &FsStore, bucket: &str) -> Result<GrantList> {
    Ok(store
        .bucket_config_parsed(bucket, BUCKET_DOC, |b| {
            serde_json::from_slice::<GrantList>(b).map_err(|e| e.to_string())
        })
        .await?
        .map_or_else(private, |g| (*g).clone()))
}

fn object_grants(internal: &BTreeMap<String, String>) -> GrantList {
    internal
        .get(META_ACL)
        .and_then(|j| serde_json::from_str(j).ok())
        .unwrap_or_else(private)
}

fn store_object_grants(internal: &mut BTreeMap<String, String>, grants: &GrantList) -> Result<()> {
    if *grants == private() {
        internal.remove(META_ACL);
    } else {
        internal.insert(
            META_ACL.to_owned(),
            serde_json::to_string(grants).map_err(Error::internal)?,
        );
    }
    Ok(())
}

/// The permission an action needs from a bucket grant (`None`: bucket ACLs never grant it).
fn bucket_permission(action: &str) -> Option<&'static str> {
    Some(match action {
        "s3:ListBucket" | "s3:ListBucketVersions" | "s3:ListBucketMultipartUploads" => {
            Permission::READ
        }
        "s3:PutObject" | "s3:DeleteObject" | "s3:AbortMultipartUpload" => Permission::WRITE,
        "s3:GetBucketAcl" => Permission::READ_ACP,
        "s3:PutBucketAcl" => Permission::WRITE_ACP,
        _ => return None,
    })
}

/// The permission an action needs from an object grant.
fn object_permission(action: &str) -> Option<&'static str> {
    Some(match action {
        "s3:GetObject" | "s3:GetObjectVersion" => Permission::READ,
        "s3:GetObjectAcl" | "s3:GetObjectVersionAcl" => Permission::READ_ACP,
        "s3:PutObjectAcl" | "s3:PutObjectVersionAcl" => Permission::WRITE_ACP,
        _ => return None,
    })
}

fn grants_to_all(grants: &GrantList, permission: &str) -> bool {
    grants.iter().any(|g| {
        g.grantee == Grantee::AllUsers
            && (g.permission == permission || g.permission == Permission::FULL_CONTROL)
    })
}

/// Whether a public ACL of `bucket` (or of object `key`, of its version `version` when one is
/// named) grants `action` to everyone (the caller has checked `IgnorePublicAcls`). Never
/// under `BucketOwnerEnforced`.
pub(crate) async fn public_grant(
    store: &FsStore,
    bucket: &str,
    key: Option<&str>,
    version: Option<&str>,
    action: &str,
) -> Result<bool> {
    if ownership(store, bucket).await?.as_deref() == Some(ObjectOwnership::BUCKET_OWNER_ENFORCED) {
        return Ok(false);
    }
    if let Some(p) = bucket_permission(action)
        && grants_to_all(&bucket_grants(store, bucket).await?, p)
    {
        return Ok(true);
    }
    if let (Some(p), Some(key)) = (object_permission(action), key) {
        let opened = match version {
            None => store.open_object(bucket, key).await,
            Some(v) => store.open_version(bucket, key, Some(v)).await,
        };
        return match opened {
            Ok(h) => Ok(grants_to_all(&object_grants(&h.meta.internal), p)),
            Err(_) => Ok(false),
        };
    }
    Ok(false)
}

/// `x-amz-acl` or the `x-amz-grant-*` headers of a new object (PutObject, CopyObject,
/// CreateMultipartUpload): checked against the bucket's ownership controls and Public Access
/// Block, stored in `internal`.
pub(crate) async fn apply_new_object(
    store: &FsStore,
    bucket: &str,
    acl: Option<&ObjectCannedACL>,
    headers: HeaderGrants<'_>,
    internal: &mut BTreeMap<String, String>,
) -> Result<()> {
    let Some(grants) = headers.resolve(acl.map(ObjectCannedACL::as_str))? else {
        return Ok(());
    };
    admit(store, bucket, &grants).await?;
    store_object_grants(internal, &grants)
}

impl ObjectServer {
    /// CreateBucket's `x-amz-acl` and `x-amz-object-ownership`, validated before the bucket is
    /// created and stored after.
    pub(super) async fn create_bucket_acl(
        &self,
        input: &CreateBucketInput,
    ) -> Result<Option<(GrantList, Option<String>)>> {
        let grants = all_header_grants!(input).resolve(input.acl.as_ref().map(|a| a.as_str()))?;
        let own = input
            .object_ownership
            .as_ref()
            .map(|o| o.as_str().to_owned());
        if let Some(o) = &own {
            check_ownership(o)?;
        }
        if own.as_deref() == Some(ObjectOwnership::BUCKET_OWNER_ENFORCED)
            && grants.as_ref().is_some_and(|g| *g != private())
        {
            return Err(Error::AclNotSupported);
        }
        Ok(match (grants, own) {
            (None, None) => None,
            (g, o) => Some((g.unwrap_or_else(private), o)),
        })
    }

    /// Stores what [`Self::create_bucket_acl`] accepted.
    pub(super) async fn store_bucket_acl(
        &self,
        bucket: &str,
        acl: Option<(GrantList, Option<String>)>,
    ) -> Result<()> {
        let Some((grants, own)) = acl else {
            return Ok(());
        };
        if grants != private() {
            let doc = serde_json::to_vec(&grants).map_err(Error::internal)?;
            self.store
                .set_bucket_config(bucket, BUCKET_DOC, Some(doc))
                .await?;
        }
        if let Some(o) = own {
            self.store
                .set_bucket_config(bucket, OWNERSHIP_DOC, Some(o.into_bytes()))
                .await?;
        }
        Ok(())
    }

    pub(super) async fn do_put_bucket_acl(
        &self,
        req: S3Request<PutBucketAclInput>,
    ) -> Result<PutBucketAclOutput> {
        let input = req.input;
        self.store.head_bucket(&input.bucket).await?;
        let grants = request_grants(
            input.acl.as_ref().map(|a| a.as_str()),
            input.access_control_policy.as_ref(),
            all_header_grants!(input),
        )?;
        admit(&self.store, &input.bucket, &grants).await?;
        let doc = serde_json::to_vec(&grants).map_err(Error::internal)?;
        self.store
            .set_bucket_config(&input.bucket, BUCKET_DOC, Some(doc))
            .await?;
        Ok(PutBucketAclOutput::default())
    }

    pub(super) async fn do_get_bucket_acl(
        &self,
        req: S3Request<GetBucketAclInput>,
    ) -> Result<GetBucketAclOutput> {
        let grants = bucket_grants(&self.store, &req.input.bucket).await?;
        Ok(GetBucketAclOutput {
            grants: Some(to_dto(&grants)),
            owner: Some(owner()),
        })
    }

    pub(super) async fn do_put_object_acl(
        &self,
        req: S3Request<PutObjectAclInput>,
    ) -> Result<PutObjectAclOutput> {
        let input = req.input;
        let grants = request_grants(
            input.acl.as_ref().map(|a| a.as_str()),
            input.access_control_policy.as_ref(),
            all_header_grants!(input),
        )?;
        let version = input.version_id.as_deref();
        match version {
            None => drop(self.store.open_object(&input.bucket, &input.key).await?),
            Some(_) => drop(
                self.open_subject(&input.bucket, &input.key, version)
                    .await?,
            ),
        }
        admit(&self.store, &input.bucket, &grants).await?;
        if version.is_some() {
            self.rewrite_version_internal(&input.bucket, &input.key, version, |internal| {
                store_object_grants(internal, &grants).map(|()| true)
            })
            .await?;
        } else {
            self.rewrite_internal(&input.bucket, &input.key, |internal| {
                store_object_grants(internal, &grants)
            })
            .await?;
        }
        Ok(PutObjectAclOutput::default())
    }

    pub(super) async fn do_get_object_acl(
        &self,
        req: S3Request<GetObjectAclInput>,
    ) -> Result<GetObjectAclOutput> {
        let (bucket, key) = (&req.input.bucket, &req.input.key);
        let h = match req.input.version_id.as_deref() {
            None => self.store.open_object(bucket, key).await?,
            v @ Some(_) => self.open_subject(bucket, key, v).await?,
        };
        Ok(GetObjectAclOutput {
            grants: Some(to_dto(&object_grants(&h.meta.internal))),
            owner: Some(owner()),
            request_charged: None,
        })
    }

    pub(super) async fn do_put_bucket_ownership_controls(
        &self,
        req: S3Request<PutBucketOwnershipControlsInput>,
    ) -> Result<PutBucketOwnershipControlsOutput> {
        let input = req.input;
        let [rule] = input.ownership_controls.rules.as_slice() else {
            return Err(Error::MalformedXml);
        };
        let o = rule.object_ownership.as_str();
        check_ownership(o)?;
        self.store
            .set_bucket_config(&input.bucket, OWNERSHIP_DOC, Some(o.as_bytes().to_vec()))
            .await?;
        Ok(PutBucketOwnershipControlsOutput::default())
    }

    pub(super) async fn do_get_bucket_ownership_controls(
        &self,
        req: S3Request<GetBucketOwnershipControlsInput>,
    ) -> Result<GetBucketOwnershipControlsOutput> {
        let o = ownership(&self.store, &req.input.bucket)
            .await?
            .ok_or(Error::NoOwnershipControls)?;
        Ok(GetBucketOwnershipControlsOutput {
            ownership_controls: Some(OwnershipControls {
                rules: vec![OwnershipControlsRule {
                    object_ownership: ObjectOwnership::from(o),
                }],
            }),
        })
    }

    pub(super) async fn do_delete_bucket_ownership_controls(
        &self,
        req: S3Request<DeleteBucketOwnershipControlsInput>,
    ) -> Result<DeleteBucketOwnershipControlsOutput> {
        self.store
            .set_bucket_config(&req.input.bucket, OWNERSHIP_DOC, None)
            .await?;
        Ok(DeleteBucketOwnershipControlsOutput::default())
    }
}

fn check_ownership(o: &str) -> Result<()> {
    if matches!(
        o,
        ObjectOwnership::BUCKET_OWNER_ENFORCED
            | ObjectOwnership::BUCKET_OWNER_PREFERRED
            | ObjectOwnership::OBJECT_WRITER
    ) {
        Ok(())
    } else {
        Err(Error::MalformedXml)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canned_acls() {
        assert_eq!(canned("private").unwrap(), private());
        assert_eq!(canned("bucket-owner-full-control").unwrap(), private());
        assert!(is_public(&canned("public-read").unwrap()));
        assert!(is_public(&canned("authenticated-read").unwrap()));
        let rw = canned("public-read-write").unwrap();
        assert!(grants_to_all(&rw, Permission::WRITE) && grants_to_all(&rw, Permission::READ));
        assert!(!grants_to_all(
            &canned("public-read").unwrap(),
            Permission::WRITE
        ));
        assert!(canned("public").is_err());
        assert_eq!(bucket_permission("s3:ListBucket"), Some(Permission::READ));
        assert_eq!(object_permission("s3:GetObject"), Some(Permission::READ));
        assert_eq!(object_permission("s3:PutObject"), None);
    }
}
