//! The visitor's web session and the forms' CSRF tokens.
//!
//! At sign-in the page server trades the visitor's token for a session with the API
//! (`POST /api/v1/sessions`) and keeps only the session's secret, in an HttpOnly cookie: page
//! scripts never see it, the token is never stored, and the secret stops working when the
//! session expires or is signed out. The cookie is `SameSite=Strict` and, when the pages are
//! served over https (`frontend.public_url`), `Secure` and named `__Host-…`, which no subdomain
//! can set or shadow.
//!
//! Every form that changes something carries a CSRF token in a hidden field, checked before the
//! server function acts ([`check_csrf`]). For a signed-in visitor it is derived from the session
//! secret (SHA-256 of a label and the secret): another site can neither read the secret nor so
//! compute the token, the page server keeps no state and needs no key of its own, and the
//! token changes with every session. A visitor without a session (the sign-in form) gets a
//! random token in a cookie of its own, which the form must repeat (double submit).
//!
//! One cookie carries a token, briefly: a participant who replaces theirs on their page must
//! see the new one once, also without scripts, where the form's answer is a redirect. The
//! replacement holds it in an HttpOnly cookie for [`NEW_TOKEN_SECONDS`], sent only to
//! [`NEW_TOKEN_PATH`] (the page that shows it and its server function), which shows it and
//! clears it at once ([`hold_new_token`], [`take_new_token`]). The page server keeps no state,
//! so the visitor's own browser is the one place it can wait; the API never sees it. A cookie
//! with a narrower path than `/` cannot be `__Host-`; over https it is `__Secure-`.

use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderValue, request::Parts};
use leptos::prelude::*;
use leptos_axum::ResponseOptions;
use rand::RngCore;
use sha2::{Digest, Sha256};

const SESSION_COOKIE: &str = "darkroom_session";
const CSRF_COOKIE: &str = "darkroom_csrf";
const NEW_TOKEN_COOKIE: &str = "darkroom_new_token";

/// How long a replaced token waits in its cookie to be shown: the redirect that follows the
/// form takes a moment; a visitor who never arrives loses nothing the organizer cannot replace.
pub const NEW_TOKEN_SECONDS: i64 = 120;
/// Where the new token's cookie is sent: the page that shows it, and (below it) the server
/// function that page reads it with.
pub const NEW_TOKEN_PATH: &str = "/me/token";

/// How the page server's cookies are named and flagged, from the address visitors use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CookiePolicy {
    /// Served over https: `Secure` and the `__Host-` prefix.
    pub secure: bool,
}

impl CookiePolicy {
    pub fn for_public_url(public_url: &str) -> Self {
        Self { secure: public_url.trim().to_ascii_lowercase().starts_with("https://") }
    }

    /// The name of cookie `base` sent to `path`: `__Host-` (which must be `Path=/`) or
    /// `__Secure-` over https, so no plain-http page or subdomain can set or shadow it.
    fn name(self, base: &str, path: &str) -> String {
        match (self.secure, path) {
            (false, _) => base.to_owned(),
            (true, "/") => format!("__Host-{base}"),
            (true, _) => format!("__Secure-{base}"),
        }
    }

    /// `name=value` with the attributes every cookie here has, sent to `path`; `max_age` in
    /// seconds, `None` for one that lasts as long as the browser keeps it (the CSRF cookie).
    /// False when it could not be set (no response to set it on, or a value no header holds).
    fn set(self, base: &str, value: &str, max_age: Option<i64>, path: &str) -> bool {
        let mut cookie = format!("{}={value}; Path={path}; HttpOnly; SameSite=Strict", self.name(base, path));
        if let Some(age) = max_age {
            cookie.push_str(&format!("; Max-Age={}", age.max(0)));
        }
        if self.secure {
            cookie.push_str("; Secure");
        }
        if let (Some(response), Ok(value)) = (use_context::<ResponseOptions>(), HeaderValue::from_str(&cookie)) {
            response.append_header(SET_COOKIE, value);
            return true;
        }
        false
    }
}

fn policy() -> CookiePolicy {
    use_context::<CookiePolicy>().unwrap_or_default()
}

/// The value of the request's cookie `base` sent to `path` (under this policy's name), if any.
fn cookie(base: &str, path: &str) -> Option<String> {
    let name = policy().name(base, path);
    let parts = use_context::<Parts>()?;
    parts.headers.get_all(COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|header| {
        header.split(';').map(str::trim).find_map(|pair| {
            let (n, value) = pair.split_once('=')?;
            (n == name && plausible(value)).then(|| value.to_owned())
        })
    })
}

