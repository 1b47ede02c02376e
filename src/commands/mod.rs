//! One module per subcommand; each returns the process exit code.

/// Writes a message to stderr. Unlike `eprint!`, it does not panic when stderr is closed or
/// full: a message that cannot be shown must not turn a finished run into a crash.
macro_rules! note {
    ($($arg:tt)*) => {
        $crate::commands::to_stderr(&format!($($arg)*))
    };
}

/// [`note!`] with a line break.
macro_rules! noteln {
    ($($arg:tt)*) => {
        $crate::commands::to_stderr(&format!("{}\n", format_args!($($arg)*)))
    };
}

mod audit;
mod check;
mod deploy;
mod import;
mod lint;
mod output;
mod render;
mod rules;

use crate::cli::{Cli, ColorChoice, Command};
use crate::diagnostic::Severity;
use crate::error::{Error, exit};
use clap::CommandFactory;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Runs the parsed command line and returns the exit code.
pub fn run(cli: Cli) -> u8 {
    let color = use_color(cli.color, std::io::stdout().is_terminal());
    let result = match &cli.command {
        Command::Lint(args) => lint::run(&cli, args, color),
        Command::Check(args) => check::run(&cli, args, color),
        Command::Snapshot(args) => check::snapshot(&cli, args),
        Command::Deploy(args) => deploy::run(&cli, args, color),
        Command::Render(args) => render::run(&cli, args, color),
        Command::Audit(args) => audit::run(&cli, args),
        Command::Import(command) => import::run(&cli, command),
        Command::Rules => Ok(rules::list()),
        Command::Explain { code } => rules::explain(code),
        Command::Schema => Ok(print(&crate::schema::json())),
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "secretgate", &mut out);
            Ok(print(&String::from_utf8_lossy(&out)))
        }
    };
    let code = result.unwrap_or_else(|err| {
        report_error(&err, use_color(cli.color, std::io::stderr().is_terminal()))
    });
    // Output that was computed but could not be written is lost: the run did not succeed, and
    // a CI job must not read the lost report's findings into an ordinary exit 1. A failed
    // rollout keeps its own code: what happened to the services matters more than the report.
    let lost = STDOUT_FAILED.load(Ordering::Relaxed);
    if lost && code != exit::ROLLOUT_FAILED { exit::USAGE } else { code }
}

/// Set when stdout refused a write for another reason than a closed pipe.
static STDOUT_FAILED: AtomicBool = AtomicBool::new(false);

/// Whether to colour a stream: `always`, `never`, or on a terminal when NO_COLOR is unset.
pub fn use_color(choice: ColorChoice, terminal: bool) -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => terminal && !no_color,
    }
}

/// Writes to stdout; a closed pipe (`secretgate rules | head`) is not an error.
pub(crate) fn print(text: &str) -> u8 {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        // A reader that stops early (`| head`) wants no more; that is no failure.
        Err(e)
            if e.kind() != std::io::ErrorKind::BrokenPipe
                && !STDOUT_FAILED.swap(true, Ordering::Relaxed) =>
        {
            noteln!("error: cannot write to standard output: {e}");
        }
        _ => {}
    }
    exit::OK
}

/// Writes to stderr, ignoring a stderr that cannot take it (see [`note!`]).
pub(crate) fn to_stderr(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes()).and_then(|()| err.flush());
}

fn report_error(err: &Error, color: bool) -> u8 {
    let (red, reset) = if color { ("\x1b[31m", "\x1b[0m") } else { ("", "") };
    let mut text = format!("{red}error{reset}: {err}\n");
    if let Some(help) = err.help() {
        text.push_str(&format!("  help: {help}\n"));
    }
    let _ = std::io::stderr().write_all(text.as_bytes());
    err.exit_code()
}

/// Whether the manifest did not read, or read with schema errors (a misspelt `secrets:` drops
/// a service's entries): a report or a snapshot made from it would leave out what the file was
/// meant to say, and a coverage figure would pass for it.
fn manifest_is_invalid(project: &crate::lint::Project) -> bool {
    let schema = crate::rules::manifest_schema::RULE.code;
    project.manifest.is_none()
        || project.diagnostics.iter().any(|d| d.code == schema && d.severity == Severity::Error)
}

/// For commands whose standard output is a report: an invalid manifest (see
/// [`manifest_is_invalid`]) is refused with its findings on stderr and exit 1, as `lint` would
/// report it.
fn invalid_manifest(cli: &Cli, project: &crate::lint::Project) -> u8 {
    let color = use_color(cli.color, std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let manifest = project.sources.find(&cli.manifest);
    let about: Vec<_> = project
        .diagnostics
        .iter()
        .filter(|d| d.primary.as_ref().map(|l| l.file) == manifest || project.manifest.is_none())
        .cloned()
        .collect();
    note!("{}", crate::report::human::render(&about, &project.sources, color));
    noteln!("error: {} is not a valid manifest; nothing was done", cli.manifest.display());
    crate::error::exit::FINDINGS
}
