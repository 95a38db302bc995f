//! `kes identity …`, including `identity new` (API key, optional key/certificate files).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use client::{ApiKey, CertificateOptions};
use serde_json::json;

use super::conn::{ConnArgs, connect};
use super::output::{self, Out};
use super::{IdentityCmd, NewIdentityArgs};

pub(super) async fn run(cmd: IdentityCmd, conn: &ConnArgs, out: Out) -> anyhow::Result<()> {
    match cmd {
        IdentityCmd::New(args) => new(&args, out),
        IdentityCmd::Of { value } => {
            let id = identity_of(&value)?;
            if out.json {
                return out.json(&json!({ "identity": id }));
            }
            output::line(&id)
        }
        IdentityCmd::Info { identity } => {
            let c = connect(conn)?;
            match identity {
                None => {
                    let me = c.self_describe().await?;
                    if out.json {
                        return out.json(&me);
                    }
                    let mut rows = vec![("Identity", me.identity.clone())];
                    if me.admin {
                        rows.push(("Admin", out.green("yes")));
                    }
                    if let Some(p) = &me.policy {
                        rows.push(("Policy", p.clone()));
                    }
                    for a in me.allow.keys() {
                        rows.push(("Allow", a.clone()));
                    }
                    for d in me.deny.keys() {
                        rows.push(("Deny", d.clone()));
                    }
                    rows.push(("Created", output::time(&me.created_at)));
                    if let Some(by) = &me.created_by {
                        rows.push(("Created by", by.clone()));
                    }
                    out.table(&rows)
                }
                Some(id) => {
                    let d = c.describe_identity(&id).await?;
                    if out.json {
                        return out.json(&d);
                    }
                    let mut rows = vec![("Identity", id.clone())];
                    if d.admin {
                        rows.push(("Admin", out.green("yes")));
                    }
                    if let Some(p) = &d.policy {
                        rows.push(("Policy", p.clone()));
                    }
                    rows.push(("Created", output::time(&d.created_at)));
                    if let Some(by) = &d.created_by {
                        rows.push(("Created by", by.clone()));
                    }
                    out.table(&rows)
                }
            }
        }
        IdentityCmd::Ls { pattern } => {
            let c = connect(conn)?;
            let r = c.list_identities(pattern.as_deref().unwrap_or("*")).await?;
            super::key::print_names(&out, &r.identities)
        }
    }
}

/// Identity of an API key, or of the first certificate in a PEM file.
fn identity_of(value: &str) -> anyhow::Result<String> {
    let v = value.trim();
    if v.starts_with(client::apikey::PREFIX) {
        return Ok(ApiKey::parse(v)?.identity());
    }
    let path = Path::new(v);
    if path.exists() {
        let pem = std::fs::read(path).with_context(|| format!("cannot read '{v}'"))?;
        return Ok(client::identity::of_certificate_pem(&pem)?);
    }
    match ApiKey::parse(v) {
        Ok(k) => Ok(k.identity()),
        Err(_) => anyhow::bail!("'{v}' is neither an API key nor a certificate file"),
    }
}

fn new(a: &NewIdentityArgs, out: Out) -> anyhow::Result<()> {
    let validity = parse_go_duration(&a.expiry)?;
    if validity <= time::Duration::ZERO {
        anyhow::bail!("--expiry must be positive");
    }
    if !a.force {
        for p in [&a.key, &a.cert].into_iter().flatten() {
            if p.exists() {
                anyhow::bail!("'{}' already exists; use --force to overwrite", p.display());
            }
        }
    }
    let key = ApiKey::generate()?;
    let identity = key.identity();
    if let (Some(key_path), Some(cert_path)) = (&a.key, &a.cert) {
        let ck = key.certificate_with(&CertificateOptions {
            subject: a.subject.clone(),
            dns_names: a.dns.clone(),
            ip_addresses: a.ip.clone(),
            validity,
        })?;
        write_atomic(key_path, ck.key_pem.as_bytes(), 0o600, a.force)?;
        write_atomic(cert_path, ck.cert_pem.as_bytes(), 0o644, a.force)?;
    }
    let api_key = zeroize::Zeroizing::new(key.to_string());
    if out.json {
        let mut v = json!({ "api_key": api_key.as_str(), "identity": identity });
        if let (Some(k), Some(c), Some(obj)) = (&a.key, &a.cert, v.as_object_mut()) {
            obj.insert("private_key_file".into(), json!(k.display().to_string()));
            obj.insert("certificate_file".into(), json!(c.display().to_string()));
        }
        return out.json(&v);
    }
    let mut text = zeroize::Zeroizing::new(String::new());
    text.push_str(&format!(
        "\n{}\n\n   {}\n\nThis is the only time it is shown. Keep it secret and secure!\n\n",
        out.bold("Your API key:"),
        api_key.as_str()
    ));
    text.push_str(&format!(
        "{}\n\n   {}\n\nThe identity is not a secret. It can be shared. Any peer\n\
         needs this identity in order to verify your API key.\n\n\
         The identity can be computed again via:\n\n    kes identity of {}\n",
        out.bold("Your Identity:"),
        identity,
        api_key.as_str()
    ));
    if let (Some(k), Some(c)) = (&a.key, &a.cert) {
        text.push_str(&format!(
            "\nPrivate key written to {} and certificate to {}.\n",
            k.display(),
            c.display()
        ));
    }
    output::write(text.as_bytes())
}

