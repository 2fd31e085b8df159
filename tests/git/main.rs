//! Git write-back against real remotes on this machine: bare repositories
//! over `file://` and local paths, and smart HTTP (`git http-backend`
//! behind Basic auth). The edit is a small deterministic line rewrite; the
//! point is that it is re-run on the new tip after a lost race.

mod fixtures;

use std::path::Path;
use std::sync::{Arc, Barrier};

use fixtures::*;
use gitops_bump::write_back::WriteBackError;
use gitops_bump::write_back::git::{GitError, write_back_with};
use test_support::git_http::{GIT_TOKEN, GitHttp, READ_ONLY_TOKEN};
use test_support::github::{Answer, PullRequestApi};

const APP: &str = "ghcr.io/org/app";
const WORKER: &str = "ghcr.io/org/worker";

fn two_apps() -> Origin {
    Origin::seeded(&[
        ("apps/app.yaml", manifest(&[APP])),
        ("apps/worker.yaml", manifest(&[WORKER])),
    ])
}

/// Files changed by a commit, from the reference client.
fn changed_files(origin: &Origin, commit: &str) -> Vec<String> {
    git(
        &origin.bare(),
        &["diff-tree", "--no-commit-id", "--name-only", "-r", commit],
    )
    .lines()
    .map(str::to_string)
    .collect()
}

#[test]
fn bump_commits_only_the_edited_line_and_a_second_run_is_a_no_op() {
    let origin = two_apps();
    let http = GitHttp::start(origin.dir.path());
    let bare = origin.bare().to_str().expect("utf-8").to_string();
    let cases = [
        ("file URL", origin.file_url(), "v1"),
        ("local path", bare, "v2"),
        ("smart HTTP", http.url("org/gitops.git"), "v3"),
    ];
    for (what, url, tag) in cases {
        let before = origin.tip("main");
        let count = origin.commit_count("main");
        let cfg = config(&[("repository", &url), ("token", GIT_TOKEN)]);
        let bumps = [Bump::new("apps/app.yaml", APP, tag)];
        let mut edit = |root: &Path| apply_bumps(root, &bumps);
        let result = write_back_with(&cfg, &options(Path::new("."), ""), &mut edit)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(result.changed, "{what}");
        assert_eq!(result.attempts, 1, "{what}");
        assert_eq!(
            result.commit_sha.as_deref(),
            Some(origin.tip("main").as_str()),
            "{what}"
        );
        assert_eq!(origin.commit_count("main"), count + 1, "{what}");
        let sha = origin.tip("main");
        assert_eq!(
            git(&origin.bare(), &["rev-parse", &format!("{sha}^")]),
            before,
            "{what}"
        );
        assert_eq!(changed_files(&origin, &sha), ["apps/app.yaml"], "{what}");
        let diff = git(&origin.bare(), &["diff", "-U0", &before, &sha]);
        let changed: Vec<&str> = diff
            .lines()
            .filter(|l| {
                (l.starts_with('+') || l.starts_with('-'))
                    && !l.starts_with("+++")
                    && !l.starts_with("---")
            })
            .collect();
        assert_eq!(
            changed.len(),
            2,
            "{what}: exactly one line replaced: {diff}"
        );
        assert_eq!(
            tag_in(&origin.show(&format!("{sha}:apps/app.yaml")), APP).as_deref(),
            Some(tag),
            "{what}"
        );
        let message = git(&origin.bare(), &["log", "-1", "--format=%B", &sha]);
        assert!(
            message.starts_with(&format!(
                "chore(deploy): bump {APP} to {tag} [skip ci]\n\nBumped-By: gitops-bump"
            )),
            "{what}: {message}"
        );
        assert!(
            message.contains("Workflow-Run: https://git.example.test/org/gitops/actions/runs/4242"),
            "{message}"
        );
        let who = git(
            &origin.bare(),
            &["log", "-1", "--format=%an <%ae>|%cn <%ce>", &sha],
        );
        let bot = "github-actions[bot] <41898282+github-actions[bot]@users.noreply.github.com>";
        assert_eq!(who, format!("{bot}|{bot}"), "{what}");

        // Same bump again: nothing to commit, nothing pushed, no empty commit.
        let again = write_back_with(&cfg, &options(Path::new("."), ""), &mut edit)
            .unwrap_or_else(|e| panic!("{what} (again): {e}"));
        assert!(
            !again.changed && again.commit_sha.is_none(),
            "{what}: {again:?}"
        );
        assert_eq!(origin.tip("main"), sha, "{what}: no new commit");
    }
}

