//! `secretgate rules` and `secretgate explain`.

use super::print;
use crate::error::{Error, exit};
use crate::rules::{ALL, find};
use crate::suggest::did_you_mean;

pub fn list() -> u8 {
    let width = ALL.iter().map(|r| r.code.len()).max().unwrap_or(0);
    let mut text = String::new();
    for rule in ALL {
        let severity = rule.severity.as_str();
        text.push_str(&format!("{:width$}  {severity:7}  {}\n", rule.code, rule.summary));
    }
    print(&text)
}

pub fn explain(code: &str) -> Result<u8, Error> {
    let Some(rule) = find(code) else {
        let help = match did_you_mean(code, ALL.iter().map(|r| r.code)) {
            Some(s) => format!("did you mean `{s}`? `secretgate rules` lists every code"),
            None => "`secretgate rules` lists every code".to_string(),
        };
        return Err(Error::Usage {
            message: format!("no rule has the code `{code}`"),
            help: Some(help),
        });
    };
    print(&rule.explain());
    Ok(exit::OK)
}
