//! Zeroconf discovery with `mdns-sd`, service type [`SERVICE_TYPE`].
//!
//! A node registers one service instance named by its id, with its port and a TXT record of
//! small fields (id, domain, host id, pid, topology version, name truncated to fit; a secure
//! node puts a keyed tag `dt` in place of domain, name and pid); the daemon
//! publishes the addresses of the interfaces it may use (`ROSY_INTERFACES`), so no OS responder
//! (avahi) is needed. Browsing turns resolved instances of this node's domain into
//! [`DiscoveryEvent::Seen`] and goodbyes into [`DiscoveryEvent::Gone`].
//!
//! Addresses arrive in steps (an IPv6 link-local first, IPv4 a little later): every resolution
//! with a new address set is reported again. Only IPv4 endpoints are used for now.
//!
//! This module never opens connections of its own besides the mDNS sockets.

use super::announcement::Announcement;
use super::config::DiscoveryConfig;
use super::error::DiscoveryError;
use super::event::{DiscoveryEvent, Source};
use mdns_sd::{IfKind, ServiceDaemon, ServiceEvent, ServiceInfo};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use tokio::sync::mpsc::UnboundedSender;

/// The DNS-SD service type of rosy nodes.
pub const SERVICE_TYPE: &str = "_rosy._tcp.local.";

/// This node's mDNS registration and the thread turning browse results into events.
pub struct MdnsAnnouncer {
    daemon: ServiceDaemon,
    fullname: String,
}

impl MdnsAnnouncer {
    /// Registers `own` and starts browsing for peers of its domain.
    pub fn start(
        config: &DiscoveryConfig,
        own: &Announcement,
        events: UnboundedSender<DiscoveryEvent>,
    ) -> Result<Self, DiscoveryError> {
        let err = |e: mdns_sd::Error| DiscoveryError::Mdns(e.to_string());
        let daemon = ServiceDaemon::new().map_err(err)?;
        if let Some(interfaces) = &config.interfaces {
            daemon.disable_interface(IfKind::All).map_err(err)?;
            for name in interfaces {
                daemon
                    .enable_interface(IfKind::Name(name.clone()))
                    .map_err(err)?;
            }
        }
        let port = own.endpoints.first().map(|e| e.port()).unwrap_or(0);
        let mut name = own.name.clone();
        while name.len() > 200 {
            name.pop();
        }
        let mut fields = vec![
            ("id", own.id.clone()),
            ("h", own.host_id.clone()),
            ("v", own.version.to_string()),
            ("t", u8::from(own.tool).to_string()),
            ("o", u8::from(own.dial_only).to_string()),
        ];
        match &config.secure {
            // The tag, not the domain, name and pid: peers learn those inside TLS.
            Some(secure) => fields.push(("dt", secure.tag.clone())),
            None => fields.extend([
                ("n", name),
                ("d", own.domain.clone()),
                ("p", own.pid.to_string()),
            ]),
        }
        let properties: HashMap<String, String> = fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let info = ServiceInfo::new(
            SERVICE_TYPE,
            &own.id,
            &format!("rosy-{}.local.", own.id),
            (),
            port,
            properties,
        )
        .map_err(err)?
        .enable_addr_auto();
        let fullname = info.get_fullname().to_string();
        daemon.register(info).map_err(err)?;
        let browse = daemon.browse(SERVICE_TYPE).map_err(err)?;
        let domain = own.domain.clone();
        let own_id = own.id.clone();
        let secure = config.secure.clone();
        std::thread::Builder::new()
            .name("rosy-mdns".into())
            .spawn(move || {
                // Ends when the daemon shuts down (the channel closes) or the node is gone.
                while let Ok(event) = browse.recv() {
                    let out = match event {
                        ServiceEvent::ServiceResolved(service) => {
                            let addresses = service.get_addresses_v4();
                            let txt = |k: &str| service.get_property_val_str(k).map(str::to_string);
                            let Some(id) = txt("id") else { continue };
                            if id == own_id {
                                continue;
                            }
                            // A secure node hears its tag, and plain nodes of its domain too: it
                            // dials them, so that both sides say which lacks security (a
                            // permissive node connects to them plainly).
                            let ours = txt("d").as_deref() == Some(domain.as_str());
                            let heard = match &secure {
                                None => ours,
                                Some(s) => ours || txt("dt").as_deref() == Some(s.tag.as_str()),
                            };
                            if !heard {
                                continue;
                            }
                            let mut endpoints: Vec<SocketAddr> = addresses
                                .into_iter()
                                .map(|ip| SocketAddr::new(IpAddr::V4(ip), service.get_port()))
                                .collect();
                            if endpoints.is_empty() {
                                continue;
                            }
                            endpoints.sort();
                            DiscoveryEvent::Seen(
                                Announcement {
                                    id,
                                    name: txt("n").unwrap_or_default(),
                                    domain: domain.clone(),
                                    host_id: txt("h").unwrap_or_default(),
                                    pid: txt("p").and_then(|p| p.parse().ok()).unwrap_or(0),
                                    endpoints,
                                    version: txt("v").and_then(|v| v.parse().ok()).unwrap_or(0),
                                    tool: txt("t").as_deref() == Some("1"),
                                    dial_only: txt("o").as_deref() == Some("1"),
                                },
                                Source::Mdns,
                            )
                        }
                        ServiceEvent::ServiceRemoved(_, fullname) => {
                            let id = fullname.split('.').next().unwrap_or_default().to_string();
                            if id == own_id {
                                continue;
                            }
                            DiscoveryEvent::Gone(id, Source::Mdns)
                        }
                        _ => continue,
                    };
                    if events.send(out).is_err() {
                        return;
                    }
                }
            })
            .map_err(|e| DiscoveryError::Mdns(format!("cannot start the browse thread: {e}")))?;
        Ok(MdnsAnnouncer { daemon, fullname })
    }

    /// Says goodbye on the network and stops the daemon.
    pub fn close(self) {
        if let Ok(done) = self.daemon.unregister(&self.fullname) {
            let _ = done.recv_timeout(std::time::Duration::from_millis(500));
        }
        if let Ok(done) = self.daemon.shutdown() {
            let _ = done.recv_timeout(std::time::Duration::from_millis(500));
        }
    }
}
