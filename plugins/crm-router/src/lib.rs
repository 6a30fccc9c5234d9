//! Routes a caller by what a CRM knows of them. Once the call is connected, the caller is
//! looked up over HTTP (`GET` of `crm_url` with `{caller}` replaced by the caller's number or
//! id); a known customer, answered `200` with `{"accountManager": "user:<object-id>"}` (or a
//! `phone:` / `application:` target), is transferred to their account manager. Everyone else
//! gets the menu: 1 for sales, 0 for the operator, any other key the menu again.
//!
//! It fails safe: a CRM that is down, slow past `crm_timeout_ms` (1500 by default), refused
//! by the host's policy, or answering anything but a usable customer sends the caller to the
//! menu, and the reason is logged. So does a transfer to the account manager that fails.
//!
//! Config: `crm_url` (with `{caller}`), `crm_timeout_ms`; `menu` is a prompt URL; `sales` and
//! `operator` are transfer targets. The host must allow the CRM's origin in the plugin's
//! `allowed_outbound_hosts`. Call state: `caller` (who calls), `stage` (see [`Stage`]).

use std::time::Duration;

use callhost_sdk::http;
use callhost_sdk::prelude::*;
use callhost_sdk::types::Identity;
use callhost_sdk::{Target, parse_target};
use serde::{Deserialize, Serialize};

// Config keys.
const CRM_URL: &str = "crm_url";
const CRM_TIMEOUT_MS: &str = "crm_timeout_ms";
const MENU: &str = "menu";
const SALES: &str = "sales";
const OPERATOR: &str = "operator";
const DEFAULT_CRM_TIMEOUT: Duration = Duration::from_millis(1500);

// Call-state keys.
const CALLER: &str = "caller";
const STAGE: &str = "stage";

/// Where the call is.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Stage {
    /// Transferred to the account manager: a failure brings the menu.
    ToAccountManager,
    /// The menu is offered: keys are handled.
    Menu,
    /// Transferred from the menu.
    Transferring,
}

/// What the CRM says of a customer.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Customer {
    account_manager: Option<String>,
    name: Option<String>,
}

/// What the lookup found.
enum Lookup {
    AccountManager(Identity, Option<String>),
    /// Not a customer, or not one the CRM routes: why.
    Menu(String),
}

struct CrmRouter;

impl Workflow for CrmRouter {
    fn on_incoming_call(call: &Call, incoming: &IncomingCall) -> Result<()> {
        state::call().set(CALLER, &incoming.caller.id)?;
        call.answer(&[config::prompt(MENU)?])
    }

    fn on_state_changed(call: &Call, change: &StateChanged) -> Result<()> {
        if change.state != CallState::Established {
            return Ok(());
        }
        match state::call().get::<Stage>(STAGE) {
            None => {}
            Some(Stage::ToAccountManager | Stage::Transferring) => {
                log::warn("transfer failed; offering the menu", &[]);
                return menu(call);
            }
            Some(Stage::Menu) => return Ok(()),
        }
        let caller: String = state::call().get(CALLER).unwrap_or_default();
        match look_up(&caller)? {
            Lookup::AccountManager(manager, name) => {
                log::info(
                    "known customer; transferring to the account manager",
                    &[("customer", name.as_deref().unwrap_or("?"))],
                );
                state::call().set(STAGE, &Stage::ToAccountManager)?;
                call.transfer(&Target::new("account manager", manager))
            }
            Lookup::Menu(why) => {
                log::info("offering the menu", &[("why", &why)]);
                menu(call)
            }
        }
    }

    fn on_tone(call: &Call, key: &ToneReceived) -> Result<()> {
        if state::call().get(STAGE) != Some(Stage::Menu) {
            return Ok(());
        }
        let target = match key.tone {
            Tone::One => SALES,
            Tone::Zero => OPERATOR,
            _ => return call.play(&config::prompt(MENU)?).map(drop),
        };
        state::call().set(STAGE, &Stage::Transferring)?;
        call.transfer(&config::target(target)?)
    }
}

export_workflow!(CrmRouter);

fn menu(call: &Call) -> Result<()> {
    state::call().set(STAGE, &Stage::Menu)?;
    call.subscribe_to_tones()?;
    call.play(&config::prompt(MENU)?).map(drop)
}

/// Asks the CRM about `caller`. Whatever goes wrong, the answer is the menu, with why.
fn look_up(caller: &str) -> Result<Lookup> {
    let url = config::required(CRM_URL)?.replace("{caller}", &encode(caller));
    let timeout = config::millis(CRM_TIMEOUT_MS, DEFAULT_CRM_TIMEOUT)?;
    let response = match http::get(&url).timeout(timeout).send() {
        Ok(response) => response,
        Err(error) => {
            log::warn("the CRM lookup failed", &[("error", &error.to_string())]);
            return Ok(Lookup::Menu(format!("the CRM lookup failed: {error}")));
        }
    };
    Ok(match response.status {
        200 => match response.json::<Customer>() {
            Ok(Customer {
                account_manager: Some(manager),
                name,
            }) => match parse_target(&manager) {
                Some(identity) => Lookup::AccountManager(identity, name),
                None => {
                    log::warn(
                        "the CRM names an account manager that is not a target",
                        &[("accountManager", &manager)],
                    );
                    Lookup::Menu("the account manager is not a target".into())
                }
            },
            Ok(_) => Lookup::Menu("a customer without an account manager".into()),
            Err(error) => {
                log::warn(
                    "the CRM's answer is not JSON",
                    &[("error", error.message())],
                );
                Lookup::Menu("the CRM answered something else".into())
            }
        },
        404 => Lookup::Menu("not a customer".into()),
        status => {
            log::warn(
                "the CRM answered an error",
                &[("status", &status.to_string())],
            );
            Lookup::Menu(format!("the CRM answered {status}"))
        }
    })
}

/// The caller's id as a path segment: `+` and anything but letters, digits, `-`, `.`, `_`.
fn encode(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_ids_are_encoded_as_a_path_segment() {
        assert_eq!(encode("+14255550100"), "%2B14255550100");
        assert_eq!(encode("8a34a46b-3d17"), "8a34a46b-3d17");
        assert_eq!(encode("a/b"), "a%2Fb");
    }
}
