//! Scores written by the evaluation container, and the checks they must pass.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::challenge::Metric;

/// The metrics of one evaluated submission, by metric name. Every value is finite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    pub metrics: BTreeMap<String, f64>,
}

/// The largest `score.json` accepted.
pub const MAX_SCORE_BYTES: usize = 64 * 1024;

/// Why a `score.json` was refused. The text is for the organizer, whose evaluation image wrote it.
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    #[error("score.json is {0} bytes; at most {MAX_SCORE_BYTES} are read")]
    TooLarge(usize),
    #[error("score.json is not valid JSON: {0}")]
    NotJson(serde_json::Error),
    #[error("score.json must be a JSON object of metrics, not {0}")]
    NotAnObject(serde_json::Value),
    #[error("score.json lacks metric '{0}'")]
    Missing(String),
    #[error("metric '{metric}' is {value}, not a number")]
    NotANumber { metric: String, value: serde_json::Value },
    #[error("metric '{0}' is not finite")]
    NotFinite(String),
    #[error("score.json has '{0}', which the challenge does not declare")]
    Undeclared(String),
}

impl Score {
    /// Parses `score.json` and checks it against the challenge's metrics: a JSON object with
    /// exactly the declared metrics, each a finite number.
    pub fn from_score_json(bytes: &[u8], metrics: &[Metric]) -> Result<Score, ScoreError> {
        if bytes.len() > MAX_SCORE_BYTES {
            return Err(ScoreError::TooLarge(bytes.len()));
        }
        let value: serde_json::Value = serde_json::from_slice(bytes).map_err(ScoreError::NotJson)?;
        let serde_json::Value::Object(object) = value else {
            return Err(ScoreError::NotAnObject(value));
        };
        let mut out = BTreeMap::new();
        for m in metrics {
            let v = object.get(&m.name).ok_or_else(|| ScoreError::Missing(m.name.clone()))?;
            let number =
                v.as_f64().ok_or_else(|| ScoreError::NotANumber { metric: m.name.clone(), value: v.clone() })?;
            if !number.is_finite() {
                return Err(ScoreError::NotFinite(m.name.clone()));
            }
            out.insert(m.name.clone(), number);
        }
        if let Some(extra) = object.keys().find(|k| !metrics.iter().any(|m| &m.name == *k)) {
            return Err(ScoreError::Undeclared(extra.clone()));
        }
        Ok(Score { metrics: out })
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
