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
