//! The command line: arguments, global options and the help text.

use crate::report::Format;
use clap::{ArgMatches, Args, FromArgMatches, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

const EXAMPLES: &str = "\
Examples:
  secretgate lint                          check secrets.yaml and every spec, offline
  secretgate lint --env production --format github
  secretgate check --env staging           verify against Secret Manager
  secretgate check --env staging --snapshot deploy/snapshots/staging.json
  secretgate explain unpinned-version      what a rule flags and how to fix it
  secretgate schema > secrets.schema.json  JSON Schema for editors";

/// The exit codes mean the same for every command; each help lists the ones its command can
/// return, with what they mean there.
const EXIT_OK: &str = "  0  no error-level finding";
const EXIT_FINDINGS: &str =
    "  1  error-level findings (or a manifest that does not parse; warnings with --deny-warnings)";
const EXIT_USAGE: &str = "  2  usage error or unreadable input";
const EXIT_INCOMPLETE: &str = "  3  verification incomplete: something could not be checked";

/// A command's closing help text followed by the exit codes it can return.
fn with_exit_codes(text: &str, codes: &[&str]) -> String {
    format!("{text}\n\nExit codes:\n{}", codes.join("\n"))
}

const LINT_EXITS: &[&str] = &[EXIT_OK, EXIT_FINDINGS, EXIT_USAGE];
const CHECK_EXITS: &[&str] = &[EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INCOMPLETE];
const SNAPSHOT_EXITS: &[&str] = &[
    "  0  the snapshot was written",
    "  1  the manifest has errors (nothing was captured)",
    EXIT_USAGE,
    "  3  something could not be read (nothing was written)",
];
const DEPLOY_EXITS: &[&str] = &[
    "  0  deployed and Ready, planned (--dry-run), or the confirmation declined",
    "  1  the gate refused (error-level findings), or a --dry-run was rejected",
    EXIT_USAGE,
    "  3  verification incomplete: something could not be checked, nothing was deployed",
    "  4  rollout failed, or its outcome is unknown; nothing after that service was deployed",
];
const RENDER_EXITS: &[&str] = &[
    "  0  the service was rendered",
    "  1  the service or the manifest has errors (nothing was rendered)",
    EXIT_USAGE,
];
const AUDIT_EXITS: &[&str] = &[
    "  0  the report was written (findings do not change the code)",
    "  1  coverage is below --fail-under, or the manifest has errors",
    EXIT_USAGE,
];

/// The exit codes of the top-level help: all of them.
fn all_exit_codes() -> String {
    let rollout = "  4  rollout failed (deploy)";
    with_exit_codes(EXAMPLES, &[EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INCOMPLETE, rollout])
}

/// The heading of the options every command takes.
const GLOBAL: &str = "Global options";

const LINT_EXAMPLES: &str = "\
Examples:
  secretgate lint
  secretgate lint --env staging --env production
  secretgate lint --format sarif > secretgate.sarif";

const RENDER_EXAMPLES: &str = "\
Example:
  secretgate render --env staging --service netra-backend > rendered.yaml";

/// Declarative, checked Secret Manager mappings for Cloud Run deploys.
#[derive(Debug, Parser)]
#[command(
    name = "secretgate",
    version,
    about,
    after_help = all_exit_codes(),
    max_term_width = 100
)]
pub struct Cli {
    /// Path of the manifest.
    #[arg(
        long,
        global = true,
        default_value = "secrets.yaml",
        value_name = "PATH",
        help_heading = GLOBAL
    )]
    pub manifest: PathBuf,

    /// When to colour output; `auto` colours a terminal unless NO_COLOR is set.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value_t = ColorChoice::Auto,
        help_heading = GLOBAL
    )]
    pub color: ColorChoice,

    /// Print only what was asked for (findings, plans, reports): no summary, progress or logs.
    #[arg(short, long, global = true, conflicts_with = "verbose", help_heading = GLOBAL)]
    pub quiet: bool,

    /// Log each phase (-v) or every detail (-vv) on stderr.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, help_heading = GLOBAL)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// The colour choice for clap's own output (help and usage errors), read from the raw
