//! Secrets and untrusted triggers, end to end through `gitops-bump run`.
//!
//! Secrets: recognisable fake credentials (git token over smart HTTP, a
//! registry password over Basic auth, the runner's OIDC request token, the
//! OIDC JWT, the STS and impersonated Google tokens) go through real local
//! servers; none may appear in stdout (except in `::add-mask::`, which must
//! come before any other line naming it), stderr, `GITHUB_OUTPUT` (unless
//! `token-format: access_token` asked for it), `GITHUB_STEP_SUMMARY`,
//! `.git/config`, the reflog, or any file left in the work tree, the remote
//! or the temp directories.
//!
//! Untrusted triggers: `pull_request_target` and fork pull requests refuse
//! to push unless `allow-untrusted-events: true`, and leave the remote and
//! the checkout untouched.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use test_support::fixture::{GOOD_MANIFEST, Repo};
use test_support::git::walk_no_follow;
use test_support::git_http::{GIT_TOKEN, GitHttp};
use test_support::github::{Answer, PullRequestApi};
use test_support::google;
use test_support::registry::{Auth, PASSWORD, Registry, USER};
use test_support::{git, run_bin};

const BIN: &str = env!("CARGO_BIN_EXE_gitops-bump");

const WIP: &str = "projects/123456/locations/global/workloadIdentityPools/gh/providers/gh";

/// The files a run may write to, and where temp files would land.
struct Runner {
    dir: tempfile::TempDir,
}

impl Runner {
    fn new() -> Runner {
        let runner = Runner {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        for d in ["tmp", "runner-temp", "cwd"] {
            std::fs::create_dir_all(runner.dir.path().join(d)).expect("mkdir");
        }
        runner
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The runner's environment: Actions on, output/summary files, temp dirs.
    fn env(&self) -> Vec<(String, String)> {
        let p = |n: &str| self.path(n).to_string_lossy().into_owned();
        vec![
            ("GITHUB_ACTIONS".into(), "true".into()),
            ("GITHUB_OUTPUT".into(), p("output.txt")),
            ("GITHUB_STEP_SUMMARY".into(), p("summary.md")),
            ("RUNNER_TEMP".into(), p("runner-temp")),
            ("TMPDIR".into(), p("tmp")),
            ("GITHUB_REPOSITORY".into(), "org/gitops".into()),
            (
                "GITHUB_SERVER_URL".into(),
                "https://git.example.test".into(),
            ),
        ]
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_default()
    }
}

fn inputs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (format!("INPUT_{}", k.to_uppercase()), v.to_string()))
        .collect()
}

/// Every file under `root` (links not followed) that contains `secret`.
fn files_containing(root: &Path, secret: &str) -> Vec<String> {
    walk_no_follow(root)
        .into_iter()
        .filter(|(path, meta)| {
            meta.as_ref().is_ok_and(std::fs::Metadata::is_file)
                && std::fs::read(path)
                    .is_ok_and(|bytes| bytes.windows(secret.len()).any(|w| w == secret.as_bytes()))
        })
        .map(|(path, _)| path.display().to_string())
        .collect()
}

/// Asserts that no secret leaked from a run. `exposed` may appear in
/// `GITHUB_OUTPUT` (the requested access token).
fn assert_no_leak(
    what: &str,
    out: &Output,
    runner: &Runner,
    secrets: &[String],
    exposed: Option<&str>,
    trees: &[&Path],
) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for secret in secrets {
        let mask = format!("::add-mask::{secret}");
        let mentions: Vec<&str> = stdout
            .lines()
            .filter(|l| l.contains(secret.as_str()))
            .collect();
        if let Some(first) = mentions.first() {
            assert_eq!(*first, mask, "{what}: the mask comes first:\n{stdout}");
        }
        assert!(
            mentions.iter().all(|l| *l == mask),
            "{what}: {secret} in stdout:\n{stdout}"
        );
        assert!(
            !stderr.contains(secret.as_str()),
            "{what}: {secret} in stderr:\n{stderr}"
        );
        let output = runner.read("output.txt");
        if exposed != Some(secret.as_str()) {
            assert!(
                !output.contains(secret.as_str()),
                "{what}: {secret} in GITHUB_OUTPUT"
            );
        }
        assert!(
            !runner.read("summary.md").contains(secret.as_str()),
            "{what}: {secret} in the summary"
        );
        for tree in trees.iter().copied().chain([
            runner.path("tmp").as_path(),
            runner.path("runner-temp").as_path(),
            runner.path("cwd").as_path(),
        ]) {
            let hits: Vec<String> = files_containing(tree, secret)
                .into_iter()
                .filter(|f| !(exposed == Some(secret.as_str()) && f.ends_with("output.txt")))
                // Inside Actions the credentials file for later steps is
                // written by default, as google-github-actions/auth does: it
                // holds the runner's request token (never a Google token),
                // 0600 in RUNNER_TEMP, removed by the post step.
                .filter(|f| {
                    let f = std::path::Path::new(f);
                    !(secret.as_str() == google::REQUEST_TOKEN
                        && f.parent() == Some(runner.path("runner-temp").as_path())
                        && f.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n.starts_with("gitops-bump-creds-")))
                })
                .collect();
            assert!(hits.is_empty(), "{what}: {secret} written to {hits:?}");
        }
    }
}

