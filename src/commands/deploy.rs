//! `secretgate deploy`: gate, render and plan every selected service, then either a dry run,
//! or confirm, roll out one service after another, and report.
//!
//! [`run`] reads as the list of steps; each step is a method of [`Deploy`], which carries what
//! the steps share. What is printed is built by [`crate::report::deploy`].

use super::check::Source;
use super::{output, print};
use crate::check::{self, CheckOptions};
use crate::cli::{Cli, DeployArgs, DeployFormat};
use crate::cloudrun::{ApiError, CloudRun};
use crate::deploy::{self, Outcome, Plan, Status, WaitOutcome};
use crate::diagnostic::{Diagnostic, Severity};
use crate::error::{Error, exit};
use crate::inventory::Inventory;
use crate::lint::{Project, lint};
use crate::manifest::Manifest;
use crate::render::RenderOptions;
use crate::report::{self, Format};
use crate::resolve::{self, Deployment};
use crate::rules::unknown_container;
use crate::suggest::refuse_unknown;
use crate::yaml::Node;
use serde_json::Value;
use std::io::{BufRead, IsTerminal, Write};
use std::time::{Duration, Instant};

/// One service rendered and ready to go out.
pub(super) struct Prepared {
    name: String,
    project: String,
    region: String,
    container: usize,
    pub(super) rendered: Node,
    /// The spec file's tree, which stands in for the live service with `--snapshot`.
    spec_tree: Node,
    /// Optional entries left out because their secret is unusable.
    left_out: Vec<String>,
}

/// A planned service: what goes out, and the live service it replaces (`None`: a new one).
struct Target {
    prepared: Prepared,
    live: Option<Value>,
}

/// How the gate ended.
enum Gate {
    Passed(Inventory),
    /// Refused with this exit code; the findings are printed.
    Refused(u8),
}

/// What the steps of one run share.
struct Deploy<'a> {
    cli: &'a Cli,
    args: &'a DeployArgs,
    color: bool,
    runtime: tokio::runtime::Runtime,
    project: Project,
    services: Vec<String>,
    /// The gate's findings about the selected services; only warnings once it has passed.
    findings: Vec<Diagnostic>,
    /// Secret Manager requests the gate made.
    requests: usize,
    /// `--timeout` after the command started: the gate's Secret Manager reads and the plan's
    /// Cloud Run reads share it. The rollout has `--wait-timeout` instead.
    deadline: Instant,
}

/// Runs `deploy` step by step; returns the exit code.
pub fn run(cli: &Cli, args: &DeployArgs, color: bool) -> Result<u8, Error> {
    let started = Instant::now();
    let mut project = Project::load(&cli.manifest)?;
    lint(&mut project, std::slice::from_ref(&args.env))?;
    let services = select_services(&project, &args.env, &args.services)?;
    check_arguments(args, &services)?;
    let runtime = super::check::runtime()?;
    let findings = Vec::new();
    let deadline = started + Duration::from_secs(args.verify.fetch.timeout);
    let mut steps =
        Deploy { cli, args, color, runtime, project, services, findings, requests: 0, deadline };

    let inventory = match steps.gate(started)? {
        Gate::Passed(inventory) => inventory,
        Gate::Refused(code) => return Ok(code),
    };

    let prepared = steps.render(&inventory)?;
    let client = steps.client()?;
    let (targets, mut outcomes) = steps.plan(prepared, client.as_ref());

    if args.dry_run {
        return Ok(steps.dry_run(client.as_ref(), &targets, &mut outcomes));
    }
    if outcomes.iter().any(|o| o.status == Status::Unverified) {
        return Ok(steps.refuse_unread(&mut outcomes));
    }
    let Some(client) = client else {
        // clap lets `--snapshot` in only with `--dry-run`; this says so if that ever changes.
        return Err(Error::Usage {
            message: "--snapshot plans against the spec files, so it cannot deploy".into(),
            help: Some("add --dry-run, or leave out --snapshot to deploy".into()),
        });
    };
    if !steps.confirm(&targets, &mut outcomes)? {
        noteln!("nothing was deployed");
        return Ok(exit::OK);
    }
    let code = steps.roll_out(&client, &targets, &mut outcomes);
    steps.finish(&outcomes, code);
    Ok(code)
}

