//! `/sign-in`: paste the token from `darkroom register` (or the organizer's admin token).

use leptos::prelude::*;
use leptos_meta::Title;

use super::server_message;
use crate::api::SignIn;
use crate::components::CsrfField;

#[component]
pub fn SignInView() -> impl IntoView {
    let sign_in = ServerAction::<SignIn>::new();
    let error = move || sign_in.value().get().and_then(Result::err).map(|e| server_message(&e));
    view! {
        <Title text="Sign in"/>
        <h1>"Sign in"</h1>
        <ActionForm action=sign_in attr:class="stack" attr:id="sign-in">
            <CsrfField/>
            <label for="token">"Your token"</label>
            <input id="token" name="token" type="password" autocomplete="current-password" required/>
            <p class="hint">"The token "<code>"darkroom register"</code>" printed once. Only a session is kept, in a cookie scripts cannot read; signing out ends it."</p>
            <button type="submit">"Sign in"</button>
        </ActionForm>
        {move || error().map(|e| view! { <p class="error" role="alert" id="sign-in-error">{e}</p> })}
    }
}
