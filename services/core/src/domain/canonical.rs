//! Canonical JSON: one fixed spelling of a JSON value, so that a hash or a signature over it
//! does not depend on map order or whitespace. Used by the board commitment
//! ([`super::commitment`]) and the score receipts ([`super::receipt`]).
//!
//! The rule (RFC 8785's, for the values Darkroom writes):
//! - object keys sorted by their UTF-8 bytes, at every level; no whitespace anywhere;
//! - strings escaped as serde_json escapes them (`"`, `\`, control characters; other
//!   characters as raw UTF-8);
//! - integers in decimal; floats as serde_json prints an `f64`: the shortest decimal that
//!   reads back as the same `f64` (ryu), with `.0` on integral values and an exponent for very
//!   large or small ones (`0.1`, `1.0`, `1e-7`, `1e+21`). Receipts sign no float at all;
//! - absent optional fields are left out (the types skip them), never written as `null`.
//!
//! NaN and infinities cannot reach it: serde_json has no value for them.

use serde::Serialize;
use serde_json::Value;

/// The canonical bytes of `value`'s JSON.
pub fn to_canonical_bytes<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    let value = serde_json::to_value(value)?;
    let mut out = Vec::with_capacity(512);
    write_canonical(&value, &mut out);
    Ok(out)
}

/// Appends the canonical bytes of `value` to `out`.
pub fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(k, out);
                out.push(b':');
                write_canonical(v, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(v, out);
            }
            out.push(b']');
        }
        Value::String(s) => write_string(s, out),
        // Numbers (ryu for floats), booleans and null as serde_json writes them.
        other => out.extend_from_slice(other.to_string().as_bytes()),
    }
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(serde_json::to_string(s).expect("a string is JSON").as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_sorted_at_every_level_and_nothing_is_spaced() {
        let v = serde_json::json!({ "b": [1, { "z": true, "a": null }], "a": "é\"\n", "B": 1.0 });
        assert_eq!(
            String::from_utf8(to_canonical_bytes(&v).unwrap()).unwrap(),
            r#"{"B":1.0,"a":"é\"\n","b":[1,{"a":null,"z":true}]}"#
        );
    }
}
