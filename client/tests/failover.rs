//! Retry and failover behaviour of the client over real TLS (object-sse.md §1.3, kes-api.md §1.8): 503 retried
//! twice, 501 and 4xx returned at once, 5xx and transport errors fail over and quarantine the endpoint.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
#![allow(clippy::unwrap_used, reason = "tests may panic")]

mod common;

use std::time::{Duration, Instant};

use client::Error;
use common::{Reply, TestServer, builder, dead_endpoint};

fn ok_version() -> Reply {
    Reply::json(200, r#"{"version":"v1","commit":"c"}"#)
}

#[tokio::test]
async fn status_503_is_retried_twice_then_returned() {
    let a = TestServer::always(Reply::error(503, "busy")).await;
    let c = builder(&[&a]).endpoint(a.endpoint()).build().unwrap();
    let err = c.version().await.unwrap_err();
    assert!(err.is(503, "busy"), "{err:?}");
    assert_eq!(a.hits(), 3, "1 try + 2 retries");
}

#[tokio::test]
async fn status_503_then_success_on_same_endpoint() {
    let a = TestServer::script(
        vec![Reply::error(503, "busy"), Reply::error(503, "busy")],
        ok_version(),
    )
    .await;
    let b = TestServer::always(ok_version()).await;
    let c = builder(&[&a, &b])
        .endpoints([a.endpoint(), b.endpoint()])
        .build()
        .unwrap();
    assert_eq!(c.version().await.unwrap().version, "v1");
    assert_eq!(a.hits(), 3);
    assert_eq!(b.hits(), 0);
}

#[tokio::test]
async fn status_503_exhausted_fails_over() {
    let a = TestServer::always(Reply::error(503, "busy")).await;
    let b = TestServer::always(ok_version()).await;
    let c = builder(&[&a, &b])
        .endpoints([a.endpoint(), b.endpoint()])
        .build()
        .unwrap();
    assert_eq!(c.version().await.unwrap().version, "v1");
    assert_eq!((a.hits(), b.hits()), (3, 1));
}

#[tokio::test]
async fn retry_pause_is_bounded_by_the_configured_range() {
    let a = TestServer::always(Reply::error(503, "busy")).await;
    let c = builder(&[&a])
        .endpoint(a.endpoint())
        .retry_delay(Duration::from_millis(40)..Duration::from_millis(41))
        .build()
        .unwrap();
    let t = Instant::now();
    assert!(c.version().await.unwrap_err().is(503, "busy"));
    assert!(
        t.elapsed() >= Duration::from_millis(80),
        "two pauses of >= 40 ms"
    );
}

#[tokio::test]
async fn status_501_is_returned_at_once_without_failover() {
    let a = TestServer::always(Reply::error(501, "not implemented")).await;
    let b = TestServer::always(ok_version()).await;
    let c = builder(&[&a, &b])
        .endpoints([a.endpoint(), b.endpoint()])
        .build()
        .unwrap();
    let err = c.version().await.unwrap_err();
    assert!(err.matches(Error::NOT_IMPLEMENTED), "{err:?}");
    assert_eq!((a.hits(), b.hits()), (1, 0));
}

#[tokio::test]
async fn status_4xx_never_fails_over() {
    for (status, msg) in [
        Error::NOT_ALLOWED,
        Error::KEY_NOT_FOUND,
        Error::KEY_EXISTS,
        (429, "slow down"),
    ] {
        let a = TestServer::always(Reply::error(status, msg)).await;
        let b = TestServer::always(ok_version()).await;
        let c = builder(&[&a, &b])
            .endpoints([a.endpoint(), b.endpoint()])
            .build()
            .unwrap();
        let err = c.version().await.unwrap_err();
        assert!(err.is(status, msg), "{err:?}");
        assert_eq!((a.hits(), b.hits()), (1, 0), "{status}");
    }
}

#[tokio::test]
async fn status_500_fails_over_and_quarantines() {
    let a = TestServer::always(Reply::error(500, "boom")).await;
    let b = TestServer::always(ok_version()).await;
    let c = builder(&[&a, &b])
        .endpoints([a.endpoint(), b.endpoint()])
        .build()
        .unwrap();
    assert_eq!(c.version().await.unwrap().version, "v1");
    assert_eq!(
        (a.hits(), b.hits()),
        (1, 1),
        "500 is not retried on the same endpoint"
    );
    // A is quarantined: the next requests go straight to B.
    for _ in 0..3 {
        c.version().await.unwrap();
    }
    assert_eq!((a.hits(), b.hits()), (1, 4));
}

#[tokio::test]
async fn quarantine_expires_and_endpoint_is_probed_again() {
    let a = TestServer::script(vec![Reply::error(502, "bad gateway")], ok_version()).await;
    let b = TestServer::always(ok_version()).await;
    let c = builder(&[&a, &b])
        .endpoints([a.endpoint(), b.endpoint()])
        .quarantine(Duration::ZERO)
        .build()
        .unwrap();
    c.version().await.unwrap();
    assert_eq!((a.hits(), b.hits()), (1, 1));
    // Zero quarantine: A (local, first) is tried again and now succeeds.
    c.version().await.unwrap();
    assert_eq!((a.hits(), b.hits()), (2, 1));
}

#[tokio::test]
async fn all_failed_returns_the_last_error_and_retries_quarantined_once_more() {
    let a = TestServer::always(Reply::error(500, "a down")).await;
    let b = TestServer::always(Reply::error(500, "b down")).await;
    let c = builder(&[&a, &b])
        .endpoints([a.endpoint(), b.endpoint()])
        .build()
        .unwrap();
    let err = c.version().await.unwrap_err();
    assert!(err.is(500, "b down"), "{err:?}");
    assert_eq!((a.hits(), b.hits()), (1, 1));
    // Both are quarantined now; no response was obtained in the first pass, so both get one more try.
    let err = c.version().await.unwrap_err();
    assert!(err.is(500, "b down"), "{err:?}");
    assert_eq!((a.hits(), b.hits()), (2, 2));
}

#[tokio::test]
async fn transport_error_fails_over_to_the_next_endpoint() {
    let dead = dead_endpoint();
    let b = TestServer::always(ok_version()).await;
    let c = builder(&[&b])
        .endpoints([dead.clone(), b.endpoint()])
        .build()
        .unwrap();
    assert_eq!(c.endpoints()[0], format!("https://{dead}"));
    assert_eq!(c.version().await.unwrap().version, "v1");
    assert_eq!(b.hits(), 1);
    c.version().await.unwrap();
    assert_eq!(b.hits(), 2);
}

#[tokio::test]
async fn only_dead_endpoints_give_a_connection_error() {
    let c = builder(&[])
        .endpoints([dead_endpoint(), dead_endpoint()])
        .build()
        .unwrap();
    let err = c.version().await.unwrap_err();
    assert!(err.is_connection(), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with("kes: connection error: https://127.0.0.1:"),
        "{text}"
    );
}

#[tokio::test]
async fn untrusted_server_certificate_is_a_connection_error_and_insecure_skips_it() {
    let a = TestServer::always(ok_version()).await;
    let strict = client::Client::builder()
        .api_key(client::ApiKey::generate().unwrap())
        .endpoint(a.endpoint())
        .retry_delay(Duration::ZERO..Duration::from_millis(1))
        .build()
        .unwrap();
    let err = strict.version().await.unwrap_err();
    assert!(err.is_connection(), "{err:?}");
    assert_eq!(a.hits(), 0);

    let insecure = client::Client::builder()
        .api_key(client::ApiKey::generate().unwrap())
        .endpoint(a.endpoint())
        .insecure(true)
        .build()
        .unwrap();
    assert_eq!(insecure.version().await.unwrap().version, "v1");
    assert_eq!(a.hits(), 1);
}
