//! The packaged action, run the way the runner runs it: `node dist/index.js`
//! with `INPUT_*` variables and environment files, against the binary built
//! from this checkout.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::{Digest, Sha256};

use test_support::action::{ActionDir, hex};

const BIN: &str = env!("CARGO_BIN_EXE_gitops-bump");

fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn entry_runs_the_binary_with_runner_inputs_and_writes_outputs() {
    let action = ActionDir::new(BIN, false);
    let work = tempfile::tempdir().unwrap();
    let kust = work.path().join("kustomization.yaml");
    fs::write(
        &kust,
        "resources:\n- deployment.yaml\nimages:\n- name: ghcr.io/org/app # the app\n  newTag: v1\n",
    )
    .unwrap();
    let out_file = work.path().join("github_output");
    let o = action.run(
        &[
            ("INPUT_IMAGES", "ghcr.io/org/app:v2\n"),
            ("INPUT_PATHS", "kustomization.yaml"),
            ("INPUT_MODE", "none"),
            ("INPUT_VERIFY", "false"),
            ("INPUT_COMMIT-MESSAGE", "bump {image} [skip ci]"),
            ("GITHUB_OUTPUT", out_file.to_str().unwrap()),
        ],
        work.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let outputs = fs::read_to_string(&out_file).unwrap();
    let parsed = gitops_bump::actions::files::parse_delimited(&outputs);
    let get = |k: &str| parsed.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get("changed").as_deref(), Some("true"), "{outputs}");
    assert_eq!(get("previous-tag").as_deref(), Some("v1"), "{outputs}");
    assert_eq!(
        get("files").as_deref(),
        Some("kustomization.yaml"),
        "{outputs}"
    );
    assert!(
        fs::read_to_string(&kust).unwrap().contains("newTag: v2"),
        "{}",
        text(&o)
    );
}

#[test]
fn entry_propagates_usage_errors_as_annotations_and_exit_code() {
    let action = ActionDir::new(BIN, false);
    let work = tempfile::tempdir().unwrap();
    let o = action.run(
        &[
            ("INPUT_IMAGES", "ghcr.io/org/app:v2"),
            ("INPUT_MODE", "force"),
        ],
        work.path(),
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("::error title=gitops-bump::input `mode` has an invalid value \"force\""),
        "{}",
        text(&o)
    );
}

/// In Actions a hint names the input as a workflow sets it; on the
/// command line, the flag.
#[test]
fn the_no_match_hint_names_the_input_in_actions_and_the_flag_elsewhere() {
    let action = ActionDir::new(BIN, false);
    let work = tempfile::tempdir().unwrap();
    fs::write(
        work.path().join("pod.yaml"),
        "kind: Pod\nspec:\n  containers:\n  - name: app\n    image: ghcr.io/org/app:v1\n",
    )
    .unwrap();
    let inputs = [
        ("INPUT_IMAGES", "ghcr.io/org/typo:v2"),
        ("INPUT_MODE", "none"),
        ("INPUT_VERIFY", "false"),
    ];
    let o = action.run(&inputs, work.path());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let all = text(&o);
    assert!(all.contains("set `allow-no-match: true`"), "{all}");
    assert!(!all.contains("--allow-no-match"), "{all}");

    let o = Command::new(BIN)
        .args(["run", "--images", "ghcr.io/org/typo:v2", "--mode", "none"])
        .args(["--verify", "false"])
        .current_dir(work.path())
        .env_remove("GITHUB_ACTIONS")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let all = text(&o);
    assert!(
        all.contains("pass --allow-no-match (`gitops-bump run`: --allow-no-match true)"),
        "{all}"
    );
    assert!(!all.contains("`allow-no-match: true`"), "{all}");
}

