//! `secretgate deploy` and `secretgate render`.

use super::{print, render as output};
use crate::check::{self, CheckOptions};
use crate::cli::{Cli, DeployArgs, DeployFormat, RenderArgs};
use crate::cloudrun::CloudRun;
use crate::deploy::{self, Mapping, Plan, WaitOutcome};
use crate::diagnostic::Diagnostic;
use crate::error::{Error, exit};
use crate::inventory::Inventory;
use crate::inventory::snapshot::Snapshot;
use crate::lint::{Project, lint};
use crate::manifest::Manifest;
use crate::render::RenderOptions;
use crate::report::Format;
use crate::resolve::{self, Deployment};
use crate::rules::unknown_container;
use crate::suggest::did_you_mean;
use crate::yaml::Node;
use serde_json::{Value, json};
use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

/// One service ready to go out.
struct Prepared {
    name: String,
    project: String,
    region: String,
    container: usize,
    rendered: Node,
    /// The spec file's tree, used as "live" in snapshot mode.
    spec_tree: Node,
    /// Optional entries left out because their secret is unusable.
    left_out: Vec<String>,
}

/// The outcome of one service, for the report.
struct Outcome {
    name: String,
    status: &'static str,
    plan: Option<Plan>,
    revision: Option<String>,
    url: Option<String>,
    mappings: Vec<Mapping>,
    /// Optional entries not mapped because their secret is unusable.
    left_out: Vec<String>,
    message: Option<String>,
    /// The revision serving before the deploy, if any: where traffic stays when it fails.
    serving: Option<String>,
}

impl Outcome {
    /// A service whose live state could not be read, so nothing was planned or deployed.
    fn unread(name: &str, message: String) -> Outcome {
        Outcome {
            name: name.to_string(),
            status: "unverified",
            plan: None,
            revision: None,
            url: None,
            mappings: Vec::new(),
            left_out: Vec::new(),
            message: Some(message),
            serving: None,
        }
    }
}

pub fn render(cli: &Cli, args: &RenderArgs, color: bool) -> Result<u8, Error> {
    let mut project = Project::load(&cli.manifest)?;
    let envs = [args.env.clone()];
    lint(&mut project, &envs)?;
    let services = select_services(&project, &args.env, std::slice::from_ref(&args.service))?;
    let findings = deploy::gate_findings(&project.diagnostics, &services);
    if deploy::blocks(&findings) {
        show_findings(cli, &mut project, findings, color);
        eprintln!("error: `{}` cannot be rendered until the errors above are fixed", args.service);
        return Ok(exit::FINDINGS);
    }
    let options = RenderOptions { image: args.image.clone(), ..RenderOptions::default() };
    let prepared = prepare(&mut project, &args.env, &services, &options, None, &[])?;
    for p in prepared {
        print(&p.rendered.to_yaml());
    }
    Ok(exit::OK)
}

