//! The wait for the deploy on commit statuses and check runs, as Flux's
//! notification-controller (context `kustomization/<name>/<id>`) and Argo
//! CD notifications post them, read from the fake GitHub API.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use gitops_bump::github_api::rest::Api;
use gitops_bump::secret::Secret;

use test_support::action::Step as Run;
use test_support::github::{APP_ID, FakeGitHub, Installation, READ_ONLY_TOKEN, REPO, STATIC_TOKEN};

use crate::{APP, BIN, runtime, seeded};

fn run_action(
    server: &FakeGitHub,
    dir: &std::path::Path,
    args: &[&str],
    inputs: &[(&str, &str)],
) -> Run {
    test_support::action::run_action(BIN, server, dir, args, inputs)
}

/// Posts as a deployer would (`POST /repos/org/gitops/statuses/{sha}` or
/// `/check-runs`).
fn post(server: &FakeGitHub, path: &str, body: Value) {
    let api = Api::new(&server.url);
    let (status, answer) = runtime()
        .block_on(api.call(
            "posting",
            Method::POST,
            path,
            &Secret::new(STATIC_TOKEN),
            Some(&body),
        ))
        .unwrap();
    assert_eq!(status.as_u16(), 201, "{answer}");
}

fn status(server: &FakeGitHub, sha: &str, context: &str, state: &str, description: &str) {
    post(
        server,
        &format!("/repos/org/gitops/statuses/{sha}"),
        json!({"state": state, "context": context, "description": description,
               "target_url": "https://flux.example.test/"}),
    );
}

fn wait(server: &FakeGitHub, dir: &std::path::Path, sha: &str, extra: &[(&str, &str)]) -> Run {
    let mut inputs: Vec<(&str, &str)> = vec![
        ("repository", "org/gitops"),
        ("token", STATIC_TOKEN),
        ("deploy-statuses", "kustomization/apps/*"),
        ("deploy-timeout", "10s"),
        ("deploy-poll-interval", "100ms"),
    ];
    for (k, v) in extra {
        inputs.retain(|(n, _)| n != k);
        inputs.push((k, v));
    }
    run_action(server, dir, &["wait", "--commit", sha], &inputs)
}

