//! The one place where text leaves the program: every line on stdout or
//! stderr, and (through [`code_span`]) every job summary cell. Workflow
//! commands and annotations are written by [`crate::actions`], built with
//! the same [`neutralise`].
//!
//! We print text we did not write: values from manifests, registry and
//! git-server messages, Google's error descriptions, input values echoed in
//! errors. Inside GitHub Actions the runner reads each line we print and
//! obeys any that looks like a workflow command, so that text must never
//! become one. The runner's rules decide what has to be escaped; they are
//! listed in [`crate::actions::text`], next to the code that applies them,
//! because the Actions runtime is a leaf that cannot use this printer.
//!
//! So every piece of text goes through [`neutralise`]: control characters
//! (C0, DEL, C1, ANSI escapes), the Unicode line and paragraph separators
//! and the bidirectional overrides become visible escapes (`\n`, `\u{1b}`),
//! and in Actions every `::` becomes `:\:` and every `##[` becomes `##\[`,
//! wherever they are. Known secrets are replaced by `***` first (see
//! [`crate::secret`]), which also covers the terminal, where no mask exists.
//! Outside Actions the same printer keeps terminals safe from escape
//! sequences; only the command defusing is left out there.

use std::io::{self, Write};

pub(crate) use crate::actions::text::{MAX_LINE, cut, is_hidden, neutralise};
use crate::actions::text::{escape, safe_line};

/// Longest foreign value shown inside one of our messages or a summary cell.
pub(crate) const MAX_VALUE: usize = 200;

/// Where a line goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// A foreign value (a tag from a manifest, a server's message) made safe
/// and short enough to put inside one of our messages.
pub fn value(text: &str) -> String {
    neutralise(&cut(text, MAX_VALUE), in_actions())
}

fn in_actions() -> bool {
    crate::actions::in_actions()
}

/// Prints `text` as one line: a line break inside it is foreign and is
/// shown escaped.
pub fn line(stream: Stream, text: &str) {
    write_lines(stream, &[safe_line(text, in_actions())]);
}

/// Prints a block of lines (a diff, a help text): each `\n`-separated
/// line is made safe on its own.
pub fn lines(stream: Stream, text: &str) {
    let actions = in_actions();
    let text = text.strip_suffix('\n').unwrap_or(text);
    let safe: Vec<String> = text.split('\n').map(|l| safe_line(l, actions)).collect();
    write_lines(stream, &safe);
}

/// Prints a message that may span lines (an error quoting what a git
/// server said): the first line after `prefix`, the others indented below
/// it, each made safe on its own.
pub fn message(stream: Stream, prefix: &str, text: &str) {
    let actions = in_actions();
    let safe: Vec<String> = text
        .split('\n')
        .enumerate()
        .map(|(i, l)| {
            let lead = if i == 0 { prefix } else { "  " };
            safe_line(&format!("{lead}{l}"), actions)
        })
        .collect();
    write_lines(stream, &safe);
}

/// Prints one line that shows a secret the user asked to see (the
/// `access-token` output outside Actions): made safe as usual, but not
/// redacted.
pub(crate) fn line_revealing(stream: Stream, text: &str) {
    write_lines(stream, &[escape(&cut(text, MAX_LINE), in_actions())]);
}

/// Prints a JSON document on one line. serde_json already escapes control
/// characters; in Actions the `::`/`##[` that can only occur inside its
/// strings become `\u003a`/`\u005b`, which read back as the same string.
pub fn json(stream: Stream, value: &serde_json::Value) {
    write_lines(stream, &[safe_json(value, in_actions())]);
}

/// The one-line JSON text [`json`] prints.
pub(crate) fn safe_json(value: &serde_json::Value, actions: bool) -> String {
    let text = serde_json::to_string(value).unwrap_or_else(|_| "null".into());
    let text = crate::secret::redact(&text);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            c if is_hidden(c) => out.push_str(&format!("\\u{:04x}", c as u32)),
            ':' if actions && out.ends_with(':') => out.push_str("\\u003a"),
            '[' if actions && out.ends_with("##") => out.push_str("\\u005b"),
            c => out.push(c),
        }
    }
    out
}

/// Writes finished lines; a closed pipe is not an error worth dying for.
fn write_lines(stream: Stream, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    let _ = match stream {
        Stream::Stdout => {
            let mut out = io::stdout().lock();
            out.write_all(text.as_bytes()).and_then(|()| out.flush())
        }
        Stream::Stderr => io::stderr().lock().write_all(text.as_bytes()),
    };
}

/// A Markdown code span holding `value` exactly, for the job summary: the
/// value is neutralised and cut first (a line break would end the table
/// row or the list item), the fence is one backtick longer than any run of
/// backticks inside, so nothing in the value can close it, and in a table
/// cell `|` is escaped because tables split cells before code spans.
/// Nothing inside a code span becomes a link, an image or HTML.
pub(crate) fn code_span(value: &str, in_table: bool) -> String {
    let mut text = neutralise(&cut(value, MAX_VALUE), false);
    if in_table {
        text = text.replace('|', "\\|");
    }
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    // One space on each side is stripped by the renderer; it keeps a
    // leading or trailing backtick from joining the fence.
    let pad = if text.starts_with(['`', ' ']) || text.ends_with(['`', ' ']) {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// A `MakeWriter` for `tracing`: each log event is printed through
/// [`lines`], so debug logs of server answers are made safe too.
pub struct LogWriter;

/// One event's text, printed when the event is complete.
pub struct LogEvent(Vec<u8>);

impl Write for LogEvent {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for LogEvent {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            lines(Stream::Stderr, &String::from_utf8_lossy(&self.0));
        }
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogEvent;

    fn make_writer(&'a self) -> LogEvent {
        LogEvent(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_stays_valid_and_reads_back_the_same() {
        let v = serde_json::json!({
            "old": "v1\n::set-output name=pwned::1 ##[add-mask]x \u{2028}\u{1b}[0m",
        });
        let text = safe_json(&v, true);
        assert!(!text.contains("::") && !text.contains("##[") && !text.contains('\u{2028}'));
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn code_spans_hold_any_value() {
        let cases: &[(&str, bool, &str)] = &[
            ("v1", true, "`v1`"),
            ("a`b", true, "``a`b``"),
            ("`x`", false, "`` `x` ``"),
            ("a|b", true, "`a\\|b`"),
            ("a|b", false, "`a|b`"),
            (
                "v1\n\n[x](https://e.example)",
                false,
                "`v1\\n\\n[x](https://e.example)`",
            ),
        ];
        for (value, table, want) in cases {
            assert_eq!(&code_span(value, *table), want, "{value:?}");
        }
    }
}
