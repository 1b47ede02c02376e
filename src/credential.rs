//! Credentials inside a longer text: a token after `Bearer `, a key in a URL's query, the
//! password of a connection string, `NAME=value` under a credential's name, a known token or a
//! JSON Web Token among other words.
//!
//! The whole-value checks (`secret-value-in-manifest`, `plaintext-secret`) judge a value as one
//! piece, so `Bearer ghp_...` or a `.env` line passed them. These find the piece, for the
//! excerpts' masking, for `plaintext-secret` and for the redacted values of plans and exports.

use crate::rules::{plaintext_secret, secret_value_in_manifest};

/// A credential in a text: the byte range of its value and what it looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Found {
    pub start: usize,
    pub end: usize,
    pub kind: &'static str,
}

/// What [`find`] calls a value found by the name it is assigned to.
pub const ASSIGNED: &str = "a value under a credential's name";

/// What [`find`] calls the password of a `user:password` pair given to `-u` or `--user`.
pub const USER_PASSWORD: &str = "a user's password";

/// What [`find`] calls the value after a command-line flag named like a credential.
pub const FLAG_VALUE: &str = "the value of a flag named like a credential";

/// Query parameters that carry a credential although their names mark none for
/// `plaintext-secret` (`?key=AIza...`, a signed URL's `sig=`).
const QUERY_KEYS: &[&str] = &["key", "sig", "signature", "pwd", "pass"];

/// Values that switch a setting rather than hold a credential (`--require-token=false`).
const SWITCHES: &[&str] = &["true", "false", "yes", "no", "on", "off", "none", "null"];

/// Keys whose value names a secret rather than holds one, although their names read as
/// credentials: masking them would hide the manifest's and the spec's structure.
pub const NAMES_OF_SECRETS: &[&str] =
    &["secret", "secrets", "secretName", "secretKeyRef", "run.googleapis.com/secrets"];

/// The part of an annotation or label key that names what its value holds, and the DNS domain
/// prefix before it, which says who owns the key: `secretgate.io/rollout` is `rollout`, owned by
/// `secretgate.io`; a key without such a prefix is its own name.
pub fn split_key(key: &str) -> (Option<&str>, &str) {
    match key.rsplit_once('/') {
        Some((prefix, name)) if is_domain(prefix) => (Some(prefix), name),
        _ => (None, key),
    }
}

