//! The access check s3s runs for every S3 operation (after the signature check, before the
//! body is read): the bucket policy, the Public Access Block and public ACL grants decide.
//!
//! Condition keys come from the request head: the SSE headers (for UploadPart, UploadPartCopy
//! and CompleteMultipartUpload, which carry no SSE-S3/SSE-KMS header, from the encryption the
//! upload was created with), `aws:SecureTransport` (the server serves TLS), `aws:SourceIp`
//! (the TCP peer, put into the request by the front service as [`ClientAddr`]), the listing
//! parameters, and a few more (see [`super::condition::KNOWN_KEYS`]).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use s3s::access::{S3Access, S3AccessContext};
use s3s::dto::DeleteObjectsInput;
use s3s::path::S3Path;
use s3s::{S3Request, S3Result};

use super::condition::Keys;
use super::config::{load_pab, load_policy};
use super::{Decision, Principal, Request, actions};
use crate::error::{Error, Result};
use crate::s3::gate_facts::{DeniedKeys, LockVisibility};
use crate::s3::object_lock::BypassGrant;
use crate::sse::meta::{
    META_KMS_KEY_ID, META_KMS_SEALED_KEY, META_S3_SEALED_KEY, META_SSEC_SEALED_KEY,
};
use crate::storage::FsStore;

/// The TCP peer of a request (request extension set by the front service).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

/// The access checker: one per server.
#[derive(Debug, Clone)]
pub struct PolicyGate {
    store: Arc<FsStore>,
    tls: bool,
}

/// What `check` leaves for the per-operation hooks (DeleteObjects is decided per key, once
/// the body is parsed).
#[derive(Debug, Clone)]
struct Deferred {
    principal: Principal,
    keys: Keys,
}

fn denied() -> s3s::S3Error {
    Error::AccessDenied.into()
}

fn query_pairs(uri: &http::Uri) -> Vec<(String, String)> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    uri.query()
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

/// `x-amz-copy-source` → (bucket, key, whether a source version is named).
fn copy_source(headers: &http::HeaderMap) -> Option<(String, String, bool)> {
    let raw = headers.get("x-amz-copy-source")?.to_str().ok()?;
    let (raw, versioned) = raw
        .split_once("?versionId=")
        .map_or((raw, false), |(p, _)| (p, true));
    let decoded = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .ok()?
        .into_owned();
    let path = decoded.strip_prefix('/').unwrap_or(&decoded);
    let (b, k) = path.split_once('/')?;
    Some((b.to_owned(), k.to_owned(), versioned))
}

/// The SSE condition keys an upload was created with.
fn upload_sse_keys(internal: &std::collections::BTreeMap<String, String>, keys: &mut Keys) {
    let mut set = |k: &str, v: &str| {
        keys.insert(k.to_owned(), vec![v.to_owned()]);
    };
    if internal.contains_key(META_KMS_SEALED_KEY) {
        set("s3:x-amz-server-side-encryption", "aws:kms");
        if let Some(id) = internal.get(META_KMS_KEY_ID) {
            set("s3:x-amz-server-side-encryption-aws-kms-key-id", id);
        }
    } else if internal.contains_key(META_S3_SEALED_KEY) {
        set("s3:x-amz-server-side-encryption", "AES256");
    } else if internal.contains_key(META_SSEC_SEALED_KEY) {
        set(
            "s3:x-amz-server-side-encryption-customer-algorithm",
            "AES256",
        );
    }
}

fn resource(bucket: &str, key: Option<&str>) -> String {
    match key {
        Some(k) => format!("arn:aws:s3:::{bucket}/{k}"),
        None => format!("arn:aws:s3:::{bucket}"),
    }
}

/// The SSE request headers (or POST form fields) and the condition keys they set.
pub(crate) const SSE_KEYS: [(&str, &str); 3] = [
    (
        "x-amz-server-side-encryption",
        "s3:x-amz-server-side-encryption",
    ),
    (
        "x-amz-server-side-encryption-aws-kms-key-id",
        "s3:x-amz-server-side-encryption-aws-kms-key-id",
    ),
    (
        "x-amz-server-side-encryption-customer-algorithm",
        "s3:x-amz-server-side-encryption-customer-algorithm",
    ),
];

