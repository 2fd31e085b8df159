//! Keyless authentication: GitHub OIDC → Google STS → IAM impersonation, and
//! the gates that refuse untrusted events or the wrong environment.
//!
//! Three small HTTP calls, written out here rather than taken from a Google
//! auth crate: the crates that support `external_account` either pull in a
//! large dependency tree or log token bodies at debug level.
//!
//! Every endpoint can be redirected for tests: the OIDC URL comes from the
//! runner (`ACTIONS_ID_TOKEN_REQUEST_URL`), STS from `GITOPS_BUMP_STS_URL`,
//! IAM Credentials from `GITOPS_BUMP_IAM_CREDENTIALS_URL`.

pub(crate) mod credentials_file;
pub(crate) mod docker_config;
pub(crate) mod gate;
pub(crate) mod impersonate;
pub(crate) mod oidc;
pub(crate) mod provider;
pub(crate) mod sts;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::actions::{self, Annotation, EnvFile, Level};
use crate::config::{AuthOptions, GoogleAuth};
use crate::secret::Secret;

pub use gate::{GateEnv, GateReport, check_gates, issuers as gate_issuers};
pub use oidc::{Claims, IdToken, OidcRequest, fetch_id_token};
pub(crate) use provider::WorkloadIdentityProvider;
pub(crate) use sts::StsFailure;

pub(crate) const DEFAULT_STS_URL: &str = "https://sts.googleapis.com/v1/token";
pub(crate) const DEFAULT_IAM_CREDENTIALS_URL: &str = "https://iamcredentials.googleapis.com/v1";
/// The scope of the federated token STS issues.
pub(crate) const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// The OIDC audience used for the gates when there is no Google provider.
pub(crate) const GATE_AUDIENCE: &str = "gitops-bump";
/// Above this, `generateAccessToken` needs an org policy exception.
const DEFAULT_MAX_LIFETIME: Duration = Duration::from_secs(3600);

/// A Google access token with what we know about it.
#[derive(Debug, Clone)]
pub struct GoogleToken {
    pub access_token: Secret,
    /// RFC 3339 expiry, as Google reports it.
    pub expire_time: Option<String>,
}

/// Where the Google APIs are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// The full STS token URL.
    pub sts_url: String,
    /// The IAM Credentials base, up to and including `/v1`.
    pub iam_credentials_url: String,
}

impl Endpoints {
    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |k: &str, default: &str| {
            lookup(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.to_string())
        };
        Endpoints {
            sts_url: get("GITOPS_BUMP_STS_URL", DEFAULT_STS_URL),
            iam_credentials_url: get(
                "GITOPS_BUMP_IAM_CREDENTIALS_URL",
                DEFAULT_IAM_CREDENTIALS_URL,
            )
            .trim_end_matches('/')
            .to_string(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no GitHub OIDC token is available: {missing} not set")]
    OidcUnavailable { missing: String },
    #[error("ACTIONS_ID_TOKEN_REQUEST_URL {url:?} is not a URL: {why}")]
    OidcUrl { url: String, why: String },
    #[error("the GitHub OIDC token request failed with HTTP {status}: {body}")]
    OidcRejected { status: u16, body: String },
    #[error("the GitHub OIDC token is malformed: {why}")]
    OidcMalformed { why: String },
    #[error("input `workload-identity-provider` {value:?} is invalid: {why}")]
    InvalidProvider { value: String, why: String },
    #[error("{what} failed: {source}")]
    Http {
        what: &'static str,
        #[source]
        source: reqwest::Error,
    },
    #[error("{what} is malformed: {why}")]
    Malformed { what: &'static str, why: String },
    #[error(
        "Google STS refused to exchange the GitHub OIDC token for provider {provider} \
         (HTTP {status}, {code}): {description}"
    )]
    Sts {
        status: u16,
        failure: StsFailure,
        code: String,
        description: String,
        provider: Box<WorkloadIdentityProvider>,
        oidc_audience: String,
        claims: Box<Claims>,
    },
    #[error(
        "impersonating service account {service_account} failed (HTTP {status}{status_text}): {message}"
    )]
    Impersonation {
        status: u16,
        status_text: String,
        message: String,
        service_account: String,
        provider: Box<WorkloadIdentityProvider>,
        claims: Box<Claims>,
        lifetime: Duration,
    },
    #[error("RUNNER_TEMP is not set, so there is nowhere safe to write the credentials file")]
    RunnerTempMissing,
    #[error(
        "refusing to write the credentials file: RUNNER_TEMP ({}) is inside the workspace ({})",
        runner_temp.display(),
        workspace.display()
    )]
    CredentialsFileInWorkspace {
        runner_temp: PathBuf,
        workspace: PathBuf,
    },
    #[error("writing {}: {source}", path.display())]
    CredentialsFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`require-environment: {required}` needs the job's OIDC token, but none was fetched")]
    EnvironmentUnproven { required: String },
    #[error("the job's OIDC token cannot be trusted (claim `{claim}`): {why}")]
    UntrustedToken { claim: &'static str, why: String },
    #[error("refusing to use credentials or push on an untrusted event: {why}")]
    UntrustedEvent { event: String, why: String },
    #[error(
        "`require-environment: {required}`: this job's OIDC token has environment {} (ref {}, event {})",
        actual.as_deref().map_or("(none)".to_string(), |e| format!("`{e}`")),
        git_ref.as_deref().unwrap_or("(none)"),
        event_name.as_deref().unwrap_or("(none)")
    )]
    EnvironmentMismatch {
        required: String,
        actual: Option<String>,
        git_ref: Option<String>,
        event_name: Option<String>,
    },
}

