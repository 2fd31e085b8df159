//! What the GitHub Actions runner does with a step's output, ported from
//! actions/runner so the tests judge our output by the runner's rules, not
//! by ours:
//!
//! - `ProcessInvoker` reads stdout and stderr with `StreamReader.ReadLine`:
//!   a line ends at LF, CR or CRLF.
//! - `OutputManager.OnDataReceived` hands a line to the command manager
//!   when it contains `##[` or `::`.
//! - `ActionCommand.TryParseV2`: after leading white space the line starts
//!   with `::`, a second `::` ends the command part; the name (up to the
//!   first space) must be registered, case-insensitively; properties are
//!   `k=v` split at `,`; data is unescaped (`%0D`, `%0A`, `%25`).
//! - `ActionCommand.TryParse` (legacy): `##[` anywhere, then `]`; the name
//!   up to a space; properties split at `;`.
//! - `ActionCommandManager.TryProcessCommand`: `::stop-commands::TOKEN`
//!   ignores every command until one named TOKEN.
//! - `FileCommandManager` `EnvFileKeyValuePairs` reads `GITHUB_OUTPUT`:
//!   `name=value` lines and `name<<DELIMITER` heredocs.

use std::collections::HashSet;

/// A command the runner would carry out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub name: String,
    pub properties: Vec<(String, String)>,
    pub data: String,
    pub line: String,
}

impl Command {
    pub fn property(&self, key: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }
}

/// The command names the runner registers (`ActionCommandManager` and its
/// extensions), lowercase.
const REGISTERED: &[&str] = &[
    "stop-commands",
    "set-env",
    "set-output",
    "save-state",
    "add-mask",
    "add-path",
    "add-matcher",
    "remove-matcher",
    "debug",
    "warning",
    "error",
    "notice",
    "group",
    "endgroup",
    "echo",
];

pub struct Runner {
    registered: HashSet<String>,
    stop_token: Option<String>,
}

impl Default for Runner {
    fn default() -> Runner {
        Runner::new()
    }
}

impl Runner {
    pub fn new() -> Runner {
        Runner {
            registered: REGISTERED.iter().map(|s| s.to_string()).collect(),
            stop_token: None,
        }
    }

    /// Every command the runner would carry out for `output`, in order.
    pub fn commands(&mut self, output: &str) -> Vec<Command> {
        read_lines(output)
            .into_iter()
            .filter_map(|l| self.process(l))
            .collect()
    }

    fn process(&mut self, line: &str) -> Option<Command> {
        if line.is_empty() || !(line.contains("##[") || line.contains("::")) {
            return None;
        }
        let command = self.parse_v2(line).or_else(|| self.parse_legacy(line))?;
        if let Some(token) = &self.stop_token {
            if command.name.eq_ignore_ascii_case(token) {
                self.registered.remove(&token.to_lowercase());
                self.stop_token = None;
                return Some(command);
            }
            return None;
        }
        if command.name.eq_ignore_ascii_case("stop-commands") {
            self.stop_token = Some(command.data.clone());
            self.registered.insert(command.data.to_lowercase());
        }
        Some(command)
    }

    fn is_registered(&self, name: &str) -> bool {
        !name.is_empty() && self.registered.contains(&name.to_lowercase())
    }

    fn parse_v2(&self, line: &str) -> Option<Command> {
        let rest = line.trim_start().strip_prefix("::")?;
        let end = rest.find("::")?;
        let (name, properties) = self.split_info(&rest[..end], ',', unescape_property)?;
        Some(Command {
            name,
            properties,
            data: unescape_data(&rest[end + 2..]),
            line: line.to_string(),
        })
    }

    fn parse_legacy(&self, line: &str) -> Option<Command> {
        let start = line.find("##[")?;
        let close = start + line[start..].find(']')?;
        let (name, properties) = self.split_info(&line[start + 3..close], ';', unescape_legacy)?;
        Some(Command {
            name,
            properties,
            data: unescape_legacy(&line[close + 1..]),
            line: line.to_string(),
        })
    }

