//! Spike: pure-Rust ROS 2 node (ros2-client on RustDDS) talking to rclpy (Fast DDS).
//!
//! * publishes std_msgs/String on /chatter_from_rust (every 500 ms)
//! * subscribes std_msgs/String on /chatter
//! * calls the rclpy std_srvs/SetBool service /set_flag
//! * serves std_srvs/Trigger on /rust_trigger
//!
//! Exits 0 once it has (a) heard /chatter, (b) got a SetBool response and
//! (c) served a Trigger request, then lingers LINGER_SECS so the peer can
//! finish too. Exits 1 when RUN_SECS elapse first.

use std::{
  sync::{
    Arc,
    atomic::{AtomicBool, AtomicU32, Ordering},
  },
  time::{Duration, Instant},
};

use futures::{FutureExt, StreamExt};
use ros2_client::{
  Context, ContextOptions, Message, MessageTypeName, Name, NodeName, NodeOptions, QosProfile,
  ServiceMapping, ServiceTypeName,
  qos::{Durability, History, WhenFull},
};
use serde::{Deserialize, Serialize};

// std_srvs/srv/SetBool
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SetBoolRequest {
  data: bool,
}
impl Message for SetBoolRequest {}
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SetBoolResponse {
  success: bool,
  message: String,
}
impl Message for SetBoolResponse {}

// std_srvs/srv/Trigger. The request is an empty message; rosidl gives empty
// messages a dummy `uint8 structure_needs_at_least_one_member` field, and
// Fast DDS puts that byte on the wire, so model it explicitly.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TriggerRequest {
  structure_needs_at_least_one_member: u8,
}
impl Message for TriggerRequest {}
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TriggerResponse {
  success: bool,
  message: String,
}
impl Message for TriggerResponse {}

