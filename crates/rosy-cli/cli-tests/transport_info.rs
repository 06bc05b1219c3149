//! `rosy topic info` and `rosy node list -v` on how same-host nodes are connected: shared memory
//! or TCP and why, and the /dev/shm bytes and threads of each node.

use crate::rosy;
use crate::support::{Proc, example, unique_domain, wait_until};
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

/// `rosy ARGS` run to its end: (success, stdout).
fn run(domain: &str, args: &[&str]) -> (bool, String) {
    let mut proc = Proc::spawn("rosy", rosy(domain, args));
    let status = proc.wait_exit(T);
    (status.success(), proc.stdout().join("\n"))
}

/// `rosy ARGS --json`, parsed; `None` when it fails (no such topic yet) or prints no JSON.
fn json(domain: &str, args: &[&str]) -> Option<Value> {
    let mut args = args.to_vec();
    args.push("--json");
    let (ok, out) = run(domain, &args);
    ok.then(|| serde_json::from_str(&out).ok()).flatten()
}

/// The camera pipeline's viewer in `domain`, with `env` set, once it listens.
fn viewer(domain: &str, env: &[(&str, &str)]) -> Proc {
    let mut command = Command::new(example("camera_pipeline"));
    command
        .arg("viewer")
        .env("ROSY_DOMAIN_ID", domain)
        .env("ROSY_INTERFACES", "lo");
    for (key, value) in env {
        command.env(key, value);
    }
    let viewer = Proc::spawn("viewer", command);
    viewer.expect_line("Watching camera/frames...", T);
    viewer
}

/// The node of process `pid` in a `rosy node list --json` listing.
fn node_of(nodes: &Value, pid: u32) -> Option<&Value> {
    nodes.as_array()?.iter().find(|n| n["pid"] == pid)
}

/// The route of `topic info --json` whose listener is the node `id`.
fn route_to<'a>(info: &'a Value, id: &str) -> Option<&'a Value> {
    let short = &id[..8];
    info["routes"]
        .as_array()?
        .iter()
        .find(|r| r["listener"].as_str().is_some_and(|l| l.contains(short)))
}

#[test]
fn topic_info_and_node_list_say_which_transport_and_why() {
    let domain = unique_domain("cli-transport");
    let mut tcp_viewer = viewer(&domain, &[("ROSY_TRANSPORT", "tcp")]);
    let mut shm_viewer = viewer(&domain, &[]);
    let mut camera = Proc::example("camera_pipeline", &domain, &["camera", "--fps", "5"]);
    camera.expect_line("Sending 1000x1000 frames at 5 fps on camera/frames...", T);

    // The three nodes' ids, by process.
    let mut nodes = Value::Null;
    let listed = wait_until(T, || {
        nodes = json(&domain, &["node", "list", "-v"]).unwrap_or(Value::Null);
        [tcp_viewer.pid(), shm_viewer.pid(), camera.pid()]
            .iter()
            .all(|&pid| node_of(&nodes, pid).is_some())
    });
    assert!(listed, "not every node is listed: {nodes}");
    let id = |pid| {
        node_of(&nodes, pid).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (tcp_id, shm_id, camera_id) =
        (id(tcp_viewer.pid()), id(shm_viewer.pid()), id(camera.pid()));

    // Once the shm viewer reads the camera's segment: one route each way, with the reason.
    let mut info = Value::Null;
    let routed = wait_until(T, || {
        info = json(&domain, &["topic", "info", "camera/frames"]).unwrap_or(Value::Null);
        route_to(&info, &shm_id).is_some_and(|r| r["transport"] == "shm")
            && route_to(&info, &tcp_id).is_some()
    });
    assert!(routed, "no shm route to the shm viewer: {info}");
    assert_eq!(info["routes"].as_array().unwrap().len(), 2, "{info}");
    let tcp = route_to(&info, &tcp_id).unwrap();
    assert_eq!(tcp["transport"], "tcp", "{info}");
    let reason = tcp["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("shared memory is off") && reason.contains("listener"),
        "{info}"
    );
    let shm = route_to(&info, &shm_id).unwrap();
    assert!(shm.get("reason").is_none(), "{info}");
    assert!(shm["segment_bytes"].as_u64().unwrap_or(0) > 0, "{info}");
    for route in [tcp, shm] {
        assert!(
            route["publisher"]
                .as_str()
                .is_some_and(|p| p.contains(&camera_id[..8])),
            "{info}"
        );
    }
    // The same, for people.
    let (ok, text) = run(&domain, &["topic", "info", "camera/frames"]);
    assert!(ok, "{text}");
    assert!(
        text.contains(&format!(
            "({}): tcp: shared memory is off on the listener viewer",
            &tcp_id[..8]
        )) && text.contains(&format!("({}): shm, segment holds ", &shm_id[..8])),
        "{text}"
    );

    // What each node uses on this host: the camera its segment, the shm viewer its doorbell,
    // the TCP viewer no shared memory at all.
    let nodes = json(&domain, &["node", "list", "-v"]).expect("node list --json");
    let local = |pid| node_of(&nodes, pid).map(|n| n["local"].clone());
    let camera_use = local(camera.pid()).unwrap_or_default();
    assert!(camera_use["shm_bytes"].as_u64().unwrap_or(0) > 0, "{nodes}");
    assert!(camera_use["threads"].as_u64().unwrap_or(0) > 0, "{nodes}");
    let shm_viewer_use = local(shm_viewer.pid()).unwrap_or_default();
    assert!(
        shm_viewer_use["shm_bytes"].as_u64().unwrap_or(0) > 0,
        "{nodes}"
    );
    let tcp_viewer_use = local(tcp_viewer.pid()).unwrap_or_default();
    assert_eq!(tcp_viewer_use["shm_bytes"], 0, "{nodes}");
    assert!(
        tcp_viewer_use["threads"].as_u64().unwrap_or(0) > 0,
        "{nodes}"
    );
    let (ok, text) = run(&domain, &["node", "list", "-v"]);
    assert!(ok, "{text}");
    assert_eq!(
        text.lines()
            .filter(|l| l.trim_start().starts_with("shared memory: ") && l.contains("  threads: "))
            .count(),
        3,
        "{text}"
    );

    // Stopped with Ctrl-C, the nodes leave nothing in /dev/shm.
    for proc in [&mut camera, &mut shm_viewer, &mut tcp_viewer] {
        proc.signal(rustix::process::Signal::INT);
        assert!(proc.wait_exit(T).success(), "{:?}", proc.stderr());
    }
    for id in [&camera_id, &shm_id, &tcp_id] {
        assert_eq!(::rosy::transport::shm::node_bytes(&domain, id), 0, "{id}");
    }
}
