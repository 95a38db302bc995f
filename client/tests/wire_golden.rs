//! Golden JSON of every wire type: the exact bytes each one serializes to, full and empty, and what `{}`, an
//! all-`null` object and Go-style capitalised names decode to. Pins the encoding so a refactor of the serde
//! attributes cannot change a byte on the wire.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
#![allow(clippy::unwrap_used, reason = "tests may panic")]

use std::fmt::Debug;

use client::wire::{
    ApiRoute, AuditEvent, AuditRequest, AuditResponse, Base64, BulkDecryptItem, DecryptRequest,
    DecryptResponse, DescribeIdentityResponse, DescribeKeyResponse, DescribePolicyResponse, Empty,
    EncryptRequest, EncryptResponse, ErrorEvent, ErrorResponse, GenerateRequest, GenerateResponse,
    HmacRequest, HmacResponse, ImportKeyRequest, ListIdentitiesResponse, ListKeysResponse,
    ListPoliciesResponse, PolicyResponse, Rules, SecretBase64, SelfDescribeResponse,
    StatusResponse, VersionResponse,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use time::macros::datetime;

/// `value` serializes to exactly `json`, and `json` decodes back to `value`.
fn golden<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: &T, json: &str) {
    assert_eq!(serde_json::to_string(value).unwrap(), json);
    assert_eq!(&serde_json::from_str::<T>(json).unwrap(), value, "{json}");
}

/// `{}` and an object with each of `fields` set to `null` both decode to `expected` (Go's zero values).
fn absent_or_null<T: DeserializeOwned + PartialEq + Debug>(fields: &[&str], expected: &T) {
    let nulls: Vec<String> = fields.iter().map(|f| format!("\"{f}\":null")).collect();
    let all_null = format!("{{{}}}", nulls.join(","));
    decodes(&["{}", &all_null], expected);
}

/// Each of `inputs` decodes to `expected`.
fn decodes<T: DeserializeOwned + PartialEq + Debug>(inputs: &[&str], expected: &T) {
    for json in inputs {
        assert_eq!(
            &serde_json::from_str::<T>(json).unwrap(),
            expected,
            "{json}"
        );
    }
}

fn rules(patterns: &[&str]) -> Rules {
    patterns.iter().map(|p| (p.to_string(), Empty {})).collect()
}

const T0: OffsetDateTime = datetime!(2024-01-02 03:04:05.123456789 UTC);
const EPOCH: OffsetDateTime = OffsetDateTime::UNIX_EPOCH;

