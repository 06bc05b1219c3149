//! The launch file: what `rosy launch` reads, checked whole before anything starts.
//!
//! Parsing is strict: an unknown key, a wrong type or a bad value is an error naming the file,
//! the line and the key, never silently ignored. Nodes keep the order they have in the file, as
//! they start in that order. Nothing here starts a process.

use serde::Deserialize;
use serde::de::{MapAccess, Visitor};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A launch file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LaunchFile {
    /// The domain every node joins (exported as `ROSY_DOMAIN_ID`); else `--domain-id`.
    pub domain_id: Option<String>,
    /// Environment variables for every node.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Seconds between SIGTERM and SIGKILL when stopping.
    pub stop_timeout: Option<f64>,
    /// Secure mode for every node (exported as `ROSY_SECURITY` and `ROSY_SECURITY_DIR`).
    pub security: Option<SecuritySection>,
    pub nodes: Nodes,
}

/// The `security:` section: the mode, and the credentials directory nodes use unless their
/// own `security_dir` says otherwise (paths relative to the launch file).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecuritySection {
    /// `off`, `permissive` or `enforce`.
    pub mode: String,
    /// What `rosy security issue` wrote.
    pub dir: Option<PathBuf>,
}

/// The `nodes:` mapping, in file order.
#[derive(Debug, Default)]
pub struct Nodes(pub Vec<(String, NodeSpec)>);

/// How a command is written: one string, or a list of arguments.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum CommandLine {
    Line(String),
    Args(Vec<String>),
}

/// When a node that exited is started again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Restart {
    #[default]
    Never,
    OnFailure,
    Always,
}

/// One entry of `nodes:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    pub command: CommandLine,
    /// Run `command` (a string) through `sh -c`.
    #[serde(default)]
    pub shell: bool,
    #[serde(default)]
    pub disabled: bool,
    /// Start only on the host of this name.
    pub on_host: Option<String>,
    /// How many copies to start (same-name nodes share messages).
    #[serde(default = "one")]
    pub number: u32,
    /// Seconds to wait before starting this node.
    #[serde(default)]
    pub pre_delay: f64,
    /// Seconds to wait after starting this node, before the next one.
    #[serde(default)]
    pub post_delay: f64,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Working directory, relative to the launch file's directory.
    pub cwd: Option<PathBuf>,
    /// Arguments appended to `command`.
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub restart: Restart,
    /// Seconds between an exit and the restart.
    #[serde(default = "one_second")]
    pub restart_delay: f64,
    /// This node's own credentials directory (secure mode), instead of `security.dir`.
    pub security_dir: Option<PathBuf>,
}

/// Copies of one entry `rosy launch` starts at most without `--allow-many`: a typo such as
/// `number: 100000` must not fork-bomb the host.
pub const MAX_COPIES: u32 = 64;

fn one() -> u32 {
    1
}

fn one_second() -> f64 {
    1.0
}

/// A node ready to run: the program and its arguments resolved, delays checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The node's name; copies share it.
    pub name: String,
    /// `name`, or `name#k` for the k-th copy: what its output lines are prefixed with.
    pub label: String,
    pub program: String,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub cwd: PathBuf,
    pub pre_delay: Duration,
    pub post_delay: Duration,
    pub restart: Restart,
    pub restart_delay: Duration,
}

/// A launch file turned into what to run.
#[derive(Debug)]
pub struct Launch {
    pub domain_id: Option<String>,
    pub stop_timeout: Duration,
    pub nodes: Vec<Plan>,
    /// Nodes not started, and why (disabled, excluded, another host).
    pub skipped: Vec<(String, String)>,
}

/// A launch file that cannot be used, with what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read launch file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("launch file {path} is not valid: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("launch file {path}, node {node:?}: {message}")]
    Node {
        path: PathBuf,
        node: String,
        message: String,
    },
}