/// The global condition keys every request has, whatever its transport: `aws:SecureTransport`,
/// `aws:SourceIp` (an IPv4-mapped IPv6 peer as IPv4), `aws:EpochTime`, `aws:PrincipalType`.
pub(crate) fn base_keys(tls: bool, peer: Option<ClientAddr>, principal: &Principal) -> Keys {
    let mut keys: Keys = HashMap::new();
    let mut set = |k: &str, v: String| {
        keys.insert(k.to_owned(), vec![v]);
    };
    set("aws:securetransport", tls.to_string());
    if let Some(ClientAddr(peer)) = peer {
        let ip = match peer.ip() {
            std::net::IpAddr::V6(v6) => v6
                .to_ipv4_mapped()
                .map_or(std::net::IpAddr::V6(v6), std::net::IpAddr::V4),
            v4 => v4,
        };
        set("aws:sourceip", ip.to_string());
    }
    let epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    set("aws:epochtime", epoch.to_string());
    set(
        "aws:principaltype",
        match principal {
            Principal::Anonymous => "Anonymous",
            Principal::Root { .. } => "Account",
        }
        .to_owned(),
    );
    keys
}

impl PolicyGate {
    /// A gate over `store`; `tls` is `aws:SecureTransport`.
    pub fn new(store: Arc<FsStore>, tls: bool) -> Self {
        PolicyGate { store, tls }
    }

    /// The condition keys of a request.
    async fn keys(
        &self,
        cx: &mut S3AccessContext<'_>,
        principal: &Principal,
        op: &str,
        bucket: &str,
        key: Option<&str>,
    ) -> Keys {
        let peer = cx.extensions_mut().get::<ClientAddr>().copied();
        let mut keys = base_keys(self.tls, peer, principal);
        let mut set = |k: &str, v: String| {
            keys.insert(k.to_owned(), vec![v]);
        };
        let headers = cx.headers();
        for (header, name) in [
            ("referer", "aws:referer"),
            ("user-agent", "aws:useragent"),
            SSE_KEYS[0],
            SSE_KEYS[1],
            SSE_KEYS[2],
            ("x-amz-acl", "s3:x-amz-acl"),
            ("x-amz-content-sha256", "s3:x-amz-content-sha256"),
            ("x-amz-copy-source", "s3:x-amz-copy-source"),
            ("x-amz-metadata-directive", "s3:x-amz-metadata-directive"),
            ("x-amz-storage-class", "s3:x-amz-storage-class"),
        ] {
            if let Some(v) = headers.get(header).and_then(|v| v.to_str().ok()) {
                set(name, v.to_owned());
            }
        }
        let query = query_pairs(cx.uri());
        let signed_by_query = query.iter().any(|(k, _)| k == "X-Amz-Signature");
        if let Principal::Root { .. } = principal {
            set(
                "s3:authtype",
                if signed_by_query {
                    "REST-QUERY-STRING"
                } else {
                    "REST-HEADER"
                }
                .to_owned(),
            );
            set("s3:signatureversion", "AWS4-HMAC-SHA256".to_owned());
        }
        let listing = matches!(
            op,
            "ListObjects" | "ListObjectsV2" | "ListObjectVersions" | "ListMultipartUploads"
        );
        let mut upload_id = None;
        for (k, v) in query {
            match k.as_str() {
                "prefix" | "max-keys" | "delimiter" if listing => set(&format!("s3:{k}"), v),
                "versionId" => set("s3:versionid", v),
                "uploadId" => upload_id = Some(v),
                _ => {}
            }
        }
        if let (Some(id), Some(key), true) = (
            upload_id,
            key,
            matches!(
                op,
                "UploadPart" | "UploadPartCopy" | "CompleteMultipartUpload"
            ),
        ) && matches!(load_policy(&self.store, bucket).await, Ok(Some(_)))
            && let Ok(up) = self.store.open_upload(bucket, key, &id).await
        {
            // Only a bucket policy reads condition keys: without one the upload is not opened
            // here (the handler opens it anyway; the policy is cached).
            upload_sse_keys(&up.meta.template.internal, &mut keys);
        }
        keys
    }

