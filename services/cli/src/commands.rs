//! The command tree and what each command does.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use darkroom_api::{
    CreateTeam, InviteRequest, JoinRequest, Leaderboard, MintToken, ParticipantId, PublicChallenge, Registered,
    Registration, ReplacedToken, SelectionsRequest, SubmissionListQuery, SubmissionNoteUpdate, SubmissionState,
    SubmitImage, TarballQuery, TeamCode, TokenScope, ViewedSubmission,
};
use darkroom_api::{
    CreateWebhook, EditAnnouncement, ExportFormat, ExportQuery, LeaderboardQuery, PostAnnouncement, WebhookEvent,
};
use darkroom_core::domain::{ChallengeSpec, SubmissionNote};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::api::{Api, read};
use crate::output;

#[derive(Parser)]
#[command(name = "darkroom", version, about = "Darkroom: run algorithms beside data nobody may download")]
pub struct Cli {
    /// The submissions service.
    #[arg(long, global = true, env = "DARKROOM_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// Your participant token (from `darkroom register`), or the admin token for organizer commands.
    #[arg(long, global = true, env = "DARKROOM_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Print the server's JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Organizer commands (use the admin token).
    #[command(subcommand)]
    Challenge(ChallengeCommand),
    /// Register as a participant; prints your token once.
    Register {
        name: String,
        #[arg(long)]
        team: Option<String>,
        /// Also write the token to this file (mode 0600).
        #[arg(long)]
        save_token: Option<PathBuf>,
    },
    /// Join a challenge (before submitting to it), accepting its rules; they are printed first.
    Join {
        challenge: String,
        /// The invite code the organizer gave you (challenges that admit by invitation).
        #[arg(long)]
        code: Option<String>,
        /// Accept the rules without being asked (needed when not run in a terminal).
        #[arg(long)]
        yes: bool,
    },
    /// Your team in a challenge whose teams are allowed: create, join, leave, merge.
    #[command(subcommand)]
    Team(TeamCommand),
    /// Organizer: who joined a challenge; approving, rejecting, disqualifying or reinstating them
    /// (use the admin token).
    #[command(subcommand)]
    Enrollment(EnrollmentCommand),
    /// Organizer: invite codes for challenges that admit by invitation (use the admin token).
    #[command(subcommand)]
    Invite(InviteCommand),
    /// Scoped tokens that expire: for a script, CI, or (organizer) a read-only co-organizer.
    /// Managed with your own token.
    #[command(subcommand)]
    Token(TokenCommand),
    /// The web sessions your token signed in (the pages' browsers).
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// Organizer: URLs told of a challenge's submission and board changes, signed, and their
    /// delivery log (use the admin token).
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// What the organizer tells a challenge's participants: anyone reads them; the organizer
    /// posts, edits and removes them (use the admin token).
    #[command(subcommand)]
    Announcement(AnnouncementCommand),
    /// Submit an image to a challenge.
    Submit {
        challenge: String,
        /// An image pushed to a registry the platform allows, e.g. `ghcr.io/you/model:1`; pinned
        /// by digest when submitted.
        #[arg(long, conflicts_with = "tar", required_unless_present = "tar")]
        image: Option<String>,
        /// A `docker save` archive to upload.
        #[arg(long)]
        tar: Option<PathBuf>,
        /// Your own words about it, e.g. "resnet50, lr 1e-3" (one line, at most 200
        /// characters; shown to you and the organizer, never on a board).
        #[arg(long)]
        note: Option<String>,
    },
    /// Write the note of one of your submissions (as `submit --note`); an empty one clears it.
    Note { id: String, note: String },
    /// Your submissions, or one of them with its history.
    Status {
        id: Option<String>,
        #[arg(long, conflicts_with = "id")]
        challenge: Option<String>,
        /// Only these: QUEUED, PENDING, RUNNING, EVALUATING, COMPLETE, FAILED or CANCELLED.
        #[arg(long, conflicts_with = "id")]
        state: Option<String>,
        /// Wait until the submission reaches COMPLETE, FAILED or CANCELLED.
        #[arg(long, requires = "id")]
        wait: bool,
        /// Give up waiting after this many seconds.
        #[arg(long, default_value_t = 3600)]
        timeout: u64,
    },
    /// Cancel a submission that has not started.
    Cancel { id: String },
    /// A submission's run output (where the organizer shows logs; organizers: always): the
    /// last lines, or with --follow every line as it comes, until the submission ends.
    Logs {
        id: String,
        #[arg(long)]
        follow: bool,
    },
    /// Organizer: a challenge's submissions, newest first, with whose each is and why it failed.
    Submissions {
        challenge: String,
        /// Only these: QUEUED, PENDING, RUNNING, EVALUATING, COMPLETE, FAILED or CANCELLED.
        #[arg(long)]
        state: Option<String>,
        /// At most this many (1 to 1000).
        #[arg(long, default_value_t = 200)]
        limit: u64,
    },
    /// Organizer: queue a finished submission again, as a new submission that does not count
    /// against the participant's quota.
    Rerun { id: String },
    /// Print the completion script of a shell, e.g. `darkroom completions bash >
    /// /etc/bash_completion.d/darkroom`.
    Completions { shell: clap_complete::Shell },
    /// A challenge's leaderboard (the public one, or with --private the final board).
    Leaderboard {
        challenge: String,
        #[arg(long)]
        phase: Option<String>,
        /// The private board: sealed until the reveal (its commitment is shown), then revealed.
        #[arg(long)]
        private: bool,
        /// The public board of an evaluator generation (1 is the board as first scored, each
        /// rescore makes the next; default: the phase's current one).
        #[arg(long, conflicts_with = "private")]
        evaluator: Option<u32>,
        /// The public board as a file for a spreadsheet or a script, each row with its receipt
        /// hash: csv or json (save it with `> board.csv`).
        #[arg(long, value_name = "FORMAT", value_parser = parse_export_format, conflicts_with = "private")]
        export: Option<ExportFormat>,
    },
    /// Who your token says you are: the organizer, or a participant (name, id, team).
    Whoami,
    /// How many submissions your quotas (your team's, in a team) still allow in a challenge's
    /// open phase, and when the next daily slot opens.
    Quota { challenge: String },
    /// Select your final submissions of a phase (replaces your selection; the phase is the
    /// submissions'). None selected: your best by public score count.
    Select {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Organizer commands on a phase (use the admin token).
    #[command(subcommand)]
    Phase(PhaseCommand),
    /// Checks a revealed private board against the commitment published at the close.
    VerifyBoard { challenge: String, phase: String },
    /// Checks score receipts here, trusting nothing the server computed: a submission's
    /// (signature, place in its challenge's chain, what the board shows), or with --board a
    /// whole board (every receipt of the chain, every row backed). With --rerun (organizer) the
    /// submission is then run again under its receipt's conditions and the result compared,
    /// metric by metric. Exits non-zero naming what failed.
    Verify {
        /// The submission whose receipt to check (yours, or any as organizer).
        #[arg(required_unless_present = "board", conflicts_with = "board")]
        submission: Option<String>,
        /// Walk this challenge's chain and check every row of its board.
        #[arg(long, value_name = "SLUG")]
        board: Option<String>,
        /// The board's phase (default: the current or last one).
        #[arg(long, requires = "board")]
        phase: Option<String>,
        /// The board's evaluator generation (default: the phase's current one; 1 is the board
        /// as scored originally, a rescore makes the next).
        #[arg(long, requires = "board")]
        evaluator: Option<u32>,
        /// Trust only this public key (64 hex digits), e.g. one the organizer published,
        /// instead of the keys the server lists at /api/v1/keys.
        #[arg(long, env = "DARKROOM_RECEIPT_KEY")]
        key: Option<String>,
        /// Organizer: also re-run the submission (same image, evaluation image, data, limits and
        /// seed) and compare its score.json and metrics with the recorded ones.
        #[arg(long, requires = "submission")]
        rerun: bool,
        /// How long --rerun waits for the re-run to end.
        #[arg(long, default_value_t = 30, requires = "rerun")]
        wait_minutes: u64,
    },
}

#[derive(Subcommand)]
enum PhaseCommand {
    /// Close a phase now: the private board is computed and committed.
    Close { challenge: String, phase: String },
    /// Publish a closed phase's private board and salt.
    Reveal { challenge: String, phase: String },
}

#[derive(Subcommand)]
enum TeamCommand {
    /// Create a team and captain it; prints the code others join with, once.
    Create { challenge: String, name: String },
    /// Join the team whose code the captain gave you.
    Join { challenge: String, code: String },
    /// Your team, its members, and whether it has submitted.
    Show { challenge: String },
    /// Leave your team (only before its first submission).
    Leave { challenge: String },
    /// Captain: remove a member (only before the team's first submission).
    Remove { challenge: String, participant: String },
    /// Captain: a new code (the old one stops working).
    Code { challenge: String },
    /// Captain: merge your team into the team whose code this is.
    Merge { challenge: String, code: String },
}

#[derive(Subcommand)]
enum EnrollmentCommand {
    /// Everyone who joined or asked to join, oldest first.
    List {
        challenge: String,
        /// Only these: active, pending or rejected.
        #[arg(long)]
        state: Option<String>,
    },
    /// Let a participant submit (approval challenges; also undoes a rejection).
    Approve { challenge: String, participant: String },
    /// Refuse a participant: they cannot submit.
    Reject { challenge: String, participant: String },
    /// Disqualify a participant: their submits are refused and their line (or their team's)
    /// leaves every board; they read the reason.
    Disqualify {
        challenge: String,
        participant: String,
        /// What they did, in one line (at most 300 characters).
        #[arg(long)]
        reason: String,
    },
    /// Lift a disqualification: their line comes back as their scores say.
    Reinstate { challenge: String, participant: String },
}

#[derive(Subcommand)]
enum SessionsCommand {
    /// Sign out everywhere: every browser signed in with your token is signed out (your token
    /// and its scoped tokens keep working; `token replace` ends those too).
    End,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Mint one; it is printed once.
    Create {
        /// What it may do: read, submit (participants), organize (the organizer); repeat for
        /// more than one.
        #[arg(long = "scope", required = true, value_parser = parse_scope)]
        scopes: Vec<TokenScope>,
        /// It stops working after this many hours (at most a year).
        #[arg(long, default_value_t = darkroom_api::DEFAULT_TOKEN_HOURS)]
        expires_in_hours: u32,
        /// What it is for, shown in the list.
        #[arg(long)]
        label: Option<String>,
    },
    /// Your live scoped tokens (never their secrets).
    List,
    /// Revoke one by its id.
    Revoke { id: String },
    /// Replace your own token (after a leak): the old one, its web sessions and its scoped
    /// tokens stop working; the new one is printed once. Needs the token itself, not a scoped
    /// one. The organizer replaces a participant's lost token with --participant.
    Replace {
        /// Organizer: the participant whose token to replace (their id, from `enrollment
        /// list`); pass the new token on to them.
        #[arg(long)]
        participant: Option<String>,
        /// Also write the new token to this file (mode 0600), e.g. the one `register
        /// --save-token` wrote.
        #[arg(long)]
        save_token: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum WebhookCommand {
    /// Register a URL; its signing secret is printed once.
    Add {
        challenge: String,
        url: String,
        /// What to be told of: submission, board, announcement; every one when left out.
        #[arg(long = "events", value_delimiter = ',', value_parser = parse_webhook_event)]
        events: Vec<WebhookEvent>,
    },
    /// A challenge's webhooks (never their secrets).
    List { challenge: String },
    /// A webhook's deliveries, newest first: attempts, last status or error, next retry.
    Deliveries {
        challenge: String,
        id: String,
        /// At most this many (1 to 500).
        #[arg(long, default_value_t = darkroom_api::webhook::DEFAULT_DELIVERIES_PAGE)]
        limit: u64,
    },
    /// Remove a webhook and its delivery log.
    Remove { challenge: String, id: String },
}

#[derive(Subcommand)]
enum AnnouncementCommand {
    /// A challenge's announcements, newest first (no token needed).
    List { challenge: String },
    /// Post one: a one-line title (at most 120 characters) and a Markdown body.
    Post {
        challenge: String,
        #[arg(long)]
        title: String,
        #[command(flatten)]
        body: AnnouncementBody,
    },
    /// Replace one's title, body or both (what is not given stays); it then says when it was
    /// edited.
    Edit {
        challenge: String,
        id: String,
        #[arg(long)]
        title: Option<String>,
        #[command(flatten)]
        body: AnnouncementBody,
    },
    /// Remove one for good.
    Remove { challenge: String, id: String },
}

/// An announcement's Markdown body (at most 10,000 characters), given or read from a file.
#[derive(clap::Args)]
struct AnnouncementBody {
    /// The body itself.
    #[arg(long, conflicts_with = "body_file")]
    body: Option<String>,
    /// A Markdown file holding the body, or `-` for standard input.
    #[arg(long)]
    body_file: Option<PathBuf>,
}

impl AnnouncementBody {
    /// The body given, or read from its file; None when neither is given. The server checks the
    /// text; a file longer than any body could be is refused here without reading it whole.
    fn read(self) -> anyhow::Result<Option<String>> {
        let Some(path) = self.body_file else { return Ok(self.body) };
        // Characters are at most 4 bytes.
        let most = 4 * darkroom_api::MAX_ANNOUNCEMENT_BODY_CHARS as u64;
        let reader: Box<dyn std::io::Read> = match path.as_os_str() == "-" {
            true => Box::new(std::io::stdin()),
            false => Box::new(std::fs::File::open(&path).with_context(|| format!("cannot open {}", path.display()))?),
        };
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::Read::take(reader, most + 1), &mut bytes)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if bytes.len() as u64 > most {
            bail!(
                "{} is longer than a body may be ({} characters); shorten it",
                path.display(),
                darkroom_api::MAX_ANNOUNCEMENT_BODY_CHARS
            );
        }
        String::from_utf8(bytes).map(Some).map_err(|_| anyhow::anyhow!("{} is not UTF-8 text", path.display()))
    }
}

fn parse_webhook_event(s: &str) -> Result<WebhookEvent, String> {
    WebhookEvent::parse(s).ok_or_else(|| format!("'{s}' is not a webhook event: submission, board or announcement"))
}

fn parse_export_format(s: &str) -> Result<ExportFormat, String> {
    match s {
        "csv" => Ok(ExportFormat::Csv),
        "json" => Ok(ExportFormat::Json),
        _ => Err(format!("'{s}' is not an export format: csv or json")),
    }
}

fn parse_scope(s: &str) -> Result<TokenScope, String> {
    TokenScope::parse(s).ok_or_else(|| format!("'{s}' is not a scope: read, submit or organize"))
}

#[derive(Subcommand)]
enum InviteCommand {
    /// Mint a code; it is printed once.
    Create {
        challenge: String,
        /// How many participants it may admit.
        #[arg(long, default_value_t = 1)]
        uses: u32,
        /// It admits nobody after this many hours (default: never expires).
        #[arg(long)]
        expires_in_hours: Option<u32>,
    },
    /// A challenge's codes and how often each was used (the codes themselves are not stored).
    List { challenge: String },
}

#[derive(Subcommand)]
enum ChallengeCommand {
    /// Create a challenge from a spec file (.toml, .yaml or .json).
    Create { spec: PathBuf },
    /// Create or update a challenge from a spec file.
    Apply { spec: PathBuf },
    /// List challenges.
    List,
    /// Show a challenge.
    Show { slug: String },
    /// List a challenge's dataset files (names and sizes).
    Dataset { slug: String },
    /// Image digests submitted by more than one team (or participant in none): likely one
    /// person behind several accounts (admin token).
    Duplicates { slug: String },
    /// Fingerprint a spec's dataset and ground truth here, reading every file, with progress:
    /// the digests `apply` stores when the data on the server's host is the same.
    Fingerprint { spec: PathBuf },
    /// Evaluate every scored submission of a phase again with a new evaluation image (admin
    /// token): the board switches to it once every one is re-scored, and the previous board
    /// stays readable (`leaderboard?evaluator=N`). Without --image, shows the phase's rescores.
    Rescore {
        slug: String,
        #[arg(long)]
        phase: String,
        /// The new evaluation image, as the evaluators' engine names it (e.g. eval:2).
        #[arg(long)]
        image: Option<String>,
        /// Follow the progress until the rescore switches the board or ends with failures.
        #[arg(long)]
        wait: bool,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let api = Api::new(&cli.server, cli.token.clone())?;
    let json = cli.json;
    match cli.command {
        Command::Challenge(c) => match c {
            ChallengeCommand::Create { spec } => {
                api.needs_token("challenge create")?;
                let spec = read_spec(&spec)?;
                let v = while_fingerprinted(api.send_json(Method::POST, "/challenges", &spec)).await?;
                show(json, &v, output::challenge_saved)?;
            }
            ChallengeCommand::Apply { spec } => {
                api.needs_token("challenge apply")?;
                let spec = read_spec(&spec)?;
                let v = while_fingerprinted(api.send_json(Method::PUT, &format!("/challenges/{}", spec.slug), &spec))
                    .await?;
                show(json, &v, output::challenge_saved)?;
            }
            ChallengeCommand::Fingerprint { spec } => {
                let spec = read_spec(&spec)?;
                let mut found = serde_json::Map::new();
                for (what, root) in
                    [("dataset", &spec.dataset.host_path), ("ground_truth", &spec.ground_truth.host_path)]
                {
                    found.insert(what.into(), serde_json::to_value(fingerprint_here(what, root).await?)?);
                }
                show(json, &Value::Object(found), output::fingerprints)?;
            }
            ChallengeCommand::Rescore { slug, phase, image, wait } => {
                api.needs_token("challenge rescore")?;
                crate::rescore::run(&api, json, &slug, &phase, image.as_deref(), wait).await?;
            }
            ChallengeCommand::List => show(json, &api.get("/challenges").await?, output::challenges)?,
            ChallengeCommand::Show { slug } => {
                show(json, &api.get(&format!("/challenges/{slug}")).await?, output::challenge)?
            }
            ChallengeCommand::Dataset { slug } => {
                show(json, &api.get(&format!("/challenges/{slug}/dataset")).await?, output::dataset)?
            }
            ChallengeCommand::Duplicates { slug } => {
                api.needs_token("challenge duplicates")?;
                let v = api.get(&format!("/challenges/{slug}/duplicate-images")).await?;
                show(json, &v, output::duplicate_images)?
            }
        },
        Command::Register { name, team, save_token } => {
            let v = api.send_json(Method::POST, "/participants", &Registration { name, team }).await?;
            // Printed first, as `token replace` does: the token cannot be asked for again.
            show_secret(json, &v, output::registered)?;
            if let Some(path) = save_token {
                let registered: Registered = read(&v)?;
                write_secret(&path, &registered.token).context("the token is printed above: save it by hand")?;
            }
        }
        Command::Join { challenge, code, yes } => {
            api.needs_token("join")?;
            if !yes {
                // Asked only on a terminal, after the rules; a script says --yes, having read
                // them with `challenge show`, and its errors stay one line.
                let c: PublicChallenge = read(&api.get(&format!("/challenges/{challenge}")).await?)?;
                let question = format!("Accept the rules of '{}' and join?", c.slug);
                if !std::io::stdin().is_terminal() {
                    bail!(
                        "not joined: pass --yes to accept the rules of '{}' (read them with darkroom challenge show {})",
                        c.slug,
                        c.slug
                    );
                }
                eprintln!("The rules of '{}' ({}):\n\n{}\n", c.slug, c.title, output::terminal_safe(c.rules_text()));
                if !confirm(&question)? {
                    bail!("not joined: the rules of '{}' were not accepted", c.slug);
                }
            }
            let v = api
                .send_json(
                    Method::POST,
                    &format!("/challenges/{challenge}/join"),
                    &JoinRequest { accept_rules: true, code },
                )
                .await?;
            show(json, &v, output::enrollment)?;
        }
        Command::Team(c) => {
            api.needs_token("team")?;
            let base = |challenge: &str| format!("/challenges/{challenge}");
            let v = match c {
                TeamCommand::Create { challenge, name } => {
                    api.send_json(Method::POST, &format!("{}/teams", base(&challenge)), &CreateTeam { name }).await?
                }
                TeamCommand::Join { challenge, code } => {
                    api.send_json(Method::POST, &format!("{}/teams/join", base(&challenge)), &TeamCode { code }).await?
                }
                TeamCommand::Show { challenge } => api.get(&format!("{}/team", base(&challenge))).await?,
                TeamCommand::Leave { challenge } => {
                    api.send_json(Method::POST, &format!("{}/team/leave", base(&challenge)), &json!({})).await?;
                    println!("you left your team of '{challenge}'");
                    return Ok(());
                }
                TeamCommand::Remove { challenge, participant } => {
                    api.send_json(
                        Method::DELETE,
                        &format!("{}/team/members/{participant}", base(&challenge)),
                        &json!({}),
                    )
                    .await?
                }
                TeamCommand::Code { challenge } => {
                    api.send_json(Method::POST, &format!("{}/team/code", base(&challenge)), &json!({})).await?
                }
                TeamCommand::Merge { challenge, code } => {
                    api.send_json(Method::POST, &format!("{}/team/merge", base(&challenge)), &TeamCode { code }).await?
                }
            };
            show(json, &v, output::team)?;
        }
        Command::Enrollment(c) => {
            api.needs_token("enrollment")?;
            match c {
                EnrollmentCommand::List { challenge, state } => {
                    let path = match state {
                        Some(s) => format!("/challenges/{challenge}/enrollments?state={s}"),
                        None => format!("/challenges/{challenge}/enrollments"),
                    };
                    show(json, &api.get(&path).await?, output::enrollments)?;
                }
                EnrollmentCommand::Approve { challenge, participant } => {
                    let path = format!("/challenges/{challenge}/enrollments/{participant}/approve");
                    show(json, &api.send_json(Method::POST, &path, &json!({})).await?, output::decision)?;
                }
                EnrollmentCommand::Reject { challenge, participant } => {
                    let path = format!("/challenges/{challenge}/enrollments/{participant}/reject");
                    show(json, &api.send_json(Method::POST, &path, &json!({})).await?, output::decision)?;
                }
                EnrollmentCommand::Disqualify { challenge, participant, reason } => {
                    let path = format!("/challenges/{challenge}/enrollments/{participant}/disqualify");
                    let body = json!({ "reason": reason });
                    show(json, &api.send_json(Method::POST, &path, &body).await?, output::decision)?;
                }
                EnrollmentCommand::Reinstate { challenge, participant } => {
                    let path = format!("/challenges/{challenge}/enrollments/{participant}/reinstate");
                    show(json, &api.send_json(Method::POST, &path, &json!({})).await?, output::decision)?;
                }
            }
        }
        Command::Invite(c) => {
            api.needs_token("invite")?;
            match c {
                InviteCommand::Create { challenge, uses, expires_in_hours } => {
                    let expires_at =
                        expires_in_hours.map(|h| chrono::Utc::now() + chrono::Duration::hours(i64::from(h)));
                    let request = InviteRequest { uses: Some(uses), expires_at };
                    let v = api.send_json(Method::POST, &format!("/challenges/{challenge}/invites"), &request).await?;
                    show(json, &v, output::invite)?;
                }
                InviteCommand::List { challenge } => {
                    show(json, &api.get(&format!("/challenges/{challenge}/invites")).await?, output::invites)?;
                }
            }
        }
        Command::Submit { challenge, image, tar, note } => {
            api.needs_token("submit")?;
            // Checked here too: an upload refused for its note would send gigabytes for nothing.
            if let Some(n) = &note {
                checked_note("--note", n)?;
            }
            let v = match (image, tar) {
                (Some(image), None) => {
                    let body = SubmitImage { image, note };
                    api.send_json(Method::POST, &format!("/challenges/{challenge}/submissions"), &body).await?
                }
                (None, Some(tar)) => {
                    let path = format!("/challenges/{challenge}/submissions/tarball");
                    api.upload(&path, &TarballQuery { note }, &tar).await?
                }
                _ => bail!("give exactly one of --image NAME or --tar FILE"),
            };
            show(json, &v, output::submission)?;
        }
        Command::Note { id, note } => {
            api.needs_token("note")?;
            checked_note("the note", &note)?;
            let v = api
                .send_json(Method::PUT, &format!("/submissions/{id}/note"), &SubmissionNoteUpdate { note: Some(note) })
                .await?;
            show(json, &v, output::submission)?;
        }
        Command::Status { id: Some(id), wait, timeout, .. } => {
            api.needs_token("status")?;
            let path = format!("/submissions/{id}");
            let mut v = api.get(&path).await?;
            let mut state = read::<ViewedSubmission>(&v)?.submission().state;
            if wait {
                let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
                let mut last = None;
                while !state.is_terminal() {
                    if last != Some(state) && !json {
                        eprintln!("{id}: {state}");
                        last = Some(state);
                    }
                    if tokio::time::Instant::now() > deadline {
                        bail!("submission {id} is still {state} after {timeout} s");
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    v = api.get(&path).await?;
                    state = read::<ViewedSubmission>(&v)?.submission().state;
                }
            }
            show(json, &v, output::submission)?;
            if wait && state != SubmissionState::Complete {
                std::process::exit(2);
            }
        }
        Command::Status { id: None, challenge, state, .. } => {
            api.needs_token("status")?;
            let query = SubmissionListQuery { challenge, state, limit: None };
            show(json, &api.get_with("/submissions", &query).await?, output::submissions)?;
        }
        Command::Token(c) => {
            api.needs_token("token")?;
            match c {
                TokenCommand::Create { scopes, expires_in_hours, label } => {
                    let body = MintToken { scopes, expires_in_hours: Some(expires_in_hours), label };
                    show(json, &api.send_json(Method::POST, "/tokens", &body).await?, output::minted_token)?;
                }
                TokenCommand::List => show(json, &api.get("/tokens").await?, output::tokens)?,
                TokenCommand::Revoke { id } => {
                    api.send_json(Method::DELETE, &format!("/tokens/{id}"), &json!({})).await?;
                    println!("token {id} revoked");
                }
                TokenCommand::Replace { participant, save_token } => {
                    let path = match &participant {
                        Some(p) => {
                            let id: ParticipantId = p.trim().parse().map_err(|e| {
                                anyhow::anyhow!("--participant: {e} (their id is in 'darkroom enrollment list SLUG')")
                            })?;
                            format!("/participants/{id}/token")
                        }
                        None => "/me/token".to_owned(),
                    };
                    let v = api.send_json(Method::POST, &path, &json!({})).await?;
                    // Printed before it is saved: the old token is already dead, so a file that
                    // cannot be written must not take the only copy of the new one with it.
                    show_secret(json, &v, output::replaced_token)?;
                    if let Some(file) = save_token {
                        let replaced: ReplacedToken = read(&v)?;
                        write_secret(&file, &replaced.token)
                            .context("the new token is printed above: save it by hand")?;
                    }
                }
            }
        }
        Command::Sessions(SessionsCommand::End) => {
            api.needs_token("sessions end")?;
            let v = api.send_json(Method::DELETE, "/sessions", &json!({})).await?;
            show(json, &v, output::sessions_ended)?;
        }
        Command::Webhook(c) => {
            api.needs_token("webhook")?;
            match c {
                WebhookCommand::Add { challenge, url, events } => {
                    let body = CreateWebhook { url, events: (!events.is_empty()).then_some(events) };
                    let answer =
                        api.send_json(Method::POST, &format!("/challenges/{challenge}/webhooks"), &body).await?;
                    show(json, &answer, output::created_webhook)?;
                }
                WebhookCommand::List { challenge } => {
                    show(json, &api.get(&format!("/challenges/{challenge}/webhooks")).await?, output::webhooks)?;
                }
                WebhookCommand::Deliveries { challenge, id, limit } => {
                    let path = format!("/challenges/{challenge}/webhooks/{id}/deliveries?limit={limit}");
                    show(json, &api.get(&path).await?, output::webhook_deliveries)?;
                }
                WebhookCommand::Remove { challenge, id } => {
                    let path = format!("/challenges/{challenge}/webhooks/{id}");
                    api.send_json(Method::DELETE, &path, &json!({})).await?;
                    print_removed(json, "webhook", &id);
                }
            }
        }
        Command::Announcement(c) => {
            let base = |challenge: &str| format!("/challenges/{challenge}/announcements");
            match c {
                AnnouncementCommand::List { challenge } => {
                    show(json, &api.get(&base(&challenge)).await?, output::announcements)?;
                }
                AnnouncementCommand::Post { challenge, title, body } => {
                    api.needs_token("announcement post")?;
                    let post = PostAnnouncement { title, body: body.read()?.unwrap_or_default() };
                    let posted = api.send_json(Method::POST, &base(&challenge), &post).await?;
                    show(json, &posted, output::announcement_posted)?;
                }
                AnnouncementCommand::Edit { challenge, id, title, body } => {
                    api.needs_token("announcement edit")?;
                    let edit = EditAnnouncement { title, body: body.read()? };
                    if edit == EditAnnouncement::default() {
                        bail!("say what to change: --title, --body or --body-file");
                    }
                    let edited = api.send_json(Method::PUT, &format!("{}/{id}", base(&challenge)), &edit).await?;
                    show(json, &edited, output::announcement_posted)?;
                }
                AnnouncementCommand::Remove { challenge, id } => {
                    api.needs_token("announcement remove")?;
                    api.send_json(Method::DELETE, &format!("{}/{id}", base(&challenge)), &json!({})).await?;
                    print_removed(json, "announcement", &id);
                }
            }
        }
        Command::Logs { id, follow } => {
            api.needs_token("logs")?;
            crate::logs::show(&api, &id, follow, json).await?;
        }
        Command::Submissions { challenge, state, limit } => {
            api.needs_token("submissions")?;
            let mut path = format!("/challenges/{challenge}/submissions?limit={limit}");
            if let Some(s) = state {
                path.push_str(&format!("&state={s}"));
            }
            show(json, &api.get(&path).await?, output::organizer_submissions)?;
        }
        Command::Rerun { id } => {
            api.needs_token("rerun")?;
            let v = api.send_json(Method::POST, &format!("/submissions/{id}/rerun"), &json!({})).await?;
            show(json, &v, output::submission)?;
        }
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "darkroom", &mut std::io::stdout());
        }
        Command::Cancel { id } => {
            api.needs_token("cancel")?;
            show(
                json,
                &api.send_json(Method::POST, &format!("/submissions/{id}/cancel"), &json!({})).await?,
                output::submission,
            )?;
        }
        Command::Leaderboard { challenge, phase, private, evaluator, export } => {
            let board = format!("/challenges/{challenge}/leaderboard");
            if let Some(format) = export {
                let query = ExportQuery { phase, format: Some(format), evaluator };
                print_export(&api.get_with(&format!("{board}/export"), &query).await?)?;
            } else if private {
                let phase = match phase {
                    Some(p) => p,
                    None => read::<Leaderboard>(&api.get(&board).await?)?.phase,
                };
                let v = api.get(&format!("/challenges/{challenge}/phases/{phase}/private-board")).await?;
                show(json, &v, output::private_board)?;
            } else {
                let v = api.get_with(&board, &LeaderboardQuery { phase, evaluator }).await?;
                show(json, &v, output::leaderboard)?;
            }
        }
        Command::Quota { challenge } => {
            api.needs_token("quota")?;
            show(json, &api.get(&format!("/challenges/{challenge}/quota")).await?, output::quota)?;
        }
        Command::Whoami => {
            api.needs_token("whoami")?;
            // What the token is first: it answers for any scope, where /me needs `read`.
            let credential = api.get("/tokens/current").await?;
            let me = api.get("/me").await?;
            let both = json!({ "me": me, "credential": credential });
            show(json, &both, output::whoami)?;
        }
        Command::Select { ids } => {
            api.needs_token("select")?;
            let mut phase: Option<(String, String)> = None;
            let mut submissions = Vec::new();
            for id in &ids {
                let s = read::<ViewedSubmission>(&api.get(&format!("/submissions/{id}")).await?)?.submission().clone();
                let here = (s.challenge.clone(), s.phase.clone());
                if let Some(first) = &phase
                    && *first != here
                {
                    bail!(
                        "submission {id} is in phase '{}' of '{}', the others in phase '{}' of '{}'; select one phase's at a time",
                        here.1,
                        here.0,
                        first.1,
                        first.0
                    );
                }
                phase = Some(here);
                submissions.push(s.id);
            }
            let (challenge, phase) = phase.context("give at least one submission id")?;
            let v = api
                .send_json(
                    Method::PUT,
                    &format!("/challenges/{challenge}/phases/{phase}/selections"),
                    &SelectionsRequest { submissions },
                )
                .await?;
            show(json, &v, output::selections)?;
        }
        Command::Phase(c) => {
            api.needs_token("phase")?;
            let (verb, challenge, phase) = match c {
                PhaseCommand::Close { challenge, phase } => ("close", challenge, phase),
                PhaseCommand::Reveal { challenge, phase } => ("reveal", challenge, phase),
            };
            let v = api
                .send_json(Method::POST, &format!("/challenges/{challenge}/phases/{phase}/{verb}"), &json!({}))
                .await?;
            show(json, &v, output::private_board)?;
        }
        Command::VerifyBoard { challenge, phase } => {
            let v = api.get(&format!("/challenges/{challenge}/phases/{phase}/private-board")).await?;
            let line = verify_board(&v)?;
            println!("{}", output::terminal_safe(&line));
        }
        Command::Verify { submission, board, phase, evaluator, key, rerun, wait_minutes } => {
            let report = match (&submission, board) {
                (Some(id), _) => crate::verify::submission(&api, id, key.as_deref()).await?,
                (None, Some(slug)) => {
                    crate::verify::whole_board(&api, &slug, phase.as_deref(), evaluator, key.as_deref()).await?
                }
                (None, None) => bail!("name a submission, or a board with --board SLUG"),
            };
            if let (true, Some(id), true) = (rerun, &submission, report.ok) {
                let wait = std::time::Duration::from_secs(wait_minutes.saturating_mul(60));
                let verification = crate::rerun::run(&api, id, wait, json).await?;
                if json {
                    let both = json!({ "receipt": report, "rerun": verification });
                    println!("{}", output::terminal_safe(&serde_json::to_string_pretty(&both)?));
                } else {
                    println!("{}", output::terminal_safe(&report.line()));
                    print!("{}", output::terminal_safe(&crate::rerun::text(&verification)));
                }
                if let Some(failure) = crate::rerun::failure(&verification) {
                    bail!("verification failed: {failure}");
                }
                return Ok(());
            }
            if json {
                println!("{}", output::terminal_safe(&serde_json::to_string_pretty(&report)?));
            } else if report.ok {
                println!("{}", output::terminal_safe(&report.line()));
            }
            if let Some(failure) = report.failure {
                bail!("verification failed: {failure}");
            }
        }
    }
    Ok(())
}

/// Asks on the terminal.
fn confirm(question: &str) -> anyhow::Result<bool> {
    use std::io::{BufRead, Write};
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// A note as the server will check it ([`SubmissionNote`]), refused in the server's words.
fn checked_note(field: &str, note: &str) -> anyhow::Result<()> {
    match SubmissionNote::parse(field, note) {
        Ok(_) => Ok(()),
        Err(e) => bail!("{field} {}: {}", e.problem, e.fix),
    }
}

/// An exported board on stdout: the CSV as the server wrote it (its cells are already defused
/// for spreadsheets), the JSON pretty-printed. Only a terminal gets the escaped form: bytes
/// redirected to a file stay the server's.
fn print_export(answer: &Value) -> anyhow::Result<()> {
    let text = match answer {
        Value::String(csv) => csv.clone(),
        other => serde_json::to_string_pretty(other)? + "\n",
    };
    if std::io::stdout().is_terminal() {
        print!("{}", output::terminal_safe(&text));
    } else {
        print!("{text}");
    }
    Ok(())
}

/// Says that `what` `id` is removed (the API answers a removal with no body): `{"removed": id}`
/// with `--json`.
fn print_removed(json: bool, what: &str, id: &str) {
    if json {
        println!("{}", json!({ "removed": id }));
    } else {
        println!("{}", output::terminal_safe(&format!("{what} {id} removed")));
    }
}

/// Prints the server's answer: as it came with `--json`, else read as `T` and drawn by `table`.
/// Prints a secret's answer whatever it holds: as [`show`] would, or, when this client cannot
/// read it (a server of another version), as the JSON it came in. The secret is in it and cannot
/// be asked for again, so nothing may stop it from being printed.
fn show_secret<T: DeserializeOwned>(json: bool, answer: &Value, table: fn(&T) -> String) -> anyhow::Result<()> {
    if json || read::<T>(answer).is_err() {
        return show::<Value>(true, answer, |_| String::new());
    }
    show(json, answer, table)
}

fn show<T: DeserializeOwned>(json: bool, answer: &Value, table: fn(&T) -> String) -> anyhow::Result<()> {
    if json {
        println!("{}", output::terminal_safe(&serde_json::to_string_pretty(answer)?));
    } else {
        print!("{}", output::terminal_safe(&table(&read(answer)?)));
    }
    Ok(())
}

/// Recomputes the commitment of a revealed board from its own bytes: the `board` as served (not
/// re-rendered by this client's types) and the salt. Fails naming what does not hold.
pub fn verify_board(answer: &Value) -> anyhow::Result<String> {
    use darkroom_core::domain::commitment::{self, Commitment, FinalBoard, Salt};
    let state = answer.get("state").and_then(Value::as_str).unwrap_or("?");
    if state != "revealed" {
        bail!("the private board is {state}, not revealed: nothing to verify yet");
    }
    let field = |k: &str| answer.get(k).and_then(Value::as_str).with_context(|| format!("the answer has no '{k}'"));
    let board: FinalBoard =
        serde_json::from_value(answer["board"].clone()).context("the revealed board does not read")?;
    let salt: Salt = field("salt")?.parse()?;
    let claimed: Commitment = field("commitment")?.parse()?;
    let computed = commitment::commit(&board, &salt)?;
    if computed != claimed {
        bail!(
            "MISMATCH: the revealed board and salt give commitment {computed}, but {claimed} was published at the close"
        );
    }
    Ok(format!("OK: {} rows; SHA-256(salt ‖ board) = {claimed}, as published at the close", board.rows.len()))
}

/// Reads a spec file; relative host paths are taken relative to the spec file's folder, so a
/// challenge folder can be moved as a whole.
/// Waits for an apply, with a spinner on a terminal: the server fingerprints the data before it
/// answers, which takes a while for a large tree (it reports no progress over HTTP; `darkroom
/// challenge fingerprint` shows it when run on the data's host).
async fn while_fingerprinted(
    request: impl std::future::Future<Output = anyhow::Result<Value>>,
) -> anyhow::Result<Value> {
    if !std::io::stderr().is_terminal() {
        return request.await;
    }
    let spinner = indicatif::ProgressBar::new_spinner().with_message(
        "the server fingerprints the dataset and the ground truth (files changed since the last apply are read)",
    );
    spinner.enable_steady_tick(Duration::from_millis(200));
    let answer = request.await;
    spinner.finish_and_clear();
    answer
}

/// Fingerprints `root` here, reading every file, with a progress bar on stderr.
async fn fingerprint_here(what: &'static str, root: &Path) -> anyhow::Result<darkroom_api::TreeFingerprint> {
    let bar = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_message(format!("fingerprinting the {}", what.replace('_', " ")));
    if !std::io::stderr().is_terminal() {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let (progress, owned) = (bar.clone(), root.to_path_buf());
    let computed = tokio::task::spawn_blocking(move || {
        darkroom_core::fingerprint::fingerprint(&owned, None, &mut |p| {
            progress.set_length(p.bytes_total);
            progress.set_position(p.bytes_done);
        })
    })
    .await?;
    bar.finish_and_clear();
    let (manifest, _) = computed.with_context(|| format!("the {what} '{}'", root.display()))?;
    Ok(manifest.fingerprint)
}

fn read_spec(path: &Path) -> anyhow::Result<ChallengeSpec> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read spec '{}'", path.display()))?;
    let format = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let mut spec =
        ChallengeSpec::parse(&text, format).map_err(|e| anyhow::anyhow!("spec '{}': {e}", path.display()))?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let base = std::fs::canonicalize(if base.as_os_str().is_empty() { Path::new(".") } else { &base })?;
    for p in [&mut spec.dataset.host_path, &mut spec.ground_truth.host_path] {
        if p.is_relative() {
            *p = base.join(&*p);
        }
    }
    Ok(spec)
}

fn write_secret(path: &Path, secret: &str) -> anyhow::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut f = options.open(path).with_context(|| format!("cannot write token file '{}'", path.display()))?;
    // The mode above applies to a new file only; one that existed (a token being replaced in
    // it) is narrowed too before the secret goes in.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot make token file '{}' private (mode 0600)", path.display()))?;
    }
    writeln!(f, "{secret}")?;
    Ok(())
}
