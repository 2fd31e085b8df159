//! A string that must never be printed: tokens, passwords, private keys.
//!
//! Every secret is remembered the moment it exists, so the printer
//! ([`crate::print`]) can redact it from any text it prints, in both modes:
//! in Actions the runner's masks would catch it too, on a terminal nothing
//! else would (a server's error that echoes the token back, say).
//!
//! Every secret is also handed to the mask hook, which the program's entry
//! points set to the runner's `::add-mask::` ([`mask_with`]). This module
//! does not call the runner contract itself: `actions/` uses `Secret`, so
//! the call goes through the hook and the two modules do not import each
//! other.

use std::borrow::Cow;
use std::fmt;
use std::sync::Mutex;

/// Every secret value seen by this process, each line of a multi-line one
/// on its own, longest first (so a longer secret is redacted before a
/// shorter one inside it).
static KNOWN: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Who masks a new secret in the log: nobody yet (the secrets made so far
/// wait for the hook), or the hook.
enum Masking {
    Waiting(Vec<String>),
    With(fn(&str)),
}

impl Masking {
    /// Masks `value` now, or as soon as there is a hook.
    fn add(&mut self, value: &str) {
        match self {
            Masking::Waiting(waiting) => waiting.push(value.to_string()),
            Masking::With(mask) => mask(value),
        }
    }

    /// Masks with `mask` from now on, starting with the secrets that
    /// waited. The first hook stays: a second one is ignored.
    fn start(&mut self, mask: fn(&str)) {
        if let Masking::Waiting(waiting) = self {
            for value in waiting.drain(..) {
                mask(&value);
            }
            *self = Masking::With(mask);
        }
    }
}

static MASKING: Mutex<Masking> = Mutex::new(Masking::Waiting(Vec::new()));

/// Has every secret masked by `mask`: each one made from now on, at once,
/// and each one made before this call, now. The entry points (the binary's
/// `main`, [`crate::pipeline::run`]) call it with the runner's
/// `::add-mask::` writer, `crate::actions::mask`, before anything else.
pub fn mask_with(mask: fn(&str)) {
    MASKING
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .start(mask);
}

/// Shorter values are not redacted: replacing every `ab` in every message
/// would make the log unreadable, and such a value protects nothing.
const MIN_REDACTED: usize = 4;

/// Remembers `value` for [`redact`]; false when it was already known, so
/// it needs no second mask (the same token read by several stages).
fn remember(value: &str) -> bool {
    let mut known = KNOWN.lock().unwrap_or_else(|e| e.into_inner());
    let trimmed = value.trim();
    let seen = trimmed.len() >= MIN_REDACTED && known.iter().any(|k| k == trimmed);
    let parts = std::iter::once(trimmed).chain(value.lines().map(str::trim));
    for part in parts.filter(|p| p.len() >= MIN_REDACTED) {
        if !known.iter().any(|k| k == part) {
            known.push(part.to_string());
        }
    }
    known.sort_by_key(|k| std::cmp::Reverse(k.len()));
    !seen
}

/// `text` with every known secret replaced by `***`.
pub(crate) fn redact(text: &str) -> Cow<'_, str> {
    let known = KNOWN.lock().unwrap_or_else(|e| e.into_inner());
    if !known.iter().any(|k| text.contains(k.as_str())) {
        return Cow::Borrowed(text);
    }
    let mut out = text.to_string();
    for k in known.iter() {
        out = out.replace(k.as_str(), "***");
    }
    Cow::Owned(out)
}

/// Holds a credential. `Debug` and `Display` redact it; the only way to read
/// it is [`Secret::expose`], which makes every use greppable in review.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential and, inside GitHub Actions, masks it in the log at
    /// once, before any other code can print it (through the hook set with
    /// [`mask_with`]).
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        if remember(&value) {
            MASKING
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .add(&value);
        }
        Secret(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub(crate) fn is_empty(&self) -> bool {
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
    use std::sync::Mutex;

    use super::{Masking, Secret, remember};

    static MASKED: Mutex<Vec<String>> = Mutex::new(Vec::new());

    fn record(value: &str) {
        MASKED.lock().unwrap().push(value.to_string());
    }

    fn ignore(_: &str) {}

    /// A secret made before the entry point sets the hook is masked when it
    /// does; one made after, at once; a second hook changes nothing.
    #[test]
    fn every_secret_is_masked_whenever_the_hook_is_set() {
        let mut masking = Masking::Waiting(Vec::new());
        masking.add("made-before-the-hook");
        assert!(MASKED.lock().unwrap().is_empty());
        masking.start(record);
        assert_eq!(*MASKED.lock().unwrap(), ["made-before-the-hook"]);
        masking.add("made-after");
        masking.start(ignore);
        masking.add("made-after-a-second-hook");
        assert_eq!(
            *MASKED.lock().unwrap(),
            [
                "made-before-the-hook",
                "made-after",
                "made-after-a-second-hook"
            ]
        );
    }

    #[test]
    fn the_same_value_is_masked_once_however_many_stages_read_it() {
        assert!(remember("ghs_read_by_three_stages_0001"));
        assert!(!remember("ghs_read_by_three_stages_0001"));
        assert!(!remember("  ghs_read_by_three_stages_0001\n"));
        // Too short to be remembered: always handed to the mask.
        assert!(remember("ab"));
        assert!(remember("ab"));
    }

    #[test]
    fn formatting_never_reveals_the_value() {
        let s = Secret::new("ghs_verysecret");
        assert_eq!(format!("{s} {s:?} {s:#?}"), "*** Secret(***) Secret(***)");
        assert_eq!(s.expose(), "ghs_verysecret");
    }

    #[test]
    fn known_secrets_are_redacted_from_any_text() {
        let _token = Secret::new("ghs_redact_me_0123");
        let _key = Secret::new("-----BEGIN KEY-----\nline-two-of-the-key\n-----END KEY-----\n");
        let cases = [
            ("plain text", "plain text"),
            (
                "server said: bad token ghs_redact_me_0123!",
                "server said: bad token ***!",
            ),
            ("key line-two-of-the-key leaked", "key *** leaked"),
        ];
        for (text, want) in cases {
            assert_eq!(super::redact(text), want);
        }
    }
}
