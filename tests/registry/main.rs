//! Registry verification against a real CNCF distribution registry on
//! 127.0.0.1, with images pushed by skopeo from a deterministic OCI layout,
//! in three setups: anonymous, htpasswd Basic, and token auth.

use std::time::Duration;

use gitops_bump::reference::{Digest, Reference};
use gitops_bump::registry::{
    CredentialSource, Credentials, ExplicitLogin, Missing, RegistryError, RegistryOptions,
    Resolved, resolve_all,
};
use gitops_bump::secret::Secret;
use test_support::registry::{Auth, FaultProxy, PASSWORD, Registry, USER};
use test_support::{Case, check_cases};

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// Options for the registry (or proxy) listed first in `insecure` (a comma
/// list: the registry, then its token server). Credentials made by
/// [`login`] are bound to that first host, as the `registry` input binds them.
fn options(insecure: &str, mut credentials: Credentials) -> RegistryOptions {
    let insecure: Vec<String> = insecure.split(',').map(str::to_string).collect();
    if let Some(login) = credentials.explicit.as_mut()
        && login.registry.is_empty()
    {
        login.registry = insecure[0].clone();
    }
    RegistryOptions {
        credentials,
        insecure_registries: insecure,
        wait: Duration::ZERO,
        request_timeout: Duration::from_secs(10),
    }
}

fn login() -> Credentials {
    Credentials {
        explicit: Some(ExplicitLogin {
            registry: String::new(),
            username: USER.to_string(),
            password: Secret::new(PASSWORD),
        }),
        ..Default::default()
    }
}

fn resolve(
    options: &RegistryOptions,
    references: &[String],
    platforms: &[&str],
    expected: Option<&str>,
) -> Result<Vec<Resolved>, RegistryError> {
    let references: Vec<Reference> = references
        .iter()
        .map(|r| Reference::parse(r).unwrap())
        .collect();
    let platforms: Vec<String> = platforms.iter().map(|p| p.to_string()).collect();
    let expected = expected.map(|e| Digest::parse(e).unwrap());
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(resolve_all(
            options,
            &references,
            &platforms,
            expected.as_ref(),
        ))
}

/// Pushes the four shapes a CI build produces: OCI manifest and index,
/// Docker schema 2 manifest and manifest list.
fn push_all_formats(registry: &Registry) {
    registry.push("single", "team/app:v1", &[]);
    registry.push(
        "multi",
        "team/app:v2-multi",
        &["--all", "--preserve-digests"],
    );
    registry.push("single", "team/app:v1-docker", &["--format", "v2s2"]);
    registry.push(
        "multi",
        "team/app:v2-docker-list",
        &["--all", "--format", "v2s2"],
    );
}

#[test]
fn tags_resolve_to_the_digest_skopeo_sees_in_every_auth_setup() {
    let cases: [(&str, Auth, Credentials); 4] = [
        ("anonymous", Auth::Anonymous, Credentials::default()),
        ("htpasswd", Auth::Htpasswd, login()),
        ("token with credentials", Auth::Token, login()),
        ("token anonymous", Auth::Token, Credentials::default()),
    ];
    for (name, auth, credentials) in cases {
        let registry = Registry::start(auth);
        push_all_formats(&registry);
        let images = [
            ("team/app:v1", OCI_MANIFEST, vec![]),
            (
                "team/app:v2-multi",
                OCI_INDEX,
                vec!["linux/amd64", "linux/arm64"],
            ),
            ("team/app:v1-docker", DOCKER_MANIFEST, vec![]),
            (
                "team/app:v2-docker-list",
                DOCKER_LIST,
                vec!["linux/amd64", "linux/arm64"],
            ),
        ];
        let references: Vec<String> = images
            .iter()
            .map(|(image, ..)| format!("{}/{image}", registry.addr))
            .collect();
        let resolved = resolve(
            &options(&registry.insecure(), credentials),
            &references,
            &[],
            None,
        )
        .unwrap_or_else(|e| panic!("{name}: {e}\n{}", registry.log()));
        assert_eq!(resolved.len(), images.len(), "{name}");
        for ((image, media_type, platforms), got) in images.iter().zip(&resolved) {
            assert_eq!(got.digest, registry.skopeo_digest(image), "{name} {image}");
            assert_eq!(got.media_type, *media_type, "{name} {image}");
            assert_eq!(got.platforms, *platforms, "{name} {image}");
            assert_eq!(got.registry, registry.addr, "{name} {image}");
            assert_eq!(got.repository, "team/app", "{name} {image}");
            assert_eq!(
                got.tag.as_deref(),
                image.split(':').nth(1),
                "{name} {image}"
            );
        }
    }
}

