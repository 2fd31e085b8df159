//! What can be wrong with one file's text: always at a place in it, so
//! every edit error is a [`Located`] problem (the place written once, not
//! in every variant). Errors of the files themselves (paths, sizes, reads,
//! writes) belong to the shell that reads them, `crate::workspace`.

use super::yaml::{self, Problem, ProblemKind};
pub(crate) use crate::location::Located;

/// A problem in a file's text, at the place where it is.
pub(crate) type EditError = Located<EditProblem>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditProblem {
    #[error("invalid YAML: {message}")]
    Yaml { message: String },
    #[error("duplicate key {key:?} (first at line {first_line})")]
    DuplicateKey { key: String, first_line: usize },
    #[error("expected {expected}, found {found}")]
    Shape {
        expected: &'static str,
        found: &'static str,
    },
    #[error("YAML nested deeper than {limit} levels")]
    TooDeep { limit: usize },
    #[error("the file is not valid UTF-8")]
    NotUtf8,
    #[error("the file contains a NUL byte")]
    NulByte,
    /// A value we would report or replace decodes to control characters
    /// (`"\0"`, `"\e[31m"`): no image has them, and printed raw they would
    /// reach logs, outputs and terminals.
    #[error("the value {value} holds a control character (a YAML escape); refusing to edit it")]
    ControlCharacter {
        /// Escaped for display.
        value: String,
    },
    /// The edited text would not read back as intended (it would not
    /// parse, or the same request on it would change something again): a
    /// shape the engine gets wrong, refused rather than written.
    #[error("refusing to write this edit: {what}")]
    Unstable { what: String },
    #[error("the {what} read here is not valid: {why}")]
    InvalidValue {
        what: &'static str,
        value: String,
        why: String,
    },
}

impl EditProblem {
    /// How to fix it.
    pub(crate) fn hint(&self) -> String {
        use EditProblem::*;
        match self {
            Yaml { .. } => "fix the YAML at that position (an unterminated quote, a tab in the indentation or a misaligned key are the usual causes); nothing was written".into(),
            DuplicateKey { key, .. } => format!("remove one of the {key:?} keys: tools disagree on which one wins"),
            Shape { expected, .. } => format!("this place must hold {expected}; fix the manifest or exclude the file from the paths"),
            TooDeep { .. } => "no manifest nests this deep; the file is probably generated or hostile, exclude it from the paths".into(),
            ControlCharacter { .. } => "an image reference is printable text; fix the value (or exclude the file from the paths); nothing was written".into(),
            Unstable { .. } => "gitops-bump cannot yet edit this shape safely; edit the value by hand and report the file (nothing was written)".into(),
            NotUtf8 | NulByte => "manifests must be UTF-8 text; re-encode the file or exclude it from the paths".into(),
            InvalidValue { .. } => "the value would be passed on to the step outputs, the log and the job summary; fix it in the manifest by hand (nothing was written, committed or pushed)".into(),
        }
    }

    /// Whether the file does not parse as YAML at all (rather than parsing
    /// into something we refuse): such a file may be passed over when it
    /// cannot mention any image being bumped.
    pub(crate) fn is_unparsable(&self) -> bool {
        matches!(self, EditProblem::Yaml { .. } | EditProblem::TooDeep { .. })
    }
}

/// The YAML layer's problem, placed in `file`.
pub(super) fn located(file: &str, p: Problem) -> EditError {
    let problem = match p.what {
        ProblemKind::Syntax(message) => EditProblem::Yaml { message },
        ProblemKind::TooDeep => EditProblem::TooDeep {
            limit: yaml::MAX_DEPTH,
        },
        ProblemKind::DuplicateKey { key, first_line } => {
            EditProblem::DuplicateKey { key, first_line }
        }
        ProblemKind::Shape { expected, found } => EditProblem::Shape { expected, found },
    };
    Located::new(file, p.pos.line, p.pos.col, problem)
}
