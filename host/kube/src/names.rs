//! Names and label values the API server accepts, whatever a ticket id holds: DNS-1123 labels
//! for object names (lowercase letters, digits and `-`, starting and ending with a letter or
//! digit, at most 63 characters) and label values (letters, digits, `-`, `_`, `.`, starting
//! and ending with a letter or digit, at most 63). Anything cut or changed gets a short hash
//! of the original, so two different ids never map to the same name.

use sha2::{Digest, Sha256};

/// The longest object name or label value.
pub const MAX_LEN: usize = 63;
/// Hex digits of the hash a changed name ends with.
const HASH_LEN: usize = 8;

fn hash(original: &str) -> String {
    hex::encode(Sha256::digest(original.as_bytes()))[..HASH_LEN].to_owned()
}

/// `text` cut to fit `max` with its hash appended, then trimmed of what may not end it.
fn fit(cleaned: &str, original: &str, changed: bool, allowed_end: impl Fn(char) -> bool) -> String {
    if !changed && cleaned.len() <= MAX_LEN && !cleaned.is_empty() {
        return cleaned.to_owned();
    }
    let keep = MAX_LEN - HASH_LEN - 1;
    let mut head: String = cleaned.chars().take(keep).collect();
    while head.ends_with(|c: char| !allowed_end(c)) {
        head.pop();
    }
    if head.is_empty() {
        hash(original)
    } else {
        format!("{head}-{}", hash(original))
    }
}

/// A DNS-1123 label made from `text` (an object name: a Job's, a pod's).
pub fn dns_label(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut cleaned: String = lower
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let trimmed = cleaned.trim_matches('-').to_owned();
    let changed = trimmed != text;
    cleaned = trimmed;
    fit(&cleaned, text, changed, |c| c.is_ascii_alphanumeric())
}

/// A label value made from `text`.
pub fn label_value(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = cleaned
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_owned();
    let changed = trimmed != text;
    fit(&trimmed, text, changed, |c| c.is_ascii_alphanumeric())
}

pub use robodev_controller::config::is_dns_label;

/// Whether `value` is a valid label value (the empty value is valid but never made here).
pub fn is_label_value(value: &str) -> bool {
    value.len() <= MAX_LEN
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && value
            .chars()
            .next()
            .is_none_or(|c| c.is_ascii_alphanumeric())
        && value
            .chars()
            .last()
            .is_none_or(|c| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names_stay_as_they_are() {
        assert_eq!(dns_label("robodev-tr-rd-1-1"), "robodev-tr-rd-1-1");
        assert_eq!(label_value("tr-RD-1"), "tr-RD-1");
        assert_eq!(label_value("a.b_c-1"), "a.b_c-1");
    }

    #[test]
    fn anything_else_is_made_valid_and_told_apart_by_a_hash() {
        let cases = [
            "robodev-tr-PROJ_12/x-1",
            "tr-ABC-1234567890123456789012345678901234567890123456789012345678901234567890",
            "--leading and trailing--",
            "ünïcödé",
            "",
            "...",
            &"x".repeat(300),
        ];
        for text in cases {
            let name = dns_label(text);
            assert!(is_dns_label(&name), "{text:?} -> {name:?}");
            let value = label_value(text);
            assert!(
                is_label_value(&value) && !value.is_empty(),
                "{text:?} -> {value:?}"
            );
        }
        // Different ids never collide, even when they clean up alike or share a long prefix.
        assert_ne!(dns_label("tr-A_1"), dns_label("tr-A.1"));
        let long = "x".repeat(100);
        assert_ne!(
            dns_label(&format!("{long}a")),
            dns_label(&format!("{long}b"))
        );
        assert_ne!(
            label_value(&format!("{long}a")),
            label_value(&format!("{long}b"))
        );
        // Upper case is not a DNS label: lowered and hashed (RD-1 and rd-1 stay apart).
        assert_ne!(dns_label("tr-RD-1"), dns_label("tr-rd-1"));
        assert_eq!(dns_label("tr-rd-1"), "tr-rd-1");
    }
}
