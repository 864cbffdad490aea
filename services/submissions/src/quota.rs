//! Submission limits: phase windows and per-day / total quotas, as pure functions of the
//! challenge, the time and the participant's counted submissions: [`standing`] says where the
//! quotas stand (what `GET …/quota` answers), [`check_quota`] refuses a submit from it.

use chrono::{DateTime, Duration, Utc};
use darkroom_api::{DailyStanding, QuotaHolder, QuotaStanding, TotalStanding};
use darkroom_core::domain::challenge::{ChallengeSpec, PhaseWindow};
use darkroom_core::domain::{Phase, Quotas};

use crate::error::ApiError;

/// The phase accepting submissions now, or why none is.
pub fn open_phase(spec: &ChallengeSpec, now: DateTime<Utc>) -> Result<&Phase, ApiError> {
    match spec.phase_window(now) {
        Some(PhaseWindow::Open(p)) => Ok(p),
        Some(PhaseWindow::NotYetOpen(p)) => Err(ApiError::Forbidden(format!(
            "challenge '{}' is not open yet: phase '{}' opens at {}",
            spec.slug,
            p.name,
            p.starts_at.to_rfc3339()
        ))),
        Some(PhaseWindow::Between { next }) => Err(ApiError::Forbidden(format!(
            "no phase of challenge '{}' is open now: phase '{}' opens at {}",
            spec.slug,
            next.name,
            next.starts_at.to_rfc3339()
        ))),
        Some(PhaseWindow::Closed { last }) => Err(ApiError::Forbidden(format!(
            "challenge '{}' is closed: its last phase '{}' ended at {}",
            spec.slug,
            last.name,
            last.ends_at.to_rfc3339()
        ))),
        None => Err(ApiError::Forbidden(format!("challenge '{}' has no phases", spec.slug))),
    }
}

/// How a quota's message names whose submissions it counts.
fn whose(holder: QuotaHolder) -> &'static str {
    match holder {
        QuotaHolder::Participant => "you have",
        QuotaHolder::Team => "your team has",
    }
}

/// The daily quota's rolling window.
pub const DAILY_WINDOW: Duration = Duration::hours(24);

/// Where the quotas stand at `now`, given the creation times of the participant's (or their
/// team's) counted submissions in `phase` (all of them with a total; with a daily quota alone,
/// at least the last 24 hours'). The daily quota is a rolling 24 hours, so while it is used up
/// the next slot opens 24 hours after the submission that would have to drop out of the window.
/// A lowered quota or a merged team can leave more used than allowed: `left` is then 0.
pub fn standing(
    challenge: &str,
    quotas: &Quotas,
    phase: &Phase,
    mut counted: Vec<DateTime<Utc>>,
    holder: QuotaHolder,
    now: DateTime<Utc>,
) -> QuotaStanding {
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    let total = quotas.total.map(|limit| {
        let used = count(counted.len());
        TotalStanding { limit, used, left: limit.saturating_sub(used) }
    });
    // A spent total never reopens, so no daily slot is worth announcing then.
    let total_spent = total.as_ref().is_some_and(|t| t.left == 0);
    let per_day = quotas.per_day.map(|limit| {
        counted.retain(|t| *t > now - DAILY_WINDOW);
        counted.sort();
        let used = count(counted.len());
        let left = limit.saturating_sub(used);
        // The oldest submission still counted once `limit - 1` newer ones remain.
        let next_slot_at = (left == 0 && !total_spent)
            .then(|| counted.len().checked_sub(limit as usize).and_then(|i| counted.get(i)))
            .flatten()
            .map(|t| *t + DAILY_WINDOW);
        DailyStanding { limit, used, left, next_slot_at }
    });
    let left = match (&per_day, &total) {
        (None, None) => None,
        (d, t) => d.iter().map(|d| d.left).chain(t.iter().map(|t| t.left)).min(),
    };
    QuotaStanding {
        challenge: challenge.to_owned(),
        phase: phase.name.clone(),
        counted_for: holder,
        per_day,
        total,
        left,
    }
}

