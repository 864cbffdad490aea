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

impl Score {
    /// Parses `score.json` and checks it against the challenge's metrics: a JSON object with
    /// exactly the declared metrics, each a finite number. The error is for the organizer.
    pub fn from_score_json(bytes: &[u8], metrics: &[Metric]) -> Result<Score, String> {
        if bytes.len() > MAX_SCORE_BYTES {
            return Err(format!("score.json is {} bytes; at most {MAX_SCORE_BYTES} are read", bytes.len()));
        }
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| format!("score.json is not valid JSON: {e}"))?;
        let object =
            value.as_object().ok_or_else(|| format!("score.json must be a JSON object of metrics, not {value}"))?;
        let mut out = BTreeMap::new();
        for m in metrics {
            let v = object.get(&m.name).ok_or_else(|| format!("score.json lacks metric '{}'", m.name))?;
            let number = v.as_f64().ok_or_else(|| format!("metric '{}' is {v}, not a number", m.name))?;
            if !number.is_finite() {
                return Err(format!("metric '{}' is not finite", m.name));
            }
            out.insert(m.name.clone(), number);
        }
        if let Some(extra) = object.keys().find(|k| !metrics.iter().any(|m| &m.name == *k)) {
            return Err(format!("score.json has '{extra}', which the challenge does not declare"));
        }
        Ok(Score { metrics: out })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Direction;

    fn metrics() -> Vec<Metric> {
        vec![
            Metric { name: "accuracy".into(), direction: Direction::HigherIsBetter },
            Metric { name: "roc_auc".into(), direction: Direction::HigherIsBetter },
        ]
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
        ] {
            let e = Score::from_score_json(bad, &metrics()).unwrap_err();
            assert!(e.contains(says), "{e}");
        }
    }
}
