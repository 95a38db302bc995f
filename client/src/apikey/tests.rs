//! API-key vectors (KES and `rust-stack.md`), parse errors, redaction, and the profile of derived certificates.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests may panic"
)]

use super::*;

const KES_VECTOR_KEY: &str = "kes:v1:AD9E7FSYWrMD+VjhI6q545cYT9YOyFxZb7UnjEepYDRc";
const KES_VECTOR_ID: &str = "3ecfcdf38fcbe141ae26a1030f81e96b753365a46760ae6b578698a97c59fd22";

#[test]
fn kes_vector() {
    let k = ApiKey::parse(KES_VECTOR_KEY).unwrap();
    assert_eq!(k.identity(), KES_VECTOR_ID);
    assert_eq!(k.to_string(), KES_VECTOR_KEY);
    // Prefix optional.
    let bare = ApiKey::parse(KES_VECTOR_KEY.strip_prefix(PREFIX).unwrap()).unwrap();
    assert_eq!(bare, k);
}

#[test]
fn rust_stack_vector() {
    let k = ApiKey::from_seed(&[0x2a; 32]).unwrap();
    assert_eq!(
        k.to_string(),
        "kes:v1:ACoqKioqKioqKioqKioqKioqKioqKioqKioqKioqKioq"
    );
    assert_eq!(
        k.identity(),
        "5e3dc044c49e00e0a435a277126d8a4e1fced3d0b1f781686df24139ac528a4b"
    );
    let parsed = ApiKey::parse("kes:v1:ACoqKioqKioqKioqKioqKioqKioqKioqKioqKioqKioq").unwrap();
    assert_eq!(parsed, k);
}

#[test]
fn rejects_bad_keys() {
    for (text, why) in [
        ("", "empty key"),
        ("kes:v1:", "empty key"),
        ("kes:v1:!!!!", "not a 'kes:v1:' key or invalid base64"),
        (
            "kes:v2:AD9E7FSYWrMD+VjhI6q545cYT9YOyFxZb7UnjEepYDRc",
            "not a 'kes:v1:' key or invalid base64",
        ),
        // 32 bytes
        (
            "kes:v1:KioqKioqKioqKioqKioqKioqKioqKioqKioqKio=",
            "invalid length",
        ),
        // 34 bytes
        (
            "kes:v1:ACoqKioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKg==",
            "invalid length",
        ),
        // type byte 1
        (
            "kes:v1:ASoqKioqKioqKioqKioqKioqKioqKioqKioqKioqKioq",
            "unsupported key type",
        ),
    ] {
        match ApiKey::parse(text) {
            Err(Error::InvalidApiKey(msg)) => assert_eq!(msg, why, "{text}"),
            other => panic!("{text}: unexpected {other:?}"),
        }
    }
}

#[test]
fn debug_is_redacted_and_generate_round_trips() {
    let k = ApiKey::generate().unwrap();
    let shown = k.to_string();
    assert!(shown.starts_with("kes:v1:A"));
    assert_eq!(shown.len(), PREFIX.len() + 44);
    let dbg = format!("{k:?}");
    assert!(!dbg.contains(&shown[PREFIX.len()..]));
    assert!(dbg.contains(&k.identity()));
    assert_eq!(ApiKey::parse(&shown).unwrap(), k);
    assert_ne!(ApiKey::generate().unwrap(), k);
}

#[test]
fn certificate_matches_identity_and_profile() {
    let k = ApiKey::parse(KES_VECTOR_KEY).unwrap();
    let c = k.certificate().unwrap();
    assert!(c.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(c.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(!format!("{c:?}").contains("PRIVATE KEY"));
    assert_eq!(
        identity::of_certificate(&c.cert_der).unwrap(),
        KES_VECTOR_ID
    );
    assert_eq!(
        identity::of_certificate_pem(c.cert_pem.as_bytes()).unwrap(),
        KES_VECTOR_ID
    );
    assert!(!identity::is_ca_certificate(&c.cert_der).unwrap());

    let (_, x) = x509_parser::parse_x509_certificate(&c.cert_der).unwrap();
    let cn = x
        .subject()
        .iter_common_name()
        .next()
        .unwrap()
        .as_str()
        .unwrap();
    assert_eq!(cn, KES_VECTOR_ID);
    assert_eq!(x.issuer(), x.subject());
    let bc = x
        .basic_constraints()
        .unwrap()
        .expect("basic constraints present");
    assert!(!bc.value.ca);
    let ku = x.key_usage().unwrap().expect("key usage present");
    assert!(ku.value.digital_signature());
    let eku = x.extended_key_usage().unwrap().expect("eku present");
    assert!(eku.value.client_auth);
    assert!(!eku.value.server_auth);
    let serial = x.raw_serial();
    assert_eq!(serial.len(), 16);
    let days = (x.validity().not_after.timestamp() - x.validity().not_before.timestamp()) / 86400;
    assert_eq!(days, 90);
    assert!(x.subject_alternative_name().unwrap().is_none());
    // Two certificates of the same key differ in serial but share the identity.
    let c2 = k.certificate().unwrap();
    let (_, x2) = x509_parser::parse_x509_certificate(&c2.cert_der).unwrap();
    assert_ne!(x2.raw_serial(), serial);
    assert_eq!(
        identity::of_certificate(&c2.cert_der).unwrap(),
        KES_VECTOR_ID
    );
}

#[test]
fn server_certificate_options() {
    let k = ApiKey::generate().unwrap();
    let opts = CertificateOptions {
        subject: Some("my-server".into()),
        dns_names: vec!["localhost".into()],
        ip_addresses: vec!["127.0.0.1".parse().unwrap()],
        validity: time::Duration::hours(720),
    };
    let c = k.certificate_with(&opts).unwrap();
    let (_, x) = x509_parser::parse_x509_certificate(&c.cert_der).unwrap();
    assert_eq!(
        x.subject()
            .iter_common_name()
            .next()
            .unwrap()
            .as_str()
            .unwrap(),
        "my-server"
    );
    let eku = x.extended_key_usage().unwrap().unwrap();
    assert!(eku.value.client_auth && eku.value.server_auth);
    let san = x.subject_alternative_name().unwrap().unwrap();
    assert_eq!(san.value.general_names.len(), 2);
    assert_eq!(identity::of_certificate(&c.cert_der).unwrap(), k.identity());
    let bad = CertificateOptions {
        dns_names: vec!["bad\u{e9}name".into()],
        ..CertificateOptions::default()
    };
    assert!(matches!(
        k.certificate_with(&bad),
        Err(Error::Certificate(_))
    ));
}
