//! `/submissions/:id`: one submission's state timeline, its failure reason, what its run used
//! and, where the organizer allows it, its run's log. Only its owner (or the organizer) can
//! open it.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

use super::render;
use crate::api::{SetSubmissionNote, SubmissionPage, load_submission};
use crate::components::{CsrfField, FeedbackScoreText, StateBadge, SubmissionRows, Timeline};
use crate::format;

#[component]
pub fn SubmissionDetail() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let page = Resource::new(id, load_submission);
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move { render("submission", page.await, |p| view! { <Page page=p/> }.into_any()) })}
        </Suspense>
    }
}

#[component]
fn Page(page: SubmissionPage) -> impl IntoView {
    let SubmissionPage { submission: viewed, logs, organizer } = page;
    let detail = viewed.failure_detail().map(str::to_owned).filter(|_| organizer);
    let s = viewed.submission().clone();
    let back = format!("/submissions/{}", s.id);
    let history = s.history.clone().unwrap_or_default();
    view! {
        <Title text="Submission"/>
        <h1>"Submission "<code>{s.id.to_string()}</code></h1>
        <p>
            <StateBadge state=s.state/>
            {format!(" · {} / phase {} · attempt {} · {}", s.challenge, s.phase, s.attempt, s.image.label())}
            {(!s.counts_against_quota).then_some(" · not counted against the quota")}
        </p>
        <NoteField id=s.id.to_string() note=s.note.clone() owner=!organizer/>
        {s.score.clone().map(|score| view! { <p id="score"><strong>"Score: "</strong><FeedbackScoreText score=Some(score)/></p> })}
        {s.run.map(|run| view! { <p id="run-usage"><strong>"Run: "</strong>{run.to_string()}</p> })}
        <p><A href=format!("/challenges/{}/leaderboard", s.challenge)>"Leaderboard"</A></p>
        {s.failure_reason.clone().map(|r| view! { <p class="error" id="failure-reason"><strong>"Why it failed: "</strong>{r}</p> })}
        {detail.map(|d| view! { <details open><summary>"Detail for the organizer"</summary><pre>{d}</pre></details> })}
        <section id="timeline">
            <h2>"Timeline"</h2>
            <Timeline history/>
        </section>
        <section id="actions">
            <div class="table-scroll">
            <SubmissionRows submissions=vec![viewed] organizer back/>
            </div>
        </section>
        <section id="logs">
            <h2>"Log"</h2>
            {match logs {
                None => view! { <p class="empty">"The organizer keeps run logs private for this challenge."</p> }.into_any(),
                Some(l) if l.lines.is_empty() => view! { <p class="empty">"No log lines (yet)."</p> }.into_any(),
                Some(l) => view! {
                    {l.truncated.then(|| view! { <p>"Only the last lines are kept."</p> })}
                    <pre class="log" tabindex="0">
                        {l.lines.into_iter().map(|line| format!("{}  {}\n", format::time(line.at), line.line)).collect::<String>()}
                    </pre>
                }.into_any(),
            }}
        </section>
    }
}

/// The participant's note: a one-line form for its owner (empty clears it), read-only for the
/// organizer, absent for them when there is none.
#[component]
fn NoteField(id: String, note: Option<String>, owner: bool) -> impl IntoView {
    let save = ServerAction::<SetSubmissionNote>::new();
    if !owner {
        return note
            .map(|n| view! { <p id="note"><strong>"Note: "</strong>{n}</p> }.into_any())
            .unwrap_or(().into_any());
    }
    let max = darkroom_api::MAX_NOTE_CHARS.to_string();
    view! {
        {move || save.value().get().and_then(Result::err).map(|e| view! { <p class="error" role="alert">{e.to_string()}</p> })}
        <ActionForm action=save attr:id="note" attr:class="note-form">
            <CsrfField/>
            <input type="hidden" name="id" value=id/>
            <label for="note-text">"Note"</label>
            <input id="note-text" type="text" name="note" maxlength=max value=note.unwrap_or_default()
                placeholder="what this submission tries, e.g. resnet50, lr 1e-3"/>
            <button type="submit">"Save"</button>
        </ActionForm>
    }
    .into_any()
}
