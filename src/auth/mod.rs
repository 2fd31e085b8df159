//! Keyless authentication: GitHub OIDC → Google STS → IAM impersonation, and
//! the gates that refuse untrusted events or the wrong environment.
//!
//! INTERFACE (fixed by the foundation; the auth issue fills it in).

use crate::config::GoogleAuth;
use crate::secret::Secret;

/// A Google access token with what we know about it.
#[derive(Debug, Clone)]
pub struct GoogleToken {
    pub access_token: Secret,
    /// RFC 3339 expiry, as Google reports it.
    pub expire_time: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("not implemented yet: Google Workload Identity Federation")]
    NotImplemented,
}

impl AuthError {
    pub fn hint(&self) -> Option<String> {
        None
    }
}

/// GitHub OIDC token → STS → optional impersonation.
pub async fn google(config: &GoogleAuth) -> Result<GoogleToken, AuthError> {
    let _ = config;
    Err(AuthError::NotImplemented)
}
