//! Shared-memory transport: ring push/pop in one process, and ping-pong between two processes
//! (busy-polling, and with futex wake-ups), the same exchange as the iceoryx2 anchor in
//! ../shared/anchors/iceoryx2-pingpong. The bench re-executes itself as the pong process.
//!
//! `cargo bench --bench shm`

use criterion::{BenchmarkId, Criterion, Throughput};
use rosy::transport::shm::{ShmConfig, ShmPublisher, ShmSubscriber, segment_name};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    if let Ok(spec) = std::env::var("ROSY_BENCH_PONG") {
        pong(&spec);
        return;
    }
    let mut criterion = Criterion::default()
        .configure_from_args()
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));
    ring(&mut criterion);
    ping_pong(&mut criterion);
    criterion.final_summary();
}

fn name(what: &str) -> String {
    segment_name("bench", &format!("{:016x}", std::process::id()), what)
}

fn ring(c: &mut Criterion) {
    let mut group = c.benchmark_group("shm_ring");
    let n = name("ring");
    let publisher = ShmPublisher::create(&n, &ShmConfig::default()).unwrap();
    let mut subscriber = ShmSubscriber::open(&n).unwrap();
    for size in [0usize, 1000] {
        let payload = vec![7u8; size];
        group.throughput(Throughput::Elements(1));
        group.bench_function(BenchmarkId::new("send_recv", size), |b| {
            b.iter(|| {
                publisher.send(1, &payload).unwrap();
                subscriber.try_recv().unwrap().unwrap()
            })
        });
    }
    group.bench_function(BenchmarkId::new("loan_fill_send_recv", 1_000_000), |b| {
        b.iter(|| {
            let mut loan = publisher.loan(1_000_000).unwrap();
            loan.fill(3);
            loan.send(1);
            subscriber.try_recv().unwrap().unwrap()
        })
    });
    group.finish();
}

struct Peer(Child);
impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// spec = "ping_name,pong_name,busy"
fn pong(spec: &str) {
    let parts: Vec<&str> = spec.split(',').collect();
    let busy = parts[2] == "busy";
    let publisher = ShmPublisher::create(parts[1], &ShmConfig::default()).unwrap();
    let mut subscriber = loop {
        match ShmSubscriber::open(parts[0]) {
            Ok(s) => break s,
            Err(_) => std::thread::sleep(Duration::from_millis(1)),
        }
    };
    subscriber.set_busy_poll(busy);
    // As the iceoryx2 anchor's pong does: answer with a payload of its own, written into a loan.
    let mut source = Vec::new();
    loop {
        match subscriber.try_recv() {
            Ok(Some(sample)) => {
                if sample.len() > 1000 {
                    source.resize(sample.len(), 7u8);
                    drop(sample);
                    let mut loan = publisher.loan(source.len()).unwrap();
                    loan.copy_from_slice(&source);
                    loan.send(1);
                } else {
                    publisher.send(1, &sample).unwrap();
                }
            }
            Ok(None) => {
                subscriber.wait(Duration::from_millis(100));
            }
            Err(_) => return,
        }
    }
}

fn ping_pong(c: &mut Criterion) {
    let mut group = c.benchmark_group("shm_ping_pong");
    for busy in [true, false] {
        let (ping_name, pong_name) = (name(&format!("ping{busy}")), name(&format!("pong{busy}")));
        let publisher = ShmPublisher::create(&ping_name, &ShmConfig::default()).unwrap();
        let _peer = Peer(
            Command::new(std::env::current_exe().unwrap())
                .env(
                    "ROSY_BENCH_PONG",
                    format!(
                        "{ping_name},{pong_name},{}",
                        if busy { "busy" } else { "futex" }
                    ),
                )
                .stdin(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let mut subscriber = loop {
            match ShmSubscriber::open(&pong_name) {
                Ok(s) => break s,
                Err(_) => std::thread::sleep(Duration::from_millis(1)),
            }
        };
        subscriber.set_busy_poll(busy);
        while publisher.subscriber_count() == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        let mode = if busy { "busy_poll" } else { "futex" };
        for size in [8usize, 1 << 20] {
            let source = vec![7u8; size];
            group.bench_function(BenchmarkId::new(format!("round_trip_{mode}"), size), |b| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    for _ in 0..iters {
                        if size > 1000 {
                            let mut loan = publisher.loan(size).unwrap();
                            loan.copy_from_slice(&source);
                            loan.send(1);
                        } else {
                            publisher.send(1, &source).unwrap();
                        }
                        loop {
                            if let Some(sample) = subscriber.try_recv().unwrap() {
                                std::hint::black_box(&*sample);
                                break;
                            }
                            subscriber.wait(Duration::from_millis(100));
                        }
                    }
                    start.elapsed()
                })
            });
        }
    }
    group.finish();
}
