//! `rosy security`: make a domain's CA (`create-domain`), issue node identities from it
//! (`issue`), sign the domain's ACL (`sign-acl`), and prove a node's credentials or explain an
//! ACL decision (`check`), all through `rosy_security`. Never overwrites a key or certificate;
//! never prints a key.

use super::error::CliError;
use std::path::{Path, PathBuf};

/// A kind of key for `create-domain` and `issue`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Key {
    /// Ed25519: the cheapest handshakes (the default).
    Ed25519,
    /// ECDSA P-256, where a site's rules or key store ask for NIST curves.
    P256,
}

impl Key {
    fn algorithm(self) -> rosy_security::provision::KeyAlgorithm {
        match self {
            Key::Ed25519 => rosy_security::provision::KeyAlgorithm::Ed25519,
            Key::P256 => rosy_security::provision::KeyAlgorithm::P256,
        }
    }

    fn shown(self) -> &'static str {
        self.algorithm().name()
    }
}

/// Secure mode's credentials.
#[derive(Debug, clap::Subcommand)]
#[command(after_help = "\
Quick start (one shared member credential; every node may take any name):

  rosy security create-domain robot1
  rosy security issue robot1 --name '*' --out ~/robot1-member
  export ROSY_DOMAIN_ID=robot1 ROSY_SECURITY=enforce ROSY_SECURITY_DIR=~/robot1-member

Per-node identities: `--name camera` for a node named camera, `--name 'camera_*'` for a family; \
the rosy tools join as rosy-<command> (issue `--name 'rosy-*'` for them). Every link is then \
TLS 1.3, both sides proving a certificate of the domain's CA; a node refuses to start under a \
name its certificate does not grant. Keep ca.key off the robot where you can.

Who may do what: DIR/DOMAIN/acl.yaml (create-domain writes one letting every member do \
everything). Edit it, then `rosy security sign-acl DOMAIN --to NODE_DIR...`; ask it with \
`rosy security check NODE_DIR --who NAME --publish TOPIC` (or --subscribe, --call, --provide).")]
pub enum SecurityCommand {
    /// Create a domain's certificate authority: DIR/DOMAIN/ca.key (0600) and ca.pem.
    CreateDomain {
        /// The domain id the CA is for.
        #[arg(value_parser = clap::value_parser!(rosy::DomainId))]
        domain: rosy::DomainId,
        /// Where domains' CAs are kept [default: ~/.config/rosy/security].
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The CA's kind of key.
        #[arg(long, value_enum, default_value_t = Key::Ed25519)]
        key: Key,
    },
    /// Issue an identity from a domain's CA: OUT/node.key (0600), node.pem, ca.pem.
    Issue {
        /// The domain whose CA signs.
        #[arg(value_parser = clap::value_parser!(rosy::DomainId))]
        domain: rosy::DomainId,
        /// The node name it grants, or a pattern with '*' ('*' alone: any name).
        #[arg(long)]
        name: String,
        /// The directory to write (made 0700); what ROSY_SECURITY_DIR points a node at.
        #[arg(long)]
        out: PathBuf,
        /// Where domains' CAs are kept [default: ~/.config/rosy/security].
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The node's kind of key (any kind works with a CA of either).
        #[arg(long, value_enum, default_value_t = Key::Ed25519)]
        key: Key,
    },
    /// Sign a domain's edited acl.yaml with its CA (after checking it), and copy it with its
    /// signature to nodes' credentials directories.
    SignAcl {
        /// The domain whose acl.yaml (in DIR/DOMAIN) to sign.
        #[arg(value_parser = clap::value_parser!(rosy::DomainId))]
        domain: rosy::DomainId,
        /// Where domains' CAs are kept [default: ~/.config/rosy/security].
        #[arg(long)]
        dir: Option<PathBuf>,
        /// A node's credentials directory to copy the signed ACL to (repeatable).
        #[arg(long = "to", value_name = "DIR")]
        to: Vec<PathBuf>,
    },
    /// Prove a node's credentials: load them as a node does (the ACL's signature checked),
    /// then a TLS handshake with themselves over loopback. With --who, explain what the ACL
    /// decides for a node name and a flow.
    Check {
        /// The credentials directory [default: ROSY_SECURITY_DIR].
        path: Option<PathBuf>,
        /// A node name to ask the ACL about, with one of --publish, --subscribe, --call,
        /// --provide.
        #[arg(long, requires = "flow")]
        who: Option<String>,
        /// The topic it would publish.
        #[arg(long, group = "flow", requires = "who")]
        publish: Option<String>,
        /// The topic it would subscribe to.
        #[arg(long, group = "flow", requires = "who")]
        subscribe: Option<String>,
        /// The service it would call.
        #[arg(long, group = "flow", requires = "who")]
        call: Option<String>,
        /// The service it would provide.
        #[arg(long, group = "flow", requires = "who")]
        provide: Option<String>,
    },
}

