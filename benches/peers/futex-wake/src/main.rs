//! The floor under a sleeping subscriber's latency: one futex wake, one way.
//!
//! `futex-wake SECONDS [PERIOD_US] [threads|processes]`: a sleeper waits on a 32-bit word (a
//! shared, not process-private futex, as rosy's doorbells are); every PERIOD_US (default 500)
//! the waker stamps CLOCK_MONOTONIC, bumps the word and wakes it; the sleeper stamps the clock as
//! it returns. `threads` (the default): the sleeper is a thread of the same process.
//! `processes`: it is a second process, the word in a shared-memory file both map, as a rosy
//! subscriber is to its publisher (waking it also switches the woken CPU to its address space).
//! Prints one JSON line: wakes, and the one-way time's p50 and p99 in µs. No message, no ring,
//! no runtime: what any IPC that puts its receiver to sleep pays on this machine.

use rustix::fs::{Mode, OFlags};
use rustix::mm::{MapFlags, ProtFlags};
use rustix::thread::futex;
use rustix::time::{ClockId, clock_gettime};
use std::io::Read;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What the waker and the sleeper share: in a `static` (threads) or a shared mapping
/// (processes). All-zero is its start state.
#[repr(C)]
struct Shared {
    word: AtomicU32,
    ready: AtomicU32,
    sent_at: AtomicU64,
}

static IN_PROCESS: Shared = Shared {
    word: AtomicU32::new(0),
    ready: AtomicU32::new(0),
    sent_at: AtomicU64::new(0),
};

fn now_ns() -> u64 {
    let t = clock_gettime(ClockId::Monotonic);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// Maps the shared-memory file `path` (created and sized by the waker) for the process's life.
fn map(path: &str, create: bool) -> &'static Shared {
    let flags = if create {
        OFlags::RDWR | OFlags::CREATE | OFlags::EXCL
    } else {
        OFlags::RDWR
    };
    let fd = rustix::fs::open(path, flags, Mode::RUSR | Mode::WUSR).expect("the shared file");
    let len = std::mem::size_of::<Shared>();
    if create {
        rustix::fs::ftruncate(&fd, len as u64).expect("the shared file sized");
    }
    // SAFETY: a fresh shared mapping of `len` bytes of a file at least that long; never
    // unmapped, so the reference below lives as long as the process.
    let ptr = unsafe {
        rustix::mm::mmap(
            std::ptr::null_mut(),
            len,
            ProtFlags::READ | ProtFlags::WRITE,
            MapFlags::SHARED,
            &fd,
            0,
        )
    }
    .expect("the shared file mapped");
    // SAFETY: page-aligned (so aligned for `Shared`), `len` bytes, zero-filled by ftruncate
    // (a valid `Shared`: atomics of zero), and only ever accessed through atomics.
    unsafe { &*(ptr as *const Shared) }
}

/// Sleeps on `shared.word` until it is `u32::MAX`; the one-way times, sorted.
fn sleep_on(shared: &Shared) -> Vec<u64> {
    let mut seen = 0u32;
    let mut times = Vec::new();
    shared.ready.store(1, Ordering::Release);
    loop {
        while shared.word.load(Ordering::Acquire) == seen {
            let _ = futex::wait(&shared.word, futex::Flags::empty(), seen, None);
        }
        let woke = now_ns();
        seen = shared.word.load(Ordering::Acquire);
        if seen == u32::MAX {
            times.sort_unstable();
            return times;
        }
        times.push(woke.saturating_sub(shared.sent_at.load(Ordering::Acquire)));
    }
}

/// Wakes the sleeper every `period` for `seconds`, then tells it to end.
fn wake(shared: &Shared, seconds: f64, period: Duration) {
    while shared.ready.load(Ordering::Acquire) == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let end = Instant::now() + Duration::from_secs_f64(seconds);
    let mut n = 0u32;
    while Instant::now() < end {
        std::thread::sleep(period);
        n += 1;
        shared.sent_at.store(now_ns(), Ordering::Release);
        shared.word.store(n, Ordering::Release);
        let _ = futex::wake(&shared.word, futex::Flags::empty(), 1);
    }
    shared.word.store(u32::MAX, Ordering::Release);
    let _ = futex::wake(&shared.word, futex::Flags::empty(), 1);
}

fn report(times: &[u64]) -> String {
    let pct = |p: f64| times[((times.len() - 1) as f64 * p) as usize] as f64 / 1000.0;
    format!(
        "{{\"wakes\": {}, \"one_way_us_p50\": {:.2}, \"one_way_us_p99\": {:.2}}}",
        times.len(),
        pct(0.5),
        pct(0.99)
    )
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--sleeper") {
        let shared = map(&args[1], false);
        println!("{}", report(&sleep_on(shared)));
        return;
    }
    let seconds: f64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let period_us: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(500);
    let period = Duration::from_micros(period_us);
    match args.get(2).map(String::as_str).unwrap_or("threads") {
        "threads" => {
            let sleeper = std::thread::spawn(|| sleep_on(&IN_PROCESS));
            wake(&IN_PROCESS, seconds, period);
            println!("{}", report(&sleeper.join().expect("the sleeper ends")));
        }
        "processes" => {
            let path = format!("/dev/shm/futex-wake-{}", std::process::id());
            let shared = map(&path, true);
            let mut sleeper = std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--sleeper", &path])
                .stdout(std::process::Stdio::piped())
                .spawn()
                .expect("the sleeper process");
            wake(shared, seconds, period);
            let mut out = String::new();
            let _ = sleeper.stdout.take().unwrap().read_to_string(&mut out);
            let _ = sleeper.wait();
            let _ = std::fs::remove_file(&path);
            print!("{out}");
        }
        other => panic!("threads or processes, not {other:?}"),
    }
}