/// The new head of main once the bump moved it from `before`, as a
/// deployer polling the branch sees it.
fn landed_after(server: &FakeGitHub, before: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let head = server.repo.head("main");
        if head != before {
            return head;
        }
        assert!(Instant::now() < deadline, "the bump never landed");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Returns once the run has opened its pull request.
fn pull_request_opened(server: &FakeGitHub) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.state()["pulls"].as_array().is_none_or(Vec::is_empty) {
        assert!(Instant::now() < deadline, "no pull request was opened");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn assert_token_never_shown(run: &Run, token: &str) {
    let stdout = String::from_utf8_lossy(&run.output.stdout);
    let shown: Vec<&str> = stdout
        .lines()
        .filter(|l| !l.starts_with("::add-mask::"))
        .collect();
    let all = format!(
        "{}\n{}\n{:?}\n{}",
        shown.join("\n"),
        run.stderr(),
        run.outputs,
        run.summary
    );
    assert!(!all.contains(token), "token shown:\n{}", run.log());
}

#[test]
fn a_bump_waits_for_flux_to_report_the_pushed_commit_applied() {
    let server = seeded("v1.0.0");
    let before = server.repo.head("main");
    let dir = tempfile::tempdir().unwrap();
    std::thread::scope(|scope| {
        // Flux: notices the new commit, reports progress, then success.
        let flux = scope.spawn(|| {
            let head = landed_after(&server, &before);
            let context = "kustomization/apps/0c9c2e41";
            status(&server, &head, context, "pending", "Progressing");
            std::thread::sleep(Duration::from_millis(400));
            status(
                &server,
                &head,
                context,
                "success",
                "ReconciliationSucceeded",
            );
            head
        });
        let run = run_action(
            &server,
            dir.path(),
            &["run"],
            &[
                ("images", &format!("{APP}:v2.0.0")),
                ("verify", "false"),
                ("paths", "apps/prod"),
                ("repository", "org/gitops"),
                ("token", STATIC_TOKEN),
                ("deploy-statuses", "kustomization/apps/*"),
                ("deploy-timeout", "20s"),
                ("deploy-poll-interval", "100ms"),
            ],
        );
        let head = flux.join().unwrap();
        assert!(run.output.status.success(), "{}", run.log());
        assert_eq!(run.get("commit-sha"), head);
        assert_eq!(run.get("deployed"), "true");
        assert_eq!(run.get("health"), "success");
        assert_eq!(run.get("synced-revision"), head);
        assert!(
            run.stderr()
                .contains("pending: kustomization/apps/0c9c2e41"),
            "{}",
            run.log()
        );
        assert!(
            run.summary.contains("| true | `success` |"),
            "{}",
            run.summary
        );
        assert_token_never_shown(&run, STATIC_TOKEN);
    });
}

#[test]
fn a_failed_status_fails_the_wait_with_the_deployers_description() {
    let server = seeded("v1.0.0");
    let sha = server.repo.head("main");
    let dir = tempfile::tempdir().unwrap();
    status(&server, &sha, "ci/test", "failure", "not a deploy: ignored");
    status(
        &server,
        &sha,
        "kustomization/apps/0c9c2e41",
        "pending",
        "Progressing",
    );
    status(
        &server,
        &sha,
        "kustomization/apps/0c9c2e41",
        "failure",
        "Health check failed after 30s: Deployment/dev/app",
    );
    let run = wait(&server, dir.path(), &sha, &[]);
    assert_eq!(run.output.status.code(), Some(1), "{}", run.log());
    let err = run.stderr();
    assert!(
        err.contains(&format!(
            "error: commit statuses: a commit status or check run failed for commit {}",
            &sha[..12]
        )),
        "{}",
        run.log()
    );
    assert!(
        err.contains(
            "kustomization/apps/0c9c2e41: Health check failed after 30s: Deployment/dev/app"
        ),
        "{}",
        run.log()
    );
    assert!(!err.contains("ci/test"), "{}", run.log());
    assert_eq!(run.get("deployed"), "false");
    assert_eq!(run.get("health"), "failure");
}

#[test]
fn check_runs_count_and_a_pattern_nobody_reports_on_times_out() {
    let server = seeded("v1.0.0");
    let sha = server.repo.head("main");
    let dir = tempfile::tempdir().unwrap();
    post(
        &server,
        "/repos/org/gitops/check-runs",
        json!({"name": "argocd/guestbook", "head_sha": sha, "status": "completed",
               "conclusion": "success", "output": {"title": "Healthy", "summary": "synced"}}),
    );
    let run = wait(
        &server,
        dir.path(),
        &sha,
        &[("deploy-statuses", "argocd/*")],
    );
    assert!(run.output.status.success(), "{}", run.log());
    assert_eq!(run.get("deployed"), "true");

    let run = wait(
        &server,
        dir.path(),
        &sha,
        &[
            ("deploy-statuses", "argocd/*, kustomization/apps/*"),
            ("deploy-timeout", "1s"),
        ],
    );
    assert_eq!(run.output.status.code(), Some(1), "{}", run.log());
    assert!(
        run.stderr().contains(&format!(
            "commit {} was not deployed within 1 s (input `deploy-timeout`); last seen: commit statuses: nothing reported yet for \"kustomization/apps/*\"",
            &sha[..12]
        )),
        "{}",
        run.log()
    );
    assert!(
        run.stderr()
            .contains("Flux posts statuses only on the commit it applied")
    );
}

#[test]
fn a_rejected_token_is_named_with_the_permissions_hint_and_never_shown() {
    let server = seeded("v1.0.0");
    let sha = server.repo.head("main");
    let dir = tempfile::tempdir().unwrap();
    let wrong = "ghs_revoked_token_for_statuses_0042";
    let run = wait(&server, dir.path(), &sha, &[("token", wrong)]);
    assert_eq!(run.output.status.code(), Some(1), "{}", run.log());
    assert!(
        run.stderr()
            .contains("error: reading the commit statuses: GitHub answered 401: Bad credentials"),
        "{}",
        run.log()
    );
    assert!(
        run.stderr().contains("hint: the token was rejected"),
        "{}",
        run.log()
    );
    assert_token_never_shown(&run, wrong);
}

#[test]
fn an_error_status_or_a_failed_check_run_fails_the_wait() {
    // (how the deployer reports, what the error names)
    type Report = fn(&FakeGitHub, &str);
    let cases: [(&str, Report, &str); 3] = [
        (
            "status error",
            |s, sha| {
                status(
                    s,
                    sha,
                    "kustomization/apps/0c9c2e41",
                    "error",
                    "kustomize build failed",
                )
            },
            "kustomization/apps/0c9c2e41: kustomize build failed",
        ),
        (
            "check run failure",
            |s, sha| {
                post(
                    s,
                    "/repos/org/gitops/check-runs",
                    json!({"name": "kustomization/apps/sync", "head_sha": sha, "status": "completed",
                           "conclusion": "failure", "output": {"title": "Deployment/dev/app not ready"}}),
                )
            },
            "kustomization/apps/sync: Deployment/dev/app not ready",
        ),
        (
            "check run timed out",
            |s, sha| {
                post(
                    s,
                    "/repos/org/gitops/check-runs",
                    json!({"name": "kustomization/apps/sync", "head_sha": sha, "status": "completed",
                           "conclusion": "timed_out"}),
                )
            },
            "kustomization/apps/sync: timed_out",
        ),
    ];
    for (case, report, want) in cases {
        let server = seeded("v1.0.0");
        let sha = server.repo.head("main");
        let dir = tempfile::tempdir().unwrap();
        report(&server, &sha);
        let run = wait(&server, dir.path(), &sha, &[]);
        assert_eq!(run.output.status.code(), Some(1), "{case}: {}", run.log());
        assert!(run.stderr().contains(want), "{case}: {}", run.log());
        assert!(
            run.stderr()
                .contains("hint: the commit is pushed; the deployer reported a failure"),
            "{case}: {}",
            run.log()
        );
        assert_eq!(run.get("deployed"), "false", "{case}");
        assert_eq!(run.get("health"), "failure", "{case}");
        assert_token_never_shown(&run, STATIC_TOKEN);
    }
}

#[test]
fn every_pattern_must_succeed_and_other_contexts_are_ignored() {
    let server = seeded("v1.0.0");
    let sha = server.repo.head("main");
    let dir = tempfile::tempdir().unwrap();
    // Not ours: another kustomization failing, a CI status, a prefix that
    // only looks like ours.
    status(
        &server,
        &sha,
        "kustomization/infra/77aa",
        "failure",
        "not ours",
    );
    status(&server, &sha, "ci/build", "error", "not a deploy");
    status(
        &server,
        &sha,
        "kustomization/apps-staging/1",
        "failure",
        "not ours either",
    );
    status(&server, &sha, "kustomization/apps/1", "success", "applied");
    std::thread::scope(|scope| {
        let late = scope.spawn(|| {
            // The second pattern reports after the wait has started.
            std::thread::sleep(Duration::from_millis(700));
            status(
                &server,
                &sha,
                "kustomization/db/9",
                "pending",
                "Progressing",
            );
            std::thread::sleep(Duration::from_millis(400));
            status(&server, &sha, "kustomization/db/9", "success", "applied");
        });
        let run = wait(
            &server,
            dir.path(),
            &sha,
            &[(
                "deploy-statuses",
                "kustomization/apps/*\nkustomization/db/*  # the database",
            )],
        );
        late.join().unwrap();
        assert!(run.output.status.success(), "{}", run.log());
        let err = run.stderr();
        assert!(
            err.contains("nothing reported yet for \"kustomization/db/*\""),
            "{}",
            run.log()
        );
        assert!(err.contains("pending: kustomization/db/9"), "{}", run.log());
        for other in ["infra", "ci/build", "apps-staging"] {
            assert!(!err.contains(other), "{other}: {}", run.log());
        }
        assert_eq!(run.get("deployed"), "true");
        assert_eq!(run.get("health"), "success");
        assert_eq!(run.get("synced-revision"), sha);
        assert!(!run.get("seconds-to-healthy").is_empty());
    });
}

#[test]
fn a_token_without_statuses_read_gets_the_permissions_hint() {
    let server = seeded("v1.0.0");
    let sha = server.repo.head("main");
    let dir = tempfile::tempdir().unwrap();
    let run = wait(&server, dir.path(), &sha, &[("token", READ_ONLY_TOKEN)]);
    assert_eq!(run.output.status.code(), Some(1), "{}", run.log());
    let err = run.stderr();
    assert!(
        err.contains(
            "error: reading the commit statuses: GitHub answered 403: Resource not accessible by integration"
        ),
        "{}",
        run.log()
    );
    assert!(
        err.contains("hint: the token cannot read this repository's statuses: give the job `statuses: read` and `checks: read`"),
        "{}",
        run.log()
    );
    assert_eq!(run.get("deployed"), "false");
    assert_token_never_shown(&run, READ_ONLY_TOKEN);
}

#[test]
fn wait_refuses_a_commit_that_is_not_a_full_id_before_asking_anyone() {
    let server = seeded("v1.0.0");
    let dir = tempfile::tempdir().unwrap();
    let before = server.requests().len();
    let run = wait(&server, dir.path(), "abc123", &[]);
    assert_eq!(run.output.status.code(), Some(2), "{}", run.log());
    assert!(
        run.stderr()
            .contains("input `commit` has an invalid value \"abc123\": expected a full commit id"),
        "{}",
        run.log()
    );
    assert_eq!(server.requests().len(), before);
}

/// Pull-request mode without `deploy-merge-timeout` does not wait: the
/// commit is on the pull request's branch, not the deployed one, and
/// nothing deploys it until a merge. It says so (notice, log, summary) and
/// succeeds.
#[test]
fn pull_request_mode_says_it_does_not_wait() {
    let server = seeded("v1.0.0");
    let dir = tempfile::tempdir().unwrap();
    let run = run_action(
        &server,
        dir.path(),
        &["run"],
        &[
            ("images", &format!("{APP}:v2.0.0")),
            ("verify", "false"),
            ("paths", "apps/prod"),
            ("repository", "org/gitops"),
            ("token", STATIC_TOKEN),
            ("mode", "pull-request"),
            ("deploy-statuses", "kustomization/apps/*"),
            ("deploy-timeout", "2s"),
        ],
    );
    assert!(run.output.status.success(), "{}", run.log());
    assert_eq!(run.get("pull-request-number"), "1");
    let said = "not waited on: pull-request mode does not wait: the commit reaches the deployed branch only when pull request #1 is merged; set `deploy-merge-timeout` to wait for the merge, or wait in a workflow on that push (`gitops-bump wait --commit <merge commit>`)";
    let stdout = String::from_utf8_lossy(&run.output.stdout);
    assert!(
        run.stderr().contains(&format!("deploy: {said}")),
        "{}",
        run.log()
    );
    assert!(
        stdout.contains(
            "::notice title=gitops-bump::deploy not waited on: pull-request mode does not wait"
        ),
        "{}",
        run.log()
    );
    assert!(
        run.summary
            .contains("Not waited on: ``pull-request mode does not wait"),
        "{}",
        run.summary
    );
    assert_eq!(run.get("deployed"), "");
    assert_eq!(run.get("health"), "skipped");
    let asked = server
        .requests()
        .iter()
        .filter(|r| r["path"].as_str().unwrap_or_default().contains("/commits/"))
        .count();
    assert_eq!(asked, 0, "no status was read");
}

fn pull_request_inputs(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, String)> {
    let mut inputs: Vec<(&str, String)> = vec![
        ("images", format!("{APP}:v2.0.0")),
        ("verify", "false".into()),
        ("paths", "apps/prod".into()),
        ("repository", "org/gitops".into()),
        ("token", STATIC_TOKEN.into()),
        ("mode", "pull-request".into()),
        ("deploy-statuses", "kustomization/apps/*".into()),
        ("deploy-timeout", "20s".into()),
        ("deploy-poll-interval", "100ms".into()),
    ];
    for (k, v) in extra {
        inputs.retain(|(n, _)| n != k);
        inputs.push((k, v.to_string()));
    }
    inputs
}

/// With `deploy-merge-timeout`, pull-request mode waits for the merge (as
/// auto-merge would do it), then for the deploy of the merge commit.
#[test]
fn pull_request_mode_waits_for_the_merge_then_for_the_deploy_of_the_merge_commit() {
    let server = seeded("v1.0.0");
    let dir = tempfile::tempdir().unwrap();
    let inputs = pull_request_inputs(&[("deploy-merge-timeout", "20s")]);
    let inputs: Vec<(&str, &str)> = inputs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    std::thread::scope(|scope| {
        let merger = scope.spawn(|| {
            pull_request_opened(&server);
            std::thread::sleep(Duration::from_millis(500));
            let (status, merged) = runtime()
                .block_on(Api::new(&server.url).call(
                    "merging",
                    Method::PUT,
                    "/repos/org/gitops/pulls/1/merge",
                    &Secret::new(STATIC_TOKEN),
                    Some(&json!({})),
                ))
                .unwrap();
            assert_eq!(status.as_u16(), 200, "{merged}");
            let merge = merged["sha"].as_str().unwrap().to_string();
            std::thread::sleep(Duration::from_millis(300));
            status_on(&server, &merge, "success");
            merge
        });
        let run = run_action(&server, dir.path(), &["run"], &inputs);
        let merge = merger.join().unwrap();
        assert!(run.output.status.success(), "{}", run.log());
        assert_eq!(server.repo.head("main"), merge);
        assert_ne!(
            run.get("commit-sha"),
            merge,
            "the bump's commit is the branch's"
        );
        assert_eq!(run.get("deployed"), "true", "{}", run.log());
        assert_eq!(run.get("synced-revision"), merge);
        let err = run.stderr();
        assert!(
            err.contains("pull request #1: open; waiting up to 20 s for the merge"),
            "{}",
            run.log()
        );
        assert!(
            err.contains(&format!("merge: merged as {}", &merge[..12])),
            "{}",
            run.log()
        );
        let stdout = String::from_utf8_lossy(&run.output.stdout);
        assert!(
            stdout.contains("::group::Wait for pull request #1 to be merged"),
            "{}",
            run.log()
        );
        assert_token_never_shown(&run, STATIC_TOKEN);
    });
}

fn status_on(server: &FakeGitHub, sha: &str, state: &str) {
    status(server, sha, "kustomization/apps/0c9c2e41", state, "applied");
}

#[test]
fn a_pull_request_not_merged_within_the_bound_is_not_waited_on() {
    let server = seeded("v1.0.0");
    let dir = tempfile::tempdir().unwrap();
    let inputs = pull_request_inputs(&[("deploy-merge-timeout", "1s")]);
    let inputs: Vec<(&str, &str)> = inputs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = run_action(&server, dir.path(), &["run"], &inputs);
    assert!(run.output.status.success(), "{}", run.log());
    assert!(
        run.stderr().contains(
            "deploy: not waited on: pull request #1 was not merged within 1 s (input `deploy-merge-timeout`)"
        ),
        "{}",
        run.log()
    );
    assert_eq!(run.get("deployed"), "");
    assert_eq!(run.get("health"), "skipped");
    assert!(
        run.summary.contains("was not merged within 1 s"),
        "{}",
        run.summary
    );
}

#[test]
fn a_pull_request_closed_without_merging_is_not_waited_on() {
    let server = seeded("v1.0.0");
    let dir = tempfile::tempdir().unwrap();
    let inputs = pull_request_inputs(&[("deploy-merge-timeout", "20s")]);
    let inputs: Vec<(&str, &str)> = inputs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let started = Instant::now();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            pull_request_opened(&server);
            std::thread::sleep(Duration::from_millis(300));
            let (status, answer) = runtime()
                .block_on(Api::new(&server.url).call(
                    "closing",
                    Method::PATCH,
                    "/repos/org/gitops/pulls/1",
                    &Secret::new(STATIC_TOKEN),
                    Some(&json!({"state": "closed"})),
                ))
                .unwrap();
            assert_eq!(status.as_u16(), 200, "{answer}");
        });
        let run = run_action(&server, dir.path(), &["run"], &inputs);
        assert!(run.output.status.success(), "{}", run.log());
        assert!(
            run.stderr()
                .contains("deploy: not waited on: pull request #1 was closed without being merged"),
            "{}",
            run.log()
        );
        assert_eq!(run.get("deployed"), "");
        assert_eq!(run.get("health"), "skipped");
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the close ends the wait, not the bound"
        );
    });
}

