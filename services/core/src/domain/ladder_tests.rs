use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

use super::*;

fn cases(values: &[f64]) -> CaseValues {
    CaseValues::new(values.iter().enumerate().map(|(i, v)| (format!("c{i:04}"), *v))).unwrap()
}

#[test]
fn the_first_submission_is_always_released() {
    let mut ladder = Ladder::new(Direction::HigherIsBetter);
    assert_eq!(ladder.released(), None);
    let out = ladder.submit(cases(&[0.0, 0.0, 1.0, 0.0])).unwrap();
    assert_eq!(out.release, Release::First);
    assert_eq!(out.released, 0.25);
    assert_eq!(out.note(), None);
    assert_eq!(ladder.released(), Some(0.25));
}

#[test]
fn a_clear_improvement_is_released_and_a_noisy_one_is_not() {
    let mut ladder = Ladder::new(Direction::HigherIsBetter);
    ladder.submit(cases(&[0.0; 8])).unwrap();
    // Every case better by 0.5: std of the differences is 0, improvement 0.5 > 0.
    let out = ladder.submit(cases(&[0.5; 8])).unwrap();
    assert_eq!(out.release, Release::Improved);
    assert_eq!(out.released, 0.5);
    assert_eq!(out.standard_error, Some(0.0));
    // One case flips from 0.5 to 1.5: mean +0.125, differences (1, 0, …) have
    // std sqrt(1/8) and standard error 0.125 — not more than it.
    let out = ladder.submit(cases(&[1.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5])).unwrap();
    assert_eq!(out.release, Release::NoSignificantImprovement);
    assert_eq!(out.released, 0.5);
    assert_eq!(out.fresh, 0.625);
    assert!((out.standard_error.unwrap() - 0.125).abs() < 1e-12);
    assert_eq!(out.note(), Some(NO_SIGNIFICANT_IMPROVEMENT));
    // The ladder submission did not move: the comparison is still against the 0.5 vector.
    assert_eq!(ladder.current_cases().unwrap().values(), &[0.5; 8]);
    // Worse is never released.
    let out = ladder.submit(cases(&[0.0; 8])).unwrap();
    assert_eq!(out.release, Release::NoSignificantImprovement);
    assert_eq!(ladder.released(), Some(0.5));
}

#[test]
fn lower_is_better_releases_decreases() {
    let mut ladder = Ladder::new(Direction::LowerIsBetter);
    ladder.submit(cases(&[1.0; 4])).unwrap();
    assert_eq!(ladder.submit(cases(&[2.0; 4])).unwrap().release, Release::NoSignificantImprovement);
    let out = ladder.submit(cases(&[0.5; 4])).unwrap();
    assert_eq!(out.release, Release::Improved);
    assert_eq!(ladder.released(), Some(0.5));
}

#[test]
fn an_unchanged_resubmission_is_not_an_improvement() {
    let mut ladder = Ladder::new(Direction::HigherIsBetter);
    let v = [0.1, 0.9, 0.4, 0.7];
    ladder.submit(cases(&v)).unwrap();
    assert_eq!(ladder.submit(cases(&v)).unwrap().release, Release::NoSignificantImprovement);
}

#[test]
fn cases_are_paired_by_id_not_by_position() {
    let mut ladder = Ladder::new(Direction::HigherIsBetter);
    ladder.submit(CaseValues::new([("b".into(), 0.0), ("a".into(), 1.0)]).unwrap()).unwrap();
    // Same values per id, given in another order: no difference at all.
    let out = ladder.submit(CaseValues::new([("a".into(), 1.0), ("b".into(), 0.0)]).unwrap()).unwrap();
    assert_eq!(out.standard_error, Some(0.0));
    assert_eq!(out.release, Release::NoSignificantImprovement);
}

