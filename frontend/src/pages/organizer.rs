//! `/challenges/:slug/submissions`: the organizer's view of every submission of a challenge,
//! with who sent it, failure details, and cancel / re-run; below them the challenge's
//! announcements (post one, remove one), its webhooks and their latest deliveries.

use darkroom_api::{
    Announcement, DeliveryState, DuplicateImage, EnrollmentState, MAX_ANNOUNCEMENT_BODY_CHARS,
    MAX_ANNOUNCEMENT_TITLE_CHARS, MAX_DISQUALIFICATION_REASON_CHARS, OrganizerEnrollment, ViewedSubmission,
    WebhookDelivery,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

use super::{render, server_message};
use crate::api::{
    Announce, DecideEnrollment, DisqualifyParticipant, OrganizerPage, WebhookLog, WithdrawAnnouncement,
    load_all_submissions,
};
use crate::components::{CsrfField, SubmissionRows};
use crate::format;

#[component]
pub fn OrganizerView() -> impl IntoView {
    let params = use_params_map();
    let decide = ServerAction::<DecideEnrollment>::new();
    let fairness = FairnessActions {
        disqualify: ServerAction::<DisqualifyParticipant>::new(),
        reinstate: ServerAction::<DecideEnrollment>::new(),
    };
    let news =
        NewsActions { post: ServerAction::<Announce>::new(), withdraw: ServerAction::<WithdrawAnnouncement>::new() };
    let page = Resource::new(
        move || {
            let versions = (
                decide.version().get(),
                fairness.disqualify.version().get(),
                fairness.reinstate.version().get(),
                news.post.version().get(),
                news.withdraw.version().get(),
            );
            (params.read().get("slug").unwrap_or_default(), versions)
        },
        |(slug, _)| load_all_submissions(slug),
    );
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                render("challenge", page.await, move |p| view! { <Page page=p decide fairness news/> }.into_any())
            })}
        </Suspense>
    }
}

/// The disqualification forms' actions (reinstating is a decision without a body, as approving
/// is, but its errors show beside the disqualifications).
#[derive(Clone, Copy)]
struct FairnessActions {
    disqualify: ServerAction<DisqualifyParticipant>,
    reinstate: ServerAction<DecideEnrollment>,
}

/// The announcement forms' actions: either reloads the page's data.
#[derive(Clone, Copy)]
struct NewsActions {
    post: ServerAction<Announce>,
    withdraw: ServerAction<WithdrawAnnouncement>,
}

#[component]
fn Page(
    page: OrganizerPage,
    decide: ServerAction<DecideEnrollment>,
    fairness: FairnessActions,
    news: NewsActions,
) -> impl IntoView {
    let back = format!("/challenges/{}/submissions", page.slug);
    let count = page.submissions.len();
    view! {
        <Title text=format!("All submissions · {}", page.title)/>
        <h1>{page.title.clone()}" — all submissions"</h1>
        <p>
            {format!("{count} submissions, newest first. ")}
            <A href=format!("/challenges/{}", page.slug)>"About this challenge"</A>
        </p>
        <Pending slug=page.slug.clone() enrollments=page.enrollments.clone() decide/>
        <SharedImages duplicates=page.duplicates/>
        <Disqualifications slug=page.slug.clone() enrollments=page.enrollments fairness/>
        <div class="table-scroll">
            <SubmissionRows submissions=page.submissions.into_iter().map(ViewedSubmission::Organizer).collect() organizer=true back/>
        </div>
        <Announcements slug=page.slug.clone() announcements=page.announcements news/>
        <Webhooks webhooks=page.webhooks/>
    }
}

