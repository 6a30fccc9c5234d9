//! Who takes part in a call: identity sets and participant infos.

use serde::Deserialize;

/// One identity of an [`IdentitySet`] (Graph's open `identity` type).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GraphIdentity {
    #[serde(rename = "@odata.type")]
    pub odata_type: Option<String>,
    pub id: Option<String>,
    pub display_name: Option<String>,
    pub tenant_id: Option<String>,
    pub identity_provider: Option<String>,
}

/// Graph's `identitySet` (schema name `communicationsIdentitySet`): at most one identity per
/// kind, usually exactly one. Identities are boxed to keep the many absent kinds small.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct IdentitySet {
    #[serde(rename = "@odata.type")]
    pub odata_type: Option<String>,
    pub user: Option<Box<GraphIdentity>>,
    pub application: Option<Box<GraphIdentity>>,
    pub application_instance: Option<Box<GraphIdentity>>,
    pub phone: Option<Box<GraphIdentity>>,
    pub guest: Option<Box<GraphIdentity>>,
    pub encrypted: Option<Box<GraphIdentity>>,
    pub device: Option<Box<GraphIdentity>>,
    pub on_premises: Option<Box<GraphIdentity>>,
    pub asserted_identity: Option<Box<GraphIdentity>>,
    pub azure_communication_services_user: Option<Box<GraphIdentity>>,
    pub endpoint_type: Option<String>,
}

/// Graph's `participantInfo`: a party as seen in `source`, `answeredBy` and `participant.info`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ParticipantInfo {
    #[serde(rename = "@odata.type")]
    pub odata_type: Option<String>,
    pub identity: Option<IdentitySet>,
    /// `default`, `voicemail`, `skypeForBusiness`, … as Graph sent it.
    pub endpoint_type: Option<String>,
    pub language_id: Option<String>,
    pub region: Option<String>,
    pub country_code: Option<String>,
    pub participant_id: Option<String>,
    /// Not in the schema but present in real payloads.
    pub id: Option<String>,
    pub client_version: Option<String>,
    pub endpoint_id: Option<String>,
}

/// Graph's `invitationParticipantInfo`: a target of a call, redirect, transfer or invite.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct InvitationParticipantInfo {
    #[serde(rename = "@odata.type")]
    pub odata_type: Option<String>,
    pub identity: Option<IdentitySet>,
    pub replaces_call_id: Option<String>,
    pub participant_id: Option<String>,
    pub hidden: Option<bool>,
    pub remove_from_default_audio_routing_group: Option<bool>,
    pub endpoint_type: Option<String>,
    pub language_id: Option<String>,
    pub region: Option<String>,
    pub id: Option<String>,
}
