//! The edit engine: a pure function from file bytes and an edit request to
//! new bytes plus the list of changes ([`edit_file`]), and a thin shell
//! ([`apply`]) that walks paths, reads files and writes them atomically.
//!
//! # What is edited (one submodule per target, each documents its rules)
//! - `kustomize`: `images:` entries of kustomizations, like `kustomize edit
//!   set image` (a part the SPEC does not give is dropped, `*` keeps it;
//!   a missing entry is appended to a kustomization the user pointed at).
//! - `workload`: `image:` of containers, init and ephemeral containers in
//!   Pods, Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs,
//!   CronJobs, ReplicationControllers, PodTemplates, Argo Rollouts and
//!   `kind: List` items. Nothing else in a manifest (ConfigMaps,
//!   annotations, env values) is touched.
//! - `helm`: in values files (documents that are not Kubernetes objects),
//!   `repository` (+ `registry`) with `tag`/`digest` maps anywhere, string
//!   `image:` values, and `--values-path` keys.
//!   Also `registry`/`image`/`tag`/`digest` maps (ingress-nginx),
//!   `version:` as the tag, `*Image` string keys, Flux `HelmRelease`
//!   `spec.values` and kustomize `helmCharts[].valuesInline`.
//! - `compose`: `services.*.image`.
//! - `argocd`: Application/ApplicationSet `kustomize.images`,
//!   `helm.parameters` and `helm.valuesObject`; `image.tag` parameters alone
//!   only for an image named by a `gitops-bump/image` annotation (opt-in).
//! - `marker`: any scalar followed by `# {"$imagepolicy": "ns:name[:tag|:name|:digest]"}`
//!   (Flux) or `# gitops-bump: NAME[:tag|:name|:digest]`.
//!
//! # Rules for a full reference (`repo:tag@digest`)
//! A new tag drops a stale digest; a new digest alone drops the tag;
//! `NAME:TAG@DIGEST` writes both; `*` keeps a part; `=NEWNAME` renames,
//! otherwise the file keeps its spelling (`nginx` stays `nginx` although it
//! matches `docker.io/library/nginx`).
//!
//! # Guarantees
//! - Bytes outside the edited scalars are never touched: no YAML is
//!   re-serialized, edits are splices into the original text; a quoted
//!   scalar keeps its quote character, a plain one is quoted only when the
//!   new value would otherwise read as a number, bool or null. Comments,
//!   blank lines, key order, anchors, flow style, CRLF, a BOM and a missing
//!   final newline survive.
//! - Idempotent: the same request twice changes nothing the second time.
//! - All or nothing: every file is edited in memory first; any error writes
//!   nothing; files are replaced by rename, keeping their permissions, and a
//!   link inside the root is written through to its target.
//! - A SPEC that matches nothing anywhere is an error unless
//!   `allow_no_match` (typos must not pass silently).
//! - Walking: hidden entries, `.gitignore`d paths and Helm chart
//!   `templates/` are skipped; a file that cannot mention any SPEC's image
//!   (nor a marker) is not parsed, which keeps large repositories fast.
//! - Refused with a file:line:column and a hint: malformed YAML, duplicate
//!   keys where we read them, a wrong shape where one is required, nesting
//!   deeper than 200 levels, NUL bytes, invalid UTF-8, files over the size
//!   limit, paths leaving the root (`..`, absolute, or through a link),
//!   FIFOs and devices. Aliases of collections are never expanded (alias
//!   bombs cost nothing); an `image: *img` edits the anchored scalar
//!   (`x-image: &img ghcr.io/o/app:v1`), once however many aliases use it.

mod argocd;
mod compose;
mod deployed;
mod engine;
mod helm;
mod image;
mod kustomize;
mod marker;
mod text;
mod walk;
mod workload;
mod yaml;

use std::path::{Path, PathBuf};

pub use deployed::{DeployedImage, images_in_file, read_images};
pub use engine::{FileEdit, edit_file};

use crate::location::Location;
use crate::spec::{Field, ImageSpec};

