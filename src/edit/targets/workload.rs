//! Kubernetes workloads: the `image:` of `containers`, `initContainers` and
//! `ephemeralContainers` in a Pod template, and nothing else (a ConfigMap, an
//! annotation or an env value that merely contains the image is never
//! touched). `kind: List` items are searched too. Kinds the user lists
//! (`image-kinds`) have every `image:` under `spec` edited.

use crate::edit::TargetKind;
use crate::edit::target::{Context, Found, find_reference};
use crate::edit::yaml::{Node, Problem};

const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

/// Where the Pod spec lives for each workload kind.
fn pod_spec_path(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "Pod" => &["spec"],
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "Job"
        | "ReplicationController"
        | "Rollout" => &["spec", "template", "spec"],
        "PodTemplate" => &["template", "spec"],
        "CronJob" => &["spec", "jobTemplate", "spec", "template", "spec"],
        _ => return None,
    })
}

pub(crate) fn find(ctx: &Context<'_, '_>, root: &Node<'_>) -> Result<Vec<Found>, Problem> {
    Ok(image_nodes(root)?
        .into_iter()
        .filter_map(|(image, in_flow)| find_reference(ctx, image, TargetKind::Workload, in_flow))
        .collect())
}

/// Every container `image:` scalar of the workload(s) in a document, with
/// whether it sits in a flow mapping.
pub(crate) fn image_nodes<'n, 'a>(
    root: &'n Node<'a>,
) -> Result<Vec<(&'n Node<'a>, bool)>, Problem> {
    let mut found = Vec::new();
    match root.get_str("kind")? {
        Some("List") => {
            if let Some(items) = root.get("items")? {
                let list = items
                    .items()
                    .ok_or_else(|| Problem::shape(items, "a list of objects under `items`"))?;
                for item in list {
                    if let Some(kind) = item.get_str("kind")? {
                        images_in_workload(item, kind, &mut found)?;
                    }
                }
            }
        }
        Some(kind) => images_in_workload(root, kind, &mut found)?,
        None => {}
    }
    Ok(found)
}

fn images_in_workload<'n, 'a>(
    object: &'n Node<'a>,
    kind: &str,
    found: &mut Vec<(&'n Node<'a>, bool)>,
) -> Result<(), Problem> {
    let Some(path) = pod_spec_path(kind) else {
        return Ok(());
    };
    let mut node = object;
    for key in path {
        if node.entries().is_none() {
            return Err(Problem::shape(node, "a mapping"));
        }
        match node.get(key)? {
            Some(next) => node = next,
            None => return Ok(()),
        }
    }
    if node.entries().is_none() {
        return Err(Problem::shape(node, "a Pod spec mapping"));
    }
    for list_key in CONTAINER_LISTS {
        let Some(list) = node.get(list_key)? else {
            continue;
        };
        let Some(containers) = list.items() else {
            if list.is_empty_null() {
                continue;
            }
            return Err(Problem::shape(list, "a list of containers"));
        };
        for container in containers {
            if container.entries().is_none() {
                return Err(Problem::shape(container, "a container mapping"));
            }
            if let Some(image) = container.get("image")? {
                found.push((image, container.is_flow()));
            }
        }
    }
    Ok(())
}

/// Opt-in (`image-kinds`): every string `image:` anywhere under `spec` of an
/// object whose kind the user listed (`AnalysisTemplate`, or with its API
/// group, `Service.serving.knative.dev`). Custom resources put images in
/// places we cannot know (Argo Workflows `container.image`, Tekton
/// `steps[].image`, KServe `containers[].image`); only the user can say a
/// kind's `image:` fields are images, so nothing is guessed.
pub(crate) fn find_in_listed_kinds(
    ctx: &Context<'_, '_>,
    root: &Node<'_>,
) -> Result<Vec<Found>, Problem> {
    let mut found = Vec::new();
    if ctx.request.image_kinds.is_empty() {
        return Ok(found);
    }
    let Some(kind) = root.get_str("kind")? else {
        return Ok(found);
    };
    let group = root
        .get_str("apiVersion")?
        .and_then(|v| v.rsplit_once('/'))
        .map_or("", |(group, _)| group);
    let listed = ctx.request.image_kinds.iter().any(|k| {
        k == kind
            || k.split_once('.')
                .is_some_and(|(k, g)| k == kind && g == group)
    });
    if !listed {
        return Ok(found);
    }
    if let Some(spec) = root.get("spec")? {
        images_anywhere(ctx, spec, &mut found)?;
    }
    Ok(found)
}

fn images_anywhere(
    ctx: &Context<'_, '_>,
    node: &Node<'_>,
    found: &mut Vec<Found>,
) -> Result<(), Problem> {
    if let Some(entries) = node.entries() {
        for (key, value) in entries {
            if key.as_str() == Some("image") && value.resolved().as_str().is_some() {
                found.extend(find_reference(
                    ctx,
                    value,
                    TargetKind::Workload,
                    node.is_flow(),
                ));
            } else {
                images_anywhere(ctx, value, found)?;
            }
        }
    } else if let Some(items) = node.items() {
        for item in items {
            images_anywhere(ctx, item, found)?;
        }
    }
    Ok(())
}
