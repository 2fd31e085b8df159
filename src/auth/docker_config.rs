//! The Docker login later steps get: a Docker `config.json` whose `auths`
//! hold the Google access token for the registries in `docker-registries`
//! (user `oauth2accesstoken`, as `gcloud auth configure-docker` arranges
//! through its credential helper), so a build job can `docker push` to
//! Artifact Registry with the same keyless credentials.
//!
//! Written like the credentials file: 0600, in a new 0700 directory
//! `gitops-bump-docker-<16 hex>` directly inside `RUNNER_TEMP` (never the
//! workspace), exported as `DOCKER_CONFIG`, recorded with its SHA-256 in the
//! step state, and deleted by the `post:` step only when it still is the
//! file written here. Plain `auths` entries of the Docker config in use
//! before (for example from docker/login-action) are carried over, so other
//! registries stay logged in; credential helpers are not (a helper would
//! take precedence over our entry).

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use rand::Rng;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::AuthError;
use crate::actions::EnvFile;
use crate::secret::Secret;

/// The user name Google's registries take with an access token.
pub(crate) const TOKEN_USER: &str = "oauth2accesstoken";
/// The `GITHUB_STATE` keys naming the file and its SHA-256 for `post:`.
pub(crate) const STATE_KEY: &str = "docker-config";
pub(crate) const STATE_DIGEST_KEY: &str = "docker-config-sha256";
/// The directory name: this prefix and 16 lowercase hex digits; the `post:`
/// step checks the same pattern.
pub(crate) const DIR_PREFIX: &str = "gitops-bump-docker-";

/// The config's JSON: the plain `auths` of `previous` (when it is a Docker
/// config), then one entry per registry. The `auth` value is masked.
pub(crate) fn docker_config_json(
    previous: Option<&Value>,
    registries: &[String],
    token: &Secret,
) -> Value {
    let mut auths = previous
        .and_then(|p| p.get("auths"))
        .and_then(Value::as_object)
        .map(|a| {
            a.iter()
                .filter(|(_, v)| v.get("auth").and_then(Value::as_str).is_some())
                .map(|(k, v)| (k.clone(), json!({"auth": v["auth"]})))
                .collect::<Map<String, Value>>()
        })
        .unwrap_or_default();
    let auth = Secret::new(
        base64::engine::general_purpose::STANDARD
            .encode(format!("{TOKEN_USER}:{}", token.expose())),
    );
    for registry in registries {
        auths.insert(registry.clone(), json!({"auth": auth.expose()}));
    }
    json!({ "auths": auths })
}

/// The Docker config in use before this step: `$DOCKER_CONFIG/config.json`,
/// else `$HOME/.docker/config.json`; `None` when absent or not JSON.
pub(crate) fn previous_config(docker_config: Option<&Path>, home: Option<&Path>) -> Option<Value> {
    let path = match docker_config {
        Some(dir) => dir.join("config.json"),
        None => home?.join(".docker").join("config.json"),
    };
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> AuthError + '_ {
    move |source| AuthError::CredentialsFile {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `data` to `<dir>/gitops-bump-docker-<random>/config.json`
/// (directory 0700, file 0600, both new). Returns the file and its SHA-256.
pub(crate) fn write_docker_config(
    dir: &Path,
    data: &Value,
) -> Result<(PathBuf, String), AuthError> {
    let config_dir = dir.join(format!("{DIR_PREFIX}{:016x}", rand::rng().random::<u64>()));
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(&config_dir).map_err(io_error(&config_dir))?;
    let path = config_dir.join("config.json");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let bytes = data.to_string();
    let written = options.open(&path).and_then(|mut file| {
        file.write_all(bytes.as_bytes())?;
        file.sync_all()
    });
    if let Err(e) = written {
        // A partial file still holds the token: remove it.
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::remove_dir(&config_dir);
        return Err(io_error(&path)(e));
    }
    let sha256 = Sha256::digest(bytes.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((path, sha256))
}

/// The whole step: write into `dir` (already checked to be outside the
/// workspace), record for cleanup first, then export `DOCKER_CONFIG`.
pub(crate) fn create_docker_config(
    dir: &Path,
    data: &Value,
    env_file: Option<&EnvFile>,
    state_file: Option<&EnvFile>,
) -> Result<PathBuf, AuthError> {
    let (path, sha256) = write_docker_config(dir, data)?;
    if let Some(state) = state_file {
        state
            .append_entries(&[
                (STATE_KEY.to_string(), path.display().to_string()),
                (STATE_DIGEST_KEY.to_string(), sha256),
            ])
            .map_err(io_error(state.path()))?;
    }
    if let (Some(env), Some(config_dir)) = (env_file, path.parent()) {
        env.append_entries(&[(
            "DOCKER_CONFIG".to_string(),
            config_dir.display().to_string(),
        )])
        .map_err(io_error(env.path()))?;
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_hold_the_token_and_keep_other_logins() {
        let token = Secret::new("ya29.TEST-TOKEN");
        let previous = json!({
            "auths": {
                "ghcr.io": {"auth": "dXNlcjpwYXNz"},
                "helper.example": {},
                "europe-docker.pkg.dev": {"auth": "b2xkOm9sZA=="}
            },
            "credsStore": "desktop",
            "credHelpers": {"europe-docker.pkg.dev": "gcloud"}
        });
        let registries = vec!["europe-docker.pkg.dev".to_string(), "127.0.0.1:5000".into()];
        let got = docker_config_json(Some(&previous), &registries, &token);
        let ours = "b2F1dGgyYWNjZXNzdG9rZW46eWEyOS5URVNULVRPS0VO";
        assert_eq!(
            got,
            json!({"auths": {
                "ghcr.io": {"auth": "dXNlcjpwYXNz"},
                "europe-docker.pkg.dev": {"auth": ours},
                "127.0.0.1:5000": {"auth": ours}
            }})
        );
        assert_eq!(
            docker_config_json(None, &registries[..1], &token),
            json!({"auths": {"europe-docker.pkg.dev": {"auth": ours}}})
        );
        // The encoded form is redacted like the token itself.
        assert_eq!(crate::secret::redact(ours), "***");
    }
}
