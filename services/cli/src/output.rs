//! Human-readable renderings of the API's answers, read as `darkroom_api`'s types. Times and
//! enum words are printed as the server wrote them on the wire. Whatever reaches the terminal
//! (a table, the JSON, an error) goes through [`terminal_safe`] first.

use std::borrow::Cow;
use std::fmt::Write;

use chrono::{DateTime, SecondsFormat, Utc};
use darkroom_api::{Announcement, CreatedWebhook, WebhookDelivery, WebhookEvent, WebhookView};
use darkroom_api::{
    ChallengeSummary, CurrentCredential, DatasetListing, DuplicateImage, Enrollment, EnrollmentDecision,
    EnrollmentState, FeedbackScore, FinalBoard, Invite, Leaderboard, Me, MintedToken, OrganizerEnrollment,
    OrganizerSubmissionView, PrivateBoard, PublicChallenge, QuotaHolder, QuotaStanding, Registered, ReplacedToken,
    RowInterval, Selections, SessionsEnded, SubmissionView, Team, TokenScope, TokenView, TreeFingerprint,
    ViewedSubmission,
};
use darkroom_core::domain::ChallengeSpec;
use serde::Serialize;

/// `text` from the server with every character that could steer a terminal written as a
/// visible `\uXXXX`: C0 controls (the escape that starts an ANSI sequence, carriage return,
/// backspace, bell) except newline and tab, DEL, C1 controls (U+0080–U+009F, among them the
/// one-character CSI) and the bidirectional overrides and isolates that reorder what a line
/// shows. A failure reason, a name or a log line can then neither move the cursor, nor
/// retitle the window, nor hide text. In JSON output the same form is a JSON escape, so the
/// printed JSON still decodes to exactly what the server sent.
pub fn terminal_safe(text: &str) -> Cow<'_, str> {
    let steers = |c: char| {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    };
    if !text.contains(steers) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if steers(c) {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A time as the API writes it (RFC 3339, UTC, `Z`), to the second: a table's column is 20
/// characters whatever precision the server keeps (`--json` has all of it).
fn at(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A unit enum's word as the API writes it (`higher_is_better`).
fn wire(value: &impl Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        other => other.map(|v| v.to_string()).unwrap_or_else(|_| "-".into()),
    }
}

pub fn challenge_saved(spec: &ChallengeSpec) -> String {
    let mut out = format!("challenge '{}' saved: {}\n", spec.slug, spec.title);
    for (what, fp) in [("dataset", &spec.dataset.fingerprint), ("ground truth", &spec.ground_truth.fingerprint)] {
        if let Some(fp) = fp {
            let _ = writeln!(out, "{what:<13} {}", fingerprint(fp));
        }
    }
    out
}

/// "sha256:… (12 files, 3.4 MB)".
fn fingerprint(fp: &TreeFingerprint) -> String {
    format!("sha256:{} ({} files, {} bytes)", fp.digest, fp.files, fp.bytes)
}

/// `darkroom challenge fingerprint`: `{"dataset": …, "ground_truth": …}`.
pub fn fingerprints(found: &std::collections::BTreeMap<String, TreeFingerprint>) -> String {
    found.iter().map(|(what, fp)| format!("{:<13} {}\n", what.replace('_', " "), fingerprint(fp))).collect()
}

pub fn challenges(list: &Vec<ChallengeSummary>) -> String {
    let mut out = format!("{:<24} {:<9} {:<12} TITLE\n", "SLUG", "STATUS", "PHASE");
    for c in list {
        let _ = writeln!(
            out,
            "{:<24} {:<9} {:<12} {}",
            c.slug,
            c.status.label(),
            c.current_phase.as_deref().unwrap_or("-"),
            c.title
        );
    }
    out
}

pub fn challenge(c: &PublicChallenge) -> String {
    let mut out = format!(
        "{} ({}) — {}\n\n{}\n\nDataset: {}\nPhases:\n",
        c.title,
        c.slug,
        c.status.label(),
        c.description,
        c.dataset_description
    );
    if let Some(fp) = &c.dataset_fingerprint {
        let _ = writeln!(out, "Dataset fingerprint: {}", fingerprint(fp));
    }
    for p in &c.phases {
        let _ = writeln!(out, "  {:<12} {} → {}", p.name, at(p.starts_at), at(p.ends_at));
    }
    let _ = writeln!(out, "Ranked by: {}", c.rank_by);
    let _ = writeln!(out, "Joining: {} (darkroom join {})", wire(&c.enrollment), c.slug);
    if let Some(news) = &c.latest_announcement {
        let _ = writeln!(
            out,
            "Latest announcement: {} ({}; all: darkroom announcement list {})",
            news.title,
            at(news.posted_at),
            c.slug
        );
    }
    if let Some(rules) = &c.rules {
        let _ = writeln!(out, "\nRules (accepted by joining):\n{}", rules);
    }
    out
}

pub fn dataset(d: &DatasetListing) -> String {
    let mut out = String::new();
    for f in &d.files {
        let _ = writeln!(out, "{:>12}  {}", f.size_bytes, f.path);
    }
    let _ = writeln!(
        out,
        "{} files, {} bytes{}",
        d.file_count,
        d.total_bytes,
        if d.truncated { " (listing truncated)" } else { "" }
    );
    out
}

pub fn registered(r: &Registered) -> String {
    format!(
        "registered '{}' (id {})\nyour token (shown once, keep it):\n  {}\nuse it with: export DARKROOM_TOKEN={}\n",
        r.name, r.id, r.token, r.token
    )
}

/// `darkroom whoami`'s two answers: who the token stands for (`/me`) and what it is
/// (`/tokens/current`).
#[derive(serde::Deserialize)]
pub struct WhoAmI {
    pub me: Me,
    pub credential: CurrentCredential,
}

pub fn whoami(w: &WhoAmI) -> String {
    let who = match &w.me {
        Me::Organizer => "you are the organizer: this token runs the organizer commands".to_owned(),
        Me::Participant(p) => {
            let team = p.team.as_deref().map_or(String::new(), |t| format!(", team '{t}'"));
            format!("you are '{}' (participant {}{team}), registered {}", p.name, p.id, at(p.created_at))
        }
    };
    let with = match &w.credential {
        CurrentCredential::Own => "with your own token: it may do all you may and does not expire".to_owned(),
        CurrentCredential::Session { expires_at } => format!("with a web session until {}", at(*expires_at)),
        CurrentCredential::Scoped(t) => format!(
            "with scoped token {}{}: may {}, expires {}",
            t.id,
            t.label.as_deref().map_or(String::new(), |l| format!(" ({l})")),
            scopes(&t.scopes),
            at(t.expires_at)
        ),
    };
    format!("{who}\n{with}\n")
}

pub fn submission(viewed: &ViewedSubmission) -> String {
    let s = viewed.submission();
    let mut out = format!("submission {}  {}  (challenge {}, phase {})\n", s.id, s.state, s.challenge, s.phase);
    if let Some(note) = &s.note {
        let _ = writeln!(out, "  note: {note}");
    }
    if let Some(score) = &s.score {
        let _ = writeln!(out, "  score: {}", feedback_score(score));
    }
    if let Some(reason) = &s.failure_reason {
        let _ = writeln!(out, "  reason: {reason}");
    }
    if let Some(run) = &s.run {
        let _ = writeln!(out, "  run: {run}");
    }
    for t in s.history.iter().flatten() {
        let _ = writeln!(
            out,
            "  {}  {} → {}{}",
            at(t.at),
            t.from.map_or("-", |f| f.as_str()),
            t.to,
            t.reason.as_ref().map(|r| format!("  ({r})")).unwrap_or_default()
        );
    }
    out
}

/// A minted token: the secret once, and what it may do until when.
pub fn minted_token(t: &MintedToken) -> String {
    format!(
        "{}\n  (shown once) id {}, may {}, expires {}{}\n",
        t.token,
        t.view.id,
        scopes(&t.view.scopes),
        at(t.view.expires_at),
        t.view.label.as_ref().map(|l| format!(", '{l}'")).unwrap_or_default()
    )
}

/// A replaced participant token: the new one once, and what the old one's replacement ended.
pub fn replaced_token(r: &ReplacedToken) -> String {
    format!(
        "new token for '{}' (id {}), shown once, keep it:\n  {}\nthe old token stopped working at {}, with {} web \
         session(s) it had opened and {} scoped token(s) it had minted\nuse it with: export DARKROOM_TOKEN={}\n",
        terminal_safe(&r.name),
        r.id,
        r.token,
        at(r.replaced_at),
        r.ended_sessions,
        r.revoked_tokens,
        r.token
    )
}

pub fn sessions_ended(e: &SessionsEnded) -> String {
    format!("signed out everywhere: {} web session(s) ended\n", e.ended)
}

fn scopes(s: &[TokenScope]) -> String {
    s.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("+")
}

pub fn announcement_posted(a: &Announcement) -> String {
    let verb = if a.edited_at.is_some() { "edited" } else { "posted" };
    format!("announcement {} {verb} in '{}': {}\n", a.id, a.challenge, a.title)
}

/// Newest first: the title, when (and whether edited), then the Markdown body as written,
/// indented under it.
pub fn announcements(list: &Vec<Announcement>) -> String {
    if list.is_empty() {
        return "no announcements yet\n".into();
    }
    let mut out = String::new();
    for a in list {
        let edited = a.edited_at.map(|t| format!(", edited {}", at(t))).unwrap_or_default();
        let _ = writeln!(out, "{}\n  posted {}{edited} · id {}", a.title, at(a.posted_at), a.id);
        for line in a.body.lines() {
            let _ = match line.is_empty() {
                true => writeln!(out),
                false => writeln!(out, "  {line}"),
            };
        }
        out.push('\n');
    }
    out
}

pub fn created_webhook(w: &CreatedWebhook) -> String {
    format!(
        "webhook {} for '{}': {} ({})\n  signing secret (shown once): {}\n",
        w.webhook.id,
        w.webhook.challenge,
        w.webhook.url,
        webhook_events(&w.webhook.events),
        w.secret
    )
}

fn webhook_events(e: &[WebhookEvent]) -> String {
    e.iter().map(|e| e.as_str()).collect::<Vec<_>>().join("+")
}

pub fn webhooks(list: &Vec<WebhookView>) -> String {
    if list.is_empty() {
        return "no webhooks (add one with darkroom webhook add SLUG URL)\n".into();
    }
    let mut out = format!("{:<38} {:<18} URL\n", "ID", "EVENTS");
    for w in list {
        let _ = writeln!(out, "{:<38} {:<18} {}", w.id, webhook_events(&w.events), w.url);
    }
    out
}

pub fn webhook_deliveries(list: &Vec<WebhookDelivery>) -> String {
    if list.is_empty() {
        return "no deliveries yet\n".into();
    }
    let mut out =
        format!("{:<38} {:<10} {:<9} {:>8} {:<24} LAST\n", "DELIVERY", "EVENT", "STATE", "ATTEMPTS", "UPDATED");
    for d in list {
        let mut last = match (d.last_status, &d.last_error) {
            (_, Some(e)) => e.clone(),
            (Some(s), None) => format!("HTTP {s}"),
            (None, None) => "-".into(),
        };
        if let Some(next) = d.next_attempt_at {
            last.push_str(&format!("; next attempt {}", at(next)));
        }
        let _ = writeln!(
            out,
            "{:<38} {:<10} {:<9} {:>8} {:<24} {last}",
            d.id,
            d.event.as_str(),
            d.state.as_str(),
            d.attempts,
            at(d.updated_at)
        );
    }
    out
}

pub fn tokens(list: &Vec<TokenView>) -> String {
    let mut out = format!("{:<38} {:<16} {:<24} LABEL\n", "ID", "SCOPES", "EXPIRES");
    for t in list {
        let label = t.label.as_deref().unwrap_or("-");
        let _ = writeln!(out, "{:<38} {:<16} {:<24} {label}", t.id, scopes(&t.scopes), at(t.expires_at));
    }
    out
}

/// The organizer's list: whose each submission is, its state, and why it failed.
pub fn organizer_submissions(list: &Vec<OrganizerSubmissionView>) -> String {
    let mut out = format!("{:<38} {:<24} {:<11} {:<24} SCORE / FAILURE\n", "ID", "PARTICIPANT", "STATE", "SUBMITTED");
    for x in list {
        let s = &x.submission;
        let who = match &x.participant.team {
            Some(team) => format!("{} ({team})", x.participant.name),
            None => x.participant.name.clone(),
        };
        let last = match (&s.score, &s.failure_reason) {
            (Some(score), _) => score_cell(score),
            // Reasons and details may run over lines (a run's last output): the table shows the
            // first; `--json` or `status ID` has them whole.
            (None, Some(reason)) => reason.lines().next().unwrap_or_default().to_owned(),
            (None, None) => "-".into(),
        };
        let _ = writeln!(out, "{:<38} {:<24} {:<11} {:<24} {last}", s.id, who, s.state, at(s.created_at));
        note_line(&mut out, s);
    }
    out
}

/// A submission's note on its own line under its row in a table, so a long one never pushes
/// the columns out of line.
fn note_line(out: &mut String, s: &SubmissionView) {
    if let Some(note) = &s.note {
        let _ = writeln!(out, "  note: {note}");
    }
}

pub fn submissions(list: &Vec<SubmissionView>) -> String {
    let mut out = format!("{:<38} {:<20} {:<11} {:<24} SCORE\n", "ID", "CHALLENGE", "STATE", "SUBMITTED");
    for x in list {
        let score = x.score.as_ref().map(score_cell).unwrap_or_else(|| "-".into());
        let _ = writeln!(out, "{:<38} {:<20} {:<11} {:<24} {score}", x.id, x.challenge, x.state, at(x.created_at));
        note_line(&mut out, x);
    }
    out
}

/// The decimals a board (and a table's score) prints where the phase sets none.
const BOARD_DECIMALS: u32 = 4;

/// A submission's feedback score as the server sent it: each metric with the digits it has
/// (the server already rounded it in `rounded` mode), then the ladder's note.
fn feedback_score(score: &FeedbackScore) -> String {
    score_text(score, None)
}

/// A score in a table's cell: each metric to the phase's decimals (the board's without), as the
/// board and the pages print it; `status ID` and `--json` have every digit the server sent.
fn score_cell(score: &FeedbackScore) -> String {
    score_text(score, Some(score.decimals.unwrap_or(BOARD_DECIMALS) as usize))
}

/// Each metric (to `prec` decimals, or with every digit it has), then the ladder's note.
fn score_text(score: &FeedbackScore, prec: Option<usize>) -> String {
    let metrics: Vec<String> = score
        .metrics
        .iter()
        .map(|(name, v)| match prec {
            Some(prec) => format!("{name} {v:.prec$}"),
            None => format!("{name} {v}"),
        })
        .collect();
    let note = score.note.as_ref().map(|n| format!("  ({n})")).unwrap_or_default();
    format!("{}{note}", metrics.join("  "))
}

pub fn leaderboard(board: &Leaderboard) -> String {
    let rank_by = &board.rank_by;
    let mut out =
        format!("{} — phase {} — ranked by {} ({})\n", board.challenge, board.phase, rank_by, board.direction.label());
    if board.entries.is_empty() {
        out.push_str("no scores yet\n");
        return out;
    }
    let _ = writeln!(out, "{:>4}  {:<24} {:>10}  {:>5}  BEST AT", "RANK", "TEAM / PARTICIPANT", rank_by, "SUBS");
    for e in &board.entries {
        // Raw boards of a mean metric: the 95 % bootstrap interval and ties with #1.
        let interval = e
            .interval
            .map(|i| format!("  [{:.4}, {:.4}]{}", i.low, i.high, if i.tied_with_first { " tied with #1" } else { "" }))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{:>4}  {:<24} {:>10.prec$}  {:>5}  {}{interval}",
            e.rank,
            e.entrant(),
            e.metrics.get(rank_by).copied().unwrap_or(f64::NAN),
            e.submissions,
            at(e.scored_at),
            prec = board.decimals.unwrap_or(BOARD_DECIMALS) as usize
        );
    }
    out
}

