//! `{placeholder}` templates for commit messages and pull-request text.
//!
//! Deliberately tiny: `{name}` is replaced, `{{` and `}}` are literal braces,
//! and an unknown placeholder is an error at config time, not a surprise in
//! a commit title.

use std::collections::BTreeMap;

/// Placeholders a commit-message or pull-request template may use.
pub const PLACEHOLDERS: &[(&str, &str)] = &[
    (
        "image",
        "first image's name as given in `images` (e.g. `ghcr.io/org/app`)",
    ),
    ("new_name", "first image's new name (NEWNAME, or the name)"),
    ("tag", "first image's new tag"),
    ("digest", "first image's new digest"),
    (
        "short_digest",
        "first 12 hex digits of the new digest, with the algorithm",
    ),
    ("previous_tag", "first image's tag before the bump"),
    ("previous_digest", "first image's digest before the bump"),
    (
        "summary",
        "one line: every bump as `name to tag (short digest)`, comma separated",
    ),
    ("bumps", "one line per bump: `- name: old -> new`"),
    ("files", "changed files, comma separated"),
    (
        "run_url",
        "link to the workflow run ($GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID)",
    ),
    (
        "sha",
        "the commit that triggered the workflow ($GITHUB_SHA)",
    ),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unknown placeholder {{{name}}} at byte {offset} (known: {known})")]
    Unknown {
        name: String,
        offset: usize,
        known: String,
    },
    #[error("unclosed `{{` at byte {offset} (write `{{{{` for a literal brace)")]
    Unclosed { offset: usize },
}

enum Piece<'a> {
    Text(&'a str),
    Var(&'a str),
}

fn pieces(template: &str) -> Result<Vec<Piece<'_>>, TemplateError> {
    let mut out = Vec::new();
    let mut rest = template;
    let mut offset = 0;
    while let Some(i) = rest.find(['{', '}']) {
        out.push(Piece::Text(&rest[..i]));
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("{{") {
            out.push(Piece::Text("{"));
            rest = after;
            offset += i + 2;
        } else if let Some(after) = tail.strip_prefix("}}").or_else(|| tail.strip_prefix('}')) {
            out.push(Piece::Text("}"));
            offset += i + (tail.len() - after.len());
            rest = after;
        } else {
            let Some(end) = tail.find('}') else {
                return Err(TemplateError::Unclosed { offset: offset + i });
            };
            let name = tail[1..end].trim();
            if !PLACEHOLDERS.iter().any(|(p, _)| *p == name) {
                return Err(TemplateError::Unknown {
                    name: name.to_string(),
                    offset: offset + i,
                    known: PLACEHOLDERS
                        .iter()
                        .map(|(p, _)| *p)
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
            out.push(Piece::Var(name));
            rest = &tail[end + 1..];
            offset += i + end + 1;
        }
    }
    out.push(Piece::Text(rest));
    Ok(out)
}

/// Checks that a template only uses known placeholders.
pub(crate) fn validate(template: &str) -> Result<(), TemplateError> {
    pieces(template).map(|_| ())
}

/// Renders a template; a placeholder without a value renders empty.
pub(crate) fn render(
    template: &str,
    vars: &BTreeMap<&str, String>,
) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len() + 64);
    for piece in pieces(template)? {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Var(v) => out.push_str(vars.get(v).map_or("", String::as_str)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_known_placeholders_and_literal_braces() {
        let vars = BTreeMap::from([("image", "app".to_string()), ("tag", "v2".to_string())]);
        let cases = [
            (
                "bump {image} to {tag} [skip ci]",
                "bump app to v2 [skip ci]",
            ),
            ("{{literal}} {image}", "{literal} app"),
            ("{ image }:{previous_tag}", "app:"),
            ("no placeholders", "no placeholders"),
        ];
        for (t, want) in cases {
            assert_eq!(render(t, &vars).unwrap(), want, "{t}");
        }
    }

    #[test]
    fn rejects_unknown_and_unclosed() {
        let e = validate("bump {imgae}").unwrap_err().to_string();
        assert!(
            e.contains("unknown placeholder {imgae}") && e.contains("image"),
            "{e}"
        );
        let e = validate("bump {image").unwrap_err().to_string();
        assert!(e.contains("unclosed"), "{e}");
    }
}
