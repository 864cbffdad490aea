//! `darkroom verify`: checks score receipts here, trusting nothing the server computed. It
//! fetches the public keys (or takes one pinned with `--key`), the receipts and the whole chain,
//! and checks every signature, every link and the board with `darkroom_core::domain::receipt`.

use anyhow::bail;
use darkroom_api::{
    ChainHead, Leaderboard, MAX_CHAIN_PAGE, PublicChallenge, ReceiptChainPage, ReceiptKeys, SignedReceipt,
};
use darkroom_core::domain::receipt::{self, KeyRing, OnBoard, Values, VerifiedChain};
use serde::Serialize;

use crate::api::{Api, read};

/// What a verification checked and found; printed as a line or, with `--json`, as JSON.
#[derive(Debug, Serialize)]
pub struct Report {
    pub ok: bool,
    pub challenge: String,
    pub phase: Option<String>,
    pub submission: Option<String>,
    /// The keys trusted: pinned, or as listed by the server.
    pub keys: Vec<String>,
    pub pinned_key: bool,
    /// The chain as walked and checked.
    pub chain: Option<ChainHead>,
    pub board_rows_checked: usize,
    /// Whether board values were compared (raw feedback) or only their backing.
    pub values_compared: bool,
    /// The submission's row on its board (`verify SUBMISSION`): its rank, or absent when the
    /// board shows another of the participant's scores.
    pub board_rank: Option<u32>,
    /// How many different ground-truth commitments the phase's receipts name (`--board`): more
    /// than one means the hidden ground truth (or the signing key) changed during the phase.
    pub ground_truth_commitments: usize,
    /// What failed, in one line.
    pub failure: Option<String>,
}

impl Report {
    fn new(challenge: &str) -> Self {
        Self {
            ok: false,
            challenge: challenge.to_owned(),
            phase: None,
            submission: None,
            keys: Vec::new(),
            pinned_key: false,
            chain: None,
            board_rows_checked: 0,
            values_compared: false,
            board_rank: None,
            ground_truth_commitments: 0,
            failure: None,
        }
    }

    /// One line for people.
    pub fn line(&self) -> String {
        let chain = self.chain.as_ref().map_or_else(
            || "an empty chain".to_owned(),
            |h| format!("chain of {} receipts, head {}", h.length, &h.hash[..16.min(h.hash.len())]),
        );
        let keys = format!("key {}{}", self.keys.join(", "), if self.pinned_key { " (pinned)" } else { "" });
        let values =
            if self.values_compared { "values compared" } else { "values sealed in this phase: backing checked" };
        if let Some(failure) = &self.failure {
            return format!("FAILED: {failure}");
        }
        match &self.submission {
            Some(id) => {
                let board = match self.board_rank {
                    Some(rank) => format!("board row {rank} shows what it says ({values})"),
                    None => "not on the board (another score of the same entrant ranks there)".to_owned(),
                };
                format!("OK: receipt of {id} verifies ({keys}); it is in the {chain}; {board}")
            }
            None => format!(
                "OK: {} {}: {chain} verifies ({keys}); all {} board rows are backed by receipts ({values}){}",
                self.challenge,
                self.phase.as_deref().unwrap_or(""),
                self.board_rows_checked,
                match self.ground_truth_commitments {
                    0 | 1 => String::new(),
                    n => format!(
                        "; note: its receipts name {n} different ground truths (it changed during the phase, or the \
                         signing key did)"
                    ),
                }
            ),
        }
    }
}

async fn keys(api: &Api, pinned: Option<&str>, report: &mut Report) -> anyhow::Result<KeyRing> {
    let ring = match pinned {
        Some(hex) => {
            report.pinned_key = true;
            KeyRing::pinned(hex)?
        }
        None => KeyRing::new(&read::<ReceiptKeys>(&api.get("/keys").await?)?.keys)?,
    };
    report.keys = ring.ids().into_iter().map(str::to_owned).collect();
    if report.keys.is_empty() {
        bail!("the server lists no receipt keys (GET /api/v1/keys); nothing can be verified");
    }
    Ok(ring)
}

/// Every receipt of the challenge's chain, page by page.
async fn whole_chain(api: &Api, challenge: &str) -> anyhow::Result<Vec<SignedReceipt>> {
    let mut all: Vec<SignedReceipt> = Vec::new();
    loop {
        let after = all.last().map_or(0, |r| r.receipt.seq);
        let path = format!("/challenges/{challenge}/receipts?after={after}&limit={MAX_CHAIN_PAGE}");
        let page: ReceiptChainPage = read(&api.get(&path).await?)?;
        if page.receipts.is_empty() {
            return Ok(all);
        }
        all.extend(page.receipts);
    }
}

