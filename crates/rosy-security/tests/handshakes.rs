//! The TLS layer on its own, between two sockets on loopback: credentials as
//! `rosy security` makes them, each refusal with its own reason, and a sealed session against a
//! man in the middle that tampers with, drops, repeats, reorders, cuts or adds records, or only
//! listens. Every attack has its control: the same proxy, without TLS, gets through.

mod common;

use bytes::BytesMut;
use common::{Attack, TestDomain, handshake_both, read, tcp_pair};
use rosy::security::{LinkSecurity, NonBlocking, SecurityError, Session, Side};
use rosy_security::TlsSecurity;
use rosy_security::credentials::Credentials;
use std::io::IoSlice;
use std::net::SocketAddr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[test]
fn credentials_are_written_private_and_never_overwritten() {
    let domain = TestDomain::new("files");
    let ca_key = std::fs::metadata(domain.dir.join("ca.key")).unwrap();
    assert_eq!(ca_key.mode() & 0o777, 0o600);
    assert_eq!(
        std::fs::metadata(&domain.dir).unwrap().mode() & 0o777,
        0o700
    );
    let again = rosy_security::provision::create_domain(&domain.root, &domain.domain);
    assert!(
        again.unwrap_err().to_string().contains("exists already"),
        "a second create-domain must not replace the CA"
    );

    let camera = domain.issue("camera");
    assert_eq!(
        std::fs::metadata(camera.join("node.key")).unwrap().mode() & 0o777,
        0o600
    );
    let creds = Credentials::load(&camera).unwrap();
    assert_eq!(creds.identity.name, "camera");
    assert_eq!(creds.identity.domain, domain.domain);
    assert_eq!(
        read(&camera.join("ca.pem")),
        read(&domain.dir.join("ca.pem"))
    );
    let twice = rosy_security::provision::issue(&domain.dir, "camera", &camera);
    assert!(twice.unwrap_err().to_string().contains("exists already"));

    // A key others may read is refused, as ssh refuses one.
    let key = camera.join("node.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = Credentials::load(&camera).unwrap_err().to_string();
    assert!(e.contains("mode 644") && e.contains("chmod 600"), "{e}");

    // Credentials of another domain are refused, naming both.
    let other = TestDomain::new("elsewhere");
    let e = TlsSecurity::from_dir(&other.issue("camera"), &domain.domain)
        .err()
        .unwrap();
    assert!(
        e.contains(&other.domain) && e.contains(&domain.domain),
        "{e}"
    );

    // Names and patterns are checked before anything is made.
    let bad = rosy_security::provision::issue(&domain.dir, "two words", &domain.root.join("x"));
    assert!(bad.unwrap_err().to_string().contains("not a node name"));
}

#[tokio::test]
async fn members_of_one_domain_prove_their_names_to_each_other() {
    let domain = TestDomain::new("members");
    let (camera, planner) = (domain.security("camera"), domain.security("planner"));
    let (dialer, acceptor) = tcp_pair().await;
    let (d, a) = handshake_both(&*camera, &dialer, &*planner, &acceptor).await;
    let (_, planner_seen) = d.unwrap();
    let (_, camera_seen) = a.unwrap();
    assert_eq!(camera_seen.name, "camera");
    assert_eq!(planner_seen.name, "planner");
    assert_eq!(camera_seen.key_id, camera.id_prefix());
    assert_eq!(planner_seen.key_id, planner.id_prefix());
    assert_ne!(camera.id_prefix(), planner.id_prefix());
    assert!(camera_seen.grants("camera") && !camera_seen.grants("planner"));
    // The discovery tag is the same for members and differs for another CA.
    assert_eq!(
        camera.discovery_tag(&domain.domain),
        planner.discovery_tag(&domain.domain)
    );
    let impostor = TestDomain::impostor_of(&domain).security("camera");
    assert_ne!(
        camera.discovery_tag(&domain.domain),
        impostor.discovery_tag(&domain.domain)
    );
    assert!(
        !camera
            .discovery_tag(&domain.domain)
            .contains(&domain.domain)
    );
}

#[tokio::test]
async fn another_domains_ca_is_refused_by_both_sides() {
    let domain = TestDomain::new("ca");
    let impostors = TestDomain::impostor_of(&domain);
    let (member, impostor) = (domain.security("camera"), impostors.security("camera"));

    // The dialer checks the acceptor's certificate first: each side's reason is its own.
    let (dialer, acceptor) = tcp_pair().await;
    let (dialed, accepted) = handshake_both(&*impostor, &dialer, &*member, &acceptor).await;
    let e = dialed.err().unwrap().to_string();
    assert!(e.contains("not from this domain's CA"), "{e}");
    let e = accepted.err().unwrap().to_string();
    assert!(
        e.contains("the peer refused this node's certificate"),
        "{e}"
    );

    let (dialer, acceptor) = tcp_pair().await;
    let (dialed, accepted) = handshake_both(&*member, &dialer, &*impostor, &acceptor).await;
    let e = dialed.err().unwrap().to_string();
    assert!(e.contains("not from this domain's CA"), "{e}");
    assert!(accepted.is_err());
}

#[tokio::test]
async fn a_dialer_without_a_certificate_is_refused() {
    let domain = TestDomain::new("nocert");
    let member = domain.security("camera");
    // A TLS 1.3 client that trusts the CA but has no certificate of its own.
    let creds = Credentials::load(&domain.issue("x")).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(creds.ca.clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(rosy_security::tls::provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let (dialer, acceptor) = tcp_pair().await;
    let intruder = tokio::task::spawn_blocking(move || {
        let name = rustls_pki_types::ServerName::try_from(rosy_security::tls::SERVER_NAME).unwrap();
        let mut conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
        let mut dialer = dialer.into_std().unwrap();
        dialer.set_nonblocking(false).unwrap();
        dialer
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        // Runs until the acceptor's refusal (or the end of the connection) stops it.
        let _ = conn.complete_io(&mut dialer);
        let _ = std::io::Write::write_all(&mut conn.writer(), b"hello");
        let _ = conn.complete_io(&mut dialer);
    });
    let accepted = tokio::time::timeout(
        Duration::from_secs(5),
        member.handshake(&acceptor, Side::Acceptor),
    )
    .await
    .unwrap();
    let e = accepted.err().unwrap().to_string();
    assert!(e.contains("presented no certificate"), "{e}");
    intruder.await.unwrap();
}

#[tokio::test]
async fn a_plain_peer_is_told_apart_from_a_broken_one() {
    let domain = TestDomain::new("plainpeer");
    let member = domain.security("camera");
    let (dialer, mut acceptor) = tcp_pair().await;
    // A plain rosy node answers with its preamble.
    let plain = tokio::spawn(async move {
        let mut hello = [0u8; 512];
        let _ = acceptor.read(&mut hello).await;
        acceptor.write_all(b"ROSY\x01\x00\x00\x00").await.unwrap();
        acceptor
    });
    let dialed = tokio::time::timeout(
        Duration::from_secs(5),
        member.handshake(&dialer, Side::Dialer),
    )
    .await
    .unwrap();
    assert!(
        matches!(dialed, Err(SecurityError::PeerNotSecure)),
        "{:?}",
        dialed.err()
    );
    drop(plain.await.unwrap());
}

// --- A sealed session against a man in the middle -------------------------------------------

/// The record (counted from 1 after arming) the attack hits.
const HIT: usize = 3;
const MESSAGES: u8 = 6;
const MESSAGE_LEN: usize = 1000;
const MARKER: &[u8] = b"MARKER-d41d8cd98f00";

/// Message `seq`: its number, the marker, then its number repeated.
fn message(seq: u8) -> Vec<u8> {
    let mut m = vec![seq; MESSAGE_LEN];
    m[1..1 + MARKER.len()].copy_from_slice(MARKER);
    m
}

/// Splits `bytes` into messages, returning the numbers of the whole ones that are intact and
/// whether any was damaged.
fn messages_in(bytes: &[u8]) -> (Vec<u8>, bool) {
    let mut seqs = Vec::new();
    let mut damaged = false;
    for chunk in bytes.chunks(MESSAGE_LEN) {
        if chunk.len() == MESSAGE_LEN && chunk == message(chunk[0]).as_slice() {
            seqs.push(chunk[0]);
        } else if chunk.len() == MESSAGE_LEN {
            damaged = true;
        }
    }
    (seqs, damaged)
}

struct Proxy {
    addr: SocketAddr,
    /// Every byte the dialer sent, as the proxy saw it.
    seen: Arc<Mutex<Vec<u8>>>,
    armed: Arc<AtomicBool>,
}

/// A proxy to `target` that applies `attack` to the dialer's TLS records (or, `tls` false, flips
/// a byte of the plain stream) once armed.
async fn proxy(target: SocketAddr, attack: Attack, tls: bool) -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let armed = Arc::new(AtomicBool::new(false));
    let (seen2, armed2) = (seen.clone(), armed.clone());
    tokio::spawn(async move {
        let (client, _) = listener.accept().await.unwrap();
        let server = TcpStream::connect(target).await.unwrap();
        let (mut client_read, mut client_write) = client.into_split();
        let (mut server_read, mut server_write) = server.into_split();
        tokio::spawn(async move {
            let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
        });
        let mut pending = Vec::new();
        let mut after_arming = 0usize;
        let mut held: Option<Vec<u8>> = None;
        let mut buf = vec![0u8; 65536];
        loop {
            let n = match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            seen2.lock().unwrap().extend_from_slice(&buf[..n]);
            if !tls {
                let mut chunk = buf[..n].to_vec();
                if armed2.load(Ordering::SeqCst) && attack == Attack::FlipByte {
                    let at = (HIT - 1) * MESSAGE_LEN + 500;
                    if (after_arming..after_arming + n).contains(&at) {
                        chunk[at - after_arming] ^= 0x01;
                    }
                    after_arming += n;
                }
                if server_write.write_all(&chunk).await.is_err() {
                    break;
                }
                continue;
            }
            pending.extend_from_slice(&buf[..n]);
            while let Some(record) = common::next_record(&mut pending) {
                if armed2.load(Ordering::SeqCst) {
                    after_arming += 1;
                }
                let hit = if after_arming == HIT {
                    common::hit(attack, record)
                } else {
                    common::untouched(record, &mut held)
                };
                if !common::pass_on(&mut server_write, hit, &mut held).await {
                    return;
                }
            }
        }
    });
    Proxy { addr, seen, armed }
}

async fn seal_all(session: &Arc<dyn Session>, stream: &TcpStream, bytes: &[u8]) {
    let mut rest = bytes;
    loop {
        let n = session
            .seal(&[IoSlice::new(rest)], &mut NonBlocking(stream))
            .unwrap();
        rest = &rest[n..];
        if rest.is_empty() && !session.pending() {
            return;
        }
        stream.writable().await.unwrap();
    }
}

/// Opens what arrives until the session fails or ends (or 5 s pass): the plain bytes, and the
/// error that ended it (`None` for a clean end or the time running out).
async fn open_all(
    session: &Arc<dyn Session>,
    stream: &TcpStream,
    expect: usize,
) -> (Vec<u8>, Option<std::io::Error>) {
    let mut buf = BytesMut::new();
    let error = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match session.open(&mut NonBlocking(stream), &mut buf) {
                Ok(0) => return None,
                Ok(_) if buf.len() >= expect => return None,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    stream.readable().await.unwrap()
                }
                Err(e) => return Some(e),
            }
        }
    })
    .await
    .unwrap_or(None);
    (buf.to_vec(), error)
}

