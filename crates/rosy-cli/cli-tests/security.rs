//! `rosy security` and secure mode from the command line: credentials made, checked and
//! refused when exposed; secure tools talk while a plain one is told why it cannot (and the
//! secure ones say so too, once, not on every redial); `openssl s_client` sees TLS 1.3 only,
//! ALPN rosy/1, and a client certificate required; a second user reads nothing of a secure
//! domain; a capture of the wire between two hosts shows no message (tcpdump, with a plain
//! control that shows it).

use crate::rosy;
use crate::support::{Proc, TwoHosts, unique_domain, wait_until};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const T: Duration = Duration::from_secs(15);

/// A domain's CA and two identities (a shared member one, and `rosy-*` for the tools) in a
/// temporary directory, removed on drop.
struct Credentials {
    root: PathBuf,
    domain: String,
}

impl Credentials {
    fn new(test: &str) -> Credentials {
        let domain = unique_domain(test);
        let root = std::env::temp_dir().join(format!("rosy-cli-{domain}"));
        let _ = std::fs::remove_dir_all(&root);
        let creds = Credentials { root, domain };
        let ca = creds.root.join("ca");
        let ca = ca.to_str().unwrap();
        let (ok, out, err) = run(
            &creds.domain,
            &["security", "create-domain", &creds.domain, "--dir", ca],
        );
        assert!(ok, "{out}\n{err}");
        for (name, dir) in [("*", "member"), ("rosy-*", "tools")] {
            let out_dir = creds.root.join(dir);
            let (ok, out, err) = run(
                &creds.domain,
                &[
                    "security",
                    "issue",
                    &creds.domain,
                    "--name",
                    name,
                    "--out",
                    out_dir.to_str().unwrap(),
                    "--dir",
                    ca,
                ],
            );
            assert!(ok, "{out}\n{err}");
        }
        creds
    }

    fn dir(&self, which: &str) -> PathBuf {
        self.root.join(which)
    }

    /// `rosy ARGS` in this domain, secure with the tools' identity.
    fn secure(&self, args: &[&str]) -> Command {
        let mut command = rosy(&self.domain, args);
        command
            .env("ROSY_SECURITY", "enforce")
            .env("ROSY_SECURITY_DIR", self.dir("tools"));
        command
    }
}