#[test]
fn lost_races_re_apply_the_edit_on_the_new_tip() {
    // Each case: what another pipeline pushes while our first attempt is
    // being prepared, and what the branch must end with.
    struct Case {
        what: &'static str,
        theirs: (&'static str, &'static str, &'static str),
        want_app: &'static str,
        want_worker: &'static str,
        want_changed: bool,
    }
    let cases = [
        Case {
            what: "another image in another file is kept",
            theirs: ("apps/worker.yaml", WORKER, "w9"),
            want_app: "v5",
            want_worker: "w9",
            want_changed: true,
        },
        Case {
            what: "the same image to another value ends with ours",
            theirs: ("apps/app.yaml", APP, "v4"),
            want_app: "v5",
            want_worker: "v0",
            want_changed: true,
        },
        Case {
            what: "the same image to the same value is a no-op",
            theirs: ("apps/app.yaml", APP, "v5"),
            want_app: "v5",
            want_worker: "v0",
            want_changed: false,
        },
    ];
    for case in cases {
        let origin = two_apps();
        let http = GitHttp::start(origin.dir.path());
        let cfg = config(&[
            ("repository", &http.url("org/gitops.git")),
            ("token", GIT_TOKEN),
        ]);
        let bumps = [Bump::new("apps/app.yaml", APP, "v5")];
        let mut calls = 0;
        let mut edit = |root: &Path| {
            calls += 1;
            if calls == 1 {
                let (file, image, tag) = case.theirs;
                origin.push_from_elsewhere(file, |text| {
                    text.replace(&image_line(image, "v0"), &image_line(image, tag))
                });
            }
            apply_bumps(root, &bumps)
        };
        let before = origin.commit_count("main");
        let result = write_back_with(&cfg, &options(Path::new("."), ""), &mut edit)
            .unwrap_or_else(|e| panic!("{}: {e}", case.what));
        assert_eq!(calls, 2, "{}: the edit ran again on the new tip", case.what);
        assert_eq!(result.attempts, 2, "{}", case.what);
        assert_eq!(result.changed, case.want_changed, "{}", case.what);
        let theirs_and_ours = if case.want_changed { 2 } else { 1 };
        assert_eq!(
            origin.commit_count("main"),
            before + theirs_and_ours,
            "{}",
            case.what
        );
        let app = origin.show("main:apps/app.yaml");
        let worker = origin.show("main:apps/worker.yaml");
        assert_eq!(
            tag_in(&app, APP).as_deref(),
            Some(case.want_app),
            "{}",
            case.what
        );
        assert_eq!(
            tag_in(&worker, WORKER).as_deref(),
            Some(case.want_worker),
            "{}",
            case.what
        );
    }
}

#[test]
fn wrong_or_missing_token_fails_clearly_and_pushes_nothing() {
    let origin = two_apps();
    let http = GitHttp::start(origin.dir.path());
    let url = http.url("org/gitops.git");
    let tip = origin.tip("main");
    let cases = [
        (
            "wrong token",
            vec![("token", "ghs_wrong_token_zzz")],
            "could not read",
            0,
        ),
        ("no token", vec![], "no `token` was given", 0),
    ];
    for (what, extra, needle, edits) in cases {
        let mut pairs = vec![("repository", url.as_str())];
        pairs.extend(extra);
        let cfg = config(&pairs);
        let mut calls = 0;
        let mut edit = |root: &Path| {
            calls += 1;
            apply_bumps(root, &[Bump::new("apps/app.yaml", APP, "v1")])
        };
        let err = write_back_with(&cfg, &options(Path::new("."), ""), &mut edit).expect_err(what);
        let text = format!("{err} {err:?} {}", err.hint().unwrap_or_default());
        assert!(
            matches!(err, WriteBackError::Git(GitError::Auth { .. })),
            "{what}: {text}"
        );
        assert!(
            text.contains(needle) && text.contains("contents: write"),
            "{what}: {text}"
        );
        for secret in ["ghs_wrong_token_zzz", GIT_TOKEN, READ_ONLY_TOKEN] {
            assert!(!text.contains(secret), "{what}: {text}");
        }
        assert_eq!(
            calls, edits,
            "{what}: edited {edits} time(s), never retried"
        );
        assert_eq!(origin.tip("main"), tip, "{what}: nothing pushed");
    }
}

#[test]
fn ssh_remotes_are_refused_before_anything_is_done() {
    // (the input, as messages show it: user info in a URL is never shown)
    for (url, shown) in [
        (
            "git@github.com:org/gitops.git",
            "git@github.com:org/gitops.git",
        ),
        (
            "ssh://git@github.com/org/gitops.git",
            "ssh://***@github.com/org/gitops.git",
        ),
    ] {
        let cfg = config(&[("repository", url), ("token", GIT_TOKEN)]);
        let mut calls = 0;
        let mut edit = |root: &Path| {
            calls += 1;
            apply_bumps(root, &[Bump::new("apps/app.yaml", APP, "v1")])
        };
        let err = write_back_with(&cfg, &options(Path::new("."), ""), &mut edit).expect_err(url);
        assert_eq!(
            err.to_string(),
            format!(
                "could not reach {shown}: only https:// URLs (http:// for origins in `insecure-git-origins`) and paths on this machine are supported, not ssh"
            )
        );
        assert!(
            err.hint()
                .unwrap_or_default()
                .contains("check the `repository` input"),
            "{err:?}"
        );
        assert_eq!(calls, 0, "{url}: nothing edited");
    }
}

#[test]
fn a_token_the_server_refuses_shows_the_servers_words() {
    // The server answers the push with HTTP 403 and a reason in the body,
    // which libgit2 drops ("unexpected http status code: 403"): we show it.
    let origin = two_apps();
    let http = GitHttp::start(origin.dir.path());
    let url = http.url("org/gitops.git");
    let tip = origin.tip("main");
    let cfg = config(&[("repository", url.as_str()), ("token", READ_ONLY_TOKEN)]);
    let mut edit = |root: &Path| apply_bumps(root, &[Bump::new("apps/app.yaml", APP, "v1")]);
    let err = write_back_with(&cfg, &options(Path::new("."), ""), &mut edit).expect_err("403");
    assert!(
        matches!(
            err,
            WriteBackError::Git(GitError::Denied { status: 403, .. })
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "{url} answered HTTP 403 to push to\nthe server said:\nPermission to org/gitops.git denied to github-actions[bot]."
        )
    );
    let hint = err.hint().unwrap_or_default();
    assert!(hint.contains("contents: write"), "{hint}");
    assert!(!format!("{err} {err:?} {hint}").contains(READ_ONLY_TOKEN));
    assert_eq!(origin.tip("main"), tip, "nothing pushed");
}

/// The ways a test can name the remote: each transport a user can reach.
#[derive(Debug, Clone, Copy)]
enum Remote {
    /// `repository: http://…` through `git http-backend`.
    Http,
    /// `repository: file:///…`.
    FileUrl,
    /// `repository: /path/to/remote.git`.
    Path,
}

impl Remote {
    const ALL: [Remote; 3] = [Remote::Http, Remote::FileUrl, Remote::Path];

    fn url(self, origin: &Origin, http: &GitHttp) -> String {
        match self {
            Remote::Http => http.url("org/gitops.git"),
            Remote::FileUrl => origin.file_url(),
            Remote::Path => origin.bare().display().to_string(),
        }
    }
}

#[test]
fn a_protected_branch_fails_at_once_with_the_hook_message() {
    struct Case {
        hook: &'static str,
        says: &'static str,
        /// git's status for the ref.
        status: &'static str,
    }
    let cases = [
        Case {
            hook: "pre-receive",
            says: "GH006: Protected branch update failed for refs/heads/main.",
            status: "pre-receive hook declined",
        },
        Case {
            hook: "update",
            says: "refusing: commits must be signed",
            status: "hook declined",
        },
    ];
    // Local remotes too: the push goes through git's own receive-pack, so
    // their hooks run exactly as for `git push` to that path.
    for remote in Remote::ALL {
        for case in &cases {
            let what = format!("{remote:?} {}", case.hook);
            let origin = two_apps();
            let path = origin.bare().join("hooks").join(case.hook);
            std::fs::write(
                &path,
                format!("#!/bin/sh\necho '{}' >&2\nexit 1\n", case.says),
            )
            .expect("hook");
            let chmod = std::process::Command::new("chmod")
                .arg("+x")
                .arg(&path)
                .status();
            assert!(chmod.expect("chmod runs").success());
            let http = GitHttp::start(origin.dir.path());
            let tip = origin.tip("main");
            let url = remote.url(&origin, &http);
            let cfg = config(&[("repository", &url), ("token", GIT_TOKEN)]);
            let mut calls = 0;
            let mut edit = |root: &Path| {
                calls += 1;
                apply_bumps(root, &[Bump::new("apps/app.yaml", APP, "v1")])
            };
            let err =
                write_back_with(&cfg, &options(Path::new("."), ""), &mut edit).expect_err(&what);
            let text = err.to_string();
            assert!(
                matches!(err, WriteBackError::Git(GitError::Rejected { .. })),
                "{what}: {text}"
            );
            assert!(
                text.starts_with(&format!(
                    "{url} refused the push to `main`: {}\nthe server said:\n{}",
                    case.status, case.says
                )),
                "{what}: {text}"
            );
            let hint = err.hint().unwrap_or_default();
            assert!(hint.contains("pull-request"), "{what}: {hint}");
            assert_eq!(calls, 1, "{what}: one attempt, no retry");
            assert_eq!(origin.tip("main"), tip, "{what}: nothing pushed");
        }
    }
}

#[test]
fn a_stale_lock_on_the_server_fails_with_its_words_and_pushes_nothing() {
    // A crashed writer left `refs/heads/main.lock` in the remote. Not a
    // race to retry for minutes: after a few attempts the server's own
    // words are shown, with what to remove.
    for remote in Remote::ALL {
        let origin = two_apps();
        let lock = origin.bare().join("refs/heads/main.lock");
        std::fs::write(&lock, "").expect("lock file");
        let http = GitHttp::start(origin.dir.path());
        let tip = origin.tip("main");
        let url = remote.url(&origin, &http);
        let cfg = config(&[("repository", &url), ("token", GIT_TOKEN)]);
        let mut edit = |root: &Path| apply_bumps(root, &[Bump::new("apps/app.yaml", APP, "v1")]);
        let started = std::time::Instant::now();
        let err =
            write_back_with(&cfg, &options(Path::new("."), ""), &mut edit).expect_err("stale lock");
        let text = err.to_string();
        let Some(attempts) = (match err {
            WriteBackError::Locked { attempts, .. } => Some(attempts),
            _ => None,
        }) else {
            panic!("{remote:?}: {text}");
        };
        assert!(attempts >= 3, "{remote:?}: {text}");
        assert!(
            text.starts_with(&format!(
                "{url} kept `main` locked for {attempts} attempts in a row; the server said:\n"
            )) && text.contains("main.lock': File exists"),
            "{remote:?}: {text}"
        );
        assert!(
            err.hint()
                .unwrap_or_default()
                .contains("remove the `.lock` file"),
            "{remote:?}"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "{remote:?}: gave up within the stale-lock bound, not the retry deadline"
        );
        assert_eq!(origin.tip("main"), tip, "{remote:?}: nothing pushed");
    }
}

#[test]
fn a_missing_local_remote_is_named_before_anything_else() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("nowhere/remote.git");
    for url in [
        missing.display().to_string(),
        format!("file://{}", missing.display()),
    ] {
        let cfg = config(&[("repository", &url)]);
        let mut calls = 0;
        let mut edit = |root: &Path| {
            calls += 1;
            apply_bumps(root, &[Bump::new("apps/app.yaml", APP, "v1")])
        };
        let err =
            write_back_with(&cfg, &options(Path::new("."), ""), &mut edit).expect_err("missing");
        assert_eq!(
            err.to_string(),
            format!(
                "no git repository at {}: the path does not exist",
                missing.display()
            ),
            "{url}"
        );
        assert!(
            err.hint()
                .unwrap_or_default()
                .contains("existing git repository"),
            "{url}"
        );
        assert_eq!(calls, 0, "{url}: no edit");
    }
}

