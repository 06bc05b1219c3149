//! Service calls between two processes on one host: the round trip of `call()` when same-host
//! calls go through shared memory (the default) and when TCP is forced. The bench re-executes
//! itself as the provider (`ROSY_BENCH_PROVIDER`).
//!
//! `cargo bench --bench service`

use criterion::{BenchmarkId, Criterion, Throughput};
use rosy::TransportPreference;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(30);

fn main() {
    rosy::init_logging(0);
    if let Ok(spec) = std::env::var("ROSY_BENCH_PROVIDER") {
        provider(&spec);
        return;
    }
    let mut criterion = Criterion::default()
        .configure_from_args()
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));
    calls(&mut criterion);
    criterion.final_summary();
}

fn transport(name: &str) -> TransportPreference {
    if name == "tcp" {
        TransportPreference::Tcp
    } else {
        TransportPreference::Auto
    }
}

fn builder(name: &str, domain: &str, transport: TransportPreference) -> rosy::NodeBuilder {
    rosy::Node::builder(name)
        .domain_id(domain)
        .interfaces(Some(vec!["lo".to_string()]))
        .transport(transport)
}

/// spec = "domain,transport": hosts `echo`, answering with the request's bytes.
fn provider(spec: &str) {
    let (domain, mode) = spec.split_once(',').expect("domain,transport");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let node = builder("bench-provider", domain, transport(mode))
            .build()
            .await
            .unwrap();
        node.add_service(
            "echo",
            |bytes: serde_bytes::ByteBuf| async move { Ok(bytes) },
        )
        .await
        .unwrap();
        node.forever().await;
    });
}

struct Provider(Child);
impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn calls(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut group = c.benchmark_group("service");
    for mode in ["shm", "tcp"] {
        let domain = format!("bench-service-{mode}-{}", std::process::id());
        let _provider = Provider(
            Command::new(std::env::current_exe().unwrap())
                .env("ROSY_BENCH_PROVIDER", format!("{domain},{mode}"))
                .stdin(Stdio::null())
                .spawn()
                .expect("start the provider process"),
        );
        let node = runtime.block_on(async {
            let node = builder("bench-caller", &domain, transport(mode))
                .build()
                .await
                .unwrap();
            node.wait_for_service_provider("echo", T).await.unwrap();
            node
        });
        for size in [8usize, 1_000] {
            let request = serde_bytes::ByteBuf::from(vec![0x5a; size]);
            // Warm up the way there: same-host calls switch to shared memory once each side
            // reads the other's segment.
            runtime.block_on(async {
                for _ in 0..200 {
                    let _: serde_bytes::ByteBuf = node.call("echo", &request).await.unwrap();
                }
            });
            group.throughput(Throughput::Elements(1));
            group.bench_function(BenchmarkId::new(format!("call_{mode}"), size), |b| {
                b.iter_custom(|iters| {
                    runtime.block_on(async {
                        let start = Instant::now();
                        for _ in 0..iters {
                            let answer: serde_bytes::ByteBuf =
                                node.call("echo", &request).await.unwrap();
                            assert_eq!(answer.len(), size);
                        }
                        start.elapsed()
                    })
                })
            });
        }
        if mode == "shm" {
            let reading = node.info().shm_reading;
            assert!(
                reading.iter().any(|(_, t)| t == "@rosy/responses"),
                "same-host answers did not come through shared memory: {reading:?}"
            );
        }
        runtime.block_on(node.close());
    }
    group.finish();
}
