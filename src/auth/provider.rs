//! The `workload-identity-provider` input: its one valid shape, checked
//! locally so a typo fails with a precise message instead of an opaque
//! `invalid_request` from STS after a network round trip.

use std::fmt;

/// A validated provider resource name:
/// `projects/NUMBER/locations/global/workloadIdentityPools/POOL/providers/PROVIDER`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadIdentityProvider {
    pub project_number: String,
    pub pool: String,
    pub provider: String,
}

/// Why a provider name was refused; rendered into `AuthError::InvalidProvider`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProviderShapeError(pub String);

const IAM_PREFIXES: &[&str] = &[
    "https://iam.googleapis.com/",
    "http://iam.googleapis.com/",
    "//iam.googleapis.com/",
];

const SHAPE: &str =
    "projects/NUMBER/locations/global/workloadIdentityPools/POOL/providers/PROVIDER";

impl WorkloadIdentityProvider {
    /// Parses the input, explaining the first thing that is wrong.
    pub(crate) fn parse(input: &str) -> Result<Self, ProviderShapeError> {
        let value = input.trim();
        if let Some(prefix) = IAM_PREFIXES.iter().find(|p| value.starts_with(**p)) {
            return Err(ProviderShapeError(format!(
                "remove the `{prefix}` prefix: the input is the resource name alone ({SHAPE})"
            )));
        }
        if value.contains("://") {
            return Err(ProviderShapeError(format!(
                "expected a resource name ({SHAPE}), not a URL"
            )));
        }
        let parts: Vec<&str> = value.split('/').collect();
        let label = |i: usize| parts.get(i).copied().unwrap_or("");
        if label(0) != "projects" {
            return Err(ProviderShapeError(format!(
                "must start with `projects/` ({SHAPE})"
            )));
        }
        let number = label(1);
        if number.is_empty() {
            return Err(ProviderShapeError(format!(
                "the project number is missing ({SHAPE})"
            )));
        }
        if !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ProviderShapeError(format!(
                "`{number}` looks like a project ID; use the project NUMBER \
                 (`gcloud projects describe {number} --format='value(projectNumber)'`)"
            )));
        }
        if label(2) != "locations" {
            return Err(ProviderShapeError(format!(
                "expected `locations/global` after the project number ({SHAPE})"
            )));
        }
        if label(3) != "global" {
            return Err(ProviderShapeError(format!(
                "location is `{}`, but workload identity pools live in `global`",
                label(3)
            )));
        }
        if label(4) != "workloadIdentityPools" || label(5).is_empty() {
            return Err(ProviderShapeError(format!(
                "expected `workloadIdentityPools/POOL` after `locations/global` ({SHAPE})"
            )));
        }
        match (label(6), label(7)) {
            ("", _) => {
                return Err(ProviderShapeError(format!(
                    "this names a pool, not a provider: append `/providers/PROVIDER` \
                     (`gcloud iam workload-identity-pools providers list --workload-identity-pool={} --location=global`)",
                    label(5)
                )));
            }
            ("providers", p) if !p.is_empty() => {}
            (other, _) => {
                return Err(ProviderShapeError(format!(
                    "expected `providers/PROVIDER` after the pool, found `{other}` ({SHAPE})"
                )));
            }
        }
        if parts.len() > 8 {
            return Err(ProviderShapeError(format!(
                "unexpected text after the provider: `{}` ({SHAPE})",
                parts[8..].join("/")
            )));
        }
        for (what, id) in [("pool", label(5)), ("provider", label(7))] {
            if !id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                return Err(ProviderShapeError(format!(
                    "{what} ID `{id}` may only hold lowercase letters, digits and dashes"
                )));
            }
        }
        Ok(WorkloadIdentityProvider {
            project_number: number.to_string(),
            pool: label(5).to_string(),
            provider: label(7).to_string(),
        })
    }

    /// The audience STS expects: `//iam.googleapis.com/` + the resource name.
    pub(crate) fn sts_audience(&self) -> String {
        format!("//iam.googleapis.com/{self}")
    }

    /// The OIDC token audience the provider accepts by default (what
    /// google-github-actions/auth requests): `https://iam.googleapis.com/` +
    /// the resource name.
    pub(crate) fn default_oidc_audience(&self) -> String {
        format!("https://iam.googleapis.com/{self}")
    }

    /// The principal set to bind `roles/iam.workloadIdentityUser` to, for
    /// every workflow of one repository.
    pub(crate) fn repository_principal_set(&self, repository: &str) -> String {
        format!(
            "principalSet://iam.googleapis.com/projects/{}/locations/global/workloadIdentityPools/{}/attribute.repository/{repository}",
            self.project_number, self.pool
        )
    }
}

impl fmt::Display for WorkloadIdentityProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "projects/{}/locations/global/workloadIdentityPools/{}/providers/{}",
            self.project_number, self.pool, self.provider
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str =
        "projects/123456/locations/global/workloadIdentityPools/gh-pool/providers/gh-prov";

    #[test]
    fn a_valid_name_round_trips_and_builds_audiences() {
        let p = WorkloadIdentityProvider::parse(&format!("  {GOOD}\n")).unwrap();
        assert_eq!(p.to_string(), GOOD);
        assert_eq!(p.sts_audience(), format!("//iam.googleapis.com/{GOOD}"));
        assert_eq!(
            p.default_oidc_audience(),
            format!("https://iam.googleapis.com/{GOOD}")
        );
        assert_eq!(
            p.repository_principal_set("o/r"),
            "principalSet://iam.googleapis.com/projects/123456/locations/global/workloadIdentityPools/gh-pool/attribute.repository/o/r"
        );
    }

    #[test]
    fn each_wrong_shape_says_what_is_wrong() {
        let cases = [
            (
                format!("https://iam.googleapis.com/{GOOD}"),
                "remove the `https://iam.googleapis.com/` prefix",
            ),
            (
                format!("//iam.googleapis.com/{GOOD}"),
                "remove the `//iam.googleapis.com/` prefix",
            ),
            ("https://example.com/x".to_string(), "not a URL"),
            (
                "projects/my-proj/locations/global/workloadIdentityPools/p/providers/q".to_string(),
                "`my-proj` looks like a project ID; use the project NUMBER",
            ),
            (
                "projects/1/locations/global/workloadIdentityPools/gh-pool".to_string(),
                "this names a pool, not a provider",
            ),
            (
                "projects/1/locations/global/workloadIdentityPools/gh-pool/".to_string(),
                "this names a pool, not a provider",
            ),
            (
                "projects/1/locations/us-east1/workloadIdentityPools/p/providers/q".to_string(),
                "location is `us-east1`",
            ),
            (
                "pools/p/providers/q".to_string(),
                "must start with `projects/`",
            ),
            (
                "projects//locations/global".to_string(),
                "project number is missing",
            ),
            (
                "projects/1/global/workloadIdentityPools/p/providers/q".to_string(),
                "expected `locations/global`",
            ),
            (
                "projects/1/locations/global/workloadIdentityPools/p/attribute.repository/o/r"
                    .to_string(),
                "found `attribute.repository`",
            ),
            (
                "projects/1/locations/global/workloadIdentityPools/p/providers/q/extra".to_string(),
                "unexpected text after the provider: `extra`",
            ),
            (
                "projects/1/locations/global/workloadIdentityPools/P_ool/providers/q".to_string(),
                "pool ID `P_ool`",
            ),
        ];
        for (input, want) in cases {
            let got = WorkloadIdentityProvider::parse(&input).unwrap_err().0;
            assert!(got.contains(want), "{input}: {got}");
        }
    }
}
