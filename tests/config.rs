//! Configuration: the annotated reference config, KES-format configs,
//! `${VAR}` substitution, keystore section errors, and the ready-made
//! policy files.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
#![allow(clippy::unwrap_used)] // tests fail loudly on unexpected errors

use std::collections::BTreeMap;
use std::path::Path;

use kes::config::{self, ClientAuth, KeystoreSettings};
use kes::policy::Policy;

const ID: &str = "3ecfcdf38fcbe141ae26a1030f81e96b753365a46760ae6b578698a97c59fd22";

fn env(name: &str) -> Option<String> {
    (name == "MINIO_IDENTITY").then(|| ID.to_owned())
}

#[test]
fn reference_config_parses() {
    let text = include_str!("../server-config.yaml");
    let s = config::parse(text, Path::new("/etc/kes"), env).unwrap();
    assert_eq!(s.address.to_string(), "0.0.0.0:7373");
    assert!(s.admin.is_none(), "'disabled' turns admin off");
    assert_eq!(s.tls.key, Path::new("/etc/kes/./private.key"));
    assert_eq!(s.tls.auth, ClientAuth::RequireAny);
    assert_eq!(
        s.keystore,
        KeystoreSettings::Fs {
            path: "/etc/kes/./keys".into()
        }
    );
    assert_eq!(s.keys, vec!["my-minio-sse-s3-key".to_owned()]);
    assert_eq!(
        s.policies.identities.values().next().map(String::as_str),
        Some("minio")
    );
    assert_eq!(s.cache.any.as_secs(), 300);
    assert_eq!(s.log.audit, None);
    let err = config::parse(text, Path::new("."), |_| None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("MINIO_IDENTITY") && err.contains("line "),
        "{err}"
    );
}

/// A config in the shape KES's own documentation uses, with legacy keys.
const KES_STYLE: &str = r#"
address: 0.0.0.0:7373
admin:
  identity: 3ecfcdf38fcbe141ae26a1030f81e96b753365a46760ae6b578698a97c59fd22
tls:
  key: ./server.key
  cert: ./server.cert
  proxy:
    identities: []
    header:
      cert: X-Tls-Client-Cert
policy:
  my-app:
    allow:
    - /v1/key/create/my-app*
    - /v1/key/generate/my-app*
    deny:
    - /v1/key/generate/my-app-internal*
    identities:
    - df7281ca3fed4ef7d06297eb7cb9d590a4edc863b4425f4762bb2afaebfd3258
cache:
  expiry:
    any: 5m0s
    unused: 20s
log:
  error: on
  audit: on
keystore:
  fs:
    path: ./keys
"#;

#[test]
fn kes_style_config_loads_unchanged() {
    let s = config::parse(KES_STYLE, Path::new("."), |_| None).unwrap();
    assert_eq!(s.admin.as_ref().map(|a| a.as_str()), Some(ID));
    assert_eq!(s.cache.unused.as_secs(), 20);
    assert_eq!(s.cache.offline.as_secs(), 0);
    assert!(s.log.audit.is_some());
    let (name, policy) = s
        .policies
        .policy_of(
            &kes::policy::Identity::parse(
                "df7281ca3fed4ef7d06297eb7cb9d590a4edc863b4425f4762bb2afaebfd3258",
            )
            .unwrap(),
        )
        .unwrap();
    assert_eq!(name, "my-app");
    assert!(policy.permits("/v1/key/generate/my-app-1"));
    assert!(!policy.permits("/v1/key/generate/my-app-internal-1"));
}

#[test]
fn keystore_section_errors_name_the_section() {
    let base = "admin:\n  identity: disabled\ntls:\n  key: k\n  cert: c\n";
    let cases = [
        ("", "keystore: no keystore specified"),
        (
            "keystore:\n  fs:\n    path: a\n  vault:\n    endpoint: x\n",
            "more than once keystore specified",
        ),
        (
            "keystore:\n  vault:\n    endpoint: https://vault.example.net:8200\n",
            "keystore.vault:",
        ),
        (
            "keystore:\n  aws:\n    secretsmanager:\n      endpoint: x\n",
            "keystore.aws.secretsmanager.region: no region specified",
        ),
        (
            "keystore:\n  nosuch:\n    a: b\n",
            "keystore.nosuch: unknown keystore",
        ),
        ("keystore:\n  fs: {}\n", "keystore.fs.path"),
    ];
    for (ks, want) in cases {
        let err = config::parse(&format!("{base}{ks}"), Path::new("."), |_| None)
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{ks:?}: {err}");
    }
}

