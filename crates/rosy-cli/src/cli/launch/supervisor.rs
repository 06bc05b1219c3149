//! Runs the nodes of a launch plan as child processes and stops every one of them.
//!
//! Each child starts in a process group of its own, so stopping it reaches whatever it started
//! (`cargo run`, `sh -c`...): SIGTERM to the group, then SIGKILL once the grace period is over.
//! Children also get SIGTERM from the kernel if `rosy launch` itself dies (parent-death signal).
//! Output is forwarded line by line, prefixed with the node's label. This module must never leave
//! a child running when it returns.

use super::config::{Plan, Restart};
use rustix::process::{Pid, Signal};
use std::io::{IsTerminal, Write};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;

/// How the launch ended.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Labels of nodes whose last run failed (non-zero exit, signal, or could not start).
    pub failed: Vec<String>,
    /// Whether a signal (Ctrl-C, SIGTERM) stopped the launch.
    pub interrupted: bool,
}

/// Starts `plans` in order (honouring their delays), restarts them as asked, and on Ctrl-C or
/// SIGTERM stops them all, waiting at most `grace` before killing. Returns when no child is left.
pub async fn run(plans: Vec<Plan>, base_env: Vec<(String, String)>, grace: Duration) -> Outcome {
    let (stop_tx, stop_rx) = watch::channel(false);
    let colours = std::io::stdout().is_terminal();
    let mut tasks = tokio::task::JoinSet::new();
    let mut signals = Signals::new();

    let starting = async {
        for (index, plan) in plans.into_iter().enumerate() {
            tokio::time::sleep(plan.pre_delay).await;
            let post_delay = plan.post_delay;
            let supervised = Supervised {
                colour: colours.then(|| COLOURS[index % COLOURS.len()]),
                base_env: base_env.clone(),
                grace,
                stop: stop_rx.clone(),
                plan,
            };
            tasks.spawn(supervised.run());
            tokio::time::sleep(post_delay).await;
        }
    };
    let mut interrupted = tokio::select! {
        _ = starting => false,
        _ = signals.next() => true,
    };
    let mut failed = Vec::new();
    while !interrupted {
        tokio::select! {
            done = tasks.join_next() => match done {
                None => break,
                Some(Ok(Some(label))) => failed.push(label),
                Some(_) => {}
            },
            _ = signals.next() => interrupted = true,
        }
    }
    if interrupted {
        let running = tasks.len();
        if running > 0 {
            note(&format!(
                "stopping {running} node{} (SIGTERM, SIGKILL after {:.1} s; Ctrl-C again to kill now)",
                if running == 1 { "" } else { "s" },
                grace.as_secs_f64()
            ));
        }
        let _ = stop_tx.send(true);
    }
    loop {
        tokio::select! {
            done = tasks.join_next() => match done {
                None => break,
                Some(Ok(Some(label))) => failed.push(label),
                Some(_) => {}
            },
            _ = signals.next(), if interrupted => {
                // A second Ctrl-C: no more grace.
                let _ = stop_tx.send_replace(true);
                KILL_NOW.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }
    Outcome {
        failed,
        interrupted,
    }
}

static KILL_NOW: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

const COLOURS: [&str; 6] = ["36", "33", "35", "32", "34", "31"];

/// Ctrl-C and SIGTERM, as one stream.
struct Signals {
    int: Option<tokio::signal::unix::Signal>,
    term: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> Signals {
        use tokio::signal::unix::{SignalKind, signal};
        Signals {
            int: signal(SignalKind::interrupt()).ok(),
            term: signal(SignalKind::terminate()).ok(),
        }
    }

    async fn next(&mut self) {
        let int = async {
            match &mut self.int {
                Some(s) => s.recv().await,
                None => std::future::pending().await,
            }
        };
        let term = async {
            match &mut self.term {
                Some(s) => s.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = int => {},
            _ = term => {},
        }
    }
}

/// Writes one line of launch's own on stderr.
fn note(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "[launch] {text}");
}

/// One node of the plan and what it needs to run, restart and stop.
struct Supervised {
    plan: Plan,
    colour: Option<&'static str>,
    base_env: Vec<(String, String)>,
    grace: Duration,
    stop: watch::Receiver<bool>,
}

impl Supervised {
    /// Runs the node until it is done or stopped; returns its label if its last run failed.
    async fn run(mut self) -> Option<String> {
        loop {
            let failed = match self.start() {
                Ok(child) => {
                    let status = self.watch(child).await;
                    if *self.stop.borrow() {
                        return None;
                    }
                    let failed = !status.success();
                    note(&format!("{} {}", self.plan.label, describe(status)));
                    failed
                }
                Err(e) => {
                    note(&format!(
                        "cannot start {}: {e} (command {:?} in {})",
                        self.plan.label,
                        self.plan.program,
                        self.plan.cwd.display()
                    ));
                    true
                }
            };
            let again = match self.plan.restart {
                Restart::Never => false,
                Restart::OnFailure => failed,
                Restart::Always => true,
            };
            if !again {
                return failed.then(|| self.plan.label.clone());
            }
            note(&format!(
                "restarting {} in {:.1} s",
                self.plan.label,
                self.plan.restart_delay.as_secs_f64()
            ));
            tokio::select! {
                _ = tokio::time::sleep(self.plan.restart_delay) => {}
                _ = self.stop.wait_for(|stop| *stop) => return None,
            }
        }
    }

    fn start(&self) -> std::io::Result<Child> {
        let plan = &self.plan;
        let mut command = Command::new(&plan.program);
        command
            .args(&plan.args)
            .current_dir(&plan.cwd)
            .envs(self.base_env.iter().cloned())
            .env("ROSY_NODE_NAME", &plan.name)
            .env("PYTHONUNBUFFERED", "1")
            .envs(&plan.env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        // SAFETY: the closure runs in the forked child before exec and only makes one syscall
        // (prctl), which is async-signal-safe; it touches no memory shared with the parent.
        unsafe {
            command.pre_exec(|| {
                rustix::process::set_parent_process_death_signal(Some(Signal::TERM))?;
                Ok(())
            });
        }
        let mut child = command.spawn()?;
        let prefix = match self.colour {
            Some(colour) => format!("\x1b[{colour}m[{}]\x1b[0m ", plan.label),
            None => format!("[{}] ", plan.label),
        };
        if let Some(out) = child.stdout.take() {
            tokio::spawn(forward(out, prefix.clone(), false));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(forward(err, prefix, true));
        }
        Ok(child)
    }

    /// Waits for the child to exit or for the stop; either way, leaves nothing of its process
    /// group running.
    async fn watch(&mut self, mut child: Child) -> ExitStatus {
        let group = child.id().and_then(|id| Pid::from_raw(id as i32));
        let status = tokio::select! {
            status = child.wait() => status.ok(),
            _ = self.stop.wait_for(|stop| *stop) => None,
        };
        let status = match status {
            Some(status) => status,
            None => terminate(&mut child, group, self.grace).await,
        };
        // What the child started may outlive it: end the rest of its group too.
        if let Some(group) = group {
            if rustix::process::test_kill_process_group(group).is_ok() {
                let _ = rustix::process::kill_process_group(group, Signal::TERM);
                wait_group_gone(group, self.grace).await;
                let _ = rustix::process::kill_process_group(group, Signal::KILL);
            }
        }
        status
    }
}

/// SIGTERM to the child's group, then SIGKILL after `grace` (or at a second Ctrl-C).
async fn terminate(child: &mut Child, group: Option<Pid>, grace: Duration) -> ExitStatus {
    if let Some(group) = group {
        let _ = rustix::process::kill_process_group(group, Signal::TERM);
    }
    let deadline = tokio::time::Instant::now() + grace;
    loop {
        tokio::select! {
            status = child.wait() => if let Ok(status) = status { return status },
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
        if tokio::time::Instant::now() >= deadline
            || KILL_NOW.load(std::sync::atomic::Ordering::Relaxed)
        {
            break;
        }
    }
    if let Some(group) = group {
        let _ = rustix::process::kill_process_group(group, Signal::KILL);
    }
    let _ = child.start_kill();
    match child.wait().await {
        Ok(status) => status,
        Err(_) => std::os::unix::process::ExitStatusExt::from_raw(9),
    }
}

/// Waits (at most `grace`) until no process of `group` is left.
async fn wait_group_gone(group: Pid, grace: Duration) {
    let deadline = tokio::time::Instant::now() + grace;
    while rustix::process::test_kill_process_group(group).is_ok()
        && tokio::time::Instant::now() < deadline
        && !KILL_NOW.load(std::sync::atomic::Ordering::Relaxed)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Copies `stream` line by line to our stdout or stderr, each line after `prefix`.
async fn forward(stream: impl AsyncRead + Unpin, prefix: String, to_stderr: bool) {
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line);
                let text = text.trim_end_matches(['\n', '\r']);
                let _ = if to_stderr {
                    writeln!(std::io::stderr().lock(), "{prefix}{text}")
                } else {
                    writeln!(std::io::stdout().lock(), "{prefix}{text}")
                };
            }
        }
    }
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(0), _) => "exited".to_string(),
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        _ => format!("ended: {status}"),
    }
}
