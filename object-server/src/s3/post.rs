//! POST object (browser form uploads), storage side: the checked form becomes a PutObject —
//! the same [`ObjectServer::do_put_object`] path, so encryption (SSE-S3, SSE-KMS, SSE-C, the
//! bucket default), versioning, tagging, canned ACLs and metadata behave exactly as for PUT.
//!
//! Form fields map to PutObject as S3 documents: `Content-Type` (else the file part's own
//! type), `Cache-Control`, `Content-Disposition`, `Content-Encoding`, `Expires`,
//! `x-amz-meta-*`, `acl` (canned), `tagging` (a `<Tagging>` XML document) and the
//! `x-amz-server-side-encryption*` fields (passed as the PutObject headers of the same names).
//! The form itself is read and checked by `crate::server::post`.

use s3s::dto::*;
use s3s::{S3Request, xml};

use super::{ObjectServer, parse_http_date};
use crate::error::{Error, Result};

/// Form fields, names lower-cased, in form order. The values (an SSE-C key among them) are
/// wiped when dropped and never printed.
#[derive(Default, Clone, PartialEq, Eq)]
pub(crate) struct FormFields(pub(crate) Vec<(String, String)>);

impl FormFields {
    /// The value of field `name` (lower case); the first one when repeated.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl std::fmt::Debug for FormFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(n, _)| n))
            .finish()
    }
}

impl Drop for FormFields {
    fn drop(&mut self) {
        use zeroize::Zeroize as _;
        for (_, v) in &mut self.0 {
            v.zeroize();
        }
    }
}

/// A checked POST form ready to store.
pub(crate) struct PostPut {
    /// Bucket.
    pub(crate) bucket: String,
    /// Object key (`${filename}` already substituted).
    pub(crate) key: String,
    /// Form fields.
    pub(crate) fields: FormFields,
    /// The file part's own `Content-Type`.
    pub(crate) file_content_type: Option<String>,
    /// The file's bytes, streamed.
    pub(crate) body: StreamingBlob,
}

impl std::fmt::Debug for PostPut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostPut")
            .field("bucket", &self.bucket)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// The form fields passed through as PutObject headers (SSE).
const SSE_FIELDS: [&str; 7] = [
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-context",
    "x-amz-server-side-encryption-bucket-key-enabled",
    "x-amz-server-side-encryption-customer-algorithm",
    "x-amz-server-side-encryption-customer-key",
    "x-amz-server-side-encryption-customer-key-md5",
];

/// A `<Tagging>` document → the `x-amz-tagging` form (`k=v&…`, URL-encoded).
fn tagging_query(doc: &str) -> Result<String> {
    let mut d = xml::Deserializer::new(doc.as_bytes());
    let tagging = <Tagging as xml::Deserialize>::deserialize(&mut d)
        .and_then(|t| d.expect_eof().map(|()| t))
        .map_err(|_| Error::MalformedXml)?;
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    Ok(tagging
        .tag_set
        .iter()
        .map(|t| {
            format!(
                "{}={}",
                enc(t.key.as_deref().unwrap_or_default()),
                enc(t.value.as_deref().unwrap_or_default())
            )
        })
        .collect::<Vec<_>>()
        .join("&"))
}

/// The PutObject request a form stands for.
fn put_request(put: PostPut) -> Result<S3Request<PutObjectInput>> {
    let field = |name: &str| put.fields.get(name).map(str::to_owned);
    let mut headers = http::HeaderMap::new();
    for name in SSE_FIELDS {
        // Borrowed: no extra copy of an SSE-C key outside the wiped form fields.
        if let Some(v) = put.fields.get(name) {
            let v = http::HeaderValue::from_str(v)
                .map_err(|_| Error::InvalidArgument(format!("Invalid value for field {name}")))?;
            headers.insert(http::HeaderName::from_static(name), v);
        }
    }
    let mut metadata = Metadata::new();
    for (name, value) in &put.fields.0 {
        if let Some(m) = name.strip_prefix("x-amz-meta-") {
            metadata.insert(m.to_owned(), value.clone());
        }
    }
    let expires = match field("expires") {
        Some(e) => Some(
            parse_http_date(&e)
                .ok_or_else(|| Error::InvalidArgument("Invalid value for field expires".into()))?,
        ),
        None => None,
    };
    let input = PutObjectInput {
        bucket: put.bucket.clone(),
        key: put.key.clone(),
        body: Some(put.body),
        content_type: field("content-type").or(put.file_content_type.clone()),
        cache_control: field("cache-control"),
        content_disposition: field("content-disposition"),
        content_encoding: field("content-encoding"),
        expires,
        metadata: (!metadata.is_empty()).then_some(metadata),
        acl: field("acl").map(ObjectCannedACL::from),
        tagging: field("tagging").as_deref().map(tagging_query).transpose()?,
        ..Default::default()
    };
    let uri = format!(
        "/{}/{}",
        put.bucket,
        percent_encoding::utf8_percent_encode(&put.key, percent_encoding::NON_ALPHANUMERIC)
    )
    .parse()
    .map_err(Error::internal)?;
    Ok(S3Request {
        input,
        method: http::Method::PUT,
        uri,
        headers,
        extensions: form_extensions(),
        credentials: None,
        region: None,
        service: None,
        trailing_headers: None,
    })
}

/// Marks the PutObject as a form upload (no `Content-MD5` rule for Object Lock, see
/// [`super::lock_integrity`]).
fn form_extensions() -> http::Extensions {
    let mut ext = http::Extensions::new();
    ext.insert(super::lock_integrity::FormUpload);
    ext
}

impl ObjectServer {
    /// Stores a checked POST form as PutObject does.
    pub(crate) async fn post_object(&self, put: PostPut) -> Result<PutObjectOutput> {
        self.do_put_object(put_request(put)?).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tagging_documents_become_queries() {
        let q = tagging_query(
            "<Tagging><TagSet><Tag><Key>a b</Key><Value>1&amp;2</Value></Tag>\
             <Tag><Key>c</Key><Value></Value></Tag></TagSet></Tagging>",
        )
        .unwrap();
        assert_eq!(q, "a%20b=1%262&c=");
        assert!(matches!(
            tagging_query("<Tagging>"),
            Err(Error::MalformedXml)
        ));
    }
}
