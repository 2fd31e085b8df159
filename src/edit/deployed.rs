//! What is deployed: the image references currently set in kustomizations
//! and workloads, for `promote` (copy what runs in one overlay to another).

use super::TargetKind;
use super::engine::decode;
use super::error::{self, EditError};
use super::image::Written;
use super::targets::{kustomize, workload};
use super::yaml::{self, Node};

/// One image reference found in a file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct DeployedImage {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub kind: TargetKind,
    /// The name as written: a kustomize entry's `name`, or the reference's.
    pub name: String,
    /// A kustomize entry's `newName`.
    pub new_name: Option<String>,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

/// The images set in one file's bytes.
pub(crate) fn images_in_file(file: &str, bytes: &[u8]) -> Result<Vec<DeployedImage>, EditError> {
    let text = decode(file, bytes)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let file_name = file.rsplit('/').next().unwrap_or(file);
    let located = |p| error::located(file, p);
    let mut out = Vec::new();
    for doc in yaml::parse(text).map_err(located)? {
        let root = &doc.root;
        let kind = root.get_str("kind").map_err(located)?;
        if kustomize::applies(file_name, root, kind) {
            if root.entries().is_none() {
                continue;
            }
            let images = root.get("images").map_err(located)?;
            for entry in kustomize::image_entries(images).map_err(located)? {
                let field = |k: &str| -> Result<Option<String>, EditError> {
                    Ok(entry.get_str(k).map_err(located)?.map(str::to_string))
                };
                let Some(name) = field("name")? else { continue };
                let at = entry.get("name").ok().flatten().unwrap_or(entry);
                out.push(DeployedImage {
                    file: file.to_string(),
                    line: at.start.line,
                    column: at.start.col,
                    kind: TargetKind::Kustomization,
                    name,
                    new_name: field("newName")?,
                    tag: field("newTag")?,
                    digest: field("digest")?,
                });
            }
            continue;
        }
        for (node, _) in workload::image_nodes(root).map_err(located)? {
            if let Some(image) = reference_at(file, node) {
                out.push(image);
            }
        }
    }
    Ok(out)
}

fn reference_at(file: &str, node: &Node<'_>) -> Option<DeployedImage> {
    let (w, _) = Written::parse(node.as_str()?)?;
    Some(DeployedImage {
        file: file.to_string(),
        line: node.start.line,
        column: node.start.col,
        kind: TargetKind::Workload,
        name: w.name,
        new_name: None,
        tag: w.tag,
        digest: w.digest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::ImageSpec;

    #[test]
    fn lists_kustomize_entries_and_container_images() {
        let cases: &[(&str, &str, &[&str])] = &[
            (
                "overlays/dev/kustomization.yaml",
                "images:\n- name: app\n  newName: ghcr.io/o/app\n  newTag: v2\n- name: db\n  digest: sha256:1111111111111111111111111111111111111111111111111111111111111111\n",
                &[
                    "app=ghcr.io/o/app:v2",
                    "db@sha256:1111111111111111111111111111111111111111111111111111111111111111",
                ],
            ),
            (
                "deploy.yaml",
                "kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n      - image: ghcr.io/o/app:v1\n      - image: '{{ not a ref }}'\n---\nkind: ConfigMap\ndata:\n  image: x:1\n",
                &["ghcr.io/o/app:v1"],
            ),
        ];
        for (file, text, want) in cases {
            let got: Vec<String> = images_in_file(file, text.as_bytes())
                .unwrap()
                .iter()
                .map(|d| {
                    let (new_name, tag) = (d.new_name.as_deref(), d.tag.as_deref());
                    let spec = ImageSpec::from_parts(&d.name, new_name, tag, d.digest.as_deref());
                    spec.unwrap().raw
                })
                .collect();
            assert_eq!(&got, want, "{file}");
        }
    }
}
