//! Publishing a run's log lines, capped: at most `lines_per_second` lines and `max_bytes` bytes
//! per run, each line at most 1,000 characters, in batches (`run.log` events, one every half
//! second at most). What is dropped is counted and said.

use std::time::{Duration, Instant};

use async_nats::jetstream;
use chrono::Utc;
use darkroom_core::bus::publish;
use darkroom_core::events::{RunLog, SubmissionCreated};
use tokio::sync::mpsc;

/// Decides which lines are published; pure so it is easy to test.
pub struct LogBudget {
    lines_per_second: u32,
    max_bytes: u64,
    window_start: Option<Instant>,
    in_window: u32,
    bytes: u64,
    pub dropped: u64,
}

pub const MAX_LINE: usize = 1000;

impl LogBudget {
    pub fn new(lines_per_second: u32, max_bytes: u64) -> Self {
        Self { lines_per_second, max_bytes, window_start: None, in_window: 0, bytes: 0, dropped: 0 }
    }

    /// The line to publish, shortened if needed, or `None` when over budget.
    pub fn admit(&mut self, line: &str, now: Instant) -> Option<String> {
        if self.window_start.is_none_or(|start| now.duration_since(start) >= Duration::from_secs(1)) {
            self.window_start = Some(now);
            self.in_window = 0;
        }
        let line: String = line.chars().take(MAX_LINE).collect();
        if self.in_window >= self.lines_per_second || self.bytes + line.len() as u64 > self.max_bytes {
            self.dropped += 1;
            return None;
        }
        self.in_window += 1;
        self.bytes += line.len() as u64;
        Some(line)
    }
}

/// Batches admitted lines into `run.log` events, one every half second at most.
pub async fn publish_logs(js: jetstream::Context, job: SubmissionCreated, mut lines: mpsc::UnboundedReceiver<String>) {
    let mut batch_no = 0u64;
    let mut open = true;
    while open {
        let mut batch = Vec::new();
        let deadline = tokio::time::sleep(Duration::from_millis(500));
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                line = lines.recv() => match line {
                    Some(l) => batch.push(l),
                    None => { open = false; break; }
                },
                _ = &mut deadline => break,
            }
        }
        if batch.is_empty() {
            continue;
        }
        batch_no += 1;
        let event = RunLog {
            event_id: RunLog::event_id_for(job.submission_id, job.attempt, batch_no),
            submission_id: job.submission_id,
            attempt: job.attempt,
            lines: batch,
            at: Utc::now(),
        };
        if let Err(e) = publish(&js, &event).await {
            tracing::warn!(error = %e, "log batch lost");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_and_size_are_capped() {
        let t0 = Instant::now();
        let mut b = LogBudget::new(2, 1_000_000);
        assert!(b.admit("a", t0).is_some());
        assert!(b.admit("b", t0).is_some());
        assert!(b.admit("c", t0).is_none());
        assert!(b.admit("d", t0 + Duration::from_secs(1)).is_some());
        assert_eq!(b.dropped, 1);
        let mut small = LogBudget::new(100, 10);
        assert!(small.admit("0123456789", t0).is_some());
        assert!(small.admit("x", t0).is_none());
        assert_eq!(LogBudget::new(10, 1 << 20).admit(&"y".repeat(5000), t0).unwrap().len(), MAX_LINE);
    }
}