#[test]
fn invalid_values_are_rejected_with_their_key() {
    let base =
        "admin:\n  identity: disabled\ntls:\n  key: k\n  cert: c\nkeystore:\n  fs:\n    path: p\n";
    let cases = [
        ("version: v2\n", "version"),
        ("address: localhost\n", "address"),
        (
            "tls2: x\ncache:\n  expiry:\n    any: -1s\n",
            "cache.expiry.any",
        ),
        ("log:\n  error: LOUD\n", "log.error"),
        ("api:\n  /v1/nope:\n    timeout: 1s\n", "api"),
        ("keys:\n- name: a\n- name: a\n", "more than once"),
        (
            "policy:\n  a:\n    identities: [3ecfcdf38fcbe141ae26a1030f81e96b753365a46760ae6b578698a97c59fd22]\n  b:\n    identities: [3ecfcdf38fcbe141ae26a1030f81e96b753365a46760ae6b578698a97c59fd22]\n",
            "already assigned",
        ),
    ];
    for (extra, want) in cases {
        let err = config::parse(&format!("{base}{extra}"), Path::new("."), |_| None)
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{extra:?}: {err}");
    }
    // Empty values (YAML null) are empty lists, as in Go.
    let empty =
        format!("{base}policy:\n  p:\n    allow:\n    deny:\n    identities:\nkeys:\napi:\n");
    let s = config::parse(&empty, Path::new("."), |_| None).unwrap();
    assert!(s.policies.policies["p"].allow.is_empty() && s.keys.is_empty());
    let missing = config::parse("keystore:\n  fs:\n    path: p\n", Path::new("."), |_| None)
        .unwrap_err()
        .to_string();
    assert!(missing.contains("admin.identity"), "{missing}");
}

fn load_policy_file(path: &Path) -> BTreeMap<String, Policy> {
    #[derive(serde::Deserialize)]
    struct P {
        #[serde(default)]
        allow: Vec<String>,
        #[serde(default)]
        deny: Vec<String>,
    }
    let text = std::fs::read_to_string(path).unwrap();
    let raw: BTreeMap<String, P> = serde_saphyr::from_str(&text).unwrap();
    raw.into_iter()
        .map(|(k, p)| {
            (
                k,
                Policy {
                    allow: p.allow,
                    deny: p.deny,
                },
            )
        })
        .collect()
}

#[test]
fn ready_made_policies_load_and_mean_what_they_say() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let policies = load_policy_file(&path);
        assert_eq!(policies.len(), 1, "{}", path.display());
        let (name, p) = policies.into_iter().next().unwrap();
        assert!(kes::names::valid_name(&name));
        // Each file also loads as a `policy:` section of a config.
        let nested: String = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(|l| format!("  {l}\n"))
            .collect();
        let cfg = format!(
            "admin:\n  identity: disabled\ntls:\n  key: k\n  cert: c\nkeystore:\n  fs:\n    path: p\npolicy:\n{nested}"
        );
        config::parse(&cfg, Path::new("."), |_| None).unwrap();
        seen.push(name.clone());
        let (allowed, denied): (&[&str], &[&str]) = match name.as_str() {
            "minio" => (
                &[
                    "/v1/key/create/minio-default",
                    "/v1/key/generate/k",
                    "/v1/key/decrypt/k",
                    "/v1/key/describe/k",
                    "/v1/key/list/",
                    "/v1/key/hmac/k",
                    "/v1/status",
                    "/v1/api",
                    "/v1/metrics",
                ],
                &["/v1/key/delete/k", "/v1/policy/list/", "/v1/identity/list/"],
            ),
            "auditor" => (
                &[
                    "/v1/status",
                    "/v1/metrics",
                    "/v1/key/list/",
                    "/v1/key/describe/k",
                    "/v1/log/audit",
                    "/v1/policy/read/p",
                ],
                &[
                    "/v1/key/create/k",
                    "/v1/key/delete/k",
                    "/v1/key/generate/k",
                    "/v1/key/decrypt/k",
                    "/v1/key/hmac/k",
                ],
            ),
            "key-admin" => (
                &[
                    "/v1/key/create/k",
                    "/v1/key/delete/k",
                    "/v1/key/import/k",
                    "/v1/key/list/",
                ],
                &[
                    "/v1/key/generate/k",
                    "/v1/key/decrypt/k",
                    "/v1/key/encrypt/k",
                    "/v1/key/hmac/k",
                ],
            ),
            "rekey" => (
                &["/v1/ext/key/describe/k", "/v1/ext/key/rewrap/k"],
                &[
                    "/v1/key/create/k",
                    "/v1/key/delete/k",
                    "/v1/key/generate/k",
                    "/v1/key/decrypt/k",
                    "/v1/ext/key/disable/k",
                    "/v1/ext/key/enable/k",
                    "/v1/ext/key/rotate/k",
                ],
            ),
            other => panic!("a new policy file '{other}' needs expectations here"),
        };
        for path in allowed {
            assert!(p.permits(path), "{name} allows {path}");
        }
        for path in denied {
            assert!(!p.permits(path), "{name} denies {path}");
        }
    }
    seen.sort();
    assert_eq!(seen, ["auditor", "key-admin", "minio", "rekey"]);
}

#[test]
fn a_server_certificate_without_san_is_refused() {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "no-san");
    let cert = params.self_signed(&key).unwrap();
    let err =
        kes::config::tls::identity_from_pem(cert.pem().as_bytes(), key.serialize_pem().as_bytes())
            .err()
            .unwrap();
    assert!(
        err.to_string().contains("subject alternative name"),
        "{err}"
    );
}
