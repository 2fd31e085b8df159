//! Cross-repository write-back against a local GitHub API stand-in that is
//! backed by a real bare git repository: App installation tokens, commits
//! through `createCommitOnBranch`, races, and the newer-wins guard.

mod deploy_statuses;
mod edit;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use gitops_bump::config::{GitHubApp, Mode};
use gitops_bump::edit::EditReport;
use gitops_bump::github_api::app::{self, AppError};
use gitops_bump::github_api::rest::Api;
use gitops_bump::guard::{self, RunId};
use gitops_bump::secret::Secret;
use gitops_bump::workspace::WorkspaceError;
use gitops_bump::write_back::api::{ApiCommitOptions, ApiTarget};
use gitops_bump::write_back::git::history::{self, LastBump};
use gitops_bump::write_back::message::append_trailers;
use gitops_bump::write_back::{self, WriteBackError, WriteBackResult};

use edit::{kustomization, set_tags};
use test_support::action::run_action;
use test_support::git::{git, git_with};
use test_support::github::{
    APP_ID, AppKey, FOREIGN_TOKEN, FakeGitHub, INSTALLATION_ID, Installation, OWNER, REPO,
    STATIC_TOKEN,
};
use test_support::{Case, check_cases};

const BIN: &str = env!("CARGO_BIN_EXE_gitops-bump");

const FILE: &str = "apps/prod/kustomization.yaml";
const APP: &str = "ghcr.io/org/app";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn target(server: &FakeGitHub, token: Secret) -> ApiTarget {
    ApiTarget {
        api: Api::new(&server.url),
        owner: OWNER.into(),
        repo: REPO.into(),
        branch: "main".into(),
        token,
    }
}

fn options(message: &str) -> ApiCommitOptions {
    ApiCommitOptions::new(vec![PathBuf::from("apps/prod")], message.into(), 10)
}

/// A server whose repository holds the app at `tag` plus an unrelated file.
fn seeded(tag: &str) -> FakeGitHub {
    let server = FakeGitHub::start(Installation::default());
    server.repo.commit(
        "main",
        &[
            (FILE, &kustomization(&[(APP, tag)])),
            ("README.md", "# gitops\n"),
            ("apps/prod/notes.txt", "not yaml\n"),
        ],
        "initial",
    );
    server
}

fn bump(
    target: &ApiTarget,
    options: &ApiCommitOptions,
    tag: &str,
) -> Result<WriteBackResult, WriteBackError> {
    let tag = tag.to_string();
    write_back::api::write_back(target, options, &mut |root: &Path| {
        Ok(set_tags(root, FILE, &[(APP, &tag)]))
    })
}

fn app_credentials(server: &FakeGitHub) -> GitHubApp {
    GitHubApp {
        app_id: APP_ID.into(),
        private_key: Secret::new(server.key.private_pem.clone()),
        installation_id: None,
    }
}

#[test]
fn app_token_is_scoped_used_and_revoked() {
    let server = seeded("v1.0.0");
    let rt = runtime();
    let api = Api::new(&server.url);
    for (mode, want_permissions) in [
        (Mode::Push, serde_json::json!({"contents": "write"})),
        (
            Mode::PullRequest,
            serde_json::json!({"contents": "write", "pull_requests": "write"}),
        ),
    ] {
        let before = server.tokens().len();
        let token = rt
            .block_on(app::installation_token(
                &api,
                &app_credentials(&server),
                OWNER,
                REPO,
                &app::permissions_for(mode),
            ))
            .unwrap();
        assert_eq!(token.installation_id, INSTALLATION_ID);
        let issued = server.tokens();
        assert_eq!(issued.len(), before + 1);
        let record = &issued[before];
        assert_eq!(record["permissions"], want_permissions, "{mode:?}");
        assert_eq!(record["repositories"], serde_json::json!([REPO]));
        assert_eq!(record["revoked"], false);
        let value = record["token"].as_str().unwrap();
        assert_eq!(token.secret().expose(), value);
        assert!(!format!("{token:?}").contains(value), "Debug must redact");

        // The token works for an API commit, then is revoked explicitly.
        let result = bump(
            &target(&server, token.secret().clone()),
            &options("chore: bump"),
            if mode == Mode::Push {
                "v1.1.0"
            } else {
                "v1.2.0"
            },
        )
        .unwrap();
        assert!(result.changed);
        rt.block_on(token.revoke()).unwrap();
        assert_eq!(server.tokens()[before]["revoked"], true);
    }
    // A revoked token is refused by the server.
    let revoked = Secret::new(server.tokens()[0]["token"].as_str().unwrap());
    let err = bump(&target(&server, revoked), &options("x"), "v9.0.0").unwrap_err();
    assert!(err.to_string().contains("401"), "{err}");
    // Every call carried the headers GitHub asks for.
    for r in server.requests() {
        assert_eq!(r["api_version"], "2022-11-28", "{r}");
        assert_eq!(r["accept"], "application/vnd.github+json", "{r}");
        assert!(
            r["user_agent"]
                .as_str()
                .unwrap()
                .starts_with("gitops-bump/"),
            "{r}"
        );
        assert_eq!(r["bearer"], true, "{r}");
    }
}

