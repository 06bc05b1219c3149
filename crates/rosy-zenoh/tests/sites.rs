//! Two rosy sites joined through a real zenoh router (the eclipse-zenoh wheel, in router mode),
//! each site in a network namespace of its own with a bridge, the router in a third: the sites
//! reach each other only through the router. What each test checks is in its name; each has
//! its control (a topic not on the allow-list never seen at the other site; the sites cannot
//! reach each other without the router).
//!
//! The Python interpreter with eclipse-zenoh comes from `ROSY_ZENOH_PYTHON` (scripts/test
//! makes a venv with tests/requirements.txt); needs root for the namespaces.

use rosy_test_support::{Proc, RoutedSites, example, unique_domain, wait_until};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

const T: Duration = Duration::from_secs(60);
/// A 1080p RGB frame.
const FRAME: usize = 1920 * 1080 * 3;

fn python() -> String {
    std::env::var("ROSY_ZENOH_PYTHON").unwrap_or_else(|_| {
        panic!(
            "ROSY_ZENOH_PYTHON is not set: it names a Python with eclipse-zenoh==1.9.0 \
             (scripts/test makes one from crates/rosy-zenoh/tests/requirements.txt)"
        )
    })
}

fn peer_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/zenoh_peer.py")
}

/// A zenoh router in the router's namespace, listening on both sites' sides.
fn router(sites: &RoutedSites) -> Proc {
    let mut command = sites.in_router(python());
    command
        .arg(peer_script())
        .arg("router")
        .arg("tcp/0.0.0.0:7447");
    let router = Proc::spawn_holding_stdin("zenoh router", command);
    router.expect_line("ready", T);
    router
}

