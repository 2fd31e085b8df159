//! The top-level error: what failed, where, and how to fix it.

use crate::actions::{Annotation, Level};
pub(crate) use crate::location::Location;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Spec(#[from] crate::spec::SpecError),
    #[error(transparent)]
    Reference(#[from] crate::reference::ReferenceError),
    #[error(transparent)]
    Edit(#[from] crate::workspace::WorkspaceError),
    #[error(transparent)]
    Registry(#[from] crate::registry::RegistryError),
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthError),
    #[error(transparent)]
    Git(#[from] crate::write_back::git::GitError),
    #[error(transparent)]
    WriteBack(crate::write_back::WriteBackError),
    #[error("gave up after {} s (input `timeout`): the run did not finish", .0.as_secs())]
    TimedOut(std::time::Duration),
    #[error(transparent)]
    ApiCommit(#[from] crate::write_back::api::ApiCommitError),
    #[error(transparent)]
    Guard(#[from] crate::guard::GuardError),
    /// Shared: the outputs keep the failure until they are written.
    #[error(transparent)]
    Deploy(std::sync::Arc<crate::deploy::DeployError>),
    #[error("cannot promote from {from}: {why}")]
    Promote { from: String, why: String },
    #[error(
        "cannot promote {image}:{tag}: in the registry {tag} is {tagged}, not the promoted build {promoted}"
    )]
    PromotedTag {
        image: String,
        tag: String,
        promoted: String,
        tagged: String,
    },
    /// A server's answer that is not what it claims to be; it would have
    /// become a step output and a summary cell.
    #[error("{from} answered a {what} that is not valid: {value:?} ({why})")]
    Answer {
        from: String,
        what: &'static str,
        value: String,
        why: String,
    },
    #[error("{0} is not implemented yet")]
    NotImplemented(&'static str),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

/// Exit codes, documented in `--help` and the README.
pub mod exit {
    pub const OK: i32 = 0;
    pub(crate) const FAILURE: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const DRIFT: i32 = 3;
}

impl From<crate::write_back::WriteBackError> for Error {
    fn from(e: crate::write_back::WriteBackError) -> Self {
        use crate::write_back::WriteBackError;
        match e {
            WriteBackError::Edit(e) => Error::Edit(e),
            WriteBackError::Promote(e) => match e.downcast::<Error>() {
                Ok(e) => *e,
                Err(e) => Error::WriteBack(WriteBackError::Promote(e)),
            },
            WriteBackError::Git(e) => Error::Git(e),
            WriteBackError::Api(e) => Error::ApiCommit(e),
            WriteBackError::Guard(e) => Error::Guard(e),
            other => Error::WriteBack(other),
        }
    }
}

impl From<crate::deploy::DeployError> for Error {
    fn from(e: crate::deploy::DeployError) -> Self {
        Error::Deploy(std::sync::Arc::new(e))
    }
}

impl Error {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// Usage errors (bad inputs, bad SPECs) exit 2; everything else 1.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Config(_) | Error::Spec(_) | Error::Reference(_) => exit::USAGE,
            Error::Auth(crate::auth::AuthError::InvalidProvider { .. }) => exit::USAGE,
            _ => exit::FAILURE,
        }
    }

    /// Where the problem is, when it is in a file.
    pub fn location(&self) -> Option<Location> {
        match self {
            // An edit run inside the write-back (either transport) fails
            // in the same file.
            Error::Edit(e) => e.location(),
            Error::WriteBack(e) => e.edit_error().and_then(|e| e.location()),
            _ => None,
        }
    }

    /// A sentence on how to fix it.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Edit(e) => e.hint(),
            Error::Registry(e) => e.hint(),
            Error::Auth(e) => e.hint(),
            Error::Git(e) => e.hint(),
            Error::WriteBack(e) => e.hint(),
            Error::TimedOut(_) => Some(
                "a server (git remote, registry or API) stopped answering; check it, or raise `timeout`. The branch holds either the old or the new commit, never a partial one".into(),
            ),
            Error::ApiCommit(e) => e.hint(),
            Error::Guard(e) => e.hint(),
            Error::Deploy(e) => e.hint(),
            Error::Promote { .. } => Some(
                "promote-from must name the overlay (a kustomization or workload files) that sets the images, inside the repository written (the checkout, or `repository`)".into(),
            ),
            Error::PromotedTag { image, tag, promoted, .. } => Some(format!(
                "tag the promoted build first ({image}@{promoted} as {tag}), promote another tag, or set promote-digest-only: true to write the digest without a tag"
            )),
            Error::Answer { .. } => Some(
                "a server answering this is broken or hostile; nothing was written, committed or pushed".into(),
            ),
            Error::NotImplemented(_) => Some(
                "this stage is planned; use the stages that exist or pin an older release".into(),
            ),
            _ => None,
        }
    }

    /// The annotation shown in the Actions run and on the file.
    pub fn annotation(&self) -> Annotation {
        // One annotation line per line of the message (a git server's
        // answer spans several); each is made safe by the printer.
        let message = self.to_string();
        let mut lines = message.split('\n');
        let mut a =
            Annotation::new(Level::Error, lines.next().unwrap_or_default()).titled("gitops-bump");
        for line in lines {
            a = a.with_line(line);
        }
        if let Some(h) = self.hint() {
            a = a.with_line(format!("hint: {h}"));
        }
        match self.location() {
            Some(l) => a.at(l.file, l.line, l.col),
            None => a,
        }
    }
}
