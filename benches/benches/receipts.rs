//! Score receipts (issue 17): what `darkroom verify --board` costs on a 10,000-row board
//! (smoke: 100), in memory — the chain's 10,000 Ed25519 signatures and links checked, then
//! every board row matched to its receipt — and how large a receipt is.
//!
//! `cargo bench -p darkroom-benches --bench receipts`

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use criterion::{Criterion, SamplingMode};
use darkroom_api::{ChainHead, Direction, Leaderboard, LeaderboardEntry, Receipt, ReceiptClaims, SignedReceipt};
use darkroom_benches::{ms, pick, write_results};
use darkroom_core::domain::Resources;
use darkroom_core::domain::commitment::Salt;
use darkroom_core::domain::receipt::{
    GENESIS_HASH, KeyRing, RECEIPT_FORMAT, ReceiptSigner, SealedValues, Values, limits_of, metrics_text, seal,
    signed_bytes, time_text, verify_board, verify_chain,
};
use serde_json::json;

/// A receipt's claims as the evaluator writes them for a demo-like score (two metrics, every
/// digest present); `sealed` as a phase with a private split writes them.
fn claims(i: usize, accuracy: f64, sealed: bool) -> ReceiptClaims {
    let t = Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap() + chrono::Duration::seconds(i as i64);
    let metrics = metrics_text(&BTreeMap::from([("accuracy".to_owned(), accuracy), ("roc_auc".to_owned(), 0.5)]));
    let score_json = format!("{:064x}", i + 1);
    let (score_json_sha256, sealed) = if sealed {
        let values = SealedValues {
            public_metrics: None,
            private_metrics: Some(metrics.clone()),
            score_json_sha256: score_json,
            cases_csv_sha256: Some(format!("{:064x}", i + 2)),
        };
        (None, Some(seal(&values, &Salt([7; 32]))))
    } else {
        (Some(score_json), None)
    };
    ReceiptClaims {
        submission_id: format!("0190a7c2-0000-7000-8000-{i:012}").parse().expect("a UUID"),
        participant_id: format!("0190a7c2-0000-7000-9000-{i:012}").parse().expect("a UUID"),
        phase: "dev".into(),
        attempt: 1,
        image_digest: Some(format!("sha256:{:064x}", i + 3)),
        evaluation_image: "registry.example.org/organizer/eval:1".into(),
        evaluation_image_id: Some(format!("sha256:{:064x}", 4)),
        dataset_fingerprint: Some(format!("{:064x}", 5)),
        ground_truth_fingerprint: Some(format!("{:064x}", 6)),
        output_archive_sha256: format!("{:064x}", i + 7),
        score_json_sha256,
        cases_csv_sha256: None,
        sealed,
        metrics,
        limits: limits_of(&Resources::new(1.0, 2048, 600, 64)),
        sandbox_policy: 1,
        runner: Some("runner-1".into()),
        evaluator: "evaluator-1".into(),
        darkroom_version: "0.1.0".into(),
        submitted_at: time_text(t),
        run_finished_at: time_text(t + chrono::Duration::seconds(60)),
        scored_at: time_text(t + chrono::Duration::seconds(65)),
        generation: None,
    }
}

/// A chain of `n` receipts (one per participant) and the board it backs, best first.
fn chain_and_board(n: usize) -> (Vec<SignedReceipt>, Leaderboard) {
    let signer = ReceiptSigner::from_seed([3; 32]);
    let mut chain: Vec<SignedReceipt> = Vec::with_capacity(n);
    for i in 0..n {
        let prev = chain.last().map_or_else(|| GENESIS_HASH.to_owned(), |r| r.hash.clone());
        // Scored in an order unrelated to rank.
        let accuracy = 0.5 + ((i * 7919) % n) as f64 / (2 * n) as f64;
        let receipt = Receipt {
            format: RECEIPT_FORMAT,
            challenge: "bench".into(),
            seq: i as u64 + 1,
            prev,
            claims: claims(i, accuracy, false),
        };
        chain.push(signer.sign(receipt));
    }
    let mut rows: Vec<&SignedReceipt> = chain.iter().collect();
    let value = |r: &SignedReceipt| r.receipt.claims.metrics["accuracy"].parse::<f64>().expect("a number");
    rows.sort_by(|a, b| value(b).total_cmp(&value(a)));
    let time = |s: &str| chrono::DateTime::parse_from_rfc3339(s).expect("a time").with_timezone(&Utc);
    let entries = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let c = &r.receipt.claims;
            LeaderboardEntry {
                rank: i as u32 + 1,
                participant: format!("participant-{i:05}"),
                team: None,
                submission_id: c.submission_id,
                metrics: c.metrics.iter().map(|(k, v)| (k.clone(), v.parse().expect("a number"))).collect(),
                submissions: 1,
                submitted_at: time(&c.submitted_at),
                scored_at: time(&c.scored_at),
                interval: None,
            }
        })
        .collect();
    let head = chain.last().map(|r| ChainHead { length: r.receipt.seq, hash: r.hash.clone() });
    let board = Leaderboard {
        challenge: "bench".into(),
        phase: "dev".into(),
        rank_by: "accuracy".into(),
        direction: Direction::HigherIsBetter,
        entries,
        decimals: None,
        chain: head,
        evaluator: None,
        generations: Vec::new(),
    };
    (chain, board)
}

fn verify(chain: &[SignedReceipt], board: &Leaderboard, keys: &KeyRing) -> usize {
    let verified = verify_chain("bench", chain.to_vec(), keys).expect("the chain verifies");
    verify_board(board, &verified, Values::Exact).expect("the board verifies")
}

fn main() {
    let rows = pick(10_000, 100);
    let (chain, board) = chain_and_board(rows);
    let keys = KeyRing::new(&[ReceiptSigner::from_seed([3; 32]).public_key().clone()]).expect("a key");

    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("receipts");
    group.sample_size(10).sampling_mode(SamplingMode::Flat).measurement_time(Duration::from_secs(10));
    group.bench_function("verify_board", |b| b.iter(|| verify(&chain, &board, &keys)));
    group.finish();
    c.final_summary();

    let t = Instant::now();
    let checked = verify(&chain, &board, &keys);
    let verify_time = t.elapsed();
    // Sizes: the signed bytes, and the receipt as served (JSON with signature, key id and hash).
    let plain = &chain[0];
    let sealed =
        ReceiptSigner::from_seed([3; 32]).sign(Receipt { claims: claims(0, 0.9, true), ..plain.receipt.clone() });
    let size = |r: &SignedReceipt| (signed_bytes(&r.receipt).len(), serde_json::to_vec(r).expect("JSON").len());
    let ((plain_signed, plain_served), (sealed_signed, sealed_served)) = (size(plain), size(&sealed));
    eprintln!(
        "[receipts] verify {rows} rows ({checked} board rows, {rows} signatures): {:.1} ms; receipt {plain_signed} bytes signed, {plain_served} served ({sealed_signed}/{sealed_served} with a sealed private split)",
        ms(verify_time)
    );
    write_results(
        "receipts",
        json!({
            "rows": rows,
            "verify_board_ms": ms(verify_time),
            "receipt_bytes": { "signed": plain_signed, "served": plain_served },
            "sealed_receipt_bytes": { "signed": sealed_signed, "served": sealed_served },
        }),
    );
}
