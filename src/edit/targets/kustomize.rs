//! Kustomizations (`kustomization.yaml`, `kustomization.yml`,
//! `Kustomization`, or any document of `kind: Kustomization`/`Component`):
//! the `images:` list, with the semantics of `kustomize edit set image`.
//!
//! - The entry whose `name` is the SPEC's image is replaced by what the SPEC
//!   says: a part the SPEC does not give is dropped, `*` keeps the part,
//!   `=NEWNAME` sets `newName`.
//! - Without such an entry, one is appended at the end of `images:` (the key
//!   is created at the end of the document if missing), in the file's
//!   indentation style, but only in a kustomization the user pointed at (a
//!   given file, or the one directly in a given directory), and only for a
//!   SPEC found nowhere else under the given paths: a walk over a whole
//!   repository must not add entries to unrelated overlays.
//!
//! Deliberate differences from `kustomize edit set image`:
//! - names match after normalization (`nginx` is `docker.io/library/nginx`),
//!   and the entry keeps the spelling it had;
//! - when no entry has the name but one has it as `newName`, that entry is
//!   edited (its `newName` kept unless the SPEC renames), instead of adding
//!   an entry that would never apply;
//! - the file is not re-serialized: entries keep their order, comments and
//!   quoting, and a new entry is appended last (kustomize sorts by name and
//!   rewrites the whole file);
//! - `NAME:TAG@DIGEST` sets both `newTag` and `digest`;
//! - an existing `tagSuffix` is removed like kustomize removes it (the entry
//!   is replaced), but kept when the SPEC keeps the tag with `*`.

use crate::edit::TargetKind;
use crate::edit::image::{
    Written, kustomize_field, name_matches, name_or_rename_matches, spec_digest_as_string,
};
use crate::edit::target::{Context, Found};
use crate::edit::text::{self, Splice};
use crate::edit::yaml::{Node, Problem};
use crate::spec::{Field, ImageSpec};

const FILE_NAMES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// The fields of an `images:` entry we write, in the order we write them.
/// `tagSuffix` is only ever kept or removed, never written.
const FIELDS: [&str; 4] = ["newName", "newTag", "digest", "tagSuffix"];

pub(crate) fn is_kustomization_file(file_name: &str) -> bool {
    FILE_NAMES.contains(&file_name)
}

/// The local `resources:` of a kustomization, as written (files and
/// directories, relative to its directory); remote ones (URLs) are left
/// out. A file that does not parse has none.
pub(crate) fn local_resources(text: &str) -> Vec<String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Ok(docs) = crate::edit::yaml::parse(text) else {
        return Vec::new();
    };
    let Some(Ok(Some(list))) = docs.first().map(|d| d.root.get("resources")) else {
        return Vec::new();
    };
    list.items()
        .unwrap_or_default()
        .iter()
        .filter_map(|n| n.as_str())
        .filter(|r| !r.contains("://") && !r.starts_with("github.com/"))
        .map(str::to_string)
        .collect()
}

