use super::*;
use crate::lifecycle::config::NoncurrentExpiration;

const DAY: u64 = DAY_NS;
const HOUR: u64 = DAY / 24;

fn meta(key: &str, vid: Option<&str>, at: u64, size: u64, marker: bool) -> ObjectMeta {
    let mut m: ObjectMeta = serde_json::from_value(serde_json::json!({
        "format": 1, "key": key, "size": size, "stored_size": size, "etag": "e",
        "last_modified_ns": at,
    }))
    .unwrap();
    m.version_id = vid.map(str::to_owned);
    m.delete_marker = marker;
    m
}

fn v(m: ObjectMeta, tags: &[(&str, &str)]) -> Version {
    Version {
        meta: m,
        tags: tags
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

fn rule(id: &str, filter: Filter) -> Rule {
    Rule {
        id: id.to_owned(),
        enabled: true,
        filter,
        expiration: None,
        noncurrent: None,
        abort_after_days: None,
    }
}

#[test]
fn days_round_up_to_the_next_midnight() {
    // Created 10:30 on day 100: one day later is 10:30 on day 101 → due at day 102, 00:00.
    let created = 100 * DAY + 10 * HOUR + HOUR / 2;
    assert_eq!(due_after_days(created, 1), 102 * DAY);
    assert_eq!(due_after_days(created, 3), 104 * DAY);
    // Created exactly at midnight: the next midnight after created + N days.
    assert_eq!(due_after_days(100 * DAY, 1), 102 * DAY);
    // Far beyond the representable range: never due.
    assert_eq!(due_after_days(u64::MAX - 5, 1), u64::MAX);
}

#[test]
fn current_expiration_by_days_with_a_moved_clock() {
    let mut r = rule(
        "r",
        Filter {
            prefix: "logs/".into(),
            ..Filter::default()
        },
    );
    r.expiration = Some(Expiration::Days(2));
    let created = 10 * DAY + 23 * HOUR;
    let obj = [v(meta("logs/a", None, created, 5, false), &[])];
    let due = 13 * DAY;
    assert!(plan(std::slice::from_ref(&r), "logs/a", &obj, due - 1).is_empty());
    assert_eq!(
        plan(std::slice::from_ref(&r), "logs/a", &obj, due)
            .current
            .as_deref(),
        Some("r")
    );
    // Other prefix, disabled rule: untouched; a delete marker is never "expired" as a current
    // version (a lone one is removed instead).
    let other = [v(meta("img/a", None, created, 5, false), &[])];
    assert!(plan(std::slice::from_ref(&r), "img/a", &other, due * 2).is_empty());
    let mut off = r.clone();
    off.enabled = false;
    assert!(plan(&[off], "logs/a", &obj, due * 2).is_empty());
    let marker = [v(meta("logs/a", Some("m"), created, 0, true), &[])];
    let p = plan(std::slice::from_ref(&r), "logs/a", &marker, due * 2);
    assert!(
        p.current.is_none() && p.lone_marker.as_deref() == Some("r"),
        "{p:?}"
    );
}

#[test]
fn date_tag_and_size_filters() {
    let mut r = rule(
        "tagged",
        Filter {
            prefix: String::new(),
            tags: vec![("class".into(), "tmp".into())],
            size_greater_than: Some(10),
            size_less_than: Some(100),
        },
    );
    r.expiration = Some(Expiration::Date(50 * 86_400));
    let now = 50 * DAY;
    let hit = [v(
        meta("k", None, now - 1, 50, false),
        &[("class", "tmp"), ("x", "y")],
    )];
    assert!(
        plan(std::slice::from_ref(&r), "k", &hit, now - 1)
            .current
            .is_none()
    );
    assert!(
        plan(std::slice::from_ref(&r), "k", &hit, now)
            .current
            .is_some()
    );
    for (tags, size) in [
        (vec![("class", "keep")], 50),
        (vec![], 50),
        (vec![("class", "tmp")], 10),
        (vec![("class", "tmp")], 100),
    ] {
        let miss = [v(meta("k", None, 0, size, false), &tags)];
        assert!(
            plan(std::slice::from_ref(&r), "k", &miss, now).is_empty(),
            "{tags:?} {size}"
        );
    }
}

#[test]
fn noncurrent_versions_and_lone_markers() {
    let mut r = rule("nc", Filter::default());
    r.noncurrent = Some(NoncurrentExpiration {
        days: 1,
        keep_newer: 1,
    });
    let mut m = rule("dm", Filter::default());
    m.expiration = Some(Expiration::DeleteMarker);
    let rules = [r, m];
    // Current version written on day 20 (so v2 became noncurrent then), v2 replaced v1 on day 10.
    let versions = [
        v(meta("k", Some("v3"), 20 * DAY, 1, false), &[]),
        v(meta("k", Some("v2"), 10 * DAY, 1, false), &[]),
        v(meta("k", Some("v1"), DAY, 1, false), &[]),
    ];
    // Day 12: v1 (noncurrent since day 10) is due; v2 is the one newest kept anyway.
    let p = plan(&rules, "k", &versions, 12 * DAY);
    assert_eq!(p.noncurrent, [("v1".to_owned(), "nc".to_owned())]);
    assert!(p.current.is_none() && p.lone_marker.is_none());
    assert!(plan(&rules, "k", &versions, 12 * DAY - 1).is_empty());

    // A delete marker whose older versions all expire now is removed in the same plan.
    let mut nc_all = rules.clone();
    nc_all[0].noncurrent = Some(NoncurrentExpiration {
        days: 1,
        keep_newer: 0,
    });
    let marked = [
        v(meta("k", Some("dm"), 30 * DAY, 0, true), &[]),
        v(meta("k", Some("v1"), DAY, 1, false), &[]),
    ];
    let p = plan(&nc_all, "k", &marked, 32 * DAY);
    assert_eq!(p.noncurrent.len(), 1);
    assert_eq!(p.lone_marker.as_deref(), Some("dm"));
    // Before the version is due the marker stays.
    let p = plan(&nc_all, "k", &marked, 31 * DAY);
    assert!(p.is_empty(), "{p:?}");

    // A Days rule also removes a lone marker once the marker is old enough; a Date rule not.
    let lone = [v(meta("k", Some("dm"), 30 * DAY + HOUR, 0, true), &[])];
    let mut days = rule("days", Filter::default());
    days.expiration = Some(Expiration::Days(2));
    assert!(plan(std::slice::from_ref(&days), "k", &lone, 33 * DAY - 1).is_empty());
    assert_eq!(
        plan(std::slice::from_ref(&days), "k", &lone, 33 * DAY)
            .lone_marker
            .as_deref(),
        Some("days")
    );
    let mut date = rule("date", Filter::default());
    date.expiration = Some(Expiration::Date(0));
    assert!(plan(&[date], "k", &lone, 100 * DAY).is_empty());
}
