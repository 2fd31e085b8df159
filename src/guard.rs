//! Guards that stop a run from doing harm by bumping: the newer-wins guard
//! (an older build finishing late must not roll production back) and the
//! self-trigger guard (a bump commit must not start the pipeline that bumps
//! again).
//!
//! # Newer wins
//!
//! A run never replaces a value newer than its own. When both the deployed
//! tag and the new tag are semantic versions (an optional `v` prefix,
//! pre-release ordering per semver 2.0, build metadata ignored) they are
//! compared. Otherwise (commit SHAs, `latest`, digests only) the order is the
//! workflow run that made each value: every bump commit carries the trailers
//!
//! ```text
//! Bumped-Image: ghcr.io/org/app
//! Bumped-By-Run: 1234.1
//! ```
//!
//! (`GITHUB_RUN_NUMBER`.`GITHUB_RUN_ATTEMPT`), and the last commit that
//! changed a file's value for an image is found by walking history. Run
//! numbers only grow within one workflow, so a smaller number is an older
//! build. History is read only when tags cannot be compared.
//!
//! A stale run changes nothing, exits 0, sets `changed=false` and the
//! `skipped-reason` output, and writes a `::notice`.
//!
//! ## Rolling back on purpose
//!
//! The guard would refuse a rollback too, so a rollback turns it off:
//!
//! ```yaml
//! - uses: org/gitops-bump@v1
//!   with:
//!     images: ghcr.io/org/app:v1.4.2   # the known-good version
//!     paths: overlays/prod
//!     newer-wins: false                # allow going back
//! ```
//!
//! Run it from a `workflow_dispatch` workflow with the version as an input;
//! the next regular build moves forward again because its version (or run
//! number) is newer than the one the rollback deployed.
//!
//! ## Where it runs
//!
//! In the write-back loop ([`crate::write_back::run`]), on every attempt,
//! after the edit ran on the fresh tip: the history of that tip is read by
//! the transport (git: a walk, deepening a shallow clone with the same
//! authenticated fetch, or in the remote itself when it is on this machine;
//! the API: the commits API). So the guard decides on the branch as it is
//! when we publish, and a lost race re-decides on the new tip.
//!
//! # Self-trigger
//!
//! `GITHUB_TOKEN` pushes never start workflows, but App installation tokens
//! and personal access tokens do. With those credentials the commit message
//! must keep a skip marker such as `[skip ci]`, and a run that was itself
//! started by our own bump commit (same author, touching only the configured
//! paths) stops with a notice instead of bumping again.

use std::cmp::Ordering;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::edit::Change;

/// Trailer naming the image a bump commit changed (one line per image).
pub const TRAILER_IMAGE: &str = "Bumped-Image";
/// Trailer naming the workflow run that made a bump commit.
pub const TRAILER_RUN: &str = "Bumped-By-Run";

#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    #[error("reading history of {file} for the newer-wins guard: {source}")]
    History {
        file: String,
        #[source]
        source: git2::Error,
    },
    #[error("reading the event payload {path}: {why}")]
    Event { path: String, why: String },
}

impl GuardError {
    pub fn hint(&self) -> Option<String> {
        match self {
            GuardError::History { .. } => Some(
                "fetch more history (actions/checkout `fetch-depth: 0`), or set `newer-wins: false`"
                    .into(),
            ),
            GuardError::Event { .. } => Some(
                "GITHUB_EVENT_PATH should point to the runner's event JSON; unset it outside Actions"
                    .into(),
            ),
        }
    }
}

// ---------------------------------------------------------------------------
// Workflow run identity

/// A workflow run: `GITHUB_RUN_NUMBER` and `GITHUB_RUN_ATTEMPT`. Ordered by
/// number, then attempt: a re-run of an old build is still an old build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RunId {
    pub number: u64,
    pub attempt: u32,
}