    /// The decision for one (principal, action, resource) in `bucket` (also used by the POST
    /// object handler, which runs in front of s3s).
    pub(crate) async fn decide(
        &self,
        principal: &Principal,
        bucket: &str,
        key: Option<&str>,
        action: &str,
        keys: &Keys,
    ) -> Result<()> {
        let anonymous = *principal == Principal::Anonymous;
        let policy = match load_policy(&self.store, bucket).await {
            Ok(p) => p,
            // A missing bucket: the operation answers it for the owner; strangers learn nothing.
            Err(Error::NoSuchBucket) if !anonymous => return Ok(()),
            Err(Error::NoSuchBucket) => return Err(Error::AccessDenied),
            Err(e) => return Err(e),
        };
        let resource = resource(bucket, key);
        let req = Request {
            principal,
            action,
            resource: &resource,
            keys,
        };
        let decision = policy
            .as_ref()
            .map_or(Decision::NotApplicable, |doc| doc.1.evaluate(&req));
        if decision == Decision::Deny {
            return Err(Error::AccessDenied);
        }
        if !anonymous {
            return Ok(());
        }
        let pab = load_pab(&self.store, bucket).await?.unwrap_or_default();
        if decision == Decision::Allow
            && !(pab.restrict_public_buckets
                && policy.as_ref().is_some_and(|doc| doc.1.is_public()))
        {
            return Ok(());
        }
        let version = keys
            .get("s3:versionid")
            .and_then(|v| v.first())
            .map(String::as_str);
        if !pab.ignore_public_acls && self.acl_grants(bucket, key, version, action).await? {
            return Ok(());
        }
        Err(Error::AccessDenied)
    }

    /// Whether `s3:BypassGovernanceRetention` is allowed on `bucket/key` (object lock).
    async fn bypass_allowed(
        &self,
        principal: &Principal,
        bucket: &str,
        key: &str,
        keys: &Keys,
    ) -> bool {
        let action = "s3:BypassGovernanceRetention";
        self.decide(principal, bucket, Some(key), action, keys)
            .await
            .is_ok()
    }

    /// Whether a public ACL grants `action` to everyone (canned ACLs, see `s3::acl`); the
    /// ACL of version `version` when one is named.
    async fn acl_grants(
        &self,
        bucket: &str,
        key: Option<&str>,
        version: Option<&str>,
        action: &str,
    ) -> Result<bool> {
        crate::s3::acl::public_grant(&self.store, bucket, key, version, action).await
    }

    /// Which object-lock headers a GET/HEAD of `bucket/key` may show the caller.
    async fn lock_visibility(
        &self,
        principal: &Principal,
        bucket: &str,
        key: &str,
        keys: &Keys,
    ) -> LockVisibility {
        // Only versions in a bucket with object lock carry lock state (it cannot be turned
        // off): elsewhere there is nothing to show and nothing to decide (one read).
        if !crate::s3::object_lock::bucket_has_lock(&self.store, bucket).await {
            return LockVisibility::default();
        }
        if *principal != Principal::Anonymous
            && matches!(load_policy(&self.store, bucket).await, Ok(None))
        {
            // The owner without a bucket policy: nothing can deny (one read, not two).
            return LockVisibility {
                retention: true,
                legal_hold: true,
            };
        }
        let retention = self
            .decide(principal, bucket, Some(key), "s3:GetObjectRetention", keys)
            .await
            .is_ok();
        let legal_hold = self
            .decide(principal, bucket, Some(key), "s3:GetObjectLegalHold", keys)
            .await
            .is_ok();
        LockVisibility {
            retention,
            legal_hold,
        }
    }
}

fn to_s3(e: Error) -> s3s::S3Error {
    e.into()
}

