//! `rosy speedtest recv --inline`: each message counted by an inline handler
//! (`Node::on_message`) on the thread that takes it in, so a sleeping receiver is woken once a
//! message; the receiver's task wakes only at the end of the run, or once a second to notice a
//! sender gone silent.

use super::setup::{SpeedArgs, join, now_ns, reads_shm};
use super::tally::{Taken, Tally, Usage, finish, topic_names};
use crate::cli::error::CliError;
use crate::cli::progress::Spinner;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub async fn recv_inline(args: SpeedArgs, domain: &str, json: bool) -> Result<(), CliError> {
    // Listening before anything is announced: a Ctrl-C as soon as peers see this node ends
    // the run with its report instead of killing it.
    let interrupted = rosy::node::shutdown_signal();
    let node = join(&args, domain, "recv").await?;
    let topics = topic_names(&args);
    let tally = Arc::new(Mutex::new(Tally::new(topics.len())));
    let done = Arc::new(tokio::sync::Notify::new());
    let mut subscriptions = Vec::new();
    for topic in &topics {
        let (tally, done) = (tally.clone(), done.clone());
        subscriptions.push(
            node.on_message(topic, args.qos.qos(false), move |message| {
                let taken = tally
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .take(&message.payload, now_ns());
                if taken == Taken::Done {
                    done.notify_one();
                }
            })
            .await?,
        );
    }
    let spinner = Spinner::start(format!("waiting for a sender on {}...", args.topic));
    let overall = Duration::from_secs_f64(args.run_time) + Duration::from_secs(60);
    let started = Instant::now();
    let mut spinner = Some(spinner);
    let mut saw_shm = false;
    let (mut seen, mut quiet_since) = (0u64, Instant::now());
    tokio::pin!(interrupted);
    loop {
        tokio::select! {
            () = done.notified() => break,
            _ = &mut interrupted => break,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        let received = tally.lock().unwrap_or_else(|e| e.into_inner()).received;
        if received > 0 {
            spinner = None;
            // Sampled while the sender runs: once it closes, its segment is gone.
            saw_shm |= topics.iter().any(|t| reads_shm(&node, t));
        }
        if received != seen {
            (seen, quiet_since) = (received, Instant::now());
        }
        let silent = if received > 0 {
            quiet_since.elapsed() > Duration::from_secs(5)
        } else {
            started.elapsed() > overall
        };
        if silent {
            break;
        }
    }
    drop(spinner);
    let usage = Usage::of(&node);
    drop(subscriptions);
    node.close().await;
    let tally = Arc::try_unwrap(tally)
        .map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
        .unwrap_or_else(|shared| {
            // A handler still holds it (a delivery in flight): take what it counted.
            std::mem::replace(
                &mut *shared.lock().unwrap_or_else(|e| e.into_inner()),
                Tally::new(0),
            )
        });
    let used = if saw_shm { "shm" } else { "tcp" };
    finish(
        tally.report(&args, used, &usage, 0),
        &usage,
        &args,
        domain,
        json,
    )
}
