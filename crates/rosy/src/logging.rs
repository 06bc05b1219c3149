//! Log output for rosy's binaries and examples: `tracing` to stderr, `RUST_LOG` honoured.

/// Sends log records to stderr: warnings and errors by default, more with each `verbosity`
/// step (1: info, 2: debug, 3: trace). `RUST_LOG` overrides. Calling it twice is harmless.
pub fn init_logging(verbosity: u8) {
    let default = match verbosity {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
