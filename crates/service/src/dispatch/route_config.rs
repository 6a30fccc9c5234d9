//! Routing rules for new incoming calls as the configuration writes them (`[[routes]]`), and
//! what to do when a plugin does not decide.

use serde::Deserialize;

use crate::call::{Identity, IdentityKind, IdentityPattern, RejectReason};

/// One rule: incoming calls that match go to `plugin`. Rules are tried in order; the first
/// match wins; a rule without `match` matches every call (the default route).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// A name for logs; defaults to the plugin id.
    pub name: Option<String>,
    pub plugin: String,
    #[serde(default, rename = "match")]
    pub matches: RouteMatch,
    /// Applied when the plugin traps, times out, or returns without answering, rejecting or
    /// redirecting. Default: reject as busy.
    #[serde(default)]
    pub fallback: FallbackConfig,
    /// How long the plugin has to decide on an incoming call, in milliseconds. Default 5000
    /// (Graph drops calls not answered within 15 s).
    #[serde(default = "default_budget_ms")]
    pub decision_budget_ms: u64,
}

impl RouteConfig {
    /// A rule that takes every call to `plugin`, with the default fallback and decision
    /// budget.
    pub fn to(plugin: impl Into<String>) -> Self {
        Self {
            name: None,
            plugin: plugin.into(),
            matches: RouteMatch::default(),
            fallback: FallbackConfig::default(),
            decision_budget_ms: default_budget_ms(),
        }
    }
}

/// Conditions on an incoming call; all given ones must hold.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteMatch {
    /// Who was called, as an identity pattern — `application:<app id>`,
    /// `application-instance:<id>`, `phone:+14255550100`; an id ending in `*` matches by
    /// prefix, a kind alone matches every id, and ids compare without regard to letter case.
    pub callee: Option<String>,
    /// The caller's identity kind.
    pub caller_kind: Option<CallerKind>,
    /// The call's tenant.
    pub tenant: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallerKind {
    User,
    Application,
    ApplicationInstance,
    Phone,
    Guest,
    Encrypted,
}

impl From<CallerKind> for IdentityKind {
    fn from(kind: CallerKind) -> Self {
        match kind {
            CallerKind::User => IdentityKind::User,
            CallerKind::Application => IdentityKind::Application,
            CallerKind::ApplicationInstance => IdentityKind::ApplicationInstance,
            CallerKind::Phone => IdentityKind::Phone,
            CallerKind::Guest => IdentityKind::Guest,
            CallerKind::Encrypted => IdentityKind::Encrypted,
        }
    }
}

/// What happens to an incoming call the plugin did not decide on.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case", deny_unknown_fields)]
pub enum FallbackConfig {
    /// Reject the call (default reason `busy`).
    Reject {
        #[serde(default = "default_reject_reason")]
        reason: RejectReason,
    },
    /// Redirect the call to these targets (`user:<id>`, `phone:+1…`).
    Redirect { targets: Vec<String> },
    /// Answer, play `prompt`, and hang up when it finished.
    Announce { prompt: String },
}

impl Default for FallbackConfig {
    fn default() -> Self {
        FallbackConfig::Reject {
            reason: RejectReason::Busy,
        }
    }
}

fn default_reject_reason() -> RejectReason {
    RejectReason::Busy
}

fn default_budget_ms() -> u64 {
    5_000
}

/// Adds a line to `problems` for each thing wrong with `routes`; `is_plugin` tells the
/// configured plugin ids.
pub fn validate_routes(
    routes: &[RouteConfig],
    is_plugin: impl Fn(&str) -> bool,
    problems: &mut Vec<String>,
) {
    for (i, route) in routes.iter().enumerate() {
        let name = route.name.clone().unwrap_or_else(|| format!("routes[{i}]"));
        if !is_plugin(&route.plugin) {
            problems.push(format!(
                "{name}: plugin `{}` is not defined; add a [plugins.{}] table",
                route.plugin, route.plugin
            ));
        }
        if let Some(callee) = &route.matches.callee
            && let Err(e) = callee.parse::<IdentityPattern>()
        {
            problems.push(format!("{name}: match.callee {e}"));
        }
        match &route.fallback {
            FallbackConfig::Redirect { targets } if targets.is_empty() => {
                problems.push(format!(
                    "{name}: fallback redirect needs at least one target"
                ));
            }
            FallbackConfig::Redirect { targets } => {
                for target in targets {
                    if let Err(e) = target.parse::<Identity>() {
                        problems.push(format!("{name}: fallback target {e}"));
                    }
                }
            }
            FallbackConfig::Announce { prompt }
                if !prompt.starts_with("https://") && !prompt.starts_with("http://") =>
            {
                problems.push(format!(
                    "{name}: fallback prompt `{prompt}` must be an http(s) URL Graph can fetch"
                ));
            }
            _ => {}
        }
        if route.decision_budget_ms == 0 || route.decision_budget_ms > 14_000 {
            problems.push(format!(
                "{name}: decision_budget_ms {} must be between 1 and 14000 (Graph drops calls not answered within 15 s)",
                route.decision_budget_ms
            ));
        }
    }
}