/// What to change.
#[derive(Debug, Clone)]
pub struct EditRequest {
    pub specs: Vec<ImageSpec>,
    /// Extra Helm values key paths holding an image (`app.image`).
    pub values_paths: Vec<String>,
    /// Kinds (`AnalysisTemplate`, or `Service.serving.knative.dev` with its
    /// API group) whose `image:` fields anywhere under `spec` are edited.
    pub image_kinds: Vec<String>,
    /// Succeed even when a SPEC matches nothing.
    pub allow_no_match: bool,
    /// Files larger than this are an error (default 10 MiB).
    pub max_file_size: u64,
}

pub const DEFAULT_MAX_FILE_SIZE: u64 = 10 * 1024 * 1024;

/// Which kind of target a change was made in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetKind {
    Kustomization,
    Workload,
    HelmValues,
    Compose,
    ArgoCd,
    Marker,
}

/// One edited scalar.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    /// Path relative to the edit root, `/`-separated.
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub kind: TargetKind,
    /// The SPEC's NAME as given (`ghcr.io/org/app`).
    pub image: String,
    /// The scalar before and after (a full reference, a tag, a digest or a name).
    pub old: String,
    pub new: String,
    pub old_tag: Option<String>,
    pub old_digest: Option<String>,
    pub new_name: Option<String>,
    pub new_tag: Option<String>,
    pub new_digest: Option<String>,
}

/// Something the edit could not do as asked although it did the rest (a
/// digest with no key to hold it): shown to the user, never an error.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Warning {
    /// Path relative to the edit root, `/`-separated.
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// Prints warnings on stderr as `warning: file:line: message`, or in
/// Actions as `::warning file=…,line=…::` annotations (both escape the
/// foreign text they carry).
pub fn print_warnings(warnings: &[Warning]) {
    for w in warnings {
        if crate::actions::in_actions() {
            crate::actions::annotate(
                &crate::actions::Annotation::new(crate::actions::Level::Warning, w.message.clone())
                    .at(w.file.clone(), w.line, 1)
                    .titled("gitops-bump"),
            );
            continue;
        }
        crate::print::line(
            crate::print::Stream::Stderr,
            &format!("warning: {}:{}: {}", w.file, w.line, w.message),
        );
    }
}

/// The result of editing a set of files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EditReport {
    pub changes: Vec<Change>,
    /// Files whose bytes changed, relative to the root, sorted.
    pub files: Vec<String>,
    /// In file order, each once.
    pub warnings: Vec<Warning>,
}

#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("invalid YAML: {message}")]
    Yaml {
        file: String,
        line: usize,
        col: usize,
        message: String,
    },
    #[error("duplicate key {key:?} (first at line {first_line})")]
    DuplicateKey {
        file: String,
        line: usize,
        col: usize,
        key: String,
        first_line: usize,
    },
    #[error("expected {expected}, found {found}")]
    Shape {
        file: String,
        line: usize,
        col: usize,
        expected: &'static str,
        found: &'static str,
    },
    #[error("YAML nested deeper than {limit} levels")]
    TooDeep {
        file: String,
        line: usize,
        col: usize,
        limit: usize,
    },
    #[error("the file is not valid UTF-8")]
    NotUtf8 {
        file: String,
        line: usize,
        col: usize,
    },
    #[error("the file contains a NUL byte")]
    NulByte {
        file: String,
        line: usize,
        col: usize,
    },
    /// A value we would report or replace decodes to control characters
    /// (`"\0"`, `"\e[31m"`): no image has them, and printed raw they would
    /// reach logs, outputs and terminals.
    #[error("the value {value} holds a control character (a YAML escape); refusing to edit it")]
    ControlCharacter {
        file: String,
        line: usize,
        col: usize,
        /// Escaped for display.
        value: String,
    },
    /// The edited text would not read back as intended (it would not
    /// parse, or the same request on it would change something again): a
    /// shape the engine gets wrong, refused rather than written.
    #[error("refusing to write this edit: {what}")]
    Unstable {
        file: String,
        line: usize,
        col: usize,
        what: String,
    },
    #[error("{path}: the path leaves the root directory")]
    PathOutsideRoot { path: String },
    #[error("{path}: a symbolic link leads outside the root directory")]
    SymlinkOutsideRoot { path: String },
    #[error("{path}: is {what}, not a file or directory")]
    NotARegularFile { path: String, what: &'static str },
    #[error("{path}: no such file or directory")]
    NotFound { path: String },
    #[error("{path}: the file has {size} bytes, more than the limit of {limit}")]
    TooLarge { path: String, size: u64, limit: u64 },
    #[error("{path}: {action}: {source}")]
    Io {
        path: String,
        action: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("no manifest refers to {}", .images.join(", "))]
    NoMatch { images: Vec<String> },
    #[error("the {what} read here is not valid: {why}")]
    InvalidValue {
        file: String,
        line: usize,
        col: usize,
        what: &'static str,
        value: String,
        why: String,
    },
}

