//! `kes key …`

use std::io::Read as _;

use anyhow::Context as _;
use client::wire::{b64_decode, b64_encode};
use serde_json::json;
use zeroize::Zeroizing;

use super::KeyCmd;
use super::conn::{ConnArgs, connect};
use super::output::{self, Out};

pub(super) async fn run(cmd: KeyCmd, conn: &ConnArgs, out: Out) -> anyhow::Result<()> {
    let c = connect(conn)?;
    match cmd {
        KeyCmd::Create { names } => {
            for name in names {
                c.create_key(&name).await?;
            }
            Ok(())
        }
        KeyCmd::Import { name, key } => {
            let text = match key {
                Some(k) => Zeroizing::new(k),
                None => {
                    let mut s = Zeroizing::new(String::new());
                    std::io::stdin()
                        .read_to_string(&mut s)
                        .context("cannot read the key from stdin")?;
                    s
                }
            };
            let bytes = Zeroizing::new(
                b64_decode(text.trim())
                    .map_err(|_| anyhow::anyhow!("the key is not valid base64"))?,
            );
            if bytes.len() != 32 {
                anyhow::bail!("the key must be 32 bytes, got {}", bytes.len());
            }
            c.import_key(&name, &bytes, "AES256").await?;
            Ok(())
        }
        KeyCmd::Info { name } => info(&c, &name, &out).await,
        KeyCmd::Ls { pattern } => {
            let names = c.list_all_keys(pattern.as_deref().unwrap_or("*")).await?;
            print_names(&out, &names)
        }
        KeyCmd::Rm { names } => {
            for name in names {
                c.delete_key(&name).await?;
            }
            Ok(())
        }
        KeyCmd::Encrypt { name, message } => {
            let ct = c.encrypt(&name, message.as_bytes(), b"").await?;
            if out.json {
                return out.json(&json!({ "ciphertext": b64_encode(&ct) }));
            }
            output::line(&b64_encode(&ct))
        }
        KeyCmd::Decrypt {
            name,
            ciphertext,
            context,
        } => {
            let (ct, ctx) = ciphertext_args(&ciphertext, context.as_deref())?;
            let pt = c.decrypt(&name, &ct, &ctx).await?;
            if out.json {
                let text = Zeroizing::new(b64_encode(&pt));
                return out.json(&json!({ "plaintext": text.as_str() }));
            }
            let mut buf = Zeroizing::new(pt.to_vec());
            buf.push(b'\n');
            output::write(&buf)
        }
        KeyCmd::Dek { name, context } => {
            let ctx = context.unwrap_or_default();
            let g = c.generate(&name, ctx.as_bytes()).await?;
            let pt = Zeroizing::new(b64_encode(g.plaintext.as_bytes()));
            let ct = b64_encode(g.ciphertext.as_bytes());
            if out.json {
                return out.json(&json!({ "plaintext": pt.as_str(), "ciphertext": ct }));
            }
            out.table(&[("Plaintext", pt.to_string()), ("Ciphertext", ct)])
        }
        KeyCmd::Disable { name } => Ok(c.disable_key(&name).await?),
        KeyCmd::Enable { name } => Ok(c.enable_key(&name).await?),
        KeyCmd::Rotate { name } => {
            let version = c.rotate_key(&name).await?;
            if out.json {
                return out.json(&json!({ "version": version }));
            }
            output::line(&version.to_string())
        }
        KeyCmd::Rewrap {
            name,
            ciphertext,
            context,
        } => {
            let (ct, ctx) = ciphertext_args(&ciphertext, context.as_deref())?;
            let new = c.rewrap(&name, &ct, &ctx).await?;
            if out.json {
                return out.json(&json!({ "ciphertext": b64_encode(&new) }));
            }
            output::line(&b64_encode(&new))
        }
    }
}

/// `kes key info`: upstream's describe, then the extension describe (state and versions). Against
/// a server without the extension (404 other than `key does not exist`, legacy 501) or a policy
/// that allows only the plain describe (403), upstream's describe is what is shown.
async fn info(c: &client::Client, name: &str, out: &Out) -> anyhow::Result<()> {
    let plain = c.describe_key(name).await?;
    let d = match c.describe_key_ext(name).await {
        Ok(d) => d,
        Err(client::Error::Api { status, message })
            if (status == 404 && message != client::Error::KEY_NOT_FOUND.1)
                || status == 501
                || status == 403 =>
        {
            if out.json {
                return out.json(&plain);
            }
            return out.table(&[
                ("Name", plain.name.clone()),
                ("Algorithm", plain.algorithm.clone()),
                ("Date", output::time(&plain.created_at)),
                ("Owner", plain.created_by.clone()),
            ]);
        }
        Err(e) => return Err(e.into()),
    };
    if out.json {
        return out.json(&d);
    }
    let state = if d.enabled {
        out.green("enabled")
    } else {
        out.red("disabled")
    };
    let mut rows = vec![
        ("Name", d.name.clone()),
        ("Algorithm", d.algorithm.clone()),
        ("Date", output::time(&d.created_at)),
        ("Owner", d.created_by.clone()),
        ("State", state),
    ];
    let labels: Vec<String> = d
        .versions
        .iter()
        .map(|v| format!("Version {}", v.version))
        .collect();
    for (v, label) in d.versions.iter().zip(&labels) {
        rows.push((
            label.as_str(),
            format!("{}  {}", output::time(&v.created_at), v.created_by),
        ));
    }
    out.table(&rows)
}

/// Prints names one per line, or a JSON array.
pub(super) fn print_names(out: &Out, names: &[String]) -> anyhow::Result<()> {
    if out.json {
        return out.json(&names);
    }
    let mut text = String::new();
    for n in names {
        text.push_str(n);
        text.push('\n');
    }
    output::write(text.as_bytes())
}

/// Decodes the base64 `ciphertext` and optional base64 `context` arguments of
/// `kes key decrypt` and `kes key rewrap` (an absent context is empty).
fn ciphertext_args(ciphertext: &str, context: Option<&str>) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
    let ct = b64_decode(ciphertext.trim())
        .map_err(|_| anyhow::anyhow!("the ciphertext is not valid base64"))?;
    let ctx = match context {
        Some(c) => {
            b64_decode(c.trim()).map_err(|_| anyhow::anyhow!("the context is not valid base64"))?
        }
        None => Vec::new(),
    };
    Ok((ct, ctx))
}
