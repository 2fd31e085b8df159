//! One run, as a straight line: inputs → auth → verify → edit → write-back
//! → outputs. Each stage takes its own section of the config and the run's
//! environment; [`progress::stage`] shows each one the same way.

use std::path::Path;

use crate::auth::{self, AuthStage};
use crate::config::{CommitVia, Config};
use crate::edit::EditReport;
use crate::error::Error;
use crate::github_api::rest::Api;
use crate::guard;
use crate::outputs::{self, Outputs};
use crate::progress::{self, Show};
use crate::promote;
use crate::registry::Resolved;
use crate::run_env::RunEnv;
use crate::spec::ImageSpec;
use crate::verify::Verifier;
use crate::workspace;
use crate::write_back::git;
use crate::write_back::{Tally, WriteBackError, WriteBackResult, WriteBackSite, api};

/// Runs the whole pipeline for a validated config.
pub fn run(config: &Config, env: &RunEnv, workdir: &Path) -> Result<Outputs, Error> {
    // The binary did this already; a caller of the library may not have.
    // The config's secrets, made before, are masked now.
    crate::secret::mask_with(crate::actions::mask);
    let rt = runtime()?;
    let auth = authenticate(rt, config, env)?;
    let mut outputs = Outputs {
        project_id: auth.project_id,
        ..Outputs::default()
    };
    let google_token = auth.google.map(|g| g.token.access_token);
    if config.outputs.access_token {
        outputs.access_token = google_token.clone();
    }
    if config.auth_only() {
        // Nothing to verify or edit: later steps (docker push, gcloud) use
        // the credentials this step left.
        return Ok(outputs);
    }
    let trigger = env.trigger_commit()?;
    let guards = &config.guards;
    if let Some(reason) = guard::self_trigger_reason(
        trigger.as_ref(),
        &guards.author_name,
        &guards.author_email,
        &guards.paths,
    ) {
        outputs::announce_skip(&reason);
        outputs.skipped_reason = Some(reason);
        return Ok(outputs);
    }
    let verifier = Verifier {
        options: &config.verify,
        registry: config.verify.registry_options(google_token),
        rt,
    };
    let (specs, report) = if config.write_back.commits() {
        let (specs, registry, result) = write_back(config, env, workdir, &verifier)?;
        outputs.registry = registry;
        (specs, outputs.record_write_back(result))
    } else {
        let (specs, registry, report) = edit_in_place(config, workdir, &verifier)?;
        outputs.registry = registry;
        (specs, report)
    };
    workspace::print_warnings(&report.warnings);
    outputs::show_changes(&report.changes);
    outputs.record_edit(&specs, report);
    Ok(outputs)
}

/// The process's one runtime ([`crate::http::runtime`]).
fn runtime() -> Result<&'static tokio::runtime::Runtime, Error> {
    crate::http::runtime().map_err(|e| Error::io("starting the async runtime", e))
}

/// Always runs: the gates refuse untrusted events before any push, with or
/// without Google credentials; it is shown as a stage only with Google.
fn authenticate(
    rt: &tokio::runtime::Runtime,
    config: &Config,
    env: &RunEnv,
) -> Result<AuthStage, Error> {
    let google = config.auth.google.as_ref();
    let show = if google.is_some() {
        Show::Stage
    } else {
        Show::Quiet
    };
    let stage = progress::stage(
        show,
        "auth",
        "Authenticate to Google (Workload Identity Federation)",
        || rt.block_on(auth::run_stage(&config.auth, &env.auth())),
        |stage| match (&stage.docker_config, google) {
            (Some(_), Some(google)) => format!(
                "obtained a Google access token; Docker logged in to {}",
                google.docker_registries.join(", ")
            ),
            _ => "obtained a Google access token".to_string(),
        },
    )?;
    Ok(stage)
}

