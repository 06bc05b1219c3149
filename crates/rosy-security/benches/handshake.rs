//! What one secure link's handshake costs, per key algorithm: two nodes' credentials made with
//! `rosy security`'s own functions, then a full TLS 1.3 mutual handshake between them over a
//! fresh loopback TCP pair (both ends in this process, so the time is both ends' CPU, and the
//! socket round trips). No session resumption: every link of a joining mesh is a first meeting.
//!
//!     cargo bench -p rosy-security --bench handshake

use criterion::{Criterion, criterion_group, criterion_main};
use rosy::security::{LinkSecurity, Side};
use rosy_security::TlsSecurity;
use rosy_security::provision::{self, KeyAlgorithm};
use std::path::Path;
use tokio::net::{TcpListener, TcpStream};

/// Two identities of a fresh domain whose keys (CA's and nodes') are all `algorithm`.
fn pair(root: &Path, algorithm: KeyAlgorithm) -> (TlsSecurity, TlsSecurity) {
    let domain = format!("bench-{algorithm:?}").to_lowercase();
    let dir = provision::create_domain_with_key(root, &domain, algorithm).expect("a CA");
    let node = |name: &str| {
        let out = root.join(format!("{domain}-{name}"));
        provision::issue_with_key(&dir, name, &out, algorithm).expect("an identity");
        TlsSecurity::from_dir(&out, &domain).expect("credentials")
    };
    (node("dialer"), node("acceptor"))
}

async fn handshake(dialer: &TlsSecurity, acceptor: &TlsSecurity, listener: &TcpListener) {
    let addr = listener.local_addr().expect("an address");
    let (dialed, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
    let (dialed, accepted) = (dialed.expect("a dial"), accepted.expect("an accept").0);
    let (a, b) = tokio::join!(
        dialer.handshake(&dialed, Side::Dialer),
        acceptor.handshake(&accepted, Side::Acceptor)
    );
    a.expect("the dialer's handshake");
    b.expect("the acceptor's handshake");
}

fn handshakes(c: &mut Criterion) {
    let root = std::env::temp_dir().join(format!("rosy-bench-handshake-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let listener = runtime
        .block_on(TcpListener::bind("127.0.0.1:0"))
        .expect("a listener");
    let mut group = c.benchmark_group("handshake");
    for algorithm in [KeyAlgorithm::Ed25519, KeyAlgorithm::P256] {
        let (dialer, acceptor) = pair(&root, algorithm);
        group.bench_function(format!("{algorithm:?}"), |b| {
            b.iter(|| runtime.block_on(handshake(&dialer, &acceptor, &listener)))
        });
    }
    group.finish();
    let _ = std::fs::remove_dir_all(&root);
}

criterion_group!(benches, handshakes);
criterion_main!(benches);
