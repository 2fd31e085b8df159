//! The edit stage end to end through the CLI: output format, `--check`,
//! `--json`, kustomize as the oracle, and bad input that must write nothing.

mod properties;
mod tree;

use test_support::{Case, check_cases};
use tree::{D1, D2, Tree, kustomize_build, stderr, stdout};

const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: web\n        image: ghcr.io/o/app:v1\n";

/// A tree, a `set-image` run in it, and what it must print and leave.
struct WriteCase {
    what: &'static str,
    files: Vec<(&'static str, &'static str)>,
    args: Vec<&'static str>,
    stdout: String,
    /// The file to read afterwards, and what it must hold.
    check: &'static str,
    content: String,
}

impl Case for WriteCase {
    fn name(&self) -> String {
        self.what.to_string()
    }
}

#[test]
fn set_image_prints_each_change_and_writes() {
    let cases = vec![
        WriteCase {
            what: "a workload",
            files: vec![("deploy.yaml", DEPLOYMENT)],
            args: vec!["ghcr.io/o/app:v2"],
            stdout: "deploy.yaml:14:16: ghcr.io/o/app:v1 -> ghcr.io/o/app:v2\n".into(),
            check: "deploy.yaml",
            content: DEPLOYMENT.replace("app:v1", "app:v2"),
        },
        WriteCase {
            what: "Helm values under --dir, hidden and non-YAML files skipped",
            files: vec![
                (
                    "apps/a/values.yaml",
                    "image:\n  repository: ghcr.io/o/app\n  tag: v1\n",
                ),
                (".hidden/x.yaml", "image: ghcr.io/o/app:v1\n"),
                ("notes.txt", "image: ghcr.io/o/app:v1\n"),
            ],
            args: vec!["--dir", "apps", "ghcr.io/o/app:v2"],
            stdout: "apps/a/values.yaml:2:15: ghcr.io/o/app:v1 -> ghcr.io/o/app:v2\n".into(),
            check: "apps/a/values.yaml",
            content: "image:\n  repository: ghcr.io/o/app\n  tag: v2\n".into(),
        },
        WriteCase {
            what: "a new kustomization entry with a digest",
            files: vec![(
                "overlays/dev/kustomization.yaml",
                "resources:\n- ../../base\n",
            )],
            args: vec!["--dir", "overlays/dev", "ghcr.io/o/app:v2@{D2}"],
            stdout: format!(
                "overlays/dev/kustomization.yaml:4:9: (new entry) -> ghcr.io/o/app:v2@{D2}\n"
            ),
            check: "overlays/dev/kustomization.yaml",
            content: format!(
                "resources:\n- ../../base\nimages:\n- name: ghcr.io/o/app\n  newTag: v2\n  digest: {D2}\n"
            ),
        },
        WriteCase {
            what: "a git-ignored file is left alone",
            files: vec![
                ("a.yaml", "image: ghcr.io/o/app:v1\n"),
                ("ignored/b.yaml", "image: ghcr.io/o/app:v1\n"),
                (".gitignore", "ignored/\n"),
            ],
            args: vec!["ghcr.io/o/app:v2"],
            stdout: "a.yaml:1:8: ghcr.io/o/app:v1 -> ghcr.io/o/app:v2\n".into(),
            check: "ignored/b.yaml",
            content: "image: ghcr.io/o/app:v1\n".into(),
        },
        WriteCase {
            what: "a chart's templates are left alone",
            files: vec![
                ("chart/Chart.yaml", "name: app\nversion: 1.0.0\n"),
                ("chart/values.yaml", "image:\n  repository: ghcr.io/o/app\n  tag: v1\n"),
                ("chart/templates/deploy.yaml", "image: {{ .Values.image.repository }}:{{ .Values.image.tag }}\n  app: {{ x\n"),
            ],
            args: vec!["ghcr.io/o/app:v2"],
            stdout: "chart/values.yaml:2:15: ghcr.io/o/app:v1 -> ghcr.io/o/app:v2\n".into(),
            check: "chart/templates/deploy.yaml",
            content: "image: {{ .Values.image.repository }}:{{ .Values.image.tag }}\n  app: {{ x\n".into(),
        },
        WriteCase {
            what: "--file with an image found and one appended",
            files: vec![("k/kustomization.yaml", "images:\n- name: ghcr.io/o/app\n  newTag: v1\n")],
            args: vec!["--file", "k/kustomization.yaml", "ghcr.io/o/app:v2", "other:v1"],
            stdout: "k/kustomization.yaml:2:9: ghcr.io/o/app:v1 -> ghcr.io/o/app:v2\nk/kustomization.yaml:4:9: (new entry) -> other:v1\n".into(),
            check: "k/kustomization.yaml",
            content: "images:\n- name: ghcr.io/o/app\n  newTag: v2\n- name: other\n  newTag: v1\n".into(),
        },
    ];
    check_cases(cases, |case| {
        let WriteCase {
            files,
            args,
            stdout: want_stdout,
            check: check_file,
            content: want_content,
            ..
        } = case;
        let tree = Tree::new(files);
        let out = tree.set_image(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert_eq!(&stdout(&out), want_stdout, "{args:?}");
        assert_eq!(&tree.read(check_file), want_content, "{args:?}");
        // A second run finds nothing to do.
        let again = tree.set_image(args);
        assert_eq!(stdout(&again), "", "{args:?}");
        assert!(stderr(&again).contains("no changes"), "{args:?}");
    });
}

/// A manifest, a `--check` run for a SPEC, and its exit code.
struct DriftCase {
    what: &'static str,
    content: String,
    spec: &'static str,
    code: i32,
}

impl Case for DriftCase {
    fn name(&self) -> String {
        self.what.to_string()
    }
}

#[test]
fn check_reports_drift_and_never_writes() {
    let cases = [
        DriftCase {
            what: "drift",
            content: DEPLOYMENT.to_string(),
            spec: "ghcr.io/o/app:v2",
            code: 3,
        },
        DriftCase {
            what: "already at the new tag",
            content: DEPLOYMENT.replace("app:v1", "app:v2"),
            spec: "ghcr.io/o/app:v2",
            code: 0,
        },
        DriftCase {
            what: "the same tag",
            content: DEPLOYMENT.to_string(),
            spec: "ghcr.io/o/app:v1",
            code: 0,
        },
    ];
    check_cases(cases, |case| {
        let &DriftCase {
            ref content,
            spec,
            code,
            ..
        } = case;
        let tree = Tree::new(&[("deploy.yaml", content)]);
        let before = tree.snapshot();
        let out = tree.set_image(&["--check", spec]);
        assert_eq!(out.status.code(), Some(code), "{spec}: {}", stderr(&out));
        assert_eq!(tree.snapshot(), before, "{spec}: --check wrote");
    });
}

#[test]
fn json_lists_changes() {
    let tree = Tree::new(&[("deploy.yaml", DEPLOYMENT)]);
    let out = tree.set_image(&["--json", "ghcr.io/o/app:v2@{D1}"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(v["changed"], true);
    assert_eq!(v["files"], serde_json::json!(["deploy.yaml"]));
    let c = &v["changes"][0];
    assert_eq!(c["kind"], "workload");
    assert_eq!(c["line"], 14);
    assert_eq!(c["old_tag"], "v1");
    assert_eq!(c["new_tag"], "v2");
    assert_eq!(c["new_digest"], D1);
    assert_eq!(c["new"], format!("ghcr.io/o/app:v2@{D1}"));
}

/// A digest with no `digest` key to hold it: the tag is written, the
/// digest is not, and a warning names the key to add (also in `--json`).
#[test]
fn a_digest_with_no_key_is_a_warning() {
    let values = "image:\n  repository: ghcr.io/o/app\n  tag: v1\n";
    let tree = Tree::new(&[("values.yaml", values)]);
    let out = tree.set_image(&["ghcr.io/o/app:v2@{D1}"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(tree.read("values.yaml"), values.replace("v1", "v2"));
    assert_eq!(
        stderr(&out),
        format!(
            "warning: values.yaml:2: the digest {D1} was not written: this values map has no key `digest`; add the key `digest` (empty) if the chart reads it, then run again\n"
        )
    );
    let out = tree.set_image(&["--json", "ghcr.io/o/app:v2@{D1}"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(v["changed"], false);
    assert_eq!(v["warnings"][0]["line"], 2);
    assert_eq!(v["warnings"][0]["file"], "values.yaml");
    // In Actions, an annotation on the line instead.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gitops-bump"))
        .args(["set-image", "--check", &format!("ghcr.io/o/app:v2@{D1}")])
        .current_dir(tree.root())
        .env("GITHUB_ACTIONS", "true")
        .env_remove("GITHUB_OUTPUT")
        .output()
        .expect("run gitops-bump");
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        all.contains(&format!("::warning title=gitops-bump,file=values.yaml,line=2,col=1::the digest {D1} was not written")),
        "{all}"
    );
    assert!(!all.contains("warning: values.yaml"), "{all}");
}

/// Without `--root`, a file outside the current directory is edited (as
/// kustomize and yq do), by `..` or by an absolute path, and shown with its
/// directory; `--root` still confines (see the bad input cases).
#[test]
fn a_file_outside_the_current_directory_is_edited_without_root() {
    let values = "image: ghcr.io/o/app:v1\n";
    let tree = Tree::new(&[("out/values.yaml", values), ("cwd/.keep", "")]);
    let absolute = tree.path("out/values.yaml");
    let shown = absolute.display().to_string();
    for (arg, tag) in [("../out/values.yaml", "v2"), (shown.as_str(), "v3")] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_gitops-bump"))
            .args(["set-image", "--file", arg, &format!("ghcr.io/o/app:{tag}")])
            .current_dir(tree.path("cwd"))
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITHUB_OUTPUT")
            .output()
            .expect("run gitops-bump");
        assert_eq!(out.status.code(), Some(0), "{arg}: {}", stderr(&out));
        assert_eq!(
            tree.read("out/values.yaml"),
            format!("image: ghcr.io/o/app:{tag}\n")
        );
        assert!(
            stdout(&out).starts_with(&format!("{shown}:1:8: ")),
            "{arg}: {}",
            stdout(&out)
        );
    }
}

/// `--image-kind` opts a custom resource kind in; without it the CRD's
/// `image:` is not an image to us.
#[test]
fn image_kind_opts_a_crd_in() {
    let task = "apiVersion: tekton.dev/v1\nkind: Task\nspec:\n  steps:\n  - name: build\n    image: ghcr.io/o/app:v1\n";
    let tree = Tree::new(&[("task.yaml", task)]);
    let out = tree.set_image(&["ghcr.io/o/app:v2"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let out = tree.set_image(&["--image-kind", "Task.tekton.dev", "ghcr.io/o/app:v2"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "task.yaml:6:12: ghcr.io/o/app:v1 -> ghcr.io/o/app:v2\n"
    );
    assert_eq!(tree.read("task.yaml"), task.replace("app:v1", "app:v2"));
}

/// kustomize renders what we wrote: the overlay's Deployment gets the image.
#[test]
fn kustomize_renders_our_edit() {
    let base = [
        ("base/deployment.yaml", DEPLOYMENT),
        ("base/kustomization.yaml", "resources:\n- deployment.yaml\n"),
    ];
    // (overlay kustomization, SPEC, rendered image)
    let cases = [
        (
            "resources:\n- ../../base\n",
            "ghcr.io/o/app:v2",
            "ghcr.io/o/app:v2".to_string(),
        ),
        (
            "resources:\n- ../../base\nimages:\n- name: ghcr.io/o/app\n  newTag: v1\n  digest: {D1}\n",
            "ghcr.io/o/app:v3@{D2}",
            format!("ghcr.io/o/app:v3@{D2}"),
        ),
        (
            "resources:\n  - ../../base\nimages: []\n",
            "ghcr.io/o/app=registry.example.com/team/app:v4",
            "registry.example.com/team/app:v4".to_string(),
        ),
        (
            "resources:\n- ../../base\nimages:\n- name: ghcr.io/o/app\n  newTag: v1\n",
            "ghcr.io/o/app@{D2}",
            format!("ghcr.io/o/app@{D2}"),
        ),
        (
            "images:\n- name: ghcr.io/o/app\n  newName: mirror.example.com/app\n  newTag: v1\nresources:\n- ../../base\n",
            "mirror.example.com/app:v5",
            "mirror.example.com/app:v5".to_string(),
        ),
        (
            "images:\n- name: ghcr.io/o/app\n  newName: mirror.example.com/app\n  newTag: v1\nresources:\n- ../../base\n",
            "mirror.example.com/app=registry.example.com/app:v6",
            "registry.example.com/app:v6".to_string(),
        ),
    ];
    for (overlay, spec, want) in cases {
        let mut files = base.to_vec();
        files.push(("overlays/dev/kustomization.yaml", overlay));
        let tree = Tree::new(&files);
        let out = tree.set_image(&["--dir", "overlays/dev", spec]);
        assert_eq!(out.status.code(), Some(0), "{spec}: {}", stderr(&out));
        let rendered = kustomize_build(&tree.path("overlays/dev"));
        let images: Vec<&str> = rendered
            .lines()
            .filter_map(|l| l.trim().trim_start_matches("- ").strip_prefix("image: "))
            .collect();
        assert_eq!(images, vec![want.as_str()], "{spec}:\n{rendered}");
        // The base is untouched: the overlay carries the change.
        assert_eq!(tree.read("base/deployment.yaml"), DEPLOYMENT);
        // The same SPEC again (a re-run, a retry after a lost push race)
        // changes nothing, renames included.
        let edited = tree.read("overlays/dev/kustomization.yaml");
        let again = tree.set_image(&["--dir", "overlays/dev", spec]);
        assert_eq!(
            again.status.code(),
            Some(0),
            "{spec} again: {}",
            stderr(&again)
        );
        assert_eq!(stdout(&again), "", "{spec} again");
        assert_eq!(
            tree.read("overlays/dev/kustomization.yaml"),
            edited,
            "{spec} again"
        );
    }
}

/// Bad input for `set-image` next to a good manifest, and the first line
/// of what it must say.
struct BadInputCase {
    what: &'static str,
    /// Files besides the good one.
    extra: Vec<(&'static str, &'static str)>,
    args: Vec<&'static str>,
    /// Stderr starts with this (or its first line ends with it, after a
    /// path `--root` made absolute).
    says: String,
}

impl Case for BadInputCase {
    fn name(&self) -> String {
        self.what.to_string()
    }
}

#[test]
fn bad_input_fails_with_a_location_and_writes_nothing() {
    let good = ("good.yaml", DEPLOYMENT);
    let too_large = format!(
        "error: good.yaml: the file has {} bytes, more than the limit of 100",
        DEPLOYMENT.len()
    );
    let cases = vec![
        BadInputCase {
            what: "invalid YAML",
            extra: vec![(
                "bad.yaml",
                "kind: Pod\nspec:\n  containers:\n  - image: \"ghcr.io/o/app:v1\n",
            )],
            args: vec!["ghcr.io/o/app:v2"],
            says: "error: bad.yaml:4:12: invalid YAML: ".into(),
        },
        BadInputCase {
            what: "a duplicate key",
            extra: vec![(
                "dup.yaml",
                "kind: Pod\nspec:\n  containers:\n  - image: ghcr.io/o/app:v1\n    image: x\n",
            )],
            args: vec!["ghcr.io/o/app:v2"],
            says: "error: dup.yaml:5:5: duplicate key \"image\" (first at line 4)".into(),
        },
        BadInputCase {
            what: "a relative path out of --root",
            extra: vec![],
            args: vec![
                "--root",
                ".",
                "--file",
                "../outside.yaml",
                "ghcr.io/o/app:v2",
            ],
            says: "/../outside.yaml: the path leaves the root directory".into(),
        },
        BadInputCase {
            what: "an absolute path out of --root",
            extra: vec![],
            args: vec!["--root", ".", "--file", "/etc/hostname", "ghcr.io/o/app:v2"],
            says: "error: /etc/hostname: the path leaves the root directory".into(),
        },
        BadInputCase {
            what: "an absolute path without --root",
            extra: vec![],
            // Without --root a file outside the current directory is read.
            args: vec!["--file", "/etc/hostname", "ghcr.io/o/app:v2"],
            says: "error: no manifest refers to ghcr.io/o/app".into(),
        },
        BadInputCase {
            what: "a missing file",
            extra: vec![],
            args: vec!["--file", "missing.yaml", "ghcr.io/o/app:v2"],
            says: "error: missing.yaml: no such file or directory".into(),
        },
        BadInputCase {
            what: "an image found nowhere",
            extra: vec![],
            args: vec!["ghcr.io/o/typo:v2"],
            says: "error: no manifest refers to ghcr.io/o/typo".into(),
        },
        BadInputCase {
            what: "a file over --max-file-size",
            extra: vec![],
            args: vec!["--max-file-size", "100", "ghcr.io/o/app:v2"],
            says: too_large,
        },
    ];
    check_cases(cases, |case| {
        let BadInputCase {
            extra,
            args,
            says: want,
            ..
        } = case;
        let mut files = vec![good];
        files.extend(extra);
        let tree = Tree::new(&files);
        let before = tree.snapshot();
        let out = tree.set_image(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        // A path `--root` made absolute starts with the temporary directory.
        let first = err.lines().next().unwrap_or_default();
        assert!(
            err.starts_with(want.as_str())
                || (first.starts_with("error: /") && first.ends_with(want.as_str())),
            "{args:?}:\n{err}"
        );
        assert!(err.contains("\nhint: "), "{args:?}: no hint:\n{err}");
        assert_eq!(tree.snapshot(), before, "{args:?}: something was written");
    });
}

#[test]
fn links_and_special_files_outside_the_rules_are_refused() {
    let outside = Tree::new(&[
        ("secret.yaml", "image: ghcr.io/o/app:v1\n"),
        ("dir/x.yaml", "image: ghcr.io/o/app:v1\n"),
    ]);
    let cases: Vec<(&str, Vec<&str>, &str)> = vec![
        (
            "file-link",
            vec!["--file", "link.yaml", "ghcr.io/o/app:v2"],
            "error: link.yaml: a symbolic link leads outside the root directory",
        ),
        (
            "file-link",
            vec!["ghcr.io/o/app:v2"],
            "error: link.yaml: a symbolic link leads outside the root directory",
        ),
        (
            "dir-link",
            vec!["--dir", "linked", "ghcr.io/o/app:v2"],
            "error: linked: a symbolic link leads outside the root directory",
        ),
        (
            "fifo",
            vec!["--file", "pipe.yaml", "ghcr.io/o/app:v2"],
            "error: pipe.yaml: is a FIFO, not a file or directory",
        ),
    ];
    for (setup, args, want) in cases {
        let tree = Tree::new(&[("good.yaml", DEPLOYMENT)]);
        match setup {
            "file-link" => {
                std::os::unix::fs::symlink(outside.path("secret.yaml"), tree.path("link.yaml"))
                    .unwrap()
            }
            "dir-link" => {
                std::os::unix::fs::symlink(outside.path("dir"), tree.path("linked")).unwrap()
            }
            _ => {
                let status = std::process::Command::new("mkfifo")
                    .arg(tree.path("pipe.yaml"))
                    .status()
                    .unwrap();
                assert!(status.success());
            }
        }
        let before = (tree.snapshot(), outside.snapshot());
        let out = tree.set_image(&args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{setup} {args:?}: {}",
            stderr(&out)
        );
        assert!(
            stderr(&out).starts_with(want),
            "{setup} {args:?}:\n{}",
            stderr(&out)
        );
        assert_eq!(
            (tree.snapshot(), outside.snapshot()),
            before,
            "{setup}: wrote"
        );
    }
}

#[test]
fn links_inside_the_root_edit_their_target() {
    let tree = Tree::new(&[("real/app.yaml", "image: ghcr.io/o/app:v1\n")]);
    std::os::unix::fs::symlink(tree.path("real/app.yaml"), tree.path("link.yaml")).unwrap();
    // A dangling link in a walked directory is skipped, not an error.
    std::os::unix::fs::symlink(tree.path("gone.yaml"), tree.path("real/dangling.yaml")).unwrap();
    let out = tree.set_image(&["--check", "--dir", "real", "ghcr.io/o/app:v2"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let out = tree.set_image(&["--file", "link.yaml", "ghcr.io/o/app:v2"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(tree.read("real/app.yaml"), "image: ghcr.io/o/app:v2\n");
    let meta = std::fs::symlink_metadata(tree.path("link.yaml")).unwrap();
    assert!(
        meta.file_type().is_symlink(),
        "the link was replaced by a file"
    );
}

#[test]
fn permissions_survive_the_atomic_write() {
    use std::os::unix::fs::PermissionsExt;
    let tree = Tree::new(&[("app.yaml", "image: ghcr.io/o/app:v1\n")]);
    std::fs::set_permissions(
        tree.path("app.yaml"),
        std::fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    let out = tree.set_image(&["ghcr.io/o/app:v2"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mode = std::fs::metadata(tree.path("app.yaml"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o640);
    let leftovers: Vec<_> = std::fs::read_dir(tree.root())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".gitops-bump-"))
        .collect();
    assert!(leftovers.is_empty());
}

/// A kustomization next to a Deployment, a `set-image` run, and the
/// kustomization afterwards.
struct AppendCase {
    what: &'static str,
    args: Vec<&'static str>,
    kustomization: String,
}

impl Case for AppendCase {
    fn name(&self) -> String {
        self.what.to_string()
    }
}

#[test]
fn entries_are_appended_only_for_images_found_nowhere_else() {
    let kustomization = "resources:\n- deployment.yaml\n";
    let files = [
        ("app/kustomization.yaml", kustomization),
        ("app/deployment.yaml", DEPLOYMENT),
    ];
    let cases = [
        AppendCase {
            what: "an image its Deployment holds",
            args: vec!["--dir", "app", "ghcr.io/o/app:v2"],
            kustomization: kustomization.to_string(),
        },
        AppendCase {
            what: "an image found nowhere is appended",
            args: vec!["--dir", "app", "ghcr.io/o/app:v2", "redis:7"],
            kustomization: format!("{kustomization}images:\n- name: redis\n  newTag: \"7\"\n"),
        },
        AppendCase {
            what: "an image found nowhere, no kustomization at --dir: refused",
            args: vec!["--dir", ".", "redis:7"],
            kustomization: kustomization.to_string(),
        },
    ];
    check_cases(cases, |case| {
        let AppendCase {
            args,
            kustomization: want,
            ..
        } = case;
        let tree = Tree::new(&files);
        let out = tree.set_image(args);
        let expect_ok = !args.contains(&".");
        assert_eq!(
            out.status.code(),
            Some(if expect_ok { 0 } else { 1 }),
            "{args:?}: {}",
            stderr(&out)
        );
        assert_eq!(&tree.read("app/kustomization.yaml"), want, "{args:?}");
    });
}

#[test]
fn paths_are_normalized_inside_the_root() {
    let tree = Tree::new(&[("apps/a/deploy.yaml", DEPLOYMENT)]);
    let absolute = tree.path("apps").display().to_string();
    for dir in ["./apps/", "apps/../apps", absolute.as_str()] {
        let out = tree.set_image(&["--check", "--dir", dir, "ghcr.io/o/app:v2"]);
        assert_eq!(out.status.code(), Some(3), "{dir}: {}", stderr(&out));
        assert_eq!(
            stdout(&out),
            "apps/a/deploy.yaml:14:16: ghcr.io/o/app:v1 -> ghcr.io/o/app:v2\n",
            "{dir}"
        );
    }
}

#[test]
fn a_walked_file_that_does_not_parse_stops_the_run_only_when_it_names_an_image() {
    // Prefilter words match ("app" is in both), but only the second names the image.
    let broken_unrelated =
        "kind: Pod\nmetadata:\n  name: app\nspec:\n  containers:\n  - image: \"other/thing:v1\n";
    let tree = Tree::new(&[
        ("deploy.yaml", DEPLOYMENT),
        ("unrelated.yaml", broken_unrelated),
    ]);
    let out = tree.set_image(&["ghcr.io/o/app:v2"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with(
            "warning: unrelated.yaml:6:12: skipped, it does not parse (invalid YAML: "
        ),
        "{}",
        stderr(&out)
    );
    assert!(tree.read("deploy.yaml").contains("image: ghcr.io/o/app:v2"));
    assert_eq!(tree.read("unrelated.yaml"), broken_unrelated);
    // Given by name, the same file is an error.
    let out = tree.set_image(&["--file", "unrelated.yaml", "ghcr.io/o/app:v3"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).starts_with("error: unrelated.yaml:6:12: invalid YAML: "));
}

#[test]
fn compose_with_closing_brackets_at_the_key_indentation_is_edited() {
    // The shape of opentelemetry-demo's compose.yaml: valid YAML that
    // docker compose, kubectl and PyYAML read.
    let compose = "services:\n  web:\n    image: ghcr.io/o/app:v1\n    command: [\n      \"--config=/etc/config.yml\",\n      \"--verbose\"\n    ]\n    healthcheck:\n      test: [\"CMD\", \"true\"\n      ]\n  db:\n    image: postgres:16\n";
    let tree = Tree::new(&[("compose.yaml", compose)]);
    let out = tree.set_image(&["ghcr.io/o/app:v2"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "compose.yaml:3:12: ghcr.io/o/app:v1 -> ghcr.io/o/app:v2\n"
    );
    assert_eq!(
        tree.read("compose.yaml"),
        compose.replace("app:v1", "app:v2")
    );
}

#[test]
fn paths_are_taken_as_typed() {
    let tree = Tree::new(&[("apps/a/deploy.yaml", DEPLOYMENT)]);
    // An absolute path inside the root, spelled through a linked directory.
    let elsewhere = tempfile::tempdir().unwrap();
    let link = elsewhere.path().join("link");
    std::os::unix::fs::symlink(tree.root(), &link).unwrap();
    let through_link = link.join("apps/a/deploy.yaml").display().to_string();
    // With --root, relative paths are relative to the current directory.
    let cases: [&[&str]; 3] = [
        &["--file", &through_link],
        &["--root", "apps", "--file", "apps/a/deploy.yaml"],
        &["--root", "apps/a"],
    ];
    let want = [
        "apps/a/deploy.yaml:14:16: ghcr.io/o/app:v1 -> ghcr.io/o/app:v2\n",
        "a/deploy.yaml:14:16: ghcr.io/o/app:v1 -> ghcr.io/o/app:v2\n",
        "deploy.yaml:14:16: ghcr.io/o/app:v1 -> ghcr.io/o/app:v2\n",
    ];
    for (args, want) in cases.iter().zip(want) {
        let mut args = args.to_vec();
        args.extend(["--check", "ghcr.io/o/app:v2"]);
        let out = tree.set_image(&args);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {}", stderr(&out));
        assert_eq!(stdout(&out), want, "{args:?}");
    }
    // --root still confines.
    let out = tree.set_image(&["--root", "apps/a", "--dir", "apps", "ghcr.io/o/app:v2"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the path leaves the root directory"),
        "{}",
        stderr(&out)
    );
}

/// A kustomization whose `images:` sets the image is the source of truth
/// for what it includes (as with `kustomize edit set image`): its resources
/// and bases keep what they hold, the change list shows only the
/// kustomization's old tag, and kustomize still renders the new image
/// everywhere. Other images in those resources are still edited.
#[test]
fn a_kustomization_setting_the_image_leaves_its_resources_alone() {
    const JOB: &str = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: migrate\n        image: ghcr.io/o/app:PLACEHOLDER\n      - name: proxy\n        image: ghcr.io/o/proxy:v1\n";
    let dev_deployment = DEPLOYMENT.replace("app:v1", "app:PLACEHOLDER");
    const DEV: [&str; 3] = ["ghcr.io/o/app:v8", "ghcr.io/o/app:v8", "ghcr.io/o/proxy:v2"];
    const PROD: [&str; 1] = ["ghcr.io/o/app:v8"];
    let files = [
        ("base/deployment.yaml", DEPLOYMENT),
        ("base/kustomization.yaml", "resources:\n- deployment.yaml\n"),
        (
            "overlays/dev/kustomization.yaml",
            "resources:\n- deployment.yaml\n- ./migration-job.yaml\nimages:\n- name: ghcr.io/o/app\n  newTag: v7\n",
        ),
        ("overlays/dev/deployment.yaml", dev_deployment.as_str()),
        ("overlays/dev/migration-job.yaml", JOB),
        (
            "overlays/prod/kustomization.yaml",
            "resources:\n- ../../base\nimages:\n- name: ghcr.io/o/app\n  newTag: v1\n",
        ),
    ];
    // (paths, expected stdout)
    let cases: [(&[&str], &str); 3] = [
        (
            &["--dir", "overlays/dev"],
            "overlays/dev/kustomization.yaml:5:9: ghcr.io/o/app:v7 -> ghcr.io/o/app:v8\noverlays/dev/migration-job.yaml:13:16: ghcr.io/o/proxy:v1 -> ghcr.io/o/proxy:v2\n",
        ),
        // `paths: .` bumps every overlay that sets the image (see README),
        // and still no resource or base.
        (
            &["--dir", "."],
            "overlays/dev/kustomization.yaml:5:9: ghcr.io/o/app:v7 -> ghcr.io/o/app:v8\noverlays/dev/migration-job.yaml:13:16: ghcr.io/o/proxy:v1 -> ghcr.io/o/proxy:v2\noverlays/prod/kustomization.yaml:4:9: ghcr.io/o/app:v1 -> ghcr.io/o/app:v8\n",
        ),
        (
            &["--dir", "overlays/prod", "--dir", "base"],
            "overlays/prod/kustomization.yaml:4:9: ghcr.io/o/app:v1 -> ghcr.io/o/app:v8\n",
        ),
    ];
    for (paths, want) in cases {
        let tree = Tree::new(&files);
        let mut args = paths.to_vec();
        args.push("ghcr.io/o/app:v8");
        if paths[1] != "overlays/prod" {
            // (prod has no proxy: a SPEC found nowhere gets a new entry.)
            args.push("ghcr.io/o/proxy:v2");
        }
        let out = tree.set_image(&args);
        assert_eq!(out.status.code(), Some(0), "{paths:?}: {}", stderr(&out));
        assert_eq!(stdout(&out), want, "{paths:?}");
        assert_eq!(tree.read("overlays/dev/deployment.yaml"), dev_deployment);
        assert_eq!(tree.read("base/deployment.yaml"), DEPLOYMENT);
        assert!(
            tree.read("overlays/dev/migration-job.yaml")
                .contains("app:PLACEHOLDER")
        );
        // `kubectl kustomize` renders the new image in every resource.
        let renders: &[(&str, &[&str])] = match paths[1] {
            "overlays/dev" => &[("overlays/dev", &DEV)],
            "." => &[("overlays/dev", &DEV), ("overlays/prod", &PROD)],
            _ => &[("overlays/prod", &PROD)],
        };
        for (dir, want) in renders {
            let rendered = kustomize_build(&tree.path(dir));
            let images: Vec<&str> = rendered
                .lines()
                .filter_map(|l| l.trim().trim_start_matches("- ").strip_prefix("image: "))
                .collect();
            assert_eq!(images, *want, "{paths:?} {dir}:\n{rendered}");
        }
    }
}

/// The edit core is pure by construction: nothing under `src/edit/` reads
/// the file system, the environment, a process or the network (nor calls
/// into the Actions module, the run's environment, the file shell, or the
/// printer's output functions, which read the environment), so the git
/// write-back can re-run an edit on a new tip and get the same answer. The
/// shell that reads and writes files is `src/workspace/`; the printer's
/// pure helpers (`print::cut`) are allowed.
#[test]
fn the_edit_core_touches_no_file_system_or_environment() {
    const FORBIDDEN: [&str; 20] = [
        "std::fs",
        "std::env",
        "fs::",
        "File::",
        "env::var",
        "std::io",
        "std::os",
        "std::process",
        "std::net",
        "cap_std",
        "tempfile",
        "git2",
        "crate::actions",
        "crate::github_api",
        "crate::run_env",
        "crate::workspace",
        "crate::config",
        "print::line",
        "print::message",
        "print::json",
    ];
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/edit");
    let mut dirs = vec![root.clone()];
    let mut files = Vec::new();
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("src/edit is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    // Guards against a walk that finds nothing and so proves nothing.
    assert!(
        files.iter().any(|f| f.ends_with("targets/kustomize.rs")) && files.len() >= 15,
        "{files:?}"
    );
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("a source file");
        for (n, line) in text.lines().enumerate() {
            // The code of the line: comments may name the shell.
            let code = line.split("//").next().unwrap_or_default();
            for word in FORBIDDEN.iter().filter(|w| code.contains(*w)) {
                let shown = file.strip_prefix(&root).unwrap_or(file).display();
                found.push(format!("src/edit/{shown}:{}: {word}", n + 1));
            }
        }
    }
    assert!(
        found.is_empty(),
        "I/O in the pure core:\n{}",
        found.join("\n")
    );
}