#[test]
fn entry_refuses_a_binary_whose_checksum_does_not_match() {
    let action = ActionDir::new(BIN, true);
    let work = tempfile::tempdir().unwrap();
    let o = action.run(&[("INPUT_IMAGES", "a:v1")], work.path());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("checksum mismatch"),
        "{}",
        text(&o)
    );
}

#[test]
fn entry_explains_a_missing_platform_binary() {
    let action = ActionDir::new(BIN, false);
    let work = tempfile::tempdir().unwrap();
    let cases = [
        (("RUNNER_OS", "macOS"), "no binary for macos-x64"),
        (("RUNNER_OS", "Plan9"), "unsupported runner platform"),
    ];
    for ((k, v), needle) in cases {
        let o = action.run(&[(k, v), ("INPUT_IMAGES", "a:v1")], work.path());
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stdout).contains(needle),
            "{}",
            text(&o)
        );
    }
}

/// `node dist/post.js` with this step state and RUNNER_TEMP.
fn post_step(state: &[(&str, &Path)], digest: Option<&str>, runner_temp: Option<&Path>) -> Output {
    let mut cmd = Command::new("node");
    cmd.arg(repo_file("dist/post.js"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in state {
        cmd.env(format!("STATE_{k}"), v);
    }
    if let Some(d) = digest {
        cmd.env("STATE_credentials-file-sha256", d);
    }
    if let Some(t) = runner_temp {
        cmd.env("RUNNER_TEMP", t);
    }
    cmd.output().unwrap()
}

/// The post step deletes the file the main step wrote, and nothing a forged
/// state (`##[save-state name=credentials-file;]PATH` injected into the
/// main step's log) names instead.
#[test]
fn post_step_removes_only_the_credentials_file_it_can_prove_ours() {
    const OURS: &str = "gitops-bump-creds-0123456789abcdef.json";
    // (what, file to name (relative to the root), digest of its bytes?, RUNNER_TEMP set?, removed)
    let cases: &[(&str, &str, bool, bool, bool)] = &[
        (
            "the file the main step wrote",
            "temp/OURS",
            true,
            true,
            true,
        ),
        (
            "a file outside RUNNER_TEMP",
            "workspace/important.txt",
            true,
            true,
            false,
        ),
        (
            "our name outside RUNNER_TEMP",
            "workspace/OURS",
            true,
            true,
            false,
        ),
        (
            "another name inside RUNNER_TEMP",
            "temp/important.json",
            true,
            true,
            false,
        ),
        (
            "our name, no digest recorded",
            "temp/OURS",
            false,
            true,
            false,
        ),
        (
            "escaping RUNNER_TEMP with ..",
            "temp/../workspace/OURS",
            true,
            true,
            false,
        ),
        ("a link named like ours", "temp/LINK", true, true, false),
        ("RUNNER_TEMP unset", "temp/OURS", true, false, false),
        ("a relative path", "REL", true, true, false),
    ];
    for (what, name, with_digest, with_temp, removed) in cases {
        let root = tempfile::tempdir().unwrap();
        let temp = root.path().join("temp");
        let work = root.path().join("workspace");
        fs::create_dir_all(&temp).unwrap();
        fs::create_dir_all(&work).unwrap();
        let victim = work.join("important.txt");
        fs::write(&victim, "keep me").unwrap();
        let (named, target) = match *name {
            "temp/LINK" => {
                let link = temp.join(OURS);
                std::os::unix::fs::symlink(&victim, &link).unwrap();
                (link, victim.clone())
            }
            "REL" => (PathBuf::from(OURS), temp.join(OURS)),
            _ => {
                let p = root.path().join(name.replace("OURS", OURS));
                if !p.exists() {
                    fs::write(&p, r#"{"type":"external_account"}"#).unwrap();
                }
                (p.clone(), p)
            }
        };
        if !target.exists() {
            fs::write(&target, "x").unwrap();
        }
        let digest = hex(&Sha256::digest(fs::read(&target).unwrap()));
        let o = post_step(
            &[("credentials-file", named.as_path())],
            with_digest.then_some(digest.as_str()),
            with_temp.then_some(temp.as_path()),
        );
        assert!(o.status.success(), "{what}: {}", text(&o));
        assert_eq!(!target.exists(), *removed, "{what}: {}", text(&o));
        assert!(victim.exists(), "{what}: the victim survives");
        let stdout = String::from_utf8_lossy(&o.stdout);
        if *removed {
            assert!(
                stdout.starts_with("Removed credentials file "),
                "{what}: {stdout}"
            );
        } else {
            assert!(
                stdout.starts_with("::warning title=gitops-bump::not removing "),
                "{what}: {stdout}"
            );
            assert_eq!(stdout.lines().count(), 1, "{what}: one line, {stdout}");
        }
    }
    // Content that differs from what the main step wrote is kept too.
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join(OURS);
    fs::write(&file, "forged").unwrap();
    let o = post_step(
        &[("credentials-file", file.as_path())],
        Some(&hex(&Sha256::digest(b"what we wrote"))),
        Some(root.path()),
    );
    assert!(file.exists(), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("SHA-256 differs"));
    // No state: nothing to do, nothing said.
    let o = post_step(&[], None, Some(root.path()));
    assert!(o.status.success() && o.stdout.is_empty(), "{}", text(&o));
}

#[test]
fn action_yml_lists_every_input_with_its_default() {
    let yml = fs::read_to_string(repo_file("action.yml")).unwrap();
    let listed: Vec<&str> = yml
        .lines()
        .skip_while(|l| *l != "inputs:")
        .skip(1)
        .take_while(|l| *l != "outputs:")
        .filter_map(|l| l.strip_prefix("  ")?.strip_suffix(':'))
        .filter(|l| !l.starts_with(' '))
        .collect();
    let expected: Vec<&str> = gitops_bump::config::INPUTS.iter().map(|i| i.name).collect();
    assert_eq!(listed, expected, "run scripts/gen-action-yml.py");
    for i in gitops_bump::config::INPUTS
        .iter()
        .filter(|i| !i.default.is_empty())
    {
        let needle = format!("    default: '{}'", i.default.replace('\'', "''"));
        assert!(
            yml.contains(&needle),
            "default of {} missing: {needle}",
            i.name
        );
    }
}

/// The Docker config (`docker-registries`) is removed on the same proof:
/// `config.json` in a `gitops-bump-docker-<16 hex>` directory (not a link)
/// directly inside RUNNER_TEMP, with the recorded digest. The directory
/// goes too when nothing else is in it.
#[test]
fn post_step_removes_only_the_docker_config_it_can_prove_ours() {
    const DIR: &str = "gitops-bump-docker-0123456789abcdef";
    // (what, file to name (relative to the root), right digest?, removed, the warning's reason)
    let cases: &[(&str, &str, bool, bool, &str)] = &[
        ("ours", "temp/DIR/config.json", true, true, ""),
        (
            "ours, with files another tool left",
            "temp/DIR/config.json+buildx",
            true,
            true,
            "",
        ),
        (
            "forged content",
            "temp/DIR/config.json",
            false,
            false,
            "its content is not the file the main step wrote (SHA-256 differs)",
        ),
        (
            "another directory",
            "temp/docker/config.json",
            true,
            false,
            "its directory is not one gitops-bump creates (gitops-bump-docker-<16 hex>)",
        ),
        (
            "our directory name outside RUNNER_TEMP",
            "workspace/DIR/config.json",
            true,
            false,
            "its directory is not directly inside RUNNER_TEMP",
        ),
        (
            "another file in our directory",
            "temp/DIR/important.txt",
            true,
            false,
            "the name is not one gitops-bump creates (config.json)",
        ),
        (
            "our directory name as a link",
            "temp/LINK/config.json",
            true,
            false,
            "its directory is a link, not a directory",
        ),
    ];
    for (what, name, right_digest, removed, reason) in cases {
        let root = tempfile::tempdir().unwrap();
        let temp = root.path().join("temp");
        let work = root.path().join("workspace");
        fs::create_dir_all(&temp).unwrap();
        fs::create_dir_all(&work).unwrap();
        let (name, extra) = match name.split_once('+') {
            Some((n, e)) => (n, Some(e)),
            None => (*name, None),
        };
        let file = if name.starts_with("temp/LINK") {
            let real = work.join(DIR);
            fs::create_dir_all(&real).unwrap();
            std::os::unix::fs::symlink(&real, temp.join(DIR)).unwrap();
            temp.join(DIR).join("config.json")
        } else {
            root.path().join(name.replace("DIR", DIR))
        };
        fs::create_dir_all(file.parent().unwrap()).unwrap();
        fs::write(&file, r#"{"auths":{}}"#).unwrap();
        if let Some(e) = extra {
            fs::create_dir_all(file.parent().unwrap().join(e)).unwrap();
        }
        let digest = if *right_digest {
            hex(&Sha256::digest(fs::read(&file).unwrap()))
        } else {
            hex(&Sha256::digest(b"what we wrote"))
        };
        let o = post_step(
            &[
                ("docker-config", file.as_path()),
                ("docker-config-sha256", Path::new(&digest)),
            ],
            None,
            Some(temp.as_path()),
        );
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{what}: {}", text(&o));
        assert_eq!(!file.exists(), *removed, "{what}: {stdout}");
        if *removed {
            assert_eq!(
                stdout,
                format!("Removed Docker config {}\n", file.display()),
                "{what}"
            );
            assert_eq!(file.parent().unwrap().exists(), extra.is_some(), "{what}");
        } else {
            assert_eq!(
                stdout,
                format!(
                    "::warning title=gitops-bump::not removing {}: {reason}. The step state \
                     names it, but only a Docker config gitops-bump wrote is removed\n",
                    file.display()
                ),
                "{what}"
            );
        }
    }
}

/// The README shows each scenario's workflow exactly as the linted file in
/// examples/workflows/, and every `uses:` of gitops-bump in it is pinned to
/// a commit (zizmor's default policy refuses a tag).
#[test]
fn readme_scenarios_are_the_linted_example_files() {
    let readme = fs::read_to_string(repo_file("README.md")).unwrap();
    let scenarios = [
        "separate-gitops-repo.yml",
        "dev-latest-prod-release.yml",
        "raw-manifests.yml",
        "compose-stacks.yml",
        "many-services.yml",
        "wait-argocd.yml",
        "wait-flux.yml",
    ];
    for file in scenarios {
        let text = fs::read_to_string(repo_file(&format!("examples/workflows/{file}"))).unwrap();
        assert!(
            readme.contains(&format!("```yaml\n{text}```")),
            "README.md does not show examples/workflows/{file} verbatim"
        );
    }
    let yaml_uses = |l: &&str| {
        let l = l.trim_start().trim_start_matches("- ");
        l.starts_with("uses:") && l.contains("gitops-bump@")
    };
    for line in readme.lines().filter(yaml_uses) {
        let reference = line.split("gitops-bump@").nth(1).unwrap_or_default();
        let sha: String = reference
            .chars()
            .take_while(char::is_ascii_hexdigit)
            .collect();
        assert_eq!(sha.len(), 40, "not pinned to a commit: {line}");
    }
}

/// Every commit-message placeholder is listed in the README with the
/// meaning the source gives it.
#[test]
fn readme_lists_every_placeholder() {
    let readme = fs::read_to_string(repo_file("README.md")).unwrap();
    for (name, meaning) in gitops_bump::template::PLACEHOLDERS {
        let row = format!("| `{{{name}}}` | {} |", meaning.replace('|', "\\|"));
        assert!(readme.contains(&row), "README.md lacks: {row}");
    }
}
