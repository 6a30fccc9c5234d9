//! Graph's inconsistencies as transforms of a callback body: each one rewrites a docs payload
//! the way some real traffic (or another docs page) shapes the same notification.

use serde_json::{Map, Value, json};

/// How a transformed body is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Once,
    /// Twice, both times with the same `X-Microsoft-Skype-Message-ID`.
    TwiceWithOneMessageId,
}

/// What a transform may need besides the body.
pub struct Context {
    /// The fresh call id the body names (lower-case, dashed).
    pub call_id: String,
    /// A notification of another call, to batch before the one under test.
    pub other_call: Value,
}

pub struct Trap {
    pub name: &'static str,
    pub transform: fn(&Value, &Context) -> Value,
    pub delivery: Delivery,
}

const fn trap(name: &'static str, transform: fn(&Value, &Context) -> Value) -> Trap {
    Trap {
        name,
        transform,
        delivery: Delivery::Once,
    }
}

pub const TRAPS: &[Trap] = &[
    trap("legacy-resource-only", legacy_resource_only),
    trap("resource-and-resource-url", resource_and_resource_url),
    trap("envelope-untyped", envelope_untyped),
    trap("envelope-2018-type", envelope_2018_type),
    trap("pascal-case-values", pascal_case_values),
    trap("pascal-case-keys", pascal_case_keys),
    trap("object-as-one-element-array", object_as_array),
    trap("odata-type-without-hash", odata_type_without_hash),
    trap("resource-data-untyped", resource_data_untyped),
    trap(
        "guids-upper-case-without-dashes",
        guids_upper_without_dashes,
    ),
    trap("result-info-strings-subCode", result_info_strings),
    trap("result-info-integers-subcode", result_info_integers),
    trap("unknown-extra-fields", unknown_extra_fields),
    trap("batched-after-another-call", batched_after_another_call),
    trap("resource-url-without-leading-slash", relative_resource_url),
    Trap {
        name: "delivered-twice-same-message-id",
        transform: |body, _| body.clone(),
        delivery: Delivery::TwiceWithOneMessageId,
    },
];

/// The notifications of a body (`value`), each transformed by `f`.
fn each_notification(body: &Value, mut f: impl FnMut(&mut Map<String, Value>)) -> Value {
    let mut body = body.clone();
    if let Some(list) = body.get_mut("value").and_then(Value::as_array_mut) {
        for n in list {
            if let Some(n) = n.as_object_mut() {
                f(n);
            }
        }
    }
    body
}

/// `/communications/calls/…` as the legacy `/app/calls/…`.
fn legacy_path(url: &str) -> String {
    let path = url.trim_start_matches('/');
    match path.strip_prefix("communications/") {
        Some(rest) => format!("/app/{rest}"),
        None => format!("/{path}"),
    }
}

fn legacy_resource_only(body: &Value, _: &Context) -> Value {
    each_notification(body, |n| {
        if let Some(Value::String(url)) = n.remove("resourceUrl") {
            n.entry("resource").or_insert(json!(legacy_path(&url)));
        }
    })
}

fn resource_and_resource_url(body: &Value, _: &Context) -> Value {
    each_notification(body, |n| {
        if let Some(url) = n.get("resourceUrl").and_then(Value::as_str) {
            let legacy = legacy_path(url);
            n.entry("resource").or_insert(json!(legacy));
        }
    })
}

fn envelope_untyped(body: &Value, _: &Context) -> Value {
    let mut body = body.clone();
    if let Some(envelope) = body.as_object_mut() {
        envelope.remove("@odata.type");
    }
    body
}

fn envelope_2018_type(body: &Value, _: &Context) -> Value {
    let mut body = body.clone();
    body["@odata.type"] = json!("#Microsoft.Graph.Notifications");
    body
}

