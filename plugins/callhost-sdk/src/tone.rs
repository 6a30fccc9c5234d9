//! DTMF keys as text, for logs and for menus written as key strings.

use std::fmt;

use crate::types::Tone;

const KEYS: [(Tone, &str); 17] = [
    (Tone::Zero, "0"),
    (Tone::One, "1"),
    (Tone::Two, "2"),
    (Tone::Three, "3"),
    (Tone::Four, "4"),
    (Tone::Five, "5"),
    (Tone::Six, "6"),
    (Tone::Seven, "7"),
    (Tone::Eight, "8"),
    (Tone::Nine, "9"),
    (Tone::Star, "*"),
    (Tone::Pound, "#"),
    (Tone::A, "A"),
    (Tone::B, "B"),
    (Tone::C, "C"),
    (Tone::D, "D"),
    (Tone::Flash, "flash"),
];

impl Tone {
    /// The key as the caller sees it: `0`–`9`, `*`, `#`, `A`–`D`, or `flash`.
    pub fn as_str(self) -> &'static str {
        KEYS.iter()
            .find(|(tone, _)| *tone == self)
            .map_or("?", |(_, key)| key)
    }

    /// The tone of a key written as [`Tone::as_str`] does.
    pub fn from_key(key: &str) -> Option<Tone> {
        KEYS.iter()
            .find(|(_, text)| *text == key)
            .map(|(tone, _)| *tone)
    }

    /// The digit of `0`–`9`.
    pub fn digit(self) -> Option<u8> {
        self.as_str().parse().ok()
    }
}

impl fmt::Display for Tone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        for (tone, key) in KEYS {
            assert_eq!(tone.as_str(), key);
            assert_eq!(Tone::from_key(key), Some(tone));
        }
        assert_eq!(Tone::Seven.digit(), Some(7));
        assert_eq!(Tone::Star.digit(), None);
    }
}
