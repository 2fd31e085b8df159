//! A small, real, deterministic edit for the write-back tests: sets
//! `newTag:` under `- name: IMAGE` in a kustomization, and reports the change
//! the way the edit engine does. (The engine itself lands on another branch;
//! the write-back takes the edit as a closure, so any real edit proves it.)

use std::path::Path;

use gitops_bump::edit::{Change, EditReport, TargetKind};

pub fn kustomization(images: &[(&str, &str)]) -> String {
    let mut s =
        String::from("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nimages:\n");
    for (name, tag) in images {
        s.push_str(&format!(
            "- name: {name}\n  newTag: {tag}  # bumped by CI\n"
        ));
    }
    s
}

/// Sets the tags of `images` in `root/file`; returns what changed.
pub fn set_tags(root: &Path, file: &str, images: &[(&str, &str)]) -> EditReport {
    let path = root.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut changes = Vec::new();
    for (image, new_tag) in images {
        let at = lines
            .iter()
            .position(|l| l == &format!("- name: {image}"))
            .unwrap_or_else(|| panic!("{image} not in {file}"));
        let tag_line = &lines[at + 1];
        let rest = tag_line.trim_start().strip_prefix("newTag: ").unwrap();
        let (old_tag, comment) = rest.split_once("  #").map_or((rest, ""), |(t, c)| (t, c));
        if old_tag == *new_tag {
            continue;
        }
        let new_line = if comment.is_empty() {
            format!("  newTag: {new_tag}")
        } else {
            format!("  newTag: {new_tag}  #{comment}")
        };
        changes.push(Change {
            file: file.to_string(),
            line: at + 2,
            column: 11,
            kind: TargetKind::Kustomization,
            image: image.to_string(),
            old: old_tag.to_string(),
            new: new_tag.to_string(),
            old_tag: Some(old_tag.to_string()),
            old_digest: None,
            new_name: None,
            new_tag: Some(new_tag.to_string()),
            new_digest: None,
        });
        lines[at + 1] = new_line;
    }
    let files = if changes.is_empty() {
        vec![]
    } else {
        let mut out = lines.join("\n");
        out.push('\n');
        std::fs::write(&path, out).unwrap();
        vec![file.to_string()]
    };
    EditReport {
        changes,
        files,
        warnings: Vec::new(),
    }
}
