//! Comparing a verification re-run with the score it re-checks (issue 17): the receipt's
//! conditions first (a re-run of another image, on other data or under other limits proves
//! nothing), then `score.json`'s bytes, then each metric of both splits against the tolerance its
//! spec declares. Pure: the evaluator gathers both sides and stores the report.

use std::collections::BTreeMap;

pub use darkroom_api::{Condition, MetricComparison, RerunReport, RerunVerdict};

use super::canonical::to_canonical_bytes;
use super::receipt::ReceiptClaims;
use super::{Metric, Split};

/// What one run (the original or the re-run) produced and under what, as the comparison reads it.
#[derive(Debug, Clone, Copy)]
pub struct RunFacts<'a> {
    pub public: &'a BTreeMap<String, f64>,
    pub private: Option<&'a BTreeMap<String, f64>>,
    /// Hex SHA-256 of the run's `score.json`; `None` where it is not known (a sealed score
    /// recorded before its commitment's opening was kept).
    pub score_json_sha256: Option<&'a str>,
    /// The receipt's claims (for the re-run: the claims its receipt would have had).
    pub claims: &'a ReceiptClaims,
}

/// The receipt conditions a re-run must share with the original to be comparable.
fn conditions(original: &ReceiptClaims, rerun: &ReceiptClaims) -> Vec<Condition> {
    let text = |o: &Option<String>| o.clone().unwrap_or_else(|| "none".to_owned());
    let limits =
        |c: &ReceiptClaims| String::from_utf8(to_canonical_bytes(&c.limits).unwrap_or_default()).unwrap_or_default();
    [
        ("image_digest", text(&original.image_digest), text(&rerun.image_digest)),
        ("evaluation_image_id", text(&original.evaluation_image_id), text(&rerun.evaluation_image_id)),
        ("dataset_fingerprint", text(&original.dataset_fingerprint), text(&rerun.dataset_fingerprint)),
        ("limits", limits(original), limits(rerun)),
        ("sandbox_policy", original.sandbox_policy.to_string(), rerun.sandbox_policy.to_string()),
    ]
    .into_iter()
    .map(|(name, original, rerun)| Condition { name: name.to_owned(), same: original == rerun, original, rerun })
    .collect()
}

fn compare_split(
    split: Split,
    original: Option<&BTreeMap<String, f64>>,
    rerun: Option<&BTreeMap<String, f64>>,
    metrics: &[Metric],
    out: &mut Vec<MetricComparison>,
) {
    let empty = BTreeMap::new();
    let (original, rerun) = (original.unwrap_or(&empty), rerun.unwrap_or(&empty));
    let mut names: Vec<&String> = original.keys().chain(rerun.keys()).collect();
    names.sort();
    names.dedup();
    for name in names {
        let tolerance = metrics.iter().find(|m| &m.name == name).and_then(|m| m.rerun_tolerance).unwrap_or(0.0);
        let (o, r) = (original.get(name).copied(), rerun.get(name).copied());
        let difference = o.zip(r).map(|(o, r)| (r - o).abs());
        // Equal values are within whatever they are (two infinities have a NaN difference).
        let within = match (o, r) {
            (Some(o), Some(r)) => o.to_bits() == r.to_bits() || difference.is_some_and(|d| d <= tolerance),
            _ => false,
        };
        out.push(MetricComparison {
            name: name.clone(),
            split: split.label().to_owned(),
            original: o,
            rerun: r,
            difference,
            tolerance,
            within,
        });
    }
}