/// A reference resolved with an expected digest (or none), and the
/// digest it must resolve to or the parts of its error.
struct DigestCase<'a> {
    what: &'static str,
    reference: String,
    expected: Option<&'a str>,
    want: Result<&'a str, Vec<String>>,
}

impl Case for DigestCase<'_> {
    fn name(&self) -> String {
        self.what.to_string()
    }
}

#[test]
fn pinned_digests_are_verified_and_expected_digests_compared() {
    let registry = Registry::start(Auth::Anonymous);
    push_all_formats(&registry);
    let single = registry.skopeo_digest("team/app:v1");
    let multi = registry.skopeo_digest("team/app:v2-multi");
    let absent = format!("sha256:{}", "0".repeat(64));
    let at = |image: &str| format!("{}/{image}", registry.addr);
    let cases = vec![
        DigestCase {
            what: "a digest",
            reference: at(&format!("team/app@{single}")),
            expected: None,
            want: Ok(&single),
        },
        DigestCase {
            what: "a tag and a digest",
            reference: at(&format!("team/app:v1@{single}")),
            expected: None,
            want: Ok(&single),
        },
        DigestCase {
            what: "an index digest",
            reference: at(&format!("team/app@{multi}")),
            expected: None,
            want: Ok(&multi),
        },
        DigestCase {
            what: "a tag and the expected digest",
            reference: at("team/app:v1"),
            expected: Some(&single),
            want: Ok(&single),
        },
        DigestCase {
            what: "a digest the registry lacks",
            reference: at(&format!("team/app@{absent}")),
            expected: None,
            want: Err(vec![format!(
                "the registry has no manifest {absent} in repository team/app"
            )]),
        },
        DigestCase {
            what: "a tag and another expected digest",
            reference: at("team/app:v1"),
            expected: Some(&multi),
            want: Err(vec![format!(
                "{} resolves to {single}, but the expected digest is {multi}",
                at("team/app:v1")
            )]),
        },
    ];
    let options = options(&registry.insecure(), Credentials::default());
    check_cases(cases, |case| {
        let DigestCase {
            reference,
            expected,
            want,
            ..
        } = case;
        let got = resolve(&options, std::slice::from_ref(reference), &[], *expected);
        match (got, want) {
            (Ok(r), Ok(digest)) => assert_eq!(r[0].digest, *digest, "{reference}"),
            (Err(e), Err(parts)) => {
                for part in parts {
                    assert!(
                        e.to_string().contains(part.as_str()),
                        "{reference}: {e}\nwanted: {part}"
                    );
                }
                assert!(e.hint().is_some());
            }
            (got, want) => panic!("{reference}: got {got:?}, wanted {want:?}"),
        }
    });
}

