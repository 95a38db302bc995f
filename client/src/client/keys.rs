//! Key management and cryptographic operations: `/v1/key/…` and the lifecycle extension `/v1/ext/key/…` (disable,
//! enable, rotate, rewrap, describe with versions).

use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use super::Client;
use super::transport::Req;
use crate::error::{Error, Result};
use crate::wire::{
    Base64, BulkDecryptItem, DecryptRequest, DecryptResponse, DescribeKeyExtResponse,
    DescribeKeyResponse, EncryptRequest, EncryptResponse, GenerateRequest, GenerateResponse,
    HmacRequest, HmacResponse, ImportKeyRequest, ListKeysResponse, RewrapRequest, RewrapResponse,
    RotateKeyResponse, SecretBase64,
};

impl Client {
    /// `POST /v1/key/create/{name}`. 400 `key already exists` if present.
    pub async fn create_key(&self, name: &str) -> Result<()> {
        self.call_empty(Req::new(Method::POST, &["v1", "key", "create", name]))
            .await
    }

    /// `POST /v1/key/import/{name}` with a 32-byte key and cipher (`AES256` or `ChaCha20`; empty = server default).
    pub async fn import_key(&self, name: &str, key: &[u8], cipher: &str) -> Result<()> {
        let body = ImportKeyRequest {
            key: SecretBase64::from(key),
            cipher: cipher.to_string(),
        };
        // The JSON text contains the key; `Bytes` cannot zeroize, so keep this request short-lived.
        self.call_empty(Req::new(Method::POST, &["v1", "key", "import", name]).json(&body)?)
            .await
    }

    /// `GET /v1/key/describe/{name}`.
    pub async fn describe_key(&self, name: &str) -> Result<DescribeKeyResponse> {
        self.call_json(Req::new(Method::GET, &["v1", "key", "describe", name]))
            .await
    }

    /// `GET /v1/key/list/{prefix}`: one page of key names starting with `prefix` (a trailing `*` is allowed).
    /// `continue_at` (from a previous page) is sent as the `continue` query parameter; servers that return all
    /// names at once ignore it.
    pub async fn list_keys(
        &self,
        prefix: &str,
        continue_at: Option<&str>,
    ) -> Result<ListKeysResponse> {
        let query = continue_at
            .filter(|c| !c.is_empty())
            .map(|c| ("continue", c));
        self.call_json(
            Req::new(Method::GET, &["v1", "key", "list", prefix]).query(query.as_slice()),
        )
        .await
    }

    /// All key names starting with `prefix`, following `continue_at` until the last page.
    pub async fn list_all_keys(&self, prefix: &str) -> Result<Vec<String>> {
        let mut names = Vec::new();
        let mut cont: Option<String> = None;
        loop {
            let page = self.list_keys(prefix, cont.as_deref()).await?;
            names.extend(page.names);
            if page.continue_at.is_empty() || cont.as_deref() == Some(page.continue_at.as_str()) {
                return Ok(names);
            }
            cont = Some(page.continue_at);
        }
    }

    /// `DELETE /v1/key/delete/{name}`. 404 `key does not exist` if absent.
    pub async fn delete_key(&self, name: &str) -> Result<()> {
        self.call_empty(Req::new(Method::DELETE, &["v1", "key", "delete", name]))
            .await
    }

    /// `POST /v1/key/encrypt/{name}`: seals `plaintext` with associated data `context` (may be empty).
    pub async fn encrypt(&self, name: &str, plaintext: &[u8], context: &[u8]) -> Result<Vec<u8>> {
        let body = EncryptRequest {
            plaintext: plaintext.into(),
            context: optional(context),
            version: None,
        };
        let r: EncryptResponse = self.key_operation("encrypt", name, &body).await?;
        Ok(r.ciphertext.into_inner())
    }

    /// `POST /v1/key/generate/{name}`: a new 32-byte data key, in plaintext and sealed with `context`.
    pub async fn generate(&self, name: &str, context: &[u8]) -> Result<GenerateResponse> {
        let body = GenerateRequest {
            context: optional(context),
            version: None,
        };
        self.key_operation("generate", name, &body).await
    }

