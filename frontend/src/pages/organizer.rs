//! `/challenges/:slug/submissions`: the organizer's view of every submission of a challenge,
//! with who sent it, failure details, and cancel / re-run.

use darkroom_api::{DuplicateImage, OrganizerEnrollment, ViewedSubmission};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

use super::{render, server_message};
use crate::api::{DecideEnrollment, OrganizerPage, load_all_submissions};
use crate::components::{CsrfField, SubmissionRows};
use crate::format;

#[component]
pub fn OrganizerView() -> impl IntoView {
    let params = use_params_map();
    let decide = ServerAction::<DecideEnrollment>::new();
    let page = Resource::new(
        move || (params.read().get("slug").unwrap_or_default(), decide.version().get()),
        |(slug, _)| load_all_submissions(slug),
    );
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                render("challenge", page.await, move |p| view! { <Page page=p decide/> }.into_any())
            })}
        </Suspense>
    }
}

#[component]
fn Page(page: OrganizerPage, decide: ServerAction<DecideEnrollment>) -> impl IntoView {
    let back = format!("/challenges/{}/submissions", page.slug);
    let count = page.submissions.len();
    view! {
        <Title text=format!("All submissions · {}", page.title)/>
        <h1>{page.title.clone()}" — all submissions"</h1>
        <p>
            {format!("{count} submissions, newest first. ")}
            <A href=format!("/challenges/{}", page.slug)>"About this challenge"</A>
        </p>
        <Pending slug=page.slug.clone() pending=page.pending decide/>
        <SharedImages duplicates=page.duplicates/>
        <div class="table-scroll">
            <SubmissionRows submissions=page.submissions.into_iter().map(ViewedSubmission::Organizer).collect() organizer=true back/>
        </div>
    }
}

/// Participants waiting to join (approval challenges), each with approve and reject.
#[component]
fn Pending(slug: String, pending: Vec<OrganizerEnrollment>, decide: ServerAction<DecideEnrollment>) -> impl IntoView {
    let error = move || decide.value().get().and_then(Result::err).map(|e| server_message(&e));
    (!pending.is_empty()).then(|| {
        view! {
            <section id="pending-enrollments">
                <h2>{format!("Waiting to join ({})", pending.len())}</h2>
                {move || error().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                <ul>
                    {pending.into_iter().map(|e| {
                        let id = e.participant.id.to_string();
                        let (slug, participant) = (slug.clone(), id.clone());
                        let form = move |verb: &'static str, label: &'static str| {
                            let (slug, participant) = (slug.clone(), participant.clone());
                            view! {
                                <ActionForm action=decide attr:class="inline">
                                    <CsrfField/>
                                    <input type="hidden" name="slug" value=slug/>
                                    <input type="hidden" name="participant" value=participant/>
                                    <input type="hidden" name="verb" value=verb/>
                                    <button type="submit">{label}</button>
                                </ActionForm>
                            }
                        };
                        view! {
                            <li data-participant=id.clone()>
                                {format!("{} · asked {} ", e.participant.name, format::time(e.enrollment.joined_at))}
                                {form("approve", "Approve")}" "{form("reject", "Reject")}
                            </li>
                        }
                    }).collect_view()}
                </ul>
            </section>
        }
    })
}

/// The flag for images several teams (or lone participants) submitted: likely one person with
/// several accounts, each with its own quota.
#[component]
fn SharedImages(duplicates: Vec<DuplicateImage>) -> impl IntoView {
    (!duplicates.is_empty()).then(|| {
        view! {
            <section id="shared-images" class="notice">
                <h2>{format!("Shared images ({})", duplicates.len())}</h2>
                <p>"Each image below was submitted by more than one team or participant: possibly one person with several accounts."</p>
                <ul>
                    {duplicates.into_iter().map(|d| {
                        let who: Vec<String> = d.entrants.iter().map(|e| format!("{} ({})", e.name, e.submissions.len())).collect();
                        view! { <li data-digest=d.digest.clone()><code>{d.digest.clone()}</code>{format!(": {}", who.join(", "))}</li> }
                    }).collect_view()}
                </ul>
            </section>
        }
    })
}