/// A file of the test's own holding `text`.
fn file(name: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("rosy-zenoh-{}-{name}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

/// A process of `zenoh_site` at site `i`, in `domain`.
fn site(sites: &RoutedSites, i: usize, domain: &str, name: &str, args: &[&str]) -> Proc {
    let mut command = sites.command(i, example("zenoh_site"));
    command.args(args).env("ROSY_DOMAIN_ID", domain);
    Proc::spawn(&format!("{name} at site {i}"), command)
}

/// A bridge at site `i` with `yaml` (the zenoh part added: a client of the router).
fn bridge(sites: &RoutedSites, i: usize, domain: &str, name: &str, yaml: &str) -> Proc {
    let yaml = format!(
        "zenoh:\n  mode: client\n  connect: [tcp/{}:7447]\n{yaml}",
        sites.router_address(i)
    );
    let path = file(&format!("{domain}-{name}.yaml"), &yaml);
    let bridge = site(sites, i, domain, name, &["bridge", path.to_str().unwrap()]);
    bridge.expect_line("ready", T);
    bridge
}

/// A bridge at each site: `bridge-a` at site 0 with `yaml_a`, `bridge-b` at site 1 with `yaml_b`.
fn bridges(sites: &RoutedSites, domain: &str, yaml_a: &str, yaml_b: &str) -> [Proc; 2] {
    [
        bridge(sites, 0, domain, "bridge-a", yaml_a),
        bridge(sites, 1, domain, "bridge-b", yaml_b),
    ]
}

/// The frames a `listen` process printed, by sequence number: (length, intact).
fn frames(listener: &Proc) -> BTreeMap<u64, Vec<(usize, bool)>> {
    let mut seen: BTreeMap<u64, Vec<(usize, bool)>> = BTreeMap::new();
    for line in listener.stdout() {
        let parts: Vec<&str> = line.split(' ').collect();
        if let ["got", seq, len, ok] = parts[..] {
            seen.entry(seq.parse().unwrap())
                .or_default()
                .push((len.parse().unwrap(), ok == "ok"));
        }
    }
    seen
}

#[test]
fn sites_reach_each_other_only_through_the_router() {
    let sites = RoutedSites::new();
    // A TCP connection to a port nobody listens on: "refused" means the address is reached.
    let ping = |from: usize, to: String| {
        let out = sites
            .command(from, "bash")
            .args(["-c", &format!("timeout 3 bash -c 'echo > /dev/tcp/{to}/9'")])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stderr).contains("refused")
    };
    assert!(
        ping(0, sites.router_address(0)),
        "site 0 reaches the router"
    );
    assert!(
        !ping(0, sites.site_address(1)),
        "site 0 must not reach site 1"
    );
    assert!(
        !ping(1, sites.site_address(0)),
        "site 1 must not reach site 0"
    );
}

/// Topics both ways (a 6.2 MB frame among them), a service call across, and a topic not on
/// the allow-list never seen; two bridges at site 0 and messages still arrive once each, none
/// coming back.
#[test]
fn topics_and_calls_cross_once_each_and_only_what_is_allowed() {
    let sites = RoutedSites::new();
    let domain = unique_domain("zenoh-cross");
    let _router = router(&sites);
    let out_a = "topics:\n  export: [frames, status, secret]\n  import: [status, commands]\n\
                 services:\n  export: [add]\n";
    let bridges_a = [
        bridge(&sites, 0, &domain, "bridge-a1", out_a),
        bridge(&sites, 0, &domain, "bridge-a2", out_a),
    ];
    let _bridge_b = bridge(
        &sites,
        1,
        &domain,
        "bridge-b",
        "topics:\n  export: [status, commands]\n  import: [frames, status]\n\
         services:\n  import: [add]\n",
    );
    // Site 0: a camera of 6.2 MB frames, a status publisher and its local reader, a secret, a
    // reader of commands and a service. Site 1: readers of frames, status and the secret, a
    // commands publisher, a caller.
    let _adder = site(&sites, 0, &domain, "adder", &["provide", "add"]);
    let frames_b = site(&sites, 1, &domain, "frames reader", &["listen", "frames"]);
    let status_a = site(&sites, 0, &domain, "status reader", &["listen", "status"]);
    let status_b = site(&sites, 1, &domain, "status reader", &["listen", "status"]);
    let secret_b = site(&sites, 1, &domain, "secret reader", &["listen", "secret"]);
    let commands_a = site(
        &sites,
        0,
        &domain,
        "commands reader",
        &["listen", "commands"],
    );
    let frame = FRAME.to_string();
    let _camera = site(
        &sites,
        0,
        &domain,
        "camera",
        &["publish", "frames", &frame, "5"],
    );
    let _status = site(
        &sites,
        0,
        &domain,
        "status",
        &["publish", "status", "64", "20"],
    );
    let _secret = site(
        &sites,
        0,
        &domain,
        "secret",
        &["publish", "secret", "64", "20"],
    );
    let _commands = site(
        &sites,
        1,
        &domain,
        "commands",
        &["publish", "commands", "32", "10"],
    );
    // Status from both sites, told apart by size: 64 bytes from site 0, 65 from site 1.
    let _status_b = site(
        &sites,
        1,
        &domain,
        "status",
        &["publish", "status", "65", "20"],
    );

    let mut call = site(&sites, 1, &domain, "caller", &["call", "add", "40", "2"]);
    call.wait_exit(T);
    assert_eq!(
        call.stdout(),
        vec!["answer 42"],
        "stderr: {:?}",
        call.stderr()
    );

    let enough = |p: &Proc, n: usize| wait_until(T, || frames(p).len() >= n);
    assert!(
        enough(&frames_b, 3),
        "frames at site 1: {:?}",
        frames_b.stderr()
    );
    assert!(
        enough(&commands_a, 10),
        "commands at site 0: {:?}",
        commands_a.stderr()
    );
    assert!(
        enough(&status_b, 40),
        "status at site 1: {:?}",
        status_b.stderr()
    );
    assert!(
        enough(&status_a, 40),
        "status at site 0: {:?}",
        status_a.stderr()
    );
    for (seq, copies) in frames(&frames_b) {
        assert_eq!(
            copies,
            vec![(FRAME, true)],
            "frame {seq} arrives once, whole and intact"
        );
    }
    // Each status message once at each site, from both: two bridges export site 0's (one of
    // them sends each), and what a site sent is never brought back to it.
    let once_each = |at: &BTreeMap<u64, Vec<(usize, bool)>>, site: usize| {
        for (seq, copies) in at {
            let mut sizes: Vec<usize> = copies.iter().map(|c| c.0).collect();
            sizes.sort();
            let mut unique = sizes.clone();
            unique.dedup();
            assert_eq!(sizes, unique, "status {seq} at site {site}: {copies:?}");
        }
    };
    // Both sites' status at each site, 20 messages each at least: the local one starts
    // first and comes faster, so a count of both together can be reached by it alone.
    let heard = |at: &Proc, size: usize| {
        frames(at)
            .values()
            .filter(|c| c.iter().any(|c| c.0 == size))
            .count()
    };
    for (site, at) in [(0, &status_a), (1, &status_b)] {
        assert!(
            wait_until(T, || heard(at, 64) >= 20 && heard(at, 65) >= 20),
            "site {site} hears both sites' status: {} of 64 bytes, {} of 65",
            heard(at, 64),
            heard(at, 65)
        );
    }
    once_each(&frames(&status_a), 0);
    once_each(&frames(&status_b), 1);
    for (seq, copies) in frames(&commands_a) {
        assert_eq!(copies, vec![(32, true)], "command {seq} once at site 0");
    }
    assert!(
        frames(&secret_b).is_empty(),
        "a topic not on site 1's import list never arrives: {:?}",
        secret_b.stdout()
    );
    for bridge in &bridges_a {
        assert!(
            !bridge.stdout().iter().any(|l| l.starts_with("dropped")),
            "nothing of this test's own is dropped: {:?}",
            bridge.stdout()
        );
    }
}

/// A plain zenoh subscriber reads a rosy topic, and a plain zenoh publisher reaches a rosy
/// listener, by the README's key expressions alone; garbage on a rosy key is dropped, said
/// once per kind, and the bridge goes on.
#[test]
fn plain_zenoh_programs_use_the_documented_keys_and_garbage_is_dropped() {
    let sites = RoutedSites::new();
    let domain = unique_domain("zenoh-plain");
    let _router = router(&sites);
    let bridge = bridge(
        &sites,
        0,
        &domain,
        "bridge",
        "topics:\n  export: [chatter]\n  import: [commands]\n",
    );
    let listener = site(
        &sites,
        0,
        &domain,
        "commands reader",
        &["listen-json", "commands"],
    );
    listener.expect_line("ready", T);
    let _chatter = site(
        &sites,
        0,
        &domain,
        "chatter",
        &["publish-json", "chatter", "10"],
    );
    let local = "tcp/127.0.0.1:7447";
    let mut sub = sites.in_router(python());
    sub.arg(peer_script())
        .args(["sub", &format!("rosy/{domain}/chatter"), local]);
    let sub = Proc::spawn_holding_stdin("plain zenoh subscriber", sub);
    sub.expect_line("ready", T);
    assert!(
        wait_until(T, || sub.stdout().len() >= 4),
        "the plain subscriber hears chatter: {:?}",
        sub.stderr()
    );
    let line: serde_json::Value = serde_json::from_str(&sub.stdout()[3]).unwrap();
    let payload: serde_json::Value =
        serde_json::from_str(line["payload"].as_str().unwrap()).unwrap();
    assert!(payload["count"].is_u64(), "{line}");
    let stamp: serde_json::Value =
        serde_json::from_str(line["attachment"].as_str().unwrap()).unwrap();
    assert_eq!(stamp["codec"], "json", "{line}");
    assert!(
        line["encoding"].as_str().unwrap().contains("json"),
        "{line}"
    );

    let key = format!("rosy/{domain}/commands");
    let publish = |text: &str| {
        let status = sites
            .in_router(python())
            .arg(peer_script())
            .args(["pub", &key, local, text, "5"])
            .status()
            .unwrap();
        assert!(status.success());
    };
    publish(r#"{"go": 1}"#);
    listener.expect_line(r#"{"go":1}"#, T);

    let status = sites
        .in_router(python())
        .arg(peer_script())
        .args(["garbage", &key, local, "10"])
        .status()
        .unwrap();
    assert!(status.success());
    bridge.expect_line("dropped 10", T);
    let said: Vec<String> = bridge
        .stderr()
        .into_iter()
        .filter(|l| l.contains("dropped what came on"))
        .collect();
    assert_eq!(said.len(), 2, "each kind of garbage said once: {said:?}");
    // The bridge goes on: a good message after the garbage arrives.
    publish(r#"{"go": 2}"#);
    listener.expect_line(r#"{"go":2}"#, T);
    assert_eq!(
        listener
            .stdout()
            .iter()
            .filter(|l| l.starts_with("{"))
            .count(),
        listener.count(r#"{"go":1}"#) + listener.count(r#"{"go":2}"#),
        "nothing but the good messages reached the listener"
    );
}

/// A rate-limited topic crosses at most at its limit while its local reader gets every
/// message.
#[test]
fn a_rate_limit_is_obeyed_over_the_link_and_local_readers_keep_the_full_rate() {
    let sites = RoutedSites::new();
    let domain = unique_domain("zenoh-rate");
    let _router = router(&sites);
    let _bridges = bridges(
        &sites,
        &domain,
        "topics:\n  export: [camera]\nlimits:\n  camera: {max_rate: 5}\n",
        "topics:\n  import: [camera]\n",
    );
    let remote = site(&sites, 1, &domain, "remote reader", &["listen", "camera"]);
    let local = site(&sites, 0, &domain, "local reader", &["listen", "camera"]);
    remote.expect_line("ready", T);
    local.expect_line("ready", T);
    let size = (64 * 1024).to_string();
    let _camera = site(
        &sites,
        0,
        &domain,
        "camera",
        &["publish", "camera", &size, "30"],
    );
    assert!(
        wait_until(T, || frames(&remote).len() >= 2),
        "the camera crosses"
    );
    // From the first frame that crossed, over what crossed since: at most 5 a second (plus the
    // first), by the publisher's own sequence numbers (30 a second).
    assert!(wait_until(T, || frames(&remote).len() >= 15));
    let crossed: Vec<u64> = frames(&remote).keys().copied().collect();
    let (first, last) = (crossed[0], *crossed.last().unwrap());
    let seconds = (last - first) as f64 / 30.0;
    assert!(
        (crossed.len() as f64) <= seconds * 5.0 + 2.0,
        "{} frames crossed in {seconds:.1} s of the camera's",
        crossed.len()
    );
    let here = frames(&local);
    let local_span = (first..=last).filter(|s| here.contains_key(s)).count() as u64;
    assert!(
        local_span >= (last - first) * 9 / 10,
        "the local reader got {local_span} of the {} frames sent meanwhile",
        last - first + 1
    );
}

/// The router killed and started again: traffic resumes within 10 s of its return, and no
/// rosy node was restarted.
#[test]
fn traffic_resumes_after_the_router_comes_back() {
    let sites = RoutedSites::new();
    let domain = unique_domain("zenoh-restart");
    let mut router_proc = router(&sites);
    let _bridges = bridges(
        &sites,
        &domain,
        "topics:\n  export: [ticks]\n",
        "topics:\n  import: [ticks]\n",
    );
    let reader = site(&sites, 1, &domain, "reader", &["listen", "ticks"]);
    let _ticks = site(
        &sites,
        0,
        &domain,
        "ticks",
        &["publish", "ticks", "64", "20"],
    );
    assert!(wait_until(T, || frames(&reader).len() >= 5), "ticks cross");
    router_proc.kill();
    // The link is gone: what crosses stops.
    std::thread::sleep(Duration::from_secs(1));
    let before = frames(&reader).len();
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        frames(&reader).len(),
        before,
        "nothing crosses without the router"
    );
    let _router = router(&sites);
    let back = std::time::Instant::now();
    assert!(
        wait_until(Duration::from_secs(10), || frames(&reader).len()
            >= before + 5),
        "ticks cross again within 10 s of the router's return"
    );
    eprintln!("resumed {:?} after the router came back", back.elapsed());
}

/// A latched topic (transient local) published at one site before anyone listens reaches a
/// listener that joins later at the other site, and a second one joining after it.
#[test]
fn a_latched_value_reaches_late_listeners_at_the_other_site() {
    let sites = RoutedSites::new();
    let domain = unique_domain("zenoh-latched");
    let _router = router(&sites);
    let _bridges = bridges(
        &sites,
        &domain,
        "topics:\n  export: [map]\n",
        "topics:\n  import: [map]\n",
    );
    let map = site(
        &sites,
        0,
        &domain,
        "map",
        &["publish-latched", "map", "map v1"],
    );
    map.expect_line("ready", T);
    let first = site(
        &sites,
        1,
        &domain,
        "late reader",
        &["listen-latched", "map"],
    );
    first.expect_line("map v1", T);
    let second = site(
        &sites,
        1,
        &domain,
        "later reader",
        &["listen-latched", "map"],
    );
    second.expect_line("map v1", T);
    assert_eq!(
        first.count("map v1") + second.count("map v1"),
        2,
        "once each"
    );
}

/// A call waits as long as the calling site's bridge allows (its `call_timeout`), at both
/// ends: the bridge that takes the call in waits that long for its provider, though its own
/// setting is shorter; and no longer: a provider slower than the bound is not waited for,
/// though the caller itself would have waited.
#[test]
fn a_call_waits_as_long_as_the_calling_site_allows_and_no_longer() {
    let sites = RoutedSites::new();
    let domain = unique_domain("zenoh-bound");
    let _router = router(&sites);
    let _bridges = bridges(
        &sites,
        &domain,
        "services:\n  export: [slow, slower]\ncall_timeout: 1\n",
        "services:\n  import: [slow, slower]\ncall_timeout: 4\n",
    );
    // Answers after 2 s (beyond site 0's own bound, within site 1's) and after 6 s (beyond
    // site 1's, within the caller's own 10 s).
    let _slow = site(
        &sites,
        0,
        &domain,
        "slow adder",
        &["provide", "slow", "2000"],
    );
    let _slower = site(
        &sites,
        0,
        &domain,
        "slower adder",
        &["provide", "slower", "6000"],
    );
    let mut call = site(&sites, 1, &domain, "caller", &["call", "slow", "40", "2"]);
    call.wait_exit(T);
    assert_eq!(
        call.stdout(),
        vec!["answer 42"],
        "stderr: {:?}",
        call.stderr()
    );
    let mut call = site(&sites, 1, &domain, "caller", &["call", "slower", "1", "1"]);
    call.wait_exit(T);
    let out = call.stdout();
    assert!(
        out.len() == 1 && out[0].starts_with("error"),
        "a call slower than the calling site's bound fails: {out:?}, stderr {:?}",
        call.stderr()
    );
}
