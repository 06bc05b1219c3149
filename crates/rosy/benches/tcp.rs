//! TCP between two processes on loopback: messages/s received and round-trip latency for 0 B,
//! 1 kB and 1 MB messages. The bench re-executes itself as the peer process (`ROSY_BENCH_PEER`).
//!
//! `cargo bench --bench tcp`. Throughput: each iteration batch sends N messages and then an end
//! marker; the peer answers with how many it received; time runs until that answer. Latency: a
//! ping the peer echoes back; one-way latency is half a round trip.

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput};
use rosy::codec::Raw;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(30);

fn main() {
    rosy::init_logging(0);
    if let Ok(domain) = std::env::var("ROSY_BENCH_PEER") {
        peer(&domain);
        return;
    }
    let mut criterion = Criterion::default()
        .configure_from_args()
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_secs(1));
    tcp(&mut criterion);
    criterion.final_summary();
}

fn builder(name: &str, domain: &str) -> rosy::NodeBuilder {
    rosy::Node::builder(name)
        .domain_id(domain)
        .interfaces(Some(vec!["lo".to_string()]))
        .transport(rosy::TransportPreference::Tcp)
        .queue_capacity(1 << 16)
}

/// The peer: counts data messages until an empty end marker, answers the count; echoes pings.
fn peer(domain: &str) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let node = builder("bench-peer", domain).build().await.unwrap();
        let mut data = node
            .subscriber_with::<serde_bytes::ByteBuf, _>("bench/data", Raw)
            .await
            .unwrap();
        let mut ping = node
            .subscriber_with::<serde_bytes::ByteBuf, _>("bench/ping", Raw)
            .await
            .unwrap();
        let pong = node
            .publisher_with::<[u8], _>("bench/pong", Raw)
            .await
            .unwrap();
        let count = node
            .publisher_with::<[u8], _>("bench/count", Raw)
            .await
            .unwrap();
        let echo = async {
            while let Some(m) = ping.recv_encoded().await {
                let _ = pong.send_encoded(m.payload).await;
            }
        };
        let counter = async {
            let mut n: u64 = 0;
            while let Some(m) = data.recv_encoded().await {
                if m.payload.len() == 1 && m.payload[0] == 0xEE {
                    let _ = count.send(&n.to_le_bytes()).await;
                    n = 0;
                } else {
                    n += 1;
                }
            }
        };
        tokio::select! { _ = echo => {}, _ = counter => {}, _ = node.forever() => {} }
    });
}

struct Peer(Child);
impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tcp(c: &mut Criterion) {
    let domain = format!("bench-tcp-{}", std::process::id());
    let _peer = Peer(
        Command::new(std::env::current_exe().unwrap())
            .env("ROSY_BENCH_PEER", &domain)
            .stdin(Stdio::null())
            .spawn()
            .expect("start the peer process"),
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (node, data, ping, mut pong, mut count) = runtime.block_on(async {
        let node = builder("bench", &domain).build().await.unwrap();
        let pong = node
            .subscriber_with::<serde_bytes::ByteBuf, _>("bench/pong", Raw)
            .await
            .unwrap();
        let count = node
            .subscriber_with::<serde_bytes::ByteBuf, _>("bench/count", Raw)
            .await
            .unwrap();
        let data = node
            .publisher_with::<[u8], _>("bench/data", Raw)
            .await
            .unwrap();
        let ping = node
            .publisher_with::<[u8], _>("bench/ping", Raw)
            .await
            .unwrap();
        node.wait_for_listener("bench/data", T).await.unwrap();
        node.wait_for_listener("bench/ping", T).await.unwrap();
        (node, data, ping, pong, count)
    });

    let mut group = c.benchmark_group("tcp");
    for size in [0usize, 1_000, 1_000_000] {
        let payload = Bytes::from(vec![0x5a; size]);
        group.throughput(Throughput::Elements(1));
        group.bench_function(BenchmarkId::new("throughput", size), |b| {
            b.iter_custom(|iters| {
                runtime.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        data.send_encoded(payload.clone()).await.unwrap();
                    }
                    data.send_encoded(Bytes::from_static(&[0xEE]))
                        .await
                        .unwrap();
                    let got = tokio::time::timeout(T, count.recv())
                        .await
                        .unwrap()
                        .unwrap();
                    let elapsed = start.elapsed();
                    let received = u64::from_le_bytes(got[..8].try_into().unwrap());
                    if received != iters {
                        eprintln!("tcp/{size}: {received} of {iters} received");
                    }
                    elapsed
                })
            })
        });
        group.bench_function(BenchmarkId::new("round_trip", size), |b| {
            b.iter_custom(|iters| {
                runtime.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        ping.send_encoded(payload.clone()).await.unwrap();
                        tokio::time::timeout(T, pong.recv_encoded())
                            .await
                            .unwrap()
                            .unwrap();
                    }
                    start.elapsed()
                })
            })
        });
    }
    group.finish();
    runtime.block_on(node.close());
}