pub fn run(cli: &Cli, args: &DeployArgs, color: bool) -> Result<u8, Error> {
    let started = std::time::Instant::now();
    let mut project = Project::load(&cli.manifest)?;
    let envs = [args.env.clone()];
    lint(&mut project, &envs)?;
    let services = select_services(&project, &args.env, &args.services)?;
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
    let runtime = super::check::runtime()?;

    // Gate: lint and check every selected service before anything is deployed.
    let inventory = inventory(cli, &project, &envs, &services, args, &runtime)?;
    let options = CheckOptions {
        now: jiff::Timestamp::now(),
        expiry_days: 30,
        max_snapshot_age_days: args.max_snapshot_age,
    };
    check::check(&mut project, &envs, &inventory, &options);
    let (requests, elapsed) = (inventory.requests, started.elapsed());
    tracing::info!(?elapsed, requests, services = services.len(), "gate checked");
    let findings = deploy::gate_findings(&project.diagnostics, &services);
    if deploy::blocks(&findings) {
        let code = check::exit_code(&findings, false);
        let count =
            findings.iter().filter(|d| d.severity == crate::diagnostic::Severity::Error).count();
        if args.format == DeployFormat::Json {
            let outcomes: Vec<Outcome> = Vec::new();
            print(&json_report(
                &project,
                &findings,
                &outcomes,
                &args.env,
                code,
                inventory.requests,
            ));
        } else {
            show_findings(cli, &mut project, findings, color);
            let why =
                if code == exit::INCOMPLETE { "could not be verified" } else { "failed the gate" };
            eprintln!("error: deploy refused: {count} problem(s) {why}; nothing was deployed");
        }
        return Ok(code);
    }
    if args.format == DeployFormat::Human && !cli.quiet && !findings.is_empty() {
        // Warnings do not stop the deploy, but whoever deploys should see them first.
        show_findings(cli, &mut project, findings.clone(), color);
    }

    // Render and plan.
    let mut render_options =
        RenderOptions { image: args.image.clone(), ..RenderOptions::default() };
    if args.force_new_revision {
        render_options.force_revision = Some(jiff::Timestamp::now().to_string());
    }
    let pin_inventory = args.pin_versions.then_some(&inventory);
    let prepared =
        prepare(&mut project, &args.env, &services, &render_options, pin_inventory, &findings)?;
    let offline = !args.snapshots.is_empty();
    let client = if offline {
        None
    } else {
        let timeout = Duration::from_secs(args.fetch.timeout);
        let client = runtime.block_on(async { CloudRun::new(timeout) });
        let help = "run `gcloud auth application-default login`, or use --dry-run --snapshot FILE";
        Some(client.map_err(|message| Error::Usage { message, help: Some(help.into()) })?)
    };
    let mut outcomes = Vec::new();
    let mut lives = Vec::new();
    for p in &prepared {
        let live = match &client {
            None => Some(p.spec_tree.to_json()),
            Some(c) => match runtime.block_on(c.get(&p.region, &p.project, &p.name)) {
                Ok(live) => live,
                Err(e) => {
                    let message = format!("cannot read the live service `{}`: {e}", p.name);
                    if args.format == DeployFormat::Json {
                        let outcome = Outcome::unread(&p.name, message);
                        let code = exit::INCOMPLETE;
                        print(&json_report(&project, &findings, &[outcome], &args.env, code, 0));
                    } else {
                        eprintln!("error: {message}; nothing was deployed");
                    }
                    return Ok(exit::INCOMPLETE);
                }
            },
        };
        let live_tree = live.as_ref().map(Node::from_json);
        let plan = deploy::plan(&p.rendered, live_tree.as_ref(), &p.project, p.container);
        if args.format == DeployFormat::Human {
            print(&plan_text(p, &plan, offline));
        }
        outcomes.push(Outcome {
            name: p.name.clone(),
            status: "planned",
            plan: Some(plan),
            revision: None,
            url: None,
            mappings: deploy::mappings(
                &p.rendered,
                &p.project,
                deploy::container_name(&p.rendered, p.container).as_deref(),
            ),
            left_out: p.left_out.clone(),
            message: None,
            serving: live
                .as_ref()
                .and_then(|l| l.pointer("/status/latestReadyRevisionName"))
                .and_then(Value::as_str)
                .map(str::to_string),
        });
        lives.push(live);
    }

    if args.dry_run {
        if let Some(client) = &client {
            for ((p, live), outcome) in prepared.iter().zip(&lives).zip(&mut outcomes) {
                let body = deploy::request_body(&p.rendered, live.as_ref());
                let result = match live {
                    Some(_) => runtime
                        .block_on(client.replace(&p.region, &p.project, &p.name, &body, true)),
                    None => runtime.block_on(client.create(&p.region, &p.project, &body, true)),
                };
                if let Err(e) = result {
                    outcome.status = "rejected";
                    outcome.message = Some(format!("Cloud Run rejected the service: {e}"));
                    eprintln!("error: Cloud Run's validation of `{}` failed: {e}", p.name);
                }
            }
        }
        let rejected = outcomes.iter().any(|o| o.status == "rejected");
        let code = if rejected { exit::FINDINGS } else { exit::OK };
        finish(&project, &findings, &outcomes, args, code, inventory.requests);
        if args.format == DeployFormat::Human && !cli.quiet {
            eprintln!("dry run: nothing was deployed");
        }
        return Ok(code);
    }

    // A service whose plan is empty is left alone: replacing it would only start a revision
    // identical to the running one. `--force-new-revision` always changes the plan.
    for (live, outcome) in lives.iter().zip(&mut outcomes) {
        if outcome.plan.as_ref().is_some_and(Plan::is_empty) {
            outcome.status = "unchanged";
            let status = |key: &str| {
                live.as_ref()?.pointer(&format!("/status/{key}"))?.as_str().map(str::to_string)
            };
            outcome.revision = status("latestReadyRevisionName");
            outcome.url = status("url");
        }
    }
    let changed = outcomes.iter().filter(|o| o.status == "planned").count();

    // Confirm, then apply and wait, one service after another.
    let client = client.expect("not offline outside --dry-run, as clap requires");
    if changed > 0 && !args.yes && !confirm(&args.env, changed)? {
        eprintln!("nothing was deployed");
        return Ok(exit::OK);
    }
    let mut code = exit::OK;
    for ((p, live), outcome) in prepared.iter().zip(&lives).zip(&mut outcomes) {
        if outcome.status == "unchanged" {
            continue;
        }
        if code != exit::OK {
            outcome.status = "skipped";
            continue;
        }
        // The latest revision is not Ready: a new one is started even if the template did not
        // change (or changed only outside the template), so that the wait follows a revision of
        // this deploy, not the old failure.
        let restart = outcome.plan.as_ref().is_some_and(|plan| plan.latest_not_ready);
        match runtime.block_on(rollout(&client, p, live.as_ref(), restart, args, cli)) {
            Ok((WaitOutcome::Ready { revision, url }, _)) => {
                outcome.status = "deployed";
                outcome.revision = Some(revision);
                outcome.url = Some(url);
            }
            Ok((WaitOutcome::Failed { reason, message }, _)) => {
                outcome.status = "failed";
                outcome.message = Some(format!("{reason}: {message}"));
                code = exit::ROLLOUT_FAILED;
            }
            Ok((WaitOutcome::TimedOut { last }, _)) => {
                outcome.status = "failed";
                let last = if last.is_empty() { "none was read".to_string() } else { last };
                outcome.message =
                    Some(format!("not Ready after {} s; last status: {last}", args.wait_timeout));
                code = exit::ROLLOUT_FAILED;
            }
            Err(Refused::Failed(message)) => {
                outcome.status = "failed";
                outcome.message = Some(message);
                code = exit::ROLLOUT_FAILED;
            }
            Err(Refused::Unknown(message)) => {
                outcome.status = "unknown";
                outcome.message = Some(message);
                code = exit::ROLLOUT_FAILED;
            }
        }
    }
    finish(&project, &findings, &outcomes, args, code, inventory.requests);
    Ok(code)
}

