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
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub fn run(cli: &Cli, args: &CheckArgs, color: bool) -> Result<u8, Error> {
    let started = Instant::now();
    // One `--timeout` for the whole run: Secret Manager and, with `--live`, Cloud Run.
    let deadline = started + Duration::from_secs(args.verify.fetch.timeout);
    let mut project = Project::load(&cli.manifest)?;
    lint(&mut project, &args.envs.names)?;
    let envs = project.select_environments(&args.envs.names)?;
    let runtime = runtime()?;
    let (snapshots, no_iam, fetch) =
        (&args.snapshots.files, args.verify.no_iam, &args.verify.fetch);
    let source = Source { cli, snapshots, no_iam, fetch, runtime: &runtime };
    let inventory = source.inventory(deadline, |iam| {
        project.manifest.is_some().then(|| check::wanted(&mut project, &envs, iam))
    })?;
    let options = CheckOptions {
        expiry_days: args.expiry_days,
        max_snapshot_age_days: args.max_snapshot_age,
        ..CheckOptions::now()
    };
    check::check(&mut project, &envs, &inventory, &options);
    if args.live {
        let live = live(&mut project, &envs, &inventory, &args.verify.fetch, deadline);
        runtime.block_on(live);
    }
    tracing::info!(elapsed = ?started.elapsed(), requests = inventory.requests, "check finished");
    let mut extra = Map::new();
    extra.insert("requests".into(), json!(inventory.requests));
    let (found, sources) = (&project.diagnostics, &project.sources);
    output::findings(cli, "check", args.report.format, found, sources, extra, color);
    Ok(check::exit_code(&project.diagnostics, args.report.deny_warnings))
}

/// Where a command reads Secret Manager's metadata from.
pub(super) struct Source<'a> {
    pub cli: &'a Cli,
    /// The `--snapshot` files; none: the API is read.
    pub snapshots: &'a [PathBuf],
    /// `--no-iam`: no IAM policy is read.
    pub no_iam: bool,
    pub fetch: &'a FetchArgs,
    pub runtime: &'a tokio::runtime::Runtime,
}

impl Source<'_> {
    /// The metadata from the snapshots when there are some, otherwise read by `deadline` for
    /// what `wanted` asks (nothing without a manifest); without IAM policies with `--no-iam`.
    /// `wanted` is told whether IAM policies are to be read.
    pub fn inventory(
        &self,
        deadline: Instant,
        wanted: impl FnOnce(bool) -> Option<Wanted>,
    ) -> Result<Inventory, Error> {
        let no_iam = self.no_iam;
        let inventory = if !self.snapshots.is_empty() {
            Inventory::from_snapshots(&read_snapshots(self.snapshots)?)
        } else if let Some(wanted) = wanted(!no_iam) {
            fetch_until(self.cli, &wanted, self.fetch, self.runtime, deadline).inventory()
        } else {
            Inventory::default()
        };
        Ok(if no_iam { inventory.without_iam() } else { inventory })
    }
}

/// Reads `--snapshot` files; one that cannot be used is a usage error.
fn read_snapshots(paths: &[PathBuf]) -> Result<Vec<Snapshot>, Error> {
    paths
        .iter()
        .map(|p| Snapshot::read(p).map_err(|e| Error::Usage { message: e.message, help: None }))
        .collect()
}

pub fn snapshot(cli: &Cli, args: &SnapshotArgs) -> Result<u8, Error> {
    let mut project = Project::load(&cli.manifest)?;
    let envs = project.select_environments(std::slice::from_ref(&args.env))?;
    // The findings do not matter here; the specs are read for the accounts they name, which
    // decide whose IAM policies to capture.
    lint(&mut project, &envs)?;
    if super::manifest_is_invalid(&project) {
        return Ok(super::invalid_manifest(cli, &project));
    }
    let wanted = check::wanted(&mut project, &envs, !args.no_iam);
    let deadline = Instant::now() + Duration::from_secs(args.fetch.timeout);
    let fetched = fetch_until(cli, &wanted, &args.fetch, &runtime()?, deadline);
    let captured_at = jiff::Timestamp::now().to_string();
    let snapshot = match fetched.snapshot(captured_at) {
        Ok(s) => s,
        Err(problems) => {
            let mut text =
                String::from("error: the snapshot is incomplete, nothing was written:\n");
            for p in problems {
                text.push_str(&format!("  {p}\n"));
            }
            note!("{text}");
            return Ok(exit::INCOMPLETE);
        }
    };
    output::write_to(args.output.as_deref(), &snapshot.to_json())
        .map_err(|e| e.noting("the snapshot was not saved"))?;
    tracing::info!(requests = fetched.requests, "snapshot captured");
    Ok(exit::OK)
}

/// `--live`: the services as deployed now, read by `deadline`; no credentials is a
/// verification failure, not a usage error, since the same command works where credentials
/// exist.
pub(super) async fn live(
    project: &mut Project,
    envs: &[String],
    inventory: &Inventory,
    fetch: &FetchArgs,
    deadline: Instant,
) {
    match crate::cloudrun::CloudRun::new(Duration::from_secs(fetch.timeout)) {
        Ok(client) => {
            let client = client.with_deadline(deadline);
            let concurrency = usize::from(fetch.concurrency);
            let options = check::LiveOptions { client: &client, inventory, concurrency };
            check::check_live(project, envs, &options).await;
        }
        Err(reason) => {
            let rule = &crate::rules::verification_incomplete::RULE;
            let message = format!("not verified: the live services ({reason})");
            let help = "run `gcloud auth application-default login`, or set RUN_EMULATOR_HOST";
            project.diagnostics.push(crate::diagnostic::Diagnostic::new(rule, message).help(help));
        }
    }
}

/// Reads Secret Manager by `deadline`, with a progress bar on a terminal.
fn fetch_until(
    cli: &Cli,
    wanted: &Wanted,
    args: &FetchArgs,
    runtime: &tokio::runtime::Runtime,
    deadline: Instant,
) -> Fetched {
    let timeout = Duration::from_secs(args.timeout);
    let options = FetchOptions {
        concurrency: usize::from(args.concurrency),
        max_rps: args.max_rps,
        timeout,
        deadline,
        call_timeout: Duration::from_secs(10).min(timeout),
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
    fetched
}

pub(super) fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| Error::Usage {
        message: format!("cannot start the async runtime: {e}"),
        help: None,
    })
}
