//! The outputs section: which step outputs and summary a run writes.

use super::{AuthOptions, EditOptions};

/// What the outputs stage writes besides the bump's own outputs.
#[derive(Debug, Clone)]
pub struct OutputOptions {
    /// `token-format: access_token`: the Google access token as the
    /// masked `access-token` output.
    pub access_token: bool,
    /// The job summary; a run that only authenticates writes none.
    pub summary: bool,
}

impl OutputOptions {
    pub(super) fn new(edit: &EditOptions, auth: &AuthOptions) -> Self {
        OutputOptions {
            access_token: auth.exposes_access_token(),
            summary: !super::only_authenticates(edit, auth),
        }
    }
}
