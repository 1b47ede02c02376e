//! The manifest text `import` writes from the services it read: environments, services and
//! their entries, with a comment on every guess.

use super::scalar::{comment, yaml_scalar};
use super::{Found, ImportOptions, ServiceImport, suggest_class};
use std::collections::BTreeMap;

/// The manifest text: the environments, each service with its entries, and the entries
/// suggested for plaintext credentials as comments.
pub(super) fn write(
    envs: &[String],
    services: &BTreeMap<String, ServiceImport>,
    suggestions: &[String],
    options: &ImportOptions,
) -> String {
    let mut out = String::from(
        "# Written by `secretgate import`. Review the comments marked GUESS, then run\n# \
        `secretgate lint` and `secretgate check`.\nversion: 1\n\nenvironments:",
    );
    write_environments(&mut out, envs, options);
    let mut all_envs: Vec<&String> = envs.iter().chain(&options.known_envs).collect();
    all_envs.sort();
    all_envs.dedup();
    out.push_str(if services.is_empty() { "\nservices: {}\n" } else { "\nservices:\n" });
    for (name, service) in services {
        write_service(&mut out, name, service, all_envs.len());
    }
    if !suggestions.is_empty() {
        out.push_str(
            "\n# Plaintext values found in the specs (not imported). Store each in \
            Secret Manager,\n# remove it from the spec, and add an entry such as:\n",
        );
        for s in suggestions {
            out.push_str(&comment(0, s));
        }
    }
    out
}

/// The imported environments, after `environments:`; the project is a marked guess unless
/// given.
fn write_environments(out: &mut String, envs: &[String], options: &ImportOptions) {
    out.push_str(if envs.is_empty() { " {}\n" } else { "\n" });
    for env in envs {
        out.push_str(&format!("  {}:\n", yaml_scalar(env)));
        let (project, guess) = match &options.project {
            Some(project) => (project.clone(), ""),
            None => (format!("PROJECT_ID-{env}"), "  # GUESS: set the project id"),
        };
        out.push_str(&format!("    project: {}{guess}\n", yaml_scalar(&project)));
        out.push_str(&format!("    region: {}\n", yaml_scalar(&options.region)));
    }
}

/// One service: its notes, spec, container, environments (when not all `all_envs` of them)
/// and entries.
fn write_service(out: &mut String, name: &str, service: &ServiceImport, all_envs: usize) {
    for note in &service.notes {
        out.push_str(&comment(2, note));
    }
    out.push_str(&format!("  {}:\n", yaml_scalar(name)));
    let spec = merge_values(&service.specs, all_envs, yaml_scalar);
    out.push_str(&format!("    spec: {spec}\n"));
    if let Some(container) = &service.container {
        out.push_str(&format!("    container: {}\n", yaml_scalar(container)));
    }
    if service.specs.len() < all_envs {
        let list: Vec<String> = service.specs.keys().map(|e| yaml_scalar(e)).collect();
        out.push_str(&format!("    environments: [{}]\n", list.join(", ")));
    }
    if service.entries.is_empty() {
        return;
    }
    out.push_str("    secrets:\n");
    for (target, by_env) in &service.entries {
        write_entry(out, target, by_env, service);
    }
}

/// One entry. An environment of the service that does not map it today gets a guessed secret
/// and `latest`, under a GAP comment: the entry applies there too, and a per-environment map
/// must name every environment.
fn write_entry(
    out: &mut String,
    target: &str,
    by_env: &BTreeMap<String, Found>,
    service: &ServiceImport,
) {
    let mut secrets: BTreeMap<String, String> =
        by_env.iter().map(|(e, f)| (e.clone(), f.secret.clone())).collect();
    let mut versions: BTreeMap<String, String> =
        by_env.iter().map(|(e, f)| (e.clone(), f.version.clone())).collect();
    let missing: Vec<&String> = service.specs.keys().filter(|e| !by_env.contains_key(*e)).collect();
    if !missing.is_empty() {
        let names = missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
        let gap = format!("GAP: not mapped today in {names} (GUESS: the secret there)");
        out.push_str(&comment(6, &gap));
        for env in missing {
            secrets.insert(env.clone(), guess_secret(by_env, env));
            versions.insert(env.clone(), "latest".to_string());
        }
    }
    out.push_str(&format!("      {}:\n", yaml_scalar(target)));
    let secret = merge_values(&secrets, secrets.len(), yaml_scalar);
    out.push_str(&format!("        secret: {secret}\n"));
    let version = merge_values(&versions, versions.len(), version_scalar);
    if version != "latest" {
        out.push_str(&format!("        version: {version}\n"));
    }
    let class = suggest_class(target);
    out.push_str(&format!("        class: {class}  # GUESS: suggested from the name\n"));
}

/// One value for every environment, a `{env}` template, or a per-environment map.
fn merge_values(
    by_env: &BTreeMap<String, String>,
    all_envs: usize,
    scalar: fn(&str) -> String,
) -> String {
    let values: Vec<&String> = by_env.values().collect();
    if by_env.len() == all_envs && values.iter().all(|v| *v == values[0]) {
        return scalar(values[0]);
    }
    let templated: Vec<String> =
        by_env.iter().map(|(env, v)| v.replace(env.as_str(), "{env}")).collect();
    let differs = values.iter().any(|v| *v != values[0]);
    if by_env.len() == all_envs
        && differs
        && templated.iter().all(|t| t == &templated[0] && t.contains("{env}"))
    {
        return scalar(&templated[0]);
    }
    let pairs: Vec<String> =
        by_env.iter().map(|(e, v)| format!("{}: {}", yaml_scalar(e), scalar(v))).collect();
    format!("{{{}}}", pairs.join(", "))
}

/// The secret an environment that does not map an entry today would most likely use: another
/// environment's, with that environment's name replaced by this one's when it contains it.
fn guess_secret(by_env: &BTreeMap<String, Found>, env: &str) -> String {
    let renamed = by_env.iter().find(|(e, f)| f.secret.contains(e.as_str()));
    match renamed {
        Some((e, f)) => f.secret.replace(e.as_str(), env),
        None => by_env.values().next().map(|f| f.secret.clone()).unwrap_or_default(),
    }
}

/// A version: a number stays a plain number.
fn version_scalar(text: &str) -> String {
    let number = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    if number { text.to_string() } else { yaml_scalar(text) }
}
