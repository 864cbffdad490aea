//! 95 % paired-bootstrap intervals on the public board in `raw` feedback (issue 15): where the
//! ranking metric is a mean over cases (`aggregate = "mean"`) and every row's submission has
//! public per-case values over the same cases, each row gets the interval of its mean and
//! whether it is tied with #1 ([`paired_bootstrap`], seeded with its default seed, so a board
//! shows the same intervals on every rendering).
//!
//! Only in `raw`: in `rounded` and `ladder` an interval of the unrounded or unreleased value
//! would tell participants what those modes withhold. Public cases only.
//!
//! **Cost.** `resamples × rows × cases` multiply-adds, once per new score of the phase (the
//! route caches the rendered board). Boards past [`MAX_CELLS`] rows × cases get no intervals
//! rather than a slow answer, and so does a board whose rows do not share their cases.

use darkroom_api::{Direction, ScoreInterval};
use darkroom_core::domain::Split;
use darkroom_core::domain::bootstrap::{BootstrapConfig, paired_bootstrap};
use darkroom_core::domain::ladder::CaseValues;

use std::collections::HashMap;

use crate::leaderboard::{BestScore, Cases, ScoreStore};

/// The most rows × cases bootstrapped in a request: 2,000 resamples of it is ~4·10⁸
/// multiply-adds, a few tenths of a second.
pub const MAX_CELLS: usize = 200_000;

/// Each row's interval, in the rows' order; `None` where intervals do not apply (see the
/// module's documentation).
pub async fn of_board(store: &dyn ScoreStore, rows: &[BestScore], direction: Direction) -> Vec<Option<ScoreInterval>> {
    if rows.len() < 2 {
        return vec![None; rows.len()];
    }
    let ids: Vec<String> = rows.iter().map(|r| r.submission_id.clone()).collect();
    match store.public_cases(&ids).await {
        Ok(found) => of_cases(rows, found, direction).await,
        Err(e) => {
            tracing::warn!(error = %e, "per-case values unreadable; board shown without intervals");
            vec![None; rows.len()]
        }
    }
}

/// [`of_board`] from the rows' public cases already read (by submission id).
pub async fn of_cases(
    rows: &[BestScore],
    mut found: HashMap<String, Cases>,
    direction: Direction,
) -> Vec<Option<ScoreInterval>> {
    let none = vec![None; rows.len()];
    if rows.len() < 2 {
        return none;
    }
    let ids: Vec<&str> = rows.iter().map(|r| r.submission_id.as_str()).collect();
    let mut values: Vec<CaseValues> = Vec::with_capacity(rows.len());
    for id in ids {
        match found.remove(id).map(|c| c.values(Split::Public)) {
            Some(Ok(v)) => values.push(v),
            _ => return none,
        }
    }
    if values.iter().any(|v| values[0].check_same_cases(v).is_err()) || rows.len() * values[0].len() > MAX_CELLS {
        return none;
    }
    let computed = tokio::task::spawn_blocking(move || {
        let rows: Vec<&[f64]> = values.iter().map(CaseValues::values).collect();
        paired_bootstrap(&rows, direction, &BootstrapConfig::default())
    })
    .await;
    match computed {
        Ok(Ok(intervals)) => intervals.into_iter().map(|i| Some((&i).into())).collect(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "bootstrap refused the board's cases; shown without intervals");
            none
        }
        Err(e) => {
            tracing::error!(error = %e, "bootstrap task failed; board shown without intervals");
            none
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use chrono::Utc;
    use darkroom_core::domain::{Case, Cases};
    use darkroom_core::scores::ScoreDocument;

    use super::*;

    /// Public cases by submission id; everything else unused.
    struct Fake(HashMap<String, Cases>);

    #[async_trait::async_trait]
    impl ScoreStore for Fake {
        async fn leaderboard(&self, _: &str, _: &str, _: usize) -> anyhow::Result<Vec<BestScore>> {
            Ok(vec![])
        }
        async fn board_version(&self, _: &str, _: &str) -> anyhow::Result<i64> {
            Ok(0)
        }
        async fn phase_scores(&self, _: &str, _: &str, _: Option<&str>) -> anyhow::Result<Vec<ScoreDocument>> {
            Ok(vec![])
        }
        async fn public_cases(&self, ids: &[String]) -> anyhow::Result<HashMap<String, Cases>> {
            Ok(ids.iter().filter_map(|id| Some((id.clone(), self.0.get(id)?.clone()))).collect())
        }
        async fn private_scores(
            &self,
            _: &str,
            _: &str,
        ) -> anyhow::Result<std::collections::BTreeMap<String, Vec<darkroom_core::scores::SealedScore>>> {
            unreachable!("intervals read public cases only")
        }
        async fn cases(&self, _: &str) -> anyhow::Result<Option<Cases>> {
            unreachable!("intervals read public cases only")
        }
    }

    fn row(id: &str) -> BestScore {
        BestScore {
            participant_id: format!("p-{id}"),
            submission_id: id.into(),
            metrics: Default::default(),
            submissions: 1,
            submitted_at: Utc::now(),
            scored_at: Utc::now(),
        }
    }

    /// `n` cases, those in `right` 1.
    fn cases(n: usize, right: std::ops::Range<usize>) -> Cases {
        let public =
            (0..n).map(|i| Case { id: format!("{i:03}"), value: f64::from(u8::from(right.contains(&i))) }).collect();
        Cases { public, private: vec![Case { id: "sealed".into(), value: 0.0 }] }
    }

    #[tokio::test]
    async fn rows_close_to_first_are_tied_and_far_ones_are_not_and_the_seed_fixes_them() {
        let store = Fake(HashMap::from([
            ("a".into(), cases(200, 0..180)),
            ("b".into(), cases(200, 10..186)),
            ("c".into(), cases(200, 0..60)),
        ]));
        let rows = [row("a"), row("b"), row("c")];
        let got = of_board(&store, &rows, Direction::HigherIsBetter).await;
        let [Some(a), Some(b), Some(c)] = got.as_slice() else { panic!("{got:?}") };
        assert!(a.low < 0.9 && 0.9 < a.high && !a.tied_with_first, "{a:?}");
        assert!(b.tied_with_first, "0.88 against 0.90 on 200 cases, 16 of them differing: {b:?}");
        assert!(!c.tied_with_first && c.high < 0.4, "{c:?}");
        assert_eq!(of_board(&store, &rows, Direction::HigherIsBetter).await, got, "same seed, same intervals");
    }

    #[tokio::test]
    async fn no_intervals_without_cases_on_every_row_or_with_different_cases() {
        let store = Fake(HashMap::from([("a".into(), cases(200, 0..180)), ("b".into(), cases(100, 0..90))]));
        for rows in [vec![row("a"), row("missing")], vec![row("a"), row("b")], vec![row("a")]] {
            assert!(of_board(&store, &rows, Direction::HigherIsBetter).await.iter().all(Option::is_none));
        }
    }
}
