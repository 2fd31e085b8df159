//! The pure core: one file's bytes and the request in, new bytes and the
//! changes out. No I/O, no globals, so the git write-back can re-run it on a
//! new tip after losing a push race and get the same answer.

use std::collections::HashSet;

use super::image::Written;
use super::text::{self, Splice};
use super::yaml::{self, Node, Pos, Problem, ProblemKind};
use super::{
    Change, EditError, EditRequest, TargetKind, Warning, argocd, compose, helm, kustomize, marker,
    workload,
};

const BOM: &str = "\u{feff}";

/// What one target found for one SPEC at one place.
#[derive(Debug, Clone)]
pub struct Found {
    pub spec: usize,
    pub kind: TargetKind,
    pub pos: Pos,
    pub old: String,
    pub new: String,
    pub old_tag: Option<String>,
    pub old_digest: Option<String>,
    pub new_name: Option<String>,
    pub new_tag: Option<String>,
    pub new_digest: Option<String>,
    pub splices: Vec<Splice>,
    /// Start bytes of the scalars this target answers for, so a scalar is
    /// edited by one target only (markers first).
    pub claims: Vec<usize>,
    /// The edit is made by another `Found`'s splice (new kustomize entries
    /// appended together).
    pub splice_elsewhere: bool,
    /// Something the user should know although the edit is made (a digest
    /// with no key to hold it), reported at `pos`.
    pub warning: Option<String>,
}

impl Found {
    /// An image at `at` going from `old` to `new` through `splices`.
    pub fn written(
        spec: usize,
        kind: TargetKind,
        at: &Node<'_>,
        old: Written,
        new: Written,
        splices: Vec<Splice>,
    ) -> Self {
        Found {
            spec,
            kind,
            pos: at.start,
            old: old.render(),
            new: new.render(),
            old_tag: old.tag,
            old_digest: old.digest,
            new_name: Some(new.name.clone()),
            new_tag: new.tag.clone(),
            new_digest: new.digest.clone(),
            splices,
            claims: vec![at.start.byte],
            splice_elsewhere: false,
            warning: None,
        }
    }

    /// A full reference replaced by another.
    pub fn reference(
        text: &str,
        spec: usize,
        kind: TargetKind,
        node: &Node<'_>,
        old: &Written,
        new: &Written,
        in_flow: bool,
    ) -> Self {
        let old_text = old.render();
        let new_text = new.render();
        let splices = if old_text == new_text {
            Vec::new()
        } else {
            vec![text::replace_scalar(text, node, &new_text, in_flow)]
        };
        Found {
            spec,
            kind,
            pos: node.start,
            old_tag: old.tag.clone(),
            old_digest: old.digest.clone(),
            new_name: Some(new.name.clone()),
            new_tag: new.tag.clone(),
            new_digest: new.digest.clone(),
            old: old_text,
            new: new_text,
            splices,
            claims: vec![node.start.byte],
            splice_elsewhere: false,
            warning: None,
        }
    }
}

/// What a target needs to know besides the document.
pub struct Context<'r, 't> {
    pub text: &'t str,
    pub request: &'r EditRequest,
    /// The file's base name.
    pub file_name: &'t str,
    /// A kustomization the user pointed at (directly or as the one in a
    /// given directory): a missing `images:` entry is appended there.
    pub may_append: bool,
    pub line_break: &'static str,
    /// Whether the file has a setter marker at all (checked once per file,
    /// not once per document).
    pub has_markers: bool,
}

/// The outcome for one file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileEdit {
    /// The new bytes when they differ from the old.
    pub new_bytes: Option<Vec<u8>>,
    pub changes: Vec<Change>,
    /// Per SPEC: whether this file refers to the image at all.
    pub matched: Vec<bool>,
    /// What was not written, and why (a digest with nowhere to go).
    pub warnings: Vec<Warning>,
}

