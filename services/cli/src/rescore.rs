//! `darkroom challenge rescore SLUG --phase P [--image IMG] [--wait]`: asks for a rescore of a
//! phase with a new evaluation image and prints its progress (see `docs/rescore.md`).

use std::time::Duration;

use anyhow::bail;
use darkroom_api::{RescoreList, RescoreProgress, RescoreRequest, RescoreState};
use reqwest::Method;
use serde_json::Value;

use crate::api::{Api, read};
use crate::output::terminal_safe;

/// How often `--wait` reads the progress.
const POLL: Duration = Duration::from_secs(2);

/// One line of progress, e.g. `generation 2 (eval:2): running, 7/20 scored, 0 failed`, then
/// one line per failure.
pub fn line(p: &RescoreProgress) -> String {
    let mut out = format!(
        "{}/{} generation {} ({}): {}, {}/{} scored, {} failed",
        p.challenge,
        p.phase,
        p.generation,
        p.evaluation_image,
        p.state.as_str(),
        p.scored,
        p.total,
        p.failed.len()
    );
    if let Some(at) = p.switched_at {
        out.push_str(&format!("; the board shows it since {}", at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)));
    }
    out.push('\n');
    for f in &p.failed {
        out.push_str(&format!("  failed {}: {}\n", f.submission_id, f.reason));
    }
    out
}

fn print(json: bool, answer: &Value, text: String) -> anyhow::Result<()> {
    if json {
        println!("{}", terminal_safe(&serde_json::to_string_pretty(answer)?));
    } else {
        print!("{}", terminal_safe(&text));
    }
    Ok(())
}

pub async fn run(
    api: &Api,
    json: bool,
    slug: &str,
    phase: &str,
    image: Option<&str>,
    wait: bool,
) -> anyhow::Result<()> {
    let path = format!("/challenges/{slug}/phases/{phase}/rescores");
    let mut generation = match image {
        Some(image) => {
            let answer =
                api.send_json(Method::POST, &path, &RescoreRequest { evaluation_image: image.to_owned() }).await?;
            let progress: RescoreProgress = read(&answer)?;
            if !wait {
                return print(json, &answer, line(&progress));
            }
            Some(progress.generation)
        }
        None => None,
    };
    loop {
        let answer = api.get(&path).await?;
        let list: RescoreList = read(&answer)?;
        if !wait {
            return print(json, &answer, list.rescores.iter().map(line).collect());
        }
        let generation = *generation.get_or_insert_with(|| list.rescores.last().map_or(0, |r| r.generation));
        let Some(progress) = list.rescores.into_iter().find(|r| r.generation == generation) else {
            bail!("phase '{phase}' of '{slug}' has no rescore to follow; start one with --image IMAGE");
        };
        if progress.state != RescoreState::Running {
            let value = serde_json::to_value(&progress)?;
            print(json, &value, line(&progress))?;
            if progress.state == RescoreState::Incomplete {
                bail!(
                    "{} submission(s) could not be rescored (listed above); the board stays on the previous \
                     evaluator",
                    progress.failed.len()
                );
            }
            return Ok(());
        }
        if !json {
            eprint!("{}", terminal_safe(&line(&progress)));
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_says_how_far_and_lists_failures() {
        let p = RescoreProgress {
            challenge: "c".into(),
            phase: "dev".into(),
            generation: 2,
            from_generation: 1,
            evaluation_image: "eval:2".into(),
            evaluation_image_id: "sha256:ab".into(),
            state: RescoreState::Running,
            total: 20,
            scored: 7,
            failed: vec![darkroom_api::RescoreFailure {
                submission_id: "0190f1a2-0000-7000-8000-00000000000a".parse().unwrap(),
                reason: "evaluation error".into(),
            }],
            requested_at: chrono::Utc::now(),
            switched_at: None,
        };
        let text = line(&p);
        assert!(text.starts_with("c/dev generation 2 (eval:2): running, 7/20 scored, 1 failed\n"), "{text}");
        assert!(text.contains("failed 0190f1a2-0000-7000-8000-00000000000a: evaluation error"), "{text}");
    }
}
