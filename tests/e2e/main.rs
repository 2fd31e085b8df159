//! End to end: `gitops-bump run` / `promote` as the action runs them, against
//! a real registry (docker-registry with images pushed by skopeo) and a real
//! git remote (a bare repository made from `examples/gitops-repo`), with the
//! outputs read back from the real `GITHUB_OUTPUT` file.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use test_support::action::{Step, run_action, run_step};
use test_support::bin;
use test_support::git::git;
use test_support::github::{FakeGitHub, Installation, STATIC_TOKEN};
use test_support::process::Process;
use test_support::registry::{Auth, Registry};

const BIN: &str = env!("CARGO_BIN_EXE_gitops-bump");

/// A registry of its own for each test, with the images the tests use. Not
/// shared through a static: statics are never dropped, so the registry
/// process would outlive the test binary.
fn registry_with_images() -> Registry {
    let r = Registry::start(Auth::Anonymous);
    r.push(
        "multi",
        "example-org/app:v1.1.0",
        &["--all", "--preserve-digests"],
    );
    r.push(
        "multi",
        "example-org/app:latest",
        &["--all", "--preserve-digests"],
    );
    r.push("single", "example-org/worker:v3.2.0", &[]);
    r
}

/// A bare remote seeded with the example GitOps repo, and a checkout of it
/// (what actions/checkout leaves), with Actions-style environment files.
struct Scenario {
    dir: tempfile::TempDir,
    registry: Registry,
}

impl Scenario {
    fn new() -> Scenario {
        let dir = tempfile::tempdir().unwrap();
        let seed = dir.path().join("seed");
        fs::create_dir_all(&seed).unwrap();
        copy_dir(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/gitops-repo"),
            &seed,
        );
        git(&seed, &["init", "-q", "-b", "main"]);
        git(&seed, &["add", "-A"]);
        git(
            &seed,
            &[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@example.invalid",
                "commit",
                "-qm",
                "seed",
            ],
        );
        let remote = dir.path().join("remote.git");
        git(
            dir.path(),
            &[
                "clone",
                "-q",
                "--bare",
                seed.to_str().unwrap(),
                remote.to_str().unwrap(),
            ],
        );
        let url = format!("file://{}", remote.display());
        git(dir.path(), &["clone", "-q", &url, "workspace"]);
        Scenario {
            dir,
            registry: registry_with_images(),
        }
    }

    fn workspace(&self) -> PathBuf {
        self.dir.path().join("workspace")
    }

    fn remote(&self) -> PathBuf {
        self.dir.path().join("remote.git")
    }

    fn remote_file(&self, path: &str) -> String {
        git(&self.remote(), &["show", &format!("main:{path}")]) + "\n"
    }

    fn remote_commits(&self) -> usize {
        git(&self.remote(), &["rev-list", "--count", "main"])
            .parse()
            .unwrap()
    }

    /// Runs the binary the way the runner does: inputs as `INPUT_*`.
    fn run(&self, args: &[&str], inputs: &[(&str, &str)], env: &[(&str, &str)]) -> Step {
        self.run_in(&self.workspace(), args, inputs, env)
    }

