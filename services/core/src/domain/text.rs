//! Rules for the short texts people write and others read (names, notes, titles): nothing in
//! them may hide, reorder or fake the text around it where it is shown.

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use super::FieldError;

/// Whether `c` is invisible yet changes what is shown: controls (Cc), format characters (Cf:
/// bidirectional overrides and isolates such as U+202E and U+2066–U+2069, zero-width spaces and
/// joiners, the byte-order mark) and line or paragraph separators. A name holding one could
/// pass for another on a leaderboard, or reorder the text around it.
pub(super) fn is_invisible(c: char) -> bool {
    matches!(
        c.general_category(),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    )
}

/// `s` trimmed, if it is one line of at most `max` characters with nothing invisible; else what
/// is wrong with `field`, which the fix calls `what` ("the note").
pub(super) fn one_line<'a>(field: &str, s: &'a str, max: usize, what: &str) -> Result<&'a str, FieldError> {
    let s = s.trim();
    if let Some(c) = s.chars().find(|&c| is_invisible(c)) {
        return Err(FieldError::new(
            field,
            format!("holds U+{:04X}, a line break or an invisible control or formatting character", u32::from(c)),
            format!("write {what} on one line, without tabs, direction marks or zero-width characters"),
        ));
    }
    match longer_than(field, s, max) {
        Some(e) => Err(e),
        None => Ok(s),
    }
}

/// The problem of a text over `max` characters, if it is.
pub(super) fn longer_than(field: &str, s: &str, max: usize) -> Option<FieldError> {
    let chars = s.chars().count();
    (chars > max).then(|| {
        FieldError::new(field, format!("is {chars} characters long"), format!("shorten it to at most {max} characters"))
    })
}
