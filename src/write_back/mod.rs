//! The write-back: the one loop that turns an edit into a commit on the
//! remote branch, whatever carries it there.
//!
//! ```text
//! loop {
//!     tip    = transport.checkout_tip()        // the branch as the remote has it now
//!     report = edit(transport.root())          // the pure edit, re-run on that tip
//!     guard  = newer-wins on the tip's history // an older build never replaces a newer one
//!     match transport.publish(tip, report, message) {
//!         Landed(commit)   => done,
//!         LostRace | Lock  => backoff, and again from a fresh tip,
//!     }
//! }
//! ```
//!
//! The retry is correct because the edit is a pure function of the files:
//! after a lost race the same edit runs on the new tip, so another
//! pipeline's bump of a different image is kept and a concurrent bump of the
//! same image ends with the newer value (or becomes a no-op). Nothing is
//! rebased or merged, so there are no conflicts.
//!
//! Every transport publishes with a **compare-and-swap from the exact tip
//! the edit ran on**: smart HTTP through `receive-pack` plus a check of the
//! advertised old value before any object is sent; local paths and
//! `file://` through git's own `receive-pack` with a lease (libgit2's local
//! transport would force the ref and skip the remote's hooks); the GitHub
//! API through `createCommitOnBranch`'s `expectedHeadOid`. So a run that
//! reports a commit has that commit on the branch, and a run whose value is
//! not on the branch never reports one.
//!
//! The transports differ only in how they read the tip, read history for
//! the newer-wins guard, and swap the branch; the message, trailers, guard,
//! retry budget and pull request are decided here, once.

pub mod api;
pub mod git;
pub mod message;
pub(crate) mod pull_request;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::config::{Mode, WriteBackOptions};
use crate::edit::EditReport;
use crate::guard::{self, RunId};
use crate::print::{self, Stream};
use crate::retry::Backoff;
use crate::secret::Secret;
use crate::workspace::WorkspaceError;
use message::GitHubContext;

/// Where a write-back happens: the checkout, and the run it belongs to.
#[derive(Debug, Clone)]
pub struct WriteBackSite {
    /// The checkout to use when `repository` is unset (the current directory).
    pub workdir: PathBuf,
    pub context: GitHubContext,
}

impl WriteBackSite {
    /// Writes back from `workdir` in the run described by `context`
    /// ([`crate::run_env::RunEnv::github`]).
    pub fn new(workdir: &Path, context: GitHubContext) -> Self {
        WriteBackSite {
            workdir: workdir.to_path_buf(),
            context,
        }
    }
}

/// What the write-back did.
#[derive(Debug, Clone, Default)]
pub struct WriteBackResult {
    pub changed: bool,
    pub commit_sha: Option<String>,
    pub attempts: u32,
    pub pull_request_url: Option<String>,
    pub pull_request_number: Option<u64>,
    /// The edit as applied on the tip that was finally published.
    pub report: EditReport,
    /// The unified diff of the changed files, when the transport has one
    /// (printed to stderr on dry runs).
    pub diff: String,
    /// The branch that was pushed (the pull request's head in that mode).
    pub pushed_branch: Option<String>,
    /// Set when the newer-wins guard refused the change; nothing was committed.
    pub skipped_reason: Option<String>,
    /// The repository written to (`owner/name`), when it is a GitHub one:
    /// the summary links the commit there.
    pub repository: Option<String>,
}

/// The branch tip an attempt starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tip {
    /// The commit id, as the remote has it.
    pub id: String,
    /// The work tree is the caller's checkout as it was (the tip is its
    /// HEAD), not a fresh copy of the tip: "nothing to change" there must be
    /// confirmed on an exact copy, since a killed run may have left its edit
    /// in the work tree without pushing it.
    pub in_place: bool,
}

/// Where a commit goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Destination {
    /// The target branch, swapped from the tip the edit ran on.
    Branch,
    /// Our own pull-request branch, force-moved to one commit on the tip.
    PullRequestBranch(String),
}

