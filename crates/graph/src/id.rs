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

/// Longest id accepted from Graph (a GUID is 36 characters; the ids Graph writes otherwise
/// are shorter than this).
pub const MAX_ID_LEN: usize = 128;

/// Why an id in a notification is refused: too long, empty, or with characters no Graph id
/// has (which could change a request's path or forge a log line).
pub fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("it is empty".into());
    }
    if id.len() > MAX_ID_LEN {
        return Err(format!(
            "it is {} bytes long, more than {MAX_ID_LEN}",
            id.len()
        ));
    }
    match id.chars().find(|c| {
        !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '{' | '}' | ':' | '@'))
    }) {
        Some(c) => Err(format!("it contains {c:?}, which no Graph id has")),
        None => Ok(()),
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
    fn ids_graph_writes_pass_and_others_are_refused_with_the_reason() {
        for id in [
            "57dab8b1-894c-409a-b240-bd8beae78896",
            "{57DAB8B1-894C-409A-B240-BD8BEAE78896}",
            "491f0b00-ffff-4bc9-a43e-b226498ec22a",
            "19:meeting_abc@thread.v2",
        ] {
            assert_eq!(check_id(id), Ok(()), "{id}");
        }
        assert!(check_id("").unwrap_err().contains("empty"));
        assert!(
            check_id(&"a".repeat(129))
                .unwrap_err()
                .contains("129 bytes")
        );
        assert!(check_id("abc\nforged").unwrap_err().contains("'\\n'"));
        assert!(check_id("../x").is_err());
    }

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
