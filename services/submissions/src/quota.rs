//! Submission limits: phase windows and per-day / total quotas, as pure functions of the
//! challenge, the time and the participant's counted submissions.

use chrono::{DateTime, Duration, Utc};
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

/// Whose submissions a quota counts, for its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    Participant,
    Team,
}

impl Counted {
    fn whose(self) -> &'static str {
        match self {
            Counted::Participant => "you have",
            Counted::Team => "your team has",
        }
    }
}

/// The daily quota's rolling window.
pub const DAILY_WINDOW: Duration = Duration::hours(24);

/// Checks the quotas against the creation times of the participant's (or their team's) counted
/// submissions in this phase. The daily quota is a rolling 24 hours, so the next slot opens 24
/// hours after the submission that would have to drop out of the window.
pub fn check_quota(
    quotas: &Quotas,
    phase: &Phase,
    mut counted: Vec<DateTime<Utc>>,
    who: Counted,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let whose = who.whose();
    if let Some(total) = quotas.total
        && counted.len() >= total as usize
    {
        return Err(ApiError::QuotaExceeded {
            message: format!("{whose} used all {total} submissions of phase '{}'", phase.name),
            retry_at: None,
        });
    }
    if let Some(per_day) = quotas.per_day {
        let window_start = now - DAILY_WINDOW;
        counted.retain(|t| *t > window_start);
        counted.sort();
        if counted.len() >= per_day as usize {
            let retry_at = counted[counted.len() - per_day as usize] + DAILY_WINDOW;
            return Err(ApiError::QuotaExceeded {
                message: format!(
                    "{whose} used the {per_day} submissions of the last 24 hours; the next slot opens at {}",
                    retry_at.to_rfc3339()
                ),
                retry_at: Some(retry_at),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phase(now: DateTime<Utc>) -> Phase {
        Phase::new("dev", now - Duration::days(5), now + Duration::days(5))
    }

    #[test]
    fn daily_quota_names_when_the_next_slot_opens() {
        let now = Utc::now();
        let q = Quotas { per_day: Some(2), total: None };
        let earlier = vec![now - Duration::hours(30), now - Duration::hours(20), now - Duration::hours(1)];
        match check_quota(&q, &phase(now), earlier, Counted::Participant, now) {
            Err(ApiError::QuotaExceeded { retry_at: Some(at), .. }) => assert_eq!(at, now + Duration::hours(4)),
            other => panic!("{other:?}"),
        }
        assert!(check_quota(&q, &phase(now), vec![now - Duration::hours(25)], Counted::Team, now).is_ok());
    }

    #[test]
    fn total_quota_never_reopens() {
        let now = Utc::now();
        let q = Quotas { per_day: None, total: Some(1) };
        assert!(matches!(
            check_quota(&q, &phase(now), vec![now - Duration::days(3)], Counted::Participant, now),
            Err(ApiError::QuotaExceeded { retry_at: None, .. })
        ));
        assert!(check_quota(&q, &phase(now), vec![], Counted::Participant, now).is_ok());
    }
}
