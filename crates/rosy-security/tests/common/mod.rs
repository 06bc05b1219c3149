//! Helpers of the rosy-security test suites: a domain's CA and identities made in a temporary
//! directory (removed on drop), loopback connection pairs, the records an attacking proxy
//! tampers with, a node's registry entry read and rewritten, and a bounded wait.

#![allow(dead_code)]

use rosy::security::{LinkSecurity, Secured, SecurityError, Side};
use rosy_security::TlsSecurity;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use tokio::net::{TcpListener, TcpStream};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A domain with its CA, in a temporary directory removed on drop.
pub struct TestDomain {
    pub root: PathBuf,
    pub domain: String,
    pub dir: PathBuf,
}

impl TestDomain {
    /// A new domain named after `what`, unique to this process and call.
    pub fn new(what: &str) -> TestDomain {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let domain = format!("sec-{what}-{}-{n}", std::process::id());
        let root = std::env::temp_dir().join(format!("rosy-security-test-{domain}"));
        let _ = std::fs::remove_dir_all(&root);
        let dir = rosy_security::provision::create_domain(&root, &domain).unwrap();
        TestDomain { root, domain, dir }
    }

    /// A second domain of the same id with a CA of its own (an impostor's).
    pub fn impostor_of(other: &TestDomain) -> TestDomain {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let root = other.root.with_extension(format!("impostor{n}"));
        let _ = std::fs::remove_dir_all(&root);
        let dir = rosy_security::provision::create_domain(&root, &other.domain).unwrap();
        TestDomain {
            root,
            domain: other.domain.clone(),
            dir,
        }
    }

    /// Issues an identity for `name`; returns its directory.
    pub fn issue(&self, name: &str) -> PathBuf {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let out = self.root.join(format!("id-{n}"));
        rosy_security::provision::issue(&self.dir, name, &out).unwrap();
        out
    }

    /// A provider for an identity issued for `name`.
    pub fn security(&self, name: &str) -> Arc<TlsSecurity> {
        Arc::new(TlsSecurity::from_dir(&self.issue(name), &self.domain).unwrap())
    }
}

impl Drop for TestDomain {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// A node of `domain` over TCP on loopback, without mDNS, secured as `guard` says.
pub async fn node(
    name: &str,
    domain: &str,
    guard: rosy::security::Guard,
) -> rosy::Result<rosy::Node> {
    node_builder(name, domain, guard).build().await
}

/// What [`node`] builds, for a test to set more.
pub fn node_builder(name: &str, domain: &str, guard: rosy::security::Guard) -> rosy::NodeBuilder {
    rosy::Node::builder(name)
        .domain_id(domain)
        .transport(rosy::TransportPreference::Tcp)
        .interfaces(Some(vec!["lo".into()]))
        .mdns(false)
        .call_timeout(std::time::Duration::from_secs(2))
        .security(guard)
}

/// Reads a whole file as text.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// A connected loopback pair: (dialer's stream, acceptor's stream).
pub async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (dialed, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
    (dialed.unwrap(), accepted.unwrap().0)
}

pub type Handshake = Result<Secured, SecurityError>;

/// Runs both ends' handshakes on `dialer` and `acceptor`, bounded by 5 s.
pub async fn handshake_both(
    dialer_security: &dyn LinkSecurity,
    dialer: &TcpStream,
    acceptor_security: &dyn LinkSecurity,
    acceptor: &TcpStream,
) -> (Handshake, Handshake) {
    tokio::time::timeout(std::time::Duration::from_secs(5), async {
        tokio::join!(
            dialer_security.handshake(dialer, Side::Dialer),
            acceptor_security.handshake(acceptor, Side::Acceptor)
        )
    })
    .await
    .expect("both handshakes end within 5 s")
}

/// A member's real credentials in a node altered as a modified node could be: claiming its
/// certificate grants any name (so it starts under another), or checking nothing of its own
/// doing (no ACL at its end). Peers must refuse what it then attempts.
pub struct Altered {
    pub inner: Arc<TlsSecurity>,
    pub claims_any_name: bool,
    pub checks_nothing: bool,
}

impl LinkSecurity for Altered {
    fn handshake<'a>(
        &'a self,
        stream: &'a TcpStream,
        side: Side,
    ) -> rosy::security::BoxFuture<'a, Result<Secured, SecurityError>> {
        self.inner.handshake(stream, side)
    }
    fn id_prefix(&self) -> String {
        self.inner.id_prefix()
    }
    fn discovery_tag(&self, domain: &str) -> String {
        self.inner.discovery_tag(domain)
    }
    fn own_name(&self) -> String {
        match self.claims_any_name {
            true => "*".into(),
            false => self.inner.own_name(),
        }
    }
    fn policy(&self) -> Option<Arc<dyn rosy::security::Policy>> {
        match self.checks_nothing {
            true => None,
            false => self.inner.policy(),
        }
    }
}

/// A member's provider that counts what it is asked: TLS handshakes, and certificates it
/// checked for local links.
pub struct Counted {
    pub inner: Arc<TlsSecurity>,
    pub handshakes: std::sync::atomic::AtomicUsize,
    pub vouched: std::sync::atomic::AtomicUsize,
}

impl Counted {
    pub fn new(inner: Arc<TlsSecurity>) -> Arc<Counted> {
        Arc::new(Counted {
            inner,
            handshakes: Default::default(),
            vouched: Default::default(),
        })
    }

    /// (TLS handshakes, certificates checked for local links) so far.
    pub fn counts(&self) -> (usize, usize) {
        (
            self.handshakes.load(Ordering::SeqCst),
            self.vouched.load(Ordering::SeqCst),
        )
    }
}