    /// `POST /v1/key/decrypt/{name}`. 400 `decryption failed: ciphertext is not authentic` on a bad ciphertext or
    /// context.
    pub async fn decrypt(
        &self,
        name: &str,
        ciphertext: &[u8],
        context: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        let body = DecryptRequest {
            ciphertext: ciphertext.into(),
            context: optional(context),
            version: None,
        };
        let r: DecryptResponse = self.key_operation("decrypt", name, &body).await?;
        Ok(r.plaintext.into_inner())
    }

    /// `POST /v1/key/bulk/decrypt/{name}` (legacy route, ≤ 1000 items): all plaintexts in order, or one error.
    pub async fn bulk_decrypt(
        &self,
        name: &str,
        items: &[BulkDecryptItem],
    ) -> Result<Vec<Zeroizing<Vec<u8>>>> {
        let r: Vec<DecryptResponse> = self
            .call_json(Req::new(Method::POST, &["v1", "key", "bulk", "decrypt", name]).json(items)?)
            .await?;
        if r.len() != items.len() {
            return Err(Error::Decode(format!(
                "bulk decrypt returned {} plaintexts for {} ciphertexts",
                r.len(),
                items.len()
            )));
        }
        Ok(r.into_iter().map(|p| p.plaintext.into_inner()).collect())
    }

    /// `PUT /v1/key/hmac/{name}` (sent as PUT without `Content-Type`, like the Go SDK): HMAC-SHA256 of `message`.
    pub async fn hmac(&self, name: &str, message: &[u8]) -> Result<Vec<u8>> {
        let body = HmacRequest {
            message: message.into(),
            version: None,
        };
        let r: HmacResponse = self
            .call_json(Req::new(Method::PUT, &["v1", "key", "hmac", name]).json_untyped(&body)?)
            .await?;
        Ok(r.hmac.into_inner())
    }

    /// `PUT /v1/ext/key/disable/{name}` (extension): the key answers 403 `key is disabled` until enabled.
    pub async fn disable_key(&self, name: &str) -> Result<()> {
        self.call_empty(Req::new(
            Method::PUT,
            &["v1", "ext", "key", "disable", name],
        ))
        .await
    }

    /// `PUT /v1/ext/key/enable/{name}` (extension).
    pub async fn enable_key(&self, name: &str) -> Result<()> {
        self.call_empty(Req::new(Method::PUT, &["v1", "ext", "key", "enable", name]))
            .await
    }

    /// `PUT /v1/ext/key/rotate/{name}` (extension): adds a version, which new ciphertexts use from then on; every
    /// older ciphertext still decrypts. Returns the new version's number (the key as created is version 0).
    pub async fn rotate_key(&self, name: &str) -> Result<u32> {
        let r: RotateKeyResponse = self
            .call_json(Req::new(Method::PUT, &["v1", "ext", "key", "rotate", name]))
            .await?;
        Ok(r.version)
    }

    /// `PUT /v1/ext/key/rewrap/{name}` (extension): the plaintext of `ciphertext` (any version of the key, with
    /// associated data `context`) sealed under the newest version with the same context. The plaintext never leaves
    /// the server. 400 `decryption failed: ciphertext is not authentic`, 403 `key is disabled`.
    pub async fn rewrap(&self, name: &str, ciphertext: &[u8], context: &[u8]) -> Result<Vec<u8>> {
        let body = RewrapRequest {
            ciphertext: ciphertext.into(),
            context: optional(context),
        };
        let r: RewrapResponse = self
            .call_json(Req::new(Method::PUT, &["v1", "ext", "key", "rewrap", name]).json(&body)?)
            .await?;
        Ok(r.ciphertext.into_inner())
    }

    /// `GET /v1/ext/key/describe/{name}` (extension): the key's state and every version, newest last.
    pub async fn describe_key_ext(&self, name: &str) -> Result<DescribeKeyExtResponse> {
        self.call_json(Req::new(
            Method::GET,
            &["v1", "ext", "key", "describe", name],
        ))
        .await
    }

    /// `POST /v1/key/{operation}/{name}` with a JSON body, decoding the JSON answer.
    async fn key_operation<T: DeserializeOwned>(
        &self,
        operation: &str,
        name: &str,
        body: &impl Serialize,
    ) -> Result<T> {
        self.call_json(Req::new(Method::POST, &["v1", "key", operation, name]).json(body)?)
            .await
    }
}

/// The `context` field for associated data `bytes`: `None` when empty, as KES clients send it.
fn optional(bytes: &[u8]) -> Option<Base64> {
    (!bytes.is_empty()).then(|| bytes.into())
}