pub fn selections(s: &Selections) -> String {
    let mut out = format!(
        "final selections in phase '{}' of '{}': {} of at most {}{}\n",
        s.phase,
        s.challenge,
        s.submissions.len(),
        s.limit,
        if s.closed { " (closed)" } else { "" }
    );
    for id in &s.submissions {
        let _ = writeln!(out, "  {id}");
    }
    if s.submissions.is_empty() {
        let _ = writeln!(out, "  none: your {} best by public score count", s.limit);
    }
    out
}

fn final_rows(out: &mut String, board: &FinalBoard, rank_by: Option<&str>, intervals: &[RowInterval]) {
    let metric = rank_by.or_else(|| board.rows.first().and_then(|r| r.metrics.keys().next().map(String::as_str)));
    let metric = metric.unwrap_or("score");
    let _ = writeln!(
        out,
        "{:>4}  {:>6}  {:<24} {:>10}  {:<21} SUBMISSION",
        "RANK", "PUBLIC", "PARTICIPANT", metric, "95% INTERVAL"
    );
    for r in &board.rows {
        let interval = intervals.iter().find(|i| i.rank == r.rank).map_or(String::new(), |i| {
            let i = &i.interval;
            format!("[{:.4}, {:.4}]{}", i.low, i.high, if i.tied_with_first { " tied #1" } else { "" })
        });
        let _ = writeln!(
            out,
            "{:>4}  {:>6}  {:<24} {:>10.4}  {:<21} {}",
            r.rank,
            r.public_rank.map_or("-".into(), |p| p.to_string()),
            r.participant,
            r.metrics.get(metric).copied().unwrap_or(f64::NAN),
            interval,
            r.submission_id
        );
    }
    if board.rows.is_empty() {
        out.push_str("no participant has a private score\n");
    }
}

