//! The copy engine of `kes migrate`, over any two [`Keystore`]s.
//!
//! 1. List the source page by page (`list` with `continue_at`, [`PAGE`] names a page, the pattern's literal
//!    prefix as the listing prefix) and keep the names the pattern matches. List the target the same way: the
//!    names it already has.
//! 2. Without `merge`, a name the target already has stops the run before anything is written. With `merge`
//!    (and in a dry run) such names are settled without any call: a resumed run costs only the missing keys.
//! 3. Copy the others in name order, at most [`IN_FLIGHT`] at a time: `get` at the source, `create` at the
//!    target. The stored bytes are passed on untouched, never decoded. `create` never overwrites (a key created
//!    at the target since it was listed makes it fail with `KeyExists`), so a key is created at the target at
//!    most once, whatever was interrupted before. A dry run makes no call at all here.
//! 4. Tally every key and report each event to an [`Observer`].
//!
//! Stops early (in-flight keys still finish and are tallied) on: a key that exists at the target without
//! `merge`, an unreachable or unsupported keystore, [`MAX_FAILURES`] failed keys, or the `interrupt` future
//! (Ctrl-C). Other per-key errors are tallied as failed and the run goes on.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use keystores::{Error, Keystore};

use super::glob::Glob;

/// Names asked for per `list` call.
pub(super) const PAGE: usize = 1000;
/// Keys copied concurrently.
pub(super) const IN_FLIGHT: usize = 16;
/// A run stops after this many failed keys.
pub(super) const MAX_FAILURES: u64 = 100;
/// Interval of [`Event::Tick`].
pub(super) const TICK: Duration = Duration::from_secs(1);

/// What to do.
#[derive(Debug, Clone)]
pub(super) struct Plan {
    /// Which names.
    pub pattern: Glob,
    /// Skip (and count) keys that exist at the target instead of stopping.
    pub merge: bool,
    /// Read and report only: list both keystores, read no key and write nothing.
    pub dry_run: bool,
}

/// Counts so far. `copied` counts "would be copied" in a dry run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Tally {
    /// Matching names listed at the source.
    pub total: u64,
    /// Created at the target.
    pub copied: u64,
    /// Already at the target (with `merge`), or deleted at the source during the run.
    pub skipped: u64,
    /// Not copied because of an error (including an existing key without `merge`).
    pub failed: u64,
}

impl Tally {
    /// Keys with an outcome.
    pub(super) fn done(&self) -> u64 {
        self.copied + self.skipped + self.failed
    }
}

/// What happened to one key.
#[derive(Debug)]
pub(super) enum Outcome {
    /// Created at the target (dry run: would be).
    Copied,
    /// The target already has the key; it was left as it is.
    Exists,
    /// Listed at the source, gone when read: deleted meanwhile.
    Vanished,
    /// An error at one side; never contains key material.
    Failed(Side, Error),
}

/// Which keystore an error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    /// `--from`.
    Source,
    /// `--to`.
    Target,
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Side::Source => "at the source",
            Side::Target => "at the target",
        })
    }
}

/// Why a run ended before every key had an outcome.
#[derive(Debug)]
pub(super) enum Stop {
    /// Keys exist at the target and `merge` is off: the first of them (by name) and how many.
    Exists {
        /// The first existing key.
        first: String,
        /// How many matching keys exist at the target.
        count: u64,
    },
    /// A keystore cannot serve at all (unreachable, unsupported): the key that hit it and the error text.
    Keystore(String, String),
    /// [`MAX_FAILURES`] keys failed.
    TooManyFailures,
    /// The `interrupt` future completed.
    Interrupted,
}

/// The result of a run.
#[derive(Debug)]
pub(super) struct Summary {
    /// Final counts.
    pub tally: Tally,
    /// `None` if every listed key got an outcome.
    pub stop: Option<Stop>,
    /// Wall time, listing included.
    pub elapsed: Duration,
}

/// A report of progress.
#[derive(Debug)]
pub(super) enum Event<'a> {
    /// Listing: this many names seen so far.
    Listing(u64),
    /// Listing done; copying starts (`tally.total` is known).
    Started,
    /// A key has an outcome (`tally` already counts it).
    Key(&'a str, &'a Outcome),
    /// [`TICK`] passed.
    Tick,
}

