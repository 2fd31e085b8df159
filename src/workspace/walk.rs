//! Which files to consider: given paths resolved inside the root, directories
//! walked (skipping hidden entries and `.gitignore`d ones), symlinks and
//! special files checked so nothing outside the root is read or written.
//!
//! A symlinked manifest whose target is inside the root is edited at its
//! target, and reported (and so committed) under the target's path; the
//! link itself is never replaced. Reads and writes then go through
//! [`Root`](super::root::Root), a directory handle, so a directory swapped for a link between
//! the walk and the write cannot lead them outside the root.

use std::collections::HashMap;
use std::fs;
use std::path::{Component, Path, PathBuf};

use super::WorkspaceError;
use crate::edit::is_kustomization_file;

/// A file to consider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Candidate {
    /// Relative to the root, `/`-separated: the file that is read, edited
    /// and committed (for a symlink, its target's path).
    pub display: String,
    /// The real file (symlinks resolved), where bytes are read and written.
    pub real: PathBuf,
    /// A kustomization the user pointed at: missing entries may be appended.
    pub may_append: bool,
    /// Given by name: considered whatever its extension.
    pub explicit: bool,
}

/// Whether a walked file is a manifest we look into.
pub(crate) fn is_manifest_name(name: &str) -> bool {
    name.ends_with(".yaml") || name.ends_with(".yml") || is_kustomization_file(name)
}

/// Resolves `paths` (relative to `root`, or absolute inside it) to files.
pub(crate) fn collect(root: &Path, paths: &[PathBuf]) -> Result<Vec<Candidate>, WorkspaceError> {
    let root_real = fs::canonicalize(root).map_err(|source| WorkspaceError::Io {
        path: root.display().to_string(),
        action: "resolving the root directory",
        source,
    })?;
    let mut out = Collected::default();
    for given in paths {
        let relative = relative_inside(root, &root_real, given)?;
        let display = display_path(&relative);
        let joined = root_real.join(&relative);
        let meta = fs::symlink_metadata(&joined).map_err(|_| WorkspaceError::NotFound {
            path: display.clone(),
        })?;
        let real = resolve_inside(&root_real, &joined, &display)?;
        let meta = if meta.file_type().is_symlink() {
            fs::metadata(&real).map_err(|source| WorkspaceError::Io {
                path: display.clone(),
                action: "reading",
                source,
            })?
        } else {
            meta
        };
        if meta.is_dir() {
            walk_dir(&root_real, &relative, &real, &mut out)?;
        } else if meta.is_file() {
            let name = file_name(&relative);
            out.push(Candidate {
                display: target_display(&root_real, &real, display),
                real,
                may_append: is_kustomization_file(&name),
                explicit: true,
            });
        } else {
            return Err(WorkspaceError::NotARegularFile {
                path: display,
                what: special_kind(&meta),
            });
        }
    }
    Ok(out.files)
}

/// Candidates in order, each real file once (a file reached twice, through
/// a link or two overlapping paths, is edited once).
#[derive(Default)]
struct Collected {
    files: Vec<Candidate>,
    index: HashMap<PathBuf, usize>,
}

impl Collected {
    fn push(&mut self, c: Candidate) {
        match self.index.get(&c.real) {
            Some(&i) => {
                let existing = &mut self.files[i];
                existing.may_append |= c.may_append;
                existing.explicit |= c.explicit;
            }
            None => {
                self.index.insert(c.real.clone(), self.files.len());
                self.files.push(c);
            }
        }
    }
}

/// The given path relative to the root, with `.` and `..` resolved
/// lexically; leaving the root is an error before anything is read.
fn relative_inside(root: &Path, root_real: &Path, given: &Path) -> Result<PathBuf, WorkspaceError> {
    let outside = || WorkspaceError::PathOutsideRoot {
        path: given.display().to_string(),
    };
    let spelled_through_links;
    let rest = if given.is_absolute() {
        match given
            .strip_prefix(root)
            .or_else(|_| given.strip_prefix(root_real))
        {
            Ok(rest) => rest,
            Err(_) => {
                // Inside the root through a linked directory
                // (`/home/me/link/apps` with the link leading into the root).
                spelled_through_links = real_parent(given).ok_or_else(outside)?;
                spelled_through_links
                    .strip_prefix(root_real)
                    .map_err(|_| outside())?
            }
        }
    } else {
        given
    };
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for c in rest.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop().ok_or_else(outside)?;
            }
            Component::Normal(p) => parts.push(p),
            Component::RootDir | Component::Prefix(_) => return Err(outside()),
        }
    }
    Ok(parts.iter().collect())
}