/// Writes `bytes` to `path` atomically: a new temp file in the same directory (mode `mode` on Unix), fsync, then
/// a rename (with `force`) or a hard link that fails if `path` exists (without `force`).
fn write_atomic(path: &Path, bytes: &[u8], mode: u32, force: bool) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut suffix = [0u8; 8];
    aws_lc_rs::rand::fill(&mut suffix).map_err(|_| anyhow::anyhow!("random generator failed"))?;
    let tmp = dir.join(format!(".kes-tmp-{}", hex::encode(suffix)));
    let result = write_new(&tmp, bytes, mode).and_then(|()| {
        if force {
            std::fs::rename(&tmp, path)
                .with_context(|| format!("cannot write '{}'", path.display()))
        } else {
            match std::fs::hard_link(&tmp, path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    anyhow::bail!(
                        "'{}' already exists; use --force to overwrite",
                        path.display()
                    )
                }
                Err(e) => Err(e).with_context(|| format!("cannot write '{}'", path.display())),
            }
        }
    });
    // After a rename the temp name is gone; after a link (or a failure) remove it.
    let _ = std::fs::remove_file(&tmp);
    result?;
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut f = opts
        .open(path)
        .with_context(|| format!("cannot create '{}'", path.display()))?;
    f.write_all(bytes)
        .with_context(|| format!("cannot write '{}'", path.display()))?;
    f.sync_all()
        .with_context(|| format!("cannot write '{}'", path.display()))?;
    Ok(())
}

/// Parses a Go duration (`720h`, `1h30m`, `90s`, `1.5h`) with the config's parser.
fn parse_go_duration(text: &str) -> anyhow::Result<time::Duration> {
    let d = crate::config::duration::parse(text)
        .map_err(|e| anyhow::anyhow!("{e} (examples: 720h, 1h30m, 90s)"))?;
    time::Duration::try_from(d).map_err(|_| anyhow::anyhow!("invalid duration '{text}'"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests may panic")]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(
            parse_go_duration("720h").unwrap(),
            time::Duration::hours(720)
        );
        assert_eq!(
            parse_go_duration("1h30m").unwrap(),
            time::Duration::minutes(90)
        );
        assert_eq!(
            parse_go_duration("1.5h").unwrap(),
            time::Duration::minutes(90)
        );
        assert_eq!(
            parse_go_duration("90s").unwrap(),
            time::Duration::seconds(90)
        );
        assert_eq!(parse_go_duration("0").unwrap(), time::Duration::ZERO);
        for bad in ["", "h", "10", "10d", "1h30", "-1h", "1..5h"] {
            assert!(parse_go_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn atomic_write_refuses_to_clobber_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.pem");
        write_atomic(&p, b"one", 0o600, false).unwrap();
        let err = write_atomic(&p, b"two", 0o600, false).unwrap_err();
        assert!(err.to_string().contains("already exists"), "{err}");
        assert_eq!(std::fs::read(&p).unwrap(), b"one");
        write_atomic(&p, b"two", 0o600, true).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(
                std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1, "no temp files left behind");
    }

    #[test]
    fn identity_of_key_and_file() {
        let k = "kes:v1:AD9E7FSYWrMD+VjhI6q545cYT9YOyFxZb7UnjEepYDRc";
        let id = "3ecfcdf38fcbe141ae26a1030f81e96b753365a46760ae6b578698a97c59fd22";
        assert_eq!(identity_of(k).unwrap(), id);
        assert_eq!(identity_of(k.trim_start_matches("kes:v1:")).unwrap(), id);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.pem");
        std::fs::write(
            &p,
            ApiKey::parse(k).unwrap().certificate().unwrap().cert_pem,
        )
        .unwrap();
        assert_eq!(identity_of(p.to_str().unwrap()).unwrap(), id);
        assert!(identity_of("nonsense").is_err());
    }
}
