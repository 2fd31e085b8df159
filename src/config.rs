//! Inputs from action `INPUT_*` variables and CLI flags, resolved into one
//! typed [`Config`] and validated once, before any network call or write.
//!
//! Every input has the same kebab-case name in `action.yml` and on the
//! command line (`commit-message` ⇔ `--commit-message`). A flag wins over
//! the environment; the table [`INPUTS`] is the single list of both.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::secret::Secret;
use crate::spec::{ImageSpec, SpecError};

/// One action input / CLI flag.
pub struct Input {
    pub name: &'static str,
    pub default: &'static str,
    pub help: &'static str,
    /// Secret inputs are masked as soon as they are read.
    pub secret: bool,
    /// How a list input is cut into values; [`Split::None`] for one value.
    pub split: Split,
}

/// How a list input is cut into values. Surrounding white space is trimmed
/// and blank values are dropped in every case. An input holding file paths
/// is split on line breaks only: a path may contain `,` and `#`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// Not a list: the whole (trimmed) value.
    None,
    /// One value per line; `,` and `#` belong to the value.
    Lines,
    /// One value per line; `#` starts a comment.
    LinesWithComments,
    /// Values separated by commas or line breaks; `#` starts a comment.
    CommasOrLines,
}

impl Split {
    /// The rule as the input's description states it (action.yml, README,
    /// `--help`); a test checks every list input says its rule.
    pub fn rule(self) -> &'static str {
        match self {
            Split::None => "",
            Split::Lines => "one per line (`,` and `#` are part of a value)",
            Split::LinesWithComments => "one per line (`#` starts a comment)",
            Split::CommasOrLines => "comma or newline separated (`#` starts a comment)",
        }
    }

    /// Cuts `s` into values by this rule.
    pub fn apply(self, s: &str) -> Vec<String> {
        let uncomment = |l: &str| {
            l.split_once('#')
                .map_or(l, |(before, _)| before)
                .to_string()
        };
        let values: Vec<String> = match self {
            Split::None => vec![s.to_string()],
            Split::Lines => s.lines().map(str::to_string).collect(),
            Split::LinesWithComments => s.lines().map(uncomment).collect(),
            Split::CommasOrLines => s
                .lines()
                .map(uncomment)
                .flat_map(|l| l.split(',').map(str::to_string).collect::<Vec<_>>())
                .collect(),
        };
        values
            .iter()
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .collect()
    }
}

const fn input(name: &'static str, default: &'static str, help: &'static str) -> Input {
    Input {
        name,
        default,
        help,
        secret: false,
        split: Split::None,
    }
}

const fn list(
    name: &'static str,
    default: &'static str,
    split: Split,
    help: &'static str,
) -> Input {
    Input {
        name,
        default,
        help,
        secret: false,
        split,
    }
}

const fn secret(name: &'static str, help: &'static str) -> Input {
    Input {
        name,
        default: "",
        help,
        secret: true,
        split: Split::None,
    }
}

pub const DEFAULT_COMMIT_MESSAGE: &str = "chore(deploy): bump {summary} [skip ci]";
pub const DEFAULT_AUTHOR_NAME: &str = "github-actions[bot]";
pub const DEFAULT_AUTHOR_EMAIL: &str = "41898282+github-actions[bot]@users.noreply.github.com";