/// Reads Secret Manager (or the snapshots) for the selected services.
fn inventory(
    cli: &Cli,
    project: &Project,
    envs: &[String],
    services: &[String],
    args: &DeployArgs,
    runtime: &tokio::runtime::Runtime,
) -> Result<Inventory, Error> {
    let Some(manifest) = &project.manifest else { return Ok(Inventory::default()) };
    if !args.snapshots.is_empty() {
        let snapshots = args
            .snapshots
            .iter()
            .map(|p| Snapshot::read(p).map_err(|e| Error::Usage { message: e.message, help: None }))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Inventory::from_snapshots(&snapshots));
    }
    let wanted = check::wanted_for(manifest, envs, Some(services), !args.no_iam);
    Ok(super::check::fetch_with(cli, &wanted, &args.fetch, runtime)?.inventory())
}

/// The services to deploy: those named, or every service of the environment.
fn select_services(project: &Project, env: &str, wanted: &[String]) -> Result<Vec<String>, Error> {
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
    for name in wanted {
        if !in_env.contains(&name.as_str()) {
            let help = match did_you_mean(name, in_env.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("services deployed to `{env}`: {}", in_env.join(", ")),
            };
            return Err(Error::Usage {
                message: format!("no service `{name}` in environment `{env}`"),
                help: Some(help),
            });
        }
    }
    Ok(wanted.to_vec())
}

/// Renders every selected service.
fn prepare(
    project: &mut Project,
    env: &str,
    services: &[String],
    options: &RenderOptions,
    pins: Option<&Inventory>,
    findings: &[Diagnostic],
) -> Result<Vec<Prepared>, Error> {
    let Some(manifest) = project.manifest.take() else {
        return Err(Error::Usage { message: "the manifest could not be read".into(), help: None });
    };
    let result = prepare_with(project, &manifest, env, services, options, pins, findings);
    project.manifest = Some(manifest);
    result
}