impl AuthError {
    pub(crate) fn hint(&self) -> Option<String> {
        match self {
            AuthError::OidcUnavailable { .. } | AuthError::EnvironmentUnproven { .. } => Some(
                "give the job `permissions: id-token: write` (GitHub only issues OIDC tokens to \
                 jobs that ask). Setting `permissions` drops every permission not listed, so \
                 list `contents: write` too, or the push fails. Pull requests from forks never \
                 get an OIDC token."
                    .into(),
            ),
            AuthError::OidcUrl { .. } | AuthError::OidcMalformed { .. } => Some(
                "this variable is set by the runner; do not set ACTIONS_ID_TOKEN_REQUEST_* yourself"
                    .into(),
            ),
            AuthError::OidcRejected { status, .. } => Some(if *status == 401 || *status == 403 {
                "the runner's request token was refused; it is valid only inside the job that \
                 received it. Re-run the job."
                    .into()
            } else {
                "GitHub's token service failed; re-run the job".into()
            }),
            AuthError::InvalidProvider { .. } => Some(
                "copy the provider's full resource name: `gcloud iam workload-identity-pools \
                 providers describe PROVIDER --workload-identity-pool=POOL --location=global \
                 --format='value(name)'`"
                    .into(),
            ),
            AuthError::Http { .. } => Some(
                "a network error; check that the runner can reach the endpoint (proxy, firewall) \
                 and re-run"
                    .into(),
            ),
            AuthError::Malformed { .. } => None,
            AuthError::Sts {
                failure,
                provider,
                oidc_audience,
                claims,
                ..
            } => sts_hint(*failure, provider, oidc_audience, claims),
            AuthError::Impersonation {
                status,
                status_text,
                message,
                service_account,
                provider,
                claims,
                lifetime,
            } => Some(impersonation_hint(
                *status,
                status_text,
                message,
                service_account,
                provider,
                claims,
                *lifetime,
            )),
            AuthError::RunnerTempMissing => Some(
                "run inside GitHub Actions, or set RUNNER_TEMP to a private directory outside \
                 the repository"
                    .into(),
            ),
            AuthError::CredentialsFileInWorkspace { .. } => Some(
                "the file holds the runner's OIDC request token; in the workspace it could be \
                 committed or uploaded. Point RUNNER_TEMP outside GITHUB_WORKSPACE (self-hosted \
                 runner layout) or set `create-credentials-file: false`."
                    .into(),
            ),
            AuthError::CredentialsFile { .. } => {
                Some("check that RUNNER_TEMP exists and is writable".into())
            }
            AuthError::UntrustedEvent { .. } => Some(
                "code from a pull request must never run with deploy credentials (a \"pwn \
                 request\"). Split the workflow: ci.yml builds and tests on `pull_request` with \
                 no secrets; deploy.yml runs only on `push` to the default branch (or \
                 `workflow_dispatch`, or a published release), builds and pushes the image \
                 itself and bumps the manifests. Do not start deploy.yml with `workflow_run`: \
                 a fork's pull request triggers it too, and its `branches:` filter matches the \
                 fork's branch name. If you have reviewed the risk, set \
                 `allow-untrusted-events: true`."
                    .into(),
            ),
            AuthError::UntrustedToken { claim, .. } => Some(format!(
                "`require-environment` believes the `environment` claim only from a token this \
                 job's runner issued for this repository; `{claim}` says otherwise. Check \
                 ACTIONS_ID_TOKEN_REQUEST_URL is the runner's, and on GitHub Enterprise set \
                 GITOPS_BUMP_OIDC_ISSUER to your issuer"
            )),
            AuthError::EnvironmentMismatch { required, .. } => Some(format!(
                "add `environment: {required}` to the job (jobs.<id>.environment) so it runs \
                 under that environment's protection rules; the claim comes from GitHub and \
                 cannot be set by the workflow in any other way"
            )),
        }
    }
}

