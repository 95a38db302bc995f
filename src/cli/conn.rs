//! Connection settings of the client commands: flags, environment variables (KES precedence) and client building.

use std::path::PathBuf;

use client::{ApiKey, Client};

/// Endpoint variables, first match wins.
pub const SERVER_VARS: [&str; 3] = ["MINIO_KES_SERVER", "KES_SERVER", "MINIO_KMS_KES_ENDPOINT"];
/// API-key variables, first match wins.
pub const API_KEY_VARS: [&str; 3] = ["MINIO_KES_API_KEY", "KES_API_KEY", "MINIO_KMS_KES_API_KEY"];
/// Private-key file variables, first match wins.
pub const KEY_FILE_VARS: [&str; 3] = [
    "MINIO_KES_KEY_FILE",
    "KES_CLIENT_KEY",
    "MINIO_KES_CLIENT_KEY",
];
/// Certificate file variables, first match wins.
pub const CERT_FILE_VARS: [&str; 3] = [
    "MINIO_KES_CERT_FILE",
    "KES_CLIENT_CERT",
    "MINIO_KES_CLIENT_CERT",
];
/// Endpoint used when neither a flag nor a variable names one.
pub const DEFAULT_SERVER: &str = "127.0.0.1:7373";

/// Flags shared by every command that talks to a server.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConnArgs {
    /// Server endpoint(s), `HOST[:PORT]` or `https://HOST[:PORT]`; repeat or separate with commas.
    /// Default: $MINIO_KES_SERVER, $KES_SERVER, $MINIO_KMS_KES_ENDPOINT, else 127.0.0.1:7373.
    #[arg(
        short = 's',
        long = "server",
        value_name = "HOST[:PORT]",
        global = true,
        value_delimiter = ','
    )]
    pub server: Vec<String>,
    /// API key (`kes:v1:…`). Default: $MINIO_KES_API_KEY, $KES_API_KEY, $MINIO_KMS_KES_API_KEY.
    #[arg(
        short = 'a',
        long = "api-key",
        value_name = "KEY",
        global = true,
        hide_env_values = true
    )]
    pub api_key: Option<String>,
    /// Skip verification of the server's certificate.
    #[arg(short = 'k', long = "insecure", global = true)]
    pub insecure: bool,
    /// Trust the CA certificate(s) in this PEM file or directory instead of the system roots.
    #[arg(long = "ca", value_name = "PATH", global = true)]
    pub ca: Option<PathBuf>,
}

/// Resolved connection settings.
#[derive(Debug, PartialEq, Eq)]
pub enum Credentials {
    /// An API key.
    ApiKey(String),
    /// A certificate file and a private-key file.
    Files {
        /// Certificate PEM file.
        cert: PathBuf,
        /// Private key PEM file.
        key: PathBuf,
    },
}

/// Endpoints and credentials after applying flags and the environment.
#[derive(Debug, PartialEq, Eq)]
pub struct Resolved {
    /// Endpoint strings as given (normalised later by the client builder).
    pub servers: Vec<String>,
    /// How to authenticate.
    pub credentials: Credentials,
}

fn first(vars: &[&str], env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    vars.iter()
        .filter_map(|v| env(v))
        .find(|s| !s.trim().is_empty())
}

/// Applies KES's precedence: flags, then the variables in the order of the `*_VARS` constants.
///
/// # Errors
/// An API key together with a key or certificate file; only one of key/certificate file; no credentials.
pub fn resolve(args: &ConnArgs, env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Resolved> {
    let mut servers: Vec<String> = args
        .server
        .iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if servers.is_empty() {
        servers = first(&SERVER_VARS, env)
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
    }
    if servers.is_empty() {
        servers.push(DEFAULT_SERVER.to_string());
    }

    let api_key = args
        .api_key
        .clone()
        .filter(|k| !k.trim().is_empty())
        .or_else(|| first(&API_KEY_VARS, env));
    let key_file = first(&KEY_FILE_VARS, env);
    let cert_file = first(&CERT_FILE_VARS, env);
    let credentials = match (api_key, key_file, cert_file) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => anyhow::bail!(
            "an API key and a client certificate/private key file are both set; use only one \
             (unset KES_API_KEY or KES_CLIENT_CERT/KES_CLIENT_KEY)"
        ),
        (Some(k), None, None) => Credentials::ApiKey(k),
        (None, Some(key), Some(cert)) => Credentials::Files {
            cert: cert.into(),
            key: key.into(),
        },
        (None, Some(_), None) => {
            anyhow::bail!("a private key file is set but no client certificate (KES_CLIENT_CERT)")
        }
        (None, None, Some(_)) => {
            anyhow::bail!("a client certificate is set but no private key file (KES_CLIENT_KEY)")
        }
        (None, None, None) => anyhow::bail!(
            "no credentials: set KES_API_KEY (or --api-key), or KES_CLIENT_CERT and KES_CLIENT_KEY"
        ),
    };
    Ok(Resolved {
        servers,
        credentials,
    })
}

