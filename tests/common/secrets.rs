//! Secrets a test creates, recorded for the suite-wide log scan.
//!
//! When `KES_TEST_SECRETS_DIR` is set (by `scripts/test.sh`), every recorded
//! secret is appended to `<dir>/<pid>.tsv` as `label<TAB>form` lines, one per
//! form a log could show it in (the text itself, standard base64, lowercase
//! hex). `scripts/scan-secrets.sh` then searches the suite's captured output
//! for every form and fails on any hit. Unset, recording does nothing.
//!
//! Record only what a server must never print: API keys (the `kes server
//! --dev` banner prints its own key on purpose and is not recorded), key
//! material, plaintexts and SSE-C keys.

use std::io::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use client::ApiKey;

/// Forms shorter than this are too likely to occur by chance.
const MIN_LEN: usize = 16;

/// Records `secret` (raw bytes) under `label` in all its forms.
pub fn record(label: &str, secret: &[u8]) {
    let mut forms = vec![B64.encode(secret), hex::encode(secret)];
    if let Ok(text) = std::str::from_utf8(secret)
        && !text.chars().any(char::is_control)
    {
        forms.push(text.to_owned());
    }
    record_forms(label, &forms);
}

/// Records a base64 value a server returned (e.g. a generated plaintext),
/// with its decoded bytes.
pub fn record_b64(label: &str, b64: &str) {
    match B64.decode(b64) {
        Ok(bytes) => record(label, &bytes),
        Err(_) => record_forms(label, &[b64.to_owned()]),
    }
}

/// Records `text` exactly as given (already in the form a log would show).
pub fn record_text(label: &str, text: &str) {
    record_forms(label, &[text.to_owned()]);
}

/// Records an API key: its `kes:v1:` text and its base64 part.
pub fn record_api_key(key: &ApiKey) {
    let text = key.to_string();
    let b64 = text.trim_start_matches("kes:v1:").to_owned();
    record_forms("API key", &[text, b64]);
}

fn record_forms(label: &str, forms: &[String]) {
    let Some(dir) = std::env::var_os("KES_TEST_SECRETS_DIR") else {
        return;
    };
    let path = std::path::Path::new(&dir).join(format!("{}.tsv", std::process::id()));
    let mut lines = String::new();
    for form in forms.iter().filter(|f| f.len() >= MIN_LEN) {
        lines.push_str(&format!("{label}\t{form}\n"));
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .expect("KES_TEST_SECRETS_DIR is writable");
    f.write_all(lines.as_bytes()).expect("record a secret");
}
