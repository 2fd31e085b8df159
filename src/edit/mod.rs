//! The edit engine: a pure function from file bytes and an edit request to
//! new bytes plus the list of changes ([`edit_file`]). Pure by
//! construction: nothing in this folder touches the file system or the
//! environment (a test greps for it), so the git write-back can re-run an
//! edit on a new tip and get the same answer. The shell that walks paths,
//! reads files and writes them atomically is `crate::workspace`.
//!
//! # What is edited (one file per target in `targets/`, each documents its rules)
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
//! - Refused with a file:line:column and a hint: malformed YAML, duplicate
//!   keys where we read them, a wrong shape where one is required, nesting
//!   deeper than 200 levels, NUL bytes, invalid UTF-8. Aliases of
//!   collections are never expanded (alias bombs cost nothing); an
//!   `image: *img` edits the anchored scalar (`x-image: &img
//!   ghcr.io/o/app:v1`), once however many aliases use it.
//!
//! Walking, reading, the all-or-nothing write, the size limit, paths that
//! leave the root and a SPEC that matches nothing anywhere are the shell's
//! (`crate::workspace`), which documents them.

mod coverage;
mod deployed;
mod engine;
mod error;
mod image;
mod prefilter;
mod target;
mod targets;
mod text;
mod yaml;

pub(crate) use coverage::covered_by_kustomizations;
pub(crate) use deployed::{DeployedImage, images_in_file};
pub use engine::{FileEdit, check_values, edit_file};
pub(crate) use error::EditError;
pub(crate) use prefilter::{Prefilter, names_none};
/// What the shell asks of kustomizations: which files are ones (walking),
/// and which resources one lists (for [`covered_by_kustomizations`]).
pub(crate) use targets::kustomize::{is_kustomization_file, local_resources};

use crate::spec::ImageSpec;

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

/// The result of editing a set of files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EditReport {
    pub changes: Vec<Change>,
    /// Files whose bytes changed, relative to the root, sorted.
    pub files: Vec<String>,
    /// In file order, each once.
    pub warnings: Vec<Warning>,
}

#[cfg(test)]
mod tests;