impl RunId {
    /// Parses `1234.2` (or `1234`, attempt 1).
    pub fn parse(s: &str) -> Option<RunId> {
        let s = s.trim();
        let (number, attempt) = match s.split_once('.') {
            Some((n, a)) => (n, a),
            None => (s, "1"),
        };
        let valid = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if !valid(number) || !valid(attempt) {
            return None;
        }
        Some(RunId {
            number: number.parse().ok()?,
            attempt: attempt.parse().ok()?,
        })
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Option<RunId> {
        let number = lookup("GITHUB_RUN_NUMBER")?;
        let attempt = lookup("GITHUB_RUN_ATTEMPT").unwrap_or_else(|| "1".into());
        RunId::parse(&format!("{}.{}", number.trim(), attempt.trim()))
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.number, self.attempt)
    }
}

// ---------------------------------------------------------------------------
// Semantic versions

/// A semantic version 2.0 (`v` prefix allowed, build metadata kept out of
/// the ordering, as the spec says).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SemVer {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub pre: Vec<PreRelease>,
}

/// One dot-separated pre-release identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreRelease {
    Numeric(u64),
    Alpha(String),
}

impl Ord for PreRelease {
    /// Numeric identifiers sort before alphanumeric ones (semver 2.0 §11.4.3).
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (PreRelease::Numeric(a), PreRelease::Numeric(b)) => a.cmp(b),
            (PreRelease::Numeric(_), PreRelease::Alpha(_)) => Ordering::Less,
            (PreRelease::Alpha(_), PreRelease::Numeric(_)) => Ordering::Greater,
            (PreRelease::Alpha(a), PreRelease::Alpha(b)) => a.cmp(b),
        }
    }
}

impl PartialOrd for PreRelease {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl SemVer {
    /// Parses a tag as a semantic version; `None` for anything else
    /// (commit SHAs, `latest`, `1.2`, leading zeros).
    pub fn parse(tag: &str) -> Option<SemVer> {
        let s = tag.strip_prefix('v').unwrap_or(tag);
        let s = s.split_once('+').map_or(s, |(core, build)| {
            // Build metadata is validated, then ignored for ordering.
            if build.is_empty() || build.split('.').any(|i| !is_identifier(i)) {
                ""
            } else {
                core
            }
        });
        let (core, pre) = match s.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (s, None),
        };
        let mut parts = core.split('.');
        let major = numeric(parts.next()?)?;
        let minor = numeric(parts.next()?)?;
        let patch = numeric(parts.next()?)?;
        if parts.next().is_some() {
            return None;
        }
        let pre = match pre {
            None => Vec::new(),
            Some(p) => p
                .split('.')
                .map(|id| {
                    if !is_identifier(id) {
                        None
                    } else if id.bytes().all(|b| b.is_ascii_digit()) {
                        numeric(id).map(PreRelease::Numeric)
                    } else {
                        Some(PreRelease::Alpha(id.to_string()))
                    }
                })
                .collect::<Option<Vec<_>>>()?,
        };
        Some(SemVer {
            major,
            minor,
            patch,
            pre,
        })
    }
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// A numeric identifier: digits, no leading zero (semver 2.0 §2).
fn numeric(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

impl Ord for SemVer {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                // A release is newer than its pre-releases (§11.3).
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => self.pre.cmp(&other.pre),
            })
    }
}

