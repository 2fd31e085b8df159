//! The job's GitHub OIDC token: requested from the runner, its claims read
//! (not verified: the token is only forwarded to Google, which verifies it)
//! for messages and the gates.

use base64::Engine;
use serde::Serialize;

use super::{AuthError, Http};
use crate::secret::Secret;

/// Where and how to ask the runner for an OIDC token
/// (`ACTIONS_ID_TOKEN_REQUEST_URL` / `ACTIONS_ID_TOKEN_REQUEST_TOKEN`).
#[derive(Debug, Clone)]
pub struct OidcRequest {
    pub url: String,
    pub token: Secret,
}

impl OidcRequest {
    /// Reads the runner variables through `lookup`; both are present only
    /// when the job has `permissions: id-token: write`.
    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, AuthError> {
        let get = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
        let url = get("ACTIONS_ID_TOKEN_REQUEST_URL");
        let token = get("ACTIONS_ID_TOKEN_REQUEST_TOKEN");
        match (url, token) {
            (Some(url), Some(token)) => Ok(OidcRequest {
                url: url.trim().to_string(),
                token: Secret::new(token.trim()),
            }),
            (url, token) => {
                let mut missing = Vec::new();
                if url.is_none() {
                    missing.push("ACTIONS_ID_TOKEN_REQUEST_URL");
                }
                if token.is_none() {
                    missing.push("ACTIONS_ID_TOKEN_REQUEST_TOKEN");
                }
                Err(AuthError::OidcUnavailable {
                    missing: missing.join(" and "),
                })
            }
        }
    }

    /// The request URL with `audience` added to (or replacing the one in)
    /// its existing query string, which already holds `api-version=2.0`.
    pub(crate) fn url_for(&self, audience: &str) -> Result<reqwest::Url, AuthError> {
        let mut url = reqwest::Url::parse(&self.url).map_err(|e| AuthError::OidcUrl {
            url: self.url.clone(),
            why: e.to_string(),
        })?;
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| k != "audience")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.query_pairs_mut()
            .clear()
            .extend_pairs(kept)
            .append_pair("audience", audience);
        Ok(url)
    }
}

/// The claims we read from a GitHub OIDC token. Claims are not secrets
/// (they name the repository, ref and environment); the token is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Claims {
    pub iss: Option<String>,
    pub sub: Option<String>,
    pub aud: Option<String>,
    pub repository: Option<String>,
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    pub environment: Option<String>,
    pub event_name: Option<String>,
    pub workflow_ref: Option<String>,
    pub exp: Option<i64>,
    pub nbf: Option<i64>,
    pub iat: Option<i64>,
}