/// Every file under `dir`, as bytes, for "is the token anywhere" checks.
fn all_bytes_under(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                out.push((path.display().to_string(), bytes));
            }
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn existing_checkouts_push_over_http_and_keep_the_token_out_of_the_repository() {
    let origin = two_apps();
    let http = GitHttp::start(origin.dir.path());
    for shallow in [false, true] {
        let checkout = origin.checkout(shallow);
        let work = checkout.path();
        git(
            work,
            &["remote", "set-url", "origin", &http.url("org/gitops.git")],
        );
        let config_before = std::fs::read_to_string(work.join(".git/config")).expect("config");
        // The checkout falls behind: the first attempt fetches the remote's
        // tip into this (maybe shallow) clone and edits that, so no push is
        // wasted on a tip that is already gone.
        origin.push_from_elsewhere("apps/worker.yaml", |t| {
            let old = tag_in(t, WORKER).expect("worker line");
            t.replace(
                &image_line(WORKER, &old),
                &image_line(WORKER, &format!("s{shallow}")),
            )
        });
        let tag = format!("c{shallow}");
        let origin_url = http.url("org/gitops.git");
        let cfg = config(&[("token", GIT_TOKEN), ("insecure-git-origins", &origin_url)]);
        let bumps = [Bump::new("apps/app.yaml", APP, &tag)];
        let mut edit = |root: &Path| apply_bumps(root, &bumps);
        let result = write_back_with(&cfg, &options(work, ""), &mut edit)
            .unwrap_or_else(|e| panic!("shallow={shallow}: {e}"));
        assert_eq!(result.attempts, 1, "shallow={shallow}");
        assert_eq!(
            result.commit_sha.as_deref(),
            Some(origin.tip("main").as_str())
        );
        assert_eq!(
            tag_in(&origin.show("main:apps/app.yaml"), APP),
            Some(tag.clone())
        );
        assert_eq!(
            tag_in(&origin.show("main:apps/worker.yaml"), WORKER),
            Some(format!("s{shallow}")),
            "the other pipeline's bump is kept"
        );
        // The checkout is left clean on the pushed commit.
        assert_eq!(git(work, &["rev-parse", "HEAD"]), origin.tip("main"));
        assert_eq!(git(work, &["status", "--porcelain"]), "");
        assert_eq!(
            git(work, &["rev-parse", "--is-shallow-repository"]),
            shallow.to_string()
        );
        // No token, helper or remote was added.
        assert_eq!(
            std::fs::read_to_string(work.join(".git/config")).expect("config"),
            config_before
        );
        assert_eq!(git(work, &["remote"]), "origin");
        for (path, bytes) in all_bytes_under(&work.join(".git")) {
            assert!(!contains(&bytes, GIT_TOKEN), "token found in {path}");
        }
        assert!(!format!("{result:?}").contains(GIT_TOKEN));
    }
}

