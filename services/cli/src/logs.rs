//! `darkroom logs ID [--follow]`: a submission's run output. Without `--follow`, the last lines
//! (`GET /submissions/{id}/logs`); with it, those and then every batch stored since, asked for
//! by the answer's cursor (`?after=`), until the submission is finished and nothing more came.
//! `--json` prints one JSON object per line (attempt, time, text), so a script can follow too.

use std::time::Duration;

use darkroom_api::{LogLine, RunLogView, ViewedSubmission};

use crate::api::{Api, read};
use crate::output::terminal_safe;

/// How often a followed run is asked for new lines.
const POLL: Duration = Duration::from_secs(1);

fn print(lines: &[LogLine], json: bool) -> anyhow::Result<()> {
    for l in lines {
        if json {
            println!("{}", serde_json::to_string(l)?);
        } else {
            // A participant's program wrote these: never let them steer the terminal.
            println!("[attempt {}] {}", l.attempt, terminal_safe(&l.line));
        }
    }
    Ok(())
}

async fn finished(api: &Api, id: &str) -> anyhow::Result<bool> {
    let viewed: ViewedSubmission = read(&api.get(&format!("/submissions/{id}")).await?)?;
    Ok(viewed.submission().state.is_terminal())
}

pub async fn show(api: &Api, id: &str, follow: bool, json: bool) -> anyhow::Result<()> {
    let first: RunLogView = read(&api.get(&format!("/submissions/{id}/logs")).await?)?;
    if first.truncated && !json {
        eprintln!("(older lines left out)");
    }
    print(&first.lines, json)?;
    if !follow {
        return Ok(());
    }
    let mut cursor = first.cursor;
    // Logs and states are stored by separate consumers, so a run's last batch may land just
    // after its submission is finished: once it is, one more read after a pause ends it.
    let mut last_look = false;
    loop {
        let done = finished(api, id).await?;
        let more: RunLogView = read(&api.get(&format!("/submissions/{id}/logs?after={cursor}")).await?)?;
        print(&more.lines, json)?;
        cursor = more.cursor;
        if more.truncated {
            continue;
        }
        if done && last_look {
            return Ok(());
        }
        last_look = done;
        tokio::time::sleep(POLL).await;
    }
}
