//! `rosy bag info`: what a bag holds, as text or one JSON object. Reads the file only; never
//! joins the mesh, never changes the file.

use super::clock::utc;
use super::files::failed;
use crate::cli::error::CliError;
use crate::cli::units::human_bytes;
use rosy::bag::{Bag, BagSummary};
use std::path::Path;

pub fn run(path: &Path, json: bool) -> Result<(), CliError> {
    let bag = Bag::open(path).map_err(failed)?;
    let summary = bag.summary();
    if json {
        println!(
            "{}",
            serde_json::to_string(&summary).unwrap_or_else(|_| "{}".into())
        );
    } else {
        print!("{}", describe(&summary));
    }
    Ok(())
}

fn describe(s: &BagSummary) -> String {
    let mut out = String::new();
    let mut line = |key: &str, value: String| {
        out.push_str(format!("{key:<10}{value}").trim_end());
        out.push('\n');
    };
    line("path:", s.path.clone());
    if let Some(why) = &s.unfinished {
        line("state:", format!("unfinished: {why}"));
    }
    line("size:", human_bytes(s.size_bytes as f64));
    line("duration:", format!("{:.3} s", s.duration_s));
    if s.messages > 0 {
        line(
            "start:",
            format!("{} ({:.6})", utc(s.start_ns), s.start_ns as f64 / 1e9),
        );
        line(
            "end:",
            format!("{} ({:.6})", utc(s.end_ns), s.end_ns as f64 / 1e9),
        );
    }
    line("messages:", s.messages.to_string());
    line(
        "topics:",
        if s.topics.is_empty() {
            "none".into()
        } else {
            String::new()
        },
    );
    let width = s.topics.iter().map(|t| t.topic.len()).max().unwrap_or(0);
    let count_width = s
        .topics
        .iter()
        .map(|t| t.messages.to_string().len())
        .max()
        .unwrap_or(0);
    for t in &s.topics {
        let type_name = if t.type_name.is_empty() {
            String::new()
        } else {
            format!("  {}", t.type_name)
        };
        out.push_str(&format!(
            "  {:<width$}  {:>count_width$} msgs ({:5.1}%)  [{}]{type_name}\n",
            t.topic, t.messages, t.share, t.codec
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rosy::bag::TopicSummary;

    #[test]
    fn the_summary_reads_as_a_table() {
        let s = BagSummary {
            path: "a.mcap".into(),
            size_bytes: 2_500_000,
            finished: false,
            unfinished: Some("cut".into()),
            messages: 4,
            start_ns: 1_000_000_000,
            end_ns: 3_500_000_000,
            duration_s: 2.5,
            topics: vec![
                TopicSummary {
                    topic: "camera".into(),
                    messages: 3,
                    share: 75.0,
                    codec: "rkyv".into(),
                    type_name: "cam::Frame".into(),
                },
                TopicSummary {
                    topic: "temp".into(),
                    messages: 1,
                    share: 25.0,
                    codec: "cdr".into(),
                    type_name: "sensor_msgs/msg/Temperature".into(),
                },
                TopicSummary {
                    topic: "gps".into(),
                    messages: 1,
                    share: 25.0,
                    codec: "msgpack".into(),
                    type_name: String::new(),
                },
            ],
        };
        let text = describe(&s);
        assert!(text.contains("state:    unfinished: cut\n"), "{text}");
        assert!(text.contains("size:     2.50 MB\n"), "{text}");
        assert!(text.contains("duration: 2.500 s\n"), "{text}");
        assert!(
            text.contains("start:    1970-01-01 00:00:01.000 UTC (1.000000)"),
            "{text}"
        );
        assert!(
            text.contains("  camera  3 msgs ( 75.0%)  [rkyv]  cam::Frame\n"),
            "{text}"
        );
        assert!(
            text.contains("  temp    1 msgs ( 25.0%)  [cdr]  sensor_msgs/msg/Temperature\n"),
            "{text}"
        );
        assert!(
            text.contains("  gps     1 msgs ( 25.0%)  [msgpack]\n"),
            "{text}"
        );
    }
}
