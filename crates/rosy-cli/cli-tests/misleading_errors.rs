//! Errors that tell the user what happened: a frozen provider times out (not "no provider"),
//! and `topic send` warns when the listeners cannot decode the value.

use crate::rosy;
use crate::support::{Proc, unique_domain};
use rustix::process::Signal;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(15);

#[test]
fn a_call_to_a_frozen_provider_times_out_after_its_timeout() {
    let domain = unique_domain("cli-frozen");
    let mut provider = Proc::example("service_provider", &domain, &[]);
    provider.expect_line("Started service...", T);
    provider.signal(Signal::STOP);
    let start = Instant::now();
    let mut call = Proc::spawn(
        "call",
        rosy(
            &domain,
            &["service", "call", "multiply", "[2, 3]", "--timeout", "3"],
        ),
    );
    let status = call.wait_exit(T);
    let took = start.elapsed();
    provider.signal(Signal::CONT);
    provider.kill();
    let stderr = call.stderr().join("\n");
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("call to service \"multiply\" timed out after 3s"),
        "{stderr}"
    );
    assert!(took < Duration::from_secs(6), "returned after {took:?}");
}

#[test]
fn topic_send_warns_when_the_listeners_cannot_decode_the_value() {
    let domain = unique_domain("cli-undecodable");
    let listener = Proc::example("topic_listener", &domain, &[]);
    listener.expect_line("Listening...", T);
    // The listener takes (String, String): a number is not that.
    let mut send = Proc::spawn(
        "send",
        rosy(&domain, &["topic", "send", "some-topic", "42"]),
    );
    assert!(send.wait_exit(T).success(), "{:?}", send.stderr());
    let stderr = send.stderr().join("\n");
    assert!(
        stderr.contains("warning: listener topic_listener on \"some-topic\" uses codec msgpack")
            && stderr.contains("(alloc::string::String, alloc::string::String)"),
        "{stderr}"
    );
    // A value it can decode: no warning, and it arrives.
    let mut send = Proc::spawn(
        "send",
        rosy(&domain, &["topic", "send", "some-topic", "[hello, world]"]),
    );
    assert!(send.wait_exit(T).success(), "{:?}", send.stderr());
    assert!(
        !send.stderr().iter().any(|l| l.contains("warning")),
        "{:?}",
        send.stderr()
    );
    listener.expect_line("Received \"hello world\" on topic=some-topic", T);
}
