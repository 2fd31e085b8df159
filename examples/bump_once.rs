//! Benchmark driver for `benches/push.sh`: one write-back of one image tag
//! in one file, through the real git write-back. Until the edit engine
//! lands, the edit is a minimal line rewrite (`image: NAME:TAG`).
//!
//! usage: GITOPS_BUMP_TOKEN=… bump_once REPOSITORY FILE IMAGE TAG [MAX_ATTEMPTS]
//! prints `attempts=N commit=SHA` on success.

use std::path::Path;
use std::process::ExitCode;

use gitops_bump::config::{Config, RawInputs};
use gitops_bump::edit::{Change, EditError, EditReport, TargetKind};
use gitops_bump::git::{WriteBackOptions, write_back_with};

fn rewrite(root: &Path, file: &str, image: &str, tag: &str) -> Result<EditReport, EditError> {
    let mut report = EditReport::default();
    let Ok(text) = std::fs::read_to_string(root.join(file)) else {
        return Ok(report);
    };
    let prefix = format!("image: {image}:");
    let mut out = String::with_capacity(text.len());
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let trimmed = line.trim_start();
        match trimmed.trim_end().strip_prefix(&prefix) {
            Some(old) if old != tag => {
                let indent = &line[..line.len() - trimmed.len()];
                out.push_str(&format!("{indent}image: {image}:{tag}\n"));
                report.changes.push(Change {
                    file: file.to_string(),
                    line: n + 1,
                    column: indent.len() + 8,
                    kind: TargetKind::Workload,
                    image: image.to_string(),
                    old: format!("{image}:{old}"),
                    new: format!("{image}:{tag}"),
                    old_tag: Some(old.to_string()),
                    old_digest: None,
                    new_name: None,
                    new_tag: Some(tag.to_string()),
                    new_digest: None,
                });
            }
            _ => out.push_str(line),
        }
    }
    if !report.changes.is_empty() {
        if let Err(e) = std::fs::write(root.join(file), out) {
            eprintln!("writing {file}: {e}");
            return Ok(EditReport::default());
        }
        report.files.push(file.to_string());
    }
    Ok(report)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [repository, file, image, tag, rest @ ..] = args.as_slice() else {
        eprintln!("usage: bump_once REPOSITORY FILE IMAGE TAG [MAX_ATTEMPTS]");
        return ExitCode::from(2);
    };
    let mut raw = RawInputs::default();
    raw.set("images", format!("{image}:{tag}"));
    raw.set("repository", repository.clone());
    raw.set("verify", "false".into());
    raw.set(
        "max-attempts",
        rest.first().cloned().unwrap_or_else(|| "10".into()),
    );
    if let Ok(token) = std::env::var("GITOPS_BUMP_TOKEN") {
        raw.set("token", token);
    }
    let config = match Config::from_raw(&raw) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let options = WriteBackOptions::from_env(Path::new("."));
    let mut edit = |root: &Path| rewrite(root, file, image, tag);
    match write_back_with(&config, &options, &mut edit) {
        Ok(result) => {
            println!(
                "attempts={} commit={}",
                result.attempts,
                result.commit_sha.unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            if let Some(h) = e.hint() {
                eprintln!("hint: {h}");
            }
            ExitCode::FAILURE
        }
    }
}
