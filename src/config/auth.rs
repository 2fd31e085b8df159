//! The auth section: Google Workload Identity Federation, and the gates
//! (`require-environment`, `allow-untrusted-events`) every run passes.

use std::time::Duration;

use super::parse::{is_registry_host, project_of_service_account, valid_project_id};
use super::{ConfigError, RawInputs};

/// What `token-format` asks us to expose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenFormat {
    None,
    AccessToken,
}

/// Google Workload Identity Federation settings; present only when
/// `workload-identity-provider` is set.
#[derive(Debug, Clone)]
pub struct GoogleAuth {
    pub workload_identity_provider: String,
    pub service_account: Option<String>,
    pub audience: Option<String>,
    pub lifetime: Duration,
    pub scopes: Vec<String>,
    /// `None`: the default, a file inside Actions (later steps need one),
    /// none elsewhere.
    pub create_credentials_file: Option<bool>,
    pub token_format: TokenFormat,
    /// The project later steps get: the `project-id` input, else the one in
    /// the service account's email.
    pub project_id: Option<String>,
    /// Registries (`host[:port]`) later steps' `docker` is logged in to
    /// with the access token.
    pub docker_registries: Vec<String>,
}

/// What the auth stage is asked to do.
#[derive(Debug, Clone)]
pub struct AuthOptions {
    pub google: Option<GoogleAuth>,
    pub require_environment: Option<String>,
    pub allow_untrusted_events: bool,
    /// The run pushes (or opens a pull request): the event gate guards it
    /// even without credentials. See [`super::WriteBackOptions::pushes`].
    pub pushes: bool,
}

const MAX_LIFETIME: Duration = Duration::from_secs(12 * 3600);

impl AuthOptions {
    pub(super) fn from_raw(raw: &RawInputs, pushes: bool) -> Result<Self, ConfigError> {
        let google = google(raw)?;
        if raw.optional("token-format").is_some() && google.is_none() {
            return Err(ConfigError::Conflict {
                a: "token-format",
                b: "workload-identity-provider",
                why: "an access token can only be exposed after Google authentication",
            });
        }
        if google.as_ref().is_some_and(|g| {
            g.token_format == TokenFormat::AccessToken && g.service_account.is_none()
        }) {
            return Err(ConfigError::Missing {
                input: "service-account",
                why: "`token-format: access_token` outputs a token generated for a service account, as google-github-actions/auth does; name the service account to impersonate, or leave token-format empty (the federated token is still used inside this step)",
            });
        }
        for dependent in [
            "service-account",
            "audience",
            "project-id",
            "docker-registries",
        ] {
            if raw.optional(dependent).is_some() && google.is_none() {
                return Err(ConfigError::Conflict {
                    a: dependent,
                    b: "workload-identity-provider",
                    why: "set workload-identity-provider to use Google authentication",
                });
            }
        }
        if google.is_none()
            && raw.optional("create-credentials-file").is_some()
            && raw.boolean("create-credentials-file")?
        {
            return Err(ConfigError::Conflict {
                a: "create-credentials-file",
                b: "workload-identity-provider",
                why: "a credentials file needs a workload identity provider",
            });
        }
        Ok(AuthOptions {
            google,
            require_environment: raw.optional("require-environment"),
            allow_untrusted_events: raw.boolean("allow-untrusted-events")?,
            pushes,
        })
    }

    /// True when this run would use credentials or push: an untrusted
    /// event must not reach either.
    pub(crate) fn uses_credentials_or_pushes(&self) -> bool {
        self.google.is_some() || self.require_environment.is_some() || self.pushes
    }

    /// `token-format: access_token`: the token becomes a step output.
    pub(crate) fn exposes_access_token(&self) -> bool {
        self.google
            .as_ref()
            .is_some_and(|g| g.token_format == TokenFormat::AccessToken)
    }
}

fn google(raw: &RawInputs) -> Result<Option<GoogleAuth>, ConfigError> {
    let Some(provider) = raw.optional("workload-identity-provider") else {
        return Ok(None);
    };
    let lifetime = raw.duration("access-token-lifetime")?;
    if lifetime.is_zero() || lifetime > MAX_LIFETIME {
        return Err(ConfigError::Invalid {
            input: "access-token-lifetime",
            value: raw.get("access-token-lifetime").to_string(),
            why: "must be between 1s and 12h (above 1h needs the constraints/iam.allowServiceAccountCredentialLifetimeExtension org policy)".into(),
        });
    }
    let token_format = match raw.get("token-format") {
        "" => TokenFormat::None,
        "access_token" => TokenFormat::AccessToken,
        other => {
            return Err(ConfigError::Invalid {
                input: "token-format",
                value: other.to_string(),
                why: "expected access_token (or leave it empty)".into(),
            });
        }
    };
    let create_credentials_file = match raw.optional("create-credentials-file") {
        None => None,
        Some(_) => Some(raw.boolean("create-credentials-file")?),
    };
    let service_account = raw.optional("service-account");
    let project_id = match raw.optional("project-id") {
        Some(p) => Some(valid_project_id(&p).ok_or_else(|| ConfigError::Invalid {
            input: "project-id",
            value: p.clone(),
            why: "expected a project ID: lowercase letters, digits and hyphens (e.g. my-project-123; legacy IDs may carry a domain, example.com:my-project)".into(),
        })?),
        None => service_account.as_deref().and_then(project_of_service_account),
    };
    let mut docker_registries = Vec::new();
    for host in raw.list("docker-registries") {
        if !is_registry_host(&host) {
            return Err(ConfigError::Invalid {
                input: "docker-registries",
                value: host,
                why: "expected a registry host[:port] such as europe-docker.pkg.dev, without scheme or path".into(),
            });
        }
        docker_registries.push(host);
    }
    Ok(Some(GoogleAuth {
        docker_registries,
        workload_identity_provider: provider,
        service_account,
        audience: raw.optional("audience"),
        lifetime,
        scopes: raw.list("access-token-scopes"),
        create_credentials_file,
        token_format,
        project_id,
    }))
}