#[test]
fn app_token_is_revoked_on_drop_when_the_edit_fails() {
    let server = seeded("v1.0.0");
    let head = server.repo.head("main");
    let rt = runtime();
    let token = rt
        .block_on(app::installation_token(
            &Api::new(&server.url),
            &app_credentials(&server),
            OWNER,
            REPO,
            &app::permissions_for(Mode::Push),
        ))
        .unwrap();
    let failing = write_back::api::write_back(
        &target(&server, token.secret().clone()),
        &options("chore: bump"),
        &mut |_: &Path| -> Result<EditReport, WorkspaceError> {
            Err(WorkspaceError::NoMatch {
                images: vec!["typo/app".into()],
            })
        },
    );
    assert!(
        matches!(failing, Err(WriteBackError::Edit(_))),
        "{failing:?}"
    );
    // Dropped inside a runtime, like a `?` out of the pipeline would.
    rt.block_on(async move { drop(token) });
    assert_eq!(server.tokens()[0]["revoked"], true);
    assert_eq!(server.repo.head("main"), head, "nothing committed");
}

#[test]
fn app_errors_name_the_installation_or_the_permission() {
    struct Case {
        installation: Installation,
        wrong_key: bool,
        installation_id: Option<u64>,
        error: &'static str,
        hint: &'static str,
    }
    let cases = [
        Case {
            installation: Installation {
                installed: false,
                ..Default::default()
            },
            wrong_key: false,
            installation_id: None,
            error: "the GitHub App is not installed on org/gitops",
            hint: "install it",
        },
        Case {
            installation: Installation {
                installed: true,
                granted: serde_json::json!({"contents": "read"}),
            },
            wrong_key: false,
            installation_id: None,
            error: "may not grant `Contents: Read and write` on org/gitops (422)",
            hint: "Repository permissions",
        },
        Case {
            installation: Installation::default(),
            wrong_key: true,
            installation_id: None,
            error: "GitHub rejected the App's JWT (401)",
            hint: "belong to the same App",
        },
        Case {
            installation: Installation::default(),
            wrong_key: false,
            installation_id: Some(999),
            error: "not installed on org/gitops",
            hint: "app-installation-id",
        },
    ];
    let rt = runtime();
    for case in cases {
        let server = FakeGitHub::start(case.installation);
        let mut credentials = app_credentials(&server);
        credentials.installation_id = case.installation_id;
        let other_dir;
        if case.wrong_key {
            other_dir = tempfile::tempdir().unwrap();
            let other = AppKey::generate(other_dir.path(), "other");
            credentials.private_key = Secret::new(other.private_pem);
        }
        let err: AppError = rt
            .block_on(app::installation_token(
                &Api::new(&server.url),
                &credentials,
                OWNER,
                REPO,
                &app::permissions_for(Mode::Push),
            ))
            .unwrap_err();
        assert!(err.to_string().contains(case.error), "{err}");
        let hint = err.hint().unwrap();
        assert!(hint.contains(case.hint), "{hint}");
        assert!(server.tokens().is_empty(), "no token issued");
    }
}

#[test]
fn api_bump_lands_as_one_commit_with_trailers_and_exact_bytes() {
    let server = seeded("v1.0.0");
    let before = server.repo.head("main");
    let t = target(&server, Secret::new(STATIC_TOKEN));
    let mut o = options("chore(deploy): bump app to v1.1.0 [skip ci]\n\nBuilt by run 12.");
    o.run = RunId::parse("12.1");
    let out = bump(&t, &o, "v1.1.0").unwrap();
    let head = server.repo.head("main");
    assert!(out.changed && out.skipped_reason.is_none());
    assert_eq!(out.attempts, 1);
    assert_eq!(out.commit_sha.as_deref(), Some(head.as_str()));
    assert_eq!(out.report.files, vec![FILE.to_string()]);
    assert_eq!(server.repo.git(&["rev-parse", &format!("{head}^")]), before);
    assert_eq!(
        server.repo.show(&head, FILE),
        kustomization(&[(APP, "v1.1.0")]).trim_end(),
        "comment and layout kept"
    );
    assert_eq!(server.repo.show(&head, "README.md"), "# gitops");
    assert_eq!(
        server.repo.git(&["diff", "--name-only", &before, &head]),
        FILE,
        "only the edited file changed"
    );
    assert_eq!(
        server.repo.message(&head),
        "chore(deploy): bump app to v1.1.0 [skip ci]\n\nBuilt by run 12.\n\nBumped-By: gitops-bump\nBumped-Image: ghcr.io/org/app\nBumped-By-Run: 12.1",
        "the trailers once, after the message"
    );
    // Running again changes nothing and commits nothing.
    let again = bump(&t, &o, "v1.1.0").unwrap();
    assert!(!again.changed && again.commit_sha.is_none());
    assert_eq!(server.repo.head("main"), head);
}

#[test]
fn a_lost_race_reapplies_the_edit_on_the_new_head() {
    let server = seeded("v1.0.0");
    server.repo.commit(
        "main",
        &[(
            FILE,
            &kustomization(&[(APP, "v1.0.0"), ("ghcr.io/org/worker", "w1")]),
        )],
        "add worker",
    );
    let t = target(&server, Secret::new(STATIC_TOKEN));
    let mut calls = 0;
    let out = write_back::api::write_back(&t, &options("chore: bump app"), &mut |root: &Path| {
        calls += 1;
        if calls == 1 {
            // Another pipeline lands between our read and our commit.
            server.repo.commit(
                "main",
                &[(
                    FILE,
                    &kustomization(&[(APP, "v1.0.0"), ("ghcr.io/org/worker", "w2")]),
                )],
                "bump worker",
            );
        }
        Ok(set_tags(root, FILE, &[(APP, "v1.1.0")]))
    })
    .unwrap();
    assert_eq!(out.attempts, 2);
    assert_eq!(calls, 2);
    let head = server.repo.head("main");
    assert_eq!(
        server.repo.show(&head, FILE),
        kustomization(&[(APP, "v1.1.0"), ("ghcr.io/org/worker", "w2")]).trim_end(),
        "both bumps present"
    );
    assert_eq!(server.repo.message(&format!("{head}^")), "bump worker");
}

