//! No import circle between the top-level modules of `src/`.
//!
//! Reads every file of the library, keeps its code (comments, string and
//! character literals, and `#[cfg(test)]` items left out), collects the
//! paths into the crate (`crate::x…`, `crate::{x, y}`, and `super::` chains
//! that climb to the crate root), and fails naming each circle with the line
//! of every arrow in it. A circle means neither module can be read, tested
//! or moved without the other; the fix is usually a small type or hook moved
//! to the lower of the two.
//!
//! Also: the README's module map names the same top-level modules.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

/// Arrows the check ignores, each with the reason it is still there. Keep
/// this empty unless a circle cannot be broken in the same change; a stale
/// entry (an arrow that no longer exists) fails the check too.
const KNOWN_EXCEPTIONS: &[(&str, &str, &str)] = &[];

/// The code of `source` with comments and string and character literals
/// blanked (lines kept, so positions still count), and every item marked
/// `#[cfg(test)]` removed.
fn code_of(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    // Blanks chars[from..to], keeping line breaks.
    let blank = |out: &mut String, from: usize, to: usize| {
        for &c in &chars[from..to] {
            out.push(if c == '\n' { '\n' } else { ' ' });
        }
    };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            let end = (i..chars.len())
                .find(|&j| chars[j] == '\n')
                .unwrap_or(chars.len());
            blank(&mut out, i, end);
            i = end;
        } else if c == '/' && next == Some('*') {
            let (mut depth, mut j) = (1, i + 2);
            while j < chars.len() && depth > 0 {
                if chars[j] == '/' && chars.get(j + 1) == Some(&'*') {
                    depth += 1;
                    j += 2;
                } else if chars[j] == '*' && chars.get(j + 1) == Some(&'/') {
                    depth -= 1;
                    j += 2;
                } else {
                    j += 1;
                }
            }
            blank(&mut out, i, j);
            i = j;
        } else if let Some(end) = raw_string_end(&chars, i) {
            blank(&mut out, i, end);
            i = end;
        } else if c == '"' || (c == 'b' && next == Some('"') && !ident_before(&chars, i)) {
            let mut j = if c == 'b' { i + 2 } else { i + 1 };
            while j < chars.len() && chars[j] != '"' {
                j += if chars[j] == '\\' { 2 } else { 1 };
            }
            blank(&mut out, i, (j + 1).min(chars.len()));
            i = j + 1;
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{..}'), or a lifetime or
            // label, which stays.
            let end = if next == Some('\\') {
                (i + 2..chars.len())
                    .find(|&j| chars[j] == '\'')
                    .map(|j| j + 1)
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(i + 3)
            } else {
                None
            };
            match end {
                Some(end) => {
                    blank(&mut out, i, end);
                    i = end;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    without_test_items(&out)
}

/// Where the raw string (`r"…"`, `r#"…"#`, `br#"…"#`) starting at `i` ends.
fn raw_string_end(chars: &[char], i: usize) -> Option<usize> {
    if ident_before(chars, i) {
        return None;
    }
    let mut j = i;
    if chars.get(j) == Some(&'b') {
        j += 1;
    }
    if chars.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    let hashes = chars[j..].iter().take_while(|&&c| c == '#').count();
    j += hashes;
    if chars.get(j) != Some(&'"') {
        return None;
    }
    let closing: Vec<char> = std::iter::once('"')
        .chain(std::iter::repeat_n('#', hashes))
        .collect();
    (j + 1..chars.len())
        .find(|&k| chars[k..].starts_with(&closing))
        .map(|k| k + closing.len())
}

fn ident_before(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

/// `code` with each item after a `#[cfg(test)]` blanked: up to its matching
/// closing brace, or to the `;` of an item without a body.
fn without_test_items(code: &str) -> String {
    const MARK: &str = "#[cfg(test)]";
    let mut out = code.to_string();
    let mut from = 0;
    while let Some(at) = out[from..].find(MARK).map(|p| p + from) {
        let bytes = out.as_bytes();
        let mut depth = 0usize;
        let mut end = out.len();
        for (j, &b) in bytes.iter().enumerate().skip(at + MARK.len()) {
            match b {
                b'{' => depth += 1,
                b'}' if depth > 0 => {
                    depth -= 1;
                    if depth == 0 {
                        end = j + 1;
                        break;
                    }
                }
                b';' if depth == 0 => {
                    end = j + 1;
                    break;
                }
                _ => {}
            }
        }
        let blanked: String = out[at..end]
            .chars()
            .map(|c| if c == '\n' { '\n' } else { ' ' })
            .collect();
        out.replace_range(at..end, &blanked);
        from = end;
    }
    out
}

/// Each top-level module that `code` names, with its line: the first
/// segment after `crate::` (or of each path in a `crate::{…}` group), or
/// after a chain of `super::` as long as `depth` (how deep the file's module
/// sits below the crate root).
fn crate_paths(code: &str, depth: usize) -> Vec<(String, usize)> {
    let mut found = Vec::new();
    let line_of = |at: usize| code[..at].matches('\n').count() + 1;
    let mut at = 0;
    while let Some(start) = ["crate::", "super::"]
        .iter()
        .filter_map(|word| code[at..].find(word).map(|p| p + at))
        .min()
    {
        let is_word = code[..start]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        let mut tail = &code[start..];
        let mut supers = 0;
        while let Some(t) = tail.strip_prefix("super::") {
            supers += 1;
            tail = t.trim_start();
        }
        let from_root = match tail.strip_prefix("crate::") {
            Some(t) if supers == 0 => Some(t.trim_start()),
            _ if supers >= depth && supers > 0 => Some(tail),
            _ => None,
        };
        if let (Some(path), false) = (from_root, is_word) {
            if let Some(group) = path.strip_prefix('{') {
                let heads = group_heads(group);
                found.extend(heads.into_iter().map(|m| (m, line_of(start))));
            } else {
                let name: String = path
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    found.push((name, line_of(start)));
                }
            }
        }
        at = (code.len() - tail.len()).max(start + 1);
    }
    found
}

/// The first segment of each path in a `{a::b, c, d::{e, f}}` group, from
/// just after its opening brace.
fn group_heads(group: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let (mut depth, mut at_start) = (0usize, true);
    let mut current = String::new();
    for c in group.chars() {
        match c {
            '{' => {
                depth += 1;
                at_start = false;
            }
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                if at_start && !current.is_empty() {
                    heads.push(std::mem::take(&mut current));
                }
                at_start = true;
                current.clear();
            }
            c if at_start && (c.is_alphanumeric() || c == '_') => current.push(c),
            c if at_start && c.is_whitespace() && current.is_empty() => {}
            _ => {
                if at_start && !current.is_empty() {
                    heads.push(std::mem::take(&mut current));
                }
                at_start = false;
            }
        }
    }
    if at_start && !current.is_empty() {
        heads.push(current);
    }
    heads
}

/// An arrow `from → to`, with the places (`file:line`) that draw it.
type Graph = BTreeMap<String, BTreeMap<String, Vec<String>>>;

/// A set of modules that all reach one another (a strongly connected part
/// of more than one module): a shortest circle through its first module, and
/// all its members.
#[derive(Debug, PartialEq)]
struct Tangle {
    circle: Vec<String>,
    members: BTreeSet<String>,
}

/// The tangles of `graph`, each reported once however many circles run
/// through it.
fn tangles(graph: &Graph) -> Vec<Tangle> {
    let nodes: BTreeSet<&String> = graph
        .iter()
        .flat_map(|(a, to)| std::iter::once(a).chain(to.keys()))
        .collect();
    // The shortest path from → to (at least one arrow), breadth first.
    let path = |from: &String, to: &String| -> Option<Vec<String>> {
        let mut came_from: BTreeMap<&String, &String> = BTreeMap::new();
        let mut queue = VecDeque::from([from]);
        while let Some(node) = queue.pop_front() {
            for next in graph.get(node).into_iter().flat_map(|t| t.keys()) {
                if next == to {
                    let mut path = vec![to.clone()];
                    let mut at = node;
                    while at != from {
                        path.push(at.clone());
                        at = came_from[at];
                    }
                    path.push(from.clone());
                    path.reverse();
                    return Some(path);
                }
                if next != from && !came_from.contains_key(next) {
                    came_from.insert(next, node);
                    queue.push_back(next);
                }
            }
        }
        None
    };
    let mut seen: BTreeSet<&String> = BTreeSet::new();
    let mut found = Vec::new();
    for &node in &nodes {
        if seen.contains(node) {
            continue;
        }
        let Some(circle) = path(node, node) else {
            continue;
        };
        let members: BTreeSet<String> = nodes
            .iter()
            .filter(|&&other| {
                other == node || (path(node, other).is_some() && path(other, node).is_some())
            })
            .map(|&other| other.clone())
            .collect();
        seen.extend(nodes.iter().filter(|&&n| members.contains(n)));
        found.push(Tangle { circle, members });
    }
    found
}

/// A tangle as text: its circle, then every arrow between its members with
/// where it is drawn (the first place, and how many more).
fn describe(graph: &Graph, tangle: &Tangle) -> String {
    let mut text = tangle.circle.join(" → ");
    for from in &tangle.members {
        for (to, places) in &graph[from] {
            if tangle.members.contains(to) {
                let more = match places.len() {
                    1 => String::new(),
                    n => format!(" (and {} more)", n - 1),
                };
                text += &format!("\n    {from} → {to}: {}{more}", places[0]);
            }
        }
    }
    text
}

/// The library's top-level modules and the files of each, from `src/lib.rs`.
fn modules(src: &Path) -> BTreeMap<String, Vec<PathBuf>> {
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let mut modules = BTreeMap::new();
    for line in code_of(&lib).lines() {
        let line = line.trim();
        let Some(name) = line
            .strip_prefix("pub mod ")
            .or_else(|| line.strip_prefix("mod "))
            .and_then(|rest| rest.strip_suffix(';'))
        else {
            continue;
        };
        let mut files = Vec::new();
        let file = src.join(format!("{name}.rs"));
        if file.is_file() {
            files.push(file);
        }
        rust_files(&src.join(name), &mut files);
        assert!(!files.is_empty(), "no file for `mod {name}` in src/lib.rs");
        modules.insert(name.trim().to_string(), files);
    }
    modules
}

fn rust_files(dir: &Path, into: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            rust_files(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push(path);
        }
    }
}

