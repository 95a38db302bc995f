//! The load itself: `concurrency` workers send the operation in a loop; requests started in
//! the warm-up are not counted; the timed window is `[start + warmup, start + warmup +
//! duration)`, and the server's counters are read at both ends of it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use tokio::time::{Instant, sleep_until, timeout};

use crate::conn::{Answer, Conn, Target};
use crate::procfs::{self, PerfStat, Snapshot};
use crate::setup::{CONTEXT_B64, ciphertext_of};
use crate::stats::Tally;

/// The operation each worker repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Op {
    /// `POST /v1/key/generate/{name}`.
    Generate,
    /// `POST /v1/key/decrypt/{name}` of one ciphertext made before the run.
    Decrypt,
    /// generate, then decrypt of what it returned, alternately (each request is one op).
    Mixed,
    /// create a new key, then delete it, alternately (each request is one op).
    CreateDelete,
}

impl Op {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Op::Generate => "generate",
            Op::Decrypt => "decrypt",
            Op::Mixed => "mixed",
            Op::CreateDelete => "create-delete",
        }
    }
}

/// What to run.
pub(crate) struct Plan {
    pub(crate) op: Op,
    pub(crate) name: String,
    pub(crate) concurrency: usize,
    pub(crate) warmup: Duration,
    pub(crate) duration: Duration,
    /// One TLS connection per request.
    pub(crate) new_connection: bool,
    /// Per-request (and per-connect) timeout.
    pub(crate) timeout: Duration,
    /// The ciphertext a decrypt run opens (base64).
    pub(crate) ciphertext: String,
    pub(crate) server_pid: Option<u32>,
    /// Count the server's instructions with `perf stat`.
    pub(crate) perf: bool,
}

/// What the window measured.
pub(crate) struct Outcome {
    pub(crate) tally: Tally,
    pub(crate) elapsed: Duration,
    /// Server counters at the start and end of the window (with a server pid).
    pub(crate) server: Option<(Snapshot, Snapshot)>,
    pub(crate) instructions: Option<u64>,
}

/// Runs the plan against `target`.
///
/// # Errors
/// The first connection fails, or the server's /proc entries cannot be read.
pub(crate) async fn run(target: &Target, plan: Arc<Plan>) -> anyhow::Result<Outcome> {
    // h2 keep-alive: one connection shared by all workers, opened before the clock starts.
    let shared = if target.protocol() == "h2" && !plan.new_connection {
        Some(target.connect().await?.conn)
    } else {
        None
    };
    let start = Instant::now();
    let t0 = start + plan.warmup;
    let t1 = t0 + plan.duration;
    let first_error = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::with_capacity(plan.concurrency);
    for id in 0..plan.concurrency {
        let w = Worker {
            id,
            target: target.clone(),
            plan: plan.clone(),
            conn: shared.as_ref().and_then(Conn::share),
            t0,
            t1,
            first_error: first_error.clone(),
        };
        workers.push(tokio::spawn(w.run()));
    }
    sleep_until(t0).await;
    let before = plan.server_pid.map(procfs::snapshot).transpose()?;
    let perf = match (plan.perf, plan.server_pid) {
        (true, Some(pid)) => Some(PerfStat::start(pid)?),
        _ => None,
    };
    sleep_until(t1).await;
    let after = plan.server_pid.map(procfs::snapshot).transpose()?;
    let instructions = match perf {
        Some(p) => Some(p.stop().await?),
        None => None,
    };
    let elapsed = t1.saturating_duration_since(t0);
    let mut tally = Tally::new()?;
    for w in workers {
        tally.merge(&w.await??)?;
    }
    Ok(Outcome {
        tally,
        elapsed,
        server: before.zip(after),
        instructions,
    })
}

struct Worker {
    id: usize,
    target: Target,
    plan: Arc<Plan>,
    conn: Option<Conn>,
    t0: Instant,
    t1: Instant,
    first_error: Arc<AtomicBool>,
}