/// arguments: clap writes those before `--color` has been parsed. The last `--color` before a
/// `--` counts; an unknown value leaves it to clap's own rule (a terminal, unless NO_COLOR).
pub fn clap_color(args: &[std::ffi::OsString]) -> clap::ColorChoice {
    let mut value = None;
    let mut rest = args.iter().skip(1).map(|a| a.to_str());
    while let Some(arg) = rest.next() {
        match arg {
            Some("--") => break,
            Some("--color") => value = rest.next().flatten(),
            Some(arg) if arg.starts_with("--color=") => value = arg.strip_prefix("--color="),
            _ => {}
        }
    }
    match value {
        Some("never") => clap::ColorChoice::Never,
        Some("always") => clap::ColorChoice::Always,
        _ => clap::ColorChoice::Auto,
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the manifest and the Cloud Run specs offline (for pre-merge CI).
    #[command(after_help = with_exit_codes(LINT_EXAMPLES, LINT_EXITS))]
    Lint(LintArgs),
    /// Verify the manifest against Secret Manager (live, or offline from snapshots).
    #[command(after_help = with_exit_codes(CHECK_EXAMPLES, CHECK_EXITS))]
    Check(CheckArgs),
    /// Capture the Secret Manager metadata `check` needs into a snapshot file (no secret values).
    #[command(after_help = with_exit_codes(SNAPSHOT_EXAMPLES, SNAPSHOT_EXITS))]
    Snapshot(SnapshotArgs),
    /// Gate, render, plan, roll out to Cloud Run and wait for the new revision to be Ready.
    #[command(after_help = with_exit_codes(DEPLOY_EXAMPLES, DEPLOY_EXITS))]
    Deploy(DeployArgs),
    /// Print a service's spec with every declared secret mapped (input for `gcloud run services
    /// replace`).
    #[command(after_help = with_exit_codes(RENDER_EXAMPLES, RENDER_EXITS))]
    Render(RenderArgs),
    /// Report secret coverage, gaps between environments, orphaned secrets and hygiene.
    #[command(after_help = with_exit_codes(AUDIT_EXAMPLES, AUDIT_EXITS))]
    Audit(AuditArgs),
    /// Write a secrets.yaml from existing Cloud Run specs.
    #[command(after_help = IMPORT_EXAMPLES)]
    Import(ImportCommand),
    /// List every rule with its code, severity and summary.
    #[command(after_help = "Examples:\n  secretgate rules\n  secretgate explain accessor-missing")]
    Rules,
    /// Explain a rule: what it flags, why it matters, an example and the fix.
    #[command(after_help = "Example:\n  secretgate explain plaintext-secret")]
    Explain {
        /// The rule's code, as printed in findings.
        code: String,
    },
    /// Print the JSON Schema of secrets.yaml.
    #[command(after_help = "Example:\n  secretgate schema > secrets.schema.json")]
    Schema,
    /// Print a shell completion script.
    #[command(after_help = "Example:\n  secretgate completions bash > \
                      ~/.local/share/bash-completion/completions/secretgate")]
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
}

const SNAPSHOT_EXAMPLES: &str = "\
Example:
  secretgate snapshot --env staging -o staging.json

When anything could not be read, nothing is written and the exit code is 3.";

const CHECK_EXAMPLES: &str = "\
Examples:
  secretgate check --env staging
  secretgate check --env staging --snapshot deploy/snapshots/staging.json
  secretgate check --env production --format json --no-iam

Credentials: Application Default Credentials (gcloud auth application-default login, or a
service account on CI) with roles/secretmanager.viewer; secret values are never read.
SECRETMANAGER_EMULATOR_HOST=HOST:PORT and RUN_EMULATOR_HOST=HOST:PORT send requests to an
emulator over plain HTTP, anonymously.
With GOOGLE_APPLICATION_CREDENTIALS also set, Secret Manager requests to the emulator use it.";

/// How long the commands that read Google APIs wait for answers unless `--timeout` says
/// otherwise; `import --live`, which has no such option, waits as long.
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 60;

/// Options shared by the commands that talk to Secret Manager.
#[derive(Debug, Args)]
pub struct FetchArgs {
    /// Requests in flight at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,

    /// Requests per second per project (Secret Manager allows 600 metadata reads a minute).
    #[arg(long, default_value_t = 9.0, value_name = "RPS", value_parser = between(0.01, 1e6))]
    pub max_rps: f64,

    /// How many seconds to wait for Google's answers before giving up.
    #[arg(
        long,
        default_value_t = DEFAULT_TIMEOUT_SECONDS,
        value_name = "SECONDS",
        value_parser = clap::value_parser!(u64).range(1..=3600)
    )]
    pub timeout: u64,
}

