//! What makes an announcement's text acceptable (the shapes are `darkroom_api::announcement`).
//!
//! The title is a heading on the challenge's page and a line in the CLI: one line, nothing
//! invisible (the rule names follow). The body is Markdown, so it keeps its line breaks and
//! tabs, and zero-width joiners (emoji sequences need them); it refuses the other control
//! characters and the bidirectional overrides and isolates, which make text read differently
//! from what it is.

use darkroom_api::{MAX_ANNOUNCEMENT_BODY_CHARS, MAX_ANNOUNCEMENT_TITLE_CHARS, PostAnnouncement};

use super::FieldError;

/// A checked title (trimmed) and body (without blank lines around it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnouncementText {
    pub title: String,
    pub body: String,
}

impl AnnouncementText {
    /// Every problem of the post at once, each with its field.
    pub fn parse(post: &PostAnnouncement) -> Result<Self, Vec<FieldError>> {
        let title = post.title.trim();
        // Leading spaces may open an indented code block: only blank lines go from the start.
        let body = post.body.trim_end().trim_start_matches(['\n', '\r']);
        let mut problems = Vec::new();
        if title.is_empty() {
            problems.push(FieldError::new("title", "is empty", "say in a few words what changed"));
        } else if let Some(c) = title.chars().find(|&c| super::participant::is_invisible(c)) {
            problems.push(FieldError::new(
                "title",
                format!("holds U+{:04X}, a line break or an invisible control or formatting character", u32::from(c)),
                "write the title on one line; details go in the body",
            ));
        }
        if let Some(p) = too_long("title", title, MAX_ANNOUNCEMENT_TITLE_CHARS) {
            problems.push(p);
        }
        if let Some(c) = body.chars().find(|&c| refused_in_body(c)) {
            problems.push(FieldError::new(
                "body",
                format!("holds U+{:04X}, a control character or a direction override", u32::from(c)),
                "remove it: line breaks and tabs are the only control characters a body keeps",
            ));
        }
        if let Some(p) = too_long("body", body, MAX_ANNOUNCEMENT_BODY_CHARS) {
            problems.push(p);
        }
        match problems.is_empty() {
            true => Ok(Self { title: title.to_owned(), body: body.to_owned() }),
            false => Err(problems),
        }
    }
}

fn too_long(field: &str, s: &str, max: usize) -> Option<FieldError> {
    let chars = s.chars().count();
    (chars > max)
        .then(|| FieldError::new(field, format!("is {chars} characters long"), format!("shorten it to at most {max}")))
}

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
    fn every_problem_is_named_at_once() {
        assert_eq!(fields(AnnouncementText::parse(&post(" ", "x\u{202E}y"))), ["title", "body"]);
        assert_eq!(fields(AnnouncementText::parse(&post("two\nlines", "nul\0"))), ["title", "body"]);
        let long = AnnouncementText::parse(&post(&"t".repeat(121), &"b".repeat(10_001)));
        assert_eq!(fields(long), ["title", "body"]);
        assert!(AnnouncementText::parse(&post(&"t".repeat(120), &"b".repeat(10_000))).is_ok());
        assert_eq!(fields(AnnouncementText::parse(&post("isolate", "a\u{2067}b"))), ["body"]);
    }
}
