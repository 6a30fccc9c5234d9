//! The `Authorization` header of a Graph callback: the bearer scheme, the JOSE header
//! (RS256 only, a key named) and the claims (issuer, audience, expiry, tenant), everything the
//! service checks except the RS256 signature, which a fuzzer cannot forge.
//!
//! The input is taken two ways: as the whole header, and, when it holds a newline, as a JSON
//! JOSE header and JSON claims (before and after the first newline) that are base64url-encoded
//! into `Bearer <header>.<claims>.<signature>`, so that the claim checks see well-formed tokens.

#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use callhost_graph::callback_auth::{CallbackAuthSettings, check_unsigned};
use libfuzzer_sys::fuzz_target;

const APP_ID: &str = "11111111-2222-3333-4444-555555555555";
const TENANT: &str = "tenant-a";

fn check(header: &str) {
    let any_tenant = CallbackAuthSettings::new(APP_ID);
    let mut one_tenant = CallbackAuthSettings::new(APP_ID);
    one_tenant.allowed_tenants = vec![TENANT.to_owned()];
    for settings in [&any_tenant, &one_tenant] {
        match check_unsigned(settings, header) {
            Ok(claims) => {
                assert_eq!(claims.audience, APP_ID);
                assert!(!claims.tenant_id.is_empty());
                assert!(settings.allowed_issuers.contains(&claims.issuer));
                if !settings.allowed_tenants.is_empty() {
                    assert!(claims.tenant_id.eq_ignore_ascii_case(TENANT));
                }
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    check(text);
    if let Some((jose, claims)) = text.split_once('\n') {
        let header = format!(
            "Bearer {}.{}.c2lnbmF0dXJl",
            URL_SAFE_NO_PAD.encode(jose),
            URL_SAFE_NO_PAD.encode(claims)
        );
        check(&header);
    }
});