#[test]
fn required_platforms_must_all_be_present() {
    let registry = Registry::start(Auth::Anonymous);
    push_all_formats(&registry);
    let cases: [(&str, &[&str], Option<&str>); 7] = [
        ("team/app:v2-multi", &["linux/amd64"], None),
        ("team/app:v2-multi", &["linux/arm64", "linux/amd64"], None),
        ("team/app:v2-docker-list", &["linux/arm64/v8"], None),
        ("team/app:v1", &["linux/amd64"], None),
        (
            "team/app:v2-multi",
            &["linux/amd64", "linux/s390x", "windows/amd64"],
            Some(
                "lacks platform(s) linux/s390x, windows/amd64; it provides linux/amd64, linux/arm64",
            ),
        ),
        (
            "team/app:v1",
            &["linux/arm64"],
            Some("lacks platform(s) linux/arm64; it provides linux/amd64"),
        ),
        (
            "team/app:v1-docker",
            &["linux/arm64"],
            Some("it provides linux/amd64"),
        ),
    ];
    let options = options(&registry.insecure(), Credentials::default());
    for (image, platforms, want_error) in cases {
        let reference = format!("{}/{image}", registry.addr);
        match (resolve(&options, &[reference], platforms, None), want_error) {
            (Ok(_), None) => {}
            (Err(e @ RegistryError::MissingPlatforms { .. }), Some(want)) => {
                assert!(e.to_string().contains(want), "{image}: {e}");
            }
            (got, want) => panic!("{image} {platforms:?}: got {got:?}, wanted {want:?}"),
        }
    }
}

#[test]
fn missing_tag_and_missing_repository_are_told_apart() {
    let registry = Registry::start(Auth::Token);
    registry.push("single", "team/app:v1", &[]);
    let cases = [
        (
            "team/app:nope",
            Missing::Tag("nope".into()),
            "not found: tag \"nope\" does not exist in repository team/app (HTTP 404, MANIFEST_UNKNOWN: manifest unknown)",
        ),
        (
            "team/ghost:v1",
            Missing::Repository,
            "not found: repository team/ghost does not exist (HTTP 404, NAME_UNKNOWN: repository name not known to registry)",
        ),
    ];
    let options = options(&registry.insecure(), login());
    for (image, want_missing, want_message) in cases {
        let reference = format!("{}/{image}", registry.addr);
        match resolve(&options, std::slice::from_ref(&reference), &[], None) {
            Err(e @ RegistryError::NotFound { .. }) => {
                let RegistryError::NotFound { missing, .. } = &e else {
                    unreachable!()
                };
                assert_eq!(*missing, want_missing, "{image}");
                assert_eq!(e.to_string(), format!("{reference}: {want_message}"));
                assert!(e.hint().unwrap().contains("wait: 2m"), "{image}");
            }
            other => panic!("{image}: {other:?}"),
        }
    }
}

