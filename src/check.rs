//! `check`: the secrets the services ask for against Secret Manager's metadata (live or from
//! snapshots).
//!
//! Runs after the offline rules. For every secret reference of an environment's services (see
//! [`crate::references`]: the declared entries and the specs' own mappings), it looks the secret
//! up in the [`Inventory`] and runs the check rules on it. Errors on optional entries are
//! downgraded to warnings, except, for the deploy gate, what could not be verified.

use crate::diagnostic::{Diagnostic, Severity};
use crate::inventory::{Inventory, ProjectInventory, SecretInfo, VersionInfo};
use crate::lint::Project;
use crate::manifest::{Environment, Manifest, Version};
use crate::references::{self, Reference};
use crate::resolve::Deployment;
use crate::rules::{self, Rule};
use crate::spec::SecretName;
use jiff::{SignedDuration, Timestamp};

/// Settings of a check run.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// The time the check is made at (tests pin it).
    pub now: Timestamp,
    /// `secret-expiring` warns this many days ahead.
    pub expiry_days: i64,
    /// `snapshot-stale` warns past this age.
    pub max_snapshot_age_days: i64,
    /// Keep `verification-incomplete` an error on optional entries too. The deploy gate (and
    /// `audit`, which shows what the gate would refuse) must not roll out what nobody verified,
    /// while `check` reports it on an optional entry as a warning.
    pub fail_closed: bool,
}

/// How many days ahead `secret-expiring` warns unless told otherwise (`--expiry-days`).
pub const DEFAULT_EXPIRY_DAYS: i64 = 30;

/// The age in days past which `snapshot-stale` warns unless told otherwise
/// (`--max-snapshot-age`).
pub const DEFAULT_MAX_SNAPSHOT_AGE_DAYS: i64 = 7;

impl CheckOptions {
    /// A check made now with the default limits; the commands that take the options change
    /// what they were given.
    pub fn now() -> CheckOptions {
        CheckOptions {
            now: Timestamp::now(),
            expiry_days: DEFAULT_EXPIRY_DAYS,
            max_snapshot_age_days: DEFAULT_MAX_SNAPSHOT_AGE_DAYS,
            fail_closed: false,
        }
    }
}

/// One secret reference of one service, with what the inventory says about it.
pub struct SecretContext<'a> {
    pub manifest: &'a Manifest,
    pub env: &'a Environment,
    pub deployment: &'a Deployment<'a>,
    pub reference: &'a Reference,
    /// The account the service runs as (see [`Project::runtime_account`]).
    pub account: Option<&'a str>,
    pub info: &'a SecretInfo,
    pub options: &'a CheckOptions,
}

impl SecretContext<'_> {
    /// The secret the reference names.
    pub fn secret(&self) -> &SecretName {
        &self.reference.secret
    }

    /// The version the reference asks for.
    pub fn version(&self) -> &Version {
        &self.reference.version
    }

    /// A finding on this reference's secret name, with its context filled in.
    pub fn at_secret(&self, rule: &Rule, message: impl Into<String>, label: &str) -> Diagnostic {
        let at = (self.reference.secret_span, label);
        self.reference.diagnostic(self.deployment, rule, message, at)
    }

    /// A finding on this reference's version.
    pub fn at_version(&self, rule: &Rule, message: impl Into<String>, label: &str) -> Diagnostic {
        let at = (self.reference.version_span, label);
        self.reference.diagnostic(self.deployment, rule, message, at)
    }

    /// The version number the entry resolves to now, if it exists.
    pub fn resolved_number(&self) -> Option<u64> {
        let versions = self.info.versions.as_ref().ok()?;
        match self.version() {
            Version::Latest => versions.first().map(|v| v.number),
            Version::Number(n) => versions.iter().any(|v| v.number == *n).then_some(*n),
            Version::Alias(a) => self.info.aliases.as_ref().ok()?.get(a).copied(),
        }
    }

    /// The version the entry resolves to now, if it exists.
    pub fn resolved_version(&self) -> Option<&VersionInfo> {
        let number = self.resolved_number()?;
        self.info.versions.as_ref().ok()?.iter().find(|v| v.number == number)
    }

    /// The account the service runs as (see [`Project::runtime_account`]).
    pub fn runtime_account(&self) -> Option<&str> {
        self.account
    }

    /// Days between two times, rounded down.
    pub fn days(span: SignedDuration) -> i64 {
        span.as_secs() / 86_400
    }
}