    /// `name k=v<sep>k=v…`: the name (when registered) and the properties.
    fn split_info(
        &self,
        info: &str,
        separator: char,
        unescape: fn(&str) -> String,
    ) -> Option<(String, Vec<(String, String)>)> {
        let (name, props) = match info.find(' ') {
            Some(i) => (&info[..i], Some(&info[i + 1..])),
            None => (info, None),
        };
        if !self.is_registered(name) {
            return None;
        }
        let properties = props
            .map(|p| {
                // The v2 form trims the property string; the legacy one does not.
                let p = if separator == ',' { p.trim() } else { p };
                p.split(separator)
                    .filter(|s| !s.is_empty())
                    .filter_map(|kv| kv.split_once('='))
                    .filter(|(k, v)| !k.is_empty() && !v.is_empty())
                    .map(|(k, v)| (k.to_string(), unescape(v)))
                    .collect()
            })
            .unwrap_or_default();
        Some((name.to_string(), properties))
    }
}

/// `StreamReader.ReadLine`: LF, CR and CRLF end a line.
pub fn read_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        match rest.find(['\r', '\n']) {
            Some(i) => {
                lines.push(&rest[..i]);
                let skip = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
                rest = &rest[i + skip..];
            }
            None => {
                lines.push(rest);
                break;
            }
        }
    }
    lines
}

/// The runner's `EscapeMapping` tables, applied in its order.
const DATA: &[(&str, &str)] = &[("%0D", "\r"), ("%0A", "\n"), ("%25", "%")];
const PROPERTY: &[(&str, &str)] = &[
    ("%0D", "\r"),
    ("%0A", "\n"),
    ("%3A", ":"),
    ("%2C", ","),
    ("%25", "%"),
];
const LEGACY: &[(&str, &str)] = &[
    ("%3B", ";"),
    ("%0D", "\r"),
    ("%0A", "\n"),
    ("%5D", "]"),
    ("%25", "%"),
];

fn unescape(s: &str, mappings: &[(&str, &str)]) -> String {
    mappings.iter().fold(s.to_string(), |text, (escaped, raw)| {
        text.replace(escaped, raw)
    })
}

fn unescape_data(s: &str) -> String {
    unescape(s, DATA)
}

fn unescape_property(s: &str) -> String {
    unescape(s, PROPERTY)
}

fn unescape_legacy(s: &str) -> String {
    unescape(s, LEGACY)
}

/// `EnvFileKeyValuePairs`: the entries of a `GITHUB_OUTPUT` file, or why
/// the runner would fail the step reading it.
pub fn read_env_file(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut lines = text.split_inclusive('\n');
    while let Some(raw) = lines.next() {
        let line = raw.strip_suffix('\n').unwrap_or(raw);
        if line.is_empty() {
            continue;
        }
        let equals = line.find('=');
        let heredoc = line.find("<<");
        match (equals, heredoc) {
            (Some(e), h) if h.is_none_or(|h| e < h) => {
                out.push((line[..e].to_string(), line[e + 1..].to_string()));
            }
            (_, Some(h)) => {
                let (key, delimiter) = (&line[..h], &line[h + 2..]);
                if key.is_empty() || delimiter.is_empty() {
                    return Err(format!("Invalid format '{line}'"));
                }
                let mut value: Vec<&str> = Vec::new();
                loop {
                    let Some(raw) = lines.next() else {
                        return Err(format!("Matching delimiter not found '{delimiter}'"));
                    };
                    let l = raw.strip_suffix('\n').unwrap_or(raw);
                    if l == delimiter {
                        break;
                    }
                    if !raw.ends_with('\n') {
                        return Err("EOF marker missing new line".into());
                    }
                    value.push(l);
                }
                out.push((key.to_string(), value.join("\n")));
            }
            _ => return Err(format!("Invalid format '{line}'")),
        }
    }
    Ok(out)
}
