//! Scores written by the evaluation container.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The metrics of one evaluated submission, by metric name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    pub metrics: BTreeMap<String, f64>,
}
