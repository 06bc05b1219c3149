//! Hosts the `multiply` service: `(a, b)` → `a * b`. A product that overflows is an error whose
//! text goes back to the caller.
//!
//! ```text
//! cargo run --example service_provider
//! ```

#[tokio::main]
async fn main() {
    rosy::init_logging(0);
    if let Err(e) = run().await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

async fn run() -> rosy::Result<()> {
    let node = rosy::build_node("service_provider").await?;
    node.add_service("multiply", |(a, b): (i64, i64)| async move {
        a.checked_mul(b)
            .ok_or_else(|| rosy::ServiceError::msg(format!("{a} * {b} overflows a 64-bit integer")))
    })
    .await?;
    println!("Started service...");
    node.forever().await;
    Ok(())
}
