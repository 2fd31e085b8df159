//! How a SPEC changes an image reference written in a file. The rules are
//! shared by every target that holds a full reference (`repo:tag@digest`).

use crate::reference::{ImageName, Reference, join_written, split_written};
use crate::spec::{Field, ImageSpec};

/// A reference as written: the name keeps its spelling (`nginx` stays
/// `nginx`), tag and digest are split off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Written {
    pub name: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl Written {
    /// An image value kept in separate fields (a chart's `repository`,
    /// `tag` and `digest` keys, Argo CD's `image.*` parameters).
    pub(crate) fn from_parts(name: String, tag: Option<String>, digest: Option<String>) -> Written {
        Written { name, tag, digest }
    }

    /// Splits a valid reference; `None` when the text is not one.
    pub(crate) fn parse(text: &str) -> Option<(Written, ImageName)> {
        let parsed = Reference::parse(text).ok()?;
        let (name, tag, digest) = split_written(text);
        Some((
            Written {
                name: name.to_string(),
                tag: tag.map(str::to_string),
                digest: digest.map(str::to_string),
            },
            parsed.name,
        ))
    }

    pub(crate) fn render(&self) -> String {
        join_written(&self.name, self.tag.as_deref(), self.digest.as_deref())
    }
}

/// Whether a written name is the SPEC's image (after normalization).
pub(crate) fn name_matches(spec: &ImageSpec, written_name: &str) -> bool {
    ImageName::parse(written_name).is_ok_and(|n| n == spec.matcher)
}

/// Whether a written name is the SPEC's image or the name its `=NEWNAME`
/// gives it: an image the same SPEC already renamed is still its image, so
/// running a SPEC twice (or again after a lost push race) is a no-op
/// instead of a "no manifest refers to" error or a duplicate entry.
pub(crate) fn name_or_rename_matches(spec: &ImageSpec, written_name: &str) -> bool {
    ImageName::parse(written_name).is_ok_and(|n| n == spec.matcher || renamed_to(spec) == Some(n))
}

/// The normalized name a SPEC renames its image to, if it renames.
fn renamed_to(spec: &ImageSpec) -> Option<ImageName> {
    match &spec.new_name {
        Some(Field::Set(n)) => ImageName::parse(n).ok(),
        _ => None,
    }
}

/// The index of the first SPEC naming this image; failing that, of the
/// first SPEC renaming an image to it (see [`name_or_rename_matches`]).
pub(crate) fn matching_spec(specs: &[ImageSpec], written_name: &str) -> Option<usize> {
    let name = ImageName::parse(written_name).ok()?;
    specs.iter().position(|s| s.matcher == name).or_else(|| {
        specs
            .iter()
            .position(|s| renamed_to(s) == Some(name.clone()))
    })
}

/// The new name for a reference: NEWNAME when the SPEC sets one, else the
/// spelling already in the file.
pub(crate) fn bumped_name(spec: &ImageSpec, written: &str) -> String {
    match &spec.new_name {
        Some(Field::Set(n)) => n.clone(),
        _ => written.to_string(),
    }
}

/// The tag and digest of a full reference after the SPEC:
///
/// - a new tag alone drops the digest (it pinned the old tag);
/// - a new digest alone drops the tag (it would be misleading);
/// - `NAME:TAG@DIGEST` writes both;
/// - `*` keeps what is there; a part the SPEC does not give is kept unless
///   the other part is set (the two rules above).
pub(crate) fn bumped_tag_digest(
    spec: &ImageSpec,
    tag: Option<&str>,
    digest: Option<&str>,
) -> (Option<String>, Option<String>) {
    let new_tag = match (&spec.tag, &spec.digest) {
        (Some(Field::Set(t)), _) => Some(t.clone()),
        (None, Some(Field::Set(_))) => None,
        _ => tag.map(str::to_string),
    };
    let new_digest = match (&spec.digest, &spec.tag) {
        (Some(Field::Set(d)), _) => Some(d.to_string()),
        (None, Some(Field::Set(_))) => None,
        _ => digest.map(str::to_string),
    };
    (new_tag, new_digest)
}

/// A full reference after the SPEC.
pub(crate) fn bump_reference(spec: &ImageSpec, old: &Written) -> Written {
    let (tag, digest) = bumped_tag_digest(spec, old.tag.as_deref(), old.digest.as_deref());
    Written {
        name: bumped_name(spec, &old.name),
        tag,
        digest,
    }
}

/// A kustomize `images:` field after the SPEC, as `kustomize edit set
/// image` does it: a part the SPEC does not give is dropped, `*` keeps it.
pub(crate) fn kustomize_field(
    spec_field: Option<Field<String>>,
    existing: Option<&str>,
) -> Option<String> {
    match spec_field {
        None => None,
        Some(Field::Keep) => existing.map(str::to_string),
        Some(Field::Set(v)) => Some(v),
    }
}

pub(crate) fn spec_digest_as_string(spec: &ImageSpec) -> Option<Field<String>> {
    spec.digest.as_ref().map(|d| match d {
        Field::Keep => Field::Keep,
        Field::Set(d) => Field::Set(d.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const D1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const D2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

    #[test]
    fn reference_rules() {
        // (written, spec, expected)
        let cases: Vec<(String, String, String)> = vec![
            // A new tag drops a stale digest.
            (format!("app:v1@{D1}"), "app:v2".into(), "app:v2".into()),
            // A new digest alone drops the tag.
            (
                "app:v1".to_string(),
                format!("app@{D2}"),
                format!("app@{D2}"),
            ),
            // NAME:TAG@DIGEST writes both.
            (
                format!("app:v1@{D1}"),
                format!("app:v2@{D2}"),
                format!("app:v2@{D2}"),
            ),
            // `*` keeps the tag while the digest changes.
            (
                format!("app:v1@{D1}"),
                format!("app:*@{D2}"),
                format!("app:v1@{D2}"),
            ),
            // `*` keeps the digest while the tag changes.
            (
                format!("app:v1@{D1}"),
                "app:v2@*".to_string(),
                format!("app:v2@{D1}"),
            ),
            // NEWNAME alone keeps tag and digest.
            (
                "app:v1".into(),
                "app=ghcr.io/o/app".into(),
                "ghcr.io/o/app:v1".into(),
            ),
            // The file's spelling survives.
            (
                "docker.io/library/nginx:1".into(),
                "nginx:2".into(),
                "docker.io/library/nginx:2".into(),
            ),
            // A port is not a tag.
            (
                "localhost:5000/app".into(),
                "localhost:5000/app:v3".into(),
                "localhost:5000/app:v3".into(),
            ),
        ];
        for (written, spec, want) in cases {
            let spec = ImageSpec::parse(&spec).unwrap();
            let (w, _) = Written::parse(&written).unwrap();
            assert_eq!(w.render(), written, "round trip");
            assert_eq!(
                bump_reference(&spec, &w).render(),
                want,
                "{written} with {}",
                spec.raw
            );
        }
    }

    #[test]
    fn names_match_after_normalization() {
        let spec = ImageSpec::parse("nginx:1").unwrap();
        for name in [
            "nginx",
            "docker.io/nginx",
            "index.docker.io/library/nginx",
            "docker.io/library/nginx",
        ] {
            assert!(name_matches(&spec, name), "{name}");
        }
        for name in ["ghcr.io/nginx", "library/nginx2", "nginx/nginx", "Nginx"] {
            assert!(!name_matches(&spec, name), "{name}");
        }
    }
}