/// All inputs, in the order `action.yml` lists them.
pub const INPUTS: &[Input] = &[
    list(
        "images",
        "",
        Split::LinesWithComments,
        "Image SPECs NAME[=NEWNAME][:TAG][@DIGEST] (`*` keeps a part), one per line (`#` starts a comment)",
    ),
    list(
        "paths",
        ".",
        Split::Lines,
        "Files or directories to edit, relative to the repository root, one per line (`,` and `#` are part of a value). `.` edits every overlay that uses the image, prod included: name the overlay (e.g. deploy/overlays/dev)",
    ),
    input(
        "repository",
        "",
        "Repository to bump: owner/name, a URL or a local path; empty = the current checkout",
    ),
    input(
        "branch",
        "",
        "Branch to commit to; empty = the checkout's branch or the remote default branch",
    ),
    secret(
        "token",
        "Token for git push, the GitHub API and ghcr.io (usually secrets.GITHUB_TOKEN)",
    ),
    input(
        "commit-message",
        DEFAULT_COMMIT_MESSAGE,
        "Commit message template; placeholders like {image}, {tag}, {short_digest}, {summary}",
    ),
    input(
        "author-name",
        DEFAULT_AUTHOR_NAME,
        "Commit author and committer name",
    ),
    input(
        "author-email",
        DEFAULT_AUTHOR_EMAIL,
        "Commit author and committer email",
    ),
    list(
        "insecure-git-origins",
        "",
        Split::CommasOrLines,
        "Git origins (http://host:port) the token may be sent to over plain HTTP, comma or newline separated (`#` starts a comment); empty = HTTPS only",
    ),
    input("mode", "push", "push | pull-request | none"),
    input(
        "max-attempts",
        "0",
        "Most write-back attempts when other pipelines win the race (0-1000); 0 = as many as `retry-deadline` allows",
    ),
    input(
        "retry-deadline",
        "5m",
        "Keep re-applying the edit on the new tip after lost races for up to this long (e.g. 90s, 5m)",
    ),
    input(
        "verify",
        "true",
        "Check every image in its registry and pin its digest before editing",
    ),
    input(
        "wait",
        "0s",
        "How long to wait for a just-pushed image to appear (e.g. 90s, 5m)",
    ),
    list(
        "platforms",
        "",
        Split::CommasOrLines,
        "Platforms the image index must contain (linux/amd64,linux/arm64), comma or newline separated (`#` starts a comment)",
    ),
    input(
        "expected-digest",
        "",
        "Digest the first image's tag must resolve to (e.g. docker/build-push-action's digest output); with `wait`, a moving tag is polled until it does",
    ),
    list(
        "insecure-registries",
        "",
        Split::CommasOrLines,
        "Registries (host:port) allowed over plain HTTP, comma or newline separated (`#` starts a comment)",
    ),
    input(
        "registry",
        "",
        "Registry (host[:port]) registry-username/registry-password are for; empty = the one registry `images` names. Other registries never see them",
    ),
    input("registry-username", "", "Username for the image registry"),
    secret(
        "registry-password",
        "Password or token for the image registry",
    ),
    input(
        "workload-identity-provider",
        "",
        "projects/NUMBER/locations/global/workloadIdentityPools/POOL/providers/PROVIDER",
    ),
    input(
        "service-account",
        "",
        "Service account email to impersonate after the STS exchange",
    ),
    input(
        "project-id",
        "",
        "Google Cloud project exported to later steps (project-id output, CLOUDSDK_CORE_PROJECT, CLOUDSDK_PROJECT, GCLOUD_PROJECT, GCP_PROJECT, GOOGLE_CLOUD_PROJECT); empty = PROJECT of a service-account NAME@PROJECT.iam.gserviceaccount.com",
    ),
    input(
        "audience",
        "",
        "OIDC audience; default https://iam.googleapis.com/ + the provider resource name",
    ),
    input(
        "access-token-lifetime",
        "3600s",
        "Lifetime of the impersonated access token (max 12h)",
    ),
    list(
        "access-token-scopes",
        "https://www.googleapis.com/auth/cloud-platform",
        Split::CommasOrLines,
        "OAuth scopes of the impersonated token (service-account), comma or newline separated (`#` starts a comment)",
    ),
    input(
        "create-credentials-file",
        "",
        "Write an external_account credentials file to RUNNER_TEMP and export it to later steps (GOOGLE_APPLICATION_CREDENTIALS, CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE, GOOGLE_GHA_CREDS_PATH); empty = true inside Actions when workload-identity-provider is set, like google-github-actions/auth",
    ),
    input(
        "token-format",
        "",
        "Set to `access_token` to expose the Google access token as the `access-token` output",
    ),
    list(
        "docker-registries",
        "",
        Split::CommasOrLines,
        "Registries (host[:port], e.g. europe-docker.pkg.dev), comma or newline separated (`#` starts a comment), to log Docker in to with the Google access token (user oauth2accesstoken): a Docker config in RUNNER_TEMP, exported as DOCKER_CONFIG and deleted by the post: step; needs workload-identity-provider. With no `images`, the action only authenticates (for `docker push` in the build job)",
    ),
    input(
        "require-environment",
        "",
        "Refuse to run unless the job's OIDC token has this `environment` claim",
    ),
    input(
        "allow-untrusted-events",
        "false",
        "Allow credentials and pushes on events that can carry a fork's code or artifacts: pull_request_target, fork pull requests, workflow_run after a fork's run, issue_comment on a pull request",
    ),
    input(
        "promote-from",
        "",
        "Promote: copy the images deployed in this path",
    ),
    input("promote-to", "", "Promote: into this path"),
    input(
        "promote-digest-only",
        "false",
        "Promote: when the registry's tag points at another build than the promoted digest, write the digest without a tag (and say so) instead of failing",
    ),
    list(
        "values-paths",
        "",
        Split::CommasOrLines,
        "Extra Helm values key paths holding an image (e.g. app.image), comma or newline separated (`#` starts a comment)",
    ),
    list(
        "image-kinds",
        "",
        Split::CommasOrLines,
        "Opt-in: kinds of custom resources whose `image:` fields anywhere under `spec` are edited (e.g. AnalysisTemplate, Task, ServingRuntime, or Service.serving.knative.dev with the API group), comma or newline separated (`#` starts a comment)",
    ),
    input(
        "allow-no-match",
        "false",
        "Succeed even when an image matches nothing in the paths",
    ),
    input(
        "dry-run",
        "false",
        "Do everything except the push; print the diff",
    ),
    list(
        "labels",
        "gitops-bump",
        Split::CommasOrLines,
        "Labels for the pull request (pull-request mode), comma or newline separated (`#` starts a comment)",
    ),
    input(
        "app-id",
        "",
        "GitHub App ID (or client ID) to push with an installation token instead of `token`",
    ),
    secret(
        "app-private-key",
        "GitHub App private key (PEM) used to sign the App JWT",
    ),
    input(
        "app-installation-id",
        "",
        "GitHub App installation ID; empty = looked up for the target repository",
    ),
    input(
        "commit-via",
        "git",
        "git (clone, commit, push) | api (GitHub-signed Verified commit through the GraphQL API, no clone)",
    ),
    input(
        "timeout",
        "10m",
        "Fail the run if it takes longer than this (a server that stops answering must not hold the job)",
    ),
    input(
        "newer-wins",
        "true",
        "Never replace a newer value (semver order, else workflow run order); false allows rollbacks",
    ),
];

/// Where a run writes its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Push,
    PullRequest,
    None,
}

/// What `token-format` asks us to expose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenFormat {
    None,
    AccessToken,
}

/// How the commit reaches the branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitVia {
    /// Clone, commit locally, push (signed only if the runner signs).
    Git,
    /// `createCommitOnBranch` through the GraphQL API: no clone, and GitHub
    /// signs the commit, which satisfies "require signed commits".
    Api,
}

