//! Semantic versions 2.0, as the newer-wins guard orders tags: an optional
//! `v` prefix, pre-release ordering per the spec, build metadata ignored.
//! Anything else (commit SHAs, `latest`, `1.2`) is not a version, and the
//! guard falls back to the runs that wrote the values.

use std::cmp::Ordering;

/// A semantic version 2.0 (`v` prefix allowed, build metadata kept out of
/// the ordering, as the spec says).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SemVer {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub pre: Vec<PreRelease>,
}

/// One dot-separated pre-release identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PreRelease {
    Numeric(u64),
    Alpha(String),
}

impl Ord for PreRelease {
    /// Numeric identifiers sort before alphanumeric ones (semver 2.0 §11.4.3).
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (PreRelease::Numeric(a), PreRelease::Numeric(b)) => a.cmp(b),
            (PreRelease::Numeric(_), PreRelease::Alpha(_)) => Ordering::Less,
            (PreRelease::Alpha(_), PreRelease::Numeric(_)) => Ordering::Greater,
            (PreRelease::Alpha(a), PreRelease::Alpha(b)) => a.cmp(b),
        }
    }
}

impl PartialOrd for PreRelease {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl SemVer {
    /// Parses a tag as a semantic version; `None` for anything else
    /// (commit SHAs, `latest`, `1.2`, leading zeros).
    pub(crate) fn parse(tag: &str) -> Option<SemVer> {
        let s = tag.strip_prefix('v').unwrap_or(tag);
        let s = s.split_once('+').map_or(s, |(core, build)| {
            // Build metadata is validated, then ignored for ordering.
            if build.is_empty() || build.split('.').any(|i| !is_identifier(i)) {
                ""
            } else {
                core
            }
        });
        let (core, pre) = match s.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (s, None),
        };
        let mut parts = core.split('.');
        let major = numeric(parts.next()?)?;
        let minor = numeric(parts.next()?)?;
        let patch = numeric(parts.next()?)?;
        if parts.next().is_some() {
            return None;
        }
        let pre = match pre {
            None => Vec::new(),
            Some(p) => p
                .split('.')
                .map(|id| {
                    if !is_identifier(id) {
                        None
                    } else if id.bytes().all(|b| b.is_ascii_digit()) {
                        numeric(id).map(PreRelease::Numeric)
                    } else {
                        Some(PreRelease::Alpha(id.to_string()))
                    }
                })
                .collect::<Option<Vec<_>>>()?,
        };
        Some(SemVer {
            major,
            minor,
            patch,
            pre,
        })
    }
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// A numeric identifier: digits, no leading zero (semver 2.0 §2).
fn numeric(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

impl Ord for SemVer {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                // A release is newer than its pre-releases (§11.3).
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => self.pre.cmp(&other.pre),
            })
    }
}

impl PartialOrd for SemVer {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Orders two tags when both are semantic versions.
pub(crate) fn compare_semver_tags(old: &str, new: &str) -> Option<Ordering> {
    Some(SemVer::parse(new)?.cmp(&SemVer::parse(old)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semver_ordering_follows_the_spec() {
        use Ordering::*;
        // (old, new, new compared to old)
        let cases = [
            ("1.2.3", "1.2.4", Some(Greater)),
            ("v1.2.3", "1.2.3", Some(Equal)),
            ("v2.0.0", "v1.9.9", Some(Less)),
            ("1.10.0", "1.9.0", Some(Less)),
            ("1.0.0-alpha", "1.0.0", Some(Greater)),
            ("1.0.0", "1.0.0-rc.1", Some(Less)),
            // The chain from semver 2.0 §11.4.4, pairwise.
            ("1.0.0-alpha", "1.0.0-alpha.1", Some(Greater)),
            ("1.0.0-alpha.1", "1.0.0-alpha.beta", Some(Greater)),
            ("1.0.0-alpha.beta", "1.0.0-beta", Some(Greater)),
            ("1.0.0-beta", "1.0.0-beta.2", Some(Greater)),
            ("1.0.0-beta.2", "1.0.0-beta.11", Some(Greater)),
            ("1.0.0-beta.11", "1.0.0-rc.1", Some(Greater)),
            ("1.0.0+build.1", "1.0.0+build.2", Some(Equal)),
            // Not semantic versions.
            ("1.2", "1.3", None),
            ("01.2.3", "1.2.4", None),
            ("1.2.3", "3f2a9c1", None),
            ("latest", "1.0.0", None),
            ("1.0.0-", "1.0.0", None),
            ("1.0.0-a..b", "1.0.0", None),
            ("1.0.0+", "1.0.0", None),
            ("1.0.0-01", "1.0.0", None),
        ];
        for (old, new, want) in cases {
            assert_eq!(compare_semver_tags(old, new), want, "{old} -> {new}");
        }
    }
}