impl PartialOrd for SemVer {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Orders two tags when both are semantic versions.
pub fn compare_semver_tags(old: &str, new: &str) -> Option<Ordering> {
    Some(SemVer::parse(new)?.cmp(&SemVer::parse(old)?))
}

// ---------------------------------------------------------------------------
// Commit trailers

/// The trailer block for a bump commit: one `Bumped-Image` line per image,
/// then `Bumped-By-Run`. Appended after a blank line by [`append_trailers`].
pub fn format_trailers(images: &[&str], run: RunId) -> String {
    let mut s = String::new();
    for image in images {
        s.push_str(&format!("{TRAILER_IMAGE}: {image}\n"));
    }
    s.push_str(&format!("{TRAILER_RUN}: {run}\n"));
    s
}

/// Adds the trailers to a commit message, separated by a blank line as git
/// expects (`git interpret-trailers` reads only the last paragraph).
pub fn append_trailers(message: &str, images: &[&str], run: RunId) -> String {
    format!("{}\n\n{}", message.trim_end(), format_trailers(images, run))
}

/// `(key, value)` pairs of the message's last paragraph, when every line of
/// it is a `Key: value` trailer.
pub fn parse_trailers(message: &str) -> Vec<(String, String)> {
    let paragraph = message.trim_end().rsplit("\n\n").next().unwrap_or_default();
    let mut out = Vec::new();
    for line in paragraph.lines() {
        let Some((key, value)) = line.split_once(": ") else {
            return Vec::new();
        };
        let key_ok = !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !key_ok {
            return Vec::new();
        }
        out.push((key.to_string(), value.trim().to_string()));
    }
    out
}

/// The run recorded in a bump commit for `image`, if the commit names it.
pub fn bumped_by_run(message: &str, image: &str) -> Option<RunId> {
    let trailers = parse_trailers(message);
    let names_image = trailers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case(TRAILER_IMAGE) && v == image);
    if !names_image {
        return None;
    }
    trailers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(TRAILER_RUN))
        .and_then(|(_, v)| RunId::parse(v))
}

// ---------------------------------------------------------------------------
// The decision

/// An image value as it appears in a manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImageValue<'a> {
    pub tag: Option<&'a str>,
    pub digest: Option<&'a str>,
}

/// What the newer-wins guard says about one change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Apply,
    /// The deployed value is newer; the sentence says why.
    Skip(String),
}

/// True when the decision needs the run that made the deployed value, i.e.
/// the values differ and cannot be ordered as semantic versions.
pub fn needs_history(old: ImageValue<'_>, new: ImageValue<'_>) -> bool {
    if old == new {
        return false;
    }
    !matches!((old.tag, new.tag), (Some(o), Some(n)) if compare_semver_tags(o, n).is_some())
}

/// Decides whether replacing `old` with `new` moves forward. `last_run` is
/// the run that wrote `old` (from the trailers), `this_run` ours; when
/// either is unknown there is no evidence that `old` is newer, so it applies.
pub fn decide(
    image: &str,
    old: ImageValue<'_>,
    new: ImageValue<'_>,
    this_run: Option<RunId>,
    last_run: Option<RunId>,
) -> Decision {
    if old == new {
        return Decision::Apply;
    }
    if let (Some(o), Some(n)) = (old.tag, new.tag)
        && let Some(order) = compare_semver_tags(o, n)
    {
        return match order {
            Ordering::Less => Decision::Skip(format!(
                "{image} is already at {o}, newer than {n}; set newer-wins: false to roll back"
            )),
            _ => Decision::Apply,
        };
    }
    match (this_run, last_run) {
        (Some(mine), Some(theirs)) if mine < theirs => Decision::Skip(format!(
            "{image} was last bumped by workflow run {theirs}, newer than this run {mine}; set newer-wins: false to roll back"
        )),
        _ => Decision::Apply,
    }
}

/// Runs [`decide`] over every change of an edit. `last_run` is asked only
/// for changes that need history (see [`needs_history`]). Returns the first
/// reason to skip.
pub fn stale_reason<E>(
    changes: &[Change],
    this_run: Option<RunId>,
    mut last_run: impl FnMut(&Change) -> Result<Option<RunId>, E>,
) -> Result<Option<String>, E> {
    for c in changes {
        let old = ImageValue {
            tag: c.old_tag.as_deref(),
            digest: c.old_digest.as_deref(),
        };
        let new = ImageValue {
            tag: c.new_tag.as_deref(),
            digest: c.new_digest.as_deref(),
        };
        let last = if this_run.is_some() && needs_history(old, new) {
            last_run(c)?
        } else {
            None
        };
        if let Decision::Skip(reason) = decide(&c.image, old, new, this_run, last) {
            return Ok(Some(reason));
        }
    }
    Ok(None)
}

// ---------------------------------------------------------------------------
// History

