//! A [`MeshGraph`] as DOT (Graphviz's language), as SVG laid out in Rust by `layout-rs` from
//! that same DOT (no Graphviz install needed), or as an HTML page holding the SVG. Pure
//! functions of the graph: no mesh, no files.

use super::model::{Edge, MeshGraph};
use std::collections::BTreeMap;

/// Messages per second on each topic, where measured.
pub type Rates = BTreeMap<String, f64>;

fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

fn rate_label(rates: &Rates, topic: &str) -> Option<String> {
    rates.get(topic).map(|hz| {
        if *hz >= 9.95 {
            format!("{hz:.0} Hz")
        } else {
            format!("{hz:.1} Hz")
        }
    })
}

/// The graph in DOT: nodes as boxes, topics as ellipses, services as hexagons (rounded
/// records for the SVG renderer); listener edges say the transport and the topic's rate.
pub fn dot(graph: &MeshGraph, rates: &Rates) -> String {
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    let mut out = String::from("digraph mesh {\n  rankdir=LR;\n");
    for (i, (id, label)) in graph.nodes.iter().enumerate() {
        let key = format!("n{i}");
        out += &format!(
            "  {key} [label={}, shape=box, style=filled, fillcolor=\"lightblue\"];\n",
            quote(label)
        );
        ids.insert(format!("node:{id}"), key);
    }
    for (i, topic) in graph.topics.iter().enumerate() {
        let key = format!("t{i}");
        out += &format!(
            "  {key} [label={}, shape=ellipse, style=filled, fillcolor=\"lightyellow\"];\n",
            quote(topic)
        );
        ids.insert(format!("topic:{topic}"), key);
    }
    for (i, service) in graph.services.iter().enumerate() {
        let key = format!("s{i}");
        out += &format!(
            "  {key} [label={}, shape=Mrecord, style=filled, fillcolor=\"lightpink\"];\n",
            quote(&format!("service {service}"))
        );
        ids.insert(format!("service:{service}"), key);
    }
    let id = |kind: &str, name: &str| ids[&format!("{kind}:{name}")].clone();
    let mut publishers: BTreeMap<&str, usize> = BTreeMap::new();
    for edge in &graph.edges {
        if let Edge::Publishes { topic, .. } = edge {
            *publishers.entry(topic.as_str()).or_default() += 1;
        }
    }
    for edge in &graph.edges {
        match edge {
            Edge::Publishes { node, topic } => {
                // The rate is the topic's, all publishers together: it labels a publisher's
                // arrow only when that publisher is the topic's only one.
                let label = (publishers.get(topic.as_str()) == Some(&1))
                    .then(|| rate_label(rates, topic))
                    .flatten()
                    .map(|r| format!(" [label={}]", quote(&r)))
                    .unwrap_or_default();
                out += &format!("  {} -> {}{label};\n", id("node", node), id("topic", topic));
            }
            Edge::Listens {
                topic,
                node,
                transports,
            } => {
                let mut parts: Vec<String> =
                    vec![transports.iter().copied().collect::<Vec<_>>().join("+")];
                parts.extend(rate_label(rates, topic));
                parts.retain(|p| !p.is_empty());
                let label = if parts.is_empty() {
                    String::new()
                } else {
                    format!(" [label={}]", quote(&parts.join(" ")))
                };
                out += &format!("  {} -> {}{label};\n", id("topic", topic), id("node", node));
            }
            Edge::Provides { node, service } => {
                out += &format!(
                    "  {} -> {} [style=dashed];\n",
                    id("node", node),
                    id("service", service)
                );
            }
        }
    }
    out += "}\n";
    out
}

/// Why a picture could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("the SVG renderer (layout-rs) could not read the graph: {0}")]
    Parse(String),
}

