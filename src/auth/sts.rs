//! The RFC 8693 token exchange at Google STS: GitHub OIDC JWT in, federated
//! access token out.
//!
//! We send a form body, like gcloud and the Google auth libraries do and as
//! RFC 8693 specifies; google-github-actions/auth posts the same fields as
//! camelCase JSON, which STS also accepts. The fields and their order match
//! what gcloud sends, minus gcloud's own OAuth client credentials.

use serde::Deserialize;

use super::{AuthError, Http};
use crate::secret::Secret;

pub(crate) const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub(crate) const REQUESTED_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
pub(crate) const SUBJECT_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";

/// A federated access token as STS returned it.
#[derive(Debug, Clone)]
pub(crate) struct FederatedToken {
    pub access_token: Secret,
    pub expires_in: Option<u64>,
}

/// What went wrong at STS, recognized from the OAuth error body so the hint
/// can say what to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StsFailure {
    /// `invalid_grant` "The audience in ID Token … does not match".
    AudienceMismatch,
    /// `invalid_target`: the pool or provider is missing, disabled or deleted.
    ProviderNotFound,
    /// `invalid_request` "Invalid value for \"audience\"".
    InvalidAudienceValue,
    /// `unauthorized_client` "rejected by the attribute condition".
    AttributeCondition,
    /// A mapped attribute exceeds 127 bytes.
    AttributeTooLong,
    /// The OIDC token is stale or expired; a fresh one usually works.
    StaleToken,
    /// The token's issuer is not the one the provider trusts.
    IssuerMismatch,
    /// Anything else; the server's words are shown as they are.
    Other,
}

/// Classifies an STS error from its OAuth `error` code and description.
pub(crate) fn classify(code: &str, description: &str) -> StsFailure {
    let d = description.to_ascii_lowercase();
    if d.contains("attribute condition") {
        StsFailure::AttributeCondition
    } else if d.contains("127 bytes") || d.contains("size of mapped attribute") {
        StsFailure::AttributeTooLong
    } else if d.contains("stale to sign-in") || d.contains("expired") {
        StsFailure::StaleToken
    } else if d.contains("audience in id token") {
        StsFailure::AudienceMismatch
    } else if d.contains("issuer in id token") {
        StsFailure::IssuerMismatch
    } else if code == "invalid_target" {
        StsFailure::ProviderNotFound
    } else if d.contains("invalid value for \"audience\"") {
        StsFailure::InvalidAudienceValue
    } else {
        StsFailure::Other
    }
}

#[derive(Deserialize)]
struct OAuthError {
    error: Option<String>,
    error_description: Option<String>,
}

#[derive(Deserialize)]
struct StsAnswer {
    access_token: Option<String>,
    expires_in: Option<u64>,
}

/// One STS exchange. Errors carry the classified failure; the caller owns
/// retrying a stale token with a fresh one.
pub(crate) async fn exchange(
    http: &Http,
    sts_url: &str,
    audience: &str,
    scopes: &[String],
    subject_token: &Secret,
) -> Result<FederatedToken, StsError> {
    let scope = scopes.join(" ");
    let form = [
        ("grant_type", GRANT_TYPE),
        ("audience", audience),
        ("scope", scope.as_str()),
        ("requested_token_type", REQUESTED_TOKEN_TYPE),
        ("subject_token", subject_token.expose()),
        ("subject_token_type", SUBJECT_TOKEN_TYPE),
    ];
    let response = http
        .send("Google STS token exchange", || {
            http.client
                .post(sts_url)
                .header(reqwest::header::ACCEPT, "application/json")
                .form(&form)
        })
        .await
        .map_err(StsError::Transport)?;
    if !(200..300).contains(&response.status) {
        let parsed: Option<OAuthError> = serde_json::from_str(&response.body).ok();
        let code = parsed
            .as_ref()
            .and_then(|e| e.error.clone())
            .unwrap_or_default();
        let description = parsed
            .and_then(|e| e.error_description)
            .unwrap_or_else(|| super::truncate(&response.body));
        return Err(StsError::Rejected {
            status: response.status,
            failure: classify(&code, &description),
            code,
            description,
        });
    }
    let what = "Google STS answer";
    let answer: StsAnswer =
        super::decode_answer(&response.body, what).map_err(StsError::Transport)?;
    let token = super::required_token(answer.access_token, what, "access_token")
        .map_err(StsError::Transport)?;
    Ok(FederatedToken {
        access_token: token,
        expires_in: answer.expires_in,
    })
}

/// An STS failure before it is given the context (provider, claims) that
/// makes a good message.
#[derive(Debug)]
pub(crate) enum StsError {
    Transport(AuthError),
    Rejected {
        status: u16,
        failure: StsFailure,
        code: String,
        description: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn google_error_bodies_are_recognized() {
        let cases = [
            (
                "invalid_grant",
                "The audience in ID Token [https://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/x] does not match the expected audience https://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q.",
                StsFailure::AudienceMismatch,
            ),
            (
                "invalid_target",
                "The target service indicated by the \"audience\" parameters is invalid. This might either be because the pool or provider is disabled or deleted or because it doesn't exist.",
                StsFailure::ProviderNotFound,
            ),
            (
                "invalid_request",
                "Invalid value for \"audience\". This value should be the full resource name of the Identity Provider.",
                StsFailure::InvalidAudienceValue,
            ),
            (
                "unauthorized_client",
                "The given credential is rejected by the attribute condition.",
                StsFailure::AttributeCondition,
            ),
            (
                "invalid_request",
                "The size of mapped attribute google.subject exceeds the 127 bytes limit. Either modify your attribute mapping or the incoming assertion to produce a mapped attribute that is less than 127 bytes.",
                StsFailure::AttributeTooLong,
            ),
            (
                "invalid_grant",
                "ID Token issued at 1713260741 is stale to sign-in.",
                StsFailure::StaleToken,
            ),
            (
                "invalid_grant",
                "The issuer in ID Token https://ghe.example/_services/token does not match the expected ones: https://token.actions.githubusercontent.com/",
                StsFailure::IssuerMismatch,
            ),
            (
                "quota_exceeded",
                "The request was throttled due to rate limit",
                StsFailure::Other,
            ),
        ];
        for (code, description, want) in cases {
            assert_eq!(classify(code, description), want, "{description}");
        }
    }
}
