//! Keys in PascalCase. Graph traffic of 2023–2024 carries PascalCase keys (`MeetingUrl`) beside
//! camelCase ones; the wire model is camelCase, so such keys get their first letter lowered
//! before the payload is typed. `@odata.*` annotations are left as they are.

use serde_json::{Map, Value};

/// Whether any key in `object`, at any depth, starts with an upper-case letter.
pub(super) fn has_pascal_case(object: &Map<String, Value>) -> bool {
    object
        .iter()
        .any(|(key, value)| is_pascal(key) || value_has_pascal_case(value))
}

fn value_has_pascal_case(value: &Value) -> bool {
    match value {
        Value::Object(object) => has_pascal_case(object),
        Value::Array(items) => items.iter().any(value_has_pascal_case),
        _ => false,
    }
}

fn is_pascal(key: &str) -> bool {
    key.starts_with(|c: char| c.is_ascii_uppercase())
}

/// Lowers the first letter of every PascalCase key, at every depth. Where both spellings of a
/// key are present, the camelCase one wins.
pub(super) fn lower_first(object: &mut Map<String, Value>) {
    let renamed: Vec<String> = object.keys().filter(|k| is_pascal(k)).cloned().collect();
    for key in renamed {
        if let Some(value) = object.remove(&key) {
            let mut camel = key;
            camel[..1].make_ascii_lowercase();
            object.entry(camel).or_insert(value);
        }
    }
    for value in object.values_mut() {
        lower_first_in(value);
    }
}

fn lower_first_in(value: &mut Value) {
    match value {
        Value::Object(object) => lower_first(object),
        Value::Array(items) => items.iter_mut().for_each(lower_first_in),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn pascal_case_keys_become_camel_case_at_every_depth() {
        let Value::Object(mut object) = json!({
            "Value": [{"ChangeType": "Updated", "resourceData": {"MeetingUrl": "u", "@odata.type": "t",
                "ToneInfo": {"SequenceId": 1}, "state": "a", "State": "b"}}]
        }) else {
            unreachable!()
        };
        assert!(has_pascal_case(&object));
        lower_first(&mut object);
        assert_eq!(
            Value::Object(object.clone()),
            json!({"value": [{"changeType": "Updated", "resourceData": {"meetingUrl": "u",
                "@odata.type": "t", "toneInfo": {"sequenceId": 1}, "state": "a"}}]})
        );
        assert!(!has_pascal_case(&object));
    }
}
