//! A span-aware YAML tree: just enough structure to find scalars and where
//! they are, built from `saphyr-parser` events. Nothing is ever serialized
//! back; edits splice the original bytes.
//!
//! Aliases of collections stay aliases (never expanded, so alias bombs cost
//! nothing; an alias of a short scalar shares the anchored node, never a
//! copy of its text, so memory grows with the input's size and not with
//! the number of aliases times the scalar's length), depth
//! is capped (so a 10,000-level document cannot exhaust the stack of the
//! recursive visitors), and duplicate keys are reported when a lookup meets
//! them, which is where they matter.

use std::borrow::Cow;
use std::collections::HashMap;
use std::rc::Rc;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

/// Deeper than any real manifest; far below what recursion can afford.
pub(crate) const MAX_DEPTH: usize = 200;

/// Aliases of scalars up to this size resolve to the anchored text (image
/// references are short); longer ones stay opaque, so aliasing a large
/// scalar many times costs nothing.
const MAX_ALIASED_SCALAR: usize = 1024;

/// A position: byte offset into the text, 1-based line and 1-based column
/// (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Pos {
    pub byte: usize,
    pub line: usize,
    pub col: usize,
}

#[derive(Debug)]
pub(crate) struct Node<'a> {
    pub start: Pos,
    /// End of the node's own text: for block collections, the end of the last
    /// child (not the position of the next token, which may be lines later).
    pub end: Pos,
    pub kind: Kind<'a>,
}

#[derive(Debug)]
pub(crate) enum Kind<'a> {
    Scalar {
        value: Cow<'a, str>,
        style: ScalarStyle,
    },
    Mapping {
        entries: Vec<(Node<'a>, Node<'a>)>,
        flow: bool,
    },
    Sequence {
        items: Vec<Node<'a>>,
        flow: bool,
    },
    /// `*name`. When the anchor is a short scalar, the anchored node
    /// (shared: a million aliases of one scalar hold one copy of its text),
    /// so an `image: *img` can edit the anchored text; collections are
    /// never copied (that is what makes alias bombs expensive).
    Alias {
        scalar: Option<Rc<Node<'a>>>,
    },
}

/// What is wrong with the YAML, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub pos: Pos,
    pub what: ProblemKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ProblemKind {
    Syntax(String),
    TooDeep,
    DuplicateKey {
        key: String,
        first_line: usize,
    },
    Shape {
        expected: &'static str,
        found: &'static str,
    },
}

impl Problem {
    pub(crate) fn shape(node: &Node<'_>, expected: &'static str) -> Self {
        Problem {
            pos: node.start,
            what: ProblemKind::Shape {
                expected,
                found: node.describe(),
            },
        }
    }
}

pub(crate) struct Document<'a> {
    pub root: Node<'a>,
}

