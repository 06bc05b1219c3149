"""Generates crates/rosy-ros2/src/definitions.rs: the ROS 2 Jazzy message definitions rosy
writes into bags in ROS 2's MCAP form (schema encoding `ros2msg`).

Run from the repository root with the ROS 2 venv scripts/test makes (any Python 3 does; it only
reads files):

    python3 crates/rosy-ros2/tests/golden/make_definitions.py \
        /work/main/target/ros2-venv/share > crates/rosy-ros2/src/definitions.rs
    cargo fmt -p rosy-ros2

The table holds every message of the packages in PACKAGES plus the types in EXTRA, each with
its `.msg` file's text exactly as the file has it (comments and blank lines included: that is
what ROS 2's own recorder, rosbag2, writes) and the list of its dependencies in the order
rosbag2 appends them (rosbag2_cpp's LocalMessageDefinitionSource::get_full_text): depth first,
each type's direct dependencies in sorted order, each dependency once, named as the `.msg` file
refers to it (`std_msgs/Header`, or `pkg/Type` for a type of the same package). The Rust side
joins them: the type's text, then for each dependency a newline, a line of 80 `=`, a line
`MSG: pkg/Type` and that type's text.
"""

import re
import sys
from pathlib import Path

PACKAGES = ["builtin_interfaces", "std_msgs", "geometry_msgs", "sensor_msgs"]
EXTRA = ["rcl_interfaces/msg/Log"]

# rosbag2's MSG_FIELD_TYPE_REGEX: the first word of a line (a field's or constant's type).
FIELD_TYPE = re.compile(r"(?:^|\n)\s*([a-zA-Z0-9_/]+)(?:\[[^\]]*\])?\s+")
# rosbag2's PRIMITIVE_TYPES, plus wstring (a builtin rosbag2 forgets; no type here uses it).
PRIMITIVES = {
    "bool", "byte", "char", "float32", "float64", "int8", "uint8", "int16", "uint16",
    "int32", "uint32", "int64", "uint64", "string", "wstring",
}

TESTS = """
#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    const BUILTINS: &[&str] = &[
        "bool", "byte", "char", "float32", "float64", "int8", "uint8", "int16", "uint16",
        "int32", "uint32", "int64", "uint64", "string", "wstring",
    ];

    /// The sections of a complete definition: (full type name, text).
    fn sections<'a>(ros2_type: &str, definition: &'a str) -> Vec<(String, &'a str)> {
        let separator = format!("\\n{}\\nMSG: ", "=".repeat(80));
        let mut parts = definition.split(separator.as_str());
        let mut out = vec![(ros2_type.to_string(), parts.next().unwrap())];
        for part in parts {
            let (name, text) = part.split_once('\\n').unwrap_or((part, ""));
            out.push((full_name(name), text));
        }
        out
    }

    /// The non-builtin types a `.msg` text's fields and constants have, as full names.
    fn referenced(package: &str, text: &str) -> BTreeSet<String> {
        text.lines()
            .map(|line| line.split('#').next().unwrap_or("").trim())
            .filter_map(|line| line.split_whitespace().next())
            .map(|t| t.split(['[', '<']).next().unwrap_or(t))
            .filter(|t| !BUILTINS.contains(t))
            .map(|t| match t.split_once('/') {
                Some(_) => full_name(t),
                None => format!("{package}/msg/{t}"),
            })
            .collect()
    }

    #[test]
    fn every_known_type_has_a_definition() {
        for t in crate::known_types() {
            assert!(ros2_definition(t).is_some(), "{t} has no definition");
        }
        for t in ["sensor_msgs/msg/Temperature", "std_msgs/msg/ColorRGBA", "std_msgs/msg/Header"] {
            assert!(ros2_definition(t).is_some(), "{t} has no definition");
        }
        assert_eq!(ros2_definition("nav_msgs/msg/Nothing"), None);
    }

    #[test]
    fn every_definition_holds_its_whole_dependency_closure_once() {
        let mut count = 0;
        for name in defined_types() {
            let definition = ros2_definition(name).unwrap();
            let sections = sections(name, definition);
            let names: Vec<&str> = sections.iter().map(|(n, _)| n.as_str()).collect();
            let unique: BTreeSet<&str> = names.iter().copied().collect();
            assert_eq!(unique.len(), names.len(), "{name}: a section twice: {names:?}");
            for (section, text) in &sections {
                assert_eq!(Some(text.trim_end()), msg(section).map(|m| m.text.trim_end()));
                let package = section.split('/').next().unwrap();
                for dep in referenced(package, text) {
                    assert!(unique.contains(dep.as_str()), "{name}: {section} uses {dep}, not in {names:?}");
                }
            }
            count += 1;
        }
        assert!(count >= 90, "only {count} definitions");
    }

    #[test]
    fn a_definition_is_the_files_text_then_its_dependencies() {
        let temperature = ros2_definition("sensor_msgs/msg/Temperature").unwrap();
        assert!(temperature.starts_with("# Single temperature reading.\\n\\nstd_msgs/Header header"));
        let header = format!("\\n{}\\nMSG: std_msgs/Header\\n", "=".repeat(80));
        let time = format!("\\n{}\\nMSG: builtin_interfaces/Time\\n", "=".repeat(80));
        let (at_header, at_time) = (temperature.find(&header).unwrap(), temperature.find(&time).unwrap());
        assert!(at_header < at_time, "{temperature}");
        assert!(temperature.contains("float64 temperature"));
        assert!(temperature.ends_with("uint32 nanosec\\n"), "{temperature:?}");
    }
}
"""


