//! Ends a test binary whose test hangs, naming the test, instead of letting CI run out of time.
//!
//! `cargo test` runs one test binary after another, so a single test waiting forever (a server
//! that never answers, a reconnect loop) stops the whole run without a word until CI's limit.
//! Every [`crate::TestApp`] carries a [`Watchdog`]: if it is still alive after
//! [`LIMIT`] ([`BENCH_LIMIT`] in a full benchmark run), the process prints which test it
//! belongs to and aborts; the binary fails and `--no-fail-fast` goes on with the next one.

use std::io::Write;
use std::sync::mpsc;
use std::time::Duration;

/// Far above any test's run (the slowest take about a minute), far below CI's limit.
pub const LIMIT: Duration = Duration::from_secs(600);
/// A benchmark run in full (`cargo bench` passes `--bench`) may take far longer on purpose:
/// the burst of 1,000 submissions alone runs for about 15 minutes. `cargo test` runs the same
/// binaries in smoke mode without the flag, under [`LIMIT`].
pub const BENCH_LIMIT: Duration = Duration::from_secs(3 * 3600);

/// Dropped with the test's app; aborts the process if the test outlives [`LIMIT`].
pub struct Watchdog {
    _alive: mpsc::Sender<()>,
}

impl Watchdog {
    pub fn start() -> Self {
        let (alive, dropped) = mpsc::channel::<()>();
        // The test harness names each test's thread after the test.
        let test = std::thread::current().name().unwrap_or("a test").to_owned();
        let limit = if std::env::args().any(|a| a == "--bench") { BENCH_LIMIT } else { LIMIT };
        std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = dropped.recv_timeout(limit) {
                // Straight to stderr: the harness captures eprintln! and would drop it with the process.
                let _ = writeln!(
                    std::io::stderr(),
                    "watchdog: {test} still runs after {} s; aborting its test binary",
                    limit.as_secs()
                );
                std::process::abort();
            }
        });
        Self { _alive: alive }
    }
}
