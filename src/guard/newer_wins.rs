//! The newer-wins decision: whether replacing a deployed image value with
//! this run's moves forward. Pure: it gets the values, this run and the run
//! that wrote the deployed value as plain values; reading that run from
//! history is the transport's job ([`crate::write_back::Transport::last_bumped_run`]).

use std::cmp::Ordering;

use super::RunId;
use super::semver::compare_semver_tags;
use crate::edit::Change;

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

#[cfg(test)]
mod tests {
    use super::*;

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

    /// `stale_reason` over an edit, without a repository: the history is a
    /// closure that records what it was asked.
    #[test]
    fn stale_reasons_ask_history_only_when_tags_cannot_decide() {
        let change = |image: &str, file: &str, old: &str, new: &str| Change {
            file: file.into(),
            line: 1,
            column: 1,
            kind: crate::edit::TargetKind::Workload,
            image: image.into(),
            old: format!("{image}:{old}"),
            new: format!("{image}:{new}"),
            old_tag: Some(old.into()),
            old_digest: None,
            new_name: None,
            new_tag: Some(new.into()),
            new_digest: None,
        };
        let run = |s| RunId::parse(s);
        struct Case {
            name: &'static str,
            changes: Vec<Change>,
            this_run: Option<RunId>,
            /// The run that last bumped each (file, image), as history has it.
            history: &'static [(&'static str, &'static str, &'static str)],
            /// (file, image) pairs history is asked about, in order.
            asked: &'static [(&'static str, &'static str)],
            /// The skip reason names this value, when the run is stale.
            skip: Option<&'static str>,
        }
        let cases = [
            Case {
                name: "semantic versions decide without history",
                changes: vec![change("app", "a.yaml", "v1.3.0", "v1.2.0")],
                this_run: run("50"),
                history: &[("a.yaml", "app", "99.1")],
                asked: &[],
                skip: Some("already at v1.3.0"),
            },
            Case {
                name: "an unknown run never reads history",
                changes: vec![change("app", "a.yaml", "3f2a9c1", "b71e002")],
                this_run: None,
                history: &[("a.yaml", "app", "99.1")],
                asked: &[],
                skip: None,
            },
            Case {
                name: "shas read the run that wrote the file",
                changes: vec![change("app", "a.yaml", "3f2a9c1", "b71e002")],
                this_run: run("50"),
                history: &[("a.yaml", "app", "51.1")],
                asked: &[("a.yaml", "app")],
                skip: Some("workflow run 51.1, newer than this run 50.1"),
            },
            Case {
                name: "no bump in history is no evidence",
                changes: vec![change("app", "a.yaml", "3f2a9c1", "b71e002")],
                this_run: run("50"),
                history: &[],
                asked: &[("a.yaml", "app")],
                skip: None,
            },
            Case {
                name: "unchanged values are not asked about",
                changes: vec![
                    change("app", "a.yaml", "abc", "abc"),
                    change("worker", "b.yaml", "3f2a9c1", "b71e002"),
                ],
                this_run: run("50"),
                history: &[("b.yaml", "worker", "49.1")],
                asked: &[("b.yaml", "worker")],
                skip: None,
            },
            Case {
                name: "the first stale change stops the walk",
                changes: vec![
                    change("app", "a.yaml", "3f2a9c1", "b71e002"),
                    change("worker", "b.yaml", "1f0e0d1", "2a9b8c7"),
                    change("api", "c.yaml", "0a1b2c3", "4d5e6f7"),
                ],
                this_run: run("50"),
                history: &[
                    ("a.yaml", "app", "49.1"),
                    ("b.yaml", "worker", "50.2"),
                    ("c.yaml", "api", "60.1"),
                ],
                asked: &[("a.yaml", "app"), ("b.yaml", "worker")],
                skip: Some("worker was last bumped by workflow run 50.2"),
            },
        ];
        let mut failures = Vec::new();
        for case in cases {
            let mut asked = Vec::new();
            let got = stale_reason::<()>(&case.changes, case.this_run, |c| {
                asked.push((c.file.clone(), c.image.clone()));
                Ok(case
                    .history
                    .iter()
                    .find(|(f, i, _)| *f == c.file && *i == c.image)
                    .and_then(|(_, _, r)| RunId::parse(r)))
            })
            .unwrap();
            let want_asked: Vec<(String, String)> = case
                .asked
                .iter()
                .map(|(f, i)| (f.to_string(), i.to_string()))
                .collect();
            let skip_ok = match (&got, case.skip) {
                (None, None) => true,
                (Some(reason), Some(needle)) => {
                    reason.contains(needle) && reason.contains("newer-wins: false")
                }
                _ => false,
            };
            if asked != want_asked || !skip_ok {
                failures.push(format!(
                    "{}: asked {asked:?} (want {want_asked:?}), reason {got:?} (want {:?})",
                    case.name, case.skip
                ));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        // An error reading history is the caller's error, unchanged.
        let changes = [change("app", "a.yaml", "3f2a9c1", "b71e002")];
        assert_eq!(
            stale_reason(&changes, run("50"), |_| Err("gone")),
            Err("gone")
        );
    }
}