/// The secrets to read in each project for the given environments: every secret the services
/// reference (see [`crate::references`]), with its IAM policy when a service with a known
/// runtime account (the spec's, else the manifest's) declares it and `iam` is on.
pub fn wanted(project: &mut Project, envs: &[String], iam: bool) -> crate::inventory::live::Wanted {
    wanted_for(project, envs, None, iam)
}

/// [`wanted`] for some services only (`None`: all of them).
pub fn wanted_for(
    project: &mut Project,
    envs: &[String],
    services: Option<&[String]>,
    iam: bool,
) -> crate::inventory::live::Wanted {
    let mut wanted = crate::inventory::live::Wanted::new();
    let Some(manifest) = project.manifest.take() else { return wanted };
    for env in manifest.environments.iter().filter(|e| envs.contains(&e.name.value)) {
        let deployments = crate::resolve::resolve(&manifest, env, &mut Vec::new());
        if let Some(gcp) = &env.project {
            wanted.entry(gcp.value.clone()).or_default();
        }
        let selected = |d: &&Deployment| services.is_none_or(|s| s.contains(&d.service.name.value));
        for deployment in deployments.iter().filter(selected) {
            // An IAM policy is checked for the entries only: a spec's own mapping needs its
            // versions, and its policy would cost a request more per secret.
            let want_iam = iam && project.runtime_account(&manifest, deployment).is_some();
            for r in references::of_deployment(project, &manifest, deployment) {
                let entry = wanted.entry(r.secret.project).or_default();
                let flag = entry.entry(r.secret.secret).or_insert(false);
                *flag |= want_iam && !r.spec_only;
            }
        }
    }
    project.manifest = Some(manifest);
    wanted
}

/// Runs the check rules for every selected environment after `lint`.
pub fn check(
    project: &mut Project,
    envs: &[String],
    inventory: &Inventory,
    options: &CheckOptions,
) {
    let Some(manifest) = project.manifest.take() else { return };
    let mut found = Vec::new();
    for env in manifest.environments.iter().filter(|e| envs.contains(&e.name.value)) {
        for deployment in &crate::resolve::resolve(&manifest, env, &mut Vec::new()) {
            let account = project.runtime_account(&manifest, deployment);
            for reference in references::of_deployment(project, &manifest, deployment) {
                let at = Referenced {
                    manifest: &manifest,
                    deployment,
                    reference: &reference,
                    account: account.as_deref(),
                };
                check_reference(&at, inventory, options, &mut found);
            }
        }
    }
    if let Some(captured) = inventory.captured_at {
        rules::snapshot_stale::check(
            captured,
            options.now,
            options.max_snapshot_age_days,
            &mut found,
        );
    }
    project.diagnostics.append(&mut found);
    project.manifest = Some(manifest);
    crate::lint::finish(&mut project.diagnostics);
}

/// How `check --live` reads the services as deployed.
pub struct LiveOptions<'a> {
    pub client: &'a crate::cloudrun::CloudRun,
    /// Secret Manager's metadata, for the version `latest` resolves to now: a service deployed
    /// with `--pin-versions` maps that number.
    pub inventory: &'a Inventory,
    /// Services read at once.
    pub concurrency: usize,
}

