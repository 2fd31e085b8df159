//! Byte-level editing: render a new scalar in the style of the one it
//! replaces, and splice edits into the original bytes.

use saphyr_parser::ScalarStyle;

use super::yaml::{Node, Pos};

/// Replace `start..end` of the text with `text` (an insertion when empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Splice {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

impl Splice {
    pub(crate) fn insert(at: usize, text: String) -> Self {
        Splice {
            start: at,
            end: at,
            text,
        }
    }
}

/// Applies non-overlapping splices (in any order) to `original`.
pub(crate) fn apply_splices(original: &str, splices: &mut [Splice]) -> String {
    splices.sort_by_key(|s| (s.start, s.end));
    let mut out = String::with_capacity(original.len() + 64);
    let mut at = 0;
    for s in splices.iter() {
        out.push_str(&original[at..s.start]);
        out.push_str(&s.text);
        at = s.end;
    }
    out.push_str(&original[at..]);
    out
}

/// Whether two splices touch the same bytes (two insertions at one point
/// also conflict: their order would be arbitrary).
pub(crate) fn overlaps(a: &Splice, b: &Splice) -> bool {
    a.start < b.end && b.start < a.end
        || (a.start == b.start && (a.start == a.end || b.start == b.end))
}

/// The line break the file uses, for inserted lines.
pub(crate) fn line_break(text: &str) -> &'static str {
    match memchr::memchr(b'\n', text.as_bytes()) {
        Some(i) if i > 0 && text.as_bytes()[i - 1] == b'\r' => "\r\n",
        _ => "\n",
    }
}

/// The byte offset where the line holding the last character before `end`
/// stops (before its line break), so an insertion there lands after any
/// trailing comment.
pub(crate) fn end_of_line(text: &str, end: usize) -> usize {
    let bytes = text.as_bytes();
    let mut last = end;
    while last > 0 && matches!(bytes[last - 1], b'\n' | b'\r') {
        last -= 1;
    }
    match memchr::memchr(b'\n', &bytes[last..]) {
        Some(i) => {
            let nl = last + i;
            if nl > 0 && bytes[nl - 1] == b'\r' {
                nl - 1
            } else {
                nl
            }
        }
        None => text.len(),
    }
}

/// The scalar `value` rendered to replace `node`: same quote character when
/// it was quoted; plain stays plain unless the value would then read as
/// something else (a number, a bool, a comment), then double quotes.
pub(crate) fn render_like(node: &Node<'_>, value: &str, in_flow: bool) -> String {
    match node.style() {
        Some(ScalarStyle::SingleQuoted) => single_quoted(value),
        Some(ScalarStyle::DoubleQuoted) => double_quoted(value),
        Some(ScalarStyle::Literal | ScalarStyle::Folded) => value.to_string(),
        _ => render_plain_or_quoted(value, in_flow),
    }
}

/// A new scalar: plain when that reads back as the same string.
pub(crate) fn render_plain_or_quoted(value: &str, in_flow: bool) -> String {
    if plain_is_safe(value, in_flow) {
        value.to_string()
    } else {
        double_quoted(value)
    }
}

pub(crate) fn single_quoted(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

pub(crate) fn double_quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether `value` written plain parses back as the same string, in both
/// YAML 1.2 and the YAML 1.1 that Go tools (kustomize, Helm) still speak.
fn plain_is_safe(value: &str, in_flow: bool) -> bool {
    let Some(first) = value.chars().next() else {
        return false;
    };
    if value.trim() != value || value.contains(['\n', '\r', '\t']) {
        return false;
    }
    if "-?:,[]{}#&*!|>'\"%@`".contains(first)
        && !(matches!(first, '-' | '?' | ':') && value.len() > 1 && !value[1..].starts_with(' '))
    {
        return false;
    }
    if value.contains(": ") || value.contains(" #") || value.ends_with(':') {
        return false;
    }
    if in_flow && value.contains([',', '[', ']', '{', '}']) {
        return false;
    }
    !reads_as_non_string(value)
}

/// Plain scalars that YAML 1.1 or 1.2 resolve to null, bool or a number.
fn reads_as_non_string(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "~" | "null"
            | "true"
            | "false"
            | "yes"
            | "no"
            | "y"
            | "n"
            | "on"
            | "off"
            | ".inf"
            | "-.inf"
            | "+.inf"
            | ".nan"
    ) {
        return true;
    }
    let body = lower.strip_prefix(['-', '+']).unwrap_or(&lower);
    if body.is_empty() {
        return false;
    }
    if let Some(hex) = body.strip_prefix("0x") {
        return !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit() || b == b'_');
    }
    if let Some(oct) = body.strip_prefix("0o") {
        return !oct.is_empty() && oct.bytes().all(|b| (b'0'..=b'7').contains(&b));
    }
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'_');
    // Integers, YAML 1.1 sexagesimal (`12:30`), then floats (`1.5`, `.5`, `1e3`).
    if digits(body) || (body.contains(':') && body.split(':').all(digits)) {
        return true;
    }
    let (mantissa, exponent) = match body.split_once('e') {
        Some((m, e)) => (m, Some(e.strip_prefix(['-', '+']).unwrap_or(e))),
        None => (body, None),
    };
    if exponent.is_some_and(|e| !digits(e)) {
        return false;
    }
    match mantissa.split_once('.') {
        Some((int, frac)) => {
            (int.is_empty() || digits(int))
                && (frac.is_empty() || digits(frac))
                && !(int.is_empty() && frac.is_empty())
        }
        None => digits(mantissa),
    }
}

