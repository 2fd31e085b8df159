//! Image reference grammar: parse, normalize and display container image
//! references the way the CNCF distribution `reference` package does.
//!
//! We keep our own parser (instead of a crate) because we need two things the
//! common ones lose: whether a tag was given at all (no silent `latest`), and
//! which part of an invalid reference is wrong, so the error can say so.

use std::fmt;

/// The registry Docker Hub images live on after normalization.
pub(crate) const DOCKER_HUB: &str = "docker.io";
const LEGACY_DOCKER_HUB: &str = "index.docker.io";
const MAX_NAME_LEN: usize = 255;
const MAX_TAG_LEN: usize = 128;

/// What is wrong with a reference. Each variant names the offending part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("image reference is empty")]
    Empty,
    #[error("invalid registry host {host:?} in {input:?}: {why}")]
    Domain {
        input: String,
        host: String,
        why: &'static str,
    },
    #[error(
        "invalid repository {repo:?} in {input:?}: {why} (components are lowercase letters, digits and single separators `.`, `_`, `__` or dashes, joined by `/`)"
    )]
    Repository {
        input: String,
        repo: String,
        why: &'static str,
    },
    #[error("repository name must be lowercase: {repo:?} in {input:?} (try {lower:?})")]
    Uppercase {
        input: String,
        repo: String,
        lower: String,
    },
    #[error("repository name {input:?} is longer than {MAX_NAME_LEN} characters")]
    NameTooLong { input: String },
    #[error(
        "invalid tag {tag:?} in {input:?}: {why} (a tag is 1 to 128 of letters, digits, `_`, `.`, `-`, not starting with `.` or `-`)"
    )]
    Tag {
        input: String,
        tag: String,
        why: &'static str,
    },
    #[error("invalid digest {digest:?} in {input:?}: {why}")]
    Digest {
        input: String,
        digest: String,
        why: String,
    },
}

/// A validated `algorithm:hex` content digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

impl Digest {
    /// Parses and validates a digest. `input` is only used in the error.
    pub fn parse(digest: &str) -> Result<Self, ReferenceError> {
        Self::parse_in(digest, digest)
    }

    fn parse_in(digest: &str, input: &str) -> Result<Self, ReferenceError> {
        let err = |why: String| ReferenceError::Digest {
            input: input.to_string(),
            digest: digest.to_string(),
            why,
        };
        let Some((algorithm, hex)) = digest.split_once(':') else {
            return Err(err(
                "expected ALGORITHM:HEX, like sha256:<64 hex digits>".into()
            ));
        };
        let expected_len = match algorithm {
            "sha256" => 64,
            "sha512" => 128,
            other if is_digest_algorithm(other) => {
                return Err(err(format!(
                    "unsupported digest algorithm {other:?} (use sha256 or sha512)"
                )));
            }
            _ => return Err(err(format!("malformed digest algorithm {algorithm:?}"))),
        };
        if hex.len() != expected_len {
            return Err(err(format!(
                "{algorithm} digest must have {expected_len} hex digits, found {}",
                hex.len()
            )));
        }
        if !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(err("digest must be lowercase hexadecimal".into()));
        }
        Ok(Digest(digest.to_string()))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_digest_algorithm(s: &str) -> bool {
    // algorithm-component ([+._-] algorithm-component)*, component = [a-z0-9]+
    !s.is_empty()
        && s.split(['+', '.', '_', '-']).all(|c| {
            !c.is_empty()
                && c.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// A repository name split into registry and path, normalized
/// (`nginx` → `docker.io/library/nginx`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImageName {
    pub registry: String,
    pub repository: String,
}

impl ImageName {
    /// Parses a name without tag or digest.
    pub fn parse(input: &str) -> Result<Self, ReferenceError> {
        let r = Reference::parse(input)?;
        if r.tag.is_some() || r.digest.is_some() {
            return Err(ReferenceError::Repository {
                input: input.to_string(),
                repo: input.to_string(),
                why: "expected an image name without tag or digest",
            });
        }
        Ok(r.name)
    }

    /// The short form Docker users write: `nginx`, `team/app`, `ghcr.io/o/app`.
    pub fn familiar(&self) -> String {
        if self.registry == DOCKER_HUB {
            self.repository
                .strip_prefix("library/")
                .filter(|rest| !rest.contains('/'))
                .unwrap_or(&self.repository)
                .to_string()
        } else {
            self.to_string()
        }
    }
}

impl fmt::Display for ImageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)
    }
}

