//! The verify section: how images are looked up in their registries, and
//! with which credentials. [`VerifyOptions::registry_options`] builds the
//! registry client's own options, for `run`, `promote` and `resolve` alike.

use std::time::Duration;

use super::{ConfigError, RawInputs};
use crate::reference::Digest;
use crate::registry::{Credentials, ExplicitLogin, RegistryOptions};
use crate::secret::Secret;

/// How long one registry request may take.
pub const REGISTRY_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What the verify stage is asked to do.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    pub verify: bool,
    pub wait: Duration,
    pub platforms: Vec<String>,
    pub expected_digest: Option<Digest>,
    pub insecure_registries: Vec<String>,
    pub registry_username: Option<String>,
    pub registry_password: Option<Secret>,
    /// The one registry (host[:port]) `registry-username`/`registry-password`
    /// are sent to: the `registry` input, else the single registry `images`
    /// names. `None` when no explicit credentials were given.
    pub credentials_registry: Option<String>,
    /// The `token` input, used for ghcr.io.
    pub github_token: Option<Secret>,
    /// The images are promoted: a tag next to the promoted digest is
    /// looked up too, and must name the same build.
    pub promoting: bool,
    /// A promoted tag that names another build in the registry is dropped
    /// (digest alone) instead of failing the run.
    pub promote_digest_only: bool,
}

impl VerifyOptions {
    /// `named`: the registries the images name; `promoting`: the images
    /// come from the repository instead (see [`credentials_registry`]).
    pub fn from_raw(
        raw: &RawInputs,
        named: impl Iterator<Item = String>,
        promoting: bool,
    ) -> Result<Self, ConfigError> {
        let expected_digest = match raw.optional("expected-digest") {
            None => None,
            Some(d) => Some(Digest::parse(&d).map_err(|e| ConfigError::Invalid {
                input: "expected-digest",
                value: d.clone(),
                why: e.to_string(),
            })?),
        };
        let platforms = raw.list("platforms");
        for p in &platforms {
            let parts: Vec<&str> = p.split('/').collect();
            if !(2..=3).contains(&parts.len()) || parts.iter().any(|s| s.is_empty()) {
                return Err(ConfigError::Invalid {
                    input: "platforms",
                    value: p.clone(),
                    why: "expected OS/ARCH or OS/ARCH/VARIANT, like linux/amd64 or linux/arm/v7"
                        .into(),
                });
            }
        }
        let registry_username = raw.optional("registry-username");
        let registry_password = raw.secret("registry-password");
        if registry_password.is_some() != registry_username.is_some() {
            return Err(ConfigError::Conflict {
                a: "registry-username",
                b: "registry-password",
                why: "give both or neither",
            });
        }
        let credentials_registry =
            credentials_registry(raw, named, promoting, registry_username.is_some())?;
        Ok(VerifyOptions {
            verify: raw.boolean("verify")?,
            wait: raw.duration("wait")?,
            platforms,
            expected_digest,
            insecure_registries: raw.list("insecure-registries"),
            registry_username,
            registry_password,
            credentials_registry,
            github_token: raw.secret("token"),
            promoting,
            promote_digest_only: raw.boolean("promote-digest-only")?,
        })
    }

    /// `registry-username`/`registry-password`, bound to their registry.
    pub(crate) fn explicit_login(&self) -> Option<ExplicitLogin> {
        let (username, password) = self
            .registry_username
            .clone()
            .zip(self.registry_password.clone())?;
        Some(ExplicitLogin {
            registry: self.credentials_registry.clone()?,
            username,
            password,
        })
    }

    /// The registry client's options; `google_access_token` comes from the
    /// auth stage, when it ran.
    pub fn registry_options(&self, google_access_token: Option<Secret>) -> RegistryOptions {
        RegistryOptions {
            credentials: Credentials {
                explicit: self.explicit_login(),
                github_token: self.github_token.clone(),
                google_access_token,
                docker_config: true,
            },
            insecure_registries: self.insecure_registries.clone(),
            wait: self.wait,
            request_timeout: REGISTRY_REQUEST_TIMEOUT,
        }
    }
}

/// Binds explicit registry credentials to one registry. Never to one the
/// repository names (a `promote-from` overlay's `newName` is content
/// anyone with write access to a dev overlay controls), and never to
/// several: each registry would see the password.
pub fn credentials_registry(
    raw: &RawInputs,
    named: impl Iterator<Item = String>,
    promoting: bool,
    has_credentials: bool,
) -> Result<Option<String>, ConfigError> {
    if let Some(registry) = raw.optional("registry") {
        let host =
            crate::registry::registry_host(&registry).map_err(|why| ConfigError::Invalid {
                input: "registry",
                value: registry.clone(),
                why,
            })?;
        if !has_credentials {
            return Err(ConfigError::Conflict {
                a: "registry",
                b: "registry-username",
                why: "`registry` names where registry-username/registry-password go; give them too",
            });
        }
        return Ok(Some(host));
    }
    if !has_credentials {
        return Ok(None);
    }
    if promoting {
        return Err(ConfigError::Missing {
            input: "registry",
            why: "with promote-from the registries come from the repository's manifests; name the registry registry-username/registry-password are for (host[:port])",
        });
    }
    let mut registries: Vec<String> = Vec::new();
    for registry in named {
        if !registries.contains(&registry) {
            registries.push(registry);
        }
    }
    match registries.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one.clone())),
        _ => Err(ConfigError::Missing {
            input: "registry",
            why: "`images` name more than one registry; name the one registry-username/registry-password are for (host[:port]); the others are accessed with their own credentials or anonymously",
        }),
    }
}