impl Drop for Credentials {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// `rosy ARGS`: (success, stdout, stderr).
fn run(domain: &str, args: &[&str]) -> (bool, String, String) {
    let mut proc = Proc::spawn("rosy", rosy(domain, args));
    let ok = proc.wait_exit(T).success();
    (ok, proc.stdout().join("\n"), proc.stderr().join("\n"))
}

#[test]
fn credentials_are_checked_and_an_exposed_key_is_refused() {
    let creds = Credentials::new("sec-check");
    let member = creds.dir("member");
    let (ok, out, err) = run(
        &creds.domain,
        &["security", "check", member.to_str().unwrap()],
    );
    assert!(ok, "{err}");
    assert!(out.contains("good") && out.contains(&creds.domain), "{out}");
    assert!(out.contains("handshake with itself"), "{out}");

    let key = member.join("node.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    let (ok, _, err) = run(
        &creds.domain,
        &["security", "check", member.to_str().unwrap()],
    );
    assert!(!ok);
    assert!(
        err.contains("mode 640") && err.contains("chmod 600"),
        "{err}"
    );
    // A node refuses to start with it, naming the file.
    let mut echo = Proc::spawn("echo", {
        let mut c = rosy(&creds.domain, &["topic", "echo", "chat"]);
        c.env("ROSY_SECURITY", "enforce")
            .env("ROSY_SECURITY_DIR", &member);
        c
    });
    assert!(!echo.wait_exit(T).success());
    let err = echo.stderr().join("\n");
    assert!(
        err.contains("node.key") && err.contains("chmod 600"),
        "{err}"
    );

    // Issuing never overwrites.
    let ca = creds.dir("ca");
    let (ok, _, err) = run(
        &creds.domain,
        &[
            "security",
            "issue",
            &creds.domain,
            "--name",
            "x",
            "--out",
            member.to_str().unwrap(),
            "--dir",
            ca.to_str().unwrap(),
        ],
    );
    assert!(!ok && err.contains("exists already"), "{err}");
}

/// `--key p256` makes a domain as rosy made them before Ed25519; an Ed25519 node issued by
/// that CA and a P-256 one both prove themselves, and the outputs say which key each got.
#[test]
fn a_p256_domain_issues_both_kinds_of_node() {
    let creds = Credentials::new("sec-keys");
    let ca = creds.dir("p256-ca");
    let ca = ca.to_str().unwrap();
    let (ok, out, err) = run(
        &creds.domain,
        &[
            "security",
            "create-domain",
            &creds.domain,
            "--dir",
            ca,
            "--key",
            "p256",
        ],
    );
    assert!(ok && out.contains("(P-256 key)"), "{out}\n{err}");
    for (key, shown) in [(None, "(Ed25519 key)"), (Some("p256"), "(P-256 key)")] {
        let out_dir = creds.dir(&format!("node-{}", key.unwrap_or("default")));
        let out_dir = out_dir.to_str().unwrap();
        let mut args = vec![
            "security",
            "issue",
            &creds.domain,
            "--name",
            "camera",
            "--out",
            out_dir,
            "--dir",
            ca,
        ];
        args.extend(key.map(|k| ["--key", k]).into_iter().flatten());
        let (ok, out, err) = run(&creds.domain, &args);
        assert!(ok && out.contains(shown), "{out}\n{err}");
        let (ok, out, err) = run(&creds.domain, &["security", "check", out_dir]);
        assert!(ok && out.contains("handshake with itself"), "{out}\n{err}");
        // What the key file really holds, read back from the certificate.
        let kind = shown.trim_start_matches('(').trim_end_matches(" key)");
        assert!(out.contains(&format!("key      {kind}")), "{out}");
    }
    let (ok, _, err) = run(
        &creds.domain,
        &[
            "security",
            "create-domain",
            "other",
            "--dir",
            ca,
            "--key",
            "rsa",
        ],
    );
    assert!(
        !ok && err.contains("rsa") && err.contains("ed25519"),
        "{err}"
    );
}

/// Lines of `proc`'s stderr that contain `text`.
fn lines_with(proc: &Proc, text: &str) -> usize {
    proc.stderr().iter().filter(|l| l.contains(text)).count()
}

#[test]
fn secure_tools_talk_and_a_plain_one_is_told_why_it_cannot() {
    let creds = Credentials::new("sec-mixed");
    let secure_echo = Proc::spawn("secure echo", creds.secure(&["topic", "echo", "chat"]));
    let plain_echo = Proc::spawn(
        "plain echo",
        rosy(&creds.domain, &["topic", "echo", "chat"]),
    );
    let mut send = Proc::spawn(
        "secure send",
        creds.secure(&["topic", "send", "chat", "\"over tls\"", "--wait", "10"]),
    );
    assert!(send.wait_exit(T).success(), "{:?}", send.stderr());
    assert!(
        wait_until(T, || secure_echo
            .stdout()
            .iter()
            .any(|l| l.ends_with("chat: \"over tls\""))),
        "{:?}",
        secure_echo.stderr()
    );
    // Each side says which lacks security.
    secure_echo.expect_stderr("the peer is not secure", T);
    assert!(
        wait_until(T, || lines_with(
            &plain_echo,
            "the peer is secure and this node is not"
        ) + lines_with(&plain_echo, "requires security")
            > 0),
        "{:?}",
        plain_echo.stderr()
    );
    // The plain one got nothing.
    assert!(plain_echo.stdout().is_empty(), "{:?}", plain_echo.stdout());
    // Said once per peer and reason, not once per redial (every 2 s at most): once both have
    // dialed (the node with the larger id after 1.5 s), the count stays put while the plain
    // one keeps redialing.
    std::thread::sleep(Duration::from_secs(3));
    let said = lines_with(&secure_echo, "not secure") + lines_with(&plain_echo, "secure");
    std::thread::sleep(Duration::from_secs(6));
    let later = lines_with(&secure_echo, "not secure") + lines_with(&plain_echo, "secure");
    assert_eq!(
        said,
        later,
        "{:?}\n{:?}",
        secure_echo.stderr(),
        plain_echo.stderr()
    );
}

/// The first endpoint in the registry entry of the only node of `domain`.
fn endpoint_of_only_node(domain: &str) -> String {
    let dir = Path::new("/dev/shm/rosy-registry").join(domain);
    let mut endpoint = None;
    assert!(
        wait_until(T, || {
            let entries: Vec<_> = std::fs::read_dir(&dir)
                .map(|d| d.filter_map(|e| e.ok()).collect())
                .unwrap_or_default();
            endpoint = entries.iter().find_map(|e| {
                let text = std::fs::read_to_string(e.path()).ok()?;
                let json: serde_json::Value = serde_json::from_str(&text).ok()?;
                Some(json["endpoints"][0].as_str()?.to_string())
            });
            endpoint.is_some()
        }),
        "no registry entry in {}",
        dir.display()
    );
    endpoint.unwrap()
}

/// `openssl s_client` against `endpoint` with `args`: its stdout and stderr together.
fn s_client(endpoint: &str, args: &[&str]) -> String {
    let mut command = Command::new("openssl");
    command
        .args([
            "s_client",
            "-connect",
            endpoint,
            "-servername",
            "node.rosy.invalid",
        ])
        .args(args);
    let mut proc = Proc::spawn("openssl", command);
    proc.wait_exit(T);
    let mut text = proc.stdout();
    text.extend(proc.stderr());
    text.join("\n")
}

#[test]
fn openssl_sees_tls13_only_and_a_client_certificate_required() {
    let creds = Credentials::new("sec-openssl");
    let _echo = Proc::spawn("secure echo", creds.secure(&["topic", "echo", "chat"]));
    let endpoint = endpoint_of_only_node(&creds.domain);
    let member = creds.dir("member");
    let file = |name: &str| member.join(name).to_str().unwrap().to_string();
    let (cert, key, ca) = (file("node.pem"), file("node.key"), file("ca.pem"));
    let with_cert = ["-cert", &cert, "-key", &key, "-CAfile", &ca];

    let good = s_client(
        &endpoint,
        &[&["-tls1_3", "-alpn", "rosy/1"], &with_cert[..]].concat(),
    );
    assert!(good.contains("New, TLSv1.3"), "{good}");
    assert!(good.contains("ALPN protocol: rosy/1"), "{good}");
    assert!(good.contains("Verify return code: 0 (ok)"), "{good}");

    let old = s_client(&endpoint, &[&["-tls1_2"], &with_cert[..]].concat());
    assert!(old.contains("alert protocol version"), "{old}");
    assert!(!old.contains("New, TLSv1.2"), "{old}");

    // TLS 1.3 ends the client's handshake before the server has checked it: -ign_eof keeps
    // s_client reading (its stdin is empty) until the node's refusal arrives.
    let anonymous = s_client(
        &endpoint,
        &["-tls1_3", "-alpn", "rosy/1", "-CAfile", &ca, "-ign_eof"],
    );
    assert!(anonymous.contains("certificate required"), "{anonymous}");
}

/// `PROGRAM ARGS` run as another user (uid and gid 54321, no groups, no passwd entry needed):
/// (success, stdout and stderr).
fn as_other_user(program: &str, args: &[&str]) -> (bool, String) {
    let mut command = Command::new("setpriv");
    command
        .args([
            "--reuid=54321",
            "--regid=54321",
            "--clear-groups",
            "--",
            program,
        ])
        .args(args);
    let mut proc = Proc::spawn("other user", command);
    let ok = proc.wait_exit(T).success();
    let mut text = proc.stdout();
    text.extend(proc.stderr());
    (ok, text.join("\n"))
}

/// A second user on the same host: cannot list or read a secure domain's registry, read its
/// shared memory, or squat a registry directory; the control shows the same commands work as
/// that user on a file open to all. (Needs root, as CI has, to act as another user.)
#[test]
fn a_second_user_reads_nothing_of_a_secure_domain() {
    assert!(
        rustix::process::geteuid().is_root(),
        "this test acts as a second user with setpriv: run it as root (CI does)"
    );
    let creds = Credentials::new("sec-uid");
    let echo = Proc::spawn("secure echo", creds.secure(&["topic", "echo", "frames"]));
    let _send = Proc::spawn(
        "secure send",
        creds.secure(&[
            "topic",
            "send",
            "frames",
            "\"frame\"",
            "--interval",
            "0.05",
            "--wait",
            "10",
        ]),
    );
    assert!(
        wait_until(T, || echo.stdout().len() >= 3),
        "{:?}",
        echo.stderr()
    );
    let registry = Path::new("/dev/shm/rosy-registry").join(&creds.domain);
    let entry = std::fs::read_dir(&registry)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .expect("a registry entry");
    let segments: Vec<PathBuf> = std::fs::read_dir("/dev/shm")
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("rosy.{}.", creds.domain)))
        })
        .collect();
    assert!(!segments.is_empty(), "the same-host topic made no segment");

    // The control: the other user reads a file open to all.
    let open = creds.root.join("open.txt");
    std::fs::write(&open, "open to all").unwrap();
    std::fs::set_permissions(&creds.root, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (ok, text) = as_other_user("cat", &[open.to_str().unwrap()]);
    assert!(ok && text.contains("open to all"), "{text}");

    let (ok, text) = as_other_user("ls", &[registry.to_str().unwrap()]);
    assert!(
        !ok && text.contains("Permission denied"),
        "listed the registry: {text}"
    );
    let (ok, text) = as_other_user("cat", &[entry.to_str().unwrap()]);
    assert!(
        !ok && text.contains("Permission denied"),
        "read an entry: {text}"
    );
    for segment in &segments {
        let (ok, text) = as_other_user("cat", &[segment.to_str().unwrap()]);
        assert!(
            !ok && text.contains("Permission denied"),
            "read {segment:?}: {text}"
        );
    }
    let squat = Path::new("/dev/shm/rosy-registry").join(unique_domain("squat"));
    let (ok, text) = as_other_user("mkdir", &[squat.to_str().unwrap()]);
    assert!(!ok, "made a registry directory: {text}");
    assert!(!squat.exists());

    // The local socket a secure node listens on for same-host peers: out of reach...
    let socket = std::fs::read_dir(&registry)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "sock"))
        .expect("a node's local socket");
    let refused = connect_as_other_user(&socket).expect_err("reached the local socket");
    assert_eq!(
        refused.kind(),
        std::io::ErrorKind::PermissionDenied,
        "{refused}"
    );
    // ...and, made reachable, refused by the node: the kernel says who connected.
    let open_all = |path: &Path, mode| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    open_all(&registry, 0o711);
    open_all(&socket, 0o777);
    let closed = connect_as_other_user(&socket);
    open_all(&registry, 0o700);
    assert!(
        closed.expect("reached the socket made reachable"),
        "the node answered"
    );
    let logged = || {
        [echo.stderr(), _send.stderr()]
            .concat()
            .iter()
            .any(|l| l.contains("uid 54321") && l.contains("one user"))
    };
    assert!(
        wait_until(T, logged),
        "no refusal logged: {:?} {:?}",
        echo.stderr(),
        _send.stderr()
    );
}