/// Whether `text` reads as the DNS domain that prefixes an annotation or label key.
fn is_domain(text: &str) -> bool {
    text.contains('.')
        && text.split('.').all(|part| {
            !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// Whether `value`, given to a name that marks a credential, can be one: it is not empty, not a
/// placeholder (`$(X)`, `${X}`, `$X`, `%X%`), not a switch (`--require-token=false`) and not the
/// configuration around a credential (see [`configuration`]).
pub fn assignable(value: &str) -> bool {
    // `$(VAR)` is what Cloud Run expands; `${VAR}`, `$VAR` and `%VAR%` are what templates and
    // shells leave. A value that only starts with `$` or `%` can be a password.
    let shell_var = value.strip_prefix('$').is_some_and(|v| {
        !v.is_empty()
            && v.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
    });
    let percent = value.len() > 2 && value.starts_with('%') && value.ends_with('%');
    let placeholder = value.starts_with("$(") || value.contains("${") || shell_var || percent;
    let switch = SWITCHES.iter().any(|s| s.eq_ignore_ascii_case(value));
    !value.is_empty() && !placeholder && !switch && !configuration(value)
}

/// Whether `value`, under a name that marks a credential, reads as the configuration around
/// one rather than as one: a small number or a duration (`--tokens=10`, `24h`), a file path
/// (`/var/secrets/key.json`), a Secret Manager name (`projects/P/secrets/S`), or the name of
/// the env var that holds it (`DB_PASSWORD`).
fn configuration(value: &str) -> bool {
    let digits = value.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &value[digits.len()..];
    let digits = digits.strip_prefix('-').unwrap_or(digits);
    let number = !digits.is_empty()
        && (digits.len() <= 5 || digits.contains('.'))
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && ["", "ms", "s", "m", "h", "d"].contains(&unit);
    // A path of names, not base64 that happens to start with `/` (`/pL9x+Qa7Ww==`).
    let path = (value.starts_with(['/', '~']) || value.starts_with("./"))
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._-~".contains(&b));
    let secret_name = value.starts_with("projects/") && value.contains("/secrets/");
    let env_name = value.contains('_')
        && value.starts_with(|c: char| c.is_ascii_uppercase())
        && value.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    number || path || secret_name || env_name
}

/// Every credential found in `text`, by where it starts.
pub fn find(text: &str) -> Vec<Found> {
    let mut found: Vec<Found> = prefixed_tokens(text)
        .chain(web_tokens(text))
        .chain(pem_block(text))
        .chain(url_passwords(text))
        .chain(bearer_tokens(text))
        .chain(assignments(text))
        .chain(flag_values(text))
        .chain(user_passwords(text))
        .collect();
    found.sort_by_key(|f| (f.start, f.end));
    found
}

/// Whether the word that would start at byte `at` starts there: no letter or digit before it.
fn starts_word(text: &str, at: usize) -> bool {
    !text[..at].chars().next_back().is_some_and(|c| c.is_ascii_alphanumeric())
}

/// Where the run of bytes that `part` accepts, starting at `at`, ends.
fn run(text: &str, at: usize, part: impl Fn(u8) -> bool) -> usize {
    at + text.as_bytes()[at..].iter().take_while(|b| part(**b)).count()
}

/// Bytes of tokens: letters, digits, `_` and `-`.
fn token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// Where each occurrence of `needle` starts in `text`.
fn starts_of<'t>(text: &'t str, needle: &'t str) -> impl Iterator<Item = usize> + 't {
    text.match_indices(needle).map(|(at, _)| at)
}

/// Tokens with a well-known prefix (`ghp_`, `sk_live_`, `AKIA`, ...), as long as the
/// whole-value check requires.
fn prefixed_tokens(text: &str) -> impl Iterator<Item = Found> + '_ {
    secret_value_in_manifest::PREFIXES.iter().flat_map(move |(prefix, kind)| {
        starts_of(text, prefix).filter(|at| starts_word(text, *at)).filter_map(move |start| {
            let end = run(text, start, token_byte);
            let token = &text[start..end];
            let random = *prefix != "sk-" || generated(token);
            let long = token.len() >= secret_value_in_manifest::MIN_PREFIXED_LEN;
            (long && random).then_some(Found { start, end, kind })
        })
    })
}

/// Whether a token has the digits and capitals of a generated key. `sk-` alone is also how
/// kebab-case names begin (`task-sk-prod-credentials`), which have neither.
fn generated(token: &str) -> bool {
    token.bytes().any(|b| b.is_ascii_digit()) && token.bytes().any(|b| b.is_ascii_uppercase())
}

/// JSON Web Tokens: three dot-separated parts, the first a JSON object in base64url.
fn web_tokens(text: &str) -> impl Iterator<Item = Found> + '_ {
    starts_of(text, "eyJ").filter(|at| starts_word(text, *at)).filter_map(move |start| {
        let end = run(text, start, |b| token_byte(b) || b == b'.');
        let token = text[start..end].trim_end_matches('.');
        secret_value_in_manifest::is_jwt(token).then_some(Found {
            start,
            end: start + token.len(),
            kind: "a JSON Web Token",
        })
    })
}

/// A PEM block, from its `-----BEGIN` to the end of the text.
fn pem_block(text: &str) -> Option<Found> {
    let start = text.find("-----BEGIN")?;
    Some(Found { start, end: text.len(), kind: "a PEM block" })
}

/// The password of `scheme://user:password@host`.
fn url_passwords(text: &str) -> impl Iterator<Item = Found> + '_ {
    starts_of(text, "://").filter_map(move |at| {
        let from = at + 3;
        let authority_end = run(text, from, |b| !b"/?#\"'`<>()[]{},;".contains(&b) && b > b' ');
        let authority = &text[from..authority_end];
        let user_end = authority.rfind('@')?;
        let colon = authority[..user_end].find(':')?;
        let start = from + colon + 1;
        let end = from + user_end;
        (end > start).then_some(Found { start, end, kind: "a URL with a password" })
    })
}