/// What walking history found for one file and image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LastBump {
    /// The newest commit that changed the file and names the image.
    Found { run: RunId, commit: String },
    /// History was walked to its root: no bump commit for this image.
    NotFound,
    /// The walk hit a shallow boundary first: deepen the fetch and ask again.
    Shallow,
}

impl LastBump {
    /// The run, when one was found; history that ends without a bump (or
    /// cannot be deepened further) is no evidence.
    pub fn run(&self) -> Option<RunId> {
        match self {
            LastBump::Found { run, .. } => Some(*run),
            LastBump::NotFound | LastBump::Shallow => None,
        }
    }
}

/// Walks first-parent history from `start` and returns the run recorded by
/// the newest commit that changed `file` and names `image` in its trailers.
/// Commits that changed the file by hand (no trailers) are skipped: only a
/// bump records which build it deployed. At most `max_commits` commits are
/// read, so a huge repository costs a bounded walk.
pub fn last_bumped_run(
    repo: &git2::Repository,
    start: git2::Oid,
    file: &Path,
    image: &str,
    max_commits: usize,
) -> Result<LastBump, GuardError> {
    let err = |source| GuardError::History {
        file: file.display().to_string(),
        source,
    };
    let shallow_roots = shallow_roots(repo);
    let mut walk = repo.revwalk().map_err(err)?;
    walk.push(start).map_err(err)?;
    walk.simplify_first_parent().map_err(err)?;
    for oid in walk.take(max_commits) {
        let oid = oid.map_err(err)?;
        let commit = repo.find_commit(oid).map_err(err)?;
        // A shallow root's parent is missing, so whether it changed the
        // file is unknown: deepen instead of guessing.
        if shallow_roots.contains(&oid) {
            return Ok(LastBump::Shallow);
        }
        let here = blob_at(&commit, file);
        let before = commit.parent(0).ok().and_then(|p| blob_at(&p, file));
        let message = String::from_utf8_lossy(commit.message_bytes());
        if here != before
            && let Some(run) = bumped_by_run(&message, image)
        {
            return Ok(LastBump::Found {
                run,
                commit: oid.to_string(),
            });
        }
    }
    Ok(LastBump::NotFound)
}

fn blob_at(commit: &git2::Commit<'_>, file: &Path) -> Option<git2::Oid> {
    commit.tree().ok()?.get_path(file).ok().map(|e| e.id())
}

/// The grafted roots of a shallow clone, listed in `.git/shallow`.
fn shallow_roots(repo: &git2::Repository) -> Vec<git2::Oid> {
    if !repo.is_shallow() {
        return Vec::new();
    }
    std::fs::read_to_string(repo.path().join("shallow"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| git2::Oid::from_str(l.trim()).ok())
        .collect()
}

// ---------------------------------------------------------------------------
// Self-trigger

/// The kind of credential that pushes, which decides whether its pushes
/// start workflows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// The job's `GITHUB_TOKEN`: its pushes never trigger workflows.
    GithubToken,
    /// A GitHub App installation token: its pushes do.
    AppToken,
    /// A personal access token (or any other user credential): its pushes do.
    PersonalToken,
}

impl Credential {
    pub fn triggers_workflows(self) -> bool {
        !matches!(self, Credential::GithubToken)
    }

    /// The credential a run pushes with: the App when one is configured,
    /// else the kind of `token` by its prefix. An installation token made by
    /// an earlier step (create-github-app-token) looks like `GITHUB_TOKEN`
    /// (`ghs_`), so with one of those keep `[skip ci]` in the message.
    pub fn of(config: &crate::config::WriteBackOptions) -> Credential {
        if config.app.is_some() {
            return Credential::AppToken;
        }
        match &config.token {
            Some(t)
                if ["ghp_", "github_pat_", "gho_", "ghu_"]
                    .iter()
                    .any(|p| t.expose().starts_with(p)) =>
            {
                Credential::PersonalToken
            }
            _ => Credential::GithubToken,
        }
    }
}