/// A GitOps repository written with a GitHub App (the workflow's token
/// cannot reach it): the App's write token is revoked after the push, so
/// the wait mints its own, read-only, for the same repository.
fn app_bump_then_wait(server: &FakeGitHub, dir: &std::path::Path) -> Run {
    let image = format!("{APP}:v2.0.0");
    run_action(
        server,
        dir,
        &["run"],
        &[
            ("images", &image),
            ("verify", "false"),
            ("paths", "apps/prod"),
            ("repository", "org/gitops"),
            ("app-id", APP_ID),
            ("app-private-key", &server.key.private_pem),
            ("deploy-statuses", "kustomization/apps/*"),
            ("deploy-timeout", "20s"),
            ("deploy-poll-interval", "100ms"),
        ],
    )
}

#[test]
fn with_an_app_the_wait_reads_statuses_with_a_read_only_token_of_its_own() {
    let server = FakeGitHub::start(Installation {
        installed: true,
        granted: json!({"contents": "write", "statuses": "read", "checks": "read", "metadata": "read"}),
    });
    server.repo.commit(
        "main",
        &[(
            "apps/prod/kustomization.yaml",
            &format!("images:\n- name: {APP}\n  newTag: v1.0.0\n"),
        )],
        "initial",
    );
    let before = server.repo.head("main");
    let dir = tempfile::tempdir().unwrap();
    std::thread::scope(|scope| {
        let flux = scope.spawn(|| {
            let head = landed_after(&server, &before);
            let context = "kustomization/apps/0c9c2e41";
            status(
                &server,
                &head,
                context,
                "success",
                "ReconciliationSucceeded",
            );
            head
        });
        let run = app_bump_then_wait(&server, dir.path());
        let head = flux.join().unwrap();
        assert!(run.output.status.success(), "{}", run.log());
        assert_eq!(run.get("commit-sha"), head);
        assert_eq!(run.get("deployed"), "true", "{}", run.log());
        // Two tokens, both for org/gitops only, both revoked: the push's
        // (contents: write) and the wait's (read-only).
        let tokens = server.tokens();
        assert_eq!(tokens.len(), 2, "{tokens:?}");
        assert_eq!(tokens[0]["permissions"], json!({"contents": "write"}));
        assert_eq!(
            tokens[1]["permissions"],
            json!({"contents": "read", "statuses": "read", "checks": "read"})
        );
        for token in &tokens {
            assert_eq!(token["repositories"], json!([REPO]), "{token}");
            assert_eq!(token["revoked"], true, "{token}");
            assert_token_never_shown(&run, token["token"].as_str().unwrap());
        }
    });
}

#[test]
fn an_app_that_may_not_read_statuses_is_told_which_permission_to_grant() {
    // The default installation: contents and pull requests, no statuses.
    let server = seeded("v1.0.0");
    let dir = tempfile::tempdir().unwrap();
    let run = app_bump_then_wait(&server, dir.path());
    assert_eq!(run.output.status.code(), Some(1), "{}", run.log());
    // The bump landed; the wait could not start.
    assert_eq!(run.get("changed"), "true", "{}", run.log());
    assert_eq!(run.get("commit-sha"), server.repo.head("main"));
    assert_eq!(run.get("deployed"), "false");
    let err = run.stderr();
    assert!(
        err.contains(
            "may not grant `Contents: Read-only` and `Commit statuses: Read-only` and `Checks: Read-only` on org/gitops"
        ),
        "{}",
        run.log()
    );
    assert!(
        err.contains("grant the App `Contents: Read-only` and `Commit statuses: Read-only` and `Checks: Read-only`"),
        "{}",
        run.log()
    );
    // Only the push's token was minted, and it is revoked.
    let tokens = server.tokens();
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    assert_eq!(tokens[0]["revoked"], true);
}