impl<'a> Node<'a> {
    pub(crate) fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// The anchored scalar behind an alias, or the node itself.
    pub(crate) fn resolved(&self) -> &Node<'a> {
        match &self.kind {
            Kind::Alias {
                scalar: Some(target),
            } => target,
            _ => self,
        }
    }

    fn copy_scalar(&self) -> Node<'a> {
        let kind = match &self.kind {
            Kind::Scalar { value, style } => Kind::Scalar {
                value: value.clone(),
                style: *style,
            },
            _ => Kind::Alias { scalar: None },
        };
        Node {
            start: self.start,
            end: self.end,
            kind,
        }
    }

    pub(crate) fn style(&self) -> Option<ScalarStyle> {
        match &self.kind {
            Kind::Scalar { style, .. } => Some(*style),
            _ => None,
        }
    }

    pub(crate) fn entries(&self) -> Option<&[(Node<'a>, Node<'a>)]> {
        match &self.kind {
            Kind::Mapping { entries, .. } => Some(entries),
            _ => None,
        }
    }

    pub(crate) fn items(&self) -> Option<&[Node<'a>]> {
        match &self.kind {
            Kind::Sequence { items, .. } => Some(items),
            _ => None,
        }
    }

    pub(crate) fn is_flow(&self) -> bool {
        matches!(
            self.kind,
            Kind::Mapping { flow: true, .. } | Kind::Sequence { flow: true, .. }
        )
    }

    /// A null written as nothing at all (`key:`), the only null we may fill in.
    pub(crate) fn is_empty_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar { value, style: ScalarStyle::Plain } if value.is_empty())
    }

    /// A plain null (`key:`, `~`, `null`): no value, whatever its spelling.
    pub(crate) fn is_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar { value, style: ScalarStyle::Plain }
            if matches!(value.as_ref(), "" | "~" | "null" | "Null" | "NULL"))
    }

    pub(crate) fn describe(&self) -> &'static str {
        match &self.kind {
            Kind::Scalar { .. } => {
                if self.is_null() {
                    "null"
                } else {
                    "a scalar"
                }
            }
            Kind::Mapping { .. } => "a mapping",
            Kind::Sequence { .. } => "a list",
            Kind::Alias { .. } => "an alias",
        }
    }

    /// Index of the entry whose key is the plain string `key`; a second such
    /// key is an error, since which one wins differs between tools.
    pub(crate) fn index_of(&self, key: &str) -> Result<Option<usize>, Problem> {
        let Some(entries) = self.entries() else {
            return Ok(None);
        };
        let mut found: Option<usize> = None;
        for (i, (k, _)) in entries.iter().enumerate() {
            if k.as_str() == Some(key) {
                if let Some(first) = found {
                    return Err(Problem {
                        pos: k.start,
                        what: ProblemKind::DuplicateKey {
                            key: key.to_string(),
                            first_line: entries[first].0.start.line,
                        },
                    });
                }
                found = Some(i);
            }
        }
        Ok(found)
    }

    /// The value under `key` in a mapping (`None` for other nodes).
    pub(crate) fn get(&self, key: &str) -> Result<Option<&Node<'a>>, Problem> {
        Ok(self
            .index_of(key)?
            .and_then(|i| self.entries().map(|e| &e[i].1)))
    }

    /// The string under `key`, if it is a scalar.
    pub(crate) fn get_str(&self, key: &str) -> Result<Option<&str>, Problem> {
        Ok(self.get(key)?.and_then(Node::as_str))
    }
}

/// Converts the parser's character indices to byte offsets. Markers arrive
/// nearly in order, so a moving cursor makes this linear overall.
struct ByteIndex<'t> {
    text: &'t str,
    ascii: bool,
    char_at: usize,
    byte_at: usize,
}

impl<'t> ByteIndex<'t> {
    fn new(text: &'t str) -> Self {
        ByteIndex {
            text,
            ascii: text.is_ascii(),
            char_at: 0,
            byte_at: 0,
        }
    }

    fn byte(&mut self, char_index: usize) -> usize {
        if self.ascii {
            return char_index.min(self.text.len());
        }
        while self.char_at < char_index {
            match self.text[self.byte_at..].chars().next() {
                Some(c) => {
                    self.byte_at += c.len_utf8();
                    self.char_at += 1;
                }
                None => break,
            }
        }
        while self.char_at > char_index {
            match self.text[..self.byte_at].chars().next_back() {
                Some(c) => {
                    self.byte_at -= c.len_utf8();
                    self.char_at -= 1;
                }
                None => break,
            }
        }
        self.byte_at
    }
}

enum Open<'a> {
    Mapping {
        start: Pos,
        flow: bool,
        entries: Vec<(Node<'a>, Node<'a>)>,
        key: Option<Node<'a>>,
    },
    Sequence {
        start: Pos,
        flow: bool,
        items: Vec<Node<'a>>,
    },
}

/// Parses every document of `text` (which must not start with a BOM).
pub(crate) fn parse(text: &str) -> Result<Vec<Document<'_>>, Problem> {
    let mut docs = Vec::new();
    for_each_document(text, |root| {
        docs.push(Document { root });
        Ok(())
    })?;
    Ok(docs)
}

