//! `rosy launch [CONFIG]`: starts the nodes a launch file lists, prefixes their output with their
//! names, restarts them as asked, and stops them all on Ctrl-C or SIGTERM.
//!
//! `config` reads and checks the file; `supervisor` runs the processes. Every child gets
//! `ROSY_DOMAIN_ID` (the file's `domain_id`, else `--domain-id`) and `ROSY_NODE_NAME` (its name
//! in the file) in its environment. Unlike the original rosy, `--name NAME` is not appended to
//! commands: a program that does not take `--name` would fail; add it in `args` where wanted.

pub mod config;
mod supervisor;

use super::error::CliError;
use config::Launch;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(after_help = "\
The launch file (YAML) lists nodes by name with their command and options; see the commented \
template launch.yaml at the root of the rosy repository, and crates/rosy/examples/launch.yaml for the demos.

Secure mode: `security: {mode: enforce, dir: CREDENTIALS}` at the top sets ROSY_SECURITY and \
ROSY_SECURITY_DIR for every node (a node's own `security_dir:` overrides the directory; paths \
relative to the launch file).

Each child runs in its own process group with ROSY_DOMAIN_ID and ROSY_NODE_NAME set; its output \
lines are prefixed with [name]. Ctrl-C or SIGTERM stops every child: SIGTERM, then SIGKILL after \
stop_timeout (10 s by default); a second Ctrl-C kills at once.")]
pub struct LaunchArgs {
    /// The launch file.
    #[arg(default_value = "launch.yaml")]
    pub config: PathBuf,
    /// Do not start the node of this name (repeatable).
    #[arg(short = 'e', long = "exclude", value_name = "NAME")]
    pub exclude: Vec<String>,
    /// Check the file and print what would start, without starting anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Start more than 64 copies of an entry when its `number` asks for them.
    #[arg(long)]
    pub allow_many: bool,
}

pub async fn run(args: LaunchArgs, domain: &str) -> Result<(), CliError> {
    let host = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned();
    let launch = Launch::load(&args.config, &args.exclude, &host, args.allow_many)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let domain = launch
        .domain_id
        .clone()
        .unwrap_or_else(|| domain.to_string());
    for (name, why) in &launch.skipped {
        eprintln!("[launch] not starting {name}: {why}");
    }
    if launch.nodes.is_empty() {
        return Err(CliError::Failed(format!(
            "{}: no node to start",
            args.config.display()
        )));
    }
    if args.dry_run {
        for plan in &launch.nodes {
            println!(
                "{}: {} {} (in {})",
                plan.label,
                plan.program,
                plan.args.join(" "),
                plan.cwd.display()
            );
        }
        return Ok(());
    }
    eprintln!(
        "[launch] starting {} node{} in domain {domain:?}",
        launch.nodes.len(),
        if launch.nodes.len() == 1 { "" } else { "s" }
    );
    let env = vec![("ROSY_DOMAIN_ID".to_string(), domain)];
    let outcome = supervisor::run(launch.nodes, env, launch.stop_timeout).await;
    if outcome.interrupted {
        eprintln!("[launch] every node stopped");
        return Ok(());
    }
    if outcome.failed.is_empty() {
        Ok(())
    } else {
        Err(CliError::Failed(format!(
            "node{} failed: {}",
            if outcome.failed.len() == 1 { "" } else { "s" },
            outcome.failed.join(", ")
        )))
    }
}
