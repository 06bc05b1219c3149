//! `rosy topic hz|bw`: a topic's message rate or bandwidth over a sliding window.

use crate::cli::error::CliError;
use crate::cli::progress::Spinner;
use crate::cli::tool_node;
use crate::cli::units::human_bytes;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Statistics over the last `window` messages: gaps for `hz`, sizes for `bw`.
#[derive(Debug, Default)]
pub struct Window {
    times: VecDeque<Instant>,
    sizes: VecDeque<usize>,
    capacity: usize,
}

impl Window {
    pub fn new(capacity: usize) -> Self {
        Window {
            capacity: capacity.max(2),
            ..Default::default()
        }
    }

    pub fn push(&mut self, at: Instant, size: usize) {
        if self.times.len() == self.capacity {
            self.times.pop_front();
            self.sizes.pop_front();
        }
        self.times.push_back(at);
        self.sizes.push_back(size);
    }

    pub fn len(&self) -> usize {
        self.times.len()
    }

    /// (rate Hz, min gap s, max gap s, std dev of gaps s)
    pub fn rate(&self) -> Option<(f64, f64, f64, f64)> {
        if self.times.len() < 2 {
            return None;
        }
        let gaps: Vec<f64> = self
            .times
            .iter()
            .zip(self.times.iter().skip(1))
            .map(|(a, b)| (*b - *a).as_secs_f64())
            .collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
        let min = gaps.iter().cloned().fold(f64::INFINITY, f64::min);
        let max = gaps.iter().cloned().fold(0.0, f64::max);
        Some((
            if mean > 0.0 { 1.0 / mean } else { 0.0 },
            min,
            max,
            var.sqrt(),
        ))
    }

    /// (bytes/s, mean size, min size, max size)
    pub fn bandwidth(&self) -> Option<(f64, f64, usize, usize)> {
        if self.times.len() < 2 {
            return None;
        }
        let span = (*self.times.back()? - *self.times.front()?).as_secs_f64();
        let total: usize = self.sizes.iter().skip(1).sum();
        let mean = self.sizes.iter().sum::<usize>() as f64 / self.sizes.len() as f64;
        let min = *self.sizes.iter().min()?;
        let max = *self.sizes.iter().max()?;
        Some((
            if span > 0.0 { total as f64 / span } else { 0.0 },
            mean,
            min,
            max,
        ))
    }
}

pub async fn rate(
    domain: &str,
    topic: &str,
    window: usize,
    duration: Option<f64>,
    bandwidth: bool,
    json: bool,
) -> Result<(), CliError> {
    let node = tool_node::join(domain, if bandwidth { "topic-bw" } else { "topic-hz" }).await?;
    let mut subscriber = node.subscriber::<serde_json::Value>(topic).await?;
    let mut stats = Window::new(window);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    let end = duration.map(|d| tokio::time::Instant::now() + Duration::from_secs_f64(d));
    let mut spinner = Some(Spinner::start(format!(
        "waiting for messages on {topic}..."
    )));
    // Made once: a Ctrl-C while a line is printed must still end the loop.
    let interrupted = rosy::node::shutdown_signal();
    tokio::pin!(interrupted);
    loop {
        let stop = async {
            match end {
                Some(end) => tokio::time::sleep_until(end).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            m = subscriber.recv_encoded() => match m {
                Some(m) => stats.push(Instant::now(), m.payload.len()),
                None => break,
            },
            _ = tick.tick() => {
                let line = if bandwidth {
                    stats.bandwidth().map(|(rate, mean, min, max)| if json {
                        serde_json::json!({"topic": topic, "bytes_per_s": rate, "mean": mean, "min": min, "max": max, "window": stats.len()}).to_string()
                    } else {
                        format!("average: {}/s\n\tmean: {} min: {} max: {} window: {}", human_bytes(rate), human_bytes(mean), human_bytes(min as f64), human_bytes(max as f64), stats.len())
                    })
                } else {
                    stats.rate().map(|(hz, min, max, std)| if json {
                        serde_json::json!({"topic": topic, "hz": hz, "min_s": min, "max_s": max, "std_dev_s": std, "window": stats.len()}).to_string()
                    } else {
                        format!("average rate: {hz:.3} Hz\n\tmin: {min:.6}s max: {max:.6}s std dev: {std:.6}s window: {}", stats.len())
                    })
                };
                if let Some(line) = line {
                    spinner = None;
                    println!("{line}");
                }
            }
            _ = stop => break,
            _ = &mut interrupted => break,
        }
    }
    drop(spinner);
    node.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_gives_rate_and_bandwidth() {
        let mut w = Window::new(3);
        let t0 = Instant::now();
        for i in 0..5u64 {
            w.push(t0 + Duration::from_millis(10 * i), 100 * (i as usize + 1));
        }
        assert_eq!(w.len(), 3);
        let (hz, min, max, std) = w.rate().unwrap();
        assert!((hz - 100.0).abs() < 1e-6, "{hz}");
        assert!((min - 0.01).abs() < 1e-9 && (max - 0.01).abs() < 1e-9 && std < 1e-9);
        let (bps, mean, lo, hi) = w.bandwidth().unwrap();
        assert_eq!((lo, hi), (300, 500));
        assert!((mean - 400.0).abs() < 1e-9);
        assert!((bps - 45_000.0).abs() < 1e-6, "{bps}");
    }
}