impl EditError {
    /// The same error with its file shown under `base` (`set-image` on
    /// paths outside the current directory shows them with their directory).
    pub fn shown_under(mut self, base: &Path) -> Self {
        use EditError::*;
        match &mut self {
            Yaml { file, .. }
            | DuplicateKey { file, .. }
            | Shape { file, .. }
            | TooDeep { file, .. }
            | ControlCharacter { file, .. }
            | Unstable { file, .. }
            | NotUtf8 { file, .. }
            | NulByte { file, .. }
            | InvalidValue { file, .. }
            | PathOutsideRoot { path: file }
            | SymlinkOutsideRoot { path: file }
            | NotARegularFile { path: file, .. }
            | NotFound { path: file }
            | TooLarge { path: file, .. }
            | Io { path: file, .. } => *file = base.join(&*file).display().to_string(),
            NoMatch { .. } => {}
        }
        self
    }

    pub fn location(&self) -> Option<Location> {
        use EditError::*;
        match self {
            Yaml {
                file, line, col, ..
            }
            | DuplicateKey {
                file, line, col, ..
            }
            | Shape {
                file, line, col, ..
            }
            | TooDeep {
                file, line, col, ..
            }
            | ControlCharacter {
                file, line, col, ..
            }
            | Unstable {
                file, line, col, ..
            }
            | NotUtf8 { file, line, col }
            | NulByte { file, line, col }
            | InvalidValue {
                file, line, col, ..
            } => Some(Location {
                file: file.clone(),
                line: *line,
                col: *col,
            }),
            _ => None,
        }
    }

    pub fn hint(&self) -> Option<String> {
        use EditError::*;
        Some(match self {
            Yaml { .. } => "fix the YAML at that position (an unterminated quote, a tab in the indentation or a misaligned key are the usual causes); nothing was written".into(),
            DuplicateKey { key, .. } => format!("remove one of the {key:?} keys: tools disagree on which one wins"),
            Shape { expected, .. } => format!("this place must hold {expected}; fix the manifest or exclude the file from the paths"),
            TooDeep { .. } => "no manifest nests this deep; the file is probably generated or hostile, exclude it from the paths".into(),
            ControlCharacter { .. } => "an image reference is printable text; fix the value (or exclude the file from the paths); nothing was written".into(),
            Unstable { .. } => "gitops-bump cannot yet edit this shape safely; edit the value by hand and report the file (nothing was written)".into(),
            NotUtf8 { .. } | NulByte { .. } => "manifests must be UTF-8 text; re-encode the file or exclude it from the paths".into(),
            PathOutsideRoot { .. } => "give paths inside the repository (relative to it, without `..` leading out)".into(),
            SymlinkOutsideRoot { .. } => "replace the link with the file, or point it inside the repository".into(),
            NotARegularFile { .. } => "give a manifest file or a directory".into(),
            NotFound { .. } => "check the path: it is relative to the repository root".into(),
            TooLarge { .. } => "raise --max-file-size, or exclude the file (generated manifests rarely need bumping)".into(),
            Io { .. } => "check the file's permissions and the disk".into(),
            InvalidValue { .. } => "the value would be passed on to the step outputs, the log and the job summary; fix it in the manifest by hand (nothing was written, committed or pushed)".into(),
            NoMatch { .. } => format!(
                "check the image name for typos (names match after normalization: nginx = docker.io/library/nginx), add a marker comment, or {}",
                if crate::actions::in_actions() {
                    format!("set {}", crate::config::setting("allow-no-match", "true"))
                } else {
                    "pass --allow-no-match (`gitops-bump run`: --allow-no-match true)".into()
                }
            ),
        })
    }
}

