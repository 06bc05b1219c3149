//! `rosy zenoh bridge`: refuses to carry nothing and names a typo in its file; and `rosy` tools
//! at two sites joined only by a zenoh router (the eclipse-zenoh wheel, `ROSY_ZENOH_PYTHON`)
//! see each other's topics through two bridges, and `rosy node list` shows the other site's
//! nodes as remote.

use crate::support::{Proc, RoutedSites, rosy_bin, unique_domain, wait_until};
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

fn zenoh_python() -> String {
    std::env::var("ROSY_ZENOH_PYTHON")
        .expect("ROSY_ZENOH_PYTHON names a Python with eclipse-zenoh (scripts/test sets it)")
}

#[test]
fn a_bridge_that_would_carry_nothing_or_has_a_typo_says_so() {
    let out = crate::rosy("zenoh-refusals", &["zenoh", "bridge"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nothing would cross"), "{err}");

    let file = std::env::temp_dir().join(format!("rosy-zenoh-typo-{}.yaml", std::process::id()));
    std::fs::write(&file, "topics:\n  exprot: [chatter]\n").unwrap();
    let out = crate::rosy("zenoh-refusals", &["zenoh", "bridge"])
        .arg(&file)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&file);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("exprot") && err.contains("line 2"), "{err}");

    let out = crate::rosy(
        "zenoh-refusals",
        &["zenoh", "bridge", "--all", "--max-rate", "camera=fast"],
    )
    .output()
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("TOPIC=HZ"), "{err}");
}

#[test]
fn rosy_tools_at_two_sites_meet_through_zenoh_bridges() {
    let sites = RoutedSites::new();
    let domain = unique_domain("zenoh-cli");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../rosy-zenoh/tests/zenoh_peer.py"
    );
    let mut router = sites.in_router(zenoh_python());
    router.args([script, "router", "tcp/0.0.0.0:7447"]);
    let router = Proc::spawn_holding_stdin("zenoh router", router);
    router.expect_line("ready", T);
    let rosy_at = |i: usize, args: &[&str]| {
        let mut command = sites.command(i, rosy_bin());
        command.args(args).env("ROSY_DOMAIN_ID", &domain);
        command
    };
    let connect = |i: usize| format!("tcp/{}:7447", sites.router_address(i));
    let bridge_a = Proc::spawn(
        "bridge at site 0",
        rosy_at(
            0,
            &[
                "zenoh",
                "bridge",
                "--mode",
                "client",
                "--connect",
                &connect(0),
                "--export",
                "chat*",
            ],
        ),
    );
    let bridge_b = Proc::spawn(
        "bridge at site 1",
        rosy_at(
            1,
            &[
                "zenoh",
                "bridge",
                "--mode",
                "client",
                "--connect",
                &connect(1),
                "--import",
                "chat*",
            ],
        ),
    );
    bridge_a.expect_stderr("bridging rosy domain", T);
    bridge_b.expect_stderr("bridging rosy domain", T);
    let echo = Proc::spawn("echo at site 1", rosy_at(1, &["topic", "echo", "chatter"]));
    let _send = Proc::spawn(
        "send at site 0",
        rosy_at(
            0,
            &[
                "topic",
                "send",
                "chatter",
                "\"hello from site 0\"",
                "--interval",
                "0.2",
                "--no-wait",
            ],
        ),
    );
    assert!(
        wait_until(T, || echo
            .stdout()
            .iter()
            .any(|l| l.contains("hello from site 0"))),
        "site 1 hears site 0 through zenoh\necho: {:?}\nbridges: {:?} {:?}",
        echo.stderr(),
        bridge_a.stderr(),
        bridge_b.stderr()
    );
    let mut list = Proc::spawn(
        "node list at site 1",
        rosy_at(1, &["node", "list", "--all"]),
    );
    assert!(list.wait_exit(T).success(), "{:?}", list.stderr());
    let remote: Vec<String> = list
        .stdout()
        .into_iter()
        .filter(|l| l.contains("(remote"))
        .collect();
    assert!(
        remote.iter().any(|l| l.contains("@site-0")),
        "site 0's nodes listed as remote: {:?}",
        list.stdout()
    );
    assert!(
        !list
            .stdout()
            .iter()
            .any(|l| l.contains("@site-0") && !l.contains("(remote")),
        "no node of site 0 is listed as if it were here: {:?}",
        list.stdout()
    );
}
