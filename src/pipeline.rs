//! Wires the stages: auth → verify → edit → write-back → outputs.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::config::{CommitVia, Config, Mode, TokenFormat};
use crate::edit::{self, EditReport, EditRequest};
use crate::error::Error;
use crate::git;
use crate::github_api::rest::Api;
use crate::guard;
use crate::outputs::{self, Outputs};
use crate::print::{self, Stream};
use crate::registry::{self, Credentials, RegistryOptions, Resolved};
use crate::run_env::RunEnv;
use crate::spec::{Field, ImageSpec};
use crate::workspace;
use crate::write_back::api;
use crate::write_back::{Tally, WriteBackError, WriteBackResult};

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting the async runtime", e))
}

/// Runs the whole pipeline for a validated config.
pub fn run(config: &Config, env: &RunEnv, workdir: &Path) -> Result<Outputs, Error> {
    let rt = runtime()?;
    let mut outputs = Outputs::default();

    let mut google_token = None;
    {
        // Always runs: the gates refuse untrusted events before any push,
        // with or without Google credentials.
        let shown = config.google.as_ref().map(|_| {
            crate::progress::stage("Authenticate to Google (Workload Identity Federation)")
        });
        let started = Instant::now();
        let stage = rt.block_on(crate::auth::run_stage(config, &env.auth()))?;
        outputs.project_id = stage.project_id.clone();
        if let (Some(google), Some(auth)) = (&config.google, stage.google) {
            if let Some(shown) = &shown {
                let done = match &stage.docker_config {
                    Some(_) => format!(
                        "obtained a Google access token; Docker logged in to {}",
                        google.docker_registries.join(", ")
                    ),
                    None => "obtained a Google access token".to_string(),
                };
                shown.done("auth", started, &done);
            }
            if google.token_format == TokenFormat::AccessToken {
                outputs.access_token = Some(auth.token.access_token.clone());
            }
            google_token = Some(auth.token.access_token);
        }
    }
    if config.auth_only() {
        // Nothing to verify or edit: later steps (docker push, gcloud) use
        // the credentials this step left.
        return Ok(outputs);
    }

    if let Some(reason) = guard::self_trigger_reason(env.trigger_commit()?.as_ref(), config) {
        guard::announce_skip(&reason);
        outputs.skipped_reason = Some(reason);
        return Ok(outputs);
    }

    let registry_options = RegistryOptions {
        credentials: Credentials {
            explicit: config.explicit_login(),
            github_token: config.token.clone(),
            google_access_token: google_token.clone(),
            docker_config: true,
        },
        insecure_registries: config.insecure_registries.clone(),
        wait: config.wait,
        request_timeout: std::time::Duration::from_secs(30),
    };
    let verifier = Verifier {
        config,
        rt: &rt,
        options: &registry_options,
    };
    let in_place = config.mode == Mode::None && config.repository.is_none();
    let mut paths: Vec<PathBuf> = config.paths.clone();
    if let Some((_, to)) = &config.promote {
        paths = vec![to.clone()];
    }
    let request = |specs: Vec<ImageSpec>| EditRequest {
        specs,
        values_paths: config.values_paths.clone(),
        image_kinds: config.image_kinds.clone(),
        allow_no_match: config.allow_no_match,
        max_file_size: edit::DEFAULT_MAX_FILE_SIZE,
    };
    let mut specs: Vec<ImageSpec>;
    let report: EditReport;
    if in_place {
        specs = match &config.promote {
            Some(promote) => read_promotion(config, workdir, promote, Show::Stage)?,
            None => config.images.clone(),
        };
        (specs, outputs.registry) = verifier.verify(specs, false)?;
        let stage = crate::progress::stage("Edit manifests");
        let started = Instant::now();
        report = workspace::apply(workdir, &paths, &request(specs.clone()), !config.dry_run)?;
        stage.done(
            "edit",
            started,
            &format!("{} change(s)", report.changes.len()),
        );
    } else {
        if config.promote.is_none() {
            (specs, outputs.registry) = verifier.verify(config.images.clone(), false)?;
        } else {
            specs = Vec::new();
        }
        let stage = crate::progress::stage("Edit, commit and push");
        let started = Instant::now();
        let result = match &config.promote {
            // The images to promote are read on the tip being edited, in the
            // repository written: verified on the first, and refused on a
            // later one that sets others (never written unverified).
            Some(promote) => {
                let mut first: Option<Promotion> = None;
                let result = {
                    let mut edit_fn = |root: &Path| {
                        let show = match first {
                            None => Show::Inner,
                            Some(_) => Show::Quiet,
                        };
                        let read = read_promotion(config, root, promote, show)
                            .map_err(|e| WriteBackError::Promote(Box::new(e)))?;
                        let verified = match &first {
                            Some(p) if p.read == read => p.specs.clone(),
                            Some(_) => {
                                return Err(WriteBackError::PromoteSourceChanged {
                                    from: promote.0.display().to_string(),
                                });
                            }
                            None => {
                                let (verified, registry) = verifier
                                    .verify(read.clone(), true)
                                    .map_err(|e| WriteBackError::Promote(Box::new(e)))?;
                                first = Some(Promotion {
                                    read,
                                    specs: verified.clone(),
                                    registry,
                                });
                                verified
                            }
                        };
                        Ok(workspace::apply(root, &paths, &request(verified), true)?)
                    };
                    write_back_stage(config, env, workdir, &mut edit_fn)?
                };
                if let Some(p) = first {
                    specs = p.specs;
                    outputs.registry = p.registry;
                }
                result
            }
            None => {
                let request = request(specs.clone());
                let mut edit_fn = |root: &Path| Ok(workspace::apply(root, &paths, &request, true)?);
                write_back_stage(config, env, workdir, &mut edit_fn)?
            }
        };
        stage.done(
            "write-back",
            started,
            &match (&result.commit_sha, &result.skipped_reason) {
                (_, Some(reason)) => format!("skipped: {reason}"),
                (Some(sha), None) => format!("commit {sha} after {} attempt(s)", result.attempts),
                (None, None) => "nothing to commit".to_string(),
            },
        );
        if let Some(reason) = &result.skipped_reason {
            guard::announce_skip(reason);
        }
        outputs.skipped_reason = result.skipped_reason;
        outputs.commit_sha = result.commit_sha;
        outputs.repository = result.repository;
        outputs.attempts = result.attempts;
        outputs.pull_request_url = result.pull_request_url;
        outputs.pull_request_number = result.pull_request_number;
        report = result.report;
    }
    workspace::print_warnings(&report.warnings);
    outputs::show_changes(&report.changes);
    outputs.record_edit(&specs, report);
    Ok(outputs)
}