/// A full image reference: name plus optional tag and digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    pub name: ImageName,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

impl Reference {
    /// Parses and normalizes `[host[:port]/]path[:tag][@digest]`.
    pub fn parse(input: &str) -> Result<Self, ReferenceError> {
        if input.is_empty() {
            return Err(ReferenceError::Empty);
        }
        let (name, tag, digest) = split_written(input);
        let digest = match digest {
            Some(d) => Some(Digest::parse_in(d, input)?),
            None => None,
        };
        if let Some(tag) = tag {
            validate_tag(tag, input)?;
        }
        let name = parse_name(name, input)?;
        Ok(Reference {
            name,
            tag: tag.map(str::to_string),
            digest,
        })
    }

    /// The reference to ask a registry for: the digest when pinned, else the tag
    /// (`latest` only when neither was written, as every client does).
    pub(crate) fn manifest_reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".to_string(),
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digest = self.digest.as_ref().map(Digest::as_str);
        f.write_str(&join_written(
            &self.name.to_string(),
            self.tag.as_deref(),
            digest,
        ))
    }
}

/// Splits `name[:tag][@digest]` as written, without validating. The tag
/// separator is the last `:` after the last `/`, so a registry port
/// (`host:5000/app`) is not mistaken for a tag.
pub(crate) fn split_written(text: &str) -> (&str, Option<&str>, Option<&str>) {
    let (rest, digest) = match text.split_once('@') {
        Some((rest, d)) => (rest, Some(d)),
        None => (text, None),
    };
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[last_slash..].rfind(':') {
        Some(i) => (
            &rest[..last_slash + i],
            Some(&rest[last_slash + i + 1..]),
            digest,
        ),
        None => (rest, None, digest),
    }
}

/// `name[:tag][@digest]`: the inverse of [`split_written`].
pub(crate) fn join_written(name: &str, tag: Option<&str>, digest: Option<&str>) -> String {
    let mut s = name.to_string();
    if let Some(t) = tag {
        s.push(':');
        s.push_str(t);
    }
    if let Some(d) = digest {
        s.push('@');
        s.push_str(d);
    }
    s
}

/// Checks a tag on its own (`v1.2.3`), as read from a manifest's `newTag`.
pub(crate) fn check_tag(tag: &str) -> Result<(), ReferenceError> {
    validate_tag(tag, tag)
}

fn validate_tag(tag: &str, input: &str) -> Result<(), ReferenceError> {
    let err = |why| ReferenceError::Tag {
        input: input.to_string(),
        tag: tag.to_string(),
        why,
    };
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let Some(&first) = tag.as_bytes().first() else {
        return Err(err("tag is empty"));
    };
    if tag.len() > MAX_TAG_LEN {
        return Err(err("tag is longer than 128 characters"));
    }
    if !word(first) {
        return Err(err("tag must start with a letter, digit or `_`"));
    }
    if !tag.bytes().all(|b| word(b) || b == b'.' || b == b'-') {
        return Err(err("tag contains a character outside [A-Za-z0-9_.-]"));
    }
    Ok(())
}

