//! Numbers and times as people read them. Pure functions, so both the server and the browser
//! render the same text (hydration depends on it).

use chrono::{DateTime, Utc};

/// `1.5 MiB`, `512 B`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{n} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

/// A metric's value: four decimals, which is what leaderboards of scores in [0, 1] need.
pub fn metric(value: f64) -> String {
    format!("{value:.4}")
}

/// A metric's value with the decimals the server rounded it to (`rounded` feedback), never a
/// digit more; four without.
pub fn metric_to(value: f64, decimals: Option<u32>) -> String {
    match decimals {
        Some(d) => format!("{value:.prec$}", prec = d as usize),
        None => metric(value),
    }
}

/// `2026-11-23 14:05 UTC`.
pub fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// `at`, or the next whole minute after it: for a time something becomes possible, shown to
/// the minute by [`time`] (which cuts seconds off, so it would name a minute too early).
pub fn minute_up(at: DateTime<Utc>) -> DateTime<Utc> {
    let whole = at.timestamp().div_euclid(60) * 60;
    if whole == at.timestamp() && at.timestamp_subsec_nanos() == 0 {
        return at;
    }
    DateTime::from_timestamp(whole + 60, 0).unwrap_or(at)
}

/// Someone else's words as a sentence in ours: a full stop added unless they end one already.
pub fn sentence(words: &str) -> String {
    match words.trim_end().chars().last() {
        Some('.' | '!' | '?') | None => words.trim_end().to_owned(),
        Some(_) => format!("{}.", words.trim_end()),
    }
}

/// A coarse duration: `3 d 4 h`, `4 h 05 min`, `5 min 07 s`, `7 s`.
pub fn duration(seconds: i64) -> String {
    let s = seconds.max(0);
    let (d, h, m, sec) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60, s % 60);
    if d > 0 {
        format!("{d} d {h} h")
    } else if h > 0 {
        format!("{h} h {m:02} min")
    } else if m > 0 {
        format!("{m} min {sec:02} s")
    } else {
        format!("{sec} s")
    }
}

/// A ticking countdown: `29 d 23:59:58`, `04:05:07`.
pub fn countdown(seconds: i64) -> String {
    let s = seconds.max(0);
    let (d, h, m, sec) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60, s % 60);
    if d > 0 { format!("{d} d {h:02}:{m:02}:{sec:02}") } else { format!("{h:02}:{m:02}:{sec:02}") }
}

/// Where a phase stands at `now`, with a countdown to its next edge.
pub fn phase_countdown(starts_at: DateTime<Utc>, ends_at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    if now < starts_at {
        format!("opens in {}", countdown((starts_at - now).num_seconds()))
    } else if now < ends_at {
        format!("closes in {}", countdown((ends_at - now).num_seconds()))
    } else {
        "closed".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn anothers_words_end_as_one_sentence() {
        assert_eq!(sentence("two accounts"), "two accounts.");
        assert_eq!(sentence("two accounts. "), "two accounts.");
        assert_eq!(sentence("why?"), "why?");
        assert_eq!(sentence(""), "");
    }

    #[test]
    fn a_time_is_rounded_up_to_its_minute_unless_it_is_one() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(minute_up(at("2026-12-05T09:30:45Z")), at("2026-12-05T09:31:00Z"));
        assert_eq!(minute_up(at("2026-12-05T09:30:00.001Z")), at("2026-12-05T09:31:00Z"));
        assert_eq!(minute_up(at("2026-12-05T09:30:00Z")), at("2026-12-05T09:30:00Z"));
    }

    #[test]
    fn bytes_pick_a_readable_unit() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(5 * 1024 * 1024 * 1024), "5.0 GiB");
    }

    #[test]
    fn durations_keep_two_units() {
        assert_eq!(duration(7), "7 s");
        assert_eq!(duration(307), "5 min 07 s");
        assert_eq!(duration(4 * 3600 + 300), "4 h 05 min");
        assert_eq!(duration(3 * 86_400 + 4 * 3600 + 59), "3 d 4 h");
        assert_eq!(duration(-5), "0 s");
    }

    #[test]
    fn countdown_follows_the_phase() {
        let at = |h| Utc.with_ymd_and_hms(2026, 1, 1, h, 0, 0).unwrap();
        assert_eq!(phase_countdown(at(10), at(12), at(9)), "opens in 01:00:00");
        assert_eq!(phase_countdown(at(10), at(12), at(11)), "closes in 01:00:00");
        assert_eq!(countdown(3 * 86_400 + 4 * 3600 + 5 * 60 + 6), "3 d 04:05:06");
        assert_eq!(phase_countdown(at(10), at(12), at(12)), "closed");
    }
}
