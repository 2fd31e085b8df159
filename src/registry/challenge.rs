//! `WWW-Authenticate` challenges, as registries send them on a 401.
//!
//! Registries use two schemes: `Basic realm="..."` (htpasswd setups) and
//! `Bearer realm="...",service="...",scope="..."` (the distribution token
//! flow). We parse only what those need; anything else is reported as an
//! unsupported scheme rather than guessed at.

/// What a registry asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Challenge {
    /// Send `Authorization: Basic` with the credentials on every request.
    Basic,
    /// Fetch a token from `realm` and send it as `Authorization: Bearer`.
    Bearer {
        realm: String,
        service: Option<String>,
    },
    /// A scheme we do not speak (e.g. Negotiate); kept for the error.
    Unsupported(String),
}

impl Challenge {
    /// Parses one `WWW-Authenticate` header value.
    pub(crate) fn parse(header: &str) -> Challenge {
        let header = header.trim();
        let (scheme, params) = header.split_once(' ').unwrap_or((header, ""));
        let params = parse_params(params);
        let get = |key: &str| {
            params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.clone())
        };
        if scheme.eq_ignore_ascii_case("basic") {
            Challenge::Basic
        } else if scheme.eq_ignore_ascii_case("bearer") {
            match get("realm") {
                Some(realm) if !realm.is_empty() => Challenge::Bearer {
                    realm,
                    service: get("service").filter(|s| !s.is_empty()),
                },
                _ => Challenge::Unsupported(format!("{scheme} without a realm")),
            }
        } else {
            Challenge::Unsupported(scheme.to_string())
        }
    }
}

/// Splits `k="v", k2=v2` into pairs; quoted values may contain commas and
/// `\"` escapes (scopes like `repository:a/b:pull,push` do).
fn parse_params(s: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars
            .by_ref()
            .take_while(|c| *c != '=')
            .collect::<String>()
            .trim()
            .to_string();
        if key.is_empty() {
            return pairs;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.peek().copied() {
                if c == ',' {
                    break;
                }
                value.push(c);
                chars.next();
            }
            value = value.trim().to_string();
        }
        pairs.push((key, value));
    }
}

#[cfg(test)]
mod tests {
    use super::Challenge;

    #[test]
    fn parses_the_challenges_registries_send() {
        let bearer = |realm: &str, service: Option<&str>| Challenge::Bearer {
            realm: realm.into(),
            service: service.map(Into::into),
        };
        let cases = [
            (r#"Basic realm="test-realm""#, Challenge::Basic),
            (r#"basic realm=x"#, Challenge::Basic),
            (
                r#"Bearer realm="http://127.0.0.1:5004/token",service="test-registry""#,
                bearer("http://127.0.0.1:5004/token", Some("test-registry")),
            ),
            (
                r#"Bearer realm="https://auth.example/token",service="reg",scope="repository:team/app:pull,push""#,
                bearer("https://auth.example/token", Some("reg")),
            ),
            (
                r#"Bearer service="reg", realm="https://a.example/t""#,
                bearer("https://a.example/t", Some("reg")),
            ),
            (
                r#"Bearer realm=https://a.example/t"#,
                bearer("https://a.example/t", None),
            ),
            (
                "Bearer",
                Challenge::Unsupported("Bearer without a realm".into()),
            ),
            ("Negotiate abc", Challenge::Unsupported("Negotiate".into())),
        ];
        for (header, want) in cases {
            assert_eq!(Challenge::parse(header), want, "{header}");
        }
    }
}