/// A GitHub App to authenticate as; present only when `app-id` is set.
#[derive(Debug, Clone)]
pub struct GitHubApp {
    /// The App ID or client ID: the JWT's `iss`.
    pub app_id: String,
    pub private_key: Secret,
    pub installation_id: Option<u64>,
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

/// The validated configuration of one run.
#[derive(Debug, Clone)]
pub struct Config {
    pub images: Vec<ImageSpec>,
    pub paths: Vec<PathBuf>,
    pub repository: Option<String>,
    pub branch: Option<String>,
    pub token: Option<Secret>,
    /// Origins the git token may reach over plain HTTP.
    pub insecure_git_origins: Vec<String>,
    pub commit_message: String,
    pub author_name: String,
    pub author_email: String,
    pub mode: Mode,
    pub max_attempts: u32,
    /// No write-back attempt starts after this long.
    pub retry_deadline: std::time::Duration,
    pub verify: bool,
    pub wait: Duration,
    pub platforms: Vec<String>,
    pub expected_digest: Option<crate::reference::Digest>,
    pub insecure_registries: Vec<String>,
    pub registry_username: Option<String>,
    pub registry_password: Option<Secret>,
    /// The one registry (host[:port]) `registry-username`/`registry-password`
    /// are sent to: the `registry` input, else the single registry `images`
    /// names. `None` when no explicit credentials were given.
    pub credentials_registry: Option<String>,
    pub google: Option<GoogleAuth>,
    pub require_environment: Option<String>,
    pub allow_untrusted_events: bool,
    pub promote: Option<(PathBuf, PathBuf)>,
    /// `gitops-bump promote --tag`: retag every promoted image (same digest).
    /// Not an action input: in workflows, write `images: NAME:TAG`.
    pub promote_tag: Option<String>,
    /// A promoted tag that names another build in the registry is dropped
    /// (digest alone) instead of failing the run.
    pub promote_digest_only: bool,
    pub values_paths: Vec<String>,
    /// Kinds whose `image:` fields anywhere under `spec` are edited.
    pub image_kinds: Vec<String>,
    pub allow_no_match: bool,
    pub dry_run: bool,
    /// Labels for pull requests.
    pub labels: Vec<String>,
    pub app: Option<GitHubApp>,
    pub commit_via: CommitVia,
    pub newer_wins: bool,
    /// The whole run's time limit.
    pub timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("input `{input}` has an invalid value {value:?}: {why}")]
    Invalid {
        input: &'static str,
        value: String,
        why: String,
    },
    #[error("input `{input}` is required: {why}")]
    Missing {
        input: &'static str,
        why: &'static str,
    },
    #[error("inputs `{a}` and `{b}` conflict: {why}")]
    Conflict {
        a: &'static str,
        b: &'static str,
        why: &'static str,
    },
    #[error("input `images`, line {line}: {source}")]
    Spec {
        line: usize,
        #[source]
        source: SpecError,
    },
}

/// Raw input values by name, before validation. Empty values count as unset,
/// as in Actions, where an unset input arrives as an empty string.
#[derive(Debug, Default, Clone)]
pub struct RawInputs {
    values: BTreeMap<&'static str, String>,
}

impl RawInputs {
    /// Reads `INPUT_<NAME>` variables the way the runner sets them
    /// (uppercase, dashes kept); `INPUT_<NAME_WITH_UNDERSCORES>` also works
    /// for shells that cannot export dashes.
    pub fn from_env() -> Self {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let mut raw = RawInputs::default();
        for i in INPUTS {
            let key = format!("INPUT_{}", i.name.to_uppercase());
            let value = lookup(&key).or_else(|| lookup(&key.replace('-', "_")));
            if let Some(v) = value {
                raw.set(i.name, v);
            }
        }
        raw
    }

    /// Sets a value; flags call this after `from_env` so they win.
    pub fn set(&mut self, name: &str, value: String) {
        if let Some(i) = INPUTS.iter().find(|i| i.name == name) {
            if i.secret {
                crate::actions::mask(&value);
            }
            self.values.insert(i.name, value);
        }
    }

    /// The trimmed value, or the input's default when unset or empty.
    pub fn get(&self, name: &'static str) -> &str {
        let default = INPUTS
            .iter()
            .find(|i| i.name == name)
            .map_or("", |i| i.default);
        match self.values.get(name).map(|v| v.trim()) {
            Some(v) if !v.is_empty() => v,
            _ => default,
        }
    }

    fn optional(&self, name: &'static str) -> Option<String> {
        Some(self.get(name))
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    }

    fn boolean(&self, name: &'static str) -> Result<bool, ConfigError> {
        parse_bool(self.get(name)).ok_or_else(|| ConfigError::Invalid {
            input: name,
            value: self.get(name).to_string(),
            why: "expected true or false (also True/TRUE/False/FALSE)".into(),
        })
    }

    fn duration(&self, name: &'static str) -> Result<Duration, ConfigError> {
        parse_duration(self.get(name)).map_err(|why| ConfigError::Invalid {
            input: name,
            value: self.get(name).to_string(),
            why,
        })
    }

    /// The value cut into values by the input's [`Split`] rule.
    fn list(&self, name: &'static str) -> Vec<String> {
        let split = INPUTS
            .iter()
            .find(|i| i.name == name)
            .map_or(Split::CommasOrLines, |i| i.split);
        split.apply(self.get(name))
    }
}

/// How a hint tells the user to set an input: the input as a workflow
/// writes it inside Actions (`allow-no-match: true`), the flag elsewhere
/// (`--allow-no-match true`).
pub fn setting(name: &str, value: &str) -> String {
    setting_for(crate::actions::in_actions(), name, value)
}

fn setting_for(in_actions: bool, name: &str, value: &str) -> String {
    if in_actions {
        format!("`{name}: {value}`")
    } else {
        format!("`--{name} {value}`")
    }
}