pub fn private_board(b: &PrivateBoard) -> String {
    let mut out = String::new();
    match b {
        PrivateBoard::Open { challenge, phase, ends_at } => {
            let _ = writeln!(out, "{challenge} — phase {phase} — private board: open until {}", at(*ends_at));
        }
        PrivateBoard::Sealed { challenge, phase, commitment, closed_at, board } => {
            let _ = writeln!(
                out,
                "{challenge} — phase {phase} — private board: sealed until reveal (closed {})\ncommitment {commitment}",
                at(*closed_at)
            );
            if let Some(board) = board {
                out.push_str("(organizer's view, not public yet)\n");
                final_rows(&mut out, board, None, &[]);
            }
        }
        PrivateBoard::Revealed {
            challenge,
            phase,
            rank_by,
            direction,
            board,
            salt,
            commitment,
            closed_at,
            revealed_at,
            intervals,
        } => {
            let _ = writeln!(
                out,
                "{challenge} — phase {phase} — private board, ranked by {rank_by} ({}); closed {}, revealed {}\ncommitment {commitment}\nsalt       {salt}",
                direction.label(),
                at(*closed_at),
                at(*revealed_at)
            );
            final_rows(&mut out, board, Some(rank_by), intervals);
        }
    }
    out
}

pub fn quota(q: &QuotaStanding) -> String {
    let whose = match q.counted_for {
        QuotaHolder::Participant => "",
        QuotaHolder::Team => ", counted for your whole team",
    };
    let plural = |n: u32| if n == 1 { "" } else { "s" };
    let mut out = match q.left {
        None => format!("phase '{}' of '{}'{whose}: no quota, submit as often as you like\n", q.phase, q.challenge),
        Some(n) => format!("phase '{}' of '{}'{whose}: {n} submission{} left now\n", q.phase, q.challenge, plural(n)),
    };
    if let Some(d) = &q.per_day {
        let _ = write!(out, "  last 24 hours: {} of {} used, {} left", d.used, d.limit, d.left);
        if let Some(next) = d.next_slot_at {
            let _ = write!(out, "; the next slot opens at {}", at(next));
        }
        out.push('\n');
    }
    if let Some(t) = &q.total {
        let _ = writeln!(out, "  whole phase: {} of {} used, {} left", t.used, t.limit, t.left);
    }
    out
}

