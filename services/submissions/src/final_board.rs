//! The private board computed when a phase closes, as pure functions of the phase's scores,
//! the participants' final selections and the public board.
//!
//! Rules (documented in the README, "Final selections, close and reveal"):
//! - a participant's final submissions are the ones they selected; none selected: their
//!   `final_selections` best by the **public** score of the ranking metric (ties: the earlier
//!   submission);
//! - their line is the best of those by the **private** score (the whole score where the phase
//!   has no private split); participants are ranked by it, ties to the earlier submission;
//! - each line carries the participant's public rank beside the private one;
//! - bootstrap intervals are added where every ranked submission from the top down has the
//!   leader's cases (see [`interval_budget`] for the caps).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use darkroom_api::{Direction, RowInterval};
use darkroom_core::domain::bootstrap::{BootstrapConfig, paired_bootstrap};
use darkroom_core::domain::commitment::{FinalBoard, FinalBoardRow};
use darkroom_core::scores::SealedScore;

/// Rows that get a bootstrap interval: the top of the board.
pub const MAX_INTERVAL_ROWS: usize = 500;
/// `resamples × cases` weights held in memory at most (8 bytes each: 160 MB).
const MAX_WEIGHTS: usize = 20_000_000;
/// `rows × cases × resamples` multiply-adds at most (about half a second on one core).
const MAX_WORK: usize = 1_000_000_000;
/// Fewer resamples than this and the 2.5 % tails are too coarse: no intervals instead.
const MIN_RESAMPLES: usize = 200;

/// What the board is built from.
pub struct BoardInput<'a> {
    pub rank_by: &'a str,
    pub direction: Direction,
    pub final_selections: u32,
    /// Every score of the phase per participant id, in submission order.
    pub scores: &'a BTreeMap<String, Vec<SealedScore>>,
    /// Selected submission ids per participant id.
    pub selections: &'a HashMap<String, Vec<String>>,
    /// Display name per participant id.
    pub names: &'a HashMap<String, String>,
    /// Rank on the public board per participant id.
    pub public_ranks: &'a HashMap<String, u32>,
}

struct Candidate<'a> {
    participant_id: &'a str,
    score: &'a SealedScore,
    private: &'a BTreeMap<String, f64>,
    value: f64,
}

/// The private board, best first.
pub fn compute(input: &BoardInput<'_>) -> FinalBoard {
    let value_of = |m: &BTreeMap<String, f64>| m.get(input.rank_by).copied().filter(|v| v.is_finite());
    // Earlier submissions first on equal values: a stable sort of scores in submission order.
    let order = |a: f64, b: f64| {
        let (a, b) = match input.direction {
            Direction::HigherIsBetter => (b, a),
            Direction::LowerIsBetter => (a, b),
        };
        a.total_cmp(&b)
    };
    let mut candidates: Vec<Candidate<'_>> = Vec::new();
    for (pid, scores) in input.scores {
        let chosen: Vec<&SealedScore> = match input.selections.get(pid).filter(|s| !s.is_empty()) {
            Some(selected) => scores.iter().filter(|s| selected.contains(&s.submission_id)).collect(),
            None => {
                let mut ranked: Vec<(&SealedScore, f64)> =
                    scores.iter().filter_map(|s| value_of(&s.metrics).map(|v| (s, v))).collect();
                ranked.sort_by(|a, b| order(a.1, b.1));
                ranked.into_iter().take(input.final_selections as usize).map(|(s, _)| s).collect()
            }
        };
        let best = chosen
            .into_iter()
            .filter_map(|s| {
                let private = s.private_metrics.as_ref().unwrap_or(&s.metrics);
                value_of(private).map(|value| Candidate { participant_id: pid, score: s, private, value })
            })
            .min_by(|a, b| order(a.value, b.value).then(a.score.submitted_at.cmp(&b.score.submitted_at)));
        candidates.extend(best);
    }
    candidates.sort_by(|a, b| {
        order(a.value, b.value)
            .then(a.score.submitted_at.cmp(&b.score.submitted_at))
            .then(a.score.submission_id.cmp(&b.score.submission_id))
    });
    let rows = candidates
        .into_iter()
        .enumerate()
        .map(|(i, c)| FinalBoardRow {
            rank: i as u32 + 1,
            participant: input.names.get(c.participant_id).cloned().unwrap_or_else(|| "(unknown)".into()),
            submission_id: c.score.submission_id.clone(),
            metrics: c.private.clone(),
            public_rank: input.public_ranks.get(c.participant_id).copied(),
        })
        .collect();
    FinalBoard { rows }
}

