//! The best score over time of a board's top lines (see `darkroom_api::BoardHistory`): a pure
//! replay of a phase's scores, in the order they were scored, through each entrant's running
//! best of the value the phase's feedback shows (see [`crate::feedback`]), so a chart never
//! shows a value, or a digit of one, that the board did not.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use darkroom_api::{Direction, FeedbackScore};
use darkroom_core::scores::{ScoreDocument, from_bson_time};

use crate::feedback::Entrant;

/// A new best of one entrant: when it was scored, its shown value, and its submission id.
#[derive(Debug, Clone, PartialEq)]
pub struct NewBest {
    pub at: DateTime<Utc>,
    pub value: f64,
    pub submission_id: String,
}

/// Per entrant (as `entrant` names them), each time their shown value of `rank_by` improved,
/// oldest first. `scores` come in the order they were scored; a score without feedback (not
/// shown) or with a value that is not finite (never ranked) is never a new best.
pub fn new_bests(
    scores: &[ScoreDocument],
    shown: &HashMap<String, FeedbackScore>,
    rank_by: &str,
    direction: Direction,
    entrant: Entrant<'_>,
) -> HashMap<String, Vec<NewBest>> {
    let better = |a: f64, b: f64| match direction {
        Direction::HigherIsBetter => a > b,
        Direction::LowerIsBetter => a < b,
    };
    let mut out: HashMap<String, Vec<NewBest>> = HashMap::new();
    for s in scores {
        let Some(value) = shown.get(&s.submission_id).and_then(|f| f.metrics.get(rank_by)).copied() else {
            continue;
        };
        if !value.is_finite() {
            continue;
        }
        let line = out.entry(entrant(&s.participant_id)).or_default();
        if line.last().is_none_or(|last| better(value, last.value)) {
            line.push(NewBest { at: from_bson_time(s.scored_at), value, submission_id: s.submission_id.clone() });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::feedback::alone;

    fn score(id: &str, who: &str, minute: i64) -> ScoreDocument {
        let at = darkroom_core::scores::to_bson_time(
            DateTime::from_timestamp_millis(1_800_000_000_000 + minute * 60_000).unwrap(),
        );
        ScoreDocument {
            submission_id: id.into(),
            challenge: "c".into(),
            phase: "dev".into(),
            participant_id: who.into(),
            attempt: 1,
            metrics: BTreeMap::new(),
            rank_value: 0.0,
            direction: Direction::HigherIsBetter,
            submitted_at: at,
            scored_at: at,
            image_digest: None,
            evaluation_image: "e".into(),
            evaluation_image_digest: None,
        }
    }

    fn shown(values: &[(&str, f64)]) -> HashMap<String, FeedbackScore> {
        values
            .iter()
            .map(|(id, v)| {
                let f = FeedbackScore { metrics: BTreeMap::from([("acc".into(), *v)]), note: None, decimals: None };
                ((*id).to_owned(), f)
            })
            .collect()
    }

    fn values(line: &[NewBest]) -> Vec<f64> {
        line.iter().map(|b| b.value).collect()
    }

    #[test]
    fn only_improvements_are_points_in_the_order_scored() {
        let scores = [score("a1", "ada", 1), score("b1", "bob", 2), score("a2", "ada", 3), score("a3", "ada", 4)];
        let shown = shown(&[("a1", 0.5), ("b1", 0.7), ("a2", 0.4), ("a3", 0.8)]);
        let lines = new_bests(&scores, &shown, "acc", Direction::HigherIsBetter, &alone);
        assert_eq!(values(&lines["ada"]), [0.5, 0.8]);
        assert_eq!(lines["ada"][1].submission_id, "a3");
        assert_eq!(values(&lines["bob"]), [0.7]);
        let lower = new_bests(&scores, &shown, "acc", Direction::LowerIsBetter, &alone);
        assert_eq!(values(&lower["ada"]), [0.5, 0.4]);
    }

    #[test]
    fn unshown_and_non_finite_values_are_never_a_best() {
        let scores = [score("a1", "ada", 1), score("a2", "ada", 2), score("a3", "ada", 3)];
        let shown = shown(&[("a1", f64::NAN), ("a3", 0.3)]);
        let lines = new_bests(&scores, &shown, "acc", Direction::HigherIsBetter, &alone);
        assert_eq!(values(&lines["ada"]), [0.3]);
    }

    #[test]
    fn a_team_is_one_line() {
        let scores = [score("a1", "ada", 1), score("b1", "bob", 2)];
        let shown = shown(&[("a1", 0.5), ("b1", 0.6)]);
        let team = |_: &str| "lab".to_owned();
        let lines = new_bests(&scores, &shown, "acc", Direction::HigherIsBetter, &team);
        assert_eq!(lines.len(), 1);
        assert_eq!(values(&lines["lab"]), [0.5, 0.6]);
    }
}
