//! The edit section: which images are set, in which paths, and how they
//! are found; or, for a promotion, where the images are read and written.

use std::path::PathBuf;

use super::{ConfigError, RawInputs};
use crate::edit::EditRequest;
use crate::spec::ImageSpec;

/// What the edit stage is asked to do.
#[derive(Debug, Clone)]
pub struct EditOptions {
    pub images: Vec<ImageSpec>,
    pub paths: Vec<PathBuf>,
    pub values_paths: Vec<String>,
    /// Kinds whose `image:` fields anywhere under `spec` are edited.
    pub image_kinds: Vec<String>,
    pub allow_no_match: bool,
    /// `promote-from` and `promote-to`.
    pub promote: Option<(PathBuf, PathBuf)>,
    /// `gitops-bump promote --tag`: retag every promoted image (same digest).
    /// Not an action input: in workflows, write `images: NAME:TAG`.
    pub promote_tag: Option<String>,
}

impl EditOptions {
    /// With `require_images`, a run needs `images`, a promotion, or (to
    /// only authenticate) a provider.
    pub(super) fn from_raw(raw: &RawInputs, require_images: bool) -> Result<Self, ConfigError> {
        let mut images = Vec::new();
        for (n, line) in raw.get("images").lines().enumerate() {
            let line = line
                .split_once('#')
                .map_or(line, |(before, _)| before)
                .trim();
            if line.is_empty() {
                continue;
            }
            images.push(ImageSpec::parse(line).map_err(|source| ConfigError::Spec {
                line: n + 1,
                source,
            })?);
        }
        let promote = match (raw.optional("promote-from"), raw.optional("promote-to")) {
            (Some(f), Some(t)) => Some((PathBuf::from(f), PathBuf::from(t))),
            (None, None) => None,
            (Some(_), None) => {
                return Err(ConfigError::Conflict {
                    a: "promote-from",
                    b: "promote-to",
                    why: "promotion needs both a source and a target path",
                });
            }
            (None, Some(_)) => {
                return Err(ConfigError::Conflict {
                    a: "promote-to",
                    b: "promote-from",
                    why: "promotion needs both a source and a target path",
                });
            }
        };
        // With a provider and no images the run only authenticates (a build
        // job logging in before `docker push`).
        if require_images
            && images.is_empty()
            && promote.is_none()
            && raw.optional("workload-identity-provider").is_none()
        {
            return Err(ConfigError::Missing {
                input: "images",
                why: "give at least one image SPEC (e.g. `ghcr.io/org/app:${{ github.sha }}`), or promote-from/promote-to; or, to only authenticate, workload-identity-provider",
            });
        }
        Ok(EditOptions {
            images,
            paths: raw.list("paths").into_iter().map(PathBuf::from).collect(),
            values_paths: raw.list("values-paths"),
            image_kinds: raw.list("image-kinds"),
            allow_no_match: raw.boolean("allow-no-match")?,
            promote,
            promote_tag: None,
        })
    }

    /// Retags every promoted image (`gitops-bump promote --tag`), once the
    /// tag is known to be one a reference can carry.
    pub fn retag_promoted(&mut self, tag: String) -> Result<(), crate::reference::ReferenceError> {
        crate::reference::Reference::parse(&format!("x:{tag}"))?;
        self.promote_tag = Some(tag);
        Ok(())
    }

    /// The paths edited: `promote-to` for a promotion, else `paths`.
    pub(crate) fn written_paths(&self) -> Vec<PathBuf> {
        match &self.promote {
            Some((_, to)) => vec![to.clone()],
            None => self.paths.clone(),
        }
    }

    /// The request the edit engine runs for `specs`.
    pub(crate) fn request(&self, specs: Vec<ImageSpec>) -> EditRequest {
        EditRequest {
            specs,
            values_paths: self.values_paths.clone(),
            image_kinds: self.image_kinds.clone(),
            allow_no_match: self.allow_no_match,
            max_file_size: crate::edit::DEFAULT_MAX_FILE_SIZE,
        }
    }
}
