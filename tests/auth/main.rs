//! Keyless auth end to end: `gitops-bump auth google` against a local
//! OIDC/STS/IAM Credentials server, and gcloud reading the credentials file
//! we write.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use test_support::action::hex;
use test_support::google::{
    FakeGoogle, IMPERSONATED_EXPIRY, IMPERSONATED_TOKEN, REQUEST_TOKEN, Route, STS_TOKEN,
};
use test_support::{Case, check_cases};

const PROVIDER: &str =
    "projects/123456/locations/global/workloadIdentityPools/gh-pool/providers/gh-prov";
const SA: &str = "deployer@proj.iam.gserviceaccount.com";
const CLOUD_PLATFORM: &str = "https://www.googleapis.com/auth/cloud-platform";

/// Variables the test process may inherit (e.g. when CI itself runs in
/// Actions) that would change what the binary does.
const INHERITED: &[&str] = &[
    "GITHUB_ACTIONS",
    "GITHUB_ENV",
    "GITHUB_STATE",
    "GITHUB_OUTPUT",
    "GITHUB_STEP_SUMMARY",
    "GITHUB_EVENT_NAME",
    "GITHUB_EVENT_PATH",
    "GITHUB_WORKSPACE",
    "RUNNER_TEMP",
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "GITOPS_BUMP_STS_URL",
    "GITOPS_BUMP_IAM_CREDENTIALS_URL",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE",
];

/// `gitops-bump` with a clean environment pointing at `server`.
fn gitops_bump(server: &FakeGoogle) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gitops-bump"));
    for k in INHERITED {
        cmd.env_remove(k);
    }
    for (k, _) in std::env::vars() {
        if k.starts_with("INPUT_") {
            cmd.env_remove(k);
        }
    }
    cmd.env(
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        server.url("/oidc?api-version=2.0"),
    )
    .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", REQUEST_TOKEN)
    // The fake's tokens are for this repository.
    .env("GITHUB_REPOSITORY", "octo/app")
    .env("GITOPS_BUMP_STS_URL", server.url("/v1/token"))
    .env("GITOPS_BUMP_IAM_CREDENTIALS_URL", server.url("/v1"));
    cmd
}

struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(mut cmd: Command) -> Ran {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("run gitops-bump");
    Ran {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

fn auth_google(server: &FakeGoogle, args: &[&str]) -> Ran {
    let mut cmd = gitops_bump(server);
    cmd.args(["auth", "google", "--workload-identity-provider", PROVIDER])
        .args(args);
    run(cmd)
}

/// No token this server issued may appear in what we print.
fn assert_no_secrets(server: &FakeGoogle, ran: &Ran) {
    for secret in server.issued_secrets() {
        assert!(
            !ran.stdout.contains(&secret) && !ran.stderr.contains(&secret),
            "secret {secret:.20}… leaked:\n{}\n{}",
            ran.stdout,
            ran.stderr
        );
    }
}

fn form_keys(form: &[(String, String)]) -> Vec<&str> {
    form.iter().map(|(k, _)| k.as_str()).collect()
}

fn field<'a>(form: &'a [(String, String)], key: &str) -> &'a str {
    form.iter()
        .find(|(k, _)| k == key)
        .map_or("", |(_, v)| v.as_str())
}

