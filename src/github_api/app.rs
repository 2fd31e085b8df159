//! GitHub App installation tokens: the credential for writing to another
//! repository without a long-lived personal access token.
//!
//! The flow matches actions/create-github-app-token: sign a short RS256 JWT
//! as the App, find the App's installation on the target repository, and
//! ask for a token limited to that one repository and to the permissions
//! the run needs (`contents: write`, plus `pull_requests: write` for pull
//! requests). The token lives about an hour; we revoke it as soon as the run
//! ends, also when it fails, through [`InstallationToken`]'s `Drop`.
//!
//! Pushes made with an App token start workflows (unlike `GITHUB_TOKEN`),
//! which is why the commit message keeps `[skip ci]`: see
//! [`crate::guard::ensure_skip_marker`].

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::rest::{Api, RestError, status_error};
use crate::config::{GitHubApp, Mode, WriteBackOptions};
use crate::secret::Secret;

/// GitHub refuses JWTs that live longer than 10 minutes.
const JWT_LIFETIME: Duration = Duration::from_secs(600);
/// Backdating `iat` absorbs a runner clock slightly ahead of GitHub's.
const CLOCK_SKEW: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("the GitHub App private key could not be used: {why}")]
    Key { why: String },
    #[error("the GitHub App is not installed on {owner}/{repo}")]
    NotInstalled { owner: String, repo: String },
    #[error("GitHub rejected the App's JWT ({status}): {message}")]
    Jwt { status: u16, message: String },
    #[error(
        "the App installation {installation_id} may not grant {permissions} on {owner}/{repo} ({status}): {message}"
    )]
    Permission {
        installation_id: u64,
        owner: String,
        repo: String,
        permissions: String,
        status: u16,
        message: String,
    },
    #[error(
        "a GitHub App token is for a GitHub repository; {repository:?} is not owner/name or a GitHub URL"
    )]
    NoRepository { repository: String },
    #[error("starting the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error(transparent)]
    Rest(#[from] RestError),
}

impl AppError {
    pub fn hint(&self) -> Option<String> {
        match self {
            AppError::Key { .. } => Some(
                "pass the App's .pem file as a secret (app-private-key: ${{ secrets.APP_PRIVATE_KEY }}); generate a new key in the App's settings if it was rotated".into(),
            ),
            AppError::NotInstalled { owner, repo } => Some(format!(
                "install it: App settings -> Install App -> {owner} -> select {repo} (or All repositories); or set app-installation-id"
            )),
            AppError::Jwt { .. } => Some(
                "check that app-id and app-private-key belong to the same App, and that the runner's clock is right".into(),
            ),
            AppError::Permission { permissions, .. } => Some(format!(
                "grant the App {permissions} (App settings -> Permissions -> Repository permissions), then accept the new permissions on the installation; make sure the installation includes the repository"
            )),
            AppError::NoRepository { .. } => Some(
                "set `repository: owner/name` (or check out a repository cloned from GitHub), or drop app-id and pass `token`".into(),
            ),
            AppError::Runtime(_) => None,
            AppError::Rest(e) => e.hint(),
        }
    }
}

/// Repository permissions a run needs, as the access-token API names them.
pub fn permissions_for(mode: Mode) -> Vec<(&'static str, &'static str)> {
    let mut p = vec![("contents", "write")];
    if mode == Mode::PullRequest {
        p.push(("pull_requests", "write"));
    }
    p
}

/// Human names for the permissions, for error messages.
fn describe(permissions: &[(&str, &str)]) -> String {
    permissions
        .iter()
        .map(|(name, level)| {
            let title = match *name {
                "contents" => "Contents",
                "pull_requests" => "Pull requests",
                "statuses" => "Commit statuses",
                "checks" => "Checks",
                other => other,
            };
            let level = if *level == "write" {
                "Read and write"
            } else {
                "Read-only"
            };
            format!("`{title}: {level}`")
        })
        .collect::<Vec<_>>()
        .join(" and ")
}