impl LinkSecurity for Counted {
    fn handshake<'a>(
        &'a self,
        stream: &'a TcpStream,
        side: Side,
    ) -> rosy::security::BoxFuture<'a, Result<Secured, SecurityError>> {
        self.handshakes.fetch_add(1, Ordering::SeqCst);
        self.inner.handshake(stream, side)
    }
    fn id_prefix(&self) -> String {
        self.inner.id_prefix()
    }
    fn discovery_tag(&self, domain: &str) -> String {
        self.inner.discovery_tag(domain)
    }
    fn own_name(&self) -> String {
        self.inner.own_name()
    }
    fn policy(&self) -> Option<Arc<dyn rosy::security::Policy>> {
        self.inner.policy()
    }
    fn watch(&self, changed: rosy::security::ChangeHook) {
        self.inner.watch(changed)
    }
    fn local_certificate(&self) -> Option<Vec<u8>> {
        self.inner.local_certificate()
    }
    fn vouch(&self, certificate: &[u8]) -> Result<rosy::security::PeerIdentity, SecurityError> {
        self.vouched.fetch_add(1, Ordering::SeqCst);
        self.inner.vouch(certificate)
    }
}

/// What a man in the middle does to the first TLS record it hits (the proxies of
/// `handshakes.rs` and `tampered_links.rs`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Attack {
    Nothing,
    FlipByte,
    Drop,
    Duplicate,
    Reorder,
    Truncate,
    Inject,
}

/// What becomes of the record an attack hits.
pub enum Hit {
    /// These records go on, in this order.
    Send(Vec<Vec<u8>>),
    /// It is held back, to go after the next one.
    Hold(Vec<u8>),
    /// Only this first part of it goes, and then the connection is shut.
    Cut(Vec<u8>),
}

/// Applies `attack` to `record`, a whole TLS record (a 5-byte header, then its body).
pub fn hit(attack: Attack, mut record: Vec<u8>) -> Hit {
    let len = record.len() - 5;
    match attack {
        Attack::Nothing => Hit::Send(vec![record]),
        Attack::FlipByte => {
            record[5 + len / 2] ^= 0x01;
            Hit::Send(vec![record])
        }
        Attack::Drop => Hit::Send(vec![]),
        Attack::Duplicate => Hit::Send(vec![record.clone(), record]),
        Attack::Reorder => Hit::Hold(record),
        Attack::Truncate => {
            record.truncate(5 + len / 2);
            Hit::Cut(record)
        }
        Attack::Inject => {
            let mut fake = vec![0x17, 0x03, 0x03, 0x04, 0x00];
            fake.extend((0..1024u32).map(|i| (i * 7919 % 251) as u8));
            Hit::Send(vec![fake, record])
        }
    }
}

/// Takes the next whole TLS record (a 5-byte header, then the length it gives) off the front
/// of `pending`, the bytes read so far.
pub fn next_record(pending: &mut Vec<u8>) -> Option<Vec<u8>> {
    if pending.len() < 5 {
        return None;
    }
    let len = u16::from_be_bytes([pending[3], pending[4]]) as usize;
    (pending.len() >= 5 + len).then(|| pending.drain(..5 + len).collect())
}

/// A record no attack touches: it goes on, and a record held back goes after it.
pub fn untouched(record: Vec<u8>, held: &mut Option<Vec<u8>>) -> Hit {
    Hit::Send([Some(record), held.take()].into_iter().flatten().collect())
}

/// Writes to `to` what `hit` lets through (keeping in `held` what it holds back); `false` once
/// the connection is over (cut, or the write failed).
pub async fn pass_on<W: tokio::io::AsyncWrite + Unpin>(
    to: &mut W,
    hit: Hit,
    held: &mut Option<Vec<u8>>,
) -> bool {
    use tokio::io::AsyncWriteExt;
    let records = match hit {
        Hit::Send(records) => records,
        Hit::Hold(record) => {
            *held = Some(record);
            return true;
        }
        Hit::Cut(part) => {
            let _ = to.write_all(&part).await;
            let _ = to.shutdown().await;
            return false;
        }
    };
    for record in records {
        if to.write_all(&record).await.is_err() {
            return false;
        }
    }
    true
}

/// `node`'s registry entry: its path, its text, and where in the text its endpoints list lies.
pub fn entry(
    node: &rosy::Node,
    domain: &str,
) -> (std::path::PathBuf, String, std::ops::Range<usize>) {
    let path = rosy::discovery::registry::domain_dir(domain).join(format!("{}.json", node.id()));
    let text = std::fs::read_to_string(&path).expect("the node's registry entry");
    let key = "\"endpoints\":[";
    let start = text.find(key).expect("an endpoints list") + key.len();
    let end = start + text[start..].find(']').expect("the list's end");
    (path, text, start..end)
}

/// The TCP endpoint `node` listens on, from its registry entry.
pub fn endpoint(node: &rosy::Node, domain: &str) -> std::net::SocketAddr {
    let (_, text, list) = entry(node, domain);
    let first = text[list].split(',').next().expect("an endpoint");
    first.trim_matches('"').parse().expect("an address")
}

/// Rewrites `node`'s registry entry so that it names `via` as its only endpoint.
pub fn route_through(node: &rosy::Node, domain: &str, via: std::net::SocketAddr) {
    let (path, text, list) = entry(node, domain);
    let rewritten = format!("{}\"{via}\"{}", &text[..list.start], &text[list.end..]);
    // Written beside, then renamed over, as the node writes it (readers never see half).
    let tmp = path.with_extension("rewrite");
    std::fs::write(&tmp, rewritten).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
}

/// How long a test waits for what it expects.
pub const WAIT: std::time::Duration = std::time::Duration::from_secs(20);

/// Polls `ready` every 10 ms; fails the test naming `what` if it does not hold within [`WAIT`].
pub async fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !ready() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} within {WAIT:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
