//! Scores written by the evaluation container, and the checks they must pass.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::cases::{Cases, CasesError, Split};
use super::challenge::{Feedback, Metric, Phase};

/// The metrics of one evaluated submission, by metric name. Every value is finite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    pub metrics: BTreeMap<String, f64>,
}

/// The largest `score.json` accepted.
pub const MAX_SCORE_BYTES: usize = 64 * 1024;

/// Why a `score.json` was refused. The text is for the organizer, whose evaluation image wrote it.
/// `place` is `score.json`, or `score.json's public split` (`private`) in the split form.
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    #[error("score.json is {0} bytes; at most {MAX_SCORE_BYTES} are read")]
    TooLarge(usize),
    #[error("score.json is not valid JSON: {0}")]
    NotJson(serde_json::Error),
    #[error("score.json must be a JSON object of metrics, not {0}")]
    NotAnObject(serde_json::Value),
    #[error("{place} must be a JSON object of metrics, not {value}")]
    SplitNotAnObject { place: String, value: serde_json::Value },
    #[error("{place} lacks metric '{metric}'")]
    Missing { place: String, metric: String },
    #[error("metric '{metric}' is {value}, not a number{}", within(.place))]
    NotANumber { place: String, metric: String, value: serde_json::Value },
    #[error("metric '{metric}' is not finite{}", within(.place))]
    NotFinite { place: String, metric: String },
    #[error("{place} has '{key}', which the challenge does not declare")]
    Undeclared { place: String, key: String },
    #[error("score.json has '{0}' beside its splits: the split form holds only 'public' and 'private'")]
    UnknownSplit(String),
    #[error("score.json has a private split but no public one: write {{\"public\": {{…}}, \"private\": {{…}}}}")]
    NoPublicSplit,
}

fn within(place: &str) -> String {
    match place {
        FLAT => String::new(),
        split => format!(" in {split}"),
    }
}

const FLAT: &str = "score.json";

/// What `score.json` said: the public split's metrics (the whole flat file of contract v1) and,
/// in the split form, the private split's.
#[derive(Debug, Clone, PartialEq)]
pub struct SplitScore {
    pub public: Score,
    pub private: Option<Score>,
}

impl Score {
    /// Parses a flat `score.json` and checks it against the challenge's metrics: a JSON object
    /// with exactly the declared metrics, each a finite number.
    pub fn from_score_json(bytes: &[u8], metrics: &[Metric]) -> Result<Score, ScoreError> {
        match parse_json(bytes)? {
            serde_json::Value::Object(object) => Score::from_object(&object, metrics, FLAT),
            value => Err(ScoreError::NotAnObject(value)),
        }
    }

    fn from_object(
        object: &serde_json::Map<String, serde_json::Value>,
        metrics: &[Metric],
        place: &str,
    ) -> Result<Score, ScoreError> {
        let place = || place.to_owned();
        let mut out = BTreeMap::new();
        for m in metrics {
            let v =
                object.get(&m.name).ok_or_else(|| ScoreError::Missing { place: place(), metric: m.name.clone() })?;
            let number = v.as_f64().ok_or_else(|| ScoreError::NotANumber {
                place: place(),
                metric: m.name.clone(),
                value: v.clone(),
            })?;
            if !number.is_finite() {
                return Err(ScoreError::NotFinite { place: place(), metric: m.name.clone() });
            }
            out.insert(m.name.clone(), number);
        }
        if let Some(extra) = object.keys().find(|k| !metrics.iter().any(|m| &m.name == *k)) {
            return Err(ScoreError::Undeclared { place: place(), key: extra.clone() });
        }
        Ok(Score { metrics: out })
    }
}

fn parse_json(bytes: &[u8]) -> Result<serde_json::Value, ScoreError> {
    if bytes.len() > MAX_SCORE_BYTES {
        return Err(ScoreError::TooLarge(bytes.len()));
    }
    serde_json::from_slice(bytes).map_err(ScoreError::NotJson)
}

