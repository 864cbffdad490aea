//! The public feedback of a phase (issue 15): what a participant and the public board see of
//! each COMPLETE submission's public score, in the phase's feedback mode.
//!
//! - `raw`: the public metrics as the evaluation wrote them (the board is read from the store's
//!   `boards` as before, untouched by this module).
//! - `rounded`: every metric rounded on the server with [`round_to`] to the phase's `decimals`,
//!   here, before any view is built, so no route, page, feed or CLI output can carry a digit
//!   past them. The board ranks by the rounded value (ties to the earlier submission), so its
//!   order tells nothing the rounded values do not.
//! - `ladder`: per participant, their COMPLETE submissions replayed in the order they were
//!   scored through a [`Ladder`], each with its public per-case values. A submission whose
//!   score is released shows it (the mean of its public cases, with its other metrics); one
//!   that is not shows the participant's current ladder score (the ladder submission's
//!   metrics) with the note "no significant improvement". The board shows each participant's
//!   ladder submission, which is their best released score.
//!
//! **Replayed on every read, no stored state.** The Ladder is a pure function of the sequence
//! of per-case values, and the sequence is the participant's scores in `scored_at` order (ties
//! by submission id), which the store never reorders or rewrites once written; so replaying it
//! gives the same released scores every time, on any replica, after any restart, with nothing
//! to keep consistent. The leaderboard route caches its rendered board until the phase's score
//! version moves, so a board is replayed once per new score, not once per viewer. (A phase
//! whose evaluation wrote no `cases.csv` cannot be in `ladder` mode: the evaluation fails.)
//!
//! Only public values are read here: [`ScoreStore::phase_scores`] does not fetch the sealed
//! split and [`ScoreStore::public_cases`] reads the public cases alone.

use std::collections::{BTreeMap, HashMap};

use darkroom_api::{Direction, Feedback, FeedbackScore, Phase};
use darkroom_core::domain::Split;
use darkroom_core::domain::ladder::{CaseValues, Ladder};
use darkroom_core::domain::rounding::round_to;
use darkroom_core::scores::{BestScore, ScoreDocument, from_bson_time};

use crate::leaderboard::ScoreStore;

/// Shown beside a submission the Ladder could not take (no usable per-case values): the
/// participant keeps their current ladder score.
pub const NOT_ON_THE_LADDER: &str = "not scored by the ladder: its evaluation gave no usable per-case values";

type Metrics = BTreeMap<String, f64>;

/// A phase's feedback mode with what it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Raw,
    /// Decimals kept (the spec requires them in `rounded`; 0 if ever absent: never more digits).
    Rounded(u32),
    Ladder,
}

impl Mode {
    /// The decimals values are rounded to, in `rounded`.
    pub fn decimals(self) -> Option<u32> {
        match self {
            Mode::Rounded(d) => Some(d),
            Mode::Raw | Mode::Ladder => None,
        }
    }

    pub fn of(phase: &Phase) -> Self {
        match phase.feedback {
            Feedback::Raw => Mode::Raw,
            Feedback::Rounded => Mode::Rounded(phase.decimals.unwrap_or(0)),
            Feedback::Ladder => Mode::Ladder,
        }
    }
}

/// Whose ladder a participant's scores climb: their team's where they are in one (a team gets
/// one Ladder, not one per member), else their own.
pub type Entrant<'a> = &'a (dyn Fn(&str) -> String + Sync);

/// Each participant is their own entrant (challenges without teams).
pub fn alone(participant: &str) -> String {
    participant.to_owned()
}

