//! `rosy graph` against a real mesh: the SVG is well-formed XML naming every node, topic and
//! service; the DOT parses (with layout-rs's DOT parser) and labels edges with the transport
//! and the measured rate.

use crate::rosy;
use crate::support::{Proc, unique_domain};
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

fn run(domain: &str, args: &[&str]) -> (Vec<String>, String) {
    let mut proc = Proc::spawn("graph", rosy(domain, args));
    let status = proc.wait_exit(T);
    assert!(status.success(), "rosy {args:?}: {:?}", proc.stderr());
    (proc.stdout(), proc.stderr().join("\n"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_graph_names_every_node_with_transports_and_rates() {
    let domain = unique_domain("graph");
    let talker = crate::support::node("talker", &domain).await;
    let hearer = crate::support::node("hearer", &domain).await;
    let mut heard = hearer.subscriber::<u64>("chatter").await.unwrap();
    hearer
        .add_service("multiply", |(a, b): (i64, i64)| async move { Ok(a * b) })
        .await
        .unwrap();
    talker.wait_for_listener("chatter", T).await.unwrap();
    let publisher = talker.publisher::<u64>("chatter").await.unwrap();
    let sending = tokio::spawn(async move {
        for i in 0..400u64 {
            if publisher.send(&i).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    let draining = tokio::spawn(async move { while heard.recv().await.is_some() {} });

    let dir = std::env::temp_dir().join(unique_domain("rosy-graph"));
    std::fs::create_dir_all(&dir).unwrap();
    let svg_path = dir.join("mesh.svg");
    let (_, said) = tokio::task::block_in_place(|| {
        run(
            &domain,
            &["graph", "-o", svg_path.to_str().unwrap(), "--sample", "1"],
        )
    });
    assert!(said.contains("2 nodes, 1 topics, 1 services"), "{said}");
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("the SVG is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let text: String = doc
        .descendants()
        .filter_map(|n| n.text())
        .collect::<Vec<_>>()
        .join("\n");
    for name in ["talker@", "hearer@", "chatter", "service multiply"] {
        assert!(
            text.contains(name),
            "{name} is not in the SVG's text: {text}"
        );
    }

    let (dot, _) = tokio::task::block_in_place(|| run(&domain, &["graph", "--sample", "1"]));
    let dot = dot.join("\n");
    let mut parser = layout::gv::DotParser::new(&dot);
    assert!(parser.process().is_ok(), "the DOT does not parse: {dot}");
    assert!(dot.contains("talker@") && dot.contains("hearer@"), "{dot}");
    // The listener edge names its transport and a rate near 50 Hz.
    let edge = dot
        .lines()
        .find(|l| l.contains(" -> n") && l.contains("label=\"shm"))
        .unwrap_or_else(|| panic!("no shm listener edge in {dot}"));
    let hz: f64 = edge
        .split("shm ")
        .nth(1)
        .and_then(|s| s.split(" Hz").next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no rate in {edge}"));
    assert!((25.0..=60.0).contains(&hz), "{edge}");

    sending.abort();
    draining.abort();
    talker.close().await;
    hearer.close().await;
    let _ = std::fs::remove_dir_all(dir);
}