/// Options of the commands that check the declared secrets against Secret Manager.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Do not read IAM policies (skips accessor-missing).
    #[arg(long)]
    pub no_iam: bool,

    #[command(flatten)]
    pub fetch: FetchArgs,
}

/// The environments a command looks at.
#[derive(Debug, Args)]
pub struct EnvFilter {
    /// Only this environment (repeatable); default: every environment.
    #[arg(long = "env", value_name = "NAME")]
    pub names: Vec<String>,
}

/// Snapshot files that stand in for Secret Manager.
#[derive(Debug, Args)]
pub struct SnapshotFiles {
    /// Read Secret Manager metadata from this snapshot instead of the API (repeatable).
    #[arg(long = "snapshot", value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// How the commands that only report findings print them.
#[derive(Debug, Args)]
pub struct FindingsArgs {
    /// Output format: human (reports with source excerpts), json (the document described in
    /// the README), sarif (SARIF 2.1.0 for code scanning) or github (workflow commands that
    /// annotate the pull request).
    #[arg(long, value_enum, default_value_t = Format::Human, hide_possible_values = true)]
    pub format: Format,

    /// Exit with 1 when there are warnings, too.
    #[arg(long)]
    pub deny_warnings: bool,
}

/// A number of days, up to a hundred years.
fn days() -> clap::builder::RangedI64ValueParser<i64> {
    clap::value_parser!(i64).range(0..=36_500)
}

/// An image reference: no spaces, not empty (Cloud Run would refuse it only at rollout).
fn image_reference(text: &str) -> Result<String, String> {
    if text.is_empty() || text.contains(char::is_whitespace) {
        return Err("an image reference has no spaces and is not empty".into());
    }
    Ok(text.to_string())
}

/// A finite number from `min` to `max`: clap range-checks integers only, and a float option
/// given `nan` or `inf` would otherwise reach a `Duration` or a comparison.
fn between(min: f64, max: f64) -> impl Fn(&str) -> Result<f64, String> + Clone + Send + Sync {
    move |text| match text.parse::<f64>() {
        Ok(n) if n.is_finite() && (min..=max).contains(&n) => Ok(n),
        Ok(_) => Err(format!("must be a number from {min} to {max}")),
        Err(_) => Err(format!("`{text}` is not a number")),
    }
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub envs: EnvFilter,

    #[command(flatten)]
    pub snapshots: SnapshotFiles,

    /// Also fetch each service as deployed now (Cloud Run Admin API v1) and check it.
    #[arg(long)]
    pub live: bool,

    /// Warn about secrets that expire within this many days.
    #[arg(
        long,
        default_value_t = crate::check::DEFAULT_EXPIRY_DAYS,
        value_name = "DAYS",
        value_parser = days()
    )]
    pub expiry_days: i64,

    /// Warn about snapshots older than this many days.
    #[arg(
        long,
        default_value_t = crate::check::DEFAULT_MAX_SNAPSHOT_AGE_DAYS,
        value_name = "DAYS",
        value_parser = days()
    )]
    pub max_snapshot_age: i64,

    #[command(flatten)]
    pub report: FindingsArgs,

    #[command(flatten)]
    pub verify: VerifyArgs,
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// The environment whose projects to capture.
    #[arg(long = "env", value_name = "NAME", required = true)]
    pub env: String,

    /// Write here instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Do not read IAM policies.
    #[arg(long)]
    pub no_iam: bool,

    #[command(flatten)]
    pub fetch: FetchArgs,
}

const DEPLOY_EXAMPLES: &str = "\
Examples:
  secretgate deploy --env staging --dry-run --snapshot deploy/snapshots/staging.json
  secretgate deploy --env staging --service netra-backend --image IMAGE
  secretgate deploy --env production --pin-versions --yes