/// Resamples for `rows × cases` within the caps, or `None` when even [`MIN_RESAMPLES`] would
/// pass them (then the board has no intervals).
pub fn interval_budget(rows: usize, cases: usize) -> Option<usize> {
    let by_memory = MAX_WEIGHTS / cases.max(1);
    let by_work = MAX_WORK / (rows.max(1) * cases.max(1));
    let resamples = darkroom_core::domain::bootstrap::DEFAULT_RESAMPLES.min(by_memory).min(by_work);
    (resamples >= MIN_RESAMPLES).then_some(resamples)
}

/// Intervals for the top rows whose per-case values (`cases[r]`, sorted by case id, as
/// `CaseValues` keeps them) cover the same cases as the leader's; stops at the first row
/// without them. Empty when the leader has none or the caps leave too few resamples.
pub fn intervals(
    board: &FinalBoard,
    cases: &[Option<(Vec<String>, Vec<f64>)>],
    direction: Direction,
) -> Vec<RowInterval> {
    let Some(Some((leader_ids, _))) = cases.first() else { return Vec::new() };
    let rows: Vec<&[f64]> = cases
        .iter()
        .take(MAX_INTERVAL_ROWS)
        .map_while(|c| c.as_ref().filter(|(ids, _)| ids == leader_ids).map(|(_, v)| v.as_slice()))
        .collect();
    let Some(resamples) = interval_budget(rows.len(), leader_ids.len()) else { return Vec::new() };
    let config = BootstrapConfig { resamples, ..BootstrapConfig::default() };
    match paired_bootstrap(&rows, direction, &config) {
        Ok(found) => found
            .into_iter()
            .zip(&board.rows)
            .map(|(i, row)| RowInterval { rank: row.rank, interval: (&i).into() })
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "no bootstrap intervals for the private board");
            Vec::new()
        }
    }
}