fn prepare_with(
    project: &mut Project,
    manifest: &Manifest,
    env: &str,
    services: &[String],
    options: &RenderOptions,
    pins: Option<&Inventory>,
    findings: &[Diagnostic],
) -> Result<Vec<Prepared>, Error> {
    let environment = manifest.environment(env).ok_or_else(|| Error::Usage {
        message: format!("unknown environment `{env}`"),
        help: None,
    })?;
    let deployments = resolve::resolve(manifest, environment, &mut Vec::new());
    let mut out = Vec::new();
    for deployment in deployments.iter().filter(|d| services.contains(&d.service.name.value)) {
        out.push(prepare_one(project, manifest, deployment, options, pins, findings)?);
    }
    Ok(out)
}

fn prepare_one(
    project: &mut Project,
    manifest: &Manifest,
    deployment: &Deployment,
    options: &RenderOptions,
    pins: Option<&Inventory>,
    findings: &[Diagnostic],
) -> Result<Prepared, Error> {
    let name = deployment.service.name.value.clone();
    let unusable = || Error::Usage {
        message: format!("the spec of `{name}` cannot be used; run `secretgate lint`"),
        help: None,
    };
    let spec = project.spec_for(deployment, manifest.file).ok_or_else(unusable)?;
    if let Some(named) = spec.name.as_ref().filter(|n| n.value != name) {
        // Cloud Run creates the service the body names: the plan, the wait and the report
        // would all be about another one.
        return Err(Error::Usage {
            message: format!(
                "the spec of `{name}` names the service `{}` (metadata.name); deploying it would \
                 write `{}`, not `{name}`",
                named.value, named.value
            ),
            help: Some("make the spec's metadata.name and the secrets.yaml key agree".into()),
        });
    }
    let container =
        unknown_container::select(manifest, deployment.service, spec).map_err(|_| unusable())?;
    let mut options = options.clone();
    if let Some(inventory) = pins {
        options.pins = deploy::pins(deployment, inventory);
    }
    options.leave_out = deploy::leave_out(findings, &name);
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
    p: &Prepared,
    live: Option<&Value>,
    restart: bool,
    args: &DeployArgs,
    cli: &Cli,
) -> Result<(WaitOutcome, i64), Refused> {
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
    let generation = written.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(1);
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
    let poll = Duration::from_secs_f64(args.poll_interval);
    let wait = deploy::WaitFor {
        region: &p.region,
        project: &p.project,
        name: &p.name,
        generation,
        timeout: Duration::from_secs(args.wait_timeout),
        poll,
    };
    tracing::info!(service = %p.name, generation, "written; waiting for Ready");
    let outcome = deploy::wait(client, &wait, &show).await;
    if let Some(bar) = spinner {
        bar.finish_and_clear();
    }
    outcome.map(|o| (o, generation)).map_err(|e| {
        // The write went through; whether its revision became Ready is not known.
        Refused::Unknown(format!("lost track of `{}` while waiting: {e}", p.name))
    })
}

/// Asks on the terminal; refuses without one.
fn confirm(env: &str, count: usize) -> Result<bool, Error> {
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Err(Error::Usage {
            message: "deploy needs confirmation, and there is no terminal to ask on".into(),
            help: Some("pass --yes to deploy without asking, or --dry-run to see the plan".into()),
        });
    }
    eprint!("Deploy {count} service(s) to `{env}`? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).map_err(|e| Error::Usage {
        message: format!("cannot read the answer: {e}"),
        help: None,
    })?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

fn show_findings(cli: &Cli, project: &mut Project, findings: Vec<Diagnostic>, color: bool) {
    project.diagnostics = findings;
    output::findings(cli, "deploy", Format::Human, project, Default::default(), color);
}