/// Commits and pushes the edit through the one write-back loop, over git
/// (default) or the GitHub API (`commit-via: api`). On failure the attempts
/// made are still written as the `attempts` output.
fn write_back_stage(
    config: &Config,
    env: &RunEnv,
    workdir: &Path,
    edit_fn: &mut crate::write_back::Edit<'_>,
) -> Result<WriteBackResult, Error> {
    let options = git::WriteBackOptions::new(workdir, env.github.clone());
    let mut tally = Tally::default();
    let result = match config.commit_via {
        CommitVia::Api => api::write_back_for_config(
            config,
            &Api::new(&env.github.api_url),
            &options,
            edit_fn,
            &mut tally,
        ),
        CommitVia::Git => git::write_back_counted(config, &options, edit_fn, &mut tally),
    };
    if result.is_err() {
        outputs::emit_failed(tally.attempts)?;
    }
    Ok(result?)
}

/// The SPECs that set, elsewhere, exactly the images deployed in `from`
/// (`name=newName:tag@digest`). `images`, when given, selects which images to
/// promote; a tag there (`app:v1.2.3`) retags while keeping the digest, which
/// is how a release version is promoted without rebuilding.
pub fn promotion_specs(
    config: &Config,
    workdir: &Path,
    from: &Path,
) -> Result<Vec<ImageSpec>, Error> {
    let promote_err = |why: String| Error::Promote {
        from: from.display().to_string(),
        why,
    };
    let deployed = workspace::read_images(workdir, std::slice::from_ref(&from.to_path_buf()))?;
    let mut specs: Vec<ImageSpec> = Vec::new();
    for d in &deployed {
        let spec = ImageSpec::parse(&d.spec())
            .map_err(|e| promote_err(format!("{}:{}: {e}", d.file, d.line)))?;
        if specs.iter().any(|s| s.matcher == spec.matcher) {
            continue;
        }
        let filter = config.images.iter().find(|f| f.matcher == spec.matcher);
        if !config.images.is_empty() && filter.is_none() {
            continue;
        }
        let mut spec = spec;
        let retag = filter
            .and_then(|f| f.tag.clone())
            .or_else(|| config.promote_tag.clone().map(Field::Set));
        if let Some(tag) = retag {
            spec.tag = Some(tag);
        }
        if spec.digest.is_none() {
            print::line(
                Stream::Stderr,
                &format!(
                    "warning: {} in {}:{} has no digest; promoting the tag only",
                    print::value(&spec.raw),
                    d.file,
                    d.line
                ),
            );
        }
        spec.raw = spec.render();
        specs.push(spec);
    }
    if specs.is_empty() {
        let wanted: Vec<&str> = config.images.iter().map(|s| s.name.as_str()).collect();
        return Err(promote_err(if wanted.is_empty() {
            "no image references found there".into()
        } else {
            format!("none of {} is set there", wanted.join(", "))
        }));
    }
    for wanted in &config.images {
        if !specs.iter().any(|s| s.matcher == wanted.matcher) {
            return Err(promote_err(format!("{} is not set there", wanted.name)));
        }
    }
    Ok(specs)
}