#[async_trait::async_trait]
impl S3Access for PolicyGate {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let op = cx.s3_op().name().to_owned();
        let op = op.as_str();
        let principal = match cx.credentials() {
            Some(c) => Principal::Root {
                access_key: c.access_key.clone(),
            },
            None => Principal::Anonymous,
        };
        let anonymous = principal == Principal::Anonymous;
        let (bucket, key) = match cx.s3_path() {
            S3Path::Root => return if anonymous { Err(denied()) } else { Ok(()) },
            S3Path::Bucket { bucket } => (bucket.to_string(), None),
            S3Path::Object { bucket, key } => (bucket.to_string(), Some(key.to_string())),
        };
        let Some(action) = actions::for_operation(op) else {
            return if anonymous { Err(denied()) } else { Ok(()) };
        };
        if !anonymous && actions::is_policy_management(op) {
            return Ok(());
        }
        let keys = self.keys(cx, &principal, op, &bucket, key.as_deref()).await;
        let action = match actions::for_version(op) {
            Some(a) if keys.contains_key("s3:versionid") => a,
            _ => action,
        };
        if op == "DeleteObjects" {
            cx.extensions_mut().insert(Deferred { principal, keys });
            return Ok(());
        }
        self.decide(&principal, &bucket, key.as_deref(), action, &keys)
            .await
            .map_err(to_s3)?;
        if let Some(k) = key.as_deref()
            && matches!(op, "DeleteObject" | "PutObjectRetention")
            && BypassGrant::requested(cx.headers())
            && self.bypass_allowed(&principal, &bucket, k, &keys).await
        {
            cx.extensions_mut().insert(BypassGrant::new([k.to_owned()]));
        }
        if let Some(k) = key.as_deref()
            && matches!(op, "GetObject" | "HeadObject")
        {
            let visible = self.lock_visibility(&principal, &bucket, k, &keys).await;
            cx.extensions_mut().insert(visible);
        }
        if matches!(op, "CopyObject" | "UploadPartCopy")
            && let Some((src_bucket, src_key, versioned)) = copy_source(cx.headers())
        {
            let source_action = if versioned {
                "s3:GetObjectVersion"
            } else {
                "s3:GetObject"
            };
            self.decide(
                &principal,
                &src_bucket,
                Some(&src_key),
                source_action,
                &keys,
            )
            .await
            .map_err(to_s3)?;
        }
        Ok(())
    }

    /// DeleteObjects: every listed entry is checked as a DeleteObject (a DeleteObjectVersion
    /// when it names a version); the refused ones are left as [`DeniedKeys`] for the handler,
    /// which answers them with per-key `AccessDenied` errors and deletes the others, as S3
    /// does. An anonymous request to a missing bucket is refused whole (strangers learn
    /// nothing); any other failure of the check fails the whole request.
    async fn delete_objects(&self, req: &mut S3Request<DeleteObjectsInput>) -> S3Result<()> {
        let Some(Deferred { principal, keys }) = req.extensions.get::<Deferred>().cloned() else {
            return Err(denied());
        };
        let bucket = req.input.bucket.clone();
        if principal == Principal::Anonymous && self.store.head_bucket(&bucket).await.is_err() {
            return Err(denied());
        }
        // S3's bound, before any per-entry work (the body may list far more).
        if req.input.delete.objects.len() > crate::s3::MAX_DELETE_OBJECTS {
            return Err(to_s3(Error::MalformedXml));
        }
        let mut refused = DeniedKeys::default();
        let bypass = BypassGrant::requested(&req.headers);
        let mut granted = Vec::new();
        for obj in &req.input.delete.objects {
            let version = obj.version_id.as_deref();
            let action = if version.is_some() {
                "s3:DeleteObjectVersion"
            } else {
                "s3:DeleteObject"
            };
            let mut entry_keys = keys.clone();
            if let Some(v) = version {
                entry_keys.insert("s3:versionid".to_owned(), vec![v.to_owned()]);
            }
            match self
                .decide(&principal, &bucket, Some(&obj.key), action, &entry_keys)
                .await
            {
                Ok(()) => {}
                Err(Error::AccessDenied) => refused.deny(&obj.key, version),
                Err(e) => return Err(to_s3(e)),
            }
            // The bypass is judged with the entry's own keys (its `s3:versionid`).
            if bypass
                && self
                    .bypass_allowed(&principal, &bucket, &obj.key, &entry_keys)
                    .await
            {
                granted.push(obj.key.clone());
            }
        }
        req.extensions.insert(refused);
        if bypass {
            req.extensions.insert(BypassGrant::new(granted));
        }
        Ok(())
    }
}