/// The plan of one service as text: mappings, then image, then other fields.
fn plan_text(p: &Prepared, plan: &Plan, offline: bool) -> String {
    let against = if offline { "the spec file" } else { "the live service" };
    let mut text =
        format!("Plan for {} ({}/{}), against {against}:\n", p.name, p.project, p.region);
    let own = format!("projects/{}/secrets/", p.project);
    let short = |m: &Mapping| m.secret.strip_prefix(&own).unwrap_or(&m.secret).to_string();
    if plan.new_service {
        text.push_str("  new service: it does not exist yet and will be created\n");
    }
    if plan.is_empty() {
        text.push_str("  no changes\n");
    }
    if plan.latest_not_ready {
        text.push_str(
            "  the latest revision is not Ready (an earlier rollout failed or is still going \
             on): a new revision will be started\n",
        );
    }
    if !p.left_out.is_empty() {
        text.push_str(&format!(
            "  left out (optional, and its secret is unusable): {}\n",
            p.left_out.join(", ")
        ));
    }
    if !plan.mappings.is_empty() {
        text.push_str("  secret mappings:\n");
        let width = plan.mappings.iter().map(|m| m.target.len()).max().unwrap_or(0);
        for change in &plan.mappings {
            let (sign, detail) = match (&change.before, &change.after) {
                (None, Some(a)) => ("+", format!("{}@{}", short(a), a.version)),
                (Some(b), None) => ("-", format!("{}@{}", short(b), b.version)),
                (Some(b), Some(a)) if b.secret == a.secret => {
                    ("~", format!("{}@{} -> @{}", short(a), b.version, a.version))
                }
                (Some(b), Some(a)) => {
                    ("~", format!("{}@{} -> {}@{}", short(b), b.version, short(a), a.version))
                }
                (None, None) => continue,
            };
            text.push_str(&format!("    {sign} {:width$}  {detail}\n", change.target));
        }
    }
    if let Some(image) = &plan.image {
        text.push_str(&format!("  image:\n    {}\n    -> {}\n", image.before, image.after));
    }
    if !plan.diff.is_empty() {
        text.push_str("  other changes:\n");
        for line in plan.diff.lines() {
            text.push_str(&format!("    {line}\n"));
        }
    }
    text.push('\n');
    text
}

fn finish(
    project: &Project,
    findings: &[Diagnostic],
    outcomes: &[Outcome],
    args: &DeployArgs,
    code: u8,
    requests: usize,
) {
    if args.format == DeployFormat::Json {
        print(&json_report(project, findings, outcomes, &args.env, code, requests));
        return;
    }
    let mut text = String::new();
    for o in outcomes {
        match o.status {
            "deployed" => {
                text.push_str(&format!(
                    "{}: revision {} is Ready at {}\n",
                    o.name,
                    o.revision.as_deref().unwrap_or("?"),
                    o.url.as_deref().unwrap_or("?")
                ));
                for m in &o.mappings {
                    text.push_str(&format!("  {} <- {} @ {}\n", m.target, m.secret, m.version));
                }
            }
            "failed" => {
                text.push_str(&format!(
                    "{}: rollout failed: {}\n",
                    o.name,
                    o.message.as_deref().unwrap_or("")
                ));
                match (&o.serving, o.plan.as_ref().is_some_and(|p| p.new_service)) {
                    (_, true) => text.push_str(
                        "  the new service has no ready revision and serves no traffic\n",
                    ),
                    (Some(r), false) => text.push_str(&format!(
                        "  traffic stays on the previous ready revision, {r}\n"
                    )),
                    (None, false) => {
                        text.push_str("  the service has no ready revision and serves no traffic\n")
                    }
                }
            }
            "unknown" => {
                text.push_str(&format!(
                    "{}: rollout outcome unknown: {}\n  the write may or may not have been \
                     applied: look at the service (gcloud run services describe) before \
                     deploying again\n",
                    o.name,
                    o.message.as_deref().unwrap_or("")
                ));
            }
            "skipped" => {
                text.push_str(&format!("{}: not deployed (an earlier service failed)\n", o.name))
            }
            "unchanged" => {
                let revision = o.revision.as_deref().unwrap_or("?");
                text.push_str(&format!(
                    "{}: no changes, not deployed; revision {revision} keeps serving\n",
                    o.name
                ));
            }
            _ => {}
        }
    }
    // The report is what was asked for: `-q` keeps it.
    if !text.is_empty() {
        print(&text);
    }
}

fn json_report(
    project: &Project,
    findings: &[Diagnostic],
    outcomes: &[Outcome],
    env: &str,
    code: u8,
    requests: usize,
) -> String {
    let services: Vec<Value> = outcomes
        .iter()
        .map(|o| {
            json!({
                "service": o.name,
                "environment": env,
                "status": o.status,
                "revision": o.revision,
                "url": o.url,
                "message": o.message,
                "mappings": o.mappings,
                "leftOut": o.left_out,
                "plan": o.plan,
            })
        })
        .collect();
    let mut extra = serde_json::Map::new();
    extra.insert("requests".into(), json!(requests));
    extra.insert("exitCode".into(), json!(code));
    extra.insert("services".into(), Value::Array(services));
    crate::report::json::render("deploy", findings, &project.sources, extra)
}
