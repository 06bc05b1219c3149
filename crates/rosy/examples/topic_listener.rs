//! Listens on a topic and prints what arrives.
//!
//! ```text
//! cargo run --example topic_listener                 # prints Listening..., then each message
//! cargo run --example topic_listener -- --name group # same-name listeners share messages
//! ```
//! Options: `--name NAME` (default `topic_listener`, or `$ROSY_NODE_NAME`), `--topic TOPIC`
//! (default `some-topic`).

use std::time::Duration;

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
    node.listen(
        &topic,
        |topic, (message, name): (String, String)| async move {
            println!("Received \"{message} {name}\" on topic={topic}");
        },
    )
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
