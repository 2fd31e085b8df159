//! The verify stage: the images are looked up in their registries before
//! anything is edited, and come back as they are to be written (digests
//! pinned, promoted tags settled).

use crate::config::VerifyOptions;
use crate::error::Error;
use crate::print::{self, Stream};
use crate::progress::{self, Show};
use crate::reference::{Digest, Reference};
use crate::registry::{self, RegistryOptions, Resolved};
use crate::spec::{Field, ImageSpec};

/// What is needed to look the images up.
pub(crate) struct Verifier<'a> {
    pub options: &'a VerifyOptions,
    pub registry: RegistryOptions,
    pub rt: &'a tokio::runtime::Runtime,
}

impl Verifier<'_> {
    /// Looks `specs` up in their registries (when `verify` is on) and returns
    /// them as they are to be written, with what the registries said.
    pub(crate) fn verify(
        &self,
        specs: Vec<ImageSpec>,
        show: Show,
    ) -> Result<(Vec<ImageSpec>, Vec<Resolved>), Error> {
        if !self.options.verify || specs.is_empty() {
            return Ok((specs, Vec::new()));
        }
        progress::stage(
            show,
            "verify",
            "Verify images in their registries",
            || self.look_up(specs),
            |(_, resolved)| format!("{} image(s) found", resolved.len()),
        )
    }

    fn look_up(&self, specs: Vec<ImageSpec>) -> Result<(Vec<ImageSpec>, Vec<Resolved>), Error> {
        let options = self.options;
        let references = specs
            .iter()
            .map(ImageSpec::target_reference)
            .collect::<Result<Vec<_>, _>>()?;
        let resolved = self.rt.block_on(registry::resolve_all(
            &self.registry,
            &references,
            &options.platforms,
            options.expected_digest.as_ref(),
        ))?;
        check_resolved(&resolved)?;
        // A promoted tag must name the promoted build in the registry: the
        // digest alone was looked up above.
        let tags = match options.promoting {
            true => self.rt.block_on(check_promoted_tags(
                &self.registry,
                &references,
                &options.platforms,
            ))?,
            false => vec![TagCheck::NotChecked; references.len()],
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
        let specs = settle_promoted_tags(options, specs, &references, &tags)?;
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
    references: &[Reference],
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
    config: &VerifyOptions,
    mut specs: Vec<ImageSpec>,
    references: &[Reference],
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
        Digest::parse(&r.digest).map_err(|e| refuse("digest", &r.digest, e.to_string()))?;
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
                s.digest = Some(Field::Set(Digest::parse(&r.digest)?));
            }
            Ok(s)
        })
        .collect()
}
