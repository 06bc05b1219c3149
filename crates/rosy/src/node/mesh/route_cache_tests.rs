//! A publisher keeps the route its messages took (`PublishedTopic`): it must follow every change
//! of who listens and of the topic's strategy, never send by a stale one.

use super::test_nodes::{domain, node};
use crate::balance::Strategy;
use crate::node::Subscriber;
use crate::node::preference::TransportPreference;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

/// Takes what `sub` has within a short settle, counting it.
async fn count(sub: &mut Subscriber<u32>) -> usize {
    let mut n = 0;
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(300), sub.recv()).await {
        n += 1;
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publishers_route_follows_listeners_and_strategy() {
    let transport = TransportPreference::Tcp;
    let domain = domain("route-cache", transport);
    let talker = node("talker", &domain, transport, T).await;
    // Made before anyone listens: its first route is empty.
    let publisher = talker.publisher::<u32>("numbers").await.unwrap();
    assert_eq!(publisher.send(&0).await.unwrap(), 0);

    let first = node("listener", &domain, transport, T).await;
    let mut a = first.subscriber::<u32>("numbers").await.unwrap();
    talker.wait_for_listener("numbers", T).await.unwrap();
    assert_eq!(publisher.send(&1).await.unwrap(), 1);
    assert_eq!(tokio::time::timeout(T, a.recv()).await.unwrap(), Some(1));

    // A second member of the same name: round robin shares the messages between the two.
    let second = node("listener", &domain, transport, T).await;
    let mut b = second.subscriber::<u32>("numbers").await.unwrap();
    tokio::time::timeout(T, async {
        while talker.topology().listeners("numbers").len() < 2 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the second listener is known");
    for i in 0..10 {
        assert_eq!(publisher.send(&i).await.unwrap(), 1);
    }
    assert_eq!((count(&mut a).await, count(&mut b).await), (5, 5));

    // A strategy set after the route was cached: every member gets every message.
    talker.set_topic_load_balancing("numbers", Strategy::None);
    for i in 0..10 {
        assert_eq!(publisher.send(&i).await.unwrap(), 2);
    }
    assert_eq!((count(&mut a).await, count(&mut b).await), (10, 10));

    // One goes: its messages stop going to it.
    drop(b);
    second.close().await;
    tokio::time::timeout(T, async {
        while publisher.send(&99).await.unwrap() != 1 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the route forgets the node that went");
    first.close().await;
    talker.close().await;
}