#[test]
fn fresh_clones_over_http_are_shallow_and_hold_no_credentials() {
    let origin = two_apps();
    // Some history, so a full clone and a shallow one differ.
    for tag in ["h1", "h2", "h3"] {
        origin.push_from_elsewhere("apps/worker.yaml", |t| {
            let old = tag_in(t, WORKER).expect("worker line");
            t.replace(&image_line(WORKER, &old), &image_line(WORKER, tag))
        });
    }
    let http = GitHttp::start(origin.dir.path());
    let cfg = config(&[
        ("repository", &http.url("org/gitops.git")),
        ("token", GIT_TOKEN),
    ]);
    let mut seen = None;
    let mut edit = |root: &Path| {
        let repo = git2::Repository::open(root).expect("the clone");
        let config = std::fs::read_to_string(root.join(".git/config")).expect("config");
        let remotes = repo.remotes().expect("remotes").len();
        seen = Some((repo.is_shallow(), config.contains(GIT_TOKEN), remotes));
        apply_bumps(root, &[Bump::new("apps/app.yaml", APP, "v7")])
    };
    let result = write_back_with(&cfg, &options(Path::new("."), ""), &mut edit).expect("push");
    assert!(result.changed);
    assert_eq!(
        seen,
        Some((true, false, 0)),
        "(shallow, token in config, remotes)"
    );
}

