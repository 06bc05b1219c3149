//! A node listening to many topics at once, for checking that threads and shared memory do not
//! grow with the number of topics (`shm-tests` runs it beside a publisher of as many topics).
//!
//! ```text
//! cargo run --example many_topics -- listen 200
//! ```
//! Listens to `many/0` .. `many/<N-1>`, whose messages are `(topic index, round)`, and prints
//! `listening to N topics`, then `round R on all N topics` once every topic has received a
//! message of round R or later. A message whose index is not its topic's is reported on stderr.
//! Runs until Ctrl-C (or SIGTERM).
//!
//! Two tokio workers whatever the machine, so the process's thread count says what rosy adds.

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    rosy::init_logging(0);
    let args: Vec<String> = std::env::args().collect();
    let result = match (args.get(1).map(String::as_str), args.get(2)) {
        (Some("listen"), Some(n)) => match n.parse() {
            Ok(n) => listen(n).await,
            Err(_) => usage(),
        },
        _ => usage(),
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn usage() -> rosy::Result<()> {
    eprintln!("usage: many_topics listen N");
    std::process::exit(2);
}

async fn listen(n: u32) -> rosy::Result<()> {
    let node = rosy::build_node("many_topics").await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(u32, u32, u64)>();
    for i in 0..n {
        let mut subscriber = node.subscriber::<(u32, u64)>(&format!("many/{i}")).await?;
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Some((index, round)) = subscriber.recv().await {
                if tx.send((i, index, round)).is_err() {
                    break;
                }
            }
        });
    }
    drop(tx);
    println!("listening to {n} topics");
    // The latest round each topic has seen, and the round every topic has reached.
    let mut latest = vec![0u64; n as usize];
    let mut reported = 0;
    let stop = rosy::node::shutdown_signal();
    tokio::pin!(stop);
    loop {
        let (topic, index, round) = tokio::select! {
            m = rx.recv() => match m {
                Some(m) => m,
                None => break,
            },
            _ = &mut stop => break,
        };
        if index != topic {
            eprintln!("wrong topic: message for many/{index} arrived on many/{topic}");
            continue;
        }
        let seen = &mut latest[topic as usize];
        *seen = (*seen).max(round);
        let all = latest.iter().copied().min().unwrap_or(0);
        if all > reported {
            reported = all;
            println!("round {all} on all {n} topics");
        }
    }
    node.close().await;
    Ok(())
}
