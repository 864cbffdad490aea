//! One module per page. Each page asks one server function for its data and renders the
//! data, or the page that explains why there is none.

pub mod challenge;
pub mod challenges;
pub mod errors;
pub mod leaderboard;
pub mod me;
pub mod new_token;
pub mod organizer;
pub mod sign_in;
pub mod submission;

use leptos::prelude::*;

use crate::api::Fetched;
use errors::{NotFound, Refused, ServerError, SignedOut};

/// Renders a page's data with `found`, or the right page for its absence or failure.
pub fn render<T>(what: &str, result: Result<Fetched<T>, ServerFnError>, found: impl FnOnce(T) -> AnyView) -> AnyView {
    match result {
        Ok(Fetched::Found(data)) => found(data),
        Ok(Fetched::NotFound(message)) => view! { <NotFound what=what.to_string() message/> }.into_any(),
        Ok(Fetched::SignedOut(message)) => view! { <SignedOut message/> }.into_any(),
        Ok(Fetched::Refused(message)) => view! { <Refused message/> }.into_any(),
        Err(e) => view! { <ServerError message=server_message(&e)/> }.into_any(),
    }
}

/// The message of a server function's error, without the framework's prefix.
pub fn server_message(e: &ServerFnError) -> String {
    match e {
        ServerFnError::ServerError(m) => m.clone(),
        other => other.to_string(),
    }
}
