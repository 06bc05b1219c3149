//! `rosy zenoh bridge [CONFIG]`: a process that joins this domain's rosy mesh to a zenoh network
//! (`rosy_zenoh::Bridge`), so that sites sharing no LAN exchange topics and service calls. What
//! crosses comes from the command line or a YAML file (read strictly: an unknown key is an
//! error naming it); a zenoh config file is passed to zenoh unchanged.

use super::error::CliError;
use super::units::parse_seconds;
use rosy_zenoh::{Bridge, BridgeConfig, TopicLimit};
use std::path::PathBuf;
use std::time::Duration;

/// Joining meshes through zenoh.
#[derive(Debug, clap::Subcommand)]
pub enum ZenohCommand {
    /// Join this domain's mesh to a zenoh network (a router, or peers), until Ctrl-C.
    Bridge(BridgeArgs),
}

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Nothing crosses unless allowed: give topics and services each way, as names or patterns (`*` \
matches within one /-separated part, `**` across parts: 'camera/**'), or --all for everything. \
A topic leaves while a node of this site publishes it (a topic named in full, without `*`, \
always), and comes in while one listens to it; a service is offered to other sites while a node here provides it. Of several bridges on one mesh \
(to back each other up), each message leaves through one of them and comes in through one.

Keys, for plain zenoh programs: a topic's messages are on rosy/<domain>/<topic>, payloads as \
rosy encodes them, the codec and type in the attachment (JSON: {\"codec\": \"json\", \"type\": \
...}) and the codec in the encoding (application/json, application/msgpack, zenoh/bytes). A \
sample without an attachment is taken as JSON when its encoding says application/json, else as \
raw bytes. Services are queryables on rosy/<domain>/@service/<service>.

