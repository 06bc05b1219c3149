//! The `rosy` binary: a thin layer over `cli`.

mod cli;

use clap::{CommandFactory, Parser};

#[tokio::main]
async fn main() {
    if std::env::args_os().len() == 1 {
        // `rosy` alone: the help, not an error (ROSY_DOMAIN_ID in the environment would
        // otherwise count as an argument given).
        let _ = cli::Cli::command().print_help();
        return;
    }
    // Secure mode (ROSY_SECURITY, ROSY_SECURITY_DIR) for every node a command makes.
    rosy_security::install();
    let cli = cli::Cli::parse();
    if let Err(e) = cli::run(cli).await {
        eprintln!("error: {e}");
        std::process::exit(e.exit_code());
    }
}
