//! The command-line interface: help, version, exit codes, parse-only resolve
//! and input validation, run as a user runs them.

use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_gitops-bump");

fn run(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_OUTPUT");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn all(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn help_version_and_usage_errors_have_documented_exit_codes() {
    let cases: &[(&[&str], i32, &str)] = &[
        (&["--version"], 0, "gitops-bump 0.1.0"),
        (&["--help"], 0, "Exit codes:"),
        (&["--help"], 0, "set-image"),
        (&["set-image", "--help"], 0, "NAME[=NEWNAME][:TAG][@DIGEST]"),
        (&["resolve", "--help"], 0, "--parse-only"),
        (&["run", "--help"], 0, "--commit-message"),
        (&["run", "--help"], 0, "--workload-identity-provider"),
        (&["--no-such-flag"], 2, "unexpected argument"),
        (&[], 2, "no command given"),
        (&["set-image"], 2, "SPEC"),
        (&["set-image", "Bad/Name:1"], 2, "must be lowercase"),
        (
            &["resolve", "--parse-only", "app@sha256:123"],
            2,
            "64 hex digits",
        ),
        (
            &["run", "--images", "app:v1", "--mode", "force"],
            2,
            "input `mode` has an invalid value",
        ),
        (
            &["run", "--images", "app:v1", "--wait", "soon"],
            2,
            "input `wait`",
        ),
        (&["run"], 2, "input `images` is required"),
    ];
    for (args, code, needle) in cases {
        let o = run(args, &[]);
        assert_eq!(o.status.code(), Some(*code), "{args:?}: {}", all(&o));
        assert!(all(&o).contains(needle), "{args:?}: {}", all(&o));
    }
}

/// Every command spells a flag like the input it sets; the older singular
/// spellings are still accepted, unlisted.
#[test]
fn flags_are_named_like_their_inputs_and_old_spellings_still_work() {
    let cases: &[(&[&str], &[&str], &[&str])] = &[
        (
            &["resolve", "--help"],
            &["--platforms", "--insecure-registries", "--wait"],
            &["--platform ", "--insecure-registry "],
        ),
        (
            &["set-image", "--help"],
            &["--values-paths", "--image-kinds"],
            &["--values-path ", "--image-kind "],
        ),
    ];
    for (args, listed, unlisted) in cases {
        let o = run(args, &[]);
        let help = all(&o);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {help}");
        for flag in *listed {
            assert!(help.contains(flag), "{args:?} lists {flag}: {help}");
        }
        for flag in *unlisted {
            assert!(!help.contains(flag), "{args:?} hides {flag}: {help}");
        }
    }
    // Validated before any network call, naming the input, whichever spelling.
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "resolve",
                "--insecure-registry",
                "localhost:5000",
                "--wait",
                "soon",
                "nginx",
            ],
            "input `wait`",
        ),
        (
            &["resolve", "--platform", "amd64", "nginx"],
            "input `platforms` has an invalid value \"amd64\"",
        ),
        (
            &[
                "resolve",
                "--platforms",
                "linux/amd64",
                "--wait",
                "x",
                "nginx",
            ],
            "input `wait`",
        ),
    ];
    for (args, needle) in cases {
        let o = run(args, &[]);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", all(&o));
        assert!(all(&o).contains(needle), "{args:?}: {}", all(&o));
    }
}

#[test]
fn flags_win_over_action_inputs() {
    // The env says mode=none (valid); the flag says force (invalid) and must win.
    let o = run(
        &["run", "--mode", "force"],
        &[("INPUT_IMAGES", "app:v1"), ("INPUT_MODE", "none")],
    );
    assert_eq!(o.status.code(), Some(2), "{}", all(&o));
    // And an env-only invalid value is reported with the input's name.
    let o = run(
        &["run"],
        &[("INPUT_IMAGES", "app:v1"), ("INPUT_VERIFY", "yes")],
    );
    assert_eq!(o.status.code(), Some(2), "{}", all(&o));
    assert!(all(&o).contains("input `verify`"), "{}", all(&o));
}

#[test]
fn errors_in_actions_become_annotations() {
    let o = run(
        &["run"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("INPUT_IMAGES", "app:v1"),
            ("INPUT_MAX-ATTEMPTS", "1001"),
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", all(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("::error title=gitops-bump::input `max-attempts` has an invalid value"),
        "{stdout}"
    );
}

#[test]
fn parse_only_resolve_shows_the_normalized_reference() {
    let o = run(&["resolve", "--parse-only", "--json", "nginx:1.27"], &[]);
    assert!(o.status.success(), "{}", all(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["registry"], "docker.io");
    assert_eq!(v["repository"], "library/nginx");
    assert_eq!(v["tag"], "1.27");
    assert_eq!(v["digest"], serde_json::Value::Null);
    let o = run(
        &[
            "resolve",
            "--parse-only",
            "index.docker.io/team/app",
            "localhost:5000/a",
        ],
        &[],
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "docker.io/team/app\nlocalhost:5000/a\n"
    );
}

#[test]
fn secret_inputs_are_masked_in_actions_before_anything_else() {
    let o = run(
        &["run"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("INPUT_TOKEN", "ghs_FAKE_SECRET_TOKEN_123"),
            ("INPUT_MODE", "bogus"),
            ("INPUT_IMAGES", "app:v1"),
        ],
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    let first = stdout.lines().next().unwrap_or_default();
    assert_eq!(first, "::add-mask::ghs_FAKE_SECRET_TOKEN_123");
    assert_eq!(
        all(&o).matches("ghs_FAKE_SECRET_TOKEN_123").count(),
        1,
        "{}",
        all(&o)
    );
}
