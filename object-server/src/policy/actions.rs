//! S3 actions: the names a policy may use, whether each applies to a bucket or an object
//! resource, and which action each s3s operation is authorised as.

/// Whether an action is checked against the bucket ARN or an object ARN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    /// `arn:aws:s3:::bucket`.
    Bucket,
    /// `arn:aws:s3:::bucket/key`.
    Object,
}

/// The actions S3 knows that this server can be asked about (with their resource level).
pub(crate) const KNOWN: &[(&str, Level)] = &[
    ("s3:AbortMultipartUpload", Level::Object),
    ("s3:BypassGovernanceRetention", Level::Object),
    ("s3:GetBucketObjectLockConfiguration", Level::Bucket),
    ("s3:GetObjectLegalHold", Level::Object),
    ("s3:GetObjectRetention", Level::Object),
    ("s3:PutBucketObjectLockConfiguration", Level::Bucket),
    ("s3:PutObjectLegalHold", Level::Object),
    ("s3:PutObjectRetention", Level::Object),
    ("s3:CreateBucket", Level::Bucket),
    ("s3:DeleteBucket", Level::Bucket),
    ("s3:DeleteBucketOwnershipControls", Level::Bucket),
    ("s3:DeleteBucketPolicy", Level::Bucket),
    ("s3:DeleteBucketTagging", Level::Bucket),
    ("s3:DeleteObject", Level::Object),
    ("s3:DeleteObjectTagging", Level::Object),
    ("s3:DeleteObjectVersion", Level::Object),
    ("s3:DeleteObjectVersionTagging", Level::Object),
    ("s3:GetBucketAcl", Level::Bucket),
    ("s3:GetBucketLocation", Level::Bucket),
    ("s3:GetBucketLogging", Level::Bucket),
    ("s3:GetBucketOwnershipControls", Level::Bucket),
    ("s3:GetBucketPolicy", Level::Bucket),
    ("s3:GetBucketPolicyStatus", Level::Bucket),
    ("s3:GetBucketPublicAccessBlock", Level::Bucket),
    ("s3:GetBucketTagging", Level::Bucket),
    ("s3:GetBucketVersioning", Level::Bucket),
    ("s3:GetEncryptionConfiguration", Level::Bucket),
    ("s3:GetLifecycleConfiguration", Level::Bucket),
    ("s3:GetObject", Level::Object),
    ("s3:GetObjectAcl", Level::Object),
    ("s3:GetObjectAttributes", Level::Object),
    ("s3:GetObjectTagging", Level::Object),
    ("s3:GetObjectVersion", Level::Object),
    ("s3:GetObjectVersionAcl", Level::Object),
    ("s3:GetObjectVersionAttributes", Level::Object),
    ("s3:GetObjectVersionTagging", Level::Object),
    ("s3:ListAllMyBuckets", Level::Bucket),
    ("s3:ListBucket", Level::Bucket),
    ("s3:ListBucketMultipartUploads", Level::Bucket),
    ("s3:ListBucketVersions", Level::Bucket),
    ("s3:ListMultipartUploadParts", Level::Object),
    ("s3:PutBucketAcl", Level::Bucket),
    ("s3:PutBucketLogging", Level::Bucket),
    ("s3:PutBucketOwnershipControls", Level::Bucket),
    ("s3:PutBucketPolicy", Level::Bucket),
    ("s3:PutBucketPublicAccessBlock", Level::Bucket),
    ("s3:PutBucketTagging", Level::Bucket),
    ("s3:PutBucketVersioning", Level::Bucket),
    ("s3:PutEncryptionConfiguration", Level::Bucket),
    ("s3:PutLifecycleConfiguration", Level::Bucket),
    ("s3:PutObject", Level::Object),
    ("s3:PutObjectAcl", Level::Object),
    ("s3:PutObjectTagging", Level::Object),
    ("s3:PutObjectVersionAcl", Level::Object),
    ("s3:PutObjectVersionTagging", Level::Object),
];

/// The level of a known action (exact name, case-insensitive).
pub(crate) fn level(action: &str) -> Option<Level> {
    KNOWN
        .iter()
        .find(|(a, _)| a.eq_ignore_ascii_case(action))
        .map(|(_, l)| *l)
}

