//! Tests of the `keystore.vault` section: defaults, every validation error,
//! namespaces, the JWT token/file rule, path resolution, durations and the
//! redacted `Debug`.
#![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]

use std::path::Path;

use serde::Deserialize as _;
use serde_json::{Value, json};

use super::*;
use crate::KeystoreConfig;

fn parse(v: Value) -> Result<VaultConfig, String> {
    match KeystoreConfig::deserialize(json!({ "vault": v })).map_err(|e| e.to_string())? {
        KeystoreConfig::Vault(config) => Ok(*config),
        other => panic!("want a vault config, got {other:?}"),
    }
}

fn approle() -> Value {
    json!({"id": "role-id", "secret": "secret-id"})
}

#[test]
fn defaults_follow_kes() {
    let c = parse(json!({"endpoint": "https://vault:8200/", "approle": approle()})).unwrap();
    assert_eq!(c.endpoint, "https://vault:8200", "trailing slash dropped");
    assert_eq!(c.engine, "kv");
    assert_eq!(c.version, KvVersion::V1);
    assert_eq!(c.namespace, None);
    assert_eq!(c.prefix, "");
    assert_eq!(c.transit, None);
    assert_eq!(c.tls, VaultTls::default());
    assert_eq!(c.ping, Duration::from_secs(10));
    assert_eq!(
        c.auth,
        Auth::AppRole {
            engine: "approle".to_owned(),
            namespace: AuthNamespace::Inherit,
            id: "role-id".to_owned(),
            secret: Secret::new("secret-id".to_owned()),
        }
    );
}

#[test]
fn every_field_is_read() {
    let c = parse(json!({
        "endpoint": "http://127.0.0.1:8200",
        "engine": "/secrets/kes/",
        "version": "v2",
        "namespace": "tenant",
        "prefix": "/my//keys/",
        "transit": {"key": "kes"},
        "kubernetes": {"engine": "k8s", "namespace": "/", "role": "kes", "jwt": "eyJ.x.y"},
        "tls": {"key": "client.key", "cert": "client.crt", "ca": "/etc/ca.pem"},
        "status": {"ping": "1m30s"},
        "approle_retry_is_ignored": true,
    }))
    .unwrap();
    assert_eq!(c.engine, "secrets/kes");
    assert_eq!(c.version, KvVersion::V2);
    assert_eq!(c.namespace.as_deref(), Some("tenant"));
    assert_eq!(c.prefix, "my/keys");
    assert_eq!(
        c.transit,
        Some(Transit {
            engine: "transit".to_owned(),
            key: "kes".to_owned()
        })
    );
    assert_eq!(
        c.auth,
        Auth::Kubernetes {
            engine: "k8s".to_owned(),
            namespace: AuthNamespace::Root,
            role: "kes".to_owned(),
            jwt: Jwt::Token(Secret::new("eyJ.x.y".to_owned())),
        }
    );
    assert_eq!(c.ping, Duration::from_secs(90));
    assert_eq!(c.tls.ca.as_deref(), Some(Path::new("/etc/ca.pem")));
}

#[test]
fn a_jwt_with_a_slash_is_a_file_resolved_like_tls_files() {
    let mut c = parse(json!({
        "endpoint": "https://v:8200",
        "kubernetes": {"role": "kes", "jwt": "./token"},
        "tls": {"key": "client.key", "cert": "/abs/client.crt"},
    }))
    .unwrap();
    assert!(
        matches!(&c.auth, Auth::Kubernetes { jwt: Jwt::File(p), .. } if p == Path::new("./token"))
    );
    c.resolve_paths(Path::new("/etc/kes"));
    assert!(
        matches!(&c.auth, Auth::Kubernetes { jwt: Jwt::File(p), .. } if p == Path::new("/etc/kes/./token"))
    );
    assert_eq!(c.tls.key.as_deref(), Some(Path::new("/etc/kes/client.key")));
    assert_eq!(c.tls.cert.as_deref(), Some(Path::new("/abs/client.crt")));
}

#[test]
fn auth_namespaces() {
    for (ns, want) in [
        (json!(null), AuthNamespace::Inherit),
        (json!(""), AuthNamespace::Inherit),
        (json!("/"), AuthNamespace::Root),
        (json!("team"), AuthNamespace::Named("team".to_owned())),
    ] {
        let c = parse(json!({
            "endpoint": "https://v:8200",
            "approle": {"id": "i", "secret": "s", "namespace": ns},
        }))
        .unwrap();
        let Auth::AppRole { namespace, .. } = c.auth else {
            panic!("approle expected")
        };
        assert_eq!(namespace, want);
    }
}