/// A sealed session through a proxy doing `attack`: what the acceptor received, how it ended,
/// and every byte the proxy saw.
async fn through_proxy(attack: Attack) -> (Vec<u8>, Option<std::io::Error>, Vec<u8>) {
    let domain = TestDomain::new("mitm");
    let (camera, planner) = (domain.security("camera"), domain.security("planner"));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = proxy(listener.local_addr().unwrap(), attack, true).await;
    let (dialer, accepted) = tokio::join!(TcpStream::connect(proxy.addr), listener.accept());
    let (dialer, acceptor) = (dialer.unwrap(), accepted.unwrap().0);
    let (d, a) = handshake_both(&*camera, &dialer, &*planner, &acceptor).await;
    let ((sender, _), (receiver, _)) = (d.unwrap(), a.unwrap());
    proxy.armed.store(true, Ordering::SeqCst);
    for seq in 1..=MESSAGES {
        seal_all(&sender, &dialer, &message(seq)).await;
    }
    let (received, error) = open_all(&receiver, &acceptor, MESSAGES as usize * MESSAGE_LEN).await;
    let seen = proxy.seen.lock().unwrap().clone();
    (received, error, seen)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn an_untouched_session_delivers_everything_and_shows_nothing() {
    let (received, error, seen) = through_proxy(Attack::Nothing).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(messages_in(&received), ((1..=MESSAGES).collect(), false));
    assert!(
        !contains(&seen, MARKER),
        "the marker crossed the wire in the clear"
    );
}

#[tokio::test]
async fn every_tampering_ends_the_session_before_a_bad_message() {
    for (attack, delivered) in [
        (Attack::FlipByte, vec![1, 2]),
        (Attack::Drop, vec![1, 2]),
        (Attack::Duplicate, vec![1, 2, 3]),
        (Attack::Reorder, vec![1, 2]),
        (Attack::Truncate, vec![1, 2]),
        (Attack::Inject, vec![1, 2]),
    ] {
        let (received, error, _) = through_proxy(attack).await;
        assert!(
            error.is_some(),
            "{attack:?}: the session did not fail (received {:?})",
            messages_in(&received)
        );
        assert_eq!(
            messages_in(&received),
            (delivered, false),
            "{attack:?}: exactly the messages before the attack, intact ({:?})",
            error
        );
        assert_eq!(
            received.len() % MESSAGE_LEN,
            0,
            "{attack:?}: part of a message was handed over"
        );
    }
}

/// The control: the same proxy on a plain connection corrupts a message that is delivered,
/// and sees the marker.
#[tokio::test]
async fn without_tls_the_same_proxy_corrupts_and_reads() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = proxy(listener.local_addr().unwrap(), Attack::FlipByte, false).await;
    let (dialer, accepted) = tokio::join!(TcpStream::connect(proxy.addr), listener.accept());
    let (mut dialer, mut acceptor) = (dialer.unwrap(), accepted.unwrap().0);
    proxy.armed.store(true, Ordering::SeqCst);
    for seq in 1..=MESSAGES {
        dialer.write_all(&message(seq)).await.unwrap();
    }
    let mut received = vec![0u8; MESSAGES as usize * MESSAGE_LEN];
    tokio::time::timeout(Duration::from_secs(5), acceptor.read_exact(&mut received))
        .await
        .unwrap()
        .unwrap();
    let (intact, damaged) = messages_in(&received);
    assert!(damaged, "the flipped byte must reach the receiver");
    assert_eq!(intact, vec![1, 2, 4, 5, 6]);
    assert!(contains(&proxy.seen.lock().unwrap(), MARKER));
}