impl Worker {
    async fn run(mut self) -> anyhow::Result<Tally> {
        let mut tally = Tally::new()?;
        let fixed_body = decrypt_body(&self.plan.ciphertext);
        let mut last_ciphertext: Option<Bytes> = None;
        let mut i: u64 = 0;
        loop {
            let started = Instant::now();
            if started >= self.t1 {
                return Ok(tally);
            }
            let counted = started >= self.t0;
            let mut conn = match self.conn.take() {
                Some(c) if !self.plan.new_connection && !c.is_closed() => c,
                _ => match timeout(self.plan.timeout, self.target.connect()).await {
                    Ok(Ok(c)) => {
                        if counted {
                            tally.handshakes += 1;
                            tally.resumed += u64::from(c.resumed);
                        }
                        c.conn
                    }
                    Ok(Err(e)) => {
                        self.fail(&mut tally, counted, "transport", &e.to_string());
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        continue;
                    }
                    Err(_) => {
                        self.fail(&mut tally, counted, "timeout", "connect timed out");
                        continue;
                    }
                },
            };
            let name = &self.plan.name;
            let (method, path, body, want) = match (self.plan.op, i % 2) {
                (Op::Generate, _) | (Op::Mixed, 0) => (
                    Method::POST,
                    format!("/v1/key/generate/{name}"),
                    Bytes::from_static(GENERATE_BODY.as_bytes()),
                    Want::Ciphertext,
                ),
                (Op::Decrypt, _) | (Op::Mixed, _) => (
                    Method::POST,
                    format!("/v1/key/decrypt/{name}"),
                    last_ciphertext.take().unwrap_or_else(|| fixed_body.clone()),
                    Want::Plaintext,
                ),
                (Op::CreateDelete, 0) => (
                    Method::POST,
                    format!("/v1/key/create/{name}-cd-{}-{}", self.id, i / 2),
                    Bytes::new(),
                    Want::Success,
                ),
                (Op::CreateDelete, _) => (
                    Method::DELETE,
                    format!("/v1/key/delete/{name}-cd-{}-{}", self.id, i / 2),
                    Bytes::new(),
                    Want::Success,
                ),
            };
            i += 1;
            let req = self.target.request(method, &path, body)?;
            match timeout(self.plan.timeout, conn.exchange(req)).await {
                Ok(Ok(answer)) => {
                    match check(&answer, want) {
                        Ok(ct) => {
                            if counted {
                                tally.ok(started.elapsed());
                            }
                            if self.plan.op == Op::Mixed {
                                last_ciphertext = ct.map(|c| decrypt_body(&c));
                            }
                        }
                        Err(kind) => {
                            let text = String::from_utf8_lossy(&answer.body).into_owned();
                            self.fail(&mut tally, counted, &kind, &text);
                        }
                    }
                    if !self.plan.new_connection {
                        self.conn = Some(conn);
                    }
                }
                Ok(Err(e)) => {
                    self.fail(&mut tally, counted, "transport", &e.to_string());
                    if !conn.is_closed() && !self.plan.new_connection {
                        self.conn = Some(conn);
                    }
                }
                // The connection is mid-exchange: drop it.
                Err(_) => self.fail(&mut tally, counted, "timeout", "request timed out"),
            }
        }
    }

    /// Counts an error of `kind` (in the window) and prints the first one of the run.
    fn fail(&self, tally: &mut Tally, counted: bool, kind: &str, detail: &str) {
        if counted {
            tally.error(kind);
        }
        if !self.first_error.swap(true, Ordering::Relaxed) {
            eprintln!("kes-load: first error: {kind}: {}", detail.trim());
        }
    }
}

/// The generate request body.
const GENERATE_BODY: &str = concat!("{\"context\":\"", "Y3R4", "\"}");

/// A decrypt request body for `ciphertext` (base64).
fn decrypt_body(ciphertext: &str) -> Bytes {
    Bytes::from(format!(
        "{{\"ciphertext\":\"{ciphertext}\",\"context\":\"{CONTEXT_B64}\"}}"
    ))
}

/// What a successful answer must carry.
#[derive(Clone, Copy)]
enum Want {
    Ciphertext,
    Plaintext,
    Success,
}

/// Checks an answer: `Ok` with the ciphertext of a generate, or the error kind.
fn check(a: &Answer, want: Want) -> Result<Option<String>, String> {
    if !a.status.is_success() {
        return Err(format!("status_{}", a.status.as_u16()));
    }
    match want {
        Want::Success => Ok(None),
        Want::Ciphertext => ciphertext_of(&a.body)
            .map(Some)
            .ok_or_else(|| "invalid_response".to_owned()),
        Want::Plaintext => {
            #[derive(serde::Deserialize)]
            struct Decrypted {
                plaintext: String,
            }
            match serde_json::from_slice::<Decrypted>(&a.body) {
                Ok(d) if !d.plaintext.is_empty() => Ok(None),
                _ => Err("invalid_response".to_owned()),
            }
        }
    }
}
