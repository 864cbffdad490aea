//! The private board at a phase's close, over 10,000 participants (smoke: 100), in memory —
//! the pure part of the close, without the score store:
//!
//! - `board_and_commitment`: each participant's 2 final selections, the best by private score
//!   kept, ranked (private rank, and public rank beside it), the board built, canonicalised and
//!   committed to (SHA-256 over salt and canonical bytes).
//! - `bootstrap`: paired-bootstrap intervals and ties with #1 for 10,000 rows × 1,000 cases with
//!   200 resamples (smoke: 100 × 100 × 50). The cost is linear in the resamples: the default
//!   2,000 costs 10 times the figure measured here.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode};
use darkroom_benches::{ms, pick, write_results};
use darkroom_core::domain::Direction;
use darkroom_core::domain::bootstrap::{BootstrapConfig, paired_bootstrap};
use darkroom_core::domain::commitment::{FinalBoard, FinalBoardRow, Salt, commit};
use rand::{Rng, SeedableRng};
use serde_json::json;

/// One final selection: public and private accuracy.
struct Selection {
    submission_id: String,
    public: f64,
    private: f64,
}

struct Entrant {
    name: String,
    selections: Vec<Selection>,
}

fn entrants(n: usize) -> Vec<Entrant> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(15);
    (0..n)
        .map(|p| Entrant {
            name: format!("Lab {p}"),
            selections: (0..2)
                .map(|s| {
                    let skill: f64 = rng.random_range(0.5..0.95);
                    Selection {
                        submission_id: format!("0190a7c2-{p:08}-{s}"),
                        public: skill + rng.random_range(-0.01..0.01),
                        private: skill + rng.random_range(-0.01..0.01),
                    }
                })
                .collect(),
        })
        .collect()
}

/// Best selection per participant by `key`, ranked best first (ties by submission id).
fn ranked(entrants: &[Entrant], key: impl Fn(&Selection) -> f64) -> Vec<(&Entrant, &Selection)> {
    let mut best: Vec<(&Entrant, &Selection)> = entrants
        .iter()
        .map(|e| (e, e.selections.iter().max_by(|a, b| key(a).total_cmp(&key(b))).expect("2 selections")))
        .collect();
    best.sort_by(|a, b| key(b.1).total_cmp(&key(a.1)).then_with(|| a.1.submission_id.cmp(&b.1.submission_id)));
    best
}

fn private_board(entrants: &[Entrant], salt: &Salt) -> (FinalBoard, String) {
    let public_rank: BTreeMap<&str, u32> =
        ranked(entrants, |s| s.public).iter().enumerate().map(|(i, (e, _))| (e.name.as_str(), i as u32 + 1)).collect();
    let rows = ranked(entrants, |s| s.private)
        .into_iter()
        .enumerate()
        .map(|(i, (e, s))| FinalBoardRow {
            rank: i as u32 + 1,
            participant: e.name.clone(),
            submission_id: s.submission_id.clone(),
            metrics: BTreeMap::from([("accuracy".to_owned(), s.private)]),
            public_rank: public_rank.get(e.name.as_str()).copied(),
        })
        .collect();
    let board = FinalBoard { rows };
    let commitment = commit(&board, salt).expect("finite metrics").to_string();
    (board, commitment)
}

fn main() {
    let participants = pick(10_000, 100);
    let (rows, cases, resamples) = pick((10_000, 1_000, 200), (100, 100, 50));
    let entrants = entrants(participants);
    let salt = Salt::generate(&mut rand::rngs::StdRng::seed_from_u64(16));
    let mut rng = rand::rngs::StdRng::seed_from_u64(17);
    let values: Vec<Vec<f64>> = (0..rows)
        .map(|r| {
            let p = 0.6 + 0.3 * r as f64 / rows as f64;
            (0..cases).map(|_| f64::from(u8::from(rng.random_bool(p)))).collect()
        })
        .collect();
    let config = BootstrapConfig { resamples, ..BootstrapConfig::default() };

    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("private_board");
    group.sample_size(10).sampling_mode(SamplingMode::Flat).measurement_time(Duration::from_secs(10));
    group.bench_function("board_and_commitment", |b| b.iter(|| private_board(&entrants, &salt).1));
    group.bench_function("bootstrap", |b| {
        b.iter(|| paired_bootstrap(&values, Direction::HigherIsBetter, &config).expect("intervals").len())
    });
    group.finish();
    c.final_summary();

    // One timed run of each for the results file.
    let t = Instant::now();
    let (board, commitment) = private_board(&entrants, &salt);
    let board_time = t.elapsed();
    let t = Instant::now();
    let intervals = paired_bootstrap(&values, Direction::HigherIsBetter, &config).expect("intervals");
    let bootstrap_time = t.elapsed();
    let tied = intervals.iter().filter(|r| r.tied_with_leader).count();
    eprintln!(
        "[private_board] {participants} participants: board and commitment {:.1} ms; bootstrap {rows} rows × {cases} cases × {resamples} resamples {:.0} ms ({tied} tied with #1)",
        ms(board_time),
        ms(bootstrap_time),
    );
    write_results(
        "private_board",
        json!({
            "participants": participants,
            "board_rows": board.rows.len(),
            "commitment": commitment,
            "board_and_commitment_ms": ms(board_time),
            "bootstrap": { "rows": rows, "cases": cases, "resamples": resamples, "ms": ms(bootstrap_time), "tied_with_leader": tied },
        }),
    );
}