impl SplitScore {
    /// Parses `score.json` in either form: flat `{metric: value}` (the public split, no private
    /// one) or `{"public": {…}, "private": {…}}`, each split checked as the flat form is. The
    /// split form is recognised by a `public` (or `private`) key whose value is an object.
    pub fn from_score_json(bytes: &[u8], metrics: &[Metric]) -> Result<SplitScore, ScoreError> {
        let value = parse_json(bytes)?;
        let serde_json::Value::Object(object) = value else {
            return Err(ScoreError::NotAnObject(value));
        };
        let is_split = |k: &str| object.get(k).is_some_and(serde_json::Value::is_object);
        if !is_split("public") && !is_split("private") {
            return Ok(SplitScore { public: Score::from_object(&object, metrics, FLAT)?, private: None });
        }
        if let Some(extra) = object.keys().find(|k| *k != "public" && *k != "private") {
            return Err(ScoreError::UnknownSplit(extra.clone()));
        }
        let split = |split: Split| -> Result<Option<Score>, ScoreError> {
            let place = format!("score.json's {split} split");
            match object.get(split.label()) {
                None => Ok(None),
                Some(serde_json::Value::Object(o)) => Score::from_object(o, metrics, &place).map(Some),
                Some(value) => Err(ScoreError::SplitNotAnObject { place, value: value.clone() }),
            }
        };
        let public = split(Split::Public)?.ok_or(ScoreError::NoPublicSplit)?;
        Ok(SplitScore { public, private: split(Split::Private)? })
    }
}

/// What the evaluator needs of a phase to check an evaluation's output; it travels in the
/// `submission.created` event (absent in events from before contract v2: today's behaviour).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scoring {
    /// The phase requires the split form of `score.json`.
    #[serde(default)]
    pub private_split: bool,
    /// `ladder` requires `cases.csv`.
    #[serde(default)]
    pub feedback: Feedback,
}

impl Scoring {
    pub fn of(phase: &Phase) -> Self {
        Self { private_split: phase.private_split, feedback: phase.feedback }
    }
}

/// Everything one evaluation produced, checked against the challenge and the phase.
#[derive(Debug, Clone, PartialEq)]
pub struct EvaluationOutput {
    pub score: SplitScore,
    pub cases: Option<Cases>,
}

/// Two means agree when they differ by at most this, relative to the larger (or to 1 near 0).
pub const MEAN_TOLERANCE: f64 = 1e-9;

/// Why an evaluation's output does not satisfy the contract. The text is for the organizer.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error(transparent)]
    Score(#[from] ScoreError),
    #[error(transparent)]
    Cases(#[from] CasesError),
    #[error("the phase has a private split, but score.json is flat: write {{\"public\": {{…}}, \"private\": {{…}}}}")]
    NeedsSplit,
    #[error("the phase uses the Ladder, which needs cases.csv; the evaluation image wrote none")]
    NeedsCases,
    #[error(
        "the evaluation wrote cases.csv, but the ranking metric '{0}' is not declared aggregate = \"mean\": \
         declare it, or write no cases.csv"
    )]
    CasesOfNoMean(String),
    #[error("cases.csv has {0} cases, but score.json has no {0} split")]
    CasesWithoutSplit(Split),
    #[error("cases.csv has no {0} cases, but score.json has a {0} split")]
    SplitWithoutCases(Split),
    #[error("cases.csv's {split} mean {cases} ≠ score.json's {score} (metric '{metric}')")]
    MeanMismatch { split: Split, metric: String, cases: f64, score: f64 },
}