#[test]
fn direct_federation_sends_exactly_the_reference_requests() {
    let server = FakeGoogle::start();
    let ran = auth_google(&server, &["--json"]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_no_secrets(&server, &ran);

    let oidc = server.requests_to(Route::Oidc);
    assert_eq!(oidc.len(), 1);
    assert_eq!(oidc[0].method, "GET");
    assert_eq!(
        oidc[0].query(),
        vec![
            ("api-version".to_string(), "2.0".to_string()),
            (
                "audience".to_string(),
                format!("https://iam.googleapis.com/{PROVIDER}")
            ),
        ]
    );
    assert_eq!(
        oidc[0].header("authorization"),
        Some(format!("Bearer {REQUEST_TOKEN}").as_str())
    );

    let sts = server.requests_to(Route::Sts);
    assert_eq!(sts.len(), 1);
    assert_eq!(
        sts[0].header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        sts[0].header("authorization"),
        None,
        "no client auth at STS"
    );
    let form = sts[0].form();
    assert_eq!(
        form_keys(&form),
        [
            "grant_type",
            "audience",
            "scope",
            "requested_token_type",
            "subject_token",
            "subject_token_type"
        ]
    );
    assert_eq!(
        field(&form, "grant_type"),
        "urn:ietf:params:oauth:grant-type:token-exchange"
    );
    assert_eq!(
        field(&form, "audience"),
        format!("//iam.googleapis.com/{PROVIDER}")
    );
    assert_eq!(field(&form, "scope"), CLOUD_PLATFORM);
    assert_eq!(
        field(&form, "requested_token_type"),
        "urn:ietf:params:oauth:token-type:access_token"
    );
    assert_eq!(
        field(&form, "subject_token_type"),
        "urn:ietf:params:oauth:token-type:jwt"
    );
    assert_eq!(field(&form, "subject_token").split('.').count(), 3);
    assert!(server.requests_to(Route::GenerateAccessToken).is_empty());

    let summary: Value = serde_json::from_str(ran.stdout.trim()).expect("JSON summary");
    assert_eq!(summary["provider"], PROVIDER);
    assert_eq!(summary["service_account"], Value::Null);
    assert_eq!(summary["claims"]["repository"], "octo/app");
    assert_eq!(summary["claims"]["ref"], "refs/heads/main");
    let expiry = summary["expire_time"].as_str().expect("expiry");
    assert!(expiry.ends_with('Z') && expiry.len() == 20, "{expiry}");
}

/// google-github-actions/auth asks STS for cloud-platform whatever the
/// scopes, and generates an `access_token` only for a service account.
#[test]
fn direct_federation_matches_the_reference_on_scopes_and_token_format() {
    let server = FakeGoogle::start();
    let ran = auth_google(
        &server,
        &[
            "--access-token-scopes",
            "https://www.googleapis.com/auth/userinfo.email",
        ],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let sts = server.requests_to(Route::Sts);
    assert_eq!(field(&sts[0].form(), "scope"), CLOUD_PLATFORM);

    let server = FakeGoogle::start();
    let ran = auth_google(&server, &["--token-format", "access_token"]);
    assert_eq!(ran.code, 2, "a usage error: {}", ran.stderr);
    assert!(
        ran.stderr
            .contains("input `service-account` is required: `token-format: access_token`"),
        "{}",
        ran.stderr
    );
    assert!(server.requests().is_empty(), "refused before any request");
}

#[test]
fn impersonation_posts_scopes_lifetime_and_the_federated_bearer() {
    let server = FakeGoogle::start();
    let ran = auth_google(
        &server,
        &[
            "--service-account",
            SA,
            "--access-token-lifetime",
            "10m",
            "--access-token-scopes",
            "https://www.googleapis.com/auth/cloud-platform,https://www.googleapis.com/auth/userinfo.email",
            "--json",
        ],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_no_secrets(&server, &ran);
    let sts = server.requests_to(Route::Sts);
    assert_eq!(field(&sts[0].form(), "scope"), CLOUD_PLATFORM);
    let gen_req = server.requests_to(Route::GenerateAccessToken);
    assert_eq!(gen_req.len(), 1);
    assert_eq!(
        gen_req[0].path,
        format!("/v1/projects/-/serviceAccounts/{SA}:generateAccessToken")
    );
    assert_eq!(
        gen_req[0].header("authorization"),
        Some(format!("Bearer {STS_TOKEN}").as_str())
    );
    assert_eq!(gen_req[0].header("content-type"), Some("application/json"));
    assert_eq!(
        gen_req[0].json(),
        json!({
            "scope": [CLOUD_PLATFORM, "https://www.googleapis.com/auth/userinfo.email"],
            "lifetime": "600s"
        })
    );
    let summary: Value = serde_json::from_str(ran.stdout.trim()).unwrap();
    assert_eq!(summary["expire_time"], IMPERSONATED_EXPIRY);
    assert_eq!(summary["service_account"], SA);
    assert!(!ran.stderr.contains("org policy"), "{}", ran.stderr);
}

struct AudienceCase {
    args: &'static [&'static str],
    /// The OIDC audience requested starts with this.
    audience: &'static str,
    /// The lifetime asked of generateAccessToken, when it is called.
    lifetime: Option<&'static str>,
    /// Stderr must contain this.
    note: &'static str,
}

impl Case for AudienceCase {
    fn name(&self) -> String {
        format!("{:?}", self.args)
    }
}

#[test]
fn audience_and_lifetime_inputs_change_what_is_sent() {
    let cases = [
        AudienceCase {
            args: &[],
            audience: "https://iam.googleapis.com/",
            lifetime: None,
            note: "",
        },
        AudienceCase {
            args: &["--audience", "my-aud"],
            audience: "my-aud",
            lifetime: None,
            note: "",
        },
        AudienceCase {
            args: &["--service-account", SA, "--access-token-lifetime", "2h"],
            audience: "https://iam.googleapis.com/",
            lifetime: Some("7200s"),
            note: "constraints/iam.allowServiceAccountCredentialLifetimeExtension",
        },
    ];
    check_cases(cases, |case| {
        let AudienceCase {
            args,
            audience,
            lifetime,
            note,
        } = case;
        let server = FakeGoogle::start();
        let ran = auth_google(&server, args);
        assert_eq!(ran.code, 0, "{args:?}: {}", ran.stderr);
        let q = server.requests_to(Route::Oidc)[0].query();
        let sent = &q.iter().find(|(k, _)| k == "audience").unwrap().1;
        assert!(sent.starts_with(audience), "{args:?}: {sent}");
        let sts_aud = field(&server.requests_to(Route::Sts)[0].form(), "audience").to_string();
        assert_eq!(sts_aud, format!("//iam.googleapis.com/{PROVIDER}"));
        let gen_req = server.requests_to(Route::GenerateAccessToken);
        assert_eq!(
            gen_req.first().map(|r| r.json()["lifetime"].clone()),
            lifetime.map(|l| json!(l)),
            "{args:?}"
        );
        assert!(ran.stderr.contains(note), "{args:?}: {}", ran.stderr);
        assert!(
            ran.stdout.contains("access token:      ***"),
            "{}",
            ran.stdout
        );
        assert_no_secrets(&server, &ran);
    });
}

/// A Google error body as Google sends it, and what the user must see.
struct StsErrorCase {
    what: &'static str,
    status: u16,
    body: &'static str,
    /// Stderr must contain each of these.
    shown: &'static [&'static str],
}

impl Case for StsErrorCase {
    fn name(&self) -> String {
        self.what.to_string()
    }
}

#[test]
fn sts_errors_become_actionable_messages() {
    let cases = [
        StsErrorCase {
            what: "audience mismatch",
            status: 400,
            body: r#"{"error":"invalid_grant","error_description":"The audience in ID Token [https://iam.googleapis.com/projects/123456/locations/global/workloadIdentityPools/gh-pool/providers/gh-prov] does not match the expected audience."}"#,
            shown: &[
                "The audience in ID Token [https://iam.googleapis.com/projects/123456",
                "HTTP 400, invalid_grant",
                "allowed audiences",
            ],
        },
        StsErrorCase {
            what: "pool or provider missing",
            status: 400,
            body: r#"{"error":"invalid_target","error_description":"The target service indicated by the \"audience\" parameters is invalid. This might either be because the pool or provider is disabled or deleted or because it doesn't exist."}"#,
            shown: &[
                "The target service indicated by the \"audience\" parameters is invalid",
                "pool `gh-pool` or provider `gh-prov` does not exist in project 123456",
                "providers describe gh-prov --workload-identity-pool=gh-pool",
            ],
        },
        StsErrorCase {
            what: "attribute condition",
            status: 400,
            body: r#"{"error":"unauthorized_client","error_description":"The given credential is rejected by the attribute condition."}"#,
            shown: &[
                "The given credential is rejected by the attribute condition.",
                "repository=octo/app ref=refs/heads/main environment=(none) event_name=push sub=repo:octo/app:ref:refs/heads/main",
                "attributeCondition",
            ],
        },
        StsErrorCase {
            what: "subject too long",
            status: 400,
            body: r#"{"error":"invalid_request","error_description":"The size of mapped attribute google.subject exceeds the 127 bytes limit. Either modify your attribute mapping or the incoming assertion to produce a mapped attribute that is less than 127 bytes."}"#,
            shown: &[
                "exceeds the 127 bytes limit",
                "Map `google.subject` to a shorter claim",
            ],
        },
        StsErrorCase {
            what: "issuer mismatch",
            status: 400,
            body: r#"{"error":"invalid_grant","error_description":"The issuer in ID Token https://ghe.example/_services/token does not match the expected ones: https://token.actions.githubusercontent.com/"}"#,
            shown: &[
                "The issuer in ID Token",
                "https://token.actions.githubusercontent.com",
            ],
        },
        StsErrorCase {
            what: "audience not a resource name",
            status: 400,
            body: r#"{"error":"invalid_request","error_description":"Invalid value for \"audience\". This value should be the full resource name of the Identity Provider."}"#,
            shown: &[
                "Invalid value for \"audience\"",
                "STS expects the audience `//iam.googleapis.com/projects/123456",
            ],
        },
        StsErrorCase {
            what: "not JSON",
            status: 401,
            body: "<html>not json</html>",
            shown: &["HTTP 401", "<html>not json</html>"],
        },
    ];
    check_cases(cases, |case| {
        let StsErrorCase {
            status,
            body,
            shown: wants,
            ..
        } = case;
        let server = FakeGoogle::start();
        server.script(Route::Sts, *status, *body);
        let ran = auth_google(&server, &["--service-account", SA]);
        assert_eq!(ran.code, 1, "{body}");
        for want in *wants {
            assert!(
                ran.stderr.contains(want),
                "missing {want:?} in:\n{}",
                ran.stderr
            );
        }
        assert!(
            server.requests_to(Route::GenerateAccessToken).is_empty(),
            "no impersonation after a failed exchange"
        );
        assert_eq!(
            server.requests_to(Route::Sts).len(),
            1,
            "4xx is not retried"
        );
        assert_no_secrets(&server, &ran);
    });
}

#[test]
fn an_overlong_subject_is_measured_in_the_hint() {
    let server = FakeGoogle::start();
    let sub = format!("repo:octo/app:ref:refs/heads/{}", "feature-".repeat(15));
    server.set_claims(json!({ "sub": sub }));
    server.script(
        Route::Sts,
        400,
        r#"{"error":"invalid_request","error_description":"The size of mapped attribute google.subject exceeds the 127 bytes limit. Either modify your attribute mapping or the incoming assertion to produce a mapped attribute that is less than 127 bytes."}"#,
    );
    let ran = auth_google(&server, &[]);
    assert_eq!(ran.code, 1);
    let want = format!("the token's `sub` is {} bytes (`{sub}`)", sub.len());
    assert!(
        sub.len() > 127 && ran.stderr.contains(&want),
        "{}",
        ran.stderr
    );
}

/// STS answers queued before the normal ones, and what the run does.
struct RetryCase {
    /// How many answers STS gives before it answers normally.
    queued: usize,
    code: i32,
    /// OIDC token fetches.
    fetches: usize,
    /// STS calls.
    exchanges: usize,
}

impl Case for RetryCase {
    fn name(&self) -> String {
        format!("{} queued", self.queued)
    }
}

#[test]
fn a_stale_token_is_replaced_once_then_reported() {
    let stale = r#"{"error":"invalid_grant","error_description":"ID Token issued at 1713260741 is stale to sign-in."}"#;
    let cases = [
        RetryCase {
            queued: 1,
            code: 0,
            fetches: 2,
            exchanges: 2,
        },
        RetryCase {
            queued: 2,
            code: 1,
            fetches: 2,
            exchanges: 2,
        },
    ];
    check_cases(cases, |case| {
        let &RetryCase {
            queued: stale_answers,
            code,
            fetches,
            exchanges,
        } = case;
        let server = FakeGoogle::start();
        for _ in 0..stale_answers {
            server.script(Route::Sts, 400, stale);
        }
        let ran = auth_google(&server, &[]);
        assert_eq!(ran.code, code, "{}", ran.stderr);
        assert_eq!(server.requests_to(Route::Oidc).len(), fetches);
        let sts = server.requests_to(Route::Sts);
        assert_eq!(sts.len(), exchanges);
        assert_ne!(
            field(&sts[0].form(), "subject_token"),
            field(&sts[1].form(), "subject_token"),
            "the retry must use a fresh token"
        );
        if code != 0 {
            assert!(ran.stderr.contains("is stale to sign-in"), "{}", ran.stderr);
            assert!(ran.stderr.contains("NTP"), "{}", ran.stderr);
        }
        assert_no_secrets(&server, &ran);
    });
}

struct ServerErrorCase {
    /// 503 answers queued at STS.
    failures: usize,
    code: i32,
    /// STS calls.
    calls: usize,
}

impl Case for ServerErrorCase {
    fn name(&self) -> String {
        format!("{} failures", self.failures)
    }
}

#[test]
fn server_errors_are_retried_a_bounded_number_of_times() {
    let cases = [
        ServerErrorCase {
            failures: 1,
            code: 0,
            calls: 2,
        },
        ServerErrorCase {
            failures: 2,
            code: 0,
            calls: 3,
        },
        ServerErrorCase {
            failures: 3,
            code: 1,
            calls: 3,
        },
    ];
    check_cases(cases, |case| {
        let &ServerErrorCase {
            failures,
            code,
            calls,
        } = case;
        let server = FakeGoogle::start();
        for _ in 0..failures {
            server.script(Route::Sts, 503, r#"{"error":"unavailable"}"#);
        }
        let ran = auth_google(&server, &[]);
        assert_eq!(ran.code, code, "{}", ran.stderr);
        assert_eq!(server.requests_to(Route::Sts).len(), calls);
    });
}

/// An IAM Credentials error body, and what the user must see.
struct ImpersonationErrorCase {
    what: &'static str,
    status: u16,
    body: &'static str,
    /// Arguments after `--service-account SA`.
    extra: &'static [&'static str],
    /// Stderr must contain each of these.
    shown: &'static [&'static str],
}

