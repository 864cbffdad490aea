//! The pages shown instead of data: not found, signed out, refused, server error.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

#[component]
pub fn NotFound(what: String, #[prop(optional)] message: Option<String>) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found"/>
        <section class="notice" id="not-found">
            <h1>{format!("No such {what}")}</h1>
            <p>{message.unwrap_or_else(|| "Nothing lives at this address.".into())}</p>
            <p><A href="/">"See all challenges"</A></p>
        </section>
    }
}

#[component]
pub fn SignedOut(message: String) -> impl IntoView {
    view! {
        <Title text="Sign in"/>
        <section class="notice" id="signed-out">
            <h1>"Sign in to see this page"</h1>
            <p>{message}</p>
            <p><A href="/sign-in">"Sign in with your token"</A></p>
        </section>
    }
}

#[component]
pub fn Refused(message: String) -> impl IntoView {
    view! {
        <Title text="Not allowed"/>
        <section class="notice" id="refused">
            <h1>"This page is not for you"</h1>
            <p>{message}</p>
        </section>
    }
}

#[component]
pub fn ServerError(message: String) -> impl IntoView {
    view! {
        <Title text="Server error"/>
        <section class="notice" id="server-error" role="alert">
            <h1>"Something went wrong on our side"</h1>
            <p>{message}</p>
            <p>"Nothing you sent was lost. Reload the page in a moment."</p>
        </section>
    }
}
