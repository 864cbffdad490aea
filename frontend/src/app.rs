//! The document shell, the routes and the layout every page shares.

use darkroom_api::Me;
use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::components::{A, Route, Router, Routes};
use leptos_router::hooks::use_location;
use leptos_router::{SsrMode, path};

use crate::api::{SignOut, Visitor, current_visitor};
use crate::pages::{
    challenge::ChallengeView, challenges::ChallengeList, errors::NotFound, leaderboard::LeaderboardView, me::MyView,
    new_token::NewTokenView, organizer::OrganizerView, sign_in::SignInView, submission::SubmissionDetail,
};

/// The HTML document around the app (server only).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="stylesheet" href="/pkg/darkroom.css"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Who is signed in and their forms' CSRF token, shared by the header, the pages and their
/// forms. Asked again on every navigation: signing in or out in the hydrated page navigates
/// without reloading, and a header asked once per page load went on saying "Sign in" on the
/// participant's own page (and its forms would have carried the old session's token).
#[derive(Clone, Copy)]
pub struct SignedIn(pub Resource<Result<Visitor, ServerFnError>>);

/// Provides [`SignedIn`] to everything inside the router.
#[component]
fn Session(children: Children) -> impl IntoView {
    let location = use_location();
    provide_context(SignedIn(Resource::new(move || location.pathname.get(), |_| current_visitor())));
    children()
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Effects run only in the browser, once the scripts have taken the page over: the mark lets
    // the browser tests wait for it, so their clicks reach the hydrated forms, not plain posts.
    Effect::new(|_| {
        if let Some(root) = document().document_element() {
            let _ = root.set_attribute("data-hydrated", "");
        }
    });
    view! {
        <Title formatter=|page: String| format!("{page} · Darkroom")/>
        <Router>
            <Session>
            <a class="skip" href="#main">"Skip to content"</a>
            <Header/>
            <main id="main">
                // Async: each page is rendered whole (status code included) before it is sent.
                <Routes fallback=|| view! { <NotFound what="page".to_string()/> }>
                    <Route path=path!("/") view=ChallengeList ssr=SsrMode::Async/>
                    <Route path=path!("/challenges/:slug") view=ChallengeView ssr=SsrMode::Async/>
                    <Route path=path!("/challenges/:slug/leaderboard") view=LeaderboardView ssr=SsrMode::Async/>
                    <Route path=path!("/challenges/:slug/submissions") view=OrganizerView ssr=SsrMode::Async/>
                    <Route path=path!("/me") view=MyView ssr=SsrMode::Async/>
                    <Route path=path!("/me/token") view=NewTokenView ssr=SsrMode::Async/>
                    <Route path=path!("/submissions/:id") view=SubmissionDetail ssr=SsrMode::Async/>
                    <Route path=path!("/sign-in") view=SignInView ssr=SsrMode::Async/>
                </Routes>
            </main>
            <footer>
                <p>"Darkroom runs your container beside data nobody may download; only scores leave."</p>
            </footer>
            </Session>
        </Router>
    }
}

/// The site's name, navigation and who is signed in.
#[component]
fn Header() -> impl IntoView {
    let SignedIn(who) = expect_context::<SignedIn>();
    let sign_out = ServerAction::<SignOut>::new();
    view! {
        <header class="site">
            <nav aria-label="Site">
                <A href="/" attr:class="brand">"Darkroom"</A>
                <A href="/">"Challenges"</A>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        let Ok(Visitor { me, csrf }) = who.await else {
                            return view! { <A href="/sign-in">"Sign in"</A> }.into_any();
                        };
                        let form = move || view! {
                            <ActionForm action=sign_out attr:class="inline" attr:id="sign-out">
                                <input type="hidden" name="csrf" value=csrf/>
                                <button type="submit">"Sign out"</button>
                            </ActionForm>
                        };
                        match me {
                            Some(Me::Participant(p)) => view! {
                                <A href="/me">"My submissions"</A>
                                <span class="who">{format!("Signed in as {}", p.name)}</span>
                                {form()}
                            }.into_any(),
                            Some(Me::Organizer) => view! {
                                <span class="who">"Signed in as the organizer"</span>
                                {form()}
                            }.into_any(),
                            None => view! { <A href="/sign-in">"Sign in"</A> }.into_any(),
                        }
                    })}
                </Suspense>
            </nav>
        </header>
    }
}
