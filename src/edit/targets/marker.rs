//! Setter markers: a line comment after any scalar opts it in, so any CRD
//! can be bumped.
//!
//! - Flux: `# {"$imagepolicy": "ns:policy"}` marks a full reference;
//!   `ns:policy:tag`, `:name` and `:digest` mark the part alone. The policy
//!   is matched to a SPEC by the image name in the marked scalar itself; a
//!   `:tag`/`:digest` scalar takes the name from the `:name` (or full)
//!   scalar of the same policy in the document, or else the policy's name
//!   must be the image's last path component (`podinfo` for
//!   `ghcr.io/stefanprodan/podinfo`).
//! - Ours: `# gitops-bump: NAME` marks a full reference of NAME;
//!   `NAME:tag`, `NAME:digest`, `NAME:name` mark the part alone.
//!
//! A part alone changes only when the SPEC sets it (`*` and absent parts
//! leave it as it is).

use crate::edit::TargetKind;
use crate::edit::image::{Written, bump_reference, matching_spec};
use crate::edit::target::{Context, Found};
use crate::edit::text;
use crate::edit::yaml::{Node, Problem};
use crate::reference::ImageName;
use crate::spec::Field;

const FLUX_KEY: &str = "$imagepolicy";
const OUR_KEY: &str = "gitops-bump:";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Full,
    Name,
    Tag,
    Digest,
}

impl Part {
    fn from_suffix(s: &str) -> Option<Part> {
        match s {
            "tag" => Some(Part::Tag),
            "name" => Some(Part::Name),
            "digest" => Some(Part::Digest),
            _ => None,
        }
    }
}

#[derive(Debug)]
enum Owner {
    /// A Flux policy (`ns:name`).
    Policy(String),
    /// Our marker's image name.
    Image(String),
}

struct Site<'n, 'a> {
    node: &'n Node<'a>,
    in_flow: bool,
    owner: Owner,
    part: Part,
}

/// Whether `text` may hold a marker.
pub(crate) fn present(text: &str) -> bool {
    text.contains(FLUX_KEY) || text.contains(OUR_KEY)
}

pub(crate) fn find(ctx: &Context<'_, '_>, root: &Node<'_>) -> Result<Vec<Found>, Problem> {
    let mut found = Vec::new();
    if !ctx.has_markers {
        return Ok(found);
    }
    let mut sites = Vec::new();
    collect(ctx.text, root, false, &mut sites);
    for site in &sites {
        let spec_index = match &site.owner {
            Owner::Image(name) => matching_spec(&ctx.request.specs, name),
            Owner::Policy(policy) => policy_spec(ctx, &sites, site, policy),
        };
        let Some(spec_index) = spec_index else {
            continue;
        };
        found.extend(edit_site(ctx, spec_index, site)?);
    }
    Ok(found)
}

/// The SPEC a Flux-marked scalar belongs to.
fn policy_spec(
    ctx: &Context<'_, '_>,
    sites: &[Site<'_, '_>],
    site: &Site<'_, '_>,
    policy: &str,
) -> Option<usize> {
    let name_in = |s: &Site<'_, '_>| -> Option<String> {
        let v = s.node.as_str()?;
        match s.part {
            Part::Full => Written::parse(v).map(|(w, _)| w.name),
            Part::Name => Some(v.to_string()),
            _ => None,
        }
    };
    if let Some(name) = name_in(site) {
        return matching_spec(&ctx.request.specs, &name);
    }
    let same_policy = sites
        .iter()
        .filter(|s| matches!(&s.owner, Owner::Policy(p) if p == policy))
        .find_map(name_in);
    if let Some(name) = same_policy {
        return matching_spec(&ctx.request.specs, &name);
    }
    let policy_name = policy.rsplit(':').next().unwrap_or(policy);
    ctx.request
        .specs
        .iter()
        .position(|s| s.matcher.repository.rsplit('/').next() == Some(policy_name))
}