/// A registry with Basic auth holding `team/app:v1` and `:v2`, and a repository
/// whose `apps/reg.yaml` deploys `team/app:v0` from it, served over smart
/// HTTP with a token.
struct World {
    registry: Registry,
    repo: Repo,
    git: GitHttp,
}

impl World {
    fn start() -> World {
        let registry = Registry::start(Auth::Htpasswd);
        registry.push("single", "team/app:v1", &[]);
        registry.push("multi", "team/app:v2", &[]);
        let manifest = GOOD_MANIFEST.replace(
            "ghcr.io/org/app:v0",
            &format!("{}/team/app:v0", registry.addr),
        );
        let repo = Repo::seeded(&[("apps/reg.yaml".into(), manifest.into_bytes())]);
        git(&repo.remote(), &["config", "http.receivepack", "true"]);
        let git = GitHttp::start(repo.dir.path());
        World {
            registry,
            repo,
            git,
        }
    }

    fn image(&self, tag: &str) -> String {
        format!("{}/team/app:{tag}", self.registry.addr)
    }

    fn remote_text(&self, rev_path: &str) -> String {
        git(&self.repo.remote(), &["show", rev_path])
    }
}

/// (what, extra inputs, run in the checkout?, exposes the access token?)
type Scenario = (&'static str, Vec<(&'static str, String)>, bool, bool);

#[test]
fn credentials_never_leak_from_a_full_run() {
    let world = World::start();
    let google = google::FakeGoogle::start();
    let google_env = [
        (
            "ACTIONS_ID_TOKEN_REQUEST_URL".to_string(),
            google.url("/oidc?api-version=2.0"),
        ),
        (
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN".to_string(),
            google::REQUEST_TOKEN.to_string(),
        ),
        ("GITOPS_BUMP_STS_URL".to_string(), google.url("/v1/token")),
        (
            "GITOPS_BUMP_IAM_CREDENTIALS_URL".to_string(),
            google.url("/v1"),
        ),
    ];
    // The fake API records request headers (the token too) in a
    // directory of its own, out of the trees searched for leaks.
    let api = PullRequestApi::start(Answer::Normally);
    let remote_url = world.git.url("remote.git");
    let insecure = world.registry.addr.clone();
    let cases: Vec<Scenario> = vec![
        (
            "push to a fresh clone over HTTP",
            vec![("repository", remote_url.clone())],
            false,
            false,
        ),
        ("push from the checkout", vec![], true, false),
        (
            "pull request",
            vec![
                ("repository", remote_url.clone()),
                ("mode", "pull-request".into()),
            ],
            false,
            false,
        ),
        (
            "Google auth, impersonation, token output",
            vec![
                ("repository", remote_url.clone()),
                ("workload-identity-provider", WIP.into()),
                (
                    "service-account",
                    "deployer@proj.iam.gserviceaccount.com".into(),
                ),
                ("token-format", "access_token".into()),
            ],
            false,
            true,
        ),
        (
            "Google auth without impersonation",
            vec![
                ("repository", remote_url.clone()),
                ("workload-identity-provider", WIP.into()),
            ],
            false,
            false,
        ),
    ];
    for (n, (what, extra, in_checkout, exposes)) in cases.into_iter().enumerate() {
        let runner = Runner::new();
        let tag = if n % 2 == 0 { "v1" } else { "v2" };
        // Alternate so every case has something to push.
        let image = world.image(tag);
        let mut pairs: Vec<(&str, String)> = vec![
            ("images", image.clone()),
            ("paths", "apps/reg.yaml".into()),
            ("token", GIT_TOKEN.into()),
            ("insecure-git-origins", world.git.url("")),
            ("registry-username", USER.into()),
            ("registry-password", PASSWORD.into()),
            ("insecure-registries", insecure.clone()),
        ];
        pairs.extend(extra);
        let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut env = runner.env();
        env.extend(inputs(&borrowed));
        env.extend(google_env.iter().cloned());
        env.push(("GITHUB_API_URL".into(), api.url()));
        if in_checkout {
            // The checkout's origin is the HTTP remote, as actions/checkout leaves it
            // (without credentials in the URL).
            git(
                &world.repo.wt(),
                &["remote", "set-url", "origin", &remote_url],
            );
            git(
                &world.repo.wt(),
                &[
                    "fetch",
                    "-q",
                    &world.repo.remote().display().to_string(),
                    "main",
                ],
            );
            git(&world.repo.wt(), &["reset", "-q", "--hard", "FETCH_HEAD"]);
        }
        let cwd = if in_checkout {
            world.repo.wt()
        } else {
            runner.path("cwd")
        };
        let out = run_bin(BIN, &cwd, &["run"], &env, Duration::from_secs(120));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{what}: {stderr}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        for input_secret in [GIT_TOKEN, PASSWORD] {
            assert!(
                stdout.contains(&format!("::add-mask::{input_secret}")),
                "{what}: secret inputs are masked"
            );
        }
        let mut secrets = vec![GIT_TOKEN.to_string(), PASSWORD.to_string()];
        secrets.extend(google.issued_secrets());
        let access_token = google::IMPERSONATED_TOKEN;
        if exposes {
            assert!(
                runner.read("output.txt").contains(access_token),
                "{what}: the requested access-token output"
            );
        }
        assert_no_leak(
            what,
            &out,
            &runner,
            &secrets,
            exposes.then_some(access_token),
            &[world.repo.dir.path()],
        );
        // The run did what it claims: the pushed manifest pins a digest.
        let branch = if what == "pull request" {
            git(
                &world.repo.remote(),
                &[
                    "for-each-ref",
                    "--format=%(refname:short)",
                    "refs/heads/gitops-bump",
                ],
            )
            .lines()
            .next()
            .unwrap_or("main")
            .to_string()
        } else {
            "main".to_string()
        };
        let pushed = world.remote_text(&format!("{branch}:apps/reg.yaml"));
        assert!(
            pushed.contains(&format!("{image}@sha256:")),
            "{what}: {pushed}"
        );
        if what == "pull request" {
            // Later cases push to main: bring main to the same state.
            git(
                &world.repo.remote(),
                &[
                    "update-ref",
                    "refs/heads/main",
                    &format!("refs/heads/{branch}"),
                ],
            );
        }
    }
    // The checkout's config and reflog never saw the token.
    for file in [".git/config", ".git/logs/HEAD", ".git/logs/refs/heads/main"] {
        let text = std::fs::read_to_string(world.repo.wt().join(file)).unwrap_or_default();
        assert!(!text.contains(GIT_TOKEN), "{file}");
    }
}