/// Parses `text` one document at a time, so memory holds one document's
/// tree however many documents the file has.
///
/// YAML that kubectl, kustomize, Helm and PyYAML (libyaml) all accept but
/// the parser refuses is read anyway: a flow collection or a quoted scalar
/// whose continuation line (typically the closing `]` or `"`) sits at the
/// parent key's indentation. Such a line is parsed as if indented further,
/// which changes no value (inside a flow collection or a quoted scalar,
/// leading blanks are only separation), and positions are mapped back to
/// the original text. Block structure is never re-indented: an error there
/// stays an error.
pub(crate) fn for_each_document<'a>(
    text: &'a str,
    mut visit: impl FnMut(Node<'a>) -> Result<(), Problem>,
) -> Result<(), Problem> {
    let mut shadow = Shadow::default();
    // Documents already visited in an earlier attempt: the repairs come
    // after them, so they parse the same and are not visited twice.
    let mut visited = 0;
    loop {
        let outcome = if shadow.is_empty() {
            build(text, text, &shadow, |v| v, &mut visited, &mut visit)
        } else {
            let input = shadow.apply(text);
            build(
                text,
                &input,
                &shadow,
                |v| Cow::Owned(v.into_owned()),
                &mut visited,
                &mut visit,
            )
        };
        match outcome {
            Ok(()) => return Ok(()),
            Err(Stop::Visit(problem)) => return Err(problem),
            Err(Stop::Syntax(problem, repair)) => {
                if !repair.is_some_and(|r| shadow.accept(r)) {
                    return Err(problem);
                }
            }
        }
    }
}

/// Why one parse attempt stopped.
enum Stop {
    /// The visitor's own problem: final.
    Visit(Problem),
    /// The parser refused the text, with the re-indentation that would let
    /// it read on when the refusal is one of the lenient cases.
    Syntax(Problem, Option<Vec<Indent>>),
}

/// Spaces to add at the start of a line, in the original text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Indent {
    line_start: usize,
    line: usize,
    spaces: usize,
}

/// Repairs never exceed this many lines (each costs a parse).
const MAX_REPAIRED_LINES: usize = 1000;

/// The re-indented copy of a text: which lines got how many spaces.
#[derive(Default)]
struct Shadow {
    /// Sorted by `line_start`; one entry per line.
    indents: Vec<Indent>,
}

impl Shadow {
    fn is_empty(&self) -> bool {
        self.indents.is_empty()
    }

    /// Takes the repairs unless one touches a line repaired before (no
    /// progress) or there would be too many.
    fn accept(&mut self, repair: Vec<Indent>) -> bool {
        if repair.is_empty()
            || self.indents.len() + repair.len() > MAX_REPAIRED_LINES
            || repair.iter().any(|r| self.spaces_on(r.line) > 0)
        {
            return false;
        }
        self.indents.extend(repair);
        self.indents.sort_by_key(|i| i.line_start);
        true
    }

    fn spaces_on(&self, line: usize) -> usize {
        self.indents
            .iter()
            .find(|i| i.line == line)
            .map_or(0, |i| i.spaces)
    }

    fn apply(&self, text: &str) -> String {
        let added: usize = self.indents.iter().map(|i| i.spaces).sum();
        let mut out = String::with_capacity(text.len() + added);
        let mut at = 0;
        for i in &self.indents {
            out.push_str(&text[at..i.line_start]);
            out.extend(std::iter::repeat_n(' ', i.spaces));
            at = i.line_start;
        }
        out.push_str(&text[at..]);
        out
    }

    /// A position in the re-indented copy, in the original text.
    fn original(&self, pos: Pos) -> Pos {
        let mut before = 0;
        for i in &self.indents {
            let shadow_start = i.line_start + before;
            if pos.byte < shadow_start {
                break;
            }
            if pos.byte < shadow_start + i.spaces {
                // Inside the added blanks: the line's original start.
                return Pos {
                    byte: i.line_start,
                    line: pos.line,
                    col: 1,
                };
            }
            before += i.spaces;
        }
        Pos {
            byte: pos.byte - before,
            line: pos.line,
            col: pos.col.saturating_sub(self.spaces_on(pos.line)).max(1),
        }
    }
}

