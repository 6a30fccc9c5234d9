//! The cases where Graph is inconsistent, garbage input, and never-panic properties.

use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::{Value, json};

use super::tests::{call_of, operation_of, roster_of};
use super::*;
use crate::model::fixtures;
use callhost_call::{CallState, OperationKind, OperationStatus};

fn body(notifications: Value) -> Vec<u8> {
    json!({"@odata.type": "#microsoft.graph.commsNotifications", "value": notifications})
        .to_string()
        .into_bytes()
}

#[test]
fn resource_data_absent_object_or_array() {
    let parsed = parse(&body(json!([
        {"changeType": "created", "resourceUrl": "/communications/calls/c1/contentsharingsessions/s1"},
        {"changeType": "updated", "resourceUrl": "/communications/calls/c1", "resourceData": {"state": "established"}},
        {"changeType": "updated", "resourceUrl": "/communications/calls/c1/participants", "resourceData": [{"id": "p1"}]},
        {"changeType": "updated", "resourceUrl": "/communications/calls/c1/participants/p1", "resourceData": {"id": "p1"}},
        {"changeType": "updated", "resourceUrl": "/communications/calls/c1", "resourceData": null},
        {"changeType": "updated", "resourceUrl": "/communications/calls/c1", "resourceData": "state"},
    ])))
    .unwrap();
    assert_eq!(
        parsed.len(),
        6,
        "several notifications in one body, in order"
    );
    assert_eq!(
        (&parsed[0].data, parsed[0].raw_resource_data.as_str()),
        (&ResourceData::Absent, "null")
    );
    assert_eq!(call_of(&parsed[1]).state(), Some(CallState::Established));
    assert_eq!(roster_of(&parsed[2])[0].id.as_deref(), Some("p1"));
    assert_eq!(roster_of(&parsed[3]).len(), 1);
    assert_eq!(parsed[4].data, ResourceData::Absent);
    assert!(matches!(parsed[5].data, ResourceData::Unparsed { .. }));
}

#[test]
fn odata_types_without_hash_or_missing_and_unknown_values() {
    let sdk_style = json!({
        "@odata.type": "microsoft.graph.commsNotifications",
        "value": [{
            "@odata.type": "microsoft.graph.commsNotification", "changeType": "Deleted",
            "resourceUrl": "/communications/calls/c1/operations/o1", "futureField": 1,
            "resourceData": {"@odata.type": "microsoft.graph.playPromptOperation", "status": "Running", "resultInfo": {"code": "500", "subCode": "9999"}}
        }]
    });
    let n = parse(sdk_style.to_string().as_bytes()).unwrap().remove(0);
    assert_eq!(n.change_type, ChangeType::Deleted);
    let op = operation_completed(operation_of(&n), None);
    assert_eq!(
        (op.kind, op.status),
        (OperationKind::PlayPrompt, OperationStatus::Running)
    );
    assert_eq!(op.result.map(|r| (r.code, r.subcode)), Some((500, 9999)));

    let untyped = json!({"value": [{"changeType": "weird", "resourceUrl": "/communications/calls/c1", "resourceData": {"state": "ringing", "newThing": [1]}}]});
    let n = parse(untyped.to_string().as_bytes()).unwrap().remove(0);
    assert_eq!(n.change_type, ChangeType::Unknown);
    assert_eq!(call_of(&n).state(), Some(CallState::Unknown));
    assert_eq!(call_of(&n).state.as_deref(), Some("ringing"));

    // 2018–2020 traffic: a bare `value` array routed by `resource` only.
    let bare_legacy = json!({"value": [{"changeType": "created", "resource": "/app/calls/c9", "resourceData": {"@odata.type": "#microsoft.graph.call"}}]});
    assert_eq!(
        parse(bare_legacy.to_string().as_bytes()).unwrap()[0].call_id(),
        Some("c9")
    );
    let pre_graph = json!({"value": [{"subscriptionId": "s", "resource": "/app/calls/c9", "changeType": "created"}]});
    assert_eq!(
        parse(pre_graph.to_string().as_bytes()),
        Err(NotificationError::NotCommsNotifications)
    );
    let legacy_in_envelope = body(json!([{"changeType": "created", "resource": "/app/calls/c9"}]));
    assert_eq!(
        parse(&legacy_in_envelope).unwrap()[0].target,
        ResourceTarget::Call {
            call_id: "c9".into()
        }
    );
}