/// Markers GitHub honours to skip `push` and `pull_request` workflows.
pub const SKIP_MARKERS: &[&str] = &[
    "[skip ci]",
    "[ci skip]",
    "[no ci]",
    "[skip actions]",
    "[actions skip]",
];

/// Keeps a skip marker in the message when the credential would start
/// workflows; with `GITHUB_TOKEN` the message is left as the user wrote it.
pub fn ensure_skip_marker(message: &str, credential: Credential) -> String {
    let lower = message.to_ascii_lowercase();
    let has_marker = SKIP_MARKERS.iter().any(|m| lower.contains(m));
    if !credential.triggers_workflows() || has_marker {
        return message.to_string();
    }
    let mut lines: Vec<&str> = message.lines().collect();
    let headline = format!(
        "{} [skip ci]",
        lines.first().copied().unwrap_or("").trim_end()
    );
    if lines.is_empty() {
        return headline;
    }
    lines[0] = &headline;
    lines.join("\n")
}

/// The commit that started this run, from a `push` event payload.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TriggerCommit {
    pub author_name: String,
    pub author_email: String,
    /// Files the commit added, modified or removed.
    pub files: Vec<String>,
}

impl TriggerCommit {
    /// Reads `head_commit` from the event JSON; `None` when the event has
    /// none (not a push, or a branch deletion).
    pub fn from_event(event: &serde_json::Value) -> Option<TriggerCommit> {
        let head = event.get("head_commit").filter(|h| !h.is_null())?;
        let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
        let mut files = Vec::new();
        for key in ["added", "modified", "removed"] {
            if let Some(list) = head.get(key).and_then(|l| l.as_array()) {
                files.extend(list.iter().filter_map(|f| f.as_str()).map(str::to_string));
            }
        }
        Some(TriggerCommit {
            author_name: text(&head["author"]["name"]),
            author_email: text(&head["author"]["email"]),
            files,
        })
    }

    /// Reads a runner event file (the JSON at `GITHUB_EVENT_PATH`).
    pub fn from_event_file(path: &Path) -> Result<Option<TriggerCommit>, GuardError> {
        let event_err = |why: String| GuardError::Event {
            path: path.display().to_string(),
            why,
        };
        let text = std::fs::read_to_string(path).map_err(|e| event_err(e.to_string()))?;
        let event: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| event_err(e.to_string()))?;
        Ok(Self::from_event(&event))
    }
}

/// True when the run was started by our own bump: the trigger commit's
/// author is the configured bot identity and it touched only the configured
/// paths. Such a run stops with a notice instead of bumping again.
pub fn is_self_trigger(
    trigger: &TriggerCommit,
    author_name: &str,
    author_email: &str,
    paths: &[PathBuf],
) -> bool {
    let same_author = trigger.author_email.eq_ignore_ascii_case(author_email)
        && trigger.author_name == author_name;
    same_author && !trigger.files.is_empty() && trigger.files.iter().all(|f| under_any(f, paths))
}

/// Why this run must stop instead of bumping, when the commit that started
/// it is our own bump (see [`is_self_trigger`]).
pub fn self_trigger_reason(
    trigger: Option<&TriggerCommit>,
    guards: &crate::config::GuardOptions,
) -> Option<String> {
    let trigger = trigger?;
    is_self_trigger(trigger, &guards.author_name, &guards.author_email, &guards.paths).then(|| {
        format!(
            "this run was started by a bump commit from {} <{}> that only touched the configured paths; not bumping again (no CI loop)",
            trigger.author_name, trigger.author_email
        )
    })
}

/// Reports a skipped run: a `::notice` in Actions and a line on stderr.
/// The caller sets `changed=false` and the `skipped-reason` output.
pub fn announce_skip(reason: &str) {
    crate::print::line(crate::print::Stream::Stderr, &format!("skipped: {reason}"));
    crate::actions::annotate(
        &crate::actions::Annotation::new(crate::actions::Level::Notice, reason)
            .titled("gitops-bump"),
    );
}