/// Option combinations clap cannot express, refused before anything is read.
fn check_arguments(args: &DeployArgs, services: &[String]) -> Result<(), Error> {
    if args.image.is_some() && services.len() != 1 {
        return Err(Error::Usage {
            message: "--image needs exactly one service".into(),
            help: Some("name it with --service NAME".into()),
        });
    }
    if args.format == DeployFormat::Json && !args.yes && !args.dry_run {
        // The question would be asked about a plan the JSON report shows only at the end.
        return Err(Error::Usage {
            message: "deploy --format json does not ask for confirmation".into(),
            help: Some("pass --yes to deploy, or --dry-run to see the plan".into()),
        });
    }
    Ok(())
}

impl Deploy<'_> {
    /// Lints and checks every selected service before anything is deployed. What could not be
    /// verified refuses the deploy too, on optional entries as well (see
    /// [`CheckOptions::fail_closed`]).
    fn gate(&mut self, started: Instant) -> Result<Gate, Error> {
        let inventory = self.inventory()?;
        let options = CheckOptions {
            max_snapshot_age_days: self.args.max_snapshot_age,
            fail_closed: true,
            ..CheckOptions::now()
        };
        check::check(&mut self.project, std::slice::from_ref(&self.args.env), &inventory, &options);
        self.requests = inventory.requests;
        let (elapsed, services) = (started.elapsed(), self.services.len());
        tracing::info!(?elapsed, requests = self.requests, services, "gate checked");
        self.findings = deploy::gate_findings(&self.project.diagnostics, &self.services);
        if deploy::blocks(&self.findings) {
            return Ok(Gate::Refused(self.refuse()));
        }
        if self.args.format == DeployFormat::Human && !self.cli.quiet && !self.findings.is_empty() {
            // Warnings do not stop the deploy, but whoever deploys should see them first.
            show_findings(self.cli, &self.project, &self.findings, self.color);
        }
        Ok(Gate::Passed(inventory))
    }

    /// Reads Secret Manager (or the snapshots) for the selected services.
    fn inventory(&mut self) -> Result<Inventory, Error> {
        if self.project.manifest.is_none() {
            return Ok(Inventory::default());
        }
        let (args, runtime) = (self.args, &self.runtime);
        let (cli, snapshots, no_iam) = (self.cli, &args.snapshots, args.verify.no_iam);
        let source = Source { cli, snapshots, no_iam, fetch: &args.verify.fetch, runtime };
        let (deadline, envs) = (self.deadline, std::slice::from_ref(&args.env));
        let (project, services) = (&mut self.project, &self.services);
        source
            .inventory(deadline, |iam| Some(check::wanted_for(project, envs, Some(services), iam)))
    }

    /// Prints why the gate refused; returns the exit code: 3 when the only errors are about
    /// what could not be verified, 1 otherwise.
    fn refuse(&mut self) -> u8 {
        let code = check::exit_code(&self.findings, false);
        if self.args.format == DeployFormat::Json {
            print(&self.json(&[], code));
            return code;
        }
        let count = self.findings.iter().filter(|d| d.severity == Severity::Error).count();
        show_findings(self.cli, &self.project, &self.findings, self.color);
        let why =
            if code == exit::INCOMPLETE { "could not be verified" } else { "failed the gate" };
        noteln!("error: deploy refused: {count} problem(s) {why}; nothing was deployed");
        code
    }

    /// Renders every selected service, with `--image`, `--pin-versions` and
    /// `--force-new-revision` applied.
    fn render(&mut self, inventory: &Inventory) -> Result<Vec<Prepared>, Error> {
        let mut options = RenderOptions { image: self.args.image.clone(), ..Default::default() };
        if self.args.force_new_revision {
            options.force_revision = Some(jiff::Timestamp::now().to_string());
        }
        let rendering = Rendering {
            env: &self.args.env,
            services: &self.services,
            options: &options,
            pins: self.args.pin_versions.then_some(inventory),
            findings: &self.findings,
        };
        prepare(&mut self.project, &rendering)
    }

    /// The Cloud Run client; `None` with `--snapshot`, which reaches no Google API.
    fn client(&self) -> Result<Option<CloudRun>, Error> {
        if !self.args.snapshots.is_empty() {
            return Ok(None);
        }
        let timeout = Duration::from_secs(self.args.verify.fetch.timeout);
        let client = self.runtime.block_on(async { CloudRun::new(timeout) });
        let help = "run `gcloud auth application-default login`, or use --dry-run --snapshot FILE";
        client.map(Some).map_err(|message| Error::Usage { message, help: Some(help.into()) })
    }

    /// Reads each service as deployed now (its spec file without a client) and plans it,
    /// printing the plans in the human format. A live service that cannot be read is not
    /// planned: its outcome is `unverified`, and its target must not be written.
    fn plan(
        &self,
        prepared: Vec<Prepared>,
        client: Option<&CloudRun>,
    ) -> (Vec<Target>, Vec<Outcome>) {
        let (mut targets, mut outcomes) = (Vec::new(), Vec::new());
        let reader = client.map(|c| c.clone().with_deadline(self.deadline));
        for p in prepared {
            let read = match &reader {
                None => Ok(Some(p.spec_tree.to_json())),
                Some(c) => self.runtime.block_on(c.get(&p.region, &p.project, &p.name)),
            };
            let (outcome, live) = match read {
                Ok(live) => (planned(&p, live.as_ref(), client.is_some()), live),
                Err(e) => (unread_outcome(&p, &e), None),
            };
            if self.args.format == DeployFormat::Human {
                print(&report::deploy::plan(&outcome, client.is_none()));
            }
            outcomes.push(outcome);
            targets.push(Target { prepared: p, live });
        }
        (targets, outcomes)
    }

    /// Some live services could not be read, so nothing is deployed (exit 3): the others are
    /// `skipped`, and the report names every service.
    fn refuse_unread(&self, outcomes: &mut [Outcome]) -> u8 {
        let unread: Vec<String> = outcomes
            .iter()
            .filter(|o| o.status == Status::Unverified)
            .map(|o| format!("`{}`", o.name))
            .collect();
        let why =
            format!("not deployed: the live state of {} could not be read", unread.join(", "));
        for o in outcomes.iter_mut().filter(|o| o.status != Status::Unverified) {
            o.ended(Status::Skipped, why.clone());
        }
        if self.args.format == DeployFormat::Json {
            print(&self.json(outcomes, exit::INCOMPLETE));
            return exit::INCOMPLETE;
        }
        for o in outcomes.iter().filter(|o| o.status == Status::Unverified) {
            noteln!("error: {}", o.message.as_deref().unwrap_or_default());
        }
        noteln!("error: nothing was deployed");
        exit::INCOMPLETE
    }

    /// `--dry-run`: online, Cloud Run also validates each service without persisting it
    /// (`dryRun=all`). Returns 1 when it rejected a service, 3 when a validation got no usable
    /// answer, 0 otherwise.
    fn dry_run(
        &self,
        client: Option<&CloudRun>,
        targets: &[Target],
        outcomes: &mut [Outcome],
    ) -> u8 {
        if let Some(client) = client {
            let planned = targets.iter().zip(outcomes.iter_mut());
            for (target, outcome) in planned.filter(|(_, o)| o.status == Status::Planned) {
                if let Err(e) = self.runtime.block_on(validate(client, target)) {
                    record_validation(outcome, &e);
                }
            }
        }
        let ended = |status| outcomes.iter().any(|o| o.status == status);
        let code = if ended(Status::Rejected) {
            exit::FINDINGS
        } else if ended(Status::Unverified) {
            exit::INCOMPLETE
        } else {
            exit::OK
        };
        self.finish(outcomes, code);
        if self.args.format == DeployFormat::Human && !self.cli.quiet {
            noteln!("dry run: nothing was deployed");
        }
        code
    }

    /// Leaves unchanged services alone, then asks before the others are deployed, unless
    /// `--yes`. False when the answer is no.
    fn confirm(&self, targets: &[Target], outcomes: &mut [Outcome]) -> Result<bool, Error> {
        let changed = skip_unchanged(targets, outcomes);
        Ok(changed == 0 || self.args.yes || ask(&self.args.env, changed)?)
    }

    /// Applies and waits, one service after another; once one fails, the rest are skipped,
    /// with a message naming it. Returns the exit code.
    fn roll_out(&self, client: &CloudRun, targets: &[Target], outcomes: &mut [Outcome]) -> u8 {
        let mut code = exit::OK;
        // The service rolled out last: once `code` is not OK, the one that failed.
        let mut last = String::new();
        for (target, outcome) in targets.iter().zip(outcomes.iter_mut()) {
            if outcome.status != Status::Planned {
                continue;
            }
            if code != exit::OK {
                let why = format!("not deployed: the rollout of `{last}` did not end Ready");
                outcome.ended(Status::Skipped, why);
                continue;
            }
            // The latest revision is not Ready: a new one is started even if the template did
            // not change (or changed only outside the template), so that the wait follows a
            // revision of this deploy, not the old failure.
            let restart = outcome.plan.as_ref().is_some_and(|plan| plan.latest_not_ready);
            let ended =
                self.runtime.block_on(rollout(client, target, restart, self.args, self.cli));
            code = record_rollout(outcome, ended, self.args.wait_timeout);
            last.clone_from(&outcome.name);
        }
        code
    }

    /// Prints the report at the end: the JSON document, or a paragraph per service.
    fn finish(&self, outcomes: &[Outcome], code: u8) {
        if self.args.format == DeployFormat::Json {
            print(&self.json(outcomes, code));
            return;
        }
        // The report is what was asked for: `-q` keeps it.
        let text = report::deploy::summary(outcomes);
        if !text.is_empty() {
            print(&text);
        }
    }

    /// The JSON document of this run, with the gate's findings and `outcomes`.
    fn json(&self, outcomes: &[Outcome], code: u8) -> String {
        let totals = report::deploy::Totals {
            env: &self.args.env,
            exit_code: code,
            requests: self.requests,
        };
        report::deploy::json(&self.findings, &self.project.sources, outcomes, &totals)
    }
}

