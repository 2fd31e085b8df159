//! The `external_account` credentials file later steps use (gcloud,
//! Terraform, client libraries via Application Default Credentials).
//!
//! The file holds no Google token: it tells the client how to fetch a fresh
//! GitHub OIDC token and exchange it itself, so it keeps working after our
//! token expires. It does hold the runner's OIDC request token, so it is
//! written 0600 into `RUNNER_TEMP` (never the workspace, where a later
//! `git add -A` or an uploaded artifact could pick it up — a deliberate
//! difference from google-github-actions/auth, which writes to the
//! workspace) and deleted by the action's `post:` step.

use std::io::Write;
use std::path::{Path, PathBuf};

use rand::Rng;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::oidc::OidcRequest;
use super::provider::WorkloadIdentityProvider;
use super::sts::SUBJECT_TOKEN_TYPE;
use super::{AuthError, Endpoints, impersonate};
use crate::actions::EnvFile;

/// The `GITHUB_STATE` key naming the file for the `post:` step.
pub(crate) const STATE_KEY: &str = "credentials-file";
/// The `GITHUB_STATE` key holding the SHA-256 of the file's bytes. The
/// `post:` step deletes only a file that has it, so a forged state (a
/// `save-state` command injected into the log) cannot name another file.
pub(crate) const STATE_DIGEST_KEY: &str = "credentials-file-sha256";
/// The file name: this prefix, 16 lowercase hex digits, `.json`; the `post:`
/// step checks the same pattern.
pub(crate) const FILE_PREFIX: &str = "gitops-bump-creds-";

/// Variables exported through `GITHUB_ENV`, as google-github-actions/auth does.
pub(crate) const EXPORTED_VARIABLES: &[&str] = &[
    "GOOGLE_APPLICATION_CREDENTIALS",
    "CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE",
    "GOOGLE_GHA_CREDS_PATH",
];

/// The file's JSON, field for field what google-github-actions/auth writes.
/// `token_info_url` is added only when STS is overridden, so that clients
/// which introspect tokens (gcloud without impersonation) ask the same server.
pub(crate) fn credentials_json(
    provider: &WorkloadIdentityProvider,
    oidc: &OidcRequest,
    oidc_audience: &str,
    endpoints: &Endpoints,
    service_account: Option<&str>,
) -> Result<Value, AuthError> {
    let mut data = json!({
        "type": "external_account",
        "audience": provider.sts_audience(),
        "subject_token_type": SUBJECT_TOKEN_TYPE,
        "token_url": endpoints.sts_url,
        "credential_source": {
            "url": oidc.url_for(oidc_audience)?.as_str(),
            "headers": { "Authorization": format!("Bearer {}", oidc.token.expose()) },
            "format": { "type": "json", "subject_token_field_name": "value" },
        },
    });
    if endpoints.sts_url != super::DEFAULT_STS_URL
        && let Some(base) = endpoints.sts_url.strip_suffix("/token")
    {
        data["token_info_url"] = Value::String(format!("{base}/introspect"));
    }
    if let Some(sa) = service_account {
        data["service_account_impersonation_url"] = Value::String(
            impersonate::generate_access_token_url(&endpoints.iam_credentials_url, sa),
        );
    }
    Ok(data)
}

/// The directory to write into: `RUNNER_TEMP`, refused when it lies inside
/// the workspace (the file would be one `git add` away from a commit).
pub(crate) fn credentials_dir(
    runner_temp: Option<&Path>,
    workspace: Option<&Path>,
) -> Result<PathBuf, AuthError> {
    let dir = runner_temp
        .filter(|p| !p.as_os_str().is_empty())
        .ok_or(AuthError::RunnerTempMissing)?;
    let dir = dir
        .canonicalize()
        .map_err(|source| AuthError::CredentialsFile {
            path: dir.to_path_buf(),
            source,
        })?;
    if let Some(ws) = workspace.filter(|p| !p.as_os_str().is_empty()) {
        let ws = ws.canonicalize().unwrap_or_else(|_| ws.to_path_buf());
        if dir.starts_with(&ws) {
            return Err(AuthError::CredentialsFileInWorkspace {
                runner_temp: dir,
                workspace: ws,
            });
        }
    }
    Ok(dir)
}

/// A file written by [`write_credentials_file`]: where, and the SHA-256 of
/// its bytes (lowercase hex) that proves it ours to the `post:` step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WrittenFile {
    pub path: PathBuf,
    pub sha256: String,
}

