//! Tests of the receipts: the signed bytes are fixed, and a flipped byte anywhere in a receipt,
//! a chain link or a board row is caught.

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use darkroom_api::{Direction, LeaderboardEntry};

use super::*;

fn signer() -> ReceiptSigner {
    ReceiptSigner::from_seed([7; 32])
}

fn sub(n: u8) -> SubmissionId {
    format!("0190a7c2-5b1e-7c3d-8e4f-0000000000{n:02x}").parse().unwrap()
}

fn at(s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 16, 0, s).unwrap() + chrono::Duration::milliseconds(123)
}

fn claims(n: u8, accuracy: f64) -> ReceiptClaims {
    ReceiptClaims {
        submission_id: sub(n),
        participant_id: format!("0190a7c2-5b1e-7c3d-8e4f-1000000000{n:02x}").parse().unwrap(),
        phase: "dev".into(),
        attempt: 1,
        image_digest: Some(format!("sha256:{}", "ab".repeat(32))),
        evaluation_image: "eval:1".into(),
        evaluation_image_id: Some(format!("sha256:{}", "cd".repeat(32))),
        dataset_fingerprint: None,
        ground_truth_fingerprint: None,
        output_archive_sha256: "ef".repeat(32),
        score_json_sha256: Some("01".repeat(32)),
        cases_csv_sha256: None,
        sealed: None,
        metrics: metrics_text(&BTreeMap::from([("accuracy".into(), accuracy)])),
        limits: limits_of(&Resources::new(1.5, 512, 60, 10)),
        sandbox_policy: 1,
        runner: Some("runner-1".into()),
        evaluator: "evaluator-1".into(),
        darkroom_version: "0.1.0".into(),
        submitted_at: time_text(at(n.into())),
        run_finished_at: time_text(at(u32::from(n) + 1)),
        scored_at: time_text(at(u32::from(n) + 2)),
        generation: None,
    }
}

/// A chain of `n` receipts, scores 0.5, 0.6, … as a signer appends them.
fn chain(n: u8) -> Vec<SignedReceipt> {
    let s = signer();
    let mut out: Vec<SignedReceipt> = Vec::new();
    for i in 1..=n {
        let prev = out.last().map_or(GENESIS_HASH.to_owned(), |r| r.hash.clone());
        let receipt = Receipt {
            format: RECEIPT_FORMAT,
            challenge: "c".into(),
            seq: u64::from(i),
            prev,
            claims: claims(i, 0.4 + f64::from(i) / 10.0),
        };
        out.push(s.sign(receipt));
    }
    out
}

fn keys() -> KeyRing {
    KeyRing::new(&[signer().public_key().clone()]).unwrap()
}

/// The board a chain backs: best first.
fn board(chain: &[SignedReceipt]) -> Leaderboard {
    let mut rows: Vec<&SignedReceipt> = chain.iter().collect();
    rows.sort_by(|a, b| b.receipt.claims.metrics["accuracy"].cmp(&a.receipt.claims.metrics["accuracy"]));
    Leaderboard {
        challenge: "c".into(),
        phase: "dev".into(),
        rank_by: "accuracy".into(),
        direction: Direction::HigherIsBetter,
        entries: rows
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                let c = &r.receipt.claims;
                LeaderboardEntry {
                    rank: i as u32 + 1,
                    participant: format!("p{i}"),
                    team: None,
                    submission_id: c.submission_id,
                    metrics: c.metrics.iter().map(|(k, v)| (k.clone(), v.parse().unwrap())).collect(),
                    submissions: 1,
                    submitted_at: DateTime::parse_from_rfc3339(&c.submitted_at).unwrap().with_timezone(&Utc),
                    scored_at: DateTime::parse_from_rfc3339(&c.scored_at).unwrap().with_timezone(&Utc),
                    interval: None,
                }
            })
            .collect(),
        decimals: None,
        chain: chain.last().map(|r| ChainHead { length: r.receipt.seq, hash: r.hash.clone() }),
        evaluator: None,
        generations: Vec::new(),
    }
}

