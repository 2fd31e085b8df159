//! The `set image` SPEC: `NAME[=NEWNAME][:TAG][@DIGEST]`, the syntax of
//! `kustomize edit set image`, where `*` in any part keeps the existing value.

use std::fmt;

use crate::reference::{Digest, ImageName, Reference, ReferenceError};

/// One part of a SPEC: either keep what the file has (`*`) or set a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field<T> {
    Keep,
    Set(T),
}

impl<T> Field<T> {
    pub fn as_set(&self) -> Option<&T> {
        match self {
            Field::Keep => None,
            Field::Set(v) => Some(v),
        }
    }
}

/// A parsed SPEC. `None` for a part means "not given": kustomize drops such a
/// field from the `images:` entry, and a workload keeps what its rules say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSpec {
    /// The SPEC as the user wrote it, for messages.
    pub raw: String,
    /// The name as written (`nginx`), used for new kustomize entries.
    pub name: String,
    /// The normalized name used to match files (`docker.io/library/nginx`).
    pub matcher: ImageName,
    /// `Set` only when the SPEC has `=NEWNAME`; the spelling is kept as written.
    pub new_name: Option<Field<String>>,
    pub tag: Option<Field<String>>,
    pub digest: Option<Field<Digest>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("invalid image spec {spec:?}: {source}")]
    Reference {
        spec: String,
        #[source]
        source: ReferenceError,
    },
    #[error(
        "invalid image spec {spec:?}: {why} (expected NAME[=NEWNAME][:TAG][@DIGEST], `*` keeps a part)"
    )]
    Shape { spec: String, why: &'static str },
}

const KEEP: &str = "*";

impl ImageSpec {
    pub fn parse(spec: &str) -> Result<Self, SpecError> {
        let spec = spec.trim();
        let shape = |why| SpecError::Shape {
            spec: spec.to_string(),
            why,
        };
        let wrap = |source| SpecError::Reference {
            spec: spec.to_string(),
            source,
        };
        if spec.is_empty() {
            return Err(shape("the spec is empty"));
        }
        if spec.matches('=').count() > 1 {
            return Err(shape("more than one `=`"));
        }
        let (name, new_name, tail) = match spec.split_once('=') {
            Some((name, right)) => {
                let (new_name, tail) = split_name(right);
                if new_name.is_empty() {
                    return Err(shape("NEWNAME after `=` is empty"));
                }
                let new_name = if new_name == KEEP {
                    Field::Keep
                } else {
                    ImageName::parse(new_name).map_err(wrap)?;
                    Field::Set(new_name.to_string())
                };
                (name, Some(new_name), tail)
            }
            None => {
                let (name, tail) = split_name(spec);
                (name, None, tail)
            }
        };
        if name.is_empty() {
            return Err(shape("NAME is empty"));
        }
        let matcher = ImageName::parse(name).map_err(wrap)?;
        let (tag, digest) = match tail.split_once('@') {
            Some((t, d)) => (t, Some(d)),
            None => (tail, None),
        };
        let tag = match tag.strip_prefix(':') {
            None if tag.is_empty() => None,
            None => return Err(shape("unexpected text after the name")),
            Some(KEEP) => Some(Field::Keep),
            Some(t) => {
                // Validate through the reference grammar so messages match.
                Reference::parse(&format!("x:{t}")).map_err(|e| wrap(retarget(e, spec)))?;
                Some(Field::Set(t.to_string()))
            }
        };
        let digest = match digest {
            None => None,
            Some(KEEP) => Some(Field::Keep),
            Some(d) => Some(Field::Set(
                Digest::parse(d).map_err(|e| wrap(retarget(e, spec)))?,
            )),
        };
        Ok(ImageSpec {
            raw: spec.to_string(),
            name: name.to_string(),
            matcher,
            new_name,
            tag,
            digest,
        })
    }

