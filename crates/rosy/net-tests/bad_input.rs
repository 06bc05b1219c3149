//! Hostile bytes sent to a node's port close that one connection with a logged error; the node
//! keeps serving everyone else.

use crate::support::{Proc, eventually, node, unique_domain};
use bytes::{Bytes, BytesMut};
use rosy::codec::{Codec, CodecId, MsgPack};
use rosy::transport::tcp::Hello;
use rosy::transport::tcp::frame::{self, Frame, FrameKind};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

const T: Duration = Duration::from_secs(15);

fn hello(domain: &str) -> Vec<u8> {
    hello_as(domain, &"f".repeat(32))
}

/// The preamble and hello of a node `node_id` of `domain`, named "intruder".
pub fn hello_as(domain: &str, node_id: &str) -> Vec<u8> {
    let mut payload = Vec::new();
    MsgPack
        .encode(
            &Hello {
                domain: domain.to_string(),
                node_id: node_id.to_string(),
                node_name: "intruder".to_string(),
                certificate: None,
            },
            &mut payload,
        )
        .unwrap();
    let mut out = BytesMut::new();
    out.extend_from_slice(&frame::preamble());
    Frame::new(
        FrameKind::Hello,
        CodecId::MsgPack,
        0,
        "",
        Bytes::from(payload),
    )
    .encode(&mut out);
    out.to_vec()
}

/// Sends `bytes` (then half-closes when `finish`), and asserts the node closes the connection.
fn assert_closed_after(addr: SocketAddr, bytes: &[u8], finish: bool) {
    let mut stream = TcpStream::connect_timeout(&addr, T).unwrap();
    stream.set_read_timeout(Some(T)).unwrap();
    // The node may close before all is written; that is the point.
    let _ = stream.write_all(bytes);
    if finish {
        let _ = stream.shutdown(std::net::Shutdown::Write);
    }
    let mut sink = Vec::new();
    match stream.read_to_end(&mut sink) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("the node did not close the connection: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_input_closes_one_connection_and_the_node_keeps_serving() {
    let domain = unique_domain("bad");
    let provider = Proc::example("service_provider", &domain, &[]);
    provider.expect_line("Started service...", T);
    let caller = node("caller", &domain).await;
    caller
        .wait_for_service_provider("multiply", T)
        .await
        .unwrap();
    let addr = caller
        .topology()
        .nodes()
        .find(|n| n.name == "service_provider")
        .and_then(|n| n.endpoints.iter().find(|e| e.ip().is_loopback()).copied())
        .expect("the provider announces a loopback endpoint");

    let mut random = vec![0u8; 4096];
    for (i, b) in random.iter_mut().enumerate() {
        *b = (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3];
    }
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("random bytes", random, "wrong magic"),
        (
            "wrong magic",
            b"GET / HTTP/1.1\r\n\r\n".to_vec(),
            "wrong magic",
        ),
        ("wrong domain", hello("some-other-domain"), "domain"),
        (
            "4 GB length",
            [hello(&domain), u32::MAX.to_le_bytes().to_vec()].concat(),
            "exceeds the limit",
        ),
        (
            "truncated frame",
            [hello(&domain), {
                let mut f = BytesMut::new();
                Frame::new(
                    FrameKind::Topic,
                    CodecId::MsgPack,
                    0,
                    "t",
                    Bytes::from(vec![1u8; 100]),
                )
                .encode(&mut f);
                f[..50].to_vec()
            }]
            .concat(),
            "middle of a frame",
        ),
        (
            "unknown frame kind",
            [
                hello(&domain),
                vec![12, 0, 0, 0, 99, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            ]
            .concat(),
            "unknown frame kind",
        ),
    ];
    for (what, bytes, logged) in cases {
        assert_closed_after(addr, &bytes, true);
        provider.expect_stderr(logged, T);
        // The node still serves its real peers.
        let product: i64 = caller
            .call("multiply", &(6, 7))
            .await
            .unwrap_or_else(|e| panic!("after {what}: {e}"));
        assert_eq!(product, 42, "after {what}");
    }
    assert!(eventually(&caller, T, |n| n.service_has_providers("multiply")).await);
    caller.close().await;
}