#[test]
fn invalid_sections_name_the_field() {
    let ep = "https://v:8200";
    let cases = [
        (
            json!({"approle": approle()}),
            "keystore.vault.endpoint: no endpoint specified",
        ),
        (
            json!({"endpoint": " ", "approle": approle()}),
            "keystore.vault.endpoint: no endpoint specified",
        ),
        (
            json!({"endpoint": "vault:8200", "approle": approle()}),
            "keystore.vault.endpoint: invalid endpoint 'vault:8200': not an http(s) URL",
        ),
        (
            json!({"endpoint": ep}),
            "keystore.vault: no authentication method specified",
        ),
        (
            json!({"endpoint": ep, "approle": approle(), "kubernetes": {"jwt": "x"}}),
            "keystore.vault: more than one authentication method specified",
        ),
        (
            json!({"endpoint": ep, "approle": {"secret": "s"}}),
            "keystore.vault.approle.id: no approle ID specified",
        ),
        (
            json!({"endpoint": ep, "approle": {"id": "i"}}),
            "keystore.vault.approle.secret: no approle secret specified",
        ),
        (
            json!({"endpoint": ep, "kubernetes": {"role": "r"}}),
            "keystore.vault.kubernetes.jwt: no JWT specified",
        ),
        (
            json!({"endpoint": ep, "approle": approle(), "version": "v3"}),
            "keystore.vault.version: invalid engine API version 'v3'",
        ),
        (
            json!({"endpoint": ep, "approle": approle(), "transit": {"engine": "t"}}),
            "keystore.vault.transit.key: no key name specified",
        ),
        (
            json!({"endpoint": ep, "approle": approle(), "tls": {"key": "k"}}),
            "keystore.vault.tls: no TLS certificate provided",
        ),
        (
            json!({"endpoint": ep, "approle": approle(), "tls": {"cert": "c"}}),
            "keystore.vault.tls: no TLS private key provided",
        ),
        (
            json!({"endpoint": ep, "approle": approle(), "status": {"ping": "soon"}}),
            "keystore.vault.status.ping: invalid duration 'soon'",
        ),
        (
            json!({"endpoint": ep, "approle": approle(), "engine": "/"}),
            "keystore.vault.engine: invalid engine path",
        ),
    ];
    for (value, want) in cases {
        assert_eq!(parse(value.clone()).unwrap_err(), want, "{value}");
    }
    let got = parse(json!("not a map")).unwrap_err();
    assert!(got.starts_with("keystore.vault: "), "{got}");
}

#[test]
fn debug_never_shows_credentials() {
    let c = parse(json!({
        "endpoint": "https://v:8200",
        "approle": {"id": "role-id", "secret": "very-secret-id"},
    }))
    .unwrap();
    let debug = format!("{c:?}");
    assert!(!debug.contains("very-secret-id"), "{debug}");
    assert!(debug.contains("<redacted>"), "{debug}");
    let k = parse(
        json!({"endpoint": "https://v:8200", "kubernetes": {"jwt": "eyJhbGciOi.secret.sig"}}),
    )
    .unwrap();
    assert!(!format!("{k:?}").contains("eyJhbGciOi"));
    assert_ne!(c, k);
    assert_ne!(Secret::new("a".to_owned()), Secret::new("b".to_owned()));
    assert_ne!(Secret::new("a".to_owned()), Secret::new("ab".to_owned()));
}

#[test]
fn go_durations() {
    for (text, secs) in [
        ("0", 0.0),
        ("10s", 10.0),
        ("1m30s", 90.0),
        ("1.5h", 5400.0),
        ("300ms", 0.3),
        ("2h45m", 9900.0),
        ("+5s", 5.0),
    ] {
        assert_eq!(
            parse_duration(text),
            Some(Duration::from_secs_f64(secs)),
            "{text}"
        );
    }
    for bad in ["", "5", "s", "-5s", "5x", "1h-1m", "+"] {
        assert_eq!(parse_duration(bad), None, "{bad}");
    }
    // A zero ping means the default, as in KES.
    let c = parse(
        json!({"endpoint": "https://v:8200", "approle": approle(), "status": {"ping": "0s"}}),
    )
    .unwrap();
    assert_eq!(c.ping, DEFAULT_PING);
}