impl Case for ImpersonationErrorCase {
    fn name(&self) -> String {
        self.what.to_string()
    }
}

#[test]
fn impersonation_errors_name_the_missing_binding() {
    let denied = r#"{"error":{"code":403,"message":"Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).","status":"PERMISSION_DENIED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"IAM_PERMISSION_DENIED","domain":"iam.googleapis.com","metadata":{"permission":"iam.serviceAccounts.getAccessToken"}}]}}"#;
    let not_found = r#"{"error":{"code":404,"message":"Not found; Gaia id not found for email deployer@proj.iam.gserviceaccount.com","status":"NOT_FOUND"}}"#;
    let lifetime = r#"{"error":{"code":400,"message":"Request contains an invalid argument.","status":"INVALID_ARGUMENT"}}"#;
    let skew = r#"{"error":{"code":400,"message":"The access token lifetime cannot exceed 3600 seconds.","status":"INVALID_ARGUMENT"}}"#;
    let cases = [
        ImpersonationErrorCase {
            what: "permission denied",
            status: 403,
            body: denied,
            extra: &[],
            shown: &[
                "Permission 'iam.serviceAccounts.getAccessToken' denied on resource",
                "HTTP 403 PERMISSION_DENIED",
                "roles/iam.workloadIdentityUser",
                "principalSet://iam.googleapis.com/projects/123456/locations/global/workloadIdentityPools/gh-pool/attribute.repository/octo/app",
                "This job's token presented sub=repo:octo/app:ref:refs/heads/main and repository=octo/app; a binding matches it only if its member is that subject",
            ],
        },
        ImpersonationErrorCase {
            what: "no such service account",
            status: 404,
            body: not_found,
            extra: &[],
            shown: &["Gaia id not found", "does not exist"],
        },
        ImpersonationErrorCase {
            what: "clock skew",
            status: 400,
            body: skew,
            extra: &[],
            shown: &[
                "The access token lifetime cannot exceed 3600 seconds.",
                "a lifetime of 3600s is within the 1h limit, so this is clock skew",
                "NTP",
                "set `--access-token-lifetime 3300s`",
            ],
        },
        ImpersonationErrorCase {
            what: "lifetime over the limit",
            status: 400,
            body: lifetime,
            extra: &["--access-token-lifetime", "3h"],
            shown: &[
                "Request contains an invalid argument.",
                "lower `access-token-lifetime` to 3600s",
            ],
        },
    ];
    check_cases(cases, |case| {
        let ImpersonationErrorCase {
            status,
            body,
            extra,
            shown: wants,
            ..
        } = case;
        let server = FakeGoogle::start();
        server.script(Route::GenerateAccessToken, *status, *body);
        let mut args = vec!["--service-account", SA];
        args.extend_from_slice(extra);
        let ran = auth_google(&server, &args);
        assert_eq!(ran.code, 1);
        for want in *wants {
            assert!(
                ran.stderr.contains(want),
                "missing {want:?} in:\n{}",
                ran.stderr
            );
        }
        assert_no_secrets(&server, &ran);
    });
}

