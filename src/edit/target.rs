//! The contract between the engine and the targets: what a target is
//! given ([`Context`]) and what it answers ([`Found`]). The targets import
//! this file and never the engine, so the engine can import every target
//! without an import circle; adding a target means one file in `targets/`
//! and one line in the engine's dispatch.

use super::image::{self, Written};
use super::text::{self, Splice};
use super::yaml::{Node, Pos};
use super::{EditRequest, TargetKind};

/// What one target found for one SPEC at one place.
#[derive(Debug, Clone)]
pub(crate) struct Found {
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
    pub(crate) fn written(
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
    pub(crate) fn reference(
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
pub(crate) struct Context<'r, 't> {
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

/// A scalar holding a full image reference: the change the SPEC naming it
/// makes, if any SPEC names it.
pub(crate) fn find_reference(
    ctx: &Context<'_, '_>,
    node: &Node<'_>,
    kind: TargetKind,
    in_flow: bool,
) -> Option<Found> {
    // `image: *img` edits the anchored `&img ghcr.io/o/app:v1`.
    let node = node.resolved();
    let value = node.as_str()?;
    let (old, _) = Written::parse(value)?;
    let spec = image::matching_spec(&ctx.request.specs, &old.name)?;
    let new = image::bump_reference(&ctx.request.specs[spec], &old);
    Some(Found::reference(
        ctx.text, spec, kind, node, &old, &new, in_flow,
    ))
}