impl Launch {
    /// Reads and checks `path`; `exclude` names nodes not to start, `host` is this host's name;
    /// `allow_many` lifts the cap of [`MAX_COPIES`] copies per entry.
    pub fn load(
        path: &Path,
        exclude: &[String],
        host: &str,
        allow_many: bool,
    ) -> Result<Launch, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        Launch::parse(&text, path, base, exclude, host, allow_many)
    }

    /// Checks launch-file `text`; `path` is only for messages, `base` resolves `cwd`.
    pub fn parse(
        text: &str,
        path: &Path,
        base: &Path,
        exclude: &[String],
        host: &str,
        allow_many: bool,
    ) -> Result<Launch, ConfigError> {
        let file: LaunchFile = serde_saphyr::from_str(text).map_err(|e| ConfigError::Invalid {
            path: path.to_path_buf(),
            message: e
                .to_string()
                .trim_start_matches("error: ")
                .replace("<input>", &path.display().to_string()),
        })?;
        for unknown in exclude {
            if !file.nodes.0.iter().any(|(name, _)| name == unknown) {
                return Err(ConfigError::Invalid {
                    path: path.to_path_buf(),
                    message: format!("--exclude {unknown:?}: no node of that name"),
                });
            }
        }
        let stop_timeout =
            seconds(file.stop_timeout.unwrap_or(10.0)).ok_or_else(|| ConfigError::Invalid {
                path: path.to_path_buf(),
                message: "stop_timeout must be a number of seconds, 0 or more".into(),
            })?;
        // Checked here, not only by the children: a bad domain id is the file's mistake.
        let domain_id = file
            .domain_id
            .map(|d| rosy::DomainId::new(d).map(String::from))
            .transpose()
            .map_err(|e| ConfigError::Invalid {
                path: path.to_path_buf(),
                message: format!("domain_id {}", e.reason()),
            })?;
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let security = match &file.security {
            None => None,
            Some(section) => {
                let mode: rosy::security::SecurityMode = section
                    .mode
                    .parse()
                    .map_err(|e| invalid(format!("security: mode: {e}")))?;
                Some((mode, section.dir.as_ref().map(|d| base.join(d))))
            }
        };
        let mut launch = Launch {
            domain_id,
            stop_timeout,
            nodes: Vec::new(),
            skipped: Vec::new(),
        };
        for (name, spec) in file.nodes.0 {
            let bad = |message: String| ConfigError::Node {
                path: path.to_path_buf(),
                node: name.clone(),
                message,
            };
            // Checked even for nodes that are skipped: a typo should not wait for another host.
            let (program, args) = spec.command_line().map_err(bad)?;
            let delay = |key: &str, value: f64| {
                seconds(value).ok_or_else(|| bad(format!("{key} must be 0 or more seconds")))
            };
            let (pre_delay, post_delay) = (
                delay("pre_delay", spec.pre_delay)?,
                delay("post_delay", spec.post_delay)?,
            );
            let restart_delay = delay("restart_delay", spec.restart_delay)?;
            if spec.number > MAX_COPIES && !allow_many {
                return Err(bad(format!(
                    "number: {} is more than {MAX_COPIES} copies; pass --allow-many to start them all",
                    spec.number
                )));
            }
            let why_not = if spec.disabled {
                Some("disabled".to_string())
            } else if exclude.contains(&name) {
                Some("excluded".to_string())
            } else {
                spec.on_host
                    .as_ref()
                    .filter(|h| h.as_str() != host)
                    .map(|h| format!("on_host {h:?}, this is {host:?}"))
            };
            if let Some(why) = why_not {
                launch.skipped.push((name, why));
                continue;
            }
            let mut env = BTreeMap::new();
            if let Some((mode, dir)) = &security {
                env.insert("ROSY_SECURITY".to_string(), mode.to_string());
                let dir = spec
                    .security_dir
                    .as_ref()
                    .map(|d| base.join(d))
                    .or(dir.clone());
                match dir {
                    Some(dir) if dir.is_dir() => {
                        env.insert("ROSY_SECURITY_DIR".to_string(), dir.display().to_string());
                    }
                    Some(dir) => {
                        return Err(bad(format!(
                            "security directory {} does not exist (make it with `rosy security \
                             issue`)",
                            dir.display()
                        )));
                    }
                    None if *mode != rosy::security::SecurityMode::Off => {
                        return Err(bad(format!(
                            "security: mode {mode} needs credentials: give security: dir, or \
                             security_dir on this node"
                        )));
                    }
                    None => {}
                }
            }
            // The file's env, then the node's, win over what the security section sets.
            env.extend(file.env.clone());
            env.extend(spec.env.clone());
            let cwd = match &spec.cwd {
                Some(dir) => base.join(dir),
                None => base.to_path_buf(),
            };
            for copy in 1..=spec.number {
                let label = if spec.number == 1 {
                    name.clone()
                } else {
                    format!("{name}#{copy}")
                };
                launch.nodes.push(Plan {
                    name: name.clone(),
                    label,
                    program: program.clone(),
                    args: args.clone(),
                    env: env.clone(),
                    cwd: cwd.clone(),
                    pre_delay: if copy == 1 { pre_delay } else { Duration::ZERO },
                    post_delay: if copy == spec.number {
                        post_delay
                    } else {
                        Duration::ZERO
                    },
                    restart: spec.restart,
                    restart_delay,
                });
            }
        }
        Ok(launch)
    }
}