/// The value rule of the board's phase (its feedback mode), from the public challenge.
async fn values_of(api: &Api, challenge: &str, phase: &str) -> anyhow::Result<Values> {
    let c: PublicChallenge = read(&api.get(&format!("/challenges/{challenge}")).await?)?;
    Ok(c.phases.iter().find(|p| p.name == phase).map_or(Values::Exact, |p| Values::of(p.feedback)))
}

/// The board of `phase` (the current one when absent) in evaluator generation `evaluator`
/// (the phase's current one when absent).
async fn board(api: &Api, challenge: &str, phase: Option<&str>, evaluator: Option<u32>) -> anyhow::Result<Leaderboard> {
    let mut query: Vec<String> = phase.map(|p| format!("phase={p}")).into_iter().collect();
    query.extend(evaluator.map(|n| format!("evaluator={n}")));
    let query = if query.is_empty() { String::new() } else { format!("?{}", query.join("&")) };
    read(&api.get(&format!("/challenges/{challenge}/leaderboard{query}")).await?)
}

fn walk(challenge: &str, chain: Vec<SignedReceipt>, keys: &KeyRing, report: &mut Report) -> Option<VerifiedChain> {
    match receipt::verify_chain(challenge, chain, keys) {
        Ok(chain) => {
            report.chain = chain.head();
            Some(chain)
        }
        Err(e) => {
            report.failure = Some(e.to_string());
            None
        }
    }
}

/// `darkroom verify SUBMISSION`: its receipt's signature, its place in the chain, and that the
/// board shows what it says.
pub async fn submission(api: &Api, id: &str, pinned: Option<&str>) -> anyhow::Result<Report> {
    api.needs_token("verify SUBMISSION")?;
    let signed: SignedReceipt = read(&api.get(&format!("/submissions/{id}/receipt")).await?)?;
    let challenge = signed.receipt.challenge.clone();
    let phase = signed.receipt.claims.phase.clone();
    let mut report = Report::new(&challenge);
    report.submission = Some(signed.receipt.claims.submission_id.to_string());
    report.phase = Some(phase.clone());
    let keys = keys(api, pinned, &mut report).await?;
    if let Err(e) = receipt::verify_receipt(&signed, &keys) {
        report.failure = Some(e.to_string());
        return Ok(report);
    }
    let Some(chain) = walk(&challenge, whole_chain(api, &challenge).await?, &keys, &mut report) else {
        return Ok(report);
    };
    // The board of the receipt's generation (the original's, unless a rescore recorded it).
    let board = board(api, &challenge, Some(&phase), Some(signed.receipt.claims.generation.unwrap_or(1))).await?;
    let values = values_of(api, &challenge, &phase).await?;
    report.values_compared = values == Values::Exact;
    let checked = chain.check_member(&signed).and_then(|()| {
        if let Some(head) = &board.chain {
            chain.holds(head)?;
        }
        receipt::check_on_board(&signed, &board, values)
    });
    match checked {
        Ok(OnBoard::Shown { rank }) => report.board_rank = Some(rank),
        Ok(OnBoard::NotShown) => {}
        Err(e) => {
            report.failure = Some(e.to_string());
            return Ok(report);
        }
    }
    report.ok = true;
    Ok(report)
}

/// `darkroom verify --board SLUG [--phase P] [--evaluator N]`: the whole chain, and every
/// board row backed by a receipt of the board's evaluator generation.
pub async fn whole_board(
    api: &Api,
    challenge: &str,
    phase: Option<&str>,
    evaluator: Option<u32>,
    pinned: Option<&str>,
) -> anyhow::Result<Report> {
    let mut report = Report::new(challenge);
    // The board first: the chain read after it holds its head (receipts are only appended).
    let board = board(api, challenge, phase, evaluator).await?;
    report.phase = Some(board.phase.clone());
    let keys = keys(api, pinned, &mut report).await?;
    let Some(chain) = walk(challenge, whole_chain(api, challenge).await?, &keys, &mut report) else {
        return Ok(report);
    };
    let values = values_of(api, challenge, &board.phase).await?;
    report.values_compared = values == Values::Exact;
    report.ground_truth_commitments = chain.ground_truth_commitments(&board.phase);
    match receipt::verify_board(&board, &chain, values) {
        Ok(rows) => {
            report.board_rows_checked = rows;
            report.ok = true;
        }
        Err(e) => report.failure = Some(e.to_string()),
    }
    Ok(report)
}