/// `check --live`: fetches each selected service as deployed now and runs the spec rules on it,
/// plus `unmapped-secret` and `service-not-found`. The services are read concurrently and
/// reported in manifest order; what cannot be fetched is `verification-incomplete`.
pub async fn check_live(
    project: &mut crate::lint::Project,
    envs: &[String],
    live: &LiveOptions<'_>,
) {
    use futures::StreamExt;
    let Some(manifest) = project.manifest.take() else { return };
    let deployments: Vec<Deployment> = manifest
        .environments
        .iter()
        .filter(|e| envs.contains(&e.name.value))
        .flat_map(|env| crate::resolve::resolve(&manifest, env, &mut Vec::new()))
        .collect();
    let reads: Vec<_> = futures::stream::iter(&deployments)
        .map(|deployment| read_live(live.client, deployment))
        .buffered(live.concurrency.max(1))
        .collect()
        .await;
    let mut found = Vec::new();
    for (deployment, read) in deployments.iter().zip(reads) {
        let Some(read) = read else { continue };
        live_findings(project, &manifest, deployment, read, live, &mut found);
    }
    project.diagnostics.append(&mut found);
    project.manifest = Some(manifest);
    crate::lint::finish(&mut project.diagnostics);
}

/// A service as deployed; `None` when its environment lacks a project or region (reported by
/// `manifest-schema`).
async fn read_live(
    client: &crate::cloudrun::CloudRun,
    deployment: &Deployment<'_>,
) -> Option<Result<Option<serde_json::Value>, crate::cloudrun::ApiError>> {
    let (Some(gcp), Some(region)) = (&deployment.env.project, &deployment.env.region) else {
        return None;
    };
    Some(client.get(&region.value, &gcp.value, &deployment.service.name.value).await)
}

/// The findings about one service as deployed.
fn live_findings(
    project: &mut crate::lint::Project,
    manifest: &Manifest,
    deployment: &Deployment,
    read: Result<Option<serde_json::Value>, crate::cloudrun::ApiError>,
    live: &LiveOptions,
    found: &mut Vec<Diagnostic>,
) {
    let gcp = deployment.env.project.as_ref().map_or("", |p| p.value.as_str());
    let region = deployment.env.region.as_ref().map_or("", |r| r.value.as_str());
    let name = &deployment.service.name.value;
    match read {
        Ok(None) => {
            found.push(rules::service_not_found::diagnostic(manifest.file, deployment, region));
        }
        Ok(Some(service)) => {
            let display = crate::cloudrun::display_name(gcp, region, name);
            let Some(spec) = project.live_spec(display, &service) else { return };
            let mut ctx = crate::lint::spec_context(manifest, deployment, spec, found);
            ctx.latest_now = crate::deploy::pins(deployment, live.inventory);
            rules::check_spec(&ctx, found);
            rules::unmapped_secret::check(&ctx, found);
        }
        Err(e) => {
            found.push(unread_service(manifest, deployment, &e, live.client.endpoint(region)))
        }
    }
}

/// `verification-incomplete` for a service whose deployed form could not be read.
fn unread_service(
    manifest: &Manifest,
    deployment: &Deployment,
    error: &crate::cloudrun::ApiError,
    endpoint: String,
) -> Diagnostic {
    let (env, name) = (&deployment.env.name.value, &deployment.service.name.value);
    let message = format!(
        "not verified: service `{name}` as deployed in `{env}` ({error}; endpoint {endpoint})"
    );
    Diagnostic::new(&rules::verification_incomplete::RULE, message)
        .at(manifest.file, deployment.service.name.span, "live service not read")
        .help("grant roles/run.viewer, check the network, or raise --timeout")
        .env(Some(env))
        .service(Some(name))
}

/// One secret reference of one deployment.
struct Referenced<'a> {
    manifest: &'a Manifest,
    deployment: &'a Deployment<'a>,
    reference: &'a Reference,
    /// The account the service runs as.
    account: Option<&'a str>,
}