/// Calls `f` on every object in `value`, outermost first.
pub fn walk_objects(value: &mut Value, f: &mut dyn FnMut(&mut Map<String, Value>)) {
    match value {
        Value::Object(map) => {
            f(map);
            for v in map.values_mut() {
                walk_objects(v, f);
            }
        }
        Value::Array(list) => {
            for v in list {
                walk_objects(v, f);
            }
        }
        _ => {}
    }
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Keys whose values are Graph enum members (or lists of them).
const ENUM_KEYS: &[&str] = &[
    "changeType",
    "state",
    "status",
    "direction",
    "audio",
    "endpointType",
    "mediaType",
    "tone",
    "completionReason",
    "recordingStatus",
    "routingType",
    "requestedModalities",
    "activeModalities",
    "modalities",
];

fn pascal_case_values(body: &Value, _: &Context) -> Value {
    each_notification(body, |n| {
        let mut n_value = Value::Object(std::mem::take(n));
        walk_objects(&mut n_value, &mut |map| {
            for (key, value) in map.iter_mut() {
                if !ENUM_KEYS.contains(&key.as_str()) {
                    continue;
                }
                match value {
                    Value::String(s) => *s = capitalised(s),
                    Value::Array(list) => {
                        for item in list {
                            if let Value::String(s) = item {
                                *s = capitalised(s);
                            }
                        }
                    }
                    _ => {}
                }
            }
        });
        if let Value::Object(map) = n_value {
            *n = map;
        }
    })
}

fn pascal_keys(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let key = if k.starts_with("@odata.") {
                        k.clone()
                    } else {
                        capitalised(k)
                    };
                    (key, pascal_keys(v))
                })
                .collect(),
        ),
        Value::Array(list) => Value::Array(list.iter().map(pascal_keys).collect()),
        other => other.clone(),
    }
}

fn pascal_case_keys(body: &Value, _: &Context) -> Value {
    each_notification(body, |n| {
        if let Value::Object(map) = pascal_keys(&Value::Object(std::mem::take(n))) {
            *n = map;
        }
    })
}

fn object_as_array(body: &Value, _: &Context) -> Value {
    each_notification(body, |n| {
        if let Some(data) = n.get_mut("resourceData")
            && data.is_object()
        {
            *data = json!([data.take()]);
        }
    })
}

fn odata_type_without_hash(body: &Value, _: &Context) -> Value {
    let mut body = body.clone();
    walk_objects(&mut body, &mut |map| {
        if let Some(Value::String(t)) = map.get_mut("@odata.type") {
            *t = t.trim_start_matches('#').to_string();
        }
    });
    body
}

/// Without `@odata.type` anywhere in the resource data, except at the top of an operation's:
/// the kind of an operation the plugin did not start (none of these calls starts one) is
/// nowhere else.
fn resource_data_untyped(body: &Value, _: &Context) -> Value {
    each_notification(body, |n| {
        let operation = ["resourceUrl", "resource"].iter().any(|key| {
            n.get(*key)
                .and_then(Value::as_str)
                .is_some_and(|url| url.contains("/operations/") && !url.ends_with("/participants"))
        });
        if let Some(data) = n.get_mut("resourceData") {
            let kept = data.get("@odata.type").cloned().filter(|_| operation);
            walk_objects(data, &mut |map| {
                map.remove("@odata.type");
            });
            if let (Some(kept), Some(map)) = (kept, data.as_object_mut()) {
                map.insert("@odata.type".into(), kept);
            }
        }
    })
}

/// The 32 hex digits of a GUID in any of its forms, lower-case.
pub fn guid_hex(s: &str) -> Option<String> {
    let hex: String = s
        .trim_matches(|c| c == '{' || c == '}')
        .chars()
        .filter(|c| *c != '-')
        .collect();
    (hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit())).then(|| hex.to_lowercase())
}

/// Every spelling of the GUID `hex` a payload may use.
pub fn guid_forms(hex: &str) -> [String; 4] {
    let dashed = format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    );
    [
        dashed.to_uppercase(),
        dashed,
        hex.to_uppercase(),
        hex.to_string(),
    ]
}

/// `body` with every spelling of the GUID `hex` written as `to`.
pub fn replace_guid(body: &Value, hex: &str, to: &str) -> Value {
    let mut text = body.to_string();
    for form in guid_forms(hex) {
        text = text.replace(&form, to);
    }
    serde_json::from_str(&text).expect("a GUID replaced in JSON text keeps it JSON")
}

/// The ids in a resource URL after `/operations/` that are GUIDs.
fn operation_ids(body: &Value) -> Vec<String> {
    let mut ids = Vec::new();
    for n in body["value"].as_array().into_iter().flatten() {
        for key in ["resourceUrl", "resource"] {
            if let Some(url) = n.get(key).and_then(Value::as_str)
                && let Some((_, rest)) = url.split_once("/operations/")
                && let Some(hex) = guid_hex(rest.split('/').next().unwrap_or_default())
                && !ids.contains(&hex)
            {
                ids.push(hex);
            }
        }
    }
    ids
}

