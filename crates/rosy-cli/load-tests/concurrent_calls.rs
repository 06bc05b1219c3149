//! Many callers at once against one provider: each caller is a fresh node that the provider
//! dials while it dials the provider, so duplicate connections are made and one of each pair is
//! closed. No call may fail for it while the provider lives.

use crate::rosy;
use crate::support::{Proc, unique_domain};
use std::time::Duration;

const T: Duration = Duration::from_secs(15);

#[test]
fn two_hundred_concurrent_service_calls_all_succeed() {
    let domain = unique_domain("cli-many-calls");
    let provider = Proc::example("service_provider", &domain, &[]);
    provider.expect_line("Started service...", T);
    let mut calls: Vec<(i64, Proc)> = (0..200)
        .map(|i| {
            let value = format!("[{i}, 3]");
            let args = [
                "service",
                "call",
                "multiply",
                &value,
                "--timeout",
                "60",
                "--wait",
                "60",
            ];
            (i, Proc::spawn("call", rosy(&domain, &args)))
        })
        .collect();
    let mut failed = Vec::new();
    for (i, call) in &mut calls {
        let status = call.wait_exit(Duration::from_secs(120));
        let out = call.stdout().join("\n");
        if !status.success() || out != (*i * 3).to_string() {
            failed.push(format!("{i}: {out:?} {:?}", call.stderr()));
        }
    }
    assert!(
        failed.is_empty(),
        "{} of 200 calls failed: {failed:#?}",
        failed.len()
    );
}