pub fn enrollment(e: &Enrollment) -> String {
    if let Some(d) = &e.disqualified {
        return format!(
            "the organizer of '{}' disqualified you on {}: {}; you cannot submit to it\n",
            e.challenge,
            d.at.format("%Y-%m-%d"),
            d.reason
        );
    }
    match e.state {
        EnrollmentState::Active => format!("joined '{}': you can submit to it\n", e.challenge),
        EnrollmentState::Pending => format!(
            "asked to join '{}': pending until the organizer approves; you can submit once they do\n",
            e.challenge
        ),
        EnrollmentState::Rejected => format!("the organizer of '{}' rejected your request to join\n", e.challenge),
    }
}

pub fn enrollments(list: &Vec<OrganizerEnrollment>) -> String {
    let mut out = format!("{:<36} {:<24} {:<12} {:<20} INVITE\n", "PARTICIPANT", "NAME", "STATE", "JOINED");
    let mut reasons = String::new();
    for e in list {
        let _ = writeln!(
            out,
            "{:<36} {:<24} {:<12} {:<20} {}",
            e.participant.id,
            e.participant.name,
            e.enrollment.standing(),
            at(e.enrollment.joined_at),
            e.invite.as_deref().unwrap_or("-")
        );
        if let Some(d) = &e.enrollment.disqualified {
            let _ = writeln!(reasons, "{} disqualified at {}: {}", e.participant.name, at(d.at), d.reason);
        }
    }
    out + &reasons
}

