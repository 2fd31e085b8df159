//! Inputs from action `INPUT_*` variables and CLI flags, resolved into one
//! typed [`Config`] and validated once, before any network call or write.
//!
//! Every input has the same kebab-case name in `action.yml` and on the
//! command line (`commit-message` ⇔ `--commit-message`). A flag wins over
//! the environment; the table [`INPUTS`] is the single list of both.
//!
//! [`Config`] is a set of sections, one per stage, each validated by its own
//! builder: a stage's entry point takes its section ([`AuthOptions`],
//! [`VerifyOptions`], [`EditOptions`], [`WriteBackOptions`],
//! [`GuardOptions`], [`OutputOptions`], [`WaitOptions`]), never the whole.

mod auth;
mod edit;
mod guards;
mod inputs;
mod outputs;
mod parse;
mod verify;
mod wait;
mod write_back;

use std::time::Duration;

use crate::spec::SpecError;

pub use auth::{AuthOptions, GoogleAuth, TokenFormat};
pub use edit::EditOptions;
pub use guards::GuardOptions;
pub use inputs::{
    DEFAULT_AUTHOR_EMAIL, DEFAULT_AUTHOR_NAME, DEFAULT_COMMIT_MESSAGE, INPUTS, Input, RawInputs,
    Split,
};
pub(crate) use outputs::OutputOptions;
pub use verify::{REGISTRY_REQUEST_TIMEOUT, VerifyOptions, credentials_registry};
pub use wait::{AppName, ArgoTarget, Refresh, WaitOptions, WaitSite, parse_commit};
pub use write_back::{CommitVia, GitHubApp, Mode, WriteBackOptions};

/// The validated configuration of one run, in sections.
#[derive(Debug, Clone)]
pub struct Config {
    pub auth: AuthOptions,
    pub verify: VerifyOptions,
    pub edit: EditOptions,
    pub write_back: WriteBackOptions,
    pub guards: GuardOptions,
    pub outputs: OutputOptions,
    /// The wait for the deploy after the push, when asked for.
    pub wait: Option<WaitOptions>,
    /// The whole run's time limit (the wait has its own, on top).
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
    #[error(
        "unknown input `{name}`: every input is listed in action.yml and `gitops-bump run --help`"
    )]
    Unknown { name: String },
    #[error("input `images`, line {line}: {source}")]
    Spec {
        line: usize,
        #[source]
        source: SpecError,
    },
}

