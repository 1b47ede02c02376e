//! `secretgate audit`.

use crate::audit::{self, format};
use crate::check::{self, CheckOptions};
use crate::cli::{AuditArgs, AuditFormat, Cli};
use crate::error::{Error, exit};
use crate::inventory::Inventory;
use crate::inventory::snapshot::Snapshot;
use crate::lint::{Project, lint};
use std::io::IsTerminal;

pub fn run(cli: &Cli, args: &AuditArgs) -> Result<u8, Error> {
    let mut project = Project::load(&cli.manifest)?;
    lint(&mut project, &args.envs)?;
    let envs = project.select_environments(&args.envs)?;
    let Some(manifest) = &project.manifest else {
        let message =
            format!("{} is not a valid manifest; run `secretgate lint`", cli.manifest.display());
        return Err(Error::Usage { message, help: None });
    };
    let inventory = if args.snapshots.is_empty() {
        let wanted = check::wanted(manifest, &envs, !args.no_iam);
        super::check::fetch_with(cli, &wanted, &args.fetch, &super::check::runtime()?)?.inventory()
    } else {
        let snapshots = args
            .snapshots
            .iter()
            .map(|p| Snapshot::read(p).map_err(|e| Error::Usage { message: e.message, help: None }))
            .collect::<Result<Vec<_>, _>>()?;
        Inventory::from_snapshots(&snapshots)
    };
    let now = jiff::Timestamp::now();
    let options = CheckOptions { now, expiry_days: 30, max_snapshot_age_days: 7 };
    check::check(&mut project, &envs, &inventory, &options);
    if args.live {
        super::check::runtime()?.block_on(super::check::live(&mut project, &envs));
    }
    let manifest = project.manifest.as_ref().expect("checked above");
    let mut ignore: Vec<String> =
        manifest.policy.ignore_orphans.iter().map(|p| p.value.clone()).collect();
    ignore.extend(args.ignore_orphans.iter().cloned());
    let report = audit::build(manifest, &envs, &project.diagnostics, &inventory, &ignore, now);
    tracing::debug!(requests = report.requests, "Secret Manager requests");
    let color =
        args.output.is_none() && super::use_color(cli.color, std::io::stdout().is_terminal());
    let text = match args.format {
        AuditFormat::Table => format::table(&report, color),
        AuditFormat::Markdown => format::markdown(&report),
        AuditFormat::Json => format::json(&report),
        AuditFormat::Html => format::html(&report),
    };
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .map_err(|source| Error::Unreadable { path: path.clone(), source })?,
        None => {
            super::print(&text);
        }
    }
    let below = args.fail_under.is_some_and(|limit| report.coverage.percent() < limit);
    Ok(if below { exit::FINDINGS } else { exit::OK })
}
