//! Credential boundaries and hostile inputs, through the real binary in CLI
//! mode (`gitops-bump run --flag …`) and action mode (`INPUT_*`, no
//! subcommand), against the real registry (htpasswd and token auth), the
//! smart-HTTP git server and hostile.py, a recording server that misbehaves
//! on purpose. Every server in front of a credential records the whole
//! `Authorization` header of every request, so each case says where each
//! credential went; failing cases also prove nothing was written or pushed.
//! Memory bounds are measured in benches/hostile_memory.sh, not here.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use base64::Engine;
use test_support::fixture::{GOOD_MANIFEST, Repo};
use test_support::git_http::{GIT_TOKEN, GitHttp};
use test_support::process::Server;
use test_support::registry::{Auth, PASSWORD, Registry, USER};
use test_support::{git, run_bin};

const BIN: &str = env!("CARGO_BIN_EXE_gitops-bump");

const HOSTILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/boundaries/hostile.py");
const LIMIT: Duration = Duration::from_secs(120);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Cli,
    Action,
}

const MODES: [Mode; 2] = [Mode::Cli, Mode::Action];

/// Runs the pipeline with `inputs`: as `run --NAME VALUE` flags outside
/// Actions, or as `INPUT_NAME` variables with no subcommand inside.
fn run(mode: Mode, cwd: &Path, inputs: &[(&str, String)], env: &[(String, String)]) -> Output {
    let mut args: Vec<String> = Vec::new();
    let mut all_env = env.to_vec();
    match mode {
        Mode::Cli => {
            args.push("run".into());
            for (k, v) in inputs {
                args.push(format!("--{k}"));
                args.push(v.clone());
            }
            all_env.push(("GITHUB_ACTIONS".into(), "false".into()));
        }
        Mode::Action => {
            for (k, v) in inputs {
                all_env.push((format!("INPUT_{}", k.to_uppercase()), v.clone()));
            }
        }
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_bin(BIN, cwd, &args, &all_env, LIMIT)
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The output without `::add-mask::` lines, the one place a secret may
/// appear (it tells the runner what to hide).
fn unmasked(out: &Output) -> String {
    text(out)
        .lines()
        .filter(|l| !l.starts_with("::add-mask::"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// hostile.py with `args`, in `dir`.
fn hostile(dir: &Path, name: &str, args: &[&str]) -> Server {
    Server::start(Path::new(HOSTILE), args, dir, name)
}

fn addr(script: &Server) -> String {
    format!("127.0.0.1:{}", script.port)
}

/// Requests `script` logged since it had `from` of them.
fn since(script: &Server, from: usize) -> Vec<String> {
    script.requests().into_iter().skip(from).collect()
}

/// A deployment of `images`, one container each.
fn workload(images: &[String]) -> Vec<u8> {
    let mut s = String::from(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n",
    );
    for (n, image) in images.iter().enumerate() {
        s.push_str(&format!("        - name: c{n}\n          image: {image}\n"));
    }
    s.into_bytes()
}

/// A registry holding `team/app:v1`, behind a recorder that logs every
/// Authorization header on its way in.
struct Recorded {
    registry: Registry,
    recorder: Server,
}

impl Recorded {
    fn start(auth: Auth, dir: &Path, name: &str) -> Recorded {
        let registry = Registry::start(auth);
        registry.push("single", "team/app:v1", &[]);
        let port = registry
            .addr
            .rsplit(':')
            .next()
            .unwrap_or_default()
            .to_string();
        let recorder = hostile(dir, name, &["--upstream", &port]);
        Recorded { registry, recorder }
    }

    /// The registry name clients use: the recorder's host:port.
    fn host(&self) -> String {
        addr(&self.recorder)
    }
}

/// What a case expects: the exit code and a part of the output.
struct Want {
    code: i32,
    says: &'static str,
}

fn check(what: &str, mode: Mode, out: &Output, want: &Want) {
    let all = text(out);
    assert_eq!(
        out.status.code(),
        Some(want.code),
        "{what} ({mode:?}): {all}"
    );
    assert!(
        all.contains(want.says),
        "{what} ({mode:?}): want {:?} in\n{all}",
        want.says
    );
}

#[test]
fn registry_credentials_go_only_to_the_registry_they_are_bound_to() {
    let dir = tempfile::tempdir().expect("temp dir");
    let r1 = Recorded::start(Auth::Htpasswd, dir.path(), "r1");
    let r2 = Recorded::start(Auth::Htpasswd, dir.path(), "r2");
    let (h1, h2) = (r1.host(), r2.host());
    let ours = basic(USER, PASSWORD);
    let both = format!("{h1},{h2}");
    let dev = format!("images:\n  - name: app\n    newName: {h2}/team/app\n    newTag: v1\n");
    let prod = format!("images:\n  - name: app\n    newName: {h1}/team/app\n    newTag: v0\n");
    // (what, inputs, want, credentials seen by r1, credentials seen by r2)
    type Case<'a> = (&'a str, Vec<(&'a str, String)>, Want, bool, bool);
    let cases: Vec<Case> = vec![
        (
            "one registry named by `images`: the credentials are bound to it",
            vec![
                ("images", format!("{h1}/team/app:v1")),
                ("paths", "apps/one.yaml".into()),
            ],
            Want {
                code: 0,
                says: "1 image(s) found",
            },
            true,
            false,
        ),
        (
            "two registries, `registry` names one: the other is asked anonymously",
            vec![
                ("images", format!("{h1}/team/app:v1\n{h2}/team/app:v1")),
                ("paths", "apps/two.yaml".into()),
                ("registry", h1.clone()),
            ],
            Want {
                code: 1,
                says: "no credentials (anonymous)",
            },
            true,
            false,
        ),
        (
            "two registries and no `registry`: refused before any request",
            vec![
                ("images", format!("{h1}/team/app:v1\n{h2}/team/app:v1")),
                ("paths", "apps/two.yaml".into()),
            ],
            Want {
                code: 2,
                says: "input `registry` is required",
            },
            false,
            false,
        ),
        (
            "promotion from an overlay naming another registry: anonymous there",
            vec![
                ("promote-from", "overlays/dev".into()),
                ("promote-to", "overlays/prod".into()),
                ("registry", h1.clone()),
            ],
            Want {
                code: 1,
                says: "no credentials (anonymous)",
            },
            false,
            false,
        ),
        (
            "promotion without `registry`: refused, the repository names the hosts",
            vec![
                ("promote-from", "overlays/dev".into()),
                ("promote-to", "overlays/prod".into()),
            ],
            Want {
                code: 2,
                says: "with promote-from the registries come from the repository",
            },
            false,
            false,
        ),
        (
            "promotion with `registry` naming the overlay's registry: sent there",
            vec![
                ("promote-from", "overlays/dev".into()),
                ("promote-to", "overlays/prod".into()),
                ("registry", h2.clone()),
            ],
            Want {
                code: 0,
                says: "1 image(s) found",
            },
            false,
            true,
        ),
    ];
    for mode in MODES {
        for (what, inputs, want, to_r1, to_r2) in &cases {
            let repo = Repo::seeded(&[
                (
                    "apps/one.yaml".into(),
                    workload(&[format!("{h1}/team/app:v0")]),
                ),
                (
                    "apps/two.yaml".into(),
                    workload(&[format!("{h1}/team/app:v0"), format!("{h2}/team/app:v0")]),
                ),
                (
                    "overlays/dev/kustomization.yaml".into(),
                    dev.clone().into_bytes(),
                ),
                (
                    "overlays/prod/kustomization.yaml".into(),
                    prod.clone().into_bytes(),
                ),
            ]);
            let before = repo.snapshot();
            let (n1, n2) = (r1.recorder.requests().len(), r2.recorder.requests().len());
            let mut inputs = inputs.clone();
            inputs.extend([
                ("registry-username", USER.to_string()),
                ("registry-password", PASSWORD.to_string()),
                ("insecure-registries", both.clone()),
            ]);
            let out = run(mode, &repo.wt(), &inputs, &[]);
            check(what, mode, &out, want);
            let (seen1, seen2) = (since(&r1.recorder, n1), since(&r2.recorder, n2));
            let has = |seen: &[String]| seen.iter().any(|r| r.ends_with(&format!("auth={ours}")));
            assert_eq!(has(&seen1), *to_r1, "{what} ({mode:?}): r1 saw {seen1:?}");
            assert_eq!(has(&seen2), *to_r2, "{what} ({mode:?}): r2 saw {seen2:?}");
            // No other Authorization header went anywhere either.
            for r in seen1.iter().chain(&seen2) {
                assert!(
                    r.ends_with("auth=-") || r.ends_with(&format!("auth={ours}")),
                    "{what} ({mode:?}): {r}"
                );
            }
            if want.code == 2 {
                assert!(
                    seen1.is_empty() && seen2.is_empty(),
                    "{what}: {seen1:?} {seen2:?}"
                );
            }
            if want.code != 0 {
                assert_eq!(
                    before,
                    repo.snapshot(),
                    "{what} ({mode:?}): {}",
                    before.diff(&repo.snapshot())
                );
            }
        }
    }
}

#[test]
fn the_git_token_goes_only_to_the_named_origin_and_over_https_unless_allowed() {
    let repo = Repo::seeded(&[]);
    git(&repo.remote(), &["config", "http.receivepack", "true"]);
    let server = GitHttp::start(repo.dir.path());
    let recorder = hostile(
        repo.dir.path(),
        "recorder",
        &["--upstream", &server.port.to_string()],
    );
    let target = format!("http://{}", addr(&recorder));
    let redirector = hostile(repo.dir.path(), "redirector", &["--redirect-all", &target]);
    let via_recorder = format!("{target}/remote.git");
    let via_redirect = format!("http://{}/remote.git", addr(&redirector));
    let token_header = basic("x-access-token", GIT_TOKEN);
    // (what, repository, insecure-git-origins, want, token reaches the recorder)
    let cases = [
        (
            "a plain-HTTP origin the user allowed",
            via_recorder.clone(),
            target.clone(),
            Want {
                code: 0,
                says: "commit-sha=",
            },
            true,
        ),
        (
            "plain HTTP without the opt-in",
            via_recorder.clone(),
            String::new(),
            Want {
                code: 1,
                says: "is plain HTTP, where the token would travel in clear",
            },
            false,
        ),
        (
            "a redirect to another origin",
            via_redirect.clone(),
            format!("http://{}", addr(&redirector)),
            Want {
                code: 1,
                says: "but the token is only for",
            },
            false,
        ),
    ];
    let cwd = repo.dir.path().join("runner");
    std::fs::create_dir_all(&cwd).expect("mkdir");
    let mut n = 0;
    for mode in MODES {
        for (what, repository, insecure, want, reaches) in &cases {
            n += 1;
            let before = git(&repo.remote(), &["rev-parse", "main"]);
            let (seen_from, redirected_from) =
                (recorder.requests().len(), redirector.requests().len());
            let mut inputs = vec![
                ("images", format!("ghcr.io/org/app:t{n}")),
                ("verify", "false".to_string()),
                ("paths", "apps".to_string()),
                ("repository", repository.clone()),
                ("token", GIT_TOKEN.to_string()),
            ];
            if !insecure.is_empty() {
                inputs.push(("insecure-git-origins", insecure.clone()));
            }
            let out = run(mode, &cwd, &inputs, &[]);
            check(what, mode, &out, want);
            let seen = since(&recorder, seen_from);
            let got_token = seen
                .iter()
                .any(|r| r.ends_with(&format!("auth={token_header}")));
            assert_eq!(got_token, *reaches, "{what} ({mode:?}): {seen:?}");
            for r in since(&redirector, redirected_from) {
                assert!(
                    r.ends_with("auth=-"),
                    "{what} ({mode:?}): the redirector got {r}"
                );
            }
            let after = git(&repo.remote(), &["rev-parse", "main"]);
            assert_eq!(
                after != before,
                want.code == 0,
                "{what} ({mode:?}): pushed?"
            );
            assert!(
                !unmasked(&out).contains(GIT_TOKEN),
                "{what} ({mode:?}): token printed"
            );
        }
    }
}

/// A server that sends the push elsewhere: the fetch went to the origin
/// named, the push is refused before the other origin sees anything, so
/// the commit cannot land on another server.
#[test]
fn a_push_redirected_to_another_origin_is_refused() {
    let repo = Repo::seeded(&[]);
    git(&repo.remote(), &["config", "http.receivepack", "true"]);
    let server = GitHttp::start(repo.dir.path());
    let upstream = server.port.to_string();
    let elsewhere = hostile(repo.dir.path(), "elsewhere", &["--upstream", &upstream]);
    let to = format!("http://{}", addr(&elsewhere));
    let named = hostile(
        repo.dir.path(),
        "named",
        &["--redirect-push", &to, "--upstream", &upstream],
    );
    let origin = format!("http://{}", addr(&named));
    let cwd = repo.dir.path().join("runner");
    std::fs::create_dir_all(&cwd).expect("mkdir");
    for mode in MODES {
        let before = git(&repo.remote(), &["rev-parse", "main"]);
        let inputs = vec![
            ("images", "ghcr.io/org/app:moved".to_string()),
            ("verify", "false".to_string()),
            ("paths", "apps".to_string()),
            ("repository", format!("{origin}/remote.git")),
            ("token", GIT_TOKEN.to_string()),
            ("insecure-git-origins", format!("{origin},{to}")),
        ];
        let out = run(mode, &cwd, &inputs, &[]);
        let want = Want {
            code: 1,
            says: "the server redirected the push to",
        };
        check("a push redirected elsewhere", mode, &out, &want);
        assert_eq!(
            git(&repo.remote(), &["rev-parse", "main"]),
            before,
            "{mode:?}"
        );
        assert!(
            elsewhere.requests().is_empty(),
            "{:?}",
            elsewhere.requests()
        );
        assert!(
            !unmasked(&out).contains(GIT_TOKEN),
            "{mode:?}: token printed"
        );
    }
}

/// Git over HTTPS, as every GitHub remote is: the push lands with no
/// opt-in, the token travels only inside the TLS connection, and a server
/// whose certificate is not trusted gets neither the token nor a push.
#[test]
fn git_over_https_lands_and_an_untrusted_certificate_is_refused() {
    let repo = Repo::seeded(&[]);
    git(&repo.remote(), &["config", "http.receivepack", "true"]);
    let server = GitHttp::start(repo.dir.path());
    let (cert, key) = tls_cert(repo.dir.path());
    let (cert_s, key_s) = (
        cert.to_string_lossy().into_owned(),
        key.to_string_lossy().into_owned(),
    );
    let tls = hostile(
        repo.dir.path(),
        "tls-git",
        &[
            "--tls",
            &cert_s,
            &key_s,
            "--upstream",
            &server.port.to_string(),
        ],
    );
    let url = format!("https://{}/remote.git", addr(&tls));
    let token_header = basic("x-access-token", GIT_TOKEN);
    let cwd = repo.dir.path().join("runner");
    std::fs::create_dir_all(&cwd).expect("mkdir");
    let trusted = vec![("SSL_CERT_FILE".to_string(), cert_s.clone())];
    // (what, environment, want)
    let cases = [
        (
            "a trusted certificate",
            trusted,
            Want {
                code: 0,
                says: "commit-sha=",
            },
        ),
        (
            "an untrusted certificate",
            vec![],
            Want {
                code: 1,
                says: "certificate",
            },
        ),
    ];
    let mut n = 0;
    for mode in MODES {
        for (what, env, want) in &cases {
            n += 1;
            let before = git(&repo.remote(), &["rev-parse", "main"]);
            let seen_from = tls.requests().len();
            let tag = format!("tls{n}");
            let inputs = vec![
                ("images", format!("ghcr.io/org/app:{tag}")),
                ("verify", "false".to_string()),
                ("paths", "apps".to_string()),
                ("repository", url.clone()),
                ("token", GIT_TOKEN.to_string()),
            ];
            let out = run(mode, &cwd, &inputs, env);
            check(what, mode, &out, want);
            let after = git(&repo.remote(), &["rev-parse", "main"]);
            let seen = since(&tls, seen_from);
            let got_token = seen
                .iter()
                .any(|r| r.ends_with(&format!("auth={token_header}")));
            if want.code == 0 {
                assert_ne!(after, before, "{what} ({mode:?}): pushed");
                let text = git(&repo.remote(), &["show", "main:apps/app.yaml"]);
                assert!(text.contains(&tag), "{what} ({mode:?}): {text}");
                assert!(got_token, "{what} ({mode:?}): {seen:?}");
                // Fetch and push: the token sent once the server asked.
                assert!(
                    seen.iter().any(|r| r.contains("git-receive-pack")),
                    "{what} ({mode:?}): {seen:?}"
                );
            } else {
                assert_eq!(after, before, "{what} ({mode:?}): nothing pushed");
                assert!(!got_token, "{what} ({mode:?}): {seen:?}");
            }
            assert!(
                !unmasked(&out).contains(GIT_TOKEN),
                "{what} ({mode:?}): token printed"
            );
        }
    }
}

/// A self-signed certificate for 127.0.0.1 that the binary trusts through
/// `SSL_CERT_FILE`.
fn tls_cert(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("tls-cert.pem"), dir.join("tls-key.pem"));
    let status = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(status.success(), "openssl req failed");
    (cert, key)
}

#[test]
fn hostile_registries_cannot_downgrade_exhaust_or_steer_us() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let (cert, key) = tls_cert(d);
    let (cert_s, key_s) = (
        cert.to_string_lossy().into_owned(),
        key.to_string_lossy().into_owned(),
    );
    let plain = Recorded::start(Auth::Anonymous, d, "plain");
    let upstream = plain
        .registry
        .addr
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_string();
    let tls_ok = hostile(
        d,
        "tls-ok",
        &["--tls", &cert_s, &key_s, "--upstream", &upstream],
    );
    let downgrade_to = format!("http://{}", plain.host());
    let tls_redirect = hostile(
        d,
        "tls-redirect",
        &[
            "--tls",
            &cert_s,
            &key_s,
            "--redirect-manifests",
            &downgrade_to,
            "--upstream",
            &upstream,
        ],
    );
    let big_manifest = hostile(d, "big-manifest", &["--big-manifest", "1G"]);
    let bad_digest = hostile(d, "bad-digest", &["--bad-config-digest"]);
    let big_token = hostile(d, "big-token", &["--big-all", "1G"]);
    let big_realm = format!("http://{}/token", addr(&big_token));
    let token_bomb = hostile(d, "token-bomb", &["--realm", &big_realm]);
    // Answers the challenge of an htpasswd registry, then sends manifests
    // to another host (the anonymous one behind `plain`).
    let locked = Registry::start(Auth::Htpasswd);
    let locked_port = locked
        .addr
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_string();
    let elsewhere = hostile(
        d,
        "elsewhere",
        &[
            "--redirect-manifests",
            &downgrade_to,
            "--upstream",
            &locked_port,
        ],
    );
    let tokens = Registry::start(Auth::Token);
    tokens.push("single", "team/app:v1", &[]);
    let token_addr = tokens.token_addr.clone().expect("token server");
    let ours = basic(USER, PASSWORD);
    // (what, registry host, extra inputs, want)
    type Case<'a> = (&'a str, String, Vec<(&'a str, String)>, Want);
    let cases: Vec<Case> = vec![
        (
            "HTTPS registry (the TLS setup works)",
            addr(&tls_ok),
            vec![],
            Want {
                code: 0,
                says: "1 image(s) found",
            },
        ),
        (
            "HTTPS registry redirecting a manifest to plain HTTP",
            addr(&tls_redirect),
            vec![],
            Want {
                code: 1,
                says: "redirected from HTTPS to plain HTTP; refused",
            },
        ),
        (
            "a 1 GiB manifest",
            addr(&big_manifest),
            vec![("insecure-registries", addr(&big_manifest))],
            Want {
                code: 1,
                says: "sent more than 4 MiB",
            },
        ),
        (
            "a config digest that is a path",
            addr(&bad_digest),
            vec![
                ("insecure-registries", addr(&bad_digest)),
                ("platforms", "linux/amd64".into()),
            ],
            Want {
                code: 1,
                says: "is not a digest",
            },
        ),
        (
            "a 1 GiB token response",
            addr(&token_bomb),
            vec![(
                "insecure-registries",
                format!("{},{}", addr(&token_bomb), addr(&big_token)),
            )],
            Want {
                code: 1,
                says: "sent more than 4 MiB",
            },
        ),
        (
            "a plain-HTTP token realm on a host not listed",
            tokens.addr.clone(),
            vec![
                ("insecure-registries", tokens.addr.clone()),
                ("registry-username", USER.into()),
                ("registry-password", PASSWORD.into()),
            ],
            Want {
                code: 1,
                says: "over plain HTTP, which is not allowed",
            },
        ),
        (
            "a manifest redirected to another host (followed, without the password)",
            addr(&elsewhere),
            vec![
                (
                    "insecure-registries",
                    format!("{},{}", addr(&elsewhere), plain.host()),
                ),
                ("registry-username", USER.into()),
                ("registry-password", PASSWORD.into()),
            ],
            Want {
                code: 0,
                says: "1 image(s) found",
            },
        ),
        (
            "the same realm once listed (the password goes there)",
            tokens.addr.clone(),
            vec![
                (
                    "insecure-registries",
                    format!("{},{token_addr}", tokens.addr),
                ),
                ("registry-username", USER.into()),
                ("registry-password", PASSWORD.into()),
            ],
            Want {
                code: 0,
                says: "1 image(s) found",
            },
        ),
    ];
    let env = vec![("SSL_CERT_FILE".to_string(), cert_s.clone())];
    for mode in MODES {
        for (what, host, extra, want) in &cases {
            let repo = Repo::seeded(&[(
                "apps/h.yaml".into(),
                workload(&[format!("{host}/team/app:v0")]),
            )]);
            let before = repo.snapshot();
            let plain_from = plain.recorder.requests().len();
            let bad_from = bad_digest.requests().len();
            let token_from = tokens.token_requests().len();
            let mut inputs = vec![
                ("images", format!("{host}/team/app:v1")),
                ("paths", "apps/h.yaml".into()),
                ("mode", "none".into()),
            ];
            inputs.extend(extra.iter().cloned());
            let out = run(mode, &repo.wt(), &inputs, &env);
            check(what, mode, &out, want);
            let downgraded = since(&plain.recorder, plain_from);
            if *what == "HTTPS registry redirecting a manifest to plain HTTP" {
                assert!(downgraded.is_empty(), "{what}: followed to {downgraded:?}");
            }
            if *host == addr(&elsewhere) {
                assert!(
                    !downgraded.is_empty() && downgraded.iter().all(|r| r.ends_with("auth=-")),
                    "{what} ({mode:?}): the other host saw {downgraded:?}"
                );
                let asked = since(&elsewhere, 0);
                assert!(
                    asked.iter().any(|r| r.ends_with(&format!("auth={ours}"))),
                    "{what} ({mode:?}): the bound registry never got the password: {asked:?}"
                );
            }
            let steered: Vec<String> = since(&bad_digest, bad_from)
                .into_iter()
                .filter(|r| r.contains("admin"))
                .collect();
            assert!(
                steered.is_empty(),
                "{what} ({mode:?}): requested {steered:?}"
            );
            let token_requests = &tokens.token_requests()[token_from..];
            if want.code == 1 && *host == tokens.addr {
                assert!(
                    token_requests.is_empty(),
                    "{what} ({mode:?}): {token_requests:?}"
                );
            }
            if want.code == 0 && *host == tokens.addr {
                assert!(
                    token_requests.iter().any(|r| r.contains("auth=Basic")),
                    "{what} ({mode:?}): {token_requests:?}"
                );
            }
            assert!(
                !unmasked(&out).contains(&ours),
                "{what} ({mode:?}): credentials printed"
            );
            if want.code != 0 {
                assert_eq!(
                    before,
                    repo.snapshot(),
                    "{what} ({mode:?}): {}",
                    before.diff(&repo.snapshot())
                );
            }
        }
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[test]
fn require_environment_believes_only_a_token_issued_for_this_job() {
    let dir = tempfile::tempdir().expect("temp dir");
    let good = || {
        serde_json::json!({
            "iss": "https://token.actions.githubusercontent.com",
            "aud": "gitops-bump",
            "exp": now() + 300,
            "nbf": now() - 5,
            "repository": "org/gitops",
            "environment": "production",
            "ref": "refs/heads/main",
            "event_name": "push",
        })
    };
    let with = |k: &str, v: serde_json::Value| {
        let mut c = good();
        c[k] = v;
        c
    };
    let cases = [
        (
            "this job's token",
            good(),
            Want {
                code: 0,
                says: "commit-sha=",
            },
        ),
        (
            "another issuer",
            with("iss", "https://issuer.evil.example".into()),
            Want {
                code: 1,
                says: "cannot be trusted (claim `iss`)",
            },
        ),
        (
            "another audience",
            with("aud", "sts.amazonaws.com".into()),
            Want {
                code: 1,
                says: "cannot be trusted (claim `aud`)",
            },
        ),
        (
            "an expired token",
            with("exp", (now() - 3600).into()),
            Want {
                code: 1,
                says: "cannot be trusted (claim `exp`)",
            },
        ),
        (
            "another repository's token",
            with("repository", "evil/app".into()),
            Want {
                code: 1,
                says: "cannot be trusted (claim `repository`)",
            },
        ),
    ];
    let mut n = 0;
    for mode in MODES {
        for (what, claims, want) in &cases {
            n += 1;
            let oidc = hostile(
                dir.path(),
                &format!("oidc{n}"),
                &["--oidc-claims", &claims.to_string()],
            );
            let repo = Repo::seeded(&[]);
            let before = repo.snapshot();
            let env = vec![
                (
                    "ACTIONS_ID_TOKEN_REQUEST_URL".to_string(),
                    format!("http://{}/oidc?x=1", addr(&oidc)),
                ),
                (
                    "ACTIONS_ID_TOKEN_REQUEST_TOKEN".to_string(),
                    "fake-request-token".to_string(),
                ),
                ("GITHUB_REPOSITORY".to_string(), "org/gitops".to_string()),
            ];
            let inputs = vec![
                ("images", format!("ghcr.io/org/app:e{n}")),
                ("verify", "false".into()),
                ("paths", "apps".into()),
                ("require-environment", "production".into()),
            ];
            let out = run(mode, &repo.wt(), &inputs, &env);
            check(what, mode, &out, want);
            if want.code != 0 {
                assert_eq!(
                    before,
                    repo.snapshot(),
                    "{what} ({mode:?}): {}",
                    before.diff(&repo.snapshot())
                );
            }
        }
    }
    // A 2 MiB answer from the OIDC endpoint is refused at its 1 MiB cap.
    let big = hostile(dir.path(), "oidc-big", &["--big-all", "2M"]);
    for mode in MODES {
        let repo = Repo::seeded(&[]);
        let env = vec![
            (
                "ACTIONS_ID_TOKEN_REQUEST_URL".to_string(),
                format!("http://{}/oidc?x=1", addr(&big)),
            ),
            (
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN".to_string(),
                "fake-request-token".to_string(),
            ),
            ("GITHUB_REPOSITORY".to_string(), "org/gitops".to_string()),
        ];
        let inputs = vec![
            ("images", "ghcr.io/org/app:big".to_string()),
            ("verify", "false".into()),
            ("require-environment", "production".into()),
        ];
        let out = run(mode, &repo.wt(), &inputs, &env);
        check(
            "a 2 MiB OIDC answer",
            mode,
            &out,
            &Want {
                code: 1,
                says: "larger than 1 MiB",
            },
        );
    }
}

#[test]
fn secret_flags_are_never_echoed_and_can_come_from_a_file_or_the_environment() {
    let key = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n-----END PRIVATE KEY-----\n";
    let dir = tempfile::tempdir().expect("temp dir");
    let cwd = dir.path().join("cwd");
    std::fs::create_dir_all(&cwd).expect("mkdir");
    let cli = vec![("GITHUB_ACTIONS".to_string(), "false".to_string())];
    // Parse errors around a secret flag: clap quotes arguments, never the key.
    let parse_errors: [&[&str]; 4] = [
        &["run", "--app-private-key", key, "--bogus"],
        &["run", "--token", "ghs_flag_secret_123", "--tokenx", "1"],
        &["run", "--registry-password=pw_flag_secret_456", "--nope"],
        &["run", "--app-private-key", key, "--app-private-key", key],
    ];
    for args in parse_errors {
        let out = run_bin(BIN, &cwd, args, &cli, LIMIT);
        let all = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {all}");
        for secret in [
            "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj",
            "ghs_flag_secret_123",
            "pw_flag_secret_456",
        ] {
            assert!(!all.contains(secret), "{args:?} echoed a secret: {all}");
        }
    }
    let help = text(&run_bin(BIN, &cwd, &["run", "--help"], &cli, LIMIT));
    for part in [
        "--token-file",
        "$GITOPS_BUMP_TOKEN",
        "--registry-password-file",
        "--app-private-key-file",
    ] {
        assert!(help.contains(part), "--help lacks {part}");
    }
    // The registry password from a file and from GITOPS_BUMP_REGISTRY_PASSWORD
    // reaches the registry it is bound to.
    let r = Recorded::start(Auth::Htpasswd, dir.path(), "reg");
    let file = dir.path().join("password");
    std::fs::write(&file, format!("{PASSWORD}\n")).expect("write");
    let ours = basic(USER, PASSWORD);
    type Source<'a> = (&'a str, Vec<String>, Vec<(String, String)>);
    let sources: [Source; 2] = [
        (
            "--registry-password-file",
            vec![
                "--registry-password-file".into(),
                file.to_string_lossy().into_owned(),
            ],
            vec![],
        ),
        (
            "GITOPS_BUMP_REGISTRY_PASSWORD",
            vec![],
            vec![("GITOPS_BUMP_REGISTRY_PASSWORD".into(), PASSWORD.into())],
        ),
    ];
    for (what, extra_args, extra_env) in sources {
        let from = r.recorder.requests().len();
        let image = format!("{}/team/app:v1", r.host());
        let mut args: Vec<String> = [
            "run",
            "--images",
            &image,
            "--mode",
            "none",
            "--allow-no-match",
            "true",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend([
            "--registry-username".into(),
            USER.into(),
            "--insecure-registries".into(),
            r.host(),
        ]);
        args.extend(extra_args);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut env = cli.clone();
        env.extend(extra_env);
        let repo = Repo::seeded(&[]);
        let out = run_bin(BIN, &repo.wt(), &args, &env, LIMIT);
        assert_eq!(out.status.code(), Some(0), "{what}: {}", text(&out));
        let seen = since(&r.recorder, from);
        assert!(
            seen.iter().any(|l| l.ends_with(&format!("auth={ours}"))),
            "{what}: {seen:?}"
        );
        assert!(
            !unmasked(&out).contains(PASSWORD),
            "{what}: password printed"
        );
    }
}

#[test]
fn hostile_manifests_cannot_hide_an_image_print_control_characters_or_escape_the_repository() {
    let escaped = b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n    - name: web\n      image: \"ghcr.io/org/\\x61pp:v0\"\n".to_vec();
    let control = b"images:\n  - name: ghcr.io/org/app\n    newTag: \"\\0v0\\e[31m\"\n".to_vec();
    let mut n = 0;
    for mode in MODES {
        // An image spelled with a YAML escape is bumped with the others.
        n += 1;
        let repo = Repo::seeded(&[("apps/escaped.yaml".into(), escaped.clone())]);
        let tag = format!("x{n}");
        let inputs = vec![
            ("images", format!("ghcr.io/org/app:{tag}")),
            ("verify", "false".into()),
            ("paths", "apps".into()),
        ];
        let out = run(mode, &repo.wt(), &inputs, &[]);
        check(
            "escaped image",
            mode,
            &out,
            &Want {
                code: 0,
                says: "commit-sha=",
            },
        );
        for file in ["apps/app.yaml", "apps/escaped.yaml"] {
            let remote = git(&repo.remote(), &["show", &format!("main:{file}")]);
            assert!(
                remote.contains(&format!("ghcr.io/org/app:{tag}")),
                "{mode:?}: {file} not bumped:\n{remote}"
            );
        }

        // Control characters from escapes are refused, and never printed raw.
        let repo = Repo::seeded(&[("k/kustomization.yaml".into(), control.clone())]);
        let before = repo.snapshot();
        let inputs = vec![
            ("images", "ghcr.io/org/app:v1".to_string()),
            ("verify", "false".into()),
            ("paths", "k".into()),
        ];
        let out = run(mode, &repo.wt(), &inputs, &[]);
        check(
            "control characters",
            mode,
            &out,
            &Want {
                code: 1,
                says: "holds a control character",
            },
        );
        let raw = [&out.stdout[..], &out.stderr[..]].concat();
        assert!(
            !raw.iter().any(|b| *b == 0 || *b == 0x1b),
            "{mode:?}: raw control bytes printed"
        );
        assert_eq!(
            before,
            repo.snapshot(),
            "{mode:?}: {}",
            before.diff(&repo.snapshot())
        );

        // A symlinked manifest: the target is edited and committed, the
        // link stays a link, the checkout is left clean.
        n += 1;
        let repo = Repo::seeded(&[
            ("base/app.yaml".into(), GOOD_MANIFEST.as_bytes().to_vec()),
            ("overlay/app.yaml".into(), b"link:../base/app.yaml".to_vec()),
        ]);
        let tag = format!("l{n}");
        let inputs = vec![
            ("images", format!("ghcr.io/org/app:{tag}")),
            ("verify", "false".into()),
            ("paths", "overlay".into()),
        ];
        let out = run(mode, &repo.wt(), &inputs, &[]);
        check(
            "symlinked manifest",
            mode,
            &out,
            &Want {
                code: 0,
                says: "base/app.yaml",
            },
        );
        let tree = git(&repo.remote(), &["ls-tree", "-r", "main"]);
        assert!(
            tree.lines()
                .any(|l| l.starts_with("120000") && l.ends_with("overlay/app.yaml")),
            "{mode:?}: the link was replaced:\n{tree}"
        );
        let target = git(&repo.remote(), &["show", "main:base/app.yaml"]);
        assert!(
            target.contains(&format!("ghcr.io/org/app:{tag}")),
            "{mode:?}: target not committed"
        );
        let status = git(&repo.wt(), &["status", "--porcelain"]);
        assert_eq!(status, "", "{mode:?}: checkout left dirty");
    }
}

/// A directory on the way to a manifest is swapped for a link to a
/// directory outside the repository, over and over, while `set-image`
/// runs: no run may write outside (the write goes through the root
/// handle, so the swapped path cannot lead out).
#[test]
fn a_parent_swapped_for_a_link_cannot_lead_a_write_outside() {
    let repo = Repo::seeded(&[]);
    let wt = repo.wt();
    let outside = repo.outside();
    std::fs::write(outside.join("app.yaml"), GOOD_MANIFEST).expect("write");
    let before = std::fs::read(outside.join("app.yaml")).expect("read");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let swapper = {
        let (wt, outside, stop) = (wt.clone(), outside.clone(), stop.clone());
        std::thread::spawn(move || {
            let (apps, real) = (wt.join("apps"), wt.join("apps.real"));
            let mut swaps = 0u32;
            // Bounded: the test stops it after its runs.
            while !stop.load(std::sync::atomic::Ordering::SeqCst) && swaps < 1_000_000 {
                if std::fs::rename(&apps, &real).is_ok() {
                    let _ = std::os::unix::fs::symlink(&outside, &apps);
                    std::thread::sleep(Duration::from_micros(200));
                    let _ = std::fs::remove_file(&apps);
                    let _ = std::fs::rename(&real, &apps);
                }
                std::thread::sleep(Duration::from_micros(200));
                swaps += 1;
            }
        })
    };
    let cli = vec![("GITHUB_ACTIONS".to_string(), "false".to_string())];
    let mut wrote = 0;
    for i in 0..150 {
        let tag = format!("ghcr.io/org/app:s{i}");
        let out = run_bin(
            BIN,
            &wt,
            &["set-image", "--file", "apps/app.yaml", &tag],
            &cli,
            LIMIT,
        );
        wrote += usize::from(out.status.success());
        assert_eq!(
            std::fs::read(outside.join("app.yaml")).expect("read"),
            before,
            "run {i} wrote outside the repository: {}",
            text(&out)
        );
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    swapper.join().expect("swapper");
    assert!(wrote > 0, "no run got through: the case proves nothing");
}