/// `path` with the links in its directories resolved (the last component
/// is kept as written: a link there is checked like any other), when the
/// directory exists.
fn real_parent(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?;
    let parent = fs::canonicalize(path.parent()?).ok()?;
    Some(parent.join(name))
}

/// The real path of `path`, which must stay inside the root.
fn resolve_inside(root_real: &Path, path: &Path, display: &str) -> Result<PathBuf, WorkspaceError> {
    let real = fs::canonicalize(path).map_err(|source| WorkspaceError::Io {
        path: display.to_string(),
        action: "resolving",
        source,
    })?;
    if !real.starts_with(root_real) {
        return Err(WorkspaceError::SymlinkOutsideRoot {
            path: display.to_string(),
        });
    }
    Ok(real)
}

/// The path a file is edited and committed under: the real file's, relative
/// to the root (they differ only for a symlink, whose target must be inside).
fn target_display(root_real: &Path, real: &Path, given: String) -> String {
    match real.strip_prefix(root_real) {
        Ok(relative) => display_path(relative),
        Err(_) => given,
    }
}

fn display_path(relative: &Path) -> String {
    let s: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if s.is_empty() {
        ".".to_string()
    } else {
        s.join("/")
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn special_kind(meta: &fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_block_device() || t.is_char_device() {
        "a device"
    } else {
        "not a regular file"
    }
}

/// Walks a directory depth-first in name order. Hidden entries (`.git`,
/// `.github`, …) and a Helm chart's `templates/` (Go templates, not YAML)
/// are skipped; `.gitignore` files along the way are honoured for the
/// common pattern forms (`name`, `*.ext`, `dir/`, `/anchored`, `a/**`, `!`). A symlink whose target leaves the root is
/// an error; symlinked directories are not followed (no cycles).
fn walk_dir(
    root_real: &Path,
    relative: &Path,
    real: &Path,
    out: &mut Collected,
) -> Result<(), WorkspaceError> {
    let given_dir = real.to_path_buf();
    let mut ignores: Vec<Ignore> = Vec::new();
    // Patterns from the root down to the given directory apply too.
    let mut dir = root_real.to_path_buf();
    load_ignore(&dir, &PathBuf::new(), &mut ignores);
    for part in relative.components() {
        dir.push(part);
        if dir != given_dir {
            let rel = dir.strip_prefix(root_real).unwrap_or(&dir).to_path_buf();
            load_ignore(&dir, &rel, &mut ignores);
        }
    }
    let mut stack = vec![(relative.to_path_buf(), real.to_path_buf(), ignores)];
    while let Some((rel_dir, real_dir, mut ignores)) = stack.pop() {
        if !rel_dir.as_os_str().is_empty() {
            load_ignore(&real_dir, &rel_dir, &mut ignores);
        }
        let read = fs::read_dir(&real_dir).map_err(|source| WorkspaceError::Io {
            path: display_path(&rel_dir),
            action: "listing",
            source,
        })?;
        let mut entries: Vec<(String, fs::FileType)> = Vec::new();
        for entry in read {
            let entry = entry.map_err(|source| WorkspaceError::Io {
                path: display_path(&rel_dir),
                action: "listing",
                source,
            })?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let file_type = entry.file_type().map_err(|source| WorkspaceError::Io {
                path: display_path(&rel_dir.join(&name)),
                action: "reading",
                source,
            })?;
            entries.push((name, file_type));
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        // A Helm chart's templates are Go templates, not YAML.
        let is_chart = entries.iter().any(|(n, _)| n == "Chart.yaml");
        let mut subdirs = Vec::new();
        for (name, file_type) in entries {
            let rel = rel_dir.join(&name);
            let path = real_dir.join(&name);
            let is_dir = if file_type.is_symlink() {
                // A dangling link points nowhere, so nowhere outside: skip it.
                if fs::metadata(&path).is_err() {
                    continue;
                }
                let target = resolve_inside(root_real, &path, &display_path(&rel))?;
                if target.is_dir() {
                    continue;
                }
                false
            } else {
                file_type.is_dir()
            };
            if is_ignored(&ignores, &rel, is_dir) {
                continue;
            }
            if is_dir {
                if is_chart && name == "templates" {
                    continue;
                }
                subdirs.push((rel, path));
                continue;
            }
            if !is_manifest_name(&name) {
                continue;
            }
            let real_file = if file_type.is_symlink() {
                resolve_inside(root_real, &path, &display_path(&rel))?
            } else if file_type.is_file() {
                path
            } else {
                continue;
            };
            if !real_file.is_file() {
                continue;
            }
            out.push(Candidate {
                display: target_display(root_real, &real_file, display_path(&rel)),
                real: real_file,
                may_append: real_dir == given_dir && is_kustomization_file(&name),
                explicit: false,
            });
        }
        for (rel, path) in subdirs.into_iter().rev() {
            stack.push((rel, path, ignores.clone()));
        }
    }
    Ok(())
}

/// One `.gitignore` pattern, relative to the directory holding it.
#[derive(Debug, Clone)]
struct Ignore {
    base: PathBuf,
    pattern: String,
    negated: bool,
    dir_only: bool,
    anchored: bool,
}

fn load_ignore(dir: &Path, rel_dir: &Path, out: &mut Vec<Ignore>) {
    let Ok(text) = fs::read_to_string(dir.join(".gitignore")) else {
        return;
    };
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (negated, line) = match line.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, line),
        };
        let (dir_only, line) = match line.strip_suffix('/') {
            Some(rest) => (true, rest),
            None => (false, line),
        };
        let line = line.strip_prefix("**/").unwrap_or(line);
        let anchored = line.contains('/');
        let pattern = line.trim_start_matches('/').to_string();
        if pattern.is_empty() {
            continue;
        }
        out.push(Ignore {
            base: rel_dir.to_path_buf(),
            pattern,
            negated,
            dir_only,
            anchored,
        });
    }
}

