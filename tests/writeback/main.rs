//! Write-back promises, proven black-box: real `gitops-bump run` processes
//! against real remotes on every transport a user can name (a path, a
//! `file://` URL, a checkout with a local or a smart-HTTP origin, a
//! `repository:` over smart HTTP, `commit-via: api`).
//!
//! - Concurrent runs, each bumping its own image in its own file, all land:
//!   one commit per bump, every reported commit on the branch, the branch
//!   only ever moved forward (the remote's reflog), `git fsck` clean. The
//!   default `max-attempts` must suffice.
//! - Newer wins in shallow workspaces: with tags that do not order (SHA
//!   tags), the run number decides, also when the last bump is not the tip
//!   and the workspace is a depth-1 clone; racing runs of one image end
//!   with the newest run's value.
//! - Checkout mode never creates the branch it was checked out on.
//! - An interrupted run removes its temporary clone; a failed run still
//!   reports `attempts`.
//!
//! The servers (githttp.py, faultproxy.py and fake_github.py in
//! tests/support/servers) need python3 and the git CLI. Timings
//! print to stderr (`--nocapture`).

mod checks;
mod runs;
mod site;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use rand::seq::SliceRandom;
use sha2::{Digest, Sha256};

use checks::{Before, Violations, assert_all, commit_on_branch, history, temp_clones};
use runs::{Finished, Launch, run_one, spawn, wait_all};
use site::{Site, Transport};
use test_support::fixture::Repo;
use test_support::git;
use test_support::git_http::{GIT_TOKEN, GitHttp, fault_proxy};

const BIN: &str = env!("CARGO_BIN_EXE_gitops-bump");

/// Bound on one round of racing runs (they retry with backoff for at most
/// five minutes on their own; a round that takes this long has failed).
const ROUND_LIMIT: Duration = Duration::from_secs(240);
/// Bound on one run alone.
const RUN_LIMIT: Duration = Duration::from_secs(60);

fn manifest(name: &str, tag: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  template:\n    spec:\n      containers:\n        - name: {name}\n          image: ghcr.io/org/{name}:{tag}\n"
    )
}

/// The tag of `ghcr.io/org/{name}` in `path` on the remote's `main`.
fn tag_on_main(bare: &Path, path: &str, name: &str) -> String {
    let text = git(bare, &["show", &format!("refs/heads/main:{path}")]);
    let prefix = format!("image: ghcr.io/org/{name}:");
    text.lines()
        .find_map(|l| l.trim().strip_prefix(prefix.as_str()))
        .unwrap_or("<image missing>")
        .to_string()
}

/// A tag like a commit SHA (hex, never a semantic version), one per run.
fn sha_tag(run: u32) -> String {
    let hex = format!("{:x}", Sha256::digest(format!("run {run}")));
    // Starts with a letter so no reading of it is a number.
    format!("c{}", &hex[..11])
}

/// The inputs of workflow run `run` (attempt 1).
fn as_run(launch: Launch, run: u32) -> Launch {
    launch
        .with("GITHUB_RUN_NUMBER", &run.to_string())
        .with("GITHUB_RUN_ATTEMPT", "1")
}

// ---------------------------------------------------------------------------
// 1. Concurrent writers on every transport.

/// Which transport races with how many concurrent runs (one round each).
struct Race {
    transport: Transport,
    sizes: &'static [usize],
}

const RACES: &[Race] = &[
    Race {
        transport: Transport::FileUrl,
        sizes: &[8, 16, 32],
    },
    Race {
        transport: Transport::Path,
        sizes: &[8, 16, 32],
    },
    Race {
        transport: Transport::PathCheckout,
        sizes: &[8, 16, 32],
    },
    Race {
        transport: Transport::HttpCheckout,
        sizes: &[8, 16, 32],
    },
    Race {
        transport: Transport::HttpRepository,
        sizes: &[8, 16, 32],
    },
    // 32 API runs took 71 s of the target's 3.5 min on 2 cores (each
    // attempt is several REST calls plus a git plumbing commit in the fake
    // server), so the API races with 8 and 16 only.
    Race {
        transport: Transport::Api,
        sizes: &[8, 16],
    },
];