impl NodeSpec {
    /// The program and its arguments (`args` appended).
    fn command_line(&self) -> Result<(String, Vec<String>), String> {
        let mut words = match (&self.command, self.shell) {
            (CommandLine::Line(line), true) => {
                vec!["sh".to_string(), "-c".to_string(), line.clone()]
            }
            (CommandLine::Args(_), true) => {
                return Err("shell: true needs command as one string, not a list".into());
            }
            (CommandLine::Line(line), false) => shlex::split(line)
                .ok_or_else(|| format!("command {line:?} has an unclosed quote or escape"))?,
            (CommandLine::Args(args), false) => args.clone(),
        };
        if self.shell && !self.args.is_empty() {
            // sh -c LINE NAME ARGS...: the args become $1, $2...
            words.push("sh".to_string());
        }
        words.extend(self.args.iter().cloned());
        if words.is_empty() || words[0].is_empty() {
            return Err("command is empty".into());
        }
        let program = words.remove(0);
        Ok((program, words))
    }
}

fn seconds(value: f64) -> Option<Duration> {
    (value.is_finite() && value >= 0.0).then(|| Duration::from_secs_f64(value))
}

impl<'de> Deserialize<'de> for Nodes {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct InOrder;
        impl<'de> Visitor<'de> for InOrder {
            type Value = Nodes;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping of node names to their settings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Nodes, A::Error> {
                let mut nodes: Vec<(String, NodeSpec)> = Vec::new();
                // The parser itself refuses a name given twice.
                while let Some(name) = map.next_key::<String>()? {
                    let spec = map.next_value::<NodeSpec>()?;
                    nodes.push((name, spec));
                }
                Ok(Nodes(nodes))
            }
        }
        deserializer.deserialize_map(InOrder)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Launch, ConfigError> {
        Launch::parse(
            text,
            Path::new("launch.yaml"),
            Path::new("/base"),
            &[],
            "here",
            false,
        )
    }

    #[test]
    fn the_security_section_sets_each_nodes_mode_and_credentials() {
        let base = std::env::temp_dir().join(format!("rosy-launch-sec-{}", std::process::id()));
        for dir in ["member", "camera"] {
            std::fs::create_dir_all(base.join(dir)).unwrap();
        }
        let text = "security: {mode: enforce, dir: member}\nnodes:\n  a: {command: x}\n  b: {command: run-b, security_dir: camera}\n";
        let launch = Launch::parse(text, Path::new("l.yaml"), &base, &[], "here", false).unwrap();
        let env = |i: usize, key: &str| launch.nodes[i].env.get(key).cloned().unwrap_or_default();
        assert_eq!(env(0, "ROSY_SECURITY"), "enforce");
        assert_eq!(
            env(0, "ROSY_SECURITY_DIR"),
            base.join("member").display().to_string()
        );
        assert_eq!(
            env(1, "ROSY_SECURITY_DIR"),
            base.join("camera").display().to_string()
        );

        let missing = "security: {mode: enforce, dir: nowhere}\nnodes:\n  a: {command: x}\n";
        let e = Launch::parse(missing, Path::new("l.yaml"), &base, &[], "here", false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("nowhere") && e.contains("does not exist"), "{e}");
        let no_dir = "security: {mode: enforce}\nnodes:\n  a: {command: x}\n";
        let e = Launch::parse(no_dir, Path::new("l.yaml"), &base, &[], "here", false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("needs credentials"), "{e}");
        let typo = "security: {mode: enforced, dir: member}\nnodes:\n  a: {command: x}\n";
        let e = Launch::parse(typo, Path::new("l.yaml"), &base, &[], "here", false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"enforced\" is not a security mode"), "{e}");
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn every_option_is_read_in_file_order() {
        let launch = parse(
            r#"
domain_id: lab
env: {A: "1"}
stop_timeout: 2.5
nodes:
  zeta:
    command: cargo run --example "topic listener"
    args: [--name, z]
    number: 2
    pre_delay: 0.5
    post_delay: 1
    env: {B: "2"}
    cwd: sub
    restart: on-failure
    restart_delay: 0.25
  alpha:
    command: [echo, hi]
  gone:
    command: "true"
    disabled: true
  elsewhere:
    command: "true"
    on_host: other
  piped:
    command: echo "$1" | tr a-z A-Z
    shell: true
    args: [abc]
"#,
        )
        .unwrap();
        assert_eq!(launch.domain_id.as_deref(), Some("lab"));
        assert_eq!(launch.stop_timeout, Duration::from_millis(2500));
        let labels: Vec<_> = launch.nodes.iter().map(|p| p.label.as_str()).collect();
        assert_eq!(labels, ["zeta#1", "zeta#2", "alpha", "piped"]);
        let zeta = &launch.nodes[0];
        assert_eq!(zeta.program, "cargo");
        assert_eq!(
            zeta.args,
            ["run", "--example", "topic listener", "--name", "z"]
        );
        assert_eq!(zeta.cwd, Path::new("/base/sub"));
        assert_eq!(zeta.env.get("A").map(String::as_str), Some("1"));
        assert_eq!(zeta.env.get("B").map(String::as_str), Some("2"));
        assert_eq!(zeta.restart, Restart::OnFailure);
        assert_eq!(zeta.restart_delay, Duration::from_millis(250));
        // The pre-delay comes before the first copy, the post-delay after the last.
        assert_eq!(
            (zeta.pre_delay, zeta.post_delay),
            (Duration::from_millis(500), Duration::ZERO)
        );
        assert_eq!(
            (launch.nodes[1].pre_delay, launch.nodes[1].post_delay),
            (Duration::ZERO, Duration::from_secs(1))
        );
        let piped = &launch.nodes[3];
        assert_eq!(piped.program, "sh");
        assert_eq!(piped.args, ["-c", "echo \"$1\" | tr a-z A-Z", "sh", "abc"]);
        let skipped: Vec<_> = launch.skipped.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(skipped, ["gone", "elsewhere"]);
    }