/// The re-indentation that lets the parser read on past `message` at
/// `at` (original positions), when the refusal is one we are lenient
/// about; `None` otherwise.
fn repair(
    text: &str,
    shadow: &Shadow,
    message: &str,
    at: Pos,
    open_flow: Option<Pos>,
) -> Option<Vec<Indent>> {
    match message {
        // Reported at the opening quote; continuation lines may be short of it.
        "invalid indentation in quoted scalar" => {
            let end = quoted_end(text, at)?;
            let target = at.col - 1;
            let mut out = Vec::new();
            let mut line = at.line;
            for (i, _) in text[at.byte..end.byte].match_indices('\n') {
                line += 1;
                out.extend(indent_line(text, shadow, at.byte + i + 1, line, target));
            }
            Some(out)
        }
        // Reported at the first token of a line inside a flow collection.
        "invalid indentation" | "invalid indentation in flow construct" => {
            let flow = open_flow?;
            if !inside_flow(text, flow.byte, at.byte) {
                return None;
            }
            let line_start = text[..at.byte].rfind('\n').map_or(0, |i| i + 1);
            Some(
                indent_line(text, shadow, line_start, at.line, flow.col - 1)
                    .into_iter()
                    .collect(),
            )
        }
        _ => None,
    }
}

/// Spaces bringing the line at `line_start` to column `target` (0-based),
/// if it is short of it and not blank.
fn indent_line(
    text: &str,
    shadow: &Shadow,
    line_start: usize,
    line: usize,
    target: usize,
) -> Option<Indent> {
    let rest = &text[line_start..];
    let content = rest.split('\n').next().unwrap_or(rest);
    if content.trim().is_empty() {
        return None;
    }
    let indentation = content.len() - content.trim_start_matches(' ').len();
    let have = indentation + shadow.spaces_on(line);
    (have < target).then(|| Indent {
        line_start,
        line,
        spaces: target - have,
    })
}

/// Whether `at` is still inside the flow collection opening at `open`:
/// brackets counted outside quoted scalars and comments.
fn inside_flow(text: &str, open: usize, at: usize) -> bool {
    let Some(span) = text.get(open..at) else {
        return false;
    };
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut comment = false;
    let mut escaped = false;
    let mut previous = ' ';
    for c in span.chars() {
        if comment {
            comment = c != '\n';
        } else if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if q == '"' && c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
        } else {
            match c {
                '"' | '\'' => quote = Some(c),
                '#' if previous.is_whitespace() => comment = true,
                '[' | '{' => depth += 1,
                ']' | '}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return false;
                    }
                }
                _ => {}
            }
        }
        previous = c;
    }
    depth > 0
}

