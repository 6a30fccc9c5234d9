//! Deserializers for the places where Graph's payloads disagree with its schema.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// The bare type name of an `@odata.type`: `#microsoft.graph.call`, `microsoft.graph.call` and
/// `call` all give `call`.
pub fn odata_type_name(odata_type: &str) -> &str {
    let name = odata_type.trim().trim_start_matches('#');
    name.rsplit('.').next().unwrap_or(name)
}

/// The lower-cased bare `@odata.type` of a JSON object, if it has one.
pub(crate) fn odata_kind(value: &Value) -> Option<String> {
    value
        .get("@odata.type")
        .and_then(Value::as_str)
        .map(|t| odata_type_name(t).to_ascii_lowercase())
        .filter(|t| !t.is_empty())
}

/// A collection or other defaultable field that Graph may send as `null`.
pub(crate) fn null_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// An integer sent as a number or a numeric string; anything else counts as missing.
pub(crate) fn lenient_i64<'de, D>(deserializer: D) -> Result<Option<i64>, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(integer(&Value::deserialize(deserializer)?))
}

fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| {
            // Integral floats such as `200.0`; anything beyond i64 is not a code.
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Graph's `resultInfo`: the outcome of a call or an operation.
///
/// The schema says `code` and `subcode` are Int32, but the docs send them as strings too, and
/// spell `subcode` as `subCode` in the transfer examples; both are accepted here.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResultInfo {
    pub code: Option<i32>,
    pub subcode: Option<i32>,
    pub message: Option<String>,
}

impl<'de> Deserialize<'de> for ResultInfo {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let Value::Object(map) = value else {
            return Ok(Self::default());
        };
        let int = |name: &str| {
            map.iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .and_then(|(_, v)| integer(v))
                .and_then(|n| i32::try_from(n).ok())
        };
        Ok(Self {
            code: int("code"),
            subcode: int("subcode"),
            message: map
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_owned),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn odata_type_names_with_and_without_namespace() {
        assert_eq!(odata_type_name("#microsoft.graph.call"), "call");
        assert_eq!(odata_type_name("microsoft.graph.call"), "call");
        assert_eq!(odata_type_name("call"), "call");
        assert_eq!(odata_type_name(""), "");
        assert_eq!(
            odata_kind(&json!({"@odata.type": "#microsoft.graph.tokenMeetingInfo"})).as_deref(),
            Some("tokenmeetinginfo")
        );
        assert_eq!(odata_kind(&json!({"@odata.type": 5})), None);
    }

    #[test]
    fn result_info_accepts_numbers_strings_and_sub_code() {
        let parse = |v: Value| serde_json::from_value::<ResultInfo>(v).unwrap();
        let numbers = parse(json!({"code": 200, "subcode": 0, "message": "ok"}));
        assert_eq!((numbers.code, numbers.subcode), (Some(200), Some(0)));
        let strings = parse(json!({"code": "200", "subcode": " 5001 "}));
        assert_eq!((strings.code, strings.subcode), (Some(200), Some(5001)));
        let camel = parse(json!({"code": 500, "subCode": 7000}));
        assert_eq!(camel.subcode, Some(7000));
        let float = parse(json!({"code": 408.0}));
        assert_eq!(float.code, Some(408));
        let junk = parse(json!({"code": true, "subcode": "x", "message": 3}));
        assert_eq!(junk, ResultInfo::default());
        let huge = parse(json!({"code": 99999999999i64}));
        assert_eq!(huge.code, None);
        assert_eq!(parse(json!("not an object")), ResultInfo::default());
    }
}