impl Config {
    /// A run with a provider and nothing to edit: it authenticates, leaves
    /// later steps logged in, and stops (a build job before `docker push`).
    pub(crate) fn auth_only(&self) -> bool {
        only_authenticates(&self.edit, &self.auth)
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

    /// Each section in turn; a section may read what an earlier one settled
    /// (write-back names its pull request after the images).
    fn validate(raw: &RawInputs, require_images: bool) -> Result<Config, ConfigError> {
        raw.check_names()?;
        let edit = EditOptions::from_raw(raw, require_images)?;
        let write_back = WriteBackOptions::from_raw(raw, &edit)?;
        let verify = VerifyOptions::from_raw(
            raw,
            // A SPEC naming an unparsable image is reported by the verify stage.
            edit.images
                .iter()
                .filter_map(|s| s.target_reference().ok())
                .map(|r| r.name.registry),
            edit.promote.is_some(),
        )?;
        let auth = AuthOptions::from_raw(raw, write_back.pushes())?;
        let wait = WaitOptions::from_raw(raw, &write_back)?;
        let timeout = raw.duration("timeout")?;
        if timeout.is_zero() {
            return Err(ConfigError::Invalid {
                input: "timeout",
                value: raw.get("timeout").to_string(),
                why: "must be at least 1s".into(),
            });
        }
        Ok(Config {
            guards: GuardOptions::new(&edit, &write_back),
            outputs: OutputOptions::new(&edit, &auth),
            auth,
            verify,
            edit,
            write_back,
            wait,
            timeout,
        })
    }
}

/// Nothing to edit, and a provider to authenticate with.
fn only_authenticates(edit: &EditOptions, auth: &AuthOptions) -> bool {
    edit.images.is_empty() && edit.promote.is_none() && auth.google.is_some()
}

/// How a hint tells the user to set an input: the input as a workflow
/// writes it inside Actions (`allow-no-match: true`), the flag elsewhere
/// (`--allow-no-match true`).
pub(crate) fn setting(name: &str, value: &str) -> String {
    setting_for(crate::actions::in_actions(), name, value)
}

fn setting_for(in_actions: bool, name: &str, value: &str) -> String {
    if in_actions {
        format!("`{name}: {value}`")
    } else {
        format!("`--{name} {value}`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse::{parse_bool, parse_duration};
    use std::collections::BTreeMap;
    use std::path::PathBuf;

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
                    assert_eq!(c.verify.credentials_registry.as_deref(), bound, "{extra:?}")
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
        assert_eq!(none.verify.credentials_registry, None);
        assert!(Config::from_raw(&raw(&[("images", "a:v1"), ("registry", "ghcr.io")])).is_err());
    }

    #[test]
    fn defaults_apply_to_a_minimal_config() {
        let c = Config::from_raw(&raw(&[("images", "ghcr.io/o/app:v1")])).unwrap();
        assert_eq!(c.write_back.mode, Mode::Push);
        assert_eq!(c.write_back.max_attempts, 0);
        assert_eq!(
            c.write_back.retry_deadline,
            std::time::Duration::from_secs(300)
        );
        assert!(c.verify.verify && !c.write_back.dry_run && !c.edit.allow_no_match);
        assert_eq!(c.edit.paths, vec![PathBuf::from(".")]);
        assert!(c.write_back.commit_message.contains("[skip ci]"));
        assert_eq!(c.write_back.labels, vec!["gitops-bump"]);
        let c =
            Config::from_raw(&raw(&[("images", "a:v1"), ("labels", "deploy,prod\nauto")])).unwrap();
        assert_eq!(c.write_back.labels, vec!["deploy", "prod", "auto"]);
        assert!(c.auth.google.is_none());
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
        let app = c.write_back.app.unwrap();
        assert_eq!(app.app_id, "123");
        assert_eq!(app.installation_id, Some(77));
        assert_eq!(
            app.private_key.expose(),
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"
        );
        assert_eq!(c.write_back.commit_via, CommitVia::Api);
        assert!(c.write_back.newer_wins, "on by default");
        let d = Config::from_raw(&raw(&[IMG])).unwrap();
        assert!(d.write_back.app.is_none());
        assert_eq!(d.write_back.commit_via, CommitVia::Git);
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
            let google = c.auth.google.unwrap();
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
        assert_eq!(c.auth.google.unwrap().create_credentials_file, Some(false));
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
            c.auth.google.unwrap().docker_registries,
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
        assert_eq!(c.write_back.commit_message, "from env {tag}");
        assert_eq!(c.write_back.max_attempts, 3);
        assert_eq!(
            c.write_back.mode,
            Mode::Push,
            "an empty input means the default"
        );
        r.set("max-attempts", "7".into());
        assert_eq!(Config::from_raw(&r).unwrap().write_back.max_attempts, 7);
    }

    /// A name that is no input is refused, naming it; the variables the
    /// runner sets besides ours (`INPUT_*` of an undeclared `with:` key,
    /// `GITHUB_*`) are never looked at, since only the table's names are read.
    #[test]
    fn unknown_input_names_are_an_error_and_runner_variables_are_not_read() {
        let mut r = raw(&[("images", "app:v1")]);
        r.set("max-attempt", "3".into());
        let err = Config::from_raw(&r).unwrap_err().to_string();
        assert_eq!(
            err,
            "unknown input `max-attempt`: every input is listed in action.yml and `gitops-bump run --help`"
        );
        let env = BTreeMap::from([
            ("INPUT_IMAGES".to_string(), "app:v1".to_string()),
            ("INPUT_MAX-ATTEMPT".to_string(), "3".to_string()),
            ("INPUT_UNDECLARED".to_string(), "x".to_string()),
            ("GITHUB_REPOSITORY".to_string(), "o/r".to_string()),
        ]);
        let r = RawInputs::from_lookup(|k| env.get(k).cloned());
        assert_eq!(Config::from_raw(&r).unwrap().write_back.max_attempts, 0);
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
        assert_eq!(
            c.edit.paths,
            vec![PathBuf::from("team,a"), PathBuf::from("b")]
        );
        let c = Config::from_raw(&raw(&[("images", "a:v1 # x\nb:v2")])).unwrap();
        assert_eq!(c.edit.images.len(), 2);
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
                "labels",
                "argocd-applications",
                "deploy-statuses"
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