/// How a publish ended, when the server did not refuse it outright.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Publish {
    Landed {
        commit: String,
        diff: String,
    },
    /// Another commit reached the branch first: start again from its tip.
    LostRace(String),
    /// The branch was locked by another writer at that moment; the words
    /// are the server's. A lock that outlives a few attempts is stale.
    Locked(String),
}

/// A way to read and write the branch: git (HTTP, SSH, local paths) or the
/// GitHub API.
pub(crate) trait Transport {
    /// The branch written to (the pull request's base in that mode).
    fn branch(&self) -> &str;
    /// Where the remote is, for messages.
    fn location(&self) -> String;
    /// Lays the branch's current tip out in [`Transport::root`]. `exact`
    /// asks for a copy of the tip even where the checkout could be used as
    /// it is. A branch that no longer exists is an error, never created.
    fn checkout_tip(&mut self, exact: bool) -> Result<Tip, WriteBackError>;
    /// The directory the edit runs in.
    fn root(&self) -> &Path;
    /// The workflow run that last bumped `image` in `file`, in the history
    /// of `tip` (complete history: a shallow copy is deepened first).
    fn last_bumped_run(
        &mut self,
        tip: &Tip,
        file: &str,
        image: &str,
    ) -> Result<Option<RunId>, WriteBackError>;
    /// Puts the edited files back as they are at the tip (dry runs and
    /// refused edits leave nothing behind).
    fn discard(&mut self, report: &EditReport) -> Result<(), WriteBackError>;
    /// The diff a commit of `report` on `tip` would have.
    fn preview(&mut self, tip: &Tip, report: &EditReport) -> Result<String, WriteBackError>;
    /// Commits `report` on `tip` with `message` and swaps `to` from `tip`
    /// to the new commit.
    fn publish(
        &mut self,
        tip: &Tip,
        report: &EditReport,
        message: &str,
        to: &Destination,
    ) -> Result<Publish, WriteBackError>;
}

/// How long to keep trying, and what to do between attempts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryBudget {
    /// No new attempt starts after this much time.
    pub deadline: Duration,
    /// At most this many attempts; 0 = only the deadline limits.
    pub max_attempts: u32,
    pub backoff: Backoff,
    /// A lock found held this many attempts in a row, over at least
    /// `stale_lock_after`, is stale (a crashed writer's), not contention:
    /// git itself waits 100 ms for a lock, and a live push holds it for
    /// milliseconds.
    pub max_locked: u32,
    pub stale_lock_after: Duration,
}

impl Default for RetryBudget {
    fn default() -> Self {
        RetryBudget {
            deadline: Duration::from_secs(300),
            max_attempts: 0,
            backoff: Backoff::PUSH,
            max_locked: 3,
            stale_lock_after: Duration::from_secs(2),
        }
    }
}

/// Everything the loop decides, independent of the transport.
pub(crate) struct Plan<'a> {
    /// Renders the commit message (with its trailers) for an edit.
    pub message: &'a dyn Fn(&EditReport) -> Result<String, crate::template::TemplateError>,
    /// `Some(run)` turns the newer-wins guard on (push mode only); the run
    /// may be unknown, then semantic versions still decide.
    pub newer_wins: Option<Option<RunId>>,
    pub dry_run: bool,
    pub budget: RetryBudget,
    /// Pull-request mode: where the pull request goes.
    pub pull_request: Option<pull_request::Plan>,
}

/// The edit the loop re-runs on each attempt's tip, in the transport's root.
/// Its error is the loop's: a promotion's edit also fails when the source
/// overlay cannot be read or verified on that tip.
pub(crate) type Edit<'a> = dyn FnMut(&Path) -> Result<EditReport, WriteBackError> + 'a;

