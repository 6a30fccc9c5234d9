//! Graph's cloud-communications wire model, as the bot receives it in notifications and
//! responses.
//!
//! Graph is inconsistent in a few places and every type here is lenient there: unknown fields
//! are ignored, everything that can be missing is optional (and `null` counts as missing),
//! `@odata.type` may lack its leading `#` or be absent, enum values are kept as the strings Graph
//! sent (the domain conversions in [`callhost_call`] parse them in any letter case), and
//! `resultInfo` codes may be numbers or numeric strings. Deserializing never panics.

mod call;
mod identity;
mod lenient;
mod operation;
mod participant;

#[cfg(test)]
pub(crate) mod fixtures;

pub use call::{
    Call, CallMediaState, CallRoute, ChatInfo, IncomingContext, JoinMeetingIdMeetingInfo,
    MediaConfig, MediaInfo, MediaPrompt, MeetingInfo, OrganizerMeetingInfo, TokenMeetingInfo,
    ToneInfo,
};
pub use identity::{GraphIdentity, IdentitySet, InvitationParticipantInfo, ParticipantInfo};
pub(crate) use lenient::odata_kind;
pub use lenient::{ResultInfo, odata_type_name};
pub use operation::CommsOperation;
pub use participant::{Collection, MediaStream, Participant, RecordingInfo, RemovedState};

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    #[test]
    fn every_response_fixture_parses_into_its_model_type() {
        for name in fixtures::names("response-") {
            let body = fixtures::json(&name);
            let kind = body
                .get("@odata.type")
                .and_then(Value::as_str)
                .map(|t| odata_type_name(t).to_owned());
            match kind.as_deref() {
                Some("call") => {
                    let call: Call =
                        serde_json::from_value(body).unwrap_or_else(|e| panic!("{name}: {e}"));
                    assert!(
                        call.id.is_some() && call.state().is_some(),
                        "{name}: {call:?}"
                    );
                    assert!(call.my_participant_id().is_some(), "{name}");
                }
                Some("participant") => {
                    let p: Participant =
                        serde_json::from_value(body).unwrap_or_else(|e| panic!("{name}: {e}"));
                    assert!(
                        p.id.is_some() && !p.media_streams.is_empty(),
                        "{name}: {p:?}"
                    );
                }
                Some(op) if op.ends_with("Operation") => {
                    let o: CommsOperation =
                        serde_json::from_value(body).unwrap_or_else(|e| panic!("{name}: {e}"));
                    assert!(o.id.is_some() && o.status.is_some(), "{name}: {o:?}");
                    assert_eq!(o.type_name(), Some(op));
                }
                None if body.get("value").is_some() => {
                    let list: Collection<Participant> =
                        serde_json::from_value(body).unwrap_or_else(|e| panic!("{name}: {e}"));
                    assert_eq!(list.value.len(), 2, "{name}");
                }
                other => panic!("{name}: unexpected response type {other:?}"),
            }
        }
    }

    #[test]
    fn responses_carry_typed_details() {
        let call: Call =
            serde_json::from_value(fixtures::json("response-get-call-meeting.json")).unwrap();
        let Some(MeetingInfo::Organizer(organizer)) = &call.meeting_info else {
            panic!("{:?}", call.meeting_info)
        };
        let user = organizer
            .organizer
            .as_ref()
            .and_then(|o| o.user.as_ref())
            .unwrap();
        assert_eq!(
            user.id.as_deref(),
            Some("5810cede-f3cc-42eb-b2c1-e9bd5d53ec96")
        );
        assert_eq!(user.display_name, None);
        assert_eq!(
            call.chat_info.as_ref().unwrap().reply_chain_message_id,
            None
        );
        let Some(MediaConfig::ServiceHosted { pre_fetch_media }) = &call.media_config else {
            panic!()
        };
        assert_eq!(pre_fetch_media.len(), 2);

        let joined: Call = serde_json::from_value(fixtures::json(
            "response-join-meeting-joinmeetingid-passcode.json",
        ))
        .unwrap();
        let Some(MeetingInfo::JoinMeetingId(info)) = &joined.meeting_info else {
            panic!()
        };
        assert_eq!(
            (info.join_meeting_id.as_deref(), info.passcode.as_deref()),
            (Some("1234567"), Some("psw123"))
        );

        let pstn: Call = serde_json::from_value(fixtures::json(
            "response-create-call-pstn-service-hosted.json",
        ))
        .unwrap();
        let source = pstn.source.unwrap().identity.unwrap();
        assert_eq!(
            source.application_instance.unwrap().id.as_deref(),
            Some("3d913abb-aec0-4964-8fa6-3c6850c4f278")
        );
        assert_eq!(
            pstn.targets[0]
                .identity
                .as_ref()
                .unwrap()
                .phone
                .as_ref()
                .unwrap()
                .id
                .as_deref(),
            Some("+12345678901")
        );

        let invite: CommsOperation =
            serde_json::from_value(fixtures::json("response-invite-participant.json")).unwrap();
        assert_eq!(invite.status.as_deref(), Some("Running"));
        let invitees = invite.participants.unwrap();
        assert_eq!(
            invitees[0].replaces_call_id.as_deref(),
            Some("a7ebfb2d-871e-419c-87af-27290b22e8db")
        );
    }

    #[test]
    fn meeting_info_dispatches_with_or_without_odata_type() {
        let parse = |v: Value| serde_json::from_value::<MeetingInfo>(v).unwrap();
        let token = parse(json!({"@odata.type": "microsoft.graph.tokenMeetingInfo", "token": "t"}));
        assert_eq!(
            token,
            MeetingInfo::Token(TokenMeetingInfo {
                token: Some("t".into())
            })
        );
        assert!(matches!(
            parse(json!({"organizer": {"user": {"id": "o"}}})),
            MeetingInfo::Organizer(_)
        ));
        assert!(matches!(
            parse(json!({"joinMeetingId": "1", "passcode": null})),
            MeetingInfo::JoinMeetingId(_)
        ));
        assert!(matches!(
            parse(json!({"@odata.type": "#microsoft.graph.TOKENMEETINGINFO", "token": "t"})),
            MeetingInfo::Token(_)
        ));
        assert!(matches!(
            parse(json!({"@odata.type": "#microsoft.graph.virtualEventMeetingInfo"})),
            MeetingInfo::Unknown(_)
        ));
        assert!(matches!(
            parse(json!({"@odata.type": "#microsoft.graph.tokenMeetingInfo", "token": 5})),
            MeetingInfo::Unknown(_)
        ));
        assert!(matches!(parse(json!(7)), MeetingInfo::Unknown(_)));
    }

    #[test]
    fn media_config_dispatches_and_tolerates_odd_shapes() {
        let parse = |v: Value| serde_json::from_value::<MediaConfig>(v).unwrap();
        assert_eq!(
            parse(json!({"@odata.type": "#microsoft.graph.serviceHostedMediaConfig"})),
            MediaConfig::ServiceHosted {
                pre_fetch_media: vec![]
            }
        );
        assert_eq!(
            parse(json!({"blob": "b"})),
            MediaConfig::AppHosted {
                blob: Some("b".into())
            }
        );
        assert!(matches!(
            parse(json!({"preFetchMedia": "nope"})),
            MediaConfig::Unknown(_)
        ));
    }

    #[test]
    fn call_ignores_unknown_fields_and_keeps_unknown_enum_values() {
        let call: Call = serde_json::from_value(json!({
            "state": "Ringing", "direction": "OUTGOING", "futureField": {"x": 1},
            "targets": null, "requestedModalities": ["audio", "hologram"], "tenantId": ""
        }))
        .unwrap();
        assert_eq!(call.state(), Some(callhost_call::CallState::Unknown));
        assert_eq!(call.state.as_deref(), Some("Ringing"));
        assert_eq!(
            call.direction(),
            Some(callhost_call::CallDirection::Outgoing)
        );
        assert!(call.targets.is_empty());
        assert_eq!(call.requested_modalities, ["audio", "hologram"]);
        assert_eq!(call.tenant_id(), None);
    }
}
