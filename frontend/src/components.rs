//! Pieces several pages share: the leaderboard table, state badges, the timeline, messages, the
//! forms' CSRF field.

use darkroom_api::{
    FeedbackScore, Leaderboard, Metric, SubmissionId, SubmissionState, TransitionView, ViewedSubmission,
};
use leptos::prelude::*;

use crate::app::SignedIn;
use crate::format;

/// The ranking as a table: rank, participant or team, the primary metric first, then the
/// others, the number of submissions and when the best one was made. Pure, so the server
/// renders it and the browser re-renders it in place when a live update arrives.
#[component]
pub fn LeaderboardTable(
    board: Leaderboard,
    metrics: Vec<Metric>,
    /// The visitor's own line, marked.
    #[prop(default = None)]
    yours: Option<SubmissionId>,
) -> impl IntoView {
    let others: Vec<String> = metrics.iter().map(|m| m.name.clone()).filter(|n| *n != board.rank_by).collect();
    let primary = board.rank_by.clone();
    let header_others = others.clone();
    let decimals = board.decimals;
    if board.entries.is_empty() {
        return view! {
            <p class="empty" id="leaderboard-empty">"No scores yet in this phase. The first one will appear here."</p>
        }
        .into_any();
    }
    view! {
        <table class="leaderboard" id="leaderboard">
            <caption>{format!("Phase {}: ranked by {} ({})", board.phase, board.rank_by, board.direction.label())}</caption>
            <thead>
                <tr>
                    <th scope="col">"Rank"</th>
                    <th scope="col">"Participant"</th>
                    <th scope="col" class="num primary">{primary.clone()}</th>
                    {header_others.into_iter().map(|m| view! { <th scope="col" class="num">{m}</th> }).collect_view()}
                    <th scope="col" class="num">"Submissions"</th>
                    <th scope="col">"Best submitted"</th>
                </tr>
            </thead>
            <tbody>
                {board
                    .entries
                    .into_iter()
                    .map(|e| {
                        let who = e.entrant();
                        let value = |name: &str| e.metrics.get(name).map(|v| format::metric_to(*v, decimals)).unwrap_or_else(|| "–".into());
                        let main = value(&primary);
                        // Raw boards of a mean metric: the 95 % bootstrap interval, and ties with #1.
                        let interval = e.interval.map(|i| view! {
                            <span class="interval" title="95 % paired-bootstrap interval">
                                {format!(" [{}, {}]", format::metric(i.low), format::metric(i.high))}
                            </span>
                            {i.tied_with_first.then(|| view! { <span class="tied">" tied with #1"</span> })}
                        });
                        let rest = others.iter().map(|m| view! { <td class="num">{value(m)}</td> }).collect_view();
                        view! {
                            <tr
                                data-participant=e.participant.clone()
                                class:yours=Some(e.submission_id) == yours
                                aria-current=(Some(e.submission_id) == yours).then_some("true")
                            >
                                <td class="rank">{e.rank}</td>
                                <th scope="row">{who}</th>
                                <td class="num primary">{main}{interval}</td>
                                {rest}
                                <td class="num">{e.submissions}</td>
                                <td><time datetime=e.submitted_at.to_rfc3339()>{format::time(e.submitted_at)}</time></td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

/// The hidden CSRF field of a form that changes something (see `server::session`): the
/// visitor's token, from the round trip that says who is signed in ([`SignedIn`]).
#[component]
pub fn CsrfField() -> impl IntoView {
    let SignedIn(visitor) = expect_context::<SignedIn>();
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let csrf = visitor.await.map(|v| v.csrf).unwrap_or_default();
                view! { <input type="hidden" name="csrf" value=csrf/> }
            })}
        </Suspense>
    }
}

/// A submission's state as a coloured word (the colour only repeats what the word says).
#[component]
pub fn StateBadge(state: SubmissionState) -> impl IntoView {
    let class = format!("state state-{}", state.as_str().to_lowercase());
    view! { <span class=class>{state.as_str()}</span> }
}

/// The states a submission went through, oldest first.
#[component]
pub fn Timeline(history: Vec<TransitionView>) -> impl IntoView {
    view! {
        <ol class="timeline">
            {history
                .into_iter()
                .map(|t| {
                    view! {
                        <li>
                            <time datetime=t.at.to_rfc3339()>{format::time(t.at)}</time>
                            " "
                            <StateBadge state=t.to/>
                            {t.reason.map(|r| view! { <span class="reason">{format!(" — {r}")}</span> })}
                        </li>
                    }
                })
                .collect_view()}
        </ol>
    }
}

/// A COMPLETE submission's feedback score as the API gave it (already in the phase's mode:
/// raw, rounded on the server, or the ladder's released score), with the ladder's note.
#[component]
pub fn FeedbackScoreText(score: Option<FeedbackScore>) -> impl IntoView {
    score.map(|f| {
        let metrics = f
            .metrics
            .iter()
            .map(|(name, v)| format!("{name} {}", format::metric_to(*v, f.decimals)))
            .collect::<Vec<_>>()
            .join(" · ");
        view! {
            <span class="metrics">{metrics}</span>
            {f.note.map(|n| view! { <span class="note">{format!(" ({n})")}</span> })}
        }
    })
}

/// One line per submission; `organizer` adds who submitted it and the re-run action.
#[component]
pub fn SubmissionRows(submissions: Vec<ViewedSubmission>, organizer: bool, back: String) -> impl IntoView {
    use crate::api::{CancelSubmission, RerunSubmission};
    let cancel = ServerAction::<CancelSubmission>::new();
    let rerun = ServerAction::<RerunSubmission>::new();
    let error =
        move || cancel.value().get().and_then(Result::err).or_else(|| rerun.value().get().and_then(Result::err));
    view! {
        {move || error().map(|e| view! { <p class="error" role="alert">{e.to_string()}</p> })}
        <table class="submissions" id="submissions">
            <thead>
                <tr>
                    <th scope="col">"Submitted"</th>
                    {organizer.then(|| view! { <th scope="col">"Participant"</th> })}
                    <th scope="col">"Challenge / phase"</th>
                    <th scope="col">"Image"</th>
                    <th scope="col">"State"</th>
                    <th scope="col">"Score"</th>
                    <th scope="col">"Reason"</th>
                    <th scope="col">"Actions"</th>
                </tr>
            </thead>
            <tbody>
                {submissions
                    .into_iter()
                    .map(|viewed| {
                        let who = viewed.participant().map(|p| p.name.clone()).unwrap_or_default();
                        let s = viewed.submission();
                        let id = s.id.to_string();
                        let href = format!("/submissions/{id}");
                        let cancellable = s.state.is_cancellable();
                        let finished = s.state.is_terminal();
                        let (id1, id2, back1, back2) = (id.clone(), id.clone(), back.clone(), back.clone());
                        view! {
                            <tr data-submission=id>
                                <td class="when"><a href=href>{format::time(s.created_at)}</a></td>
                                {organizer.then(|| view! { <td>{who}</td> })}
                                <td>{format!("{} / {}", s.challenge, s.phase)}</td>
                                <td class="image" title=s.image.label()>
                                    {s.image.short_label()}
                                    {s.note.clone().map(|n| view! { <span class="submission-note">{n}</span> })}
                                </td>
                                <td><StateBadge state=s.state/></td>
                                <td class="score"><FeedbackScoreText score=s.score.clone()/></td>
                                <td>{s.failure_reason.clone().unwrap_or_default()}</td>
                                <td class="actions">
                                    {cancellable.then(|| view! {
                                        <ActionForm action=cancel attr:class="inline">
                                            <CsrfField/>
                                            <input type="hidden" name="id" value=id1/>
                                            <input type="hidden" name="back" value=back1/>
                                            <button type="submit">"Cancel"</button>
                                        </ActionForm>
                                    })}
                                    {(organizer && finished).then(|| view! {
                                        <ActionForm action=rerun attr:class="inline">
                                            <CsrfField/>
                                            <input type="hidden" name="id" value=id2/>
                                            <input type="hidden" name="back" value=back2/>
                                            <button type="submit">"Re-run"</button>
                                        </ActionForm>
                                    })}
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::Utc;

    use super::*;
    use darkroom_api::{Direction, LeaderboardEntry};

    fn render(board: Leaderboard, metrics: Vec<Metric>) -> String {
        let _ = any_spawner::Executor::init_tokio();
        Owner::new().with(|| view! { <LeaderboardTable board metrics/> }.to_html())
    }

    fn entry(rank: u32, name: &str, team: Option<&str>, accuracy: f64) -> LeaderboardEntry {
        LeaderboardEntry {
            rank,
            participant: name.into(),
            team: team.map(Into::into),
            submission_id: format!("0190a7c2-0000-7000-8000-{rank:012}").parse().unwrap(),
            metrics: BTreeMap::from([("accuracy".into(), accuracy), ("roc_auc".into(), 0.5)]),
            submissions: 3,
            submitted_at: Utc::now(),
            scored_at: Utc::now(),
            interval: None,
        }
    }

    fn metrics() -> Vec<Metric> {
        ["roc_auc", "accuracy"].map(|name| Metric::new(name, Direction::HigherIsBetter)).to_vec()
    }

    #[test]
    fn the_table_keeps_the_ranking_and_puts_the_primary_metric_first() {
        let board = Leaderboard {
            challenge: "c".into(),
            phase: "dev".into(),
            rank_by: "accuracy".into(),
            direction: Direction::HigherIsBetter,
            entries: vec![entry(1, "Ada", Some("Lab <A>"), 0.95), entry(2, "Bob", None, 0.6)],
            decimals: None,
            chain: None,
            evaluator: None,
            generations: Vec::new(),
        };
        let html = render(board, metrics());
        let (ada, bob) = (html.find("Lab &lt;A&gt; (Ada)").unwrap(), html.find("Bob").unwrap());
        assert!(ada < bob, "{html}");
        // Header: Rank, Participant, accuracy (primary), then roc_auc.
        let (acc, auc) = (html.find(">accuracy<").unwrap(), html.find(">roc_auc<").unwrap());
        assert!(acc < auc, "{html}");
        assert!(html.contains("0.9500") && html.contains("0.5000"));
        assert!(html.contains("<th scope=\"row\">"), "participants are row headers: {html}");
    }

    #[test]
    fn intervals_and_ties_with_first_show_beside_the_primary_metric() {
        let mut second = entry(2, "Bob", None, 0.6);
        second.interval = Some(darkroom_api::ScoreInterval { low: 0.55, high: 0.65, tied_with_first: true });
        let board = Leaderboard {
            challenge: "c".into(),
            phase: "dev".into(),
            rank_by: "accuracy".into(),
            direction: Direction::HigherIsBetter,
            entries: vec![entry(1, "Ada", None, 0.62), second],
            decimals: None,
            chain: None,
            evaluator: None,
            generations: Vec::new(),
        };
        let html = render(board, metrics());
        assert!(html.contains(" [0.5500, 0.6500]") && html.contains("tied with #1"), "{html}");
        assert_eq!(html.matches("class=\"interval\"").count(), 1, "{html}");
    }

    #[test]
    fn rounded_boards_print_exactly_their_decimals() {
        let board = Leaderboard {
            challenge: "c".into(),
            phase: "dev".into(),
            rank_by: "accuracy".into(),
            direction: Direction::HigherIsBetter,
            entries: vec![entry(1, "Ada", None, 0.62)],
            decimals: Some(2),
            chain: None,
            evaluator: None,
            generations: Vec::new(),
        };
        let html = render(board, metrics());
        assert!(html.contains(">0.62<") && html.contains(">0.50<") && !html.contains("0.6200"), "{html}");
    }

    #[test]
    fn an_empty_board_says_so() {
        let board = Leaderboard {
            challenge: "c".into(),
            phase: "dev".into(),
            rank_by: "accuracy".into(),
            direction: Direction::LowerIsBetter,
            entries: vec![],
            decimals: None,
            chain: None,
            evaluator: None,
            generations: Vec::new(),
        };
        assert!(render(board, metrics()).contains("No scores yet"));
    }
}