/// (what, event name, payload, allowed, pushes)
fn trigger_cases() -> Vec<(
    &'static str,
    &'static str,
    Option<serde_json::Value>,
    bool,
    bool,
)> {
    let pr = |head: &str, fork: bool| {
        serde_json::json!({
            "pull_request": {
                "head": {"repo": {"full_name": head, "fork": fork}},
                "base": {"repo": {"full_name": "org/gitops", "fork": false}},
            }
        })
    };
    vec![
        (
            "pull_request_target refuses",
            "pull_request_target",
            Some(pr("org/gitops", false)),
            false,
            false,
        ),
        (
            "pull_request_target allowed",
            "pull_request_target",
            Some(pr("org/gitops", false)),
            true,
            true,
        ),
        (
            "fork pull_request refuses",
            "pull_request",
            Some(pr("mallory/gitops", true)),
            false,
            false,
        ),
        (
            "fork pull_request allowed",
            "pull_request",
            Some(pr("mallory/gitops", true)),
            true,
            true,
        ),
        (
            "pull_request without a payload refuses",
            "pull_request",
            None,
            false,
            false,
        ),
        (
            "same-repository pull_request pushes",
            "pull_request",
            Some(pr("org/gitops", false)),
            false,
            true,
        ),
        ("push pushes", "push", None, false, true),
    ]
}

#[test]
fn untrusted_triggers_refuse_to_push_unless_allowed() {
    for (n, (what, event, payload, allowed, pushes)) in trigger_cases().into_iter().enumerate() {
        let repo = Repo::seeded(&[]);
        let runner = Runner::new();
        let mut env = runner.env();
        env.push(("GITHUB_EVENT_NAME".into(), event.into()));
        if let Some(p) = payload {
            let path = runner.path("event.json");
            std::fs::write(&path, p.to_string()).expect("write event");
            env.push((
                "GITHUB_EVENT_PATH".into(),
                path.to_string_lossy().into_owned(),
            ));
        }
        let tag = format!("t{n}");
        let image = format!("ghcr.io/org/app:{tag}");
        let allow = allowed.to_string();
        env.extend(inputs(&[
            ("images", &image),
            ("verify", "false"),
            ("paths", "apps"),
            ("token", GIT_TOKEN),
            ("allow-untrusted-events", &allow),
        ]));
        let before = repo.snapshot();
        let out = run_bin(BIN, &repo.wt(), &["run"], &env, Duration::from_secs(60));
        let stderr = String::from_utf8_lossy(&out.stderr);
        let pushed = git(&repo.remote(), &["show", "main:apps/app.yaml"]).contains(&image);
        if pushes {
            assert_eq!(out.status.code(), Some(0), "{what}: {stderr}");
            assert!(pushed, "{what}");
        } else {
            assert_ne!(out.status.code(), Some(0), "{what}: must refuse");
            assert!(stderr.contains(event), "{what}: names the event: {stderr}");
            assert!(
                stderr.contains("allow-untrusted-events"),
                "{what}: says how to allow it: {stderr}"
            );
            assert!(!pushed, "{what}");
            let diff = before.diff(&repo.snapshot());
            assert!(diff.is_empty(), "{what}: changed:\n{diff}");
            assert!(runner.read("output.txt").is_empty(), "{what}: no outputs");
        }
        assert!(!stderr.contains(GIT_TOKEN), "{what}");
    }
}
