use s3s::dto::*;

use super::Expiration;
use super::*;

fn base(id: Option<&str>) -> LifecycleRule {
    LifecycleRule {
        abort_incomplete_multipart_upload: None,
        expiration: Some(LifecycleExpiration {
            date: None,
            days: Some(1),
            expired_object_delete_marker: None,
        }),
        filter: Some(LifecycleRuleFilter {
            and: None,
            object_size_greater_than: None,
            object_size_less_than: None,
            prefix: Some("logs/".to_owned()),
            tag: None,
        }),
        id: id.map(str::to_owned),
        noncurrent_version_expiration: None,
        noncurrent_version_transitions: None,
        prefix: None,
        status: ExpirationStatus::from_static(ExpirationStatus::ENABLED),
        transitions: None,
    }
}

fn check(rules: Vec<LifecycleRule>) -> Result<Vec<Rule>> {
    validate(&mut BucketLifecycleConfiguration { rules })
}

fn message(r: Result<Vec<Rule>>) -> (String, String) {
    let e = s3s::S3Error::from(r.unwrap_err());
    (
        e.code().as_str().to_owned(),
        e.message().unwrap_or_default().to_owned(),
    )
}

#[test]
fn valid_rule_and_generated_id() {
    let mut doc = BucketLifecycleConfiguration {
        rules: vec![base(None)],
    };
    let rules = validate(&mut doc).unwrap();
    assert_eq!(rules[0].expiration, Some(Expiration::Days(1)));
    assert_eq!(rules[0].filter.prefix, "logs/");
    assert!(!rules[0].id.is_empty());
    assert_eq!(doc.rules[0].id.as_deref(), Some(rules[0].id.as_str()));
    // The stored XML round-trips.
    let back = from_xml(&to_xml(&doc).unwrap()).unwrap();
    assert_eq!(back, doc);
}

#[test]
fn s3_errors() {
    let mut r = base(Some("a"));
    r.status = ExpirationStatus::from("enabled".to_owned());
    assert_eq!(message(check(vec![r])).0, "MalformedXML");

    assert_eq!(
        message(check(vec![base(Some("a")), base(Some("a"))])),
        (
            "InvalidArgument".to_owned(),
            "Rule ID must be unique. Found same ID for more than one rule".to_owned()
        )
    );
    assert_eq!(
        message(check(vec![base(Some(&"x".repeat(256)))])).1,
        "ID length should not exceed allowed limit of 255"
    );
    assert!(check(vec![base(Some(&"x".repeat(255)))]).is_ok());

    let mut r = base(Some("a"));
    r.expiration.as_mut().unwrap().days = Some(0);
    assert_eq!(
        message(check(vec![r])),
        (
            "InvalidArgument".to_owned(),
            "'Days' for Expiration action must be a positive integer".to_owned()
        )
    );

    let mut r = base(Some("a"));
    r.expiration = Some(LifecycleExpiration {
        date: Some(Timestamp::from(
            time::OffsetDateTime::from_unix_timestamp(86_400 + 3600).unwrap(),
        )),
        days: None,
        expired_object_delete_marker: None,
    });
    assert_eq!(message(check(vec![r])).1, "'Date' must be at midnight GMT");

    let mut r = base(Some("a"));
    r.expiration.as_mut().unwrap().expired_object_delete_marker = Some(true);
    assert_eq!(message(check(vec![r])).0, "InvalidArgument");

    let mut r = base(Some("a"));
    r.prefix = Some(String::new());
    assert_eq!(
        message(check(vec![r])).0,
        "MalformedXML",
        "Filter and Prefix"
    );
    let mut r = base(Some("a"));
    r.filter = None;
    assert_eq!(message(check(vec![r])).0, "MalformedXML", "neither");
    let mut r = base(Some("a"));
    r.filter = None;
    r.prefix = Some("legacy/".to_owned());
    assert_eq!(check(vec![r]).unwrap()[0].filter.prefix, "legacy/");

    let mut r = base(Some("a"));
    r.filter.as_mut().unwrap().tag = Some(Tag {
        key: Some("k".into()),
        value: Some("v".into()),
    });
    assert_eq!(message(check(vec![r])).0, "MalformedXML", "two filters");

    let mut r = base(Some("a"));
    r.expiration = None;
    assert_eq!(
        message(check(vec![r])),
        (
            "InvalidRequest".to_owned(),
            "At least one action needs to be specified in a rule".to_owned()
        )
    );

    let mut r = base(Some("a"));
    r.transitions = Some(vec![Transition {
        date: None,
        days: Some(30),
        storage_class: Some(TransitionStorageClass::from_static("GLACIER")),
    }]);
    assert_eq!(message(check(vec![r])).0, "NotImplemented");

    let mut r = base(Some("a"));
    r.noncurrent_version_expiration = Some(NoncurrentVersionExpiration {
        newer_noncurrent_versions: Some(101),
        noncurrent_days: Some(1),
    });
    assert_eq!(message(check(vec![r])).0, "InvalidArgument");

    let mut r = base(Some("a"));
    r.abort_incomplete_multipart_upload = Some(AbortIncompleteMultipartUpload {
        days_after_initiation: Some(2),
    });
    r.filter = Some(LifecycleRuleFilter {
        and: None,
        object_size_greater_than: None,
        object_size_less_than: None,
        prefix: None,
        tag: Some(Tag {
            key: Some("k".into()),
            value: Some("v".into()),
        }),
    });
    assert_eq!(message(check(vec![r])).0, "InvalidRequest");

    let mut r = base(Some("a"));
    r.filter = Some(LifecycleRuleFilter {
        and: Some(LifecycleRuleAndOperator {
            object_size_greater_than: Some(10),
            object_size_less_than: Some(5),
            prefix: None,
            tags: None,
        }),
        object_size_greater_than: None,
        object_size_less_than: None,
        prefix: None,
        tag: None,
    });
    assert_eq!(message(check(vec![r])).0, "InvalidArgument");

    assert_eq!(message(check(Vec::new())).0, "MalformedXML");
    let many: Vec<_> = (0..=MAX_RULES)
        .map(|i| base(Some(&i.to_string())))
        .collect();
    assert_eq!(message(check(many)).0, "MalformedXML");
}
