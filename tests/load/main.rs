//! Load: 32 concurrent `gitops-bump run` processes push to one branch
//! through the smart-HTTP remote, 3 rounds, with default inputs (the retry
//! budget is the default deadline, no attempt limit). Each process bumps its own
//! image in its own file; every bump must land (no lost update, exactly one
//! commit each) and the time to land is reported as p50/p95, against one
//! run alone and against the same 32 bumps run one after another.
//!
//! Ignored by a plain `cargo test` (it takes minutes on 2 cores);
//! scripts/test.sh, and so CI, runs it with `--ignored`. For the numbers:
//! `cargo test --release --test load -- --ignored --nocapture`.

use std::process::Stdio;
use std::time::{Duration, Instant};

use test_support::fixture::Repo;
use test_support::git_http::{GIT_TOKEN, GitHttp};
use test_support::{bin, git};

const BIN: &str = env!("CARGO_BIN_EXE_gitops-bump");

const PROCESSES: usize = 32;
const ROUNDS: usize = 3;

fn manifest(i: usize, tag: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: svc{i}\nspec:\n  template:\n    spec:\n      containers:\n        - name: svc{i}\n          image: ghcr.io/org/svc{i}:{tag}\n"
    )
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Starts one `gitops-bump run` bumping `svc{i}` to `tag` in its own
/// directory, its outputs in `runner{i}/output.txt`.
fn spawn_run(repo: &Repo, url: &str, i: usize, tag: &str) -> std::process::Child {
    let cwd = repo.dir.path().join(format!("runner{i}"));
    std::fs::create_dir_all(&cwd).expect("mkdir");
    let output = cwd.join("output.txt");
    let _ = std::fs::remove_file(&output);
    bin(BIN, &cwd)
        .current_dir(&cwd)
        .arg("run")
        .env("GITHUB_OUTPUT", &output)
        .env("INPUT_REPOSITORY", url)
        .env("INPUT_TOKEN", GIT_TOKEN)
        .env("INPUT_INSECURE-GIT-ORIGINS", url)
        .env("INPUT_IMAGES", format!("ghcr.io/org/svc{i}:{tag}"))
        .env("INPUT_VERIFY", "false")
        .env("INPUT_PATHS", format!("svc/{i}.yaml"))
        .env("INPUT_TIMEOUT", "10m")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts")
}

/// One run with nothing else running; it must land.
fn land_alone(repo: &Repo, url: &str, i: usize, tag: &str) {
    let out = spawn_run(repo, url, i, tag)
        .wait_with_output()
        .expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
#[ignore = "minutes on 2 cores; run with --ignored"]
fn thirty_two_concurrent_runs_all_land() {
    let files: Vec<(String, Vec<u8>)> = (0..PROCESSES)
        .map(|i| (format!("svc/{i}.yaml"), manifest(i, "r0").into_bytes()))
        .collect();
    let repo = Repo::seeded(&files);
    git(&repo.remote(), &["config", "http.receivepack", "true"]);
    let server = GitHttp::start(repo.dir.path());
    let url = server.url("remote.git");
    // Baseline in the same run: one bump alone, no contention; the median
    // of three, so one cold start does not set the scale.
    let mut solos: Vec<Duration> = (0..3)
        .map(|n| {
            let started = Instant::now();
            land_alone(&repo, &url, 0, &format!("solo{n}"));
            started.elapsed()
        })
        .collect();
    solos.sort();
    let solo_time = solos[1];
    // The serialized limit, also in the same run: the 32 bumps one after
    // another, no contention at all; process i lands after the i + 1
    // runs before it and its own. No concurrent scheme on one branch can
    // beat it by much: every landing needs the previous one's commit.
    let serial_started = Instant::now();
    let mut serial_times: Vec<Duration> = (0..PROCESSES)
        .map(|i| {
            land_alone(&repo, &url, i, "serial");
            serial_started.elapsed()
        })
        .collect();
    serial_times.sort();
    let mut all_times = Vec::new();
    let mut all_attempts = Vec::new();
    for round in 1..=ROUNDS {
        let before = git(&repo.remote(), &["rev-list", "--count", "main"]);
        let tag = format!("r{round}");
        // One waiting thread per process, so each time-to-land is that
        // process's own (waiting in order would report the slowest so far).
        let round_started = Instant::now();
        let waiters: Vec<_> = (0..PROCESSES)
            .map(|i| {
                let output = repo.dir.path().join(format!("runner{i}/output.txt"));
                let child = spawn_run(&repo, &url, i, &tag);
                std::thread::spawn(move || {
                    let out = child.wait_with_output().expect("wait");
                    (i, round_started.elapsed(), output, out)
                })
            })
            .collect();
        for waiter in waiters {
            let (i, took, output, out) = waiter.join().expect("waiter");
            assert!(
                out.status.success(),
                "round {round}, process {i}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let outputs = std::fs::read_to_string(&output).unwrap_or_default();
            // `attempts=N`, or `attempts<<DELIMITER` with N on the next line.
            let mut lines = outputs.lines();
            let mut attempts = 0;
            while let Some(line) = lines.next() {
                if let Some(n) = line.strip_prefix("attempts=") {
                    attempts = n.parse().unwrap_or(0);
                } else if line.starts_with("attempts<<") {
                    attempts = lines.next().and_then(|n| n.parse().ok()).unwrap_or(0);
                }
            }
            all_attempts.push(attempts);
            all_times.push(took);
        }
        // No lost update: every file has this round's tag, one commit each.
        for i in 0..PROCESSES {
            let text = git(&repo.remote(), &["show", &format!("main:svc/{i}.yaml")]);
            assert_eq!(text, manifest(i, &tag).trim_end(), "round {round}, svc{i}");
        }
        let after = git(&repo.remote(), &["rev-list", "--count", "main"]);
        let landed =
            after.parse::<usize>().expect("count") - before.parse::<usize>().expect("count");
        assert_eq!(landed, PROCESSES, "round {round}: one commit per process");
    }
    git(&repo.remote(), &["fsck", "--strict"]);
    all_times.sort();
    all_attempts.sort();
    let max_attempts = all_attempts.last().copied().unwrap_or(0);
    let mean_attempts = all_attempts.iter().sum::<u32>() as f64 / all_attempts.len() as f64;
    let p50 = percentile(&all_times, 50.0);
    let serial_p50 = percentile(&serial_times, 50.0);
    println!(
        "| load: the same 32 bumps concurrently vs one after another (the serialized limit) | p50 {:.2} s, p95 {:.2} s to land | p50 {:.2} s, p95 {:.2} s | {:.1}x (p50) | one round of 32 in sequence, same remote, same run |",
        p50.as_secs_f64(),
        percentile(&all_times, 95.0).as_secs_f64(),
        serial_p50.as_secs_f64(),
        percentile(&serial_times, 95.0).as_secs_f64(),
        p50.as_secs_f64() / serial_p50.as_secs_f64(),
    );
    println!(
        "| load: {PROCESSES} concurrent runs x {ROUNDS} rounds, one branch over smart HTTP | p50 {:.2} s, p95 {:.2} s to land | {:.2} s (one run alone) | {:.1}x (p50) | all {} landed, no lost update; attempts mean {mean_attempts:.1}, max {max_attempts} |",
        p50.as_secs_f64(),
        percentile(&all_times, 95.0).as_secs_f64(),
        solo_time.as_secs_f64(),
        p50.as_secs_f64() / solo_time.as_secs_f64(),
        all_times.len(),
    );
}
