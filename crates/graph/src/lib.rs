//! Microsoft Graph cloud communications: the wire model, notification parsing, request
//! building, join-URL parsing, ids in their several forms, app tokens and the HTTP client.

pub mod actions;
pub mod callback_auth;
pub mod client;
pub mod id;
pub mod join_url;
pub mod model;
pub mod notification;
pub mod request;
pub mod token;