/// Where domains' CAs are kept unless `--dir` says.
fn default_dir() -> Result<PathBuf, CliError> {
    if let Some(config) = std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(config).join("rosy/security"));
    }
    match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".config/rosy/security")),
        None => Err(CliError::Usage(
            "no HOME or XDG_CONFIG_HOME to keep the CA in: give --dir".into(),
        )),
    }
}

fn shown(path: &Path) -> String {
    path.display().to_string()
}

pub async fn run(command: SecurityCommand, json: bool) -> Result<(), CliError> {
    let failed = |e: rosy_security::provision::ProvisionError| CliError::Failed(e.to_string());
    match command {
        SecurityCommand::CreateDomain { domain, dir, key } => {
            let dir = match dir {
                Some(d) => d,
                None => default_dir()?,
            };
            let made = rosy_security::provision::create_domain_with_key(
                &dir,
                domain.as_str(),
                key.algorithm(),
            )
            .map_err(failed)?;
            println!(
                "created domain {domain}'s CA ({} key) in {} (ca.key is the domain: keep it \
                 private)",
                key.shown(),
                shown(&made)
            );
            println!(
                "next: rosy security issue {domain} --name NAME --out DIR{}",
                if made.parent() == Some(default_dir()?.as_path()) {
                    String::new()
                } else {
                    format!(" --dir {}", shown(&dir))
                }
            );
        }
        SecurityCommand::Issue {
            domain,
            name,
            out,
            dir,
            key,
        } => {
            let dir = match dir {
                Some(d) => d,
                None => default_dir()?,
            };
            let domain_dir = dir.join(domain.as_str());
            if !domain_dir.join("ca.key").exists() {
                return Err(CliError::Failed(format!(
                    "no CA for domain {domain} in {} (make one with `rosy security \
                     create-domain {domain}`, or give --dir)",
                    shown(&dir)
                )));
            }
            rosy_security::provision::issue_with_key(&domain_dir, &name, &out, key.algorithm())
                .map_err(failed)?;
            println!(
                "issued {name:?} of domain {domain} ({} key) in {}; a node uses it with \
                 ROSY_DOMAIN_ID={domain} ROSY_SECURITY=enforce ROSY_SECURITY_DIR={}",
                key.shown(),
                shown(&out),
                shown(&out)
            );
        }
        SecurityCommand::SignAcl { domain, dir, to } => {
            let dir = match dir {
                Some(d) => d,
                None => default_dir()?,
            };
            let domain_dir = dir.join(domain.as_str());
            rosy_security::provision::sign_acl(&domain_dir).map_err(failed)?;
            println!("signed {}", shown(&domain_dir.join("acl.yaml")));
            for out in &to {
                rosy_security::provision::copy_acl(&domain_dir, out).map_err(failed)?;
                println!("copied it to {}", shown(out));
            }
        }
        SecurityCommand::Check {
            path,
            who,
            publish,
            subscribe,
            call,
            provide,
        } => {
            let path = match path.or_else(|| std::env::var_os("ROSY_SECURITY_DIR").map(Into::into))
            {
                Some(p) => p,
                None => {
                    return Err(CliError::Usage(
                        "which credentials? give a directory or set ROSY_SECURITY_DIR".into(),
                    ));
                }
            };
            let report = rosy_security::check::check(&path)
                .await
                .map_err(CliError::Failed)?;
            if let Some(who) = who {
                use rosy::security::Verb;
                let (verb, name) = match (publish, subscribe, call, provide) {
                    (Some(n), ..) => (Verb::Publish, n),
                    (_, Some(n), ..) => (Verb::Subscribe, n),
                    (_, _, Some(n), _) => (Verb::Call, n),
                    (.., Some(n)) => (Verb::Provide, n),
                    _ => unreachable!("clap requires one flow with --who"),
                };
                let Some(acl) = report.acl else {
                    println!(
                        "no ACL in {}: every member may {verb} {name:?}",
                        shown(&path)
                    );
                    return Ok(());
                };
                let decision = acl.explain(&who, verb, &name);
                println!(
                    "{who:?} may {}{verb} {name:?}: {}",
                    if decision.allowed { "" } else { "not " },
                    decision.reason
                );
                if !decision.allowed {
                    return Err(CliError::Failed(format!("{who:?} may not {verb} {name:?}")));
                }
                return Ok(());
            }
            if json {
                let value = serde_json::json!({
                    "domain": report.domain,
                    "name": report.name,
                    "serial": report.serial,
                    "key_id": report.key_id,
                    "key": report.key,
                });
                println!("{value}");
            } else {
                println!("{}: good", shown(&path));
                println!("  domain   {}", report.domain);
                println!("  name     {}", report.name);
                println!("  serial   {}", report.serial);
                println!("  key      {}", report.key);
                println!("  key id   {} (node ids begin with it)", report.key_id);
                match &report.acl {
                    Some(acl) => println!("  acl      version {}, signature good", acl.version),
                    None => println!("  acl      none (every member may do everything)"),
                }
                println!("  proved   a TLS 1.3 handshake with itself over loopback");
            }
        }
    }
    Ok(())
}