/// How `rerun` compares with `original`, metric tolerances from `metrics` (the challenge's).
pub fn compare(original: &RunFacts, rerun: &RunFacts, metrics: &[Metric]) -> RerunReport {
    let conditions = conditions(original.claims, rerun.claims);
    let mut compared = Vec::new();
    compare_split(Split::Public, Some(original.public), Some(rerun.public), metrics, &mut compared);
    compare_split(Split::Private, original.private, rerun.private, metrics, &mut compared);
    let identical = original.score_json_sha256.is_some() && original.score_json_sha256 == rerun.score_json_sha256;
    let verdict = if conditions.iter().any(|c| !c.same) {
        RerunVerdict::NotComparable
    } else if identical {
        RerunVerdict::Identical
    } else if compared.iter().all(|m| m.within) {
        RerunVerdict::WithinTolerance
    } else {
        RerunVerdict::Different
    };
    RerunReport {
        verdict,
        score_json_identical: identical,
        original_score_json_sha256: original.score_json_sha256.unwrap_or("unknown").to_owned(),
        rerun_score_json_sha256: rerun.score_json_sha256.unwrap_or("unknown").to_owned(),
        metrics: compared,
        conditions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Direction;
    use crate::domain::receipt::ReceiptLimits;

    fn claims() -> ReceiptClaims {
        serde_json::from_value(serde_json::json!({
            "submission_id": "0190a7c2-5b1e-7c3d-8e4f-0123456789ab",
            "participant_id": "0190a7c2-5b1e-7c3d-8e4f-0123456789ac",
            "phase": "dev", "attempt": 1, "image_digest": "sha256:aa", "evaluation_image": "eval:1",
            "evaluation_image_id": "sha256:ee", "dataset_fingerprint": "ff", "output_archive_sha256": "00",
            "metrics": {}, "limits": {"cpus": "1.0", "memory_mb": 512, "gpus": 0, "pids": 64,
            "wall_clock_seconds": 60, "output_max_mb": 16, "output_max_files": 100, "output_max_depth": 8,
            "allow_root": false},
            "sandbox_policy": 2, "evaluator": "e", "darkroom_version": "0",
            "submitted_at": "t", "run_finished_at": "t", "scored_at": "t"
        }))
        .unwrap()
    }

    fn metrics(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
    }

    fn spec(tolerance: Option<f64>) -> Vec<Metric> {
        vec![Metric { rerun_tolerance: tolerance, ..Metric::new("acc", Direction::HigherIsBetter) }]
    }

    #[test]
    fn the_same_bytes_are_identical_and_other_bytes_are_judged_per_metric() {
        let c = claims();
        let (a, b) = (metrics(&[("acc", 0.9)]), metrics(&[("acc", 0.9004)]));
        let original = RunFacts { public: &a, private: None, score_json_sha256: Some("11"), claims: &c };
        let same = compare(&original, &RunFacts { score_json_sha256: Some("11"), ..original }, &spec(None));
        assert_eq!(same.verdict, RerunVerdict::Identical);
        assert!(same.score_json_identical && same.metrics.iter().all(|m| m.within));

        let rerun = RunFacts { public: &b, private: None, score_json_sha256: Some("22"), claims: &c };
        let strict = compare(&original, &rerun, &spec(None));
        assert_eq!(strict.verdict, RerunVerdict::Different);
        let acc = &strict.metrics[0];
        assert_eq!((acc.name.as_str(), acc.split.as_str(), acc.within), ("acc", "public", false));
        assert!((acc.difference.unwrap() - 0.0004).abs() < 1e-12);
        assert_eq!(compare(&original, &rerun, &spec(Some(0.001))).verdict, RerunVerdict::WithinTolerance);
        assert_eq!(compare(&original, &rerun, &spec(Some(0.0001))).verdict, RerunVerdict::Different);
    }

    #[test]
    fn private_metrics_are_compared_and_a_missing_one_differs() {
        let c = claims();
        let public = metrics(&[("acc", 0.5)]);
        let (p1, p2) = (metrics(&[("acc", 0.7)]), metrics(&[("acc", 0.6)]));
        let original = RunFacts { public: &public, private: Some(&p1), score_json_sha256: Some("1"), claims: &c };
        let rerun = RunFacts { private: Some(&p2), score_json_sha256: Some("2"), ..original };
        let report = compare(&original, &rerun, &spec(None));
        assert_eq!(report.verdict, RerunVerdict::Different);
        assert_eq!(
            report.metrics.iter().map(|m| (m.split.as_str(), m.within)).collect::<Vec<_>>(),
            [("public", true), ("private", false)]
        );
        let gone = compare(&original, &RunFacts { private: None, ..rerun }, &spec(Some(1.0)));
        assert_eq!(gone.verdict, RerunVerdict::Different);
        assert_eq!(gone.metrics[1].rerun, None);
    }

    #[test]
    fn a_rerun_under_other_conditions_is_not_comparable_whatever_its_numbers() {
        let c = claims();
        let m = metrics(&[("acc", 0.9)]);
        let original = RunFacts { public: &m, private: None, score_json_sha256: Some("1"), claims: &c };
        for change in [
            (|c: &mut ReceiptClaims| c.image_digest = Some("sha256:bb".into())) as fn(&mut ReceiptClaims),
            |c| c.evaluation_image_id = None,
            |c| c.dataset_fingerprint = Some("gg".into()),
            |c| c.limits = ReceiptLimits { memory_mb: 1024, ..c.limits.clone() },
            |c| c.sandbox_policy = 1,
        ] {
            let mut other = claims();
            change(&mut other);
            let report = compare(&original, &RunFacts { claims: &other, ..original }, &spec(None));
            assert_eq!(report.verdict, RerunVerdict::NotComparable);
            assert_eq!(report.conditions.iter().filter(|c| !c.same).count(), 1, "{:?}", report.conditions);
        }
    }

    #[test]
    fn an_unknown_original_hash_is_never_identical() {
        let c = claims();
        let m = metrics(&[("acc", 0.9)]);
        let original = RunFacts { public: &m, private: None, score_json_sha256: None, claims: &c };
        let report = compare(&original, &original, &spec(None));
        assert_eq!(report.verdict, RerunVerdict::WithinTolerance);
        assert_eq!(report.original_score_json_sha256, "unknown");
    }
}