/// Applies `request` to every supported file under `paths` (relative to
/// `root`, which they may not escape). With `write == false` nothing is
/// written (for `--check` and dry runs). Either every changed file is
/// written or none is.
pub fn apply(
    root: &Path,
    paths: &[PathBuf],
    request: &EditRequest,
    write: bool,
) -> Result<EditReport, EditError> {
    let candidates = walk::collect(root, paths)?;
    let root_dir = walk::Root::open(root)?;
    let filter = Prefilter::new(request);
    let mut matched = vec![false; request.specs.len()];
    let mut report = EditReport::default();
    // Per candidate: the edited bytes, when they changed, and the changes.
    let mut edited: Vec<Option<Vec<u8>>> = vec![None; candidates.len()];
    let mut per_file: Vec<Vec<Change>> = vec![Vec::new(); candidates.len()];
    let mut warnings: Vec<Vec<Warning>> = vec![Vec::new(); candidates.len()];
    // Kustomizations that set an image: (candidate, SPECs matched, resources).
    let mut covering: Vec<(usize, Vec<bool>, Vec<String>)> = Vec::new();
    let mut kustomizations: Vec<(usize, Vec<String>)> = Vec::new();
    let mut buffer = Vec::new();
    for (n, (candidate, slot)) in candidates.iter().zip(edited.iter_mut()).enumerate() {
        read_candidate(&root_dir, candidate, request.max_file_size, &mut buffer)?;
        let is_kustomization = kustomize::is_kustomization_file(
            candidate.display.rsplit('/').next().unwrap_or_default(),
        );
        let resources = if is_kustomization {
            let r = kustomize::local_resources(&String::from_utf8_lossy(&buffer));
            kustomizations.push((n, r.clone()));
            r
        } else {
            Vec::new()
        };
        if !candidate.may_append && !filter.may_refer(&buffer) {
            continue;
        }
        let edit = match edit_file(&candidate.display, &buffer, request, false) {
            Ok(edit) => edit,
            Err(e) if skippable(candidate, &buffer, request, &e) => {
                crate::print::line(
                    crate::print::Stream::Stderr,
                    &format!(
                        "warning: {}: skipped, it does not parse ({e}) and names none of the images",
                        e.location().map_or_else(
                            || candidate.display.clone(),
                            |l| format!("{}:{}:{}", l.file, l.line, l.col)
                        )
                    ),
                );
                continue;
            }
            Err(e) => return Err(e),
        };
        for (m, e) in matched.iter_mut().zip(&edit.matched) {
            *m |= e;
        }
        if is_kustomization && edit.matched.iter().any(|m| *m) {
            covering.push((n, edit.matched.clone(), resources));
        }
        per_file[n] = edit.changes;
        warnings[n] = edit.warnings;
        *slot = edit.new_bytes;
    }
    // A kustomization whose `images:` sets an image is the source of truth
    // for the resources it includes, as with `kustomize edit set image`:
    // those keep what they hold (often a placeholder), for that image.
    let covered = covered_by_kustomizations(&candidates, &kustomizations, &covering);
    for (n, covered) in covered.iter().enumerate() {
        if !covered.iter().any(|c| *c) || per_file[n].is_empty() {
            continue;
        }
        let keep: Vec<usize> = (0..request.specs.len()).filter(|i| !covered[*i]).collect();
        edited[n] = None;
        per_file[n].clear();
        warnings[n].clear();
        if keep.is_empty() {
            continue;
        }
        let narrowed = EditRequest {
            specs: keep.iter().map(|i| request.specs[*i].clone()).collect(),
            ..request.clone()
        };
        read_candidate(
            &root_dir,
            &candidates[n],
            request.max_file_size,
            &mut buffer,
        )?;
        let edit = edit_file(&candidates[n].display, &buffer, &narrowed, false)?;
        per_file[n] = edit.changes;
        warnings[n] = edit.warnings;
        edited[n] = edit.new_bytes;
    }
    report.changes.extend(per_file.into_iter().flatten());
    report.warnings.extend(warnings.into_iter().flatten());
    append_unmatched(
        &root_dir,
        &candidates,
        request,
        &mut matched,
        &mut edited,
        &mut report,
    )?;
    for change in &report.changes {
        check_values(change)?;
    }
    let unmatched: Vec<String> = request
        .specs
        .iter()
        .zip(&matched)
        .filter(|(_, m)| !**m)
        .map(|(s, _)| s.name.clone())
        .collect();
    if !unmatched.is_empty() && !request.allow_no_match {
        return Err(EditError::NoMatch { images: unmatched });
    }
    let pending: Vec<(PathBuf, String, Vec<u8>)> = candidates
        .iter()
        .zip(edited)
        .filter_map(|(c, bytes)| Some((c.real.clone(), c.display.clone(), bytes?)))
        .collect();
    report.files = pending.iter().map(|(_, d, _)| d.clone()).collect();
    report.files.sort();
    if write {
        root_dir.replace_all(&pending)?;
    }
    Ok(report)
}

