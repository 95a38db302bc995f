//! Before the run: the key (created if missing), `--extra-keys` more keys (created
//! concurrently), `--rotate`, and the ciphertext a `decrypt` run opens.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context as _;
use bytes::Bytes;
use http::{Method, StatusCode};

use crate::conn::{Conn, Target};

/// Connections used to create the extra keys.
const CREATE_WORKERS: usize = 32;

/// The body of every generate (and decrypt) request: `context` is base64 of "ctx".
pub(crate) const CONTEXT_B64: &str = "Y3R4";

/// Sends one request on `conn` and returns its status and body.
async fn call(
    target: &Target,
    conn: &mut Conn,
    method: Method,
    path: &str,
    body: Bytes,
) -> anyhow::Result<(StatusCode, Bytes)> {
    let a = conn.exchange(target.request(method, path, body)?).await?;
    Ok((a.status, a.body))
}

/// Creates `name`; an existing key is fine (KES answers 400 "key already exists").
pub(crate) async fn ensure_key(target: &Target, conn: &mut Conn, name: &str) -> anyhow::Result<()> {
    let (status, body) = call(
        target,
        conn,
        Method::POST,
        &format!("/v1/key/create/{name}"),
        Bytes::new(),
    )
    .await?;
    if !(status.is_success() || status == StatusCode::BAD_REQUEST) {
        anyhow::bail!("create {name}: {status} {}", String::from_utf8_lossy(&body));
    }
    Ok(())
}

/// Creates `<prefix>-extra-0 … <prefix>-extra-<n-1>` from [`CREATE_WORKERS`] connections.
pub(crate) async fn extra_keys(target: &Target, prefix: &str, n: usize) -> anyhow::Result<()> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..CREATE_WORKERS.min(n) {
        let (target, next, prefix) = (target.clone(), next.clone(), prefix.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut conn = target.connect().await?.conn;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return anyhow::Ok(());
                }
                ensure_key(&target, &mut conn, &format!("{prefix}-extra-{i}")).await?;
            }
        }));
    }
    for t in tasks {
        t.await.context("create task")??;
    }
    Ok(())
}

/// A fresh ciphertext of `name` (context [`CONTEXT_B64`]), base64 as the server sent it.
pub(crate) async fn ciphertext(
    target: &Target,
    conn: &mut Conn,
    name: &str,
) -> anyhow::Result<String> {
    let (status, body) = call(
        target,
        conn,
        Method::POST,
        &format!("/v1/key/generate/{name}"),
        Bytes::from(format!("{{\"context\":\"{CONTEXT_B64}\"}}")),
    )
    .await?;
    if !status.is_success() {
        anyhow::bail!(
            "generate {name}: {status} {}",
            String::from_utf8_lossy(&body)
        );
    }
    ciphertext_of(&body).context("generate answered no ciphertext")
}

/// The `ciphertext` field of a generate answer (the plaintext field is not read).
pub(crate) fn ciphertext_of(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Generated {
        ciphertext: String,
    }
    serde_json::from_slice::<Generated>(body)
        .ok()
        .map(|g| g.ciphertext)
}

/// Rotates `name` until its newest version is `target_version` (lifecycle extension;
/// an error if it is already newer).
pub(crate) async fn rotate_to(
    target: &Target,
    conn: &mut Conn,
    name: &str,
    target_version: u32,
) -> anyhow::Result<()> {
    let (status, body) = call(
        target,
        conn,
        Method::GET,
        &format!("/v1/ext/key/describe/{name}"),
        Bytes::new(),
    )
    .await?;
    if !status.is_success() {
        anyhow::bail!("the server does not serve the key lifecycle extension ({status})");
    }
    let d: serde_json::Value = serde_json::from_slice(&body)?;
    let mut newest = d
        .get("versions")
        .and_then(serde_json::Value::as_array)
        .map_or(0, |v| v.len().saturating_sub(1)) as u64;
    if newest > u64::from(target_version) {
        anyhow::bail!(
            "key {name} is already at version {newest} (> {target_version}); use another --name"
        );
    }
    while newest < u64::from(target_version) {
        let (status, body) = call(
            target,
            conn,
            Method::PUT,
            &format!("/v1/ext/key/rotate/{name}"),
            Bytes::new(),
        )
        .await?;
        if !status.is_success() {
            anyhow::bail!("rotate {name}: {status}");
        }
        let r: serde_json::Value = serde_json::from_slice(&body)?;
        newest = r
            .get("version")
            .and_then(serde_json::Value::as_u64)
            .context("rotate answered no version")?;
    }
    Ok(())
}
