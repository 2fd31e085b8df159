//! A position in a file: a leaf that the edit engine and the top-level
//! error share, so neither imports the other (the edit core imports nothing
//! of the stages that call it).

/// A position in a file, 1-based, for messages and `::error file=…` annotations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub line: usize,
    pub col: usize,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

/// An error at a place in a file. The place is kept once, here, instead of
/// a `file`, `line` and `col` in every variant of the error it wraps (as
/// ripgrep's `ignore::Error::WithPath` wraps a path around any error). It
/// reads as the wrapped error alone: the place is shown beside it, as
/// `file:line:col: message` or as an annotation's `file=…,line=…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<E> {
    pub at: Location,
    pub error: E,
}

impl<E> Located<E> {
    pub(crate) fn new(file: impl Into<String>, line: usize, col: usize, error: E) -> Self {
        Located {
            at: Location {
                file: file.into(),
                line,
                col,
            },
            error,
        }
    }
}

impl<E: std::fmt::Display> std::fmt::Display for Located<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl<E: std::error::Error> std::error::Error for Located<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.source()
    }
}
