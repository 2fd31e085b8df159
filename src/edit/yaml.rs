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
pub const MAX_DEPTH: usize = 200;

/// Aliases of scalars up to this size resolve to the anchored text (image
/// references are short); longer ones stay opaque, so aliasing a large
/// scalar many times costs nothing.
const MAX_ALIASED_SCALAR: usize = 1024;

/// A position: byte offset into the text, 1-based line and 1-based column
/// (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub byte: usize,
    pub line: usize,
    pub col: usize,
}

#[derive(Debug)]
pub struct Node<'a> {
    pub start: Pos,
    /// End of the node's own text: for block collections, the end of the last
    /// child (not the position of the next token, which may be lines later).
    pub end: Pos,
    pub kind: Kind<'a>,
}

#[derive(Debug)]
pub enum Kind<'a> {
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
pub struct Problem {
    pub pos: Pos,
    pub what: ProblemKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemKind {
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
    pub fn shape(node: &Node<'_>, expected: &'static str) -> Self {
        Problem {
            pos: node.start,
            what: ProblemKind::Shape {
                expected,
                found: node.describe(),
            },
        }
    }
}

pub struct Document<'a> {
    pub root: Node<'a>,
}

impl<'a> Node<'a> {
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// The anchored scalar behind an alias, or the node itself.
    pub fn resolved(&self) -> &Node<'a> {
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

    pub fn style(&self) -> Option<ScalarStyle> {
        match &self.kind {
            Kind::Scalar { style, .. } => Some(*style),
            _ => None,
        }
    }

    pub fn entries(&self) -> Option<&[(Node<'a>, Node<'a>)]> {
        match &self.kind {
            Kind::Mapping { entries, .. } => Some(entries),
            _ => None,
        }
    }

    pub fn items(&self) -> Option<&[Node<'a>]> {
        match &self.kind {
            Kind::Sequence { items, .. } => Some(items),
            _ => None,
        }
    }

    pub fn is_flow(&self) -> bool {
        matches!(
            self.kind,
            Kind::Mapping { flow: true, .. } | Kind::Sequence { flow: true, .. }
        )
    }

    /// A null written as nothing at all (`key:`), the only null we may fill in.
    pub fn is_empty_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar { value, style: ScalarStyle::Plain } if value.is_empty())
    }

    /// A plain null (`key:`, `~`, `null`): no value, whatever its spelling.
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar { value, style: ScalarStyle::Plain }
            if matches!(value.as_ref(), "" | "~" | "null" | "Null" | "NULL"))
    }

    pub fn describe(&self) -> &'static str {
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
    pub fn index_of(&self, key: &str) -> Result<Option<usize>, Problem> {
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
    pub fn get(&self, key: &str) -> Result<Option<&Node<'a>>, Problem> {
        Ok(self
            .index_of(key)?
            .and_then(|i| self.entries().map(|e| &e[i].1)))
    }

    /// The string under `key`, if it is a scalar.
    pub fn get_str(&self, key: &str) -> Result<Option<&str>, Problem> {
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
pub fn parse(text: &str) -> Result<Vec<Document<'_>>, Problem> {
    let mut docs = Vec::new();
    for_each_document(text, |root| {
        docs.push(Document { root });
        Ok(())
    })?;
    Ok(docs)
}

/// Parses `text` one document at a time, so memory holds one document's
/// tree however many documents the file has.
pub fn for_each_document<'a>(
    text: &'a str,
    mut visit: impl FnMut(Node<'a>) -> Result<(), Problem>,
) -> Result<(), Problem> {
    let mut parser = Parser::new_from_str(text);
    let mut bytes = ByteIndex::new(text);
    let pos = |m: saphyr_parser::Marker, bytes: &mut ByteIndex<'_>| Pos {
        byte: bytes.byte(m.index()),
        line: m.line(),
        col: m.col() + 1,
    };
    let mut stack: Vec<Open<'_>> = Vec::new();
    let mut anchored: HashMap<usize, Rc<Node<'a>>> = HashMap::new();
    let mut root: Option<Node<'_>> = None;
    loop {
        let (event, span): (Event<'_>, Span) = match parser.next_event() {
            None => break,
            Some(Ok(e)) => e,
            Some(Err(e)) => {
                let m = *e.marker();
                return Err(Problem {
                    pos: pos(m, &mut bytes),
                    what: ProblemKind::Syntax(e.info().to_string()),
                });
            }
        };
        let start = pos(span.start, &mut bytes);
        let end = pos(span.end, &mut bytes);
        let finished = match event {
            Event::StreamEnd => break,
            Event::StreamStart | Event::Nothing | Event::DocumentStart(_) => None,
            Event::DocumentEnd => {
                if let Some(root) = root.take() {
                    visit(root)?;
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
                    kind: Kind::Scalar { value, style },
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
                    return Err(Problem {
                        pos: start,
                        what: ProblemKind::TooDeep,
                    });
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
        visit(root)?;
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
