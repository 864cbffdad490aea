//! `/me/token`: the token a replacement on `/me` just made, shown once (see
//! `server::session::hold_new_token`); reloading the page shows it no more. With scripts the
//! page may be drawn inside another page's document, which the browser can keep for its Back
//! button: the token is taken off the page when the visitor leaves it (`pagehide`).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use super::errors::ServerError;
use super::server_message;
use crate::api::take_new_token;

#[component]
pub fn NewTokenView() -> impl IntoView {
    let held = Resource::new(|| (), |_| take_new_token());
    view! {
        <Title text="Your new token"/>
        <h1>"Your new token"</h1>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match held.await {
                    Ok(Some(token)) => view! { <Shown token/> }.into_any(),
                    Ok(None) => view! {
                        <p class="empty" id="no-new-token">
                            "There is no new token to show: a new token is shown once, right after it is made. If you lost it, ask the organizer to replace your token."
                        </p>
                        <p><A href="/me">"Back to your submissions"</A></p>
                    }.into_any(),
                    Err(e) => view! { <ServerError message=server_message(&e)/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Shown(token: String) -> impl IntoView {
    let left = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    {
        let listener = window_event_listener(leptos::ev::pagehide, move |_| left.set(true));
        on_cleanup(move || listener.remove());
    }
    let shown = move || {
        if left.get() {
            return view! {
                <p class="empty" id="new-token-taken">"The token was taken off this page when you left it."</p>
            }
            .into_any();
        }
        let export = format!("export DARKROOM_TOKEN={token}");
        view! {
            <p class="lede">"Copy it now: it is shown only this once, and your old token no longer works."</p>
            <pre class="secret" id="new-token">{token.clone()}</pre>
            <p class="hint">
                "The browsers your old token signed in are signed out and the scoped tokens it made are revoked; this browser is signed in with the new one. In a terminal: "
                <code>{export}</code>
                ", or write it into the file you keep it in."
            </p>
        }
        .into_any()
    };
    view! {
        {shown}
        <p><A href="/me">"Back to your submissions"</A></p>
    }
}