/// Posting an announcement (a one-line title, a Markdown body, shown on the challenge's page
/// and told to the webhooks that want it) and removing one: plain forms, no script needed.
#[component]
fn Announcements(slug: String, announcements: Option<Vec<Announcement>>, news: NewsActions) -> impl IntoView {
    // Each form says its own failure where it is, so an old one never stands beside a success.
    let failure = |result: Option<Result<(), ServerFnError>>| {
        result.and_then(Result::err).map(|e| view! { <p class="error" role="alert">{server_message(&e)}</p> })
    };
    let form = NodeRef::<leptos::html::Form>::new();
    // Once posted, the form empties, so a second click cannot post the same text twice.
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if matches!(news.post.value().get(), Some(Ok(())))
            && let Some(form) = form.get()
        {
            form.reset();
        }
    });
    let listed = match announcements {
        None => {
            view! { <p class="notice">"The announcements cannot be read right now; reload the page."</p> }.into_any()
        }
        Some(list) => {
            let items = list.into_iter().map(|a| {
                let (slug, id) = (slug.clone(), a.id.clone());
                let edited = a.edited_at.map(|t| format!(", edited {}", format::time(t))).unwrap_or_default();
                view! {
                    <li data-announcement=a.id.clone()>
                        <strong>{a.title}</strong>{format!(" · {}{edited} ", format::time(a.posted_at))}
                        <ActionForm action=news.withdraw attr:class="inline">
                            <CsrfField/>
                            <input type="hidden" name="slug" value=slug/>
                            <input type="hidden" name="id" value=id/>
                            <button type="submit">"Remove"</button>
                        </ActionForm>
                    </li>
                }
            });
            view! { <ul>{items.collect_view()}</ul> }.into_any()
        }
    };
    view! {
        <section id="announcements">
            <h2>"Announcements"</h2>
            {move || failure(news.withdraw.value().get())}
            {listed}
            {move || failure(news.post.value().get())}
            <ActionForm action=news.post node_ref=form attr:class="announce">
                <CsrfField/>
                <input type="hidden" name="slug" value=slug.clone()/>
                <label for="announcement-title">"Title"</label>
                <input id="announcement-title" name="title" required maxlength=MAX_ANNOUNCEMENT_TITLE_CHARS.to_string()/>
                <label for="announcement-body">"Body (Markdown)"</label>
                <textarea id="announcement-body" name="body" rows="4" maxlength=MAX_ANNOUNCEMENT_BODY_CHARS.to_string()></textarea>
                <button type="submit">"Post to participants"</button>
            </ActionForm>
        </section>
    }
}

/// Each webhook with its latest deliveries: the organizer sees what a receiver got, what it
/// answered and when the next attempt is due. Registered with `darkroom webhook add`.
#[component]
fn Webhooks(webhooks: Option<Vec<WebhookLog>>) -> impl IntoView {
    let body = match webhooks {
        None => view! { <p class="notice">"The webhooks cannot be read right now; reload the page."</p> }.into_any(),
        Some(w) if w.is_empty() => view! {
            <p>"None registered. Add one with " <code>"darkroom webhook add SLUG URL"</code> "."</p>
        }
        .into_any(),
        Some(w) => w
            .into_iter()
            .map(|log| {
                let events: Vec<&str> = log.webhook.events.iter().map(|e| e.as_str()).collect();
                let shown = log.deliveries.len();
                view! {
                    <article class="webhook" data-webhook=log.webhook.id.clone()>
                        <h3><code>{log.webhook.url.clone()}</code></h3>
                        <p>{format!("Events: {}. Latest {shown} deliveries (at most {}), newest first.", events.join(", "), WebhookLog::SHOWN)}</p>
                        <div class="table-scroll">
                            <table class="deliveries">
                                <thead><tr><th>"Event"</th><th>"State"</th><th>"Attempts"</th><th>"Last answer"</th><th>"Next attempt"</th><th>"Created"</th></tr></thead>
                                <tbody>{log.deliveries.into_iter().map(|d| view! { <DeliveryRow delivery=d/> }).collect_view()}</tbody>
                            </table>
                        </div>
                    </article>
                }
            })
            .collect_view()
            .into_any(),
    };
    view! {
        <section id="webhooks">
            <h2>"Webhooks"</h2>
            {body}
        </section>
    }
}