/// `mode: none` in the checkout: verify, then edit the work tree and leave
/// the change there.
fn edit_in_place(
    config: &Config,
    workdir: &Path,
    verifier: &Verifier,
) -> Result<(Vec<ImageSpec>, Vec<Resolved>, EditReport), Error> {
    let specs = match &config.edit.promote {
        Some(_) => promote::read(&config.edit, workdir, Show::Stage)?,
        None => config.edit.images.clone(),
    };
    let (specs, registry) = verifier.verify(specs, Show::Stage)?;
    let request = config.edit.request(specs.clone());
    let paths = config.edit.written_paths();
    let write = !config.write_back.dry_run;
    let report = progress::stage(
        Show::Stage,
        "edit",
        "Edit manifests",
        || Ok::<_, Error>(workspace::apply(workdir, &paths, &request, write)?),
        |report| format!("{} change(s)", report.changes.len()),
    )?;
    Ok((specs, registry, report))
}

/// The images to promote as read on one tip, and as verified there.
struct Promotion {
    read: Vec<ImageSpec>,
    specs: Vec<ImageSpec>,
    registry: Vec<Resolved>,
}

/// Verify, then edit, commit and push through the write-back loop. The
/// images to promote are read on the tip being edited, in the repository
/// written: verified on the first, and refused on a later one that sets
/// others (never written unverified).
fn write_back(
    config: &Config,
    env: &RunEnv,
    workdir: &Path,
    verifier: &Verifier,
) -> Result<(Vec<ImageSpec>, Vec<Resolved>, WriteBackResult), Error> {
    let edit = &config.edit;
    let paths = edit.written_paths();
    let (mut specs, mut registry) = match &edit.promote {
        None => verifier.verify(edit.images.clone(), Show::Stage)?,
        Some(_) => (Vec::new(), Vec::new()),
    };
    let mut first: Option<Promotion> = None;
    let result = progress::stage(
        Show::Stage,
        "write-back",
        "Edit, commit and push",
        || match &edit.promote {
            Some((from, _)) => {
                let mut promoted = |root: &Path| {
                    let promote_err = |e: Error| WriteBackError::Promote(Box::new(e));
                    let show = if first.is_none() {
                        Show::Inner
                    } else {
                        Show::Quiet
                    };
                    let read = promote::read(edit, root, show).map_err(promote_err)?;
                    let verified = match &first {
                        Some(p) if p.read == read => p.specs.clone(),
                        Some(_) => {
                            return Err(WriteBackError::PromoteSourceChanged {
                                from: from.display().to_string(),
                            });
                        }
                        None => {
                            let (verified, registry) = verifier
                                .verify(read.clone(), Show::Inner)
                                .map_err(promote_err)?;
                            first = Some(Promotion {
                                read,
                                specs: verified.clone(),
                                registry,
                            });
                            verified
                        }
                    };
                    Ok(workspace::apply(
                        root,
                        &paths,
                        &edit.request(verified),
                        true,
                    )?)
                };
                write_back_stage(config, env, workdir, &mut promoted)
            }
            None => {
                let request = edit.request(specs.clone());
                let mut bump = |root: &Path| Ok(workspace::apply(root, &paths, &request, true)?);
                write_back_stage(config, env, workdir, &mut bump)
            }
        },
        |result| match (&result.commit_sha, &result.skipped_reason) {
            (_, Some(reason)) => format!("skipped: {reason}"),
            (Some(sha), None) => format!("commit {sha} after {} attempt(s)", result.attempts),
            (None, None) => "nothing to commit".to_string(),
        },
    )?;
    if let Some(reason) = &result.skipped_reason {
        outputs::announce_skip(reason);
    }
    if let Some(p) = first {
        specs = p.specs;
        registry = p.registry;
    }
    Ok((specs, registry, result))
}

/// Commits and pushes the edit through the one write-back loop, over git
/// (default) or the GitHub API (`commit-via: api`). On failure the attempts
/// made are still written as the `attempts` output.
fn write_back_stage(
    config: &Config,
    env: &RunEnv,
    workdir: &Path,
    edit: &mut crate::write_back::Edit<'_>,
) -> Result<WriteBackResult, Error> {
    let options = &config.write_back;
    let site = WriteBackSite::new(workdir, env.github.clone());
    let mut tally = Tally::default();
    let result = match options.commit_via {
        CommitVia::Api => {
            let api = Api::new(&env.github.api_url);
            api::write_back_for_config(options, &api, &site, edit, &mut tally)
        }
        CommitVia::Git => git::write_back_counted(options, &site, edit, &mut tally),
    };
    if result.is_err() {
        outputs::emit_failed(tally.attempts)?;
    }
    Ok(result?)
}
