//! The one place where text leaves the program: every line on stdout or
//! stderr, every workflow command and annotation, and (through
//! [`code_span`]) every job summary cell.
//!
//! We print text we did not write: values from manifests, registry and
//! git-server messages, Google's error descriptions, input values echoed in
//! errors. Inside GitHub Actions the runner reads each line we print and
//! obeys any that looks like a workflow command, so that text must never
//! become one. The runner's rules (actions/runner `ActionCommand.cs` and
//! `ProcessInvoker.cs`) decide what has to be escaped:
//!
//! - Lines end at LF, CR or CRLF (`StreamReader.ReadLine`), so a CR alone
//!   starts a new line too.
//! - A line is a command when, after leading white space, it starts with
//!   `::` and has a second `::` later (`::add-mask::x`, `::stop-commands::t`).
//! - The legacy form `##[name props]data` is a command *anywhere* in a
//!   line, no newline needed (`… ##[set-output name=x;]1`).
//!
//! So every piece of text goes through [`neutralise`]: control characters
//! (C0, DEL, C1, ANSI escapes), the Unicode line and paragraph separators
//! and the bidirectional overrides become visible escapes (`\n`, `\u{1b}`),
//! and in Actions every `::` becomes `:\:` and every `##[` becomes `##\[`,
//! wherever they are. Known secrets are replaced by `***` first (see
//! [`crate::secret`]), which also covers the terminal, where no mask exists.
//! Outside Actions the same printer keeps terminals safe from escape
//! sequences; only the command defusing is left out there.

use std::borrow::Cow;
use std::io::{self, Write};

/// Longest line we print; longer text is cut and says how much was left out.
pub const MAX_LINE: usize = 2000;
/// Longest foreign value shown inside one of our messages or a summary cell.
pub const MAX_VALUE: usize = 200;

/// Where a line goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Makes `text` safe to print as (part of) one line: known secrets become
/// `***`, control characters, line separators and bidirectional overrides
/// become visible escapes, and with `actions` no `::` or `##[` is left.
/// Idempotent, so a value made safe once may be made safe again with the
/// line it is put in.
pub fn neutralise(text: &str, actions: bool) -> String {
    escape(&crate::secret::redact(text), actions)
}

fn escape(text: &str, actions: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_hidden(c) => out.push_str(&c.escape_unicode().to_string()),
            ':' if actions && out.ends_with(':') => out.push_str("\\:"),
            '[' if actions && out.ends_with("##") => out.push_str("\\["),
            c => out.push(c),
        }
    }
    out
}

/// Characters that move the cursor, end a line somewhere, or reorder what
/// is shown: never printed as themselves.
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}'
                | '\u{2029}'
                | '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// Cuts `text` to `max` characters, saying how many were left out.
pub fn cut(text: &str, max: usize) -> Cow<'_, str> {
    match text.char_indices().nth(max) {
        None => Cow::Borrowed(text),
        Some((end, _)) => {
            let rest = text[end..].chars().count();
            Cow::Owned(format!("{}… ({rest} more characters)", &text[..end]))
        }
    }
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
pub fn line_revealing(stream: Stream, text: &str) {
    write_lines(stream, &[escape(&cut(text, MAX_LINE), in_actions())]);
}

/// Prints a JSON document on one line. serde_json already escapes control
/// characters; in Actions the `::`/`##[` that can only occur inside its
/// strings become `\u003a`/`\u005b`, which read back as the same string.
pub fn json(stream: Stream, value: &serde_json::Value) {
    write_lines(stream, &[safe_json(value, in_actions())]);
}

