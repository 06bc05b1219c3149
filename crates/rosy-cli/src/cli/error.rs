//! Errors of the command-line tools: what to tell the user, and the exit code.

/// A command's failure. `Usage` exits with 2, everything else with 1.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Rosy(#[from] rosy::Error),
    /// The arguments are wrong in a way clap cannot see (a VALUE that is not JSON or YAML...).
    #[error("{0}")]
    Usage(String),
    /// The command ran and failed; the text says why.
    #[error("{0}")]
    Failed(String),
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) => 2,
            _ => 1,
        }
    }
}