/// The outcome of a service once planned against `live`: the live service when `online`, else
/// its spec file.
fn planned(p: &Prepared, live: Option<&Value>, online: bool) -> Outcome {
    let live_tree = live.map(Node::from_json);
    let container = deploy::container_name(&p.rendered, p.container);
    let mut outcome = Outcome::new(&p.name, &p.project, &p.region);
    let baseline = if online { "live" } else { "spec" };
    let plan = deploy::plan(&p.rendered, live_tree.as_ref(), baseline, &p.project, p.container);
    outcome.plan = Some(plan);
    outcome.mappings = deploy::mappings(&p.rendered, &p.project, container.as_deref());
    outcome.left_out = p.left_out.clone();
    outcome.serving = live_status(live, "latestReadyRevisionName");
    outcome
}

/// The outcome of a service whose live state could not be read: nothing is known to plan.
fn unread_outcome(p: &Prepared, e: &ApiError) -> Outcome {
    let mut outcome = Outcome::new(&p.name, &p.project, &p.region);
    outcome.ended(Status::Unverified, format!("cannot read the live service `{}`: {e}", p.name));
    outcome
}

/// A field of a live service's `status`.
fn live_status(live: Option<&Value>, key: &str) -> Option<String> {
    live?.pointer(&format!("/status/{key}"))?.as_str().map(str::to_string)
}

