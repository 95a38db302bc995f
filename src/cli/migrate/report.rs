//! What `kes migrate` prints while it runs, and its summary.
//!
//! - stderr, when it is a terminal: a progress bar (a spinner while listing).
//! - stderr, otherwise: `Starting key migration: …` and one line per second, as KES prints.
//! - stderr, always: one line per key that failed, existed (without `--merge`) or vanished, naming the key.
//! - stdout: a dry run's key names, one per line, and the final summary (the command's result).
//!
//! `-q` drops the progress and the summary; key lines and dry-run names stay.

use std::io::IsTerminal as _;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::engine::{Event, Observer, Outcome, Summary, Tally};
use crate::cli::output;

/// How progress is shown.
enum Mode {
    Bar(ProgressBar),
    Lines,
    Quiet,
}

/// The [`Observer`] of the `kes migrate` command.
pub(super) struct Reporter {
    mode: Mode,
    dry_run: bool,
    merge: bool,
    pattern: String,
}

impl Reporter {
    /// A bar if stderr is a terminal and not `quiet`, else lines, or nothing with `quiet`.
    pub(super) fn new(quiet: bool, dry_run: bool, merge: bool, pattern: &str) -> Self {
        let mode = if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} listing keys: {pos}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(100));
            Mode::Bar(bar)
        } else {
            Mode::Lines
        };
        Reporter {
            mode,
            dry_run,
            merge,
            pattern: pattern.to_owned(),
        }
    }

    /// Clears the bar and prints the summary on stdout (unless quiet).
    ///
    /// # Errors
    /// Writing stdout failed (a closed pipe is not an error).
    pub(super) fn finish(&mut self, summary: &Summary) -> anyhow::Result<()> {
        if let Mode::Bar(bar) = &self.mode {
            bar.finish_and_clear();
        }
        if matches!(self.mode, Mode::Quiet) {
            return Ok(());
        }
        output::line(&summary_line(summary, self.dry_run))
    }

    /// Clears the bar after a run that failed before it had a summary.
    pub(super) fn abandon(&mut self) {
        if let Mode::Bar(bar) = &self.mode {
            bar.finish_and_clear();
        }
    }

    /// Prints a line on stderr without tearing the bar.
    fn note(&self, text: &str) {
        match &self.mode {
            Mode::Bar(bar) => bar.suspend(|| eprintln!("{text}")),
            Mode::Lines | Mode::Quiet => eprintln!("{text}"),
        }
    }
}

impl Observer for Reporter {
    fn event(&mut self, event: Event<'_>, tally: &Tally) {
        match event {
            Event::Listing(seen) => {
                if let Mode::Bar(bar) = &self.mode {
                    bar.set_position(seen);
                }
            }
            Event::Started => match &self.mode {
                Mode::Bar(bar) => {
                    bar.set_style(
                        ProgressStyle::with_template(
                            "[{elapsed_precise}] {wide_bar} {pos}/{len} keys ({msg}) ETA {eta}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                    );
                    bar.set_length(tally.total);
                    bar.set_position(0);
                    bar.set_message(counts(tally));
                }
                Mode::Lines => {
                    let what = if self.dry_run {
                        "Dry run, nothing is written"
                    } else {
                        "Starting key migration"
                    };
                    eprintln!("{what}: {} keys match '{}'", tally.total, self.pattern);
                }
                Mode::Quiet => {}
            },
            Event::Key(name, outcome) => {
                self.key(name, outcome);
                if let Mode::Bar(bar) = &self.mode {
                    bar.set_position(tally.done());
                    bar.set_message(counts(tally));
                }
            }
            Event::Tick => {
                if let Mode::Lines = self.mode {
                    eprintln!(
                        "Migrated {:>6} of {} keys ... ({})",
                        tally.done(),
                        tally.total,
                        counts(tally)
                    );
                }
            }
        }
    }
}

impl Reporter {
    fn key(&self, name: &str, outcome: &Outcome) {
        match outcome {
            Outcome::Copied if self.dry_run => match &self.mode {
                Mode::Bar(bar) => bar.suspend(|| print_name(name)),
                Mode::Lines | Mode::Quiet => print_name(name),
            },
            Outcome::Copied => {}
            // A real run stops at the first existing key and its error line names it.
            Outcome::Exists if self.merge || !self.dry_run => {}
            Outcome::Exists => {
                self.note(&format!("key '{name}': key already exists at the target"))
            }
            Outcome::Vanished => self.note(&format!(
                "key '{name}': deleted at the source during the migration; skipped"
            )),
            Outcome::Failed(side, e) => self.note(&format!("key '{name}': {side}: {e}")),
        }
    }
}

/// A dry run's name on stdout; a closed pipe only ends the output.
fn print_name(name: &str) {
    if let Err(e) = output::line(name) {
        eprintln!("Error: {e}");
    }
}

fn counts(t: &Tally) -> String {
    format!(
        "copied {}, skipped {}, failed {}",
        t.copied, t.skipped, t.failed
    )
}

/// The one-line summary: counts, total and elapsed time.
pub(super) fn summary_line(s: &Summary, dry_run: bool) -> String {
    let t = &s.tally;
    let secs = s.elapsed.as_secs_f64();
    let not_done = t.total.saturating_sub(t.done());
    let rest = if not_done > 0 {
        format!(", {not_done} not attempted")
    } else {
        String::new()
    };
    if dry_run {
        format!(
            "Dry run: {} would be copied, {} skipped, {} failed{rest} of {} keys in {secs:.2}s",
            t.copied, t.skipped, t.failed, t.total
        )
    } else {
        let what = if s.stop.is_some() {
            "Migration stopped"
        } else {
            "Migration finished"
        };
        format!(
            "{what}: {} copied, {} skipped, {} failed{rest} of {} keys in {secs:.2}s",
            t.copied, t.skipped, t.failed, t.total
        )
    }
}