/// The session secret the request carries, if any (whether the API still accepts it is the
/// API's to say).
pub fn secret() -> Option<String> {
    cookie(SESSION_COOKIE, "/")
}

/// Keeps the session's secret in the cookie for `max_age` seconds (until the session expires).
pub fn remember(secret: &str, max_age: i64) {
    policy().set(SESSION_COOKIE, secret, Some(max_age), "/");
}

/// Clears the session cookie.
pub fn forget() {
    policy().set(SESSION_COOKIE, "", Some(0), "/");
}

/// Keeps a participant's new token for [`NEW_TOKEN_PATH`] to show once; false when it could
/// not be kept (the caller must then show it some other way).
pub fn hold_new_token(token: &str) -> bool {
    plausible(token) && policy().set(NEW_TOKEN_COOKIE, token, Some(NEW_TOKEN_SECONDS), NEW_TOKEN_PATH)
}

/// The new token held for this visitor, if any, clearing it: it is shown once.
pub fn take_new_token() -> Option<String> {
    let token = cookie(NEW_TOKEN_COOKIE, NEW_TOKEN_PATH)?;
    policy().set(NEW_TOKEN_COOKIE, "", Some(0), NEW_TOKEN_PATH);
    Some(token)
}

/// The token a session's forms carry: SHA-256 of a label and the secret, so it reveals nothing
/// of the secret (it is printed into pages) and differs from the hash the API stores.
fn derived(secret: &str) -> String {
    hex::encode(Sha256::digest(format!("darkroom form token v1\n{secret}").as_bytes()))
}

/// The CSRF token for this visitor's forms: the session's, or else the double-submit cookie's,
/// minting that cookie on the response when the visitor has none yet.
pub fn csrf_token() -> String {
    if let Some(secret) = secret() {
        return derived(&secret);
    }
    if let Some(token) = cookie(CSRF_COOKIE, "/") {
        return token;
    }
    let mut random = [0u8; 32];
    rand::rng().fill_bytes(&mut random);
    let token = hex::encode(random);
    policy().set(CSRF_COOKIE, &token, None, "/");
    token
}

/// Refuses a form whose CSRF token is missing or is not this visitor's.
pub fn check_csrf(sent: &str) -> Result<(), ServerFnError> {
    if sent.is_empty() {
        return Err(ServerFnError::new(
            "this form was sent without its CSRF token, so nothing was done: reload the page and send the form again",
        ));
    }
    let expected = match secret() {
        Some(secret) => derived(&secret),
        None => cookie(CSRF_COOKIE, "/").ok_or_else(|| {
            ServerFnError::new(
                "this form's CSRF cookie is missing, so nothing was done: allow cookies for this site, reload the page and send the form again",
            )
        })?,
    };
    // Comparing hashes keeps the comparison's time independent of the token's prefix.
    if Sha256::digest(sent.as_bytes()) != Sha256::digest(expected.as_bytes()) {
        return Err(ServerFnError::new(
            "this form's CSRF token is not your session's (a form from another site, or an old page), so nothing was done: reload the page and send it again",
        ));
    }
    Ok(())
}

/// Tokens and secrets are printable ASCII without `;`, so anything else is refused before it
/// reaches a header.
pub fn plausible(token: &str) -> bool {
    !token.is_empty() && token.len() <= 512 && token.bytes().all(|b| b.is_ascii_graphic() && b != b';')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_makes_cookies_secure_and_host_prefixed() {
        let secure = CookiePolicy::for_public_url("HTTPS://darkroom.example");
        assert!(secure.secure);
        assert_eq!(secure.name(SESSION_COOKIE, "/"), "__Host-darkroom_session");
        assert_eq!(secure.name(NEW_TOKEN_COOKIE, NEW_TOKEN_PATH), "__Secure-darkroom_new_token");
        let plain = CookiePolicy::for_public_url("http://127.0.0.1:3000");
        assert_eq!(plain.name(SESSION_COOKIE, "/"), "darkroom_session");
        assert_eq!(plain.name(NEW_TOKEN_COOKIE, NEW_TOKEN_PATH), "darkroom_new_token");
    }

    #[test]
    fn the_form_token_is_not_the_secret_nor_its_stored_hash() {
        let secret = "drs_0123";
        let token = derived(secret);
        assert!(!token.contains(secret));
        assert_ne!(token, hex::encode(Sha256::digest(secret.as_bytes())));
        assert_ne!(token, derived("drs_0124"));
    }
}