/// Sends a service with `dryRun=all`: Cloud Run validates it and persists nothing.
async fn validate(client: &CloudRun, target: &Target) -> Result<Value, ApiError> {
    let p = &target.prepared;
    let body = deploy::request_body(&p.rendered, target.live.as_ref());
    match target.live {
        Some(_) => client.replace(&p.region, &p.project, &p.name, &body, true).await,
        None => client.create(&p.region, &p.project, &body, true).await,
    }
}

/// A failed validation: a refusal is Cloud Run's verdict on the service; anything else (no
/// answer, a server error, throttling) leaves the service not validated.
fn record_validation(outcome: &mut Outcome, e: &ApiError) {
    if e.is_verdict() {
        outcome.ended(Status::Rejected, format!("Cloud Run rejected the service: {e}"));
    } else {
        let message = format!("Cloud Run's validation of the service got no usable answer: {e}");
        outcome.ended(Status::Unverified, message);
    }
}

/// A service whose plan is empty is left alone: replacing it would only start a revision
/// identical to the running one. `--force-new-revision` always changes the plan. Returns how
/// many services are still to deploy.
fn skip_unchanged(targets: &[Target], outcomes: &mut [Outcome]) -> usize {
    for (target, outcome) in targets.iter().zip(outcomes.iter_mut()) {
        if outcome.plan.as_ref().is_some_and(Plan::is_empty) {
            outcome.status = Status::Unchanged;
            outcome.revision = live_status(target.live.as_ref(), "latestReadyRevisionName");
            outcome.url = live_status(target.live.as_ref(), "url");
        }
    }
    outcomes.iter().filter(|o| o.status == Status::Planned).count()
}