#[test]
fn refused_credentials_are_reported_with_scope_and_source_never_the_secret() {
    let wrong = Credentials {
        explicit: Some(ExplicitLogin {
            registry: String::new(),
            username: USER.to_string(),
            password: Secret::new("not-the-password-42"),
        }),
        ..Default::default()
    };
    let cases = [
        (
            "htpasswd, wrong password",
            Auth::Htpasswd,
            wrong.clone(),
            CredentialSource::Explicit,
        ),
        (
            "htpasswd, no credentials",
            Auth::Htpasswd,
            Credentials::default(),
            CredentialSource::Anonymous,
        ),
        (
            "token, wrong password",
            Auth::Token,
            wrong,
            CredentialSource::Explicit,
        ),
    ];
    for (name, auth, credentials, want_source) in cases {
        let registry = Registry::start(auth);
        registry.push("single", "team/app:v1", &[]);
        let reference = format!("{}/team/app:v1", registry.addr);
        match resolve(
            &options(&registry.insecure(), credentials),
            &[reference],
            &[],
            None,
        ) {
            Err(e @ RegistryError::Unauthorized { .. }) => {
                let RegistryError::Unauthorized {
                    credentials, scope, ..
                } = &e
                else {
                    unreachable!()
                };
                assert_eq!(*credentials, want_source, "{name}");
                assert_eq!(scope, "repository:team/app:pull", "{name}");
                let text = format!("{e} {:?} {}", e, e.hint().unwrap());
                assert!(text.contains("repository:team/app:pull"), "{name}: {text}");
                assert!(text.contains(&want_source.to_string()), "{name}: {text}");
                assert!(!text.contains("not-the-password-42"), "{name}: {text}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn one_ping_per_registry_one_token_per_scope_one_head_per_image() {
    let registry = Registry::start(Auth::Token);
    for tag in ["a", "b", "c"] {
        registry.push("single", &format!("team/app:{tag}"), &[]);
        registry.push("single", &format!("team/other:{tag}"), &[]);
    }
    let proxy = FaultProxy::start(&registry, "");
    let before = registry.token_requests().len();
    let references: Vec<String> = ["app:a", "app:b", "app:c", "other:a", "other:b", "other:c"]
        .iter()
        .map(|r| format!("{}/team/{r}", proxy.addr))
        .collect();
    let resolved = resolve(
        &options(
            &format!("{},{}", proxy.addr, registry.token_addr.as_ref().unwrap()),
            Credentials::default(),
        ),
        &references,
        &[],
        None,
    )
    .unwrap();
    assert_eq!(resolved.len(), 6);
    let tokens = &registry.token_requests()[before..];
    assert_eq!(tokens.len(), 2, "{tokens:?}");
    for scope in ["team%2Fapp", "team%2Fother"] {
        assert_eq!(
            tokens.iter().filter(|t| t.contains(scope)).count(),
            1,
            "{tokens:?}"
        );
        // No credentials: the token is asked for anonymously.
        assert!(tokens.iter().all(|t| t.ends_with("auth=-")), "{tokens:?}");
    }
    let requests = proxy.requests();
    let pings = requests
        .iter()
        .filter(|r| r.starts_with("GET /v2/ "))
        .count();
    let heads = requests.iter().filter(|r| r.starts_with("HEAD ")).count();
    assert_eq!((pings, heads, requests.len()), (1, 6, 7), "{requests:?}");
}

#[test]
fn transient_failures_are_retried_a_bounded_number_of_times() {
    let registry = Registry::start(Auth::Anonymous);
    registry.push("single", "team/app:v1", &[]);
    let digest = registry.skopeo_digest("team/app:v1");
    // (fault plan, Ok(requests seen) or Err(message part))
    let cases: [(&str, Result<&[&str], &str>); 6] = [
        (
            "pass,429",
            Ok(&[
                "GET /v2/ 200",
                "HEAD /v2/team/app/manifests/v1 429",
                "HEAD /v2/team/app/manifests/v1 200",
            ]),
        ),
        (
            "pass,429date",
            Ok(&[
                "GET /v2/ 200",
                "HEAD /v2/team/app/manifests/v1 429",
                "HEAD /v2/team/app/manifests/v1 200",
            ]),
        ),
        (
            "503,pass,503,503",
            Ok(&[
                "GET /v2/ 503",
                "GET /v2/ 200",
                "HEAD /v2/team/app/manifests/v1 503",
                "HEAD /v2/team/app/manifests/v1 503",
                "HEAD /v2/team/app/manifests/v1 200",
            ]),
        ),
        (
            "pass,503,429",
            Ok(&[
                "GET /v2/ 200",
                "HEAD /v2/team/app/manifests/v1 503",
                "HEAD /v2/team/app/manifests/v1 429",
                "HEAD /v2/team/app/manifests/v1 200",
            ]),
        ),
        ("pass,503*", Err("failed: HTTP 503 for http://")),
        ("pass,429*", Err("rate limited: ")),
    ];
    for (plan, want) in cases {
        let proxy = FaultProxy::start(&registry, plan);
        let reference = format!("{}/team/app:v1", proxy.addr);
        let got = resolve(
            &options(&proxy.addr, Credentials::default()),
            &[reference],
            &[],
            None,
        );
        match (got, want) {
            (Ok(r), Ok(requests)) => {
                assert_eq!(r[0].digest, digest, "{plan}");
                assert_eq!(proxy.requests(), requests, "{plan}");
            }
            (Err(e), Err(part)) => {
                let text = e.to_string();
                assert!(text.contains(part), "{plan}: {text}");
                assert!(text.contains("after 4 attempt(s)"), "{plan}: {text}");
                // One ping, then the first try and three retries: bounded.
                assert_eq!(proxy.requests().len(), 5, "{plan}: {:?}", proxy.requests());
            }
            (got, want) => panic!("{plan}: got {got:?}, wanted {want:?}"),
        }
    }
}

#[test]
fn waits_for_an_image_pushed_while_polling() {
    let registry = Registry::start(Auth::Htpasswd);
    registry.push("single", "team/app:v1", &[]);
    let reference = format!("{}/team/app:late", registry.addr);
    let mut waiting = options(&registry.insecure(), login());

    // Not waiting: missing at once.
    let err = resolve(&waiting, std::slice::from_ref(&reference), &[], None).unwrap_err();
    assert!(
        matches!(err, RegistryError::NotFound { waited, .. } if waited.is_zero()),
        "{err}"
    );

    // Waiting briefly for an image nobody pushes: still missing, says so.
    waiting.wait = Duration::from_secs(1);
    let err = resolve(&waiting, std::slice::from_ref(&reference), &[], None).unwrap_err();
    assert!(
        err.to_string().contains("still missing after waiting 1s"),
        "{err}"
    );
    assert!(err.hint().unwrap().contains("raise `wait`"), "{err}");

    // Waiting while CI pushes it a moment later: found.
    waiting.wait = Duration::from_secs(60);
    let resolved = std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(1500));
            registry.push("multi", "team/app:late", &["--all", "--preserve-digests"]);
        });
        resolve(&waiting, std::slice::from_ref(&reference), &[], None)
    })
    .unwrap();
    assert_eq!(resolved[0].digest, registry.skopeo_digest("team/app:late"));
}

