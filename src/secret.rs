//! A string that must never be printed: tokens, passwords, private keys.

use std::fmt;

/// Holds a credential. `Debug` and `Display` redact it; the only way to read
/// it is [`Secret::expose`], which makes every use greppable in review.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential and, inside GitHub Actions, masks it in the log at
    /// once, before any other code can print it.
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        crate::github::mask(&value);
        Secret(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn formatting_never_reveals_the_value() {
        let s = Secret::new("ghs_verysecret");
        assert_eq!(format!("{s} {s:?} {s:#?}"), "*** Secret(***) Secret(***)");
        assert_eq!(s.expose(), "ghs_verysecret");
    }
}