    #[test]
    fn the_template_and_the_demo_launch_files_are_valid() {
        // The workspace root, where the template lives.
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let template = Launch::load(&root.join("launch.yaml"), &[], "base-station", false).unwrap();
        // Every node of the template is either started or skipped for a stated reason.
        let started: Vec<_> = template.nodes.iter().map(|p| p.label.as_str()).collect();
        assert_eq!(started, ["camera", "detector#1", "detector#2", "logger"]);
        assert_eq!(template.skipped.len(), 1, "{:?}", template.skipped);
        let demo = Launch::load(
            &root.join("crates/rosy/examples/launch.yaml"),
            &[],
            "any",
            false,
        )
        .unwrap();
        assert_eq!(demo.nodes.len(), 4);
        assert!(
            demo.domain_id.is_none(),
            "the demo file must not pin a domain"
        );
    }

    #[test]
    fn mistakes_are_named_with_file_line_and_key() {
        let typo = parse("nodes:\n  a:\n    command: x\n    restrat: always\n").unwrap_err();
        let text = typo.to_string();
        assert!(
            text.contains("launch.yaml") && text.contains("restrat") && text.contains('4'),
            "{text}"
        );

        let wrong = parse("nodes:\n  a:\n    command: x\n    number: many\n").unwrap_err();
        assert!(wrong.to_string().contains("number"), "{wrong}");

        let quote = parse("nodes:\n  a:\n    command: echo \"open\n").unwrap_err();
        assert!(quote.to_string().contains("unclosed quote"), "{quote}");

        let twice = parse("nodes:\n  a: {command: x}\n  a: {command: y}\n").unwrap_err();
        assert!(twice.to_string().contains("duplicate"), "{twice}");

        let negative = parse("nodes:\n  a: {command: x, pre_delay: -1}\n").unwrap_err();
        assert!(
            negative.to_string().contains("node \"a\": pre_delay"),
            "{negative}"
        );

        let restart = parse("nodes:\n  a: {command: x, restart: sometimes}\n").unwrap_err();
        assert!(restart.to_string().contains("sometimes"), "{restart}");

        let escape = parse("domain_id: ..\nnodes:\n  a: {command: x}\n").unwrap_err();
        assert!(
            escape
                .to_string()
                .contains("domain_id \"..\": '.' is not allowed"),
            "{escape}"
        );

        let missing = parse("domain_id: x\n").unwrap_err();
        assert!(missing.to_string().contains("nodes"), "{missing}");

        let excluded = Launch::parse(
            "nodes:\n  a: {command: x}\n",
            Path::new("l.yaml"),
            Path::new("."),
            &["b".to_string()],
            "h",
            false,
        )
        .unwrap_err();
        assert!(excluded.to_string().contains("\"b\""), "{excluded}");
    }
}