/// Edits one file. `file` is the path shown in changes and errors;
/// `may_append` allows appending a missing entry to a kustomization.
///
/// The edited text is planned again before it is returned: it must parse,
/// and the same request on it must find nothing left to change. That is
/// what idempotence means, and it also proves that every edited key reads
/// back as the value intended (a splice that landed beside its scalar, a
/// stale sibling key, would show up as a change still to make); such a
/// result is refused, never returned.
pub fn edit_file(
    file: &str,
    bytes: &[u8],
    request: &EditRequest,
    may_append: bool,
) -> Result<FileEdit, EditError> {
    let text = decode(file, bytes)?;
    let (bom, body) = match text.strip_prefix(BOM) {
        Some(rest) => (BOM.len(), rest),
        None => (0, text),
    };
    let Plan {
        mut splices,
        changes,
        matched,
        warnings,
    } = plan(file, body, request, may_append)?;
    let new_bytes = if splices.is_empty() {
        None
    } else {
        let edited = text::apply_splices(body, &mut splices);
        check_stable(file, &edited, request, may_append, &changes)?;
        let mut out = Vec::with_capacity(bom + edited.len());
        out.extend_from_slice(&bytes[..bom]);
        out.extend_from_slice(edited.as_bytes());
        (out != bytes).then_some(out)
    };
    Ok(FileEdit {
        new_bytes,
        changes,
        matched,
        warnings,
    })
}

/// Refuses an edited text that does not parse, or on which the same
/// request would still change something.
fn check_stable(
    file: &str,
    edited: &str,
    request: &EditRequest,
    may_append: bool,
    changes: &[Change],
) -> Result<(), EditError> {
    let unstable = |line, col, what| EditError::Unstable {
        file: file.to_string(),
        line,
        col,
        what,
    };
    match plan(file, edited, request, may_append) {
        Ok(again) => match again.changes.first() {
            None => Ok(()),
            Some(c) => Err(unstable(
                c.line,
                c.column,
                format!(
                    "the value here would read back as {:?}, not {:?}",
                    crate::print::cut(&c.old, crate::print::MAX_VALUE),
                    crate::print::cut(&c.new, crate::print::MAX_VALUE)
                ),
            )),
        },
        Err(e) => {
            let first = changes.first();
            Err(unstable(
                first.map_or(1, |c| c.line),
                first.map_or(1, |c| c.column),
                format!("the edited file would not read back ({e})"),
            ))
        }
    }
}

/// What the request changes in one text.
struct Plan {
    splices: Vec<Splice>,
    /// Sorted by position.
    changes: Vec<Change>,
    /// Per SPEC: whether the text refers to its image.
    matched: Vec<bool>,
    warnings: Vec<Warning>,
}

/// Plans the request's changes to one text (no BOM).
fn plan(
    file: &str,
    body: &str,
    request: &EditRequest,
    may_append: bool,
) -> Result<Plan, EditError> {
    let file_name = file.rsplit('/').next().unwrap_or(file);
    let ctx = Context {
        text: body,
        request,
        file_name,
        may_append,
        line_break: text::line_break(body),
        has_markers: marker::present(body),
    };
    let located = |p: Problem| problem_error(file, p);
    let mut found = Vec::new();
    yaml::for_each_document(body, |root| {
        found.extend(find_in_document(&ctx, &root)?);
        Ok(())
    })
    .map_err(located)?;
    let mut matched = vec![false; request.specs.len()];
    let mut claimed = HashSet::new();
    let mut splices: Vec<Splice> = Vec::new();
    let mut changes = Vec::new();
    let mut warnings = Vec::new();
    for f in found {
        if f.claims.iter().any(|c| claimed.contains(c)) {
            continue;
        }
        claimed.extend(f.claims.iter().copied());
        matched[f.spec] = true;
        if let Some(message) = &f.warning {
            warnings.push(Warning {
                file: file.to_string(),
                line: f.pos.line,
                message: message.clone(),
            });
        }
        // Only what is written is reported: a part with nowhere to go (a
        // chart without a `digest` key) is not a change.
        if f.splices.is_empty() && !f.splice_elsewhere {
            continue;
        }
        // Two targets reaching the same text (a Flux `:tag` marker inside a
        // Helm `image:` map): the earlier one, markers first, wins.
        if f.splices
            .iter()
            .any(|s| splices.iter().any(|t| text::overlaps(s, t)))
        {
            continue;
        }
        if let Some(value) = [Some(&f.old), f.old_tag.as_ref(), f.old_digest.as_ref()]
            .into_iter()
            .flatten()
            .find(|v| v.chars().any(char::is_control))
        {
            return Err(EditError::ControlCharacter {
                file: file.to_string(),
                line: f.pos.line,
                col: f.pos.col,
                // Escaped, then cut like any foreign value in a message.
                value: format!(
                    "\"{}\"",
                    crate::print::cut(&value.escape_default().to_string(), crate::print::MAX_VALUE)
                ),
            });
        }
        splices.extend(f.splices.iter().cloned());
        changes.push(Change {
            file: file.to_string(),
            line: f.pos.line,
            column: f.pos.col,
            kind: f.kind,
            image: request.specs[f.spec].name.clone(),
            old: f.old,
            new: f.new,
            old_tag: f.old_tag,
            old_digest: f.old_digest,
            new_name: f.new_name,
            new_tag: f.new_tag,
            new_digest: f.new_digest,
        });
    }
    changes.sort_by_key(|c| (c.line, c.column));
    Ok(Plan {
        splices,
        changes,
        matched,
        warnings,
    })
}

