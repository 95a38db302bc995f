//! The server processes of a benchmark run (a `kes server` and the `object-server` under test,
//! each optionally pinned to a CPU with `taskset`) and their CPU time from `/proc`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process, killed and reaped on drop.
pub(crate) struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    /// The child's pid (`taskset` execs the program, so it is the program's pid).
    pub(crate) fn pid(&self) -> u32 {
        self.0.id()
    }
}

/// A self-signed ECDSA certificate for `localhost` / `127.0.0.1`, written as `dir/cert`,
/// `dir/key`.
pub(crate) fn self_signed(dir: &Path, cert: &str, key: &str) {
    let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params
        .subject_alt_names
        .push(rcgen::SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let c = params.self_signed(&kp).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(cert), c.pem()).unwrap();
    std::fs::write(dir.join(key), kp.serialize_pem()).unwrap();
}

/// `bin args…`, through `taskset -c cpu` when a CPU is given.
fn command(bin: &Path, cpu: Option<&str>) -> Command {
    match cpu {
        Some(cpu) => {
            let mut c = Command::new("taskset");
            c.arg("-c").arg(cpu).arg(bin);
            c
        }
        None => Command::new(bin),
    }
}

/// Waits until `out` has a line starting with `prefix`; returns the rest of it, trimmed.
fn wait_for_line(out: &Path, prefix: &str, what: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(out).unwrap_or_default();
        if let Some(v) = text
            .lines()
            .find_map(|l| l.strip_prefix(prefix).map(|u| u.trim().to_owned()))
        {
            return v;
        }
        assert!(Instant::now() < deadline, "{what} did not start: {text}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts `kes server` with a filesystem keystore in `dir`; returns the child and its URL.
pub(crate) fn start_kes(
    bin: &Path,
    cpu: Option<&str>,
    dir: &Path,
    admin: &client::ApiKey,
    minio: &client::ApiKey,
) -> (Proc, String) {
    self_signed(dir, "server.crt", "server.key");
    let config = format!(
        "version: v1\naddress: 127.0.0.1:0\nadmin:\n  identity: {}\ntls:\n  key: server.key\n  cert: server.crt\n\
         policy:\n  minio:\n    allow:\n    - /v1/key/*\n    identities:\n    - {}\nkeystore:\n  fs:\n    path: keys\n",
        admin.identity(),
        minio.identity()
    );
    std::fs::write(dir.join("config.yaml"), config).unwrap();
    let out = dir.join("kes.out");
    let child = command(bin, cpu)
        .args(["server", "--config"])
        .arg(dir.join("config.yaml"))
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    let child = Proc(child);
    let url = wait_for_line(&out, "Endpoint", "kes");
    (child, url)
}

/// Starts the object server binary on `127.0.0.1:0` serving `data` over HTTPS (certificate in
/// `certs`) with the given environment; returns the child and its URL.
pub(crate) fn start_object_server(
    bin: &Path,
    cpu: Option<&str>,
    certs: &Path,
    data: &Path,
    env: &[(&str, String)],
    log: &Path,
) -> (Proc, String) {
    let mut cmd = command(bin, cpu);
    cmd.args(["--address", "127.0.0.1:0", "--certs-dir"])
        .arg(certs)
        .arg(data)
        .stdout(std::fs::File::create(log).unwrap())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = Proc(
        cmd.spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display())),
    );
    let url = wait_for_line(log, "listening on", "object-server");
    (child, url)
}

/// Clock ticks per second of `/proc/*/stat` times (`getconf CLK_TCK`, 100 when unknown).
pub(crate) fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .unwrap_or(100.0)
}

/// User + system CPU seconds of process `pid` (`"self"` for this one), all threads.
pub(crate) fn cpu_seconds(pid: &str, ticks: f64) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f[11].parse().unwrap();
    let stime: f64 = f[12].parse().unwrap();
    (utime + stime) / ticks
}

/// A binary of this workspace's release build (or `var` from the environment).
pub(crate) fn release_bin(var: &str, name: &str) -> PathBuf {
    std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../target/release/{name}"))
    })
}