/// The one-line JSON text [`json`] prints.
pub fn safe_json(value: &serde_json::Value, actions: bool) -> String {
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

fn safe_line(text: &str, actions: bool) -> String {
    neutralise(&cut(text, MAX_LINE), actions)
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

/// A workflow command of ours, `::name k=v,…::data`: the name is ours, the
/// property values and each line of `data` are neutralised, then escaped
/// as the runner unescapes them. `data` lines are separated by `\n`.
pub fn command_line(name: &str, properties: &[(&str, &str)], data: &[String]) -> String {
    let props: Vec<String> = properties
        .iter()
        .map(|(k, v)| format!("{k}={}", escape_property(&safe_line(v, true))))
        .collect();
    let props = if props.is_empty() {
        String::new()
    } else {
        format!(" {}", props.join(","))
    };
    let data: Vec<String> = data
        .iter()
        .map(|l| escape_data(&safe_line(l, true)))
        .collect();
    format!("::{name}{props}::{}", data.join("%0A"))
}

/// Prints a workflow command line built by [`command_line`] (only inside
/// Actions; the caller checks).
pub fn command(line: &str) {
    write_lines(Stream::Stdout, &[line.to_string()]);
}

/// `::add-mask::value`: the one command whose data must reach the runner
/// exactly as the secret is, neither redacted nor defused.
pub fn mask_line(secret_line: &str) -> String {
    format!("::add-mask::{}", escape_data(secret_line))
}

/// Escapes a command's data as the runner unescapes it: `%`, CR, LF.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value, which additionally may not contain `:` or `,`.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// A Markdown code span holding `value` exactly, for the job summary: the
/// value is neutralised and cut first (a line break would end the table
/// row or the list item), the fence is one backtick longer than any run of
/// backticks inside, so nothing in the value can close it, and in a table
/// cell `|` is escaped because tables split cells before code spans.
/// Nothing inside a code span becomes a link, an image or HTML.
pub fn code_span(value: &str, in_table: bool) -> String {
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
    fn neutralise_leaves_no_line_break_control_or_command() {
        // (input, in actions, expected)
        let cases: &[(&str, bool, &str)] = &[
            ("v1.2.3", true, "v1.2.3"),
            (
                "v1\n::stop-commands::tok",
                true,
                "v1\\n:\\:stop-commands:\\:tok",
            ),
            ("v1\r::add-mask::x", true, "v1\\r:\\:add-mask:\\:x"),
            ("a\r\nb", true, "a\\r\\nb"),
            (
                "x ##[set-output name=pwned;]yes",
                true,
                "x ##\\[set-output name=pwned;]yes",
            ),
            ("###[error]x", true, "###\\[error]x"),
            (":::", true, ":\\:\\:"),
            ("  ::error::x", true, "  :\\:error:\\:x"),
            (
                "a\u{2028}b\u{2029}c\u{85}d",
                true,
                "a\\u{2028}b\\u{2029}c\\u{85}d",
            ),
            ("\u{1b}[31mred\u{1b}[0m", false, "\\u{1b}[31mred\\u{1b}[0m"),
            (
                "\u{1b}]8;;https://evil.example\u{7}x",
                false,
                "\\u{1b}]8;;https://evil.example\\u{7}x",
            ),
            ("tab\there", false, "tab\\there"),
            ("rtl\u{202e}txt", false, "rtl\\u{202e}txt"),
            ("%0A::x::y %25", true, "%0A:\\:x:\\:y %25"),
            ("[::1]:5000", false, "[::1]:5000"),
            ("[::1]:5000", true, "[:\\:1]:5000"),
            ("del\u{7f}", true, "del\\u{7f}"),
        ];
        for (input, actions, want) in cases {
            let got = neutralise(input, *actions);
            assert_eq!(&got, want, "{input:?}");
            assert_eq!(neutralise(&got, *actions), got, "idempotent: {input:?}");
            assert!(!got.contains(['\n', '\r', '\u{1b}', '\u{2028}']));
            if *actions {
                assert!(!got.contains("::") && !got.contains("##["), "{got}");
            }
        }
    }

    #[test]
    fn long_text_is_cut_and_says_how_much() {
        let long = "a".repeat(MAX_LINE + 5);
        assert_eq!(
            safe_line(&long, true),
            format!("{}… (5 more characters)", "a".repeat(MAX_LINE))
        );
        assert_eq!(cut("ééé", 2), "éé… (1 more characters)");
        assert_eq!(cut("short", 10), "short");
    }

    /// (command, properties, data lines, the line printed)
    type CommandCase<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [&'a str], &'a str);

    #[test]
    fn command_lines_escape_properties_and_keep_data_lines_ours() {
        let cases: &[CommandCase] = &[
            (
                "error",
                &[("file", "a,b:c.yaml"), ("line", "3")],
                &["bad\nyaml 100%"],
                "::error file=a%2Cb%3Ac.yaml,line=3::bad\\nyaml 100%25",
            ),
            ("notice", &[], &["plain"], "::notice::plain"),
            (
                "error",
                &[("title", "T: x")],
                &["msg ::add-mask::x", "hint: do ##[this]"],
                "::error title=T%3A x::msg :\\:add-mask:\\:x%0Ahint: do ##\\[this]",
            ),
        ];
        for (name, props, data, want) in cases {
            let data: Vec<String> = data.iter().map(|s| s.to_string()).collect();
            assert_eq!(&command_line(name, props, &data), want);
        }
    }

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