/// Every target's findings in one document, markers first.
fn find_in_document(ctx: &Context<'_, '_>, root: &Node<'_>) -> Result<Vec<Found>, Problem> {
    let mut found = marker::find(ctx, root)?;
    let kind = root.get_str("kind")?;
    if kustomize::applies(ctx.file_name, root, kind) {
        found.extend(kustomize::find(ctx, root)?);
        return Ok(found);
    }
    found.extend(workload::find(ctx, root)?);
    found.extend(workload::find_in_listed_kinds(ctx, root)?);
    found.extend(argocd::find(ctx, root)?);
    found.extend(helm::find_in_helm_release(ctx, root, kind)?);
    if !is_kubernetes_object(root, kind)? {
        found.extend(compose::find(ctx, root)?);
        found.extend(helm::find(ctx, root)?);
    }
    Ok(found)
}

/// Whether a document is a Kubernetes object rather than Helm values or a
/// compose file: it has an `apiVersion`, or a `kind` with the body of an
/// object (`metadata`, `spec`, `data`, `items`). A values file may have a
/// `kind:` of its own (charts that let you pick the workload kind:
/// fluent-bit, Prometheus exporters), beside `image:` and `replicaCount:`.
fn is_kubernetes_object(root: &Node<'_>, kind: Option<&str>) -> Result<bool, Problem> {
    if root.get("apiVersion")?.is_some() {
        return Ok(true);
    }
    if kind.is_none() {
        return Ok(false);
    }
    for key in ["metadata", "spec", "data", "stringData", "items"] {
        if root.get(key)?.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

pub fn decode<'b>(file: &str, bytes: &'b [u8]) -> Result<&'b str, EditError> {
    let at = |offset: usize| {
        let before = &bytes[..offset];
        let line = memchr::memchr_iter(b'\n', before).count() + 1;
        let line_start = memchr::memrchr(b'\n', before).map_or(0, |i| i + 1);
        let col = String::from_utf8_lossy(&before[line_start..])
            .chars()
            .count()
            + 1;
        (line, col)
    };
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let (line, col) = at(e.valid_up_to());
        EditError::NotUtf8 {
            file: file.to_string(),
            line,
            col,
        }
    })?;
    if let Some(offset) = memchr::memchr(0, bytes) {
        let (line, col) = at(offset);
        return Err(EditError::NulByte {
            file: file.to_string(),
            line,
            col,
        });
    }
    Ok(text)
}

pub fn problem_error(file: &str, p: Problem) -> EditError {
    let file = file.to_string();
    let (line, col) = (p.pos.line, p.pos.col);
    match p.what {
        ProblemKind::Syntax(message) => EditError::Yaml {
            file,
            line,
            col,
            message,
        },
        ProblemKind::TooDeep => EditError::TooDeep {
            file,
            line,
            col,
            limit: yaml::MAX_DEPTH,
        },
        ProblemKind::DuplicateKey { key, first_line } => EditError::DuplicateKey {
            file,
            line,
            col,
            key,
            first_line,
        },
        ProblemKind::Shape { expected, found } => EditError::Shape {
            file,
            line,
            col,
            expected,
            found,
        },
    }
}

/// A scalar holding a full image reference: the change the SPEC naming it
/// makes, if any SPEC names it.
pub fn find_reference(
    ctx: &Context<'_, '_>,
    node: &Node<'_>,
    kind: TargetKind,
    in_flow: bool,
) -> Option<Found> {
    // `image: *img` edits the anchored `&img ghcr.io/o/app:v1`.
    let node = node.resolved();
    let value = node.as_str()?;
    let (old, _) = Written::parse(value)?;
    let spec = super::image::matching_spec(&ctx.request.specs, &old.name)?;
    let new = super::image::bump_reference(&ctx.request.specs[spec], &old);
    Some(Found::reference(
        ctx.text, spec, kind, node, &old, &new, in_flow,
    ))
}