/// Per candidate, per SPEC: whether a kustomization that sets the image
/// includes the candidate through its `resources:`, directly or through the
/// kustomizations of the directories it lists (bases). Only walked files
/// take part: a base outside `paths` is not edited anyway.
fn covered_by_kustomizations(
    candidates: &[walk::Candidate],
    kustomizations: &[(usize, Vec<String>)],
    covering: &[(usize, Vec<bool>, Vec<String>)],
) -> Vec<Vec<bool>> {
    let specs = covering.first().map_or(0, |(_, m, _)| m.len());
    let mut covered = vec![vec![false; specs]; candidates.len()];
    let files: Vec<&str> = candidates.iter().map(|c| c.display.as_str()).collect();
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
                } else if let Some(base) = kustomize::kustomization_in(&path, &files)
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

/// Whether a walked file that the parser refuses may be passed over: it
/// was found by walking a directory (a file given by name must parse), and
/// its text names none of the SPECs' images (nor their new names) and has
/// no marker, so it cannot hold anything this run would edit. One broken
/// unrelated file must not abort a bump of a whole repository.
fn skippable(
    candidate: &walk::Candidate,
    bytes: &[u8],
    request: &EditRequest,
    error: &EditError,
) -> bool {
    if candidate.explicit
        || candidate.may_append
        || !matches!(error, EditError::Yaml { .. } | EditError::TooDeep { .. })
    {
        return false;
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    if text.contains('\\') || marker::present(text) {
        return false;
    }
    !request.specs.iter().any(|spec| {
        let repository = &spec.matcher.repository;
        let short = repository.strip_prefix("library/").unwrap_or(repository);
        let renamed = match &spec.new_name {
            Some(Field::Set(n)) => Some(n.as_str()),
            _ => None,
        };
        text.contains(short) || renamed.is_some_and(|n| text.contains(n))
    })
}

/// Refuses a change whose values, read from the file, are not what they
/// claim to be (a tag holding a newline and a workflow command, say): they
/// become step outputs, log lines and summary cells.
fn check_values(c: &Change) -> Result<(), EditError> {
    use crate::print::{MAX_VALUE, cut};
    use crate::reference::{Digest, ImageName, check_tag};
    let refuse = |what, value: &str, why: String| EditError::InvalidValue {
        file: c.file.clone(),
        line: c.line,
        col: c.column,
        what,
        value: cut(value, MAX_VALUE).into_owned(),
        why: cut(&why, 4 * MAX_VALUE).into_owned(),
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

/// `kustomize edit set image` semantics for the kustomizations the user
/// pointed at: a SPEC that matched nothing anywhere under the paths gets an
/// `images:` entry there. A SPEC already found (in a workload next to the
/// kustomization, say) is not added again, so walking a whole repository
/// does not sprinkle redundant overrides.
fn append_unmatched(
    root_dir: &walk::Root,
    candidates: &[walk::Candidate],
    request: &EditRequest,
    matched: &mut [bool],
    edited: &mut [Option<Vec<u8>>],
    report: &mut EditReport,
) -> Result<(), EditError> {
    let unmatched: Vec<usize> = (0..matched.len()).filter(|&i| !matched[i]).collect();
    if unmatched.is_empty() {
        return Ok(());
    }
    let sub_request = EditRequest {
        specs: unmatched
            .iter()
            .map(|&i| request.specs[i].clone())
            .collect(),
        ..request.clone()
    };
    let mut buffer = Vec::new();
    for (candidate, slot) in candidates.iter().zip(edited.iter_mut()) {
        if !candidate.may_append {
            continue;
        }
        let bytes = match slot {
            Some(bytes) => bytes.as_slice(),
            None => {
                read_candidate(root_dir, candidate, request.max_file_size, &mut buffer)?;
                buffer.as_slice()
            }
        };
        let edit = edit_file(&candidate.display, bytes, &sub_request, true)?;
        for (&spec, e) in unmatched.iter().zip(&edit.matched) {
            matched[spec] |= e;
        }
        report.changes.extend(edit.changes);
        if edit.new_bytes.is_some() {
            *slot = edit.new_bytes;
        }
    }
    Ok(())
}

/// Reads a file into `buffer`, refusing large ones before reading.
fn read_candidate(
    root_dir: &walk::Root,
    candidate: &walk::Candidate,
    limit: u64,
    buffer: &mut Vec<u8>,
) -> Result<(), EditError> {
    use std::io::Read;
    let io = |action, source| EditError::Io {
        path: candidate.display.clone(),
        action,
        source,
    };
    let file = root_dir
        .open_file(candidate)
        .map_err(|e| io("opening", e))?;
    let meta = file.metadata().map_err(|e| io("reading", e))?;
    if !meta.is_file() {
        return Err(EditError::NotARegularFile {
            path: candidate.display.clone(),
            what: "not a regular file",
        });
    }
    if meta.len() > limit {
        return Err(EditError::TooLarge {
            path: candidate.display.clone(),
            size: meta.len(),
            limit,
        });
    }
    buffer.clear();
    // `take` guards against a file that grows while we read it.
    file.take(limit + 1)
        .read_to_end(buffer)
        .map_err(|e| io("reading", e))?;
    if buffer.len() as u64 > limit {
        return Err(EditError::TooLarge {
            path: candidate.display.clone(),
            size: buffer.len() as u64,
            limit,
        });
    }
    Ok(())
}

/// A cheap test before parsing: a file that contains neither an image's
/// last path component nor a marker cannot refer to any SPEC, unless it
/// has a backslash: a double-quoted YAML scalar can spell any text with
/// escapes (`"\x61pp"` is `app`), and skipping such a file would make a
/// multi-file bump silently partial.
struct Prefilter {
    needles: Vec<memchr::memmem::Finder<'static>>,
}

impl Prefilter {
    fn new(request: &EditRequest) -> Self {
        let last_component = |name: &str| name.rsplit('/').next().unwrap_or(name).to_string();
        let mut words: Vec<String> = Vec::new();
        for spec in &request.specs {
            words.push(last_component(&spec.matcher.repository));
            // A file the same SPEC already renamed must still be found.
            if let Some(Field::Set(new_name)) = &spec.new_name {
                words.push(last_component(new_name));
            }
        }
        words.push("$imagepolicy".into());
        words.push("gitops-bump:".into());
        words.sort();
        words.dedup();
        Prefilter {
            needles: words
                .iter()
                .map(|w| memchr::memmem::Finder::new(w.as_bytes()).into_owned())
                .collect(),
        }
    }

    fn may_refer(&self, bytes: &[u8]) -> bool {
        memchr::memchr(b'\\', bytes).is_some()
            || self.needles.iter().any(|n| n.find(bytes).is_some())
    }
}

#[cfg(test)]
mod tests;