/// One parse attempt over `input` (the text, or its re-indented copy),
/// building nodes with positions in `text`.
fn build<'a, 's, F>(
    text: &'a str,
    input: &'s str,
    shadow: &Shadow,
    own: F,
    visited: &mut usize,
    visit: &mut impl FnMut(Node<'a>) -> Result<(), Problem>,
) -> Result<(), Stop>
where
    F: Fn(Cow<'s, str>) -> Cow<'a, str>,
{
    let mut parser = Parser::new_from_str(input);
    let mut bytes = ByteIndex::new(input);
    let pos = |m: saphyr_parser::Marker, bytes: &mut ByteIndex<'_>| {
        shadow.original(Pos {
            byte: bytes.byte(m.index()),
            line: m.line(),
            col: m.col() + 1,
        })
    };
    let mut documents = 0;
    let mut stack: Vec<Open<'_>> = Vec::new();
    let mut anchored: HashMap<usize, Rc<Node<'a>>> = HashMap::new();
    let mut root: Option<Node<'_>> = None;
    let mut deliver = |root: Node<'a>| -> Result<(), Stop> {
        documents += 1;
        if documents > *visited {
            *visited = documents;
            visit(root).map_err(Stop::Visit)?;
        }
        Ok(())
    };
    loop {
        let (event, span): (Event<'_>, Span) = match parser.next_event() {
            None => break,
            Some(Ok(e)) => e,
            Some(Err(e)) => {
                let at = pos(*e.marker(), &mut bytes);
                let open_flow = stack.iter().find_map(|o| match o {
                    Open::Mapping {
                        start, flow: true, ..
                    }
                    | Open::Sequence {
                        start, flow: true, ..
                    } => Some(*start),
                    _ => None,
                });
                let fix = repair(text, shadow, e.info(), at, open_flow);
                return Err(Stop::Syntax(
                    Problem {
                        pos: at,
                        what: ProblemKind::Syntax(e.info().to_string()),
                    },
                    fix,
                ));
            }
        };
        let start = pos(span.start, &mut bytes);
        let end = pos(span.end, &mut bytes);
        let finished = match event {
            Event::StreamEnd => break,
            Event::StreamStart | Event::Nothing | Event::DocumentStart(_) => None,
            Event::DocumentEnd => {
                if let Some(root) = root.take() {
                    deliver(root)?;
                }
                None
            }
            Event::Alias(id) => Some(Node {
                start,
                end,
                kind: Kind::Alias {
                    scalar: anchored.get(&id).cloned(),
                },
            }),
            Event::Scalar(value, style, anchor, tag) => {
                // The parser's span starts at an anchor or tag (`&a x`,
                // `!!str x`): the scalar's own text starts after them.
                let start = if anchor != 0 || tag.is_some() {
                    skip_properties(text, start)
                } else {
                    start
                };
                // The parser's end of a quoted scalar runs on over trailing
                // blanks and comments; find the closing quote ourselves.
                let end = match style {
                    ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => {
                        quoted_end(text, start).unwrap_or(end)
                    }
                    _ => end,
                };
                // An empty value (`tag:`) is placed at its `:`; it belongs
                // after it, where a value written into it must go.
                let (start, end) = if value.is_empty()
                    && style == ScalarStyle::Plain
                    && text[start.byte..].starts_with(':')
                {
                    let after = Pos {
                        byte: start.byte + 1,
                        line: start.line,
                        col: start.col + 1,
                    };
                    (after, after)
                } else {
                    (start, end)
                };
                let node = Node {
                    start,
                    end,
                    kind: Kind::Scalar {
                        value: own(value),
                        style,
                    },
                };
                if anchor != 0 {
                    if node.as_str().is_some_and(|v| v.len() <= MAX_ALIASED_SCALAR) {
                        anchored.insert(anchor, Rc::new(node.copy_scalar()));
                    } else {
                        anchored.remove(&anchor);
                    }
                }
                Some(node)
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(Stop::Syntax(
                        Problem {
                            pos: start,
                            what: ProblemKind::TooDeep,
                        },
                        None,
                    ));
                }
                // A flow collection starts at its bracket; a block one at
                // its first content (after any anchor or tag).
                let opening = &text[start.byte..end.byte];
                let bracket = opening.trim_end().len();
                let flow = opening.trim_end().ends_with(['[', '{']);
                let start = if flow {
                    let trailing = opening[bracket..].chars().count() + 1;
                    Pos {
                        byte: start.byte + bracket - 1,
                        line: end.line,
                        col: end.col - trailing,
                    }
                } else {
                    end
                };
                stack.push(if matches!(event, Event::MappingStart(..)) {
                    Open::Mapping {
                        start,
                        flow,
                        entries: Vec::new(),
                        key: None,
                    }
                } else {
                    Open::Sequence {
                        start,
                        flow,
                        items: Vec::new(),
                    }
                });
                None
            }
            Event::MappingEnd | Event::SequenceEnd => match stack.pop() {
                Some(Open::Mapping {
                    start: s,
                    flow,
                    entries,
                    ..
                }) => {
                    let e = close_end(flow, end, entries.last().map(|(_, v)| v.end), s);
                    Some(Node {
                        start: s,
                        end: e,
                        kind: Kind::Mapping { entries, flow },
                    })
                }
                Some(Open::Sequence {
                    start: s,
                    flow,
                    items,
                }) => {
                    let e = close_end(flow, end, items.last().map(|v| v.end), s);
                    Some(Node {
                        start: s,
                        end: e,
                        kind: Kind::Sequence { items, flow },
                    })
                }
                None => None,
            },
        };
        if let Some(node) = finished {
            match stack.last_mut() {
                Some(Open::Mapping { entries, key, .. }) => match key.take() {
                    None => *key = Some(node),
                    Some(k) => entries.push((k, node)),
                },
                Some(Open::Sequence { items, .. }) => items.push(node),
                None => root = Some(node),
            }
        }
    }
    if let Some(root) = root.take() {
        deliver(root)?;
    }
    Ok(())
}