pub fn team(t: &Team) -> String {
    let mut out = format!(
        "team '{}' of '{}': {} of at most {} member(s){}\n",
        t.name,
        t.challenge,
        t.members.len(),
        t.max_size,
        if t.has_submitted { "; it has submitted, so its members are fixed" } else { "" }
    );
    for m in &t.members {
        let _ = writeln!(out, "  {} {}{}", m.id, m.name, if m.captain { " (captain)" } else { "" });
    }
    if t.disqualified {
        out.push_str("the organizer disqualified a member: the team cannot submit until they reinstate them\n");
    }
    if let Some(code) = &t.code {
        let _ = writeln!(out, "code (shown once): {code}\nOthers join with: darkroom team join {} {code}", t.challenge);
    }
    out
}

pub fn decision(d: &EnrollmentDecision) -> String {
    let e = &d.enrollment;
    let mut out = match &e.disqualified {
        Some(q) => format!("participant {} is disqualified from '{}': {}\n", d.participant, e.challenge, q.reason),
        None => format!("participant {} is now {} in '{}'\n", d.participant, e.state.as_str(), e.challenge),
    };
    if !d.cancelled.is_empty() {
        let ids: Vec<String> = d.cancelled.iter().map(ToString::to_string).collect();
        let _ = writeln!(out, "cancelled {} submission(s) still waiting to run: {}", ids.len(), ids.join(", "));
    }
    out
}

