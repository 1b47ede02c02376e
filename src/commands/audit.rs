//! `secretgate audit`.

use crate::audit::{self, format};
use crate::check::{self, CheckOptions};
use crate::cli::{AuditArgs, AuditFormat, Cli};
use crate::error::{Error, exit};
use crate::inventory::{Inventory, ProjectInventory};
use crate::lint::{Project, lint};
use std::io::IsTerminal;

pub fn run(cli: &Cli, args: &AuditArgs) -> Result<u8, Error> {
    let started = std::time::Instant::now();
    let deadline = started + std::time::Duration::from_secs(args.fetch.timeout);
    let mut project = Project::load(&cli.manifest)?;
    lint(&mut project, &args.envs)?;
    let envs = project.select_environments(&args.envs)?;
    let Some(manifest) = &project.manifest else {
        return Ok(super::invalid_manifest(cli, &project));
    };
    let runtime = super::check::runtime()?;
    let inventory = if args.snapshots.is_empty() {
        let wanted = check::wanted(manifest, &envs, !args.no_iam);
        super::check::fetch_until(cli, &wanted, &args.fetch, &runtime, deadline).inventory()
    } else {
        Inventory::from_snapshots(&super::check::read_snapshots(&args.snapshots)?)
    };
    let inventory = if args.no_iam { inventory.without_iam() } else { inventory };
    let now = jiff::Timestamp::now();
    let options = CheckOptions { now, expiry_days: 30, max_snapshot_age_days: 7 };
    check::check(&mut project, &envs, &inventory, &options);
    if args.live {
        let live = super::check::live(&mut project, &envs, &inventory, &args.fetch, deadline);
        runtime.block_on(live);
    }
    let manifest = project.manifest.as_ref().expect("checked above");
    if !cli.quiet {
        for (name, reason) in unread_projects(manifest, &envs, &inventory) {
            eprintln!(
                "warning: project `{name}` was not verified ({reason}); its cells are `unverified`"
            );
        }
    }
    let mut ignore: Vec<String> =
        manifest.policy.ignore_orphans.iter().map(|p| p.value.clone()).collect();
    ignore.extend(args.ignore_orphans.iter().cloned());
    let report = audit::build(manifest, &envs, &project.diagnostics, &inventory, &ignore, now);
    let rows = report.rows.len();
    tracing::info!(elapsed = ?started.elapsed(), requests = report.requests, rows, "audit built");
    let color =
        args.output.is_none() && super::use_color(cli.color, std::io::stdout().is_terminal());
    let text = match args.format {
        AuditFormat::Table => format::table(&report, color),
        AuditFormat::Markdown => format::markdown(&report),
        AuditFormat::Json => format::json(&report),
        AuditFormat::Html => format::html(&report),
    };
    match &args.output {
        Some(path) => std::fs::write(path, text).map_err(|e| Error::Usage {
            message: format!("cannot write {}: {e}", path.display()),
            help: None,
        })?,
        None => {
            super::print(&text);
        }
    }
    let coverage = report.coverage.percent();
    match args.fail_under {
        Some(limit) if coverage < limit => {
            eprintln!("error: coverage {coverage:.1}% is below --fail-under {limit}%");
            Ok(exit::FINDINGS)
        }
        _ => Ok(exit::OK),
    }
}

/// The environments' own projects whose Secret Manager could not be read, with why: an audit
/// still reports on them (as `unverified`), so the reason is said once per project here.
fn unread_projects(
    manifest: &crate::manifest::Manifest,
    envs: &[String],
    inventory: &Inventory,
) -> std::collections::BTreeMap<String, String> {
    let mut unread = std::collections::BTreeMap::new();
    for env in envs.iter().filter_map(|e| manifest.environment(e)) {
        let Some(project) = &env.project else { continue };
        let reason = match inventory.projects.get(&project.value) {
            Some(ProjectInventory::Listed(_)) => continue,
            Some(ProjectInventory::Unverified(reason)) => reason.clone(),
            None if inventory.captured_at.is_some() => "not in the snapshots given".to_string(),
            None => "not read".to_string(),
        };
        unread.insert(project.value.clone(), reason);
    }
    unread
}