#[test]
fn dry_run_and_mode_none_push_nothing() {
    let origin = two_apps();
    let checkout = origin.checkout(false);
    let work = checkout.path();
    let tip = origin.tip("main");
    let bumps = [Bump::new("apps/app.yaml", APP, "v9")];
    let cases = [
        // (inputs, work tree keeps the edit)
        (vec![("dry-run", "true")], false),
        (vec![("mode", "none")], true),
    ];
    for (pairs, keeps_edit) in cases {
        let cfg = config(&pairs);
        let mut edit = |root: &Path| apply_bumps(root, &bumps);
        let result = write_back_with(&cfg, &options(work, ""), &mut edit).expect("runs");
        assert!(
            result.changed && result.commit_sha.is_none(),
            "{pairs:?}: {result:?}"
        );
        assert_eq!(origin.tip("main"), tip, "{pairs:?}: nothing pushed");
        assert_eq!(
            git(work, &["rev-parse", "HEAD"]),
            tip,
            "{pairs:?}: no local commit"
        );
        let text = std::fs::read_to_string(work.join("apps/app.yaml")).expect("read");
        let want = if keeps_edit { "v9" } else { "v0" };
        assert_eq!(tag_in(&text, APP).as_deref(), Some(want), "{pairs:?}");
        if pairs[0].0 == "dry-run" {
            assert!(
                result
                    .diff
                    .contains("--- a/apps/app.yaml\n+++ b/apps/app.yaml\n"),
                "{}",
                result.diff
            );
            assert!(
                result.diff.contains(&format!(
                    "-{}\n+{}\n",
                    image_line(APP, "v0"),
                    image_line(APP, "v9")
                )),
                "{}",
                result.diff
            );
        }
        git(work, &["checkout", "--", "."]);
    }
}

#[test]
fn bad_setups_fail_before_any_edit() {
    let origin = two_apps();
    let detached = origin.checkout(false);
    git(detached.path(), &["checkout", "-q", "--detach"]);
    let plain = tempfile::tempdir().expect("temp dir");
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a Path, &'a str);
    let cases: Vec<Case> = vec![
        (
            "credentials in URL",
            vec![(
                "repository",
                "https://x-access-token:ghs_inurl@git.example.test/org/gitops.git",
            )],
            Path::new("."),
            "contains credentials",
        ),
        ("detached HEAD", vec![], detached.path(), "detached HEAD"),
        (
            "not a repository",
            vec![],
            plain.path(),
            "not inside a git repository",
        ),
        (
            "unknown branch",
            vec![("repository", origin.file_url().leak()), ("branch", "nope")],
            Path::new("."),
            "branch `nope` does not exist",
        ),
    ];
    for (what, pairs, workdir, needle) in cases {
        let cfg = config(&pairs);
        let mut calls = 0;
        let mut edit = |root: &Path| {
            calls += 1;
            apply_bumps(root, &[])
        };
        let err = write_back_with(&cfg, &options(workdir, ""), &mut edit).expect_err(what);
        let text = err.to_string();
        assert!(text.contains(needle), "{what}: {text}");
        assert!(!text.contains("ghs_inurl"), "{what}: {text}");
        assert!(err.hint().is_some(), "{what}");
        assert_eq!(calls, 0, "{what}");
    }
}

