//! Where a participant stands against a challenge's submission quotas in its open phase
//! (`GET /challenges/{slug}/quota`): what a submit now would be counted against, said before
//! they spend a day's slot finding out.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The caller's standing in the phase open now: the same count the submit path checks, so the
/// quotas let a submit through exactly while `left` is absent or above 0.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaStanding {
    pub challenge: String,
    /// The phase open now, whose submissions the quotas count.
    pub phase: String,
    /// Whose submissions count: the caller's own, or their whole team's (a team shares one
    /// quota).
    pub counted_for: QuotaHolder,
    /// The rolling 24 hours; absent when the challenge sets no daily quota.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_day: Option<DailyStanding>,
    /// The whole phase; absent when the challenge sets no total.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<TotalStanding>,
    /// How many more submissions the quotas allow now: the smaller of the two. Absent when
    /// neither quota is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left: Option<u32>,
}

/// Whose submissions a quota counts.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuotaHolder {
    Participant,
    Team,
}

/// The daily quota: submissions counted in the last 24 hours.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailyStanding {
    pub limit: u32,
    pub used: u32,
    pub left: u32,
    /// When the next slot opens (24 hours after the submission that must drop out of the
    /// window); present only while none is left today and the total (if any) still has room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_slot_at: Option<DateTime<Utc>>,
}

/// The phase's total quota, which never reopens.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotalStanding {
    pub limit: u32,
    pub used: u32,
    pub left: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_quotas_are_left_out_and_the_holder_is_spelt_in_lowercase() {
        let standing = QuotaStanding {
            challenge: "c".into(),
            phase: "dev".into(),
            counted_for: QuotaHolder::Team,
            per_day: None,
            total: Some(TotalStanding { limit: 3, used: 1, left: 2 }),
            left: Some(2),
        };
        assert_eq!(
            serde_json::to_string(&standing).unwrap(),
            r#"{"challenge":"c","phase":"dev","counted_for":"team","total":{"limit":3,"used":1,"left":2},"left":2}"#
        );
    }
}