/// The action an s3s operation (by its `S3Operation::name`) is authorised as; `None` for
/// operations this server does not serve (they are refused by s3s as not implemented, or are
/// checked as the root user only).
pub(crate) fn for_operation(op: &str) -> Option<&'static str> {
    Some(match op {
        "AbortMultipartUpload" => "s3:AbortMultipartUpload",
        "CompleteMultipartUpload"
        | "CreateMultipartUpload"
        | "PutObject"
        | "UploadPart"
        | "UploadPartCopy"
        | "CopyObject" => "s3:PutObject",
        "CreateBucket" => "s3:CreateBucket",
        "DeleteBucket" => "s3:DeleteBucket",
        "DeleteBucketEncryption" | "PutBucketEncryption" => "s3:PutEncryptionConfiguration",
        "GetBucketEncryption" => "s3:GetEncryptionConfiguration",
        "DeleteBucketOwnershipControls" => "s3:DeleteBucketOwnershipControls",
        "GetBucketOwnershipControls" => "s3:GetBucketOwnershipControls",
        "PutBucketOwnershipControls" => "s3:PutBucketOwnershipControls",
        "DeleteBucketPolicy" => "s3:DeleteBucketPolicy",
        "GetBucketPolicy" => "s3:GetBucketPolicy",
        "PutBucketPolicy" => "s3:PutBucketPolicy",
        "GetBucketPolicyStatus" => "s3:GetBucketPolicyStatus",
        "DeletePublicAccessBlock" | "PutPublicAccessBlock" => "s3:PutBucketPublicAccessBlock",
        "GetPublicAccessBlock" => "s3:GetBucketPublicAccessBlock",
        "DeleteBucketTagging" => "s3:DeleteBucketTagging",
        "GetBucketTagging" => "s3:GetBucketTagging",
        "PutBucketTagging" => "s3:PutBucketTagging",
        "DeleteObject" | "DeleteObjects" => "s3:DeleteObject",
        "DeleteObjectTagging" => "s3:DeleteObjectTagging",
        "GetObjectTagging" => "s3:GetObjectTagging",
        "PutObjectTagging" => "s3:PutObjectTagging",
        "GetBucketAcl" => "s3:GetBucketAcl",
        "PutBucketAcl" => "s3:PutBucketAcl",
        "GetObjectAcl" => "s3:GetObjectAcl",
        "PutObjectAcl" => "s3:PutObjectAcl",
        "GetBucketLocation" => "s3:GetBucketLocation",
        "GetBucketLogging" => "s3:GetBucketLogging",
        "PutBucketLogging" => "s3:PutBucketLogging",
        "GetBucketVersioning" => "s3:GetBucketVersioning",
        "PutBucketVersioning" => "s3:PutBucketVersioning",
        "GetBucketLifecycleConfiguration" => "s3:GetLifecycleConfiguration",
        "PutBucketLifecycleConfiguration" | "DeleteBucketLifecycle" => {
            "s3:PutLifecycleConfiguration"
        }
        "GetObject" | "HeadObject" => "s3:GetObject",
        "GetObjectAttributes" => "s3:GetObjectAttributes",
        "HeadBucket" | "ListObjects" | "ListObjectsV2" => "s3:ListBucket",
        "ListObjectVersions" => "s3:ListBucketVersions",
        "ListMultipartUploads" => "s3:ListBucketMultipartUploads",
        "ListParts" => "s3:ListMultipartUploadParts",
        "ListBuckets" => "s3:ListAllMyBuckets",
        "PutObjectLockConfiguration" => "s3:PutBucketObjectLockConfiguration",
        "GetObjectLockConfiguration" => "s3:GetBucketObjectLockConfiguration",
        "PutObjectRetention" => "s3:PutObjectRetention",
        "GetObjectRetention" => "s3:GetObjectRetention",
        "PutObjectLegalHold" => "s3:PutObjectLegalHold",
        "GetObjectLegalHold" => "s3:GetObjectLegalHold",
        _ => return None,
    })
}

/// The action an object operation is authorised as when it names a version (`versionId` in
/// the query, `null` included), where S3 names a separate one; `None`: the same action as
/// without a version (retention and legal hold: S3 has no version-specific names for them).
pub(crate) fn for_version(op: &str) -> Option<&'static str> {
    Some(match op {
        "GetObject" | "HeadObject" => "s3:GetObjectVersion",
        "DeleteObject" => "s3:DeleteObjectVersion",
        "GetObjectTagging" => "s3:GetObjectVersionTagging",
        "PutObjectTagging" => "s3:PutObjectVersionTagging",
        "DeleteObjectTagging" => "s3:DeleteObjectVersionTagging",
        "GetObjectAcl" => "s3:GetObjectVersionAcl",
        "PutObjectAcl" => "s3:PutObjectVersionAcl",
        "GetObjectAttributes" => "s3:GetObjectVersionAttributes",
        _ => return None,
    })
}

/// Operations that manage the bucket policy itself: the root user is never denied them, so a
/// policy cannot lock the owner out.
pub(crate) fn is_policy_management(op: &str) -> bool {
    matches!(
        op,
        "GetBucketPolicy" | "PutBucketPolicy" | "DeleteBucketPolicy"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mapped_action_is_known() {
        for op in [
            "PutObject",
            "GetObject",
            "HeadObject",
            "ListObjectsV2",
            "DeleteObjects",
            "UploadPart",
            "CopyObject",
            "GetBucketPolicyStatus",
            "PutPublicAccessBlock",
            "ListParts",
            "ListBuckets",
            "DeleteBucketLifecycle",
            "ListObjectVersions",
            "PutObjectRetention",
            "GetObjectLockConfiguration",
            "PutBucketLifecycleConfiguration",
            "GetBucketLifecycleConfiguration",
            "PutBucketLogging",
            "GetBucketLogging",
        ] {
            let a = for_operation(op).unwrap();
            assert!(level(a).is_some(), "{op} → {a}");
        }
        assert_eq!(level("S3:GETOBJECT"), Some(Level::Object));
        assert_eq!(level("s3:Nothing"), None);
        assert!(for_operation("SelectObjectContent").is_none());
        for op in [
            "GetObject",
            "DeleteObject",
            "GetObjectTagging",
            "PutObjectTagging",
            "DeleteObjectTagging",
            "GetObjectAcl",
            "PutObjectAcl",
            "GetObjectAttributes",
        ] {
            let a = for_version(op).unwrap();
            assert_eq!(level(a), Some(Level::Object), "{op} → {a}");
        }
        assert!(for_version("PutObjectRetention").is_none());
    }
}
