//! Audio prompts: a name (which the workflow and its config use) and the media Graph plays.

use crate::types::MediaPrompt;

/// A prompt to play or prefetch. Its name is the config key it came from, and the client
/// context of its playback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    name: String,
    media: MediaPrompt,
}

impl Prompt {
    /// The prompt at `uri` (https, WAV: mono, 16-bit, 16 kHz). Graph caches its audio under a
    /// resource id made of the name and a hash of the URL, so a changed URL is fetched again.
    pub fn new(name: impl Into<String>, uri: impl Into<String>) -> Self {
        let name = name.into();
        let uri = uri.into();
        let resource_id = resource_id(&name, &uri);
        Self {
            name,
            media: MediaPrompt {
                uri,
                resource_id: Some(resource_id),
            },
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn uri(&self) -> &str {
        &self.media.uri
    }

    /// The prompt as the call-control functions take it.
    pub fn media(&self) -> &MediaPrompt {
        &self.media
    }
}

/// `<name>-<FNV-1a of the URL, 8 hex digits>`.
fn resource_id(name: &str, uri: &str) -> String {
    let hash = uri.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    });
    format!("{name}-{hash:08x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resource_id_follows_the_url() {
        let menu = Prompt::new("menu", "https://media.example.com/menu.wav");
        assert_eq!(menu.media().resource_id.as_deref(), Some("menu-c099f159"));
        let other = Prompt::new("menu", "https://media.example.com/menu-v2.wav");
        assert_ne!(other.media().resource_id, menu.media().resource_id);
    }
}