Secure mode (ROSY_SECURITY=enforce): the bridge's two rosy nodes (zenoh-bridge and \
zenoh-bridge-in) are secured like any node's and need identities granting those names; the \
zenoh side is as secure as the zenoh config makes it (TLS with client certificates, zenoh's \
access control). Without TLS endpoints the bridge warns that it carries the domain in the clear.

CONFIG is YAML:

  zenoh:
    config: zenoh.json5        # optional: a zenoh config file, passed to zenoh unchanged
    mode: client               # peer (zenoh's default) or client
    connect: [tcp/192.0.2.1:7447]
    listen: []
  topics:
    export: ['camera/*', status]
    import: [cmd_vel]
  services:
    export: [arm/home]
    import: ['map/**']
  limits:
    camera/image: {max_rate: 5}  # messages a second leaving the site; the newest is kept
  call_timeout: 30             # seconds a call from here to another site may take (default 10)

Flags add to the file's lists.")]
pub struct BridgeArgs {
    /// A YAML file of what crosses and how the bridge joins zenoh (see below).
    pub config: Option<PathBuf>,
    /// A zenoh config file (JSON5), passed to zenoh unchanged (TLS, QUIC, access control...).
    #[arg(long, value_name = "FILE")]
    pub zenoh_config: Option<PathBuf>,
    /// The zenoh mode: peer (zenoh's default) or client (of a router).
    #[arg(long, value_parser = ["peer", "client"])]
    pub mode: Option<String>,
    /// A zenoh endpoint to connect to, e.g. tcp/192.0.2.1:7447 (repeatable).
    #[arg(long, value_name = "ENDPOINT")]
    pub connect: Vec<String>,
    /// A zenoh endpoint to listen on, e.g. tcp/0.0.0.0:7447 (repeatable).
    #[arg(long, value_name = "ENDPOINT")]
    pub listen: Vec<String>,
    /// A topic (or pattern) of this site sent to others (repeatable).
    #[arg(long = "export", value_name = "TOPIC")]
    pub export_topics: Vec<String>,
    /// A topic (or pattern) of other sites brought here (repeatable).
    #[arg(long = "import", value_name = "TOPIC")]
    pub import_topics: Vec<String>,
    /// A service (or pattern) of this site other sites may call (repeatable).
    #[arg(long = "export-service", value_name = "SERVICE")]
    pub export_services: Vec<String>,
    /// A service (or pattern) of other sites callable here (repeatable).
    #[arg(long = "import-service", value_name = "SERVICE")]
    pub import_services: Vec<String>,
    /// Everything crosses both ways: all topics and services.
    #[arg(long)]
    pub all: bool,
    /// At most HZ messages a second of TOPIC (or pattern) leave the site, as TOPIC=HZ; the
    /// newest is kept (repeatable).
    #[arg(long = "max-rate", value_name = "TOPIC=HZ")]
    pub max_rate: Vec<String>,
    /// Seconds a call from this site to another site's service may take (default 10); the
    /// other site's bridge waits as long for its provider.
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub call_timeout: Option<f64>,
    /// Stop after this many seconds (default: until Ctrl-C or SIGTERM).
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub duration: Option<f64>,
}

/// The bridge's config: the file's, then the flags.
pub fn configure(args: &BridgeArgs) -> Result<BridgeConfig, CliError> {
    let mut config = match &args.config {
        Some(path) => BridgeConfig::from_file(path).map_err(|e| CliError::Usage(e.to_string()))?,
        None => BridgeConfig::default(),
    };
    if args.zenoh_config.is_some() {
        config.zenoh.config = args.zenoh_config.clone();
    }
    if args.mode.is_some() {
        config.zenoh.mode = args.mode.clone();
    }
    config.zenoh.connect.extend(args.connect.iter().cloned());
    config.zenoh.listen.extend(args.listen.iter().cloned());
    let everything = if args.all {
        vec!["**".to_string()]
    } else {
        vec![]
    };
    config
        .topics
        .export
        .0
        .extend(args.export_topics.iter().chain(&everything).cloned());
    config
        .topics
        .import
        .0
        .extend(args.import_topics.iter().chain(&everything).cloned());
    config
        .services
        .export
        .0
        .extend(args.export_services.iter().chain(&everything).cloned());
    config
        .services
        .import
        .0
        .extend(args.import_services.iter().chain(&everything).cloned());
    for value in &args.max_rate {
        let bad = || {
            CliError::Usage(format!(
                "--max-rate {value:?}: expected TOPIC=HZ with HZ a positive number, e.g. camera/image=5"
            ))
        };
        let (topic, hz) = value.rsplit_once('=').ok_or_else(bad)?;
        let hz: f64 = hz.trim().parse().map_err(|_| bad())?;
        config
            .limits
            .insert(topic.to_string(), TopicLimit { max_rate: Some(hz) });
    }
    if args.call_timeout.is_some() {
        config.call_timeout = args.call_timeout;
    }
    config.check().map_err(CliError::Usage)?;
    if !config.carries_anything() {
        return Err(CliError::Usage(
            "nothing would cross: give --export/--import topics, --export-service/--import-service \
             services (names or patterns), a CONFIG file that lists some, or --all"
                .into(),
        ));
    }
    Ok(config)
}

fn list(patterns: &rosy_zenoh::AllowList) -> String {
    if patterns.is_empty() {
        "nothing".into()
    } else {
        patterns.0.join(", ")
    }
}

pub async fn run(command: ZenohCommand, domain: &str) -> Result<(), CliError> {
    let ZenohCommand::Bridge(args) = command;
    let config = configure(&args)?;
    let summary = format!(
        "topics out: {}; in: {}; services out: {}; in: {}",
        list(&config.topics.export),
        list(&config.topics.import),
        list(&config.services.export),
        list(&config.services.import)
    );
    let domain_id = domain.to_string();
    let bridge = Bridge::start_with(config, |name| {
        rosy::Node::builder(name).domain_id(domain_id.clone())
    })
    .await
    .map_err(|e| CliError::Failed(e.to_string()))?;
    // Listening before saying so: a Ctrl-C right after the line below must stop the bridge.
    let stop = rosy::node::shutdown_signal();
    eprintln!(
        "bridging rosy domain {domain:?} through zenoh (session {}): {summary} (Ctrl-C stops)",
        bridge.zenoh_id()
    );
    match args.duration {
        Some(s) => {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs_f64(s)) => {}
                _ = stop => {}
            }
        }
        None => stop.await,
    }
    bridge.stop().await;
    Ok(())
}