/// Builds a client from flags and the process environment.
///
/// # Errors
/// Conflicting or missing credentials, a malformed API key, unreadable files, bad endpoints.
pub fn connect(args: &ConnArgs) -> anyhow::Result<Client> {
    let r = resolve(args, &|v| std::env::var(v).ok())?;
    let mut b = Client::builder()
        .endpoints(r.servers)
        .insecure(args.insecure);
    if let Some(ca) = &args.ca {
        b = b.ca_file(ca);
    }
    b = match r.credentials {
        Credentials::ApiKey(k) => b.api_key(ApiKey::parse(&k)?),
        Credentials::Files { cert, key } => b.identity_files(cert, key),
    };
    Ok(b.build()?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests may panic")]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn server_precedence() {
        let args = ConnArgs::default();
        let e = env(&[
            ("MINIO_KMS_KES_ENDPOINT", "c:1"),
            ("KES_SERVER", "b:1"),
            ("KES_API_KEY", "x"),
        ]);
        assert_eq!(resolve(&args, &e).unwrap().servers, ["b:1"]);
        let e = env(&[("MINIO_KMS_KES_ENDPOINT", "c:1,d:1"), ("KES_API_KEY", "x")]);
        assert_eq!(resolve(&args, &e).unwrap().servers, ["c:1", "d:1"]);
        let e = env(&[
            ("MINIO_KES_SERVER", "a:1"),
            ("KES_SERVER", "b:1"),
            ("KES_API_KEY", "x"),
        ]);
        assert_eq!(resolve(&args, &e).unwrap().servers, ["a:1"]);
        let flag = ConnArgs {
            server: vec!["f:1".into(), " g:1 ".into()],
            ..ConnArgs::default()
        };
        assert_eq!(resolve(&flag, &e).unwrap().servers, ["f:1", "g:1"]);
        assert_eq!(
            resolve(&args, &env(&[("KES_API_KEY", "x")]))
                .unwrap()
                .servers,
            [DEFAULT_SERVER]
        );
    }

    #[test]
    fn credential_precedence_and_conflicts() {
        let args = ConnArgs::default();
        let e = env(&[("MINIO_KMS_KES_API_KEY", "c"), ("KES_API_KEY", "b")]);
        assert_eq!(
            resolve(&args, &e).unwrap().credentials,
            Credentials::ApiKey("b".into())
        );
        let e = env(&[("MINIO_KES_API_KEY", "a"), ("KES_API_KEY", "b")]);
        assert_eq!(
            resolve(&args, &e).unwrap().credentials,
            Credentials::ApiKey("a".into())
        );
        let flag = ConnArgs {
            api_key: Some("f".into()),
            ..ConnArgs::default()
        };
        assert_eq!(
            resolve(&flag, &e).unwrap().credentials,
            Credentials::ApiKey("f".into())
        );

        let e = env(&[
            ("MINIO_KES_CLIENT_KEY", "k3"),
            ("KES_CLIENT_KEY", "k2"),
            ("MINIO_KES_CLIENT_CERT", "c3"),
            ("MINIO_KES_CERT_FILE", "c1"),
        ]);
        assert_eq!(
            resolve(&args, &e).unwrap().credentials,
            Credentials::Files {
                cert: "c1".into(),
                key: "k2".into()
            }
        );

        let both = env(&[("KES_API_KEY", "x"), ("KES_CLIENT_CERT", "c")]);
        assert!(
            resolve(&args, &both)
                .unwrap_err()
                .to_string()
                .contains("both set")
        );
        assert!(
            resolve(&flag, &env(&[("KES_CLIENT_KEY", "k")]))
                .unwrap_err()
                .to_string()
                .contains("both set")
        );
        assert!(
            resolve(&args, &env(&[("KES_CLIENT_KEY", "k")]))
                .unwrap_err()
                .to_string()
                .contains("no client certificate")
        );
        assert!(
            resolve(&args, &env(&[]))
                .unwrap_err()
                .to_string()
                .contains("no credentials")
        );
        // Empty values do not count.
        let e = env(&[("MINIO_KES_API_KEY", ""), ("KES_API_KEY", "b")]);
        assert_eq!(
            resolve(&args, &e).unwrap().credentials,
            Credentials::ApiKey("b".into())
        );
    }
}