    /// [`Scenario::run`] in `dir` (another repository's checkout).
    fn run_in(
        &self,
        dir: &Path,
        args: &[&str],
        inputs: &[(&str, &str)],
        env: &[(&str, &str)],
    ) -> Step {
        let mut cmd = bin(BIN, self.dir.path());
        cmd.args(args)
            .current_dir(dir)
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_REPOSITORY", "example-org/gitops-repo")
            .env("GITHUB_SERVER_URL", "https://github.com")
            .env("GITHUB_EVENT_NAME", "push")
            .env("GITHUB_RUN_ID", "77")
            .env("GITHUB_RUN_NUMBER", "12")
            .env("GITHUB_RUN_ATTEMPT", "1")
            .env("INPUT_INSECURE-REGISTRIES", &self.registry.addr);
        for (k, v) in inputs {
            cmd.env(format!("INPUT_{}", k.to_uppercase()), v);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        run_step(cmd, self.dir.path())
    }
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

impl Scenario {
    fn app(&self, tag: &str) -> String {
        format!("app={}/example-org/app:{tag}", self.registry.addr)
    }
}

/// `kubectl kustomize` (the oracle) on the remote's version of an overlay.
fn rendered_images(s: &Scenario, overlay: &str) -> Vec<String> {
    let check = s.dir.path().join("render");
    let _ = fs::remove_dir_all(&check);
    git(
        s.dir.path(),
        &[
            "clone",
            "-q",
            &format!("file://{}", s.remote().display()),
            "render",
        ],
    );
    let out = Command::new("kubectl")
        .args(["kustomize"])
        .arg(check.join(overlay))
        .output()
        .expect("kubectl is installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("image: "))
        .map(str::to_string)
        .collect()
}

#[test]
fn dev_bump_by_tag_resolves_and_pins_the_digest_then_reruns_as_a_no_op() {
    let s = Scenario::new();
    let digest = s.registry.skopeo_digest("example-org/app:v1.1.0");
    let before = s.remote_commits();
    let r = s.run(
        &["run"],
        &[
            ("images", &s.app("v1.1.0")),
            ("paths", "overlays/dev"),
            ("platforms", "linux/amd64,linux/arm64"),
        ],
        &[],
    );
    r.assert_ok();
    let image = format!("{}/example-org/app:v1.1.0@{digest}", s.registry.addr);
    assert_eq!(r.get("changed"), "true", "{}", r.log());
    assert_eq!(r.get("digest"), digest);
    assert_eq!(r.get("image"), image);
    assert_eq!(r.get("previous-tag"), "v1.0.0");
    assert_eq!(r.get("files"), "overlays/dev/kustomization.yaml");
    assert_eq!(r.get("attempts"), "1");
    assert_eq!(
        r.get("commit-sha"),
        git(&s.remote(), &["rev-parse", "main"])
    );
    let images: serde_json::Value = serde_json::from_str(r.get("images")).unwrap();
    assert_eq!(
        images[0]["platforms"],
        serde_json::json!(["linux/amd64", "linux/arm64"])
    );
    assert_eq!(s.remote_commits(), before + 1);
    // The commit: [skip ci], trailers for the newer-wins guard.
    let message = git(&s.remote(), &["log", "-1", "--format=%B", "main"]);
    for needle in [
        "[skip ci]",
        "Bumped-Image: app",
        "Bumped-By-Run: 12.1",
        "Image-Digest: ",
    ] {
        assert!(message.contains(needle), "{needle}: {message}");
    }
    // Only the edited scalars changed; the comment survived.
    let kust = s.remote_file("overlays/dev/kustomization.yaml");
    assert!(
        kust.contains("  # Bumped by the deploy workflow on every push to main.\n"),
        "{kust}"
    );
    assert!(kust.contains(&format!("    digest: {digest}\n")), "{kust}");
    assert_eq!(
        rendered_images(&s, "overlays/dev"),
        vec![image.clone(), image]
    );
    // In Actions: groups and plain lines, never a progress bar.
    assert!(!r.log().contains('\u{1b}'), "{}", r.log());
    assert!(String::from_utf8_lossy(&r.output.stdout).contains("::group::Verify images"));
    // Summary and annotations.
    assert!(r.summary.contains("`v1.0.0` → `v1.1.0`"), "{}", r.summary);
    assert!(
        r.summary.contains("`linux/amd64`, `linux/arm64`"),
        "{}",
        r.summary
    );
    assert!(
        String::from_utf8_lossy(&r.output.stdout).contains(
            "::notice title=gitops-bump%3A app,file=overlays/dev/kustomization.yaml,line="
        ),
        "{}",
        r.log()
    );

    // The same run again: nothing to do, no empty commit.
    let again = s.run(
        &["run"],
        &[("images", &s.app("v1.1.0")), ("paths", "overlays/dev")],
        &[],
    );
    again.assert_ok();
    assert_eq!(again.get("changed"), "false", "{}", again.log());
    assert_eq!(again.get("commit-sha"), "");
    assert_eq!(s.remote_commits(), before + 1);
    assert!(again.summary.contains("Nothing to change"));
}

#[test]
fn digest_only_pinning_keeps_latest_and_records_the_digest() {
    let s = Scenario::new();
    let digest = s.registry.skopeo_digest("example-org/app:latest");
    let r = s.run(
        &["run"],
        &[
            ("images", &format!("{}@{digest}", s.app("latest"))),
            ("paths", "overlays/dev"),
        ],
        &[],
    );
    r.assert_ok();
    let kust = s.remote_file("overlays/dev/kustomization.yaml");
    assert!(kust.contains("    newTag: latest\n"), "{kust}");
    assert!(kust.contains(&format!("    digest: {digest}\n")), "{kust}");
    let image = format!("{}/example-org/app:latest@{digest}", s.registry.addr);
    assert_eq!(rendered_images(&s, "overlays/dev")[0], image);
}

#[test]
fn several_images_in_several_files_land_in_one_commit() {
    let s = Scenario::new();
    let before = s.remote_commits();
    let addr = &s.registry.addr;
    let images = format!(
        "ghcr.io/example-org/app={addr}/example-org/app:v1.1.0\nghcr.io/example-org/worker={addr}/example-org/worker:v3.2.0\n"
    );
    let r = s.run(
        &["run"],
        &[("images", &images), ("paths", "helm\ncompose")],
        &[],
    );
    r.assert_ok();
    assert_eq!(s.remote_commits(), before + 1, "{}", r.log());
    assert_eq!(
        r.get("files"),
        "compose/docker-compose.yaml\nhelm/values.yaml"
    );
    let values = s.remote_file("helm/values.yaml");
    assert!(
        values.contains(&format!("  repository: {addr}/example-org/app\n")),
        "{values}"
    );
    assert!(
        values.contains("  tag: \"v1.1.0\" # quoted on purpose"),
        "{values}"
    );
    assert!(
        values.contains(&format!(
            "  image: {addr}/example-org/worker:v3.2.0@sha256:"
        )),
        "{values}"
    );
    let compose = s.remote_file("compose/docker-compose.yaml");
    assert!(
        compose.contains(&format!("    image: {addr}/example-org/app:v1.1.0@sha256:")),
        "{compose}"
    );
    assert!(compose.contains("    image: redis:7.4\n"), "{compose}");
    let images: serde_json::Value = serde_json::from_str(r.get("images")).unwrap();
    assert_eq!(images.as_array().unwrap().len(), 2);
    assert_eq!(images[1]["previous_tag"], "v3.1.0");
}

#[test]
fn promotion_copies_the_exact_digest_from_dev_to_prod_and_can_retag() {
    let s = Scenario::new();
    let digest = s.registry.skopeo_digest("example-org/app:v1.1.0");
    s.run(
        &["run"],
        &[("images", &s.app("v1.1.0")), ("paths", "overlays/dev")],
        &[],
    )
    .assert_ok();
    git(&s.workspace(), &["pull", "-q"]);
    let r = s.run(
        &["run"],
        &[
            ("promote-from", "overlays/dev"),
            ("promote-to", "overlays/prod"),
        ],
        &[],
    );
    r.assert_ok();
    assert_eq!(
        r.get("files"),
        "overlays/prod/kustomization.yaml",
        "{}",
        r.log()
    );
    assert_eq!(r.get("digest"), digest);
    assert_eq!(r.get("previous-tag"), "v0.9.0");
    let image = format!("{}/example-org/app:v1.1.0@{digest}", s.registry.addr);
    assert_eq!(rendered_images(&s, "overlays/prod")[0], image);
    assert_eq!(rendered_images(&s, "overlays/dev")[0], image);

    // A release: same digest, release tag, through the `promote` command.
    // The tag must name that build in the registry.
    s.registry.push(
        "multi",
        "example-org/app:v1.2.0",
        &["--all", "--preserve-digests"],
    );
    git(&s.workspace(), &["pull", "-q"]);
    let r = s.run(
        &[
            "promote",
            "--from",
            "overlays/dev",
            "--to",
            "overlays/prod",
            "--tag",
            "v1.2.0",
            "app",
        ],
        &[],
        &[],
    );
    r.assert_ok();
    let kust = s.remote_file("overlays/prod/kustomization.yaml");
    assert!(kust.contains("    newTag: v1.2.0\n"), "{kust}\n{}", r.log());
    assert!(kust.contains(&format!("    digest: {digest}\n")), "{kust}");
    assert!(kust.contains("  # Promoted from dev behind"), "{kust}");
    assert!(
        r.log().contains(&format!(
            "/example-org/app:v1.2.0 -> {digest} (the tag resolves to it too)"
        )),
        "{}",
        r.log()
    );
}

#[test]
fn a_promoted_tag_that_names_another_build_fails_or_is_dropped_on_request() {
    let s = Scenario::new();
    let digest = s.registry.skopeo_digest("example-org/app:v1.1.0");
    s.run(
        &["run"],
        &[("images", &s.app("v1.1.0")), ("paths", "overlays/dev")],
        &[],
    )
    .assert_ok();
    git(&s.workspace(), &["pull", "-q"]);
    // v1.3.0 in the registry is another build than the one in dev.
    s.registry.push("single", "example-org/app:v1.3.0", &[]);
    let other = s.registry.skopeo_digest("example-org/app:v1.3.0");
    assert_ne!(digest, other);
    let before = git(&s.remote(), &["rev-parse", "main"]);
    let promote = |extra: &[(&str, &str)]| {
        s.run(
            &[
                "promote",
                "--from",
                "overlays/dev",
                "--to",
                "overlays/prod",
                "--tag",
                "v1.3.0",
            ],
            extra,
            &[],
        )
    };
    let r = promote(&[]);
    assert_eq!(r.output.status.code(), Some(1), "{}", r.log());
    let image = format!("{}/example-org/app", s.registry.addr);
    let want = format!(
        "error: cannot promote {image}:v1.3.0: in the registry v1.3.0 is {other}, not the promoted build {digest}\nhint: tag the promoted build first ({image}@{digest} as v1.3.0), promote another tag, or set promote-digest-only: true to write the digest without a tag\n"
    );
    let stderr = String::from_utf8_lossy(&r.output.stderr);
    assert!(stderr.ends_with(&want), "want\n{want}\nin\n{stderr}");
    assert_eq!(
        git(&s.remote(), &["rev-parse", "main"]),
        before,
        "nothing pushed"
    );

    // Asked for explicitly: the digest alone, and the log says why.
    let r = promote(&[("promote-digest-only", "true")]);
    r.assert_ok();
    assert!(
        r.log().contains(&format!(
            "warning: {image}:v1.3.0 is {other} in the registry, not the promoted {digest}: writing {image}@{digest} without a tag (promote-digest-only)"
        )),
        "{}",
        r.log()
    );
    let kust = s.remote_file("overlays/prod/kustomization.yaml");
    assert!(kust.contains(&format!("    digest: {digest}\n")), "{kust}");
    assert!(
        !kust.contains("newTag"),
        "no tag that names another build: {kust}"
    );
    assert_eq!(r.get("digest"), digest);
    assert_eq!(r.get("tag"), "");
}

#[test]
fn promotion_of_an_image_that_is_not_deployed_fails_and_changes_nothing() {
    let s = Scenario::new();
    let before = git(&s.remote(), &["rev-parse", "main"]);
    let r = s.run(
        &["run"],
        &[
            ("promote-from", "overlays/dev"),
            ("promote-to", "overlays/prod"),
            ("images", "worker"),
        ],
        &[],
    );
    assert_eq!(r.output.status.code(), Some(1), "{}", r.log());
    assert!(
        r.log()
            .contains("cannot promote from overlays/dev: none of worker is set there"),
        "{}",
        r.log()
    );
    assert_eq!(git(&s.remote(), &["rev-parse", "main"]), before);
    assert_eq!(git(&s.workspace(), &["status", "--porcelain"]), "");
}

/// A dev overlay (as in `examples/gitops-repo`) deploying `image`.
fn dev_overlay(image: &str) -> String {
    let (reference, digest) = image.split_once('@').unwrap();
    let (name, tag) = reference.rsplit_once(':').unwrap();
    format!(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: app-dev\nresources:\n  - ../../base\nimages:\n  - name: app\n    newName: {name}\n    newTag: {tag}\n    digest: {digest}\n"
    )
}

/// Commits `content` as `path` on the remote's main, through a clone.
fn commit_to_remote(s: &Scenario, path: &str, content: &str) {
    let clone = s.dir.path().join("writer");
    let _ = fs::remove_dir_all(&clone);
    let url = format!("file://{}", s.remote().display());
    git(s.dir.path(), &["clone", "-q", &url, "writer"]);
    fs::write(clone.join(path), content).unwrap();
    git(&clone, &["add", "-A"]);
    git(
        &clone,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.invalid",
            "commit",
            "-qm",
            "dev",
        ],
    );
    git(&clone, &["push", "-q", "origin", "main"]);
}

/// Promotion in another repository than the checkout, pushed over
/// `file://`: dev is read from the clone of the repository written, its
/// images verified in the registry, and prod lands there; an image missing
/// from the registry refuses with nothing pushed.
#[test]
fn promotion_into_another_repository_over_file_reads_dev_there() {
    let s = Scenario::new();
    let digest = s.registry.skopeo_digest("example-org/app:v1.1.0");
    let image = format!("{}/example-org/app:v1.1.0@{digest}", s.registry.addr);
    // The workflow's own repository: no overlays at all.
    let ci = s.dir.path().join("ci");
    fs::create_dir_all(&ci).unwrap();
    git(&ci, &["init", "-q", "-b", "main"]);
    fs::write(ci.join("README.md"), "# ci\n").unwrap();
    let url = format!("file://{}", s.remote().display());
    let promote = |s: &Scenario| {
        s.run_in(
            &ci,
            &["run"],
            &[
                ("repository", &url),
                ("promote-from", "overlays/dev"),
                ("promote-to", "overlays/prod"),
            ],
            &[],
        )
    };

    // Missing from the registry: refused before anything is pushed.
    let missing = format!(
        "{}/example-org/app:v9.9.9@sha256:{}",
        s.registry.addr,
        "1".repeat(64)
    );
    commit_to_remote(
        &s,
        "overlays/dev/kustomization.yaml",
        &dev_overlay(&missing),
    );
    let before = git(&s.remote(), &["rev-parse", "main"]);
    let r = promote(&s);
    assert_eq!(r.output.status.code(), Some(1), "{}", r.log());
    assert!(r.log().contains("example-org/app"), "{}", r.log());
    assert!(
        !r.log().contains("promotion reads the source overlay"),
        "{}",
        r.log()
    );
    assert_eq!(
        git(&s.remote(), &["rev-parse", "main"]),
        before,
        "nothing pushed"
    );
    assert_eq!(r.get("changed"), "false", "{}", r.log());

    // In the registry: prod gets dev's exact reference.
    commit_to_remote(&s, "overlays/dev/kustomization.yaml", &dev_overlay(&image));
    let r = promote(&s);
    r.assert_ok();
    assert_eq!(r.get("changed"), "true");
    assert_eq!(r.get("files"), "overlays/prod/kustomization.yaml");
    assert_eq!(r.get("digest"), digest);
    assert_eq!(r.get("previous-tag"), "v0.9.0");
    assert_eq!(
        r.get("commit-sha"),
        git(&s.remote(), &["rev-parse", "main"])
    );
    assert!(
        r.log().contains(&format!(
            "  promote app={image} from overlays/dev to overlays/prod"
        )),
        "{}",
        r.log()
    );
    for overlay in ["overlays/prod", "overlays/dev"] {
        let images = rendered_images(&s, overlay);
        assert!(!images.is_empty(), "{overlay}");
        assert!(images.iter().all(|i| *i == image), "{overlay}: {images:?}");
    }
    // The workflow's checkout is untouched.
    assert!(!ci.join("overlays").exists());
    assert_eq!(git(&ci, &["status", "--porcelain"]), "?? README.md");
}

/// A push that moves the branch, with dev naming other images, while the
/// promotion publishes: the retry reads dev on the new tip, and refuses to
/// write images that were not verified.
#[test]
fn promotion_refuses_when_dev_changes_during_the_run() {
    let s = Scenario::new();
    let digest = s.registry.skopeo_digest("example-org/app:v1.1.0");
    let addr = &s.registry.addr;
    commit_to_remote(
        &s,
        "overlays/dev/kustomization.yaml",
        &dev_overlay(&format!("{addr}/example-org/app:v1.1.0@{digest}")),
    );
    // The other push, ready on `next`; the remote's pre-receive hook moves
    // main there once, while our push is being received.
    let writer = s.dir.path().join("writer");
    fs::write(
        writer.join("overlays/dev/kustomization.yaml"),
        dev_overlay(&format!("{addr}/example-org/app:latest@{digest}")),
    )
    .unwrap();
    git(
        &writer,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.invalid",
            "commit",
            "-qam",
            "dev moves",
        ],
    );
    git(&writer, &["push", "-q", "origin", "HEAD:refs/heads/next"]);
    let next = git(&s.remote(), &["rev-parse", "next"]);
    let hook = s.remote().join("hooks/pre-receive");
    fs::write(
        &hook,
        "#!/bin/sh\ncat >/dev/null\n[ -e \"$GIT_DIR/raced\" ] && exit 0\ntouch \"$GIT_DIR/raced\"\nenv -u GIT_QUARANTINE_PATH -u GIT_OBJECT_DIRECTORY -u GIT_ALTERNATE_OBJECT_DIRECTORIES git update-ref refs/heads/main refs/heads/next\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&hook, fs::Permissions::from_mode(0o755)).unwrap();

    let ci = s.dir.path().join("ci");
    fs::create_dir_all(&ci).unwrap();
    let url = format!("file://{}", s.remote().display());
    let r = s.run_in(
        &ci,
        &["run"],
        &[
            ("repository", &url),
            ("promote-from", "overlays/dev"),
            ("promote-to", "overlays/prod"),
        ],
        &[],
    );
    assert_eq!(r.output.status.code(), Some(1), "{}", r.log());
    assert!(
        r.log().contains("error: promote-from changed during the run: overlays/dev on the new tip sets other images than the ones verified on the first tip; re-run"),
        "{}",
        r.log()
    );
    assert_eq!(r.get("attempts"), "2", "{}", r.log());
    assert_eq!(
        git(&s.remote(), &["rev-parse", "main"]),
        next,
        "only the other push landed"
    );
    assert!(
        s.remote_file("overlays/prod/kustomization.yaml")
            .contains("newTag: v0.9.0")
    );
}

/// Promotion into another repository over git smart HTTP and over the API,
/// in pull-request mode: the pull request is opened against the repository
/// written, its branch holds dev's digest in prod, and a dev overlay naming
/// an image missing from the registry pushes nothing and opens nothing.
#[test]
fn promotion_into_another_repository_opens_the_pull_request_there() {
    let registry = registry_with_images();
    let digest = registry.skopeo_digest("example-org/app:v1.1.0");
    let image = format!("{}/example-org/app:v1.1.0@{digest}", registry.addr);
    let missing = format!(
        "{}/example-org/app:v9.9.9@sha256:{}",
        registry.addr,
        "1".repeat(64)
    );
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/gitops-repo");
    let prod = fs::read_to_string(example.join("overlays/prod/kustomization.yaml")).unwrap();
    let base = fs::read_to_string(example.join("base/kustomization.yaml")).unwrap();
    for via in ["git", "api"] {
        let server = FakeGitHub::start(Installation::default());
        server.repo.commit(
            "main",
            &[
                ("overlays/dev/kustomization.yaml", &dev_overlay(&missing)),
                ("overlays/prod/kustomization.yaml", &prod),
                ("base/kustomization.yaml", &base),
            ],
            "seed",
        );
        let dir = tempfile::tempdir().unwrap();
        let promote = || {
            run_action(
                BIN,
                &server,
                dir.path(),
                &["run"],
                &[
                    ("repository", "org/gitops"),
                    ("token", STATIC_TOKEN),
                    ("commit-via", via),
                    ("mode", "pull-request"),
                    ("promote-from", "overlays/dev"),
                    ("promote-to", "overlays/prod"),
                    ("insecure-registries", &registry.addr),
                ],
            )
        };
        let refs = server.repo.git(&["for-each-ref"]);
        let r = promote();
        assert_eq!(r.output.status.code(), Some(1), "{via}: {}", r.log());
        assert!(r.stderr().contains("v9.9.9"), "{via}: {}", r.log());
        assert_eq!(
            server.repo.git(&["for-each-ref"]),
            refs,
            "{via}: nothing pushed"
        );
        assert_eq!(server.state()["pulls"], serde_json::json!([]), "{via}");

        let main = server.repo.commit(
            "main",
            &[("overlays/dev/kustomization.yaml", &dev_overlay(&image))],
            "dev",
        );
        let r = promote();
        assert_eq!(r.output.status.code(), Some(0), "{via}: {}", r.log());
        assert_eq!(r.get("changed"), "true", "{via}");
        assert_eq!(r.get("digest"), digest, "{via}");
        assert_eq!(r.get("files"), "overlays/prod/kustomization.yaml", "{via}");
        assert_eq!(r.get("pull-request-number"), "1", "{via}");
        assert_eq!(
            r.get("pull-request-url"),
            "https://github.com/org/gitops/pull/1",
            "{via}"
        );
        let pulls = server.state()["pulls"].clone();
        assert_eq!(pulls.as_array().unwrap().len(), 1, "{via}: {pulls}");
        assert_eq!(pulls[0]["base"]["ref"], "main", "{via}");
        let head = pulls[0]["head"]["ref"].as_str().unwrap().to_string();
        assert_eq!(head, "gitops-bump/main/promote-overlays-prod", "{via}");
        assert_eq!(server.repo.head(&head), r.get("commit-sha"), "{via}");
        assert_eq!(server.repo.head("main"), main, "{via}: main is not written");
        let kust = server.repo.show(&head, "overlays/prod/kustomization.yaml");
        let lines: Vec<&str> = kust.lines().collect();
        for want in [
            format!("    newName: {}/example-org/app", registry.addr),
            "    newTag: v1.1.0".to_string(),
            format!("    digest: {digest}"),
        ] {
            assert!(lines.contains(&want.as_str()), "{via}: {want} in\n{kust}");
        }
        assert!(
            r.summary
                .contains(&format!("({}/org/gitops/commit/", server.url)),
            "{via}: {}",
            r.summary
        );
    }
}

/// A tiny OIDC request endpoint answering `{"value": JWT}` with the claims
/// given (unsigned: gitops-bump reads claims, Google verifies signatures).
struct OidcServer {
    _process: Process,
    url: String,
}

impl OidcServer {
    /// Serves one JWT with `claims` plus what GitHub always sets (issuer,
    /// the `gitops-bump` audience, a five-minute expiry).
    fn start(dir: &Path, claims: &serde_json::Value) -> OidcServer {
        use base64::Engine;
        let b64 = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let mut claims = claims.clone();
        for (k, v) in [
            (
                "iss",
                serde_json::json!("https://token.actions.githubusercontent.com"),
            ),
            ("aud", serde_json::json!("gitops-bump")),
            ("exp", serde_json::json!(now + 300)),
            ("nbf", serde_json::json!(now - 5)),
        ] {
            claims.as_object_mut().unwrap().entry(k).or_insert(v);
        }
        let jwt = format!(
            "{}.{}.c2ln",
            b64(br#"{"alg":"RS256","typ":"JWT"}"#),
            b64(claims.to_string().as_bytes())
        );
        let script = format!(
            r#"
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        body = json.dumps({{"value": "{jwt}"}}).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.timeout = 30
for _ in range(50): s.handle_request()
"#
        );
        // Several may run in one directory: each has files of its own.
        static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let name = format!(
            "oidc-{}",
            STARTED.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        let path = dir.join(format!("{name}.py"));
        fs::write(&path, script).unwrap();
        let mut process = Process::python(&path, &[], dir, &name);
        let addr = process.wait_for_address();
        OidcServer {
            _process: process,
            url: format!("http://{addr}/token?api-version=2.0"),
        }
    }
}

#[test]
fn production_gate_refuses_without_the_environment_claim() {
    let s = Scenario::new();
    let before = git(&s.remote(), &["rev-parse", "main"]);
    let inputs = [
        ("images", s.app("v1.1.0")),
        ("paths", "overlays/prod".to_string()),
        ("require-environment", "production".to_string()),
    ];
    let inputs: Vec<(&str, &str)> = inputs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // No id-token permission at all.
    let r = s.run(&["run"], &inputs, &[]);
    assert_eq!(r.output.status.code(), Some(1), "{}", r.log());
    assert!(r.log().contains("id-token: write"), "{}", r.log());
    // A token from a job in another environment.
    let staging = OidcServer::start(
        s.dir.path(),
        &serde_json::json!({"sub": "repo:example-org/app:environment:staging", "environment": "staging",
                            "repository": "example-org/gitops-repo", "ref": "refs/heads/main", "event_name": "push"}),
    );
    let env = [
        ("ACTIONS_ID_TOKEN_REQUEST_URL", staging.url.as_str()),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "fake-request-token"),
    ];
    let r = s.run(&["run"], &inputs, &env);
    assert_eq!(r.output.status.code(), Some(1), "{}", r.log());
    assert!(r.log().contains("production"), "{}", r.log());
    assert!(r.log().contains("staging"), "{}", r.log());
    assert_eq!(git(&s.remote(), &["rev-parse", "main"]), before);
    assert_eq!(git(&s.workspace(), &["status", "--porcelain"]), "");
    drop(staging);
    // The approved production job passes the gate and bumps prod.
    let production = OidcServer::start(
        s.dir.path(),
        &serde_json::json!({"sub": "repo:example-org/app:environment:production", "environment": "production",
                            "repository": "example-org/gitops-repo", "ref": "refs/heads/main", "event_name": "push"}),
    );
    let env = [
        ("ACTIONS_ID_TOKEN_REQUEST_URL", production.url.as_str()),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "fake-request-token"),
    ];
    let r = s.run(&["run"], &inputs, &env);
    r.assert_ok();
    assert_eq!(r.get("changed"), "true", "{}", r.log());
    assert!(
        !r.log().contains("fake-request-token") || r.log().contains("::add-mask::"),
        "{}",
        r.log()
    );
}

#[test]
fn a_missing_image_fails_before_anything_is_written() {
    let s = Scenario::new();
    let before = git(&s.remote(), &["rev-parse", "main"]);
    let r = s.run(
        &["run"],
        &[("images", &s.app("v9.9.9")), ("paths", "overlays/dev")],
        &[],
    );
    assert_eq!(r.output.status.code(), Some(1), "{}", r.log());
    assert!(r.log().contains("v9.9.9"), "{}", r.log());
    assert!(String::from_utf8_lossy(&r.output.stdout).contains("::error title=gitops-bump::"));
    assert_eq!(git(&s.remote(), &["rev-parse", "main"]), before);
    assert_eq!(git(&s.workspace(), &["status", "--porcelain"]), "");
}

#[test]
fn the_demo_script_keeps_working() {
    let out = Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/demo.sh"))
        .env("GITOPS_BUMP_BIN", BIN)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_OUTPUT")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    for needle in [
        "changed<<",
        "### gitops-bump",
        "overlays/dev/kustomization.yaml | ",
        "changed=false",
        "remote commits: 2",
    ] {
        assert!(text.contains(needle), "{needle}:\n{text}");
    }
}