    /// The SPEC that sets exactly these parts, as a file has them (what
    /// `promote` reads): each part is checked as [`ImageSpec::parse`] checks
    /// it, without going through text, so a tag holding `@` or a name
    /// holding `:` is refused rather than read as another part. `raw` is
    /// the text the SPEC renders to, which errors quote.
    pub(crate) fn from_parts(
        name: &str,
        new_name: Option<&str>,
        tag: Option<&str>,
        digest: Option<&str>,
    ) -> Result<Self, SpecError> {
        let mut raw = name.to_string();
        for (sep, part) in [('=', new_name), (':', tag), ('@', digest)] {
            if let Some(part) = part {
                raw.push(sep);
                raw.push_str(part);
            }
        }
        let shape = |why| SpecError::Shape {
            spec: raw.clone(),
            why,
        };
        let wrap = |source| SpecError::Reference {
            spec: raw.clone(),
            source,
        };
        if name.is_empty() {
            return Err(shape("NAME is empty"));
        }
        if new_name.is_some_and(str::is_empty) {
            return Err(shape("NEWNAME after `=` is empty"));
        }
        let name_part = |n: &str| {
            if n.contains(['=', '@']) || n.rsplit('/').next().is_some_and(|last| last.contains(':'))
            {
                return Err(shape("unexpected text after the name"));
            }
            ImageName::parse(n).map_err(wrap)
        };
        let matcher = name_part(name)?;
        if let Some(n) = new_name {
            name_part(n)?;
        }
        if let Some(t) = tag {
            // Validate through the reference grammar so messages match.
            let parsed =
                Reference::parse(&format!("x:{t}")).map_err(|e| wrap(retarget(e, &raw)))?;
            if parsed.digest.is_some() || parsed.tag.as_deref() != Some(t) {
                return Err(shape("unexpected text after the name"));
            }
        }
        let digest = match digest {
            Some(d) => Some(Field::Set(
                Digest::parse(d).map_err(|e| wrap(retarget(e, &raw)))?,
            )),
            None => None,
        };
        Ok(ImageSpec {
            name: name.to_string(),
            matcher,
            new_name: new_name.map(|n| Field::Set(n.to_string())),
            tag: tag.map(|t| Field::Set(t.to_string())),
            digest,
            raw,
        })
    }

    /// The SPEC in its text form (`name=newName:tag@digest`, `*` for a kept
    /// part): what `raw` becomes after a SPEC is built in code.
    pub(crate) fn render(&self) -> String {
        fn part<T: fmt::Display>(sep: char, field: &Option<Field<T>>) -> String {
            match field {
                None => String::new(),
                Some(Field::Keep) => format!("{sep}{KEEP}"),
                Some(Field::Set(v)) => format!("{sep}{v}"),
            }
        }
        format!(
            "{}{}{}{}",
            self.name,
            part('=', &self.new_name),
            part(':', &self.tag),
            part('@', &self.digest)
        )
    }

    /// The tag to write, if the SPEC sets one.
    pub(crate) fn new_tag(&self) -> Option<&str> {
        self.tag
            .as_ref()
            .and_then(Field::as_set)
            .map(String::as_str)
    }

    /// The digest to write, if the SPEC sets one.
    pub(crate) fn new_digest(&self) -> Option<&Digest> {
        self.digest.as_ref().and_then(Field::as_set)
    }

    /// The image the SPEC points at after the bump, as a reference to verify in
    /// a registry: NEWNAME (or NAME) with the tag and digest it sets.
    pub(crate) fn target_reference(&self) -> Result<Reference, SpecError> {
        let name = match &self.new_name {
            Some(Field::Set(n)) => n.as_str(),
            _ => self.name.as_str(),
        };
        let mut r = Reference::parse(name).map_err(|source| SpecError::Reference {
            spec: self.raw.clone(),
            source,
        })?;
        r.tag = self.new_tag().map(str::to_string);
        r.digest = self.new_digest().cloned();
        Ok(r)
    }
}

impl fmt::Display for ImageSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// Splits `name[:tag][@digest]` into the name and the rest, keeping a
/// registry port with the name.
fn split_name(s: &str) -> (&str, &str) {
    let before_digest = s.find('@').unwrap_or(s.len());
    let head = &s[..before_digest];
    let last_slash = head.rfind('/').map_or(0, |i| i + 1);
    match head[last_slash..].find(':') {
        Some(i) => (&s[..last_slash + i], &s[last_slash + i..]),
        None => (head, &s[before_digest..]),
    }
}