fn sts_hint(
    failure: StsFailure,
    provider: &WorkloadIdentityProvider,
    oidc_audience: &str,
    claims: &Claims,
) -> Option<String> {
    let describe = format!(
        "gcloud iam workload-identity-pools providers describe {} --workload-identity-pool={} \
         --location=global --project={}",
        provider.provider, provider.pool, provider.project_number
    );
    Some(match failure {
        StsFailure::AudienceMismatch => format!(
            "the OIDC token was requested for audience `{oidc_audience}`, which the provider \
             does not allow. Leave the `audience` input empty to use the default \
             `{}`, or add `{oidc_audience}` to the provider's allowed audiences \
             (`gcloud iam workload-identity-pools providers update-oidc {} \
             --workload-identity-pool={} --location=global --allowed-audiences=…`)",
            provider.default_oidc_audience(),
            provider.provider,
            provider.pool
        ),
        StsFailure::ProviderNotFound => format!(
            "pool `{}` or provider `{}` does not exist in project {}, or is disabled or \
             deleted. Check with `{describe}`. New or changed pools take up to 5 minutes to \
             work.",
            provider.pool, provider.provider, provider.project_number
        ),
        StsFailure::InvalidAudienceValue => format!(
            "STS expects the audience `{}`; check the `workload-identity-provider` input",
            provider.sts_audience()
        ),
        StsFailure::AttributeCondition => format!(
            "the provider's attribute condition rejected this token, whose claims are: {}. \
             Compare them with the condition (`{describe} --format='value(attributeCondition)'`); \
             claims are case-sensitive, and a renamed repository or a job without \
             `environment:` changes them.",
            claims.summary()
        ),
        StsFailure::AttributeTooLong => {
            let sub = claims.sub.clone().unwrap_or_default();
            format!(
                "Google limits each mapped attribute to 127 bytes; the token's `sub` is {} \
                 bytes (`{sub}`). Map `google.subject` to a shorter claim (for example \
                 `assertion.repository_id + ':' + assertion.ref`) or customize the `sub` claim \
                 template of the repository.",
                sub.len()
            )
        }
        StsFailure::StaleToken => "the token was refused as stale even after fetching a fresh \
             one; check the runner's clock (NTP) and re-run"
            .to_string(),
        StsFailure::IssuerMismatch => "the provider's issuer URI must be \
             `https://token.actions.githubusercontent.com` (or your enterprise's unique token \
             URL on GitHub Enterprise Cloud)"
            .to_string(),
        StsFailure::Other => return None,
    })
}