/// `ROSY_LOCAL_LINKS=0` seals a secure node's same-host links too: its tools talk (over TLS
/// on loopback) and listen on no local socket; the control, the same echo by default, makes
/// one.
#[test]
fn rosy_local_links_0_seals_same_host_links_too() {
    let creds = Credentials::new("sec-nolocal");
    let registry = Path::new("/dev/shm/rosy-registry").join(&creds.domain);
    let files = |extension: &str| {
        std::fs::read_dir(&registry)
            .map(|dir| {
                dir.filter_map(|e| e.ok())
                    .filter(|e| e.path().extension().is_some_and(|x| x == extension))
                    .count()
            })
            .unwrap_or(0)
    };
    let sealed = |args: &[&str]| {
        let mut command = creds.secure(args);
        command.env("ROSY_LOCAL_LINKS", "0");
        command
    };
    let echo = Proc::spawn("sealed echo", sealed(&["topic", "echo", "frames"]));
    let _send = Proc::spawn(
        "sealed send",
        sealed(&[
            "topic",
            "send",
            "frames",
            "\"frame\"",
            "--interval",
            "0.05",
            "--wait",
            "10",
        ]),
    );
    assert!(
        wait_until(T, || echo.stdout().len() >= 3),
        "{:?}",
        echo.stderr()
    );
    assert_eq!(files("json"), 2, "both tools' registry entries");
    assert_eq!(files("sock"), 0, "a local socket with ROSY_LOCAL_LINKS=0");

    let control = Proc::spawn("echo", creds.secure(&["topic", "echo", "frames"]));
    assert!(
        wait_until(T, || control.stdout().len() >= 3),
        "{:?}",
        control.stderr()
    );
    assert_eq!(files("sock"), 1, "the default echo's local socket");
}