#[test]
fn concurrent_api_bumpers_all_land() {
    const N: usize = 8;
    let images: Vec<String> = (0..N).map(|i| format!("ghcr.io/org/svc{i}")).collect();
    let initial: Vec<(&str, &str)> = images.iter().map(|i| (i.as_str(), "old")).collect();
    let server = FakeGitHub::start(Installation::default());
    let start = server
        .repo
        .commit("main", &[(FILE, &kustomization(&initial))], "initial");
    let t = target(&server, Secret::new(STATIC_TOKEN));
    let barrier = Arc::new(Barrier::new(N));
    let results: Vec<WriteBackResult> = std::thread::scope(|s| {
        let handles: Vec<_> = images
            .iter()
            .enumerate()
            .map(|(i, image)| {
                let (t, barrier) = (t.clone(), barrier.clone());
                s.spawn(move || {
                    let mut o = options(&format!("chore: bump svc{i}"));
                    o.max_attempts = 40;
                    barrier.wait();
                    let tag = format!("new{i}");
                    write_back::api::write_back(&t, &o, &mut |root: &Path| {
                        Ok(set_tags(root, FILE, &[(image.as_str(), tag.as_str())]))
                    })
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap().unwrap())
            .collect()
    });
    let head = server.repo.head("main");
    let final_images: Vec<(String, String)> = (0..N)
        .map(|i| (images[i].clone(), format!("new{i}")))
        .collect();
    let want: Vec<(&str, &str)> = final_images
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    assert_eq!(
        server.repo.show(&head, FILE),
        kustomization(&want).trim_end(),
        "none lost"
    );
    assert_eq!(server.repo.count(&head), 1 + N, "one commit each");
    for r in &results {
        let sha = r.commit_sha.as_deref().unwrap();
        server
            .repo
            .git(&["merge-base", "--is-ancestor", sha, &head]);
        server
            .repo
            .git(&["merge-base", "--is-ancestor", &start, sha]);
    }
    let attempts: u32 = results.iter().map(|r| r.attempts).sum();
    assert!(attempts >= N as u32);
}

/// How the repository looked before the run, for the guard cases.
enum History {
    /// The app deployed at a tag by a human (no trailers).
    Plain(&'static str),
    /// The app deployed at a tag by a bump commit of this run number, then
    /// a human edit of another line of the same file.
    BumpedThenTouched(&'static str, &'static str),
}

#[test]
fn newer_wins_skips_stale_runs_and_allows_rollbacks_when_off() {
    struct Case {
        name: &'static str,
        history: History,
        new_tag: &'static str,
        /// `None`: guard off; `Some(run)`: guard on with this run.
        guard: Option<&'static str>,
        skip: Option<&'static str>,
    }
    let cases = [
        Case {
            name: "older semver is skipped",
            history: History::Plain("v1.3.0"),
            new_tag: "v1.2.0",
            guard: Some("60.1"),
            skip: Some("already at v1.3.0, newer than v1.2.0"),
        },
        Case {
            name: "newer semver lands",
            history: History::Plain("v1.3.0"),
            new_tag: "v1.4.0",
            guard: Some("60.1"),
            skip: None,
        },
        Case {
            name: "release after its pre-release lands",
            history: History::Plain("1.4.0-rc.2"),
            new_tag: "1.4.0",
            guard: Some("60.1"),
            skip: None,
        },
        Case {
            name: "sha tag from an older run is skipped",
            history: History::BumpedThenTouched("3f2a9c1", "50.1"),
            new_tag: "b71e002",
            guard: Some("49.1"),
            skip: Some("last bumped by workflow run 50.1, newer than this run 49.1"),
        },
        Case {
            name: "sha tag from a newer run lands",
            history: History::BumpedThenTouched("3f2a9c1", "50.1"),
            new_tag: "b71e002",
            guard: Some("51.1"),
            skip: None,
        },
        Case {
            name: "no bump history: no evidence, lands",
            history: History::Plain("3f2a9c1"),
            new_tag: "b71e002",
            guard: Some("1.1"),
            skip: None,
        },
        Case {
            name: "rollback with the guard off lands",
            history: History::Plain("v1.3.0"),
            new_tag: "v1.2.0",
            guard: None,
            skip: None,
        },
        Case {
            name: "sha rollback with the guard off lands",
            history: History::BumpedThenTouched("3f2a9c1", "50.1"),
            new_tag: "b71e002",
            guard: None,
            skip: None,
        },
    ];
    for case in cases {
        let server = FakeGitHub::start(Installation::default());
        let tag = match case.history {
            History::Plain(tag) => {
                server.repo.commit(
                    "main",
                    &[(FILE, &kustomization(&[(APP, tag)]))],
                    "deploy by hand",
                );
                tag
            }
            History::BumpedThenTouched(tag, run) => {
                server.repo.commit(
                    "main",
                    &[(FILE, &kustomization(&[(APP, "0000000")]))],
                    "initial",
                );
                let message = append_trailers(
                    "chore: bump app [skip ci]",
                    &[APP],
                    RunId::parse(run).unwrap(),
                );
                server
                    .repo
                    .commit("main", &[(FILE, &kustomization(&[(APP, tag)]))], &message);
                let touched = format!("# reviewed\n{}", kustomization(&[(APP, tag)]));
                server
                    .repo
                    .commit("main", &[(FILE, &touched)], "docs: note");
                tag
            }
        };
        let _ = tag;
        let before = server.repo.head("main");
        let t = target(&server, Secret::new(STATIC_TOKEN));
        let mut o = options("chore: bump app");
        o.run = case.guard.and_then(RunId::parse);
        o.newer_wins = case.guard.map(RunId::parse);
        let out = bump(&t, &o, case.new_tag).unwrap();
        match case.skip {
            Some(reason) => {
                let got = out
                    .skipped_reason
                    .as_deref()
                    .unwrap_or_else(|| panic!("{}: not skipped", case.name));
                assert!(got.contains(reason), "{}: {got}", case.name);
                assert!(!out.changed && out.commit_sha.is_none(), "{}", case.name);
                assert_eq!(
                    server.repo.head("main"),
                    before,
                    "{}: nothing committed",
                    case.name
                );
            }
            None => {
                assert!(
                    out.skipped_reason.is_none(),
                    "{}: {:?}",
                    case.name,
                    out.skipped_reason
                );
                assert!(out.changed, "{}", case.name);
                let head = server.repo.head("main");
                assert!(
                    server
                        .repo
                        .show(&head, FILE)
                        .contains(&format!("newTag: {}", case.new_tag)),
                    "{}",
                    case.name
                );
                let message = server.repo.message(&head);
                match case.guard {
                    Some(run) => assert!(
                        message.ends_with(&format!("Bumped-Image: {APP}\nBumped-By-Run: {run}")),
                        "{}: {message}",
                        case.name
                    ),
                    None => assert!(
                        !message.contains("Bumped-By-Run"),
                        "{}: {message}",
                        case.name
                    ),
                }
            }
        }
    }
}

/// A work tree built with the git CLI:
/// c1 human adds the file; c2 bump app (run 10.1); c3 bump worker in the
/// same file (run 11.1); c4 a commit naming app (run 99.1) that touches
/// another file only.
fn history_repo(dir: &Path) -> PathBuf {
    let work = dir.join("work");
    let run = |args: &[&str]| {
        let who = [
            ("GIT_AUTHOR_NAME", "t"),
            ("GIT_AUTHOR_EMAIL", "t@example.com"),
            ("GIT_COMMITTER_NAME", "t"),
            ("GIT_COMMITTER_EMAIL", "t@example.com"),
        ];
        git_with(&work, args, &who, None);
    };
    std::fs::create_dir_all(work.join("apps/prod")).unwrap();
    run(&["init", "-q", "-b", "main"]);
    let commit = |images: &[(&str, &str)], other: &str, message: &str| {
        std::fs::write(work.join(FILE), kustomization(images)).unwrap();
        std::fs::write(work.join("other.yaml"), other).unwrap();
        run(&["add", "-A"]);
        run(&["commit", "-q", "-m", message]);
    };
    let trailer =
        |image: &str, r: &str| append_trailers("chore: bump", &[image], RunId::parse(r).unwrap());
    commit(&[(APP, "a1"), ("worker", "w1")], "x: 1\n", "add manifests");
    commit(
        &[(APP, "a2"), ("worker", "w1")],
        "x: 1\n",
        &trailer(APP, "10.1"),
    );
    commit(
        &[(APP, "a2"), ("worker", "w2")],
        "x: 1\n",
        &trailer("worker", "11.1"),
    );
    commit(
        &[(APP, "a2"), ("worker", "w2")],
        "x: 2\n",
        &trailer(APP, "99.1"),
    );
    work
}

#[test]
fn history_walk_finds_the_last_bump_of_the_image_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let work = history_repo(dir.path());
    let found = |r: &str| LastBump::Found {
        run: RunId::parse(r).unwrap(),
        commit: String::new(),
    };
    let strip = |b: LastBump| match b {
        LastBump::Found { run, .. } => LastBump::Found {
            run,
            commit: String::new(),
        },
        other => other,
    };
    // (clone depth, 0 = the full repository; image; expected)
    let cases = [
        (0, APP, found("10.1")),
        (0, "worker", found("11.1")),
        (0, "ghcr.io/org/other", LastBump::NotFound),
        (1, APP, LastBump::Shallow),
        (3, APP, LastBump::Shallow),
        (3, "worker", found("11.1")),
        (4, APP, found("10.1")),
    ];
    for (depth, image, want) in cases {
        let path = if depth == 0 {
            work.clone()
        } else {
            let clone = dir
                .path()
                .join(format!("clone-{depth}-{}", image.replace('/', "_")));
            git(
                dir.path(),
                &[
                    "clone",
                    "-q",
                    "--depth",
                    &depth.to_string(),
                    &format!("file://{}", work.display()),
                    clone.to_str().unwrap(),
                ],
            );
            clone
        };
        let repo = git2::Repository::open(&path).unwrap();
        let head = repo.head().unwrap().peel_to_commit().unwrap().id();
        let got = history::last_bumped_run(&repo, head, Path::new(FILE), image, 1000).unwrap();
        assert_eq!(strip(got), want, "depth {depth}, {image}");
    }
    // Deepening a shallow workspace is the git transport's job, proven end
    // to end in tests/writeback (depth-1 checkouts and shallow clones).
}

#[test]
fn api_write_back_fails_clearly_and_commits_nothing() {
    let server = seeded("v1.0.0");
    let head = server.repo.head("main");
    struct Case {
        token: &'static str,
        branch: &'static str,
        paths: &'static [&'static str],
        max_file_size: u64,
        error: &'static str,
        hint: &'static str,
    }
    let cases = [
        Case {
            token: STATIC_TOKEN,
            branch: "main",
            paths: &["apps/staging"],
            max_file_size: 1 << 20,
            error: "apps/staging matches nothing at",
            hint: "relative to the repository root",
        },
        Case {
            token: STATIC_TOKEN,
            branch: "main",
            paths: &["apps/prod"],
            max_file_size: 50,
            error: "apps/prod/kustomization.yaml in org/gitops is",
            hint: "commit-via: git",
        },
        Case {
            token: STATIC_TOKEN,
            branch: "release",
            paths: &["apps/prod"],
            max_file_size: 1 << 20,
            error: "branch release does not exist in org/gitops",
            hint: "create the branch",
        },
        Case {
            token: "ghs_wrong",
            branch: "main",
            paths: &["apps/prod"],
            max_file_size: 1 << 20,
            error: "GitHub answered 401: Bad credentials",
            hint: "expired or been revoked",
        },
    ];
    for case in cases {
        let mut t = target(&server, Secret::new(case.token));
        t.branch = case.branch.into();
        let mut o = options("chore: bump");
        o.paths = case.paths.iter().map(PathBuf::from).collect();
        o.max_file_size = case.max_file_size;
        let err = bump(&t, &o, "v2.0.0").unwrap_err();
        assert!(err.to_string().contains(case.error), "{err}");
        assert!(!err.to_string().contains(STATIC_TOKEN), "{err}");
        let hint = err.hint().unwrap_or_default();
        assert!(hint.contains(case.hint), "{hint}");
        assert_eq!(server.repo.head("main"), head);
    }
}

/// The commit that started a run, and whether the run stops as its own.
struct TriggerCase<'a> {
    what: &'static str,
    /// Name and email of its author.
    author: (&'a str, &'a str),
    /// The files it touches.
    files: Vec<(&'a str, &'a str)>,
    stops: bool,
}

impl Case for TriggerCase<'_> {
    fn name(&self) -> String {
        self.what.to_string()
    }
}

