//! Tests that load the whole machine (hundreds of processes at once), in a test binary of their
//! own so that they never run beside the timing-sensitive tests of the other suites (cargo runs
//! test binaries one after another). Every wait is bounded; every process started is killed.

mod concurrent_calls;
use rosy_test_support as support;

pub use support::rosy;