/// Each scored submission's feedback (by submission id) given the phase's scores in the order
/// they were scored and, for the Ladder, their public per-case values.
pub fn feedback(
    mode: Mode,
    direction: Direction,
    rank_by: &str,
    scores: &[ScoreDocument],
    cases: &HashMap<String, CaseValues>,
    entrant: Entrant<'_>,
) -> HashMap<String, FeedbackScore> {
    let shown = |metrics: BTreeMap<String, f64>, note: Option<&str>| FeedbackScore {
        metrics,
        note: note.map(str::to_owned),
        decimals: mode.decimals(),
    };
    match mode {
        Mode::Raw => scores.iter().map(|s| (s.submission_id.clone(), shown(s.metrics.clone(), None))).collect(),
        Mode::Rounded(decimals) => scores
            .iter()
            .map(|s| {
                let rounded = s.metrics.iter().map(|(k, v)| (k.clone(), round_to(*v, decimals))).collect();
                (s.submission_id.clone(), shown(rounded, None))
            })
            .collect(),
        Mode::Ladder => {
            // Per entrant: their ladder and the metrics shown with its released score.
            let mut ladders: HashMap<String, (Ladder, Option<Metrics>)> = HashMap::new();
            let mut out = HashMap::with_capacity(scores.len());
            for s in scores {
                let (ladder, current) =
                    ladders.entry(entrant(&s.participant_id)).or_insert_with(|| (Ladder::new(direction), None));
                let outcome = cases.get(&s.submission_id).map(|c| ladder.submit(c.clone()));
                let score = match outcome {
                    Some(Ok(o)) if o.released_new_score() => {
                        let mut metrics = s.metrics.clone();
                        metrics.insert(rank_by.to_owned(), o.released);
                        *current = Some(metrics.clone());
                        shown(metrics, None)
                    }
                    Some(Ok(o)) => shown(current.clone().unwrap_or_default(), o.note()),
                    // No cases, or cases that differ from the ladder submission's.
                    Some(Err(_)) | None => match current {
                        Some(metrics) => shown(metrics.clone(), Some(NOT_ON_THE_LADDER)),
                        None => continue,
                    },
                };
                out.insert(s.submission_id.clone(), score);
            }
            out
        }
    }
}

/// The public board in `rounded` and `ladder` modes: per participant the line their feedback
/// ranks best (rounded: the best rounded score; ladder: the current ladder submission), best
/// first, ties to the earlier submission; non-finite values are never ranked.
pub fn board(
    mode: Mode,
    direction: Direction,
    rank_by: &str,
    scores: &[ScoreDocument],
    feedback: &HashMap<String, FeedbackScore>,
) -> Vec<BestScore> {
    let key = |f: &FeedbackScore| {
        let v = f.metrics.get(rank_by).copied().filter(|v| v.is_finite())?;
        Some(match direction {
            Direction::HigherIsBetter => v,
            Direction::LowerIsBetter => -v,
        })
    };
    // participant → (key, line); `submissions` counts their rankable scores, as the raw board does.
    let mut lines: HashMap<&str, (f64, BestScore)> = HashMap::new();
    let mut counts: HashMap<&str, u32> = HashMap::new();
    for s in scores {
        if s.rank_value.is_finite() {
            *counts.entry(s.participant_id.as_str()).or_default() += 1;
        }
        let Some(f) = feedback.get(&s.submission_id) else { continue };
        // In ladder mode only the submission whose score was released stands for the participant.
        if mode == Mode::Ladder && f.note.is_some() {
            continue;
        }
        let Some(k) = key(f) else { continue };
        let line = BestScore {
            participant_id: s.participant_id.clone(),
            submission_id: s.submission_id.clone(),
            metrics: f.metrics.clone(),
            submissions: 0,
            submitted_at: from_bson_time(s.submitted_at),
            scored_at: from_bson_time(s.scored_at),
        };
        let replace = match lines.get(s.participant_id.as_str()) {
            None => true,
            // Ladder: the last released is the current one (it only ever improves).
            Some(_) if mode == Mode::Ladder => true,
            Some((best, held)) => k > *best || (k == *best && line.submitted_at < held.submitted_at),
        };
        if replace {
            lines.insert(s.participant_id.as_str(), (k, line));
        }
    }
    let mut rows: Vec<(f64, BestScore)> = lines
        .into_iter()
        .map(|(p, (k, mut line))| {
            line.submissions = counts.get(p).copied().unwrap_or(0);
            (k, line)
        })
        .collect();
    rows.sort_by(|(ka, a), (kb, b)| {
        kb.total_cmp(ka).then(a.submitted_at.cmp(&b.submitted_at)).then(a.submission_id.cmp(&b.submission_id))
    });
    rows.into_iter().map(|(_, line)| line).collect()
}

