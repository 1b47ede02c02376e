//! `{env}`, `{project}`, `{region}` and `{service}` placeholders in `spec` and `secret`.

/// The placeholders a manifest may use.
pub const PLACEHOLDERS: &[&str] = &["env", "project", "region", "service"];

/// Values substituted for the placeholders.
pub struct Vars<'a> {
    pub env: &'a str,
    pub project: &'a str,
    pub region: &'a str,
    pub service: &'a str,
}

/// A placeholder that is not one of [`PLACEHOLDERS`], with its byte offset in the template.
#[derive(Debug, PartialEq, Eq)]
pub struct UnknownPlaceholder {
    pub name: String,
    pub offset: usize,
}

/// Expands every placeholder; an unknown `{name}` is an error, a lone brace is kept as is
/// (the secret id check reports it).
pub fn expand(template: &str, vars: &Vars) -> Result<String, UnknownPlaceholder> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            return Ok(out);
        };
        let name = &after[..close];
        let value = match name {
            "env" => vars.env,
            "project" => vars.project,
            "region" => vars.region,
            "service" => vars.service,
            _ => {
                let offset = template.len() - rest.len() + open;
                return Err(UnknownPlaceholder { name: name.to_string(), offset });
            }
        };
        out.push_str(value);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VARS: Vars = Vars { env: "staging", project: "p-1", region: "eu", service: "api" };

    #[test]
    fn expands_every_placeholder() {
        let got = expand("{service}-{env}-{project}-{region}", &VARS).unwrap();
        assert_eq!(got, "api-staging-p-1-eu");
    }

    #[test]
    fn reports_unknown_placeholder_with_offset() {
        let err = expand("db-{enviroment}", &VARS).unwrap_err();
        assert_eq!(err, UnknownPlaceholder { name: "enviroment".into(), offset: 3 });
    }

    #[test]
    fn keeps_unclosed_brace() {
        assert_eq!(expand("a{b", &VARS).unwrap(), "a{b");
    }
}
