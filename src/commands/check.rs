//! `secretgate check` and `secretgate snapshot`.

use super::output;
use crate::check::{self, CheckOptions};
use crate::cli::{CheckArgs, Cli, FetchArgs, SnapshotArgs};
use crate::error::{Error, exit};
use crate::inventory::Inventory;
use crate::inventory::live::{self, FetchOptions, Fetched, Wanted};
use crate::inventory::snapshot::Snapshot;
use crate::lint::{Project, lint};
use serde_json::{Map, json};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

pub fn run(cli: &Cli, args: &CheckArgs, color: bool) -> Result<u8, Error> {
    let started = Instant::now();
    let mut project = Project::load(&cli.manifest)?;
    lint(&mut project, &args.envs)?;
    let envs = project.select_environments(&args.envs)?;
    let snapshots = args
        .snapshots
        .iter()
        .map(|p| Snapshot::read(p).map_err(|e| Error::Usage { message: e.message, help: None }))
        .collect::<Result<Vec<_>, _>>()?;
    let inventory = match (&project.manifest, snapshots.is_empty()) {
        (Some(_), false) => Inventory::from_snapshots(&snapshots),
        (Some(manifest), true) => {
            let wanted = check::wanted(manifest, &envs, !args.no_iam);
            fetch(cli, &wanted, &args.fetch)?.inventory()
        }
        (None, _) => Inventory::default(),
    };
    let options = CheckOptions {
        now: jiff::Timestamp::now(),
        expiry_days: args.expiry_days,
        max_snapshot_age_days: args.max_snapshot_age,
    };
    check::check(&mut project, &envs, &inventory, &options);
    if args.live {
        runtime()?.block_on(live(&mut project, &envs, args.fetch.timeout));
    }
    tracing::info!(elapsed = ?started.elapsed(), requests = inventory.requests, "check finished");
    let mut extra = Map::new();
    extra.insert("requests".into(), json!(inventory.requests));
    output::findings(cli, "check", args.format, &project, extra, color);
    Ok(check::exit_code(&project.diagnostics, args.deny_warnings))
}

pub fn snapshot(cli: &Cli, args: &SnapshotArgs) -> Result<u8, Error> {
    let project = Project::load(&cli.manifest)?;
    let Some(manifest) = &project.manifest else {
        return Ok(super::invalid_manifest(cli, &project));
    };
    let envs = project.select_environments(std::slice::from_ref(&args.env))?;
    let wanted = check::wanted(manifest, &envs, !args.no_iam);
    let fetched = fetch(cli, &wanted, &args.fetch)?;
    let captured_at = jiff::Timestamp::now().to_string();
    let snapshot = match fetched.snapshot(captured_at) {
        Ok(s) => s,
        Err(problems) => {
            let mut text =
                String::from("error: the snapshot is incomplete, nothing was written:\n");
            for p in problems {
                text.push_str(&format!("  {p}\n"));
            }
            eprint!("{text}");
            return Ok(exit::INCOMPLETE);
        }
    };
    match &args.output {
        Some(path) => std::fs::write(path, snapshot.to_json()).map_err(|e| Error::Usage {
            message: format!("cannot write {}: {e}; the snapshot was not saved", path.display()),
            help: None,
        })?,
        None => {
            super::print(&snapshot.to_json());
        }
    }
    tracing::info!(requests = fetched.requests, "snapshot captured");
    Ok(exit::OK)
}

/// `--live`: the services as deployed now; no credentials is a verification failure, not a
/// usage error, since the same command works where credentials exist.
pub(super) async fn live(project: &mut Project, envs: &[String], timeout: u64) {
    match crate::cloudrun::CloudRun::new(Duration::from_secs(timeout)) {
        Ok(client) => check::check_live(project, envs, &client).await,
        Err(reason) => {
            let rule = &crate::rules::verification_incomplete::RULE;
            let message = format!("not verified: the live services ({reason})");
            let help = "run `gcloud auth application-default login`, or set RUN_EMULATOR_HOST";
            project.diagnostics.push(crate::diagnostic::Diagnostic::new(rule, message).help(help));
        }
    }
}

/// Reads Secret Manager with a progress bar on a terminal.
fn fetch(cli: &Cli, wanted: &Wanted, args: &FetchArgs) -> Result<Fetched, Error> {
    fetch_with(cli, wanted, args, &runtime()?)
}

/// [`fetch`] on a given runtime.
pub(super) fn fetch_with(
    cli: &Cli,
    wanted: &Wanted,
    args: &FetchArgs,
    runtime: &tokio::runtime::Runtime,
) -> Result<Fetched, Error> {
    let options = FetchOptions {
        concurrency: usize::from(args.concurrency),
        max_rps: args.max_rps,
        timeout: Duration::from_secs(args.timeout),
        call_timeout: Duration::from_secs(10).min(Duration::from_secs(args.timeout)),
    };
    let bar = (!cli.quiet && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_message("reading Secret Manager");
        bar
    });
    let progress = |done: usize, total: usize| {
        if let Some(bar) = &bar {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        }
    };
    let fetched = runtime.block_on(live::fetch(wanted, &options, &progress));
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    tracing::debug!(requests = fetched.requests, "Secret Manager requests");
    Ok(fetched)
}

pub(super) fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| Error::Usage {
        message: format!("cannot start the async runtime: {e}"),
        help: None,
    })
}
