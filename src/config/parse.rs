//! Parsers for input values that more than one section uses.

use std::time::Duration;

/// Booleans as `@actions/core`'s `getBooleanInput`: the YAML 1.2 core schema.
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// Durations like `90s`, `5m`, `1h30m`, `500ms`; a bare number is seconds.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!(
                "expected a number at {rest:?} (use forms like 90s, 5m, 1h30m, 500ms)"
            ));
        }
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| "number too large".to_string())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let part = match unit {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.saturating_mul(60)),
            "h" => Duration::from_secs(n.saturating_mul(3600)),
            "" => return Err(format!("missing unit after {n} (use ms, s, m or h)")),
            other => return Err(format!("unknown unit {other:?} (use ms, s, m or h)")),
        };
        total = total.saturating_add(part);
    }
    Ok(total)
}

/// The project of a service account email `NAME@PROJECT.iam.gserviceaccount.com`.
/// google-github-actions/auth takes the first label after `@` of any email;
/// we only read the form that names a project, so the default compute
/// account (`N-compute@developer.gserviceaccount.com`) exports nothing
/// rather than the project `developer`.
pub(crate) fn project_of_service_account(email: &str) -> Option<String> {
    let (_, domain) = email.split_once('@')?;
    let project = domain.strip_suffix(".iam.gserviceaccount.com")?;
    valid_project_id(project)
}

/// A project ID as Google spells them (`my-project-123`, legacy
/// `example.com:my-project`): nothing a later step could mistake for more.
pub(super) fn valid_project_id(s: &str) -> Option<String> {
    let ok = !s.is_empty()
        && s.len() <= 100
        && s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.' | b':')
        })
        && s.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    ok.then(|| s.to_string())
}

/// `host[:port]`: what a Docker config's `auths` key names.
pub(super) fn is_registry_host(s: &str) -> bool {
    let (host, port) = s.split_once(':').unwrap_or((s, "80"));
    !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        && !host.starts_with(['.', '-'])
        && port.parse::<u16>().is_ok_and(|p| p > 0)
}
