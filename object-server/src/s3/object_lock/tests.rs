use super::*;

fn meta_with(pairs: &[(&str, &str)]) -> ObjectMeta {
    let mut m = super::super::object::tests_meta();
    for (k, v) in pairs {
        m.internal.insert((*k).to_owned(), (*v).to_owned());
    }
    m
}

#[test]
fn state_round_trip_and_locking() {
    let now = OffsetDateTime::now_utc();
    let later = now + time::Duration::hours(1);
    let mut internal = BTreeMap::new();
    let state = LockState {
        retention: Some(Retention {
            mode: Mode::Governance,
            until: later,
        }),
        legal_hold: Some(false),
    };
    state.store(&mut internal);
    let mut meta = meta_with(&[]);
    meta.internal = internal;
    assert_eq!(LockState::of(&meta), state);
    assert!(version_is_locked(&meta, SystemTime::now()));
    assert!(
        !state.protects(now, true),
        "governance yields to the bypass"
    );
    assert!(!state.protects(later + time::Duration::seconds(1), false));
    let held = LockState {
        legal_hold: Some(true),
        ..LockState::default()
    };
    assert!(held.protects(now, true), "a legal hold ignores the bypass");
    let compliance = LockState {
        retention: Some(Retention {
            mode: Mode::Compliance,
            until: later,
        }),
        legal_hold: None,
    };
    assert!(compliance.protects(now, true));
    // Old metadata (no entries) is unlocked; a damaged entry is locked for ever.
    assert!(!version_is_locked(&meta_with(&[]), SystemTime::now()));
    let damaged = meta_with(&[(META_MODE, "GOVERNANCE"), (META_UNTIL, "soon")]);
    assert!(version_is_locked(&damaged, SystemTime::now()));
    let mut marker = damaged.clone();
    marker.delete_marker = true;
    assert!(!version_is_locked(&marker, SystemTime::now()));
}

#[test]
fn config_validation() {
    let cfg = |mode: Option<&'static str>, days: Option<i32>, years: Option<i32>| {
        ObjectLockConfiguration {
            object_lock_enabled: Some(ObjectLockEnabled::from_static("Enabled")),
            rule: Some(ObjectLockRule {
                default_retention: Some(DefaultRetention {
                    mode: mode.map(ObjectLockRetentionMode::from_static),
                    days,
                    years,
                }),
            }),
        }
    };
    let ok = parse_config(Some(&cfg(Some("GOVERNANCE"), Some(3), None))).unwrap();
    assert_eq!(config_out(&ok), cfg(Some("GOVERNANCE"), Some(3), None));
    assert!(matches!(
        parse_config(Some(&cfg(Some("COMPLIANCE"), Some(1), Some(1)))),
        Err(Error::MalformedXml)
    ));
    assert!(matches!(
        parse_config(Some(&cfg(Some("COMPLIANCE"), None, None))),
        Err(Error::MalformedXml)
    ));
    assert!(matches!(
        parse_config(Some(&cfg(Some("SOMETIMES"), Some(1), None))),
        Err(Error::MalformedXml)
    ));
    assert!(matches!(
        parse_config(Some(&cfg(Some("GOVERNANCE"), Some(0), None))),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        parse_config(Some(&cfg(Some("GOVERNANCE"), None, Some(-1)))),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(parse_config(None), Err(Error::MalformedXml)));
    let years = DefaultRule {
        mode: Mode::Compliance,
        days: None,
        years: Some(2),
    };
    let now = OffsetDateTime::now_utc();
    assert_eq!(years.retention(now).until.year(), now.year() + 2);
}
