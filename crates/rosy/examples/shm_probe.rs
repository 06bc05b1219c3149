//! A bare shared-memory publisher or subscriber (no node, no discovery), used by `shm-tests`
//! and handy for poking at the transport by hand.
//!
//! ```text
//! shm_probe publish NAME COUNT SIZE [--burst N] [--wait-subscribers K] [--loan] [--wait-for-readers]
//! shm_probe subscribe NAME [--count N] [--slow-ms MS] [--hold] [--timeout S]
//! ```
//! Messages carry `seq u64 | checksum u64 | payload`; the subscriber checks order and checksums
//! and prints `received R lost L torn T disorder D`. With `--wait-for-readers` the publisher
//! waits for its slowest subscriber rather than take back a message it has not read.

use rosy::transport::shm::{ShmConfig, ShmError, ShmPublisher, ShmSubscriber};
use std::time::{Duration, Instant};

fn arg<T: std::str::FromStr>(args: &[String], flag: &str) -> Option<T> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
}

fn checksum(seq: u64, payload: &[u8]) -> u64 {
    payload
        .iter()
        .fold(seq.wrapping_mul(0x9e37_79b9_7f4a_7c15), |h, &b| {
            (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
        })
}

fn config(args: &[String]) -> ShmConfig {
    ShmConfig {
        pool_chunks: arg(args, "--chunks").unwrap_or(16),
        ..ShmConfig::default()
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let result = match args.get(1).map(String::as_str) {
        Some("publish") => publish(&args),
        Some("subscribe") => subscribe(&args),
        _ => {
            eprintln!(
                "usage: shm_probe publish NAME COUNT SIZE ... | shm_probe subscribe NAME ..."
            );
            std::process::exit(2);
        }
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn publish(args: &[String]) -> Result<(), ShmError> {
    let name = &args[2];
    let count: u64 = args[3].parse().expect("COUNT");
    let size: usize = args[4].parse().expect("SIZE");
    let burst: u64 = arg(args, "--burst").unwrap_or(u64::MAX);
    let publisher = ShmPublisher::create(name, &config(args))?;
    println!("ready");
    if let Some(k) = arg::<usize>(args, "--wait-subscribers") {
        let deadline = Instant::now() + Duration::from_secs(20);
        while publisher.subscriber_count() < k {
            assert!(Instant::now() < deadline, "subscribers never came");
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let loan = args.iter().any(|a| a == "--loan");
    let waits = args.iter().any(|a| a == "--wait-for-readers");
    publisher.set_waits_for_readers(waits);
    let start = Instant::now();
    let mut payload = vec![0u8; size];
    for seq in 0..count {
        payload
            .iter_mut()
            .enumerate()
            .for_each(|(i, b)| *b = (seq as usize + i) as u8);
        let sum = checksum(seq, &payload);
        if waits {
            // Never take back a message a subscriber has not read: wait for the slowest.
            let send =
                || publisher.send_parts(1, &[&seq.to_le_bytes(), &sum.to_le_bytes(), &payload]);
            loop {
                match send() {
                    Err(ShmError::ReaderBehind { .. }) => {}
                    sent => break sent?,
                }
                let wait = publisher.announce_wait();
                match send() {
                    Err(ShmError::ReaderBehind { .. }) => wait.sleep(Duration::from_millis(100)),
                    sent => break sent?,
                }
            }
        } else if loan {
            let mut chunk = publisher.loan(16 + size)?;
            chunk[..8].copy_from_slice(&seq.to_le_bytes());
            chunk[8..16].copy_from_slice(&sum.to_le_bytes());
            chunk[16..].copy_from_slice(&payload);
            chunk.send(1);
        } else {
            publisher.send_parts(1, &[&seq.to_le_bytes(), &sum.to_le_bytes(), &payload])?;
        }
        if (seq + 1) % burst == 0 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    println!("sent {count} in {:.3} s", start.elapsed().as_secs_f64());
    // Stay until told to go (stdin closes), so subscribers can drain.
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    Ok(())
}

fn subscribe(args: &[String]) -> Result<(), ShmError> {
    let name = &args[2];
    let count: u64 = arg(args, "--count").unwrap_or(u64::MAX);
    let slow = Duration::from_millis(arg(args, "--slow-ms").unwrap_or(0));
    let hold = args.iter().any(|a| a == "--hold");
    let timeout = Duration::from_secs_f64(arg(args, "--timeout").unwrap_or(20.0));
    let deadline = Instant::now() + timeout;
    let mut subscriber = loop {
        match ShmSubscriber::open(name) {
            Ok(s) => break s,
            Err(ShmError::NotFound(_) | ShmError::NotReady(_)) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Err(e) => return Err(e),
        }
    };
    println!("subscribed");
    let (mut received, mut torn, mut disorder) = (0u64, 0u64, 0u64);
    let mut last: Option<u64> = None;
    let mut held = Vec::new();
    let mut gone = false;
    while received + subscriber.lost() < count && Instant::now() < deadline {
        match subscriber.try_recv() {
            Ok(Some(sample)) => {
                let seq = u64::from_le_bytes(sample[..8].try_into().unwrap());
                let sum = u64::from_le_bytes(sample[8..16].try_into().unwrap());
                if checksum(seq, &sample[16..]) != sum {
                    torn += 1;
                }
                if last.is_some_and(|l| seq <= l) {
                    disorder += 1;
                }
                last = Some(seq);
                received += 1;
                if hold && sample.in_place() {
                    held.push(sample);
                    println!("holding {}", held.len());
                }
                if !slow.is_zero() {
                    std::thread::sleep(slow);
                }
            }
            Ok(None) => {
                subscriber.wait(Duration::from_millis(50));
            }
            Err(ShmError::PublisherGone(_)) => {
                gone = true;
                break;
            }
            Err(e) => return Err(e),
        }
    }
    println!(
        "received {received} lost {} torn {torn} disorder {disorder}{}",
        subscriber.lost(),
        if gone { " publisher gone" } else { "" }
    );
    if hold {
        // Keep the samples until killed.
        std::thread::sleep(timeout);
    }
    Ok(())
}
