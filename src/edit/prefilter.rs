//! Which files can matter to a request, decided from their text alone, so
//! the shell can pass over most files of a large repository unparsed.

use super::EditRequest;
use super::targets::marker;
use crate::spec::Field;

/// A cheap test before parsing: a file that contains neither an image's
/// last path component nor a marker cannot refer to any SPEC, unless it
/// has a backslash: a double-quoted YAML scalar can spell any text with
/// escapes (`"\x61pp"` is `app`), and skipping such a file would make a
/// multi-file bump silently partial.
pub(crate) struct Prefilter {
    needles: Vec<memchr::memmem::Finder<'static>>,
}

impl Prefilter {
    pub(crate) fn new(request: &EditRequest) -> Self {
        let last_component = |name: &str| name.rsplit('/').next().unwrap_or(name).to_string();
        let mut words: Vec<String> = Vec::new();
        for spec in &request.specs {
            words.push(last_component(&spec.matcher.repository));
            // A file the same SPEC already renamed must still be found.
            if let Some(Field::Set(new_name)) = &spec.new_name {
                words.push(last_component(new_name));
            }
        }
        words.push("$imagepolicy".into());
        words.push("gitops-bump:".into());
        words.sort();
        words.dedup();
        Prefilter {
            needles: words
                .iter()
                .map(|w| memchr::memmem::Finder::new(w.as_bytes()).into_owned())
                .collect(),
        }
    }

    pub(crate) fn may_refer(&self, bytes: &[u8]) -> bool {
        memchr::memchr(b'\\', bytes).is_some()
            || self.needles.iter().any(|n| n.find(bytes).is_some())
    }
}

/// Whether a text names none of the SPECs' images (nor their new names)
/// and has no marker nor escape, so it cannot hold anything `request`
/// would edit. Used to pass over a walked file that does not parse: one
/// broken unrelated file must not abort a bump of a whole repository.
pub(crate) fn names_none(text: &str, request: &EditRequest) -> bool {
    if text.contains('\\') || marker::present(text) {
        return false;
    }
    !request.specs.iter().any(|spec| {
        let repository = &spec.matcher.repository;
        let short = repository.strip_prefix("library/").unwrap_or(repository);
        let renamed = match &spec.new_name {
            Some(Field::Set(n)) => Some(n.as_str()),
            _ => None,
        };
        text.contains(short) || renamed.is_some_and(|n| text.contains(n))
    })
}