/// Connects to the Unix socket at `path` from a thread acting as another user (uid and gid
/// 54321, as `as_other_user`), sends a partial preamble, and says whether the peer closed the
/// connection (`true`) or answered; `Err`: why the connect failed.
fn connect_as_other_user(path: &Path) -> std::io::Result<bool> {
    use std::io::{Read, Write};
    let path = path.to_path_buf();
    std::thread::spawn(move || {
        // Per thread (the raw system calls, not glibc's process-wide wrappers): the test's
        // other threads stay root.
        rustix::thread::set_thread_groups(&[])?;
        rustix::thread::set_thread_res_gid(
            rustix::process::Gid::from_raw(54321),
            rustix::process::Gid::from_raw(54321),
            rustix::process::Gid::from_raw(54321),
        )?;
        rustix::thread::set_thread_res_uid(
            rustix::process::Uid::from_raw(54321),
            rustix::process::Uid::from_raw(54321),
            rustix::process::Uid::from_raw(54321),
        )?;
        let mut stream = std::os::unix::net::UnixStream::connect(&path)?;
        // The node may have closed the connection already: a failed write says that too.
        let _ = stream.write_all(b"ROSY");
        stream.set_read_timeout(Some(T))?;
        let mut answer = [0u8; 64];
        match stream.read(&mut answer) {
            Ok(n) => Ok(n == 0),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Ok(true),
            Err(e) => Err(e),
        }
    })
    .join()
    .expect("the connecting thread did not panic")
}
/// Whether `marker`, sent from one host to the other (secure or plain), shows in a capture of
/// the veth between them. The message is checked to have arrived, so the capture saw it pass.
fn marker_on_the_wire(creds: &Credentials, secure: bool, marker: &str) -> bool {
    let hosts = TwoHosts::new();
    let pcap = creds.root.join(format!("wire-{secure}.pcap"));
    let mut tcpdump = hosts.in_network(0, "tcpdump");
    tcpdump
        .args(["-i", hosts.veth(0), "-U", "-w"])
        .arg(&pcap)
        .arg("tcp");
    let mut capture = Proc::spawn("tcpdump", tcpdump);
    capture.expect_stderr("listening on", T);
    let domain = match secure {
        true => creds.domain.clone(),
        false => unique_domain("wire-plain"),
    };
    let rosy_on = |i: usize, args: &[&str]| {
        let mut command = hosts.command(i, crate::support::rosy_bin());
        command.args(args).env("ROSY_DOMAIN_ID", &domain);
        if secure {
            command
                .env("ROSY_SECURITY", "enforce")
                .env("ROSY_SECURITY_DIR", creds.dir("tools"));
        }
        command
    };
    let echo = Proc::spawn("echo", rosy_on(1, &["topic", "echo", "wire"]));
    let value = format!("\"{marker}\"");
    let mut send = Proc::spawn(
        "send",
        rosy_on(0, &["topic", "send", "wire", &value, "--wait", "20"]),
    );
    assert!(send.wait_exit(T + T).success(), "{:?}", send.stderr());
    assert!(
        wait_until(T, || echo.stdout().iter().any(|l| l.contains(marker))),
        "the message did not arrive: {:?}",
        echo.stderr()
    );
    // The sender has exited: its connection ended with a FIN (or a reset) after the message.
    // Once the capture holds that, it holds everything sent before it.
    let ended = wait_until(T, || {
        Command::new("tcpdump")
            .args(["-nn", "-r"])
            .arg(&pcap)
            .output()
            .is_ok_and(|out| {
                let text = String::from_utf8_lossy(&out.stdout);
                text.contains("Flags [F") || text.contains("Flags [R")
            })
    });
    assert!(ended, "the capture never saw the sender's connection end");
    capture.signal(rustix::process::Signal::INT);
    capture.wait_exit(T);
    let bytes = std::fs::read(&pcap).expect("tcpdump wrote the capture");
    bytes.windows(marker.len()).any(|w| w == marker.as_bytes())
}