#[component]
fn DeliveryRow(delivery: WebhookDelivery) -> impl IntoView {
    let answer = match (delivery.last_status, delivery.last_error.as_deref()) {
        (Some(status), Some(error)) => format!("{status}: {error}"),
        (Some(status), None) => status.to_string(),
        (None, Some(error)) => error.to_owned(),
        (None, None) => "—".to_owned(),
    };
    let next = match delivery.state {
        DeliveryState::Pending => delivery.next_attempt_at.map(format::time).unwrap_or_else(|| "due".to_owned()),
        _ => "—".to_owned(),
    };
    view! {
        <tr data-delivery=delivery.id.clone() data-state=delivery.state.as_str()>
            <td>{delivery.event.as_str()}</td>
            <td>{delivery.state.as_str()}</td>
            <td>{delivery.attempts}</td>
            <td>{answer}</td>
            <td>{next}</td>
            <td>{format::time(delivery.created_at)}</td>
        </tr>
    }
}

/// Participants waiting to join (approval challenges), each with approve and reject.
#[component]
fn Pending(
    slug: String,
    enrollments: Vec<OrganizerEnrollment>,
    decide: ServerAction<DecideEnrollment>,
) -> impl IntoView {
    let error = move || decide.value().get().and_then(Result::err).map(|e| server_message(&e));
    let pending: Vec<OrganizerEnrollment> =
        enrollments.into_iter().filter(|e| e.enrollment.state == EnrollmentState::Pending).collect();
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

/// Who is disqualified, since when and why, each with a way back; and the form that disqualifies
/// a participant who has joined (see the README's "Joining a challenge").
#[component]
fn Disqualifications(slug: String, enrollments: Vec<OrganizerEnrollment>, fairness: FairnessActions) -> impl IntoView {
    let FairnessActions { disqualify, reinstate } = fairness;
    let error = move || {
        let failed = disqualify.value().get().and_then(Result::err);
        failed.or_else(|| reinstate.value().get().and_then(Result::err)).map(|e| server_message(&e))
    };
    // Whoever is out, whatever the organizer decided since; only the admitted can be put out.
    let (out, others): (Vec<_>, Vec<_>) = enrollments.into_iter().partition(|e| e.enrollment.disqualified.is_some());
    let candidates: Vec<_> = others.into_iter().filter(|e| e.enrollment.may_submit()).collect();
    let out = (!out.is_empty()).then(|| {
        let slug = slug.clone();
        view! {
            <ul id="disqualified">
                {out.into_iter().map(|e| {
                    let (id, slug) = (e.participant.id.to_string(), slug.clone());
                    let participant = id.clone();
                    let (since, reason) = e
                        .enrollment
                        .disqualified
                        .map(|d| (format::time(d.at), d.reason))
                        .unwrap_or_default();
                    view! {
                        <li data-participant=id>
                            <strong>{e.participant.name}</strong>
                            {format!(" · since {since}: {reason} ")}
                            <ActionForm action=reinstate attr:class="inline">
                                <CsrfField/>
                                <input type="hidden" name="slug" value=slug/>
                                <input type="hidden" name="participant" value=participant/>
                                <input type="hidden" name="verb" value="reinstate"/>
                                <button type="submit">"Reinstate"</button>
                            </ActionForm>
                        </li>
                    }
                }).collect_view()}
            </ul>
        }
    });
    let form = (!candidates.is_empty()).then(|| {
        view! {
            <ActionForm action=disqualify attr:class="stack" attr:id="disqualify">
                <CsrfField/>
                <input type="hidden" name="slug" value=slug/>
                <label for="disqualify-participant">"Participant"</label>
                <select id="disqualify-participant" name="participant" required>
                    {candidates.into_iter().map(|e| {
                        let id = e.participant.id.to_string();
                        let label = format!("{} ({})", e.participant.name, &id[id.len().saturating_sub(8)..]);
                        view! { <option value=id>{label}</option> }
                    }).collect_view()}
                </select>
                <label for="disqualify-reason">"Reason: the participant reads it, nobody else does"</label>
                <input id="disqualify-reason" name="reason" type="text" required maxlength=MAX_DISQUALIFICATION_REASON_CHARS.to_string()/>
                <button type="submit">"Disqualify"</button>
            </ActionForm>
        }
    });
    view! {
        <section id="disqualifications">
            <h2>"Disqualifications"</h2>
            <p class="meta">"A disqualified participant cannot submit, and their line (or their team's) leaves every board until they are reinstated. Their submissions and scores stay."</p>
            {move || error().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            {out}
            {form}
        </section>
    }
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
