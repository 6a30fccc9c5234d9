//! Ids as Graph writes them. Microsoft's own examples name one call
//! `57dab8b1-894c-409a-b240-bd8beae78896` in one notification and
//! `57DAB8B1894C409AB240BD8BEAE78896` in the next, and an operation the same way: a GUID is
//! the same id in any letter case, with or without dashes or braces. Other ids are opaque.

use std::borrow::Cow;

/// The form of `id` that compares equal however Graph wrote it: a GUID as its 32 hex digits
/// in lower case, any other id as it is. Requests keep using the form Graph gave.
pub fn id_key(id: &str) -> Cow<'_, str> {
    match guid_digits(id) {
        Some(digits) => Cow::Owned(digits),
        None => Cow::Borrowed(id),
    }
}

/// Whether `a` and `b` name the same thing.
pub fn same_id(a: &str, b: &str) -> bool {
    a == b || id_key(a) == id_key(b)
}

/// The 32 hex digits of a GUID in lower case: `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` or 32
/// digits in a row, optionally in braces; `None` for anything else.
fn guid_digits(id: &str) -> Option<String> {
    let inner = id
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .unwrap_or(id);
    let bytes = inner.as_bytes();
    let dashed = match bytes.len() {
        32 => false,
        36 => true,
        _ => return None,
    };
    let mut digits = String::with_capacity(32);
    for (i, &b) in bytes.iter().enumerate() {
        if dashed && matches!(i, 8 | 13 | 18 | 23) {
            if b != b'-' {
                return None;
            }
            continue;
        }
        if !b.is_ascii_hexdigit() {
            return None;
        }
        digits.push(b.to_ascii_lowercase() as char);
    }
    Some(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guid_is_one_id_in_every_form() {
        let forms = [
            "57dab8b1-894c-409a-b240-bd8beae78896",
            "57DAB8B1894C409AB240BD8BEAE78896",
            "57DAB8B1-894C-409A-B240-BD8BEAE78896",
            "{57dab8b1-894c-409a-b240-bd8beae78896}",
            "57dab8b1894c409ab240bd8beae78896",
        ];
        for form in forms {
            assert_eq!(id_key(form), "57dab8b1894c409ab240bd8beae78896", "{form}");
            assert!(same_id(form, forms[0]));
        }
    }

    #[test]
    fn other_ids_are_opaque() {
        for id in [
            "c1",
            "",
            "421f0c00-3a1f-4c42-8e2b-1c9fa0b5d7e", // a digit short
            "421f0c00x3a1f-4c42-8e2b-1c9fa0b5d7e1", // a dash missing
            "zzzf0c003a1f4c428e2b1c9fa0b5d7e1",    // not hex
            "57DAB8B1-894C409AB240BD8BEAE78896aaaa", // 36 chars, no dashes
        ] {
            assert_eq!(id_key(id), id, "{id}");
        }
        assert!(!same_id("C1", "c1"), "non-GUID ids keep their case");
    }
}