#[test]
fn a_run_started_by_our_own_bump_stops() {
    let server = seeded("v1.0.0");
    let bot = ("gitops-bot", "bot@example.com");
    let mut raw = gitops_bump::config::RawInputs::default();
    for (k, v) in [
        ("images", "ghcr.io/org/app:v2.0.0"),
        ("paths", "apps/prod"),
        ("author-name", bot.0),
        ("author-email", bot.1),
    ] {
        raw.set(k, v.to_string());
    }
    let config = gitops_bump::config::Config::from_raw(&raw).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bump_yaml = kustomization(&[(APP, "v1.1.0")]);
    let human_yaml = kustomization(&[(APP, "v1.2.0")]);
    let cases = [
        TriggerCase {
            what: "our bump of the manifest",
            author: bot,
            files: vec![(FILE, bump_yaml.as_str())],
            stops: true,
        },
        TriggerCase {
            what: "our author, a manifest and code",
            author: bot,
            files: vec![
                (FILE, human_yaml.as_str()),
                ("src/main.rs", "fn main() {}\n"),
            ],
            stops: false,
        },
        TriggerCase {
            what: "another author's bump",
            author: ("Alice", "alice@example.com"),
            files: vec![(FILE, bump_yaml.as_str())],
            stops: false,
        },
        TriggerCase {
            what: "our author, outside the paths",
            author: bot,
            files: vec![("README.md", "# changed\n")],
            stops: false,
        },
    ];
    check_cases(cases, |case| {
        let TriggerCase {
            author,
            files,
            stops,
            ..
        } = case;
        let commit = server
            .repo
            .commit_by("main", files, "chore: bump [skip ci]", *author);
        let event_path = dir.path().join(format!("event-{commit}.json"));
        std::fs::write(&event_path, server.repo.push_event(&commit).to_string()).unwrap();
        let trigger = guard::read_trigger_commit(&event_path).unwrap();
        let reason = guard::self_trigger_reason(
            trigger.as_ref(),
            &config.guards.author_name,
            &config.guards.author_email,
            &config.guards.paths,
        );
        assert_eq!(reason.is_some(), *stops, "{reason:?}");
    });
    let missing = guard::read_trigger_commit(&dir.path().join("none.json")).unwrap_err();
    assert!(missing.to_string().contains("none.json"), "{missing}");
}

