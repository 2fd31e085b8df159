//! Workflow commands, written to stdout as `::name props::value` lines.
//! Every line is built by [`text::command_line`], which makes the text in
//! it safe; this module only says which commands we send.

use std::io::{self, Write};

use super::in_actions;
use super::text;

/// Writes `::add-mask::` lines for a secret. Each line of a multi-line value
/// is masked on its own: the runner matches masks line by line.
pub(crate) fn write_mask(out: &mut impl Write, value: &str) -> io::Result<()> {
    for line in value.lines().map(str::trim).filter(|l| !l.is_empty()) {
        writeln!(out, "{}", text::mask_line(line))?;
    }
    out.flush()
}

/// Masks a secret in the Actions log; does nothing outside Actions.
pub fn mask(value: &str) {
    if in_actions() && !value.is_empty() {
        let _ = write_mask(&mut io::stdout().lock(), value);
    }
}

/// Severity of an annotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
    Notice,
}

impl Level {
    fn command(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Notice => "notice",
        }
    }
}

/// An annotation on a file position, shown in the run and on the diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    pub level: Level,
    /// One entry per line; a line break inside an entry is foreign text
    /// and is shown escaped.
    pub message: Vec<String>,
    pub title: Option<String>,
    pub file: Option<String>,
    pub line: Option<usize>,
    pub col: Option<usize>,
}

impl Annotation {
    pub(crate) fn new(level: Level, message: impl Into<String>) -> Self {
        Annotation {
            level,
            message: vec![message.into()],
            title: None,
            file: None,
            line: None,
            col: None,
        }
    }

    pub(crate) fn at(mut self, file: impl Into<String>, line: usize, col: usize) -> Self {
        self.file = Some(file.into());
        self.line = Some(line);
        self.col = Some(col);
        self
    }

    pub(crate) fn titled(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Adds a line (a hint) below the message.
    pub(crate) fn with_line(mut self, line: impl Into<String>) -> Self {
        self.message.push(line.into());
        self
    }

    /// The `::error file=…,line=…::message` line.
    pub(crate) fn command_line(&self) -> String {
        let (line, col) = (
            self.line.map(|l| l.to_string()),
            self.col.map(|c| c.to_string()),
        );
        let props: Vec<(&str, &str)> = [
            ("title", self.title.as_deref()),
            ("file", self.file.as_deref()),
            ("line", line.as_deref()),
            ("col", col.as_deref()),
        ]
        .into_iter()
        .filter_map(|(k, v)| Some((k, v?)))
        .collect();
        text::command_line(self.level.command(), &props, &self.message)
    }
}

/// Emits an annotation in Actions; outside it the caller's plain message is
/// enough, so nothing is printed.
pub fn annotate(annotation: &Annotation) {
    if in_actions() {
        write_command(&annotation.command_line());
    }
}

/// Writes one command line to stdout; a closed pipe is not an error worth
/// dying for.
fn write_command(line: &str) {
    let mut out = io::stdout().lock();
    let _ = out
        .write_all(format!("{line}\n").as_bytes())
        .and_then(|()| out.flush());
}

/// A log group that closes when dropped. Outside Actions it prints the title
/// as a plain heading on stderr.
pub struct Group {
    active: bool,
}

pub fn group(title: &str) -> Group {
    if in_actions() {
        write_command(&text::command_line("group", &[], &[title.to_string()]));
        Group { active: true }
    } else {
        Group { active: false }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if self.active {
            write_command("::endgroup::");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotation_lines_escape_values_and_properties() {
        let cases = [
            (
                Annotation::new(Level::Error, "bad\nyaml 100%").at("a,b:c.yaml", 3, 7),
                "::error file=a%2Cb%3Ac.yaml,line=3,col=7::bad\\nyaml 100%25",
            ),
            (Annotation::new(Level::Notice, "plain"), "::notice::plain"),
            (
                Annotation::new(Level::Warning, "w\r\n").titled("T: x"),
                "::warning title=T%3A x::w\\r\\n",
            ),
            (
                Annotation::new(Level::Error, "bad ::set-output name=x::1")
                    .with_line("hint: ##[add-mask]x"),
                "::error::bad :\\:set-output name=x:\\:1%0Ahint: ##\\[add-mask]x",
            ),
        ];
        for (a, want) in cases {
            assert_eq!(a.command_line(), want);
        }
    }

    #[test]
    fn masks_each_line_of_a_multiline_secret() {
        let mut out = Vec::new();
        write_mask(
            &mut out,
            "-----BEGIN KEY-----\nabc%def\n\n-----END KEY-----\n",
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "::add-mask::-----BEGIN KEY-----\n::add-mask::abc%25def\n::add-mask::-----END KEY-----\n"
        );
    }
}
