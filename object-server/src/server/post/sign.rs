//! The SigV4 POST signature: `x-amz-signature` is the hex HMAC-SHA256 of the base64 `policy`
//! field under the signing key derived from the secret and `x-amz-credential`'s scope
//! (`<access key>/<yyyymmdd>/<region>/s3/aws4_request`). The policy must pin
//! `x-amz-algorithm`, `x-amz-credential` and `x-amz-date` with `eq` conditions.

use aws_lc_rs::hmac;
use s3s::auth::S3Auth;
use subtle::ConstantTimeEq as _;

use super::PostError;
use super::form::Fields;
use super::policy::PostPolicy;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The signer of a verified form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Signer {
    /// The access key that signed the policy.
    pub(crate) access_key: String,
}

fn hmac(key: &[u8], data: &[u8]) -> hmac::Tag {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data)
}

/// The signature of `policy_b64` for `secret` and the credential scope `date/region/service`.
fn signature(secret: &str, date: &str, region: &str, service: &str, policy_b64: &str) -> String {
    let k_secret = zeroize::Zeroizing::new(format!("AWS4{secret}"));
    let k_date = hmac(k_secret.as_bytes(), date.as_bytes());
    let k_region = hmac(k_date.as_ref(), region.as_bytes());
    let k_service = hmac(k_region.as_ref(), service.as_bytes());
    let k_signing = hmac(k_service.as_ref(), b"aws4_request");
    hex::encode(hmac(k_signing.as_ref(), policy_b64.as_bytes()))
}

fn required<'a>(fields: &'a Fields, name: &'static str) -> Result<&'a str, PostError> {
    fields.get(name).ok_or(PostError::MissingField(name))
}

/// Verifies a signed form's policy signature; the signer.
pub(crate) async fn verify(
    auth: &dyn S3Auth,
    fields: &Fields,
    policy_b64: &str,
    policy: &PostPolicy,
) -> Result<Signer, PostError> {
    let algorithm = required(fields, "x-amz-algorithm")?;
    let credential = required(fields, "x-amz-credential")?;
    let date = required(fields, "x-amz-date")?;
    let given = required(fields, "x-amz-signature")?;
    if algorithm != ALGORITHM {
        return Err(PostError::InvalidArgument(format!(
            "Unsupported x-amz-algorithm {algorithm:?}: POST uploads are signed with {ALGORITHM}"
        )));
    }
    let mut scope = credential.split('/');
    let (Some(access_key), Some(day), Some(region), Some(service), Some("aws4_request"), None) = (
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
    ) else {
        return Err(PostError::InvalidArgument(
            "Invalid x-amz-credential: expected <key>/<date>/<region>/s3/aws4_request".to_owned(),
        ));
    };
    if service != "s3" || day.len() != 8 || !date.starts_with(day) {
        return Err(PostError::InvalidArgument(
            "The x-amz-credential scope does not match x-amz-date".to_owned(),
        ));
    }
    for (name, value) in [
        ("x-amz-algorithm", algorithm),
        ("x-amz-credential", credential),
        ("x-amz-date", date),
    ] {
        if policy.eq_value(name) != Some(value) {
            return Err(PostError::PolicyCondition(format!(
                "[\"eq\", \"${name}\", \"{value}\"]"
            )));
        }
    }
    let secret = auth
        .get_secret_key(access_key)
        .await
        .map_err(|_| PostError::InvalidAccessKey)?;
    let expected = signature(secret.expose(), day, region, service, policy_b64);
    if !bool::from(
        expected
            .as_bytes()
            .ct_eq(given.to_ascii_lowercase().as_bytes()),
    ) {
        return Err(PostError::SignatureMismatch);
    }
    Ok(Signer {
        access_key: access_key.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_the_aws_example() {
        // The signing-key derivation of AWS's SigV4 documentation example
        // (secret wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 20120215, us-east-1, iam).
        let k_date = hmac(b"AWS4wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", b"20120215");
        let k_region = hmac(k_date.as_ref(), b"us-east-1");
        let k_service = hmac(k_region.as_ref(), b"iam");
        let k_signing = hmac(k_service.as_ref(), b"aws4_request");
        assert_eq!(
            hex::encode(k_signing.as_ref()),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
        assert_eq!(
            signature("s", "20260101", "us-east-1", "s3", "cG9saWN5"),
            signature("s", "20260101", "us-east-1", "s3", "cG9saWN5")
        );
        assert_ne!(
            signature("s", "20260101", "us-east-1", "s3", "cG9saWN5"),
            signature("t", "20260101", "us-east-1", "s3", "cG9saWN5")
        );
    }
}
