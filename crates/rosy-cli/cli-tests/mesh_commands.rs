//! `rosy node|topic|service` against example nodes.

use crate::rosy;
use crate::support::{Proc, unique_domain, wait_until};
use std::process::Command;
use std::time::Duration;

const T: Duration = Duration::from_secs(15);

fn output(domain: &str, args: &[&str]) -> std::process::Output {
    let mut proc = Proc::spawn("rosy", rosy(domain, args));
    let status = proc.wait_exit(T);
    let out = std::process::Output {
        status,
        stdout: proc.stdout().join("\n").into_bytes(),
        stderr: proc.stderr().join("\n").into_bytes(),
    };
    drop(proc);
    out
}

#[test]
fn node_list_shows_a_node_and_forgets_it_after_kill() {
    let domain = unique_domain("cli-nodes");
    let mut provider = Proc::example("service_provider", &domain, &[]);
    provider.expect_line("Started service...", T);
    let out = output(&domain, &["node", "list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.starts_with("1 node:"), "{text}");
    assert!(
        text.contains("service_provider@") && text.contains("multiply [msgpack]"),
        "{text}"
    );

    let json = output(&domain, &["node", "list", "--json"]);
    let nodes: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(nodes[0]["name"], "service_provider");

    provider.kill();
    let gone = wait_until(Duration::from_secs(5), || {
        String::from_utf8_lossy(&output(&domain, &["node", "list"]).stdout).starts_with("0 nodes:")
    });
    assert!(gone, "the killed node was still listed 5 s later");
}

#[test]
fn topic_send_reaches_topic_echo() {
    let domain = unique_domain("cli-echo");
    let echo = Proc::spawn(
        "echo",
        rosy(&domain, &["topic", "echo", "greetings", "--count", "2"]),
    );
    let mut send = Proc::spawn(
        "send",
        rosy(&domain, &["topic", "send", "greetings", "[hello, world]"]),
    );
    assert!(send.wait_exit(T).success(), "{:?}", send.stderr());
    let mut send = Proc::spawn(
        "send",
        rosy(
            &domain,
            &[
                "topic",
                "send",
                "greetings",
                r#"{"x": 1.5}"#,
                "--codec",
                "json",
            ],
        ),
    );
    assert!(send.wait_exit(T).success(), "{:?}", send.stderr());
    let mut echo = echo;
    assert!(echo.wait_exit(T).success(), "{:?}", echo.stderr());
    let lines = echo.stdout();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].ends_with(r#"greetings: ["hello","world"]"#),
        "{lines:?}"
    );
    assert!(lines[1].ends_with(r#"greetings: {"x":1.5}"#), "{lines:?}");

    // The demo listener decodes what the command line sends.
    let listener = Proc::example("topic_listener", &domain, &[]);
    listener.expect_line("Listening...", T);
    let mut send = Proc::spawn(
        "send",
        rosy(
            &domain,
            &["topic", "send", "some-topic", r#"["hello", "world"]"#],
        ),
    );
    assert!(send.wait_exit(T).success(), "{:?}", send.stderr());
    listener.expect_line("Received \"hello world\" on topic=some-topic", T);
}

#[test]
fn service_call_prints_the_answer_and_fails_with_the_remote_error() {
    let domain = unique_domain("cli-call");
    let provider = Proc::example("service_provider", &domain, &[]);
    provider.expect_line("Started service...", T);
    let out = output(&domain, &["service", "call", "multiply", "[2, 2]"]);
    assert!(
        out.status.success(),
        "{:?}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "4");

    let out = output(
        &domain,
        &["service", "call", "multiply", "[4611686018427387904, 4]"],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("overflows a 64-bit integer"), "{stderr}");

    let out = output(&domain, &["service", "list"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("multiply"));
}

#[test]
fn bad_arguments_get_clear_errors() {
    let domain = unique_domain("cli-bad");
    let out = output(&domain, &["topic", "send", "t", "[unclosed", "--no-wait"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("neither JSON nor YAML"));

    // A usage error now (clap checks it as a DomainId), like any other bad argument.
    let out = output(&domain, &["--domain-id", "bad/domain", "node", "list"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid domain id \"bad/domain\""));

    let out = output(
        &domain,
        &["service", "call", "nobody", "1", "--wait", "0.2"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no node in domain"));

    // A duration that is no number of seconds is refused before anything runs (it panicked).
    for bad in ["nan", "-1", "inf"] {
        let flag = format!("--discovery-time={bad}");
        let out = output(&domain, &["node", "list", &flag]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("\"{bad}\"")) && err.contains("seconds"),
            "{err}"
        );
    }

    let out = Command::new(env!("CARGO_BIN_EXE_rosy")).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("Usage: rosy"));
}
