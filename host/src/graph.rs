//! Microsoft Graph cloud communications: the wire model, notification parsing, request
//! building, join-URL parsing, app tokens and the HTTP client.

pub mod actions;
pub mod client;
pub mod join_url;
pub mod model;
pub mod notification;
pub mod request;
pub mod token;
