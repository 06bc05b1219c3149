//! `rosy topic list|info|echo|send|hz|bw`: the arguments here, one file per command.

mod echo;
mod info;
mod list;
mod rate;
mod send;
mod summary;

use super::error::CliError;
use super::qos_args::QosArgs;
use super::value::Format;

#[derive(Debug, clap::Subcommand)]
pub enum TopicCommand {
    /// List the topics of the mesh with their listeners and publishers.
    List {
        /// Wait at most this long for the mesh to be discovered (seconds).
        #[arg(long, default_value_t = 5.0, value_name = "SECONDS", value_parser = crate::cli::units::parse_seconds)]
        discovery_time: f64,
    },
    /// Show who publishes and who listens to TOPIC, with codecs and types.
    Info {
        topic: String,
        #[arg(long, default_value_t = 5.0, value_name = "SECONDS", value_parser = crate::cli::units::parse_seconds)]
        discovery_time: f64,
    },
    /// Print the messages arriving on one or more topics.
    Echo {
        #[arg(required = true)]
        topics: Vec<String>,
        /// Exit after this many messages.
        #[arg(short = 'n', long)]
        count: Option<u64>,
        /// How decoded messages are printed.
        #[arg(long, value_enum, default_value_t = Format::Json)]
        format: Format,
        #[command(flatten)]
        qos: QosArgs,
    },
    /// Send VALUE (JSON, or YAML) on TOPIC, once a node listens.
    Send(send::SendArgs),
    /// Print the rate of messages on TOPIC (min/max/std dev of the gaps over a window).
    Hz {
        topic: String,
        /// Messages the statistics are computed over.
        #[arg(short, long, default_value_t = 1000)]
        window: usize,
        /// Stop after this many seconds (default: until Ctrl-C).
        #[arg(long, value_name = "SECONDS", value_parser = crate::cli::units::parse_seconds)]
        duration: Option<f64>,
    },
    /// Print the bandwidth used by TOPIC (message sizes over a window).
    Bw {
        topic: String,
        #[arg(short, long, default_value_t = 1000)]
        window: usize,
        #[arg(long, value_name = "SECONDS", value_parser = crate::cli::units::parse_seconds)]
        duration: Option<f64>,
    },
}

pub async fn run(command: TopicCommand, domain: &str, json: bool) -> Result<(), CliError> {
    match command {
        TopicCommand::List { discovery_time } => list::list(domain, discovery_time, json).await,
        TopicCommand::Info {
            topic,
            discovery_time,
        } => info::info(domain, topic, discovery_time, json).await,
        TopicCommand::Echo {
            topics,
            count,
            format,
            qos,
        } => echo::echo(domain, topics, count, format, qos.qos(false), json).await,
        TopicCommand::Send(args) => send::send(domain, args).await,
        TopicCommand::Hz {
            topic,
            window,
            duration,
        } => rate::rate(domain, &topic, window, duration, false, json).await,
        TopicCommand::Bw {
            topic,
            window,
            duration,
        } => rate::rate(domain, &topic, window, duration, true, json).await,
    }
}