#[test]
fn a_moving_tag_is_polled_until_it_points_at_this_builds_push() {
    // `expected-digest` is this build's digest; the tag (`latest`) still
    // points at the previous build until our push becomes visible.
    let registry = Registry::start(Auth::Anonymous);
    registry.push("single", "team/app:latest", &[]);
    registry.push("multi", "team/app:next", &["--all", "--preserve-digests"]);
    let previous = registry.skopeo_digest("team/app:latest");
    let ours = registry.skopeo_digest("team/app:next");
    let reference = format!("{}/team/app:latest", registry.addr);
    let mut options = options(&registry.insecure(), Credentials::default());

    // Not waiting: the mismatch at once, with both ways out.
    let err = resolve(&options, std::slice::from_ref(&reference), &[], Some(&ours)).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{reference} resolves to {previous}, but the expected digest is {ours}")
    );
    assert_eq!(
        err.hint().unwrap(),
        format!(
            "the tag points at another build than this one's push: if this push is not visible in the registry yet, set `wait` (e.g. 2m) and the tag is polled until it points here; if a newer build has moved the tag since, a moving tag cannot name this build: bump by digest instead (`{}/team/app@{ours}`)",
            registry.addr
        )
    );

    // Waiting while the push lands: the tag is polled until it is ours.
    options.wait = Duration::from_secs(60);
    let resolved = std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(1500));
            registry.push("multi", "team/app:latest", &["--all", "--preserve-digests"]);
        });
        resolve(&options, std::slice::from_ref(&reference), &[], Some(&ours))
    })
    .unwrap();
    assert_eq!(resolved[0].digest, ours);
}

#[test]
fn plain_http_is_used_only_for_listed_registries() {
    let registry = Registry::start(Auth::Anonymous);
    registry.push("single", "team/app:v1", &[]);
    let reference = format!("{}/team/app:v1", registry.addr);
    let cases = [
        (vec![], false),
        (vec!["127.0.0.1:1".to_string()], false),
        (vec![registry.addr.clone()], true),
        (vec![format!("http://{}", registry.addr)], true),
    ];
    for (insecure, allowed) in cases {
        let mut options = options("", Credentials::default());
        options.insecure_registries = insecure.clone();
        match (
            resolve(&options, std::slice::from_ref(&reference), &[], None),
            allowed,
        ) {
            (Ok(_), true) => {}
            (Err(e @ RegistryError::PlainHttpOnly { .. }), false) => {
                assert!(
                    e.hint()
                        .unwrap()
                        .contains(&format!("insecure-registries: {}", registry.addr)),
                    "{e}"
                );
            }
            (got, _) => panic!("{insecure:?}: {got:?}"),
        }
    }
}

