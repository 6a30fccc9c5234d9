//! Which plugin takes a new incoming call.

use std::sync::Arc;
use std::time::Duration;

use super::fallback::Fallback;
use crate::call::IncomingCall;
use crate::config::{RouteConfig, RouteMatch};

/// A validated routing rule.
#[derive(Debug, Clone)]
pub struct Route {
    pub name: String,
    pub plugin: String,
    pub matches: RouteMatch,
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
            matches: RouteMatch::default(),
            fallback: Fallback::default(),
            decision_budget: Duration::from_secs(5),
        }
    }

    /// From a configured rule (validated by [`crate::config::Config::validate`]).
    pub fn from_config(config: &RouteConfig) -> Result<Self, String> {
        Ok(Self {
            name: config.name.clone().unwrap_or_else(|| config.plugin.clone()),
            plugin: config.plugin.clone(),
            matches: config.matches.clone(),
            fallback: Fallback::from_config(&config.fallback)?,
            decision_budget: Duration::from_millis(config.decision_budget_ms),
        })
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
    use crate::config::CallerKind;

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
            matches,
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
