//! Transfer targets as a config writes them: `user:<object-id>`, `phone:+<E.164 number>` or
//! `application:<app-id>`.

use crate::types::{Identity, IdentityKind};

pub(crate) const EXPECTED_FORM: &str =
    "`user:<object-id>`, `phone:+<E.164 number>` or `application:<app-id>`";

/// Someone to transfer a call to, with the name the workflow knows them by (its config key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    name: String,
    identity: Identity,
}

impl Target {
    pub fn new(name: impl Into<String>, identity: Identity) -> Self {
        Self {
            name: name.into(),
            identity,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }
}

/// The identity written as `user:<object-id>`, `phone:+<E.164 number>` or
/// `application:<app-id>`; `None` when the value is not one of these forms. Object and app ids
/// are GUIDs; a phone number is `+`, a country code not starting with 0, at most 15 digits.
pub fn parse_target(value: &str) -> Option<Identity> {
    let (kind, id) = value.split_once(':')?;
    let (kind, valid) = match kind {
        "user" => (IdentityKind::User, is_guid(id)),
        "application" => (IdentityKind::Application, is_guid(id)),
        "phone" => (IdentityKind::Phone, is_e164(id)),
        _ => return None,
    };
    valid.then(|| Identity {
        kind,
        id: id.to_string(),
        display_name: None,
        tenant_id: None,
    })
}

/// Entra object ids and app ids are GUIDs: `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
fn is_guid(id: &str) -> bool {
    let groups: Vec<&str> = id.split('-').collect();
    let lengths = groups.iter().map(|group| group.len());
    lengths.eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|group| group.bytes().all(|byte| byte.is_ascii_hexdigit()))
}

/// `+`, a country code that does not start with 0, at most 15 digits in all.
fn is_e164(number: &str) -> bool {
    number.strip_prefix('+').is_some_and(|digits| {
        (2..=15).contains(&digits.len())
            && !digits.starts_with('0')
            && digits.bytes().all(|byte| byte.is_ascii_digit())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OBJECT_ID: &str = "5f3c2a1b-0d4e-4f6a-8b7c-9d0e1f2a3b4c";

    fn kind_and_id(value: &str) -> Option<(IdentityKind, String)> {
        parse_target(value).map(|identity| (identity.kind, identity.id))
    }

    #[test]
    fn parses_each_form() {
        assert_eq!(
            kind_and_id(&format!("user:{OBJECT_ID}")),
            Some((IdentityKind::User, OBJECT_ID.to_string()))
        );
        assert_eq!(
            kind_and_id(&format!("application:{OBJECT_ID}")),
            Some((IdentityKind::Application, OBJECT_ID.to_string()))
        );
        assert_eq!(
            kind_and_id("phone:+14255550123"),
            Some((IdentityKind::Phone, "+14255550123".to_string()))
        );
    }

    #[test]
    fn rejects_malformed_values() {
        for value in [
            "",
            "sales",
            "user:",
            "user:alice@contoso.com",
            "user:5f3c2a1b0d4e4f6a8b7c9d0e1f2a3b4c",
            "application:5f3c2a1b-0d4e-4f6a-8b7c-9d0e1f2a3b4",
            "phone:14255550123",
            "phone:+0425555",
            "phone:+1 425 555 0123",
            "phone:+1234567890123456",
            "guest:abc",
            "User:5f3c2a1b-0d4e-4f6a-8b7c-9d0e1f2a3b4c",
        ] {
            assert!(
                parse_target(value).is_none(),
                "{value:?} should be rejected"
            );
        }
    }
}