#[test]
fn concurrent_bumpers_all_land_and_no_commit_is_lost() {
    const DISTINCT: usize = 16;
    const PAIRS: usize = 4;
    const FILES: usize = 4;
    let distinct: Vec<String> = (0..DISTINCT)
        .map(|i| format!("ghcr.io/org/svc-{i}"))
        .collect();
    let shared: Vec<String> = (0..PAIRS)
        .map(|i| format!("ghcr.io/org/shared-{i}"))
        .collect();
    let file_of = |i: usize| format!("apps/group-{}.yaml", i % FILES);
    let mut files = Vec::new();
    for f in 0..FILES {
        let mut images: Vec<&str> = distinct
            .iter()
            .enumerate()
            .filter(|(i, _)| i % FILES == f)
            .map(|(_, s)| s.as_str())
            .collect();
        images.extend(
            shared
                .iter()
                .enumerate()
                .filter(|(i, _)| i % FILES == f)
                .map(|(_, s)| s.as_str()),
        );
        files.push((file_of(f), manifest(&images)));
    }
    let files: Vec<(&str, String)> = files.iter().map(|(p, t)| (p.as_str(), t.clone())).collect();
    let origin = Origin::seeded(&files);
    let http = GitHttp::start(origin.dir.path());
    let url = http.url("org/gitops.git");

    let mut jobs: Vec<Bump> = distinct
        .iter()
        .enumerate()
        .map(|(i, image)| Bump::new(&file_of(i), image, &format!("d{i}")))
        .collect();
    for (i, image) in shared.iter().enumerate() {
        jobs.push(Bump::new(&file_of(i), image, "left"));
        jobs.push(Bump::new(&file_of(i), image, "right"));
    }
    let before = origin.commit_count("main");
    let barrier = Arc::new(Barrier::new(jobs.len()));
    let handles: Vec<_> = jobs
        .iter()
        .cloned()
        .map(|bump| {
            let cfg = config(&[
                ("repository", &url),
                ("token", GIT_TOKEN),
                ("max-attempts", "100"),
            ]);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let bumps = [bump];
                let mut edit = |root: &Path| apply_bumps(root, &bumps);
                barrier.wait();
                write_back_with(&cfg, &options(Path::new("."), ""), &mut edit)
            })
        })
        .collect();
    let results: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .collect();
    let mut attempts = 0;
    for (job, result) in jobs.iter().zip(&results) {
        let result = result.as_ref().unwrap_or_else(|e| panic!("{job:?}: {e}"));
        assert!(result.changed, "{job:?}");
        attempts += result.attempts;
    }
    eprintln!("{} bumpers, {attempts} push attempts in total", jobs.len());
    assert!(attempts > jobs.len() as u32, "the bumpers did race");
    // Every bumper made exactly one commit: none lost, none duplicated.
    assert_eq!(origin.commit_count("main"), before + jobs.len());
    let log: Vec<String> = git(&origin.bare(), &["log", "--format=%H", "main"])
        .lines()
        .map(str::to_string)
        .collect();
    for (job, result) in jobs.iter().zip(&results) {
        let sha = result
            .as_ref()
            .expect("ok")
            .commit_sha
            .clone()
            .expect("a commit");
        assert!(log.contains(&sha), "{job:?}: its commit is on main");
    }
    // The final tree: every distinct bump, and for each pair the value of
    // whichever of the two pushed last.
    for (i, image) in distinct.iter().enumerate() {
        let text = origin.show(&format!("main:{}", file_of(i)));
        assert_eq!(tag_in(&text, image), Some(format!("d{i}")), "{image}");
    }
    for (i, image) in shared.iter().enumerate() {
        let text = origin.show(&format!("main:{}", file_of(i)));
        let last = git(
            &origin.bare(),
            &[
                "log",
                "-1",
                "--format=%s",
                &format!("-Gimage: {image}:"),
                "main",
            ],
        );
        let final_tag = tag_in(&text, image).expect("shared image line");
        assert!(
            ["left", "right"].contains(&final_tag.as_str()),
            "{image}: {final_tag}"
        );
        assert!(
            last.contains(&format!("{image} to {final_tag}")),
            "{image}: {final_tag} vs last commit {last}"
        );
    }
}

const PR_BRANCH: &str = "gitops-bump/main/ghcr.io-org-app";