/// How deep the module of `file` sits below the crate root: 1 for
/// `src/x.rs` and `src/x/mod.rs`, 2 for `src/x/y.rs`, and so on.
fn depth(src: &Path, file: &Path) -> usize {
    let parts = file.strip_prefix(src).unwrap().components().count();
    if file.file_name().is_some_and(|n| n == "mod.rs") {
        parts - 1
    } else {
        parts
    }
}

fn import_graph(src: &Path) -> Graph {
    let modules = modules(src);
    let mut graph = Graph::new();
    for (module, files) in &modules {
        graph.entry(module.clone()).or_default();
        for file in files {
            let source = std::fs::read_to_string(file).unwrap();
            let shown = file.strip_prefix(src.parent().unwrap()).unwrap();
            for (target, line) in crate_paths(&code_of(&source), depth(src, file)) {
                if &target != module && modules.contains_key(&target) {
                    graph
                        .entry(module.clone())
                        .or_default()
                        .entry(target)
                        .or_default()
                        .push(format!("{}:{line}", shown.display()));
                }
            }
        }
    }
    graph
}

#[test]
fn no_import_circle_between_the_top_level_modules() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph = import_graph(&src);
    assert!(graph.len() > 10, "too few modules found: {graph:?}");
    let mut stale = Vec::new();
    for (from, to, _why) in KNOWN_EXCEPTIONS {
        let arrows = graph.get_mut(*from).unwrap();
        if arrows.remove(*to).is_none() {
            stale.push(format!("{from} → {to}"));
        }
    }
    assert!(
        stale.is_empty(),
        "known exceptions that no longer exist; remove them: {stale:?}"
    );
    let found: Vec<String> = tangles(&graph)
        .iter()
        .map(|c| describe(&graph, c))
        .collect();
    assert!(
        found.is_empty(),
        "import circles between the modules of src/:\n  {}",
        found.join("\n  ")
    );
}

