//! Unit tests of the wire encoding: base64 and context fields, Go field-name aliases, legacy bodies, redaction,
//! `omitempty`, RFC 3339 times, `null` tolerance and the policy rule forms. `client/tests/wire_golden.rs` pins
//! the exact bytes of every type.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests may panic"
)]

use serde_json::json;
use time::OffsetDateTime;
use time::macros::datetime;

use super::*;
#[test]
fn base64_round_trip_with_padding() {
    let r = EncryptResponse {
        ciphertext: Base64(vec![1, 2, 3, 4]),
    };
    let text = serde_json::to_string(&r).unwrap();
    assert_eq!(text, r#"{"ciphertext":"AQIDBA=="}"#);
    let back: EncryptResponse = serde_json::from_str(&text).unwrap();
    assert_eq!(back, r);
    // Unpadded input is accepted too.
    let back: EncryptResponse = serde_json::from_str(r#"{"ciphertext":"AQIDBA"}"#).unwrap();
    assert_eq!(back.ciphertext.as_bytes(), &[1, 2, 3, 4]);
}

#[test]
fn bad_base64_is_an_error() {
    assert!(serde_json::from_str::<DecryptRequest>(r#"{"ciphertext":"!!!"}"#).is_err());
    assert!(serde_json::from_str::<DecryptRequest>(r#"{"ciphertext":5}"#).is_err());
}

#[test]
fn context_absent_null_and_empty_are_none() {
    for body in [
        r#"{"plaintext":"AAE="}"#,
        r#"{"plaintext":"AAE=","context":null}"#,
        r#"{"plaintext":"AAE=","context":""}"#,
    ] {
        let r: EncryptRequest = serde_json::from_str(body).unwrap();
        assert_eq!(r.context, None, "{body}");
        assert_eq!(r.context_bytes(), b"");
        assert_eq!(r.plaintext.as_bytes(), &[0, 1]);
    }
    let r: EncryptRequest =
        serde_json::from_str(r#"{"plaintext":"AAE=","context":"Y3R4"}"#).unwrap();
    assert_eq!(r.context_bytes(), b"ctx");
}

#[test]
fn empty_context_and_version_are_omitted() {
    let r = GenerateRequest::default();
    assert_eq!(serde_json::to_string(&r).unwrap(), "{}");
    let r = DecryptRequest {
        ciphertext: Base64(vec![0]),
        context: Some(Base64(vec![])),
        version: None,
    };
    assert_eq!(
        serde_json::to_string(&r).unwrap(),
        r#"{"ciphertext":"AA=="}"#
    );
    let r = DecryptRequest {
        ciphertext: Base64(vec![0]),
        context: Some(Base64(b"c".to_vec())),
        version: Some("v1".into()),
    };
    assert_eq!(
        serde_json::to_string(&r).unwrap(),
        r#"{"ciphertext":"AA==","context":"Yw==","version":"v1"}"#
    );
}

#[test]
fn capitalised_field_names_and_unknown_fields() {
    let r: DecryptRequest =
        serde_json::from_str(r#"{"Ciphertext":"AA==","Context":"Yw==","extra":1,"Version":"x"}"#)
            .unwrap();
    assert_eq!(r.ciphertext.as_bytes(), &[0]);
    assert_eq!(r.context_bytes(), b"c");
    assert_eq!(r.version.as_deref(), Some("x"));
    let r: HmacRequest = serde_json::from_str(r#"{"Message":"bXNn"}"#).unwrap();
    assert_eq!(r.message.as_bytes(), b"msg");
    let r: EncryptRequest = serde_json::from_str(r#"{"Plaintext":"bXNn"}"#).unwrap();
    assert_eq!(r.plaintext.as_bytes(), b"msg");
}

#[test]
fn import_accepts_current_and_legacy_bodies() {
    let key = vec![7u8; 32];
    let k64 = b64_encode(&key);
    let cur: ImportKeyRequest =
        serde_json::from_value(json!({"key": k64, "cipher": "AES256"})).unwrap();
    assert_eq!(cur.key.as_bytes(), key.as_slice());
    assert_eq!(cur.cipher, "AES256");
    let leg: ImportKeyRequest = serde_json::from_value(json!({"bytes": k64})).unwrap();
    assert_eq!(leg.key.as_bytes(), key.as_slice());
    assert_eq!(leg.cipher, "");
    let leg: ImportKeyRequest =
        serde_json::from_value(json!({"bytes": k64, "algorithm": "XCHACHA20-POLY1305"})).unwrap();
    assert_eq!(leg.cipher, "XCHACHA20-POLY1305");
    let cap: ImportKeyRequest =
        serde_json::from_value(json!({"Key": k64, "Cipher": "ChaCha20"})).unwrap();
    assert_eq!(cap.cipher, "ChaCha20");
    // Like Go, a missing key decodes as empty; the server then answers 406 `invalid key size`.
    let missing: ImportKeyRequest = serde_json::from_value(json!({"cipher": "AES256"})).unwrap();
    assert!(missing.key.is_empty());
    assert_eq!(
        serde_json::to_value(&cur).unwrap(),
        json!({"key": k64, "cipher": "AES256"})
    );
}

#[test]
fn secret_debug_is_redacted() {
    let s = SecretBase64::new(b"top secret".to_vec());
    let d = format!(
        "{:?}",
        GenerateResponse {
            plaintext: s,
            ciphertext: Base64(vec![1])
        }
    );
    assert!(!d.contains("top secret"));
    assert!(!d.contains(&b64_encode(b"top secret")));
    assert!(d.contains("redacted 10 bytes"));
}

#[test]
fn status_omits_empty_optional_fields() {
    let s = StatusResponse {
        version: "v".into(),
        os: "linux".into(),
        arch: "amd64".into(),
        uptime: 3,
        num_cpu: 2,
        num_cpu_used: 2,
        mem_heap_used: 10,
        mem_stack_used: 20,
        keystore_latency: None,
        keystore_unreachable: false,
        keystore_unavailable: false,
    };
    let v = serde_json::to_value(&s).unwrap();
    assert_eq!(
        v,
        json!({"version":"v","os":"linux","arch":"amd64","uptime":3,"num_cpu":2,"num_cpu_used":2,
               "mem_heap_used":10,"mem_stack_used":20})
    );
    let s2 = StatusResponse {
        keystore_latency: Some(1),
        keystore_unreachable: true,
        ..s
    };
    let v = serde_json::to_value(&s2).unwrap();
    assert_eq!(v["keystore_latency"], 1);
    assert_eq!(v["keystore_unreachable"], true);
    assert!(v.get("keystore_unavailable").is_none());
    assert_eq!(serde_json::from_value::<StatusResponse>(v).unwrap(), s2);
}

#[test]
fn times_are_rfc3339_nano_utc() {
    let d = DescribeKeyResponse {
        name: "k".into(),
        algorithm: "AES256".into(),
        created_at: datetime!(2024-01-02 03:04:05.123456789 UTC),
        created_by: "id".into(),
    };
    let v = serde_json::to_value(&d).unwrap();
    assert_eq!(v["created_at"], "2024-01-02T03:04:05.123456789Z");
    assert_eq!(serde_json::from_value::<DescribeKeyResponse>(v).unwrap(), d);
    // Go trims trailing zeros of the fraction, and a non-UTC offset is converted.
    let t = datetime!(2024-01-02 05:04:05.5 +02:00);
    assert_eq!(rfc3339::format(&t).unwrap(), "2024-01-02T03:04:05.5Z");
    let parsed: DescribePolicyResponse = serde_json::from_str(
        r#"{"name":"p","created_at":"2024-01-02T05:04:05.5+02:00","created_by":"a"}"#,
    )
    .unwrap();
    assert_eq!(parsed.created_at, t);
    assert!(
        serde_json::from_str::<DescribePolicyResponse>(r#"{"name":"p","created_at":"yesterday"}"#)
            .is_err()
    );
}

#[test]
fn list_responses_tolerate_null() {
    let l: ListKeysResponse = serde_json::from_str(r#"{"names":null}"#).unwrap();
    assert!(l.names.is_empty());
    assert_eq!(l.continue_at, "");
    let l = ListKeysResponse {
        names: vec!["a".into()],
        continue_at: String::new(),
    };
    assert_eq!(serde_json::to_string(&l).unwrap(), r#"{"names":["a"]}"#);
    let l = ListIdentitiesResponse {
        identities: vec!["x".into()],
        continue_at: String::new(),
    };
    assert_eq!(
        serde_json::to_string(&l).unwrap(),
        r#"{"identities":["x"],"continue_at":""}"#
    );
}

#[test]
fn policy_rules_map_and_legacy_list() {
    let p = PolicyResponse {
        name: "p".into(),
        allow: [("/v1/key/*".to_string(), Empty {})].into_iter().collect(),
        deny: Rules::new(),
        created_at: OffsetDateTime::UNIX_EPOCH,
        created_by: "a".into(),
    };
    let v = serde_json::to_value(&p).unwrap();
    assert_eq!(
        v,
        json!({"name":"p","allow":{"/v1/key/*":{}},"created_at":"1970-01-01T00:00:00Z","created_by":"a"})
    );
    assert_eq!(serde_json::from_value::<PolicyResponse>(v).unwrap(), p);
    let legacy: PolicyResponse = serde_json::from_str(
        r#"{"name":"p","allow":["/v1/key/*"],"deny":null,"created_at":"1970-01-01T00:00:00Z"}"#,
    )
    .unwrap();
    assert_eq!(legacy.allow, p.allow);
    assert!(legacy.deny.is_empty());
}

#[test]
fn identity_shapes() {
    let admin = DescribeIdentityResponse {
        admin: true,
        policy: None,
        created_at: OffsetDateTime::UNIX_EPOCH,
        created_by: None,
    };
    assert_eq!(
        serde_json::to_value(&admin).unwrap(),
        json!({"admin":true,"created_at":"1970-01-01T00:00:00Z"})
    );
    let other = DescribeIdentityResponse {
        admin: false,
        policy: Some("p".into()),
        created_at: OffsetDateTime::UNIX_EPOCH,
        created_by: Some("a".into()),
    };
    let v = serde_json::to_value(&other).unwrap();
    assert_eq!(
        v,
        json!({"policy":"p","created_at":"1970-01-01T00:00:00Z","created_by":"a"})
    );
    assert_eq!(
        serde_json::from_value::<DescribeIdentityResponse>(v).unwrap(),
        other
    );

    let me = SelfDescribeResponse {
        identity: "id".into(),
        admin: false,
        policy: Some("p".into()),
        allow: [("/v1/status".to_string(), Empty {})].into_iter().collect(),
        deny: Rules::new(),
        created_at: OffsetDateTime::UNIX_EPOCH,
        created_by: Some("a".into()),
    };
    let v = serde_json::to_value(&me).unwrap();
    assert_eq!(
        v,
        json!({"identity":"id","policy":"p","allow":{"/v1/status":{}},"created_at":"1970-01-01T00:00:00Z","created_by":"a"})
    );
    assert_eq!(
        serde_json::from_value::<SelfDescribeResponse>(v).unwrap(),
        me
    );
}

#[test]
fn audit_event_shape() {
    let e = AuditEvent {
        time: datetime!(2025-03-12 09:35:18 UTC),
        request: AuditRequest {
            ip: "127.0.0.1".into(),
            path: "/v1/key/create/k".into(),
            identity: "abc".into(),
        },
        response: AuditResponse { code: 200, time: 3 },
    };
    let v = serde_json::to_value(&e).unwrap();
    assert_eq!(
        v,
        json!({"time":"2025-03-12T09:35:18Z","request":{"ip":"127.0.0.1","path":"/v1/key/create/k","identity":"abc"},
               "response":{"code":200,"time":3}})
    );
    assert_eq!(serde_json::from_value::<AuditEvent>(v).unwrap(), e);
}

#[test]
fn bulk_and_api_shapes() {
    let items: Vec<BulkDecryptItem> =
        serde_json::from_str(r#"[{"ciphertext":"AA==","context":"Yw=="},{"ciphertext":"AQ=="}]"#)
            .unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].context_bytes(), b"c");
    assert_eq!(items[1].context_bytes(), b"");
    let routes: Vec<ApiRoute> = serde_json::from_str(
        r#"[{"method":"GET","path":"/version","max_body":0,"timeout":10,"verify_auth":false}]"#,
    )
    .unwrap();
    assert_eq!(routes[0].path, "/version");
    assert_eq!(routes[0].timeout, 10);
    let e: ErrorResponse = serde_json::from_str("{\"message\":\"key already exists\"\n}").unwrap();
    assert_eq!(e.message, "key already exists");
}
