//! `/me`: the signed-in participant's own submissions (never anyone else's).

use darkroom_api::{Direction, Selections, SubmissionState, SubmissionView, ViewedSubmission};
use leptos::prelude::*;
use leptos_meta::Title;

use super::{render, server_message};
use crate::api::{MyPage, Ranking, ReplaceToken, SelectFinals, SignOutEverywhere, load_my_submissions};
use crate::chart::{self, Chart, Point, Series, Style};
use crate::components::{CsrfField, FeedbackScoreText, SubmissionRows};
use crate::format;

#[component]
pub fn MyView() -> impl IntoView {
    // Saving selections reloads the page's data (with scripts, the redirect back to this same
    // page would not).
    let select = ServerAction::<SelectFinals>::new();
    let page = Resource::new(move || select.version().get(), |_| load_my_submissions());
    view! {
        <Suspense fallback=|| view! { <p>"Loading your submissions…"</p> }>
            {move || Suspend::new(async move {
                render("participant", page.await, move |p| view! { <Page page=p select=select/> }.into_any())
            })}
        </Suspense>
    }
}

#[component]
fn Page(page: MyPage, select: ServerAction<SelectFinals>) -> impl IntoView {
    let heading = match &page.team {
        Some(team) => format!("{} ({team})", page.name),
        None => page.name.clone(),
    };
    view! {
        <Title text="My submissions"/>
        <h1>"My submissions"</h1>
        <p class="lede" id="me-name">{heading}</p>
        {if page.submissions.is_empty() {
            view! {
                <p class="empty">"You have not submitted anything yet. Submit with "<code>"darkroom submit"</code>"."</p>
            }.into_any()
        } else {
            let rows = page.submissions.iter().cloned().map(ViewedSubmission::Participant).collect();
            view! { <div class="table-scroll"><SubmissionRows submissions=rows organizer=false back="/me".to_string()/></div> }.into_any()
        }}
        <ScoreCharts submissions=page.submissions.clone() ranking=page.ranking/>
        <FinalSelections selections=page.selections submissions=page.submissions select=select/>
        <ReplaceTokenForm/>
    }
}

/// Replacing a leaked token: pasted to confirm (a signed-in browser alone may not replace the
/// token that signed it in); the new one is shown once on `/me/token`.
#[component]
fn ReplaceTokenForm() -> impl IntoView {
    let replace = ServerAction::<ReplaceToken>::new();
    let error = move || replace.value().get().and_then(Result::err).map(|e| server_message(&e));
    view! {
        <section class="replace-token" id="replace-token">
            <h2>"Your token"</h2>
            <p class="hint">
                "If your token leaked, replace it: the old one stops working at once, with every browser it signed in and every scoped token it made. Your submissions stay yours. Paste it to confirm it is you."
            </p>
            <ActionForm action=replace attr:class="stack" attr:id="replace-token-form">
                <CsrfField/>
                <label for="current-token">"Your current token"</label>
                <input id="current-token" name="token" type="password" autocomplete="current-password" required/>
                // Once: a second click would race the first with a token it is replacing.
                <button type="submit" disabled=move || replace.pending().get()>"Replace my token"</button>
            </ActionForm>
            {move || error().map(|e| view! { <p class="error" role="alert" id="replace-token-error">{e}</p> })}
            <SignOutEverywhereForm/>
        </section>
    }
}

/// Signing out every browser the token signed in (one left signed in on a shared computer),
/// without replacing the token.
#[component]
fn SignOutEverywhereForm() -> impl IntoView {
    let everywhere = ServerAction::<SignOutEverywhere>::new();
    let error = move || everywhere.value().get().and_then(Result::err).map(|e| server_message(&e));
    view! {
        <h3>"Signed in elsewhere?"</h3>
        <p class="hint">
            "Left yourself signed in on another computer? Sign out of every browser, this one too. Your token and its scoped tokens keep working."
        </p>
        <ActionForm action=everywhere attr:class="stack" attr:id="sign-out-everywhere">
            <CsrfField/>
            <button type="submit">"Sign out everywhere"</button>
        </ActionForm>
        {move || error().map(|e| view! { <p class="error" role="alert" id="sign-out-everywhere-error">{e}</p> })}
    }
}

/// Which submissions count for each phase's private board: a checkbox per COMPLETE submission
/// of the phase, saved with one form (a plain post without scripts; `darkroom select` does the
/// same). The API checks the choice and its refusal is shown above the forms.
#[component]
fn FinalSelections(
    selections: Vec<Selections>,
    submissions: Vec<SubmissionView>,
    select: ServerAction<SelectFinals>,
) -> impl IntoView {
    let error = move || select.value().get().and_then(Result::err).map(|e| server_message(&e));
    (!selections.is_empty()).then(|| {
        view! {
            <h2>"Final selections"</h2>
            <p class="hint">
                "The ticked submissions compete on the private board when the phase closes. None ticked: your best by public score count."
            </p>
            {move || error().map(|e| view! { <p class="error" role="alert" id="select-error">{e}</p> })}
            <div id="final-selections">
                {selections.into_iter().map(|s| {
                    let complete: Vec<SubmissionView> = submissions
                        .iter()
                        .filter(|v| v.challenge == s.challenge && v.phase == s.phase && v.state == SubmissionState::Complete)
                        .cloned()
                        .collect();
                    view! { <PhaseSelections selections=s complete=complete action=select/> }
                }).collect_view()}
            </div>
        }
    })
}

