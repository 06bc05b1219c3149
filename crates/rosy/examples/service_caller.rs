//! Calls the `multiply` service once a provider is there (waiting at most 10 s).
//!
//! ```text
//! cargo run --example service_caller            # Calculating 2 * 2... / Result: 4
//! cargo run --example service_caller -- 6 7
//! ```

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
    let args: Vec<i64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let (a, b) = match args[..] {
        [a, b] => (a, b),
        _ => (2, 2),
    };
    let node = rosy::build_node("service_caller").await?;
    node.wait_for_service_provider("multiply", Duration::from_secs(10))
        .await?;
    println!("Calculating {a} * {b}...");
    let result: i64 = node.call("multiply", &(a, b)).await?;
    println!("Result: {result}");
    node.close().await;
    Ok(())
}
