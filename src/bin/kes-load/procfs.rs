//! The server's cost from Linux's /proc (`--server-pid`): CPU time (utime + stime of all
//! threads, `/proc/PID/stat`) and memory (`VmRSS`, `VmHWM` of `/proc/PID/status`); and,
//! with `--perf`, its instruction count over the window from `perf stat -p PID`.

use std::process::Stdio;

use anyhow::Context as _;

/// The server's counters at one instant.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Snapshot {
    /// utime + stime in clock ticks.
    pub(crate) cpu_ticks: u64,
    pub(crate) rss_kb: u64,
    pub(crate) hwm_kb: u64,
}

/// Clock ticks per second (`getconf CLK_TCK`, asked once; 100 if `getconf` is missing).
pub(crate) fn clock_ticks() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

/// Reads the counters of process `pid`.
///
/// # Errors
/// The process does not exist or /proc is not Linux's.
pub(crate) fn snapshot(pid: u32) -> anyhow::Result<Snapshot> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    // The command name (field 2) is in parentheses and may hold spaces: count from its end.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("unexpected /proc/PID/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 (utime) and 15 (stime); `rest` starts at field 3.
    let tick = |i: usize| -> anyhow::Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .context("unexpected /proc/PID/stat")
    };
    let cpu_ticks = tick(11)? + tick(12)?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let kb = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    Ok(Snapshot {
        cpu_ticks,
        rss_kb: kb("VmRSS:"),
        hwm_kb: kb("VmHWM:"),
    })
}

/// A running `perf stat -e instructions -p PID`.
pub(crate) struct PerfStat {
    child: tokio::process::Child,
}

impl PerfStat {
    /// Starts counting the instructions of `pid` (user and kernel, all threads).
    ///
    /// # Errors
    /// `perf` is not installed.
    pub(crate) fn start(pid: u32) -> anyhow::Result<PerfStat> {
        let child = tokio::process::Command::new("perf")
            .args(["stat", "-x", ",", "-e", "instructions", "-p"])
            .arg(pid.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("starting `perf stat` (install linux-perf)")?;
        Ok(PerfStat { child })
    }

    /// Stops counting (SIGINT, on which perf prints its totals) and returns the count.
    ///
    /// # Errors
    /// perf failed or printed no count (e.g. counters not supported here).
    pub(crate) async fn stop(self) -> anyhow::Result<u64> {
        let id = self.child.id().context("perf already exited")?;
        // SIGINT without unsafe code: the `kill` utility.
        tokio::process::Command::new("kill")
            .args(["-INT", &id.to_string()])
            .status()
            .await
            .context("running kill")?;
        let out = self.child.wait_with_output().await?;
        let text = String::from_utf8_lossy(&out.stderr);
        // CSV: value,unit,event,…
        text.lines()
            .filter(|l| l.contains("instructions"))
            .find_map(|l| l.split(',').next().and_then(|v| v.trim().parse().ok()))
            .with_context(|| format!("perf printed no instruction count: {}", text.trim()))
    }
}