/// Signs the App JWT: RS256, `iat` = now − 60 s, `exp` = `iat` + 10 min,
/// `iss` = the App ID (or client ID).
pub(crate) fn app_jwt(
    app_id: &str,
    private_key_pem: &Secret,
    now: SystemTime,
) -> Result<Secret, AppError> {
    let key = PKey::private_key_from_pem(private_key_pem.expose().as_bytes()).map_err(|_| {
        // OpenSSL's message would not help and might quote key material.
        AppError::Key {
            why: "not a PEM private key (PKCS#1 `BEGIN RSA PRIVATE KEY` or PKCS#8 `BEGIN PRIVATE KEY`)".into(),
        }
    })?;
    if key.rsa().is_err() {
        return Err(AppError::Key {
            why: "GitHub App keys are RSA keys; this is another kind".into(),
        });
    }
    let now = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let iat = now.saturating_sub(CLOCK_SKEW).as_secs();
    let claims = json!({
        "iat": iat,
        "exp": iat + JWT_LIFETIME.as_secs(),
        "iss": app_id,
    });
    let header = json!({"alg": "RS256", "typ": "JWT"});
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sign = || -> Result<Vec<u8>, openssl::error::ErrorStack> {
        let mut signer = Signer::new(MessageDigest::sha256(), &key)?;
        signer.update(signing_input.as_bytes())?;
        signer.sign_to_vec()
    };
    let signature = sign().map_err(|e| AppError::Key {
        why: format!("signing failed: {e}"),
    })?;
    Ok(Secret::new(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    )))
}

/// Finds the App's installation on `owner/repo`.
pub(crate) async fn installation_id(
    api: &Api,
    jwt: &Secret,
    owner: &str,
    repo: &str,
) -> Result<u64, AppError> {
    let what = format!("looking up the App installation on {owner}/{repo}");
    let (status, body) = api
        .call(
            &what,
            Method::GET,
            &format!("/repos/{owner}/{repo}/installation"),
            jwt,
            None,
        )
        .await?;
    match status {
        s if s.is_success() => body.get("id").and_then(Value::as_u64).ok_or_else(|| {
            AppError::Rest(RestError::Body {
                what,
                why: "no numeric `id`".into(),
            })
        }),
        StatusCode::NOT_FOUND => Err(AppError::NotInstalled {
            owner: owner.to_string(),
            repo: repo.to_string(),
        }),
        StatusCode::UNAUTHORIZED => Err(jwt_error(status, &body)),
        _ => Err(status_error(&what, status, &body).into()),
    }
}

fn jwt_error(status: StatusCode, body: &Value) -> AppError {
    AppError::Jwt {
        status: status.as_u16(),
        message: body
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("unauthorized")
            .to_string(),
    }
}

/// An installation access token, revoked when dropped.
///
/// Call [`InstallationToken::revoke`] at the end of a run to see revocation
/// errors; otherwise `Drop` revokes it, waiting for the answer, and only
/// warns.
#[derive(Debug)]
pub struct InstallationToken {
    token: Secret,
    /// RFC 3339, as GitHub reports it.
    pub expires_at: String,
    pub installation_id: u64,
    api: Api,
    revoked: bool,
}

impl InstallationToken {
    pub fn secret(&self) -> &Secret {
        &self.token
    }

    /// Revokes the token now (`DELETE /installation/token`).
    pub async fn revoke(mut self) -> Result<(), AppError> {
        self.revoked = true;
        revoke(&self.api, &self.token).await
    }
}

async fn revoke(api: &Api, token: &Secret) -> Result<(), AppError> {
    api.call_ok(
        "revoking the App installation token",
        Method::DELETE,
        "/installation/token",
        token,
        None,
    )
    .await?;
    Ok(())
}

impl Drop for InstallationToken {
    fn drop(&mut self) {
        if self.revoked {
            return;
        }
        self.revoked = true;
        match revoke_and_wait(&self.api, &self.token) {
            Some(Ok(())) => {}
            Some(Err(why)) => crate::print::line(
                crate::print::Stream::Stderr,
                &format!(
                    "warning: could not revoke the App installation token (it expires within an hour): {why}"
                ),
            ),
            None => crate::print::line(
                crate::print::Stream::Stderr,
                "warning: revoking the App installation token panicked",
            ),
        }
    }
}