/// Skips `&anchor` and `!tag` properties (and the blanks after them).
fn skip_properties(text: &str, start: Pos) -> Pos {
    let mut pos = start;
    let mut in_property = false;
    for c in text[start.byte..].chars() {
        match c {
            '&' | '!' if !in_property => in_property = true,
            ' ' | '\t' | '\r' => in_property = false,
            '\n' => {
                in_property = false;
                pos.line += 1;
                pos.col = 0;
            }
            _ if in_property => {}
            _ => break,
        }
        pos.byte += c.len_utf8();
        pos.col += 1;
    }
    pos
}

/// The position just after the closing quote of a quoted scalar at `start`.
fn quoted_end(text: &str, start: Pos) -> Option<Pos> {
    let body = &text[start.byte..];
    let quote = body.chars().next()?;
    let mut chars = body.char_indices().skip(1).peekable();
    let mut close = None;
    while let Some((i, c)) = chars.next() {
        if quote == '"' && c == '\\' {
            chars.next();
        } else if c == quote {
            if quote == '\'' && chars.peek().is_some_and(|&(_, n)| n == '\'') {
                chars.next();
            } else {
                close = Some(i + 1);
                break;
            }
        }
    }
    let len = close?;
    let inner = &body[..len];
    let (line, col) = match inner.rfind('\n') {
        Some(nl) => (
            start.line + inner.matches('\n').count(),
            inner[nl + 1..].chars().count() + 1,
        ),
        None => (start.line, start.col + inner.chars().count()),
    };
    Some(Pos {
        byte: start.byte + len,
        line,
        col,
    })
}

