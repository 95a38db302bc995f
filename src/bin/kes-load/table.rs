//! `kes-load table`: turns the JSON lines of runs (and of `startup`) into markdown tables,
//! so `scripts/bench.sh` needs no other tool.

use std::io::BufRead as _;

use serde_json::Value;

/// Reads JSON lines from stdin and prints the tables; lines that are not JSON objects
/// are skipped.
///
/// # Errors
/// Reading stdin fails.
pub(crate) fn print() -> anyhow::Result<()> {
    let mut runs = Vec::new();
    let mut starts = Vec::new();
    for line in std::io::stdin().lock().lines() {
        let Ok(v) = serde_json::from_str::<Value>(&line?) else {
            continue;
        };
        if v.get("median_ms").is_some() {
            starts.push(v);
        } else if v.get("ops").is_some() {
            runs.push(v);
        }
    }
    let instr = runs.iter().any(|r| {
        r.pointer("/server/instructions_per_op")
            .is_some_and(|v| !v.is_null())
    });
    if !runs.is_empty() {
        print!(
            "| run | ops/s | ops per server CPU-s | server CPU µs/op | p50 µs | p90 µs | p99 µs | RSS kB | peak RSS kB | errors |"
        );
        println!("{}", if instr { " instructions/op |" } else { "" });
        print!("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
        println!("{}", if instr { "--:|" } else { "" });
        for r in &runs {
            let label = r
                .get("label")
                .and_then(Value::as_str)
                .map_or_else(|| default_label(r), str::to_owned);
            print!(
                "| {label} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                num(r, "/ops_per_s", 0),
                num(r, "/server/ops_per_cpu_s", 0),
                num(r, "/server/cpu_us_per_op", 1),
                num(r, "/latency_us/p50", 0),
                num(r, "/latency_us/p90", 0),
                num(r, "/latency_us/p99", 0),
                num(r, "/server/rss_kb_after", 0),
                num(r, "/server/hwm_kb_after", 0),
                num(r, "/errors", 0),
            );
            println!(
                "{}",
                if instr {
                    format!(" {} |", num(r, "/server/instructions_per_op", 0))
                } else {
                    String::new()
                }
            );
        }
    }
    if !starts.is_empty() {
        println!();
        println!("| start-up | runs | median ms | min ms | max ms | RSS after first answer kB |");
        println!("|---|--:|--:|--:|--:|--:|");
        for s in &starts {
            println!(
                "| {} | {} | {} | {} | {} | {} |",
                s.get("label")
                    .and_then(Value::as_str)
                    .unwrap_or("spawn → first 200 on /v1/status"),
                num(s, "/runs", 0),
                num(s, "/median_ms", 2),
                num(s, "/min_ms", 2),
                num(s, "/max_ms", 2),
                num(s, "/rss_kb", 0),
            );
        }
    }
    Ok(())
}

/// `h2 generate c=8` and the like.
fn default_label(r: &Value) -> String {
    let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("?").to_owned();
    let mut l = format!(
        "{} {} c={}",
        s("protocol"),
        s("op"),
        r.get("concurrency").and_then(Value::as_u64).unwrap_or(0)
    );
    if r.get("new_connection").and_then(Value::as_bool) == Some(true) {
        l.push_str(
            if r.get("resumption").and_then(Value::as_bool) == Some(true) {
                ", new conn (resumed)"
            } else {
                ", new conn (full handshake)"
            },
        );
    }
    l
}

/// The number at `pointer`, with `decimals` and thousands separators; `-` if absent.
fn num(v: &Value, pointer: &str, decimals: usize) -> String {
    let Some(n) = v.pointer(pointer).and_then(Value::as_f64) else {
        return "-".into();
    };
    let text = format!("{n:.decimals$}");
    let (int, frac) = text
        .split_once('.')
        .map_or((text.as_str(), None), |(i, f)| (i, Some(f)));
    let (sign, digits) = int.strip_prefix('-').map_or(("", int), |d| ("-", d));
    let mut grouped = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}