/// The largest N of any race: the remote holds svc/0.yaml … svc/{N-1}.yaml.
const MOST: usize = 32;

fn race(transport: Transport) {
    let race = RACES
        .iter()
        .find(|r| r.transport == transport)
        .expect("a row for the transport");
    let files: Vec<(String, String)> = (0..MOST)
        .map(|i| (format!("svc/{i}.yaml"), manifest(&format!("svc{i}"), "r0")))
        .collect();
    let site = Site::start(transport, &files);
    let results = race.sizes.iter().map(|&n| race_round(&site, n)).collect();
    assert_all(results);
}

/// `n` runs at once, run `i` bumping `svc{i}` in `svc/{i}.yaml`.
fn race_round(site: &Site, n: usize) -> Result<(), String> {
    let bare = site.bare();
    let tag = format!("n{n}");
    let round = site.dir.path().join(format!("race-{n}"));
    let before = Before::take(&bare);
    // Every workspace first (checkouts are clones of the same tip), then
    // every run at once.
    let launches: Vec<Launch> = (0..n)
        .map(|i| {
            site.launch(
                format!("process {i}"),
                &round.join(format!("p{i}")),
                &format!("ghcr.io/org/svc{i}:{tag}"),
                &format!("svc/{i}.yaml"),
            )
        })
        .collect();
    let started = Instant::now();
    let running = launches
        .iter()
        .enumerate()
        .map(|(i, l)| spawn(l, &round.join(format!("p{i}")), &site.tmpdir()))
        .collect();
    let finished = wait_all(running, ROUND_LIMIT);
    let what = format!("{}, N={n}", site.transport.name());
    eprintln!(
        "{what}: all {n} runs done in {:.1} s, attempts max {}",
        started.elapsed().as_secs_f64(),
        finished
            .iter()
            .filter_map(|f| f.output("attempts").parse::<u32>().ok())
            .max()
            .unwrap_or(0)
    );
    let mut v = Violations::new(what);
    for f in &finished {
        if f.code != Some(0) || !f.changed() {
            v.push(format!("not landed: {}", f.describe()));
        } else {
            commit_on_branch(&bare, &f.label, f.output("commit-sha"), &mut v);
        }
    }
    for i in 0..n {
        let found = tag_on_main(&bare, &format!("svc/{i}.yaml"), &format!("svc{i}"));
        if found != tag {
            v.push(format!(
                "svc/{i}.yaml on the final tip holds {found}, not process {i}'s {tag} (lost update)"
            ));
        }
    }
    history(&bare, &before, n, &mut v);
    no_temp_clones(site, &mut v);
    v.into_result()
}

fn no_temp_clones(site: &Site, v: &mut Violations) {
    let left = temp_clones(&site.tmpdir());
    if !left.is_empty() {
        v.push(format!("temporary clones left in TMPDIR: {left:?}"));
    }
}

#[test]
fn concurrent_runs_all_land_over_a_file_url() {
    race(Transport::FileUrl);
}

#[test]
fn concurrent_runs_all_land_over_a_plain_path() {
    race(Transport::Path);
}

#[test]
fn concurrent_runs_all_land_from_checkouts_of_a_local_origin() {
    race(Transport::PathCheckout);
}

#[test]
fn concurrent_runs_all_land_from_shallow_checkouts_over_http() {
    race(Transport::HttpCheckout);
}

#[test]
fn concurrent_runs_all_land_over_http() {
    race(Transport::HttpRepository);
}

#[test]
fn concurrent_runs_all_land_through_the_api() {
    race(Transport::Api);
}

// ---------------------------------------------------------------------------
// 2. Newer wins, in shallow workspaces, with tags that do not order.

