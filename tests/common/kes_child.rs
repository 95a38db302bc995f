//! The real `kes` binary as a child process for the crash and fault tests
//! (`#[path]`-included by them): started on 127.0.0.1:0 from a config file,
//! its address read from the `Endpoint` line, and what a leak check needs
//! (open file descriptors and threads, from `/proc/<pid>`).
#![allow(
    unreachable_pub,
    dead_code,
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test support: a panic is the failure report"
)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;

/// A running `kes server`; SIGKILLed when dropped.
pub struct KesChild {
    child: tokio::process::Child,
    pub addr: SocketAddr,
    /// Everything the server printed on stdout and stderr so far.
    pub output: Arc<Mutex<String>>,
}

impl KesChild {
    /// Starts `kes server --config <config> --addr 127.0.0.1:0` and waits
    /// (up to 30 s) for its `Endpoint` line, printed once the keystore is
    /// open and the listener bound.
    pub async fn spawn(config: &Path) -> KesChild {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_kes"))
            .args(["server", "--config"])
            .arg(config)
            .args(["--addr", "127.0.0.1:0"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let output = Arc::new(Mutex::new(String::new()));
        let pipes: [Box<dyn tokio::io::AsyncRead + Unpin + Send>; 2] = [
            Box::new(child.stdout.take().unwrap()),
            Box::new(child.stderr.take().unwrap()),
        ];
        for mut pipe in pipes {
            let sink = Arc::clone(&output);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = pipe.read(&mut buf).await {
                    let text = String::from_utf8_lossy(&buf[..n]);
                    // Into the suite's output too, for the secrets scan of scripts/test.sh.
                    eprint!("{text}");
                    sink.lock().unwrap().push_str(&text);
                }
            });
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        let addr = loop {
            let found = output.lock().unwrap().lines().find_map(|l| {
                l.strip_prefix("Endpoint     https://")
                    .and_then(|a| a.trim().parse().ok())
            });
            if let Some(addr) = found {
                break addr;
            }
            if let Ok(Some(st)) = child.try_wait() {
                panic!("kes exited with {st}: {}", output.lock().unwrap());
            }
            assert!(
                Instant::now() < deadline,
                "no Endpoint line from kes: {}",
                output.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        KesChild {
            child,
            addr,
            output,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr)
    }

    pub fn pid(&self) -> u32 {
        self.child.id().unwrap()
    }

    /// SIGKILL, then reap.
    pub async fn kill(mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }
}

/// Open file descriptors and threads of process `pid`.
pub fn resources(pid: u32) -> (usize, usize) {
    let count = |what: &str| {
        std::fs::read_dir(format!("/proc/{pid}/{what}"))
            .unwrap()
            .count()
    };
    (count("fd"), count("task"))
}
