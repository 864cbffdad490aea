//! The visitor's token, kept in an HttpOnly cookie so page scripts never see it and every
//! server-rendered page can act for the visitor. `SameSite=Strict` keeps other sites from
//! sending it along with a forged form.

use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderValue, request::Parts};
use leptos::prelude::*;
use leptos_axum::ResponseOptions;

const COOKIE_NAME: &str = "darkroom_token";

/// The token the request carries, if any.
pub fn token() -> Option<String> {
    let parts = use_context::<Parts>()?;
    parts.headers.get_all(COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|header| {
        header.split(';').map(str::trim).find_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            (name == COOKIE_NAME && !value.is_empty()).then(|| value.to_owned())
        })
    })
}

/// Sets (or, with `None`, clears) the cookie on the response.
pub fn remember(token: Option<&str>) {
    let cookie = match token {
        Some(t) => format!("{COOKIE_NAME}={t}; Path=/; HttpOnly; SameSite=Strict; Max-Age=2592000"),
        None => format!("{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    };
    if let (Some(response), Ok(value)) = (use_context::<ResponseOptions>(), HeaderValue::from_str(&cookie)) {
        response.append_header(SET_COOKIE, value);
    }
}

/// Tokens are printable ASCII without `;`, so anything else is refused before it reaches a
/// header.
pub fn plausible(token: &str) -> bool {
    !token.is_empty() && token.len() <= 512 && token.bytes().all(|b| b.is_ascii_graphic() && b != b';')
}
