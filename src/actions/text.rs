//! Text the runner reads: which lines it obeys as workflow commands, and
//! how foreign text is kept from becoming one.
//!
//! The runner's rules (actions/runner `ActionCommand.cs` and
//! `ProcessInvoker.cs`):
//!
//! - Lines end at LF, CR or CRLF (`StreamReader.ReadLine`), so a CR alone
//!   starts a new line too.
//! - A line is a command when, after leading white space, it starts with
//!   `::` and has a second `::` later (`::add-mask::x`, `::stop-commands::t`).
//! - The legacy form `##[name props]data` is a command *anywhere* in a
//!   line, no newline needed (`… ##[set-output name=x;]1`).
//!
//! [`neutralise`] applies them, and keeps terminals safe from escape
//! sequences outside Actions; [`command_line`] builds the commands we do
//! mean to send. The printer uses both for every line that leaves the
//! program.

use std::borrow::Cow;

/// Longest line we print; longer text is cut and says how much was left out.
pub(crate) const MAX_LINE: usize = 2000;
/// Makes `text` safe to print as (part of) one line: known secrets become
/// `***`, control characters, line separators and bidirectional overrides
/// become visible escapes, and with `actions` no `::` or `##[` is left.
/// Idempotent, so a value made safe once may be made safe again with the
/// line it is put in.
pub(crate) fn neutralise(text: &str, actions: bool) -> String {
    escape(&crate::secret::redact(text), actions)
}

/// [`neutralise`] without the redaction, for the one line that shows a
/// secret the user asked to see.
pub(crate) fn escape(text: &str, actions: bool) -> String {
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
pub(crate) fn is_hidden(c: char) -> bool {
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
pub(crate) fn cut(text: &str, max: usize) -> Cow<'_, str> {
    match text.char_indices().nth(max) {
        None => Cow::Borrowed(text),
        Some((end, _)) => {
            let rest = text[end..].chars().count();
            Cow::Owned(format!("{}… ({rest} more characters)", &text[..end]))
        }
    }
}

/// One line of text made safe and cut to [`MAX_LINE`].
pub(crate) fn safe_line(text: &str, actions: bool) -> String {
    neutralise(&cut(text, MAX_LINE), actions)
}

/// A workflow command of ours, `::name k=v,…::data`: the name is ours, the
/// property values and each line of `data` are neutralised, then escaped
/// as the runner unescapes them. `data` lines are separated by `\n`.
pub(crate) fn command_line(name: &str, properties: &[(&str, &str)], data: &[String]) -> String {
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

/// `::add-mask::value`: the one command whose data must reach the runner
/// exactly as the secret is, neither redacted nor defused.
pub(crate) fn mask_line(secret_line: &str) -> String {
    format!("::add-mask::{}", escape_data(secret_line))
}

/// Escapes a command's data as the runner unescapes it: `%`, CR, LF.
pub(crate) fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value, which additionally may not contain `:` or `,`.
pub(crate) fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
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
}