/// Booleans as `@actions/core`'s `getBooleanInput`: the YAML 1.2 core schema.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// Durations like `90s`, `5m`, `1h30m`, `500ms`; a bare number is seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!(
                "expected a number at {rest:?} (use forms like 90s, 5m, 1h30m, 500ms)"
            ));
        }
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| "number too large".to_string())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let part = match unit {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.saturating_mul(60)),
            "h" => Duration::from_secs(n.saturating_mul(3600)),
            "" => return Err(format!("missing unit after {n} (use ms, s, m or h)")),
            other => return Err(format!("unknown unit {other:?} (use ms, s, m or h)")),
        };
        total = total.saturating_add(part);
    }
    Ok(total)
}

/// The project of a service account email `NAME@PROJECT.iam.gserviceaccount.com`.
/// google-github-actions/auth takes the first label after `@` of any email;
/// we only read the form that names a project, so the default compute
/// account (`N-compute@developer.gserviceaccount.com`) exports nothing
/// rather than the project `developer`.
pub fn project_of_service_account(email: &str) -> Option<String> {
    let (_, domain) = email.split_once('@')?;
    let project = domain.strip_suffix(".iam.gserviceaccount.com")?;
    valid_project_id(project)
}

/// A project ID as Google spells them (`my-project-123`, legacy
/// `example.com:my-project`): nothing a later step could mistake for more.
fn valid_project_id(s: &str) -> Option<String> {
    let ok = !s.is_empty()
        && s.len() <= 100
        && s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.' | b':')
        })
        && s.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    ok.then(|| s.to_string())
}

fn optional_secret(raw: &RawInputs, name: &'static str) -> Option<Secret> {
    raw.optional(name).map(Secret::new)
}

/// `host[:port]`: what a Docker config's `auths` key names.
fn is_registry_host(s: &str) -> bool {
    let (host, port) = s.split_once(':').unwrap_or((s, "80"));
    !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        && !host.starts_with(['.', '-'])
        && port.parse::<u16>().is_ok_and(|p| p > 0)
}

const MAX_LIFETIME: Duration = Duration::from_secs(12 * 3600);

impl Config {
    /// A run with a provider and nothing to edit: it authenticates, leaves
    /// later steps logged in, and stops (a build job before `docker push`).
    pub fn auth_only(&self) -> bool {
        self.images.is_empty() && self.promote.is_none() && self.google.is_some()
    }

    /// Validates raw inputs for a run that edits manifests.
    pub fn from_raw(raw: &RawInputs) -> Result<Config, ConfigError> {
        Self::validate(raw, true)
    }

    /// Validates raw inputs for `gitops-bump auth`, which edits nothing and
    /// so needs no `images`.
    pub fn for_auth(raw: &RawInputs) -> Result<Config, ConfigError> {
        Self::validate(raw, false)
    }

