//! Argo CD `Application` / `ApplicationSet` (`spec.template.spec`): in each
//! of `spec.source` and `spec.sources[]`,
//! - `kustomize.images` strings (`name=newname:tag`, `name:tag`,
//!   `name@digest`), with the semantics of a kustomize `images:` entry
//!   (a part the SPEC does not give is dropped, `*` keeps it);
//! - `helm.parameters` named `<prefix>repository` whose value is the image:
//!   the sibling `<prefix>tag`/`<prefix>digest` parameters are set like Helm
//!   values; parameters named `image`, `*.image` or a `values-path` hold a
//!   full reference;
//! - `helm.parameters` holding only `<prefix>tag` (and `<prefix>digest`),
//!   the repository being in the chart's values: opt-in, by an annotation
//!   on the Application naming the image, `gitops-bump/image: ghcr.io/o/app`
//!   for `image.tag`, `gitops-bump/<prefix>` for `<prefix>.tag`. The
//!   annotation is never edited (a rename cannot be written there); a
//!   `<prefix>repository` parameter, when present, wins over it;
//! - `helm.valuesObject`, searched like a values file.
//!
//! Existing strings and parameters are edited; none is added.

use super::helm;
use crate::edit::TargetKind;
use crate::edit::image::{Written, kustomize_field, matching_spec, spec_digest_as_string};
use crate::edit::target::{Context, Found, find_reference};
use crate::edit::text;
use crate::edit::yaml::{Node, Problem};
use crate::spec::Field;

pub(crate) fn find(ctx: &Context<'_, '_>, root: &Node<'_>) -> Result<Vec<Found>, Problem> {
    let mut found = Vec::new();
    let is_argo = root
        .get_str("apiVersion")?
        .is_some_and(|v| v.starts_with("argoproj.io/"));
    if !is_argo {
        return Ok(found);
    }
    let spec = match root.get_str("kind")? {
        Some("Application") => root.get("spec")?,
        Some("ApplicationSet") => match root.get("spec")? {
            Some(s) => match s.get("template")? {
                Some(t) => t.get("spec")?,
                None => None,
            },
            None => None,
        },
        _ => None,
    };
    let Some(spec) = spec else {
        return Ok(found);
    };
    let mut metadata: Vec<&Node<'_>> = root.get("metadata")?.into_iter().collect();
    if let Some(template) = root
        .get("spec")?
        .map(|s| s.get("template"))
        .transpose()?
        .flatten()
        && let Some(meta) = template.get("metadata")?
    {
        metadata.push(meta);
    }
    let annotated = annotated_images(&metadata)?;
    let mut sources: Vec<&Node<'_>> = spec.get("source")?.into_iter().collect();
    if let Some(list) = spec.get("sources")? {
        sources.extend(list.items().unwrap_or_default());
    }
    for source in sources {
        if let Some(kustomize) = source.get("kustomize")?
            && let Some(images) = kustomize.get("images")?
        {
            for image in images.items().unwrap_or_default() {
                found.extend(kustomize_image(ctx, image, images.is_flow())?);
            }
        }
        if let Some(helm) = source.get("helm")? {
            if let Some(params) = helm.get("parameters")? {
                found.extend(parameters(
                    ctx,
                    params.items().unwrap_or_default(),
                    &annotated,
                )?);
            }
            if let Some(values) = helm.get("valuesObject")? {
                let mut in_values = Vec::new();
                helm::walk(ctx, values, &mut in_values)?;
                for mut f in in_values {
                    f.kind = TargetKind::ArgoCd;
                    found.push(f);
                }
            }
        }
    }
    Ok(found)
}