#[test]
fn mismatched_cases_name_the_missing_and_unexpected_ones() {
    let mut ladder = Ladder::new(Direction::HigherIsBetter);
    ladder.submit(CaseValues::new([("a".into(), 0.0), ("b".into(), 0.0), ("c".into(), 0.0)]).unwrap()).unwrap();
    let before = ladder.clone();
    let err = ladder.submit(CaseValues::new([("a".into(), 1.0), ("d".into(), 1.0), ("c".into(), 1.0)]).unwrap());
    let err = err.unwrap_err();
    assert_eq!(err, LadderError::CaseMismatch { missing: vec!["b".into()], unexpected: vec!["d".into()] });
    assert_eq!(err.to_string(), "the cases differ from the ladder submission's: 1 missing (b); 1 unexpected (d)");
    assert_eq!(ladder, before);
}

#[test]
fn bad_case_values_are_refused() {
    assert_eq!(CaseValues::new([("a".into(), 1.0)]), Err(LadderError::TooFewCases(1)));
    assert_eq!(CaseValues::new([]), Err(LadderError::TooFewCases(0)));
    assert_eq!(CaseValues::new([("a".into(), 1.0), ("a".into(), 2.0)]), Err(LadderError::DuplicateCase("a".into())));
    assert!(matches!(
        CaseValues::new([("a".into(), 1.0), ("b".into(), f64::NAN)]),
        Err(LadderError::NotFinite { case, .. }) if case == "b"
    ));
}

#[test]
fn the_ladder_round_trips_through_json() {
    let mut ladder = Ladder::new(Direction::LowerIsBetter);
    ladder.submit(cases(&[0.25, 0.75])).unwrap();
    let json = serde_json::to_string(&ladder).unwrap();
    assert_eq!(serde_json::from_str::<Ladder>(&json).unwrap(), ladder);
}

// ---------------------------------------------------------------------------------------------
// The boosting attack (section 5 of the paper): submit random ±1 label vectors, keep those the
// feedback says beat chance, submit their majority vote.

/// The attack's size: public and private cases, submissions, repetitions averaged.
pub(crate) const PUBLIC: usize = 2_000;
pub(crate) const PRIVATE: usize = 2_000;
pub(crate) const SUBMISSIONS: usize = 700;
pub(crate) const REPETITIONS: usize = 10;
pub(crate) const EVERY: usize = 50;

/// One checkpoint of the attack: what the majority vote of the submissions kept so far scores,
/// averaged over the repetitions.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Point {
    pub submissions: usize,
    /// Raw feedback: the vote's exact public accuracy, and its private accuracy.
    pub raw_public: f64,
    pub raw_private: f64,
    pub raw_kept: f64,
    /// Ladder feedback: the score the ladder releases when the vote is submitted, the vote's
    /// exact public accuracy (never shown), and its private accuracy.
    pub ladder_released: f64,
    pub ladder_exact_public: f64,
    pub ladder_private: f64,
    pub ladder_kept: f64,
}

fn signs(rng: &mut ChaCha8Rng, n: usize) -> Vec<i8> {
    (0..n).map(|_| if rng.next_u32() & 1 == 1 { 1 } else { -1 }).collect()
}

fn correct(labels: &[i8], guess: &[i8]) -> Vec<f64> {
    labels.iter().zip(guess).map(|(y, g)| f64::from(u8::from(y == g))).collect()
}

fn accuracy(labels: &[i8], guess: &[i8]) -> f64 {
    correct(labels, guess).iter().sum::<f64>() / labels.len() as f64
}

fn majority(kept: &[&Vec<i8>], n: usize) -> Vec<i8> {
    (0..n)
        .map(|i| {
            let sum: i32 = kept.iter().map(|v| i32::from(v[i])).sum();
            if sum >= 0 { 1 } else { -1 }
        })
        .collect()
}

