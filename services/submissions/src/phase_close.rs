//! Closing a phase: the platform at `ends_at` (a background sweep, like the watchdog), or the
//! organizer early; and the reveal of the private board.
//!
//! **In-flight rule.** A submission accepted before `ends_at` counts when it finishes: the
//! platform closes a phase once `ends_at` has passed and no submission of the phase is still
//! QUEUED, PENDING, RUNNING or EVALUATING, or at the latest `ends_at` plus the sum of the
//! watchdog's deadlines (queue, wall clock + grace, evaluating), by which the watchdog has
//! ended every one of them. An organizer's early close is immediate: the board holds what is
//! COMPLETE at that moment, and the phase accepts nothing more.
//!
//! **Several instances.** The close is a row of `phase_closes`, unique per challenge and phase:
//! each instance computes the board, one insert wins, the others read the winner's row. The
//! salt of a losing computation is dropped unused.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use darkroom_api::{Direction, FinalBoard, PrivateBoard, RowInterval};
use darkroom_core::config::SubmissionsConfig;
use darkroom_core::domain::commitment::{self, Salt};
use darkroom_core::domain::ladder::CaseValues;
use darkroom_core::domain::{ChallengeSpec, Phase, SubmissionState};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter};

use crate::db::entities::{challenge, final_selection, participant, phase_close, submission};
use crate::final_board::{self, BoardInput};
use crate::leaderboard::ScoreStore;
use darkroom_core::scores::SealedScore;

/// Who closed a phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClosedBy {
    Deadline,
    Organizer,
}

impl ClosedBy {
    fn label(self) -> &'static str {
        match self {
            ClosedBy::Deadline => "deadline",
            ClosedBy::Organizer => "organizer",
        }
    }
}

/// The states of a submission still in flight.
pub const ACTIVE: [SubmissionState; 4] =
    [SubmissionState::Queued, SubmissionState::Pending, SubmissionState::Running, SubmissionState::Evaluating];

/// The phase's close, if it closed.
pub async fn find(
    db: &DatabaseConnection,
    slug: &str,
    phase: &str,
) -> Result<Option<phase_close::Model>, sea_orm::DbErr> {
    phase_close::Entity::find()
        .filter(phase_close::Column::Challenge.eq(slug))
        .filter(phase_close::Column::Phase.eq(phase))
        .one(db)
        .await
}

/// When selections stopped being accepted: the close, or `ends_at` once passed.
pub fn frozen_at(phase: &Phase, close: Option<&phase_close::Model>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match close {
        Some(c) => Some(c.closed_at.min(phase.ends_at)),
        None => (now >= phase.ends_at).then_some(phase.ends_at),
    }
}

