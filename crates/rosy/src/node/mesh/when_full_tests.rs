//! A publisher's choice when a same-host reader is behind (`WhenFull`): with a reader that
//! takes each message slowly (an inline handler sleeping on the node's shared-memory reader
//! thread), a publisher that drops the oldest loses messages for it and never waits; one that
//! waits loses none, and says so in what it announces.

use super::test_nodes::{domain, node};
use crate::node::preference::TransportPreference;
use crate::qos::{Qos, WhenFull};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const T: Duration = Duration::from_secs(60);
const MESSAGES: u32 = 200;

/// What the slow reader saw of `MESSAGES` messages of 20 kB (chunk messages: 64 chunks, fewer
/// than the messages) sent as fast as the publisher goes.
async fn slow_reader_sees(when_full: WhenFull) -> Vec<u32> {
    let transport = TransportPreference::Shm;
    let domain = domain(&format!("when-full-{when_full}"), transport);
    let sender = node("camera", &domain, transport, Duration::from_secs(5)).await;
    let reader = node("slow", &domain, transport, Duration::from_secs(5)).await;
    let seen = Arc::new(Mutex::new(Vec::<u32>::new()));
    let into = seen.clone();
    let _handler = reader
        .on_message("frames", Qos::default(), move |m| {
            let n = u32::from_le_bytes(m.payload[..4].try_into().expect("a stamp"));
            into.lock().unwrap().push(n);
            // Slow: the reader thread takes nothing else meanwhile.
            std::thread::sleep(Duration::from_millis(2));
        })
        .await
        .unwrap();
    let qos = Qos {
        when_full,
        ..Qos::default()
    };
    // Raw bytes: the publisher's pace is not an encoder's (20 kB as msgpack integers).
    let publisher = sender
        .publisher_with_codec_qos::<[u8], _>("frames", crate::codec::Raw, qos)
        .await
        .unwrap();
    let (me, reader_id) = (sender.id(), reader.id());
    let reading = sender
        .wait_for_topology(T, |topology| {
            topology.nodes().any(|n| {
                n.id == reader_id && n.shm_reading.contains(&(me.clone(), "frames".to_string()))
            })
        })
        .await;
    assert!(reading, "the reader never read the publisher's segment");
    let announced = reader
        .wait_for_topology(T, |topology| {
            topology.nodes().any(|n| {
                n.id == me
                    && n.topics
                        .iter()
                        .any(|t| t.name == "frames" && t.qos.when_full == when_full)
            })
        })
        .await;
    assert!(announced, "the publisher announces {when_full}");
    let mut payload = vec![5u8; 20_000];
    for i in 0..MESSAGES {
        payload[..4].copy_from_slice(&i.to_le_bytes());
        publisher.send(&payload).await.unwrap();
    }
    let last = tokio::time::timeout(T, async {
        while seen.lock().unwrap().last() != Some(&(MESSAGES - 1)) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(last.is_ok(), "the last message reaches the slow reader");
    seen.lock().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publisher_that_waits_loses_nothing_for_a_slow_same_host_reader() {
    let seen = slow_reader_sees(WhenFull::Wait).await;
    assert_eq!(
        seen,
        (0..MESSAGES).collect::<Vec<_>>(),
        "every message, in order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publisher_that_drops_the_oldest_never_waits_for_a_slow_reader() {
    // The control: the same reader loses the oldest messages (the ring took them back).
    let seen = slow_reader_sees(WhenFull::DropOldest).await;
    assert!(
        (seen.len() as u32) < MESSAGES,
        "a slow best-effort reader loses messages: it saw all {MESSAGES}"
    );
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "in order");
}