/// Receives the events of a run.
pub(super) trait Observer {
    /// One event, with the counts after it.
    fn event(&mut self, event: Event<'_>, tally: &Tally);
}

/// A keystore could not be listed; nothing was written.
#[derive(Debug, thiserror::Error)]
#[error("listing the keys {side}: {error}")]
pub(super) struct ListFailed {
    /// Which keystore.
    pub side: Side,
    /// Its error.
    pub error: Error,
}

/// Runs `plan` from `src` to `dst`.
///
/// # Errors
/// Only a failed listing (nothing has been written then); per-key errors are in the summary.
pub(super) async fn run(
    src: Arc<dyn Keystore>,
    dst: Arc<dyn Keystore>,
    plan: &Plan,
    obs: &mut dyn Observer,
    interrupt: impl Future<Output = ()>,
) -> Result<Summary, ListFailed> {
    let start = Instant::now();
    let mut tally = Tally::default();
    let names = list(src.as_ref(), &plan.pattern, &mut |seen| {
        obs.event(Event::Listing(seen), &tally);
    })
    .await
    .map_err(|error| ListFailed {
        side: Side::Source,
        error,
    })?;
    let existing: HashSet<String> = list(dst.as_ref(), &plan.pattern, &mut |_| {})
        .await
        .map_err(|error| ListFailed {
            side: Side::Target,
            error,
        })?
        .into_iter()
        .collect();
    tally.total = names.len() as u64;
    obs.event(Event::Started, &tally);

    if !plan.merge && !plan.dry_run {
        let mut clashes = names.iter().filter(|n| existing.contains(*n));
        if let Some(first) = clashes.next() {
            let count = 1 + clashes.count() as u64;
            tally.failed = count;
            return Ok(Summary {
                tally,
                stop: Some(Stop::Exists {
                    first: first.clone(),
                    count,
                }),
                elapsed: start.elapsed(),
            });
        }
    }

    let halt = Arc::new(AtomicBool::new(false));
    let feed = {
        let halt = Arc::clone(&halt);
        names
            .into_iter()
            .take_while(move |_| !halt.load(Ordering::Relaxed))
    };
    let dry_run = plan.dry_run;
    let mut results = futures_util::stream::iter(feed)
        .map(|name| {
            let (src, dst) = (Arc::clone(&src), Arc::clone(&dst));
            let listed = existing.contains(&name);
            async move {
                let outcome = if listed {
                    Outcome::Exists
                } else if dry_run {
                    Outcome::Copied
                } else {
                    copy(src.as_ref(), dst.as_ref(), &name).await
                };
                (name, outcome)
            }
        })
        .buffered(IN_FLIGHT);

    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + TICK, TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut interrupt = std::pin::pin!(interrupt);
    let mut stop = None;
    loop {
        tokio::select! {
            next = results.next() => {
                let Some((name, outcome)) = next else { break };
                let halt_now = apply(plan, &name, &outcome, &mut tally, &mut stop);
                if halt_now {
                    halt.store(true, Ordering::Relaxed);
                }
                obs.event(Event::Key(&name, &outcome), &tally);
            }
            _ = ticker.tick() => obs.event(Event::Tick, &tally),
            () = &mut interrupt, if !halt.load(Ordering::Relaxed) => {
                halt.store(true, Ordering::Relaxed);
                stop.get_or_insert(Stop::Interrupted);
            }
        }
    }
    if stop.is_none() && tally.done() < tally.total {
        // Only `halt` ends the feed early, and every `halt` records a stop; kept as a guard.
        stop = Some(Stop::Interrupted);
    }
    Ok(Summary {
        tally,
        stop,
        elapsed: start.elapsed(),
    })
}

/// Lists every name of `store` that `pattern` matches, page by page, in ascending order; `seen` gets the count
/// of names listed so far after each page.
async fn list(
    store: &dyn Keystore,
    pattern: &Glob,
    seen_so_far: &mut dyn FnMut(u64),
) -> Result<Vec<String>, Error> {
    let prefix = pattern.literal_prefix();
    let mut names = Vec::new();
    let mut seen = 0u64;
    let mut at = String::new();
    loop {
        let page = store.list(&prefix, &at, PAGE).await?;
        seen += page.names.len() as u64;
        names.extend(page.names.into_iter().filter(|n| pattern.matches(n)));
        seen_so_far(seen);
        match page.next {
            Some(next) if next > at => at = next,
            Some(_) => {
                return Err(Error::backend("the keystore's listing did not advance"));
            }
            None => return Ok(names),
        }
    }
}

/// Copies one key: its stored bytes, read at the source, created at the target.
async fn copy(src: &dyn Keystore, dst: &dyn Keystore, name: &str) -> Outcome {
    let value = match src.get(name).await {
        Ok(value) => value,
        Err(Error::NotFound) => return Outcome::Vanished,
        Err(e) => return Outcome::Failed(Side::Source, e),
    };
    match dst.create(name, &value).await {
        Ok(()) => Outcome::Copied,
        Err(Error::KeyExists) => Outcome::Exists,
        Err(e) => Outcome::Failed(Side::Target, e),
    }
}

/// Counts one outcome; returns whether the run must stop feeding keys (and records why in `stop`).
fn apply(
    plan: &Plan,
    name: &str,
    outcome: &Outcome,
    tally: &mut Tally,
    stop: &mut Option<Stop>,
) -> bool {
    match outcome {
        Outcome::Copied => tally.copied += 1,
        Outcome::Vanished => tally.skipped += 1,
        Outcome::Exists if plan.merge => tally.skipped += 1,
        Outcome::Exists => {
            tally.failed += 1;
            // A dry run reports every conflict; a real run stops at the first, as KES does.
            if !plan.dry_run {
                stop.get_or_insert_with(|| Stop::Exists {
                    first: name.to_owned(),
                    count: 1,
                });
                return true;
            }
        }
        Outcome::Failed(side, e) => {
            tally.failed += 1;
            // Exhaustive on purpose: a new kind of keystore error must be classified here.
            let keystore_down = match e {
                Error::Unreachable(_) | Error::Unsupported(_) => true,
                Error::KeyExists
                | Error::NotFound
                | Error::Conflict
                | Error::InvalidName
                | Error::Backend(_) => false,
            };
            if keystore_down {
                stop.get_or_insert_with(|| Stop::Keystore(name.to_owned(), format!("{side}: {e}")));
                return true;
            }
            if tally.failed >= MAX_FAILURES {
                stop.get_or_insert(Stop::TooManyFailures);
                return true;
            }
        }
    }
    false
}