/// The credentials of an `Authorization` header's value: the token of `Bearer TOKEN`, or the
/// encoded `user:password` of `Basic CREDENTIALS`. Prose (`Bearer authentication`, `Basic
/// realm`) has words without digits or `=` padding; these have them.
fn bearer_tokens(text: &str) -> impl Iterator<Item = Found> + '_ {
    const SCHEMES: [(&str, &str); 8] = [
        ("Bearer ", "a bearer token"),
        ("bearer ", "a bearer token"),
        ("BEARER ", "a bearer token"),
        ("Basic ", "basic authentication credentials"),
        ("basic ", "basic authentication credentials"),
        ("BASIC ", "basic authentication credentials"),
        ("Token ", "an authentication token"),
        ("ApiKey ", "an API key"),
    ];
    SCHEMES.into_iter().flat_map(move |(word, kind)| {
        starts_of(text, word).filter(|at| starts_word(text, *at)).filter_map(move |at| {
            let start = run(text, at + word.len(), |b| b == b' ');
            let body = run(text, start, |b| token_byte(b) || b"._~+/".contains(&b));
            let end = run(text, body, |b| b == b'=');
            let token = &text[start..end];
            let marked = token.bytes().any(|b| b.is_ascii_digit()) || end > body;
            (token.len() >= 8 && marked).then_some(Found { start, end, kind })
        })
    })
}

/// `NAME=value`, `NAME = "value"`, `NAME: value` and `"NAME":"value"` where the name marks a
/// credential as `plaintext-secret` reads names, or is a query parameter of [`QUERY_KEYS`].
fn assignments(text: &str) -> impl Iterator<Item = Found> + '_ {
    text.match_indices(['=', ':']).filter_map(move |(at, _)| {
        let (name, query) = assigned_name(text, at)?;
        if NAMES_OF_SECRETS.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            return None;
        }
        let listed = query && QUERY_KEYS.iter().any(|k| k.eq_ignore_ascii_case(name));
        if !listed && !plaintext_secret::name_marks_credential(name) {
            return None;
        }
        let (start, end) = assigned_value(text, at + 1)?;
        Some(Found { start, end, kind: ASSIGNED })
    })
}

/// The value after a flag named like a credential, written as a command line writes it, with a
/// blank between them (`--db-password VALUE`, `-password VALUE`); a value that is itself a flag
/// is the next flag.
fn flag_values(text: &str) -> impl Iterator<Item = Found> + '_ {
    text.match_indices('-').filter_map(move |(at, _)| {
        let before = text[..at].chars().next_back();
        if !before.is_none_or(|c| matches!(c, ' ' | '\t' | '"' | '\'')) {
            return None;
        }
        let name_start = run(text, at, |b| b == b'-');
        let name_end = run(text, name_start, |b| token_byte(b) || b == b'.');
        let name = &text[name_start..name_end];
        let blank = matches!(text.as_bytes().get(name_end), Some(b' ' | b'\t'));
        if name_start - at > 2 || !blank || !plaintext_secret::name_marks_credential(name) {
            return None;
        }
        let (start, end) = assigned_value(text, name_end)?;
        (!text[start..].starts_with('-')).then_some(Found { start, end, kind: FLAG_VALUE })
    })
}

/// The password of `-u USER:PASSWORD` or `--user USER:PASSWORD`, as `curl` takes them.
fn user_passwords(text: &str) -> impl Iterator<Item = Found> + '_ {
    ["-u ", "--user ", "--user="].into_iter().flat_map(move |flag| {
        starts_of(text, flag).filter(|at| starts_word(text, *at)).filter_map(move |at| {
            let user = run(text, at + flag.len(), |b| b == b' ');
            let colon = user + text[user..].find([':', ' '])?;
            let start = colon + 1;
            let end = run(text, start, |b| b > b' ' && !b"\"'`".contains(&b));
            let usable = text.as_bytes()[colon] == b':' && colon > user && end > start;
            (usable && assignable(&text[start..end])).then_some(Found {
                start,
                end,
                kind: USER_PASSWORD,
            })
        })
    })
}