/// When a phase is closed: now for the organizer; for the platform, at `ends_at` once no
/// submission accepted before it is still active, or at the latest at `ends_at + max_wait`.
pub fn due(ends_at: DateTime<Utc>, now: DateTime<Utc>, active: u64, max_wait: chrono::Duration) -> bool {
    now >= ends_at && (active == 0 || now >= ends_at + max_wait)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(id: &str, pid: &str, public: f64, private: Option<f64>, minute: i64) -> SealedScore {
        let at = DateTime::<Utc>::from_timestamp(1_800_000_000 + minute * 60, 0).unwrap();
        SealedScore {
            submission_id: id.into(),
            participant_id: pid.into(),
            metrics: BTreeMap::from([("acc".into(), public)]),
            private_metrics: private.map(|v| BTreeMap::from([("acc".into(), v)])),
            submitted_at: at,
            scored_at: at,
        }
    }

    fn board(
        scores: &BTreeMap<String, Vec<SealedScore>>,
        selections: &HashMap<String, Vec<String>>,
        direction: Direction,
    ) -> Vec<(u32, String, String, Option<u32>)> {
        let names = HashMap::from([("a".into(), "Ada".into()), ("b".into(), "Bob".into())]);
        let public_ranks = HashMap::from([("a".into(), 2), ("b".into(), 1)]);
        let input = BoardInput {
            rank_by: "acc",
            direction,
            final_selections: 2,
            scores,
            selections,
            names: &names,
            public_ranks: &public_ranks,
        };
        compute(&input).rows.into_iter().map(|r| (r.rank, r.participant, r.submission_id, r.public_rank)).collect()
    }

    #[test]
    fn selections_pick_the_line_and_none_means_the_best_public_two() {
        let scores = BTreeMap::from([
            (
                "a".to_owned(),
                vec![
                    score("a1", "a", 0.9, Some(0.5), 1), // best public, poor private
                    score("a2", "a", 0.7, Some(0.95), 2),
                    score("a3", "a", 0.8, Some(0.6), 3),
                    score("a4", "a", 0.1, Some(0.99), 4), // best private, never in the top two public
                ],
            ),
            ("b".to_owned(), vec![score("b1", "b", 0.95, Some(0.7), 0)]),
        ]);
        // No selections: a's two best public are a1 and a3 → private 0.6 (a3).
        let none = HashMap::new();
        assert_eq!(
            board(&scores, &none, Direction::HigherIsBetter),
            vec![(1, "Bob".into(), "b1".into(), Some(1)), (2, "Ada".into(), "a3".into(), Some(2))]
        );
        // Ada selects a2 and a4: her best private is a4 (0.99), ahead of Bob.
        let picked = HashMap::from([("a".to_owned(), vec!["a2".to_owned(), "a4".to_owned()])]);
        assert_eq!(
            board(&scores, &picked, Direction::HigherIsBetter),
            vec![(1, "Ada".into(), "a4".into(), Some(2)), (2, "Bob".into(), "b1".into(), Some(1))]
        );
        // Lower is better: the best public two are a4 and a2; a2's private 0.95 < a4's 0.99.
        assert_eq!(board(&scores, &none, Direction::LowerIsBetter)[1], (2, "Ada".into(), "a2".into(), Some(2)));
    }

    #[test]
    fn a_phase_without_private_split_ranks_by_the_whole_score_and_ties_go_to_the_earlier() {
        let scores = BTreeMap::from([
            ("a".to_owned(), vec![score("a1", "a", 0.8, None, 5)]),
            ("b".to_owned(), vec![score("b1", "b", 0.8, None, 1), score("b2", "b", f64::NAN, None, 2)]),
        ]);
        let rows = board(&scores, &HashMap::new(), Direction::HigherIsBetter);
        assert_eq!(rows.iter().map(|r| r.2.as_str()).collect::<Vec<_>>(), ["b1", "a1"]);
    }

    #[test]
    fn intervals_stop_at_the_first_row_without_the_leaders_cases_and_respect_the_caps() {
        let row = |rank| FinalBoardRow {
            rank,
            participant: format!("p{rank}"),
            submission_id: format!("s{rank}"),
            metrics: BTreeMap::new(),
            public_rank: None,
        };
        let b = FinalBoard { rows: vec![row(1), row(2), row(3)] };
        let ids: Vec<String> = (0..50).map(|i| format!("c{i:02}")).collect();
        let lead: Vec<f64> = (0..50).map(|i| if i % 10 == 0 { 0.0 } else { 1.0 }).collect();
        // 0.8, wrong on other cases than the leader (differences of both signs).
        let second: Vec<f64> = (0..50).map(|i| if (2..4).contains(&(i % 10)) { 0.0 } else { 1.0 }).collect();
        let cases = vec![Some((ids.clone(), lead)), Some((ids, second)), None];
        let found = intervals(&b, &cases, Direction::HigherIsBetter);
        assert_eq!(found.len(), 2);
        assert!(found[0].interval.low <= 0.9 && 0.9 <= found[0].interval.high && !found[0].interval.tied_with_first);
        assert!(found[1].interval.tied_with_first, "0.9 vs 0.8 on 50 cases is not separable");
        assert_eq!(found, intervals(&b, &cases, Direction::HigherIsBetter), "seeded");
        assert!(intervals(&b, &[None], Direction::HigherIsBetter).is_empty());

        assert_eq!(interval_budget(10, 1_000), Some(2_000));
        assert_eq!(interval_budget(500, 10_000), Some(200));
        assert_eq!(interval_budget(500, 1_000_000), None);
    }

    #[test]
    fn the_platform_waits_for_submissions_in_flight_but_not_forever() {
        let end = Utc::now();
        let wait = chrono::Duration::seconds(60);
        assert!(!due(end, end - chrono::Duration::seconds(1), 0, wait));
        assert!(due(end, end, 0, wait));
        assert!(!due(end, end + chrono::Duration::seconds(59), 2, wait));
        assert!(due(end, end + wait, 2, wait));
    }
}
