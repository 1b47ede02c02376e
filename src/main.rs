//! The `secretgate` binary: parse arguments, set up logging, run, exit with the command's code.

use clap::Parser;
use secretgate::cli::Cli;
use std::process::ExitCode;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

fn main() -> ExitCode {
    let cli = Cli::parse();
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