/// Refuses a submission the quotas have no room for, saying which quota and, for the daily
/// one, when the next slot opens.
pub fn check_quota(standing: &QuotaStanding) -> Result<(), ApiError> {
    let whose = whose(standing.counted_for);
    if let Some(total) = &standing.total
        && total.left == 0
    {
        return Err(ApiError::QuotaExceeded {
            message: format!("{whose} used all {} submissions of phase '{}'", total.limit, standing.phase),
            retry_at: None,
        });
    }
    if let Some(daily) = &standing.per_day
        && daily.left == 0
    {
        let when =
            daily.next_slot_at.map(|t| format!("; the next slot opens at {}", t.to_rfc3339())).unwrap_or_default();
        return Err(ApiError::QuotaExceeded {
            message: format!("{whose} used the {} submissions of the last 24 hours{when}", daily.limit),
            retry_at: daily.next_slot_at,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phase(now: DateTime<Utc>) -> Phase {
        Phase::new("dev", now - Duration::days(5), now + Duration::days(5))
    }

    fn check(q: &Quotas, counted: Vec<DateTime<Utc>>, holder: QuotaHolder, now: DateTime<Utc>) -> Result<(), ApiError> {
        check_quota(&standing("c", q, &phase(now), counted, holder, now))
    }

    #[test]
    fn daily_quota_names_when_the_next_slot_opens() {
        let now = Utc::now();
        let q = Quotas { per_day: Some(2), total: None };
        let earlier = vec![now - Duration::hours(30), now - Duration::hours(20), now - Duration::hours(1)];
        match check(&q, earlier, QuotaHolder::Participant, now) {
            Err(ApiError::QuotaExceeded { retry_at: Some(at), message }) => {
                assert_eq!(at, now + Duration::hours(4));
                assert!(message.starts_with("you have used the 2 submissions of the last 24 hours; the next slot"));
            }
            other => panic!("{other:?}"),
        }
        assert!(check(&q, vec![now - Duration::hours(25)], QuotaHolder::Team, now).is_ok());
    }

    #[test]
    fn total_quota_never_reopens() {
        let now = Utc::now();
        let q = Quotas { per_day: None, total: Some(1) };
        match check(&q, vec![now - Duration::days(3)], QuotaHolder::Team, now) {
            Err(ApiError::QuotaExceeded { retry_at: None, message }) => {
                assert_eq!(message, "your team has used all 1 submissions of phase 'dev'");
            }
            other => panic!("{other:?}"),
        }
        assert!(check(&q, vec![], QuotaHolder::Participant, now).is_ok());
    }

    #[test]
    fn the_standing_counts_what_is_left_of_each_quota_and_the_smaller_is_what_a_submit_has() {
        let now = Utc::now();
        let q = Quotas { per_day: Some(2), total: Some(5) };
        let counted = vec![now - Duration::hours(1), now - Duration::hours(30), now - Duration::hours(40)];
        let s = standing("c", &q, &phase(now), counted, QuotaHolder::Participant, now);
        assert_eq!(s.total, Some(TotalStanding { limit: 5, used: 3, left: 2 }));
        assert_eq!(s.per_day, Some(DailyStanding { limit: 2, used: 1, left: 1, next_slot_at: None }));
        assert_eq!((s.left, s.phase.as_str()), (Some(1), "dev"));
        let none = standing("c", &Quotas::default(), &phase(now), vec![now], QuotaHolder::Participant, now);
        assert_eq!((none.left, none.per_day, none.total), (None, None, None));
    }

    #[test]
    fn more_used_than_a_lowered_quota_allows_leaves_nothing_and_does_not_panic() {
        let now = Utc::now();
        let q = Quotas { per_day: Some(1), total: Some(2) };
        let counted = vec![now - Duration::hours(3), now - Duration::hours(2), now - Duration::hours(1)];
        let s = standing("c", &q, &phase(now), counted.clone(), QuotaHolder::Team, now);
        assert_eq!(s.total.as_ref().map(|t| (t.used, t.left)), Some((3, 0)));
        assert_eq!(
            s.per_day.as_ref().map(|d| (d.left, d.next_slot_at)),
            Some((0, None)),
            "a spent total never reopens"
        );
        assert_eq!(s.left, Some(0));
        // With room in the total, all three must drop out of the window before one slot opens:
        // the newest's time + 24 h.
        let q = Quotas { per_day: Some(1), total: Some(9) };
        let s = standing("c", &q, &phase(now), counted, QuotaHolder::Team, now);
        assert_eq!(s.per_day.as_ref().and_then(|d| d.next_slot_at), Some(now - Duration::hours(1) + DAILY_WINDOW));
    }
}