def direct_dependencies(text, package):
    deps = set()
    for m in FIELD_TYPE.finditer(text):
        t = m.group(1)
        if t in PRIMITIVES:
            continue
        deps.add(t if "/" in t else f"{package}/{t}")
    return sorted(deps)


def main():
    share = Path(sys.argv[1] if len(sys.argv) > 1 else "/work/main/target/ros2-venv/share")
    texts = {}

    def load(short):
        if short not in texts:
            pkg, name = short.split("/")
            texts[short] = (share / pkg / "msg" / f"{name}.msg").read_text()
        return texts[short]

    roots = []
    for pkg in PACKAGES:
        for f in sorted((share / pkg / "msg").glob("*.msg")):
            roots.append(f"{pkg}/{f.stem}")
    for full in EXTRA:
        pkg, _, name = full.split("/")
        roots.append(f"{pkg}/{name}")

    def closure(root):
        seen = set()
        order = []

        def visit(short):
            for dep in direct_dependencies(load(short), short.split("/")[0]):
                if dep not in seen:
                    seen.add(dep)
                    order.append(dep)
                    visit(dep)

        visit(root)
        return order

    entries = [(root, closure(root)) for root in roots]
    names = {short for short, deps in entries} | {d for _, deps in entries for d in deps}

    out = []
    out.append(
        "//! The ROS 2 Jazzy message definitions rosy writes into bags in ROS 2's MCAP form: for "
        "each\n"
        "//! type, the `ros2msg` schema text (MCAP's ros2msg profile, as rosbag2 writes it): the "
        "type's\n"
        "//! `.msg` text, then each dependency once (depth first), after a line of 80 `=` and a "
        "line\n"
        "//! `MSG: pkg/Type`. Texts are the `.msg` files' own, comments included.\n"
        "//!\n"
        "//! GENERATED by `crates/rosy-ros2/tests/golden/make_definitions.py` from ROS 2 Jazzy's "
        "share\n"
        "//! directories (builtin_interfaces, std_msgs, geometry_msgs, sensor_msgs, "
        "rcl_interfaces/Log);\n"
        "//! edit the script, not this file. Data and lookups only: it never reads files or "
        "parses\n"
        "//! messages.\n"
    )
    out.append("\nuse std::collections::HashMap;\nuse std::sync::OnceLock;\n")
    out.append(
        "\n/// One `.msg` file: its type (`pkg/msg/Type`), its text, and the types its complete\n"
        "/// definition appends, in order, as the `.msg` files name them (`pkg/Type`).\n"
        "struct Msg {\n    name: &'static str,\n    text: &'static str,\n"
        "    dependencies: &'static [&'static str],\n}\n"
    )
    out.append("\n/// Every type with a definition, sorted by name.\nstatic MSGS: &[Msg] = &[\n")
    for short in sorted(names):
        pkg, name = short.split("/")
        text = load(short)
        deps = dict(entries).get(short)
        if deps is None:
            deps = closure(short)
        assert '"###' not in text
        dep_list = ", ".join(f'"{d}"' for d in deps)
        out.append(
            f'    Msg {{\n        name: "{pkg}/msg/{name}",\n'
            f'        text: r###"{text}"###,\n'
            f"        dependencies: &[{dep_list}],\n    }},\n"
        )
    out.append("];\n")
    out.append(
        """
/// A dependency as a `.msg` file names it (`std_msgs/Header`) as a full type name.
fn full_name(short: &str) -> String {
    match short.split_once('/') {
        Some((pkg, name)) => format!("{pkg}/msg/{name}"),
        None => short.to_string(),
    }
}

fn msg(name: &str) -> Option<&'static Msg> {
    MSGS.binary_search_by(|m| m.name.cmp(name))
        .ok()
        .map(|i| &MSGS[i])
}

/// The complete `ros2msg` definition of the ROS 2 type `ros2_type` (`sensor_msgs/msg/Imu`), as
/// an MCAP schema of encoding `ros2msg` holds it; `None` for a type rosy has no definition of.
pub fn ros2_definition(ros2_type: &str) -> Option<&'static str> {
    static JOINED: OnceLock<HashMap<&'static str, String>> = OnceLock::new();
    let joined = JOINED.get_or_init(|| {
        MSGS.iter()
            .map(|m| {
                let mut text = m.text.to_string();
                for dep in m.dependencies {
                    let dep_text = msg(&full_name(dep)).map(|d| d.text).unwrap_or_default();
                    text.push('\\n');
                    text.push_str(&"=".repeat(80));
                    text.push_str("\\nMSG: ");
                    text.push_str(dep);
                    text.push('\\n');
                    text.push_str(dep_text);
                }
                (m.name, text)
            })
            .collect()
    });
    joined.get(ros2_type).map(String::as_str)
}

/// The ROS 2 types with a definition, sorted.
#[cfg(test)]
fn defined_types() -> impl Iterator<Item = &'static str> {
    MSGS.iter().map(|m| m.name)
}
"""
    )
    out.append(TESTS)
    sys.stdout.write("".join(out))


if __name__ == "__main__":
    main()
