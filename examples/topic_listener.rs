//! Listens on a topic and prints what arrives.
//!
//! ```text
//! cargo run --example topic_listener                 # prints Listening..., then each message
//! cargo run --example topic_listener -- --name group # same-name listeners share messages
//! ```
//! Options: `--name NAME` (default `topic_listener`, or `$ROSY_NODE_NAME`), `--topic TOPIC`
//! (default `some-topic`).
//!
//! It also hears the Python demo (`python -m rosy.demo.topic_sender`), whose
//! `send("some-topic", "hello", name="world")` travels with its keyword argument as
//! `{"args": ["hello"], "kwargs": {"name": "world"}}`: read here as `rosy::codec::ArgsKwargs`.

use rosy::codec::ArgsKwargs;
use std::time::Duration;

/// A greeting as a Rust sender sends it, `("hello", "world")`, or as the Python demo does.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Greeting {
    Pair(String, String),
    WithName(ArgsKwargs<(String,), Name>),
}

#[derive(serde::Deserialize)]
struct Name {
    name: String,
}

#[tokio::main]
async fn main() {
    rosy::init_logging(0);
    if let Err(e) = run().await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

async fn run() -> rosy::Result<()> {
    let name = arg("--name").or_else(|| std::env::var("ROSY_NODE_NAME").ok());
    let topic = arg("--topic").unwrap_or_else(|| "some-topic".to_string());
    let node = rosy::build_node(name.as_deref().unwrap_or("topic_listener")).await?;
    node.listen(&topic, |topic, greeting: Greeting| async move {
        let (message, name) = match greeting {
            Greeting::Pair(message, name) => (message, name),
            Greeting::WithName(call) => (call.args.0, call.kwargs.name),
        };
        println!("Received \"{message} {name}\" on topic={topic}");
    })
    .await?;
    println!("Listening...");
    node.forever().await;
    // Give stdout a moment to reach a pipe before the process ends.
    tokio::time::sleep(Duration::from_millis(10)).await;
    Ok(())
}

fn arg(flag: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1).cloned())
}
