//! `/me`: the signed-in participant's own submissions (never anyone else's).

use darkroom_api::{Selections, SubmissionState, SubmissionView, ViewedSubmission};
use leptos::prelude::*;
use leptos_meta::Title;

use super::{render, server_message};
use crate::api::{MyPage, SelectFinals, load_my_submissions};
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
        <FinalSelections selections=page.selections submissions=page.submissions select=select/>
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