/// Runs the attack `REPETITIONS` times from `seed` and returns the averaged checkpoints.
pub(crate) fn boosting_attack(seed: u64) -> Vec<Point> {
    let ids: Vec<String> = (0..PUBLIC).map(|i| format!("p{i:05}")).collect();
    let public_cases = |labels: &[i8], guess: &[i8]| {
        CaseValues::new(ids.iter().cloned().zip(correct(&labels[..PUBLIC], &guess[..PUBLIC]))).unwrap()
    };
    let mut points: Vec<Point> =
        (1..=SUBMISSIONS / EVERY).map(|c| Point { submissions: c * EVERY, ..Point::default() }).collect();
    let r = REPETITIONS as f64;
    for rep in 0..REPETITIONS {
        let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_add(rep as u64));
        let labels = signs(&mut rng, PUBLIC + PRIVATE);
        let subs: Vec<Vec<i8>> = (0..SUBMISSIONS).map(|_| signs(&mut rng, PUBLIC + PRIVATE)).collect();
        let mut ladder = Ladder::new(Direction::HigherIsBetter);
        let (mut raw_kept, mut ladder_kept) = (Vec::new(), Vec::new());
        for (t, sub) in subs.iter().enumerate() {
            // Raw: the exact public accuracy; kept when above chance.
            if accuracy(&labels[..PUBLIC], &sub[..PUBLIC]) > 0.5 {
                raw_kept.push(sub);
            }
            // Ladder: kept when the feedback says the score went up (and is above chance).
            let out = ladder.submit(public_cases(&labels, sub)).unwrap();
            if out.released_new_score() && out.released > 0.5 {
                ladder_kept.push(sub);
            }
            if (t + 1) % EVERY == 0 {
                let p = &mut points[(t + 1) / EVERY - 1];
                let n = PUBLIC + PRIVATE;
                let vote = majority(&raw_kept, n);
                p.raw_public += accuracy(&labels[..PUBLIC], &vote[..PUBLIC]) / r;
                p.raw_private += accuracy(&labels[PUBLIC..], &vote[PUBLIC..]) / r;
                p.raw_kept += raw_kept.len() as f64 / r;
                let vote = majority(&ladder_kept, n);
                let released = ladder.clone().submit(public_cases(&labels, &vote)).unwrap().released;
                p.ladder_released += released / r;
                p.ladder_exact_public += accuracy(&labels[..PUBLIC], &vote[..PUBLIC]) / r;
                p.ladder_private += accuracy(&labels[PUBLIC..], &vote[PUBLIC..]) / r;
                p.ladder_kept += ladder_kept.len() as f64 / r;
            }
        }
    }
    points
}

#[test]
fn the_ladder_resists_the_boosting_attack_that_raw_feedback_rewards() {
    let points = boosting_attack(2015);
    // One standard error of an accuracy near 0.5 on the public split.
    let sigma = 0.5 / (PUBLIC as f64).sqrt();
    let last = points.last().unwrap();
    // Raw feedback: the public score climbs far above chance, the private one does not.
    assert!(last.raw_public > 0.6, "{last:?}");
    assert!((last.raw_private - 0.5).abs() < 0.01, "{last:?}");
    for p in &points {
        let raw_gap = p.raw_public - p.raw_private;
        let ladder_gap = (p.ladder_released - p.ladder_private).abs();
        assert!((p.ladder_private - 0.5).abs() < 0.01, "{p:?}");
        // Ladder feedback: what the participant sees stays within 3 standard errors of the
        // private score (the best of a few hundred random vectors is that lucky), and the
        // gap stops growing while raw feedback's keeps growing.
        assert!(ladder_gap < 3.0 * sigma, "{p:?}");
        if p.submissions >= 200 {
            assert!(ladder_gap < raw_gap / 2.0, "{p:?}");
        }
    }
    assert!(last.raw_public - last.raw_private > 4.0 * (last.ladder_released - last.ladder_private), "{last:?}");
}

/// Prints the table in docs/ladder-boosting-attack.md:
/// `cargo test -p darkroom-core --lib ladder_boosting_attack_table -- --ignored --nocapture`
#[test]
#[ignore = "prints the table of docs/ladder-boosting-attack.md"]
fn ladder_boosting_attack_table() {
    println!(
        "| submissions | raw: public | raw: private | raw: kept | ladder: released | ladder: private | ladder: exact public (not shown) | ladder: kept |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for p in boosting_attack(2015) {
        println!(
            "| {} | {:.4} | {:.4} | {:.1} | {:.4} | {:.4} | {:.4} | {:.1} |",
            p.submissions,
            p.raw_public,
            p.raw_private,
            p.raw_kept,
            p.ladder_released,
            p.ladder_private,
            p.ladder_exact_public,
            p.ladder_kept
        );
    }
}