The gate refuses (exit 1) on any error about a required secret, and (exit 3) when anything
could not be verified, for optional entries too; nothing is deployed then. A dry run whose
validation Cloud Run does not answer is not verified either (exit 3). A revision that fails to
become Ready gives exit 4; traffic stays on the previous ready revision.";

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// The environment to deploy to.
    #[arg(long = "env", value_name = "NAME", required = true)]
    pub env: String,

    /// Deploy only this service (repeatable); default: every service of the environment.
    #[arg(long = "service", value_name = "NAME")]
    pub services: Vec<String>,

    /// Replace the target container's image.
    #[arg(long, value_name = "IMAGE", value_parser = image_reference)]
    pub image: Option<String>,

    /// Replace `latest` by the version number it resolves to now.
    #[arg(long)]
    pub pin_versions: bool,

    /// Start a new revision even when nothing else changed (to pick up a new `latest`).
    #[arg(long)]
    pub force_new_revision: bool,

    /// Stop after the plan; with credentials, also have Cloud Run validate the service.
    #[arg(long)]
    pub dry_run: bool,

    /// With --dry-run: read Secret Manager metadata from this snapshot, and plan against the
    /// spec file instead of the live service (no Google access at all).
    #[arg(long = "snapshot", value_name = "FILE", requires = "dry_run")]
    pub snapshots: Vec<PathBuf>,

    /// Do not ask for confirmation.
    #[arg(short, long)]
    pub yes: bool,

    /// Give up waiting for Ready after this many seconds (exit 4).
    #[arg(
        long,
        default_value_t = 600,
        value_name = "SECONDS",
        value_parser = clap::value_parser!(u64).range(1..=86_400)
    )]
    pub wait_timeout: u64,

    /// Seconds between two readings of the service while waiting.
    #[arg(long, default_value_t = 2.0, value_name = "SECONDS", value_parser = between(0.05, 60.0))]
    pub poll_interval: f64,

    /// Warn about snapshots older than this many days.
    #[arg(
        long,
        default_value_t = crate::check::DEFAULT_MAX_SNAPSHOT_AGE_DAYS,
        value_name = "DAYS",
        requires = "snapshots",
        value_parser = days()
    )]
    pub max_snapshot_age: i64,

    /// Output format.
    #[arg(long, value_enum, default_value_t = DeployFormat::Human)]
    pub format: DeployFormat,

    #[command(flatten)]
    pub verify: VerifyArgs,
}

/// Output formats of `deploy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DeployFormat {
    Human,
    Json,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The environment to render for.
    #[arg(long = "env", value_name = "NAME", required = true)]
    pub env: String,

    /// The service to render.
    #[arg(long = "service", value_name = "NAME", required = true)]
    pub service: String,

    /// Replace the target container's image.
    #[arg(long, value_name = "IMAGE", value_parser = image_reference)]
    pub image: Option<String>,
}

const AUDIT_EXAMPLES: &str = "\
Examples:
  secretgate audit --snapshot deploy/snapshots/staging.json --env staging
  secretgate audit --format html -o coverage.html
  secretgate audit --format markdown --fail-under 100";

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub envs: EnvFilter,

    #[command(flatten)]
    pub snapshots: SnapshotFiles,

    /// Also compare with the services as deployed now.
    #[arg(long)]
    pub live: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = AuditFormat::Table)]
    pub format: AuditFormat,

    /// Write the report here instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Do not report secrets matching this pattern (`*` matches anything) as orphans
    /// (repeatable; adds to `policy.ignore_orphans`).
    #[arg(long = "ignore-orphan", value_name = "PATTERN")]
    pub ignore_orphans: Vec<String>,

    /// Exit with 1 when coverage is below this percentage.
    #[arg(long, value_name = "PERCENT", value_parser = between(0.0, 100.0))]
    pub fail_under: Option<f64>,

    /// Warn at the top of the report about snapshots older than this many days.
    #[arg(
        long,
        default_value_t = crate::check::DEFAULT_MAX_SNAPSHOT_AGE_DAYS,
        value_name = "DAYS",
        value_parser = days()
    )]
    pub max_snapshot_age: i64,

    #[command(flatten)]
    pub verify: AuditVerifyArgs,
}