const APP_FILE: &str = "svc/app.yaml";
const APP: &str = "app";

/// Run 102 lands; an unrelated commit goes on top; run 101, started later
/// (from a fresh workspace: a depth-1 clone no longer reaches the bump),
/// must not replace run 102's value.
fn stale_run_is_skipped(transport: Transport) -> Result<(), String> {
    let site = Site::start(transport, &[(APP_FILE.into(), manifest(APP, "c0ffee0"))]);
    let bare = site.bare();
    let mut v = Violations::new(format!("{}, run 101 after run 102", site.transport.name()));
    let run = |number: u32| -> Finished {
        let dir = site.dir.path().join(format!("run-{number}"));
        let image = format!("ghcr.io/org/{APP}:{}", sha_tag(number));
        let launch = as_run(
            site.launch(format!("run {number}"), &dir, &image, APP_FILE),
            number,
        );
        let started = Instant::now();
        let finished = run_one(&launch, &dir, &site.tmpdir(), RUN_LIMIT);
        eprintln!(
            "{}: run {number} took {:.1} s",
            site.transport.name(),
            started.elapsed().as_secs_f64()
        );
        finished
    };
    let newer = run(102);
    if newer.code != Some(0) || !newer.changed() {
        v.push(format!("run 102 did not land: {}", newer.describe()));
        return v.into_result();
    }
    site.push_unrelated_commit("docs: unrelated change");
    let tip = git(&bare, &["rev-parse", "refs/heads/main"]);
    let stale = run(101);
    if stale.code != Some(0) {
        v.push("run 101 failed instead of skipping".into());
    }
    if stale.changed() || !stale.output("commit-sha").is_empty() {
        v.push("run 101 reported a commit (changed=true)".into());
    }
    if stale.output("skipped-reason").is_empty() {
        v.push("run 101 gave no skipped-reason".into());
    }
    let found = tag_on_main(&bare, APP_FILE, APP);
    if found != sha_tag(102) {
        v.push(format!(
            "{APP_FILE} holds {found}, not run 102's {}",
            sha_tag(102)
        ));
    }
    let now = git(&bare, &["rev-parse", "refs/heads/main"]);
    if now != tip {
        v.push(format!("main moved from {tip} to {now} for a stale run"));
    }
    if !v.is_empty() {
        v.push(format!("the stale run: {}", stale.describe()));
    }
    v.into_result()
}

#[test]
fn an_older_run_never_replaces_a_newer_one_in_a_depth_1_checkout() {
    assert_all(vec![stale_run_is_skipped(Transport::HttpCheckout)]);
}

#[test]
fn an_older_run_never_replaces_a_newer_one_over_http() {
    assert_all(vec![stale_run_is_skipped(Transport::HttpRepository)]);
}

#[test]
fn an_older_run_never_replaces_a_newer_one_over_a_file_url() {
    assert_all(vec![stale_run_is_skipped(Transport::FileUrl)]);
}