#[test]
fn api_write_back_for_a_config_uses_the_app_and_revokes_its_token() {
    let server = seeded("v1.0.0");
    let config = |extra: &[(&str, &str)]| {
        let mut raw = gitops_bump::config::RawInputs::default();
        for (k, v) in [
            ("images", "ghcr.io/org/app:v1.1.0"),
            ("paths", "apps/prod"),
            ("repository", "https://github.com/org/gitops.git"),
            ("commit-via", "api"),
            ("app-id", APP_ID),
            ("app-private-key", server.key.private_pem.as_str()),
        ]
        .iter()
        .chain(extra)
        {
            raw.set(k, v.to_string());
        }
        gitops_bump::config::Config::from_raw(&raw).unwrap()
    };
    let api = Api::new(&server.url);
    let mut options = gitops_bump::write_back::git::WriteBackSite::new(
        Path::new("."),
        gitops_bump::run_env::RunEnv::from_env().github,
    );
    options.context.run = RunId::parse("70.1");
    options.context.api_url = server.url.clone();
    options.context.repository = None;
    // One run: extra inputs, the tag to set (`None`: the edit fails).
    let bump_with = |extra: &[(&str, &str)], tag: Option<&str>| {
        write_back::api::write_back_for_config(
            &config(extra).write_back,
            &api,
            &options,
            &mut |root: &Path| match tag {
                Some(tag) => Ok(set_tags(root, FILE, &[(APP, tag)])),
                None => Err(WorkspaceError::NoMatch {
                    images: vec!["typo/app".into()],
                }
                .into()),
            },
            &mut write_back::Tally::default(),
        )
    };

    // Lands on the default branch; the App credential keeps `[skip ci]`.
    let out = bump_with(&[("commit-message", "deploy {files}")], Some("v1.1.0")).unwrap();
    assert!(out.changed);
    let head = server.repo.head("main");
    assert_eq!(
        server.repo.message(&head),
        "deploy apps/prod/kustomization.yaml [skip ci]\n\nBumped-By: gitops-bump\nBumped-Image: ghcr.io/org/app\nBumped-By-Run: 70.1",
        "the template, the skip marker and the trailers, once"
    );
    // An older semver in push mode is refused by the guard, and the token
    // is still revoked; with newer-wins off it lands.
    let stale = bump_with(&[], Some("v1.0.5")).unwrap();
    assert!(stale.skipped_reason.is_some() && !stale.changed);
    assert_eq!(server.repo.head("main"), head);
    let rollback = bump_with(&[("newer-wins", "false")], Some("v1.0.5")).unwrap();
    assert!(rollback.changed);
    // A failing edit still revokes, and keeps its file:line error.
    assert!(matches!(bump_with(&[], None), Err(WriteBackError::Edit(_))));
    // Pull-request mode asks for `pull_requests: write` too, and the pull
    // request gets the same title, body and labels as over git.
    let pr = bump_with(
        &[("mode", "pull-request"), ("labels", "gitops-bump,deploy")],
        Some("v3.0.0"),
    )
    .unwrap();
    assert_eq!(pr.pull_request_number, Some(1));
    let pulls = server.state()["pulls"].clone();
    assert_eq!(pulls[0]["head"]["ref"], "gitops-bump/main/ghcr.io-org-app");
    assert_eq!(
        pulls[0]["title"],
        "chore(deploy): bump ghcr.io/org/app to v3.0.0"
    );
    assert_eq!(
        pulls[0]["labels"],
        serde_json::json!(["gitops-bump", "deploy"])
    );
    let tokens = server.tokens();
    assert_eq!(tokens.len(), 5);
    for (i, t) in tokens.iter().enumerate() {
        assert_eq!(t["revoked"], true, "{t}");
        let want = if i == 4 {
            serde_json::json!({"contents": "write", "pull_requests": "write"})
        } else {
            serde_json::json!({"contents": "write"})
        };
        assert_eq!(t["permissions"], want);
    }
}