/// The TLS records in `wire`: each one's content length (header type 23, application data).
fn records(wire: &[u8]) -> Vec<usize> {
    let mut lengths = Vec::new();
    let mut rest = wire;
    while rest.len() >= 5 {
        assert_eq!(rest[0], 23, "an application data record");
        let len = u16::from_be_bytes([rest[3], rest[4]]) as usize;
        lengths.push(len);
        rest = &rest[(5 + len).min(rest.len())..];
    }
    assert!(rest.is_empty(), "{} bytes of a cut record", rest.len());
    lengths
}

/// A batch of small frames (a header and a payload each, as a link hands them over) is sealed
/// into full records, not one record (with its seal, header and tag) per slice, and opens to
/// the same bytes.
#[tokio::test]
async fn a_batch_of_small_frames_is_sealed_into_full_records() {
    let domain = TestDomain::new("records");
    let (camera, planner) = (domain.security("camera"), domain.security("planner"));
    let (dialer, acceptor) = tcp_pair().await;
    let (d, a) = handshake_both(&*camera, &dialer, &*planner, &acceptor).await;
    let ((sender, _), (receiver, _)) = (d.unwrap(), a.unwrap());

    let frames: Vec<(Vec<u8>, Vec<u8>)> = (0..32u8)
        .map(|i| (vec![i; 8], message(i.wrapping_add(1))))
        .collect();
    let slices: Vec<IoSlice<'_>> = frames
        .iter()
        .flat_map(|(header, payload)| [IoSlice::new(header), IoSlice::new(payload)])
        .collect();
    let plain: Vec<u8> = frames
        .iter()
        .flat_map(|(h, p)| h.iter().chain(p).copied())
        .collect();

    // Sealed into memory: a Vec takes every byte, so one call seals the whole batch.
    let mut wire = Vec::new();
    let taken = sender.seal(&slices, &mut wire).unwrap();
    assert_eq!(taken, plain.len());
    assert!(!sender.pending());
    let lengths = records(&wire);
    // 32,256 plain bytes fill two 16 kB records (each with its content type and 16-byte tag).
    assert_eq!(lengths.len(), 2, "records of {lengths:?} bytes");

    let mut opened = BytesMut::new();
    let n = receiver.open(&mut &wire[..], &mut opened).unwrap();
    assert_eq!(n, plain.len());
    assert!(opened[..] == plain[..], "the opened bytes differ");
}

