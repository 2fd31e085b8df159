//! Helm values: `repository` (or `image`) + `tag` (or `version`)/`digest`
//! maps anywhere (with an optional `registry` part), string values of
//! `image` and `*Image` keys, single-string `image:` values, and the key
//! paths the user names (`values-path: app.image`, a string or a map).
//! Documents that are not Kubernetes objects are values: no `apiVersion`,
//! and no `kind` beside `metadata`/`spec`/`data`/`items` (a values file
//! may have a `kind:` of its own, as fluent-bit's does).
//!
//! Rules, as for full references, adapted to separate keys:
//! - a new tag empties a `digest` key (`digest: ""`): the digest pinned the
//!   old tag;
//! - a new digest alone empties the `tag` key, but only when there is a
//!   `digest` key to hold it; charts without one keep their tag;
//! - a `digest` key is never created (a chart that does not read it would
//!   silently ignore it): a SPEC's digest with no key is reported as a
//!   warning naming the key to add; a missing `tag` key is added when a tag
//!   is set.

use crate::edit::TargetKind;
use crate::edit::image::{Written, bumped_name, matching_spec};
use crate::edit::target::{Context, Found, find_reference};
use crate::edit::text::{self, Splice};
use crate::edit::yaml::{Node, Problem};
use crate::spec::{Field, ImageSpec};

pub(crate) fn find(ctx: &Context<'_, '_>, root: &Node<'_>) -> Result<Vec<Found>, Problem> {
    let mut found = Vec::new();
    for path in &ctx.request.values_paths {
        if let Some((node, in_flow)) = lookup(root, path)? {
            if node.as_str().is_some() {
                found.extend(find_reference(ctx, node, TargetKind::HelmValues, in_flow));
            } else if node.entries().is_some() {
                found.extend(find_in_map(ctx, node, TargetKind::HelmValues)?);
            }
        }
    }
    walk(ctx, root, &mut found)?;
    Ok(found)
}

/// Follows `a.b.c` through mappings.
fn lookup<'n, 'a>(root: &'n Node<'a>, path: &str) -> Result<Option<(&'n Node<'a>, bool)>, Problem> {
    let mut node = root;
    let mut in_flow = false;
    for key in path.split('.') {
        in_flow = node.is_flow();
        match node.get(key)? {
            Some(next) => node = next,
            None => return Ok(None),
        }
    }
    Ok(Some((node, in_flow)))
}

pub(crate) fn walk(
    ctx: &Context<'_, '_>,
    node: &Node<'_>,
    found: &mut Vec<Found>,
) -> Result<(), Problem> {
    if let Some(entries) = node.entries() {
        found.extend(find_in_map(ctx, node, TargetKind::HelmValues)?);
        let split = has_split_keys(node)?;
        for (key, value) in entries {
            // Beside `tag`/`digest`/`registry`, `image:` is only the
            // repository part: never a full reference to rewrite.
            if key.as_str().is_some_and(holds_reference) && value.as_str().is_some() && !split {
                found.extend(find_reference(
                    ctx,
                    value,
                    TargetKind::HelmValues,
                    node.is_flow(),
                ));
            }
            walk(ctx, value, found)?;
        }
    } else if let Some(items) = node.items() {
        for item in items {
            walk(ctx, item, found)?;
        }
    }
    Ok(())
}

/// Value keys holding a full reference: `image`, and names ending in
/// `Image` (`sidecarImage`, `initImage`), as charts name extra images.
fn holds_reference(key: &str) -> bool {
    key == "image" || (key.len() > "Image".len() && key.ends_with("Image"))
}

/// Flux `HelmRelease.spec.values`: values inline in a Kubernetes object,
/// searched like a values file.
pub(crate) fn find_in_helm_release(
    ctx: &Context<'_, '_>,
    root: &Node<'_>,
    kind: Option<&str>,
) -> Result<Vec<Found>, Problem> {
    let mut found = Vec::new();
    let is_flux = root
        .get_str("apiVersion")?
        .is_some_and(|v| v.starts_with("helm.toolkit.fluxcd.io/"));
    if kind == Some("HelmRelease")
        && is_flux
        && let Some(values) = root
            .get("spec")?
            .map(|s| s.get("values"))
            .transpose()?
            .flatten()
    {
        walk(ctx, values, &mut found)?;
    }
    Ok(found)
}

/// The keys that hold an image's parts separately.
const PART_KEYS: [&str; 3] = ["registry", "tag", "digest"];