    fn validate(raw: &RawInputs, require_images: bool) -> Result<Config, ConfigError> {
        let mut images = Vec::new();
        for (n, line) in raw.get("images").lines().enumerate() {
            let line = line
                .split_once('#')
                .map_or(line, |(before, _)| before)
                .trim();
            if line.is_empty() {
                continue;
            }
            images.push(ImageSpec::parse(line).map_err(|source| ConfigError::Spec {
                line: n + 1,
                source,
            })?);
        }
        let promote = match (raw.optional("promote-from"), raw.optional("promote-to")) {
            (Some(f), Some(t)) => Some((PathBuf::from(f), PathBuf::from(t))),
            (None, None) => None,
            (Some(_), None) => {
                return Err(ConfigError::Conflict {
                    a: "promote-from",
                    b: "promote-to",
                    why: "promotion needs both a source and a target path",
                });
            }
            (None, Some(_)) => {
                return Err(ConfigError::Conflict {
                    a: "promote-to",
                    b: "promote-from",
                    why: "promotion needs both a source and a target path",
                });
            }
        };
        // With a provider and no images the run only authenticates (a build
        // job logging in before `docker push`).
        if require_images
            && images.is_empty()
            && promote.is_none()
            && raw.optional("workload-identity-provider").is_none()
        {
            return Err(ConfigError::Missing {
                input: "images",
                why: "give at least one image SPEC (e.g. `ghcr.io/org/app:${{ github.sha }}`), or promote-from/promote-to; or, to only authenticate, workload-identity-provider",
            });
        }
        let mode = match raw.get("mode") {
            "push" => Mode::Push,
            "pull-request" => Mode::PullRequest,
            "none" => Mode::None,
            other => {
                return Err(ConfigError::Invalid {
                    input: "mode",
                    value: other.to_string(),
                    why: "expected push, pull-request or none".into(),
                });
            }
        };
        let max_attempts = raw
            .get("max-attempts")
            .parse::<u32>()
            .ok()
            .filter(|n| (0..=1000).contains(n))
            .ok_or_else(|| ConfigError::Invalid {
                input: "max-attempts",
                value: raw.get("max-attempts").to_string(),
                why: "expected a whole number from 0 (no limit but `retry-deadline`) to 1000"
                    .into(),
            })?;
        let retry_deadline = raw.duration("retry-deadline")?;
        let commit_message = raw.get("commit-message").to_string();
        crate::template::validate(&commit_message).map_err(|e| ConfigError::Invalid {
            input: "commit-message",
            value: commit_message.clone(),
            why: e.to_string(),
        })?;
        // Checked here, not at commit time: by then the files are edited.
        for name in ["author-name", "author-email"] {
            let value = raw.get(name);
            if value.contains(['<', '>', '\n', '\r', '\0']) {
                return Err(ConfigError::Invalid {
                    input: name,
                    value: value.to_string(),
                    why: "a git identity cannot contain `<`, `>` or line breaks".into(),
                });
            }
        }
        let expected_digest = match raw.optional("expected-digest") {
            None => None,
            Some(d) => {
                Some(
                    crate::reference::Digest::parse(&d).map_err(|e| ConfigError::Invalid {
                        input: "expected-digest",
                        value: d.clone(),
                        why: e.to_string(),
                    })?,
                )
            }
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
        let registry_password = optional_secret(raw, "registry-password");
        if registry_password.is_some() != registry_username.is_some() {
            return Err(ConfigError::Conflict {
                a: "registry-username",
                b: "registry-password",
                why: "give both or neither",
            });
        }
        let credentials_registry = Self::credentials_registry(
            raw,
            // A SPEC naming an unparsable image is reported by the verify stage.
            images
                .iter()
                .filter_map(|s| s.target_reference().ok())
                .map(|r| r.name.registry),
            promote.is_some(),
            registry_username.is_some(),
        )?;
        if mode == Mode::None && raw.optional("repository").is_some() {
            return Err(ConfigError::Conflict {
                a: "mode",
                b: "repository",
                why: "mode: none edits the checked-out work tree and leaves the change there; a cloned `repository` would be thrown away (use mode: push or pull-request, or check the repository out first)",
            });
        }
        let google = Self::google(raw)?;
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
        let timeout = raw.duration("timeout")?;
        if timeout.is_zero() {
            return Err(ConfigError::Invalid {
                input: "timeout",
                value: raw.get("timeout").to_string(),
                why: "must be at least 1s".into(),
            });
        }
        let app = Self::app(raw)?;
        let commit_via = match raw.get("commit-via") {
            "git" => CommitVia::Git,
            "api" => CommitVia::Api,
            other => {
                return Err(ConfigError::Invalid {
                    input: "commit-via",
                    value: other.to_string(),
                    why: "expected git or api".into(),
                });
            }
        };
        Ok(Config {
            images,
            paths: raw.list("paths").into_iter().map(PathBuf::from).collect(),
            repository: raw.optional("repository"),
            branch: raw.optional("branch"),
            token: optional_secret(raw, "token"),
            insecure_git_origins: raw.list("insecure-git-origins"),
            commit_message,
            author_name: raw.get("author-name").to_string(),
            author_email: raw.get("author-email").to_string(),
            mode,
            max_attempts,
            retry_deadline,
            verify: raw.boolean("verify")?,
            wait: raw.duration("wait")?,
            platforms,
            expected_digest,
            insecure_registries: raw.list("insecure-registries"),
            registry_username,
            registry_password,
            credentials_registry,
            google,
            require_environment: raw.optional("require-environment"),
            allow_untrusted_events: raw.boolean("allow-untrusted-events")?,
            promote,
            promote_tag: None,
            promote_digest_only: raw.boolean("promote-digest-only")?,
            values_paths: raw.list("values-paths"),
            image_kinds: raw.list("image-kinds"),
            allow_no_match: raw.boolean("allow-no-match")?,
            dry_run: raw.boolean("dry-run")?,
            labels: raw.list("labels"),
            app,
            commit_via,
            newer_wins: raw.boolean("newer-wins")?,
            timeout,
        })
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

    /// `registry-username`/`registry-password`, bound to their registry.
    pub fn explicit_login(&self) -> Option<crate::registry::ExplicitLogin> {
        let (username, password) = self
            .registry_username
            .clone()
            .zip(self.registry_password.clone())?;
        Some(crate::registry::ExplicitLogin {
            registry: self.credentials_registry.clone()?,
            username,
            password,
        })
    }

    fn app(raw: &RawInputs) -> Result<Option<GitHubApp>, ConfigError> {
        let app_id = raw.optional("app-id");
        let key = raw.optional("app-private-key");
        let installation = raw.optional("app-installation-id");
        let (app_id, key) = match (app_id, key) {
            (None, None) => {
                if installation.is_some() {
                    return Err(ConfigError::Conflict {
                        a: "app-installation-id",
                        b: "app-id",
                        why: "an installation ID needs the App's ID and private key",
                    });
                }
                return Ok(None);
            }
            (Some(_), None) => {
                return Err(ConfigError::Missing {
                    input: "app-private-key",
                    why: "app-id needs the App's private key (a PEM secret)",
                });
            }
            (None, Some(_)) => {
                return Err(ConfigError::Missing {
                    input: "app-id",
                    why: "app-private-key needs the App's ID (or client ID)",
                });
            }
            (Some(id), Some(key)) => (id, key),
        };
        if app_id.contains(char::is_whitespace) {
            return Err(ConfigError::Invalid {
                input: "app-id",
                value: app_id,
                why: "expected the App's numeric ID or its client ID".into(),
            });
        }
        // Secrets pasted as one line carry literal `\n`; PEM needs newlines.
        let pem = key.replace("\\n", "\n");
        if !pem.trim_start().starts_with("-----BEGIN") {
            return Err(ConfigError::Invalid {
                input: "app-private-key",
                value: "***".into(),
                why: "expected a PEM private key starting with -----BEGIN (download it from the App's settings)".into(),
            });
        }
        let installation_id = match installation {
            None => None,
            Some(s) => Some(s.parse::<u64>().map_err(|_| ConfigError::Invalid {
                input: "app-installation-id",
                value: s.clone(),
                why: "expected a number (from the installation's settings URL)".into(),
            })?),
        };
        Ok(Some(GitHubApp {
            app_id,
            private_key: Secret::new(pem),
            installation_id,
        }))
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> RawInputs {
        let mut r = RawInputs::default();
        for (k, v) in pairs {
            r.set(k, v.to_string());
        }
        r
    }

    #[test]
    fn explicit_registry_credentials_are_bound_to_one_registry() {
        let login = [("registry-username", "u"), ("registry-password", "p")];
        // (extra inputs, Ok(bound registry) or Err(input named in the error))
        type Case<'a> = (Vec<(&'a str, &'a str)>, Result<Option<&'a str>, &'a str>);
        let cases: Vec<Case> = vec![
            (vec![("images", "ghcr.io/o/a:v1")], Ok(Some("ghcr.io"))),
            (
                vec![("images", "ghcr.io/o/a:v1\nghcr.io/o/b:v1")],
                Ok(Some("ghcr.io")),
            ),
            (
                vec![("images", "a=reg.example:5000/o/a:v1")],
                Ok(Some("reg.example:5000")),
            ),
            (
                vec![("images", "ghcr.io/o/a:v1\nreg.example/o/b:v1")],
                Err("registry"),
            ),
            (
                vec![
                    ("images", "ghcr.io/o/a:v1\nreg.example/o/b:v1"),
                    ("registry", "REG.example"),
                ],
                Ok(Some("reg.example")),
            ),
            (
                vec![("promote-from", "dev"), ("promote-to", "prod")],
                Err("registry"),
            ),
            (
                vec![
                    ("promote-from", "dev"),
                    ("promote-to", "prod"),
                    ("registry", "ghcr.io"),
                ],
                Ok(Some("ghcr.io")),
            ),
            (
                vec![("images", "ghcr.io/o/a:v1"), ("registry", "ghcr.io/o")],
                Err("registry"),
            ),
        ];
        for (extra, want) in cases {
            let mut pairs: Vec<(&str, &str)> = login.to_vec();
            pairs.extend(extra.iter().copied());
            let got = Config::from_raw(&raw(&pairs));
            match (&got, want) {
                (Ok(c), Ok(bound)) => {
                    assert_eq!(c.credentials_registry.as_deref(), bound, "{extra:?}")
                }
                (Err(e), Err(input)) => assert!(
                    e.to_string().contains(&format!("`{input}`")),
                    "{extra:?}: {e}"
                ),
                _ => panic!("{extra:?}: {got:?}"),
            }
        }
        // Without credentials nothing is bound, and `registry` alone is a mistake.
        let none = Config::from_raw(&raw(&[("images", "ghcr.io/o/a:v1")])).unwrap();
        assert_eq!(none.credentials_registry, None);
        assert!(Config::from_raw(&raw(&[("images", "a:v1"), ("registry", "ghcr.io")])).is_err());
    }

    #[test]
    fn defaults_apply_to_a_minimal_config() {
        let c = Config::from_raw(&raw(&[("images", "ghcr.io/o/app:v1")])).unwrap();
        assert_eq!(c.mode, Mode::Push);
        assert_eq!(c.max_attempts, 0);
        assert_eq!(c.retry_deadline, std::time::Duration::from_secs(300));
        assert!(c.verify && !c.dry_run && !c.allow_no_match);
        assert_eq!(c.paths, vec![PathBuf::from(".")]);
        assert!(c.commit_message.contains("[skip ci]"));
        assert_eq!(c.labels, vec!["gitops-bump"]);
        let c =
            Config::from_raw(&raw(&[("images", "a:v1"), ("labels", "deploy,prod\nauto")])).unwrap();
        assert_eq!(c.labels, vec!["deploy", "prod", "auto"]);
        assert!(c.google.is_none());
    }

    #[test]
    fn bad_values_name_the_input() {
        let img = ("images", "app:v1");
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[img, ("verify", "yes")],
                "input `verify` has an invalid value \"yes\"",
            ),
            (&[img, ("dry-run", "1")], "input `dry-run`"),
            (&[img, ("wait", "5 minutes")], "input `wait`"),
            (&[img, ("wait", "5x")], "unknown unit"),
            (
                &[img, ("mode", "force")],
                "input `mode` has an invalid value \"force\"",
            ),
            (
                &[img, ("mode", "none"), ("repository", "org/gitops")],
                "inputs `mode` and `repository` conflict",
            ),
            (&[img, ("max-attempts", "1001")], "input `max-attempts`"),
            (&[img, ("max-attempts", "ten")], "input `max-attempts`"),
            (
                &[img, ("commit-message", "bump {imgae}")],
                "unknown placeholder {imgae}",
            ),
            (&[img, ("platforms", "amd64")], "input `platforms`"),
            (
                &[img, ("expected-digest", "sha256:beef")],
                "input `expected-digest`",
            ),
            (&[("images", "app:v1\nBad:Name")], "input `images`, line 2"),
            (&[], "input `images` is required"),
            (
                &[("images", "  \n# only a comment\n")],
                "input `images` is required",
            ),
            (
                &[img, ("registry-password", "p")],
                "`registry-username` and `registry-password` conflict",
            ),
            (
                &[img, ("promote-from", "a")],
                "`promote-from` and `promote-to` conflict",
            ),
            (
                &[img, ("service-account", "sa@p.iam.gserviceaccount.com")],
                "`service-account` and `workload-identity-provider`",
            ),
            (
                &[img, ("token-format", "access_token")],
                "`token-format` and `workload-identity-provider`",
            ),
            (
                &[img, ("create-credentials-file", "true")],
                "`create-credentials-file`",
            ),
            (
                &[
                    img,
                    (
                        "workload-identity-provider",
                        "projects/1/locations/global/workloadIdentityPools/p/providers/q",
                    ),
                    ("access-token-lifetime", "13h"),
                ],
                "input `access-token-lifetime`",
            ),
            (
                &[
                    img,
                    (
                        "workload-identity-provider",
                        "projects/1/locations/global/workloadIdentityPools/p/providers/q",
                    ),
                    ("token-format", "id_token"),
                ],
                "input `token-format`",
            ),
            (
                &[
                    img,
                    (
                        "workload-identity-provider",
                        "projects/1/locations/global/workloadIdentityPools/p/providers/q",
                    ),
                    ("token-format", "access_token"),
                ],
                "input `service-account` is required: `token-format: access_token`",
            ),
        ];
        for (pairs, needle) in cases.iter().chain(APP_CASES) {
            let e = Config::from_raw(&raw(pairs)).expect_err(needle).to_string();
            assert!(e.contains(needle), "{pairs:?}: {e}");
        }
    }

    const KEY: &str = "-----BEGIN PRIVATE KEY-----\\nAAAA\\n-----END PRIVATE KEY-----";
    const IMG: (&str, &str) = ("images", "app:v1");
    const APP_CASES: &[(&[(&str, &str)], &str)] = &[
        (
            &[IMG, ("app-id", "123")],
            "input `app-private-key` is required",
        ),
        (
            &[IMG, ("app-private-key", KEY)],
            "input `app-id` is required",
        ),
        (
            &[IMG, ("app-installation-id", "9")],
            "`app-installation-id` and `app-id` conflict",
        ),
        (
            &[IMG, ("app-id", "123"), ("app-private-key", "ghp_notakey")],
            "input `app-private-key` has an invalid value \"***\"",
        ),
        (
            &[
                IMG,
                ("app-id", "123"),
                ("app-private-key", KEY),
                ("app-installation-id", "x9"),
            ],
            "input `app-installation-id`",
        ),
        (&[IMG, ("commit-via", "rest")], "input `commit-via`"),
        (&[IMG, ("author-email", "a>b")], "input `author-email`"),
        (&[IMG, ("author-name", "two\nlines")], "input `author-name`"),
        (&[IMG, ("newer-wins", "maybe")], "input `newer-wins`"),
    ];

    #[test]
    fn app_inputs_resolve_and_unescape_the_key() {
        let c = Config::from_raw(&raw(&[
            IMG,
            ("app-id", "123"),
            ("app-private-key", KEY),
            ("app-installation-id", "77"),
            ("commit-via", "api"),
        ]))
        .unwrap();
        let app = c.app.unwrap();
        assert_eq!(app.app_id, "123");
        assert_eq!(app.installation_id, Some(77));
        assert_eq!(
            app.private_key.expose(),
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"
        );
        assert_eq!(c.commit_via, CommitVia::Api);
        assert!(c.newer_wins, "on by default");
        let d = Config::from_raw(&raw(&[IMG])).unwrap();
        assert!(d.app.is_none());
        assert_eq!(d.commit_via, CommitVia::Git);
    }

    #[test]
    fn hints_name_inputs_in_actions_and_flags_elsewhere() {
        assert_eq!(
            setting_for(true, "allow-no-match", "true"),
            "`allow-no-match: true`"
        );
        assert_eq!(
            setting_for(false, "allow-no-match", "true"),
            "`--allow-no-match true`"
        );
    }

    #[test]
    fn the_project_comes_from_the_input_or_the_service_account() {
        let wip = (
            "workload-identity-provider",
            "projects/1/locations/global/workloadIdentityPools/p/providers/q",
        );
        // (service-account, project-id, project exported)
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("", "", None),
            (
                "deployer@my-proj.iam.gserviceaccount.com",
                "",
                Some("my-proj"),
            ),
            (
                "deployer@my-proj.iam.gserviceaccount.com",
                "other-1",
                Some("other-1"),
            ),
            ("", "example.com:legacy", Some("example.com:legacy")),
            ("123-compute@developer.gserviceaccount.com", "", None),
            ("someone@example.com", "", None),
        ];
        for (sa, project, want) in cases {
            let c = Config::for_auth(&raw(&[
                wip,
                ("service-account", sa),
                ("project-id", project),
            ]))
            .unwrap();
            let google = c.google.unwrap();
            assert_eq!(google.project_id.as_deref(), *want, "{sa} {project}");
            assert_eq!(google.create_credentials_file, None, "default: auto");
        }
        for bad in ["My Project", "p\nGITHUB_TOKEN=x", "-x", "a;b"] {
            let e = Config::for_auth(&raw(&[wip, ("project-id", bad)])).unwrap_err();
            assert!(e.to_string().contains("input `project-id`"), "{bad}: {e}");
        }
        let e = Config::for_auth(&raw(&[("project-id", "p")])).unwrap_err();
        assert!(
            e.to_string()
                .contains("inputs `project-id` and `workload-identity-provider` conflict"),
            "{e}"
        );
        let c = Config::for_auth(&raw(&[wip, ("create-credentials-file", "false")])).unwrap();
        assert_eq!(c.google.unwrap().create_credentials_file, Some(false));
    }