/// Attempts made so far, readable after a failure (the `attempts` output is
/// written on failure too).
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    pub attempts: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum WriteBackError {
    #[error(transparent)]
    Git(#[from] crate::write_back::git::GitError),
    #[error(transparent)]
    Api(#[from] crate::write_back::api::ApiCommitError),
    #[error(transparent)]
    Edit(#[from] WorkspaceError),
    /// Reading or verifying the images to promote, on the tip being edited:
    /// the caller's own error, carried through the loop unchanged for the
    /// caller to take back (the top-level error does, when it converts this
    /// one), so the loop need not know its type.
    #[error(transparent)]
    Promote(Box<dyn std::error::Error + Send + Sync>),
    #[error(
        "promote-from changed during the run: {from} on the new tip sets other images than the ones verified on the first tip; re-run"
    )]
    PromoteSourceChanged { from: String },
    #[error(transparent)]
    Guard(#[from] crate::guard::GuardError),
    #[error("commit message template: {0}")]
    Template(#[from] crate::template::TemplateError),
    #[error(transparent)]
    PullRequest(#[from] pull_request::PullRequestError),
    #[error(
        "gave up pushing to `{branch}` after {attempts} attempt(s) in {} s: other pushes kept winning (last: {last})",
        elapsed.as_secs()
    )]
    RaceLost {
        branch: String,
        attempts: u32,
        elapsed: Duration,
        last: String,
    },
    #[error(
        "{location} kept `{branch}` locked for {attempts} attempts in a row; the server said:\n{message}"
    )]
    Locked {
        location: String,
        branch: String,
        attempts: u32,
        message: String,
    },
}

impl From<crate::github_api::app::AppError> for WriteBackError {
    fn from(e: crate::github_api::app::AppError) -> Self {
        WriteBackError::Api(e.into())
    }
}

impl WriteBackError {
    pub fn hint(&self) -> Option<String> {
        match self {
            WriteBackError::Git(e) => e.hint(),
            WriteBackError::Api(e) => e.hint(),
            WriteBackError::Edit(e) => e.hint(),
            WriteBackError::Guard(e) => e.hint(),
            WriteBackError::PullRequest(e) => e.hint(),
            // The caller takes its error back, and with it its hint.
            WriteBackError::Promote(_) => None,
            WriteBackError::PromoteSourceChanged { .. } => Some(
                "another push changed the source overlay while this run retried; nothing unverified was written: re-run to verify and promote what it holds now".into(),
            ),
            WriteBackError::Template(_) => {
                Some("fix `commit-message`; write `{{` for a literal brace".into())
            }
            WriteBackError::RaceLost { .. } => Some(
                "raise `retry-deadline` (or `max-attempts`), or serialize the deploy jobs with a `concurrency:` group".into(),
            ),
            WriteBackError::Locked { .. } => Some(
                "a lock file on the server outlived the push that made it (a crashed git process): remove the `.lock` file the server named, then re-run".into(),
            ),
        }
    }

    /// The YAML location of an edit error, wherever it came from.
    pub(crate) fn edit_error(&self) -> Option<&WorkspaceError> {
        match self {
            WriteBackError::Edit(e) => Some(e),
            _ => None,
        }
    }
}

/// The write-back loop's plan for a config: message, guard, budget and
/// pull request, the same for both transports. `written` is the repository
/// written to (`owner/name`), where the pull request goes; `token` is the
/// credential it is opened with.
pub(crate) fn plan_for<'a>(
    config: &WriteBackOptions,
    context: &GitHubContext,
    written: Option<&str>,
    token: Option<Secret>,
    message: &'a dyn Fn(&EditReport) -> Result<String, crate::template::TemplateError>,
    base: &str,
    images: &[&str],
) -> Result<Plan<'a>, WriteBackError> {
    let pull_request = match config.mode {
        Mode::PullRequest => {
            let promote_to = config
                .promote_to
                .as_ref()
                .map(|to| to.to_string_lossy().into_owned());
            Some(pull_request::Plan {
                head: pull_request::branch_name(base, images, promote_to.as_deref()),
                repository: written
                    .map(str::to_string)
                    .ok_or(pull_request::PullRequestError::NoApiRepository)?,
                api_url: context.api_url.clone(),
                token,
                labels: config.labels.clone(),
                context: context.clone(),
            })
        }
        _ => None,
    };
    let run = context.run;
    Ok(Plan {
        message,
        newer_wins: (config.newer_wins && config.mode == Mode::Push).then_some(run),
        dry_run: config.dry_run,
        budget: RetryBudget {
            deadline: config.retry_deadline,
            max_attempts: config.max_attempts,
            ..RetryBudget::default()
        },
        pull_request,
    })
}

