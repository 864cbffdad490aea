//! Darkroom's web pages: the challenge list, a challenge, its live leaderboard, a participant's
//! submissions and the organizer's view, rendered on the server and hydrated in the browser.
//!
//! - [`app`]: the shell, the router and the layout every page shares.
//! - [`pages`]: one module per page; each reads through [`api`].
//! - [`api`]: server functions, the pages' only way to data, and the page data they return. On
//!   the server they call the submissions API (the same one the CLI uses) with the visitor's
//!   session from a cookie (never their token); its answers are `darkroom_api`'s types, which build for the browser's
//!   wasm too, so server and browser read one definition of each shape.
//! - [`format`]: numbers and times as text; [`chart`]: scores over time as SVG;
//!   [`dataset_tree`]: a dataset's file listing as folders with counts and sizes.
//! - `server` (ssr): configuration, start-up, the API client and the live score feed.
//! - `live` (hydrate): the browser end of the live feed.

// Leptos views are deeply nested types; the hydrate build needs more room to lay them out.
#![recursion_limit = "256"]

pub mod api;
pub mod app;
pub mod chart;
pub mod components;
pub mod dataset_tree;
pub mod format;
pub mod pages;

#[cfg(feature = "hydrate")]
mod live;
#[cfg(feature = "ssr")]
pub mod server;

/// The browser's entry point: take over the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