/// Runs 201..=208 bump the same image in the same file, started in a
/// shuffled order at once: the newest run's value is what stays.
fn newest_of_racing_runs_wins(transport: Transport) -> Result<(), String> {
    let site = Site::start(transport, &[(APP_FILE.into(), manifest(APP, "c0ffee0"))]);
    let bare = site.bare();
    let before = Before::take(&bare);
    let mut order: Vec<u32> = (201..=208).collect();
    order.shuffle(&mut rand::rng());
    let launches: Vec<(u32, Launch)> = order
        .iter()
        .map(|&number| {
            let dir = site.dir.path().join(format!("run-{number}"));
            let image = format!("ghcr.io/org/{APP}:{}", sha_tag(number));
            let launch = site.launch(format!("run {number}"), &dir, &image, APP_FILE);
            (number, as_run(launch, number))
        })
        .collect();
    let started = Instant::now();
    let running = launches
        .iter()
        .map(|(number, l)| {
            spawn(
                l,
                &site.dir.path().join(format!("run-{number}")),
                &site.tmpdir(),
            )
        })
        .collect();
    let finished = wait_all(running, ROUND_LIMIT);
    eprintln!(
        "{}: runs 201..208 done in {:.1} s",
        site.transport.name(),
        started.elapsed().as_secs_f64()
    );
    let mut v = Violations::new(format!(
        "{}, runs 201..208 of one image started in the order {order:?}",
        site.transport.name()
    ));
    let mut landed = 0;
    for f in &finished {
        if f.code != Some(0) {
            v.push(format!("failed: {}", f.describe()));
        }
        if f.changed() {
            landed += 1;
            commit_on_branch(&bare, &f.label, f.output("commit-sha"), &mut v);
        }
    }
    let found = tag_on_main(&bare, APP_FILE, APP);
    if found != sha_tag(208) {
        let holder = (201..=208).find(|&r| sha_tag(r) == found);
        v.push(format!(
            "{APP_FILE} ends with {found} (run {holder:?}), not run 208's {}",
            sha_tag(208)
        ));
        v.push(format!(
            "bumps on main, oldest first: {}",
            landed_order(&bare, &finished)
        ));
    }
    history(&bare, &before, landed, &mut v);
    v.into_result()
}

/// The runs whose commits are on `main`, in the order they landed.
fn landed_order(bare: &Path, finished: &[Finished]) -> String {
    let commits = git(bare, &["rev-list", "--reverse", "refs/heads/main"]);
    let order: Vec<&str> = commits
        .lines()
        .filter_map(|sha| {
            finished
                .iter()
                .find(|f| f.output("commit-sha") == sha)
                .map(|f| f.label.as_str())
        })
        .collect();
    order.join(", ")
}

#[test]
fn the_newest_of_racing_runs_wins_over_http() {
    assert_all(vec![newest_of_racing_runs_wins(Transport::HttpRepository)]);
}

#[test]
fn the_newest_of_racing_runs_wins_from_depth_1_checkouts() {
    assert_all(vec![newest_of_racing_runs_wins(Transport::HttpCheckout)]);
}

// ---------------------------------------------------------------------------
// 3. Checkout mode never creates a branch.

/// The checkout is on `main`; then `main` is deleted on the remote (its
/// default branch is now `other`). The run must fail and not recreate it.
fn deleted_branch_stays_deleted(transport: Transport) -> Result<(), String> {
    let site = Site::start(transport, &[(APP_FILE.into(), manifest(APP, "v1.0.0"))]);
    let bare = site.bare();
    let dir = site.dir.path().join("run");
    let launch = site.launch(
        "the run".into(),
        &dir,
        &format!("ghcr.io/org/{APP}:v2.0.0"),
        APP_FILE,
    );
    git(
        &bare,
        &["update-ref", "refs/heads/other", "refs/heads/main"],
    );
    git(&bare, &["symbolic-ref", "HEAD", "refs/heads/other"]);
    git(&bare, &["update-ref", "-d", "refs/heads/main"]);
    let f = run_one(&launch, &dir, &site.tmpdir(), RUN_LIMIT);
    let mut v = Violations::new(format!(
        "{}, main deleted on the remote",
        site.transport.name()
    ));
    if f.code == Some(0) || f.code.is_none() {
        v.push("the run did not fail".into());
    }
    if !f.stderr.contains("does not exist") {
        v.push("stderr does not say the branch does not exist".into());
    }
    if checks::git_succeeds(&bare, &["rev-parse", "--verify", "-q", "refs/heads/main"]) {
        v.push("refs/heads/main was created again on the remote".into());
    }
    if !v.is_empty() {
        v.push(format!("the run: {}", f.describe()));
    }
    v.into_result()
}

#[test]
fn a_checkout_run_never_creates_its_branch_on_a_file_url_origin() {
    assert_all(vec![deleted_branch_stays_deleted(
        Transport::FileUrlCheckout,
    )]);
}

