//! Compares a built request body with a docs example, field by field.

use serde_json::Value;

use crate::model::fixtures;

/// A JSON pointer into the docs example that is not compared, and why.
pub(super) type Exception = (&'static str, &'static str);

/// Requires every field of the docs example `fixture` to be present and equal in `built`,
/// except the `exceptions`, and `built` to have no field the example lacks. Two leniencies:
/// a `null` in the example matches a missing field, and `built` may annotate more objects with
/// `@odata.type` than the example does (the docs annotate nested objects inconsistently).
pub(super) fn assert_matches_docs(fixture: &str, built: &Value, exceptions: &[Exception]) {
    let expected = fixtures::json(fixture);
    for (pointer, why) in exceptions {
        assert!(
            expected.pointer(pointer).is_some() || built.pointer(pointer).is_some(),
            "{fixture}: stale exception {pointer} ({why})"
        );
    }
    let mut problems = Vec::new();
    walk(&expected, Some(built), "", exceptions, &mut problems);
    assert!(
        problems.is_empty(),
        "{fixture}: built body differs from the docs example:\n  {}\nbuilt: {built:#}",
        problems.join("\n  ")
    );
}

fn child(at: &str, key: &str) -> String {
    format!("{at}/{}", key.replace('~', "~0").replace('/', "~1"))
}

fn walk(
    expected: &Value,
    built: Option<&Value>,
    at: &str,
    exceptions: &[Exception],
    problems: &mut Vec<String>,
) {
    if exceptions.iter().any(|(pointer, _)| *pointer == at) {
        return;
    }
    match (expected, built) {
        (Value::Null, None | Some(Value::Null)) => {}
        (Value::Object(expected), Some(Value::Object(built))) => {
            for (key, value) in expected {
                walk(value, built.get(key), &child(at, key), exceptions, problems);
            }
            for key in built
                .keys()
                .filter(|k| !expected.contains_key(*k) && *k != "@odata.type")
            {
                let path = child(at, key);
                if !exceptions.iter().any(|(pointer, _)| *pointer == path) {
                    problems.push(format!("{path}: not in the docs example"));
                }
            }
        }
        (Value::Array(expected), Some(Value::Array(built))) if expected.len() == built.len() => {
            for (i, (e, b)) in expected.iter().zip(built).enumerate() {
                walk(e, Some(b), &child(at, &i.to_string()), exceptions, problems);
            }
        }
        (_, None) => problems.push(format!("{at}: missing; the docs send {expected}")),
        (e, Some(b)) if e == b => {}
        (e, Some(b)) => problems.push(format!("{at}: the docs send {e}, built {b}")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn walk_reports_missing_different_and_extra_fields() {
        let expected = json!({"a": 1, "b": {"c": null, "d": [1, 2]}, "e": "x"});
        let built = json!({"@odata.type": "t", "a": 1, "b": {"d": [1, 3], "f": true}, "g": 0});
        let mut problems = Vec::new();
        walk(
            &expected,
            Some(&built),
            "",
            &[("/g", "allowed extra")],
            &mut problems,
        );
        assert_eq!(
            problems,
            [
                "/b/d/1: the docs send 2, built 3",
                "/b/f: not in the docs example",
                "/e: missing; the docs send \"x\""
            ]
        );
    }
}
