//! Which files a kustomization covers: `kustomize edit set image` makes a
//! kustomization that sets an image the source of truth for the resources
//! it includes, so those keep what they hold for that image. Decided from
//! paths and texts the shell has already read.

use super::targets::kustomize;

/// Per file of `files` (relative to the root, `/`-separated), per SPEC:
/// whether a kustomization that sets the image includes the file through
/// its `resources:`, directly or through the kustomizations of the
/// directories it lists (bases). `kustomizations` holds (file, its local
/// resources), `covering` those that set an image: (file, SPECs matched,
/// resources). Only walked files take part: a base outside the paths is not
/// edited anyway.
pub(crate) fn covered_by_kustomizations(
    files: &[&str],
    kustomizations: &[(usize, Vec<String>)],
    covering: &[(usize, Vec<bool>, Vec<String>)],
) -> Vec<Vec<bool>> {
    let specs = covering.first().map_or(0, |(_, m, _)| m.len());
    let mut covered = vec![vec![false; specs]; files.len()];
    for (k, matched, resources) in covering {
        let mut stack: Vec<(String, Vec<String>)> = vec![(parent_of(files[*k]), resources.clone())];
        let mut seen = vec![*k];
        while let Some((dir, resources)) = stack.pop() {
            for resource in &resources {
                let Some(path) = join_relative(&dir, resource) else {
                    continue;
                };
                if let Some(n) = files.iter().position(|f| *f == path) {
                    for (c, m) in covered[n].iter_mut().zip(matched) {
                        *c |= m;
                    }
                } else if let Some(base) = kustomize::kustomization_in(&path, files)
                    && let Some(n) = files.iter().position(|f| *f == base)
                    && !seen.contains(&n)
                {
                    seen.push(n);
                    if let Some((_, r)) = kustomizations.iter().find(|(i, _)| *i == n) {
                        stack.push((path, r.clone()));
                    }
                }
            }
        }
    }
    covered
}

fn parent_of(file: &str) -> String {
    file.rsplit_once('/')
        .map_or(String::new(), |(d, _)| d.to_string())
}

/// `dir/relative`, with `.` and `..` resolved; `None` when it leaves the root.
fn join_relative(dir: &str, relative: &str) -> Option<String> {
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for part in relative.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}
