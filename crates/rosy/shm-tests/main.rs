//! Integration tests of the shared-memory transport with real processes: many subscribers,
//! slow ones, crashes on both sides, foreign segments, and zero-copy reads through nodes.
//! Every wait is bounded; every segment made is removed.

mod crashes;
mod flow;
mod full_shm;
mod large;
mod nodes;
mod same_name_nodes;
use rosy_test_support as support;
mod truncated;

/// A segment name no other test uses.
pub fn unique_segment(test: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    rosy::transport::shm::segment_name(
        "shm-tests",
        &format!(
            "{:08x}{:08x}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ),
        test,
    )
}

/// `shm_probe ARGS`.
pub fn probe(args: &[&str]) -> std::process::Command {
    let mut command = std::process::Command::new(support::example("shm_probe"));
    command.args(args);
    command
}
