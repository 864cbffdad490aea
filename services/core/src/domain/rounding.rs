//! Rounding for the `rounded` feedback mode: the server rounds a score to the phase's
//! `decimals` before it leaves it, so no digit beyond them can be read from the API, the pages,
//! the live feed or the CLI.
//!
//! [`round_to`] formats the value with exactly `decimals` decimals (Rust's `{:.N}`, which rounds
//! the exact binary value, ties to even) and reads that decimal back as the nearest `f64`.
//! Binary floats mean the rounding is of the value actually stored, not of the decimal one
//! typed: `2.675` is stored as 2.67499999999999982236431605997495353221893310546875, so
//! `round_to(2.675, 2)` is `2.67`, not `2.68` (as in Python's `round`). Whatever happens at a
//! tie, the promise holds: serde_json prints an `f64` as the shortest decimal that reads back
//! to it (ryu), and the `decimals`-digit decimal we read back is such a decimal, so the printed
//! form never has more than `decimals` decimals — apart from the `.0` serde_json appends to an
//! integral value, which carries no digit. NaN and infinities are returned unchanged (they are
//! refused before they become scores).

/// `value` rounded to `decimals` decimals, as an `f64` whose JSON form (serde_json) has at most
/// `decimals` decimals.
pub fn round_to(value: f64, decimals: u32) -> f64 {
    if !value.is_finite() {
        return value;
    }
    format!("{value:.prec$}", prec = decimals as usize).parse().expect("a formatted f64 reads back")
}

#[cfg(test)]
mod tests {
    use rand_chacha::ChaCha8Rng;
    use rand_chacha::rand_core::{RngCore, SeedableRng};

    use super::*;

    /// How many decimals the JSON form of `v` shows (its last significant digit's position),
    /// counting a lone `.0` as none and reading exponents (`1e-7` has 7).
    fn json_decimals(v: f64) -> i64 {
        let s = serde_json::to_string(&v).unwrap();
        let (mantissa, exp) = match s.split_once('e') {
            Some((m, e)) => (m, e.parse::<i64>().unwrap()),
            None => (s.as_str(), 0),
        };
        let frac = mantissa.split_once('.').map_or("", |(_, f)| f);
        let frac = if frac == "0" { "" } else { frac };
        (frac.len() as i64 - exp).max(0)
    }

    #[test]
    fn values_round_to_the_asked_decimals() {
        assert_eq!(round_to(0.123456789, 4), 0.1235);
        assert_eq!(serde_json::to_string(&round_to(0.123456789, 4)).unwrap(), "0.1235");
        assert_eq!(round_to(0.123456789, 0), 0.0);
        assert_eq!(round_to(0.987654321, 2), 0.99);
        // 2.675 is stored just below 2.675: it rounds down.
        assert_eq!(serde_json::to_string(&round_to(2.675, 2)).unwrap(), "2.67");
        // 0.125 is exact in binary: a true tie, to even.
        assert_eq!(round_to(0.125, 2), 0.12);
        assert_eq!(serde_json::to_string(&round_to(3.999, 2)).unwrap(), "4.0");
        assert_eq!(round_to(1e-9, 3), 0.0);
        assert!(round_to(f64::NAN, 2).is_nan());
    }

    #[test]
    fn no_digit_beyond_the_decimals_is_ever_printed() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for _ in 0..20_000 {
            // Scores of every magnitude a metric may take, some negative.
            let unit = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            let scale = 10f64.powi((rng.next_u32() % 12) as i32 - 6);
            let sign = if rng.next_u32() & 1 == 1 { -1.0 } else { 1.0 };
            let v = sign * unit * scale;
            for d in 0..=10 {
                let r = round_to(v, d);
                assert!(json_decimals(r) <= i64::from(d), "{v} to {d}: {}", serde_json::to_string(&r).unwrap());
                // Half a unit of the last decimal, give or take the f64's own precision.
                let tolerance = 0.5 * 10f64.powi(-(d as i32)) + 4.0 * f64::EPSILON * v.abs();
                assert!((r - v).abs() <= tolerance, "{v} to {d}: {r}");
            }
        }
    }
}