#[test]
fn a_checkout_run_never_creates_its_branch_on_an_http_origin() {
    assert_all(vec![deleted_branch_stays_deleted(Transport::HttpCheckout)]);
}

// ---------------------------------------------------------------------------
// 4. An interrupted run cleans up; a failed run reports its attempts.

/// A run bumping `apps/app.yaml` of `repository: url` (smart HTTP, the
/// token allowed over plain HTTP); its files in `run/`, TMPDIR `tmp/`.
fn http_repository_run(repo: &Repo, url: &str) -> (Launch, PathBuf, PathBuf) {
    let origin = url.trim_end_matches("/remote.git");
    let dir = repo.dir.path().join("run");
    let tmpdir = repo.dir.path().join("tmp");
    std::fs::create_dir_all(&tmpdir).expect("mkdir tmp");
    let launch = Launch::new(
        "the run".into(),
        dir.join("work"),
        "ghcr.io/org/app:v2",
        "apps/app.yaml",
        &[
            ("repository", url),
            ("token", GIT_TOKEN),
            ("insecure-git-origins", origin),
        ],
    );
    (launch, dir, tmpdir)
}

#[test]
fn an_interrupted_run_removes_its_temporary_clone() {
    let repo = Repo::seeded(&[]);
    git(&repo.remote(), &["config", "http.receivepack", "true"]);
    let server = GitHttp::start(repo.dir.path());
    // Every request to the git server is held unanswered.
    let proxy = fault_proxy(server.port, "stall*", "", repo.dir.path());
    let url = proxy.url("remote.git");
    let (launch, dir, tmpdir) = http_repository_run(&repo, &url);
    let running = spawn(&launch, &dir, &tmpdir);
    let started = Instant::now();
    while temp_clones(&tmpdir).is_empty() || proxy.requests().is_empty() {
        if started.elapsed() > Duration::from_secs(20) {
            let f = wait_all(vec![running], Duration::ZERO);
            panic!(
                "no temporary clone and no stalled request after 20 s: {}",
                f[0].describe()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let made = temp_clones(&tmpdir);
    let kill = Command::new("kill")
        .args(["-TERM", &running.pid().to_string()])
        .status()
        .expect("kill runs");
    assert!(kill.success(), "SIGTERM delivered");
    let f = wait_all(vec![running], Duration::from_secs(30))
        .pop()
        .expect("one run");
    assert!(!f.timed_out, "the run ignored SIGTERM for 30 s");
    let left = temp_clones(&tmpdir);
    assert!(
        left.is_empty(),
        "SIGTERM while fetching through a stalled server: the run made {made:?} in TMPDIR and left {left:?}; {}",
        f.describe()
    );
}

#[test]
fn a_refused_push_still_reports_attempts() {
    let repo = Repo::seeded(&[]);
    git(&repo.remote(), &["config", "http.receivepack", "true"]);
    let hook = repo.remote().join("hooks/pre-receive");
    std::fs::write(&hook, "#!/bin/sh\necho 'refused by policy' >&2\nexit 1\n").expect("write hook");
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let server = GitHttp::start(repo.dir.path());
    let url = server.url("remote.git");
    let (launch, dir, tmpdir) = http_repository_run(&repo, &url);
    let f = run_one(&launch, &dir, &tmpdir, RUN_LIMIT);
    assert!(
        matches!(f.code, Some(c) if c != 0),
        "the hook refuses the push: {}",
        f.describe()
    );
    assert!(
        f.stderr.contains("refused by policy"),
        "the hook's message is shown: {}",
        f.describe()
    );
    assert!(
        f.outputs.contains_key("attempts"),
        "a failed run still writes `attempts` to GITHUB_OUTPUT; it wrote {:?}: {}",
        f.outputs.keys().collect::<Vec<_>>(),
        f.describe()
    );
}
