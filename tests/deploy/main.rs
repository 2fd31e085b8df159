//! The wait for the deploy, end to end: the binary bumps a real bare
//! repository, nudges a local Argo CD stand-in that polls that repository
//! like the application controller, and waits for the Application to run
//! the pushed commit, healthy — or fails with Argo CD's own words.

mod server;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use gitops_bump::actions::files::parse_delimited;

use server::{AppSpec, FakeArgoCd, NO_ACCESS_TOKEN, TOKEN};
use test_support::git::{commit_all_and_push, git, init_bare};

const BIN: &str = env!("CARGO_BIN_EXE_gitops-bump");
const KUSTOMIZATION: &str = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - deployment.yaml\nimages:\n  - name: ghcr.io/org/app\n    newTag: v1\n";

/// A GitOps repository (a bare remote seeded with overlays/dev) and a
/// work directory to run in.
pub struct Site {
    pub dir: tempfile::TempDir,
    pub bare: PathBuf,
}

impl Site {
    pub fn seeded() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let bare = dir.path().join("gitops.git");
        init_bare(&bare);
        let seed = dir.path().join("seed");
        git(
            dir.path(),
            &[
                "clone",
                "-q",
                bare.to_str().unwrap(),
                seed.to_str().unwrap(),
            ],
        );
        std::fs::create_dir_all(seed.join("overlays/dev")).unwrap();
        std::fs::write(seed.join("overlays/dev/kustomization.yaml"), KUSTOMIZATION).unwrap();
        std::fs::write(
            seed.join("overlays/dev/deployment.yaml"),
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\n",
        )
        .unwrap();
        commit_all_and_push(&seed, "initial");
        std::fs::create_dir_all(dir.path().join("work")).unwrap();
        Site { dir, bare }
    }

    pub fn tip(&self) -> String {
        git(&self.bare, &["rev-parse", "refs/heads/main"])
    }

    /// Pushes a commit changing `file` in a fresh clone; returns its id.
    pub fn push_commit(&self, name: &str, file: &str, text: &str) -> String {
        let clone = self.dir.path().join(name);
        git(
            self.dir.path(),
            &[
                "clone",
                "-q",
                self.bare.to_str().unwrap(),
                clone.to_str().unwrap(),
            ],
        );
        std::fs::write(clone.join(file), text).unwrap();
        commit_all_and_push(&clone, name);
        self.tip()
    }
}

pub struct Run {
    pub output: Output,
    pub outputs: BTreeMap<String, String>,
    pub summary: String,
    pub took: Duration,
}

