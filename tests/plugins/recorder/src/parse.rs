//! JSON to WIT values, in the same form `render` writes. Every error names the offending place
//! (`prefetch[1].uri`), and keys the WIT does not have are errors too, so a typo in a test's
//! config cannot pass silently.

use std::cell::RefCell;

use serde_json::{Map, Value};

use crate::bindings::callhost::workflow::call_control::{Invitee, MeetingRef, Transferee};
use crate::bindings::callhost::workflow::types::{Identity, JoinMeetingIdInfo, MediaPrompt};
use crate::wit_enum::WitEnum;

pub type Parsed<T> = Result<T, String>;

/// Parses a value found at `path`.
pub type Parser<T> = fn(&Value, &str) -> Parsed<T>;

/// The fields of a JSON object that stands for a WIT record (or for a call's arguments).
pub struct Fields<'a> {
    object: &'a Map<String, Value>,
    path: String,
    read: RefCell<Vec<String>>,
}

impl<'a> Fields<'a> {
    pub fn new(value: &'a Value, path: &str) -> Parsed<Self> {
        let object = value
            .as_object()
            .ok_or_else(|| format!("`{path}`: expected an object, got {value}"))?;
        Ok(Fields {
            object,
            path: path.to_string(),
            read: RefCell::new(Vec::new()),
        })
    }

    fn get(&self, key: &str) -> (Option<&'a Value>, String) {
        self.read.borrow_mut().push(key.to_string());
        let path = if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        };
        (self.object.get(key).filter(|value| !value.is_null()), path)
    }

    /// A field that must be present and not `null`.
    pub fn required<T>(&self, key: &str, parse: Parser<T>) -> Parsed<T> {
        match self.get(key) {
            (Some(value), path) => parse(value, &path),
            (None, path) => Err(format!("`{path}` is required")),
        }
    }

    /// An `option<T>`: absent or `null` is none.
    pub fn optional<T>(&self, key: &str, parse: Parser<T>) -> Parsed<Option<T>> {
        match self.get(key) {
            (Some(value), path) => parse(value, &path).map(Some),
            (None, _) => Ok(None),
        }
    }

    /// A `list<T>`: absent or `null` is empty.
    pub fn list<T>(&self, key: &str, parse: Parser<T>) -> Parsed<Vec<T>> {
        let (value, path) = self.get(key);
        let Some(value) = value else {
            return Ok(Vec::new());
        };
        let items = value
            .as_array()
            .ok_or_else(|| format!("`{path}`: expected an array, got {value}"))?;
        items
            .iter()
            .enumerate()
            .map(|(index, item)| parse(item, &format!("{path}[{index}]")))
            .collect()
    }

    /// Fails on any key that no `required`, `optional` or `list` asked for.
    pub fn finish(self) -> Parsed<()> {
        let read = self.read.into_inner();
        match self.object.keys().find(|key| !read.contains(key)) {
            None => Ok(()),
            Some(unknown) if self.path.is_empty() => Err(format!(
                "unknown key `{unknown}`; expected {}",
                quoted(&read)
            )),
            Some(unknown) => Err(format!(
                "`{}`: unknown key `{unknown}`; expected {}",
                self.path,
                quoted(&read)
            )),
        }
    }
}

fn quoted(names: &[impl AsRef<str>]) -> String {
    let names: Vec<String> = names
        .iter()
        .map(|name| format!("`{}`", name.as_ref()))
        .collect();
    names.join(", ")
}

pub fn string(value: &Value, path: &str) -> Parsed<String> {
    value
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("`{path}`: expected a string, got {value}"))
}

pub fn boolean(value: &Value, path: &str) -> Parsed<bool> {
    value
        .as_bool()
        .ok_or_else(|| format!("`{path}`: expected true or false, got {value}"))
}

pub fn u32(value: &Value, path: &str) -> Parsed<u32> {
    value
        .as_u64()
        .and_then(|number| u32::try_from(number).ok())
        .ok_or_else(|| format!("`{path}`: expected an integer from 0 to 4294967295, got {value}"))
}

pub fn wit_enum<T: WitEnum>(value: &Value, path: &str) -> Parsed<T> {
    value.as_str().and_then(T::from_wit_name).ok_or_else(|| {
        format!(
            "`{path}`: expected one of {}, got {value}",
            quoted(T::NAMES)
        )
    })
}

pub fn identity(value: &Value, path: &str) -> Parsed<Identity> {
    let fields = Fields::new(value, path)?;
    let identity = Identity {
        kind: fields.required("kind", wit_enum)?,
        id: fields.required("id", string)?,
        display_name: fields.optional("display-name", string)?,
        tenant_id: fields.optional("tenant-id", string)?,
    };
    fields.finish()?;
    Ok(identity)
}