fn env_u64(name: &str, default: u64) -> u64 {
  std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

fn now_epoch() -> f64 {
  std::time::SystemTime::now()
    .duration_since(std::time::UNIX_EPOCH)
    .unwrap()
    .as_secs_f64()
}

fn main() {
  env_logger::init();
  let t0 = Instant::now();
  // SPIKE_T0 (unix epoch seconds, set by run.sh) gives both sides one time base.
  let epoch0: f64 = std::env::var("SPIKE_T0")
    .ok()
    .and_then(|s| s.parse().ok())
    .unwrap_or_else(now_epoch);
  let el = move || format!("[rust +{:6.2}s]", now_epoch() - epoch0);
  let run_secs = env_u64("RUN_SECS", 50);
  let linger_secs = env_u64("LINGER_SECS", 8);
  let domain_id = env_u64("ROS_DOMAIN_ID", 0) as u16;

  let context = Context::with_options(ContextOptions::new().domain_id(domain_id)).unwrap();
  let mut node = context
    .new_node(
      NodeName::new("/", "rust_spike_node").unwrap(),
      NodeOptions::new().enable_rosout(true),
    )
    .unwrap();
  println!("{} node created, domain {domain_id}", el());

  // rclpy's default (rmw_qos_profile_default): reliable, volatile, keep last 10.
  let qos = QosProfile::publisher_default()
    .reliability_reliable(WhenFull::DEFAULT)
    .durability(Durability::Volatile)
    .history(History::KeepLast { depth: 10 });

  let out_topic = node
    .create_topic(
      &Name::new("/", "chatter_from_rust").unwrap(),
      MessageTypeName::new("std_msgs", "String"),
      &qos,
    )
    .unwrap();
  // std_msgs/String is a struct with one `string data` field; its CDR is
  // identical to a bare string, so Rust `String` serves as the message type.
  let publisher = node.create_publisher::<String>(&out_topic, None).unwrap();

  let in_topic = node
    .create_topic(
      &Name::new("/", "chatter").unwrap(),
      MessageTypeName::new("std_msgs", "String"),
      &qos,
    )
    .unwrap();
  let subscription = node.create_subscription::<String>(&in_topic, None).unwrap();

  let client = node
    .create_client::<SetBoolRequest, SetBoolResponse>(
      ServiceMapping::Enhanced,
      &Name::new("/", "set_flag").unwrap(),
      &ServiceTypeName::new("std_srvs", "SetBool"),
      qos.clone(),
      qos.clone(),
    )
    .unwrap();

  let server = node
    .create_server::<TriggerRequest, TriggerResponse>(
      ServiceMapping::Enhanced,
      &Name::new("/", "rust_trigger").unwrap(),
      &ServiceTypeName::new("std_srvs", "Trigger"),
      qos.clone(),
      qos.clone(),
    )
    .unwrap();

  let heard = Arc::new(AtomicU32::new(0));
  let got_response = Arc::new(AtomicBool::new(false));
  let served = Arc::new(AtomicU32::new(0));

  let executor = smol::Executor::new();
  executor.spawn(node.spinner().unwrap().spin()).detach();

  // Publisher task
  let pub_task = async {
    let mut n = 0u32;
    loop {
      n += 1;
      let msg = format!("hello from rust #{n}");
      if let Err(e) = publisher.async_publish(msg).await {
        println!("{} publish error {e:?}", el());
      }
      smol::Timer::after(Duration::from_millis(500)).await;
    }
  };

  // Subscriber task
  let sub_task = {
    let heard = heard.clone();
    subscription.async_stream().for_each(move |r| {
      let heard = heard.clone();
      async move {
        match r {
          Ok((msg, _info)) => {
            let k = heard.fetch_add(1, Ordering::SeqCst);
            if k < 3 {
              println!("{} RUST HEARD on /chatter: {msg:?}", el());
            }
          }
          Err(e) => println!("{} subscription error {e:?}", el()),
        }
      }
    })
  };

  // Service client task: wait for /set_flag, call it until one response arrives.
  let client_task = {
    let got_response = got_response.clone();
    let node_ref = &node;
    let client_ref = &client;
    async move {
      client_ref.wait_for_service(node_ref).await;
      println!("{} /set_flag service discovered", el());
      let mut attempt = 0;
      while !got_response.load(Ordering::SeqCst) {
        attempt += 1;
        let call = smol::future::or(
          client_ref.async_call_service(SetBoolRequest { data: true }).map(Some),
          async {
            smol::Timer::after(Duration::from_secs(3)).await;
            None
          },
        );
        match call.await {
          Some(Ok(resp)) => {
            println!("{} RUST GOT SetBool response (attempt {attempt}): {resp:?}", el());
            got_response.store(true, Ordering::SeqCst);
          }
          Some(Err(e)) => println!("{} SetBool call error {e:?}", el()),
          None => println!("{} SetBool call timed out (attempt {attempt}), retrying", el()),
        }
      }
      futures::future::pending::<()>().await
    }
  };

  // Service server task
  let server_task = {
    let served = served.clone();
    let server_ref = &server;
    server_ref.receive_request_stream().for_each(move |r| {
      let served = served.clone();
      async move {
        match r {
          Ok((req_id, req)) => {
            let k = served.fetch_add(1, Ordering::SeqCst) + 1;
            println!("{} RUST SERVED Trigger request #{k}: {req:?}", el());
            let resp = TriggerResponse {
              success: true,
              message: format!("triggered rust (#{k})"),
            };
            if let Err(e) = server_ref.async_send_response(req_id, resp).await {
              println!("{} Trigger send error {e:?}", el());
            }
          }
          Err(e) => println!("{} Trigger receive error {e:?}", el()),
        }
      }
    })
  };

  // Supervisor: wait for all goals, linger, or give up at the deadline.
  let supervisor = async {
    let deadline = t0 + Duration::from_secs(run_secs);
    let mut done_at: Option<Instant> = None;
    loop {
      smol::Timer::after(Duration::from_millis(200)).await;
      let now = Instant::now();
      let all = heard.load(Ordering::SeqCst) > 0
        && got_response.load(Ordering::SeqCst)
        && served.load(Ordering::SeqCst) > 0;
      if all && done_at.is_none() {
        println!("{} all goals reached; lingering {linger_secs}s", el());
        done_at = Some(now);
      }
      if let Some(d) = done_at
        && now >= d + Duration::from_secs(linger_secs)
      {
        return true;
      }
      if now >= deadline {
        return false;
      }
    }
  };

  let ok = smol::block_on(executor.run(async {
    futures::select! {
      ok = supervisor.fuse() => ok,
      _ = pub_task.fuse() => false,
      _ = sub_task.fuse() => false,
      _ = client_task.fuse() => false,
      _ = server_task.fuse() => false,
    }
  }));

  let h = heard.load(Ordering::SeqCst);
  let g = got_response.load(Ordering::SeqCst);
  let s = served.load(Ordering::SeqCst);
  println!(
    "{} RUST SUMMARY: rclpy->rust topic msgs={h} ({}), rust->rclpy SetBool call={}, rclpy->rust Trigger served={s} ({})",
    el(),
    if h > 0 { "OK" } else { "FAIL" },
    if g { "OK" } else { "FAIL" },
    if s > 0 { "OK" } else { "FAIL" },
  );
  drop(executor);
  std::process::exit(if ok { 0 } else { 1 });
}