/// One `kustomize.images` string.
fn kustomize_image(
    ctx: &Context<'_, '_>,
    node: &Node<'_>,
    in_flow: bool,
) -> Result<Option<Found>, Problem> {
    let Some(value) = node.as_str() else {
        return Ok(None);
    };
    let (name, renamed) = match value.split_once('=') {
        Some((left, right)) => match Written::parse(right) {
            Some((w, _)) => (left.to_string(), Some(w)),
            None => return Ok(None),
        },
        None => match Written::parse(value) {
            Some((w, _)) => (
                w.name.clone(),
                Some(Written {
                    name: String::new(),
                    ..w
                }),
            ),
            None => return Ok(None),
        },
    };
    let existing = renamed.unwrap_or(Written {
        name: String::new(),
        tag: None,
        digest: None,
    });
    let old_new_name = (!existing.name.is_empty()).then(|| existing.name.clone());
    let by_name = matching_spec(&ctx.request.specs, &name);
    let (spec_index, via_new_name) = match by_name {
        Some(i) => (i, false),
        None => match old_new_name
            .as_deref()
            .and_then(|n| matching_spec(&ctx.request.specs, n))
        {
            Some(i) => (i, true),
            None => return Ok(None),
        },
    };
    let spec = &ctx.request.specs[spec_index];
    let new_name_field = match (&spec.new_name, via_new_name) {
        (None, true) => Some(Field::Keep),
        (other, _) => other.clone(),
    };
    let new_name = kustomize_field(new_name_field, old_new_name.as_deref());
    let tag = kustomize_field(spec.tag.clone(), existing.tag.as_deref());
    let digest = kustomize_field(spec_digest_as_string(spec), existing.digest.as_deref());
    let mut new_value = name.clone();
    if let Some(n) = &new_name {
        new_value.push('=');
        new_value.push_str(n);
    }
    let new_ref = Written {
        name: String::new(),
        tag: tag.clone(),
        digest: digest.clone(),
    };
    new_value.push_str(&new_ref.render());
    Ok(Some(Found {
        spec: spec_index,
        kind: TargetKind::ArgoCd,
        pos: node.start,
        old: value.to_string(),
        new: new_value.clone(),
        old_tag: existing.tag.clone(),
        old_digest: existing.digest.clone(),
        new_name: Some(new_name.unwrap_or(name)),
        new_tag: tag,
        new_digest: digest,
        splices: text::set_scalar(ctx.text, node, &new_value, in_flow)
            .into_iter()
            .collect(),
        claims: vec![node.start.byte],
        splice_elsewhere: false,
        warning: None,
    }))
}

/// The annotation naming the image whose parts are in `helm.parameters`
/// when no `<prefix>repository` parameter names it: `gitops-bump/image`
/// for `image.tag`/`image.digest`, `gitops-bump/<prefix>` for
/// `<prefix>.tag` (`gitops-bump/backend.image` for `backend.image.tag`).
const ANNOTATION_PREFIX: &str = "gitops-bump/";