/// Reads a phase's scores (only these participants' when given: one, or a team's members) and
/// their feedback; the per-case values are read only in `ladder` mode, public split only.
#[allow(clippy::too_many_arguments)]
pub async fn read(
    store: &dyn ScoreStore,
    mode: Mode,
    challenge: &str,
    phase: &str,
    rank_by: &str,
    direction: Direction,
    participants: Option<&[String]>,
    entrant: Entrant<'_>,
) -> anyhow::Result<(Vec<ScoreDocument>, HashMap<String, FeedbackScore>)> {
    let scores = match participants {
        Some([one]) => store.phase_scores(challenge, phase, Some(one)).await?,
        Some(members) => {
            let mut all = store.phase_scores(challenge, phase, None).await?;
            all.retain(|s| members.contains(&s.participant_id));
            all
        }
        None => store.phase_scores(challenge, phase, None).await?,
    };
    let mut cases = HashMap::new();
    if mode == Mode::Ladder {
        let ids: Vec<String> = scores.iter().map(|s| s.submission_id.clone()).collect();
        for (id, c) in store.public_cases(&ids).await? {
            // Values the Ladder cannot take leave the submission off the ladder (see `feedback`).
            if let Ok(values) = c.values(Split::Public) {
                cases.insert(id, values);
            }
        }
    }
    let shown = feedback(mode, direction, rank_by, &scores, &cases, entrant);
    Ok((scores, shown))
}

#[cfg(test)]
mod tests {
    use darkroom_core::domain::ladder::NO_SIGNIFICANT_IMPROVEMENT;

    use super::*;

    fn score(id: &str, who: &str, minute: i64, accuracy: f64, auc: f64) -> ScoreDocument {
        let at = darkroom_core::scores::to_bson_time(
            chrono::DateTime::from_timestamp_millis(1_800_000_000_000 + minute * 60_000).unwrap(),
        );
        ScoreDocument {
            submission_id: id.into(),
            challenge: "c".into(),
            phase: "dev".into(),
            participant_id: who.into(),
            attempt: 1,
            metrics: BTreeMap::from([("accuracy".into(), accuracy), ("roc_auc".into(), auc)]),
            rank_value: accuracy,
            direction: Direction::HigherIsBetter,
            submitted_at: at,
            scored_at: at,
            image_digest: None,
            evaluation_image: "e".into(),
            evaluation_image_digest: None,
        }
    }

    /// `n` cases, the first `right` of them 1 and the rest 0.
    fn cases(n: usize, right: usize) -> CaseValues {
        right_in(n, 0..right)
    }

    /// `n` cases, those in `right` 1 and the rest 0.
    fn right_in(n: usize, right: std::ops::Range<usize>) -> CaseValues {
        CaseValues::new((0..n).map(|i| (format!("{i:03}"), if right.contains(&i) { 1.0 } else { 0.0 }))).unwrap()
    }

    #[test]
    fn raw_is_the_stored_metrics_and_rounded_never_prints_a_digit_past_the_decimals() {
        let scores = vec![score("a", "p", 0, 0.123456789, 0.987654321)];
        let raw = feedback(Mode::Raw, Direction::HigherIsBetter, "accuracy", &scores, &HashMap::new(), &alone);
        assert_eq!(raw["a"].metrics, scores[0].metrics);
        let rounded =
            feedback(Mode::Rounded(3), Direction::HigherIsBetter, "accuracy", &scores, &HashMap::new(), &alone);
        assert_eq!(
            serde_json::to_string(&rounded["a"]).unwrap(),
            r#"{"metrics":{"accuracy":0.123,"roc_auc":0.988},"decimals":3}"#
        );
    }

    #[test]
    fn rounded_boards_rank_by_the_rounded_value_and_ties_go_to_the_earlier_submission() {
        // q's 0.8314 beats p's 0.8312 raw, but both show 0.831: p submitted first, p leads.
        let scores = vec![
            score("p1", "p", 0, 0.8312, 0.5),
            score("q1", "q", 1, 0.8314, 0.5),
            score("p2", "p", 2, 0.70, 0.5),
            score("r1", "r", 3, f64::NAN, 0.5),
        ];
        let mode = Mode::Rounded(3);
        let f = feedback(mode, Direction::HigherIsBetter, "accuracy", &scores, &HashMap::new(), &alone);
        let rows = board(mode, Direction::HigherIsBetter, "accuracy", &scores, &f);
        let shown: Vec<_> =
            rows.iter().map(|r| (r.submission_id.as_str(), r.metrics["accuracy"], r.submissions)).collect();
        assert_eq!(shown, [("p1", 0.831, 2), ("q1", 0.831, 1)], "r's NaN is neither ranked nor counted");
    }