/// The name before the separator at byte `at`, and whether it is a URL's query parameter.
/// `:` separates only before a blank or after a quoted name, as in YAML and JSON; `=` not in
/// `==`, `!=`, `<=`, `>=` or `=>`.
fn assigned_name(text: &str, at: usize) -> Option<(&str, bool)> {
    let bytes = text.as_bytes();
    let before = text[..at].trim_end_matches([' ', '\t']);
    // JSON inside a quoted string escapes its quotes: `{\"password\":\"VALUE\"}`.
    let unquoted = before.trim_end_matches(['"', '\'', '\\']);
    let quoted = unquoted.len() < before.len();
    let after = bytes.get(at + 1).copied();
    if bytes[at] == b':' && !quoted && !matches!(after, None | Some(b' ' | b'\t')) {
        return None;
    }
    let operator = |b: Option<&u8>| matches!(b, Some(b'=' | b'!' | b'<' | b'>'));
    if bytes[at] == b'=' && (operator(before.as_bytes().last()) || operator(after.as_ref())) {
        return None;
    }
    let name_start =
        unquoted.bytes().rposition(|b| !(token_byte(b) || b == b'.')).map_or(0, |i| i + 1);
    let name = &unquoted[name_start..];
    let query = bytes[at] == b'=' && unquoted[..name_start].ends_with(['?', '&']);
    (!name.is_empty()).then_some((name, query))
}

