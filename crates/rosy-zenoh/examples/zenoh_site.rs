//! One process of a test site for rosy-zenoh's tests (and a way to try a bridge by hand): a
//! bridge, or a rosy node that publishes, listens, provides or calls. Settings come from the
//! environment as for any node (`ROSY_DOMAIN_ID`, `ROSY_INTERFACES`, ...).
//!
//! ```text
//! zenoh_site bridge CONFIG.yaml         a bridge; prints "ready", then "dropped N" as it drops
//! zenoh_site publish TOPIC SIZE HZ      raw frames of SIZE bytes: sequence number, a checksum
//!                                       of the rest, then a pattern; prints "sent N" each second
//! zenoh_site listen TOPIC               prints "got SEQ LEN ok" (or "bad") per frame
//! zenoh_site publish-json TOPIC HZ      {"count": n} in JSON
//! zenoh_site listen-json TOPIC          prints each JSON message as it came
//! zenoh_site publish-latched TOPIC TEXT  TEXT once, latched (transient local), then stays
//! zenoh_site listen-latched TOPIC       prints each string, as a latched listener
//! zenoh_site provide SERVICE [DELAY_MS] adds two numbers: (a, b) -> a + b, answering after
//!                                       DELAY_MS (default 0)
//! zenoh_site call SERVICE A B           prints "answer A+B" or "error WHY", then exits
//! ```

use rosy::codec::{Json, Raw};
use std::time::Duration;

/// FNV-1a over the frame after its 16-byte head.
fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
    })
}

fn frame(seq: u64, size: usize) -> Vec<u8> {
    let size = size.max(16);
    let mut bytes = vec![0u8; size];
    for (i, b) in bytes[16..].iter_mut().enumerate() {
        *b = (i as u64 ^ seq) as u8;
    }
    let sum = checksum(&bytes[16..]);
    bytes[..8].copy_from_slice(&seq.to_le_bytes());
    bytes[8..16].copy_from_slice(&sum.to_le_bytes());
    bytes
}

fn check(bytes: &[u8]) -> (u64, bool) {
    if bytes.len() < 16 {
        return (0, false);
    }
    let seq = u64::from_le_bytes(bytes[..8].try_into().unwrap());
    let sum = u64::from_le_bytes(bytes[8..16].try_into().unwrap());
    (seq, sum == checksum(&bytes[16..]))
}

async fn node(name: &str) -> rosy::Node {
    rosy::Node::builder(name)
        .build()
        .await
        .expect("node starts")
}

#[tokio::main]
async fn main() {
    rosy::init_logging(0);
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).cloned().unwrap_or_else(|| usage());
    match arg(0).as_str() {
        "bridge" => {
            let config = rosy_zenoh::BridgeConfig::from_file(std::path::Path::new(&arg(1)))
                .unwrap_or_else(|e| fail(&e.to_string()));
            let bridge = rosy_zenoh::Bridge::start(config)
                .await
                .unwrap_or_else(|e| fail(&e.to_string()));
            println!("ready");
            let mut said = 0;
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if bridge.dropped() != said {
                    said = bridge.dropped();
                    println!("dropped {said}");
                }
            }
        }
        "publish" => {
            let (topic, size, hz) = (
                arg(1),
                arg(2).parse().unwrap(),
                arg(3).parse::<f64>().unwrap(),
            );
            let node = node("site-publisher").await;
            let publisher = node.publisher_with::<[u8], _>(&topic, Raw).await.unwrap();
            let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / hz));
            let mut second = tokio::time::Instant::now();
            for seq in 0u64.. {
                tick.tick().await;
                let bytes = frame(seq, size);
                let mut loan = publisher.loan(bytes.len());
                loan.copy_from_slice(&bytes);
                let _ = loan.send().await;
                if second.elapsed() >= Duration::from_secs(1) {
                    println!("sent {}", seq + 1);
                    second = tokio::time::Instant::now();
                }
            }
        }
        "listen" => {
            let node = node("site-listener").await;
            let mut frames = node
                .subscriber_with::<Vec<u8>, _>(&arg(1), Raw)
                .await
                .unwrap();
            println!("ready");
            while let Some(received) = frames.recv_encoded().await {
                let (seq, ok) = check(&received.payload);
                println!(
                    "got {seq} {} {}",
                    received.payload.len(),
                    if ok { "ok" } else { "bad" }
                );
            }
        }
        "publish-json" => {
            let (topic, hz) = (arg(1), arg(2).parse::<f64>().unwrap());
            let node = node("site-json-publisher").await;
            let publisher = node
                .publisher_with::<serde_json::Value, _>(&topic, Json)
                .await
                .unwrap();
            let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / hz));
            for count in 0u64.. {
                tick.tick().await;
                let _ = publisher.send(&serde_json::json!({ "count": count })).await;
            }
        }
        "listen-json" => {
            let node = node("site-json-listener").await;
            let mut values = node
                .subscriber_with::<serde_json::Value, _>(&arg(1), Json)
                .await
                .unwrap();
            println!("ready");
            while let Some(value) = values.recv().await {
                println!("{value}");
            }
        }
        "publish-latched" => {
            let node = node("site-map").await;
            let publisher = node
                .publisher_with_qos::<String>(&arg(1), rosy::qos::Qos::latched())
                .await
                .unwrap();
            publisher.send(&arg(2)).await.unwrap();
            println!("ready");
            node.forever().await;
        }
        "listen-latched" => {
            let node = node("site-map-reader").await;
            let mut values = node
                .subscriber_with_qos::<String>(&arg(1), rosy::qos::Qos::latched())
                .await
                .unwrap();
            println!("ready");
            while let Some(value) = values.recv().await {
                println!("{value}");
            }
        }
        "provide" => {
            let delay = match args.get(2) {
                Some(ms) => Duration::from_millis(ms.parse().unwrap_or_else(|_| usage())),
                None => Duration::ZERO,
            };
            let node = node("site-adder").await;
            node.add_service(&arg(1), move |(a, b): (i64, i64)| async move {
                tokio::time::sleep(delay).await;
                Ok(a + b)
            })
            .await
            .unwrap();
            println!("ready");
            node.forever().await;
        }
        "call" => {
            let (service, a, b) = (
                arg(1),
                arg(2).parse::<i64>().unwrap(),
                arg(3).parse::<i64>().unwrap(),
            );
            let node = node("site-caller").await;
            if let Err(e) = node
                .wait_for_service_provider(&service, Duration::from_secs(30))
                .await
            {
                println!("error {e}");
                return;
            }
            match node.call::<(i64, i64), i64>(&service, &(a, b)).await {
                Ok(sum) => println!("answer {sum}"),
                Err(e) => println!("error {e}"),
            }
        }
        _ => usage(),
    }
}

fn usage() -> ! {
    fail(
        "usage: zenoh_site bridge CONFIG | publish TOPIC SIZE HZ | listen TOPIC | publish-json TOPIC HZ | listen-json TOPIC | provide SERVICE [DELAY_MS] | call SERVICE A B",
    )
}

fn fail(why: &str) -> ! {
    eprintln!("zenoh_site: {why}");
    std::process::exit(2)
}
