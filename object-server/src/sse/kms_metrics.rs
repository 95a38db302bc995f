//! Local KMS request counters (MinIO's `/minio/kms/v1/metrics`, object-sse.md §8): successes,
//! errors (KMS answers below 500), failures (500 and above, or no answer) and a cumulative
//! response-time histogram. Counted: generate, decrypt, create.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the response-time buckets (cumulative, as MinIO reports them).
pub const BUCKETS: [Duration; 10] = [
    Duration::from_millis(10),
    Duration::from_millis(50),
    Duration::from_millis(100),
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_millis(1500),
    Duration::from_secs(3),
    Duration::from_secs(5),
    Duration::from_secs(10),
];

/// The counters (shared by all clones of a `Kms`).
#[derive(Debug, Default)]
pub struct KmsMetrics {
    success: AtomicU64,
    error: AtomicU64,
    failure: AtomicU64,
    latency: [AtomicU64; BUCKETS.len()],
}

/// How a KMS request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Answered with success.
    Success,
    /// Answered with an error status below 500.
    Error,
    /// Answered 5xx, or not at all.
    Failure,
}

impl Outcome {
    /// The outcome of a client result.
    pub fn of<T>(r: &Result<T, client::Error>) -> Self {
        match r {
            Ok(_) => Outcome::Success,
            Err(e) => match e.status() {
                Some(s) if s < 500 => Outcome::Error,
                _ => Outcome::Failure,
            },
        }
    }
}

impl KmsMetrics {
    /// Records one request.
    pub fn record(&self, outcome: Outcome, took: Duration) {
        let counter = match outcome {
            Outcome::Success => &self.success,
            Outcome::Error => &self.error,
            Outcome::Failure => &self.failure,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        for (bound, bucket) in BUCKETS.iter().zip(&self.latency) {
            if took <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// (successes, errors, failures) so far.
    pub fn counts(&self) -> (u64, u64, u64) {
        (
            self.success.load(Ordering::Relaxed),
            self.error.load(Ordering::Relaxed),
            self.failure.load(Ordering::Relaxed),
        )
    }

    /// MinIO's JSON: `{"kms_req_success","kms_req_error","kms_req_failure","kms_resp_time":
    /// {"<bucket bound in ns>": count}}`.
    pub fn to_json(&self) -> serde_json::Value {
        let times: serde_json::Map<String, serde_json::Value> = BUCKETS
            .iter()
            .zip(&self.latency)
            .map(|(b, c)| (b.as_nanos().to_string(), c.load(Ordering::Relaxed).into()))
            .collect();
        serde_json::json!({
            "kms_req_success": self.success.load(Ordering::Relaxed),
            "kms_req_error": self.error.load(Ordering::Relaxed),
            "kms_req_failure": self.failure.load(Ordering::Relaxed),
            "kms_resp_time": times,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_cumulative_buckets() {
        let m = KmsMetrics::default();
        m.record(Outcome::Success, Duration::from_millis(5));
        m.record(Outcome::Error, Duration::from_millis(200));
        m.record(Outcome::Failure, Duration::from_secs(20));
        let j = m.to_json();
        assert_eq!(j["kms_req_success"], 1);
        assert_eq!(j["kms_req_error"], 1);
        assert_eq!(j["kms_req_failure"], 1);
        assert_eq!(j["kms_resp_time"]["10000000"], 1);
        assert_eq!(j["kms_resp_time"]["250000000"], 2);
        assert_eq!(j["kms_resp_time"]["10000000000"], 2);
        assert_eq!(
            Outcome::of::<()>(&Err(client::Error::from(client::Error::KEY_NOT_FOUND))),
            Outcome::Error
        );
        assert_eq!(
            Outcome::of::<()>(&Err(client::Error::Connection("x".into()))),
            Outcome::Failure
        );
    }
}