#[test]
fn pull_request_mode_opens_one_pull_request_and_then_updates_it() {
    let origin = two_apps();
    let http = GitHttp::start(origin.dir.path());
    let api = PullRequestApi::start(Answer::Normally);
    let url = http.url("org/gitops.git");
    let main_tip = origin.tip("main");
    for tag in ["v1", "v2"] {
        let cfg = config(&[
            ("repository", &url),
            ("token", GIT_TOKEN),
            ("mode", "pull-request"),
        ]);
        let bumps = [Bump::new("apps/app.yaml", APP, tag)];
        let mut edit = |root: &Path| apply_bumps(root, &bumps);
        let result = write_back_with(&cfg, &options(Path::new("."), &api.url()), &mut edit)
            .unwrap_or_else(|e| panic!("{tag}: {e}"));
        assert_eq!(
            result.pull_request_number,
            Some(1),
            "{tag}: one pull request"
        );
        assert_eq!(
            result.pull_request_url.as_deref(),
            Some("https://git.example.test/org/gitops/pull/1")
        );
        assert_eq!(result.pushed_branch.as_deref(), Some(PR_BRANCH));
        let head = origin.tip(PR_BRANCH);
        assert_eq!(result.commit_sha.as_deref(), Some(head.as_str()), "{tag}");
        assert_eq!(
            git(&origin.bare(), &["rev-parse", &format!("{head}^")]),
            main_tip,
            "{tag}: one commit on the base"
        );
        assert_eq!(origin.tip("main"), main_tip, "{tag}: base untouched");
        let text = origin.show(&format!("{PR_BRANCH}:apps/app.yaml"));
        assert_eq!(tag_in(&text, APP).as_deref(), Some(tag));
    }

    let requests = api.requests();
    let calls: Vec<String> = requests
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["method"].as_str().unwrap_or(""),
                r["path"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        calls,
        [
            "GET /repos/org/gitops/pulls",
            "POST /repos/org/gitops/pulls",
            "POST /repos/org/gitops/issues/1/labels",
            "GET /repos/org/gitops/pulls",
            "PATCH /repos/org/gitops/pulls/1",
            "POST /repos/org/gitops/issues/1/labels",
        ]
    );
    for r in &requests {
        let h = &r["headers"];
        assert_eq!(h["authorization"], format!("Bearer {GIT_TOKEN}"), "{r}");
        assert_eq!(h["accept"], "application/vnd.github+json", "{r}");
        assert_eq!(h["x-github-api-version"], "2022-11-28", "{r}");
        assert!(
            h["user-agent"]
                .as_str()
                .unwrap_or("")
                .starts_with("gitops-bump/"),
            "{r}"
        );
    }
    for get in [&requests[0], &requests[3]] {
        assert_eq!(get["query"]["head"][0], format!("org:{PR_BRANCH}"));
        assert_eq!(get["query"]["state"][0], "open");
    }
    let create = &requests[1]["body"];
    assert_eq!(create["head"], PR_BRANCH);
    assert_eq!(create["base"], "main");
    assert_eq!(
        create["title"],
        format!("chore(deploy): bump {APP} to v1"),
        "no [skip ci] in a pull request"
    );
    let row = |tag: &str| format!("| `apps/app.yaml` | 9 | `{APP}:v0` | `{APP}:{tag}` |");
    assert!(
        create["body"].as_str().unwrap_or("").contains(&row("v1")),
        "{create}"
    );
    let update = &requests[4]["body"];
    assert_eq!(update["title"], format!("chore(deploy): bump {APP} to v2"));
    assert!(
        update["body"].as_str().unwrap_or("").contains(&row("v2")),
        "{update}"
    );
    assert_eq!(
        requests[2]["body"]["labels"],
        serde_json::json!(["gitops-bump", "deploy"])
    );
}

/// A pull request from a checkout (actions/checkout, then the action)
/// leaves the checkout on its branch, clean and at the base: a second bump
/// in the same job opens its pull request from the base again instead of
/// stacking on the first one's branch.
#[test]
fn pull_request_mode_in_a_checkout_leaves_it_on_the_base_branch() {
    let origin = two_apps();
    let api = PullRequestApi::start(Answer::Normally);
    let checkout = origin.checkout(false);
    let main_tip = origin.tip("main");
    for tag in ["v1", "v2"] {
        let cfg = config(&[("mode", "pull-request"), ("token", GIT_TOKEN)]);
        let bumps = [Bump::new("apps/app.yaml", APP, tag)];
        let mut edit = |root: &Path| apply_bumps(root, &bumps);
        let result = write_back_with(&cfg, &options(checkout.path(), &api.url()), &mut edit)
            .unwrap_or_else(|e| panic!("{tag}: {e}"));
        assert_eq!(result.pushed_branch.as_deref(), Some(PR_BRANCH), "{tag}");
        let head = origin.tip(PR_BRANCH);
        assert_eq!(result.commit_sha.as_deref(), Some(head.as_str()), "{tag}");
        assert_eq!(
            git(&origin.bare(), &["rev-parse", &format!("{head}^")]),
            main_tip,
            "{tag}: one commit on the base"
        );
        assert_eq!(origin.tip("main"), main_tip, "{tag}: base untouched");
        assert_eq!(
            git(checkout.path(), &["symbolic-ref", "--short", "HEAD"]),
            "main",
            "{tag}: the checkout stays on its branch"
        );
        assert_eq!(
            git(checkout.path(), &["rev-parse", "HEAD"]),
            main_tip,
            "{tag}"
        );
        assert_eq!(
            git(checkout.path(), &["status", "--porcelain"]),
            "",
            "{tag}: the checkout is clean"
        );
    }
    let requests = api.requests();
    let bases: Vec<&serde_json::Value> = requests
        .iter()
        .filter(|r| r["method"] == "POST" && r["path"] == "/repos/org/gitops/pulls")
        .map(|r| &r["body"]["base"])
        .collect();
    assert_eq!(bases, [&serde_json::json!("main")], "{requests:?}");
}

