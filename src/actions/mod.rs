//! The GitHub Actions runner contract: workflow commands on stdout
//! (`::add-mask::`, `::group::`, annotations) and the environment files
//! (`GITHUB_OUTPUT`, `GITHUB_ENV`, `GITHUB_STATE`, `GITHUB_STEP_SUMMARY`).
//!
//! Outside Actions the same calls degrade to plain output, and masks print
//! nothing: echoing `::add-mask::TOKEN` to a terminal would show the token.
//!
//! A leaf: it knows the runner, not this program, so it uses nothing of the
//! crate but the secrets (a known secret is redacted from any command it
//! writes; the test below holds it to that). The GitHub API client is
//! another thing, in `github_api/`.

mod commands;
pub mod files;
pub(crate) mod text;

pub use commands::{Annotation, Group, Level, annotate, group, mask};
pub use files::{EnvFile, write_delimited};

/// True when running as a GitHub Actions step.
pub fn in_actions() -> bool {
    std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Paths into the crate this module may use: itself and the secrets.
    const ALLOWED: [&str; 2] = ["crate::actions", "crate::secret"];

    /// Each `crate::` path in the code of `source` (comments and the tests
    /// at its end left out) that is not an allowed one, and each `super::`
    /// that leaves the module (`super::super`, or any `super::` in `mod.rs`).
    fn foreign_paths(file: &str, source: &str) -> Vec<String> {
        let mut found = Vec::new();
        let code_lines = source.lines().take_while(|l| l.trim() != "#[cfg(test)]");
        for (n, line) in code_lines.enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            let at = || format!("{file}:{}: {}", n + 1, line.trim());
            for (i, _) in code.match_indices("crate::") {
                if !ALLOWED.iter().any(|a| code[i..].starts_with(a)) {
                    found.push(at());
                }
            }
            let leaves =
                code.contains("super::super") || (file == "mod.rs" && code.contains("super::"));
            if leaves {
                found.push(at());
            }
        }
        found
    }

    #[test]
    fn the_check_sees_foreign_paths() {
        let cases: &[(&str, &str, usize)] = &[
            ("text.rs", "use crate::secret::Secret;", 0),
            ("text.rs", "crate::actions::in_actions()", 0),
            ("text.rs", "// see crate::print", 0),
            ("text.rs", "use crate::print;", 1),
            ("text.rs", "crate::secret::redact(crate::config::X)", 1),
            ("text.rs", "use super::super::print;", 1),
            ("commands.rs", "use super::in_actions;", 0),
            ("mod.rs", "use super::print;", 1),
            (
                "mod.rs",
                "pub mod text;\n#[cfg(test)]\nuse crate::print;",
                0,
            ),
        ];
        for (file, source, want) in cases {
            assert_eq!(foreign_paths(file, source).len(), *want, "{file}: {source}");
        }
    }

    /// The runner contract is a leaf: it uses nothing of this crate but
    /// `Secret` and its redaction, so anything but `secret.rs` may use it
    /// (the printer, errors, every stage) without an import circle through
    /// the stages. `secret.rs` reaches the mask through a hook instead
    /// (`secret::mask_with`); `tests/architecture.rs` holds the whole crate
    /// to having no circle.
    #[test]
    fn the_actions_module_uses_nothing_of_the_crate_but_secrets() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/actions");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".rs"))
            .collect();
        files.sort();
        assert!(
            files.len() >= 4 && files.contains(&"mod.rs".to_string()),
            "{files:?}"
        );
        let found: Vec<String> = files
            .iter()
            .flat_map(|file| {
                let source = std::fs::read_to_string(dir.join(file)).unwrap();
                foreign_paths(file, &source)
            })
            .collect();
        assert!(
            found.is_empty(),
            "src/actions/ must stay a leaf:\n{}",
            found.join("\n")
        );
    }
}