/// The value that starts after blanks at byte `from`: up to its closing quote, or up to a
/// blank or a delimiter; `None` when it is empty, a placeholder, a switch or a nested
/// structure.
fn assigned_value(text: &str, from: usize) -> Option<(usize, usize)> {
    let mut start = run(text, from, |b| b == b' ' || b == b'\t');
    let escaped = text[start..].starts_with(['\\']) && text[start + 1..].starts_with(['"', '\'']);
    start += usize::from(escaped);
    let end = match text.as_bytes().get(start)? {
        quote @ (b'"' | b'\'') => {
            start += 1;
            let end = start + text[start..].find(*quote as char).unwrap_or(text.len() - start);
            end - usize::from(escaped && text[..end].ends_with('\\'))
        }
        b'{' | b'[' => return None,
        // `#` ends a value (a URL's fragment) but can start one: `--password=#x` is no comment.
        first => {
            let from = start + usize::from(*first == b'#');
            run(text, from, |b| b > b' ' && !b"\"'`,;&#)]}".contains(&b))
        }
    };
    assignable(&text[start..end]).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::find;

    /// The text of each credential [`find`] finds, with its kind.
    fn found(text: &str) -> Vec<(&str, &str)> {
        find(text).into_iter().map(|f| (&text[f.start..f.end], f.kind)).collect()
    }

    #[test]
    fn env_file_lines() {
        let text = "GITHUB_TOKEN=ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789";
        assert_eq!(
            found(text),
            [
                ("ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789", "a GitHub token"),
                ("ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789", "a value under a credential's name"),
            ]
        );
        assert_eq!(found("DB_PASSWORD=hunter2hunter2"), [("hunter2hunter2", super::ASSIGNED)]);
        assert_eq!(found("export API_KEY = \"a b\""), [("a b", super::ASSIGNED)]);
    }

    #[test]
    fn shapes_inside_longer_values() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl";
        let url = format!("https://api.example.com/hook?token={jwt}&x=1");
        let kinds: Vec<&str> = found(&url).into_iter().map(|(_, kind)| kind).collect();
        assert_eq!(kinds, ["a JSON Web Token", super::ASSIGNED]);
        let bearer = found("Bearer ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789");
        assert!(bearer.iter().any(|(_, kind)| *kind == "a bearer token"), "{bearer:?}");
        let basic = "basic authentication credentials";
        assert_eq!(
            found("Authorization:Basic YWRtaW46aHVudGVyMg== x"),
            [("YWRtaW46aHVudGVyMg==", basic)]
        );
        assert_eq!(found("--auth=Basic b2xkdXNlcjpvbGRwYXNz"), [("b2xkdXNlcjpvbGRwYXNz", basic)]);
        assert_eq!(found("Basic authentication, Basic realm=app"), []);
        assert_eq!(
            found("https://maps.example.com/x?key=Ab12Cd34&y=2"),
            [("Ab12Cd34", super::ASSIGNED)]
        );
        assert_eq!(
            found("redis://:p4ss@redis:6379/0 and postgres://app:pw@db/app"),
            [("p4ss", "a URL with a password"), ("pw", "a URL with a password")]
        );
        assert_eq!(
            found("x -----BEGIN KEY-----\nMIIE"),
            [("-----BEGIN KEY-----\nMIIE", "a PEM block")]
        );
    }

    /// A flag named like a credential and its value, with a blank between, as a shell line
    /// writes them; a next flag, a placeholder or a flag that describes one is no value.
    #[test]
    fn values_of_credential_flags_on_a_command_line() {
        let flag = super::FLAG_VALUE;
        let line = "exec app --db-password 'hunter2 x' -api-key k3y --port 8080";
        assert_eq!(found(line), [("hunter2 x", flag), ("k3y", flag)]);
        let user = super::USER_PASSWORD;
        assert_eq!(found("curl -u admin:XYZZY9 http://x/"), [("XYZZY9", user)]);
        assert_eq!(found("curl --user=admin:XYZZY9"), [("XYZZY9", user)]);
        assert_eq!(found("curl -u admin http://x/ -u :"), []);
        // Regression: JSON in a quoted string hid its keys behind escaped quotes.
        let escaped = r#"example.com/config: "{\"password\":\"LEAKH8pw\",\"user\":\"x\"}""#;
        assert_eq!(found(escaped), [("LEAKH8pw", super::ASSIGNED)]);
        // Regression: a value starting with `#` was taken for a comment.
        let assigned = super::ASSIGNED;
        assert_eq!(found("--password=#x1 --token #y2"), [("#x1", assigned), ("#y2", flag)]);
        for text in [
            "app --password --verbose",
            "app --token-file /run/token",
            "app --api-key $API_KEY",
            "app --require-token false",
            "x--password hunter2",
            "app ---password hunter2",
        ] {
            assert_eq!(found(text), [], "{text}");
        }
    }

    /// A value that only starts like a placeholder or a path can be a password; `$VAR`,
    /// `${VAR}`, `$(VAR)`, `%VAR%` and a path of names are not.
    #[test]
    fn placeholders_and_paths_are_told_from_passwords() {
        for text in ["DB_PASSWORD=$up3rS3cret!", "DB_PASSWORD=%Q7f!x9", "PGPASSWORD=/pL9x+Qa7Ww=="]
        {
            assert_eq!(found(text).len(), 1, "{text}");
        }
        for text in [
            "DB_PASSWORD=$DB_PASSWORD",
            "DB_PASSWORD=$(DB_PASSWORD)",
            "DB_PASSWORD=%DB_PASSWORD%",
            "PGPASSWORD=/run/secrets/pg",
        ] {
            assert_eq!(found(text), [], "{text}");
        }
        let token = "X-Auth: Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b";
        assert_eq!(found(token)[0].1, "an authentication token");
    }

    #[test]
    fn names_placeholders_and_prose_are_not_credentials() {
        for text in [
            "TOKEN_TTL=3600",
            "API_KEY=${API_KEY}",
            "DB_PASSWORD=$DB_PASSWORD",
            "secret: jwt-secret-key",
            "secretKeyRef: {name: db-password}",
            "JWT_SECRET_KEY:",
            "if PASSWORD == x",
            "Bearer authentication is used",
            "https://example.com/a?page=2&key=",
            "--require-token=false",
            "name: API_TOKEN",
            "mytask-1234567890abcdefghijkl",
            "postgres://db/app",
        ] {
            assert_eq!(found(text), [], "{text}");
        }
    }
}
