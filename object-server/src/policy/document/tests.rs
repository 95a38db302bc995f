use super::*;

const ENFORCE_SSE: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "DenyUnencrypted", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
     "Resource": "arn:aws:s3:::b/*",
     "Condition": {"Null": {"s3:x-amz-server-side-encryption": "true",
                            "s3:x-amz-server-side-encryption-customer-algorithm": "true"}}},
    {"Sid": "DenyOtherAlgorithms", "Effect": "Deny", "Principal": {"AWS": ["*"]},
     "Action": ["s3:PutObject"], "Resource": ["arn:aws:s3:::b/*"],
     "Condition": {"Null": {"s3:x-amz-server-side-encryption": "false"},
                   "StringNotEquals": {"s3:x-amz-server-side-encryption": ["AES256", "aws:kms"]}}}
  ]
}"#;

fn root() -> Principal {
    Principal::Root {
        access_key: "admin".into(),
    }
}

fn eval(
    p: &Policy,
    who: &Principal,
    action: &str,
    resource: &str,
    keys: &[(&str, &str)],
) -> Decision {
    let keys: Keys = keys
        .iter()
        .map(|(k, v)| (k.to_string(), vec![v.to_string()]))
        .collect();
    p.evaluate(&Request {
        principal: who,
        action,
        resource,
        keys: &keys,
    })
}

#[test]
fn encryption_enforcement() {
    let p = Policy::parse(ENFORCE_SSE, "b").unwrap();
    assert!(!p.is_public());
    let put = |keys: &[(&str, &str)]| eval(&p, &root(), "s3:PutObject", "arn:aws:s3:::b/k", keys);
    assert_eq!(put(&[]), Decision::Deny);
    assert_eq!(
        put(&[("s3:x-amz-server-side-encryption", "AES256")]),
        Decision::NotApplicable
    );
    assert_eq!(
        put(&[("s3:x-amz-server-side-encryption", "aws:kms")]),
        Decision::NotApplicable
    );
    assert_eq!(
        put(&[("s3:x-amz-server-side-encryption", "bogus")]),
        Decision::Deny
    );
    assert_eq!(
        put(&[(
            "s3:x-amz-server-side-encryption-customer-algorithm",
            "AES256"
        )]),
        Decision::NotApplicable
    );
    assert_eq!(
        eval(&p, &root(), "s3:GetObject", "arn:aws:s3:::b/k", &[]),
        Decision::NotApplicable
    );
    assert_eq!(
        eval(&p, &root(), "s3:PutObject", "arn:aws:s3:::other/k", &[]),
        Decision::NotApplicable
    );
}

#[test]
fn public_read_and_principals() {
    let p = Policy::parse(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},
            "Action":["s3:GetObject"],"Resource":"arn:aws:s3:::b/public/*"}]}"#,
        "b",
    )
    .unwrap();
    assert!(p.is_public());
    let anon = Principal::Anonymous;
    assert_eq!(
        eval(&p, &anon, "s3:GetObject", "arn:aws:s3:::b/public/x", &[]),
        Decision::Allow
    );
    assert_eq!(
        eval(&p, &anon, "s3:GetObject", "arn:aws:s3:::b/private/x", &[]),
        Decision::NotApplicable
    );
    assert_eq!(
        eval(&p, &anon, "s3:PutObject", "arn:aws:s3:::b/public/x", &[]),
        Decision::NotApplicable
    );

    let p = Policy::parse(
        r#"{"Statement":{"Effect":"Deny","Principal":{"AWS":["arn:aws:iam::123456789012:root"]},
            "NotAction":"s3:Get*","Resource":"arn:aws:s3:::b*"}}"#,
        "b",
    )
    .unwrap();
    assert!(!p.is_public());
    assert_eq!(
        eval(&p, &root(), "s3:PutObject", "arn:aws:s3:::b/x", &[]),
        Decision::Deny
    );
    assert_eq!(
        eval(&p, &root(), "s3:GetObject", "arn:aws:s3:::b/x", &[]),
        Decision::NotApplicable
    );
    assert_eq!(
        eval(&p, &anon, "s3:PutObject", "arn:aws:s3:::b/x", &[]),
        Decision::NotApplicable
    );

    let p = Policy::parse(
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*",
            "NotResource":"arn:aws:s3:::b/secret/*",
            "Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}"#,
        "b",
    )
    .unwrap();
    assert!(!p.is_public(), "limited to a source range");
    let ip = [("aws:sourceip", "10.2.3.4")];
    assert_eq!(
        eval(&p, &anon, "s3:GetObject", "arn:aws:s3:::b/x", &ip),
        Decision::Allow
    );
    assert_eq!(
        eval(&p, &anon, "s3:GetObject", "arn:aws:s3:::b/secret/x", &ip),
        Decision::NotApplicable
    );
    assert_eq!(
        eval(
            &p,
            &anon,
            "s3:GetObject",
            "arn:aws:s3:::b/x",
            &[("aws:sourceip", "192.0.2.1")]
        ),
        Decision::NotApplicable
    );
}

#[test]
fn malformed_policies() {
    let err = |text: &str| Policy::parse(text, "b").unwrap_err().to_string();
    let st = |body: &str| format!(r#"{{"Version":"2012-10-17","Statement":[{body}]}}"#);
    assert_eq!(
        err("not json"),
        "Policies must be valid JSON and the first byte must be '{'"
    );
    assert_eq!(
        err("{"),
        "Policies must be valid JSON and the first byte must be '{'"
    );
    assert_eq!(
        err(r#"{"Version":"2012-10-17"}"#),
        "Missing required field Statement"
    );
    assert_eq!(
        err(r#"{"Version":"2020-01-01","Statement":[]}"#),
        "The policy must contain a valid version string"
    );
    assert_eq!(err(r#"{"Statement":[],"Extra":1}"#), "Unknown field Extra");
    assert_eq!(
        err(r#"{"Statement":[]}"#),
        "Missing required field Statement"
    );
    assert_eq!(
        err(&st(
            r#"{"Effect":"Maybe","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#
        )),
        "Invalid effect: Maybe"
    );
    assert_eq!(
        err(&st(
            r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#
        )),
        "Missing required field Principal"
    );
    assert_eq!(
        err(&st(
            r#"{"Effect":"Allow","Principal":{"Service":"x"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#
        )),
        "Invalid principal in policy"
    );
    assert_eq!(
        err(&st(
            r#"{"Effect":"Allow","Principal":"*","Action":"s3:Fly","Resource":"arn:aws:s3:::b/*"}"#
        )),
        "Policy has invalid action"
    );
    assert_eq!(
        err(&st(
            r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}"#
        )),
        "Policy has invalid resource"
    );
    assert_eq!(
        err(&st(
            r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b"}"#
        )),
        "Action does not apply to any resource(s) in statement"
    );
    assert_eq!(
        err(&st(
            r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject"}"#
        )),
        "Missing required field Resource"
    );
    assert_eq!(
        err(&st(
            r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","NotAction":"s3:PutObject","Resource":"*"}"#
        )),
        "Statement has both Action and NotAction"
    );
    let big = format!(
        r#"{{"Statement":[],"Id":"{}"}}"#,
        "x".repeat(MAX_POLICY_BYTES)
    );
    assert_eq!(Policy::parse(&big, "b").unwrap_err(), PolicyError::TooLarge);
}
