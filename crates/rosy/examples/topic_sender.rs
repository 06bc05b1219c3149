//! Sends `("hello", "world")` on a topic, once a listener is there (waiting at most 10 s).
//!
//! ```text
//! cargo run --example topic_sender
//! cargo run --example topic_sender -- --count 100 --interval 0.01
//! ```
//! Options: `--topic TOPIC` (default `some-topic`), `--count N` (default 1), `--interval S`.

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
    let topic = arg("--topic").unwrap_or_else(|| "some-topic".to_string());
    let count: u64 = arg("--count").and_then(|c| c.parse().ok()).unwrap_or(1);
    let interval: f64 = arg("--interval")
        .and_then(|c| c.parse().ok())
        .unwrap_or(0.0);
    let node = rosy::build_node("topic_sender").await?;
    node.wait_for_listener(&topic, Duration::from_secs(10))
        .await?;
    for i in 0..count {
        if i > 0 && interval > 0.0 {
            tokio::time::sleep(Duration::from_secs_f64(interval)).await;
        }
        node.send(&topic, &("hello", "world")).await?;
    }
    // close() writes out what is still queued before it disconnects.
    node.close().await;
    Ok(())
}

fn arg(flag: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1).cloned())
}
