//! The `abrfw` command line: parse arguments, run one subcommand, map the result to an exit code.

// args.rs's `///` comments are clap help text, not rustdoc: `DIR/<host>` and `[[gateway]]`
// are what the user reads.
#[allow(rustdoc::invalid_html_tags, rustdoc::broken_intra_doc_links)]
mod args;
mod classes;
mod commands;
mod dirfd;
mod site;
mod tree;

use std::io::{ErrorKind, Write};
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use args::{Cli, Command};

/// How a successful run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Success,
    /// Exit 1: `compile --check` or `diff` found files or rules that differ.
    Differences,
    /// Exit 1: `query` found a hop that drops the connection.
    Blocked,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut stdout = std::io::stdout().lock();
    let result = match &cli.command {
        Command::Compile(a) => commands::compile::run(a, &mut stdout),
        Command::Check(a) => commands::check::run(a, &mut stdout),
        Command::Inventory(a) => commands::inventory::run(a, &mut stdout),
        Command::Flows(a) => commands::flows::run(a, &mut stdout),
        Command::Releases(a) => commands::releases::run(a, &mut stdout),
        Command::Services(a) => commands::services::run(a, &mut stdout),
        Command::Diff(a) => commands::diff::run(a, &mut stdout),
        Command::Example => stdout
            .write_all(site::EXAMPLE.as_bytes())
            .map(|()| Outcome::Success)
            .map_err(Into::into),
        Command::Completions { shell } => {
            clap_complete::generate(*shell, &mut Cli::command(), "abrfw", &mut stdout);
            Ok(Outcome::Success)
        }
        Command::Man => clap_mangen::Man::new(Cli::command())
            .render(&mut stdout)
            .map(|()| Outcome::Success)
            .map_err(Into::into),
        Command::Explain(a) => commands::explain::run(a, &mut stdout),
        Command::Query(a) => commands::query::run(a, &mut stdout),
        Command::Logs(a) => commands::logs::run(a, &mut stdout),
        Command::Graph(a) => commands::graph::run(a, &mut stdout),
        Command::Schema => commands::schema::run(&mut stdout),
        Command::Verify(a) => commands::verify::run(a, &mut stdout),
    };
    let result = result.and_then(|o| stdout.flush().map(|()| o).map_err(Into::into));
    match result {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Differences | Outcome::Blocked) => ExitCode::from(1),
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let mut stderr = std::io::stderr().lock();
            // A topology error is already a full report with locations; others get a prefix.
            let _ = match e.downcast_ref::<site::LoadError>() {
                Some(site::LoadError::Invalid(report)) => write!(stderr, "{report}"),
                _ => writeln!(stderr, "error: {e:#}"),
            };
            ExitCode::from(2)
        }
    }
}

/// A reader that closed the pipe (`abrfw flows | head`) is not an error.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == ErrorKind::BrokenPipe)
    })
}
