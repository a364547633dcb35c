//! `sleuth`: detect and investigate identity compromise in Entra ID and Microsoft 365 from
//! exported logs. Each subcommand lives in `commands/`; this file parses the command line,
//! sets up logging and maps outcomes to exit codes.

mod commands;
mod output;

use std::process::ExitCode;

use clap::Parser;

/// Ingest allocates and frees a JSON tree per record; mimalloc does that markedly faster than
/// the system allocator (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = commands::Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("SLEUTH_LOG").unwrap_or_else(|_| "warn".into());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    match commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            if output::is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            // Errors quote file names, records and queries: each line made visible, the
            // line breaks of multi-line messages (TOML, SQL) kept.
            let text = sleuth_store::memory::explain(&format!("{e:#}"));
            let lines: Vec<String> = text.lines().map(sleuth_render::text::visible).collect();
            eprintln!("error: {}", lines.join("\n"));
            ExitCode::from(2)
        }
    }
}