impl Run {
    pub fn get(&self, key: &str) -> &str {
        self.outputs.get(key).map_or("", String::as_str)
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    pub fn log(&self) -> String {
        format!(
            "exit {:?} after {:?}\nstdout:\n{}\nstderr:\n{}\noutputs: {:?}",
            self.output.status.code(),
            self.took,
            String::from_utf8_lossy(&self.output.stdout),
            self.stderr(),
            self.outputs
        )
    }

    /// The secret appears nowhere but in the runner's `::add-mask::`
    /// command: not in stdout, stderr, the outputs or the summary.
    pub fn assert_never_shows(&self, secret: &str) {
        let stdout = String::from_utf8_lossy(&self.output.stdout);
        let shown: Vec<&str> = stdout
            .lines()
            .filter(|l| !l.starts_with("::add-mask::"))
            .collect();
        let everything = format!(
            "{}\n{}\n{:?}\n{}",
            shown.join("\n"),
            self.stderr(),
            self.outputs,
            self.summary
        );
        assert!(
            !everything.contains(secret),
            "secret shown:\n{}",
            self.log()
        );
        assert!(
            stdout.contains(&format!("::add-mask::{secret}")),
            "secret not masked:\n{}",
            self.log()
        );
    }
}

/// Runs `gitops-bump ARGS` the way the action does, in `site`.
pub fn run_in(site: &Site, args: &[&str], inputs: &[(&str, &str)]) -> Run {
    let work = site.dir.path().join("work");
    let output_file = work.join("github_output");
    let summary_file = work.join("github_step_summary");
    std::fs::write(&output_file, "").unwrap();
    std::fs::write(&summary_file, "").unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(&work)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", &work)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &output_file)
        .env("GITHUB_STEP_SUMMARY", &summary_file)
        .env("GITHUB_REPOSITORY", "org/app")
        .env("GITHUB_EVENT_NAME", "push")
        .env("GITHUB_RUN_ID", "77")
        .env("GITHUB_RUN_NUMBER", "12")
        .env("GITHUB_RUN_ATTEMPT", "1");
    for (k, v) in inputs {
        cmd.env(format!("INPUT_{}", k.to_uppercase()), v);
    }
    let started = Instant::now();
    let output = cmd.output().unwrap();
    let took = started.elapsed();
    let outputs = parse_delimited(&std::fs::read_to_string(&output_file).unwrap())
        .into_iter()
        .collect();
    Run {
        output,
        outputs,
        summary: std::fs::read_to_string(&summary_file).unwrap(),
        took,
    }
}

/// `gitops-bump run`: bump app to v2 in overlays/dev, push, then wait on
/// the Argo CD stand-in with `extra` inputs.
pub fn bump_and_wait(site: &Site, argo: &FakeArgoCd, extra: &[(&str, &str)]) -> Run {
    let bare = site.bare.to_str().unwrap().to_string();
    let mut inputs: Vec<(&str, &str)> = vec![
        ("images", "app=ghcr.io/org/app:v2"),
        ("paths", "overlays/dev"),
        ("repository", &bare),
        ("verify", "false"),
        ("argocd-server", &argo.url),
        ("argocd-token", TOKEN),
        ("argocd-applications", "guestbook"),
        ("deploy-timeout", "20s"),
        ("deploy-poll-interval", "100ms"),
    ];
    for (k, v) in extra {
        inputs.retain(|(n, _)| n != k);
        inputs.push((k, v));
    }
    run_in(site, &["run"], &inputs)
}

fn argo(site: &Site, poll: Duration, apps: &[AppSpec]) -> FakeArgoCd {
    FakeArgoCd::start(&site.bare, poll, apps)
}

#[test]
fn the_nudge_makes_argo_cd_deploy_the_commit_and_the_step_reports_it_healthy() {
    let site = Site::seeded();
    // Argo CD would not look at git for ten minutes on its own.
    let argo = argo(
        &site,
        Duration::from_secs(600),
        &[AppSpec::new("guestbook", "healthy")],
    );
    let run = bump_and_wait(&site, &argo, &[]);
    assert!(run.output.status.success(), "{}", run.log());
    let sha = site.tip();
    assert_eq!(run.get("commit-sha"), sha, "{}", run.log());
    assert_eq!(run.get("deployed"), "true");
    assert_eq!(run.get("health"), "Healthy");
    assert_eq!(run.get("synced-revision"), sha);
    let synced: f64 = run.get("seconds-to-synced").parse().unwrap();
    let healthy: f64 = run.get("seconds-to-healthy").parse().unwrap();
    assert!(synced <= healthy && healthy < 10.0, "{}", run.log());
    let refreshes = argo.refreshes();
    assert_eq!(refreshes.len(), 1, "{refreshes:?}");
    assert_eq!(refreshes[0]["type"], "normal");
    assert_eq!(argo.state()["noticed"]["guestbook"][0]["by"], "refresh");
    let stdout = String::from_utf8_lossy(&run.output.stdout);
    assert!(
        stdout.contains("::group::Wait for the deploy of "),
        "{}",
        run.log()
    );
    assert!(
        run.stderr()
            .contains("Application guestbook: asked Argo CD to refresh")
    );
    assert!(run.summary.contains("#### Deploy"), "{}", run.summary);
    assert!(
        run.summary.contains("| true | `Healthy` |"),
        "{}",
        run.summary
    );
    run.assert_never_shows(TOKEN);
}

#[test]
fn without_the_nudge_the_old_revision_is_not_taken_for_ours() {
    let site = Site::seeded();
    let argo = argo(
        &site,
        Duration::from_millis(1500),
        &[AppSpec::new("guestbook", "healthy")],
    );
    let run = bump_and_wait(&site, &argo, &[("argocd-refresh", "none")]);
    assert!(run.output.status.success(), "{}", run.log());
    // Synced and Healthy at the previous commit first: not ours.
    assert!(run.stderr().contains("not our commit"), "{}", run.log());
    assert_eq!(run.get("deployed"), "true");
    assert_eq!(run.get("synced-revision"), site.tip());
    assert!(argo.refreshes().is_empty());
    assert_eq!(argo.state()["noticed"]["guestbook"][0]["by"], "poll");
}

#[test]
fn degraded_fails_the_step_with_the_apps_message_and_unhealthy_resources() {
    let site = Site::seeded();
    let argo = argo(
        &site,
        Duration::from_secs(600),
        &[AppSpec::new("guestbook", "degraded")],
    );
    let run = bump_and_wait(&site, &argo, &[]);
    assert_eq!(run.output.status.code(), Some(1), "{}", run.log());
    let err = run.stderr();
    let short = &site.tip()[..12];
    assert!(
        err.contains(&format!(
            "error: Application guestbook: health Degraded for commit {short}"
        )),
        "{}",
        run.log()
    );
    assert!(
        err.contains(
            "Deployment dev/app (Degraded): Deployment \"app\" exceeded its progress deadline"
        ),
        "{}",
        run.log()
    );
    assert!(err.contains("hint: the commit is pushed"), "{}", run.log());
    // The bump's outputs are still there: the commit is on the branch.
    assert_eq!(run.get("commit-sha"), site.tip());
    assert_eq!(run.get("changed"), "true");
    assert_eq!(run.get("deployed"), "false");
    assert_eq!(run.get("health"), "Degraded");
    assert!(
        run.summary.contains("| false | `Degraded` |"),
        "{}",
        run.summary
    );
    run.assert_never_shows(TOKEN);
}

#[test]
fn a_failed_sync_fails_the_step_naming_the_resource_argo_cd_could_not_apply() {
    let site = Site::seeded();
    let argo = argo(
        &site,
        Duration::from_secs(600),
        &[AppSpec::new("guestbook", "sync_failed")],
    );
    let run = bump_and_wait(&site, &argo, &[]);
    assert_eq!(run.output.status.code(), Some(1), "{}", run.log());
    let err = run.stderr();
    assert!(
        err.contains("Application guestbook: sync Failed for commit"),
        "{}",
        run.log()
    );
    assert!(
        err.contains("one or more objects failed to apply"),
        "{}",
        run.log()
    );
    assert!(
        err.contains("Deployment dev/app: Deployment.apps \"app\" is invalid"),
        "{}",
        run.log()
    );
    assert_eq!(run.get("deployed"), "false");
    assert_eq!(run.get("commit-sha"), site.tip());
}

#[test]
fn a_timeout_names_the_last_state_seen() {
    let site = Site::seeded();
    let argo = argo(
        &site,
        Duration::from_secs(600),
        &[AppSpec::new("guestbook", "progressing")],
    );
    let run = bump_and_wait(&site, &argo, &[("deploy-timeout", "2s")]);
    assert_eq!(run.output.status.code(), Some(1), "{}", run.log());
    let short = &site.tip()[..12];
    let err = run.stderr();
    assert!(
        err.contains(&format!(
            "commit {short} was not deployed within 2 s (input `deploy-timeout`); last seen: Application guestbook: sync Synced at {short}, health Progressing"
        )),
        "{}",
        run.log()
    );
    assert!(err.contains("raise `deploy-timeout`"), "{}", run.log());
    assert!(run.took < Duration::from_secs(15), "{}", run.log());
    assert_eq!(run.get("deployed"), "false");
    assert_eq!(run.get("seconds-to-synced"), run.get("seconds-to-synced"));
    assert!(!run.get("seconds-to-synced").is_empty(), "{}", run.log());
    assert_eq!(run.get("seconds-to-healthy"), "");
}

#[test]
fn a_rejected_token_says_how_to_get_one_and_is_never_printed() {
    let site = Site::seeded();
    let argo = argo(
        &site,
        Duration::from_secs(600),
        &[AppSpec::new("guestbook", "healthy")],
    );
    let wrong = "argocd-expired-token-c0ffee42";
    let run = bump_and_wait(&site, &argo, &[("argocd-token", wrong)]);
    assert_eq!(run.output.status.code(), Some(1), "{}", run.log());
    let err = run.stderr();
    assert!(
        err.contains("rejected the token (401): invalid session: token signature is invalid"),
        "{}",
        run.log()
    );
    assert!(
        err.contains("argocd account generate-token"),
        "{}",
        run.log()
    );
    // Pushed all the same, and said so in the outputs.
    assert_eq!(run.get("commit-sha"), site.tip());
    assert_eq!(run.get("deployed"), "false");
    run.assert_never_shows(wrong);
}

#[test]
fn forbidden_and_unknown_applications_get_the_rbac_hint() {
    let cases = [
        (NO_ACCESS_TOKEN, "guestbook"),
        // Argo CD answers 403 for an Application that does not exist.
        (TOKEN, "guestbok"),
    ];
    for (token, app) in cases {
        let site = Site::seeded();
        let argo = argo(
            &site,
            Duration::from_secs(600),
            &[AppSpec::new("guestbook", "healthy")],
        );
        let run = bump_and_wait(
            &site,
            &argo,
            &[("argocd-token", token), ("argocd-applications", app)],
        );
        assert_eq!(run.output.status.code(), Some(1), "{}", run.log());
        let err = run.stderr();
        assert!(
            err.contains(&format!(
                "refreshing Application {app}: Argo CD answered 403: permission denied"
            )),
            "{}",
            run.log()
        );
        assert!(err.contains("`applications, get`"), "{}", run.log());
        assert!(err.contains("403, not 404, for an Application that does not exist"));
        run.assert_never_shows(token);
    }
}

#[test]
fn a_label_selector_waits_on_every_application_it_matches() {
    let site = Site::seeded();
    let argo = argo(
        &site,
        Duration::from_secs(600),
        &[
            AppSpec::new("guestbook", "healthy"),
            AppSpec::new("cart", "healthy"),
            AppSpec {
                name: "other",
                scenario: "degraded",
                labels: serde_json::json!({"app.kubernetes.io/part-of": "billing"}),
            },
        ],
    );
    let run = bump_and_wait(
        &site,
        &argo,
        &[
            ("argocd-applications", ""),
            ("argocd-selector", "app.kubernetes.io/part-of=shop"),
        ],
    );
    assert!(run.output.status.success(), "{}", run.log());
    assert_eq!(run.get("deployed"), "true");
    let mut refreshed: Vec<String> = argo
        .refreshes()
        .iter()
        .map(|r| r["app"].as_str().unwrap().to_string())
        .collect();
    refreshed.sort();
    assert_eq!(refreshed, ["cart", "guestbook"]);
    assert!(
        run.summary.contains("`Application cart`"),
        "{}",
        run.summary
    );
    assert!(
        run.summary.contains("`Application guestbook`"),
        "{}",
        run.summary
    );
}

#[test]
fn wait_alone_accepts_a_newer_commit_that_contains_ours() {
    let site = Site::seeded();
    let argo = argo(
        &site,
        Duration::from_secs(600),
        &[AppSpec::new("guestbook", "healthy")],
    );
    let ours = site.push_commit(
        "ours",
        "overlays/dev/kustomization.yaml",
        &KUSTOMIZATION.replace("v1", "v2"),
    );
    // Another pipeline lands on top before Argo CD looks.
    let newer = site.push_commit("newer", "README.md", "# gitops\n");
    let bare = site.bare.to_str().unwrap().to_string();
    let run = run_in(
        &site,
        &["wait", "--commit", &ours],
        &[
            ("repository", &bare),
            ("argocd-server", &argo.url),
            ("argocd-token", TOKEN),
            ("argocd-applications", "guestbook"),
            ("deploy-timeout", "20s"),
            ("deploy-poll-interval", "100ms"),
        ],
    );
    assert!(run.output.status.success(), "{}", run.log());
    assert_eq!(run.get("deployed"), "true");
    assert_eq!(run.get("synced-revision"), newer);
    run.assert_never_shows(TOKEN);
}

#[test]
fn an_unrelated_revision_is_not_taken_for_ours() {
    let site = Site::seeded();
    let argo = argo(
        &site,
        Duration::from_secs(600),
        &[AppSpec::new("guestbook", "healthy")],
    );
    // A commit that never reached the branch (ours, say, lost and never pushed).
    let tip = site.tip();
    let bare = site.bare.to_str().unwrap().to_string();
    let run = run_in(
        &site,
        &["wait", "--commit", &"ab".repeat(20)],
        &[
            ("repository", &bare),
            ("argocd-server", &argo.url),
            ("argocd-token", TOKEN),
            ("argocd-applications", "guestbook"),
            ("deploy-timeout", "1s"),
            ("deploy-poll-interval", "100ms"),
        ],
    );
    assert_eq!(run.output.status.code(), Some(1), "{}", run.log());
    assert!(
        run.stderr()
            .contains(&format!("sync Synced at {}, health Healthy, operation Succeeded, not our commit abababababab yet", &tip[..12])),
        "{}",
        run.log()
    );
}

#[test]
fn bad_wait_inputs_fail_before_anything_is_pushed() {
    let site = Site::seeded();
    let before = site.tip();
    let argo = argo(
        &site,
        Duration::from_secs(600),
        &[AppSpec::new("guestbook", "healthy")],
    );
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("argocd-server", "http://argocd.example.com")],
            "error: input `argocd-server` has an invalid value \"http://argocd.example.com\": the token would travel in clear",
        ),
        (
            &[("argocd-token", "")],
            "error: input `argocd-token` is required",
        ),
        (
            &[("argocd-selector", "a=b")],
            "error: inputs `argocd-applications` and `argocd-selector` conflict",
        ),
    ];
    for (inputs, want) in cases {
        let run = bump_and_wait(&site, &argo, inputs);
        assert_eq!(run.output.status.code(), Some(2), "{}", run.log());
        assert!(run.stderr().contains(want), "{want}\n{}", run.log());
        assert_eq!(site.tip(), before, "pushed despite bad input");
    }
    assert!(argo.refreshes().is_empty());
}

#[test]
fn a_dry_run_says_it_does_not_wait() {
    let site = Site::seeded();
    let argo = argo(
        &site,
        Duration::from_secs(600),
        &[AppSpec::new("guestbook", "healthy")],
    );
    let run = bump_and_wait(&site, &argo, &[("dry-run", "true")]);
    assert!(run.output.status.success(), "{}", run.log());
    assert!(
        run.stderr()
            .contains("deploy: not waited on: dry run, nothing was pushed"),
        "{}",
        run.log()
    );
    assert_eq!(run.get("deployed"), "");
    assert_eq!(run.get("health"), "skipped");
    assert!(argo.refreshes().is_empty());
}