#[test]
fn bad_provider_names_fail_before_any_request() {
    let cases = [
        (
            format!("https://iam.googleapis.com/{PROVIDER}"),
            "remove the `https://iam.googleapis.com/` prefix",
        ),
        (
            "projects/my-project/locations/global/workloadIdentityPools/p/providers/q".into(),
            "use the project NUMBER",
        ),
        (
            "projects/123456/locations/global/workloadIdentityPools/gh-pool".into(),
            "this names a pool, not a provider",
        ),
        (
            "projects/123456/locations/europe-west1/workloadIdentityPools/p/providers/q".into(),
            "location is `europe-west1`",
        ),
    ];
    for (provider, want) in cases {
        let server = FakeGoogle::start();
        let mut cmd = gitops_bump(&server);
        cmd.args(["auth", "google", "--workload-identity-provider", &provider]);
        let ran = run(cmd);
        assert_eq!(ran.code, 2, "{provider}: a usage error");
        assert!(ran.stderr.contains(want), "{provider}: {}", ran.stderr);
        assert!(ran.stderr.contains("input `workload-identity-provider`"));
        assert!(
            server.requests().is_empty(),
            "{provider}: no request may be sent"
        );
    }
}

#[test]
fn missing_oidc_permission_is_explained() {
    let server = FakeGoogle::start();
    for missing in [
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    ] {
        let mut cmd = gitops_bump(&server);
        cmd.env_remove(missing)
            .args(["auth", "google", "--workload-identity-provider", PROVIDER]);
        let ran = run(cmd);
        assert_eq!(ran.code, 1);
        assert!(ran.stderr.contains(missing), "{}", ran.stderr);
        assert!(
            ran.stderr.contains("permissions: id-token: write"),
            "{}",
            ran.stderr
        );
        assert!(ran.stderr.contains("contents: write"), "{}", ran.stderr);
    }
    assert!(server.requests().is_empty());
}

#[test]
fn inside_actions_tokens_appear_only_in_mask_commands() {
    let server = FakeGoogle::start();
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("output");
    let mut cmd = gitops_bump(&server);
    cmd.env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &output)
        .args(["auth", "google", "--workload-identity-provider", PROVIDER])
        .args(["--service-account", SA, "--token-format", "access_token"]);
    let ran = run(cmd);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let masks: Vec<&str> = ran
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("::add-mask::"))
        .collect();
    for secret in [REQUEST_TOKEN, STS_TOKEN, IMPERSONATED_TOKEN] {
        assert!(masks.contains(&secret), "{secret} not masked: {masks:?}");
    }
    let jwt = field(&server.requests_to(Route::Sts)[0].form(), "subject_token").to_string();
    assert!(masks.contains(&jwt.as_str()), "the OIDC JWT is masked too");
    let unmasked: String = ran
        .stdout
        .lines()
        .filter(|l| !l.starts_with("::add-mask::"))
        .collect::<Vec<_>>()
        .join("\n");
    for secret in server.issued_secrets() {
        assert!(!unmasked.contains(&secret) && !ran.stderr.contains(&secret));
    }
    let written = std::fs::read_to_string(&output).unwrap();
    let entries = gitops_bump::actions::files::parse_delimited(&written);
    assert_eq!(
        entries,
        vec![
            ("access-token".to_string(), IMPERSONATED_TOKEN.to_string()),
            ("project-id".to_string(), "proj".to_string()),
        ]
    );
}

/// A `GITHUB_ENV`/`GITHUB_STATE`/`RUNNER_TEMP` layout like a runner's.
struct Runner {
    _root: tempfile::TempDir,
    temp: PathBuf,
    workspace: PathBuf,
    env_file: PathBuf,
    state_file: PathBuf,
}

impl Runner {
    fn new() -> Runner {
        let root = tempfile::tempdir().unwrap();
        let temp = root.path().join("_temp");
        let workspace = root.path().join("repo");
        std::fs::create_dir_all(&temp).unwrap();
        std::fs::create_dir_all(&workspace).unwrap();
        Runner {
            env_file: temp.join("env"),
            state_file: temp.join("state"),
            temp,
            workspace,
            _root: root,
        }
    }

    fn apply(&self, cmd: &mut Command) {
        cmd.env("RUNNER_TEMP", &self.temp)
            .env("GITHUB_WORKSPACE", &self.workspace)
            .env("GITHUB_ENV", &self.env_file)
            .env("GITHUB_STATE", &self.state_file)
            .current_dir(&self.workspace);
    }

    /// The action's `post:` step, given `state` as the runner passes it.
    fn post_step(&self, state: &[(String, String)]) -> Output {
        Command::new("node")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("dist/post.js"))
            .env("RUNNER_TEMP", &self.temp)
            .envs(state.iter().map(|(k, v)| (format!("STATE_{k}"), v)))
            .output()
            .expect("run node")
    }
}

fn create_credentials_file(server: &FakeGoogle, runner: &Runner, sa: Option<&str>) -> PathBuf {
    let mut cmd = gitops_bump(server);
    runner.apply(&mut cmd);
    cmd.args(["auth", "google", "--workload-identity-provider", PROVIDER])
        .args(["--create-credentials-file", "true", "--json"]);
    if let Some(sa) = sa {
        cmd.args(["--service-account", sa]);
    }
    let ran = run(cmd);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_no_secrets(server, &ran);
    let summary: Value = serde_json::from_str(ran.stdout.trim()).unwrap();
    PathBuf::from(summary["credentials_file"].as_str().expect("a file path"))
}

#[test]
fn the_credentials_file_is_private_exported_and_recorded_for_cleanup() {
    for sa in [None, Some(SA)] {
        let server = FakeGoogle::start();
        let runner = Runner::new();
        let path = create_credentials_file(&server, &runner, sa);
        assert_eq!(path.parent().unwrap(), runner.temp.canonicalize().unwrap());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let file: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let mut want = json!({
            "type": "external_account",
            "audience": format!("//iam.googleapis.com/{PROVIDER}"),
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
            "token_url": server.url("/v1/token"),
            "token_info_url": server.url("/v1/introspect"),
            "credential_source": {
                "url": format!(
                    "{}&audience=https%3A%2F%2Fiam.googleapis.com%2Fprojects%2F123456%2Flocations%2Fglobal%2FworkloadIdentityPools%2Fgh-pool%2Fproviders%2Fgh-prov",
                    server.url("/oidc?api-version=2.0")
                ),
                "headers": {"Authorization": format!("Bearer {REQUEST_TOKEN}")},
                "format": {"type": "json", "subject_token_field_name": "value"}
            }
        });
        if let Some(sa) = sa {
            want["service_account_impersonation_url"] = json!(server.url(&format!(
                "/v1/projects/-/serviceAccounts/{sa}:generateAccessToken"
            )));
        }
        assert_eq!(file, want);

        let env = gitops_bump::actions::files::parse_delimited(
            &std::fs::read_to_string(&runner.env_file).unwrap(),
        );
        let p = path.display().to_string();
        let mut want_env = vec![
            ("GOOGLE_APPLICATION_CREDENTIALS".to_string(), p.clone()),
            (
                "CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE".to_string(),
                p.clone(),
            ),
            ("GOOGLE_GHA_CREDS_PATH".to_string(), p.clone()),
        ];
        if sa.is_some() {
            for k in PROJECT_VARIABLES {
                want_env.push((k.to_string(), "proj".to_string()));
            }
        }
        assert_eq!(env, want_env);
        let state = gitops_bump::actions::files::parse_delimited(
            &std::fs::read_to_string(&runner.state_file).unwrap(),
        );
        let digest = hex(&Sha256::digest(std::fs::read(&path).unwrap()));
        assert_eq!(
            state,
            vec![
                ("credentials-file".to_string(), p),
                ("credentials-file-sha256".to_string(), digest),
            ]
        );
        // The action's post step, given this state as the runner passes it,
        // proves the file ours and removes it.
        let post = runner.post_step(&state);
        assert!(
            post.status.success() && !path.exists(),
            "{}",
            String::from_utf8_lossy(&post.stdout)
        );
    }
}