#[test]
fn pull_request_mode_keeps_one_bump_on_the_newest_base_and_one_pull_request() {
    let server = seeded("v1.0.0");
    let api = Api::new(&server.url);
    let mut options = gitops_bump::write_back::git::WriteBackSite::new(
        Path::new("."),
        gitops_bump::run_env::RunEnv::from_env().github,
    );
    options.context.api_url = server.url.clone();
    let pull_request =
        |tag: &str, edit: &mut dyn FnMut(&Path) -> Result<EditReport, WorkspaceError>| {
            let mut raw = gitops_bump::config::RawInputs::default();
            for (k, v) in [
                ("images", format!("ghcr.io/org/app:{tag}")),
                ("paths", "apps/prod".into()),
                ("repository", "org/gitops".into()),
                ("commit-via", "api".into()),
                ("mode", "pull-request".into()),
                ("token", STATIC_TOKEN.into()),
                ("commit-message", "chore: bump {summary}".into()),
            ] {
                raw.set(k, v);
            }
            let config = gitops_bump::config::Config::from_raw(&raw).unwrap();
            write_back::api::write_back_for_config(
                &config.write_back,
                &api,
                &options,
                &mut |root: &Path| edit(root).map_err(WriteBackError::from),
                &mut write_back::Tally::default(),
            )
        };
    let main_before = server.repo.head("main");
    // (new tag, title, base moves first?)
    let rounds = [
        ("v1.1.0", "chore: bump ghcr.io/org/app to v1.1.0", false),
        ("v1.2.0", "chore: bump ghcr.io/org/app to v1.2.0", true),
    ];
    for (tag, title, base_moves) in rounds {
        if base_moves {
            server
                .repo
                .commit("main", &[("README.md", "# gitops v2\n")], "docs");
        }
        let base = server.repo.head("main");
        let out = pull_request(tag, &mut |root: &Path| {
            Ok(set_tags(root, FILE, &[(APP, tag)]))
        })
        .unwrap();
        assert!(out.changed);
        assert_eq!(out.pull_request_number, Some(1), "the same pull request");
        assert_eq!(
            out.pull_request_url.as_deref(),
            Some("https://github.com/org/gitops/pull/1")
        );
        let head = server.repo.head("gitops-bump/main/ghcr.io-org-app");
        assert_eq!(out.commit_sha.as_deref(), Some(head.as_str()));
        assert_eq!(
            server.repo.git(&["rev-parse", &format!("{head}^")]),
            base,
            "one commit on the newest base"
        );
        assert!(
            server
                .repo
                .show(&head, FILE)
                .contains(&format!("newTag: {tag}"))
        );
        assert!(
            server
                .repo
                .message(&head)
                .starts_with(&format!("{title}\n\nBumped-By: gitops-bump")),
            "{}",
            server.repo.message(&head)
        );
        let _ = title;
    }
    let pulls = server.state()["pulls"].clone();
    assert_eq!(pulls.as_array().unwrap().len(), 1);
    assert_eq!(
        pulls[0]["title"], "chore: bump ghcr.io/org/app to v1.2.0",
        "title updated"
    );
    assert_eq!(pulls[0]["labels"], serde_json::json!(["gitops-bump"]));
    assert_eq!(pulls[0]["base"]["ref"], "main");
    assert_ne!(
        server.repo.head("main"),
        main_before,
        "only the docs commit moved main"
    );
    assert!(
        server.repo.show("main", FILE).contains("newTag: v1.0.0"),
        "main untouched by the bump"
    );
}

