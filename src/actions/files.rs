//! Environment files: `GITHUB_OUTPUT`, `GITHUB_ENV`, `GITHUB_STATE` and
//! `GITHUB_STEP_SUMMARY`.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use rand::Rng;

/// Writes `name<<DELIM\nvalue\nDELIM\n` entries with a random delimiter that
/// occurs in no name or value, so a value cannot inject further outputs.
pub fn write_delimited(out: &mut impl Write, entries: &[(String, String)]) -> io::Result<()> {
    for (name, value) in entries {
        let delimiter = loop {
            let candidate = format!("ghadelimiter_{:032x}", rand::rng().random::<u128>());
            if !value.contains(&candidate) && !name.contains(&candidate) {
                break candidate;
            }
        };
        writeln!(out, "{name}<<{delimiter}\n{value}\n{delimiter}")?;
    }
    Ok(())
}

/// One of the runner's append-only environment files.
#[derive(Debug, Clone)]
pub struct EnvFile {
    path: PathBuf,
}

impl EnvFile {
    /// The file named by `variable` (`GITHUB_OUTPUT`, `GITHUB_ENV`,
    /// `GITHUB_STATE`, `GITHUB_STEP_SUMMARY`), if set and non-empty.
    pub fn from_env(variable: &str) -> Option<Self> {
        std::env::var_os(variable)
            .filter(|v| !v.is_empty())
            .map(|p| EnvFile { path: p.into() })
    }

    /// The file at `path` (as a variable named it).
    pub(crate) fn new(path: impl Into<PathBuf>) -> Self {
        EnvFile { path: path.into() }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn open(&self) -> io::Result<std::fs::File> {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
    }

    /// Appends `name=value` entries in the delimited form.
    pub(crate) fn append_entries(&self, entries: &[(String, String)]) -> io::Result<()> {
        let mut buf = Vec::new();
        write_delimited(&mut buf, entries)?;
        self.open()?.write_all(&buf)
    }

    /// Appends raw text (the job summary's markdown).
    pub fn append_text(&self, text: &str) -> io::Result<()> {
        self.open()?.write_all(text.as_bytes())
    }
}

/// Parses the delimited form back; used by tests and by the demo to show
/// what a downstream job would read.
pub fn parse_delimited(text: &str) -> Vec<(String, String)> {
    let mut entries = Vec::new();
    let mut lines = text.split('\n');
    while let Some(line) = lines.next() {
        if let Some((name, delimiter)) = line.split_once("<<") {
            let mut value = Vec::new();
            for l in lines.by_ref() {
                if l == delimiter {
                    break;
                }
                value.push(l);
            }
            entries.push((name.to_string(), value.join("\n")));
        } else if let Some((name, value)) = line.split_once('=') {
            entries.push((name.to_string(), value.to_string()));
        }
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimited_values_round_trip_even_with_newlines_and_fake_delimiters() {
        let entries: Vec<(String, String)> = vec![
            ("changed".into(), "true".into()),
            ("files".into(), "a.yaml\nb.yaml".into()),
            ("empty".into(), String::new()),
            (
                "tricky".into(),
                "x\nEOF\nghadelimiter_0\nname<<EOF\n=".into(),
            ),
        ];
        let mut out = Vec::new();
        write_delimited(&mut out, &entries).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(parse_delimited(&text), entries);
        assert!(!text.contains("::set-output"));
    }

    #[test]
    fn each_entry_gets_a_fresh_delimiter() {
        let entries = vec![
            ("a".to_string(), "1".to_string()),
            ("b".to_string(), "2".to_string()),
        ];
        let mut out = Vec::new();
        write_delimited(&mut out, &entries).unwrap();
        let text = String::from_utf8(out).unwrap();
        let delims: Vec<&str> = text
            .lines()
            .filter_map(|l| l.split_once("<<"))
            .map(|(_, d)| d)
            .collect();
        assert_eq!(delims.len(), 2);
        assert_ne!(delims[0], delims[1]);
    }
}