#[test]
fn runner_temp_inside_the_workspace_is_refused_and_nothing_is_written() {
    let server = FakeGoogle::start();
    let runner = Runner::new();
    let inside = runner.workspace.join("tmp");
    std::fs::create_dir_all(&inside).unwrap();
    let mut cmd = gitops_bump(&server);
    runner.apply(&mut cmd);
    cmd.env("RUNNER_TEMP", &inside)
        .args(["auth", "google", "--workload-identity-provider", PROVIDER])
        .args(["--create-credentials-file", "true"]);
    let ran = run(cmd);
    assert_eq!(ran.code, 1);
    assert!(
        ran.stderr.contains("is inside the workspace"),
        "{}",
        ran.stderr
    );
    assert_eq!(std::fs::read_dir(&inside).unwrap().count(), 0);
    assert!(!runner.env_file.exists() && !runner.state_file.exists());
}

/// gcloud as the reference client: it reads our credentials file, runs the
/// flow itself against the local server, and must print the token that
/// server issued. Its STS request is compared with ours.
#[test]
fn gcloud_uses_our_credentials_file() {
    let Ok(gcloud) = which("gcloud") else {
        panic!("gcloud is required for this test (Google Cloud SDK)");
    };
    // (service account, token gcloud must print)
    for (sa, want) in [(Some(SA), IMPERSONATED_TOKEN), (None, STS_TOKEN)] {
        let server = FakeGoogle::start();
        let runner = Runner::new();
        let path = create_credentials_file(&server, &runner, sa);
        let ours = server.requests_to(Route::Sts)[0].form();
        server.clear_log();

        let config = tempfile::tempdir().unwrap();
        let out = Command::new(&gcloud)
            .args(["auth", "print-access-token"])
            .env("CLOUDSDK_CONFIG", config.path())
            .env("CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE", &path)
            .env("CLOUDSDK_CORE_DISABLE_PROMPTS", "1")
            .env("CLOUDSDK_CORE_DISABLE_USAGE_REPORTING", "true")
            .env("CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK", "true")
            .env_remove("GOOGLE_APPLICATION_CREDENTIALS")
            .output()
            .expect("run gcloud");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{sa:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(stdout.trim(), want, "{sa:?}");

        let oidc = server.requests_to(Route::Oidc);
        assert_eq!(oidc.len(), 1, "gcloud fetched the OIDC token from our URL");
        let theirs = server.requests_to(Route::Sts)[0].form();
        assert_eq!(
            form_keys(&theirs),
            form_keys(&ours),
            "same fields, same order"
        );
        for key in [
            "grant_type",
            "audience",
            "requested_token_type",
            "subject_token_type",
        ] {
            assert_eq!(field(&theirs, key), field(&ours, key), "{key}");
        }
        if sa.is_some() {
            let gen_req = server.requests_to(Route::GenerateAccessToken);
            assert_eq!(
                gen_req[0].header("authorization"),
                Some(format!("Bearer {STS_TOKEN}").as_str())
            );
        }
    }
}

const PROJECT_VARIABLES: [&str; 5] = [
    "CLOUDSDK_CORE_PROJECT",
    "CLOUDSDK_PROJECT",
    "GCLOUD_PROJECT",
    "GCP_PROJECT",
    "GOOGLE_CLOUD_PROJECT",
];

/// What google-github-actions/auth (v2, `src/main.ts`) exports with its
/// defaults (`create_credentials_file: true`, `export_environment_variables:
/// true`) for the same inputs: the credentials file's three variables, and
/// the project's five when `project_id` is given or the service account's
/// email names one (`computeProjectID`). The file's path is `FILE`; the
/// output `project_id` is set when the project is known.
fn reference_environment(inputs: &[(&str, &str)]) -> (Vec<(String, String)>, Option<String>) {
    let get = |k: &str| {
        inputs
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
            .filter(|v| !v.is_empty())
    };
    let mut env = Vec::new();
    if get("create-credentials-file").as_deref() != Some("false") {
        for k in [
            "CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE",
            "GOOGLE_APPLICATION_CREDENTIALS",
            "GOOGLE_GHA_CREDS_PATH",
        ] {
            env.push((k.to_string(), "FILE".to_string()));
        }
    }
    let project = get("project-id").or_else(|| {
        let sa = get("service-account")?;
        let (_, domain) = sa.split_once('@')?;
        domain.split('.').next().map(str::to_string)
    });
    if let Some(p) = &project {
        for k in PROJECT_VARIABLES {
            env.push((k.to_string(), p.clone()));
        }
    }
    env.sort();
    (env, project)
}

/// Our step inside Actions exports what google-github-actions/auth exports
/// for the same inputs (the file's path differs: ours is in RUNNER_TEMP).
#[test]
fn the_exported_environment_matches_google_github_actions_auth() {
    let cases: &[&[(&str, &str)]] = &[
        &[("service-account", SA)],
        &[],
        &[("project-id", "my-proj")],
        &[("service-account", SA), ("project-id", "other-proj")],
        &[
            ("service-account", SA),
            ("create-credentials-file", "false"),
        ],
        &[("create-credentials-file", "false")],
    ];
    for inputs in cases {
        let server = FakeGoogle::start();
        let runner = Runner::new();
        let output = runner.temp.join("output");
        let mut cmd = gitops_bump(&server);
        runner.apply(&mut cmd);
        cmd.env("GITHUB_ACTIONS", "true")
            .env("GITHUB_OUTPUT", &output)
            .env("INPUT_WORKLOAD-IDENTITY-PROVIDER", PROVIDER)
            .args(["auth", "google"]);
        for (k, v) in *inputs {
            cmd.env(format!("INPUT_{}", k.to_uppercase()), v);
        }
        let ran = run(cmd);
        assert_eq!(ran.code, 0, "{inputs:?}: {}", ran.stderr);
        let read = |p: &Path| {
            gitops_bump::actions::files::parse_delimited(
                &std::fs::read_to_string(p).unwrap_or_default(),
            )
        };
        let mut ours: Vec<(String, String)> = read(&runner.env_file)
            .into_iter()
            .map(|(k, v)| {
                let file = Path::new(&v)
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("gitops-bump-creds-"));
                (k, if file { "FILE".to_string() } else { v })
            })
            .collect();
        ours.sort();
        let (want, project) = reference_environment(inputs);
        assert_eq!(ours, want, "{inputs:?}");
        let outputs = read(&output);
        let got = outputs
            .iter()
            .find(|(k, _)| k == "project-id")
            .map(|(_, v)| v.clone());
        assert_eq!(got, project, "{inputs:?}: project-id output");
        let unmasked = Ran {
            code: ran.code,
            stdout: ran
                .stdout
                .lines()
                .filter(|l| !l.starts_with("::add-mask::"))
                .collect::<Vec<_>>()
                .join("\n"),
            stderr: ran.stderr,
        };
        assert_no_secrets(&server, &unmasked);
    }
}