impl EvaluationOutput {
    /// Checks `score.json` and the optional `cases.csv` together, against the challenge's
    /// metrics and the phase's settings: a private split when the phase has one, cases when it
    /// uses the Ladder, and, when there are cases, each split's mean equal to its score of the
    /// ranking metric (declared `aggregate = "mean"`) within [`MEAN_TOLERANCE`].
    pub fn check(
        score_json: &[u8],
        cases_csv: Option<&[u8]>,
        metrics: &[Metric],
        rank_by: &str,
        scoring: Scoring,
    ) -> Result<EvaluationOutput, OutputError> {
        let score = SplitScore::from_score_json(score_json, metrics)?;
        if scoring.private_split && score.private.is_none() {
            return Err(OutputError::NeedsSplit);
        }
        let cases = cases_csv.map(Cases::from_cases_csv).transpose()?;
        if scoring.feedback == Feedback::Ladder && cases.is_none() {
            return Err(OutputError::NeedsCases);
        }
        if let Some(cases) = &cases {
            if !metrics.iter().any(|m| m.name == rank_by && m.is_mean()) {
                return Err(OutputError::CasesOfNoMean(rank_by.to_owned()));
            }
            for (split, scored) in [(Split::Public, Some(&score.public)), (Split::Private, score.private.as_ref())] {
                let value = scored.and_then(|s| s.metrics.get(rank_by).copied());
                match (cases.mean(split), value) {
                    (None, None) => {}
                    (Some(_), None) => return Err(OutputError::CasesWithoutSplit(split)),
                    (None, Some(_)) => return Err(OutputError::SplitWithoutCases(split)),
                    (Some(mean), Some(score)) => {
                        if (mean - score).abs() > MEAN_TOLERANCE * mean.abs().max(score.abs()).max(1.0) {
                            let metric = rank_by.to_owned();
                            return Err(OutputError::MeanMismatch { split, metric, cases: mean, score });
                        }
                    }
                }
            }
        }
        Ok(EvaluationOutput { score, cases })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Direction;

    fn metrics() -> Vec<Metric> {
        vec![Metric::new("accuracy", Direction::HigherIsBetter), Metric::new("roc_auc", Direction::HigherIsBetter)]
    }

    #[test]
    fn accepts_exactly_the_declared_finite_metrics() {
        let s = Score::from_score_json(br#"{"accuracy": 0.9, "roc_auc": 1}"#, &metrics()).unwrap();
        assert_eq!(s.metrics["roc_auc"], 1.0);
    }

    #[test]
    fn rejects_what_a_broken_evaluator_writes() {
        for (bad, says) in [
            (&br#"{"accuracy": 0.9}"#[..], "lacks metric 'roc_auc'"),
            (br#"{"accuracy": "high", "roc_auc": 1}"#, "not a number"),
            (br#"{"accuracy": 0.9, "roc_auc": 1, "junk": 2}"#, "'junk'"),
            (br#"[0.9, 1]"#, "JSON object"),
            (b"NaN", "not valid JSON"),
            (br#"{"accuracy": 1e999, "roc_auc": 1}"#, "not valid JSON"),
            (br#"{"accuracy": 0.9, "roc_auc": [1]}"#, "metric 'roc_auc' is [1], not a number"),
        ] {
            let e = Score::from_score_json(bad, &metrics()).unwrap_err().to_string();
            assert!(e.contains(says), "{e}");
        }
    }
}

#[cfg(test)]
mod contract_v2 {
    use super::*;
    use crate::domain::{Aggregate, Direction};

    fn metrics() -> Vec<Metric> {
        vec![
            Metric { aggregate: Some(Aggregate::Mean), ..Metric::new("accuracy", Direction::HigherIsBetter) },
            Metric::new("roc_auc", Direction::HigherIsBetter),
        ]
    }

    const SPLIT: &[u8] =
        br#"{"public": {"accuracy": 0.75, "roc_auc": 0.8}, "private": {"accuracy": 0.5, "roc_auc": 0.6}}"#;
    const CASES: &[u8] = b"split,case_id,value\npublic,a,1\npublic,b,0.5\nprivate,c,0\nprivate,d,1\n";
    const LADDER: Scoring = Scoring { private_split: true, feedback: Feedback::Ladder };

    fn check(score: &[u8], cases: Option<&[u8]>, scoring: Scoring) -> Result<EvaluationOutput, String> {
        EvaluationOutput::check(score, cases, &metrics(), "accuracy", scoring).map_err(|e| e.to_string())
    }

    #[test]
    fn the_flat_form_is_the_public_split() {
        let out = check(br#"{"accuracy": 0.9, "roc_auc": 1}"#, None, Scoring::default()).unwrap();
        assert_eq!((out.score.public.metrics["accuracy"], out.score.private, out.cases), (0.9, None, None));
    }

    #[test]
    fn the_split_form_keeps_both_splits_and_their_cases() {
        let out = check(SPLIT, Some(CASES), LADDER).unwrap();
        assert_eq!(out.score.public.metrics["roc_auc"], 0.8);
        assert_eq!(out.score.private.unwrap().metrics["accuracy"], 0.5);
        let cases = out.cases.unwrap();
        assert_eq!((cases.public.len(), cases.private[1].id.as_str()), (2, "d"));
        // Accepted where the phase has no private split, too: the private values stay sealed.
        assert!(check(SPLIT, None, Scoring::default()).is_ok());
    }

    #[test]
    fn each_split_is_checked_like_the_flat_form_and_named() {
        for (bad, says) in [
            (
                &br#"{"public": {"accuracy": 0.9, "roc_auc": 1}, "private": {"accuracy": 0.9}}"#[..],
                "score.json's private split lacks metric 'roc_auc'",
            ),
            (
                br#"{"public": {"accuracy": 0.9, "roc_auc": 1, "f1": 0}, "private": {"accuracy": 0.9, "roc_auc": 1}}"#,
                "score.json's public split has 'f1', which the challenge does not declare",
            ),
            (
                br#"{"public": {"accuracy": 0.9, "roc_auc": 1}, "private": {"accuracy": "x", "roc_auc": 1}}"#,
                "metric 'accuracy' is \"x\", not a number in score.json's private split",
            ),
            (br#"{"public": {"accuracy": 0.9, "roc_auc": 1}, "private": 3}"#, "private split must be a JSON object"),
            (br#"{"public": {"accuracy": 0.9, "roc_auc": 1}, "test": {}}"#, "has 'test' beside its splits"),
            (br#"{"private": {"accuracy": 0.9, "roc_auc": 1}}"#, "a private split but no public one"),
        ] {
            let e = check(bad, None, Scoring::default()).unwrap_err();
            assert!(e.contains(says), "{e}");
        }
    }

    #[test]
    fn the_phase_settings_require_their_files() {
        let flat = br#"{"accuracy": 0.9, "roc_auc": 1}"#;
        let private = Scoring { private_split: true, ..Scoring::default() };
        assert!(
            check(flat, None, private).unwrap_err().contains("the phase has a private split, but score.json is flat")
        );
        assert_eq!(
            check(SPLIT, None, LADDER).unwrap_err(),
            "the phase uses the Ladder, which needs cases.csv; the evaluation image wrote none"
        );
    }

    #[test]
    fn cases_must_agree_with_the_score() {
        let e = check(SPLIT, Some(b"split,case_id,value\npublic,a,0.71\nprivate,b,0.5\n"), LADDER).unwrap_err();
        assert_eq!(e, "cases.csv's public mean 0.71 ≠ score.json's 0.75 (metric 'accuracy')");
        let only_public = b"split,case_id,value\npublic,a,0.75\n";
        assert!(
            check(SPLIT, Some(only_public), LADDER)
                .unwrap_err()
                .contains("no private cases, but score.json has a private split")
        );
        let flat = br#"{"accuracy": 0.75, "roc_auc": 1}"#;
        assert!(
            check(flat, Some(CASES), Scoring::default())
                .unwrap_err()
                .contains("private cases, but score.json has no private split")
        );
        assert!(check(flat, Some(only_public), Scoring::default()).is_ok());
        // Within 1e-9 relative: summation noise passes.
        let tenths =
            format!("split,case_id,value\n{}", (0..10).map(|i| format!("public,{i},0.1\n")).collect::<String>());
        assert!(check(br#"{"accuracy": 0.1, "roc_auc": 1}"#, Some(tenths.as_bytes()), Scoring::default()).is_ok());
        let e = EvaluationOutput::check(flat, Some(only_public), &metrics(), "roc_auc", Scoring::default());
        assert!(e.unwrap_err().to_string().contains("'roc_auc' is not declared aggregate = \"mean\""));
        let e = check(SPLIT, Some(b"split,case_id,value\nprivate,x,y\n"), LADDER).unwrap_err();
        assert_eq!(e, "cases.csv line 2: value 'y' is not a number");
    }
}