fn impersonation_hint(
    status: u16,
    status_text: &str,
    message: &str,
    service_account: &str,
    provider: &WorkloadIdentityProvider,
    claims: &Claims,
    lifetime: Duration,
) -> String {
    let repository = claims.repository.as_deref().unwrap_or("OWNER/REPO");
    let principal_set = provider.repository_principal_set(repository);
    if status == 403 || status_text.contains("PERMISSION_DENIED") {
        format!(
            "the federated identity may not impersonate {service_account}. This job's token \
             presented sub={} and repository={}; a binding matches it only if its member is \
             that subject (`principal://…/subject/<sub>`) or a set containing it, such as \
             `{principal_set}`. Grant it `roles/iam.workloadIdentityUser` with `gcloud iam \
             service-accounts add-iam-policy-binding {service_account} \
             --role=roles/iam.workloadIdentityUser --member='{principal_set}'` (the provider \
             must map `attribute.repository = assertion.repository`). Also check that the \
             service account exists and that the IAM Credentials API is enabled; IAM changes \
             take a few minutes to apply.",
            crate::print::value(claims.sub.as_deref().unwrap_or("(none)")),
            crate::print::value(claims.repository.as_deref().unwrap_or("(none)")),
        )
    } else if status == 404 || status_text.contains("NOT_FOUND") {
        format!(
            "service account {service_account} does not exist; check the `service-account` input"
        )
    } else if status == 400
        && lifetime <= DEFAULT_MAX_LIFETIME
        && message.contains("lifetime cannot exceed")
    {
        // google-github-actions/auth's troubleshooting guide: at or below
        // 1h this answer means the runner's clock is ahead of Google's.
        format!(
            "a lifetime of {}s is within the 1h limit, so this is clock skew between the runner \
             and Google: sync the runner's clock (NTP, e.g. time.google.com), or set {} to \
             allow 5 minutes of skew",
            lifetime.as_secs(),
            crate::config::setting("access-token-lifetime", "3300s")
        )
    } else if status == 400 && lifetime > DEFAULT_MAX_LIFETIME {
        format!(
            "a lifetime of {}s needs the org policy constraint \
             `constraints/iam.allowServiceAccountCredentialLifetimeExtension` to list \
             {service_account}; or lower `access-token-lifetime` to 3600s",
            lifetime.as_secs()
        )
    } else {
        "check the `service-account`, `access-token-scopes` and `access-token-lifetime` inputs"
            .into()
    }
}

/// The process's HTTP client for the three calls, with a timeout on each
/// and a bounded retry on transport errors and 5xx/429 answers.
#[derive(Debug, Clone)]
pub struct Http {
    pub client: reqwest::Client,
    pub attempts: u32,
    pub retry_delay: Duration,
    /// Bounds each request, connecting included.
    pub timeout: Duration,
}

/// A received answer: status and body text.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: u16,
    pub body: String,
}

impl Http {
    pub(crate) fn new(timeout: Duration) -> Result<Self, AuthError> {
        let client = crate::http::client().map_err(|source| AuthError::Http {
            what: "building the HTTP client",
            source,
        })?;
        Ok(Http {
            client,
            attempts: 3,
            retry_delay: Duration::from_millis(300),
            timeout,
        })
    }

    /// Sends the request `build` makes, retrying up to `attempts` times.
    pub(crate) async fn send(
        &self,
        what: &'static str,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<Answer, AuthError> {
        let mut attempt = 1;
        loop {
            let outcome = match crate::http::send(build().timeout(self.timeout)).await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    match crate::http::read_body(response, crate::http::MAX_AUTH_BODY).await {
                        Ok(body) => Ok(Answer {
                            status,
                            body: String::from_utf8_lossy(&body).into_owned(),
                        }),
                        Err(crate::http::BodyError::Transport(source)) => {
                            Err(AuthError::Http { what, source })
                        }
                        // Not retried: a server this wrong will not improve.
                        Err(e @ crate::http::BodyError::TooLarge { .. }) => {
                            return Err(AuthError::Malformed {
                                what,
                                why: e.to_string(),
                            });
                        }
                    }
                }
                Err(source) => Err(AuthError::Http {
                    what,
                    source: source.without_url(),
                }),
            };
            let retryable = match &outcome {
                Ok(a) => a.status >= 500 || a.status == 429,
                Err(_) => true,
            };
            if !retryable || attempt >= self.attempts {
                return outcome;
            }
            tracing::debug!("{what}: attempt {attempt} failed, retrying");
            tokio::time::sleep(self.retry_delay * attempt).await;
            attempt += 1;
        }
    }
}

/// Parses a successful JSON answer.
pub(crate) fn decode_answer<T: serde::de::DeserializeOwned>(
    body: &str,
    what: &'static str,
) -> Result<T, AuthError> {
    serde_json::from_str(body).map_err(|e| AuthError::Malformed {
        what,
        why: e.to_string(),
    })
}

/// Takes the token out of an answer's `field`, masked at once.
pub(crate) fn required_token(
    value: Option<String>,
    what: &'static str,
    field: &str,
) -> Result<Secret, AuthError> {
    value
        .filter(|t| !t.is_empty())
        .map(Secret::new)
        .ok_or_else(|| AuthError::Malformed {
            what,
            why: format!("no `{field}` field"),
        })
}

