//! The receiving side of `rosy speedtest`: one subscriber, or many merged (`--topics`), read
//! in a loop (`--inline` is `inline`'s).

use super::setup::{SpeedArgs, join, now_ns, reads_shm};
use super::tally::{Taken, Tally, Usage, finish, topic_names};
use crate::cli::error::CliError;
use crate::cli::progress::Spinner;
use std::time::Duration;

/// One subscriber, or many merged into one stream (a task each, telling its losses as it goes).
enum Merged {
    One(rosy::Subscriber<serde_bytes::ByteBuf>),
    Many {
        messages: tokio::sync::mpsc::Receiver<(usize, rosy::node::Received, u64)>,
        lost: Vec<u64>,
        tasks: Vec<tokio::task::JoinHandle<()>>,
    },
}

impl Merged {
    async fn subscribe(
        node: &rosy::Node,
        topics: &[String],
        qos: rosy::qos::Qos,
    ) -> Result<Merged, CliError> {
        if let [topic] = topics {
            return Ok(Merged::One(node.subscriber_with_qos(topic, qos).await?));
        }
        let (tx, messages) = tokio::sync::mpsc::channel(1 << 16);
        let mut tasks = Vec::new();
        for (i, topic) in topics.iter().enumerate() {
            let mut subscriber = node
                .subscriber_with_qos::<serde_bytes::ByteBuf>(topic, qos)
                .await?;
            let tx = tx.clone();
            tasks.push(tokio::spawn(async move {
                while let Some(m) = subscriber.recv_encoded().await {
                    if tx.send((i, m, subscriber.lost())).await.is_err() {
                        return;
                    }
                }
            }));
        }
        Ok(Merged::Many {
            messages,
            lost: vec![0; topics.len()],
            tasks,
        })
    }

    async fn recv_encoded(&mut self) -> Option<rosy::node::Received> {
        match self {
            Merged::One(s) => s.recv_encoded().await,
            Merged::Many { messages, lost, .. } => {
                let (i, m, l) = messages.recv().await?;
                lost[i] = l;
                Some(m)
            }
        }
    }

    /// The next message if one is queued now.
    fn try_recv_encoded(&mut self) -> Option<rosy::node::Received> {
        match self {
            Merged::One(s) => s.try_recv_encoded().ok().flatten(),
            Merged::Many { messages, lost, .. } => {
                let (i, m, l) = messages.try_recv().ok()?;
                lost[i] = l;
                Some(m)
            }
        }
    }

    fn lost(&self) -> u64 {
        match self {
            Merged::One(s) => s.lost(),
            Merged::Many { lost, .. } => lost.iter().sum(),
        }
    }
}

impl Drop for Merged {
    fn drop(&mut self) {
        if let Merged::Many { tasks, .. } = self {
            tasks.iter().for_each(|t| t.abort());
        }
    }
}

pub async fn recv(args: SpeedArgs, domain: &str, json: bool) -> Result<(), CliError> {
    // Listening before anything is announced: a Ctrl-C as soon as peers see this node ends
    // the run with its report instead of killing it.
    let interrupted = rosy::node::shutdown_signal();
    let node = join(&args, domain, "recv").await?;
    let topics = topic_names(&args);
    let mut subscriber = Merged::subscribe(&node, &topics, args.qos.qos(false)).await?;
    let mut tally = Tally::new(topics.len());
    let mut usage = None;
    let spinner = Spinner::start(format!("waiting for a sender on {}...", args.topic));
    let mut saw_shm = false;
    // Bounded: the run plus time to find each other, until the first message; then a silence
    // ends a lost sender (a slow receiver may take longer than the run to read what was sent).
    let overall = Duration::from_secs_f64(args.run_time) + Duration::from_secs(60);
    let work = Duration::from_secs_f64(args.work_time);
    let give_up = tokio::time::sleep(overall);
    tokio::pin!(give_up, interrupted);
    let mut spinner = Some(spinner);
    loop {
        // What is queued is taken without waiting (a message's cost is then the receiver's
        // work, not a wake-up); the wait, bounded, only when nothing is.
        let next = match subscriber.try_recv_encoded() {
            Some(m) => Some(m),
            None => {
                let silence = if tally.started() {
                    Duration::from_secs(5)
                } else {
                    overall
                };
                tokio::select! {
                    m = tokio::time::timeout(silence, subscriber.recv_encoded()) => m.ok().flatten(),
                    _ = &mut give_up, if !tally.started() => None,
                    _ = &mut interrupted => None,
                }
            }
        };
        let Some(message) = next else { break };
        match tally.take(&message.payload, now_ns()) {
            Taken::Short => continue,
            Taken::End => {
                usage.get_or_insert_with(|| Usage::of(&node));
                continue;
            }
            Taken::Done => {
                usage.get_or_insert_with(|| Usage::of(&node));
                break;
            }
            Taken::Message => {}
        }
        spinner = None;
        if tally.received % 1024 == 1 {
            // Sampled while the sender runs: once it closes, its segment is gone.
            saw_shm |= topics.iter().any(|t| reads_shm(&node, t));
        }
        if !work.is_zero() {
            // The work blocks this thread, as a handler's computation would.
            tokio::task::block_in_place(|| std::thread::sleep(work));
        }
    }
    drop(spinner);
    let dropped_here = subscriber.lost();
    let usage = usage.unwrap_or_else(|| Usage::of(&node));
    drop(subscriber);
    node.close().await;
    let used = if saw_shm { "shm" } else { "tcp" };
    finish(
        tally.report(&args, used, &usage, dropped_here),
        &usage,
        &args,
        domain,
        json,
    )
}
