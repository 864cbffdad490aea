//! `/`: every challenge, grouped as open, upcoming and closed.

use darkroom_api::{ChallengeStatus, ChallengeSummary};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use super::errors::ServerError;
use super::server_message;
use crate::api::list_challenges;

#[component]
pub fn ChallengeList() -> impl IntoView {
    let challenges = Resource::new(|| (), |_| list_challenges());
    view! {
        <Title text="Challenges"/>
        <h1>"Challenges"</h1>
        <p class="lede">"Submit a container; it runs beside data you never see; only its score comes back."</p>
        <Suspense fallback=|| view! { <p>"Loading challenges…"</p> }>
            {move || Suspend::new(async move {
                match challenges.await {
                    Ok(list) => view! {
                        <Group title="Open" status=ChallengeStatus::Open list=list.clone()/>
                        <Group title="Upcoming" status=ChallengeStatus::Upcoming list=list.clone()/>
                        <Group title="Closed" status=ChallengeStatus::Closed list/>
                    }.into_any(),
                    Err(e) => view! { <ServerError message=server_message(&e)/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Group(title: &'static str, status: ChallengeStatus, list: Vec<ChallengeSummary>) -> impl IntoView {
    let items: Vec<ChallengeSummary> = list.into_iter().filter(|c| c.status == status).collect();
    let id = format!("challenges-{}", status.label());
    view! {
        <section class="group" id=id>
            <h2>{title}</h2>
            {if items.is_empty() {
                view! { <p class="empty">{format!("No {} challenges.", status.label())}</p> }.into_any()
            } else {
                view! {
                    <ul class="cards">
                        {items.into_iter().map(|c| {
                            let href = format!("/challenges/{}", c.slug);
                            let board = format!("/challenges/{}/leaderboard", c.slug);
                            view! {
                                <li class="card">
                                    <h3><A href=href>{c.title}</A></h3>
                                    <p>
                                        <span class=format!("status status-{}", c.status.label())>{c.status.label()}</span>
                                        {c.current_phase.map(|p| format!(" · phase {p}"))}
                                    </p>
                                    <p><A href=board>"Leaderboard"</A></p>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
    }
}
