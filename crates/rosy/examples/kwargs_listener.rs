//! Listens for messages with keyword arguments, as the Python package sends them, and prints
//! what the Python demo sends (`python -m rosy.demo.topic_sender`).
//!
//! ```text
//! cargo run --example kwargs_listener     # Listening...  then  Received "hello world" on topic=some-topic
//! python -m rosy.demo.topic_sender         # send("some-topic", "hello", name="world")
//! ```
//!
//! Python's `send(topic, "hello", name="world")` travels as `{"args": ["hello"], "kwargs":
//! {"name": "world"}}`; `rosy::codec::ArgsKwargs` reads it, here with a struct for the keyword
//! arguments (a `HashMap<String, T>` reads any).

use rosy::codec::ArgsKwargs;

#[derive(serde::Deserialize)]
struct Name {
    name: Option<String>,
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
    let node = rosy::build_node("kwargs_listener").await?;
    node.listen(
        "some-topic",
        |topic, call: ArgsKwargs<(String,), Name>| async move {
            let name = call.kwargs.name.unwrap_or_default();
            println!("Received \"{} {name}\" on topic={topic}", call.args.0);
        },
    )
    .await?;
    println!("Listening...");
    node.forever().await;
    Ok(())
}
