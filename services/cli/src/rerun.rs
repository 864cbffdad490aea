//! `darkroom verify SUBMISSION --rerun` (organizer): after the receipt checks out, asks the
//! platform to run the submission again under the receipt's conditions, waits for the result and
//! prints how it compares, metric by metric. The comparison itself is the evaluator's (it alone
//! sees the hidden data and the private split); this prints it and fails unless it reproduced.

use std::time::{Duration, Instant};

use anyhow::bail;
use darkroom_api::{RerunReport, RerunVerdict, Verification, VerificationState};
use reqwest::Method;
use serde_json::json;

use crate::api::{Api, read};

/// How often the result is asked for while the re-run goes on.
const POLL: Duration = Duration::from_secs(2);

/// Starts a re-run of `id` and waits (at most `wait`) for it to end.
pub async fn run(api: &Api, id: &str, wait: Duration, quiet: bool) -> anyhow::Result<Verification> {
    api.needs_token("verify --rerun")?;
    let started: Verification =
        read(&api.send_json(Method::POST, &format!("/submissions/{id}/verifications"), &json!({})).await?)?;
    let began = Instant::now();
    if !quiet {
        eprintln!("re-running {id} (verification {}) under its receipt's conditions…", started.id);
    }
    loop {
        let now: Verification = read(&api.get(&format!("/verifications/{}", started.id)).await?)?;
        if now.state != VerificationState::Running {
            return Ok(now);
        }
        if began.elapsed() > wait {
            bail!(
                "the re-run is still going after {} s; see it later with the API at /api/v1/verifications/{}, or \
                 wait longer with --wait-minutes",
                wait.as_secs(),
                started.id
            );
        }
        tokio::time::sleep(POLL).await;
        // A line every ten seconds says it is alive without flooding the terminal.
        let waited = began.elapsed().as_secs();
        if !quiet && waited / 10 != (waited - POLL.as_secs().min(waited)) / 10 {
            eprintln!("  still running ({waited} s)");
        }
    }
}

fn number(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// The report for people: the verdict, a table of metrics, and any condition not met.
pub fn text(v: &Verification) -> String {
    let Some(report) = &v.report else {
        return format!(
            "re-run of {}: FAILED: {}\n",
            v.submission_id,
            v.reason.as_deref().unwrap_or("no reason given")
        );
    };
    let verdict = match report.verdict {
        RerunVerdict::Identical => "REPRODUCED: score.json is byte for byte the same".to_owned(),
        RerunVerdict::WithinTolerance => "REPRODUCED within the declared tolerances (score.json differs)".to_owned(),
        RerunVerdict::Different => "NOT REPRODUCED: metrics differ beyond their tolerance".to_owned(),
        RerunVerdict::NotComparable => {
            "NOT COMPARABLE: the re-run did not run under the receipt's conditions".to_owned()
        }
    };
    let mut out = format!(
        "re-run of {}: {verdict}\n  score.json sha256 original {} re-run {}\n",
        v.submission_id, report.original_score_json_sha256, report.rerun_score_json_sha256
    );
    out.push_str(&format!(
        "  {:<24} {:<8} {:>22} {:>22} {:>12} {:>10}  ok\n",
        "metric", "split", "original", "re-run", "difference", "tolerance"
    ));
    for m in &report.metrics {
        out.push_str(&format!(
            "  {:<24} {:<8} {:>22} {:>22} {:>12} {:>10}  {}\n",
            m.name,
            m.split,
            number(m.original),
            number(m.rerun),
            number(m.difference),
            m.tolerance,
            if m.within { "yes" } else { "NO" }
        ));
    }
    for c in report.conditions.iter().filter(|c| !c.same) {
        out.push_str(&format!("  {} differs: receipt {} / re-run {}\n", c.name, c.original, c.rerun));
    }
    out
}

/// Why the re-run does not confirm the score, if it does not.
pub fn failure(v: &Verification) -> Option<String> {
    match (&v.state, &v.report) {
        (
            VerificationState::Complete,
            Some(RerunReport { verdict: RerunVerdict::Identical | RerunVerdict::WithinTolerance, .. }),
        ) => None,
        (VerificationState::Complete, Some(r)) => Some(match r.verdict {
            RerunVerdict::NotComparable => "the re-run did not run under the receipt's conditions".to_owned(),
            _ => {
                let names: Vec<String> =
                    r.metrics.iter().filter(|m| !m.within).map(|m| format!("{} ({})", m.name, m.split)).collect();
                format!("the re-run's metrics differ: {}", names.join(", "))
            }
        }),
        _ => Some(format!("the re-run failed: {}", v.reason.as_deref().unwrap_or("no reason given"))),
    }
}
