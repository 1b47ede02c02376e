//! `secretgate audit`.

use super::check::Source;
use crate::audit::{self, format};
use crate::check::{self, CheckOptions};
use crate::cli::{AuditArgs, AuditFormat, Cli};
use crate::error::{Error, exit};
use crate::inventory::Inventory;
use crate::lint::{Project, lint};
use crate::manifest::Manifest;
use std::io::IsTerminal;

pub fn run(cli: &Cli, args: &AuditArgs) -> Result<u8, Error> {
    let started = std::time::Instant::now();
    let deadline = started + std::time::Duration::from_secs(args.verify.fetch.timeout);
    let mut project = Project::load(&cli.manifest)?;
    let envs = project.select_environments(&args.envs.names)?;
    if project.manifest.is_none() {
        return Ok(super::invalid_manifest(cli, &project));
    }
    let runtime = super::check::runtime()?;
    let snapshots = &args.snapshots.files;
    let source = Source { cli, snapshots, verify: &args.verify, runtime: &runtime };
    let inventory =
        source.inventory(deadline, |iam| Some(check::wanted(&mut project, &envs, iam)))?;
    let options = CheckOptions::now();
    for env in &envs {
        findings_of(&mut project, env, &inventory, &options, args, &runtime, deadline)?;
    }
    // `lint` hands the manifest back when it is done with it.
    let Some(manifest) = &project.manifest else {
        return Ok(super::invalid_manifest(cli, &project));
    };
    let report = build(&project, manifest, &envs, &inventory, args, &options);
    // The table is for a person at a terminal: the reason goes to stderr beside it. Other
    // formats are read by programs and carry it in the report; their stderr stays clean.
    if args.format == AuditFormat::Table && !cli.quiet {
        for p in &report.unverified_projects {
            noteln!(
                "warning: project `{}` was not verified ({}); its cells are `unverified`",
                p.project,
                p.reason
            );
        }
    }
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

/// The report of the findings gathered in `project`.
fn build(
    project: &Project,
    manifest: &Manifest,
    envs: &[String],
    inventory: &Inventory,
    args: &AuditArgs,
    options: &CheckOptions,
) -> audit::Audit {
    let mut ignore: Vec<String> =
        manifest.policy.ignore_orphans.iter().map(|p| p.value.clone()).collect();
    ignore.extend(args.ignore_orphans.iter().cloned());
    let references = audit::spec_references(manifest, &project.root, &project.sources);
    let inputs = audit::Inputs {
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

/// Adds the findings of `lint`, `check` and, with `--live`, of the deployed services, for one
/// environment. Each environment is run on its own because a run keeps one of two equal
/// findings, and a spec or a live service that two environments share gives equal findings
/// for both: the matrix needs each in its own column.
fn findings_of(
    project: &mut Project,
    env: &str,
    inventory: &Inventory,
    options: &CheckOptions,
    args: &AuditArgs,
    runtime: &tokio::runtime::Runtime,
    deadline: std::time::Instant,
) -> Result<(), Error> {
    let earlier = std::mem::take(&mut project.diagnostics);
    let env = [env.to_string()];
    lint(project, &env)?;
    check::check(project, &env, inventory, options);
    if args.live {
        let live = super::check::live(project, &env, inventory, &args.verify.fetch, deadline);
        runtime.block_on(live);
    }
    let mut found = std::mem::replace(&mut project.diagnostics, earlier);
    project.diagnostics.append(&mut found);
    Ok(())
}
