//! Patterns over identities, as routes and policies write them: `kind`, `kind:id` or
//! `kind:prefix*`, with `*` for any kind. Ids compare without regard to ASCII letter case,
//! everywhere: Graph writes the same object id in upper and lower case.

use std::str::FromStr;

use super::{Identity, IdentityKind};

/// A parsed identity pattern; see the module documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityPattern {
    /// `None` matches every kind.
    kind: Option<IdentityKind>,
    id: IdPattern,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum IdPattern {
    Any,
    Exact(String),
    Prefix(String),
}

impl IdentityPattern {
    /// Whether `identity` is one this pattern names.
    pub fn matches(&self, identity: &Identity) -> bool {
        if self.kind.is_some_and(|kind| kind != identity.kind) {
            return false;
        }
        match &self.id {
            IdPattern::Any => true,
            IdPattern::Exact(id) => identity.id.eq_ignore_ascii_case(id),
            IdPattern::Prefix(prefix) => identity
                .id
                .get(..prefix.len())
                .is_some_and(|start| start.eq_ignore_ascii_case(prefix)),
        }
    }
}

impl FromStr for IdentityPattern {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (kind, id) = match text.split_once(':') {
            Some((kind, id)) => (kind, Some(id)),
            None => (text, None),
        };
        let kind = match kind {
            "*" => None,
            name => Some(IdentityKind::from_name(name).ok_or_else(|| {
                format!(
                    "`{text}`: unknown kind `{name}`; expected user, application, \
                     application-instance, phone, guest or *, optionally followed by :<id> or \
                     :<id prefix>*"
                )
            })?),
        };
        let id = match id {
            None | Some("*") => IdPattern::Any,
            Some("") => return Err(format!("`{text}` has an empty id")),
            Some(id) => match id.strip_suffix('*') {
                Some(prefix) => IdPattern::Prefix(prefix.to_string()),
                None => IdPattern::Exact(id.to_string()),
            },
        };
        Ok(Self { kind, id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(text: &str) -> IdentityPattern {
        text.parse().unwrap()
    }

    #[test]
    fn kinds_ids_and_prefixes() {
        let phone = Identity::phone("+14255550100");
        let user = Identity::user("8D5C0E41-aaaa");
        assert!(pattern("phone").matches(&phone));
        assert!(pattern("*").matches(&phone) && pattern("*").matches(&user));
        assert!(pattern("phone:+1425*").matches(&phone));
        assert!(!pattern("phone:+1426*").matches(&phone));
        assert!(!pattern("user:+1425*").matches(&phone));
        assert!(pattern("phone:*").matches(&phone));
        assert!(pattern("phone:+14255550100").matches(&phone));
        assert!(!pattern("phone:+1425555010").matches(&phone));
    }

    #[test]
    fn ids_compare_without_regard_to_letter_case() {
        let user = Identity::user("8D5C0E41-aaaa");
        assert!(pattern("user:8d5c0e41-AAAA").matches(&user));
        assert!(pattern("user:8d5c*").matches(&user));
        assert!(!pattern("user:8d5d*").matches(&user));
    }

    #[test]
    fn bad_patterns_say_what_is_expected() {
        let err = "fax:1".parse::<IdentityPattern>().unwrap_err();
        assert!(err.contains("unknown kind `fax`") && err.contains("application-instance"));
        assert!(
            "user:"
                .parse::<IdentityPattern>()
                .unwrap_err()
                .contains("empty id")
        );
    }
}