#[test]
fn server_information() {
    golden(
        &VersionResponse {
            version: "v1".into(),
            commit: "c".into(),
        },
        r#"{"version":"v1","commit":"c"}"#,
    );
    golden(&VersionResponse::default(), r#"{"version":"","commit":""}"#);
    absent_or_null(&["version", "commit"], &VersionResponse::default());

    let full = StatusResponse {
        version: "v".into(),
        os: "linux".into(),
        arch: "amd64".into(),
        uptime: 1,
        num_cpu: 2,
        num_cpu_used: 3,
        mem_heap_used: 4,
        mem_stack_used: 5,
        keystore_latency: Some(6),
        keystore_unreachable: true,
        keystore_unavailable: true,
    };
    golden(
        &full,
        r#"{"version":"v","os":"linux","arch":"amd64","uptime":1,"num_cpu":2,"num_cpu_used":3,"mem_heap_used":4,"mem_stack_used":5,"keystore_latency":6,"keystore_unreachable":true,"keystore_unavailable":true}"#,
    );
    golden(
        &StatusResponse::default(),
        r#"{"version":"","os":"","arch":"","uptime":0,"num_cpu":0,"num_cpu_used":0,"mem_heap_used":0,"mem_stack_used":0}"#,
    );
    absent_or_null(
        &[
            "version",
            "os",
            "arch",
            "uptime",
            "num_cpu",
            "num_cpu_used",
            "mem_heap_used",
            "mem_stack_used",
            "keystore_latency",
            "keystore_unreachable",
            "keystore_unavailable",
        ],
        &StatusResponse::default(),
    );

    golden(
        &ApiRoute {
            method: "GET".into(),
            path: "/v1/status".into(),
            max_body: -1,
            timeout: 15,
        },
        r#"{"method":"GET","path":"/v1/status","max_body":-1,"timeout":15}"#,
    );
    absent_or_null(
        &["method", "path", "max_body", "timeout"],
        &ApiRoute::default(),
    );
}

#[test]
fn key_management() {
    let import = ImportKeyRequest {
        key: SecretBase64::new(vec![7; 4]),
        cipher: "AES256".into(),
    };
    golden(&import, r#"{"key":"BwcHBw==","cipher":"AES256"}"#);
    golden(&ImportKeyRequest::default(), r#"{"key":"","cipher":""}"#);
    absent_or_null(&["key", "cipher"], &ImportKeyRequest::default());
    decodes(
        &[
            r#"{"Key":"BwcHBw==","Cipher":"AES256"}"#,
            r#"{"Bytes":"BwcHBw","Algorithm":"AES256"}"#,
        ],
        &import,
    );

    let describe = DescribeKeyResponse {
        name: "k".into(),
        algorithm: "AES256".into(),
        created_at: T0,
        created_by: "id".into(),
    };
    golden(
        &describe,
        r#"{"name":"k","algorithm":"AES256","created_at":"2024-01-02T03:04:05.123456789Z","created_by":"id"}"#,
    );
    let empty = DescribeKeyResponse {
        name: String::new(),
        algorithm: String::new(),
        created_at: EPOCH,
        created_by: String::new(),
    };
    golden(&empty, r#"{"name":"","created_at":"1970-01-01T00:00:00Z"}"#);
    absent_or_null(&["name", "algorithm", "created_at", "created_by"], &empty);

    golden(
        &ListKeysResponse {
            names: vec!["a".into(), "b".into()],
            continue_at: "c".into(),
        },
        r#"{"names":["a","b"],"continue_at":"c"}"#,
    );
    golden(&ListKeysResponse::default(), r#"{"names":[]}"#);
    absent_or_null(&["names", "continue_at"], &ListKeysResponse::default());
}

#[test]
fn cryptographic_operations() {
    let enc = EncryptRequest {
        plaintext: SecretBase64::new(b"pt".to_vec()),
        context: Some(Base64(b"ctx".to_vec())),
        version: Some("v".into()),
    };
    golden(
        &enc,
        r#"{"plaintext":"cHQ=","context":"Y3R4","version":"v"}"#,
    );
    decodes(
        &[r#"{"Plaintext":"cHQ=","Context":"Y3R4","Version":"v"}"#],
        &enc,
    );
    golden(&EncryptRequest::default(), r#"{"plaintext":""}"#);
    decodes(
        &[
            "{}",
            r#"{"plaintext":null,"context":null}"#,
            r#"{"context":""}"#,
        ],
        &EncryptRequest::default(),
    );

    golden(
        &EncryptResponse {
            ciphertext: Base64(vec![1]),
        },
        r#"{"ciphertext":"AQ=="}"#,
    );
    golden(&EncryptResponse::default(), r#"{"ciphertext":""}"#);
    absent_or_null(&["Ciphertext"], &EncryptResponse::default());

    let gen_req = GenerateRequest {
        context: Some(Base64(vec![2])),
        version: Some("v".into()),
    };
    golden(&gen_req, r#"{"context":"Ag==","version":"v"}"#);
    golden(&GenerateRequest::default(), "{}");
    absent_or_null(&["context", "version"], &GenerateRequest::default());

    let gen_resp = GenerateResponse {
        plaintext: SecretBase64::new(vec![3]),
        ciphertext: Base64(vec![4]),
    };
    golden(&gen_resp, r#"{"plaintext":"Aw==","ciphertext":"BA=="}"#);
    decodes(&[r#"{"Plaintext":"Aw==","Ciphertext":"BA=="}"#], &gen_resp);
    golden(
        &GenerateResponse::default(),
        r#"{"plaintext":"","ciphertext":""}"#,
    );

    let dec = DecryptRequest {
        ciphertext: Base64(vec![5]),
        context: Some(Base64(vec![6])),
        version: Some("v".into()),
    };
    golden(
        &dec,
        r#"{"ciphertext":"BQ==","context":"Bg==","version":"v"}"#,
    );
    golden(&DecryptRequest::default(), r#"{"ciphertext":""}"#);
    absent_or_null(
        &["ciphertext", "context", "version"],
        &DecryptRequest::default(),
    );

    golden(
        &DecryptResponse {
            plaintext: SecretBase64::new(vec![7]),
        },
        r#"{"plaintext":"Bw=="}"#,
    );
    absent_or_null(&["Plaintext"], &DecryptResponse::default());

    let item = BulkDecryptItem {
        ciphertext: Base64(vec![8]),
        context: Some(Base64(vec![9])),
    };
    golden(&item, r#"{"ciphertext":"CA==","context":"CQ=="}"#);
    golden(&BulkDecryptItem::default(), r#"{"ciphertext":""}"#);
    decodes(
        &["{}", r#"{"ciphertext":null,"context":""}"#],
        &BulkDecryptItem::default(),
    );

    let hmac = HmacRequest {
        message: Base64(b"m".to_vec()),
        version: Some("v".into()),
    };
    golden(&hmac, r#"{"message":"bQ==","version":"v"}"#);
    decodes(&[r#"{"Message":"bQ==","Version":"v"}"#], &hmac);
    golden(&HmacRequest::default(), r#"{"message":""}"#);

    let mac = HmacResponse {
        hmac: Base64(vec![10]),
    };
    golden(&mac, r#"{"hmac":"Cg=="}"#);
    decodes(&[r#"{"Hmac":"Cg=="}"#, r#"{"HMAC":"Cg=="}"#], &mac);
    absent_or_null(&["hmac"], &HmacResponse::default());
}

#[test]
fn policies() {
    let describe = DescribePolicyResponse {
        name: "p".into(),
        created_at: T0,
        created_by: "a".into(),
    };
    golden(
        &describe,
        r#"{"name":"p","created_at":"2024-01-02T03:04:05.123456789Z","created_by":"a"}"#,
    );
    let empty = DescribePolicyResponse {
        name: String::new(),
        created_at: EPOCH,
        created_by: String::new(),
    };
    golden(
        &empty,
        r#"{"name":"","created_at":"1970-01-01T00:00:00Z","created_by":""}"#,
    );
    absent_or_null(&["name", "created_at", "created_by"], &empty);

    let policy = PolicyResponse {
        name: "p".into(),
        allow: rules(&["/v1/key/*", "/v1/status"]),
        deny: rules(&["/v1/key/delete/*"]),
        created_at: T0,
        created_by: "a".into(),
    };
    golden(
        &policy,
        r#"{"name":"p","allow":{"/v1/key/*":{},"/v1/status":{}},"deny":{"/v1/key/delete/*":{}},"created_at":"2024-01-02T03:04:05.123456789Z","created_by":"a"}"#,
    );
    decodes(
        &[
            r#"{"name":"p","allow":["/v1/status","/v1/key/*"],"deny":["/v1/key/delete/*"],"created_at":"2024-01-02T03:04:05.123456789Z","created_by":"a"}"#,
            r#"{"name":"p","allow":{"/v1/status":{"x":1},"/v1/key/*":null},"deny":{"/v1/key/delete/*":{}},"created_at":"2024-01-02T05:04:05.123456789+02:00","created_by":"a"}"#,
        ],
        &policy,
    );
    let empty = PolicyResponse {
        name: String::new(),
        allow: Rules::new(),
        deny: Rules::new(),
        created_at: EPOCH,
        created_by: String::new(),
    };
    golden(
        &empty,
        r#"{"name":"","created_at":"1970-01-01T00:00:00Z","created_by":""}"#,
    );
    absent_or_null(
        &["name", "allow", "deny", "created_at", "created_by"],
        &empty,
    );

    golden(
        &ListPoliciesResponse {
            names: vec!["p".into()],
            continue_at: String::new(),
        },
        r#"{"names":["p"],"continue_at":""}"#,
    );
    absent_or_null(&["names", "continue_at"], &ListPoliciesResponse::default());
}

#[test]
fn identities() {
    let describe = DescribeIdentityResponse {
        admin: true,
        policy: Some("p".into()),
        created_at: T0,
        created_by: Some("a".into()),
    };
    golden(
        &describe,
        r#"{"admin":true,"policy":"p","created_at":"2024-01-02T03:04:05.123456789Z","created_by":"a"}"#,
    );
    let empty = DescribeIdentityResponse {
        admin: false,
        policy: None,
        created_at: EPOCH,
        created_by: None,
    };
    golden(&empty, r#"{"created_at":"1970-01-01T00:00:00Z"}"#);
    absent_or_null(&["admin", "policy", "created_at", "created_by"], &empty);

    golden(
        &ListIdentitiesResponse {
            identities: vec!["x".into()],
            continue_at: "y".into(),
        },
        r#"{"identities":["x"],"continue_at":"y"}"#,
    );
    golden(
        &ListIdentitiesResponse::default(),
        r#"{"identities":[],"continue_at":""}"#,
    );
    absent_or_null(
        &["identities", "continue_at"],
        &ListIdentitiesResponse::default(),
    );

    let me = SelfDescribeResponse {
        identity: "id".into(),
        admin: true,
        policy: Some("p".into()),
        allow: rules(&["/v1/a"]),
        deny: rules(&["/v1/b"]),
        created_at: T0,
        created_by: Some("a".into()),
    };
    golden(
        &me,
        r#"{"identity":"id","admin":true,"policy":"p","allow":{"/v1/a":{}},"deny":{"/v1/b":{}},"created_at":"2024-01-02T03:04:05.123456789Z","created_by":"a"}"#,
    );
    let empty = SelfDescribeResponse {
        identity: String::new(),
        admin: false,
        policy: None,
        allow: Rules::new(),
        deny: Rules::new(),
        created_at: EPOCH,
        created_by: None,
    };
    golden(
        &empty,
        r#"{"identity":"","created_at":"1970-01-01T00:00:00Z"}"#,
    );
    absent_or_null(
        &[
            "identity",
            "admin",
            "policy",
            "allow",
            "deny",
            "created_at",
            "created_by",
        ],
        &empty,
    );
}

#[test]
fn logs_and_errors() {
    let event = AuditEvent {
        time: T0,
        request: AuditRequest {
            ip: "::1".into(),
            path: "/v1/status".into(),
            identity: "id".into(),
        },
        response: AuditResponse {
            code: 200,
            time: 12,
        },
    };
    golden(
        &event,
        r#"{"time":"2024-01-02T03:04:05.123456789Z","request":{"ip":"::1","path":"/v1/status","identity":"id"},"response":{"code":200,"time":12}}"#,
    );
    let empty = AuditEvent {
        time: EPOCH,
        request: AuditRequest::default(),
        response: AuditResponse::default(),
    };
    golden(
        &empty,
        r#"{"time":"1970-01-01T00:00:00Z","request":{"path":""},"response":{"code":0,"time":0}}"#,
    );
    decodes(
        &[
            "{}",
            r#"{"time":null,"request":{"ip":null,"path":null,"identity":null},"response":{"code":null,"time":null}}"#,
        ],
        &empty,
    );

    golden(
        &ErrorEvent {
            message: "m".into(),
        },
        r#"{"message":"m"}"#,
    );
    absent_or_null(&["message"], &ErrorEvent::default());

    let err = ErrorResponse {
        message: "key does not exist".into(),
    };
    golden(&err, r#"{"message":"key does not exist"}"#);
    decodes(&[r#"{"Message":"key does not exist"}"#], &err);
    absent_or_null(&["message"], &ErrorResponse::default());
}