/// Writes `data` to a new `gitops-bump-creds-<random>.json` in `dir`,
/// created with mode 0600 (never widened, never overwriting).
pub(crate) fn write_credentials_file(dir: &Path, data: &Value) -> Result<WrittenFile, AuthError> {
    let name = format!("{FILE_PREFIX}{:016x}.json", rand::rng().random::<u64>());
    let path = dir.join(name);
    let io_err = |source| AuthError::CredentialsFile {
        path: path.clone(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&path).map_err(io_err)?;
    let bytes = data.to_string();
    if let Err(e) = file
        .write_all(bytes.as_bytes())
        .and_then(|()| file.sync_all())
    {
        // A partial file is useless and holds the request token: remove it.
        let _ = std::fs::remove_file(&path);
        return Err(io_err(e));
    }
    let sha256 = Sha256::digest(bytes.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(WrittenFile { path, sha256 })
}

/// Exports the file to later steps (`GITHUB_ENV`) and records it, with its
/// digest, for the `post:` step's cleanup (`GITHUB_STATE`). Either file may
/// be absent outside Actions.
pub(crate) fn export_credentials_file(
    written: &WrittenFile,
    env_file: Option<&EnvFile>,
    state_file: Option<&EnvFile>,
) -> Result<(), AuthError> {
    let value = written.path.display().to_string();
    if let Some(state) = state_file {
        state
            .append_entries(&[
                (STATE_KEY.to_string(), value.clone()),
                (STATE_DIGEST_KEY.to_string(), written.sha256.clone()),
            ])
            .map_err(|source| AuthError::CredentialsFile {
                path: state.path().to_path_buf(),
                source,
            })?;
    }
    if let Some(env) = env_file {
        let entries: Vec<(String, String)> = EXPORTED_VARIABLES
            .iter()
            .map(|k| (k.to_string(), value.clone()))
            .collect();
        env.append_entries(&entries)
            .map_err(|source| AuthError::CredentialsFile {
                path: env.path().to_path_buf(),
                source,
            })?;
    }
    Ok(())
}

/// Variables naming the project, exported as google-github-actions/auth
/// does, so a later `gcloud` or client library needs no `--project`.
pub(crate) const PROJECT_VARIABLES: &[&str] = &[
    "CLOUDSDK_CORE_PROJECT",
    "CLOUDSDK_PROJECT",
    "GCLOUD_PROJECT",
    "GCP_PROJECT",
    "GOOGLE_CLOUD_PROJECT",
];

/// Exports `project` to later steps under every [`PROJECT_VARIABLES`] name.
pub(crate) fn export_project(project: &str, env_file: &EnvFile) -> Result<(), AuthError> {
    let entries: Vec<(String, String)> = PROJECT_VARIABLES
        .iter()
        .map(|k| (k.to_string(), project.to_string()))
        .collect();
    env_file
        .append_entries(&entries)
        .map_err(|source| AuthError::CredentialsFile {
            path: env_file.path().to_path_buf(),
            source,
        })
}

/// The whole step: directory check, write, export. Returns the file's path.
pub(crate) fn create_credentials_file(
    data: &Value,
    runner_temp: Option<&Path>,
    workspace: Option<&Path>,
    env_file: Option<&EnvFile>,
    state_file: Option<&EnvFile>,
) -> Result<PathBuf, AuthError> {
    let dir = credentials_dir(runner_temp, workspace)?;
    let written = write_credentials_file(&dir, data)?;
    // Record the path for cleanup before anything else can fail.
    export_credentials_file(&written, env_file, state_file)?;
    Ok(written.path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn fixture(sts: &str) -> (WorkloadIdentityProvider, OidcRequest, Endpoints) {
        (
            WorkloadIdentityProvider::parse(
                "projects/1/locations/global/workloadIdentityPools/p/providers/q",
            )
            .unwrap(),
            OidcRequest {
                url: "https://t.example/idtoken?api-version=2.0".into(),
                token: Secret::new("REQ"),
            },
            Endpoints {
                sts_url: sts.into(),
                iam_credentials_url: "https://iamcredentials.googleapis.com/v1".into(),
            },
        )
    }

    #[test]
    fn json_matches_the_reference_action() {
        let (p, o, e) = fixture(super::super::DEFAULT_STS_URL);
        let got = credentials_json(&p, &o, "aud", &e, Some("d@x.iam.gserviceaccount.com")).unwrap();
        let want = json!({
            "type": "external_account",
            "audience": "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q",
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
            "token_url": "https://sts.googleapis.com/v1/token",
            "credential_source": {
                "url": "https://t.example/idtoken?api-version=2.0&audience=aud",
                "headers": {"Authorization": "Bearer REQ"},
                "format": {"type": "json", "subject_token_field_name": "value"}
            },
            "service_account_impersonation_url": "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/d@x.iam.gserviceaccount.com:generateAccessToken"
        });
        assert_eq!(got, want);
        let (p, o, e) = fixture("http://127.0.0.1:9/v1/token");
        let got = credentials_json(&p, &o, "aud", &e, None).unwrap();
        assert_eq!(got["token_info_url"], "http://127.0.0.1:9/v1/introspect");
        assert!(got.get("service_account_impersonation_url").is_none());
    }

    #[test]
    fn runner_temp_inside_the_workspace_is_refused() {
        let ws = tempfile::tempdir().unwrap();
        let inside = ws.path().join("tmp");
        std::fs::create_dir(&inside).unwrap();
        let outside = tempfile::tempdir().unwrap();
        let cases: [(Option<&Path>, bool); 4] = [
            (Some(inside.as_path()), false),
            (Some(ws.path()), false),
            (Some(outside.path()), true),
            (None, false),
        ];
        for (temp, ok) in cases {
            assert_eq!(
                credentials_dir(temp, Some(ws.path())).is_ok(),
                ok,
                "{temp:?}"
            );
        }
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_private_and_never_overwritten() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let a = write_credentials_file(dir.path(), &json!({"a": 1})).unwrap();
        let b = write_credentials_file(dir.path(), &json!({"a": 2})).unwrap();
        assert_ne!(a.path, b.path);
        // sha256 of `{"a":1}`
        assert_eq!(
            a.sha256,
            "015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862"
        );
        let a = a.path;
        let mode = std::fs::metadata(&a).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read_to_string(&a).unwrap(), r#"{"a":1}"#);
    }
}