/// Writes how a rollout ended into its outcome; returns the exit code that calls for.
fn record_rollout(outcome: &mut Outcome, ended: Result<WaitOutcome, Refused>, waited: u64) -> u8 {
    match ended {
        Ok(WaitOutcome::Ready { revision, url }) => {
            outcome.status = Status::Deployed;
            outcome.revision = Some(revision);
            outcome.url = Some(url);
            return exit::OK;
        }
        Ok(WaitOutcome::Failed { reason, message }) => {
            outcome.ended(Status::Failed, format!("{reason}: {message}"));
        }
        Ok(WaitOutcome::TimedOut { last }) => {
            let last = if last.is_empty() { "none was read".to_string() } else { last };
            let message = format!("not Ready after {waited} s; last status: {last}");
            outcome.ended(Status::Failed, message);
        }
        Err(Refused::Failed(message)) => {
            outcome.write_refused = true;
            outcome.ended(Status::Failed, message);
        }
        Err(Refused::Unknown(message)) => outcome.ended(Status::Unknown, message),
    }
    exit::ROLLOUT_FAILED
}

/// The services to deploy: those named, or every service of the environment.
pub(super) fn select_services(
    project: &Project,
    env: &str,
    wanted: &[String],
) -> Result<Vec<String>, Error> {
    project.select_environments(&[env.to_string()])?;
    let Some(manifest) = &project.manifest else { return Ok(wanted.to_vec()) };
    let in_env: Vec<&str> = manifest
        .services
        .iter()
        .filter(|s| manifest.service_in_env(s, env))
        .map(|s| s.name.value.as_str())
        .collect();
    if wanted.is_empty() {
        return Ok(in_env.iter().map(|s| s.to_string()).collect());
    }
    let unknown = |name: &str| format!("no service `{name}` in environment `{env}`");
    refuse_unknown(wanted, &in_env, unknown, &format!("services deployed to `{env}`"))?;
    Ok(wanted.to_vec())
}

/// What rendering the selected services takes besides the project.
pub(super) struct Rendering<'a> {
    pub env: &'a str,
    pub services: &'a [String],
    pub options: &'a RenderOptions,
    /// With `--pin-versions`: the inventory that `latest` is resolved from.
    pub pins: Option<&'a Inventory>,
    /// The gate's findings: the optional entries they find unusable are left out.
    pub findings: &'a [Diagnostic],
}

/// Renders every selected service.
pub(super) fn prepare(
    project: &mut Project,
    rendering: &Rendering,
) -> Result<Vec<Prepared>, Error> {
    let Some(manifest) = project.manifest.take() else {
        return Err(Error::Usage { message: "the manifest could not be read".into(), help: None });
    };
    let result = prepare_with(project, &manifest, rendering);
    project.manifest = Some(manifest);
    result
}

fn prepare_with(
    project: &mut Project,
    manifest: &Manifest,
    rendering: &Rendering,
) -> Result<Vec<Prepared>, Error> {
    let env = rendering.env;
    let environment = manifest.environment(env).ok_or_else(|| Error::Usage {
        message: format!("unknown environment `{env}`"),
        help: None,
    })?;
    let deployments = resolve::resolve(manifest, environment, &mut Vec::new());
    let selected =
        deployments.iter().filter(|d| rendering.services.contains(&d.service.name.value));
    selected.map(|deployment| prepare_one(project, manifest, deployment, rendering)).collect()
}

fn prepare_one(
    project: &mut Project,
    manifest: &Manifest,
    deployment: &Deployment,
    rendering: &Rendering,
) -> Result<Prepared, Error> {
    let name = deployment.service.name.value.clone();
    let unusable = || Error::Usage {
        message: format!("the spec of `{name}` cannot be used; run `secretgate lint`"),
        help: None,
    };
    let spec = project.spec_for(deployment, manifest.file).ok_or_else(unusable)?;
    same_name(&name, spec)?;
    let container =
        unknown_container::select(manifest, deployment.service, spec).map_err(|_| unusable())?;
    let mut options = rendering.options.clone();
    if let Some(inventory) = rendering.pins {
        options.pins = deploy::pins(deployment, inventory);
    }
    options.leave_out = deploy::leave_out(rendering.findings, &name);
    let rendered = deploy::render_deployment(deployment, spec, container, &options)
        .map_err(|message| Error::Usage { message, help: None })?;
    let text = |v: &Option<crate::manifest::Sp<String>>| {
        v.as_ref().map_or(String::new(), |s| s.value.clone())
    };
    Ok(Prepared {
        name,
        project: text(&deployment.env.project),
        region: text(&deployment.env.region),
        container,
        rendered,
        spec_tree: spec.root.clone(),
        left_out: options.leave_out.into_iter().collect(),
    })
}

