//! `kes-load startup -- CMD…`: time from spawning a server to its first `200` on
//! `/v1/status`, polled as tightly as connecting allows, over several runs; the server's
//! RSS right after that first answer is its idle RSS at start.

use std::process::Stdio;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Method;
use serde::Serialize;

use crate::conn::Target;
use crate::procfs;

/// The median, fastest and slowest start-up of the runs.
#[derive(Debug, Serialize)]
pub(crate) struct StartupReport {
    pub(crate) runs: usize,
    pub(crate) median_ms: f64,
    pub(crate) min_ms: f64,
    pub(crate) max_ms: f64,
    /// VmRSS of the server right after its first answer (median over the runs).
    pub(crate) rss_kb: u64,
}

/// Starts `cmd` `runs` times (killing it after each first answer) and measures.
///
/// # Errors
/// The command cannot be started, exits, or does not answer within `limit`.
pub(crate) async fn measure(
    target: &Target,
    cmd: &[String],
    runs: usize,
    limit: Duration,
) -> anyhow::Result<StartupReport> {
    let (program, args) = cmd
        .split_first()
        .ok_or_else(|| anyhow::anyhow!("give the server command after --"))?;
    let mut times = Vec::with_capacity(runs);
    let mut rss = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let spawned = Instant::now();
        let mut child = tokio::process::Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let pid = child.id().unwrap_or(0);
        let took = loop {
            if spawned.elapsed() > limit {
                anyhow::bail!("the server did not answer /v1/status within {limit:?}");
            }
            if let Some(status) = child.try_wait()? {
                anyhow::bail!("the server exited ({status}) before answering");
            }
            if status_ok(target).await {
                break spawned.elapsed();
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        };
        rss.push(procfs::snapshot(pid).map(|s| s.rss_kb).unwrap_or(0));
        times.push(took);
        child.kill().await?;
    }
    times.sort();
    rss.sort_unstable();
    let ms = |d: &Duration| (d.as_secs_f64() * 1e5).round() / 100.0;
    Ok(StartupReport {
        runs: times.len(),
        median_ms: times.get(times.len() / 2).map_or(0.0, ms),
        min_ms: times.first().map_or(0.0, ms),
        max_ms: times.last().map_or(0.0, ms),
        rss_kb: rss.get(rss.len() / 2).copied().unwrap_or(0),
    })
}

/// Polls `/v1/status` until it answers 200.
///
/// # Errors
/// No 200 within `limit`.
pub(crate) async fn wait_ready(target: &Target, limit: Duration) -> anyhow::Result<()> {
    let start = Instant::now();
    while !status_ok(target).await {
        if start.elapsed() > limit {
            anyhow::bail!("the server did not answer /v1/status within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

/// One connection and `GET /v1/status`; whether it answered 200.
async fn status_ok(target: &Target) -> bool {
    let Ok(mut c) = target.connect().await.map(|c| c.conn) else {
        return false;
    };
    let Ok(req) = target.request(Method::GET, "/v1/status", Bytes::new()) else {
        return false;
    };
    matches!(c.exchange(req).await, Ok(a) if a.status.is_success())
}
