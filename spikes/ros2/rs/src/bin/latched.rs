//! Experiment: a RustDDS transient-local reader of /latched (std_msgs/String); prints what it gets.
use futures::StreamExt;
use ros2_client::{
  Context, ContextOptions, MessageTypeName, Name, NodeName, NodeOptions, QosProfile,
  qos::{Durability, History, WhenFull},
};
fn main() {
  let domain: u16 = std::env::var("ROS_DOMAIN_ID").ok().and_then(|s| s.parse().ok()).unwrap_or(0);
  let depth: usize = std::env::var("DEPTH").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
  let context = Context::with_options(ContextOptions::new().domain_id(domain)).unwrap();
  let mut node = context.new_node(NodeName::new("/", "latched_probe").unwrap(), NodeOptions::new()).unwrap();
  let qos = QosProfile::publisher_default()
    .reliability_reliable(WhenFull::DEFAULT)
    .durability(Durability::TransientLocal)
    .history(History::KeepLast { depth });
  let topic = node.create_topic(&Name::new("/", "latched").unwrap(), MessageTypeName::new("std_msgs", "String"), &qos).unwrap();
  let sub = node.create_subscription::<String>(&topic, None).unwrap();
  let ex = smol::Executor::new();
  ex.spawn(node.spinner().unwrap().spin()).detach();
  smol::block_on(ex.run(async {
    let t = smol::Timer::after(std::time::Duration::from_secs(20));
    let stream = sub.async_stream();
    let mut s = std::pin::pin!(stream);
    let next = std::pin::pin!(s.next());
    let t = std::pin::pin!(t);
    match futures::future::select(next, t).await {
      futures::future::Either::Left((Some(Ok((m, _))), _)) => println!("GOT {m}"),
      futures::future::Either::Left((other, _)) => println!("ERR {other:?}"),
      futures::future::Either::Right(_) => println!("TIMEOUT"),
    }
  }));
}