/// Revokes `token` and waits for the answer, from any thread, also one
/// inside a runtime (a `Drop` after a `?` in async code), where blocking on
/// a future would panic: the revocation runs as a task of the process's
/// runtime, whose own worker thread answers it while this thread waits.
/// `None` when the task died without an answer.
fn revoke_and_wait(api: &Api, token: &Secret) -> Option<Result<(), String>> {
    let runtime = match crate::http::runtime() {
        Ok(runtime) => runtime,
        Err(e) => return Some(Err(e.to_string())),
    };
    let (api, token) = (api.clone(), token.clone());
    let (answer, answered) = std::sync::mpsc::sync_channel(1);
    runtime.spawn(async move {
        let _ = answer.send(revoke(&api, &token).await.map_err(|e| e.to_string()));
    });
    answered.recv().ok()
}

/// Creates an installation token for `owner/repo` with only `permissions`.
/// The installation is looked up unless `app.installation_id` is set.
pub async fn installation_token(
    api: &Api,
    app: &GitHubApp,
    owner: &str,
    repo: &str,
    permissions: &[(&str, &str)],
) -> Result<InstallationToken, AppError> {
    let jwt = app_jwt(&app.app_id, &app.private_key, SystemTime::now())?;
    let id = match app.installation_id {
        Some(id) => id,
        None => installation_id(api, &jwt, owner, repo).await?,
    };
    let wanted: serde_json::Map<String, Value> = permissions
        .iter()
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect();
    let body = json!({"repositories": [repo], "permissions": wanted});
    let what = format!("creating an App installation token for {owner}/{repo}");
    let (status, answer) = api
        .call(
            &what,
            Method::POST,
            &format!("/app/installations/{id}/access_tokens"),
            &jwt,
            Some(&body),
        )
        .await?;
    match status {
        s if s.is_success() => {}
        StatusCode::UNAUTHORIZED => return Err(jwt_error(status, &answer)),
        StatusCode::NOT_FOUND if app.installation_id.is_some() => {
            return Err(AppError::NotInstalled {
                owner: owner.to_string(),
                repo: repo.to_string(),
            });
        }
        StatusCode::FORBIDDEN | StatusCode::UNPROCESSABLE_ENTITY => {
            return Err(AppError::Permission {
                installation_id: id,
                owner: owner.to_string(),
                repo: repo.to_string(),
                permissions: describe(permissions),
                status: status.as_u16(),
                message: answer
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            });
        }
        _ => return Err(status_error(&what, status, &answer).into()),
    }
    let token = answer
        .get("token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| RestError::Body {
            what: what.clone(),
            why: "no `token`".into(),
        })?;
    Ok(InstallationToken {
        token: Secret::new(token),
        expires_at: answer
            .get("expires_at")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        installation_id: id,
        api: api.clone(),
        revoked: false,
    })
}

/// The credential for one repository, as the write-back (git or the API)
/// and the deploy wait use it: an installation token minted for that one
/// repository when `app-id` is set, else the `token` input.
#[derive(Debug)]
pub(crate) struct RepoCredential {
    app: Option<InstallationToken>,
    token: Option<Secret>,
}

impl RepoCredential {
    /// The secret to authenticate with: the App token, else `token`.
    pub(crate) fn secret(&self) -> Option<&Secret> {
        self.app
            .as_ref()
            .map(InstallationToken::secret)
            .or(self.token.as_ref())
    }

    /// The credential is a GitHub App installation token.
    pub(crate) fn is_app(&self) -> bool {
        self.app.is_some()
    }
}

/// Runs `write` with the credential for `repository` (`owner/name`): with
/// `app-id` set, an installation token scoped to that repository with the
/// permissions the mode needs ([`permissions_for`]), revoked when `write`
/// returns, also on failure; else the `token` input. One helper for both
/// commit modes, so git and the API authenticate alike.
pub(crate) fn with_write_credential<T, E: From<AppError>>(
    config: &WriteBackOptions,
    api: &Api,
    repository: Option<&str>,
    write: impl FnOnce(&RepoCredential) -> Result<T, E>,
) -> Result<T, E> {
    with_credential(
        config.app.as_ref(),
        config.token.as_ref(),
        api,
        repository,
        &permissions_for(config.mode),
        write,
    )
}

