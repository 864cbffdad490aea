//! `/challenges/:slug/submissions`: the organizer's view of every submission of a challenge,
//! with who sent it, failure details, and cancel / re-run.

use darkroom_api::ViewedSubmission;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

use super::render;
use crate::api::{OrganizerPage, load_all_submissions};
use crate::components::SubmissionRows;

#[component]
pub fn OrganizerView() -> impl IntoView {
    let params = use_params_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    let page = Resource::new(slug, load_all_submissions);
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move { render("challenge", page.await, |p| view! { <Page page=p/> }.into_any()) })}
        </Suspense>
    }
}

#[component]
fn Page(page: OrganizerPage) -> impl IntoView {
    let back = format!("/challenges/{}/submissions", page.slug);
    let count = page.submissions.len();
    view! {
        <Title text=format!("All submissions · {}", page.title)/>
        <h1>{page.title.clone()}" — all submissions"</h1>
        <p>
            {format!("{count} submissions, newest first. ")}
            <A href=format!("/challenges/{}", page.slug)>"About this challenge"</A>
        </p>
        <div class="table-scroll">
            <SubmissionRows submissions=page.submissions.into_iter().map(ViewedSubmission::Organizer).collect() organizer=true back/>
        </div>
    }
}