/// The images to promote as read on one tip, and as verified there.
struct Promotion {
    read: Vec<ImageSpec>,
    specs: Vec<ImageSpec>,
    registry: Vec<Resolved>,
}

/// How a read of the images to promote shows itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Show {
    /// A stage of its own.
    Stage,
    /// Inside the write-back stage: the result lines only.
    Inner,
    /// Not at all (a later tip, compared with the first).
    Quiet,
}

/// Reads the images deployed in `promote-from` under `root`.
fn read_promotion(
    config: &Config,
    root: &Path,
    (from, to): &(PathBuf, PathBuf),
    show: Show,
) -> Result<Vec<ImageSpec>, Error> {
    let stage = match show {
        Show::Quiet => return promotion_specs(config, root, from),
        Show::Inner => crate::progress::inner_stage(),
        Show::Stage => crate::progress::stage("Read the images to promote"),
    };
    let started = Instant::now();
    let specs = promotion_specs(config, root, from)?;
    stage.done(
        "promote",
        started,
        &format!("{} image(s) deployed in {}", specs.len(), from.display()),
    );
    for s in &specs {
        print::line(
            Stream::Stderr,
            &format!(
                "  promote {} from {} to {}",
                print::value(&s.raw),
                from.display(),
                to.display()
            ),
        );
    }
    Ok(specs)
}

/// The verify stage: what is needed to look the images up.
struct Verifier<'a> {
    config: &'a Config,
    rt: &'a tokio::runtime::Runtime,
    options: &'a RegistryOptions,
}

impl Verifier<'_> {
    /// Looks `specs` up in their registries (when `verify` is on) and returns
    /// them as they are to be written (digests pinned, promoted tags
    /// settled), with what the registries said. `inner`: run inside another
    /// stage.
    fn verify(
        &self,
        specs: Vec<ImageSpec>,
        inner: bool,
    ) -> Result<(Vec<ImageSpec>, Vec<Resolved>), Error> {
        let config = self.config;
        if !config.verify || specs.is_empty() {
            return Ok((specs, Vec::new()));
        }
        let title = "Verify images in their registries";
        let stage = if inner {
            crate::progress::inner_stage()
        } else {
            crate::progress::stage(title)
        };
        let started = Instant::now();
        let references = specs
            .iter()
            .map(ImageSpec::target_reference)
            .collect::<Result<Vec<_>, _>>()?;
        let resolved = self.rt.block_on(registry::resolve_all(
            self.options,
            &references,
            &config.platforms,
            config.expected_digest.as_ref(),
        ))?;
        check_resolved(&resolved)?;
        // A promoted tag must name the promoted build in the registry: the
        // digest alone was looked up above.
        let tags = match &config.promote {
            Some(_) => self.rt.block_on(check_promoted_tags(
                self.options,
                &references,
                &config.platforms,
            ))?,
            None => vec![TagCheck::NotChecked; references.len()],
        };
        for ((r, check), reference) in resolved.iter().zip(&tags).zip(&references) {
            let tag = r.tag.as_ref().map(|t| format!(":{t}")).unwrap_or_default();
            // Say what was looked up: a tag next to a digest is not checked
            // unless it was.
            let note = match check {
                TagCheck::Same => " (the tag resolves to it too)".to_string(),
                TagCheck::Other(other) => format!(" (the tag is {} there)", print::value(other)),
                TagCheck::NotChecked if reference.tag.is_some() && reference.digest.is_some() => {
                    " (looked up by digest; the tag was not checked)".to_string()
                }
                TagCheck::NotChecked => String::new(),
            };
            print::line(
                Stream::Stderr,
                &format!(
                    "  {}/{}{tag} -> {}{note}",
                    r.registry,
                    r.repository,
                    print::value(&r.digest)
                ),
            );
        }
        stage.done(
            "verify",
            started,
            &format!("{} image(s) found", resolved.len()),
        );
        let specs = settle_promoted_tags(config, specs, &references, &tags)?;
        let specs = pin_digests(&specs, &resolved)?;
        Ok((specs, resolved))
    }
}