/// [`VerifyArgs`] as `audit` reads them: it reports no `accessor-missing`, so reading IAM
/// policies matters to it only where one cannot be read.
#[derive(Debug, Args)]
pub struct AuditVerifyArgs {
    /// Do not read IAM policies, as `deploy --no-iam` does: a policy that cannot be read then
    /// leaves no cell unverified.
    #[arg(long)]
    pub no_iam: bool,

    #[command(flatten)]
    pub fetch: FetchArgs,
}

/// Output formats of `audit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuditFormat {
    Table,
    Markdown,
    Json,
    Html,
}

const IMPORT_EXAMPLES: &str = "\
Examples:
  secretgate import deploy/                       folders deploy/<env>/<service>.yaml
  secretgate import api.yaml --env staging -o secrets.yaml
  secretgate import --env staging s/api.yaml --env production p/api.yaml p/web.yaml
  secretgate import s/api.yaml --env staging p/api.yaml --env production
  secretgate import deploy/ --merge               add what secrets.yaml lacks
  secretgate import --live --env production --project shop-prod --service api --service web

One --env applies to every spec file given. With several, write each --env before the files
it applies to, or each after them; a file that cannot be tied to one --env is refused.";

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Spec files, or folders laid out as <env>/<service>.yaml.
    #[arg(required_unless_present = "live", value_name = "SPEC_OR_DIR")]
    pub inputs: Vec<PathBuf>,

    /// Read the services as deployed now (Cloud Run Admin API v1) instead of files; needs
    /// one --env, --project and --service.
    #[arg(long, requires_all = ["envs", "project", "services"])]
    pub live: bool,

    /// With --live: a service to import (repeatable).
    #[arg(long = "service", value_name = "NAME")]
    pub services: Vec<String>,

    /// The environment of the spec files given directly (default: `default`); repeatable,
    /// each before (or each after) its files. In a folder, each <env> subfolder names its own.
    #[arg(long = "env", value_name = "NAME")]
    pub envs: Vec<String>,

    /// Where to write the manifest (`-` for standard output).
    #[arg(short, long, value_name = "FILE", default_value = "secrets.yaml")]
    pub output: PathBuf,

    /// Overwrite existing files: the output (unless --merge) and, with --live, the exported
    /// deploy/<env>/<service>.yaml.
    #[arg(long)]
    pub force: bool,

    /// Add to the existing manifest only what it lacks, environments included.
    #[arg(long)]
    pub merge: bool,

    /// The Google Cloud project of every imported environment (default: `PROJECT_ID-<env>`,
    /// marked as a guess; with --merge, derived from the other environments' projects).
    #[arg(long, value_name = "ID")]
    pub project: Option<String>,

    /// The region of the imported environments (default: us-central1; with --merge, the
    /// region the other environments share).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
}

/// A spec file or folder, or an `--env`, in the order of the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImportItem {
    Env(String),
    Input(PathBuf),
}

/// `import`'s options, and the order its files and `--env` options were written in: which
/// environment a file belongs to depends on where its `--env` stands, which a derived parser
/// does not keep.
#[derive(Debug)]
pub struct ImportCommand {
    pub args: ImportArgs,
    pub items: Vec<ImportItem>,
}

impl FromArgMatches for ImportCommand {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let args = ImportArgs::from_arg_matches(matches)?;
        let at = |id: &str| matches.indices_of(id).into_iter().flatten();
        let envs = at("envs").zip(&args.envs).map(|(i, e)| (i, ImportItem::Env(e.clone())));
        let inputs = at("inputs").zip(&args.inputs).map(|(i, p)| (i, ImportItem::Input(p.clone())));
        let mut items: Vec<(usize, ImportItem)> = envs.chain(inputs).collect();
        items.sort_by_key(|(index, _)| *index);
        Ok(ImportCommand { args, items: items.into_iter().map(|(_, item)| item).collect() })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = ImportCommand::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Args for ImportCommand {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        ImportArgs::augment_args(cmd)
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        ImportArgs::augment_args_for_update(cmd)
    }
}

#[derive(Debug, Args)]
pub struct LintArgs {
    #[command(flatten)]
    pub envs: EnvFilter,

    #[command(flatten)]
    pub report: FindingsArgs,
}