#[component]
fn PhaseSelections(
    selections: Selections,
    complete: Vec<SubmissionView>,
    action: ServerAction<SelectFinals>,
) -> impl IntoView {
    let Selections { challenge, phase, limit, submissions: chosen, closed } = selections;
    let summary = if chosen.is_empty() {
        format!("none selected: your {limit} best by public score count")
    } else {
        let ids: Vec<String> = chosen.iter().map(ToString::to_string).collect();
        format!("{} of at most {limit}: {}", ids.len(), ids.join(", "))
    };
    let state = if closed { " (closed)" } else { "" };
    let (key, heading) = (format!("{challenge}/{phase}"), format!("{challenge} · phase {phase}"));
    view! {
        <section class="phase-selections" data-phase=key>
            <h3>{heading}</h3>
            <p class="selection-summary">{format!("{summary}{state}")}</p>
            {if complete.is_empty() {
                view! { <p class="empty">"No COMPLETE submission in this phase yet."</p> }.into_any()
            } else {
                view! {
                    <ActionForm action=action attr:class="selections">
                        <CsrfField/>
                        <input type="hidden" name="challenge" value=challenge/>
                        <input type="hidden" name="phase" value=phase/>
                        <fieldset disabled=closed>
                            <legend>{format!("Select up to {limit}")}</legend>
                            {complete.into_iter().enumerate().map(|(i, v)| {
                                let id = v.id.to_string();
                                let label = format!("{} · {}", format::time(v.created_at), v.image.label());
                                view! {
                                    <label class="check">
                                        <input
                                            type="checkbox"
                                            name=format!("submissions[{i}]")
                                            value=id.clone()
                                            checked=chosen.contains(&v.id)
                                        />
                                        <a href=format!("/submissions/{id}")>{label}</a>
                                        " "<FeedbackScoreText score=v.score.clone()/>
                                    </label>
                                }
                            }).collect_view()}
                            {(!closed).then(|| view! { <button type="submit">"Save final selections"</button> })}
                        </fieldset>
                    </ActionForm>
                }.into_any()
            }}
        </section>
    }
}

/// Per challenge and phase, the participant's scored submissions over time (when each was
/// submitted, the ranking metric as their feedback shows it), the current best marked.
#[component]
fn ScoreCharts(submissions: Vec<SubmissionView>, ranking: Vec<Ranking>) -> impl IntoView {
    let charts: Vec<(String, String)> = score_charts(&submissions, &ranking);
    (!charts.is_empty()).then(|| {
        view! {
            <h2>"Your scores over time"</h2>
            <div id="my-charts">
                {charts.into_iter().map(|(phase, svg)| {
                    let caption = phase.clone();
                    view! {
                        <figure class="chart-figure my-chart" data-phase=phase>
                            <figcaption>{caption}</figcaption>
                            <div class="chart-box" inner_html=svg></div>
                        </figure>
                    }
                }).collect_view()}
            </div>
        }
    })
}

/// `(challenge/phase, svg)` for each phase with a scored submission, in the order of the phases'
/// first submissions.
fn score_charts(submissions: &[SubmissionView], ranking: &[Ranking]) -> Vec<(String, String)> {
    let mut phases: Vec<(&str, &str)> = Vec::new();
    let mut sorted: Vec<&SubmissionView> = submissions.iter().collect();
    sorted.sort_by_key(|s| s.created_at);
    for s in &sorted {
        if !phases.contains(&(s.challenge.as_str(), s.phase.as_str())) {
            phases.push((s.challenge.as_str(), s.phase.as_str()));
        }
    }
    phases
        .into_iter()
        .filter_map(|(challenge, phase)| {
            let rank = ranking.iter().find(|r| r.challenge == challenge)?;
            let scored: Vec<(&SubmissionView, f64)> = sorted
                .iter()
                .filter(|s| s.challenge == challenge && s.phase == phase)
                .filter_map(|s| Some((*s, s.score.as_ref()?.metrics.get(&rank.rank_by).copied()?)))
                .filter(|(_, v)| v.is_finite())
                .collect();
            let decimals = scored.iter().find_map(|(s, _)| s.score.as_ref()?.decimals);
            let best = scored
                .iter()
                .copied()
                .reduce(|a, b| {
                    let better = match rank.direction {
                        Direction::HigherIsBetter => b.1 > a.1,
                        Direction::LowerIsBetter => b.1 < a.1,
                    };
                    if better { b } else { a }
                })
                .map(|(s, value)| Point { at: s.created_at, value });
            let chart = Chart {
                title: format!("Your {} in {challenge} / {phase}, by when you submitted", rank.rank_by),
                metric: rank.rank_by.clone(),
                decimals,
                style: Style::Dots,
                series: vec![Series {
                    name: "Your submissions".into(),
                    points: scored.iter().map(|(s, value)| Point { at: s.created_at, value: *value }).collect(),
                }],
                best,
            };
            Some((format!("{challenge} / {phase}"), chart::svg(&chart)?))
        })
        .collect()
}
