//! `/challenges/{slug}/announcements.atom`: the organizer's announcements as an Atom feed, so a
//! participant's feed reader says when the organizer moves a deadline or fixes the evaluator,
//! without anyone visiting the page or the organizer running a webhook.
//!
//! Each entry is the announcement as the challenge page shows it: the title, and the body's
//! Markdown rendered and sanitised by [`super::markdown`] (the same HTML, carried escaped as
//! Atom's `html` content). Links are absolute, from `frontend.public_url`; an entry's id is its
//! place on the challenge page, which never changes while the announcement exists. An edit moves
//! the entry's `updated`, so readers show it again.

use atom_syndication::{Content, Entry, Feed, FixedDateTime, Link, Person, Text};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use darkroom_api::{Announcement, PublicChallenge};

use super::PageState;
use super::fns::segment;

/// The feed's media type (RFC 4287).
pub const ATOM: &str = "application/atom+xml; charset=utf-8";

pub async fn announcements(State(state): State<PageState>, Path(slug): Path<String>) -> Response {
    let path = format!("/challenges/{}", segment(&slug));
    let announcements_path = format!("{path}/announcements");
    let (challenge, announcements) = tokio::join!(
        state.api.get::<PublicChallenge>(&path, None),
        state.api.get::<Vec<Announcement>>(&announcements_path, None),
    );
    let (challenge, announcements) = match (challenge, announcements) {
        (Ok(c), Ok(a)) => (c, a),
        (Err(e), _) | (_, Err(e)) => return e.into_response(),
    };
    match feed(&state.public_url, &challenge.slug, &challenge.title, &announcements).write_to(Vec::new()) {
        // A reader polls; a minute's staleness costs an announcement nothing and spares the API.
        Ok(xml) => ([(header::CONTENT_TYPE, ATOM), (header::CACHE_CONTROL, "public, max-age=60")], xml).into_response(),
        Err(e) => {
            tracing::error!(challenge = %slug, error = %e, "the announcements feed did not write");
            (StatusCode::INTERNAL_SERVER_ERROR, "the announcements feed could not be written; try again later")
                .into_response()
        }
    }
}

/// The feed of the challenge `slug`'s `announcements` (newest first, as the API lists them), its
/// links under `public_url`.
pub fn feed(public_url: &str, slug: &str, title: &str, announcements: &[Announcement]) -> Feed {
    let base = public_url.trim_end_matches('/');
    let page = format!("{base}/challenges/{}", segment(slug));
    let me = format!("{page}/announcements.atom");
    let entries: Vec<Entry> = announcements.iter().map(|a| entry(&page, a)).collect();
    let mut feed = Feed::default();
    feed.set_id(me.clone());
    feed.set_title(Text::plain(xml_text(&format!("{title}: announcements"))));
    // RFC 4287 wants an author on the feed when its entries name none.
    let mut organizers = Person::default();
    organizers.set_name(xml_text(&format!("{title} organizers")));
    feed.set_authors(vec![organizers]);
    // Atom wants a time even for an empty feed: the newest change, or the epoch before any.
    let newest = announcements.iter().map(changed_at).max().unwrap_or(DateTime::UNIX_EPOCH);
    feed.set_updated(fixed(newest));
    feed.set_links(vec![link(&me, "self", "application/atom+xml"), link(&page, "alternate", "text/html")]);
    feed.set_entries(entries);
    feed
}

fn entry(page: &str, a: &Announcement) -> Entry {
    // The anchor the challenge page gives it (`pages::challenge`).
    let at = format!("{page}#announcement-{}", segment(&a.id));
    let mut content = Content::default();
    content.set_content_type("html".to_owned());
    // The body as the page shows it.
    content.set_value(xml_text(&super::markdown::announcement_html(&a.body)));
    let mut entry = Entry::default();
    entry.set_id(at.clone());
    entry.set_title(Text::plain(xml_text(&a.title)));
    entry.set_published(fixed(a.posted_at));
    entry.set_updated(fixed(changed_at(a)));
    entry.set_links(vec![link(&at, "alternate", "text/html")]);
    entry.set_content(content);
    entry
}

fn changed_at(a: &Announcement) -> DateTime<Utc> {
    a.edited_at.unwrap_or(a.posted_at)
}

fn fixed(t: DateTime<Utc>) -> FixedDateTime {
    t.fixed_offset()
}

fn link(href: &str, rel: &str, kind: &str) -> Link {
    let mut link = Link::default();
    link.set_href(href.to_owned());
    link.set_rel(rel.to_owned());
    link.set_mime_type(Some(kind.to_owned()));
    link
}

/// `text` without the characters XML 1.0 cannot carry at all, escaped or not (controls other
/// than tab and line breaks, U+FFFE, U+FFFF): the writer escapes markup, but one such character
/// would make every reader reject the whole feed. The API refuses them in announcements; a
/// challenge's title is checked here all the same.
fn xml_text(text: &str) -> String {
    text.chars()
        .filter(|&c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn announcement(id: &str, title: &str, body: &str, edited: bool) -> Announcement {
        let posted_at: DateTime<Utc> = "2026-12-04T10:00:00Z".parse().unwrap();
        Announcement {
            id: id.to_owned(),
            challenge: "c".to_owned(),
            title: title.to_owned(),
            body: body.to_owned(),
            posted_at,
            edited_at: edited.then(|| posted_at + chrono::Duration::hours(2)),
        }
    }

    #[test]
    fn characters_xml_cannot_carry_are_dropped_and_the_rest_kept() {
        assert_eq!(xml_text("a\u{0}b\u{1b}c\u{FFFE}d\te\nf ü 🙂"), "abcd\te\nf ü 🙂");
    }

    #[test]
    fn markup_in_a_title_reads_back_as_the_same_text() {
        let hostile = "<b>&amp;</b> ]]> \"'";
        let written = feed("http://x/", "c", "C & <D>", &[announcement("a1", hostile, "*hi*", true)]).to_string();
        let read: Feed = written.parse().unwrap();
        assert_eq!(read.title().as_str(), "C & <D>: announcements");
        assert_eq!(read.authors().iter().map(Person::name).collect::<Vec<_>>(), ["C & <D> organizers"]);
        let entry = &read.entries()[0];
        assert_eq!(entry.title().as_str(), hostile);
        assert_eq!(entry.id(), "http://x/challenges/c#announcement-a1");
        assert_eq!(entry.updated().to_rfc3339(), "2026-12-04T12:00:00+00:00");
        assert_eq!(entry.content().and_then(|c| c.value()), Some("<p><em>hi</em></p>\n"));
        assert_eq!(read.updated(), entry.updated(), "the feed moves with its newest change");
    }
}
