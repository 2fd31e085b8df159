//! What every HTTP client of ours shares with a hostile server: a cap on
//! the body we read, and a redirect policy that never downgrades to HTTP.
//!
//! A registry, token service or API answer is read in chunks and refused
//! the moment it passes its cap, so a server sending a gigabyte costs us at
//! most the cap in memory, never the gigabyte (`.bytes()` would buffer it
//! all). The caps are documented in the README ("Security").

use std::fmt;

/// Registry manifests, config blobs, token and error bodies. The
/// distribution spec lets registries refuse manifests above 4 MiB; a config
/// blob or a token is far smaller.
pub const MAX_REGISTRY_BODY: usize = 4 * 1024 * 1024;
/// GitHub OIDC, Google STS and IAM answers: a few KiB in practice.
pub const MAX_AUTH_BODY: usize = 1024 * 1024;
/// GitHub REST and GraphQL answers, including a base64 blob of a manifest
/// at the 10 MiB file limit.
pub const MAX_API_BODY: usize = 32 * 1024 * 1024;

/// Redirects followed at most; reqwest's default is also 10.
const MAX_REDIRECTS: usize = 10;

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// The server sent more than `limit` bytes.
    TooLarge {
        limit: usize,
    },
    Transport(reqwest::Error),
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::TooLarge { limit } => write!(
                f,
                "the response body is larger than {} (the limit for this kind of answer); refused",
                human_size(*limit)
            ),
            BodyError::Transport(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for BodyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BodyError::TooLarge { .. } => None,
            BodyError::Transport(e) => Some(e),
        }
    }
}

/// `4 MiB`, `1 MiB`: how the limits read in messages and docs.
pub fn human_size(bytes: usize) -> String {
    if bytes >= 1024 * 1024 && bytes.is_multiple_of(1024 * 1024) {
        format!("{} MiB", bytes / (1024 * 1024))
    } else if bytes >= 1024 && bytes.is_multiple_of(1024) {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

/// Reads `response`'s body, refusing it once it passes `limit` bytes.
/// A `Content-Length` above the limit is refused before reading anything.
pub async fn read_body(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge { limit });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Follows redirects (registries send blob downloads to storage hosts) but
/// never from HTTPS to plain HTTP, where the answer, and any header a
/// client re-sends, would travel in clear. reqwest already drops
/// `Authorization` when a redirect leaves the host.
pub fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let downgrade = attempt.url().scheme() != "https"
            && attempt.previous().iter().any(|u| u.scheme() == "https");
        if downgrade {
            let to = attempt.url().clone();
            attempt.error(DowngradeRefused { to })
        } else if attempt.previous().len() >= MAX_REDIRECTS {
            attempt.error(TooManyRedirects)
        } else {
            attempt.follow()
        }
    })
}

/// Whether `e` is a redirect [`redirect_policy`] refused as a downgrade.
pub fn is_downgrade(e: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if s.is::<DowngradeRefused>() {
            return true;
        }
        source = s.source();
    }
    false
}

/// An HTTPS request redirected to a plain-HTTP URL.
#[derive(Debug)]
pub struct DowngradeRefused {
    to: reqwest::Url,
}

impl fmt::Display for DowngradeRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut to = self.to.clone();
        to.set_query(None);
        let _ = to.set_username("");
        let _ = to.set_password(None);
        write!(
            f,
            "refused a redirect from HTTPS to plain HTTP ({to}): the answer would travel unencrypted"
        )
    }
}

impl std::error::Error for DowngradeRefused {}

#[derive(Debug)]
struct TooManyRedirects;

impl fmt::Display for TooManyRedirects {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "more than {MAX_REDIRECTS} redirects")
    }
}

impl std::error::Error for TooManyRedirects {}

#[cfg(test)]
mod tests {
    use super::human_size;

    #[test]
    fn sizes_read_as_people_write_them() {
        let cases = [
            (4 * 1024 * 1024, "4 MiB"),
            (1024, "1 KiB"),
            (1536, "1536 bytes"),
            (10, "10 bytes"),
        ];
        for (bytes, want) in cases {
            assert_eq!(human_size(bytes), want);
        }
    }
}