/// An eavesdropper on the wire between two hosts: a marker sent in secure mode never shows in
/// a capture of the veth; the control, the same in plain mode, shows it.
#[test]
fn a_capture_of_the_wire_shows_nothing_in_secure_mode() {
    let creds = Credentials::new("sec-wire");
    assert!(
        marker_on_the_wire(&creds, false, "MARKER-5f1b9c-plain"),
        "control: in plain mode the marker is on the wire"
    );
    assert!(
        !marker_on_the_wire(&creds, true, "MARKER-5f1b9c-secure"),
        "the marker crossed the wire in the clear"
    );
}

/// Mixed across hosts, where only mDNS finds peers: the plain node cannot recognize the secure
/// one's announcement (a keyed tag), but the secure one dials the plain one, so each side says
/// which lacks security.
#[test]
fn a_plain_and_a_secure_node_on_two_hosts_each_say_which_lacks_security() {
    let creds = Credentials::new("sec-mixed-hosts");
    let hosts = TwoHosts::new();
    let rosy_on = |i: usize, secure: bool| {
        let mut command = hosts.command(i, crate::support::rosy_bin());
        command
            .args(["topic", "echo", "chat"])
            .env("ROSY_DOMAIN_ID", &creds.domain);
        if secure {
            command
                .env("ROSY_SECURITY", "enforce")
                .env("ROSY_SECURITY_DIR", creds.dir("tools"));
        }
        command
    };
    let secure = Proc::spawn("secure echo", rosy_on(0, true));
    let plain = Proc::spawn("plain echo", rosy_on(1, false));
    secure.expect_stderr("the peer is not secure", T);
    plain.expect_stderr("the peer is secure and this node is not", T);
}