/// Errors from validating a part alone mention a placeholder input; point
/// them at the user's SPEC instead.
fn retarget(e: ReferenceError, spec: &str) -> ReferenceError {
    match e {
        ReferenceError::Tag { tag, why, .. } => ReferenceError::Tag {
            input: spec.to_string(),
            tag,
            why,
        },
        ReferenceError::Digest { digest, why, .. } => ReferenceError::Digest {
            input: spec.to_string(),
            digest,
            why,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:9ad9fa56a286e5cd686043f0d63836d24308be21312d09e0ea969a377885bad7";

    fn set(s: &str) -> Option<Field<String>> {
        Some(Field::Set(s.to_string()))
    }

    #[test]
    fn specs_parse_like_kustomize() {
        type Case = (
            String,
            &'static str,
            Option<Field<String>>,
            Option<Field<String>>,
            bool,
        );
        let cases: Vec<Case> = vec![
            ("nginx:1.27".into(), "nginx", None, set("1.27"), false),
            ("nginx".into(), "nginx", None, None, false),
            (
                "nginx=ghcr.io/o/nginx:2".into(),
                "nginx",
                set("ghcr.io/o/nginx"),
                set("2"),
                false,
            ),
            (
                "nginx=*:2".into(),
                "nginx",
                Some(Field::Keep),
                set("2"),
                false,
            ),
            ("nginx:*".into(), "nginx", None, Some(Field::Keep), false),
            (format!("nginx@{D}"), "nginx", None, None, true),
            (format!("nginx:1@{D}"), "nginx", None, set("1"), true),
            (
                "localhost:5000/app:v1".into(),
                "localhost:5000/app",
                None,
                set("v1"),
                false,
            ),
            (
                "app=localhost:5000/app".into(),
                "app",
                set("localhost:5000/app"),
                None,
                false,
            ),
        ];
        for (input, name, new_name, tag, digest) in cases {
            let s = ImageSpec::parse(&input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(s.name, name, "{input}");
            assert_eq!(s.new_name, new_name, "{input}");
            assert_eq!(s.tag, tag, "{input}");
            assert_eq!(s.digest.is_some(), digest, "{input}");
        }
        assert_eq!(
            ImageSpec::parse("nginx@*").unwrap().digest,
            Some(Field::Keep)
        );
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        let cases = [
            ("", "empty"),
            ("=x", "NAME is empty"),
            ("a=", "NEWNAME after `=` is empty"),
            ("a=b=c", "more than one"),
            ("Nginx:1", "lowercase"),
            ("nginx:-1", "must start"),
            ("nginx@sha256:12", "64 hex"),
            ("a=b/C", "lowercase"),
        ];
        for (input, needle) in cases {
            let e = ImageSpec::parse(input).expect_err(input).to_string();
            assert!(e.contains(needle), "{input:?}: {e}");
        }
    }

    #[test]
    fn render_round_trips() {
        for input in [
            "nginx",
            "nginx:1",
            "nginx=*:2",
            "app=ghcr.io/o/app:*@*",
            "localhost:5000/app:v1",
            &format!("app=ghcr.io/o/app:v1@{D}"),
        ] {
            let spec = ImageSpec::parse(input).unwrap();
            assert_eq!(spec.render(), input);
            assert_eq!(ImageSpec::parse(&spec.render()).unwrap(), spec);
        }
    }

    #[test]
    fn target_reference_uses_new_name() {
        let s = ImageSpec::parse("app=ghcr.io/o/app:v2").unwrap();
        assert_eq!(
            s.target_reference().unwrap().to_string(),
            "ghcr.io/o/app:v2"
        );
        let s = ImageSpec::parse("nginx:1").unwrap();
        assert_eq!(
            s.target_reference().unwrap().to_string(),
            "docker.io/library/nginx:1"
        );
    }

    /// An image as a file has it becomes the SPEC its text would parse to,
    /// and a part that would read as another part is refused.
    #[test]
    fn parts_make_the_spec_their_text_parses_to() {
        type Parts<'a> = (&'a str, Option<&'a str>, Option<&'a str>, Option<&'a str>);
        let good: &[Parts] = &[
            ("nginx", None, None, None),
            ("ghcr.io/o/app", None, Some("v1.2.3"), None),
            ("app", Some("ghcr.io/o/app"), Some("v1"), Some(D)),
            ("localhost:5000/o/app", None, None, Some(D)),
            ("app", Some("reg.example:5000/o/app"), None, None),
        ];
        for &(name, new_name, tag, digest) in good {
            let spec = ImageSpec::from_parts(name, new_name, tag, digest).unwrap();
            assert_eq!(spec, ImageSpec::parse(&spec.raw).unwrap(), "{name}");
        }
        let bad: &[Parts] = &[
            ("", None, Some("v1"), None),
            ("app", Some(""), None, None),
            ("app:v1", None, Some("v2"), None),
            ("app", None, Some("v1@sha256:00"), None),
            ("app", None, Some("Bad Tag"), None),
            ("app", None, None, Some("sha256:beef")),
            ("app", Some("a=b"), None, None),
        ];
        for &(name, new_name, tag, digest) in bad {
            let err = ImageSpec::from_parts(name, new_name, tag, digest).unwrap_err();
            assert!(err.to_string().starts_with("invalid image spec"), "{err}");
        }
    }
}
