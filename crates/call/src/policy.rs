//! Capability policies: which call-control functions a plugin may use, and whom it may reach.
//!
//! The default, for a plugin whose configuration names no policy, lets it handle the calls
//! routed to it (answer, reject, redirect, transfer, hang up, media, roster) and reach users,
//! applications and application instances; it may not place calls or join meetings, and may
//! not reach phone numbers (the classic toll-fraud path). Both are opt-in.

use std::collections::BTreeSet;

use serde::Deserialize;

use crate::{ActionKind, CallAction, IdentityPattern};

/// Target kinds a plugin may reach when its policy does not say.
const DEFAULT_TARGETS: &[&str] = &["user", "application", "application-instance"];

/// A plugin's policy as written in the configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Functions the plugin may call (`"*"` for all). Default: all but `join-meeting` and
    /// `place-call`.
    pub allow: Option<Vec<String>>,
    /// Whom transfers, redirects, invites and placed calls may reach: a kind (`user`,
    /// `application`, `application-instance`, `phone`, `guest`, `*`), optionally with an id
    /// pattern (`phone:+1425*`, `user:8d5c…`). Default: users, applications and application
    /// instances.
    pub targets: Option<Vec<String>>,
}

/// A validated policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapabilityPolicy {
    allowed: BTreeSet<ActionKind>,
    targets: Vec<IdentityPattern>,
}

impl Default for CapabilityPolicy {
    fn default() -> Self {
        Self::from_config(&PolicyConfig::default()).expect("the default policy is valid")
    }
}

impl CapabilityPolicy {
    /// A policy that allows everything (tests, local simulation).
    pub fn allow_all() -> Self {
        Self::from_config(&PolicyConfig {
            allow: Some(vec!["*".into()]),
            targets: Some(vec!["*".into()]),
        })
        .expect("allow-all is valid")
    }

    /// Validates a configured policy; the error names the bad entry and the valid ones.
    pub fn from_config(config: &PolicyConfig) -> Result<Self, String> {
        let allowed = match &config.allow {
            None => ActionKind::plugin_functions()
                .filter(|f| f.allowed_by_default())
                .collect(),
            Some(names) => {
                let mut allowed = BTreeSet::new();
                for name in names {
                    if name == "*" {
                        allowed.extend(ActionKind::plugin_functions());
                    } else if let Some(f) = ActionKind::from_name(name) {
                        allowed.insert(f);
                    } else {
                        let known: Vec<&str> =
                            ActionKind::plugin_functions().map(|f| f.name()).collect();
                        return Err(format!(
                            "policy.allow: unknown function `{name}`; expected one of {} or \"*\"",
                            known.join(", ")
                        ));
                    }
                }
                allowed
            }
        };
        let default_targets: Vec<String> = DEFAULT_TARGETS.iter().map(|s| s.to_string()).collect();
        let targets = config
            .targets
            .as_ref()
            .unwrap_or(&default_targets)
            .iter()
            .map(|rule| rule.parse().map_err(|e| format!("policy.targets: {e}")))
            .collect::<Result<_, _>>()?;
        Ok(Self { allowed, targets })
    }

    /// Checks an action; the error says which rule denies it.
    pub fn check(&self, action: &CallAction) -> Result<(), String> {
        let kind = action.kind();
        let name = kind.name();
        if !kind.is_plugin_function() {
            return Ok(());
        }
        if !self.allowed.contains(&kind) {
            return Err(format!(
                "`{name}` is not in this plugin's policy.allow list"
            ));
        }
        for target in action.targets() {
            if !self.targets.iter().any(|rule| rule.matches(target)) {
                return Err(format!(
                    "`{name}` may not reach {} `{}`: no entry of this plugin's policy.targets matches",
                    target.kind.as_str(),
                    target.id
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Identity, PlaceCall, TransferRequest};

    fn transfer_to(target: Identity) -> CallAction {
        CallAction::Transfer {
            call_id: "c".into(),
            request: TransferRequest {
                target,
                replaces_call_id: None,
                transferee: None,
            },
        }
    }

    #[test]
    fn default_policy_handles_calls_but_places_none_and_reaches_no_phone() {
        let policy = CapabilityPolicy::default();
        assert!(policy.check(&transfer_to(Identity::user("u1"))).is_ok());
        let err = policy
            .check(&transfer_to(Identity::phone("+14255550100")))
            .unwrap_err();
        assert!(err.contains("phone"), "{err}");
        let place = CallAction::PlaceCall(PlaceCall {
            targets: vec![Identity::user("u1")],
            tenant_id: None,
            subject: None,
            source_application_instance: None,
        });
        assert!(policy.check(&place).unwrap_err().contains("place-call"));
    }

    #[test]
    fn target_patterns_match_by_kind_and_prefix() {
        let policy = CapabilityPolicy::from_config(&PolicyConfig {
            allow: Some(vec!["transfer".into()]),
            targets: Some(vec!["phone:+1425*".into(), "user:u1".into()]),
        })
        .unwrap();
        assert!(
            policy
                .check(&transfer_to(Identity::phone("+14255550100")))
                .is_ok()
        );
        assert!(
            policy
                .check(&transfer_to(Identity::phone("+900123")))
                .is_err()
        );
        assert!(policy.check(&transfer_to(Identity::user("u1"))).is_ok());
        assert!(policy.check(&transfer_to(Identity::user("u2"))).is_err());
        assert!(
            policy
                .check(&CallAction::HangUp {
                    call_id: "c".into()
                })
                .is_err()
        );
    }

    #[test]
    fn unknown_names_are_rejected_with_the_valid_ones() {
        let err = CapabilityPolicy::from_config(&PolicyConfig {
            allow: Some(vec!["hangup".into()]),
            targets: None,
        })
        .unwrap_err();
        assert!(err.contains("hang-up"), "{err}");
        assert!(
            CapabilityPolicy::from_config(&PolicyConfig {
                allow: None,
                targets: Some(vec!["fax".into()]),
            })
            .is_err()
        );
    }
}
