//! Manifest media types and the platforms an image offers.

pub(crate) const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub(crate) const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub(crate) const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub(crate) const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// Sent on every manifest request: registry 2.8 answers 404 for a stored
/// type the Accept list does not cover, which would look like a missing tag.
pub(crate) const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.docker.distribution.manifest.v2+json";

/// Whether `media_type` lists per-platform manifests.
pub(crate) fn is_index(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_LIST
}

/// Whether `media_type` is one of the four manifest types we accept.
pub(crate) fn is_known(media_type: &str) -> bool {
    [OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST].contains(&media_type)
}

/// `Content-Type` without parameters (`; charset=utf-8`).
pub(crate) fn bare_media_type(content_type: &str) -> &str {
    content_type.split(';').next().unwrap_or("").trim()
}

#[derive(serde::Deserialize)]
struct Index {
    #[serde(default, rename = "mediaType")]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Vec<IndexEntry>,
}

#[derive(serde::Deserialize)]
struct IndexEntry {
    #[serde(default)]
    platform: Option<Platform>,
}

/// The `platform` object of an index entry, or an image config's fields.
#[derive(serde::Deserialize)]
struct Platform {
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    variant: Option<String>,
}

impl Platform {
    fn render(&self) -> String {
        match self.variant.as_deref().filter(|v| !v.is_empty()) {
            Some(v) => format!("{}/{}/{v}", self.os, self.architecture),
            None => format!("{}/{}", self.os, self.architecture),
        }
    }
}

/// The `mediaType` a manifest body declares, if any (the fallback when a
/// registry sends a generic Content-Type).
pub(crate) fn declared_media_type(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<Index>(body).ok()?.media_type
}

/// `os/arch[/variant]` of each entry of an index body, skipping the
/// `unknown/unknown` entries build attestations are stored under.
pub(crate) fn index_platforms(body: &[u8]) -> Result<Vec<String>, String> {
    let index: Index =
        serde_json::from_slice(body).map_err(|e| format!("index is not valid JSON: {e}"))?;
    Ok(index
        .manifests
        .iter()
        .filter_map(|m| m.platform.as_ref())
        .filter(|p| p.os != "unknown" && !p.os.is_empty())
        .map(Platform::render)
        .collect())
}

/// The platform an image config blob describes.
pub(crate) fn config_platform(body: &[u8]) -> Result<String, String> {
    let p: Platform =
        serde_json::from_slice(body).map_err(|e| format!("image config is not valid JSON: {e}"))?;
    Ok(p.render())
}

/// The config blob digest of a single-platform manifest, validated: it
/// goes into a URL, and the server chose it (`../../admin?` must never
/// become a request path).
pub(crate) fn config_digest(body: &[u8]) -> Result<crate::reference::Digest, String> {
    #[derive(serde::Deserialize)]
    struct Manifest {
        config: Descriptor,
    }
    #[derive(serde::Deserialize)]
    struct Descriptor {
        digest: String,
    }
    let digest = serde_json::from_slice::<Manifest>(body)
        .map(|m| m.config.digest)
        .map_err(|e| format!("manifest has no config descriptor: {e}"))?;
    crate::reference::Digest::parse(&digest).map_err(|e| {
        format!(
            "the manifest's config digest {:?} is not a digest ({e}); refused to request it",
            digest.escape_debug().to_string()
        )
    })
}

/// Whether `available` satisfies `wanted`. A wanted platform without a
/// variant accepts any variant; `arm64` and `arm64/v8` are the same thing.
pub(crate) fn platform_matches(wanted: &str, available: &str) -> bool {
    let norm = |p: &str| -> Vec<String> {
        let mut parts: Vec<String> = p.split('/').map(str::to_ascii_lowercase).collect();
        if parts.len() == 3 && parts[1] == "arm64" && parts[2] == "v8" {
            parts.pop();
        }
        parts
    };
    let (w, a) = (norm(wanted), norm(available));
    if w.len() == 2 {
        a.len() >= 2 && w[..] == a[..2]
    } else {
        w == a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_of_an_index_skip_attestations() {
        let body = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
            {"digest":"sha256:a","platform":{"os":"linux","architecture":"amd64"}},
            {"digest":"sha256:b","platform":{"os":"linux","architecture":"arm","variant":"v7"}},
            {"digest":"sha256:c","platform":{"os":"unknown","architecture":"unknown"}},
            {"digest":"sha256:d"}]}"#;
        assert_eq!(
            index_platforms(body).unwrap(),
            ["linux/amd64", "linux/arm/v7"]
        );
        assert_eq!(declared_media_type(body).as_deref(), Some(OCI_INDEX));
        assert!(index_platforms(b"nope").is_err());
    }

    #[test]
    fn config_digests_from_a_server_are_validated_before_use() {
        let manifest = |d: &str| format!(r#"{{"config":{{"digest":"{d}"}}}}"#);
        let good = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            config_digest(manifest(&good).as_bytes()).unwrap().as_str(),
            good
        );
        for bad in [
            "../../../../admin/x?",
            "sha256:../../admin",
            "sha256:AAAA",
            "",
            &format!("sha256:{}/../x", "a".repeat(60)),
        ] {
            assert!(config_digest(manifest(bad).as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn accept_covers_every_known_type() {
        for t in [OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST] {
            assert!(ACCEPT.split(", ").any(|a| a == t), "{t}");
            assert!(is_known(t));
        }
        assert!(!is_known("application/json"));
    }

    #[test]
    fn platform_matching() {
        let cases = [
            ("linux/amd64", "linux/amd64", true),
            ("linux/arm64", "linux/arm64/v8", true),
            ("linux/arm64/v8", "linux/arm64", true),
            ("linux/arm", "linux/arm/v7", true),
            ("linux/arm/v6", "linux/arm/v7", false),
            ("linux/arm64", "linux/amd64", false),
            ("windows/amd64", "linux/amd64", false),
        ];
        for (wanted, available, want) in cases {
            assert_eq!(
                platform_matches(wanted, available),
                want,
                "{wanted} vs {available}"
            );
        }
    }
}