/// A socket's worth of sealed bytes, read as a non-blocking socket reads: what is there, then
/// `WouldBlock`. Counts the reads.
struct Socketish<'a> {
    bytes: &'a [u8],
    reads: usize,
}

impl std::io::Read for Socketish<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.reads += 1;
        if self.bytes.is_empty() {
            return Err(std::io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(self.bytes.len());
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

/// A paced message opens with one read: a read that took less than it had room for drained the
/// socket, so what opened is handed over at once, not after a second read that finds nothing
/// (a system call on every message's way, before this).
#[tokio::test]
async fn a_message_opens_with_one_read() {
    let domain = TestDomain::new("one-read");
    let (camera, planner) = (domain.security("camera"), domain.security("planner"));
    let (dialer, acceptor) = tcp_pair().await;
    let (d, a) = handshake_both(&*camera, &dialer, &*planner, &acceptor).await;
    let ((sender, _), (receiver, _)) = (d.unwrap(), a.unwrap());
    let mut opened = BytesMut::new();
    for i in 0..3u8 {
        let frame = message(i);
        let mut wire = Vec::new();
        sender.seal(&[IoSlice::new(&frame)], &mut wire).unwrap();
        let mut socket = Socketish {
            bytes: &wire,
            reads: 0,
        };
        opened.clear();
        let n = receiver.open(&mut socket, &mut opened).unwrap();
        assert_eq!((n, socket.reads), (frame.len(), 1), "message {i}");
        assert!(opened[..] == frame[..]);
        // The next call reads, finds nothing, and says so.
        let e = receiver.open(&mut socket, &mut opened).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
    }
}
