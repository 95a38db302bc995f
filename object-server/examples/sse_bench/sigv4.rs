//! SigV4 (header form, `UNSIGNED-PAYLOAD`) for path-style requests without a query: enough for
//! PUT and GET of objects and creating a bucket.

use aws_lc_rs::{digest, hmac};

/// Access key of the benchmark server.
pub(crate) const AK: &str = "bench";
/// Secret key of the benchmark server.
pub(crate) const SK: &str = "bench-secret-key";

fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), msg)
        .as_ref()
        .to_vec()
}

/// A signed request builder for `method base+path` with the `extra` headers.
pub(crate) fn signed(
    client: &reqwest::Client,
    method: reqwest::Method,
    base: &str,
    path: &str,
    extra: &[(&str, &str)],
) -> reqwest::RequestBuilder {
    let host = base.split("://").nth(1).unwrap().to_owned();
    let now = time::OffsetDateTime::now_utc();
    let fmt = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let amz_date = now.format(&fmt).unwrap();
    let date = &amz_date[..8];
    let mut headers: Vec<(String, String)> = vec![
        ("host".into(), host),
        ("x-amz-content-sha256".into(), "UNSIGNED-PAYLOAD".into()),
        ("x-amz-date".into(), amz_date.clone()),
    ];
    headers.extend(
        extra
            .iter()
            .map(|(k, v)| (k.to_lowercase(), (*v).to_owned())),
    );
    headers.sort();
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed_headers = headers
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical =
        format!("{method}\n{path}\n\n{canonical_headers}\n{signed_headers}\nUNSIGNED-PAYLOAD");
    let scope = format!("{date}/us-east-1/s3/aws4_request");
    let sts = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(digest::digest(&digest::SHA256, canonical.as_bytes()))
    );
    let mut k = hmac_sha256(format!("AWS4{SK}").as_bytes(), date.as_bytes());
    for part in ["us-east-1", "s3", "aws4_request"] {
        k = hmac_sha256(&k, part.as_bytes());
    }
    let sig = hex::encode(hmac_sha256(&k, sts.as_bytes()));
    let mut rb = client.request(method, format!("{base}{path}"));
    for (name, value) in &headers {
        if name != "host" {
            rb = rb.header(name.as_str(), value.as_str());
        }
    }
    rb.header(
        "authorization",
        format!("AWS4-HMAC-SHA256 Credential={AK}/{scope}, SignedHeaders={signed_headers}, Signature={sig}"),
    )
}