/// Refuses a spec whose `metadata.name` is not the service's: Cloud Run creates the service
/// the body names, so the plan, the wait and the report would all be about another one.
fn same_name(name: &str, spec: &crate::spec::ServiceSpec) -> Result<(), Error> {
    let Some(named) = spec.name.as_ref().filter(|n| n.value != name) else { return Ok(()) };
    Err(Error::Usage {
        message: format!(
            "the spec of `{name}` names the service `{}` (metadata.name); deploying it would \
             write `{}`, not `{name}`",
            named.value, named.value
        ),
        help: Some("make the spec's metadata.name and the secrets.yaml key agree".into()),
    })
}

/// Why a rollout did not end Ready.
enum Refused {
    /// Cloud Run refused the write.
    Failed(String),
    /// The write got no answer (it may or may not have been applied), or the service was lost
    /// track of after it.
    Unknown(String),
}

/// Applies one service and waits for its new revision.
async fn rollout(
    client: &CloudRun,
    target: &Target,
    restart: bool,
    args: &DeployArgs,
    cli: &Cli,
) -> Result<WaitOutcome, Refused> {
    let p = &target.prepared;
    let generation = write(client, target, restart).await?;
    let spinner = (!cli.quiet && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.enable_steady_tick(Duration::from_millis(120));
        bar.set_message(format!("{}: rolling out", p.name));
        bar
    });
    let show = |message: &str| {
        if let Some(bar) = &spinner {
            bar.set_message(format!("{}: {message}", p.name));
        }
    };
    let wait = deploy::WaitFor {
        region: &p.region,
        project: &p.project,
        name: &p.name,
        generation,
        timeout: Duration::from_secs(args.wait_timeout),
        poll: Duration::from_secs_f64(args.poll_interval),
    };
    tracing::info!(service = %p.name, generation, "written; waiting for Ready");
    let outcome = deploy::wait(client, &wait, &show).await;
    if let Some(bar) = spinner {
        bar.finish_and_clear();
    }
    outcome.map_err(|e| {
        // The write went through; whether its revision became Ready is not known.
        Refused::Unknown(format!("lost track of `{}` while waiting: {e}", p.name))
    })
}

/// Creates or replaces the service; returns the generation the write produced.
async fn write(client: &CloudRun, target: &Target, restart: bool) -> Result<i64, Refused> {
    let p = &target.prepared;
    let live = target.live.as_ref();
    let mut body = deploy::request_body(&p.rendered, live);
    if restart {
        // The template is unchanged, so Cloud Run would start no revision without this.
        deploy::force_new_revision(&mut body, &jiff::Timestamp::now().to_string());
    }
    let written = match live {
        Some(_) => client.replace(&p.region, &p.project, &p.name, &body, false).await,
        None => client.create(&p.region, &p.project, &body, false).await,
    };
    let written = written.map_err(|e| {
        if e.is_conflict() {
            Refused::Failed(format!(
                "`{}` was changed by someone else since it was read ({e}); nothing was \
                 overwritten, run deploy again to see the new plan",
                p.name
            ))
        } else if e.outcome_unknown() {
            Refused::Unknown(format!("no answer from Cloud Run to the write of `{}`: {e}", p.name))
        } else {
            Refused::Failed(format!("Cloud Run refused `{}`: {e}", p.name))
        }
    })?;
    Ok(written.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(1))
}

/// Asks on the terminal; refuses without one.
fn ask(env: &str, count: usize) -> Result<bool, Error> {
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Err(Error::Usage {
            message: "deploy needs confirmation, and there is no terminal to ask on".into(),
            help: Some("pass --yes to deploy without asking, or --dry-run to see the plan".into()),
        });
    }
    note!("Deploy {count} service(s) to `{env}`? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).map_err(|e| Error::Usage {
        message: format!("cannot read the answer: {e}"),
        help: None,
    })?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

/// Prints the gate's findings in the human format.
pub(super) fn show_findings(cli: &Cli, project: &Project, findings: &[Diagnostic], color: bool) {
    let sources = &project.sources;
    output::findings(cli, "deploy", Format::Human, findings, sources, Default::default(), color);
}
