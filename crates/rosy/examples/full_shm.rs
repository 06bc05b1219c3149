//! Two nodes in one process, one sending large and small messages to the other, for running
//! under a nearly full /dev/shm (shm-tests/full_shm.rs mounts a small tmpfs there in a private
//! mount namespace). Every message must arrive, by shared memory where it has room and by TCP
//! where it has not; the process must not die of SIGBUS.
//!
//! ```text
//! full_shm [--large BYTES] [--count N] [--inspect]
//! ```
//! Sends one small message, waits (at most 10 s) until the publisher has decided how the
//! listener is reached, then sends N messages (every 4th one `--large` bytes, default 1 MB;
//! the rest 100 bytes) before reading any: so large samples stay held, as in a busy listener.
//! Prints one line per send (`send SEQ LEN -> RESULT`), then `received R of N missing [..]
//! corrupt C`, `by transport shm S tcp T`, `way TRANSPORT: REASON`. Exits 0 when everything
//! arrived intact, 3 when not, 1 on an error. With `--inspect` both nodes then stay (printing
//! `inspect`) until SIGTERM or 60 s, for `rosy topic info` / `rosy node list -v` to look at.

use serde_bytes::ByteBuf;
use std::time::Duration;

const TOPIC: &str = "frames";

fn arg(flag: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1).cloned())
}

/// Byte i of message `seq` is `seq + 7 i` (mod 256): every message differs from every other.
fn pattern(seq: u64, len: usize) -> ByteBuf {
    ByteBuf::from(
        (0..len)
            .map(|i| (seq as usize + i * 7) as u8)
            .collect::<Vec<u8>>(),
    )
}

fn len_of(seq: u64, large: usize) -> usize {
    if seq % 4 == 1 { large } else { 100 }
}

async fn build(name: &str) -> rosy::Result<rosy::Node> {
    rosy::Node::builder(name)
        .interfaces(Some(vec!["lo".to_string()]))
        .mdns(false)
        .build()
        .await
}

#[tokio::main]
async fn main() {
    rosy::init_logging(0);
    match run().await {
        Ok(true) => {}
        Ok(false) => std::process::exit(3),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}

async fn run() -> rosy::Result<bool> {
    let large: usize = arg("--large")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let count: u64 = arg("--count").and_then(|v| v.parse().ok()).unwrap_or(16);
    let receiver = build("full-shm-receiver").await?;
    let mut frames = receiver.subscriber::<(u64, ByteBuf)>(TOPIC).await?;
    let sender = build("full-shm-sender").await?;
    let publisher = sender.publisher::<(u64, ByteBuf)>(TOPIC).await?;
    sender
        .wait_for_listener(TOPIC, Duration::from_secs(10))
        .await?;
    let receiver_id = receiver.id();
    let way = |sender: &rosy::Node| {
        sender
            .topology()
            .get(&receiver_id)
            .map(|l| rosy::topology::way_between(&sender.info(), l, TOPIC))
    };

    // Message 0 makes the publisher try its segment; then wait until it is read or refused.
    let result = publisher.send(&(0, pattern(0, 100))).await;
    println!("send 0 100 -> {result:?}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline {
        let decided = way(&sender).is_some_and(|w| {
            w.transport == "shm" || !(w.reason.contains("yet") || w.reason.is_empty())
        });
        if decided {
            break;
        }
        let _ = tokio::time::timeout(Duration::from_millis(100), sender.topology_changed()).await;
    }

    for seq in 1..count {
        let len = len_of(seq, large);
        let message = (seq, pattern(seq, len));
        // Large ones alternate between send and a loan filled in place.
        let result = if seq % 8 == 5 {
            let mut bytes = Vec::new();
            rosy::codec::Codec::encode(&rosy::codec::MsgPack, &message, &mut bytes)?;
            let mut loan = publisher.loan(bytes.len());
            loan.copy_from_slice(&bytes);
            loan.send().await
        } else {
            publisher.send(&message).await
        };
        println!("send {seq} {len} -> {result:?}");
    }

    let mut seen = vec![false; count as usize];
    let mut corrupt = 0;
    let mut received = 0;
    while received < count {
        match tokio::time::timeout(Duration::from_secs(10), frames.recv()).await {
            Ok(Some((seq, bytes))) => {
                received += 1;
                let ok = seq < count
                    && !seen[seq as usize]
                    && bytes.len() == len_of(seq, large)
                    && bytes == pattern(seq, bytes.len());
                if ok {
                    seen[seq as usize] = true;
                } else {
                    corrupt += 1;
                }
            }
            Ok(None) | Err(_) => break,
        }
    }
    let missing: Vec<usize> = (0..count as usize).filter(|&i| !seen[i]).collect();
    println!(
        "received {received} of {count} missing {missing:?} corrupt {corrupt} lost {}",
        frames.lost()
    );
    let (shm, tcp) = sender.sent_by_transport();
    println!(
        "by transport shm {shm} tcp {tcp} dropped {}",
        sender.dropped()
    );
    match way(&sender) {
        Some(w) => println!("way {}: {}", w.transport, w.reason),
        None => println!("way unknown: the sender lost the receiver"),
    }
    if std::env::args().any(|a| a == "--inspect") {
        // The handler is in place before `inspect` is printed: an early SIGTERM stops us cleanly.
        let mut terminate = tokio::signal::unix::signal(
            tokio::signal::unix::SignalKind::terminate(),
        )
        .map_err(|source| rosy::Error::Io {
            context: "cannot handle SIGTERM".into(),
            source,
        })?;
        println!("inspect");
        let _ = tokio::time::timeout(Duration::from_secs(60), terminate.recv()).await;
    }
    sender.close().await;
    receiver.close().await;
    Ok(missing.is_empty() && corrupt == 0)
}
