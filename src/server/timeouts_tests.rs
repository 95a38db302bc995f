//! Unit tests of [`super`]'s timing rules, on tokio's paused clock.

#![allow(clippy::unwrap_used)]

use super::*;

/// KES's default timeouts, shared with the `body` and `io` tests.
pub(crate) const T: Timeouts = Timeouts {
    header: Duration::from_secs(5),
    idle: Duration::from_secs(90),
};
/// KES's default stall bound, shared with the `body` and `io` tests.
pub(crate) const STALL: Duration = Duration::from_secs(15);

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[tokio::test(start_paused = true)]
async fn phases() {
    let a = Activity::new();
    let start = a.accepted();
    assert_eq!(
        a.deadline(T, STALL),
        Some((start + T.header, Expiry::Head)),
        "the first request head is due from accept"
    );
    tokio::time::advance(secs(1)).await;
    a.spoken(Protocol::Http1);
    a.bytes_read();
    assert_eq!(
        a.deadline(T, STALL),
        Some((start + T.header, Expiry::Head)),
        "still counted from accept once the first bytes arrive"
    );
    let g = a.request_started();
    assert_eq!(a.deadline(T, STALL), None);
    tokio::time::advance(secs(100)).await;
    drop(g);
    assert_eq!(
        a.deadline(T, STALL),
        Some((start + secs(101) + T.idle, Expiry::Idle))
    );
    tokio::time::advance(secs(10)).await;
    a.bytes_read();
    assert_eq!(
        a.deadline(T, STALL),
        Some((start + secs(111) + T.header, Expiry::Head))
    );
    a.bytes_read(); // more bytes of the same head do not extend it
    assert_eq!(
        a.deadline(T, STALL),
        Some((start + secs(111) + T.header, Expiry::Head))
    );

    let h2 = Activity::new();
    tokio::time::advance(secs(2)).await;
    h2.spoken(Protocol::H2);
    assert_eq!(
        h2.deadline(T, STALL),
        Some((h2.accepted() + secs(2) + T.idle, Expiry::Idle))
    );
    h2.bytes_read(); // pings and settings are not request heads
    assert_eq!(
        h2.deadline(T, STALL),
        Some((h2.accepted() + secs(2) + T.idle, Expiry::Idle))
    );
}

#[tokio::test(start_paused = true)]
async fn expires_only_when_nothing_is_in_flight() {
    let a = Activity::new();
    a.spoken(Protocol::H2);
    let g = a.request_started();
    let watch = tokio::spawn(expired(a.clone(), T, STALL));
    tokio::time::advance(secs(600)).await;
    tokio::task::yield_now().await;
    assert!(
        !watch.is_finished(),
        "a request in flight keeps the connection"
    );
    drop(g);
    tokio::time::advance(T.idle + secs(2)).await;
    assert_eq!(watch.await.unwrap(), Expiry::Idle);
}

#[tokio::test(start_paused = true)]
async fn a_response_waiting_for_its_consumer_stalls() {
    let a = Activity::new();
    a.spoken(Protocol::H2);
    let quiet = a.request_started(); // a log stream with nothing to send
    let g = a.request_started();
    g.handed_out(); // the response head
    let at = a.accepted();
    assert_eq!(a.deadline(T, STALL), Some((at + STALL, Expiry::Stalled)));
    // Polled again within the bound: not waiting any more.
    tokio::time::advance(secs(10)).await;
    g.polled();
    assert_eq!(a.deadline(T, STALL), None);
    // A frame handed out and never taken: a new stall from then.
    g.handed_out();
    assert_eq!(
        a.deadline(T, STALL),
        Some((at + secs(10) + STALL, Expiry::Stalled))
    );
    // The oldest of several waiting responses counts.
    tokio::time::advance(secs(3)).await;
    quiet.handed_out();
    assert_eq!(
        a.deadline(T, STALL),
        Some((at + secs(10) + STALL, Expiry::Stalled))
    );
    // A response that is dropped (done or reset) no longer stalls.
    drop(g);
    assert_eq!(
        a.deadline(T, STALL),
        Some((at + secs(13) + STALL, Expiry::Stalled))
    );
    quiet.polled();
    assert_eq!(a.deadline(T, STALL), None);

    let watch = tokio::spawn(expired(a.clone(), T, STALL));
    quiet.handed_out();
    tokio::time::advance(STALL - Duration::from_millis(100)).await;
    tokio::task::yield_now().await;
    assert!(!watch.is_finished(), "not before the stall bound");
    tokio::time::advance(Duration::from_millis(200)).await;
    assert_eq!(watch.await.unwrap(), Expiry::Stalled);
}

#[tokio::test(start_paused = true)]
async fn a_blocked_write_stalls_even_when_idle() {
    let a = Activity::new();
    a.spoken(Protocol::Http1);
    drop(a.request_started()); // the response body is done, its bytes are not sent
    a.write_blocked();
    tokio::time::advance(secs(4)).await;
    a.write_blocked(); // still blocked: the first time counts
    let at = a.accepted();
    assert_eq!(a.deadline(T, STALL), Some((at + STALL, Expiry::Stalled)));
    a.write_progressed();
    assert_eq!(
        a.deadline(T, STALL),
        Some((at + T.idle, Expiry::Idle)),
        "back to the idle rule"
    );
}

#[tokio::test(start_paused = true)]
async fn finished_requests_do_not_pile_up() {
    let a = Activity::new();
    for _ in 0..1000 {
        let g = a.request_started();
        g.handed_out();
        drop(g);
    }
    let _g = a.request_started();
    assert_eq!(a.waiting.lock().unwrap().len(), 1);
    assert_eq!(a.deadline(T, STALL), None);
}