fn close_end(flow: bool, event_end: Pos, last_child: Option<Pos>, start: Pos) -> Pos {
    if flow {
        event_end
    } else {
        last_child.unwrap_or(start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_bytes_even_after_multibyte_text() {
        let text = "a: \"é\"\nb: 'x'\n";
        let docs = parse(text).unwrap();
        let b = docs[0].root.get("b").unwrap().unwrap();
        assert_eq!(&text[b.start.byte..b.end.byte], "'x'");
        assert_eq!((b.start.line, b.start.col), (2, 4));
    }

    #[test]
    fn quoted_scalars_end_at_their_quote() {
        let text = "a: \"x\\\" \" # c\nb: 'it''s'   # d\nc: [ \"q\" , r ]\n";
        let docs = parse(text).unwrap();
        for (key, want) in [("a", "\"x\\\" \""), ("b", "'it''s'")] {
            let n = docs[0].root.get(key).unwrap().unwrap();
            assert_eq!(&text[n.start.byte..n.end.byte], want);
        }
        let c = docs[0].root.get("c").unwrap().unwrap();
        assert!(c.is_flow());
        assert_eq!(&text[c.start.byte..c.end.byte], "[ \"q\" , r ]");
        let q = &c.items().unwrap()[0];
        assert_eq!(&text[q.start.byte..q.end.byte], "\"q\"");
    }

    #[test]
    fn scalar_text_starts_after_anchor_and_tag() {
        let text = "a: &img app:v1\nb: !!str app:v1\nc: &x !t \"app:v1\" # c\n";
        let docs = parse(text).unwrap();
        for key in ["a", "b"] {
            let n = docs[0].root.get(key).unwrap().unwrap();
            assert_eq!(&text[n.start.byte..n.end.byte], "app:v1", "{key}");
        }
        let c = docs[0].root.get("c").unwrap().unwrap();
        assert_eq!(&text[c.start.byte..c.end.byte], "\"app:v1\"");
        assert_eq!((c.start.line, c.start.col), (3, 10));
    }

    #[test]
    fn collections_know_their_extent() {
        let text = "a:\n  - x\n  - {k: v}\n# trailing\nb: [1, 2]\n";
        let docs = parse(text).unwrap();
        let a = docs[0].root.get("a").unwrap().unwrap();
        assert_eq!(&text[a.start.byte..a.end.byte], "- x\n  - {k: v}");
        let b = docs[0].root.get("b").unwrap().unwrap();
        assert_eq!(&text[b.start.byte..b.end.byte], "[1, 2]");
        assert!(b.is_flow() && !a.is_flow());
    }

    #[test]
    fn problems_have_positions() {
        let cases: &[(&str, (usize, usize), &str)] = &[
            ("a: \"open\nb: c\n", (1, 4), "quoted"),
            ("a:\n\tb: c\n", (2, 2), "tab"),
            ("a:\n  b: c\n c: d\n", (3, 2), "block mapping"),
        ];
        for (text, (line, col), needle) in cases {
            let p = parse(text)
                .err()
                .unwrap_or_else(|| panic!("{text:?} parsed"));
            assert_eq!((p.pos.line, p.pos.col), (*line, *col), "{text:?}");
            let ProblemKind::Syntax(msg) = &p.what else {
                panic!("{p:?}")
            };
            assert!(msg.contains(needle), "{text:?}: {msg}");
        }
    }

    #[test]
    fn continuation_lines_at_the_parent_indentation_are_read() {
        // Accepted by kubectl, kustomize, Helm and PyYAML; values as they read them.
        let cases: &[(&str, &[&str], &str)] = &[
            (
                "services:\n  app:\n    command: [\n      \"a\",\n      \"b\"\n    ]\n    image: x:1\n",
                &["services", "app", "image"],
                "x:1",
            ),
            (
                "a:\n  b: [\n    x,\n  ]\n  c: \"y\n  z\"\n  d: \u{e9}:1\n",
                &["a", "d"],
                "\u{e9}:1",
            ),
            ("a:\n  b: \"x\n  y\"\n", &["a", "b"], "x y"),
            ("a: \"x\ny\"\n", &["a"], "x y"),
            ("a:\n  - k: {\n    p: q,\n  }\n    image: x:2\n", &["a"], ""),
        ];
        for (text, path, want) in cases {
            let docs = parse(text).unwrap_or_else(|p| panic!("{text:?}: {p:?}"));
            let mut node = &docs[0].root;
            for key in *path {
                node = node.get(key).unwrap().unwrap();
            }
            if let Some(value) = node.as_str() {
                assert_eq!(value, *want, "{text:?}");
                // Spans and columns point into the original text.
                let span = &text[node.start.byte..node.end.byte];
                assert!(
                    span.contains(['"', '\n']) || span == *want,
                    "{text:?}: {span:?}"
                );
                let line = text.lines().nth(node.start.line - 1).unwrap();
                let before: String = line.chars().take(node.start.col - 1).collect();
                let first = span.chars().next().unwrap();
                assert!(line[before.len()..].starts_with(first), "{text:?}");
            }
        }
        let text = "a:\n  b: [\n    x,\n  ]\n  c: \"y\n  z\"\n";
        let b = parse(text).unwrap();
        let b = b[0].root.get("a").unwrap().unwrap();
        let list = b.get("b").unwrap().unwrap();
        assert_eq!(&text[list.start.byte..list.end.byte], "[\n    x,\n  ]");
        let c = b.get("c").unwrap().unwrap();
        assert_eq!((c.as_str(), c.start.line, c.start.col), (Some("y z"), 5, 6));
        assert_eq!(&text[c.start.byte..c.end.byte], "\"y\n  z\"");
    }

    #[test]
    fn block_indentation_errors_stay_errors() {
        for text in [
            "a:\n  b: c\n c: d\n",
            "a:\n  b: [x]\n c: d\n",
            "a:\n  b: \"x\"\n c: d\n",
            "a: [\n  x\n",
        ] {
            assert!(parse(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let mut text = String::new();
        for i in 0..10_000 {
            text.push_str(&" ".repeat(i));
            text.push_str("k:\n");
        }
        let p = parse(&text).err().unwrap();
        assert_eq!(p.what, ProblemKind::TooDeep);
        let flow = "[".repeat(10_000);
        assert!(parse(&flow).is_err());
    }

    #[test]
    fn duplicate_keys_are_found_on_lookup() {
        let docs = parse("image: a\nname: x\nimage: b\n").unwrap();
        let p = docs[0].root.get("image").unwrap_err();
        assert_eq!(
            p.what,
            ProblemKind::DuplicateKey {
                key: "image".into(),
                first_line: 1
            }
        );
        assert_eq!(p.pos.line, 3);
        assert!(docs[0].root.get("name").is_ok());
    }
}
