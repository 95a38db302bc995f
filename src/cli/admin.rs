//! `kes policy …`, `kes ls`, `kes status`, `kes metric` and `kes log`.

use futures_util::StreamExt as _;
use serde::Serialize;

use super::conn::{ConnArgs, connect};
use super::key::print_names;
use super::output::{self, Out};
use super::{LsArgs, PolicyCmd};

pub(super) async fn policy(cmd: PolicyCmd, conn: &ConnArgs, out: Out) -> anyhow::Result<()> {
    let c = connect(conn)?;
    match cmd {
        PolicyCmd::Info { name } => {
            let d = c.describe_policy(&name).await?;
            if out.json {
                return out.json(&d);
            }
            out.table(&[
                ("Name", d.name.clone()),
                ("Date", output::time(&d.created_at)),
                ("Created by", d.created_by.clone()),
            ])
        }
        PolicyCmd::Ls { pattern } => {
            let r = c.list_policies(pattern.as_deref().unwrap_or("*")).await?;
            print_names(&out, &r.names)
        }
        PolicyCmd::Show { name } => {
            let p = c.read_policy(&name).await?;
            if out.json {
                return out.json(&p);
            }
            let mut rows = vec![("Name", p.name.clone())];
            for a in p.allow.keys() {
                rows.push(("Allow", out.green(a)));
            }
            for d in p.deny.keys() {
                rows.push(("Deny", out.red(d)));
            }
            rows.push(("Date", output::time(&p.created_at)));
            rows.push(("Created by", p.created_by.clone()));
            out.table(&rows)
        }
    }
}

pub(super) async fn ls(a: &LsArgs, out: Out) -> anyhow::Result<()> {
    let c = connect(&a.conn)?;
    let pattern = a.prefix.as_deref().unwrap_or("*");
    let names = if a.identity {
        c.list_identities(pattern).await?.identities
    } else if a.policy {
        c.list_policies(pattern).await?.names
    } else {
        c.list_all_keys(pattern).await?
    };
    print_names(&out, &names)
}

pub(super) async fn status(conn: &ConnArgs, api: bool, out: Out) -> anyhow::Result<()> {
    let c = connect(conn)?;
    if api {
        let routes = c.api().await?;
        if out.json {
            return out.json(&routes);
        }
        let width = routes.iter().map(|r| r.path.len()).max().unwrap_or(4);
        let mut text = format!(
            "{}\n",
            out.bold(&format!(
                "{:<7} {:<width$} {:>9} {:>7}",
                "METHOD", "PATH", "MAX BODY", "TIMEOUT"
            ))
        );
        for r in &routes {
            let timeout = if r.timeout > 0 {
                format!("{}s", r.timeout)
            } else {
                "-".into()
            };
            text.push_str(&format!(
                "{:<7} {:<width$} {:>9} {:>7}\n",
                r.method, r.path, r.max_body, timeout
            ));
        }
        return output::write(text.as_bytes());
    }
    let s = c.status().await?;
    if out.json {
        return out.json(&s);
    }
    let keystore = if s.keystore_unreachable {
        out.red("unreachable")
    } else {
        match s.keystore_latency {
            Some(ms) => format!("{} (latency {ms}ms)", out.green("reachable")),
            None => out.green("reachable"),
        }
    };
    out.table(&[
        ("Endpoints", c.endpoints().join(", ")),
        ("Version", s.version.clone()),
        ("OS/Arch", format!("{}/{}", s.os, s.arch)),
        ("Uptime", output::duration(s.uptime)),
        ("CPUs", format!("{} ({} used)", s.num_cpu, s.num_cpu_used)),
        (
            "Memory",
            format!(
                "heap {}, stack {}",
                output::bytes(s.mem_heap_used),
                output::bytes(s.mem_stack_used)
            ),
        ),
        ("Keystore", keystore),
    ])
}

/// One sample of the Prometheus text format.
#[derive(Debug, PartialEq, Serialize)]
struct Sample {
    metric: String,
    value: f64,
}

fn parse_metrics(text: &str) -> Vec<Sample> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let (metric, value) = l.rsplit_once(|c: char| c.is_ascii_whitespace())?;
            let value = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v.parse().ok()?,
            };
            Some(Sample {
                metric: metric.trim().to_string(),
                value,
            })
        })
        .collect()
}

pub(super) async fn metric(conn: &ConnArgs, out: Out) -> anyhow::Result<()> {
    let c = connect(conn)?;
    let text = c.metrics().await?;
    if out.json {
        // serde_json writes non-finite floats as null.
        return out.json(&parse_metrics(&text));
    }
    output::write(text.as_bytes())
}

pub(super) async fn log(conn: &ConnArgs, error_log: bool, out: Out) -> anyhow::Result<()> {
    let c = connect(conn)?;
    if error_log {
        let mut s = c.error_log().await?;
        while let Some(ev) = s.next().await {
            let ev = ev?;
            if out.json {
                out.json(&ev)?;
            } else {
                output::line(&ev.message)?;
            }
        }
    } else {
        let mut s = c.audit_log().await?;
        while let Some(ev) = s.next().await {
            let ev = ev?;
            if out.json {
                out.json(&ev)?;
                continue;
            }
            let id: String = ev.request.identity.chars().take(12).collect();
            let code = if ev.response.code < 400 {
                out.green(&ev.response.code.to_string())
            } else {
                out.red(&ev.response.code.to_string())
            };
            output::line(&format!(
                "{}  {code}  {:<12}  {:<15}  {}  {}",
                out.dim(&output::time(&ev.time)),
                id,
                ev.request.ip,
                ev.request.path,
                out.dim(&format!("{}ms", ev.response.time))
            ))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_text_is_parsed() {
        let text = "# HELP kes_x help\n# TYPE kes_x counter\nkes_http_request_success{code=\"200\"} 3\n\nkes_system_up_time 1.5e1\nkes_bucket{le=\"+Inf\"} +Inf\ngarbage\n";
        let s = parse_metrics(text);
        assert_eq!(
            s,
            vec![
                Sample {
                    metric: "kes_http_request_success{code=\"200\"}".into(),
                    value: 3.0
                },
                Sample {
                    metric: "kes_system_up_time".into(),
                    value: 15.0
                },
                Sample {
                    metric: "kes_bucket{le=\"+Inf\"}".into(),
                    value: f64::INFINITY
                },
            ]
        );
    }
}
