//! Service account impersonation: the federated token buys a service
//! account's access token from the IAM Credentials API.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{AuthError, Http};
use crate::secret::Secret;

/// The URL of `generateAccessToken` for `service_account` under `base`
/// (`https://iamcredentials.googleapis.com/v1` by default).
pub(crate) fn generate_access_token_url(base: &str, service_account: &str) -> String {
    format!(
        "{}/projects/-/serviceAccounts/{service_account}:generateAccessToken",
        base.trim_end_matches('/')
    )
}

/// The request body. `delegates` is left out when empty, as
/// google-github-actions/auth does.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub(crate) struct GenerateAccessTokenRequest {
    pub scope: Vec<String>,
    pub lifetime: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub delegates: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GenerateAccessTokenAnswer {
    access_token: Option<String>,
    expire_time: Option<String>,
}

#[derive(Deserialize)]
struct GoogleErrorBody {
    error: Option<GoogleError>,
}

#[derive(Deserialize)]
struct GoogleError {
    message: Option<String>,
    status: Option<String>,
}

/// An impersonated token and its RFC 3339 expiry.
#[derive(Debug, Clone)]
pub(crate) struct ImpersonatedToken {
    pub access_token: Secret,
    pub expire_time: Option<String>,
}

/// `POST …:generateAccessToken` with the federated token as bearer.
pub(crate) async fn generate_access_token(
    http: &Http,
    url: &str,
    federated_token: &Secret,
    scopes: &[String],
    lifetime: Duration,
    delegates: &[String],
) -> Result<ImpersonatedToken, ImpersonationRejected> {
    let body = GenerateAccessTokenRequest {
        scope: scopes.to_vec(),
        lifetime: format!("{}s", lifetime.as_secs()),
        delegates: delegates.to_vec(),
    };
    let response = http
        .send("IAM Credentials generateAccessToken", || {
            http.client
                .post(url)
                .bearer_auth(federated_token.expose())
                .json(&body)
        })
        .await
        .map_err(ImpersonationRejected::Transport)?;
    if !(200..300).contains(&response.status) {
        let parsed = serde_json::from_str::<GoogleErrorBody>(&response.body)
            .ok()
            .and_then(|b| b.error);
        let (message, status_text) = match parsed {
            Some(e) => (
                e.message.unwrap_or_else(|| super::truncate(&response.body)),
                e.status.unwrap_or_default(),
            ),
            None => (super::truncate(&response.body), String::new()),
        };
        return Err(ImpersonationRejected::Rejected {
            status: response.status,
            status_text,
            message,
        });
    }
    let what = "generateAccessToken answer";
    let answer: GenerateAccessTokenAnswer =
        super::decode_answer(&response.body, what).map_err(ImpersonationRejected::Transport)?;
    let token = super::required_token(answer.access_token, what, "accessToken")
        .map_err(ImpersonationRejected::Transport)?;
    Ok(ImpersonatedToken {
        access_token: token,
        expire_time: answer.expire_time,
    })
}

/// A failed impersonation, before the caller adds the provider and claims.
#[derive(Debug)]
pub(crate) enum ImpersonationRejected {
    Transport(AuthError),
    Rejected {
        status: u16,
        status_text: String,
        message: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_and_body_match_the_api() {
        assert_eq!(
            generate_access_token_url(
                "https://iamcredentials.googleapis.com/v1/",
                "d@p.iam.gserviceaccount.com"
            ),
            "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/d@p.iam.gserviceaccount.com:generateAccessToken"
        );
        let body = GenerateAccessTokenRequest {
            scope: vec!["s".into()],
            lifetime: "600s".into(),
            delegates: vec![],
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"scope":["s"],"lifetime":"600s"}"#
        );
    }
}
