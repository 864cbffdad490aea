//! What makes an announcement's text acceptable (the shapes are `darkroom_api::announcement`).
//!
//! The title is a heading on the challenge's page and a line in the CLI: one line, nothing
//! invisible (the rule names follow). The body is Markdown, so it keeps its line breaks and
//! tabs, and zero-width joiners (emoji sequences need them); it refuses the other control
//! characters and the bidirectional overrides and isolates, which make text read differently
//! from what it is.

use darkroom_api::{MAX_ANNOUNCEMENT_BODY_CHARS, MAX_ANNOUNCEMENT_TITLE_CHARS, PostAnnouncement};

use super::{FieldError, text};

/// A checked title (trimmed) and body (without blank lines around it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnouncementText {
    pub title: String,
    pub body: String,
}

impl AnnouncementText {
    /// Every problem of the post at once, each with its field.
    pub fn parse(post: &PostAnnouncement) -> Result<Self, Vec<FieldError>> {
        let mut problems = Vec::new();
        let title = match text::one_line("title", &post.title, MAX_ANNOUNCEMENT_TITLE_CHARS, "the title") {
            Ok("") => {
                problems.push(FieldError::new("title", "is empty", "say in a few words what changed"));
                ""
            }
            Ok(title) => title,
            Err(e) => {
                problems.push(e);
                ""
            }
        };
        // A browser's form sends its line breaks as CRLF, and counts each as one character.
        let body = post.body.replace("\r\n", "\n");
        // Leading spaces may open an indented code block: only blank lines go from the start.
        let body = body.trim_end().trim_start_matches(['\n', '\r']);
        if let Some(c) = body.chars().find(|&c| refused_in_body(c)) {
            problems.push(FieldError::new(
                "body",
                format!("holds U+{:04X}, a control character or a direction override", u32::from(c)),
                "remove it: line breaks and tabs are the only control characters a body keeps",
            ));
        }
        problems.extend(text::longer_than("body", body, MAX_ANNOUNCEMENT_BODY_CHARS));
        match problems.is_empty() {
            true => Ok(Self { title: title.to_owned(), body: body.to_owned() }),
            false => Err(problems),
        }
    }
}

/// Controls other than line breaks and tabs, and the overrides and isolates that reorder the
/// text after them. Narrower than a name's rule on purpose: zero-width joiners build emoji and
/// the direction marks (U+200E, U+200F, U+061C) are how right-to-left prose is written; the CLI
/// escapes those when it prints to a terminal.
fn refused_in_body(c: char) -> bool {
    let control = c.is_control() && !matches!(c, '\n' | '\r' | '\t');
    let direction = matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
    control || direction
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(title: &str, body: &str) -> PostAnnouncement {
        PostAnnouncement { title: title.into(), body: body.into() }
    }

    fn fields(r: Result<AnnouncementText, Vec<FieldError>>) -> Vec<String> {
        r.unwrap_err().into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn markdown_keeps_its_lines_and_emoji_and_is_trimmed() {
        let body = "## New split\n\n- tab\tseparated\n- 👩\u{200D}🔬 welcome";
        let text = AnnouncementText::parse(&post("  Deadline moved ", &format!("\n\n{body}\n  \n"))).unwrap();
        assert_eq!((text.title.as_str(), text.body.as_str()), ("Deadline moved", body));
        let code = AnnouncementText::parse(&post("t", "\n    indented code\n")).unwrap();
        assert_eq!(code.body, "    indented code", "the indent that makes it code stays");
    }

    #[test]
    fn a_forms_crlf_line_breaks_count_as_one_character() {
        let body = format!("{}\r\n{}", "a".repeat(5_000), "b".repeat(4_999));
        assert_eq!(AnnouncementText::parse(&post("t", &body)).unwrap().body.chars().count(), 10_000);
    }

    #[test]
    fn every_problem_is_named_at_once() {
        assert_eq!(fields(AnnouncementText::parse(&post(" ", "x\u{202E}y"))), ["title", "body"]);
        assert_eq!(fields(AnnouncementText::parse(&post("two\nlines", "nul\0"))), ["title", "body"]);
        let long = AnnouncementText::parse(&post(&"t".repeat(121), &"b".repeat(10_001)));
        assert_eq!(fields(long), ["title", "body"]);
        assert!(AnnouncementText::parse(&post(&"t".repeat(120), &"b".repeat(10_000))).is_ok());
        assert_eq!(fields(AnnouncementText::parse(&post("isolate", "a\u{2067}b"))), ["body"]);
    }
}
