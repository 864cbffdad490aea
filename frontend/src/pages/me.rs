//! `/me`: the signed-in participant's own submissions (never anyone else's).

use darkroom_api::ViewedSubmission;
use leptos::prelude::*;
use leptos_meta::Title;

use super::render;
use crate::api::{MyPage, load_my_submissions};
use crate::components::SubmissionRows;

#[component]
pub fn MyView() -> impl IntoView {
    let page = Resource::new(|| (), |_| load_my_submissions());
    view! {
        <Suspense fallback=|| view! { <p>"Loading your submissions…"</p> }>
            {move || Suspend::new(async move { render("participant", page.await, |p| view! { <Page page=p/> }.into_any()) })}
        </Suspense>
    }
}

#[component]
fn Page(page: MyPage) -> impl IntoView {
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
            view! { <div class="table-scroll"><SubmissionRows submissions=page.submissions.into_iter().map(ViewedSubmission::Participant).collect() organizer=false back="/me".to_string()/></div> }.into_any()
        }}
        <FinalSelections selections=page.selections/>
    }
}

/// Which submissions count for each phase's private board (`darkroom select` changes them).
#[component]
fn FinalSelections(selections: Vec<darkroom_api::Selections>) -> impl IntoView {
    (!selections.is_empty()).then(|| {
        view! {
            <h2>"Final selections"</h2>
            <ul id="final-selections">
                {selections.into_iter().map(|s| {
                    let ids: Vec<String> = s.submissions.iter().map(ToString::to_string).collect();
                    let chosen = if ids.is_empty() {
                        format!("none selected: your {} best by public score count", s.limit)
                    } else {
                        format!("{} of at most {}: {}", ids.len(), s.limit, ids.join(", "))
                    };
                    let closed = if s.closed { " (closed)" } else { " (change with darkroom select ID…)" };
                    view! {
                        <li data-phase=format!("{}/{}", s.challenge, s.phase)>
                            {format!("{} · phase {}: {chosen}{closed}", s.challenge, s.phase)}
                        </li>
                    }
                }).collect_view()}
            </ul>
        }
    })
}