/// Cuts a server's body for an error message.
pub(crate) fn truncate(body: &str) -> String {
    let body = body.trim();
    match body.char_indices().nth(500) {
        Some((i, _)) => format!("{}…", &body[..i]),
        None if body.is_empty() => "(empty body)".into(),
        None => body.to_string(),
    }
}

/// Formats seconds since the epoch as RFC 3339 UTC (`2026-01-02T03:04:05Z`).
pub(crate) fn rfc3339_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Prints a notice: an annotation in Actions, a line on stderr elsewhere.
fn notice(message: &str) {
    if actions::in_actions() {
        actions::annotate(&Annotation::new(Level::Notice, message).titled("gitops-bump"));
    } else {
        crate::print::line(crate::print::Stream::Stderr, &format!("notice: {message}"));
    }
}

/// The OIDC audience for a config: the `audience` input, else the default
/// for the provider, else (gates only) [`GATE_AUDIENCE`].
pub(crate) fn oidc_audience(google: Option<&GoogleAuth>) -> Result<String, AuthError> {
    let Some(g) = google else {
        return Ok(GATE_AUDIENCE.to_string());
    };
    if let Some(a) = &g.audience {
        return Ok(a.clone());
    }
    Ok(parse_provider(&g.workload_identity_provider)?.default_oidc_audience())
}

/// Parses the `workload-identity-provider` input into an [`AuthError`].
pub(crate) fn parse_provider(value: &str) -> Result<WorkloadIdentityProvider, AuthError> {
    WorkloadIdentityProvider::parse(value).map_err(|e| AuthError::InvalidProvider {
        value: value.to_string(),
        why: e.0,
    })
}

/// The result of Google authentication, with what the messages need.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub token: GoogleToken,
    pub provider: WorkloadIdentityProvider,
    pub oidc_audience: String,
    pub sts_audience: String,
    pub claims: Claims,
    /// Who the token acts as: the service account, or the federated principal.
    pub impersonated: Option<String>,
}

/// The flow with everything passed in. `id_token` is reused when it was
/// fetched for the same audience (by the gates); a token STS calls stale is
/// replaced by a fresh one once.
pub(crate) async fn authenticate(
    http: &Http,
    endpoints: &Endpoints,
    oidc: &OidcRequest,
    provider: &WorkloadIdentityProvider,
    config: &GoogleAuth,
    id_token: Option<IdToken>,
) -> Result<Authenticated, AuthError> {
    let oidc_audience = config
        .audience
        .clone()
        .unwrap_or_else(|| provider.default_oidc_audience());
    let mut id_token = match id_token.filter(|t| t.audience == oidc_audience) {
        Some(t) => t,
        None => fetch_id_token(http, oidc, &oidc_audience).await?,
    };
    let sts_audience = provider.sts_audience();
    // Always cloud-platform, as google-github-actions/auth asks: the
    // federated token's reach is set by IAM grants, and `access-token-scopes`
    // shape only the impersonated token.
    let sts_scopes = vec![CLOUD_PLATFORM_SCOPE.to_string()];
    let mut refreshed = false;
    let federated = loop {
        match sts::exchange(
            http,
            &endpoints.sts_url,
            &sts_audience,
            &sts_scopes,
            &id_token.jwt,
        )
        .await
        {
            Ok(t) => break t,
            Err(sts::StsError::Rejected {
                failure: StsFailure::StaleToken,
                ..
            }) if !refreshed => {
                tracing::debug!("STS called the OIDC token stale; fetching a fresh one");
                refreshed = true;
                id_token = fetch_id_token(http, oidc, &oidc_audience).await?;
            }
            Err(sts::StsError::Transport(e)) => return Err(e),
            Err(sts::StsError::Rejected {
                status,
                failure,
                code,
                description,
            }) => {
                return Err(AuthError::Sts {
                    status,
                    failure,
                    code,
                    description,
                    provider: Box::new(provider.clone()),
                    oidc_audience,
                    claims: Box::new(id_token.claims),
                });
            }
        }
    };
    let token = match &config.service_account {
        None => GoogleToken {
            expire_time: federated
                .expires_in
                .map(|s| rfc3339_utc(now_secs().saturating_add(s))),
            access_token: federated.access_token,
        },
        Some(sa) => {
            if config.lifetime > DEFAULT_MAX_LIFETIME {
                notice(&format!(
                    "access-token-lifetime {}s is above 1h: it only works when the org policy \
                     constraint constraints/iam.allowServiceAccountCredentialLifetimeExtension \
                     lists {sa}",
                    config.lifetime.as_secs()
                ));
            }
            let url = impersonate::generate_access_token_url(&endpoints.iam_credentials_url, sa);
            match impersonate::generate_access_token(
                http,
                &url,
                &federated.access_token,
                &config.scopes,
                config.lifetime,
                &[],
            )
            .await
            {
                Ok(t) => GoogleToken {
                    access_token: t.access_token,
                    expire_time: t.expire_time,
                },
                Err(impersonate::ImpersonationRejected::Transport(e)) => return Err(e),
                Err(impersonate::ImpersonationRejected::Rejected {
                    status,
                    status_text,
                    message,
                }) => {
                    return Err(AuthError::Impersonation {
                        status,
                        status_text: if status_text.is_empty() {
                            String::new()
                        } else {
                            format!(" {status_text}")
                        },
                        message,
                        service_account: sa.clone(),
                        provider: Box::new(provider.clone()),
                        claims: Box::new(id_token.claims),
                        lifetime: config.lifetime,
                    });
                }
            }
        }
    };
    Ok(Authenticated {
        token,
        provider: provider.clone(),
        oidc_audience,
        sts_audience,
        claims: id_token.claims,
        impersonated: config.service_account.clone(),
    })
}