/// Runs the edit on the branch tip and publishes it, again on each new tip
/// until it lands, the guard refuses it, or the budget runs out.
pub(crate) fn run(
    plan: &Plan<'_>,
    transport: &mut dyn Transport,
    edit: &mut Edit<'_>,
    tally: &mut Tally,
) -> Result<WriteBackResult, WriteBackError> {
    let started = Instant::now();
    let budget = plan.budget;
    let mut locked_in_a_row = 0;
    let mut locked_since: Option<Instant> = None;
    let mut exact = false;
    loop {
        tally.attempts += 1;
        let attempt = tally.attempts;
        let tip = transport.checkout_tip(exact)?;
        let report = edit(transport.root())?;
        if report.files.is_empty() {
            if tip.in_place {
                // Confirm "nothing to change" on an exact copy of the tip.
                exact = true;
                tally.attempts -= 1;
                continue;
            }
            return Ok(WriteBackResult {
                attempts: attempt,
                report,
                ..WriteBackResult::default()
            });
        }
        if let Some(this_run) = plan.newer_wins.filter(|_| plan.pull_request.is_none()) {
            let reason = guard::stale_reason(&report.changes, this_run, |c| {
                transport.last_bumped_run(&tip, &c.file, &c.image)
            })?;
            if let Some(reason) = reason {
                transport.discard(&report)?;
                return Ok(WriteBackResult {
                    attempts: attempt,
                    skipped_reason: Some(reason),
                    ..WriteBackResult::default()
                });
            }
        }
        if plan.dry_run {
            let diff = transport.preview(&tip, &report)?;
            print::lines(Stream::Stderr, &diff);
            transport.discard(&report)?;
            tally.attempts = 0;
            return Ok(WriteBackResult {
                changed: true,
                report,
                diff,
                ..WriteBackResult::default()
            });
        }
        let message = (plan.message)(&report)?;
        let to = match &plan.pull_request {
            Some(pr) => Destination::PullRequestBranch(pr.head.clone()),
            None => Destination::Branch,
        };
        let last = match transport.publish(&tip, &report, &message, &to)? {
            Publish::Landed { commit, diff } => {
                let mut result = WriteBackResult {
                    changed: true,
                    commit_sha: Some(commit),
                    attempts: attempt,
                    report,
                    diff,
                    pushed_branch: Some(match &to {
                        Destination::Branch => transport.branch().to_string(),
                        Destination::PullRequestBranch(head) => head.clone(),
                    }),
                    ..WriteBackResult::default()
                };
                if let Some(pr) = &plan.pull_request {
                    let opened = pr.open_or_update(transport.branch(), &message, &result.report)?;
                    result.pull_request_url = Some(opened.url);
                    result.pull_request_number = Some(opened.number);
                }
                return Ok(result);
            }
            Publish::LostRace(why) => {
                locked_in_a_row = 0;
                locked_since = None;
                why
            }
            Publish::Locked(why) => {
                locked_in_a_row += 1;
                let since = *locked_since.get_or_insert_with(Instant::now);
                if locked_in_a_row >= budget.max_locked
                    && since.elapsed() >= budget.stale_lock_after
                {
                    return Err(WriteBackError::Locked {
                        location: transport.location(),
                        branch: transport.branch().to_string(),
                        attempts: locked_in_a_row,
                        message: why,
                    });
                }
                why
            }
        };
        exact = true;
        let delay = budget.backoff.delay(attempt - 1);
        let out_of_attempts = budget.max_attempts != 0 && attempt >= budget.max_attempts;
        if out_of_attempts || started.elapsed() + delay > budget.deadline {
            return Err(WriteBackError::RaceLost {
                branch: transport.branch().to_string(),
                attempts: attempt,
                elapsed: started.elapsed(),
                last,
            });
        }
        print::line(
            Stream::Stderr,
            &format!(
                "push to {} lost a race ({}); retrying on the new tip in {} ms (attempt {})",
                transport.branch(),
                print::value(&last),
                delay.as_millis(),
                attempt + 1,
            ),
        );
        std::thread::sleep(delay);
    }
}
