//! How a node or tool is asked to stop: the first Ctrl-C (SIGINT) or SIGTERM.
//!
//! Only listening lives here; what stopping means (closing a node, finishing a bag) is the
//! caller's. Nothing here ever masks or resets a signal's disposition.

/// Resolves at the first Ctrl-C (SIGINT) or SIGTERM: how a node or tool is asked to stop.
///
/// The handlers are installed when this is called, not when the future is first polled, so a
/// signal that arrives between the call and the first poll (a task not yet scheduled, a loop
/// busy sending) still ends the wait instead of killing the process. Make it once before a
/// loop and poll it by reference (`tokio::pin!`): a future made afresh each pass does not see a
/// signal that came between passes.
///
/// Panics outside a tokio runtime (as `tokio::signal` does). If a handler cannot be installed
/// (a runtime built without `enable_io`), that signal is never seen and the reason is logged.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};
    let listen = |kind: SignalKind, name: &str| {
        signal(kind)
            .inspect_err(|e| tracing::warn!("cannot listen for {name}: {e}"))
            .ok()
    };
    let mut interrupt = listen(SignalKind::interrupt(), "SIGINT");
    let mut terminate = listen(SignalKind::terminate(), "SIGTERM");
    async move {
        tokio::select! {
            _ = received(interrupt.as_mut()) => {}
            _ = received(terminate.as_mut()) => {}
        }
    }
}

/// Waits for the next delivery of a signal listened for; forever if it could not be.
async fn received(signal: Option<&mut tokio::signal::unix::Signal>) {
    match signal {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::shutdown_signal;
    use std::time::Duration;

    /// A signal that comes after the call but before the first poll ends the wait. Were the
    /// handler installed at the first poll, the signal would find none and end this test
    /// process.
    #[tokio::test]
    async fn a_signal_before_the_first_poll_ends_the_wait() {
        let stop = shutdown_signal();
        rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::TERM)
            .unwrap();
        tokio::time::timeout(Duration::from_secs(10), stop)
            .await
            .expect("a SIGTERM sent before the first poll was not seen");
    }
}