/// The last matching pattern decides, as in git.
fn is_ignored(ignores: &[Ignore], rel: &Path, is_dir: bool) -> bool {
    let mut ignored = false;
    for ig in ignores {
        if ig.dir_only && !is_dir {
            continue;
        }
        let Ok(under) = rel.strip_prefix(&ig.base) else {
            continue;
        };
        let under = display_path(under);
        let hit = if ig.anchored {
            glob(&ig.pattern, &under)
        } else {
            glob(&ig.pattern, under.rsplit('/').next().unwrap_or(&under))
        };
        if hit {
            ignored = !ig.negated;
        }
    }
    ignored
}

/// `*` (not across `/`), `**` (across), `?`; everything else literal.
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Iterative matcher with backtracking to the last star.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize, bool)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            let double = pi + 1 < p.len() && p[pi + 1] == '*';
            pi += if double { 2 } else { 1 };
            star = Some((pi, ti, double));
        } else if pi < p.len() && (p[pi] == '?' && t[ti] != '/' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st, double)) = star {
            if !double && t[st] == '/' {
                return false;
            }
            pi = sp;
            ti = st + 1;
            star = Some((sp, st + 1, double));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        let cases = [
            ("*.yaml", "a.yaml", true),
            ("*.yaml", "a.yml", false),
            ("gen*", "generated", true),
            ("a/*.yaml", "a/b.yaml", true),
            ("a/*.yaml", "a/c/b.yaml", false),
            ("a/**", "a/c/b.yaml", true),
            ("?.y", "x.y", true),
            ("vendor", "vendor", true),
        ];
        for (p, t, want) in cases {
            assert_eq!(glob(p, t), want, "{p} {t}");
        }
    }
}