fn parse_name(name: &str, input: &str) -> Result<ImageName, ReferenceError> {
    if name.is_empty() {
        return Err(ReferenceError::Repository {
            input: input.to_string(),
            repo: String::new(),
            why: "repository is empty",
        });
    }
    if name.len() > MAX_NAME_LEN {
        return Err(ReferenceError::NameTooLong {
            input: input.to_string(),
        });
    }
    let (registry, path) = split_domain(name);
    if let Some(host) = registry {
        validate_domain(host, input)?;
    }
    let registry = match registry {
        None | Some(LEGACY_DOCKER_HUB) => DOCKER_HUB.to_string(),
        Some(host) => host.to_string(),
    };
    if path.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(ReferenceError::Uppercase {
            input: input.to_string(),
            repo: path.to_string(),
            lower: input.to_ascii_lowercase(),
        });
    }
    validate_path(path, input)?;
    let repository = if registry == DOCKER_HUB && !path.contains('/') {
        format!("library/{path}")
    } else {
        path.to_string()
    };
    Ok(ImageName {
        registry,
        repository,
    })
}

/// Splits off the registry host the way `docker` does: the first component is
/// a host if it contains `.` or `:`, is `localhost`, or has uppercase letters.
fn split_domain(name: &str) -> (Option<&str>, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.bytes().any(|b| b.is_ascii_uppercase()) =>
        {
            (Some(first), rest)
        }
        _ => (None, name),
    }
}

fn validate_domain(host: &str, input: &str) -> Result<(), ReferenceError> {
    let err = |why| ReferenceError::Domain {
        input: input.to_string(),
        host: host.to_string(),
        why,
    };
    let (hostname, port) = if let Some(rest) = host.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return Err(err("unterminated IPv6 literal"));
        };
        if v6.is_empty()
            || !v6
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return Err(err("malformed IPv6 literal"));
        }
        match after {
            "" => (None, None),
            p if p.starts_with(':') => (None, Some(&p[1..])),
            _ => return Err(err("unexpected characters after IPv6 literal")),
        }
    } else {
        match host.split_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(host), None),
        }
    };
    if let Some(h) = hostname {
        if h.is_empty() {
            return Err(err("host is empty"));
        }
        for label in h.split('.') {
            let ok = !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-');
            if !ok {
                return Err(err(
                    "host labels are letters, digits and inner dashes, separated by single dots",
                ));
            }
        }
    }
    if let Some(p) = port
        && (p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) || p.len() > 5)
    {
        return Err(err("port must be a number"));
    }
    Ok(())
}