/// Runs the check rules on one reference: whether its secret exists and, for a manifest entry,
/// every rule on its metadata; for a spec's own mapping, whether the version it asks for can
/// be used. Errors on an optional entry become warnings (see [`downgrade`]).
fn check_reference(
    at: &Referenced,
    inventory: &Inventory,
    options: &CheckOptions,
    out: &mut Vec<Diagnostic>,
) {
    let (reference, deployment) = (at.reference, at.deployment);
    let mut found = Vec::new();
    match lookup(inventory, &reference.secret) {
        Err(reason) => {
            found.push(rules::verification_incomplete::for_secret(deployment, reference, &reason))
        }
        Ok(None) => found.push(rules::secret_not_found::diagnostic(deployment, reference)),
        Ok(Some(info)) => {
            let ctx = SecretContext {
                manifest: at.manifest,
                env: deployment.env,
                deployment,
                reference,
                account: at.account,
                info,
                options,
            };
            if reference.spec_only {
                rules::check_spec_reference(&ctx, &mut found);
            } else {
                rules::check_secret(&ctx, &mut found);
            }
        }
    }
    if !reference.required {
        downgrade(&mut found, options);
    }
    out.append(&mut found);
}

/// The inventory's entry for a secret: `Ok(None)` when the project is listed and lacks it,
/// `Err` when the project could not be listed.
fn lookup<'i>(
    inventory: &'i Inventory,
    secret: &SecretName,
) -> Result<Option<&'i SecretInfo>, String> {
    match inventory.projects.get(&secret.project) {
        None if inventory.captured_at.is_some() => {
            Err(format!("project `{}` is not in the snapshot", secret.project))
        }
        None => Err(format!("project `{}` was not listed", secret.project)),
        Some(ProjectInventory::Unverified(reason)) => Err(reason.clone()),
        Some(ProjectInventory::Listed(secrets)) => Ok(secrets.get(&secret.secret)),
    }
}

/// Errors about an optional secret do not block: they become warnings. With
/// [`CheckOptions::fail_closed`], what could not be verified stays an error.
fn downgrade(found: &mut [Diagnostic], options: &CheckOptions) {
    let unverified = rules::verification_incomplete::RULE.code;
    let kept = |d: &Diagnostic| options.fail_closed && d.code == unverified;
    for d in found.iter_mut().filter(|d| d.severity == Severity::Error && !kept(d)) {
        d.severity = Severity::Warning;
        d.message.push_str(" (optional secret: warning only)");
    }
}

/// The exit code for a set of findings: 3 when the only errors are about what could not be
/// verified, 1 for other errors, 0 otherwise.
pub fn exit_code(diagnostics: &[Diagnostic], deny_warnings: bool) -> u8 {
    use crate::error::exit;
    let errors: Vec<&Diagnostic> =
        diagnostics.iter().filter(|d| d.severity == Severity::Error).collect();
    if errors.is_empty() {
        let warned = diagnostics.iter().any(|d| d.severity == Severity::Warning);
        return if deny_warnings && warned { exit::FINDINGS } else { exit::OK };
    }
    if errors.iter().all(|d| d.code == rules::verification_incomplete::RULE.code) {
        exit::INCOMPLETE
    } else {
        exit::FINDINGS
    }
}

#[cfg(test)]
mod tests {
    use super::{CheckOptions, downgrade};
    use crate::diagnostic::{Diagnostic, Severity};
    use crate::rules::{latest_unusable, verification_incomplete};

    /// An optional entry's errors become warnings; for the deploy gate (`fail_closed`), what
    /// could not be verified stays an error, and its message does not call it a warning.
    #[test]
    fn the_gate_keeps_what_could_not_be_verified_an_error() {
        let found = || {
            vec![
                Diagnostic::new(&verification_incomplete::RULE, "not verified: `x`"),
                Diagnostic::new(&latest_unusable::RULE, "`latest` of `y` is DISABLED"),
            ]
        };
        let severities = |d: &[Diagnostic]| d.iter().map(|d| d.severity).collect::<Vec<_>>();

        let mut checked = found();
        downgrade(&mut checked, &CheckOptions::now());
        assert_eq!(severities(&checked), [Severity::Warning, Severity::Warning]);

        let mut gated = found();
        downgrade(&mut gated, &CheckOptions { fail_closed: true, ..CheckOptions::now() });
        assert_eq!(severities(&gated), [Severity::Error, Severity::Warning]);
        assert_eq!(gated[0].message, "not verified: `x`");
        assert!(gated[1].message.ends_with("(optional secret: warning only)"));
    }
}