/// True when `file` (`/`-separated, relative to the repository root) is one
/// of `paths` or inside one of them.
fn under_any(file: &str, paths: &[PathBuf]) -> bool {
    paths.iter().any(|p| {
        let p = p.to_string_lossy();
        let p = p.trim_start_matches("./").trim_end_matches('/');
        p.is_empty() || p == "." || file == p || file.starts_with(&format!("{p}/"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semver_ordering_follows_the_spec() {
        use Ordering::*;
        // (old, new, new compared to old)
        let cases = [
            ("1.2.3", "1.2.4", Some(Greater)),
            ("v1.2.3", "1.2.3", Some(Equal)),
            ("v2.0.0", "v1.9.9", Some(Less)),
            ("1.10.0", "1.9.0", Some(Less)),
            ("1.0.0-alpha", "1.0.0", Some(Greater)),
            ("1.0.0", "1.0.0-rc.1", Some(Less)),
            // The chain from semver 2.0 §11.4.4, pairwise.
            ("1.0.0-alpha", "1.0.0-alpha.1", Some(Greater)),
            ("1.0.0-alpha.1", "1.0.0-alpha.beta", Some(Greater)),
            ("1.0.0-alpha.beta", "1.0.0-beta", Some(Greater)),
            ("1.0.0-beta", "1.0.0-beta.2", Some(Greater)),
            ("1.0.0-beta.2", "1.0.0-beta.11", Some(Greater)),
            ("1.0.0-beta.11", "1.0.0-rc.1", Some(Greater)),
            ("1.0.0+build.1", "1.0.0+build.2", Some(Equal)),
            // Not semantic versions.
            ("1.2", "1.3", None),
            ("01.2.3", "1.2.4", None),
            ("1.2.3", "3f2a9c1", None),
            ("latest", "1.0.0", None),
            ("1.0.0-", "1.0.0", None),
            ("1.0.0-a..b", "1.0.0", None),
            ("1.0.0+", "1.0.0", None),
            ("1.0.0-01", "1.0.0", None),
        ];
        for (old, new, want) in cases {
            assert_eq!(compare_semver_tags(old, new), want, "{old} -> {new}");
        }
    }

    #[test]
    fn run_ids_parse_and_order_by_number_then_attempt() {
        let cases = [
            ("12.1", Some((12, 1))),
            ("12", Some((12, 1))),
            (" 7.3 ", Some((7, 3))),
            ("12.", None),
            ("a.1", None),
            ("-1.1", None),
            ("", None),
        ];
        for (s, want) in cases {
            assert_eq!(
                RunId::parse(s),
                want.map(|(number, attempt)| RunId { number, attempt }),
                "{s:?}"
            );
        }
        let r = |s| RunId::parse(s).unwrap();
        assert!(r("9.2") < r("10.1"));
        assert!(r("10.1") < r("10.2"));
        let env = |k: &str| match k {
            "GITHUB_RUN_NUMBER" => Some("41".to_string()),
            _ => None,
        };
        assert_eq!(RunId::from_lookup(env), Some(r("41.1")));
        assert_eq!(RunId::from_lookup(|_| None), None);
    }

    #[test]
    fn trailers_round_trip_and_only_count_for_the_named_image() {
        let run = RunId::parse("310.2").unwrap();
        let msg = append_trailers(
            "chore(deploy): bump app to abc [skip ci]\n",
            &["ghcr.io/org/app", "ghcr.io/org/worker"],
            run,
        );
        assert_eq!(
            msg,
            "chore(deploy): bump app to abc [skip ci]\n\nBumped-Image: ghcr.io/org/app\nBumped-Image: ghcr.io/org/worker\nBumped-By-Run: 310.2\n"
        );
        let cases = [
            (msg.as_str(), "ghcr.io/org/app", Some(run)),
            (msg.as_str(), "ghcr.io/org/worker", Some(run)),
            (msg.as_str(), "ghcr.io/org/other", None),
            ("fix: manual edit\n\nBumped-By-Run: 5.1\n", "app", None),
            // Trailers only count in the last paragraph, all lines trailers.
            (
                "bump\n\nBumped-Image: app\nBumped-By-Run: 5.1\n\nmore text",
                "app",
                None,
            ),
            (
                "bump\n\nBumped-Image: app\nnot a trailer\nBumped-By-Run: 5.1",
                "app",
                None,
            ),
            (
                "bump\n\nbumped-image: app\nbumped-by-run: 6",
                "app",
                RunId::parse("6.1"),
            ),
        ];
        for (message, image, want) in cases {
            assert_eq!(bumped_by_run(message, image), want, "{message:?} {image}");
        }
    }

    #[test]
    fn decisions_never_replace_a_newer_value() {
        let v =
            |tag: Option<&'static str>, digest: Option<&'static str>| ImageValue { tag, digest };
        let run = |s| RunId::parse(s);
        // (old, new, this run, last run, skip?)
        let cases = [
            (
                v(Some("v1.2.0"), None),
                v(Some("v1.3.0"), None),
                None,
                None,
                false,
            ),
            (
                v(Some("v1.3.0"), None),
                v(Some("v1.2.9"), None),
                None,
                None,
                true,
            ),
            // Semver decides even when the runs say otherwise.
            (
                v(Some("1.3.0"), None),
                v(Some("1.2.0"), None),
                run("99"),
                run("1"),
                true,
            ),
            (
                v(Some("1.3.0-rc.1"), None),
                v(Some("1.3.0"), None),
                run("1"),
                run("99"),
                false,
            ),
            // SHAs: the runs decide.
            (
                v(Some("3f2a9c1"), None),
                v(Some("b71e002"), None),
                run("40.1"),
                run("41.1"),
                true,
            ),
            (
                v(Some("3f2a9c1"), None),
                v(Some("b71e002"), None),
                run("42.1"),
                run("41.1"),
                false,
            ),
            (
                v(Some("3f2a9c1"), None),
                v(Some("b71e002"), None),
                run("41.1"),
                run("41.2"),
                true,
            ),
            // No evidence: apply.
            (
                v(Some("3f2a9c1"), None),
                v(Some("b71e002"), None),
                run("40.1"),
                None,
                false,
            ),
            (
                v(Some("3f2a9c1"), None),
                v(Some("b71e002"), None),
                None,
                run("41.1"),
                false,
            ),
            // Same tag, new digest (a rebuilt `latest`): the runs decide.
            (
                v(Some("latest"), Some("sha256:a")),
                v(Some("latest"), Some("sha256:b")),
                run("3"),
                run("4"),
                true,
            ),
            // Semver tag replacing a SHA tag: not comparable, the runs decide.
            (
                v(Some("3f2a9c1"), None),
                v(Some("1.0.0"), None),
                run("5"),
                run("4"),
                false,
            ),
            // Unchanged values never skip.
            (
                v(Some("v1"), None),
                v(Some("v1"), None),
                run("1"),
                run("9"),
                false,
            ),
        ];
        for (i, (old, new, this, last, skip)) in cases.into_iter().enumerate() {
            let d = decide("app", old, new, this, last);
            assert_eq!(matches!(d, Decision::Skip(_)), skip, "case {i}: {d:?}");
            if let Decision::Skip(reason) = d {
                assert!(reason.contains("newer-wins: false"), "{reason}");
            }
        }
        assert!(!needs_history(
            v(Some("1.0.0"), None),
            v(Some("1.0.1"), None)
        ));
        assert!(needs_history(v(Some("abc"), None), v(Some("1.0.1"), None)));
        assert!(!needs_history(v(Some("abc"), None), v(Some("abc"), None)));
    }

    #[test]
    fn skip_marker_is_kept_only_for_credentials_that_trigger_workflows() {
        let cases = [
            (
                "chore: bump app",
                Credential::GithubToken,
                "chore: bump app",
            ),
            (
                "chore: bump app",
                Credential::AppToken,
                "chore: bump app [skip ci]",
            ),
            (
                "chore: bump app\n\nbody",
                Credential::PersonalToken,
                "chore: bump app [skip ci]\n\nbody",
            ),
            (
                "chore: bump [CI SKIP]",
                Credential::AppToken,
                "chore: bump [CI SKIP]",
            ),
            (
                "bump\n\n[skip actions]",
                Credential::AppToken,
                "bump\n\n[skip actions]",
            ),
            ("", Credential::AppToken, " [skip ci]"),
        ];
        for (message, credential, want) in cases {
            assert_eq!(ensure_skip_marker(message, credential), want, "{message:?}");
        }
    }

    #[test]
    fn credentials_are_classified_from_the_config() {
        let config = |pairs: &[(&str, &str)]| {
            let mut raw = crate::config::RawInputs::default();
            raw.set("images", "app:v1".into());
            for (k, v) in pairs {
                raw.set(k, v.to_string());
            }
            crate::config::Config::from_raw(&raw).unwrap()
        };
        let key = "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----";
        let cases = [
            (vec![], Credential::GithubToken),
            (vec![("token", "ghs_abc")], Credential::GithubToken),
            (vec![("token", "ghp_abc")], Credential::PersonalToken),
            (vec![("token", "github_pat_abc")], Credential::PersonalToken),
            (
                vec![
                    ("token", "ghs_abc"),
                    ("app-id", "1"),
                    ("app-private-key", key),
                ],
                Credential::AppToken,
            ),
        ];
        for (pairs, want) in cases {
            assert_eq!(
                Credential::of(&config(&pairs).write_back),
                want,
                "{pairs:?}"
            );
        }
        let c = config(&[
            ("author-name", "bot"),
            ("author-email", "bot@example.com"),
            ("paths", "apps/prod"),
        ]);
        let ours = TriggerCommit {
            author_name: "bot".into(),
            author_email: "bot@example.com".into(),
            files: vec!["apps/prod/k.yaml".into()],
        };
        let reason = self_trigger_reason(Some(&ours), &c.guards).unwrap();
        assert!(reason.contains("bot <bot@example.com>"), "{reason}");
        let theirs = TriggerCommit {
            author_name: "alice".into(),
            ..ours.clone()
        };
        assert_eq!(self_trigger_reason(Some(&theirs), &c.guards), None);
        assert_eq!(self_trigger_reason(None, &c.guards), None);
    }

    #[test]
    fn self_trigger_needs_our_author_and_only_our_paths() {
        let event = |name: &str, email: &str, files: &[&str]| {
            serde_json::json!({
                "head_commit": {
                    "author": {"name": name, "email": email},
                    "added": [],
                    "modified": files,
                    "removed": [],
                }
            })
        };
        let bot = ("gitops-bot", "bot@example.com");
        let paths = [PathBuf::from("overlays/prod"), PathBuf::from("./base/")];
        let cases = [
            (
                event(bot.0, bot.1, &["overlays/prod/kustomization.yaml"]),
                true,
            ),
            (event(bot.0, "BOT@example.com", &["base/deploy.yaml"]), true),
            (
                event(bot.0, bot.1, &["overlays/prod/a.yaml", "src/main.rs"]),
                false,
            ),
            (event(bot.0, bot.1, &["overlays/production/a.yaml"]), false),
            (
                event("alice", "alice@example.com", &["overlays/prod/a.yaml"]),
                false,
            ),
            (event(bot.0, bot.1, &[]), false),
        ];
        for (i, (ev, want)) in cases.into_iter().enumerate() {
            let t = TriggerCommit::from_event(&ev).unwrap();
            assert_eq!(is_self_trigger(&t, bot.0, bot.1, &paths), want, "case {i}");
        }
        let whole_repo = [PathBuf::from(".")];
        let t = TriggerCommit::from_event(&event(bot.0, bot.1, &["src/x.rs"])).unwrap();
        assert!(is_self_trigger(&t, bot.0, bot.1, &whole_repo));
        assert_eq!(
            TriggerCommit::from_event(&serde_json::json!({"head_commit": null})),
            None
        );
        assert_eq!(
            TriggerCommit::from_event(&serde_json::json!({"pull_request": {}})),
            None
        );
    }
}