/// The graph drawn as SVG.
pub fn svg(graph: &MeshGraph, rates: &Rates) -> Result<String, RenderError> {
    use layout::backends::svg::SVGWriter;
    use layout::gv::{DotParser, GraphBuilder};
    let text = dot(graph, rates);
    let mut parser = DotParser::new(&text);
    let ast = parser.process().map_err(RenderError::Parse)?;
    let mut builder = GraphBuilder::new();
    builder.visit_graph(&ast);
    let mut visual = builder.get();
    if visual.num_nodes() == 0 {
        // layout-rs cannot lay out nothing: an empty mesh is a small note instead.
        return Ok(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"320\" height=\"40\">\
                   <text x=\"10\" y=\"25\" font-family=\"sans-serif\">no nodes in the mesh</text>\
                   </svg>\n"
                .to_string(),
        );
    }
    let mut writer = SVGWriter::new();
    visual.do_it(false, false, false, &mut writer);
    Ok(writer.finalize())
}

/// The SVG in a page a browser opens.
pub fn html(graph: &MeshGraph, rates: &Rates, title: &str) -> Result<String, RenderError> {
    let svg = svg(graph, rates)?;
    // The XML declaration belongs to a file, not to a page.
    let svg = match svg.strip_prefix("<?xml") {
        Some(rest) => rest
            .split_once("?>")
            .map(|(_, s)| s)
            .unwrap_or(rest)
            .to_string(),
        None => svg,
    };
    let title = title.replace('&', "&amp;").replace('<', "&lt;");
    Ok(format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
         <body style=\"font-family: sans-serif\"><h1>{title}</h1>\n{svg}\n</body></html>\n"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn sample() -> MeshGraph {
        let mut g = MeshGraph::default();
        g.nodes.insert("a1".into(), "camera@host (a1)".into());
        g.nodes.insert("b2".into(), "viewer \"2\"@host (b2)".into());
        g.topics.insert("camera/frames".into());
        g.services.insert("multiply".into());
        g.edges = vec![
            Edge::Publishes {
                node: "a1".into(),
                topic: "camera/frames".into(),
            },
            Edge::Listens {
                topic: "camera/frames".into(),
                node: "b2".into(),
                transports: BTreeSet::from(["shm"]),
            },
            Edge::Provides {
                node: "b2".into(),
                service: "multiply".into(),
            },
        ];
        g
    }

    #[test]
    fn dot_names_everything_and_labels_edges() {
        let rates = Rates::from([("camera/frames".to_string(), 30.0)]);
        let text = dot(&sample(), &rates);
        assert!(text.contains("label=\"camera@host (a1)\""), "{text}");
        assert!(
            text.contains("label=\"viewer \\\"2\\\"@host (b2)\""),
            "{text}"
        );
        assert!(text.contains("t0 -> n1 [label=\"shm 30 Hz\"]"), "{text}");
        assert!(text.contains("n0 -> t0 [label=\"30 Hz\"]"), "{text}");
        assert!(text.contains("n1 -> s0 [style=dashed]"), "{text}");
        // A second publisher: the topic's rate no longer labels either publisher's arrow.
        let mut two = sample();
        two.edges.push(Edge::Publishes {
            node: "b2".into(),
            topic: "camera/frames".into(),
        });
        let text = dot(&two, &rates);
        assert!(
            text.contains("  n0 -> t0;\n") && text.contains("  n1 -> t0;\n"),
            "{text}"
        );
        assert!(text.contains("t0 -> n1 [label=\"shm 30 Hz\"]"), "{text}");
    }

    #[test]
    fn svg_is_drawn_with_every_name() {
        let out = svg(&sample(), &Rates::new()).unwrap();
        assert!(out.starts_with("<svg") || out.contains("<svg"), "{out}");
        for name in ["camera@host (a1)", "camera/frames", "service multiply"] {
            assert!(out.contains(name), "{name} missing from the SVG");
        }
        let empty = svg(&MeshGraph::default(), &Rates::new()).unwrap();
        assert!(empty.contains("no nodes"));
        let page = html(&sample(), &Rates::new(), "rosy mesh: <lab>").unwrap();
        assert!(
            page.starts_with("<!DOCTYPE html>") && page.contains("<svg"),
            "{page}"
        );
        assert!(
            page.contains("<title>rosy mesh: &lt;lab></title>"),
            "{page}"
        );
    }
}
