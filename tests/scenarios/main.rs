//! The five deployments of issue #14, end to end, each the way a runner runs
//! the action: `node dist/index.js` with `INPUT_*` variables, the
//! environment files and an event payload, against a real registry with
//! token auth (docker-registry + a token server) and a GitHub stand-in that
//! serves a real bare repository over git smart HTTP and the API, with
//! per-token permissions (App tokens scoped to one repository and the
//! permissions they were minted with; a workflow token of another
//! repository gets 404). Each test asserts what lands in the remote, the
//! outputs and the job summary. The workflows are the ones in
//! `examples/workflows/`, plus the inputs a local server needs
//! (`insecure-registries`, `insecure-git-origins`, registry credentials).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Barrier};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use test_support::action::{ActionDir, Job, Step, hex};
use test_support::git::git;
use test_support::github::{
    APP_ID, FOREIGN_TOKEN, FakeGitHub, Installation, READ_ONLY_TOKEN, STATIC_TOKEN,
};
use test_support::google;
use test_support::registry::{self, Auth, PASSWORD, Registry, USER};

const BIN: &str = env!("CARGO_BIN_EXE_gitops-bump");

const PROVIDER: &str =
    "projects/123456/locations/global/workloadIdentityPools/gh-pool/providers/gh-prov";
const SA: &str = "deployer@proj.iam.gserviceaccount.com";

/// A commit-like hex name for `seed` (40 digits), as a SHA tag would be.
fn sha_of(seed: &str) -> String {
    let digest = Sha256::digest(seed.as_bytes());
    hex(&digest)[..40].to_string()
}

/// The files of `examples/gitops-repo/{base,overlays}` under `prefix`.
fn example_overlays(prefix: &str) -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/gitops-repo");
    let mut out = Vec::new();
    for rel in [
        "base/kustomization.yaml",
        "base/deployment.yaml",
        "base/service.yaml",
        "overlays/dev/kustomization.yaml",
        "overlays/prod/kustomization.yaml",
    ] {
        out.push((
            format!("{prefix}{rel}"),
            fs::read_to_string(root.join(rel)).unwrap(),
        ));
    }
    out
}

fn seed(server: &FakeGitHub, files: &[(String, String)]) -> String {
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    server.repo.commit("main", &files, "seed")
}

/// The variables every step of a job in `repository` gets, GitHub being
/// the stand-in at `server`.
fn github_env(server: &FakeGitHub, repository: &str) -> Vec<(String, String)> {
    vec![
        ("GITHUB_REPOSITORY".into(), repository.into()),
        ("GITHUB_SERVER_URL".into(), server.url.clone()),
        ("GITHUB_API_URL".into(), server.url.clone()),
        ("GITHUB_RUN_ID".into(), "9001".into()),
        ("GITHUB_RUN_NUMBER".into(), "41".into()),
        ("GITHUB_RUN_ATTEMPT".into(), "1".into()),
        ("GITHUB_REF".into(), "refs/heads/main".into()),
        ("GITHUB_ACTOR".into(), "octocat".into()),
    ]
}

fn job(env: &[(String, String)], extra: &[(&str, &str)]) -> Job {
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    all.extend_from_slice(extra);
    Job::new(&all)
}

/// What actions/checkout with `persist-credentials: false` leaves: a clone
/// of the repository whose origin URL holds no credential.
fn checkout(server: &FakeGitHub, into: &Path) {
    use base64::Engine;
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{STATIC_TOKEN}"));
    let parent = into.parent().expect("a checkout has a parent directory");
    git(
        parent,
        &[
            "-c",
            &format!("http.extraHeader=Authorization: Basic {basic}"),
            "clone",
            "-q",
            &format!("{}/org/gitops.git", server.url),
            into.to_str().expect("utf-8"),
        ],
    );
}

/// A checkout of the workflow's own repository when it is not the one
/// written (the application repository): one commit, no manifests.
fn app_checkout(into: &Path) {
    fs::create_dir_all(into.join("src")).unwrap();
    fs::write(into.join("src/main.rs"), "fn main() {}\n").unwrap();
    for args in [
        &["init", "-q", "-b", "main"][..],
        &["add", "-A"],
        &[
            "-c",
            "user.name=Dev",
            "-c",
            "user.email=dev@example.test",
            "commit",
            "-qm",
            "feature",
        ],
    ] {
        git(into, args);
    }
}

/// The `push` payload of a commit by a developer touching application code.
fn push_event(repository: &str, sha: &str) -> Value {
    json!({
        "ref": "refs/heads/main",
        "after": sha,
        "head_commit": {
            "id": sha,
            "message": "feature",
            "author": {"name": "Dev", "email": "dev@example.test"},
            "added": [], "modified": ["src/main.rs"], "removed": []
        },
        "repository": {"full_name": repository, "private": false}
    })
}

