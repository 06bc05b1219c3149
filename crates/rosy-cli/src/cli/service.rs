//! `rosy service list|call`.

use super::error::CliError;
use super::progress::Spinner;
use super::tool_node;
use super::value::{self, Format};
use bytes::Bytes;
use rosy::codec::{Codec, CodecId, MsgPack};
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, clap::Subcommand)]
pub enum ServiceCommand {
    /// List the services of the mesh and the nodes providing them.
    List {
        #[arg(long, default_value_t = 5.0, value_name = "SECONDS", value_parser = crate::cli::units::parse_seconds)]
        discovery_time: f64,
    },
    /// Call SERVICE with VALUE (JSON, or YAML) and print the response.
    Call {
        service: String,
        /// The request: JSON like '[2, 2]' or YAML like '[2, 2]'; null if absent.
        value: Option<String>,
        /// How long to wait for the response (seconds).
        #[arg(long, default_value_t = 10.0, value_name = "SECONDS", value_parser = crate::cli::units::parse_seconds)]
        timeout: f64,
        /// How long to wait for a provider to appear (seconds).
        #[arg(long, default_value_t = 10.0, value_name = "SECONDS", value_parser = crate::cli::units::parse_seconds)]
        wait: f64,
        #[arg(long, value_enum, default_value_t = Format::Json)]
        format: Format,
    },
}

pub async fn run(command: ServiceCommand, domain: &str, json: bool) -> Result<(), CliError> {
    match command {
        ServiceCommand::List { discovery_time } => {
            let node = tool_node::join_dial_only(domain, "service-list").await?;
            tool_node::settle(&node, Duration::from_secs_f64(discovery_time)).await;
            let mut services: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
            for n in node.topology().nodes().filter(|n| !n.tool) {
                for s in &n.services {
                    services
                        .entry(s.name.clone())
                        .or_default()
                        .push(serde_json::json!({
                            "node": n.name, "host": n.hostname, "id": n.id, "codec": s.codec_name,
                            "request_type": s.request_type, "response_type": s.response_type,
                        }));
                }
            }
            node.close().await;
            if json {
                println!("{}", serde_json::to_string(&services).unwrap_or_default());
            } else if services.is_empty() {
                println!("no services");
            } else {
                for (name, providers) in &services {
                    let who: Vec<String> = providers
                        .iter()
                        .map(|p| {
                            format!(
                                "{}@{}",
                                p["node"].as_str().unwrap_or(""),
                                p["host"].as_str().unwrap_or("")
                            )
                        })
                        .collect();
                    println!(
                        "{name}  [{}]  provided by {}",
                        providers[0]["codec"].as_str().unwrap_or(""),
                        who.join(", ")
                    );
                }
            }
            Ok(())
        }
        ServiceCommand::Call {
            service,
            value,
            timeout,
            wait,
            format,
        } => {
            let request = match &value {
                Some(text) => value::parse(text)?,
                None => serde_json::Value::Null,
            };
            let mut payload = Vec::new();
            MsgPack
                .encode(&request, &mut payload)
                .map_err(rosy::Error::from)?;
            let node = tool_node::join_dial_only(domain, "service-call").await?;
            let timeout = Duration::from_secs_f64(timeout);
            let waited = {
                let _spinner = Spinner::start(format!("waiting for a provider of {service}..."));
                wait_for_provider(&node, &service, Duration::from_secs_f64(wait), timeout).await
            };
            if let Err(e) = waited {
                node.close().await;
                return Err(e.into());
            }
            let result = node
                .call_encoded(&service, CodecId::MsgPack, Bytes::from(payload), timeout)
                .await;
            node.close().await;
            let answer = result?;
            let shown = if json {
                value::describe(answer.codec, "", &answer.payload, Format::Json)
            } else {
                value::describe(answer.codec, "", &answer.payload, format)
            };
            println!("{shown}");
            Ok(())
        }
    }
}

/// Waits up to `wait` for a provider of `service`. A node that discovery reports but that has not
/// finished connecting after `timeout` (frozen, or too busy to answer) may be the provider: the
/// call then fails as timed out after `timeout`, not as "no provider" after `wait`.
async fn wait_for_provider(
    node: &rosy::Node,
    service: &str,
    wait: Duration,
    timeout: Duration,
) -> Result<(), rosy::Error> {
    let start = std::time::Instant::now();
    if node
        .wait_for_service_provider(service, wait.min(timeout))
        .await
        .is_ok()
    {
        return Ok(());
    }
    if wait > timeout && node.unconnected_peers() > 0 {
        return Err(rosy::Error::Timeout {
            service: service.to_string(),
            timeout,
        });
    }
    node.wait_for_service_provider(service, wait.saturating_sub(start.elapsed()))
        .await
}