/// Whether a map spells an image in parts (`registry`, `tag`, `digest`).
fn has_split_keys(map: &Node<'_>) -> Result<bool, Problem> {
    for key in PART_KEYS {
        if map.get(key)?.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The repository part of a map spelling an image in parts: `repository`,
/// or `image` beside `registry`/`tag`/`digest` (ingress-nginx's
/// `{registry, image, tag, digest}`).
fn repository_node<'n, 'a>(map: &'n Node<'a>) -> Result<Option<&'n Node<'a>>, Problem> {
    if let Some(node) = map.get("repository")? {
        return Ok(Some(node));
    }
    if !has_split_keys(map)? {
        return Ok(None);
    }
    map.get("image")
}

/// The tag and digest after the SPEC for separate keys (see the module doc).
pub(crate) fn pair_values(
    spec: &ImageSpec,
    tag: Option<&str>,
    digest: Option<&str>,
    digest_writable: bool,
) -> (Option<String>, Option<String>) {
    let digest_set = digest_writable && matches!(spec.digest, Some(Field::Set(_)));
    let new_tag = match &spec.tag {
        Some(Field::Set(t)) => Some(t.clone()),
        None if digest_set => None,
        _ => tag.map(str::to_string),
    };
    let new_digest = if !digest_writable {
        digest.map(str::to_string)
    } else {
        match (&spec.digest, &spec.tag) {
            (Some(Field::Set(d)), _) => Some(d.to_string()),
            (None, Some(Field::Set(_))) => None,
            _ => digest.map(str::to_string),
        }
    };
    (new_tag, new_digest)
}

/// A `{registry?, repository, tag?, digest?}` map naming the SPEC's image.
fn find_in_map(
    ctx: &Context<'_, '_>,
    map: &Node<'_>,
    kind: TargetKind,
) -> Result<Option<Found>, Problem> {
    let Some(repo_node) = repository_node(map)? else {
        return Ok(None);
    };
    let Some(repository) = repo_node.as_str() else {
        return Ok(None);
    };
    let registry_node = map
        .get("registry")?
        .filter(|r| r.as_str().is_some_and(|s| !s.is_empty()));
    let registry = registry_node.and_then(Node::as_str);
    let full_name = match registry {
        Some(r) => format!("{r}/{repository}"),
        None => repository.to_string(),
    };
    let Some(spec_index) = matching_spec(&ctx.request.specs, &full_name) else {
        return Ok(None);
    };
    let spec = &ctx.request.specs[spec_index];
    // `version:` stands for the tag in some charts, only where no `tag` is.
    let tag_node = match map.get("tag")? {
        Some(node) => Some(node),
        None => map.get("version")?,
    };
    let digest_node = map.get("digest")?;
    let present = |n: Option<&Node<'_>>| {
        n.filter(|n| !n.is_null())
            .and_then(Node::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let (old_tag, old_digest) = (present(tag_node), present(digest_node));
    let (new_tag, new_digest) = pair_values(
        spec,
        old_tag.as_deref(),
        old_digest.as_deref(),
        digest_node.is_some(),
    );
    let in_flow = map.is_flow();
    let mut splices: Vec<Splice> = Vec::new();
    let new_name = bumped_name(spec, &full_name);
    if new_name != full_name {
        match registry_node {
            Some(reg_node) => {
                let (reg, path) = split_registry(&new_name);
                splices.extend(text::set_scalar(ctx.text, reg_node, reg, in_flow));
                splices.extend(text::set_scalar(ctx.text, repo_node, path, in_flow));
            }
            None => splices.extend(text::set_scalar(ctx.text, repo_node, &new_name, in_flow)),
        }
    }
    match (tag_node, &new_tag) {
        (Some(node), want) => {
            if node.as_str().is_none() && !node.is_empty_null() {
                return Err(Problem::shape(node, "a string tag"));
            }
            splices.extend(text::set_scalar(
                ctx.text,
                node,
                want.as_deref().unwrap_or(""),
                in_flow,
            ));
        }
        (None, Some(tag)) if in_flow => {
            // Before the closing brace: `{repository: app, tag: v2}`.
            let close = map.end.byte.saturating_sub(1);
            splices.push(Splice::insert(
                close,
                format!(", tag: {}", text::render_plain_or_quoted(tag, true)),
            ));
        }
        (None, Some(tag)) => {
            let (last_key, last_value) = map
                .entries()
                .and_then(<[_]>::last)
                .ok_or_else(|| Problem::shape(map, "a mapping"))?;
            let at = text::end_of_line(ctx.text, last_value.end.byte);
            splices.push(Splice::insert(
                at,
                format!(
                    "{}{}tag: {}",
                    ctx.line_break,
                    text::indent(last_key.start.col),
                    text::render_plain_or_quoted(tag, false)
                ),
            ));
        }
        _ => {}
    }
    if let Some(node) = digest_node {
        splices.extend(text::set_scalar(
            ctx.text,
            node,
            new_digest.as_deref().unwrap_or(""),
            in_flow,
        ));
    }
    let old = Written::from_parts(full_name, old_tag, old_digest);
    let new = Written::from_parts(new_name, new_tag, new_digest);
    let mut found = Found::written(spec_index, kind, repo_node, old, new, splices);
    found.warning = unwritten_digest(spec, digest_node.is_some(), "key `digest`", "values map");
    Ok(Some(found))
}

/// The warning for a SPEC's digest with nowhere to go: the map (or the
/// parameter list) has no place for it, and one is never created because a
/// chart that does not read it would silently ignore it.
pub(crate) fn unwritten_digest(
    spec: &ImageSpec,
    has_place: bool,
    place: &str,
    container: &str,
) -> Option<String> {
    if has_place {
        return None;
    }
    spec.new_digest().map(|d| {
        format!(
            "the digest {d} was not written: this {container} has no {place}; add the {place} (empty) if the chart reads it, then run again"
        )
    })
}

/// `ghcr.io/org/app` → (`ghcr.io`, `org/app`); a name without a registry
/// host is on Docker Hub.
fn split_registry(name: &str) -> (&str, &str) {
    match name.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => (first, rest),
        _ => (crate::reference::DOCKER_HUB, name),
    }
}