fn edit_site(
    ctx: &Context<'_, '_>,
    spec_index: usize,
    site: &Site<'_, '_>,
) -> Result<Option<Found>, Problem> {
    let spec = &ctx.request.specs[spec_index];
    let node = site.node;
    let Some(value) = node.as_str() else {
        return Ok(None);
    };
    if site.part == Part::Full {
        let (old, _) = Written::parse(value).ok_or_else(|| {
            Problem::shape(node, "an image reference (the comment marks it as one)")
        })?;
        let new = bump_reference(spec, &old);
        return Ok(Some(Found::reference(
            ctx.text,
            spec_index,
            TargetKind::Marker,
            node,
            &old,
            &new,
            site.in_flow,
        )));
    }
    let wanted = match site.part {
        Part::Name => match &spec.new_name {
            Some(Field::Set(n)) => Some(n.clone()),
            _ => None,
        },
        Part::Tag => spec.new_tag().map(str::to_string),
        Part::Digest => spec.new_digest().map(|d| d.to_string()),
        Part::Full => None,
    };
    let new = wanted.unwrap_or_else(|| value.to_string());
    let opt = |p: Part, v: &str| (site.part == p).then(|| v.to_string());
    Ok(Some(Found {
        spec: spec_index,
        kind: TargetKind::Marker,
        pos: node.start,
        old: value.to_string(),
        new: new.clone(),
        old_tag: opt(Part::Tag, value),
        old_digest: opt(Part::Digest, value),
        new_name: opt(Part::Name, &new),
        new_tag: opt(Part::Tag, &new),
        new_digest: opt(Part::Digest, &new),
        splices: text::set_scalar(ctx.text, node, &new, site.in_flow)
            .into_iter()
            .collect(),
        claims: vec![node.start.byte],
        splice_elsewhere: false,
        warning: None,
    }))
}

/// Every scalar followed on its line by a marker comment.
fn collect<'n, 'a>(text: &str, node: &'n Node<'a>, in_flow: bool, sites: &mut Vec<Site<'n, 'a>>) {
    if let Some(entries) = node.entries() {
        for (_, value) in entries {
            collect(text, value, node.is_flow(), sites);
        }
    } else if let Some(items) = node.items() {
        for item in items {
            collect(text, item, node.is_flow(), sites);
        }
    } else if node.as_str().is_some()
        && let Some((owner, part)) = marker_after(text, node.end.byte)
    {
        sites.push(Site {
            node,
            in_flow,
            owner,
            part,
        });
    }
}

/// The marker in a comment that follows `end` on the same line.
fn marker_after(text: &str, end: usize) -> Option<(Owner, Part)> {
    let rest = &text[end..];
    let line = &rest[..memchr::memchr(b'\n', rest.as_bytes()).unwrap_or(rest.len())];
    let comment = line
        .trim_start_matches([' ', '\t'])
        .strip_prefix('#')?
        .trim();
    if comment.starts_with('{') && comment.contains(FLUX_KEY) {
        let json: serde_json::Value = serde_json::from_str(comment).ok()?;
        let policy = json.get(FLUX_KEY)?.as_str()?;
        let parts: Vec<&str> = policy.split(':').collect();
        return match parts.as_slice() {
            [ns, name] => Some((Owner::Policy(format!("{ns}:{name}")), Part::Full)),
            [ns, name, suffix] => Some((
                Owner::Policy(format!("{ns}:{name}")),
                Part::from_suffix(suffix)?,
            )),
            _ => None,
        };
    }
    let marked = comment.strip_prefix(OUR_KEY)?.trim();
    let marked = marked.split_whitespace().next()?;
    let (name, part) = match marked
        .rsplit_once(':')
        .and_then(|(n, s)| Some((n, Part::from_suffix(s)?)))
    {
        Some((n, p)) => (n, p),
        None => (marked, Part::Full),
    };
    ImageName::parse(name).ok()?;
    Some((Owner::Image(name.to_string()), part))
}
