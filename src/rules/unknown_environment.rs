//! `unknown-environment`: an environment named somewhere that `environments:` does not define.

use super::Rule;
use crate::diagnostic::{Diagnostic, Severity, quote};
use crate::manifest::{Manifest, PerEnv, Sp};
use crate::suggest::help_for_unknown;
use std::collections::HashSet;

pub static RULE: Rule = Rule {
    code: "unknown-environment",
    severity: Severity::Error,
    summary: "an environment named anywhere that is not defined",
    flags: "An environment name in a service's `environments` list, in a per-environment map \
(`secret`, `version`, `spec`, `service_account`) or in `policy.pin_versions` that is not a key \
of `environments:`.",
    why: "A typo in an environment name silently disables what it was meant to do: a pin for \
`prod` never applies to `production`, a version given for `stagging` is never used.",
    example: "policy:\n  pin_versions: [prod]     # the environment is called `production`",
    fix: "Use a name defined under `environments:` (the hint suggests the closest one), or \
define the environment.",
};

pub fn check(manifest: &Manifest, out: &mut Vec<Diagnostic>) {
    let mut names: Vec<(&Sp<String>, String)> = Vec::new();
    for pin in &manifest.policy.pin_versions {
        names.push((pin, "`policy.pin_versions`".to_string()));
    }
    for service in &manifest.services {
        let owner = format!("service {}", quote(&service.name.value));
        for env in service.environments.iter().flatten() {
            names.push((env, format!("the `environments` of {owner}")));
        }
        let mut maps: Vec<(&PerEnv<String>, String)> = Vec::new();
        maps.extend(service.spec.iter().map(|s| (s, format!("`spec` of {owner}"))));
        maps.extend(
            service.service_account.iter().map(|s| (s, format!("`service_account` of {owner}"))),
        );
        for entry in &service.secrets {
            let what = format!("entry {} of {owner}", quote(&entry.target.value));
            maps.extend(entry.secret.iter().map(|s| (s, format!("`secret` of {what}"))));
            maps.extend(entry.version.iter().map(|s| (s, format!("`version` of {what}"))));
        }
        for (map, what) in maps {
            for (env, _) in map.values() {
                names.extend(env.map(|e| (e, what.clone())));
            }
        }
    }
    let defined: Vec<&str> = manifest.environments.iter().map(|e| e.name.value.as_str()).collect();
    let known: HashSet<&str> = defined.iter().copied().collect();
    for (name, place) in names {
        if known.contains(name.value.as_str()) {
            continue;
        }
        let help = help_for_unknown(&name.value, &defined, "defined environments");
        let message = format!("unknown environment {} in {place}", quote(&name.value));
        let d = Diagnostic::new(&RULE, message)
            .at(manifest.file, name.span, "not defined under `environments:`")
            .help(help)
            .env(Some(&name.value));
        out.push(d);
    }
}
