//! What a participant reads when a run fails: the reason, in their terms. Where the challenge
//! hides logs, the reason names only the class of failure (timed out, out of memory, output too
//! large, too many files, too deep, failed): no exit code, no log line. The organizer-only
//! `detail` keeps the exit code either way.

use darkroom_core::sandbox::{Exit, OutputScan, RunOutcome};

/// The verdict on a finished container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Success,
    /// `reason` is the participant's to read; `detail` the organizer's.
    Failed {
        reason: String,
        detail: Option<String>,
    },
}

/// The challenge's rules a run is judged by.
#[derive(Clone, Copy)]
pub struct Rules {
    pub cap_bytes: u64,
    pub max_files: u64,
    pub max_depth: u32,
    pub wall_clock_s: u64,
    pub memory_mb: u64,
    pub logs_visible: bool,
    /// How many last log lines a reason quotes.
    pub tail_lines: usize,
}

/// Judges a run by how it ended and what it left in `/output`.
pub fn judge(outcome: &RunOutcome, output: &OutputScan, rules: &Rules) -> Verdict {
    let Rules { cap_bytes, max_files, max_depth, wall_clock_s, memory_mb, logs_visible, tail_lines } = *rules;
    let detail = match outcome.exit {
        Exit::Code(code) => Some(format!("exit code {code}")),
        _ => None,
    };
    let failed = |reason: String| Verdict::Failed { reason, detail: detail.clone() };
    let with_tail = |reason: String| {
        if logs_visible && !outcome.log_tail.is_empty() {
            let start = outcome.log_tail.len().saturating_sub(tail_lines);
            format!("{reason}; last output:\n{}", outcome.log_tail[start..].join("\n"))
        } else {
            reason
        }
    };
    match outcome.exit {
        Exit::TimedOut => failed(format!("timed out: still running after the {wall_clock_s} s the challenge allows")),
        Exit::OutOfMemory => {
            failed(format!("out of memory: the run needed more than the {memory_mb} MB the challenge allows"))
        }
        // A full /output makes writes fail, so check it before the exit code it causes.
        _ if output.bytes >= cap_bytes => {
            failed(format!("output too large: /output may hold at most {} MB", cap_bytes >> 20))
        }
        _ if output.too_many_files => {
            failed(format!("too many files: /output may hold at most {max_files} files (folders count)"))
        }
        _ if output.too_deep => {
            failed(format!("output too deep: paths under /output may be at most {max_depth} levels deep"))
        }
        Exit::Code(0) if output.regular_files == 0 => {
            failed("no output: the run exited successfully but wrote nothing to /output".into())
        }
        Exit::Code(0) => Verdict::Success,
        // Without logs, even the exit code stays with the organizer.
        Exit::Code(_) if !logs_visible => failed("failed: the run ended with an error".into()),
        Exit::Code(137) => failed(with_tail("killed (exit code 137), most likely for exceeding a limit".into())),
        Exit::Code(code) => failed(with_tail(format!("exited with code {code}"))),
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

    fn scan(bytes: u64, files: u64) -> OutputScan {
        OutputScan { bytes, files, regular_files: files, deepest: 1, ..Default::default() }
    }

    fn j(exit: Exit, output: OutputScan, logs_visible: bool) -> Verdict {
        let rules = Rules {
            cap_bytes: 1 << 20,
            max_files: 100,
            max_depth: 32,
            wall_clock_s: 60,
            memory_mb: 512,
            logs_visible,
            tail_lines: 1,
        };
        judge(&outcome(exit), &output, &rules)
    }

    fn reason(v: Verdict) -> String {
        match v {
            Verdict::Failed { reason, .. } => reason,
            Verdict::Success => "success".into(),
        }
    }

    #[test]
    fn reasons() {
        assert_eq!(j(Exit::Code(0), scan(10, 1), false), Verdict::Success);
        assert!(reason(j(Exit::TimedOut, scan(0, 0), false)).contains("60 s"));
        assert!(reason(j(Exit::OutOfMemory, scan(0, 0), false)).contains("512 MB"));
        assert!(reason(j(Exit::Code(1), scan(1 << 20, 1), false)).starts_with("output too large"));
        assert!(reason(j(Exit::Code(0), scan(0, 0), false)).starts_with("no output"));
        let many = OutputScan { too_many_files: true, ..scan(10, 101) };
        assert_eq!(
            reason(j(Exit::Code(1), many, true)),
            "too many files: /output may hold at most 100 files (folders count)"
        );
        let deep = OutputScan { too_deep: true, ..scan(10, 40) };
        assert!(
            reason(j(Exit::Code(0), deep, true))
                .starts_with("output too deep: paths under /output may be at most 32 levels")
        );
        assert_eq!(reason(j(Exit::Code(3), scan(0, 0), true)), "exited with code 3; last output:\nboom");
    }

    #[test]
    fn hidden_logs_leave_only_the_class_to_the_participant_and_the_code_to_the_organizer() {
        for code in [3, 137] {
            let Verdict::Failed { reason, detail } = j(Exit::Code(code), scan(0, 0), false) else {
                panic!("a failed run succeeded");
            };
            assert_eq!(reason, "failed: the run ended with an error");
            assert_eq!(detail, Some(format!("exit code {code}")));
        }
    }
}
