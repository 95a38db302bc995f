//! Tests of the `keystore:` section: parsing, errors naming the section,
//! sections not built, path resolution and [`open`].
#![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]

use std::path::Path;

use serde_json::{Value, json};

use super::*;

fn parse(v: Value) -> Result<KeystoreConfig, String> {
    KeystoreConfig::deserialize(v).map_err(|e| e.to_string())
}

fn fs(path: &str) -> KeystoreConfig {
    KeystoreConfig::Fs { path: path.into() }
}

#[test]
fn the_fs_section_parses_and_resolves_relative_paths() {
    let mut cfg = parse(json!({"fs": {"path": " ./keys ", "ignored": 1}})).unwrap();
    assert_eq!(cfg, fs("./keys"), "trimmed, unknown fields ignored");
    cfg.resolve_paths(Path::new("/etc/kes"));
    assert_eq!(cfg, fs("/etc/kes/./keys"));

    let mut abs = parse(json!({"fs": {"path": "/var/keys"}})).unwrap();
    abs.resolve_paths(Path::new("/etc/kes"));
    assert_eq!(abs, fs("/var/keys"), "absolute paths are kept");

    assert_eq!(
        parse(json!({"fs": {"path": 2024}})).unwrap(),
        fs("2024"),
        "a scalar of any type is text"
    );
    assert_eq!(
        parse(json!({"vault": null, "fs": {"path": "k"}, "nosuch": null})).unwrap(),
        fs("k"),
        "null entries are ignored"
    );
    cfg.check().unwrap();
}

#[test]
fn section_errors_name_the_section() {
    let cases = [
        (json!({}), "keystore: no keystore specified"),
        (Value::Null, "keystore: no keystore specified"),
        (json!({"vault": null}), "keystore: no keystore specified"),
        (
            json!({"fs": {"path": "a"}, "vault": {"endpoint": "x"}}),
            "keystore: more than once keystore specified",
        ),
        (
            json!({"fs": {}, "nosuch": {"a": "b"}}),
            "keystore: more than once keystore specified",
        ),
        (json!({"fs": {}}), "keystore.fs.path: no path specified"),
        (
            json!({"fs": {"path": "  "}}),
            "keystore.fs.path: no path specified",
        ),
        (
            json!({"nosuch": {"a": "b"}}),
            "keystore.nosuch: unknown keystore",
        ),
        (json!({"memory": {}}), "keystore.memory: unknown keystore"),
    ];
    for (value, want) in cases {
        let got = parse(value.clone()).unwrap_err();
        assert_eq!(got, want, "{value}");
    }
    let got = parse(json!({"fs": "a"})).unwrap_err();
    assert!(got.starts_with("keystore.fs: "), "{got}");
    assert!(parse(json!(["fs"])).is_err());
}

#[test]
fn sections_not_built_parse_and_name_themselves() {
    let cases = [
        (
            json!({"fortanix": {"sdkms": {}}}),
            "keystore.fortanix.sdkms",
        ),
        (
            json!({"gemalto": {"keysecure": {}}}),
            "keystore.gemalto.keysecure",
        ),
        (
            json!({"entrust": {"keycontrol": {}}}),
            "keystore.entrust.keycontrol",
        ),
        (json!({"generic": {"endpoint": "x"}}), "keystore.generic"),
        (json!({"kes": {"endpoint": ["a", "b"]}}), "keystore.kes"),
    ];
    for (value, section) in cases {
        let cfg = parse(value.clone()).unwrap();
        assert_eq!(
            cfg,
            KeystoreConfig::NotBuilt {
                section: section.to_owned()
            },
            "{value}"
        );
        let Err(Error::Unsupported(msg)) = cfg.check() else {
            panic!("{section}: check must be Unsupported");
        };
        let want = format!(
            "{section}: this keystore is not supported by this build yet (supported: keystore.fs, keystore.vault"
        );
        assert!(msg.starts_with(&want), "{msg}");
    }
}

#[tokio::test]
async fn open_builds_each_backend_and_refuses_sections_not_built() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a").join("keys");
    let store = open(&fs(dir.to_str().unwrap())).await.unwrap();
    store.create("k", b"v").await.unwrap();
    assert_eq!(std::fs::read(dir.join("k")).unwrap(), b"v");

    let mem = open(&KeystoreConfig::Memory).await.unwrap();
    mem.create("k", b"m").await.unwrap();
    assert_eq!(mem.get("k").await.unwrap().as_slice(), b"m");

    let not_built = KeystoreConfig::NotBuilt {
        section: "keystore.aws.secretsmanager".to_owned(),
    };
    match open(&not_built).await {
        Err(Error::Unsupported(msg)) => {
            assert!(msg.starts_with("keystore.aws.secretsmanager: "), "{msg}");
        }
        Err(other) => panic!("want Unsupported, got {other:?}"),
        Ok(_) => panic!("a section not built must not open"),
    }

    let file = tmp.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    assert!(matches!(
        open(&fs(file.to_str().unwrap())).await,
        Err(Error::Backend(_))
    ));
}

#[cfg(feature = "gcp")]
#[test]
fn the_gcp_section_parses_into_its_config() {
    let cfg = parse(json!({"gcp": {"secretmanager": {"project_id": "p"}}})).unwrap();
    assert!(matches!(cfg, KeystoreConfig::Gcp(_)), "{cfg:?}");
    cfg.check().unwrap();
    assert_eq!(
        parse(json!({"gcp": {"secretmanager": {"endpoint": "x"}}})).unwrap_err(),
        "keystore.gcp.secretmanager.project_id: no project ID specified"
    );
}

#[cfg(feature = "aws")]
#[test]
fn the_aws_section_parses_into_its_config() {
    let cfg = parse(json!({"aws": {"secretsmanager": {
        "endpoint": "http://127.0.0.1:5000", "region": "us-east-1", "kmskey": "alias/kes",
    }}}))
    .unwrap();
    assert!(matches!(&cfg, KeystoreConfig::Aws(_)), "{cfg:?}");
    assert!(cfg.check().is_ok());
    let got = parse(json!({"aws": {"secretsmanager": {"endpoint": "x"}}})).unwrap_err();
    assert_eq!(
        got,
        "keystore.aws.secretsmanager.region: no region specified"
    );
    let got = parse(json!({"aws": "not a map"})).unwrap_err();
    assert!(got.starts_with("keystore.aws: "), "{got}");
    let got = parse(json!({"aws": {"secretsmanager": null}})).unwrap_err();
    assert_eq!(got, "keystore: no keystore specified");
}