fn validate_path(path: &str, input: &str) -> Result<(), ReferenceError> {
    let err = |why| ReferenceError::Repository {
        input: input.to_string(),
        repo: path.to_string(),
        why,
    };
    for component in path.split('/') {
        if component.is_empty() {
            return Err(err("empty path component (double or trailing `/`)"));
        }
        let bytes = component.as_bytes();
        let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        if !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
            return Err(err(
                "a path component must start and end with a letter or digit",
            ));
        }
        // Separators: one '.', one '_', exactly "__", or one or more '-'.
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if alnum(b) {
                i += 1;
                continue;
            }
            let start = i;
            while i < bytes.len() && !alnum(bytes[i]) {
                i += 1;
            }
            let sep = &component[start..i];
            let valid = matches!(sep, "." | "_" | "__") || sep.bytes().all(|c| c == b'-');
            if !valid {
                return Err(err("invalid separator in path component"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const D256: &str = "sha256:9ad9fa56a286e5cd686043f0d63836d24308be21312d09e0ea969a377885bad7";

    #[test]
    fn valid_references_normalize() {
        let d = D256;
        let cases: &[(&str, &str, &str, Option<&str>, bool)] = &[
            // input, registry, repository, tag, has digest
            ("nginx", "docker.io", "library/nginx", None, false),
            (
                "nginx:1.27",
                "docker.io",
                "library/nginx",
                Some("1.27"),
                false,
            ),
            ("docker.io/nginx", "docker.io", "library/nginx", None, false),
            (
                "index.docker.io/library/nginx:latest",
                "docker.io",
                "library/nginx",
                Some("latest"),
                false,
            ),
            ("team/app:v1", "docker.io", "team/app", Some("v1"), false),
            ("localhost/app", "localhost", "app", None, false),
            (
                "localhost:5000/team/app:v2",
                "localhost:5000",
                "team/app",
                Some("v2"),
                false,
            ),
            (
                "127.0.0.1:5001/team/app:v1",
                "127.0.0.1:5001",
                "team/app",
                Some("v1"),
                false,
            ),
            ("[::1]:5000/app:1", "[::1]:5000", "app", Some("1"), false),
            ("[fe80::1]/app", "[fe80::1]", "app", None, false),
            ("Example.COM/app", "Example.COM", "app", None, false),
            (
                "europe-docker.pkg.dev/p/r/app:1.2.3",
                "europe-docker.pkg.dev",
                "p/r/app",
                Some("1.2.3"),
                false,
            ),
            (
                "ghcr.io/org/a__b.c-d--e:_x",
                "ghcr.io",
                "org/a__b.c-d--e",
                Some("_x"),
                false,
            ),
            (
                &format!("ghcr.io/org/app:v1@{d}"),
                "ghcr.io",
                "org/app",
                Some("v1"),
                true,
            ),
            (
                &format!("ghcr.io/org/app@{d}"),
                "ghcr.io",
                "org/app",
                None,
                true,
            ),
        ];
        for (input, registry, repository, tag, has_digest) in cases {
            let r = Reference::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(r.name.registry, *registry, "{input}");
            assert_eq!(r.name.repository, *repository, "{input}");
            assert_eq!(r.tag.as_deref(), *tag, "{input}");
            assert_eq!(r.digest.is_some(), *has_digest, "{input}");
        }
    }

    #[test]
    fn invalid_references_name_the_part() {
        let long_tag = format!("app:{}", "a".repeat(129));
        let cases: &[(&str, &str)] = &[
            ("", "empty"),
            ("Nginx/App", "lowercase"),
            ("ghcr.io/Org/app", "lowercase"),
            ("app:", "tag is empty"),
            ("app:-x", "must start"),
            ("app:a+b", "outside"),
            (&long_tag, "longer than 128"),
            ("app@sha256:abc", "64 hex"),
            ("app@md5:0123", "unsupported digest algorithm"),
            ("app@sha256", "ALGORITHM:HEX"),
            ("app@sha512:abcd", "128 hex"),
            (
                "app@sha256:9AD9FA56A286E5CD686043F0D63836D24308BE21312D09E0EA969A377885BAD7",
                "lowercase hex",
            ),
            ("a//b", "empty path"),
            ("a/b/", "empty path"),
            ("-a", "start and end"),
            ("a..b", "separator"),
            ("a___b", "separator"),
            ("host:port/app", "port must be a number"),
            ("[::1/app", "IPv6"),
            ("bad_host.com/app", "host labels"),
        ];
        for (input, needle) in cases {
            let e = Reference::parse(input).expect_err(input).to_string();
            assert!(
                e.contains(needle),
                "{input:?}: {e:?} should mention {needle:?}"
            );
        }
    }

    #[test]
    fn display_round_trips_and_familiar_is_short() {
        let r = Reference::parse(&format!("nginx:1@{D256}")).unwrap();
        assert_eq!(r.to_string(), format!("docker.io/library/nginx:1@{D256}"));
        assert_eq!(Reference::parse(&r.to_string()).unwrap(), r);
        assert_eq!(r.name.familiar(), "nginx");
        assert_eq!(ImageName::parse("team/app").unwrap().familiar(), "team/app");
        assert_eq!(
            ImageName::parse("ghcr.io/o/a").unwrap().familiar(),
            "ghcr.io/o/a"
        );
    }

    #[test]
    fn manifest_reference_prefers_digest_and_defaults_to_latest() {
        assert_eq!(
            Reference::parse("a").unwrap().manifest_reference(),
            "latest"
        );
        assert_eq!(Reference::parse("a:v1").unwrap().manifest_reference(), "v1");
        assert_eq!(
            Reference::parse(&format!("a:v1@{D256}"))
                .unwrap()
                .manifest_reference(),
            D256
        );
    }
}