#[test]
fn garbage_and_foreign_documents_are_errors() {
    assert!(matches!(parse(b""), Err(NotificationError::Malformed(_))));
    assert!(matches!(
        parse(b"{\"value\": ["),
        Err(NotificationError::Malformed(_))
    ));
    assert!(matches!(
        parse(&[0xff, 0xfe, 0x00]),
        Err(NotificationError::Malformed(_))
    ));
    for foreign in [
        json!([]),
        json!("x"),
        json!({}),
        json!({"@odata.type": "#microsoft.graph.call"}),
        json!({"value": []}),
    ] {
        assert_eq!(
            parse(foreign.to_string().as_bytes()),
            Err(NotificationError::NotCommsNotifications),
            "{foreign}"
        );
    }
    // A 2018 log types the envelope `#Microsoft.Graph.Notifications`.
    let typed_2018 = json!({"@odata.type": "#Microsoft.Graph.Notifications", "value": [
        {"changeType": "updated", "resourceUrl": "/communications/calls/c1", "resourceData": {"state": "established"}}]});
    assert_eq!(
        parse(typed_2018.to_string().as_bytes()).unwrap()[0].call_id(),
        Some("c1")
    );
    let no_value = json!({"@odata.type": "#microsoft.graph.commsNotifications"});
    assert!(matches!(
        parse(no_value.to_string().as_bytes()),
        Err(NotificationError::Malformed(_))
    ));
    assert!(matches!(
        parse(&body(json!([1]))),
        Err(NotificationError::Malformed(_))
    ));
    assert_eq!(parse(&body(json!([]))), Ok(vec![]));
    let unrouted = parse(&body(json!([{"changeType": "updated"}]))).unwrap();
    assert_eq!(
        unrouted[0].target,
        ResourceTarget::Unrouted {
            resource: String::new()
        }
    );
}

fn fixture_documents() -> &'static [Value] {
    static DOCUMENTS: OnceLock<Vec<Value>> = OnceLock::new();
    DOCUMENTS.get_or_init(|| {
        fixtures::names("notification-")
            .iter()
            .map(|n| fixtures::json(n))
            .collect()
    })
}

/// Every JSON pointer in a document.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => map.iter().for_each(|(k, v)| {
            pointers(
                v,
                format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                out,
            )
        }),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .for_each(|(i, v)| pointers(v, format!("{at}/{i}"), out)),
        _ => {}
    }
    out.push(at);
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        Just(json!([])),
        Just(json!({})),
        Just(json!([{}])),
    ]
}

proptest! {
    #[test]
    fn parse_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse(&bytes);
    }

    #[test]
    fn parse_never_panics_on_mutated_fixture_bytes(
        doc in any::<prop::sample::Index>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = doc.get(fixture_documents()).to_string().into_bytes();
        for (at, byte) in edits {
            let at = at.index(bytes.len());
            bytes[at] = byte;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        let _ = parse(&bytes);
    }

    #[test]
    fn parse_never_panics_on_fixtures_with_values_replaced(
        doc in any::<prop::sample::Index>(),
        replacements in proptest::collection::vec((any::<prop::sample::Index>(), json_leaf()), 1..4),
    ) {
        let mut document = doc.get(fixture_documents()).clone();
        for (at, leaf) in replacements {
            let mut all = Vec::new();
            pointers(&document, String::new(), &mut all);
            if let Some(slot) = document.pointer_mut(at.get::<String>(&all)) {
                *slot = leaf;
            }
        }
        let _ = parse(document.to_string().as_bytes());
    }
}