/// Benchmark (run by benches/crossrepo.sh, ignored in normal test runs):
/// one API write-back against its baseline, a clone + commit + push of the
/// same change with the git CLI, both on the same bare repository in the
/// same run; then 8 concurrent API bumpers against the same 8 in sequence.
/// Prints medians; asserts nothing about speed.
#[test]
#[ignore = "benchmark: run benches/crossrepo.sh"]
fn bench_api_write_back_against_git_push() {
    const ROUNDS: usize = 15;
    let server = seeded("v0");
    let t = target(&server, Secret::new(STATIC_TOKEN));
    let o = options("bench: bump");
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let mut api_times = Vec::new();
    let mut git_times = Vec::new();
    let dir = tempfile::tempdir().unwrap();
    for round in 0..ROUNDS {
        let started = std::time::Instant::now();
        bump(&t, &o, &format!("api{round}")).unwrap();
        api_times.push(started.elapsed());

        let started = std::time::Instant::now();
        let clone = dir.path().join(format!("clone{round}"));
        let git_cli = |args: &[&str]| {
            let who = [
                ("GIT_AUTHOR_NAME", "b"),
                ("GIT_AUTHOR_EMAIL", "b@example.com"),
                ("GIT_COMMITTER_NAME", "b"),
                ("GIT_COMMITTER_EMAIL", "b@example.com"),
            ];
            git_with(dir.path(), args, &who, None);
        };
        let clone_s = clone.to_str().unwrap();
        git_cli(&[
            "clone",
            "-q",
            "--depth",
            "1",
            &format!("file://{}", server.repo.path.display()),
            clone_s,
        ]);
        set_tags(&clone, FILE, &[(APP, &format!("git{round}"))]);
        git_cli(&["-C", clone_s, "commit", "-q", "-am", "bench: bump"]);
        git_cli(&["-C", clone_s, "push", "-q", "origin", "HEAD:main"]);
        git_times.push(started.elapsed());
    }

    const N: usize = 8;
    let images: Vec<String> = (0..N).map(|i| format!("ghcr.io/org/svc{i}")).collect();
    let run_bumpers = |concurrent: bool, round: &str| {
        let initial: Vec<(&str, &str)> = images.iter().map(|i| (i.as_str(), "old")).collect();
        server
            .repo
            .commit("main", &[(FILE, &kustomization(&initial))], "reset");
        let mut o = options("bench: bump");
        o.max_attempts = 60;
        let one = |i: usize| {
            let tag = format!("{round}{i}");
            let image = images[i].clone();
            write_back::api::write_back(&t, &o, &mut |root: &Path| {
                Ok(set_tags(root, FILE, &[(image.as_str(), tag.as_str())]))
            })
            .unwrap()
            .attempts
        };
        let started = std::time::Instant::now();
        let attempts: u32 = if concurrent {
            std::thread::scope(|s| {
                let handles: Vec<_> = (0..N).map(|i| s.spawn(move || one(i))).collect();
                handles.into_iter().map(|h| h.join().unwrap()).sum()
            })
        } else {
            (0..N).map(one).sum()
        };
        (started.elapsed(), attempts)
    };
    let (sequential, seq_attempts) = run_bumpers(false, "s");
    let (concurrent, con_attempts) = run_bumpers(true, "c");

    println!("\n| measurement | median / total | notes |");
    println!("|---|---|---|");
    println!(
        "| baseline: git clone --depth 1 + commit + push (file://) | {:?} | {ROUNDS} rounds |",
        median(git_times)
    );
    println!(
        "| API write-back (ref + tree + blobs + createCommitOnBranch) | {:?} | {ROUNDS} rounds, fake API over loopback |",
        median(api_times)
    );
    println!(
        "| baseline: {N} API bumpers in sequence | {sequential:?} | {seq_attempts} attempts |"
    );
    println!(
        "| {N} API bumpers concurrently | {concurrent:?} | {con_attempts} attempts (retries on lost races) |"
    );
}