/// What the stage needs from the process environment, gathered once (see
/// [`crate::run_env::RunEnv::auth`]) so the stage itself reads no globals.
#[derive(Debug, Clone)]
pub struct StageEnv {
    pub gate: GateEnv,
    /// `Err` holds the reason when the runner did not provide OIDC variables.
    pub oidc: Result<OidcRequest, String>,
    pub endpoints: Endpoints,
    pub runner_temp: Option<PathBuf>,
    pub workspace: Option<PathBuf>,
    pub env_file: Option<EnvFile>,
    pub state_file: Option<EnvFile>,
    /// Inside Actions later steps exist, so the credentials file is made by
    /// default.
    pub in_actions: bool,
    /// `DOCKER_CONFIG` and `HOME`: where the Docker config in use is, whose
    /// logins the one for `docker-registries` carries over.
    pub docker_config: Option<PathBuf>,
    pub home: Option<PathBuf>,
}

/// What the auth stage did.
#[derive(Debug, Clone)]
pub struct AuthStage {
    pub gates: GateReport,
    pub google: Option<Authenticated>,
    pub credentials_file: Option<PathBuf>,
    /// The Docker config written for `docker-registries`.
    pub docker_config: Option<PathBuf>,
    /// The project exported to later steps (and the `project-id` output).
    pub project_id: Option<String>,
}