pub fn media_prompt(value: &Value, path: &str) -> Parsed<MediaPrompt> {
    let fields = Fields::new(value, path)?;
    let prompt = MediaPrompt {
        uri: fields.required("uri", string)?,
        resource_id: fields.optional("resource-id", string)?,
    };
    fields.finish()?;
    Ok(prompt)
}

pub fn transferee(value: &Value, path: &str) -> Parsed<Transferee> {
    let fields = Fields::new(value, path)?;
    let transferee = Transferee {
        identity: fields.required("identity", identity)?,
        participant_id: fields.required("participant-id", string)?,
    };
    fields.finish()?;
    Ok(transferee)
}

pub fn invitee(value: &Value, path: &str) -> Parsed<Invitee> {
    let fields = Fields::new(value, path)?;
    let invitee = Invitee {
        identity: fields.required("identity", identity)?,
        replaces_call_id: fields.optional("replaces-call-id", string)?,
        participant_id: fields.optional("participant-id", string)?,
    };
    fields.finish()?;
    Ok(invitee)
}

/// `{"join-url": "<url>"}` or `{"join-meeting-id": {"join-meeting-id": "…", "passcode": …}}`.
pub fn meeting_ref(value: &Value, path: &str) -> Parsed<MeetingRef> {
    let object = value.as_object().filter(|object| object.len() == 1);
    let Some((case, payload)) = object.and_then(|object| object.iter().next()) else {
        return Err(format!(
            "`{path}`: expected {{\"join-url\": …}} or {{\"join-meeting-id\": …}}, got {value}"
        ));
    };
    let path = format!("{path}.{case}");
    match case.as_str() {
        "join-url" => string(payload, &path).map(MeetingRef::JoinUrl),
        "join-meeting-id" => join_meeting_id_info(payload, &path).map(MeetingRef::JoinMeetingId),
        _ => Err(format!(
            "`{path}`: unknown case; expected `join-url` or `join-meeting-id`"
        )),
    }
}

fn join_meeting_id_info(value: &Value, path: &str) -> Parsed<JoinMeetingIdInfo> {
    let fields = Fields::new(value, path)?;
    let info = JoinMeetingIdInfo {
        join_meeting_id: fields.required("join-meeting-id", string)?,
        passcode: fields.optional("passcode", string)?,
    };
    fields.finish()?;
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::callhost::workflow::types::IdentityKind;
    use serde_json::json;

    #[test]
    fn identity_options_may_be_absent_or_null() {
        let parsed = identity(
            &json!({"kind": "phone", "id": "+1", "tenant-id": null}),
            "t",
        )
        .expect("a valid identity");
        assert!(parsed.kind == IdentityKind::Phone);
        assert_eq!(parsed.id, "+1");
        assert_eq!((parsed.display_name, parsed.tenant_id), (None, None));
    }

    #[test]
    fn errors_name_the_place() {
        let error = |value: Value| identity(&value, "target").expect_err("an error");
        assert_eq!(error(json!({"id": "u"})), "`target.kind` is required");
        assert_eq!(
            error(json!({"kind": "usr", "id": "u"})),
            "`target.kind`: expected one of `user`, `application`, `application-instance`, \
             `phone`, `guest`, `encrypted`, `unknown`, got \"usr\""
        );
        assert_eq!(
            error(json!({"kind": "user", "id": "u", "tenantId": "t"})),
            "`target`: unknown key `tenantId`; expected `kind`, `id`, `display-name`, `tenant-id`"
        );
    }

    #[test]
    fn meeting_ref_is_a_one_key_object() {
        let url = meeting_ref(&json!({"join-url": "https://t/l"}), "meeting");
        assert!(matches!(url, Ok(MeetingRef::JoinUrl(url)) if url == "https://t/l"));
        let id = meeting_ref(
            &json!({"join-meeting-id": {"join-meeting-id": "1"}}),
            "meeting",
        );
        assert!(matches!(id, Ok(MeetingRef::JoinMeetingId(info)) if info.passcode.is_none()));
        assert!(meeting_ref(&json!({"join-url": "u", "token": "t"}), "meeting").is_err());
        assert!(meeting_ref(&json!("https://t/l"), "meeting").is_err());
    }

    #[test]
    fn lists_may_be_absent_and_numbers_must_fit() {
        let value = json!({"n": 4294967296_u64});
        let fields = Fields::new(&value, "").expect("an object");
        assert_eq!(fields.list("tones", string), Ok(Vec::new()));
        assert!(fields.optional("n", u32).is_err());
    }
}