/// Cross-repository write-back with a GitHub App, in both commit modes and
/// both modes of writing: the installation token is minted for the
/// repository written, used by git (as `x-access-token`) or the API and
/// for the pull request, and revoked; the outputs and the summary point at
/// the repository written.
#[test]
fn the_app_writes_to_another_repository_in_both_commit_modes() {
    let server = seeded("v1.0.0");
    let dir = tempfile::tempdir().unwrap();
    let key = server.key.private_pem.clone();
    let mut minted = 0;
    for (via, mode, tag) in [
        ("git", "push", "v1.1.0"),
        ("api", "push", "v1.2.0"),
        ("git", "pull-request", "v1.3.0"),
        ("api", "pull-request", "v1.4.0"),
    ] {
        let git_before = server.git_requests().len();
        let image = format!("{APP}:{tag}");
        let r = run_action(
            BIN,
            &server,
            dir.path(),
            &["run"],
            &[
                ("images", &image),
                ("verify", "false"),
                ("paths", "apps/prod"),
                ("repository", "org/gitops"),
                ("app-id", APP_ID),
                ("app-private-key", &key),
                ("commit-via", via),
                ("mode", mode),
            ],
        );
        let what = format!("{via} {mode}");
        assert_eq!(r.output.status.code(), Some(0), "{what}: {}", r.log());
        assert_eq!(r.get("changed"), "true", "{what}");
        let sha = r.get("commit-sha").to_string();
        let branch = if mode == "push" {
            "main".to_string()
        } else {
            "gitops-bump/main/ghcr.io-org-app".to_string()
        };
        assert_eq!(
            server.repo.head(&branch),
            sha,
            "{what}: the commit is on {branch}"
        );
        let text = server.repo.show(&branch, FILE);
        assert!(text.contains(&format!("newTag: {tag}")), "{what}: {text}");
        assert!(
            r.summary
                .contains(&format!("({}/org/gitops/commit/{sha})", server.url)),
            "{what}: the commit is linked under the repository written\n{}",
            r.summary
        );
        // One token per run, scoped to the repository written, revoked.
        let tokens = server.tokens();
        minted += 1;
        assert_eq!(tokens.len(), minted, "{what}");
        let token = &tokens[minted - 1];
        assert_eq!(token["repositories"], serde_json::json!([REPO]), "{what}");
        let mut want = serde_json::json!({"contents": "write"});
        if mode == "pull-request" {
            want["pull_requests"] = "write".into();
            let pulls = server.state()["pulls"].clone();
            assert_eq!(
                pulls.as_array().unwrap().len(),
                1,
                "{what}: one pull request"
            );
            assert_eq!(r.get("pull-request-number"), "1", "{what}");
        }
        assert_eq!(token["permissions"], want, "{what}");
        assert_eq!(token["revoked"], true, "{what}");
        // Git carried the App token as x-access-token; the API did not use git.
        let git = &server.git_requests()[git_before..];
        if via == "git" {
            assert!(!git.is_empty(), "{what}");
            for g in git.iter().filter(|g| g["token"] != "") {
                assert_eq!(g["user"], "x-access-token", "{what}: {g}");
                assert_eq!(g["token"], token["token"], "{what}: {g}");
            }
            assert!(
                git.iter()
                    .any(|g| g["path"].as_str().unwrap().ends_with("git-receive-pack"))
            );
        } else {
            assert!(git.is_empty(), "{what}: {git:?}");
        }
        assert!(
            !r.stderr().contains(token["token"].as_str().unwrap()),
            "{what}"
        );
    }
}

/// The workflow's GITHUB_TOKEN pushed at another repository: the error says
/// that is the cause, and nothing lands.
#[test]
fn a_token_that_cannot_reach_the_repository_is_named_as_the_cause() {
    let server = seeded("v1.0.0");
    let head = server.repo.head("main");
    let dir = tempfile::tempdir().unwrap();
    let r = run_action(
        BIN,
        &server,
        dir.path(),
        &["run"],
        &[
            ("images", &format!("{APP}:v2.0.0")),
            ("verify", "false"),
            ("paths", "apps/prod"),
            ("repository", "org/gitops"),
            ("token", FOREIGN_TOKEN),
        ],
    );
    assert_eq!(r.output.status.code(), Some(1), "{}", r.log());
    let err = r.stderr();
    let url = format!("{}/org/gitops.git", server.url);
    let want = format!(
        "error: {url} answered HTTP 404 to read
  the server said:
  Repository not found.
  the token in `token` cannot reach org/gitops: GITHUB_TOKEN only reaches the workflow's own repository (org/ci)
hint: to write to org/gitops, set `app-id` and `app-private-key` (a GitHub App installed on org/gitops), or pass a fine-grained PAT with `Contents: Read and write` on org/gitops as `token`
"
    );
    assert!(err.ends_with(&want), "want\n{want}\nin\n{err}");
    assert!(!err.contains("check the `repository` input"), "{err}");
    assert!(!err.contains(FOREIGN_TOKEN), "{err}");
    assert_eq!(server.repo.head("main"), head, "nothing pushed");
    assert_eq!(r.get("changed"), "false");
}