/// Computes the private board, commits to it and stores the close; the phase's existing close
/// when another instance (or an earlier call) closed it first.
pub async fn close(
    db: &DatabaseConnection,
    store: &Arc<dyn ScoreStore>,
    spec: &ChallengeSpec,
    phase: &Phase,
    by: ClosedBy,
    now: DateTime<Utc>,
) -> anyhow::Result<phase_close::Model> {
    if let Some(done) = find(db, &spec.slug, &phase.name).await? {
        return Ok(done);
    }
    let direction = spec.metric(&spec.rank_by).map(|m| m.direction).unwrap_or(Direction::HigherIsBetter);
    // The board ranks entrants: a team (its members' scores and selections together, under the
    // team's name) or a participant in none.
    let lineup = crate::teams::Lineup::read(db, &spec.slug).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    // The board's current evaluator generation, read once (see crate::rescore).
    let scores = &crate::rescore::current(store, &spec.slug, &phase.name).await?;
    // The disqualified (and their teams) have no line on the sealed board.
    let excluded = crate::disqualification::Excluded::read(db, &spec.slug).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut by_participant = scores.private_scores(&spec.slug, &phase.name).await?;
    by_participant.retain(|participant, _| !excluded.contains(participant));
    let owners: Vec<String> = by_participant.keys().cloned().collect();
    let mut sealed: BTreeMap<String, Vec<SealedScore>> = BTreeMap::new();
    for (participant, mut theirs) in by_participant {
        sealed.entry(lineup.entrant(&participant)).or_default().append(&mut theirs);
    }
    for theirs in sealed.values_mut() {
        theirs.sort_by(|a, b| a.submitted_at.cmp(&b.submitted_at).then(a.submission_id.cmp(&b.submission_id)));
    }
    let mut selections: HashMap<String, Vec<String>> = HashMap::new();
    for s in final_selection::Entity::find()
        .filter(final_selection::Column::Challenge.eq(&spec.slug))
        .filter(final_selection::Column::Phase.eq(&phase.name))
        .all(db)
        .await?
    {
        selections.entry(lineup.entrant(&s.participant_id)).or_default().push(s.submission_id);
    }
    let mut names: HashMap<String, String> = HashMap::new();
    for p in participant::Entity::find().filter(participant::Column::Id.is_in(owners)).all(db).await? {
        let name = lineup.team_name(&p.id).map_or_else(|| p.name.clone(), str::to_owned);
        names.insert(lineup.entrant(&p.id), name);
    }
    let mut best = scores.leaderboard(&spec.slug, &phase.name, 1_000_000).await?;
    excluded.retain(&mut best);
    let rows = best.len();
    let (best, _, _) = lineup.fold(best, vec![(); rows]);
    let public_ranks: HashMap<String, u32> =
        best.into_iter().enumerate().map(|(i, b)| (lineup.entrant(&b.participant_id), i as u32 + 1)).collect();
    let board = final_board::compute(&BoardInput {
        rank_by: &spec.rank_by,
        direction,
        final_selections: phase.final_selections,
        scores: &sealed,
        selections: &selections,
        names: &names,
        public_ranks: &public_ranks,
    });
    let intervals = intervals(scores, &board, phase.private_split, direction).await?;
    let salt = Salt::generate(&mut rand::rng());
    let commitment = commitment::commit(&board, &salt)?;
    let revealed_at = (phase.reveal == darkroom_api::Reveal::AtClose).then_some(now);
    // Someone disqualified or reinstated while the board was computed: compute it again, so the
    // sealed board excludes whom the boards exclude when it is stored.
    let excluded_now =
        crate::disqualification::Excluded::read(db, &spec.slug).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    if excluded_now != excluded {
        return Box::pin(close(db, store, spec, phase, by, now)).await;
    }
    let row = phase_close::ActiveModel {
        challenge: Set(spec.slug.clone()),
        phase: Set(phase.name.clone()),
        closed_at: Set(now),
        closed_by: Set(by.label().to_owned()),
        board: Set(serde_json::to_string(&board)?),
        salt: Set(salt.to_string()),
        commitment: Set(commitment.to_string()),
        intervals: Set((!intervals.is_empty()).then(|| serde_json::to_string(&intervals)).transpose()?),
        revealed_at: Set(revealed_at),
        ..Default::default()
    };
    match phase_close::Entity::insert(row).exec(db).await {
        Ok(_) => {
            tracing::info!(challenge = %spec.slug, phase = %phase.name, by = by.label(), rows = board.rows.len(), %commitment, "phase closed")
        }
        Err(e) if matches!(e.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))) => {}
        Err(e) => return Err(e.into()),
    }
    find(db, &spec.slug, &phase.name).await?.ok_or_else(|| anyhow::anyhow!("phase close vanished after its insert"))
}

/// Reads each row's sealed per-case values (the private split, or the public one where the phase
/// has no split) from the top down until one is missing, and bootstraps them off the runtime.
async fn intervals(
    scores: &Arc<dyn ScoreStore>,
    board: &FinalBoard,
    private_split: bool,
    direction: Direction,
) -> anyhow::Result<Vec<RowInterval>> {
    let mut cases = Vec::new();
    for row in board.rows.iter().take(final_board::MAX_INTERVAL_ROWS) {
        let Some(found) = scores.cases(&row.submission_id).await? else { break };
        let split = if private_split { found.private } else { found.public };
        match CaseValues::new(split.into_iter().map(|c| (c.id, c.value))) {
            Ok(v) => cases.push(Some((v.ids().to_vec(), v.values().to_vec()))),
            Err(_) => break,
        }
    }
    if cases.is_empty() {
        return Ok(Vec::new());
    }
    let board = board.clone();
    Ok(tokio::task::spawn_blocking(move || final_board::intervals(&board, &cases, direction)).await?)
}