#[test]
fn silent_and_closed_servers_are_timeout_and_unreachable() {
    // A listener that never answers: connections complete in the backlog.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_addr = silent.local_addr().unwrap().to_string();
    // A port nothing listens on.
    let closed_addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let cases = [
        (&silent_addr, "timeout: registry"),
        (&closed_addr, "is unreachable at http://"),
    ];
    for (addr, want) in cases {
        let mut options = options(addr, Credentials::default());
        options.request_timeout = Duration::from_millis(300);
        let err = resolve(&options, &[format!("{addr}/team/app:v1")], &[], None).unwrap_err();
        assert!(err.to_string().contains(want), "{addr}: {err}");
        assert!(
            err.to_string().contains("after 4 attempt(s)")
                || err.to_string().contains("(4 attempt(s))"),
            "{err}"
        );
    }
}

mod cli {
    use super::*;
    use assert_cmd::Command;
    use base64::Engine;

    fn gitops_bump(docker_config: &std::path::Path) -> Command {
        let mut c = Command::cargo_bin("gitops-bump").unwrap();
        c.env("DOCKER_CONFIG", docker_config)
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITOPS_BUMP_LOG");
        c
    }

    fn write_docker_config(dir: &std::path::Path, key: &str, auth: &str) {
        std::fs::write(
            dir.join("config.json"),
            format!(r#"{{"auths":{{"{key}":{{"auth":"{auth}"}}}}}}"#),
        )
        .unwrap();
    }

    #[test]
    fn resolve_prints_pinned_references_and_json_using_docker_config_credentials() {
        let registry = Registry::start(Auth::Token);
        push_all_formats(&registry);
        let config = tempfile::tempdir().unwrap();
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
        let single = registry.skopeo_digest("team/app:v1");
        let multi = registry.skopeo_digest("team/app:v2-multi");
        for key in [registry.addr.clone(), format!("http://{}", registry.addr)] {
            write_docker_config(config.path(), &key, &auth);
            let out = gitops_bump(config.path())
                .args(["resolve", "--insecure-registry", &registry.addr])
                .args(["--insecure-registry", registry.token_addr.as_ref().unwrap()])
                .arg(format!("{}/team/app:v1", registry.addr))
                .arg(format!("{}/team/app:v2-multi", registry.addr))
                .assert()
                .success();
            let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
            assert_eq!(
                stdout,
                format!(
                    "{a}/team/app:v1@{single}\n{a}/team/app:v2-multi@{multi}\n",
                    a = registry.addr
                ),
                "{key}"
            );
        }
        let out = gitops_bump(config.path())
            .args([
                "resolve",
                "--json",
                "--platform",
                "linux/arm64",
                "--insecure-registry",
                &registry.addr,
                "--insecure-registry",
                registry.token_addr.as_ref().unwrap(),
            ])
            .arg(format!("{}/team/app:v2-multi", registry.addr))
            .assert()
            .success();
        let json: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "registry": registry.addr, "repository": "team/app", "tag": "v2-multi",
                "digest": multi, "media_type": OCI_INDEX,
                "platforms": ["linux/amd64", "linux/arm64"],
            })
        );
    }

    #[test]
    fn resolve_takes_credentials_from_the_action_inputs_before_docker_config() {
        let registry = Registry::start(Auth::Htpasswd);
        registry.push("single", "team/app:v1", &[]);
        let config = tempfile::tempdir().unwrap();
        // A stale Docker login that must not be used when inputs are given.
        write_docker_config(config.path(), &registry.addr, "dGVzdHVzZXI6c3RhbGU="); // testuser:stale
        let reference = format!("{}/team/app:v1", registry.addr);
        let cases = [
            (Some(PASSWORD), 0, "".to_string()),
            (
                Some("wrong"),
                1,
                "`registry-username`/`registry-password` inputs".to_string(),
            ),
            (
                None,
                1,
                format!(
                    "the Docker config file {}",
                    config.path().join("config.json").display()
                ),
            ),
        ];
        for (password, code, stderr_part) in cases {
            let mut command = gitops_bump(config.path());
            if let Some(password) = password {
                command
                    .env("INPUT_REGISTRY-USERNAME", USER)
                    .env("INPUT_REGISTRY-PASSWORD", password);
            }
            let out = command
                .args(["resolve", "--insecure-registry", &registry.addr, &reference])
                .assert()
                .code(code);
            let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
            assert!(stderr.contains(&stderr_part), "{password:?}: {stderr}");
        }
    }

    /// A Docker login (or none) and `resolve` arguments, with the exit code
    /// and what stderr must hold.
    struct FailureCase<'a> {
        what: &'static str,
        /// The `auth` of the Docker config, if it has one.
        docker_auth: Option<&'a str>,
        args: Vec<String>,
        code: i32,
        parts: Vec<String>,
    }

    impl Case for FailureCase<'_> {
        fn name(&self) -> String {
            self.what.to_string()
        }
    }

    #[test]
    fn resolve_failures_exit_1_with_error_and_hint_and_never_log_secrets() {
        let registry = Registry::start(Auth::Token);
        registry.push("single", "team/app:v1", &[]);
        let config = tempfile::tempdir().unwrap();
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
        let a = registry.addr.clone();
        let cases = [
            FailureCase {
                what: "a found image, verbose",
                docker_auth: Some(&auth),
                args: vec!["-vv".into(), format!("{a}/team/app:v1")],
                code: 0,
                parts: vec!["obtained a registry token".into()],
            },
            FailureCase {
                what: "a missing tag",
                docker_auth: Some(&auth),
                args: vec![format!("{a}/team/app:nope")],
                code: 1,
                parts: vec![
                    format!("error: {a}/team/app:nope: not found: tag \"nope\""),
                    "hint: ".into(),
                ],
            },
            FailureCase {
                what: "a missing platform",
                docker_auth: Some(&auth),
                args: vec![
                    "--platform".into(),
                    "linux/riscv64".into(),
                    format!("{a}/team/app:v1"),
                ],
                code: 1,
                parts: vec!["lacks platform(s) linux/riscv64; it provides linux/amd64".into()],
            },
            FailureCase {
                what: "a wrong Docker login",
                docker_auth: Some("dGVzdHVzZXI6d3Jvbmc="), // testuser:wrong
                args: vec![format!("{a}/team/app:v1")],
                code: 1,
                parts: vec![
                    "unauthorized".into(),
                    "the Docker config file".into(),
                    "repository:team/app:pull".into(),
                ],
            },
            FailureCase {
                what: "plain HTTP not allowed",
                docker_auth: None,
                args: vec![
                    "--insecure-registry".into(),
                    "127.0.0.1:1".into(),
                    format!("{a}/team/app:v1"),
                ],
                code: 1,
                parts: vec![
                    "speaks plain HTTP only".into(),
                    format!(
                        "hint: if this registry is meant to be used over plain HTTP, add `insecure-registries: {a}`"
                    ),
                ],
            },
        ];
        check_cases(cases, |case| {
            let FailureCase {
                docker_auth,
                args,
                code,
                parts,
                ..
            } = case;
            match docker_auth {
                Some(docker_auth) => write_docker_config(config.path(), &a, docker_auth),
                None => std::fs::write(config.path().join("config.json"), "{}").unwrap(),
            }
            let insecure: Vec<String> = if args.iter().any(|x| x == "--insecure-registry") {
                vec![]
            } else {
                vec![
                    "--insecure-registry".into(),
                    a.clone(),
                    "--insecure-registry".into(),
                    registry.token_addr.clone().unwrap(),
                ]
            };
            let out = gitops_bump(config.path())
                .arg("resolve")
                .args(&insecure)
                .args(args)
                .assert()
                .code(*code);
            let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
            for part in parts {
                assert!(stderr.contains(part.as_str()), "{args:?}: {stderr}");
            }
            for secret in [PASSWORD, auth.as_str(), "eyJ"] {
                assert!(
                    !stderr.contains(secret),
                    "{args:?} leaked {secret:?}: {stderr}"
                );
            }
        });
    }
}