/// What the registry says a promoted tag points at.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TagCheck {
    NotChecked,
    /// The tag resolves to the promoted digest.
    Same,
    /// The tag resolves to this other digest.
    Other(String),
}

/// Resolves the tag of each reference that has both a tag and a digest
/// (the promoted ones), by the tag alone.
async fn check_promoted_tags(
    options: &RegistryOptions,
    references: &[crate::reference::Reference],
    platforms: &[String],
) -> Result<Vec<TagCheck>, Error> {
    let mut checks = vec![TagCheck::NotChecked; references.len()];
    let (at, by_tag): (Vec<usize>, Vec<_>) = references
        .iter()
        .enumerate()
        .filter(|(_, r)| r.tag.is_some() && r.digest.is_some())
        .map(|(i, r)| {
            let mut r = r.clone();
            r.digest = None;
            (i, r)
        })
        .unzip();
    if by_tag.is_empty() {
        return Ok(checks);
    }
    let found = registry::resolve_all(options, &by_tag, platforms, None).await?;
    check_resolved(&found)?;
    for (i, f) in at.into_iter().zip(found) {
        let promoted = references[i]
            .digest
            .as_ref()
            .map(|d| d.as_str().to_string());
        checks[i] = if promoted.as_deref() == Some(f.digest.as_str()) {
            TagCheck::Same
        } else {
            TagCheck::Other(f.digest)
        };
    }
    Ok(checks)
}

/// A promoted tag that names another build fails the run, or with
/// `promote-digest-only` is dropped so the digest is written alone.
fn settle_promoted_tags(
    config: &Config,
    mut specs: Vec<ImageSpec>,
    references: &[crate::reference::Reference],
    checks: &[TagCheck],
) -> Result<Vec<ImageSpec>, Error> {
    for ((spec, reference), check) in specs.iter_mut().zip(references).zip(checks) {
        let TagCheck::Other(other) = check else {
            continue;
        };
        let tag = reference.tag.clone().unwrap_or_default();
        let digest = reference
            .digest
            .as_ref()
            .map(|d| d.as_str().to_string())
            .unwrap_or_default();
        let mut named = reference.clone();
        named.tag = None;
        named.digest = None;
        if !config.promote_digest_only {
            return Err(Error::PromotedTag {
                image: named.to_string(),
                tag,
                promoted: digest,
                tagged: other.clone(),
            });
        }
        print::line(
            Stream::Stderr,
            &format!(
                "warning: {named}:{tag} is {other} in the registry, not the promoted {digest}: writing {named}@{digest} without a tag (promote-digest-only)"
            ),
        );
        spec.tag = None;
        spec.raw = spec.render();
    }
    Ok(specs)
}

/// Refuses a registry's answer that is not what it claims to be, before
/// anything is edited: the digest and the platforms become step outputs
/// and summary cells.
fn check_resolved(resolved: &[Resolved]) -> Result<(), Error> {
    for r in resolved {
        let refuse = |what, value: &str, why: String| Error::Answer {
            from: format!("registry {}", r.registry),
            what,
            value: print::cut(value, print::MAX_VALUE).into_owned(),
            why,
        };
        crate::reference::Digest::parse(&r.digest)
            .map_err(|e| refuse("digest", &r.digest, e.to_string()))?;
        if let Some(p) = r.platforms.iter().find(|p| !is_platform(p)) {
            return Err(refuse(
                "platform",
                p,
                "expected os/arch[/variant] of letters, digits, `.`, `_` and `-`".into(),
            ));
        }
    }
    Ok(())
}

/// `os/arch[/variant]`, as an image index lists them.
fn is_platform(p: &str) -> bool {
    let parts: Vec<&str> = p.split('/').collect();
    (2..=3).contains(&parts.len())
        && parts.iter().all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        })
}

/// After verification, a SPEC that gave a tag also pins the digest the
/// registry resolved, unless the user said to keep the existing digest.
fn pin_digests(specs: &[ImageSpec], resolved: &[Resolved]) -> Result<Vec<ImageSpec>, Error> {
    specs
        .iter()
        .zip(resolved)
        .map(|(spec, r)| {
            let mut s = spec.clone();
            if s.digest.is_none() {
                s.digest = Some(Field::Set(crate::reference::Digest::parse(&r.digest)?));
            }
            Ok(s)
        })
        .collect()
}