/// Runs `use_it` with the credential for `repository` (`owner/name`):
/// with an `app`, an installation token scoped to that one repository with
/// only `permissions`, revoked when `use_it` returns, also on failure;
/// else `token`. The write-back and the deploy wait (read-only) both
/// authenticate through it.
pub(crate) fn with_credential<T, E: From<AppError>>(
    app: Option<&GitHubApp>,
    token: Option<&Secret>,
    api: &Api,
    repository: Option<&str>,
    permissions: &[(&str, &str)],
    use_it: impl FnOnce(&RepoCredential) -> Result<T, E>,
) -> Result<T, E> {
    let Some(app) = app else {
        return use_it(&RepoCredential {
            app: None,
            token: token.cloned(),
        });
    };
    let (owner, repo) = repository
        .and_then(super::rest::owner_and_name)
        .ok_or_else(|| AppError::NoRepository {
            repository: repository.unwrap_or_default().to_string(),
        })?;
    let token = crate::http::block_on(installation_token(api, app, &owner, &repo, permissions))
        .map_err(AppError::Runtime)??;
    let credential = RepoCredential {
        app: Some(token),
        token: None,
    };
    let result = use_it(&credential);
    if let Some(token) = credential.app {
        // Revocation failing must not hide the write-back's result. (Without
        // a runtime the unpolled future drops the token, whose `Drop` tries.)
        if let Ok(Err(e)) = crate::http::block_on(token.revoke()) {
            crate::print::line(crate::print::Stream::Stderr, &format!("warning: {e}"));
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::rsa::Rsa;
    use openssl::sign::Verifier;

    #[test]
    fn jwt_is_rs256_with_backdated_iat_and_ten_minute_lifetime() {
        let rsa = Rsa::generate(2048).unwrap();
        let pem = String::from_utf8(rsa.private_key_to_pem().unwrap()).unwrap();
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let jwt = app_jwt("12345", &Secret::new(pem), now).unwrap();
        let parts: Vec<&str> = jwt.expose().split('.').collect();
        assert_eq!(parts.len(), 3);
        let decode = |s: &str| URL_SAFE_NO_PAD.decode(s).unwrap();
        let header: Value = serde_json::from_slice(&decode(parts[0])).unwrap();
        let claims: Value = serde_json::from_slice(&decode(parts[1])).unwrap();
        assert_eq!(header["alg"], "RS256");
        assert_eq!(claims["iss"], "12345");
        assert_eq!(claims["iat"], 1_700_000_000 - 60);
        assert_eq!(claims["exp"], 1_700_000_000 - 60 + 600);
        let public = PKey::public_key_from_pem(&rsa.public_key_to_pem().unwrap()).unwrap();
        let mut verifier = Verifier::new(MessageDigest::sha256(), &public).unwrap();
        verifier
            .update(format!("{}.{}", parts[0], parts[1]).as_bytes())
            .unwrap();
        assert!(verifier.verify(&decode(parts[2])).unwrap());
    }

    #[test]
    fn unusable_keys_are_named_without_quoting_them() {
        let ec = openssl::ec::EcKey::generate(
            &openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap(),
        )
        .unwrap();
        let ec_pem = String::from_utf8(ec.private_key_to_pem().unwrap()).unwrap();
        let cases = [
            (
                "-----BEGIN PRIVATE KEY-----\nnotbase64!\n-----END PRIVATE KEY-----\n".to_string(),
                "not a PEM private key",
            ),
            (ec_pem, "RSA keys"),
        ];
        for (pem, needle) in cases {
            let e = app_jwt("1", &Secret::new(pem.clone()), SystemTime::now()).unwrap_err();
            let msg = e.to_string();
            assert!(msg.contains(needle), "{msg}");
            assert!(!msg.contains("notbase64"), "{msg}");
            assert!(e.hint().unwrap().contains("app-private-key"));
        }
    }

    #[test]
    fn permissions_follow_the_mode() {
        assert_eq!(permissions_for(Mode::Push), vec![("contents", "write")]);
        assert_eq!(
            describe(&permissions_for(Mode::PullRequest)),
            "`Contents: Read and write` and `Pull requests: Read and write`"
        );
    }
}
