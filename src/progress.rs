//! Progress on long work, on a terminal only: bars and spinners drawn through one
//! [`MultiProgress`], and log lines written through it too ([`LogWriter`]), so that a log line
//! never lands in the middle of a bar. Off a terminal, with `--quiet` and with `NO_COLOR` every bar
//! is hidden.

use std::io::{IsTerminal, Write};
use std::sync::OnceLock;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// Every bar of the process.
fn multi() -> &'static MultiProgress {
    static MULTI: OnceLock<MultiProgress> = OnceLock::new();
    MULTI.get_or_init(MultiProgress::new)
}

/// Whether bars are drawn: on a terminal, unless quiet or `NO_COLOR` asks for plain output
/// (a bar redraws itself with terminal control codes).
pub fn shown(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal() && !no_color()
}

/// `NO_COLOR` is set to something (no-color.org).
pub fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// A bar with `template` (indicatif's), hidden unless [`shown`].
pub fn bar(quiet: bool, len: u64, template: &str) -> ProgressBar {
    if !shown(quiet) {
        return ProgressBar::hidden();
    }
    let bar = multi().add(ProgressBar::new(len));
    bar.set_style(
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// A spinner naming the work in progress, ticking by itself, hidden unless [`shown`].
pub fn spinner(quiet: bool, message: impl Into<String>) -> ProgressBar {
    if !shown(quiet) {
        return ProgressBar::hidden();
    }
    let bar = multi().add(ProgressBar::new_spinner());
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(message.into());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Standard error, written with the bars cleared and drawn again after (for the log).
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        multi().suspend(|| std::io::stderr().write_all(buf))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