fn guids_upper_without_dashes(body: &Value, context: &Context) -> Value {
    let call = guid_hex(&context.call_id).expect("fresh call ids are GUIDs");
    let mut body = replace_guid(body, &call, &call.to_uppercase());
    for operation in operation_ids(&body) {
        body = replace_guid(&body, &operation, &operation.to_uppercase());
    }
    body
}

/// Calls `f` on every `resultInfo` object.
fn each_result_info(body: &Value, f: fn(&mut Map<String, Value>)) -> Value {
    let mut body = body.clone();
    walk_objects(&mut body, &mut |map| {
        if let Some(Value::Object(result)) = map.get_mut("resultInfo") {
            f(result);
        }
    });
    body
}

fn result_info_strings(body: &Value, _: &Context) -> Value {
    each_result_info(body, |result| {
        let subcode = result
            .remove("subcode")
            .or_else(|| result.remove("subCode"));
        for (key, value) in [("code", result.remove("code")), ("subCode", subcode)] {
            let Some(value) = value else { continue };
            let value = match value {
                Value::Number(n) => json!(n.to_string()),
                other => other,
            };
            result.insert(key.into(), value);
        }
    })
}

fn result_info_integers(body: &Value, _: &Context) -> Value {
    each_result_info(body, |result| {
        let subcode = result
            .remove("subCode")
            .or_else(|| result.remove("subcode"));
        for (key, value) in [("code", result.remove("code")), ("subcode", subcode)] {
            let Some(value) = value else { continue };
            let value = match value.as_str().and_then(|s| s.parse::<i64>().ok()) {
                Some(n) => json!(n),
                None => value,
            };
            result.insert(key.into(), value);
        }
    })
}

fn add_absent(map: &mut Map<String, Value>, fields: Value) {
    if let Value::Object(fields) = fields {
        for (key, value) in fields {
            map.entry(key).or_insert(value);
        }
    }
}

/// Fields real traffic carries that the docs never show.
fn unknown_extra_fields(body: &Value, _: &Context) -> Value {
    each_notification(body, |n| {
        add_absent(
            n,
            json!({ "callbackUri": "https://bot.contoso.com/api/calls" }),
        );
        let tail = n
            .get("resourceUrl")
            .and_then(Value::as_str)
            .and_then(|url| url.split_once("/calls/"))
            .map(|(_, rest)| {
                rest.split_once('/')
                    .map_or("", |(_, tail)| tail)
                    .to_string()
            })
            .unwrap_or_default();
        let Some(data) = n.get_mut("resourceData") else {
            return;
        };
        if tail.is_empty()
            && let Some(call) = data.as_object_mut()
        {
            add_absent(
                call,
                json!({
                    "meetingCapability": {
                        "allowAnonymousUsersToDialOut": false,
                        "allowAnonymousUsersToStartMeeting": false,
                        "autoAdmittedUsers": "everyoneInCompany"
                    },
                    "coOrganizers": [],
                    "meetingProperties": { "meetingType": "unknown" },
                    "replacesContext": "6f1c9d2e-0a1b-4c3d-8e9f-0a1b2c3d4e5f",
                    "mediaHostedRegion": "westus",
                    "activeModalities": ["audio"]
                }),
            );
        } else if tail.to_ascii_lowercase().ends_with("participants")
            && let Some(list) = data.as_array_mut()
        {
            for participant in list.iter_mut().filter_map(Value::as_object_mut) {
                add_absent(
                    participant,
                    json!({
                        "publishedStates": [],
                        "meetingRole": "attendee",
                        "isIdentityAnonymized": false,
                        "replacementLink": null
                    }),
                );
                if let Some(Value::Object(info)) = participant.get_mut("info") {
                    add_absent(info, json!({ "clientVersion": "Teams/1.0" }));
                }
            }
        }
    })
}

fn batched_after_another_call(body: &Value, context: &Context) -> Value {
    let mut body = body.clone();
    if let Some(list) = body.get_mut("value").and_then(Value::as_array_mut) {
        list.insert(0, context.other_call.clone());
    }
    body
}

fn relative_resource_url(body: &Value, _: &Context) -> Value {
    each_notification(body, |n| {
        for key in ["resourceUrl", "resource"] {
            if let Some(Value::String(url)) = n.get_mut(key) {
                *url = url.trim_start_matches('/').to_string();
            }
        }
    })
}