#[test]
fn pull_request_api_errors_carry_the_status_message_and_a_hint() {
    let cases = [
        (
            403,
            "Resource not accessible by integration",
            "pull-requests: write",
        ),
        (
            401,
            "Resource not accessible by integration",
            "not accepted",
        ),
    ];
    for (status, message, hint) in cases {
        let origin = two_apps();
        let http = GitHttp::start(origin.dir.path());
        let api = PullRequestApi::start(Answer::Refuse(status));
        let url = http.url("org/gitops.git");
        let cfg = config(&[
            ("repository", &url),
            ("token", GIT_TOKEN),
            ("mode", "pull-request"),
        ]);
        let mut edit = |root: &Path| apply_bumps(root, &[Bump::new("apps/app.yaml", APP, "v1")]);
        let err = write_back_with(&cfg, &options(Path::new("."), &api.url()), &mut edit)
            .expect_err("the API refuses");
        let text = err.to_string();
        assert!(
            text.contains(&format!("HTTP {status}")) && text.contains(message),
            "{text}"
        );
        assert!(!text.contains(GIT_TOKEN), "{text}");
        assert!(
            err.hint().unwrap_or_default().contains(hint),
            "{status}: {:?}",
            err.hint()
        );
        assert_eq!(
            api.requests().len(),
            1,
            "{status}: stops at the first refusal"
        );
    }
}

#[test]
fn pull_requests_refused_by_the_actions_setting_name_the_setting() {
    let origin = two_apps();
    let http = GitHttp::start(origin.dir.path());
    let refusal = "GitHub Actions is not permitted to create or approve pull requests.";
    let api = PullRequestApi::start(Answer::RefuseCreate(403, refusal));
    let url = http.url("org/gitops.git");
    let cfg = config(&[
        ("repository", &url),
        ("token", GIT_TOKEN),
        ("mode", "pull-request"),
    ]);
    let mut edit = |root: &Path| apply_bumps(root, &[Bump::new("apps/app.yaml", APP, "v1")]);
    let err = write_back_with(&cfg, &options(Path::new("."), &api.url()), &mut edit)
        .expect_err("the API refuses");
    assert_eq!(
        err.to_string(),
        format!(
            "GitHub API POST {}/repos/org/gitops/pulls failed with HTTP 403: {refusal}",
            api.url()
        )
    );
    assert_eq!(
        err.hint().as_deref(),
        Some(
            "the repository (or organization) setting \"Allow GitHub Actions to create and approve pull requests\" is off: turn it on under Settings -> Actions -> General -> Workflow permissions, or use a GitHub App (`app-id`) or a PAT"
        )
    );
}

#[test]
fn giving_up_and_failing_edits_push_nothing_of_ours() {
    // Another pipeline wins every race: after max-attempts we stop with a
    // clear error, and only their commits are on the branch.
    let origin = two_apps();
    let http = GitHttp::start(origin.dir.path());
    let url = http.url("org/gitops.git");
    for max in [1u32, 3] {
        let cfg = config(&[
            ("repository", &url),
            ("token", GIT_TOKEN),
            ("max-attempts", &max.to_string()),
        ]);
        let before = origin.commit_count("main");
        let mut calls = 0u32;
        let mut edit = |root: &Path| {
            calls += 1;
            origin.push_from_elsewhere("apps/worker.yaml", |t| {
                let old = tag_in(t, WORKER).expect("worker line");
                t.replace(
                    &image_line(WORKER, &old),
                    &image_line(WORKER, &format!("{old}x")),
                )
            });
            apply_bumps(root, &[Bump::new("apps/app.yaml", APP, "mine")])
        };
        let err =
            write_back_with(&cfg, &options(Path::new("."), ""), &mut edit).expect_err("gives up");
        assert!(
            matches!(err, WriteBackError::RaceLost { attempts, .. } if attempts == max),
            "{err}"
        );
        assert!(
            err.to_string().contains(&format!("after {max} attempt(s)")),
            "{err}"
        );
        assert!(
            err.hint().unwrap_or_default().contains("concurrency"),
            "{err}"
        );
        assert_eq!(calls, max);
        assert_eq!(
            origin.commit_count("main"),
            before + max as usize,
            "only theirs"
        );
        assert_eq!(
            tag_in(&origin.show("main:apps/app.yaml"), APP).as_deref(),
            Some("v0")
        );
    }

    // The edit itself fails: its error comes back as is, nothing is pushed.
    let tip = origin.tip("main");
    let cfg = config(&[("repository", &url), ("token", GIT_TOKEN)]);
    let mut edit = |_: &Path| {
        Err(gitops_bump::workspace::WorkspaceError::NoMatch {
            images: vec!["typo/app".into()],
        })
    };
    let err =
        write_back_with(&cfg, &options(Path::new("."), ""), &mut edit).expect_err("edit fails");
    assert!(matches!(err, WriteBackError::Edit(_)), "{err}");
    assert_eq!(origin.tip("main"), tip);
}
