//! Promotion: the images deployed in one path (`promote-from`) become the
//! SPECs that set exactly them in another (`promote-to`).

use std::path::Path;

use crate::config::EditOptions;
use crate::error::Error;
use crate::print::{self, Stream};
use crate::progress::{self, Show};
use crate::spec::{Field, ImageSpec};
use crate::workspace;

/// The SPECs that set, elsewhere, exactly the images deployed in `from`
/// (`name=newName:tag@digest`). `images`, when given, selects which images to
/// promote; a tag there (`app:v1.2.3`) retags while keeping the digest, which
/// is how a release version is promoted without rebuilding. An image
/// without a digest is promoted by its tag, with a warning.
pub(crate) fn promotion_specs(
    edit: &EditOptions,
    workdir: &Path,
    from: &Path,
) -> Result<Vec<ImageSpec>, Error> {
    let (specs, warnings) = read_promotion_specs(edit, workdir, from)?;
    for warning in warnings {
        print::line(Stream::Stderr, &warning);
    }
    Ok(specs)
}

/// [`promotion_specs`] with its warnings returned, not printed: a retry
/// reads `from` again on the new tip and must not repeat them.
fn read_promotion_specs(
    edit: &EditOptions,
    workdir: &Path,
    from: &Path,
) -> Result<(Vec<ImageSpec>, Vec<String>), Error> {
    let promote_err = |why: String| Error::Promote {
        from: from.display().to_string(),
        why,
    };
    let deployed = workspace::read_images(workdir, std::slice::from_ref(&from.to_path_buf()))?;
    let mut specs: Vec<ImageSpec> = Vec::new();
    let mut warnings = Vec::new();
    for d in &deployed {
        let mut spec = ImageSpec::from_parts(
            &d.name,
            d.new_name.as_deref(),
            d.tag.as_deref(),
            d.digest.as_deref(),
        )
        .map_err(|e| promote_err(format!("{}:{}: {e}", d.file, d.line)))?;
        if specs.iter().any(|s| s.matcher == spec.matcher) {
            continue;
        }
        let filter = edit.images.iter().find(|f| f.matcher == spec.matcher);
        if !edit.images.is_empty() && filter.is_none() {
            continue;
        }
        let retag = filter
            .and_then(|f| f.tag.clone())
            .or_else(|| edit.promote_tag.clone().map(Field::Set));
        if let Some(tag) = retag {
            spec.tag = Some(tag);
        }
        if spec.digest.is_none() {
            warnings.push(format!(
                "warning: {} in {}:{} has no digest; promoting the tag only",
                print::value(&spec.raw),
                d.file,
                d.line
            ));
        }
        spec.raw = spec.render();
        specs.push(spec);
    }
    if specs.is_empty() {
        let wanted: Vec<&str> = edit.images.iter().map(|s| s.name.as_str()).collect();
        return Err(promote_err(if wanted.is_empty() {
            "no image references found there".into()
        } else {
            format!("none of {} is set there", wanted.join(", "))
        }));
    }
    for wanted in &edit.images {
        if !specs.iter().any(|s| s.matcher == wanted.matcher) {
            return Err(promote_err(format!("{} is not set there", wanted.name)));
        }
    }
    Ok((specs, warnings))
}

/// Reads the images deployed in `promote-from` under `root`, as the stage
/// `promote` shown as `show`. Nothing to read without a promotion.
pub(crate) fn read(edit: &EditOptions, root: &Path, show: Show) -> Result<Vec<ImageSpec>, Error> {
    let Some((from, to)) = &edit.promote else {
        return Ok(Vec::new());
    };
    // Read again after a lost race (`Show::Quiet`): said once, on the first tip.
    if show == Show::Quiet {
        return Ok(read_promotion_specs(edit, root, from)?.0);
    }
    let specs = progress::stage(
        show,
        "promote",
        "Read the images to promote",
        || promotion_specs(edit, root, from),
        |specs| format!("{} image(s) deployed in {}", specs.len(), from.display()),
    )?;
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
