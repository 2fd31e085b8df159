//! The pure core: one file's bytes and the request in, new bytes and the
//! changes out. No I/O, no globals, so the git write-back can re-run it on a
//! new tip after losing a push race and get the same answer.

use std::collections::HashSet;

use super::error::{self, EditError, EditProblem, Located};
use super::target::{Context, Found};
use super::targets::{argocd, compose, helm, kustomize, marker, workload};
use super::text::{self, Splice};
use super::yaml::{self, Node, Problem};
use super::{Change, EditRequest, Warning};

const BOM: &str = "\u{feff}";

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
    let unstable = |line, col, what| Located::new(file, line, col, EditProblem::Unstable { what });
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
    let located = |p: Problem| error::located(file, p);
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
            return Err(Located::new(
                file,
                f.pos.line,
                f.pos.col,
                EditProblem::ControlCharacter {
                    // Escaped, then cut like any foreign value in a message.
                    value: format!(
                        "\"{}\"",
                        crate::print::cut(
                            &value.escape_default().to_string(),
                            crate::print::MAX_VALUE
                        )
                    ),
                },
            ));
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

pub(crate) fn decode<'b>(file: &str, bytes: &'b [u8]) -> Result<&'b str, EditError> {
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
        Located::new(file, line, col, EditProblem::NotUtf8)
    })?;
    if let Some(offset) = memchr::memchr(0, bytes) {
        let (line, col) = at(offset);
        return Err(Located::new(file, line, col, EditProblem::NulByte));
    }
    Ok(text)
}

/// Refuses a change whose values, read from the file, are not what they
/// claim to be (a tag holding a newline and a workflow command, say): they
/// become step outputs, log lines and summary cells.
pub fn check_values(c: &Change) -> Result<(), EditError> {
    use crate::print::{MAX_VALUE, cut};
    use crate::reference::{Digest, ImageName, check_tag};
    let refuse = |what, value: &str, why: String| {
        Located::new(
            c.file.clone(),
            c.line,
            c.column,
            EditProblem::InvalidValue {
                what,
                value: cut(value, MAX_VALUE).into_owned(),
                why: cut(&why, 4 * MAX_VALUE).into_owned(),
            },
        )
    };
    if c.file.chars().any(crate::print::is_hidden) {
        return Err(refuse(
            "path",
            &c.file,
            format!("{:?} contains a control character or line break", c.file),
        ));
    }
    let present = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
    for tag in [present(&c.old_tag), present(&c.new_tag)]
        .into_iter()
        .flatten()
    {
        check_tag(&tag).map_err(|e| refuse("tag", &tag, e.to_string()))?;
    }
    for digest in [present(&c.old_digest), present(&c.new_digest)]
        .into_iter()
        .flatten()
    {
        Digest::parse(&digest).map_err(|e| refuse("digest", &digest, e.to_string()))?;
    }
    if let Some(name) = present(&c.new_name) {
        ImageName::parse(&name).map_err(|e| refuse("image name", &name, e.to_string()))?;
    }
    Ok(())
}