/// Publishes a manually revealed board (idempotent: a second reveal changes nothing).
pub async fn reveal(
    db: &DatabaseConnection,
    close: &phase_close::Model,
    now: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    phase_close::Entity::update_many()
        .col_expr(phase_close::Column::RevealedAt, Expr::value(now))
        .filter(phase_close::Column::Id.eq(close.id))
        .filter(phase_close::Column::RevealedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// The private board as `organizer` or anyone else may see it.
pub fn view(
    spec: &ChallengeSpec,
    phase: &Phase,
    close: Option<&phase_close::Model>,
    organizer: bool,
) -> anyhow::Result<PrivateBoard> {
    let (challenge, phase_name) = (spec.slug.clone(), phase.name.clone());
    let Some(c) = close else { return Ok(PrivateBoard::Open { challenge, phase: phase_name, ends_at: phase.ends_at }) };
    let board = || -> anyhow::Result<FinalBoard> { Ok(serde_json::from_str(&c.board)?) };
    Ok(match c.revealed_at {
        Some(revealed_at) => PrivateBoard::Revealed {
            challenge,
            phase: phase_name,
            rank_by: spec.rank_by.clone(),
            direction: spec.metric(&spec.rank_by).map(|m| m.direction).unwrap_or(Direction::HigherIsBetter),
            board: board()?,
            salt: c.salt.clone(),
            commitment: c.commitment.clone(),
            closed_at: c.closed_at,
            revealed_at,
            intervals: match &c.intervals {
                Some(text) => serde_json::from_str(text)?,
                None => Vec::new(),
            },
        },
        None => PrivateBoard::Sealed {
            challenge,
            phase: phase_name,
            commitment: c.commitment.clone(),
            closed_at: c.closed_at,
            board: if organizer { Some(board()?) } else { None },
        },
    })
}

/// Closes every phase that is due, every `watchdog_interval_seconds`, forever.
pub async fn run(db: DatabaseConnection, scores: Arc<dyn ScoreStore>, config: SubmissionsConfig) {
    let mut tick = tokio::time::interval(Duration::from_secs(config.watchdog_interval_seconds.max(1)));
    loop {
        tick.tick().await;
        if let Err(e) = sweep(&db, &scores, &config, Utc::now()).await {
            tracing::warn!(error = %e, "phase close check failed; will retry");
        }
    }
}

/// Closes the phases due at `now`; returns how many it closed.
pub async fn sweep(
    db: &DatabaseConnection,
    scores: &Arc<dyn ScoreStore>,
    config: &SubmissionsConfig,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let closed: BTreeMap<(String, String), ()> =
        phase_close::Entity::find().all(db).await?.into_iter().map(|c| ((c.challenge, c.phase), ())).collect();
    let mut n = 0;
    for row in challenge::Entity::find().all(db).await? {
        let spec: ChallengeSpec = match serde_json::from_str(&row.spec) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(challenge = %row.slug, error = %e, "stored spec does not parse; its phases are not closed");
                continue;
            }
        };
        for phase in spec.phases.iter().filter(|p| p.ends_at <= now) {
            if closed.contains_key(&(spec.slug.clone(), phase.name.clone())) {
                continue;
            }
            let active = submission::Entity::find()
                .filter(submission::Column::Challenge.eq(&spec.slug))
                .filter(submission::Column::Phase.eq(&phase.name))
                .filter(submission::Column::State.is_in(ACTIVE.iter().map(|s| s.as_str())))
                .count(db)
                .await?;
            let max_wait = chrono::Duration::seconds(
                (config.queue_deadline_seconds
                    + spec.resources.wall_clock_seconds
                    + config.running_grace_seconds
                    + config.evaluating_deadline_seconds) as i64,
            );
            if final_board::due(phase.ends_at, now, active, max_wait) {
                close(db, scores, &spec, phase, ClosedBy::Deadline, now).await?;
                n += 1;
            }
        }
    }
    Ok(n)
}
