//! Authentication of the mock: a test service account (RSA key) and the
//! check of the bearer token the client sends.
//!
//! Follows Google's service-account JWT rules ("Addendum: Service account
//! authorization without OAuth",
//! <https://developers.google.com/identity/protocols/oauth2/service-account#jwt-auth>,
//! and AIP-4111 <https://google.aip.dev/auth/4111>): the bearer token is a
//! JWT signed RS256 with the service account's private key, header `kid` =
//! the key's ID, claims `iss` = `sub` = the account's e-mail, `scope` (or
//! `aud` = `https://secretmanager.googleapis.com/`), `iat` and `exp` at
//! most one hour apart. Anything else is 401 with Google's body.

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::Value;

/// The scope that grants Secret Manager access.
const CLOUD_PLATFORM: &str = "https://www.googleapis.com/auth/cloud-platform";
/// The audience of a self-signed JWT without scopes.
const AUDIENCE: &str = "https://secretmanager.googleapis.com/";

/// A service account with its key pair.
pub struct ServiceAccount {
    pub email: String,
    pub key_id: String,
    /// PKCS#8 PEM, as in Google's JSON key files.
    pub private_key_pem: String,
    public_key: Vec<u8>,
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

impl ServiceAccount {
    /// A new account with a fresh 2048-bit RSA key.
    pub fn generate(email: &str, key_id: &str) -> Self {
        let pair = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let der = pair.as_der().unwrap();
        ServiceAccount {
            email: email.to_owned(),
            key_id: key_id.to_owned(),
            private_key_pem: pem("PRIVATE KEY", der.as_ref()),
            public_key: pair.public_key().as_ref().to_vec(),
        }
    }

    /// The `credentials:` fields of a KES config for this account.
    pub fn credentials(&self) -> Value {
        serde_json::json!({
            "client_email": self.email,
            "client_id": "100000000000000000001",
            "private_key_id": self.key_id,
            "private_key": self.private_key_pem,
        })
    }
}

fn decode(part: &str) -> Result<Value, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| "JWT part is not base64url".to_owned())?;
    serde_json::from_slice(&bytes).map_err(|_| "JWT part is not JSON".to_owned())
}

/// Checks the `Authorization` header; returns the account's e-mail, or why
/// the token is refused.
pub fn verify_refs(
    header: Option<&str>,
    accounts: &[&ServiceAccount],
    now: u64,
) -> Result<String, String> {
    let token = header
        .and_then(|h| h.strip_prefix("Bearer "))
        .ok_or("no bearer token")?;
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("not a JWT".to_owned());
    };
    let header = decode(h)?;
    let claims = decode(c)?;
    if header["alg"] != "RS256" {
        return Err(format!("alg {} is not RS256", header["alg"]));
    }
    let kid = header["kid"].as_str().ok_or("no kid")?;
    let account = accounts
        .iter()
        .find(|a| a.key_id == kid)
        .ok_or_else(|| format!("unknown key id {kid}"))?;
    let signature = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| "bad signature encoding")?;
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &account.public_key)
        .verify(format!("{h}.{c}").as_bytes(), &signature)
        .map_err(|_| "invalid JWT signature".to_owned())?;
    if claims["iss"] != account.email.as_str() || claims["sub"] != account.email.as_str() {
        return Err("iss/sub is not the key's service account".to_owned());
    }
    let scoped = claims["scope"]
        .as_str()
        .is_some_and(|s| s.split(' ').any(|s| s == CLOUD_PLATFORM));
    if !scoped && claims["aud"] != AUDIENCE {
        return Err("neither the cloud-platform scope nor the Secret Manager audience".to_owned());
    }
    let (iat, exp) = (claims["iat"].as_u64(), claims["exp"].as_u64());
    let (Some(iat), Some(exp)) = (iat, exp) else {
        return Err("no iat/exp".to_owned());
    };
    if exp <= now || iat > now + 60 || exp.saturating_sub(iat) > 3600 + 60 {
        return Err(format!(
            "token not valid now (iat {iat}, exp {exp}, now {now})"
        ));
    }
    Ok(account.email.clone())
}
