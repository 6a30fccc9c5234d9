//! Which plugin takes a new incoming call.

use std::sync::Arc;
use std::time::Duration;

use super::fallback::Fallback;
use super::route_config::{RouteConfig, RouteMatch};
use crate::call::{Identity, IdentityKind, IdentityPattern, IncomingCall};

/// A validated routing rule.
#[derive(Debug, Clone)]
pub struct Route {
    pub name: String,
    pub plugin: String,
    pub matches: CallMatch,
    pub fallback: Fallback,
    /// How long the plugin has to answer, reject or redirect.
    pub decision_budget: Duration,
}

impl Route {
    /// A route that takes every call to `plugin` and rejects as busy on failure.
    pub fn default_to(plugin: impl Into<String>) -> Self {
        let plugin = plugin.into();
        Self {
            name: plugin.clone(),
            plugin,
            matches: CallMatch::default(),
            fallback: Fallback::default(),
            decision_budget: Duration::from_secs(5),
        }
    }

    /// From a configured rule (validated by [`validate_routes`](super::validate_routes)).
    pub fn from_config(config: &RouteConfig) -> Result<Self, String> {
        Ok(Self {
            name: config.name.clone().unwrap_or_else(|| config.plugin.clone()),
            plugin: config.plugin.clone(),
            matches: CallMatch::from_config(&config.matches)?,
            fallback: Fallback::from_config(&config.fallback)?,
            decision_budget: Duration::from_millis(config.decision_budget_ms),
        })
    }
}

/// A route's conditions, parsed once; all given ones must hold.
#[derive(Debug, Clone, Default)]
pub struct CallMatch {
    callee: Option<IdentityPattern>,
    caller_kind: Option<IdentityKind>,
    tenant: Option<String>,
}

impl CallMatch {
    pub fn from_config(config: &RouteMatch) -> Result<Self, String> {
        Ok(Self {
            callee: match &config.callee {
                Some(callee) => Some(callee.parse().map_err(|e| format!("match.callee {e}"))?),
                None => None,
            },
            caller_kind: config.caller_kind.map(IdentityKind::from),
            tenant: config.tenant.clone(),
        })
    }

    /// Whether an incoming call from `caller` to `callees` in `tenant` matches.
    pub fn matches(&self, caller: &Identity, callees: &[Identity], tenant: Option<&str>) -> bool {
        if self.caller_kind.is_some_and(|kind| kind != caller.kind) {
            return false;
        }
        if let Some(want) = &self.tenant
            && !tenant.is_some_and(|tenant| tenant.eq_ignore_ascii_case(want))
        {
            return false;
        }
        if let Some(callee) = &self.callee
            && !callees.iter().any(|c| callee.matches(c))
        {
            return false;
        }
        true
    }
}

/// The first route matching the call.
pub(crate) fn select(
    routes: &[Arc<Route>],
    call: &IncomingCall,
    tenant: Option<&str>,
) -> Option<Arc<Route>> {
    routes
        .iter()
        .find(|route| route.matches.matches(&call.caller, &call.callees, tenant))
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::{Identity, Modality};
    use crate::dispatch::CallerKind;

    fn call(caller: Identity, callee: Identity) -> IncomingCall {
        IncomingCall {
            caller,
            callees: vec![callee],
            requested_modalities: vec![Modality::Audio],
            meeting: None,
            call_chain_id: None,
        }
    }

    fn route(plugin: &str, matches: RouteMatch) -> Arc<Route> {
        Arc::new(Route {
            matches: CallMatch::from_config(&matches).unwrap(),
            ..Route::default_to(plugin)
        })
    }

    #[test]
    fn first_matching_rule_wins_and_the_default_catches_the_rest() {
        let routes = vec![
            route(
                "pstn",
                RouteMatch {
                    callee: Some("application-instance:ai-*".into()),
                    caller_kind: Some(CallerKind::Phone),
                    tenant: None,
                },
            ),
            route(
                "contoso",
                RouteMatch {
                    tenant: Some("contoso".into()),
                    ..RouteMatch::default()
                },
            ),
            route("default", RouteMatch::default()),
        ];
        let pick =
            |c: &IncomingCall, t: Option<&str>| select(&routes, c, t).unwrap().plugin.clone();
        let from_phone = call(
            Identity::phone("+1425"),
            Identity::new(crate::call::IdentityKind::ApplicationInstance, "ai-42"),
        );
        assert_eq!(pick(&from_phone, None), "pstn");
        let from_user = call(
            Identity::user("u"),
            Identity::new(crate::call::IdentityKind::ApplicationInstance, "ai-42"),
        );
        assert_eq!(pick(&from_user, Some("contoso")), "contoso");
        assert_eq!(pick(&from_user, Some("fabrikam")), "default");
        assert!(select(&routes[..2], &from_user, None).is_none());
    }
}