/// The whole stage, in order: the event gate (no network), the OIDC token
/// (when the environment gate or Google needs it), the environment gate,
/// Google authentication, the credentials file.
pub async fn run_stage(config: &AuthOptions, env: &StageEnv) -> Result<AuthStage, AuthError> {
    let mut gate_env = env.gate.clone();
    gate::check_event(config, &gate_env)?;
    let provider = match &config.google {
        Some(g) => Some(parse_provider(&g.workload_identity_provider)?),
        None => None,
    };
    let needs_token = config.google.is_some() || config.require_environment.is_some();
    let mut id_token = None;
    let mut http = None;
    if needs_token {
        let oidc = env
            .oidc
            .as_ref()
            .map_err(|missing| AuthError::OidcUnavailable {
                missing: missing.clone(),
            })?;
        let client = Http::new(Duration::from_secs(30))?;
        if config.require_environment.is_some() {
            let audience = oidc_audience(config.google.as_ref())?;
            let token = fetch_id_token(&client, oidc, &audience).await?;
            gate_env.claims = Some(token.claims.clone());
            gate_env.audience = Some(audience);
            id_token = Some(token);
        }
        http = Some((client, oidc));
    }
    let gates = check_gates(config, &gate_env)?;
    let (Some(google), Some(provider), Some((client, oidc))) = (&config.google, provider, http)
    else {
        return Ok(AuthStage {
            gates,
            google: None,
            credentials_file: None,
            docker_config: None,
            project_id: None,
        });
    };
    let authenticated =
        authenticate(&client, &env.endpoints, oidc, &provider, google, id_token).await?;
    let mut credentials_file = None;
    let asked = google.create_credentials_file;
    if asked.unwrap_or(env.in_actions) {
        let data = credentials_file::credentials_json(
            &provider,
            oidc,
            &authenticated.oidc_audience,
            &env.endpoints,
            google.service_account.as_deref(),
        )?;
        match credentials_file::create_credentials_file(
            &data,
            env.runner_temp.as_deref(),
            env.workspace.as_deref(),
            env.env_file.as_ref(),
            env.state_file.as_ref(),
        ) {
            Ok(path) => credentials_file = Some(path),
            // Not asked for: no safe place is a reason to skip, not to fail.
            Err(
                e @ (AuthError::RunnerTempMissing | AuthError::CredentialsFileInWorkspace { .. }),
            ) if asked.is_none() => notice(&format!(
                "no credentials file for later steps: {e}. Set `create-credentials-file: false` \
                 to silence this"
            )),
            Err(e) => return Err(e),
        }
    }
    if let (Some(project), Some(env_file)) = (&google.project_id, &env.env_file) {
        credentials_file::export_project(project, env_file)?;
    }
    let mut docker_config = None;
    if !google.docker_registries.is_empty() {
        // Asked for explicitly: no safe place to write is an error.
        let dir = credentials_file::credentials_dir(
            env.runner_temp.as_deref(),
            env.workspace.as_deref(),
        )?;
        let previous =
            docker_config::previous_config(env.docker_config.as_deref(), env.home.as_deref());
        let data = docker_config::docker_config_json(
            previous.as_ref(),
            &google.docker_registries,
            &authenticated.token.access_token,
        );
        docker_config = Some(docker_config::create_docker_config(
            &dir,
            &data,
            env.env_file.as_ref(),
            env.state_file.as_ref(),
        )?);
    }
    Ok(AuthStage {
        gates,
        google: Some(authenticated),
        credentials_file,
        docker_config,
        project_id: google.project_id.clone(),
    })
}

/// The summary `gitops-bump auth google` prints: never the token.
#[derive(Debug, Clone, Serialize)]
pub struct AuthSummary {
    pub provider: String,
    pub oidc_audience: String,
    pub sts_audience: String,
    pub service_account: Option<String>,
    pub expire_time: Option<String>,
    pub claims: Claims,
    pub gates: GateReport,
    pub credentials_file: Option<String>,
    pub docker_config: Option<String>,
    pub project_id: Option<String>,
}

impl AuthSummary {
    pub fn new(stage: &AuthStage, auth: &Authenticated) -> Self {
        AuthSummary {
            provider: auth.provider.to_string(),
            oidc_audience: auth.oidc_audience.clone(),
            sts_audience: auth.sts_audience.clone(),
            service_account: auth.impersonated.clone(),
            expire_time: auth.token.expire_time.clone(),
            claims: auth.claims.clone(),
            gates: stage.gates.clone(),
            credentials_file: stage
                .credentials_file
                .as_deref()
                .map(Path::display)
                .map(|d| d.to_string()),
            docker_config: stage
                .docker_config
                .as_deref()
                .map(Path::display)
                .map(|d| d.to_string()),
            project_id: stage.project_id.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_known_instants() {
        let cases = [
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_700_000_000, "2023-11-14T22:13:20Z"),
            (4_102_444_799, "2099-12-31T23:59:59Z"),
        ];
        for (secs, want) in cases {
            assert_eq!(rfc3339_utc(secs), want);
        }
    }

    #[test]
    fn endpoints_default_and_override() {
        let e = Endpoints::from_lookup(|_| None);
        assert_eq!(e.sts_url, DEFAULT_STS_URL);
        assert_eq!(e.iam_credentials_url, DEFAULT_IAM_CREDENTIALS_URL);
        let e = Endpoints::from_lookup(|k| match k {
            "GITOPS_BUMP_STS_URL" => Some("http://127.0.0.1:1/v1/token".into()),
            "GITOPS_BUMP_IAM_CREDENTIALS_URL" => Some("http://127.0.0.1:1/v1/".into()),
            _ => None,
        });
        assert_eq!(e.sts_url, "http://127.0.0.1:1/v1/token");
        assert_eq!(e.iam_credentials_url, "http://127.0.0.1:1/v1");
    }

    #[test]
    fn body_excerpts_are_bounded() {
        assert_eq!(truncate("  "), "(empty body)");
        assert_eq!(truncate("x").len(), 1);
        assert_eq!(truncate(&"é".repeat(600)).chars().count(), 501);
    }
}