/// Inputs a local server needs on top of a workflow's own.
fn with_local<'a>(
    inputs: &[(&'a str, &'a str)],
    local: &'a [(String, String)],
) -> Vec<(&'a str, &'a str)> {
    let mut all = inputs.to_vec();
    all.extend(local.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    all
}

fn local_inputs(server: &FakeGitHub, registry: &Registry) -> Vec<(String, String)> {
    vec![
        ("insecure-registries".into(), registry.insecure()),
        ("insecure-git-origins".into(), server.url.clone()),
    ]
}

/// The lines of `text` that hold `needle`.
fn count(text: &str, needle: &str) -> usize {
    text.lines().filter(|l| l.contains(needle)).count()
}

/// The lines of a manifest, indentation trimmed (to find `newTag: v1`).
fn entry_lines(kustomization: &str) -> Vec<&str> {
    kustomization.lines().map(str::trim).collect()
}

/// Asserts that `manifest` has each of `want` as a line (indentation aside).
fn assert_has_lines(manifest: &str, want: &[String], what: &str) {
    let lines = entry_lines(manifest);
    for w in want {
        assert!(lines.contains(&w.as_str()), "{what}: {w} in\n{manifest}");
    }
}

/// A token-auth registry holding the test layout's `source` build
/// (`single` or `multi`) as org/app:`tag`, and a GitHub stand-in: the
/// registry, the server, the image name and that build's digest.
fn registry_and_github(source: &str, tag: &str) -> (Registry, FakeGitHub, String, String) {
    let registry = Registry::start(Auth::Token);
    let server = FakeGitHub::start(Installation::default());
    let extra: &[&str] = if source == "multi" {
        &["--all", "--preserve-digests"]
    } else {
        &[]
    };
    registry.push(source, &format!("org/app:{tag}"), extra);
    let digest = registry.skopeo_digest(&format!("org/app:{tag}"));
    let image = format!("{}/org/app", registry.addr);
    (registry, server, image, digest)
}

// ---------------------------------------------------------------------------
// Separate GitOps repository
// ---------------------------------------------------------------------------

/// examples/workflows/separate-gitops-repo.yml: the application repository
/// (org/ci) bumps apps/app/overlays/dev in org/gitops with a GitHub App,
/// with `commit-via: git` and with `commit-via: api`. The workflow's
/// GITHUB_TOKEN (of org/ci) cannot reach org/gitops and is never used
/// there; the App token is minted for org/gitops alone, used, and revoked.
#[test]
fn separate_gitops_repository_bumps_through_the_app_in_both_commit_modes() {
    let registry = Registry::start(Auth::Token);
    let server = FakeGitHub::start(Installation::default());
    seed(&server, &example_overlays("apps/app/"));
    let action = ActionDir::new(BIN, false);
    let env = github_env(&server, "org/ci");
    let local = local_inputs(&server, &registry);
    let key = server.key.private_pem.clone();
    let dev = "apps/app/overlays/dev/kustomization.yaml";
    let mut previous_tag = "v1.0.0".to_string();
    for (round, via) in ["git", "api"].into_iter().enumerate() {
        let sha = sha_of(via);
        registry.push(
            if round == 0 { "multi" } else { "single" },
            &format!("org/app:{sha}"),
            &["--all", "--preserve-digests"],
        );
        let digest = registry.skopeo_digest(&format!("org/app:{sha}"));
        let job = job(&env, &[]);
        let ci = job.path("ci");
        app_checkout(&ci);
        let images = format!("app={}/org/app:{sha}", registry.addr);
        let git_before = server.git_requests().len();
        let tokens_before = server.tokens().len();
        let before = server.repo.head("main");
        let step = job.step(
            &action,
            &ci,
            ("push", &push_event("org/ci", &sha)),
            &with_local(
                &[
                    ("images", &images),
                    ("repository", "org/gitops"),
                    ("paths", "apps/app/overlays/dev"),
                    ("token", FOREIGN_TOKEN),
                    ("app-id", APP_ID),
                    ("app-private-key", &key),
                    ("wait", "2m"),
                    ("commit-via", via),
                    ("registry", &registry.addr),
                    ("registry-username", USER),
                    ("registry-password", PASSWORD),
                ],
                &local,
            ),
            &[],
        );
        step.assert_ok();
        let what = format!("commit-via {via}");
        // Outputs.
        let head = server.repo.head("main");
        assert_ne!(head, before, "{what}");
        assert_eq!(step.get("changed"), "true", "{what}: {}", step.log());
        assert_eq!(step.get("commit-sha"), head, "{what}");
        assert_eq!(step.get("digest"), digest, "{what}");
        assert_eq!(
            step.get("image"),
            format!("{}/org/app:{sha}@{digest}", registry.addr),
            "{what}"
        );
        assert_eq!(step.get("previous-tag"), previous_tag, "{what}");
        assert_eq!(step.get("files"), dev, "{what}");
        // What landed: one commit on main, only the dev overlay.
        assert_eq!(
            server.repo.git(&["rev-parse", &format!("{head}^")]),
            before,
            "{what}: one commit"
        );
        assert_eq!(
            server.repo.git(&["diff", "--name-only", &before, &head]),
            dev,
            "{what}"
        );
        let kust = server.repo.show(&head, dev);
        assert_has_lines(
            &kust,
            &[
                format!("newName: {}/org/app", registry.addr),
                format!("newTag: {sha}"),
                format!("digest: {digest}"),
                "# Bumped by the deploy workflow on every push to main.".to_string(),
            ],
            &what,
        );
        // The message and the trailers, once each; the run is linked
        // under the workflow's repository, where it ran.
        let short = &digest[..19];
        assert_eq!(
            server.repo.message(&head),
            format!(
                "chore(deploy): bump {reg}/org/app to {sha} ({short}) [skip ci]\n\n\
                 Bumped-By: gitops-bump\n\
                 Image-Digest: {reg}/org/app@{digest}\n\
                 Workflow-Run: {url}/org/ci/actions/runs/9001\n\
                 Bumped-Image: app\n\
                 Bumped-By-Run: 41.1",
                reg = registry.addr,
                url = server.url
            ),
            "{what}"
        );
        // The summary links the commit under the repository written.
        assert!(
            step.summary
                .contains(&format!("({}/org/gitops/commit/{head})", server.url)),
            "{what}: {}",
            step.summary
        );
        assert!(!step.summary.contains("org/ci/commit"), "{what}");
        assert!(
            step.summary
                .contains(&format!("`{previous_tag}` → `{sha}`")),
            "{what}: {}",
            step.summary
        );
        // One App token, for org/gitops only, with contents: write, revoked.
        let tokens = server.tokens();
        assert_eq!(tokens.len(), tokens_before + 1, "{what}");
        let token = &tokens[tokens_before];
        assert_eq!(token["repositories"], json!(["gitops"]), "{what}");
        assert_eq!(token["permissions"], json!({"contents": "write"}), "{what}");
        assert_eq!(token["revoked"], true, "{what}");
        // Git carried the App token, never the workflow's; the API used none.
        let git = &server.git_requests()[git_before..];
        assert!(
            git.iter().all(|g| g["token"] != FOREIGN_TOKEN),
            "{what}: {git:?}"
        );
        if via == "git" {
            let pushes: Vec<&Value> = git
                .iter()
                .filter(|g| g["path"].as_str().unwrap().ends_with("git-receive-pack"))
                .filter(|g| g["token"] != "") // the 401 challenge first
                .collect();
            assert!(!pushes.is_empty(), "{what}");
            for g in pushes {
                assert_eq!(g["user"], "x-access-token", "{what}: {g}");
                assert_eq!(g["token"], token["token"], "{what}: {g}");
                assert_eq!(g["status"], 200, "{what}: {g}");
            }
        } else {
            assert!(git.is_empty(), "{what}: {git:?}");
        }
        // The registry was asked with the explicit login (token auth).
        assert!(
            registry
                .token_requests()
                .iter()
                .any(|r| r.contains("auth=Basic")),
            "{what}: {:?}",
            registry.token_requests()
        );
        // The App token shows only in the command that masks it.
        let value = token["token"].as_str().unwrap();
        let log = step.log();
        let shown: Vec<&str> = log.lines().filter(|l| l.contains(value)).collect();
        assert_eq!(shown, [format!("::add-mask::{value}").as_str()], "{what}");
        previous_tag = sha;
    }
}

// ---------------------------------------------------------------------------
// dev tracks latest, prod by release
// ---------------------------------------------------------------------------

/// The OIDC claims of a job in the `production` environment of org/gitops.
fn production_claims(google: &google::FakeGoogle) -> Vec<(String, String)> {
    google.set_claims(json!({
        "sub": "repo:org/gitops:environment:production",
        "repository": "org/gitops",
        "environment": "production",
        "event_name": "release",
    }));
    vec![
        (
            "ACTIONS_ID_TOKEN_REQUEST_URL".into(),
            google.url("/oidc?api-version=2.0"),
        ),
        (
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN".into(),
            google::REQUEST_TOKEN.into(),
        ),
    ]
}

/// examples/workflows/dev-latest-prod-release.yml in one repository: every
/// push bumps deploy/overlays/dev to the build `latest` names, pinned by
/// digest (a new build under the same tag moves the digest; no new build,
/// no commit); a published release promotes dev's digest to prod as a pull
/// request, retagged with the release version, which must name that same
/// build in the registry: while it names another one the run fails with
/// nothing pushed, once it does the pull request opens.
#[test]
fn dev_tracks_latest_by_digest_and_a_release_promotes_it_to_prod() {
    let registry = Registry::start(Auth::Token);
    let server = FakeGitHub::start(Installation::default());
    let mut files = example_overlays("deploy/");
    files.push(("src/main.rs".into(), "fn main() {}\n".into()));
    seed(&server, &files);
    let google = google::FakeGoogle::start();
    let action = ActionDir::new(BIN, false);
    let env = github_env(&server, "org/gitops");
    let local = local_inputs(&server, &registry);
    let dev = "deploy/overlays/dev/kustomization.yaml";
    let prod = "deploy/overlays/prod/kustomization.yaml";
    let image = format!("{}/org/app", registry.addr);
    let spec = format!("app={image}:latest");
    let bump_dev = || {
        let job = job(&env, &[]);
        let workspace = job.path("workspace");
        checkout(&server, &workspace);
        let head = server.repo.head("main");
        job.step(
            &action,
            &workspace,
            ("push", &push_event("org/gitops", &head)),
            &with_local(
                &[
                    ("images", &spec),
                    ("paths", "deploy/overlays/dev"),
                    ("wait", "5m"),
                    ("token", STATIC_TOKEN),
                ],
                &local,
            ),
            &[],
        )
    };

    // The first build of `latest`: dev gets the tag and its digest.
    registry.push("multi", "org/app:latest", &["--all", "--preserve-digests"]);
    let first = registry.skopeo_digest("org/app:latest");
    let step = bump_dev();
    step.assert_ok();
    assert_eq!(step.get("changed"), "true", "{}", step.log());
    assert_eq!(step.get("previous-tag"), "v1.0.0");
    assert_eq!(step.get("digest"), first);
    assert_eq!(step.get("files"), dev);
    assert_eq!(step.get("commit-sha"), server.repo.head("main"));
    let kust = server.repo.show("main", dev);
    assert_has_lines(
        &kust,
        &[
            format!("newName: {image}"),
            "newTag: latest".to_string(),
            format!("digest: {first}"),
        ],
        "what landed",
    );
    assert!(
        server.repo.show("main", prod).contains("newTag: v0.9.0"),
        "prod is not touched by a dev bump"
    );
    assert!(
        step.summary.contains("`v1.0.0` → `latest`"),
        "{}",
        step.summary
    );

    // A new build under the same tag: the digest moves.
    registry.push("single", "org/app:latest", &[]);
    let second = registry.skopeo_digest("org/app:latest");
    assert_ne!(first, second);
    let step = bump_dev();
    step.assert_ok();
    assert_eq!(step.get("changed"), "true", "{}", step.log());
    assert_eq!(step.get("previous-digest"), first);
    assert_eq!(step.get("digest"), second);
    let kust = server.repo.show("main", dev);
    assert!(
        entry_lines(&kust).contains(&format!("digest: {second}").as_str()),
        "{kust}"
    );
    assert_eq!(
        server.repo.message("main").lines().next().unwrap(),
        format!(
            "chore(deploy): bump {image} to latest ({}) [skip ci]",
            &second[..19]
        )
    );
    // No new build: nothing to commit.
    let head = server.repo.head("main");
    let step = bump_dev();
    step.assert_ok();
    assert_eq!(step.get("changed"), "false", "{}", step.log());
    assert_eq!(step.get("commit-sha"), "");
    assert_eq!(server.repo.head("main"), head);

    // The release: v1.3.0 in the registry still names the first build.
    registry.push("multi", "org/app:v1.3.0", &["--all", "--preserve-digests"]);
    let oidc = production_claims(&google);
    let release = json!({
        "action": "published",
        "release": {"tag_name": "v1.3.0", "draft": false, "prerelease": false},
        "repository": {"full_name": "org/gitops", "private": false}
    });
    let promote = || {
        let job = job(&env, &[]);
        let workspace = job.path("workspace");
        checkout(&server, &workspace);
        let extra: Vec<(&str, &str)> = oidc.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        job.step(
            &action,
            &workspace,
            ("release", &release),
            &with_local(
                &[
                    ("promote-from", "deploy/overlays/dev"),
                    ("promote-to", "deploy/overlays/prod"),
                    ("images", "app:v1.3.0"),
                    ("require-environment", "production"),
                    ("mode", "pull-request"),
                    ("token", STATIC_TOKEN),
                ],
                &local,
            ),
            &extra,
        )
    };
    let refs = server.repo.git(&["for-each-ref"]);
    let step = promote();
    assert_eq!(step.output.status.code(), Some(1), "{}", step.log());
    let want = format!(
        "error: cannot promote {image}:v1.3.0: in the registry v1.3.0 is {first}, not the promoted build {second}\nhint: tag the promoted build first ({image}@{second} as v1.3.0), promote another tag, or set promote-digest-only: true to write the digest without a tag\n"
    );
    assert!(
        step.stderr().ends_with(&want),
        "want\n{want}\nin\n{}",
        step.log()
    );
    assert!(
        step.stdout().contains(&format!(
            "::error title=gitops-bump::cannot promote {image}:v1.3.0: in the registry v1.3.0 is {first}"
        )),
        "{}",
        step.log()
    );
    assert_eq!(server.repo.git(&["for-each-ref"]), refs, "nothing pushed");
    assert_eq!(server.state()["pulls"], json!([]), "no pull request");
    assert_eq!(step.get("changed"), "false");

    // Tagged right: the pull request opens with dev's build as v1.3.0.
    registry.push("single", "org/app:v1.3.0", &[]);
    let step = promote();
    step.assert_ok();
    assert_eq!(step.get("changed"), "true", "{}", step.log());
    assert_eq!(step.get("digest"), second);
    assert_eq!(step.get("previous-tag"), "v0.9.0");
    assert_eq!(step.get("files"), prod);
    assert_eq!(step.get("pull-request-number"), "1");
    assert_eq!(
        step.get("pull-request-url"),
        "https://github.com/org/gitops/pull/1"
    );
    assert!(
        step.stderr().contains(&format!(
            "{image}:v1.3.0 -> {second} (the tag resolves to it too)"
        )),
        "{}",
        step.log()
    );
    let pulls = server.state()["pulls"].clone();
    assert_eq!(pulls.as_array().unwrap().len(), 1, "{pulls}");
    assert_eq!(pulls[0]["base"]["ref"], "main");
    let branch = pulls[0]["head"]["ref"].as_str().unwrap().to_string();
    assert_eq!(server.repo.head(&branch), step.get("commit-sha"));
    assert_eq!(server.repo.head("main"), head, "main is not written");
    let kust = server.repo.show(&branch, prod);
    assert_has_lines(
        &kust,
        &[
            format!("newName: {image}"),
            "newTag: v1.3.0".to_string(),
            format!("digest: {second}"),
            "# Promoted from dev behind the `production` environment approval.".to_string(),
        ],
        "what landed",
    );
    assert_eq!(
        server.repo.show(&branch, dev),
        server.repo.show("main", dev),
        "dev is read, not written"
    );
    assert!(
        step.summary.contains("`v0.9.0` → `v1.3.0`"),
        "{}",
        step.summary
    );
    assert!(
        step.summary.contains(&format!(
            "({}/org/gitops/commit/{})",
            server.url,
            step.get("commit-sha")
        )),
        "{}",
        step.summary
    );
    assert!(
        google.requests_to(google::Route::Oidc).len() >= 2,
        "the environment was checked from the OIDC token"
    );
}

/// Promotion from the application repository into a separate GitOps
/// repository, as a pull request, with the App over git: dev is read in
/// org/gitops, its digest verified with the release tag, and the pull
/// request is opened there with a token minted for it alone.
#[test]
fn a_release_promotes_into_a_separate_gitops_repository_as_a_pull_request() {
    let (registry, server, image, digest) = registry_and_github("single", "v2.0.0");
    let mut files = example_overlays("apps/app/");
    let dev = "apps/app/overlays/dev/kustomization.yaml";
    let prod = "apps/app/overlays/prod/kustomization.yaml";
    for (path, content) in &mut files {
        if path == dev {
            *content = dev_overlay(&image, "4f1c2e9", Some(&digest));
        }
    }
    let main = seed(&server, &files);
    let action = ActionDir::new(BIN, false);
    let env = github_env(&server, "org/ci");
    let local = local_inputs(&server, &registry);
    let key = server.key.private_pem.clone();
    let job = job(&env, &[]);
    let ci = job.path("ci");
    app_checkout(&ci);
    let release = json!({
        "action": "published",
        "release": {"tag_name": "v2.0.0"},
        "repository": {"full_name": "org/ci"}
    });
    let step = job.step(
        &action,
        &ci,
        ("release", &release),
        &with_local(
            &[
                ("repository", "org/gitops"),
                ("promote-from", "apps/app/overlays/dev"),
                ("promote-to", "apps/app/overlays/prod"),
                ("images", "app:v2.0.0"),
                ("mode", "pull-request"),
                ("token", FOREIGN_TOKEN),
                ("app-id", APP_ID),
                ("app-private-key", &key),
            ],
            &local,
        ),
        &[],
    );
    step.assert_ok();
    assert_eq!(step.get("changed"), "true", "{}", step.log());
    assert_eq!(step.get("digest"), digest);
    assert_eq!(step.get("files"), prod);
    assert_eq!(step.get("pull-request-number"), "1");
    let pulls = server.state()["pulls"].clone();
    assert_eq!(pulls.as_array().unwrap().len(), 1, "{pulls}");
    assert_eq!(pulls[0]["base"]["ref"], "main");
    let branch = pulls[0]["head"]["ref"].as_str().unwrap().to_string();
    assert_eq!(branch, "gitops-bump/main/promote-apps-app-overlays-prod");
    assert_eq!(server.repo.head(&branch), step.get("commit-sha"));
    assert_eq!(server.repo.head("main"), main, "main is not written");
    let kust = server.repo.show(&branch, prod);
    assert_has_lines(
        &kust,
        &[
            format!("newName: {image}"),
            "newTag: v2.0.0".to_string(),
            format!("digest: {digest}"),
        ],
        "what landed",
    );
    // One token, for org/gitops, allowed to push and to open the pull
    // request (the server refuses a pull request to a token without it).
    let tokens = server.tokens();
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    assert_eq!(tokens[0]["repositories"], json!(["gitops"]));
    assert_eq!(
        tokens[0]["permissions"],
        json!({"contents": "write", "pull_requests": "write"})
    );
    assert_eq!(tokens[0]["revoked"], true);
    assert!(
        server
            .git_requests()
            .iter()
            .all(|g| g["token"] != FOREIGN_TOKEN)
    );
    assert!(
        step.summary.contains(&format!(
            "({}/org/gitops/commit/{})",
            server.url,
            step.get("commit-sha")
        )),
        "{}",
        step.summary
    );
}

// ---------------------------------------------------------------------------
// Raw manifests, and the action as an auth step for `docker push`
// ---------------------------------------------------------------------------

/// A Deployment and a migration Job deploying `image`, as plain manifests.
fn raw_manifests(image: &str) -> (String, String) {
    (
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: {image} # the app\n          env:\n            - name: IMAGE_FOR_LOGS\n              value: {image}\n"
        ),
        format!(
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n        - name: migrate\n          image: {image}\n          args: [\"migrate\"]\n"
        ),
    )
}

/// examples/workflows/raw-manifests.yml against a registry that takes only
/// the Google access token (`oauth2accesstoken`): the action with no
/// `images` only authenticates (keyless, through the fake STS/IAM) and logs
/// Docker in; skopeo pushes with exactly that Docker config (what `docker
/// push` does); the bump step then verifies the pushed image with the same
/// login and edits the two raw manifests named in `paths` (prod and the
/// env value stay), by push and then by pull request; the post step
/// removes the login. (The example's two jobs run here as one job: the
/// registry is on plain HTTP, where the Google token itself is never sent,
/// so the bump step reads the Docker config the auth step exported.)
#[test]
fn raw_manifests_are_bumped_by_push_and_by_pull_request_after_an_auth_only_build() {
    let google = google::FakeGoogle::start();
    let registry =
        Registry::start_for(Auth::Token, "oauth2accesstoken", google::IMPERSONATED_TOKEN);
    let server = FakeGitHub::start(Installation::default());
    let image = format!("{}/org/app", registry.addr);
    let (deployment, job_yaml) = raw_manifests(&format!("{image}:0000000"));
    let main = seed(
        &server,
        &[
            ("k8s/dev/deployment.yaml".into(), deployment.clone()),
            ("k8s/dev/migration-job.yaml".into(), job_yaml.clone()),
            ("k8s/prod/deployment.yaml".into(), deployment.clone()),
        ],
    );
    let action = ActionDir::new(BIN, false);
    let mut env = github_env(&server, "org/gitops");
    env.extend([
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
    ]);
    let local = local_inputs(&server, &registry);
    let wif = [
        ("workload-identity-provider", PROVIDER),
        ("service-account", SA),
    ];
    let mut tip = main;
    for (round, mode) in ["push", "pull-request"].into_iter().enumerate() {
        let sha = sha_of(mode);
        let job = job(&env, &[]);
        let workspace = job.path("workspace");
        checkout(&server, &workspace);
        let event = push_event("org/gitops", &sha);

        // The build job's auth step: no `images`.
        let mut inputs = wif.to_vec();
        inputs.push(("docker-registries", &registry.addr));
        let auth = job.step(&action, &workspace, ("push", &event), &inputs, &[]);
        auth.assert_ok();
        assert_eq!(
            auth.get("changed"),
            "false",
            "an auth step bumps nothing: {}",
            auth.log()
        );
        assert!(
            auth.stderr().contains(&format!(
                "auth: obtained a Google access token; Docker logged in to {}",
                registry.addr
            )),
            "{}",
            auth.log()
        );
        let docker_config = PathBuf::from(auth.env.get("DOCKER_CONFIG").expect("DOCKER_CONFIG"));
        let config_file = docker_config.join("config.json");
        assert!(config_file.starts_with(&job.temp), "{config_file:?}");
        assert!(auth.env.contains_key("GOOGLE_APPLICATION_CREDENTIALS"));
        assert_eq!(server.repo.head("main"), tip, "an auth step pushes nothing");

        // `docker push`: skopeo with the written login, and without it.
        let skopeo = |authfile: &Path| {
            let xdg = job.path("xdg");
            fs::create_dir_all(&xdg).unwrap();
            Command::new("skopeo")
                .env("XDG_RUNTIME_DIR", &xdg)
                .args(["copy", "--quiet", "--dest-tls-verify=false", "--authfile"])
                .arg(authfile)
                .arg(format!(
                    "oci:{}:{}",
                    registry::layout().join("layout").display(),
                    if round == 0 { "single" } else { "multi" }
                ))
                .arg(format!("docker://{image}:{sha}"))
                .args(if round == 0 { &[][..] } else { &["--all"][..] })
                .output()
                .unwrap()
        };
        let empty = job.path("empty-auth.json");
        fs::write(&empty, r#"{"auths":{}}"#).unwrap();
        assert!(
            !skopeo(&empty).status.success(),
            "the registry needs the login"
        );
        let pushed = skopeo(&config_file);
        assert!(
            pushed.status.success(),
            "{}",
            String::from_utf8_lossy(&pushed.stderr)
        );
        // What skopeo (the reference client) reads back with that login.
        let inspected = Command::new("skopeo")
            .env("XDG_RUNTIME_DIR", job.path("xdg"))
            .args(["inspect", "--raw", "--tls-verify=false", "--authfile"])
            .arg(&config_file)
            .arg(format!("docker://{image}:{sha}"))
            .output()
            .unwrap();
        assert!(inspected.status.success());
        let digest = format!("sha256:{}", hex(&Sha256::digest(&inspected.stdout)));

        // The bump step, later in the job: DOCKER_CONFIG is in its env.
        let images = format!("{image}:{sha}");
        let mut inputs = wif.to_vec();
        inputs.extend([
            ("images", images.as_str()),
            (
                "paths",
                "k8s/dev/deployment.yaml\nk8s/dev/migration-job.yaml",
            ),
            ("token", STATIC_TOKEN),
            ("mode", mode),
        ]);
        let bump = job.step(
            &action,
            &workspace,
            ("push", &event),
            &with_local(&inputs, &local),
            &[],
        );
        bump.assert_ok();
        let what = format!("mode {mode}");
        assert_eq!(bump.get("changed"), "true", "{what}: {}", bump.log());
        assert_eq!(bump.get("digest"), digest, "{what}");
        assert_eq!(
            bump.get("files"),
            "k8s/dev/deployment.yaml\nk8s/dev/migration-job.yaml",
            "{what}"
        );
        let branch = if mode == "push" {
            "main".to_string()
        } else {
            let pulls = server.state()["pulls"].clone();
            assert_eq!(pulls.as_array().unwrap().len(), 1, "{what}: {pulls}");
            assert_eq!(bump.get("pull-request-number"), "1", "{what}");
            assert_eq!(server.repo.head("main"), tip, "{what}: main is not written");
            pulls[0]["head"]["ref"].as_str().unwrap().to_string()
        };
        let commit = server.repo.head(&branch);
        assert_eq!(bump.get("commit-sha"), commit, "{what}");
        assert_eq!(
            server.repo.git(&["rev-parse", &format!("{commit}^")]),
            tip,
            "{what}: one commit on the tip"
        );
        let pinned = format!("{image}:{sha}@{digest}");
        let (want_deployment, want_job) = raw_manifests(&pinned);
        // The env value that merely holds the image string is not an image.
        let want_deployment = want_deployment.replace(
            &format!("value: {pinned}"),
            &format!("value: {image}:0000000"),
        );
        assert_eq!(
            server.repo.show(&commit, "k8s/dev/deployment.yaml") + "\n",
            want_deployment,
            "{what}: only the image scalar changed"
        );
        assert_eq!(
            server.repo.show(&commit, "k8s/dev/migration-job.yaml") + "\n",
            want_job,
            "{what}"
        );
        assert_eq!(
            server.repo.show(&commit, "k8s/prod/deployment.yaml") + "\n",
            deployment,
            "{what}: prod is not in paths"
        );
        let message = server.repo.message(&commit);
        assert!(
            message.contains(&format!("Image-Digest: {image}@{digest}")),
            "{what}: {message}"
        );
        assert!(
            bump.summary
                .contains(&format!("({}/org/gitops/commit/{commit})", server.url)),
            "{what}: {}",
            bump.summary
        );
        // Verified with the login the auth step wrote (token auth, Basic
        // to the token server), not anonymously.
        assert!(
            registry
                .token_requests()
                .iter()
                .any(|r| r.contains("auth=Basic")),
            "{:?}",
            registry.token_requests()
        );

        // The post step of the auth step removes the login.
        let post = job.post(&action, &auth.state);
        assert!(post.status.success());
        assert!(
            !config_file.exists(),
            "{}",
            String::from_utf8_lossy(&post.stdout)
        );
        if mode == "push" {
            tip = commit;
        }
    }
}

// ---------------------------------------------------------------------------
// The kustomize scope rule
// ---------------------------------------------------------------------------

/// A directory whose kustomization sets the image in `images:` is bumped
/// there only: the Deployment and the migration Job it includes keep their
/// placeholder, `previous-tag` and the summary report the kustomization's
/// tag, and `kubectl kustomize` renders the new image for both.
#[test]
fn a_kustomization_that_sets_the_image_is_edited_and_its_resources_are_not() {
    let (registry, server, image, digest) = registry_and_github("single", "v1.1.0");
    let (deployment, job_yaml) = raw_manifests("app");
    let kustomization = format!(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - deployment.yaml\n  - migration-job.yaml\nimages:\n  - name: app\n    newName: {image}\n    newTag: v1.0.0\n"
    );
    seed(
        &server,
        &[
            ("k8s/dev/kustomization.yaml".into(), kustomization.clone()),
            ("k8s/dev/deployment.yaml".into(), deployment.clone()),
            ("k8s/dev/migration-job.yaml".into(), job_yaml.clone()),
        ],
    );
    let action = ActionDir::new(BIN, false);
    let env = github_env(&server, "org/gitops");
    let local = local_inputs(&server, &registry);
    let job = job(&env, &[]);
    let workspace = job.path("workspace");
    checkout(&server, &workspace);
    let spec = format!("app={image}:v1.1.0");
    let step = job.step(
        &action,
        &workspace,
        ("push", &push_event("org/gitops", &sha_of("scope"))),
        &with_local(
            &[
                ("images", &spec),
                ("paths", "k8s/dev"),
                ("token", STATIC_TOKEN),
            ],
            &local,
        ),
        &[],
    );
    step.assert_ok();
    assert_eq!(
        step.get("files"),
        "k8s/dev/kustomization.yaml",
        "{}",
        step.log()
    );
    assert_eq!(step.get("previous-tag"), "v1.0.0");
    let head = server.repo.head("main");
    assert_eq!(
        server.repo.show(&head, "k8s/dev/deployment.yaml") + "\n",
        deployment
    );
    assert_eq!(
        server.repo.show(&head, "k8s/dev/migration-job.yaml") + "\n",
        job_yaml
    );
    assert_eq!(
        server.repo.show(&head, "k8s/dev/kustomization.yaml") + "\n",
        kustomization.replace(
            "    newTag: v1.0.0\n",
            &format!("    newTag: v1.1.0\n    digest: {digest}\n")
        )
    );
    assert!(
        step.summary.contains("`v1.0.0` → `v1.1.0`"),
        "{}",
        step.summary
    );
    assert!(!step.summary.contains("`app` →"), "{}", step.summary);
    // kubectl kustomize (the oracle) on what landed.
    let render = job.path("render");
    checkout(&server, &render);
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(render.join("k8s/dev"))
        .output()
        .expect("kubectl is installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let images: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("image: "))
        .map(str::to_string)
        .collect();
    let pinned = format!("{image}:v1.1.0@{digest}");
    assert_eq!(images, vec![pinned.clone(), pinned]);
}

// ---------------------------------------------------------------------------
// Compose stacks
// ---------------------------------------------------------------------------

fn compose(service: &str, image: &str) -> String {
    format!(
        "# {service} stack, applied by the agent on the host.\nservices:\n  {service}:\n    image: {image}\n    restart: unless-stopped\n  redis:\n    image: redis:7.4\n"
    )
}

/// examples/workflows/compose-stacks.yml in a public repository: images
/// tagged with commit SHAs, pulled anonymously (the token server grants
/// anonymous pulls), the two stacks in `paths` bumped as one pull request
/// with the README's message template. The privileged half of a split
/// ci/deploy started by `workflow_run` after a fork's pull request is
/// refused before any request, with nothing pushed or opened; the
/// read-only half's token (`contents: read`) is refused by the server on
/// push; started by `workflow_dispatch` it opens the pull request.
#[test]
fn compose_stacks_take_sha_tags_as_a_pull_request_and_refuse_a_forks_workflow_run() {
    let registry = Registry::start(Auth::Token);
    let server = FakeGitHub::start(Installation::default());
    let image = format!("{}/org/web", registry.addr);
    let old = sha_of("old");
    let new = sha_of("new");
    registry.push(
        "multi",
        &format!("org/web:{new}"),
        &["--all", "--preserve-digests"],
    );
    let digest = registry.skopeo_digest(&format!("org/web:{new}"));
    let main = seed(
        &server,
        &[
            (
                "stacks/web/compose.yaml".into(),
                compose("web", &format!("{image}:{old}")),
            ),
            (
                "stacks/worker/compose.yaml".into(),
                compose("worker", &format!("{image}:{old}")),
            ),
            (
                "stacks/staging/compose.yaml".into(),
                compose("web", &format!("{image}:{old}")),
            ),
        ],
    );
    let action = ActionDir::new(BIN, false);
    let env = github_env(&server, "org/gitops");
    let local = local_inputs(&server, &registry);
    let spec = format!("{image}:{new}");
    let inputs = [
        ("images", spec.as_str()),
        (
            "paths",
            "stacks/web/compose.yaml\nstacks/worker/compose.yaml",
        ),
        ("mode", "pull-request"),
        (
            "commit-message",
            "chore(deploy): {image} to {tag} ({short_digest}) [skip ci]",
        ),
        ("token", STATIC_TOKEN),
    ];
    // Each workflow run below is a job of its own, with its own checkout.
    let fresh_job = || {
        let job = job(&env, &[]);
        let workspace = job.path("workspace");
        checkout(&server, &workspace);
        (job, workspace)
    };

    // deploy.yml started by `workflow_run` after ci.yml ran a fork's PR.
    let (job, workspace) = fresh_job();
    let fork_run = json!({
        "action": "completed",
        "workflow_run": {
            "event": "pull_request",
            "conclusion": "success",
            "head_branch": "main",
            "head_sha": new,
            "pull_requests": [],
            "head_repository": {"full_name": "mallory/gitops", "fork": true},
            "repository": {"full_name": "org/gitops"}
        },
        "repository": {"full_name": "org/gitops", "private": false}
    });
    let refs = server.repo.git(&["for-each-ref"]);
    let token_requests = registry.token_requests().len();
    let api_requests = server.requests().len();
    let git_requests = server.git_requests().len();
    let step = job.step(
        &action,
        &workspace,
        ("workflow_run", &fork_run),
        &with_local(&inputs, &local),
        &[],
    );
    assert_eq!(step.output.status.code(), Some(1), "{}", step.log());
    assert_eq!(
        step.stderr(),
        "error: refusing to use credentials or push on an untrusted event: `workflow_run` after \
         a `pull_request` run from the fork `mallory/gitops` into `org/gitops`: that run built \
         code written by someone outside the repository, and its artifacts and outputs are \
         theirs\n\
         hint: code from a pull request must never run with deploy credentials (a \"pwn \
         request\"). Split the workflow: ci.yml builds and tests on `pull_request` with no \
         secrets; deploy.yml runs only on `push` to the default branch (or \
         `workflow_dispatch`, or a published release), builds and pushes the image itself and \
         bumps the manifests. Do not start deploy.yml with `workflow_run`: a fork's pull \
         request triggers it too, and its `branches:` filter matches the fork's branch name. \
         If you have reviewed the risk, set `allow-untrusted-events: true`.\n",
        "{}",
        step.log()
    );
    assert!(
        step.stdout()
            .contains("::error title=gitops-bump::refusing to use credentials"),
        "{}",
        step.log()
    );
    assert_eq!(server.repo.git(&["for-each-ref"]), refs, "nothing pushed");
    assert_eq!(server.requests().len(), api_requests, "no API call");
    assert_eq!(server.git_requests().len(), git_requests, "no git request");
    assert_eq!(
        registry.token_requests().len(),
        token_requests,
        "no registry request"
    );
    assert!(
        step.outputs.is_empty(),
        "refused before any stage: {:?}",
        step.outputs
    );
    assert_eq!(
        fs::read_to_string(workspace.join("stacks/web/compose.yaml")).unwrap(),
        compose("web", &format!("{image}:{old}")),
        "the checkout is untouched"
    );

    // The read-only half (ci.yml, `contents: read`) on a same-repository
    // pull request is trusted, but its token may not push: the server
    // refuses, and its words reach the log.
    let same_repo_pr = json!({
        "pull_request": {"number": 7, "head": {"repo": {"full_name": "org/gitops", "fork": false}}},
        "repository": {"full_name": "org/gitops", "private": false}
    });
    let read_only: Vec<(&str, &str)> = inputs
        .iter()
        .map(|&(k, v)| {
            if k == "token" {
                (k, READ_ONLY_TOKEN)
            } else {
                (k, v)
            }
        })
        .collect();
    let (job, workspace) = fresh_job();
    let step = job.step(
        &action,
        &workspace,
        ("pull_request", &same_repo_pr),
        &with_local(&read_only, &local),
        &[],
    );
    assert_eq!(step.output.status.code(), Some(1), "{}", step.log());
    assert!(
        step.stderr()
            .contains("Permission to org/gitops.git denied to github-actions[bot]."),
        "{}",
        step.log()
    );
    assert_eq!(server.repo.git(&["for-each-ref"]), refs, "nothing pushed");
    assert_eq!(server.state()["pulls"], json!([]), "nothing opened");

    // Started by hand (`workflow_dispatch` with the tag): the pull request.
    let dispatch = json!({
        "inputs": {"tag": new},
        "ref": "refs/heads/main",
        "repository": {"full_name": "org/gitops", "private": false}
    });
    let (job, workspace) = fresh_job();
    let step = job.step(
        &action,
        &workspace,
        ("workflow_dispatch", &dispatch),
        &with_local(&inputs, &local),
        &[],
    );
    step.assert_ok();
    assert_eq!(step.get("changed"), "true", "{}", step.log());
    assert_eq!(step.get("digest"), digest);
    assert_eq!(step.get("previous-tag"), old);
    assert_eq!(
        step.get("files"),
        "stacks/web/compose.yaml\nstacks/worker/compose.yaml"
    );
    assert_eq!(step.get("pull-request-number"), "1");
    let pulls = server.state()["pulls"].clone();
    assert_eq!(pulls.as_array().unwrap().len(), 1, "{pulls}");
    // The pull request's title is the message's first line without the
    // skip marker, which stays in the commit.
    let title = format!("chore(deploy): {image} to {new} ({})", &digest[..19]);
    assert_eq!(pulls[0]["title"], title.as_str());
    let branch = pulls[0]["head"]["ref"].as_str().unwrap().to_string();
    let commit = server.repo.head(&branch);
    assert_eq!(step.get("commit-sha"), commit);
    assert_eq!(server.repo.head("main"), main, "main is not written");
    assert!(
        server
            .repo
            .message(&commit)
            .starts_with(&format!("{title} [skip ci]\n\nBumped-By: gitops-bump\n")),
        "{}",
        server.repo.message(&commit)
    );
    let pinned = format!("{image}:{new}@{digest}");
    for (file, service) in [
        ("stacks/web/compose.yaml", "web"),
        ("stacks/worker/compose.yaml", "worker"),
    ] {
        assert_eq!(
            server.repo.show(&commit, file) + "\n",
            compose(service, &pinned),
            "{file}: only the image changed"
        );
    }
    assert_eq!(
        server.repo.show(&commit, "stacks/staging/compose.yaml") + "\n",
        compose("web", &format!("{image}:{old}")),
        "a stack outside paths is not touched"
    );
    assert!(
        registry
            .token_requests()
            .iter()
            .skip(token_requests)
            .all(|r| !r.contains("auth=Basic")),
        "a public image is read anonymously: {:?}",
        registry.token_requests()
    );
    assert!(
        step.summary.contains(&format!("`{old}` → `{new}`")),
        "{}",
        step.summary
    );
}

// ---------------------------------------------------------------------------
// Many services in one repository
// ---------------------------------------------------------------------------

fn three_services(image: &dyn Fn(&str) -> String, tags: [&str; 3]) -> String {
    let mut s = String::from(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: dev\nimages:\n",
    );
    for (service, tag) in ["api", "web", "worker"].iter().zip(tags) {
        s.push_str(&format!(
            "  # {service}: bumped by its own pipeline\n  - name: {}\n    newTag: {tag}\n",
            image(service)
        ));
    }
    s
}

/// examples/workflows/many-services.yml: the api, web and worker jobs of a
/// matrix bump deploy/overlays/dev at the same time, each from its own
/// checkout of the same commit, all pushing to main over smart HTTP. Every
/// bump lands as its own commit, none overwrites another, and a run that
/// lost the race says so in `attempts`.
#[test]
fn many_services_bump_one_overlay_concurrently_and_every_bump_lands() {
    let registry = Registry::start(Auth::Token);
    let server = FakeGitHub::start(Installation::default());
    let image = |service: &str| format!("{}/org/{service}", registry.addr);
    let sha = sha_of("many");
    let mut digests = Vec::new();
    for service in ["api", "web", "worker"] {
        registry.push("single", &format!("org/{service}:{sha}"), &[]);
        digests.push(registry.skopeo_digest(&format!("org/{service}:{sha}")));
    }
    let overlay = "deploy/overlays/dev/kustomization.yaml";
    let start = seed(
        &server,
        &[(
            overlay.to_string(),
            three_services(&image, ["v1", "v1", "v1"]),
        )],
    );
    let action = ActionDir::new(BIN, false);
    let env = github_env(&server, "org/gitops");
    let local = local_inputs(&server, &registry);
    let jobs: Vec<(Job, PathBuf, String)> = ["api", "web", "worker"]
        .iter()
        .map(|service| {
            let job = job(&env, &[]);
            let workspace = job.path("workspace");
            checkout(&server, &workspace);
            (job, workspace, format!("{}:{sha}", image(service)))
        })
        .collect();
    let barrier = Arc::new(Barrier::new(jobs.len()));
    let event = push_event("org/gitops", &sha);
    let steps: Vec<Step> = std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .iter()
            .map(|(job, workspace, spec)| {
                let (barrier, action, local, event) = (barrier.clone(), &action, &local, &event);
                s.spawn(move || {
                    barrier.wait();
                    job.step(
                        action,
                        workspace,
                        ("push", event),
                        &with_local(
                            &[
                                ("images", spec),
                                ("paths", "deploy/overlays/dev"),
                                ("retry-deadline", "5m"),
                                ("token", STATIC_TOKEN),
                            ],
                            local,
                        ),
                        &[],
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let head = server.repo.head("main");
    let mut attempts = 0;
    let mut commits = Vec::new();
    for (step, service) in steps.iter().zip(["api", "web", "worker"]) {
        step.assert_ok();
        assert_eq!(step.get("changed"), "true", "{service}: {}", step.log());
        assert_eq!(step.get("previous-tag"), "v1", "{service}");
        attempts += step.get("attempts").parse::<u32>().unwrap();
        let commit = step.get("commit-sha").to_string();
        server
            .repo
            .git(&["merge-base", "--is-ancestor", &commit, &head]);
        let message = server.repo.message(&commit);
        assert!(
            message.contains(&format!("Bumped-Image: {}\n", image(service))),
            "{service}: {message}"
        );
        assert!(
            step.summary.contains(&format!("`v1` → `{sha}`")),
            "{service}"
        );
        commits.push(commit);
    }
    commits.sort();
    commits.dedup();
    assert_eq!(commits.len(), 3, "three commits");
    assert_eq!(
        server
            .repo
            .git(&["rev-list", "--count", &format!("{start}..{head}")]),
        "3",
        "one commit per service, nothing else"
    );
    assert!(attempts >= 3, "{attempts}");
    // Every bump is in the file, each with its digest; the comments survived.
    let mut want_lines = Vec::new();
    for (service, digest) in ["api", "web", "worker"].iter().zip(&digests) {
        want_lines.push(format!(
            "  # {service}: bumped by its own pipeline\n  - name: {}\n    newTag: {sha}\n    digest: {digest}",
            image(service)
        ));
    }
    let got = server.repo.show(&head, overlay) + "\n";
    let want = format!(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: dev\nimages:\n{}\n",
        want_lines.join("\n")
    );
    assert_eq!(got, want);
}

// ---------------------------------------------------------------------------
// Promotion retries over smart HTTP
// ---------------------------------------------------------------------------

/// A dev overlay (as in `examples/gitops-repo`) deploying `name:tag`, with
/// `@digest` when given.
fn dev_overlay(name: &str, tag: &str, digest: Option<&str>) -> String {
    let digest = digest.map_or(String::new(), |d| format!("    digest: {d}\n"));
    format!(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: app-dev\nresources:\n  - ../../base\nimages:\n  - name: app\n    newName: {name}\n    newTag: {tag}\n{digest}"
    )
}

/// Seeds the example overlays with `dev` as overlays/dev.
fn seed_with_dev(server: &FakeGitHub, dev: &str) {
    let mut files = example_overlays("");
    for (path, content) in &mut files {
        if path == "overlays/dev/kustomization.yaml" {
            *content = dev.to_string();
        }
    }
    seed(server, &files);
}

/// Makes the server's pre-receive hook move main to `next` once, while the
/// first push is being received: that push then loses the race.
fn race_once(server: &FakeGitHub, next_files: &[(&str, &str)]) -> String {
    // The other push: main's tree with `next_files`, ready on `next`.
    server.repo.git(&["branch", "next", "main"]);
    let next = server.repo.commit("next", next_files, "the other push");
    let hook = server.repo.path.join("hooks/pre-receive");
    fs::write(
        &hook,
        "#!/bin/sh\ncat >/dev/null\n[ -e \"$GIT_DIR/raced\" ] && exit 0\ntouch \"$GIT_DIR/raced\"\nenv -u GIT_QUARANTINE_PATH -u GIT_OBJECT_DIRECTORY -u GIT_ALTERNATE_OBJECT_DIRECTORIES git update-ref refs/heads/main refs/heads/next\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&hook, fs::Permissions::from_mode(0o755)).unwrap();
    next
}

/// The promotion of tests/e2e `promotion_refuses_when_dev_changes_during_the_run`
/// over the smart-HTTP remote: another push moves main while ours is
/// received, with dev naming another image; the retry reads dev again on the
/// new tip and refuses to write what was not verified. Only the other push
/// lands.
#[test]
fn promotion_refuses_when_dev_changes_during_the_run_over_smart_http() {
    let (registry, server, image, digest) = registry_and_github("multi", "v1.1.0");
    seed_with_dev(&server, &dev_overlay(&image, "v1.1.0", Some(&digest)));
    let moved = dev_overlay(&image, "latest", Some(&digest));
    let next = race_once(&server, &[("overlays/dev/kustomization.yaml", &moved)]);
    let action = ActionDir::new(BIN, false);
    let env = github_env(&server, "org/ci");
    let local = local_inputs(&server, &registry);
    let job = job(&env, &[]);
    let ci = job.path("ci");
    app_checkout(&ci);
    let step = job.step(
        &action,
        &ci,
        ("push", &push_event("org/ci", &sha_of("race"))),
        &with_local(
            &[
                ("repository", "org/gitops"),
                ("token", STATIC_TOKEN),
                ("promote-from", "overlays/dev"),
                ("promote-to", "overlays/prod"),
            ],
            &local,
        ),
        &[],
    );
    assert_eq!(step.output.status.code(), Some(1), "{}", step.log());
    assert!(
        step.stderr().contains(
            "error: promote-from changed during the run: overlays/dev on the new tip sets other \
             images than the ones verified on the first tip; re-run"
        ),
        "{}",
        step.log()
    );
    assert_eq!(step.get("attempts"), "2", "{}", step.log());
    assert_eq!(step.get("changed"), "false");
    assert_eq!(server.repo.head("main"), next, "only the other push landed");
    assert!(
        server
            .repo
            .show("main", "overlays/prod/kustomization.yaml")
            .contains("newTag: v0.9.0")
    );
    assert!(
        server.repo.path.join("raced").exists(),
        "our first push reached the server's hook"
    );
}

/// An image deployed in dev without a digest is promoted by its tag with a
/// warning, said once per run: a lost race (another push lands while ours
/// is received) reads dev again on the new tip, silently.
#[test]
fn the_no_digest_promotion_warning_is_said_once_across_a_retry() {
    let (registry, server, image, digest) = registry_and_github("single", "v1.1.0");
    seed_with_dev(&server, &dev_overlay(&image, "v1.1.0", None));
    let next = race_once(&server, &[("README.md", "# gitops\n")]);
    let action = ActionDir::new(BIN, false);
    let env = github_env(&server, "org/gitops");
    let local = local_inputs(&server, &registry);
    let job = job(&env, &[]);
    let workspace = job.path("workspace");
    checkout(&server, &workspace);
    let step = job.step(
        &action,
        &workspace,
        ("push", &push_event("org/gitops", &sha_of("warn"))),
        &with_local(
            &[
                ("token", STATIC_TOKEN),
                ("promote-from", "overlays/dev"),
                ("promote-to", "overlays/prod"),
            ],
            &local,
        ),
        &[],
    );
    step.assert_ok();
    assert_eq!(step.get("attempts"), "2", "a lost race: {}", step.log());
    assert_eq!(step.get("changed"), "true");
    let head = server.repo.head("main");
    assert_eq!(
        server.repo.git(&["rev-parse", &format!("{head}^")]),
        next,
        "on top of the other push"
    );
    let prod = server.repo.show(&head, "overlays/prod/kustomization.yaml");
    assert!(entry_lines(&prod).contains(&"newTag: v1.1.0"), "{prod}");
    assert!(
        entry_lines(&prod).contains(&format!("digest: {digest}").as_str()),
        "{prod}"
    );
    let warning = format!(
        "warning: app={image}:v1.1.0 in overlays/dev/kustomization.yaml:7 has no digest; promoting the tag only"
    );
    let log = format!("{}{}", step.stdout(), step.stderr());
    assert_eq!(
        count(&log, "has no digest; promoting the tag only"),
        1,
        "once per run:\n{}",
        step.log()
    );
    assert_eq!(count(&step.stderr(), &warning), 1, "{}", step.log());
}