/// The kustomization file of `dir` among `files` (relative, `/`-separated).
pub(crate) fn kustomization_in<'f>(dir: &str, files: &'f [&'f str]) -> Option<&'f str> {
    FILE_NAMES.iter().find_map(|name| {
        let path = if dir.is_empty() {
            (*name).to_string()
        } else {
            format!("{dir}/{name}")
        };
        files.iter().copied().find(|f| *f == path)
    })
}

pub(crate) fn applies(file_name: &str, root: &Node<'_>, kind: Option<&str>) -> bool {
    if is_kustomization_file(file_name) {
        return true;
    }
    matches!(kind, Some("Kustomization" | "Component"))
        && root
            .get_str("apiVersion")
            .ok()
            .flatten()
            .is_some_and(|v| v.starts_with("kustomize.config.k8s.io/"))
}

pub(crate) fn find(ctx: &Context<'_, '_>, root: &Node<'_>) -> Result<Vec<Found>, Problem> {
    let mut found = Vec::new();
    if root.entries().is_none() {
        if root.is_empty_null() {
            return Ok(found);
        }
        return Err(Problem::shape(root, "a mapping (a kustomization)"));
    }
    let images = root.get("images")?;
    let items = image_entries(images)?;
    let inline = helm_charts_values(ctx, root)?;
    let mut appended: Vec<(usize, Vec<(&'static str, String)>)> = Vec::new();
    for (i, spec) in ctx.request.specs.iter().enumerate() {
        let mut by_name = Vec::new();
        let mut by_new_name = Vec::new();
        for item in items {
            if item.get_str("name")?.is_some_and(|n| name_matches(spec, n)) {
                by_name.push(item);
            } else if item
                .get_str("newName")?
                .is_some_and(|n| name_or_rename_matches(spec, n))
            {
                by_new_name.push(item);
            }
        }
        let via_new_name = by_name.is_empty();
        let matches = if via_new_name { by_new_name } else { by_name };
        for item in &matches {
            found.push(edit_entry(ctx, i, spec, item, via_new_name)?);
        }
        // An image set in `helmCharts[].valuesInline` needs no entry.
        if matches.is_empty() && ctx.may_append && !inline.iter().any(|f| f.spec == i) {
            appended.push((i, new_entry_fields(spec)));
        }
    }
    if !appended.is_empty() {
        found.extend(append_entries(ctx, root, images, &appended)?);
    }
    found.extend(inline);
    Ok(found)
}

/// `helmCharts[].valuesInline`, searched like a values file.
fn helm_charts_values(ctx: &Context<'_, '_>, root: &Node<'_>) -> Result<Vec<Found>, Problem> {
    let mut found = Vec::new();
    let Some(charts) = root.get("helmCharts")? else {
        return Ok(found);
    };
    for chart in charts.items().unwrap_or_default() {
        if let Some(values) = chart.get("valuesInline")? {
            super::helm::walk(ctx, values, &mut found)?;
        }
    }
    for f in &mut found {
        f.kind = TargetKind::Kustomization;
    }
    Ok(found)
}

/// The entries of an `images:` value, each checked to be a mapping.
pub(crate) fn image_entries<'n, 'a>(
    images: Option<&'n Node<'a>>,
) -> Result<&'n [Node<'a>], Problem> {
    let items: &[Node<'_>] = match images {
        None => &[],
        Some(node) if node.is_empty_null() => &[],
        Some(node) => node
            .items()
            .ok_or_else(|| Problem::shape(node, "a list under `images`"))?,
    };
    for item in items {
        if item.entries().is_none() {
            return Err(Problem::shape(item, "a mapping in `images`"));
        }
    }
    Ok(items)
}

/// The entry's fields after the SPEC, as `(key, value)`; `None` = absent.
///
/// An existing `tagSuffix` is removed, as `kustomize edit set image` does
/// (it replaces the whole entry; kustomize ignores the suffix anyway once
/// `newTag` or `digest` is set), except with `*` for the tag: the suffix is
/// part of the tag that `*` keeps.
fn desired_fields(
    spec: &ImageSpec,
    item: &Node<'_>,
    via_new_name: bool,
) -> Result<[(&'static str, Option<String>); 4], Problem> {
    let new_name = match (&spec.new_name, via_new_name) {
        (None, true) => Some(Field::Keep),
        (other, _) => other.clone(),
    };
    let tag_suffix = matches!(spec.tag, Some(Field::Keep)).then_some(Field::Keep);
    let parts = [
        new_name,
        spec.tag.clone(),
        spec_digest_as_string(spec),
        tag_suffix,
    ];
    let mut out: [(&'static str, Option<String>); 4] = Default::default();
    for (slot, (key, part)) in out.iter_mut().zip(FIELDS.into_iter().zip(parts)) {
        *slot = (key, kustomize_field(part, item.get_str(key)?));
    }
    Ok(out)
}

fn edit_entry(
    ctx: &Context<'_, '_>,
    spec_index: usize,
    spec: &ImageSpec,
    item: &Node<'_>,
    via_new_name: bool,
) -> Result<Found, Problem> {
    let name_node = item
        .get("name")?
        .ok_or_else(|| Problem::shape(item, "an entry with `name`"))?;
    let name = name_node.as_str().unwrap_or_default();
    let desired = desired_fields(spec, item, via_new_name)?;
    let existing = |key: &str| item.get_str(key).ok().flatten().map(str::to_string);
    let old = Written {
        name: existing("newName").unwrap_or_else(|| name.to_string()),
        tag: existing("newTag"),
        digest: existing("digest"),
    };
    let new = Written {
        name: desired[0].1.clone().unwrap_or_else(|| name.to_string()),
        tag: desired[1].1.clone(),
        digest: desired[2].1.clone(),
    };
    let splices = if item.is_flow() {
        rewrite_flow_entry(ctx, item, &desired)?
    } else {
        edit_block_entry(ctx, item, &desired)?
    };
    Ok(Found::written(
        spec_index,
        TargetKind::Kustomization,
        name_node,
        old,
        new,
        splices,
    ))
}

/// Splices for a block mapping entry: replace changed values in place,
/// remove dropped keys with their lines, add new keys after the last one.
fn edit_block_entry(
    ctx: &Context<'_, '_>,
    item: &Node<'_>,
    desired: &[(&'static str, Option<String>)],
) -> Result<Vec<Splice>, Problem> {
    let entries = item.entries().unwrap_or_default();
    let mut splices = Vec::new();
    let mut removed = vec![false; entries.len()];
    let mut added = String::new();
    let key_col = entries.first().map_or(1, |(k, _)| k.start.col);
    for (key, want) in desired {
        let index = item.index_of(key)?;
        match (index, want) {
            (Some(i), Some(value)) => {
                let node = &entries[i].1;
                if node.is_empty_null() {
                    splices.push(Splice {
                        start: node.start.byte,
                        end: node.start.byte,
                        text: format!(" {}", text::render_plain_or_quoted(value, false)),
                    });
                } else if node.as_str() != Some(value.as_str()) {
                    if node.as_str().is_none() {
                        return Err(Problem::shape(node, "a string"));
                    }
                    splices.push(text::replace_scalar(ctx.text, node, value, false));
                }
            }
            (Some(i), None) => removed[i] = true,
            (None, Some(value)) => {
                added.push_str(ctx.line_break);
                added.push_str(&text::indent(key_col));
                added.push_str(&format!(
                    "{key}: {}",
                    text::render_plain_or_quoted(value, false)
                ));
            }
            (None, None) => {}
        }
    }
    splices.extend(removal_splices(ctx.text, entries, &removed));
    if !added.is_empty() {
        let last_end = entries.last().map_or(item.end.byte, |(_, v)| v.end.byte);
        let at = text::end_of_line(ctx.text, last_end);
        splices.push(Splice::insert(at, added));
    }
    Ok(splices)
}

/// Removes whole `key: value` entries of a block mapping. A run that ends
/// before the last entry is cut up to the next key (keeping a `- ` before
/// it); a run reaching the end is cut from the end of the previous line.
fn removal_splices(text: &str, entries: &[(Node<'_>, Node<'_>)], removed: &[bool]) -> Vec<Splice> {
    let mut splices = Vec::new();
    let mut i = 0;
    while i < entries.len() {
        if !removed[i] {
            i += 1;
            continue;
        }
        let first = i;
        while i + 1 < entries.len() && removed[i + 1] {
            i += 1;
        }
        let last = i;
        let range = if last + 1 < entries.len() {
            Some((entries[first].0.start.byte, entries[last + 1].0.start.byte))
        } else if first > 0 {
            Some((
                text::end_of_line(text, entries[first - 1].1.end.byte),
                text::end_of_line(text, entries[last].1.end.byte),
            ))
        } else {
            None
        };
        if let Some((start, end)) = range {
            splices.push(Splice {
                start,
                end,
                text: String::new(),
            });
        }
        i += 1;
    }
    splices
}

/// A flow entry (`- {name: app, newTag: v1}`) is rewritten whole, keeping
/// the text of keys we do not own.
fn rewrite_flow_entry(
    ctx: &Context<'_, '_>,
    item: &Node<'_>,
    desired: &[(&'static str, Option<String>)],
) -> Result<Vec<Splice>, Problem> {
    let entries = item.entries().unwrap_or_default();
    let mut parts = Vec::new();
    let mut changed = false;
    for (k, v) in entries {
        let key = k.as_str().unwrap_or_default();
        match desired.iter().find(|(f, _)| *f == key) {
            None => parts.push(ctx.text[k.start.byte..v.end.byte].to_string()),
            Some((_, None)) => changed = true,
            Some((_, Some(value))) => {
                if v.as_str() == Some(value.as_str()) {
                    parts.push(ctx.text[k.start.byte..v.end.byte].to_string());
                } else {
                    changed = true;
                    let rendered = if v.is_empty_null() || v.as_str().is_none() {
                        text::render_plain_or_quoted(value, true)
                    } else {
                        text::render_like(v, value, true)
                    };
                    parts.push(format!(
                        "{}: {rendered}",
                        &ctx.text[k.start.byte..k.end.byte]
                    ));
                }
            }
        }
    }
    for (key, want) in desired {
        if let Some(value) = want
            && item.index_of(key)?.is_none()
        {
            changed = true;
            parts.push(format!(
                "{key}: {}",
                text::render_plain_or_quoted(value, true)
            ));
        }
    }
    if !changed {
        return Ok(Vec::new());
    }
    Ok(vec![Splice {
        start: item.start.byte,
        end: item.end.byte,
        text: format!("{{{}}}", parts.join(", ")),
    }])
}

/// The fields of a new entry: name as the SPEC spells it, then what it sets.
fn new_entry_fields(spec: &ImageSpec) -> Vec<(&'static str, String)> {
    let mut fields = vec![("name", spec.name.clone())];
    if let Some(Field::Set(n)) = &spec.new_name {
        fields.push(("newName", n.clone()));
    }
    if let Some(t) = spec.new_tag() {
        fields.push(("newTag", t.to_string()));
    }
    if let Some(d) = spec.new_digest() {
        fields.push(("digest", d.to_string()));
    }
    fields
}

/// Appends new entries (one per SPEC) to `images:`, creating the key or
/// filling an empty one as needed. One splice carries all entries, since
/// several insertions at one point would have no defined order.
fn append_entries(
    ctx: &Context<'_, '_>,
    root: &Node<'_>,
    images: Option<&Node<'_>>,
    entries: &[(usize, Vec<(&'static str, String)>)],
) -> Result<Vec<Found>, Problem> {
    let lb = ctx.line_break;
    let block = |dash_col: usize, lines_before: usize, at: usize| {
        let mut text = String::new();
        let mut positions = Vec::new();
        let base_line = line_of(ctx.text, at) + lines_before;
        let mut line = base_line;
        for (_, fields) in entries {
            line += 1;
            positions.push((line, dash_col + 2 + "name: ".len()));
            for (n, (key, value)) in fields.iter().enumerate() {
                text.push_str(lb);
                if n == 0 {
                    text.push_str(&text::indent(dash_col));
                    text.push_str("- ");
                } else {
                    line += 1;
                    text.push_str(&text::indent(dash_col + 2));
                }
                text.push_str(&format!(
                    "{key}: {}",
                    text::render_plain_or_quoted(value, false)
                ));
            }
        }
        (text, positions)
    };
    let (splice, positions) = match images {
        Some(seq) if seq.is_flow() => {
            let close = seq.end.byte.saturating_sub(1);
            let empty = seq.items().is_some_and(<[Node<'_>]>::is_empty);
            let flow_entries: Vec<String> = entries
                .iter()
                .map(|(_, fields)| {
                    let inner: Vec<String> = fields
                        .iter()
                        .map(|(k, v)| format!("{k}: {}", text::render_plain_or_quoted(v, true)))
                        .collect();
                    format!("{{{}}}", inner.join(", "))
                })
                .collect();
            let sep = if empty { "" } else { ", " };
            let text = format!("{sep}{}", flow_entries.join(", "));
            let pos = (line_of(ctx.text, close), seq.end.col);
            (Splice::insert(close, text), vec![pos; entries.len()])
        }
        Some(seq) if !seq.is_empty_null() => {
            let items = seq.items().unwrap_or_default();
            let first = items.first().map_or(seq.start, |i| i.start);
            let dash_col = text::dash_column(ctx.text, first).unwrap_or(1);
            let at = text::end_of_line(ctx.text, seq.end.byte);
            let (text, positions) = block(dash_col, 0, at);
            (Splice::insert(at, text), positions)
        }
        Some(empty) => {
            let key_col = key_column_of(root, "images");
            let dash_col = key_col + sequence_offset(ctx.text, root);
            let at = text::end_of_line(ctx.text, empty.start.byte);
            let (text, positions) = block(dash_col, 0, at);
            (Splice::insert(at, text), positions)
        }
        None => {
            if root.is_flow() {
                return Err(Problem::shape(root, "a block mapping to add `images:` to"));
            }
            let key_col = root.start.col;
            let dash_col = key_col + sequence_offset(ctx.text, root);
            let at = text::end_of_line(ctx.text, root.end.byte);
            let (body, positions) = block(dash_col, 1, at);
            (
                Splice::insert(at, format!("{lb}{}images:{body}", text::indent(key_col))),
                positions,
            )
        }
    };
    let mut splice = Some(splice);
    let mut first = true;
    Ok(entries
        .iter()
        .zip(positions)
        .map(|((spec, fields), (line, col))| {
            let first = std::mem::replace(&mut first, false);
            let get = |k: &str| fields.iter().find(|(f, _)| *f == k).map(|(_, v)| v.clone());
            let new = Written {
                name: get("newName").unwrap_or_else(|| fields[0].1.clone()),
                tag: get("newTag"),
                digest: get("digest"),
            };
            Found {
                spec: *spec,
                kind: TargetKind::Kustomization,
                pos: crate::edit::yaml::Pos {
                    byte: splice.as_ref().map_or(0, |s| s.start),
                    line,
                    col,
                },
                old: String::new(),
                new: new.render(),
                old_tag: None,
                old_digest: None,
                new_name: Some(new.name.clone()),
                new_tag: new.tag.clone(),
                new_digest: new.digest.clone(),
                splices: splice.take().into_iter().collect(),
                claims: Vec::new(),
                splice_elsewhere: !first,
                warning: None,
            }
        })
        .collect())
}

fn line_of(text: &str, byte: usize) -> usize {
    memchr::memchr_iter(b'\n', &text.as_bytes()[..byte]).count() + 1
}

fn key_column_of(root: &Node<'_>, key: &str) -> usize {
    root.entries()
        .and_then(|e| e.iter().find(|(k, _)| k.as_str() == Some(key)))
        .map_or(root.start.col, |(k, _)| k.start.col)
}

/// How far this file indents a block list under its key (`resources:` then
/// `- a` at the key's column is 0, kustomize's own style; `  - a` is 2).
fn sequence_offset(text: &str, root: &Node<'_>) -> usize {
    root.entries()
        .unwrap_or_default()
        .iter()
        .find_map(|(k, v)| {
            let first = v.items()?.first()?;
            if v.is_flow() {
                return None;
            }
            let dash = text::dash_column(text, first.start)?;
            dash.checked_sub(k.start.col)
        })
        .unwrap_or(0)
}