/// The step after ours: gcloud with no `--project` and no login of its own
/// lists instances of our project with the token from our credentials file,
/// against the local fake endpoints. Without our exports it cannot.
#[test]
fn gcloud_after_our_step_needs_no_project_flag() {
    let Ok(gcloud) = which("gcloud") else {
        panic!("gcloud is required for this test (Google Cloud SDK)");
    };
    let server = FakeGoogle::start();
    let runner = Runner::new();
    let mut cmd = gitops_bump(&server);
    runner.apply(&mut cmd);
    cmd.env("GITHUB_ACTIONS", "true")
        .args(["auth", "google", "--workload-identity-provider", PROVIDER])
        .args(["--service-account", SA]);
    let ran = run(cmd);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let exported = gitops_bump::actions::files::parse_delimited(
        &std::fs::read_to_string(&runner.env_file).unwrap(),
    );
    let config = tempfile::tempdir().unwrap();
    let gcloud_step = |env: &[(String, String)]| {
        let mut cmd = Command::new(&gcloud);
        cmd.args(["compute", "instances", "list", "--format=value(name)"])
            .env("CLOUDSDK_CONFIG", config.path())
            .env("CLOUDSDK_CORE_DISABLE_PROMPTS", "1")
            .env("CLOUDSDK_CORE_DISABLE_USAGE_REPORTING", "true")
            .env("CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK", "true")
            .env(
                "CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE",
                server.url("/compute/v1/"),
            );
        for k in INHERITED.iter().chain(PROJECT_VARIABLES.iter()) {
            cmd.env_remove(k);
        }
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        cmd.output().expect("run gcloud")
    };
    let without: Vec<(String, String)> = exported
        .iter()
        .filter(|(k, _)| !PROJECT_VARIABLES.contains(&k.as_str()))
        .cloned()
        .collect();
    let out = gcloud_step(&without);
    assert!(!out.status.success(), "no project, no listing");
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("required property [project] is not currently set"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    server.clear_log();
    let out = gcloud_step(&exported);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = server.requests_to(Route::Compute);
    assert_eq!(listed.len(), 1, "{:?}", server.requests());
    assert!(
        listed[0]
            .path
            .starts_with("/compute/v1/projects/proj/aggregated/instances"),
        "{}",
        listed[0].path
    );
    assert_eq!(
        listed[0].header("authorization"),
        Some(format!("Bearer {IMPERSONATED_TOKEN}").as_str())
    );
}

fn which(name: &str) -> Result<PathBuf, ()> {
    let path = std::env::var_os("PATH").ok_or(())?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or(())
}

fn event_file(dir: &Path, payload: &Value) -> PathBuf {
    let p = dir.join("event.json");
    std::fs::write(&p, payload.to_string()).unwrap();
    p
}

fn pr_payload(head: &str, fork: bool) -> Value {
    json!({
        "pull_request": {"head": {"repo": {"full_name": head, "fork": fork}}},
        "repository": {"full_name": "octo/app"}
    })
}

/// The fields of GitHub's `workflow_run` webhook payload the gate reads.
fn workflow_run_payload(trigger: &str, head: &str) -> Value {
    json!({
        "action": "completed",
        "workflow_run": {
            "event": trigger,
            "conclusion": "success",
            "head_branch": "main",
            "pull_requests": [],
            "head_repository": {"full_name": head, "fork": head != "octo/app"},
            "repository": {"full_name": "octo/app"}
        },
        "repository": {"full_name": "octo/app"}
    })
}

/// An event that starts the run, and whether `auth google` goes on.
struct EventCase {
    what: &'static str,
    event: &'static str,
    payload: Value,
    /// `allow-untrusted-events`.
    allow: &'static str,
    code: i32,
    /// Stderr must contain this.
    says: &'static str,
}

impl Case for EventCase {
    fn name(&self) -> String {
        self.what.to_string()
    }
}

#[test]
fn untrusted_events_are_refused_before_any_request() {
    let cases = vec![
        EventCase {
            what: "a push",
            event: "push",
            payload: json!({}),
            allow: "false",
            code: 0,
            says: "",
        },
        EventCase {
            what: "a pull request from a branch",
            event: "pull_request",
            payload: pr_payload("octo/app", false),
            allow: "false",
            code: 0,
            says: "",
        },
        EventCase {
            what: "a pull request from a fork",
            event: "pull_request",
            payload: pr_payload("mallory/app", true),
            allow: "false",
            code: 1,
            says: "from the fork `mallory/app`",
        },
        EventCase {
            what: "a review of a fork's pull request",
            event: "pull_request_review",
            payload: pr_payload("mallory/app", true),
            allow: "false",
            code: 1,
            says: "from the fork",
        },
        EventCase {
            what: "pull_request_target",
            event: "pull_request_target",
            payload: pr_payload("octo/app", false),
            allow: "false",
            code: 1,
            says: "`pull_request_target` runs with",
        },
        EventCase {
            what: "pull_request_target, allowed",
            event: "pull_request_target",
            payload: pr_payload("mallory/app", true),
            allow: "true",
            code: 0,
            says: "",
        },
        EventCase {
            what: "a pull request from a deleted fork",
            event: "pull_request",
            payload: json!({"pull_request": {"head": {"repo": null}}, "repository": {"full_name": "octo/app"}}),
            allow: "false",
            code: 1,
            says: "deleted fork",
        },
        EventCase {
            what: "workflow_run after a fork's pull request",
            event: "workflow_run",
            payload: workflow_run_payload("pull_request", "mallory/app"),
            allow: "false",
            code: 1,
            says: "error: refusing to use credentials or push on an untrusted event: `workflow_run` \
             after a `pull_request` run from the fork `mallory/app` into `octo/app`: that run \
             built code written by someone outside the repository, and its artifacts and outputs \
             are theirs",
        },
        EventCase {
            what: "workflow_run after a push",
            event: "workflow_run",
            payload: workflow_run_payload("push", "octo/app"),
            allow: "false",
            code: 0,
            says: "",
        },
        EventCase {
            what: "a comment on a pull request",
            event: "issue_comment",
            payload: json!({"issue": {"number": 3, "pull_request": {"url": "u"}}, "repository": {"full_name": "octo/app"}}),
            allow: "false",
            code: 1,
            says: "`issue_comment` on pull request #3: anyone may comment",
        },
        EventCase {
            what: "a comment on a pull request, allowed",
            event: "issue_comment",
            payload: json!({"issue": {"number": 3, "pull_request": {"url": "u"}}, "repository": {"full_name": "octo/app"}}),
            allow: "true",
            code: 0,
            says: "",
        },
    ];
    check_cases(cases, |case| {
        let EventCase {
            event,
            payload,
            allow,
            code,
            says: want,
            ..
        } = case;
        let server = FakeGoogle::start();
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = gitops_bump(&server);
        cmd.env("GITHUB_EVENT_NAME", event)
            .env("GITHUB_EVENT_PATH", event_file(dir.path(), payload))
            .args(["auth", "google", "--workload-identity-provider", PROVIDER])
            .args(["--allow-untrusted-events", allow]);
        let ran = run(cmd);
        assert_eq!(ran.code, *code, "{event} {payload}: {}", ran.stderr);
        assert!(ran.stderr.contains(want), "{event}: {}", ran.stderr);
        if *code != 0 {
            assert!(
                ran.stderr.contains(
                    "Do not start deploy.yml with `workflow_run`: a fork's pull request triggers \
                     it too, and its `branches:` filter matches the fork's branch name."
                ),
                "{}",
                ran.stderr
            );
            assert!(
                server.requests().is_empty(),
                "{event}: refused before any request"
            );
        }
    });
}

#[test]
fn require_environment_checks_the_oidc_claim() {
    // (environment claim, exit code, stderr must contain)
    let cases = [
        (Some("production"), 0, ""),
        (
            Some("staging"),
            1,
            "has environment `staging` (ref refs/heads/main, event push)",
        ),
        (Some("Production"), 1, "has environment `Production`"),
        (None, 1, "has environment (none)"),
    ];
    for (claim, code, want) in cases {
        let server = FakeGoogle::start();
        if let Some(e) = claim {
            server.set_claims(json!({"environment": e}));
        }
        let ran = auth_google(&server, &["--require-environment", "production", "--json"]);
        assert_eq!(ran.code, code, "{claim:?}: {}", ran.stderr);
        assert!(ran.stderr.contains(want), "{claim:?}: {}", ran.stderr);
        // One OIDC token serves both the gate and the exchange.
        assert_eq!(server.requests_to(Route::Oidc).len(), 1);
        if code == 0 {
            let summary: Value = serde_json::from_str(ran.stdout.trim()).unwrap();
            assert_eq!(summary["gates"]["environment"], "production");
            assert_eq!(server.requests_to(Route::Sts).len(), 1);
        } else {
            assert!(
                ran.stderr
                    .contains("add `environment: production` to the job")
            );
            assert!(
                server.requests_to(Route::Sts).is_empty(),
                "no exchange after a failed gate"
            );
        }
    }
}

/// The stage as the pipeline calls it, without Google: the environment gate
/// alone fetches an OIDC token for the `gitops-bump` audience, and the event
/// gate guards pushes even when no credentials are used.
/// What `run_stage` is given, and whether it lets the run go on.
struct GateCase {
    what: &'static str,
    inputs: &'static [(&'static str, &'static str)],
    event: &'static str,
    /// The `environment` claim of the job's OIDC token.
    environment: &'static str,
    ok: bool,
    /// The OIDC audience requested, if a token is requested.
    audience: Option<&'static str>,
}

impl Case for GateCase {
    fn name(&self) -> String {
        self.what.to_string()
    }
}

#[test]
fn the_stage_gates_pushes_without_google() {
    use gitops_bump::auth::{self, GateEnv, OidcRequest, StageEnv};
    use gitops_bump::config::{Config, RawInputs};
    use gitops_bump::secret::Secret;

    let cases = [
        GateCase {
            what: "the environment required, and the job's",
            inputs: &[("require-environment", "production")],
            event: "push",
            environment: "production",
            ok: true,
            audience: Some("gitops-bump"),
        },
        GateCase {
            what: "the environment required, not the job's",
            inputs: &[("require-environment", "production")],
            event: "push",
            environment: "dev",
            ok: false,
            audience: Some("gitops-bump"),
        },
        GateCase {
            what: "a push on pull_request_target",
            inputs: &[("mode", "push")],
            event: "pull_request_target",
            environment: "production",
            ok: false,
            audience: None,
        },
        GateCase {
            what: "no push on pull_request_target",
            inputs: &[("mode", "none")],
            event: "pull_request_target",
            environment: "production",
            ok: true,
            audience: None,
        },
        GateCase {
            what: "a dry run on pull_request_target",
            inputs: &[("mode", "push"), ("dry-run", "true")],
            event: "pull_request_target",
            environment: "production",
            ok: true,
            audience: None,
        },
        GateCase {
            what: "a push without a gate",
            inputs: &[("mode", "push")],
            event: "push",
            environment: "production",
            ok: true,
            audience: None,
        },
    ];
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    check_cases(cases, |case| {
        let &GateCase {
            inputs,
            event,
            environment,
            ok,
            audience,
            ..
        } = case;
        let server = FakeGoogle::start();
        server.set_claims(json!({ "environment": environment }));
        let mut raw = RawInputs::default();
        for (k, v) in inputs {
            raw.set(k, v.to_string());
        }
        let config = Config::for_auth(&raw).unwrap();
        let env = StageEnv {
            gate: GateEnv {
                event_name: Some(event.to_string()),
                event_path: None,
                event_payload: Some(Ok(pr_payload("octo/app", false))),
                repository: Some("octo/app".into()),
                issuers: auth::gate_issuers(None, None),
                ..GateEnv::default()
            },
            oidc: Ok(OidcRequest {
                url: server.url("/oidc?api-version=2.0"),
                token: Secret::new(REQUEST_TOKEN),
            }),
            endpoints: auth::Endpoints {
                sts_url: server.url("/v1/token"),
                iam_credentials_url: server.url("/v1"),
            },
            runner_temp: None,
            docker_config: None,
            home: None,
            workspace: None,
            env_file: None,
            state_file: None,
            in_actions: false,
        };
        let got = rt.block_on(auth::run_stage(&config.auth, &env));
        assert_eq!(got.is_ok(), ok, "{inputs:?} {event}: {got:?}");
        let asked: Vec<String> = server
            .requests_to(Route::Oidc)
            .iter()
            .flat_map(|r| r.query())
            .filter(|(k, _)| k == "audience")
            .map(|(_, v)| v)
            .collect();
        assert_eq!(
            asked,
            audience.iter().map(|a| a.to_string()).collect::<Vec<_>>()
        );
        assert!(server.requests_to(Route::Sts).is_empty());
        if let Ok(stage) = got {
            assert!(stage.google.is_none() && stage.credentials_file.is_none());
        }
    });
}

/// `gitops-bump run` passes through the gates before any other stage.
#[test]
fn run_refuses_untrusted_events_before_any_stage() {
    // (event, payload, refused)
    let cases = [
        ("pull_request_target", pr_payload("octo/app", false), true),
        ("pull_request", pr_payload("mallory/app", true), true),
        (
            "workflow_run",
            workflow_run_payload("pull_request", "mallory/app"),
            true,
        ),
        ("push", json!({}), false),
    ];
    for (event, payload, refused) in cases {
        let server = FakeGoogle::start();
        let dir = tempfile::tempdir().unwrap();
        let workdir = dir.path().join("repo");
        std::fs::create_dir_all(&workdir).unwrap();
        let manifest = workdir.join("deploy.yaml");
        let original = "image: ghcr.io/octo/app:v1\n";
        std::fs::write(&manifest, original).unwrap();
        let mut cmd = gitops_bump(&server);
        cmd.current_dir(&workdir)
            .env("GITHUB_EVENT_NAME", event)
            .env("GITHUB_EVENT_PATH", event_file(dir.path(), &payload))
            .args([
                "run",
                "--images",
                "ghcr.io/octo/app:v2",
                "--verify",
                "false",
            ])
            .args(["--mode", "push"]);
        let ran = run(cmd);
        let gate = "refusing to use credentials or push on an untrusted event";
        assert_eq!(
            ran.stderr.contains(gate),
            refused,
            "{event}: {}",
            ran.stderr
        );
        if refused {
            assert_eq!(ran.code, 1);
            assert_eq!(std::fs::read_to_string(&manifest).unwrap(), original);
        }
        assert!(server.requests().is_empty());
    }
}

#[test]
fn malformed_answers_are_reported_not_trusted() {
    let cases = [
        (
            Route::Oidc,
            r#"{"count":1}"#,
            "the GitHub OIDC token is malformed: the answer has no `value` field",
        ),
        (
            Route::Oidc,
            r#"{"value":"not-a-jwt"}"#,
            "the GitHub OIDC token is malformed: not a JWT",
        ),
        (
            Route::Sts,
            "{}",
            "Google STS answer is malformed: no `access_token` field",
        ),
        (Route::Sts, "<html>", "Google STS answer is malformed"),
        (
            Route::GenerateAccessToken,
            r#"{"expireTime":"2030-01-01T00:00:00Z"}"#,
            "generateAccessToken answer is malformed: no `accessToken` field",
        ),
    ];
    for (route, body, want) in cases {
        let server = FakeGoogle::start();
        server.script(route, 200, body);
        let ran = auth_google(&server, &["--service-account", SA]);
        assert_eq!(ran.code, 1, "{body}");
        assert!(ran.stderr.contains(want), "{body}: {}", ran.stderr);
        assert_no_secrets(&server, &ran);
    }
}

/// `run` with no `images` only authenticates: the access token output, the
/// credentials file and a Docker login for `docker-registries`, which a
/// reference client (skopeo, as `docker push` would) uses to push to a real
/// token-auth registry. The `post:` step then removes the Docker config.
#[test]
fn auth_only_run_logs_docker_in_for_a_push() {
    use test_support::registry::{Auth, Registry};
    let server = FakeGoogle::start();
    let registry = Registry::start_for(Auth::Token, "oauth2accesstoken", IMPERSONATED_TOKEN);
    let runner = Runner::new();
    let home = runner.temp.parent().unwrap().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let output_file = runner.temp.join("output");
    let mut cmd = gitops_bump(&server);
    runner.apply(&mut cmd);
    cmd.env("GITHUB_ACTIONS", "true")
        .env("HOME", &home)
        .env("GITHUB_OUTPUT", &output_file)
        .env("GITHUB_EVENT_NAME", "push")
        .env("GITHUB_EVENT_PATH", event_file(&runner.temp, &json!({})))
        .env("INPUT_WORKLOAD-IDENTITY-PROVIDER", PROVIDER)
        .env("INPUT_SERVICE-ACCOUNT", SA)
        .env("INPUT_TOKEN-FORMAT", "access_token")
        .env("INPUT_DOCKER-REGISTRIES", &registry.addr)
        .arg("run");
    let ran = run(cmd);
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    assert_no_secrets(
        &server,
        &Ran {
            code: 0,
            stdout: ran
                .stdout
                .lines()
                .filter(|l| !l.starts_with("::add-mask::"))
                .collect(),
            stderr: ran.stderr.clone(),
        },
    );

    let read = |p: &Path| {
        gitops_bump::actions::files::parse_delimited(&std::fs::read_to_string(p).unwrap())
    };
    let outputs = read(&output_file);
    assert!(
        outputs.contains(&("access-token".to_string(), IMPERSONATED_TOKEN.to_string())),
        "{outputs:?}"
    );
    let env = read(&runner.env_file);
    let value = |k: &str| {
        env.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| PathBuf::from(v))
            .unwrap_or_else(|| panic!("{k} not exported: {env:?}"))
    };
    assert!(value("GOOGLE_APPLICATION_CREDENTIALS").is_file());
    let docker_dir = value("DOCKER_CONFIG");
    let config_file = docker_dir.join("config.json");
    assert_eq!(
        docker_dir.parent().unwrap(),
        runner.temp.canonicalize().unwrap()
    );
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode(&docker_dir), mode(&config_file)), (0o700, 0o600));
    }
    let auth = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .encode(format!("oauth2accesstoken:{IMPERSONATED_TOKEN}"))
    };
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(&config_file).unwrap()).unwrap();
    assert_eq!(
        config,
        json!({"auths": {registry.addr.clone(): {"auth": auth}}})
    );
    assert!(
        ran.stdout.contains(&format!("::add-mask::{auth}")),
        "the encoded login is masked: {}",
        ran.stdout
    );

    // A push and an inspect with exactly that Docker config.
    let skopeo = |args: &[&str], authfile: &Path| {
        let xdg = runner.temp.join("xdg");
        std::fs::create_dir_all(&xdg).unwrap();
        Command::new("skopeo")
            .env("XDG_RUNTIME_DIR", &xdg)
            .env("HOME", &home)
            .arg(args[0])
            .arg("--authfile")
            .arg(authfile)
            .args(&args[1..])
            .output()
            .unwrap()
    };
    let layout = format!(
        "oci:{}:single",
        test_support::registry::layout().join("layout").display()
    );
    let dest = format!("docker://{}/team/app:v1", registry.addr);
    let empty = runner.temp.join("empty.json");
    std::fs::write(&empty, r#"{"auths":{}}"#).unwrap();
    let anonymous = skopeo(
        &["copy", "--quiet", "--dest-tls-verify=false", &layout, &dest],
        &empty,
    );
    assert!(!anonymous.status.success(), "the registry needs a login");
    let pushed = skopeo(
        &["copy", "--quiet", "--dest-tls-verify=false", &layout, &dest],
        &config_file,
    );
    assert!(
        pushed.status.success(),
        "{}",
        String::from_utf8_lossy(&pushed.stderr)
    );
    let inspected = skopeo(
        &["inspect", "--raw", "--tls-verify=false", &dest],
        &config_file,
    );
    assert!(inspected.status.success());
    let manifest: Value = serde_json::from_slice(&inspected.stdout).unwrap();
    assert_eq!(manifest["schemaVersion"], 2);
    let basic = "auth=Basic";
    assert!(
        registry
            .token_requests()
            .iter()
            .any(|r| r.contains("push") && r.contains(basic)),
        "{:?}",
        registry.token_requests()
    );

    // The post step proves the config ours and removes it with its directory.
    let state = read(&runner.state_file);
    let post = runner.post_step(&state);
    let said = String::from_utf8_lossy(&post.stdout);
    assert!(post.status.success(), "{said}");
    assert!(!docker_dir.exists(), "{said}");
    assert!(
        said.contains(&format!("Removed Docker config {}", config_file.display())),
        "{said}"
    );
}

/// A login for later steps is still a use of credentials: refused on an
/// untrusted event before any request, and nothing written.
#[test]
fn auth_only_run_is_refused_on_a_forks_event() {
    let server = FakeGoogle::start();
    let runner = Runner::new();
    let mut cmd = gitops_bump(&server);
    runner.apply(&mut cmd);
    cmd.env("GITHUB_EVENT_NAME", "workflow_run")
        .env(
            "GITHUB_EVENT_PATH",
            event_file(
                runner.temp.parent().unwrap(),
                &workflow_run_payload("pull_request", "mallory/app"),
            ),
        )
        .env("INPUT_WORKLOAD-IDENTITY-PROVIDER", PROVIDER)
        .env("INPUT_DOCKER-REGISTRIES", "europe-docker.pkg.dev")
        .arg("run");
    let ran = run(cmd);
    assert_eq!(ran.code, 1);
    assert!(
        ran.stderr.starts_with(
            "error: refusing to use credentials or push on an untrusted event: `workflow_run` \
             after a `pull_request` run from the fork `mallory/app` into `octo/app`"
        ),
        "{}",
        ran.stderr
    );
    assert!(server.requests().is_empty());
    assert_eq!(std::fs::read_dir(&runner.temp).unwrap().count(), 0);
}
