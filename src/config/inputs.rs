//! The one list of inputs ([`INPUTS`]): every action input and CLI flag,
//! with its default, help and list rule; `action.yml` is generated from it
//! (`scripts/gen-action-yml.py`). [`RawInputs`] holds their values by
//! name, before validation.

use std::collections::BTreeMap;
use std::time::Duration;

use super::ConfigError;
use super::parse::{parse_bool, parse_duration};
use crate::secret::Secret;

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
    #[cfg(test)]
    pub(crate) fn rule(self) -> &'static str {
        match self {
            Split::None => "",
            Split::Lines => "one per line (`,` and `#` are part of a value)",
            Split::LinesWithComments => "one per line (`#` starts a comment)",
            Split::CommasOrLines => "comma or newline separated (`#` starts a comment)",
        }
    }

    /// Cuts `s` into values by this rule.
    pub(crate) fn apply(self, s: &str) -> Vec<String> {
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
        "Repository to bump: owner/name, an https:// URL or a local path (not ssh); empty = the current checkout",
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
    // The wait for the deploy (src/deploy/): after the push.
    input(
        "argocd-server",
        "",
        "Argo CD API server URL (https://argocd.example.com): after the push, ask it to refresh the Applications and wait until they run this commit, healthy",
    ),
    secret(
        "argocd-token",
        "Argo CD API token whose account may `get` the Applications (RBAC `applications, get`)",
    ),
    list(
        "argocd-applications",
        "",
        Split::CommasOrLines,
        "Argo CD Applications to wait on (NAME or NAMESPACE/NAME), comma or newline separated (`#` starts a comment)",
    ),
    input(
        "argocd-selector",
        "",
        "Instead of argocd-applications: a label selector for the Applications to wait on (e.g. app.kubernetes.io/part-of=shop)",
    ),
    input(
        "argocd-refresh",
        "normal",
        "How to nudge Argo CD right after the push: normal (re-read git), hard (also drop the manifest cache) or none (wait for its next poll)",
    ),
    list(
        "deploy-statuses",
        "",
        Split::CommasOrLines,
        "Commit status contexts / check run names to wait on, `*` as wildcard (Flux: kustomization/NAME/*), comma or newline separated (`#` starts a comment); uses `token`",
    ),
    input(
        "deploy-timeout",
        "5m",
        "How long to wait for the deploy after the push (added to `timeout`); then the step fails naming the last state seen",
    ),
    input(
        "deploy-poll-interval",
        "5s",
        "How often to ask Argo CD / GitHub while waiting for the deploy",
    ),
    input(
        "deploy-merge-timeout",
        "",
        "Pull-request mode: wait up to this long for the pull request to be merged (auto-merge, a quick review), then for the deploy of the merge commit; empty = pull-request mode does not wait",
    ),
];

/// Raw input values by name, before validation. Empty values count as unset,
/// as in Actions, where an unset input arrives as an empty string.
#[derive(Debug, Default, Clone)]
pub struct RawInputs {
    values: BTreeMap<&'static str, String>,
    /// Names set that are not in [`INPUTS`]: a typo in a caller, reported
    /// by [`super::Config::from_raw`] rather than silently dropped.
    unknown: Vec<String>,
}

impl RawInputs {
    /// Reads `INPUT_<NAME>` variables the way the runner sets them
    /// (uppercase, dashes kept); `INPUT_<NAME_WITH_UNDERSCORES>` also works
    /// for shells that cannot export dashes.
    pub fn from_env() -> Self {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
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

    /// Sets a value; flags call this after `from_env` so they win. A name
    /// that is no input is remembered and refused by validation.
    pub fn set(&mut self, name: &str, value: String) {
        match INPUTS.iter().find(|i| i.name == name) {
            Some(i) => {
                if i.secret {
                    crate::actions::mask(&value);
                }
                self.values.insert(i.name, value);
            }
            None => self.unknown.push(name.to_string()),
        }
    }

    /// The first name set that is no input.
    pub(super) fn check_names(&self) -> Result<(), ConfigError> {
        match self.unknown.first() {
            Some(name) => Err(ConfigError::Unknown { name: name.clone() }),
            None => Ok(()),
        }
    }

    /// The trimmed value, or the input's default when unset or empty.
    pub(crate) fn get(&self, name: &'static str) -> &str {
        let default = INPUTS
            .iter()
            .find(|i| i.name == name)
            .map_or("", |i| i.default);
        match self.values.get(name).map(|v| v.trim()) {
            Some(v) if !v.is_empty() => v,
            _ => default,
        }
    }

    pub(super) fn optional(&self, name: &'static str) -> Option<String> {
        Some(self.get(name))
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    }

    pub(super) fn boolean(&self, name: &'static str) -> Result<bool, ConfigError> {
        parse_bool(self.get(name)).ok_or_else(|| ConfigError::Invalid {
            input: name,
            value: self.get(name).to_string(),
            why: "expected true or false (also True/TRUE/False/FALSE)".into(),
        })
    }

    pub(super) fn duration(&self, name: &'static str) -> Result<Duration, ConfigError> {
        parse_duration(self.get(name)).map_err(|why| ConfigError::Invalid {
            input: name,
            value: self.get(name).to_string(),
            why,
        })
    }

    /// The value cut into values by the input's [`Split`] rule.
    pub(super) fn list(&self, name: &'static str) -> Vec<String> {
        let split = INPUTS
            .iter()
            .find(|i| i.name == name)
            .map_or(Split::CommasOrLines, |i| i.split);
        split.apply(self.get(name))
    }

    /// A secret input, when set (masked when it was set).
    pub(super) fn secret(&self, name: &'static str) -> Option<Secret> {
        self.optional(name).map(Secret::new)
    }
}