/// The module map in the README's "Development" section names every
/// top-level module, and nothing that is gone.
#[test]
fn the_readme_maps_every_module() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let section = &readme[readme
        .find("## Development")
        .expect("a Development section")..];
    let map_start = section.find("```text\nsrc/\n").expect("a module map") + 13;
    let map = &section[map_start..];
    let map = &map[..map.find("```").unwrap()];
    // The map's first-level entries: two spaces, then `name.rs` or `name/`.
    let mapped: BTreeSet<String> = map
        .lines()
        .filter_map(|l| l.strip_prefix("  "))
        .filter(|l| !l.starts_with(' '))
        .filter_map(|l| l.split_whitespace().next())
        .map(|entry| {
            entry
                .trim_end_matches('/')
                .trim_end_matches(".rs")
                .to_string()
        })
        .filter(|name| name != "main" && name != "lib")
        .collect();
    let modules: BTreeSet<String> = modules(&root.join("src")).into_keys().collect();
    let missing: Vec<&String> = modules.difference(&mapped).collect();
    let gone: Vec<&String> = mapped.difference(&modules).collect();
    assert!(
        missing.is_empty() && gone.is_empty(),
        "README module map: missing {missing:?}, gone {gone:?}"
    );
}

/// Each stage takes its own options section (`AuthOptions`,
/// `VerifyOptions`, `EditOptions`, `WriteBackOptions`, …), never the whole
/// `Config`: only the module that builds the sections, the pipeline that
/// hands them out and the top-level error name it.
#[test]
fn only_the_pipeline_hands_out_the_whole_config() {
    const MAY: &[&str] = &["config", "pipeline", "error"];
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut seen = Vec::new();
    for (module, files) in modules(&src) {
        if MAY.contains(&module.as_str()) {
            continue;
        }
        for file in files {
            let code = code_of(&std::fs::read_to_string(&file).unwrap());
            for (n, line) in code.lines().enumerate() {
                let names_config = line
                    .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .any(|word| word == "Config");
                if names_config {
                    seen.push(format!("{}:{}", file.display(), n + 1));
                }
            }
        }
    }
    assert!(
        seen.is_empty(),
        "a stage takes its own options type, not `Config`: {seen:?}"
    );
}

