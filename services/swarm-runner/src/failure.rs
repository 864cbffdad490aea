//! What a participant reads when a run fails: the reason, in their terms.

use darkroom_core::sandbox::{Exit, RunOutcome};

/// The verdict on a finished container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Success,
    Failed(String),
}

/// The challenge's rules a run is judged by.
#[derive(Clone, Copy)]
pub struct Rules {
    pub cap_bytes: u64,
    pub wall_clock_s: u64,
    pub memory_mb: u64,
    pub logs_visible: bool,
    /// How many last log lines a reason quotes.
    pub tail_lines: usize,
}

/// Judges a run. `output_bytes` is what the container left in `/output`, `files` how many.
pub fn judge(outcome: &RunOutcome, output_bytes: u64, files: usize, rules: &Rules) -> Verdict {
    let Rules { cap_bytes, wall_clock_s, memory_mb, logs_visible, tail_lines } = *rules;
    let with_tail = |reason: String| {
        if logs_visible && !outcome.log_tail.is_empty() {
            let start = outcome.log_tail.len().saturating_sub(tail_lines);
            format!("{reason}; last output:\n{}", outcome.log_tail[start..].join("\n"))
        } else {
            reason
        }
    };
    match outcome.exit {
        Exit::TimedOut => {
            Verdict::Failed(format!("timed out: still running after the {wall_clock_s} s the challenge allows"))
        }
        Exit::OutOfMemory => {
            Verdict::Failed(format!("out of memory: the run needed more than the {memory_mb} MB the challenge allows"))
        }
        // A full /output makes writes fail, so check it before the exit code it causes.
        _ if output_bytes >= cap_bytes => {
            Verdict::Failed(format!("output too large: /output may hold at most {} MB", cap_bytes >> 20))
        }
        Exit::Code(0) if files == 0 => {
            Verdict::Failed("no output: the run exited successfully but wrote nothing to /output".into())
        }
        Exit::Code(0) => Verdict::Success,
        Exit::Code(137) => {
            Verdict::Failed(with_tail("killed (exit code 137), most likely for exceeding a limit".into()))
        }
        Exit::Code(code) => Verdict::Failed(with_tail(format!("exited with code {code}"))),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn outcome(exit: Exit) -> RunOutcome {
        RunOutcome {
            exit,
            duration: Duration::from_secs(1),
            peak_memory_bytes: None,
            log_tail: vec!["a".into(), "boom".into()],
            container_id: "c".into(),
        }
    }

    #[test]
    fn reasons() {
        let j = |exit, bytes, files, logs| {
            let rules =
                Rules { cap_bytes: 1 << 20, wall_clock_s: 60, memory_mb: 512, logs_visible: logs, tail_lines: 1 };
            judge(&outcome(exit), bytes, files, &rules)
        };
        assert_eq!(j(Exit::Code(0), 10, 1, false), Verdict::Success);
        assert!(matches!(j(Exit::TimedOut, 0, 0, false), Verdict::Failed(r) if r.contains("60 s")));
        assert!(matches!(j(Exit::OutOfMemory, 0, 0, false), Verdict::Failed(r) if r.contains("512 MB")));
        assert!(matches!(j(Exit::Code(1), 1 << 20, 1, false), Verdict::Failed(r) if r.contains("output too large")));
        assert!(matches!(j(Exit::Code(0), 0, 0, false), Verdict::Failed(r) if r.contains("no output")));
        assert!(
            matches!(j(Exit::Code(3), 0, 0, true), Verdict::Failed(r) if r.ends_with("exited with code 3; last output:\nboom"))
        );
        assert!(
            matches!(j(Exit::Code(3), 0, 0, false), Verdict::Failed(r) if r == "exited with code 3"),
            "logs stay private"
        );
    }
}