/// `(parameter prefix, image name)` from the Application's annotations
/// (and, for an ApplicationSet, its template's).
fn annotated_images(metadata: &[&Node<'_>]) -> Result<Vec<(String, String)>, Problem> {
    let mut out = Vec::new();
    for meta in metadata {
        let Some(annotations) = meta.get("annotations")? else {
            continue;
        };
        for (key, value) in annotations.entries().unwrap_or_default() {
            if let (Some(key), Some(value)) = (key.as_str(), value.as_str())
                && let Some(prefix) = key.strip_prefix(ANNOTATION_PREFIX)
                && !prefix.is_empty()
            {
                out.push((format!("{prefix}."), value.to_string()));
            }
        }
    }
    Ok(out)
}

/// One `helm.parameters` entry: its name, value node and flow style.
type Param<'n, 'a> = (&'n str, &'n Node<'a>, bool);

/// `helm.parameters`: `[{name, value}]`.
fn parameters(
    ctx: &Context<'_, '_>,
    params: &[Node<'_>],
    annotated: &[(String, String)],
) -> Result<Vec<Found>, Problem> {
    let mut found = Vec::new();
    let mut named: Vec<Param<'_, '_>> = Vec::new();
    for p in params {
        if let (Some(name), Some(value)) = (p.get_str("name")?, p.get("value")?) {
            named.push((name, value, p.is_flow()));
        }
    }
    let param = |n: &str| named.iter().find(|(name, _, _)| *name == n);
    for (name, value, in_flow) in &named {
        let full_ref = *name == "image"
            || name.ends_with(".image")
            || ctx.request.values_paths.iter().any(|p| p == name);
        if full_ref {
            found.extend(find_reference(ctx, value, TargetKind::ArgoCd, *in_flow));
            continue;
        }
        let Some(prefix) = name.strip_suffix("repository") else {
            continue;
        };
        let Some(repository) = value.as_str() else {
            continue;
        };
        let registry = param(&format!("{prefix}registry"))
            .and_then(|(_, v, _)| v.as_str())
            .filter(|r| !r.is_empty());
        let full_name = match registry {
            Some(r) => format!("{r}/{repository}"),
            None => repository.to_string(),
        };
        let name_param = registry.is_none().then_some((*value, *in_flow));
        found.extend(parts(ctx, &named, prefix, full_name, value, name_param));
    }
    // The image named by an annotation, for a prefix without a repository
    // parameter: only the tag and digest parameters are there to edit.
    for (prefix, image) in annotated {
        if param(&format!("{prefix}repository")).is_some() {
            continue;
        }
        let anchor = param(&format!("{prefix}tag")).or_else(|| param(&format!("{prefix}digest")));
        if let Some((_, node, _)) = anchor {
            found.extend(parts(ctx, &named, prefix, image.clone(), node, None));
        }
    }
    Ok(found)
}

/// The `<prefix>tag`/`<prefix>digest` parameters of the image `full_name`
/// set like Helm values, and its name rewritten in `name_param` if given.
fn parts(
    ctx: &Context<'_, '_>,
    named: &[Param<'_, '_>],
    prefix: &str,
    full_name: String,
    anchor: &Node<'_>,
    name_param: Option<(&Node<'_>, bool)>,
) -> Option<Found> {
    let param = |n: &str| named.iter().find(|(name, _, _)| *name == n);
    let spec_index = matching_spec(&ctx.request.specs, &full_name)?;
    let spec = &ctx.request.specs[spec_index];
    let tag_param = param(&format!("{prefix}tag"));
    let digest_param = param(&format!("{prefix}digest"));
    let present = |p: Option<&Param<'_, '_>>| {
        p.and_then(|(_, v, _)| v.as_str())
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let (old_tag, old_digest) = (present(tag_param), present(digest_param));
    let (new_tag, new_digest) = helm::pair_values(
        spec,
        old_tag.as_deref(),
        old_digest.as_deref(),
        digest_param.is_some(),
    );
    // Parameters are edited, never added: without a tag parameter the
    // tag stays what the chart says.
    let new_tag = if tag_param.is_some() {
        new_tag
    } else {
        old_tag.clone()
    };
    let mut splices = Vec::new();
    // A name with nowhere to be written (an annotated image) stays.
    let new_name = match name_param {
        Some((node, in_flow)) => {
            let new_name = crate::edit::image::bumped_name(spec, &full_name);
            splices.extend(text::set_scalar(ctx.text, node, &new_name, in_flow));
            new_name
        }
        None => full_name.clone(),
    };
    if let Some((_, node, flow)) = tag_param {
        splices.extend(text::set_scalar(
            ctx.text,
            node,
            new_tag.as_deref().unwrap_or(""),
            *flow,
        ));
    }
    if let Some((_, node, flow)) = digest_param {
        splices.extend(text::set_scalar(
            ctx.text,
            node,
            new_digest.as_deref().unwrap_or(""),
            *flow,
        ));
    }
    let old = Written::from_parts(full_name, old_tag, old_digest);
    let new = Written::from_parts(new_name, new_tag, new_digest);
    let mut found = Found::written(spec_index, TargetKind::ArgoCd, anchor, old, new, splices);
    found.warning = helm::unwritten_digest(
        spec,
        digest_param.is_some(),
        &format!("parameter `{prefix}digest`"),
        "`helm.parameters` list",
    );
    Some(found)
}
