//! The `secretgate` binary: parse arguments, set up logging, run, exit with the command's code.

use clap::{CommandFactory, FromArgMatches};
use secretgate::cli::Cli;
use std::process::ExitCode;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let mut command = Cli::command().color(secretgate::cli::clap_color(&args));
    let matches = command.try_get_matches_from_mut(args).unwrap_or_else(|e| exit(&e));
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| exit(&e.format(&mut command)));
    let level = match (cli.quiet, cli.verbose) {
        (true, _) | (false, 0) => tracing::Level::WARN,
        (false, 1) => tracing::Level::INFO,
        (false, _) => tracing::Level::DEBUG,
    };
    let stderr_color = secretgate::commands::use_color(
        cli.color,
        std::io::IsTerminal::is_terminal(&std::io::stderr()),
    );
    // `-v` is about secretgate's own work: the HTTP and Google client libraries log only their
    // warnings, whatever the level.
    let targets = Targets::new().with_target("secretgate", level).with_default(LevelFilter::WARN);
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_ansi(stderr_color)
        .with_target(false)
        .finish()
        .with(targets)
        .init();
    ExitCode::from(secretgate::commands::run(cli))
}

/// Prints clap's help, version or usage error and exits with its code; help or a version that
/// cannot be written to standard output (other than a closed pipe) is exit 2, as for any
/// other output.
fn exit(e: &clap::Error) -> ! {
    let code = match e.print() {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
            let message = format!("error: cannot write to standard output: {err}\n");
            let _ = std::io::Write::write_all(&mut std::io::stderr(), message.as_bytes());
            2
        }
        _ => e.exit_code(),
    };
    std::process::exit(code)
}
