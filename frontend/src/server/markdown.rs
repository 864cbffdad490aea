//! Challenge and dataset descriptions, written by organizers in Markdown, as sanitised HTML.
//!
//! **Why here, in the page server.** The API keeps and serves a description as the organizer
//! wrote it: the CLI prints it as text and other clients may render it their own way, so HTML is
//! a concern of the web pages. It is rendered on the server only ([`crate::api::ChallengePage`]
//! carries the finished HTML to the browser with the rest of the page's data), so the hydrated
//! page sets the very same string and the parser and sanitiser (html5ever) stay out of the wasm.
//!
//! **What survives.** pulldown-cmark (CommonMark, with tables and strikethrough) turns the text
//! into HTML, raw HTML in it included, and ammonia then keeps only an allow-list: paragraphs,
//! headings, lists, emphasis, code blocks, quotes, tables and links. No script, no event
//! handler (`onerror=`), no `style`, no form, no iframe. Links keep only `http`, `https` and
//! `mailto` URLs (a `javascript:` link loses its `href`) and get
//! `rel="noopener noreferrer nofollow"`.
//!
//! **No images.** An `<img>` from another site would tell that site who reads the challenge
//! (and when), and Darkroom has no place to host organizers' pictures; images are dropped, and
//! their alternative text stays as text. Headings are moved two levels down (`#` becomes
//! `<h3>`): the page's own title is the `<h1>` and its sections are `<h2>`.

use std::collections::HashSet;

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};

/// The sanitised HTML of `markdown`, a page's own text (`#` becomes `<h3>`).
pub fn to_html(markdown: &str) -> String {
    to_html_below(markdown, 2)
}

/// The sanitised HTML of an announcement's body, wherever it is shown (the challenge page, the
/// feed): under the announcement's `<h3>` title, so the body's own `#` is an `<h4>` and never
/// reads as that title's equal.
pub fn announcement_html(body: &str) -> String {
    to_html_below(body, 3)
}

/// The sanitised HTML of `markdown` with its headings `levels` down.
fn to_html_below(markdown: &str, levels: usize) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let events = Parser::new_ext(markdown, options).filter_map(|event| match event {
        Event::Start(Tag::Heading { level, id, classes, attrs }) => {
            Some(Event::Start(Tag::Heading { level: demoted(level, levels), id, classes, attrs }))
        }
        Event::End(TagEnd::Heading(level)) => Some(Event::End(TagEnd::Heading(demoted(level, levels)))),
        // The image's alternative text arrives as the text events inside it: it stays.
        Event::Start(Tag::Image { .. }) | Event::End(TagEnd::Image) => None,
        other => Some(other),
    });
    let mut html = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events);
    sanitiser().clean(&html).to_string()
}

/// `level` moved `by` levels down, at most to `<h6>` (and never above `<h3>`, the highest the
/// sanitiser keeps).
fn demoted(level: HeadingLevel, by: usize) -> HeadingLevel {
    const LEVELS: [HeadingLevel; 6] =
        [HeadingLevel::H1, HeadingLevel::H2, HeadingLevel::H3, HeadingLevel::H4, HeadingLevel::H5, HeadingLevel::H6];
    let at = LEVELS.iter().position(|l| *l == level).unwrap_or(0);
    LEVELS[(at + by).clamp(2, 5)]
}

fn sanitiser() -> ammonia::Builder<'static> {
    let tags: HashSet<&str> = [
        "p",
        "br",
        "hr",
        "h3",
        "h4",
        "h5",
        "h6",
        "ul",
        "ol",
        "li",
        "em",
        "strong",
        "del",
        "code",
        "pre",
        "blockquote",
        "a",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
    ]
    .into();
    let mut builder = ammonia::Builder::empty();
    builder
        .tags(tags)
        .add_tag_attributes("a", ["href", "title"])
        .add_tag_attributes("ol", ["start"])
        .add_tag_attributes("th", ["align"])
        .add_tag_attributes("td", ["align"])
        .url_schemes(["http", "https", "mailto"].into())
        .link_rel(Some("noopener noreferrer nofollow"))
        // What a script or style element held is dropped with it, not shown as text.
        .clean_content_tags(["script", "style"].into());
    builder
}

#[cfg(test)]
mod tests {
    use super::{announcement_html, to_html};

    #[test]
    fn headings_go_down_as_far_as_asked_and_stop_at_h6() {
        assert_eq!(announcement_html("# A\n\n## B\n\n###### F"), "<h4>A</h4>\n<h5>B</h5>\n<h6>F</h6>\n");
        assert_eq!(to_html("# A\n\n#### D"), "<h3>A</h3>\n<h6>D</h6>\n");
    }

    #[test]
    fn markdown_becomes_headings_lists_code_tables_and_links() {
        let html = to_html(
            "# Task\n\nTell **20X** from 40X.\n\n- one\n- two\n\n```\nlet x = 1;\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n[docs](https://example.org/docs)",
        );
        for needle in [
            "<h3>Task</h3>",
            "<strong>20X</strong>",
            "<li>one</li>",
            "<pre><code>let x = 1;\n</code></pre>",
            "<table>",
            "<td>2</td>",
            r#"<a href="https://example.org/docs" rel="noopener noreferrer nofollow">docs</a>"#,
        ] {
            assert!(html.contains(needle), "no {needle:?} in {html}");
        }
    }

    #[test]
    fn no_script_survives() {
        let html = to_html(
            "Hi <script>alert('x')</script> there\n\n<img src=x onerror=\"alert(1)\">\n\n[click](javascript:alert(1)) <a href=\"JaVaScRiPt:alert(2)\">two</a>\n\n<p onclick=\"alert(3)\" style=\"color:red\">para</p><iframe src=\"https://evil.example\"></iframe>",
        );
        let lower = html.to_lowercase();
        for gone in ["<script", "alert('x')", "onerror", "onclick", "javascript:", "<iframe", "style=", "<img"] {
            assert!(!lower.contains(gone), "{gone:?} survived in {html}");
        }
        assert!(html.contains("Hi") && html.contains("there") && html.contains("para"), "{html}");
        assert!(html.contains(">click</a>") && html.contains(">two</a>"), "link text stays: {html}");
    }

    #[test]
    fn images_leave_their_alternative_text() {
        let html = to_html("![a nucleus at 40X](https://tracker.example/pixel.png)");
        assert!(!html.contains("<img") && !html.contains("tracker.example"), "{html}");
        assert!(html.contains("a nucleus at 40X"), "{html}");
    }

    #[test]
    fn plain_text_is_paragraphs_and_markup_characters_are_escaped() {
        assert_eq!(to_html("Tell 20X from 40X.\n\nSecond."), "<p>Tell 20X from 40X.</p>\n<p>Second.</p>\n");
        assert_eq!(to_html("a < b & c"), "<p>a &lt; b &amp; c</p>\n");
    }
}