#[test]
fn the_signed_bytes_are_canonical_and_fixed() {
    let r = &chain(1)[0];
    let bytes = String::from_utf8(signed_bytes(&r.receipt)).unwrap();
    assert!(
        bytes.starts_with(
            r#"{"challenge":"c","claims":{"attempt":1,"darkroom_version":"0.1.0","evaluation_image":"eval:1","#
        ),
        "{bytes}"
    );
    assert!(bytes.contains(r#""limits":{"allow_root":false,"cpus":"1.5","gpus":0,"memory_mb":512,"#), "{bytes}");
    assert!(bytes.contains(r#""metrics":{"accuracy":"0.5"}"#), "{bytes}");
    assert!(bytes.contains(r#""submitted_at":"2026-11-30T16:00:01.123Z""#), "{bytes}");
    assert!(!bytes.contains(' ') && !bytes.contains("null"), "{bytes}");
    assert!(
        bytes.ends_with(
            r#""format":1,"prev":"0000000000000000000000000000000000000000000000000000000000000000","seq":1}"#
        )
    );
    // The same content in another order of construction gives the same bytes, hash and signature.
    let again = signer().sign(serde_json::from_str(&serde_json::to_string(&r.receipt).unwrap()).unwrap());
    assert_eq!(&again, r);
    assert_eq!(r.hash, receipt_hash(&r.receipt));
    assert_eq!(r.key_id, key_id(&SigningKey::from_bytes(&[7; 32]).verifying_key()));
}

#[test]
fn metrics_and_times_are_spelled_exactly() {
    assert_eq!(metric_text(1.0), "1.0");
    assert_eq!(metric_text(0.1 + 0.2), "0.30000000000000004");
    assert_eq!(metric_text(1e-7), "1e-7");
    assert_eq!(time_text(at(5)), "2026-11-30T16:00:05.123Z");
}

#[test]
fn a_chain_verifies_and_backs_its_board() {
    let c = chain(4);
    let b = board(&c);
    let verified = verify_chain("c", c.clone(), &keys()).unwrap();
    assert_eq!(verified.head(), b.chain);
    assert_eq!(verify_board(&b, &verified, Values::Exact), Ok(4));
    assert_eq!(check_on_board(&c[1], &b, Values::Exact), Ok(OnBoard::Shown { rank: 3 }));
    verified.check_member(&c[1]).unwrap();
    // A head served earlier is still held by a chain that grew since.
    let earlier = ChainHead { length: 2, hash: c[1].hash.clone() };
    verified.holds(&earlier).unwrap();
}

#[test]
fn a_flipped_byte_anywhere_in_the_chain_is_caught() {
    let c = chain(3);
    let json = serde_json::to_vec(&c).unwrap();
    let mut caught = 0;
    for i in 0..json.len() {
        let mut bytes = json.clone();
        bytes[i] ^= 0x01;
        // A receipt that no longer reads is refused as such; one that reads must fail a check.
        let Ok(tampered) = serde_json::from_slice::<Vec<SignedReceipt>>(&bytes) else {
            caught += 1;
            continue;
        };
        let result = verify_chain("c", tampered, &keys());
        assert!(result.is_err(), "byte {i} ({:?}) flipped went unnoticed", json[i] as char);
        caught += 1;
    }
    assert_eq!(caught, json.len());
}

#[test]
fn a_flipped_byte_in_a_backed_board_field_is_caught() {
    let c = chain(3);
    let verified = verify_chain("c", c.clone(), &keys()).unwrap();
    let b = board(&c);
    // Everything a receipt backs: ids, metrics, times, the chain head, ranks, phase.
    let mut backed = b.clone();
    for row in &mut backed.entries {
        row.participant = String::new();
    }
    let json = serde_json::to_vec(&backed).unwrap();
    let text = String::from_utf8(json.clone()).unwrap();
    let unbacked = ["\"participant\":\"\"", "\"team\":null", "\"submissions\":1", "\"rank_by\":\"accuracy\""];
    let skip: Vec<std::ops::Range<usize>> = unbacked
        .iter()
        .flat_map(|needle| text.match_indices(needle).map(|(i, m)| i..i + m.len()).collect::<Vec<_>>())
        .collect();
    for i in 0..json.len() {
        if skip.iter().any(|r| r.contains(&i)) || !text.is_char_boundary(i) {
            continue;
        }
        let mut bytes = json.clone();
        bytes[i] ^= 0x01;
        let Ok(tampered) = serde_json::from_slice::<Leaderboard>(&bytes) else { continue };
        if tampered == backed || tampered.challenge != backed.challenge || tampered.direction != backed.direction {
            continue; // the same board, or fields naming which board this is (checked by the caller)
        }
        assert!(
            verify_board(&tampered, &verified, Values::Exact).is_err(),
            "byte {i} ({:?}) of the board flipped went unnoticed: {}",
            json[i] as char,
            &text[i.saturating_sub(30)..(i + 10).min(text.len())]
        );
    }
}

#[test]
fn each_kind_of_tampering_is_named() {
    let c = chain(4);
    let k = keys();
    let verify = |c: Vec<SignedReceipt>| verify_chain("c", c, &k).unwrap_err();

    // A metric changed in a receipt: its hash no longer matches; re-hashed, the signature fails.
    let mut t = c.clone();
    t[1].receipt.claims.metrics.insert("accuracy".into(), "0.99".into());
    assert!(matches!(verify(t.clone()), VerifyError::Hash { seq: 2, .. }));
    t[1].hash = receipt_hash(&t[1].receipt);
    assert!(matches!(verify(t), VerifyError::Signature { seq: 2, .. }));

    // A flipped bit of a signature.
    let mut t = c.clone();
    let mut sig = hex::decode(&t[2].signature).unwrap();
    sig[10] ^= 0x80;
    t[2].signature = hex::encode(sig);
    assert_eq!(verify(t).to_string(), format!("receipt #3 ({}): signature does not verify", sub(3)));

    // A receipt removed: a gap.
    let mut t = c.clone();
    t.remove(1);
    assert_eq!(verify(t), VerifyError::Gap { seq: 2, found: 3 });

    // Two swapped.
    let mut t = c.clone();
    t.swap(1, 2);
    assert_eq!(verify(t), VerifyError::Gap { seq: 2, found: 3 });

    // A receipt removed and the rest renumbered and re-signed by another key.
    let rogue = ReceiptSigner::from_seed([8; 32]);
    let mut t: Vec<SignedReceipt> = c.clone();
    t.remove(1);
    for (i, r) in t.iter_mut().enumerate().skip(1) {
        r.receipt.seq = i as u64 + 1;
        *r = rogue.sign(r.receipt.clone());
    }
    assert!(matches!(verify(t), VerifyError::UnknownKey { seq: 2, .. }));

    // A broken link, even correctly signed (the signer itself cannot rewrite history unseen:
    // the board's head names the old chain).
    let s = signer();
    let mut t = c.clone();
    t[2].receipt.prev = GENESIS_HASH.into();
    t[2] = s.sign(t[2].receipt.clone());
    let e = verify(t);
    assert!(matches!(e, VerifyError::Link { seq: 3, .. }));
    assert!(e.to_string().starts_with("chain link at seq 3: prev is 0000"), "{e}");

    // The board names a head the chain does not hold (a receipt altered and the chain rebuilt).
    let verified = verify_chain("c", c.clone(), &k).unwrap();
    let mut b = board(&c);
    b.chain = Some(ChainHead { length: 4, hash: c[0].hash.clone() });
    assert!(matches!(verify_board(&b, &verified, Values::Exact), Err(VerifyError::Head { length: 4, .. })));
    b.chain = Some(ChainHead { length: 5, hash: c[3].hash.clone() });
    assert!(matches!(verify_board(&b, &verified, Values::Exact), Err(VerifyError::Head { length: 5, .. })));

    // A board row altered, unbacked, or out of order.
    let mut b = board(&c);
    b.entries[0].metrics.insert("accuracy".into(), 0.81);
    let e = verify_board(&b, &verified, Values::Exact).unwrap_err();
    assert_eq!(e.to_string(), format!("board row 1 ({}): board shows accuracy = 0.81, the receipt says 0.8", sub(4)));
    let mut b = board(&c);
    b.entries[2].submission_id = sub(9);
    assert_eq!(verify_board(&b, &verified, Values::Exact), Err(VerifyError::NotBacked { rank: 3, submission: sub(9) }));
    let mut b = board(&c);
    b.entries.swap(0, 1);
    assert!(matches!(verify_board(&b, &verified, Values::Exact), Err(VerifyError::Order { rank: 1, .. })));
    let mut b = board(&c);
    b.phase = "final".into();
    assert!(matches!(verify_board(&b, &verified, Values::Exact), Err(VerifyError::WrongPhase { rank: 1, .. })));

    // The receipt served for a submission is not the one in the chain.
    let mut other = c[1].clone();
    other.receipt.claims.attempt = 2;
    let other = signer().sign(other.receipt);
    assert!(matches!(verified.check_member(&other), Err(VerifyError::NotInChain { seq: 2, .. })));
}

#[test]
fn boards_in_hidden_modes_compare_backing_and_whole_second_times() {
    let c = chain(2);
    let verified = verify_chain("c", c.clone(), &keys()).unwrap();
    let mut b = board(&c);
    for row in &mut b.entries {
        row.metrics.insert("accuracy".into(), (row.metrics["accuracy"] * 10.0).round() / 10.0 + 0.05);
        row.submitted_at = whole_second(row.submitted_at);
    }
    assert_eq!(Values::of(darkroom_api::Feedback::Rounded), Values::NotCompared);
    assert_eq!(verify_board(&b, &verified, Values::NotCompared), Ok(2));
    assert!(matches!(verify_board(&b, &verified, Values::Exact), Err(VerifyError::Value { .. })));
    b.entries[1].scored_at += chrono::Duration::seconds(1);
    assert!(matches!(verify_board(&b, &verified, Values::NotCompared), Err(VerifyError::Time { rank: 2, .. })));
}

#[test]
fn sealed_values_commit_with_a_salt() {
    let values = SealedValues {
        public_metrics: None,
        private_metrics: Some(metrics_text(&BTreeMap::from([("accuracy".into(), 0.7)]))),
        score_json_sha256: "01".repeat(32),
        cases_csv_sha256: None,
    };
    let salt = Salt([3; 32]);
    let sealed = seal(&values, &salt);
    assert_eq!(sealed.len(), 64);
    assert_ne!(sealed, seal(&values, &Salt([4; 32])), "the salt counts");
    let mut other = values.clone();
    other.private_metrics = Some(metrics_text(&BTreeMap::from([("accuracy".into(), 0.71)])));
    assert_ne!(sealed, seal(&other, &salt));
}

#[test]
fn the_key_file_is_64_hex_digits_and_problems_say_how_to_fix_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key");
    std::fs::write(&path, format!("{}\n", "07".repeat(32))).unwrap();
    let s = ReceiptSigner::from_file(&path).unwrap();
    assert_eq!(s.public_key(), signer().public_key());
    assert!(!format!("{s:?}").contains("0707"), "the seed never reaches a log");

    std::fs::write(&path, "not a key").unwrap();
    let e = ReceiptSigner::from_file(&path).unwrap_err().to_string();
    assert!(e.contains("is not 64 hex digits") && e.contains("od -An -tx1 -N32 /dev/urandom"), "{e}");
    let e = ReceiptSigner::from_file(&dir.path().join("missing")).unwrap_err().to_string();
    assert!(e.contains("cannot be read") && e.contains("scripts/setup.sh"), "{e}");

    assert!(matches!(KeyRing::pinned("zz"), Err(VerifyError::BadKey { .. })));
    let ring = KeyRing::pinned(&signer().public_key().public_key).unwrap();
    assert_eq!(ring.ids(), vec![signer().public_key().key_id.as_str()]);
}

#[test]
fn the_ground_truth_commitment_is_keyed_stable_and_tells_changes_apart() {
    let signer = ReceiptSigner::from_seed([7; 32]);
    let key = signer.ground_truth_key();
    let a = ground_truth_commitment(&key, "c", "aa");
    assert_eq!(a.len(), 64);
    assert_eq!(a, ground_truth_commitment(&signer.ground_truth_key(), "c", "aa"), "the same for every receipt");
    assert_ne!(a, ground_truth_commitment(&key, "c", "ab"), "a changed ground truth shows");
    assert_ne!(a, ground_truth_commitment(&key, "d", "aa"), "bound to its challenge");
    let other = ReceiptSigner::from_seed([8; 32]).ground_truth_key();
    assert_ne!(a, ground_truth_commitment(&other, "c", "aa"), "useless without the key");
    assert_ne!(a, crate::digest::sha256_hex(b"aa"), "not the plain digest's hash");
}

#[test]
fn a_ground_truth_changed_mid_phase_shows_as_two_commitments() {
    let s = signer();
    let key = s.ground_truth_key();
    let mut out: Vec<SignedReceipt> = Vec::new();
    for (i, truth) in [(1u8, "t1"), (2, "t1"), (3, "t2")] {
        let prev = out.last().map_or(GENESIS_HASH.to_owned(), |r| r.hash.clone());
        let claims = ReceiptClaims {
            ground_truth_fingerprint: Some(ground_truth_commitment(&key, "c", truth)),
            ..claims(i, 0.5)
        };
        out.push(s.sign(Receipt { format: RECEIPT_FORMAT, challenge: "c".into(), seq: u64::from(i), prev, claims }));
    }
    let two = verify_chain("c", out.clone(), &keys()).unwrap();
    assert_eq!((two.ground_truth_commitments("dev"), two.ground_truth_commitments("final")), (2, 0));
    let one = verify_chain("c", out[..2].to_vec(), &keys()).unwrap();
    assert_eq!(one.ground_truth_commitments("dev"), 1);
}