    #[test]
    fn the_ladder_keeps_the_released_score_with_the_note_until_a_significant_improvement() {
        let scores = vec![
            score("p1", "p", 0, 0.50, 0.1),
            score("q1", "q", 1, 0.40, 0.2),
            // One more case right out of 100, but 10 lost and 11 won: within the standard error.
            score("p2", "p", 2, 0.51, 0.3),
            score("p3", "p", 3, 0.90, 0.4),
            score("p4", "p", 4, 0.2, 0.5),
        ];
        let values = HashMap::from([
            ("p1".to_owned(), cases(100, 50)),
            ("q1".to_owned(), cases(100, 40)),
            ("p2".to_owned(), right_in(100, 10..61)),
            ("p3".to_owned(), cases(100, 90)),
            ("p4".to_owned(), cases(100, 20)),
        ]);
        let f = feedback(Mode::Ladder, Direction::HigherIsBetter, "accuracy", &scores, &values, &alone);
        let seen = |id: &str| (f[id].metrics["accuracy"], f[id].metrics["roc_auc"], f[id].note.as_deref());
        assert_eq!(seen("p1"), (0.5, 0.1, None));
        assert_eq!(seen("p2"), (0.5, 0.1, Some(NO_SIGNIFICANT_IMPROVEMENT)), "p2's own 0.51 and 0.3 stay hidden");
        assert_eq!(seen("p3"), (0.9, 0.4, None));
        assert_eq!(seen("p4"), (0.9, 0.4, Some(NO_SIGNIFICANT_IMPROVEMENT)));
        assert_eq!(seen("q1"), (0.4, 0.2, None));
        let rows = board(Mode::Ladder, Direction::HigherIsBetter, "accuracy", &scores, &f);
        let shown: Vec<_> =
            rows.iter().map(|r| (r.submission_id.as_str(), r.metrics["accuracy"], r.submissions)).collect();
        assert_eq!(shown, [("p3", 0.9, 4), ("q1", 0.4, 1)]);
        // Replaying gives the same answer: nothing depends on state kept between reads.
        assert_eq!(feedback(Mode::Ladder, Direction::HigherIsBetter, "accuracy", &scores, &values, &alone), f);
    }

    #[test]
    fn a_submission_without_usable_cases_keeps_the_current_ladder_score() {
        let scores = vec![score("a", "p", 0, 0.3, 0.1), score("b", "p", 1, 0.9, 0.9), score("c", "p", 2, 0.9, 0.9)];
        let values = HashMap::from([("b".to_owned(), cases(10, 3)), ("c".to_owned(), cases(12, 11))]);
        let f = feedback(Mode::Ladder, Direction::HigherIsBetter, "accuracy", &scores, &values, &alone);
        assert!(!f.contains_key("a"), "nothing released yet: nothing to show");
        assert_eq!(f["b"].metrics["accuracy"], 0.3);
        assert_eq!((f["c"].metrics["accuracy"], f["c"].note.as_deref()), (0.3, Some(NOT_ON_THE_LADDER)));
    }

    #[test]
    fn lower_is_better_ladders_release_smaller_values() {
        let scores = vec![score("a", "p", 0, 0.5, 0.0), score("b", "p", 1, 0.1, 0.0)];
        let values = HashMap::from([("a".to_owned(), cases(100, 50)), ("b".to_owned(), cases(100, 10))]);
        let f = feedback(Mode::Ladder, Direction::LowerIsBetter, "accuracy", &scores, &values, &alone);
        assert_eq!((f["b"].metrics["accuracy"], f["b"].note.as_deref()), (0.1, None));
    }

    #[test]
    fn a_team_climbs_one_ladder_not_one_per_member() {
        // p and q are one team: q's copy of p's released submission is no improvement on the
        // team's ladder, where on a ladder of q's own it would have been released.
        let scores = vec![score("p1", "p", 0, 0.5, 0.1), score("q1", "q", 1, 0.51, 0.2)];
        let values = HashMap::from([("p1".to_owned(), cases(100, 50)), ("q1".to_owned(), right_in(100, 10..61))]);
        let team = |who: &str| if who == "p" || who == "q" { "team".to_owned() } else { who.to_owned() };
        let together = feedback(Mode::Ladder, Direction::HigherIsBetter, "accuracy", &scores, &values, &team);
        assert_eq!(together["q1"].note.as_deref(), Some(NO_SIGNIFICANT_IMPROVEMENT));
        assert_eq!(together["q1"].metrics["accuracy"], 0.5);
        let apart = feedback(Mode::Ladder, Direction::HigherIsBetter, "accuracy", &scores, &values, &alone);
        assert_eq!((apart["q1"].metrics["accuracy"], apart["q1"].note.as_deref()), (0.51, None));
    }
}