impl Claims {
    /// Decodes the payload of a compact JWT without verifying it.
    pub(crate) fn decode(jwt: &str) -> Result<Claims, String> {
        let mut parts = jwt.split('.');
        let (Some(_), Some(payload), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
            return Err("not a JWT (expected three dot-separated parts)".into());
        };
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .map_err(|e| format!("payload is not base64url: {e}"))?;
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| format!("payload is not JSON: {e}"))?;
        let text = |k: &str| value.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let aud = match value.get("aud") {
            Some(serde_json::Value::Array(a)) => Some(
                a.iter()
                    .filter_map(|v| v.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            Some(v) => v.as_str().map(str::to_string),
            None => None,
        };
        Ok(Claims {
            iss: text("iss"),
            sub: text("sub"),
            aud,
            repository: text("repository"),
            git_ref: text("ref"),
            environment: text("environment"),
            event_name: text("event_name"),
            workflow_ref: text("workflow_ref"),
            exp: value.get("exp").and_then(|v| v.as_i64()),
            nbf: value.get("nbf").and_then(|v| v.as_i64()),
            iat: value.get("iat").and_then(|v| v.as_i64()),
        })
    }

    /// `repository=o/r ref=refs/heads/main environment=(none) sub=…`, for
    /// messages about attribute conditions.
    pub fn summary(&self) -> String {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
        format!(
            "repository={} ref={} environment={} event_name={} sub={}",
            show(&self.repository),
            show(&self.git_ref),
            show(&self.environment),
            show(&self.event_name),
            show(&self.sub)
        )
    }
}

/// A fetched OIDC token and what it says.
#[derive(Debug, Clone)]
pub struct IdToken {
    pub jwt: Secret,
    pub audience: String,
    pub claims: Claims,
}

/// `GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=…` with the request token as
/// bearer; the JWT is the `value` field of the JSON answer.
pub async fn fetch_id_token(
    http: &Http,
    request: &OidcRequest,
    audience: &str,
) -> Result<IdToken, AuthError> {
    let url = request.url_for(audience)?;
    let response = http
        .send("GitHub OIDC token request", || {
            http.client
                .get(url.clone())
                .bearer_auth(request.token.expose())
                .header(reqwest::header::ACCEPT, "application/json")
        })
        .await?;
    let status = response.status;
    if !(200..300).contains(&status) {
        return Err(AuthError::OidcRejected {
            status,
            body: super::truncate(&response.body),
        });
    }
    let value = serde_json::from_str::<serde_json::Value>(&response.body)
        .ok()
        .and_then(|v| v.get("value").and_then(|t| t.as_str()).map(str::to_string))
        .filter(|t| !t.is_empty())
        .ok_or_else(|| AuthError::OidcMalformed {
            why: "the answer has no `value` field".into(),
        })?;
    let jwt = Secret::new(value);
    let claims = Claims::decode(jwt.expose()).map_err(|why| AuthError::OidcMalformed { why })?;
    Ok(IdToken {
        jwt,
        audience: audience.to_string(),
        claims,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: &str) -> String {
        let b = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.sig", b(r#"{"alg":"RS256"}"#), b(payload))
    }

    #[test]
    fn claims_decode_from_the_payload() {
        let c = Claims::decode(&jwt(
            r#"{"sub":"repo:o/r:environment:prod","aud":"a","repository":"o/r","ref":"refs/heads/main","environment":"prod","event_name":"push","workflow_ref":"o/r/.github/workflows/d.yml@refs/heads/main","exp":20,"iat":10}"#,
        ))
        .unwrap();
        assert_eq!(c.environment.as_deref(), Some("prod"));
        assert_eq!(c.git_ref.as_deref(), Some("refs/heads/main"));
        assert_eq!(c.exp, Some(20));
        let arr = Claims::decode(&jwt(r#"{"aud":["x","y"]}"#)).unwrap();
        assert_eq!(arr.aud.as_deref(), Some("x y"));
        for bad in ["abc", "a.!!!.c", &jwt("not json")] {
            assert!(Claims::decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn audience_is_added_to_the_existing_query() {
        let cases = [
            (
                "https://t.example/idtoken?api-version=2.0",
                "https://t.example/idtoken?api-version=2.0&audience=https%3A%2F%2Fiam.googleapis.com%2Fprojects%2F1",
            ),
            (
                "https://t.example/idtoken?audience=old&api-version=2.0",
                "https://t.example/idtoken?api-version=2.0&audience=https%3A%2F%2Fiam.googleapis.com%2Fprojects%2F1",
            ),
            (
                "http://127.0.0.1:1/oidc",
                "http://127.0.0.1:1/oidc?audience=https%3A%2F%2Fiam.googleapis.com%2Fprojects%2F1",
            ),
        ];
        for (base, want) in cases {
            let r = OidcRequest {
                url: base.into(),
                token: Secret::new("t"),
            };
            assert_eq!(
                r.url_for("https://iam.googleapis.com/projects/1")
                    .unwrap()
                    .as_str(),
                want
            );
        }
    }

    #[test]
    fn missing_variables_are_named() {
        let e = OidcRequest::from_lookup(|k| {
            (k == "ACTIONS_ID_TOKEN_REQUEST_URL").then(|| "http://x".to_string())
        })
        .unwrap_err();
        assert!(e.to_string().contains("ACTIONS_ID_TOKEN_REQUEST_TOKEN"));
        assert!(!e.to_string().contains("ACTIONS_ID_TOKEN_REQUEST_URL and"));
        assert!(e.hint().unwrap().contains("id-token: write"));
        assert!(e.hint().unwrap().contains("contents: write"));
    }
}
