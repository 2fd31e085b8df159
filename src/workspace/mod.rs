//! The imperative shell around the pure edit core (`crate::edit`): resolves
//! the paths given inside a root directory, walks them, reads each file,
//! runs the pure edit on its bytes, and writes every changed file or none.
//!
//! # Guarantees
//! - All or nothing: every file is edited in memory first; any error writes
//!   nothing; files are replaced by rename, keeping their permissions, and a
//!   link inside the root is written through to its target.
//! - A SPEC that matches nothing anywhere is an error unless
//!   `allow_no_match` (typos must not pass silently).
//! - Walking: hidden entries, `.gitignore`d paths and Helm chart
//!   `templates/` are skipped; a file that cannot mention any SPEC's image
//!   (nor a marker) is not parsed, which keeps large repositories fast.
//! - Refused with a hint: files over the size limit, paths leaving the
//!   root (`..`, absolute, or through a link), FIFOs and devices; and,
//!   with a file:line:column, whatever the edit core refuses in a file.

mod error;
mod root;
mod walk;
mod write;

use std::path::{Path, PathBuf};

pub use error::WorkspaceError;

use crate::edit::{
    self, Change, DEFAULT_MAX_FILE_SIZE, DeployedImage, EditError, EditReport, EditRequest, Warning,
};
use root::Root;

/// Applies `request` to every supported file under `paths` (relative to
/// `root`, which they may not escape). With `write == false` nothing is
/// written (for `--check` and dry runs). Either every changed file is
/// written or none is.
pub fn apply(
    root: &Path,
    paths: &[PathBuf],
    request: &EditRequest,
    write: bool,
) -> Result<EditReport, WorkspaceError> {
    let candidates = walk::collect(root, paths)?;
    let root_dir = Root::open(root)?;
    let filter = edit::Prefilter::new(request);
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
        root_dir.read(candidate, request.max_file_size, &mut buffer)?;
        let is_kustomization =
            edit::is_kustomization_file(candidate.display.rsplit('/').next().unwrap_or_default());
        let resources = if is_kustomization {
            let r = edit::local_resources(&String::from_utf8_lossy(&buffer));
            kustomizations.push((n, r.clone()));
            r
        } else {
            Vec::new()
        };
        if !candidate.may_append && !filter.may_refer(&buffer) {
            continue;
        }
        let edit = match edit::edit_file(&candidate.display, &buffer, request, false) {
            Ok(edit) => edit,
            Err(e) if skippable(candidate, &buffer, request, &e) => {
                crate::print::line(
                    crate::print::Stream::Stderr,
                    &format!(
                        "warning: {}: skipped, it does not parse ({e}) and names none of the images",
                        e.at
                    ),
                );
                continue;
            }
            Err(e) => return Err(e.into()),
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
    let files: Vec<&str> = candidates.iter().map(|c| c.display.as_str()).collect();
    let covered = edit::covered_by_kustomizations(&files, &kustomizations, &covering);
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
        root_dir.read(&candidates[n], request.max_file_size, &mut buffer)?;
        let edit = edit::edit_file(&candidates[n].display, &buffer, &narrowed, false)?;
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
        edit::check_values(change)?;
    }
    let unmatched: Vec<String> = request
        .specs
        .iter()
        .zip(&matched)
        .filter(|(_, m)| !**m)
        .map(|(s, _)| s.name.clone())
        .collect();
    if !unmatched.is_empty() && !request.allow_no_match {
        return Err(WorkspaceError::NoMatch { images: unmatched });
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

/// Whether a walked file that the parser refuses may be passed over: it
/// was found by walking a directory (a file given by name must parse), and
/// its text cannot hold anything this run would edit. One broken
/// unrelated file must not abort a bump of a whole repository.
fn skippable(
    candidate: &walk::Candidate,
    bytes: &[u8],
    request: &EditRequest,
    error: &EditError,
) -> bool {
    if candidate.explicit || candidate.may_append || !error.error.is_unparsable() {
        return false;
    }
    std::str::from_utf8(bytes).is_ok_and(|text| edit::names_none(text, request))
}

/// `kustomize edit set image` semantics for the kustomizations the user
/// pointed at: a SPEC that matched nothing anywhere under the paths gets an
/// `images:` entry there. A SPEC already found (in a workload next to the
/// kustomization, say) is not added again, so walking a whole repository
/// does not sprinkle redundant overrides.
fn append_unmatched(
    root_dir: &Root,
    candidates: &[walk::Candidate],
    request: &EditRequest,
    matched: &mut [bool],
    edited: &mut [Option<Vec<u8>>],
    report: &mut EditReport,
) -> Result<(), WorkspaceError> {
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
                root_dir.read(candidate, request.max_file_size, &mut buffer)?;
                buffer.as_slice()
            }
        };
        let edit = edit::edit_file(&candidate.display, bytes, &sub_request, true)?;
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

/// Lists the images set in kustomizations and workloads under `paths`.
pub(crate) fn read_images(
    root: &Path,
    paths: &[PathBuf],
) -> Result<Vec<DeployedImage>, WorkspaceError> {
    let mut out = Vec::new();
    let mut buffer = Vec::new();
    let root_dir = Root::open(root)?;
    for candidate in walk::collect(root, paths)? {
        root_dir.read(&candidate, DEFAULT_MAX_FILE_SIZE, &mut buffer)?;
        out.extend(edit::images_in_file(&candidate.display, &buffer)?);
    }
    Ok(out)
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