pub fn invite(i: &Invite) -> String {
    let expires = i.expires_at.map_or_else(|| "never expires".to_owned(), |t| format!("expires {}", at(t)));
    match &i.code {
        Some(code) => format!(
            "invite {} for '{}' ({} use(s), {expires}):\n{code}\nShown once: give it to the participant (darkroom join {} --code {code}).\n",
            i.id, i.challenge, i.uses, i.challenge
        ),
        None => format!("invite {} for '{}': used {} of {}, {expires}\n", i.id, i.challenge, i.used, i.uses),
    }
}

pub fn invites(list: &Vec<Invite>) -> String {
    let mut out = format!("{:<16} {:>6} {:>6} {:<22} CREATED\n", "INVITE", "USED", "USES", "EXPIRES");
    for i in list {
        let expires = i.expires_at.map_or_else(|| "never".to_owned(), at);
        let _ = writeln!(out, "{:<16} {:>6} {:>6} {:<22} {}", i.id, i.used, i.uses, expires, at(i.created_at));
    }
    out
}

pub fn duplicate_images(list: &Vec<DuplicateImage>) -> String {
    if list.is_empty() {
        return "no image was submitted by more than one team or participant\n".to_owned();
    }
    let mut out = String::new();
    for image in list {
        let _ = writeln!(out, "{} ({} entrants)", image.digest, image.entrants.len());
        for e in &image.entrants {
            let who = if e.team.is_some() { "team" } else { "participant" };
            let ids: Vec<String> = e.submissions.iter().map(ToString::to_string).collect();
            let _ = writeln!(out, "  {who} '{}': {}", e.name, ids.join(", "));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn a_score_prints_the_digits_the_server_sent_and_the_note() {
        let score = FeedbackScore {
            metrics: BTreeMap::from([("accuracy".into(), 0.62), ("roc_auc".into(), 0.5)]),
            note: Some("no significant improvement".into()),
            decimals: None,
        };
        assert_eq!(feedback_score(&score), "accuracy 0.62  roc_auc 0.5  (no significant improvement)");
        let raw =
            FeedbackScore { metrics: BTreeMap::from([("accuracy".into(), 0.123456)]), note: None, decimals: None };
        assert_eq!(feedback_score(&raw), "accuracy 0.123456");
    }

    #[test]
    fn quota_says_what_is_left_and_when_the_next_daily_slot_opens() {
        use darkroom_api::{DailyStanding, TotalStanding};
        let next: DateTime<Utc> = "2026-12-05T09:30:00Z".parse().unwrap();
        let spent = QuotaStanding {
            challenge: "c".into(),
            phase: "dev".into(),
            counted_for: QuotaHolder::Team,
            per_day: Some(DailyStanding { limit: 2, used: 2, left: 0, next_slot_at: Some(next) }),
            total: Some(TotalStanding { limit: 5, used: 3, left: 2 }),
            left: Some(0),
        };
        assert_eq!(
            quota(&spent),
            "phase 'dev' of 'c', counted for your whole team: 0 submissions left now\n  last 24 hours: 2 of 2 used, 0 left; the next slot opens at 2026-12-05T09:30:00Z\n  whole phase: 3 of 5 used, 2 left\n"
        );
        let free =
            QuotaStanding { counted_for: QuotaHolder::Participant, per_day: None, total: None, left: None, ..spent };
        assert_eq!(quota(&free), "phase 'dev' of 'c': no quota, submit as often as you like\n");
    }

    #[test]
    fn whoami_names_the_team_and_no_shared_image_is_said_in_words() {
        let ada = Me::Participant(darkroom_api::Profile {
            id: "0190a7c2-5b1e-7c3d-8e4f-0123456789ab".parse().unwrap(),
            name: "Ada".into(),
            team: Some("Cy Lab".into()),
            created_at: "2026-12-04T10:00:00.123Z".parse().unwrap(),
        });
        let scoped = CurrentCredential::Scoped(TokenView {
            id: "t1".into(),
            scopes: vec![TokenScope::Read, TokenScope::Submit],
            organizer: false,
            label: Some("ci".into()),
            created_at: "2026-12-04T10:00:00Z".parse().unwrap(),
            expires_at: "2027-01-03T10:00:00.5Z".parse().unwrap(),
        });
        assert_eq!(
            whoami(&WhoAmI { me: ada, credential: scoped }),
            "you are 'Ada' (participant 0190a7c2-5b1e-7c3d-8e4f-0123456789ab, team 'Cy Lab'), registered 2026-12-04T10:00:00Z\n\
             with scoped token t1 (ci): may read+submit, expires 2027-01-03T10:00:00Z\n"
        );
        let organizer = whoami(&WhoAmI { me: Me::Organizer, credential: CurrentCredential::Own });
        assert!(organizer.starts_with("you are the organizer") && organizer.contains("does not expire"), "{organizer}");
        assert_eq!(duplicate_images(&Vec::new()), "no image was submitted by more than one team or participant\n");
    }

    #[test]
    fn a_tables_score_has_the_boards_digits_and_its_times_the_second() {
        let at: DateTime<Utc> = "2026-12-04T14:04:32.432485420Z".parse().unwrap();
        let score = |decimals| FeedbackScore {
            metrics: BTreeMap::from([("accuracy".into(), 0.595), ("roc_auc".into(), 0.6027925132619357)]),
            note: None,
            decimals,
        };
        assert_eq!(score_cell(&score(None)), "accuracy 0.5950  roc_auc 0.6028");
        assert_eq!(score_cell(&score(Some(2))), "accuracy 0.59  roc_auc 0.60");
        let view: SubmissionView = serde_json::from_value(serde_json::json!({
            "id": "0190a7c2-5b1e-7c3d-8e4f-0123456789ab", "challenge": "c", "phase": "dev", "state": "COMPLETE",
            "failure_reason": null, "image": {"kind": "unknown"}, "image_digest": null, "attempt": 1,
            "counts_against_quota": true, "created_at": at, "updated_at": at,
            "score": {"metrics": {"roc_auc": 0.6027925132619357}},
        }))
        .unwrap();
        let table = submissions(&vec![view]);
        let row = table.lines().nth(1).unwrap();
        assert!(row.contains(" 2026-12-04T14:04:32Z ") && row.ends_with(" roc_auc 0.6028"), "{table}");
        // The columns line up: the score starts where its heading does.
        assert_eq!(row.find("roc_auc"), table.lines().next().unwrap().find("SCORE"), "{table}");
    }

    #[test]
    fn board_rows_with_an_interval_say_so_and_name_ties_with_first() {
        let at: DateTime<Utc> = "2028-01-02T03:04:05Z".parse().unwrap();
        let entry = |rank: u32, interval| darkroom_api::LeaderboardEntry {
            rank,
            participant: format!("p{rank}"),
            team: None,
            submission_id: format!("0190a7c2-0000-7000-8000-{rank:012}").parse().unwrap(),
            metrics: BTreeMap::from([("accuracy".into(), 0.5)]),
            submissions: 1,
            submitted_at: at,
            scored_at: at,
            interval,
        };
        let tie = darkroom_api::ScoreInterval { low: 0.4, high: 0.6, tied_with_first: true };
        let board = Leaderboard {
            challenge: "c".into(),
            phase: "dev".into(),
            rank_by: "accuracy".into(),
            direction: darkroom_api::Direction::HigherIsBetter,
            entries: vec![entry(1, None), entry(2, Some(tie))],
            decimals: None,
            chain: None,
            evaluator: None,
            generations: Vec::new(),
        };
        let text = leaderboard(&board);
        assert!(text.lines().nth(2).unwrap().ends_with("2028-01-02T03:04:05Z"), "{text}");
        assert!(
            text.lines().nth(3).unwrap().ends_with("2028-01-02T03:04:05Z  [0.4000, 0.6000] tied with #1"),
            "{text}"
        );
    }
}

#[cfg(test)]
mod terminal_tests {
    use super::terminal_safe;

    #[test]
    fn controls_that_steer_a_terminal_are_shown_not_obeyed() {
        let hostile = "ok\x1b[2J\x1b]0;owned\x07 \r\x08\u{9b}31m \u{202e}txt.exe\u{2066}\x7f\nnext\tcell";
        let shown = terminal_safe(hostile);
        assert_eq!(
            shown,
            "ok\\u001b[2J\\u001b]0;owned\\u0007 \\u000d\\u0008\\u009b31m \\u202etxt.exe\\u2066\\u007f\nnext\tcell"
        );
        assert!(!shown.chars().any(|c| c.is_control() && c != '\n' && c != '\t'), "{shown}");
        assert!(matches!(terminal_safe("Zoë, 20X → 40X\n"), std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn json_stays_the_same_json() {
        let value = serde_json::json!({ "reason": "a\u{9b}b\u{202e}c\x7f", "n": 1 });
        let printed = serde_json::to_string_pretty(&value).unwrap();
        let shown = terminal_safe(&printed);
        assert!(!shown.contains('\u{9b}') && !shown.contains('\u{202e}'), "{shown}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&shown).unwrap(), value);
    }
}
