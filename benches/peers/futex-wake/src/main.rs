//! The floor under a sleeping subscriber's latency: one futex wake, one way.
//!
//! `futex-wake SECONDS [PERIOD_US]`: a thread sleeps on a 32-bit word (a shared, not
//! process-private futex, as rosy's doorbells are); every PERIOD_US (default 500) the main
//! thread stamps CLOCK_MONOTONIC, bumps the word and wakes it; the sleeper stamps the clock as it
//! returns. Prints one JSON line: wakes, and the one-way time's p50 and p99 in µs. No message,
//! no ring, no runtime: what any IPC that puts its receiver to sleep pays on this machine.

use rustix::thread::futex;
use rustix::time::{ClockId, clock_gettime};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn now_ns() -> u64 {
    let t = clock_gettime(ClockId::Monotonic);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: f64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let period_us: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(500);
    let word = Arc::new(AtomicU32::new(0));
    let sent_at = Arc::new(AtomicU64::new(0));
    let sleeper = {
        let (word, sent_at) = (word.clone(), sent_at.clone());
        std::thread::spawn(move || {
            let mut seen = 0u32;
            let mut times = Vec::new();
            loop {
                while word.load(Ordering::Acquire) == seen {
                    let _ = futex::wait(&word, futex::Flags::empty(), seen, None);
                }
                let woke = now_ns();
                seen = word.load(Ordering::Acquire);
                if seen == u32::MAX {
                    return times;
                }
                times.push(woke.saturating_sub(sent_at.load(Ordering::Acquire)));
            }
        })
    };
    let end = Instant::now() + Duration::from_secs_f64(seconds);
    let mut n = 0u32;
    while Instant::now() < end {
        std::thread::sleep(Duration::from_micros(period_us));
        n += 1;
        sent_at.store(now_ns(), Ordering::Release);
        word.store(n, Ordering::Release);
        let _ = futex::wake(&word, futex::Flags::empty(), 1);
    }
    word.store(u32::MAX, Ordering::Release);
    let _ = futex::wake(&word, futex::Flags::empty(), 1);
    let mut times = sleeper.join().expect("the sleeper ends");
    times.sort_unstable();
    let pct = |p: f64| times[((times.len() - 1) as f64 * p) as usize] as f64 / 1000.0;
    println!(
        "{{\"wakes\": {}, \"one_way_us_p50\": {:.2}, \"one_way_us_p99\": {:.2}}}",
        times.len(),
        pct(0.5),
        pct(0.99)
    );
}