    #[test]
    fn no_images_with_a_provider_only_authenticates() {
        let wip = (
            "workload-identity-provider",
            "projects/1/locations/global/workloadIdentityPools/p/providers/q",
        );
        let c = Config::from_raw(&raw(&[
            wip,
            (
                "docker-registries",
                "europe-docker.pkg.dev, us-docker.pkg.dev\n127.0.0.1:5000",
            ),
        ]))
        .unwrap();
        assert!(c.auth_only());
        assert_eq!(
            c.google.unwrap().docker_registries,
            [
                "europe-docker.pkg.dev",
                "us-docker.pkg.dev",
                "127.0.0.1:5000"
            ]
        );
        assert!(
            !Config::from_raw(&raw(&[wip, ("images", "app:v1")]))
                .unwrap()
                .auth_only()
        );
        // (inputs, the exact message)
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[
                    ("images", "app:v1"),
                    ("docker-registries", "europe-docker.pkg.dev"),
                ],
                "inputs `docker-registries` and `workload-identity-provider` conflict: set workload-identity-provider to use Google authentication",
            ),
            (
                &[wip, ("docker-registries", "https://europe-docker.pkg.dev")],
                "input `docker-registries` has an invalid value \"https://europe-docker.pkg.dev\": expected a registry host[:port] such as europe-docker.pkg.dev, without scheme or path",
            ),
            (
                &[
                    wip,
                    ("docker-registries", "europe-docker.pkg.dev/proj/repo"),
                ],
                "input `docker-registries` has an invalid value \"europe-docker.pkg.dev/proj/repo\": expected a registry host[:port] such as europe-docker.pkg.dev, without scheme or path",
            ),
            (
                &[],
                "input `images` is required: give at least one image SPEC (e.g. `ghcr.io/org/app:${{ github.sha }}`), or promote-from/promote-to; or, to only authenticate, workload-identity-provider",
            ),
        ];
        for (inputs, want) in cases {
            let e = Config::from_raw(&raw(inputs)).unwrap_err();
            assert_eq!(e.to_string(), *want);
        }
    }

    #[test]
    fn booleans_follow_the_yaml_core_schema() {
        for (s, want) in [
            ("true", Some(true)),
            ("TRUE", Some(true)),
            ("False", Some(false)),
            ("yes", None),
            ("on", None),
            ("tRue", None),
            ("", None),
        ] {
            assert_eq!(parse_bool(s), want, "{s}");
        }
    }

    #[test]
    fn durations_parse() {
        let cases = [
            ("90s", 90_000),
            ("5m", 300_000),
            ("1h30m", 5_400_000),
            ("500ms", 500),
            ("0", 0),
            ("15", 15_000),
        ];
        for (s, ms) in cases {
            assert_eq!(parse_duration(s).unwrap(), Duration::from_millis(ms), "{s}");
        }
        for bad in ["", "m", "1.5m", "-1s", "5d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn env_uses_runner_names_and_flags_win() {
        let env = BTreeMap::from([
            ("INPUT_IMAGES".to_string(), "app:v1".to_string()),
            (
                "INPUT_COMMIT-MESSAGE".to_string(),
                "from env {tag}".to_string(),
            ),
            ("INPUT_MAX_ATTEMPTS".to_string(), "3".to_string()),
            ("INPUT_MODE".to_string(), "".to_string()),
        ]);
        let mut r = RawInputs::from_lookup(|k| env.get(k).cloned());
        let c = Config::from_raw(&r).unwrap();
        assert_eq!(c.commit_message, "from env {tag}");
        assert_eq!(c.max_attempts, 3);
        assert_eq!(c.mode, Mode::Push, "an empty input means the default");
        r.set("max-attempts", "7".into());
        assert_eq!(Config::from_raw(&r).unwrap().max_attempts, 7);
    }

    /// Every list input, how it is split. Paths are split on line breaks
    /// only: `paths: team,a` is the one directory `team,a`.
    #[test]
    fn list_inputs_split_by_their_rule() {
        let cases: &[(&str, &str, &[&str])] = &[
            ("paths", "team,a", &["team,a"]),
            ("paths", "a\nb", &["a", "b"]),
            ("paths", " a \r\n\n  b/c d  \n", &["a", "b/c d"]),
            (
                "paths",
                "deploy/#1\nx # not a comment",
                &["deploy/#1", "x # not a comment"],
            ),
            ("paths", "", &["."]),
            (
                "images",
                "app:v1 # the app\n# all comment\nb:v2",
                &["app:v1", "b:v2"],
            ),
            (
                "platforms",
                "linux/amd64,linux/arm64",
                &["linux/amd64", "linux/arm64"],
            ),
            (
                "platforms",
                "linux/amd64\n linux/arm64 # arm\n",
                &["linux/amd64", "linux/arm64"],
            ),
            (
                "insecure-registries",
                "127.0.0.1:5000, localhost:5001",
                &["127.0.0.1:5000", "localhost:5001"],
            ),
            (
                "insecure-git-origins",
                "http://127.0.0.1:8080\n#x",
                &["http://127.0.0.1:8080"],
            ),
            ("access-token-scopes", "a,b\nc", &["a", "b", "c"]),
            (
                "values-paths",
                "app.image, worker.image",
                &["app.image", "worker.image"],
            ),
            (
                "labels",
                "deploy,prod\nauto # note",
                &["deploy", "prod", "auto"],
            ),
            ("labels", "", &["gitops-bump"]),
        ];
        for (name, value, want) in cases {
            let input = INPUTS.iter().find(|i| i.name == *name).unwrap();
            let r = raw(&[(name, value)]);
            let got = input.split.apply(r.get(input.name));
            assert_eq!(got, *want, "{name}: {value:?}");
        }
        // The paths a run edits are exactly these.
        let c = Config::from_raw(&raw(&[IMG, ("paths", "team,a\nb")])).unwrap();
        assert_eq!(c.paths, vec![PathBuf::from("team,a"), PathBuf::from("b")]);
        let c = Config::from_raw(&raw(&[("images", "a:v1 # x\nb:v2")])).unwrap();
        assert_eq!(c.images.len(), 2);
    }

    /// action.yml, the README and `--help` all come from `help`: each list
    /// input must state its rule there, and only list inputs are split.
    #[test]
    fn every_list_input_states_its_rule() {
        let lists: Vec<&str> = INPUTS
            .iter()
            .filter(|i| i.split != Split::None)
            .map(|i| i.name)
            .collect();
        assert_eq!(
            lists,
            [
                "images",
                "paths",
                "insecure-git-origins",
                "platforms",
                "insecure-registries",
                "access-token-scopes",
                "docker-registries",
                "values-paths",
                "image-kinds",
                "labels"
            ]
        );
        for i in INPUTS.iter().filter(|i| i.split != Split::None) {
            assert!(i.help.contains(i.split.rule()), "{}: {}", i.name, i.help);
        }
        for i in INPUTS.iter().filter(|i| i.split == Split::None) {
            assert!(
                !i.help.contains("separated") && !i.help.contains("per line"),
                "{} reads like a list: {}",
                i.name,
                i.help
            );
        }
    }
}
