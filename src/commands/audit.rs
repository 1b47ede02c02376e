//! `secretgate audit`.

use super::check::Source;
use crate::audit::{self, format};
use crate::check::{self, CheckOptions};
use crate::cli::{AuditArgs, AuditFormat, Cli};
use crate::diagnostic::Diagnostic;
use crate::error::{Error, exit};
use crate::inventory::Inventory;
use crate::lint::{Project, lint};
use crate::manifest::Manifest;
use std::io::IsTerminal;

pub fn run(cli: &Cli, args: &AuditArgs) -> Result<u8, Error> {
    let started = std::time::Instant::now();
    let deadline = started + std::time::Duration::from_secs(args.verify.fetch.timeout);
    let mut project = Project::load(&cli.manifest)?;
    // What reading the manifest found is enough to refuse it before any request.
    if super::manifest_is_invalid(&project) {
        return Ok(super::invalid_manifest(cli, &project));
    }
    let envs = project.select_environments(&args.envs.names)?;
    let runtime = super::check::runtime()?;
    let snapshots = &args.snapshots.files;
    let (no_iam, fetch) = (args.verify.no_iam, &args.verify.fetch);
    let source = Source { cli, snapshots, no_iam, fetch, runtime: &runtime };
    // The runtime accounts that specs name are read from the specs here, so their IAM
    // policies are read too.
    let inventory = source.inventory(deadline, |iam| {
        project.manifest.is_some().then(|| check::wanted(&mut project, &envs, iam))
    })?;
    // What the deploy gate would refuse decides the cells, so the audit checks as it does.
    let options = CheckOptions {
        fail_closed: true,
        max_snapshot_age_days: args.max_snapshot_age,
        ..CheckOptions::now()
    };
    let reading = Reading { inventory: &inventory, options: &options, args, runtime: &runtime };
    let gate = findings(&mut project, &envs, &reading, deadline)?;
    let Some(manifest) =
        project.manifest.as_ref().filter(|_| !super::manifest_is_invalid(&project))
    else {
        return Ok(super::invalid_manifest(cli, &project));
    };
    let report = build(&project, manifest, &envs, &reading, &gate);
    warn_unverified(cli, args, &report);
    let rows = report.rows.len();
    tracing::info!(elapsed = ?started.elapsed(), requests = report.requests, rows, "audit built");
    write_report(cli, args, &report)?;
    let coverage = report.coverage.percent();
    match args.fail_under {
        Some(limit) if coverage < limit => {
            noteln!("error: coverage {coverage:.1}% is below --fail-under {limit}%");
            Ok(exit::FINDINGS)
        }
        _ => Ok(exit::OK),
    }
}

/// What the findings of each environment are read from.
struct Reading<'a> {
    inventory: &'a Inventory,
    options: &'a CheckOptions,
    args: &'a AuditArgs,
    runtime: &'a tokio::runtime::Runtime,
}

/// Gathers the findings of `lint`, `check` and, with `--live`, of the deployed services, each
/// environment in its own run (see [`in_own_run`]); returns those the deploy gate would see,
/// which leave out `--live`'s.
fn findings(
    project: &mut Project,
    envs: &[String],
    reading: &Reading,
    deadline: std::time::Instant,
) -> Result<Vec<Diagnostic>, Error> {
    for env in envs {
        in_own_run(project, env, |project, env| {
            lint(project, env)?;
            check::check(project, env, reading.inventory, reading.options);
            Ok(())
        })?;
    }
    let gate = project.diagnostics.clone();
    let fetch = &reading.args.verify.fetch;
    for env in envs.iter().filter(|_| reading.args.live) {
        in_own_run(project, env, |project, env| {
            let live = super::check::live(project, env, reading.inventory, fetch, deadline);
            reading.runtime.block_on(live);
            Ok(())
        })?;
    }
    Ok(gate)
}

/// The table is for a person at a terminal: why a project was not verified goes to stderr
/// beside it. Other formats are read by programs and carry it in the report; their stderr
/// stays clean.
fn warn_unverified(cli: &Cli, args: &AuditArgs, report: &audit::Audit) {
    if args.format != AuditFormat::Table || cli.quiet {
        return;
    }
    for p in &report.unverified_projects {
        noteln!(
            "warning: project `{}` was not verified ({}); its cells are `unverified`",
            p.project,
            p.reason
        );
    }
}

/// The report of the findings gathered in `project`; `gate` holds those the deploy gate sees.
fn build(
    project: &Project,
    manifest: &Manifest,
    envs: &[String],
    reading: &Reading,
    gate: &[Diagnostic],
) -> audit::Audit {
    let (inventory, args, options) = (reading.inventory, reading.args, reading.options);
    let mut ignore: Vec<String> =
        manifest.policy.ignore_orphans.iter().map(|p| p.value.clone()).collect();
    ignore.extend(args.ignore_orphans.iter().cloned());
    let references = audit::spec_references(manifest, &project.root, &project.sources);
    let inputs = audit::Inputs {
        gate_findings: gate,
        inventory,
        references: &references,
        ignore_orphans: &ignore,
        now: options.now,
        max_snapshot_age_days: options.max_snapshot_age_days,
    };
    audit::build(manifest, envs, &project.diagnostics, &inputs)
}

fn write_report(cli: &Cli, args: &AuditArgs, report: &audit::Audit) -> Result<(), Error> {
    let color =
        args.output.is_none() && super::use_color(cli.color, std::io::stdout().is_terminal());
    let text = match args.format {
        AuditFormat::Table => format::table(report, color),
        AuditFormat::Markdown => format::markdown(report),
        AuditFormat::Json => format::json(report),
        AuditFormat::Html => format::html(report),
    };
    super::output::write_to(args.output.as_deref(), &text)
}

/// Runs `step` for one environment on its own, then adds its findings to the earlier ones. A
/// run keeps one of two equal findings, and a spec or a live service that two environments
/// share gives equal findings for both: the matrix needs each in its own column.
fn in_own_run(
    project: &mut Project,
    env: &str,
    step: impl FnOnce(&mut Project, &[String]) -> Result<(), Error>,
) -> Result<(), Error> {
    let earlier = std::mem::take(&mut project.diagnostics);
    step(project, &[env.to_string()])?;
    let mut found = std::mem::replace(&mut project.diagnostics, earlier);
    project.diagnostics.append(&mut found);
    Ok(())
}