#[test]
fn the_parser_sees_paths_into_the_crate_and_nothing_else() {
    let cases: &[(&str, usize, &[&str])] = &[
        ("use crate::secret::Secret;", 1, &["secret"]),
        ("crate::actions::mask(x)", 2, &["actions"]),
        (
            "use crate::{config::Mode, edit, guard::{self, RunId}};",
            1,
            &["config", "edit", "guard"],
        ),
        (
            "use crate::{\n    print,\n    spec::X,\n};",
            1,
            &["print", "spec"],
        ),
        ("// see crate::print", 1, &[]),
        ("/// [`crate::print`] /* crate::x */", 1, &[]),
        ("/* crate::a /* nested */ crate::b */ x", 1, &[]),
        ("let s = \"crate::config\";", 1, &[]),
        ("let s = r#\"crate::config \"quoted\"\"#;", 1, &[]),
        ("let c = '\"'; crate::print::x()", 1, &["print"]),
        ("fn f<'a>(x: &'a str) { crate::spec::y() }", 1, &["spec"]),
        (
            "#[cfg(test)]\nmod tests {\n    use crate::print;\n}\nuse crate::edit;",
            1,
            &["edit"],
        ),
        (
            "#[cfg(test)]\nuse crate::print;\nuse crate::edit;",
            1,
            &["edit"],
        ),
        ("use super::text;", 2, &[]),
        ("use super::print;", 1, &["print"]),
        ("use super::super::print;", 2, &["print"]),
        ("$crate::print::x!()", 1, &["print"]),
        ("mycrate::print::x()", 1, &[]),
    ];
    for (source, depth, want) in cases {
        let got: Vec<String> = crate_paths(&code_of(source), *depth)
            .into_iter()
            .map(|(m, _)| m)
            .collect();
        assert_eq!(&got, want, "{source:?}");
    }
}

#[test]
fn the_check_finds_circles_and_names_their_arrows() {
    let graph = |arrows: &[(&str, &str)]| -> Graph {
        let mut g = Graph::new();
        for (a, b) in arrows {
            g.entry(a.to_string())
                .or_default()
                .entry(b.to_string())
                .or_default()
                .push(format!("src/{a}.rs:1"));
        }
        g
    };
    // The arrows of a graph, and the circle named for each of its tangles.
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a [&'a str]]);
    let cases: &[Case] = &[
        (&[("a", "b"), ("b", "c")], &[]),
        (&[("a", "b"), ("b", "a")], &[&["a", "b", "a"]]),
        (
            &[("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")],
            &[&["a", "b", "c", "a"]],
        ),
        // Two tangles, each reported once.
        (
            &[
                ("a", "b"),
                ("b", "a"),
                ("b", "c"),
                ("c", "d"),
                ("d", "c"),
                ("d", "e"),
                ("e", "c"),
            ],
            &[&["a", "b", "a"], &["c", "d", "c"]],
        ),
    ];
    for (arrows, want) in cases {
        let g = graph(arrows);
        let got: Vec<Vec<String>> = tangles(&g).into_iter().map(|t| t.circle).collect();
        let want: Vec<Vec<String>> = want
            .iter()
            .map(|c| c.iter().map(|s| s.to_string()).collect())
            .collect();
        assert_eq!(got, want, "{arrows:?}");
    }
    // A tangle of three, with a shortcut: one circle named, every arrow
    // inside listed.
    let g = graph(&[("a", "b"), ("b", "a"), ("b", "c"), ("c", "a"), ("c", "x")]);
    assert_eq!(
        describe(&g, &tangles(&g)[0]),
        "a → b → a\n    a → b: src/a.rs:1\n    b → a: src/b.rs:1\n    b → c: src/b.rs:1\n    c → a: src/c.rs:1"
    );
}