/// A splice replacing `node`'s text with `value` in the same style.
pub(crate) fn replace_scalar(text: &str, node: &Node<'_>, value: &str, in_flow: bool) -> Splice {
    let (start, end) = scalar_bytes(text, node);
    Splice {
        start,
        end,
        text: render_like(node, value, in_flow),
    }
}

/// The bytes of a scalar's text. A block scalar (`|`, `>-`) starts at its
/// content; of one content line, only that line's text is replaced, so
/// its line break and what follows stay.
fn scalar_bytes(text: &str, node: &Node<'_>) -> (usize, usize) {
    let (start, end) = (node.start.byte, node.end.byte);
    if !matches!(
        node.style(),
        Some(ScalarStyle::Literal | ScalarStyle::Folded)
    ) {
        return (start, end);
    }
    let Some(whole) = text.get(start..end) else {
        return (start, end);
    };
    let (line, rest) = whole.split_once('\n').unwrap_or((whole, ""));
    if rest.trim().is_empty() {
        (start, start + line.trim_end().len())
    } else {
        (start, end)
    }
}

/// Spaces to indent a line to `col` (1-based).
pub(crate) fn indent(col: usize) -> String {
    " ".repeat(col.saturating_sub(1))
}

/// The column (1-based) of the `-` that introduces a block sequence item
/// starting at `item`.
pub(crate) fn dash_column(text: &str, item: Pos) -> Option<usize> {
    let line_start = text[..item.byte].rfind('\n').map_or(0, |i| i + 1);
    let before = &text[line_start..item.byte];
    let dash = before.trim_end().strip_suffix('-')?;
    Some(dash.chars().count() + 1)
}

/// A splice setting a scalar (or an empty `key:`) to `value`; `None` when it
/// already holds it. A node that is not a scalar cannot be set.
pub(crate) fn set_scalar(
    text: &str,
    node: &Node<'_>,
    value: &str,
    in_flow: bool,
) -> Option<Splice> {
    // Emptying a null (`~`, `null`) leaves it: it already holds nothing.
    if value.is_empty() && node.is_null() {
        return None;
    }
    if node.is_empty_null() {
        if value.is_empty() {
            return None;
        }
        return Some(Splice {
            start: node.start.byte,
            end: node.start.byte,
            text: format!(" {}", render_plain_or_quoted(value, in_flow)),
        });
    }
    match node.as_str() {
        Some(v) if v == value => None,
        Some(_) => Some(replace_scalar(text, node, value, in_flow)),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_values_that_would_change_type_get_quoted() {
        let cases = [
            ("v1.2.3", "v1.2.3"),
            ("1.27", "\"1.27\""),
            ("1.10", "\"1.10\""),
            ("10", "\"10\""),
            ("1e3", "\"1e3\""),
            ("yes", "\"yes\""),
            ("null", "\"null\""),
            ("", "\"\""),
            ("1.2.3", "1.2.3"),
            ("latest", "latest"),
            ("sha256:abc", "sha256:abc"),
            ("ghcr.io/o/app:1.0@sha256:ab", "ghcr.io/o/app:1.0@sha256:ab"),
            ("-x", "-x"),
            ("@x", "\"@x\""),
            ("0x1f", "\"0x1f\""),
            ("12:30", "\"12:30\""),
        ];
        for (value, want) in cases {
            assert_eq!(render_plain_or_quoted(value, false), want, "{value}");
        }
        assert_eq!(render_plain_or_quoted("a,b", true), "\"a,b\"");
    }

    #[test]
    fn quoting_escapes() {
        assert_eq!(single_quoted("it's"), "'it''s'");
        assert_eq!(double_quoted("a\"b\\c"), "\"a\\\"b\\\\c\"");
    }

    #[test]
    fn splices_apply_in_any_order() {
        let mut s = vec![
            Splice {
                start: 6,
                end: 7,
                text: "Z".into(),
            },
            Splice {
                start: 0,
                end: 0,
                text: ">".into(),
            },
            Splice {
                start: 2,
                end: 3,
                text: "".into(),
            },
        ];
        assert_eq!(apply_splices("abcdefgh", &mut s), ">abdefZh");
    }

    #[test]
    fn end_of_line_skips_trailing_comments() {
        let t = "a: b # c\r\nd: e";
        assert_eq!(end_of_line(t, 4), 8);
        assert_eq!(end_of_line(t, t.len()), t.len());
        assert_eq!(line_break(t), "\r\n");
    }
}
