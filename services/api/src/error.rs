//! The API's one error shape: `{"error": {"code", "message", "details"?, "retry_at"?}}`.
//!
//! `code` is a stable word a client may branch on (`not_found`, `invalid_fields`,
//! `quota_exceeded`, …); `message` says what is wrong and how to fix it; `details` lists each
//! invalid field of a 422; `retry_at` says when a 429's next slot opens.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The body of every error answer.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Vec<FieldError>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<DateTime<Utc>>,
}

/// One problem with an input: which field, what is wrong, how to fix it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// The field's path, e.g. `phases[1].ends_at`.
    pub field: String,
    pub problem: String,
    pub fix: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, problem: impl Into<String>, fix: impl Into<String>) -> Self {
        Self { field: field.into(), problem: problem.into(), fix: fix.into() }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} ({})", self.field, self.problem, self.fix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_parts_are_left_out_not_null() {
        let plain = ErrorBody {
            error: ErrorDetail { code: "not_found".into(), message: "no".into(), details: None, retry_at: None },
        };
        assert_eq!(serde_json::to_string(&plain).unwrap(), r#"{"error":{"code":"not_found","message":"no"}}"#);
        let invalid = ErrorBody {
            error: ErrorDetail {
                code: "invalid_fields".into(),
                message: "m".into(),
                details: Some(vec![FieldError::new("slug", "is bad", "fix it")]),
                retry_at: None,
            },
        };
        let json = serde_json::to_string(&invalid).unwrap();
        assert_eq!(
            json,
            r#"{"error":{"code":"invalid_fields","message":"m","details":[{"field":"slug","problem":"is bad","fix":"fix it"}]}}"#
        );
        assert_eq!(serde_json::from_str::<ErrorBody>(&json).unwrap(), invalid);
        assert_eq!(invalid.error.details.unwrap()[0].to_string(), "slug: is bad (fix it)");
    }
}
